-- Creates the extension for the regression suite (the other tests run after it).
-- lagbid does not need pg_cron: the extension is created on its own.
CREATE EXTENSION lagbid;
SELECT extname, extversion FROM pg_extension WHERE extname = 'lagbid';
-- a second database-wide copy is refused, as for any extension
CREATE EXTENSION lagbid;
-- try(sql): runs a statement and shows its outcome as "ok" or "SQLSTATE: message",
-- so that the tests can assert each refusal's documented code.
CREATE FUNCTION public.try(q text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
    EXECUTE q;
    RETURN 'ok';
EXCEPTION WHEN OTHERS THEN
    RETURN SQLSTATE || ': ' || SQLERRM;
END $$;
-- fresh_market(): empties every lagbid table and restarts the ids, so that
-- each test file starts from an empty market and its output does not depend
-- on which tests ran before it.
CREATE FUNCTION public.fresh_market() RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    tables text;
BEGIN
    SELECT string_agg(format('%I.%I', n.nspname, c.relname), ', ')
      INTO tables
      FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
     WHERE n.nspname = 'lagbid' AND c.relkind = 'r';
    EXECUTE 'TRUNCATE ' || tables || ' RESTART IDENTITY CASCADE';
END $$;
