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
