-- Free-text search: FTS5 trigram indexes over the searched text, so that a
-- search for a rare substring reads its candidates instead of every
-- session. The store uses them only to narrow a search; the exact LIKE
-- conditions still decide, so a candidate matched across two joined
-- columns (U+001F between them) or by a looser case folding drops out.
--
-- FTS rows are keyed by an INTEGER PRIMARY KEY of a map table, not by the
-- rowid of sessions or users, which VACUUM may renumber.
CREATE TABLE session_search_ids (
    n  INTEGER PRIMARY KEY,
    id TEXT NOT NULL UNIQUE
);
CREATE VIRTUAL TABLE session_search USING fts5(text, tokenize = 'trigram', detail = 'none');

CREATE TABLE user_search_ids (
    n  INTEGER PRIMARY KEY,
    id TEXT NOT NULL UNIQUE
);
CREATE VIRTUAL TABLE user_search USING fts5(text, tokenize = 'trigram', detail = 'none');

CREATE TRIGGER sessions_search_insert AFTER INSERT ON sessions BEGIN
    INSERT INTO session_search_ids (id) VALUES (new.id);
    INSERT INTO session_search (rowid, text)
    VALUES ((SELECT n FROM session_search_ids WHERE id = new.id), new.ip || char(31) || new.browser || char(31) || new.os || char(31) || new.city);
END;

CREATE TRIGGER sessions_search_update AFTER UPDATE OF ip, browser, os, city ON sessions
WHEN old.ip IS NOT new.ip OR old.browser IS NOT new.browser OR old.os IS NOT new.os OR old.city IS NOT new.city BEGIN
    UPDATE session_search SET text = new.ip || char(31) || new.browser || char(31) || new.os || char(31) || new.city
    WHERE rowid = (SELECT n FROM session_search_ids WHERE id = new.id);
END;

CREATE TRIGGER sessions_search_delete AFTER DELETE ON sessions BEGIN
    DELETE FROM session_search WHERE rowid = (SELECT n FROM session_search_ids WHERE id = old.id);
    DELETE FROM session_search_ids WHERE id = old.id;
END;

CREATE TRIGGER users_search_insert AFTER INSERT ON users BEGIN
    INSERT INTO user_search_ids (id) VALUES (new.id);
    INSERT INTO user_search (rowid, text) VALUES ((SELECT n FROM user_search_ids WHERE id = new.id), new.email_key || char(31) || new.username_key);
END;

CREATE TRIGGER users_search_update AFTER UPDATE OF email_key, username_key ON users
WHEN old.email_key IS NOT new.email_key OR old.username_key IS NOT new.username_key BEGIN
    UPDATE user_search SET text = new.email_key || char(31) || new.username_key
    WHERE rowid = (SELECT n FROM user_search_ids WHERE id = new.id);
END;

CREATE TRIGGER users_search_delete AFTER DELETE ON users BEGIN
    DELETE FROM user_search WHERE rowid = (SELECT n FROM user_search_ids WHERE id = old.id);
    DELETE FROM user_search_ids WHERE id = old.id;
END;

INSERT INTO session_search_ids (id) SELECT id FROM sessions ORDER BY id;
INSERT INTO session_search (rowid, text)
SELECT m.n, s.ip || char(31) || s.browser || char(31) || s.os || char(31) || s.city
FROM session_search_ids m JOIN sessions s ON s.id = m.id;

INSERT INTO user_search_ids (id) SELECT id FROM users ORDER BY id;
INSERT INTO user_search (rowid, text)
SELECT m.n, u.email_key || char(31) || u.username_key
FROM user_search_ids m JOIN users u ON u.id = m.id;
