-- Session protection (issue 18): where a session has been since its login
-- and the last signal that marked it suspected.
--
-- trail is a JSON array of at most MaxTrail (20) entries, oldest first,
-- kept on the session row: reading a session stays one query, and
-- AppendTrail trims it in the UPDATE itself. No trigger watches these
-- columns (the counter and search triggers are AFTER UPDATE OF other
-- columns), so a trail write costs the row write only.
ALTER TABLE sessions ADD COLUMN trail TEXT NOT NULL DEFAULT '[]';
ALTER TABLE sessions ADD COLUMN suspected TEXT NOT NULL DEFAULT '';
ALTER TABLE sessions ADD COLUMN suspected_at INTEGER;

-- The live table's "suspected only" filter walks this small partial index.
CREATE INDEX sessions_suspected_created ON sessions (created_at, id) WHERE suspected <> '';
