-- A search that reads as the start of an IP address (sm.SearchIsIPPrefix:
-- 203.0.113, 2001:db8:) is matched as a prefix of the session's IP, not as
-- a substring of its searched text: digits and dots make few distinct
-- trigrams, so the trigram index read about 1,700 pages at 10 M sessions
-- for a prefix with three matches (docs/SCALE.md). A prefix is a range of
-- this index (text_pattern_ops: LIKE 'prefix%' uses it whatever the
-- database's collation).
SET LOCAL maintenance_work_mem = '256MB';
CREATE INDEX sessions_ip_prefix_idx ON sessions (ip text_pattern_ops);
