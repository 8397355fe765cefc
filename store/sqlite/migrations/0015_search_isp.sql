-- Session search covers the ISP too (kept in the location JSON): the
-- trigram index's text gains it after the city, and the triggers follow
-- a change of location. A location that is not JSON adds nothing.
DROP TRIGGER sessions_search_insert;
DROP TRIGGER sessions_search_update;

CREATE TRIGGER sessions_search_insert AFTER INSERT ON sessions BEGIN
    INSERT INTO session_search_ids (id) VALUES (new.id);
    INSERT INTO session_search (rowid, text)
    VALUES ((SELECT n FROM session_search_ids WHERE id = new.id), new.ip || char(31) || new.browser || char(31) || new.os || char(31) || new.city
        || char(31) || coalesce(CASE WHEN json_valid(new.location) THEN json_extract(new.location, '$.isp') END, ''));
END;

CREATE TRIGGER sessions_search_update AFTER UPDATE OF ip, browser, os, city, location ON sessions
WHEN old.ip IS NOT new.ip OR old.browser IS NOT new.browser OR old.os IS NOT new.os OR old.city IS NOT new.city
    OR old.location IS NOT new.location BEGIN
    UPDATE session_search SET text = new.ip || char(31) || new.browser || char(31) || new.os || char(31) || new.city
        || char(31) || coalesce(CASE WHEN json_valid(new.location) THEN json_extract(new.location, '$.isp') END, '')
    WHERE rowid = (SELECT n FROM session_search_ids WHERE id = new.id);
END;

DELETE FROM session_search;
INSERT INTO session_search (rowid, text)
SELECT m.n, s.ip || char(31) || s.browser || char(31) || s.os || char(31) || s.city
    || char(31) || coalesce(CASE WHEN json_valid(s.location) THEN json_extract(s.location, '$.isp') END, '')
FROM session_search_ids m JOIN sessions s ON s.id = m.id;
