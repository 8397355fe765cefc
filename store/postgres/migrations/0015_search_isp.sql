-- Session search covers the ISP too (kept in the location JSON): the
-- trigram index's expression gains it after the city, exactly as the
-- store's search condition writes it (searchText). Skipped, as in 0003,
-- when pg_trgm is not installed: search stays correct, only slower.
DROP INDEX IF EXISTS sessions_search_trgm;

DO $$
DECLARE
    ext_schema text;
BEGIN
    SELECT n.nspname INTO ext_schema FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace
    WHERE e.extname = 'pg_trgm';
    IF ext_schema IS NULL THEN
        RAISE NOTICE 'pg_trgm is not available: search runs without trigram indexes';
        RETURN;
    END IF;
    EXECUTE format($f$CREATE INDEX sessions_search_trgm ON sessions USING gin
        ((ip || E'\x1f' || browser || E'\x1f' || os || E'\x1f' || city || E'\x1f' || coalesce(location::jsonb ->> 'isp', '')) %I.gin_trgm_ops)$f$, ext_schema);
END $$;

ANALYZE sessions;
