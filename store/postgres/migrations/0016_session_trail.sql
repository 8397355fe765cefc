-- Session protection (issue 18): where a session has been since its login
-- and the last signal that marked it suspected.
--
-- trail is a JSON array of at most MaxTrail (20) entries, oldest first,
-- kept on the session row: reading a session stays one query, and a batch
-- of trail notes is one UPDATE (AppendTrail) that trims in SQL, so no
-- session ever holds more than 20 entries and no extra table grows a row
-- per request. The columns take constant defaults, so adding them to a
-- table of millions of sessions rewrites nothing; the statement triggers
-- of 0002/0003 ignore these columns (they compare status, times and the
-- dimension columns only).
ALTER TABLE sessions ADD COLUMN trail jsonb NOT NULL DEFAULT '[]';
ALTER TABLE sessions ADD COLUMN suspected text NOT NULL DEFAULT '';
ALTER TABLE sessions ADD COLUMN suspected_at timestamptz;

-- The live table's "suspected only" filter: few sessions are ever
-- suspected, so the partial index stays small and a list of them walks it
-- in login order instead of filtering every session.
CREATE INDEX sessions_suspected_created ON sessions (created_at, id) WHERE suspected <> '';
