-- Creates the extension for the regression suite (the other tests run after it).
-- lagbid does not need pg_cron: the extension is created on its own.
CREATE EXTENSION lagbid;
SELECT extname, extversion FROM pg_extension WHERE extname = 'lagbid';
-- a second database-wide copy is refused, as for any extension
CREATE EXTENSION lagbid;
-- try(sql): runs a statement and shows its outcome as "ok" or "SQLSTATE: message",
-- so that the tests can assert each refusal's documented code.
-- The detail, when there is one, follows in brackets.
CREATE FUNCTION public.try(q text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    d text;
BEGIN
    EXECUTE q;
    RETURN 'ok';
EXCEPTION WHEN OTHERS THEN
    GET STACKED DIAGNOSTICS d = PG_EXCEPTION_DETAIL;
    RETURN SQLSTATE || ': ' || SQLERRM || coalesce(NULLIF(' [' || d || ']', ' []'), '');
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
-- node(n): a valid libp2p peer id (identity multihash of an ed25519 key,
-- "12D3KooW...") made from n, so that tests can register many providers.
CREATE FUNCTION public.node(n int) RETURNS text LANGUAGE sql IMMUTABLE
    RETURN lagbid.peer_id_from_ed25519(sha256(n::text::bytea));
-- cp(n, ...): registers provider n with a reachable address
CREATE FUNCTION public.cp(n int, region text DEFAULT 'eu-west', resources jsonb DEFAULT '{"cpu": 8, "memory_gb": 32}',
                          max_concurrent int DEFAULT 5) RETURNS bigint LANGUAGE sql
    RETURN lagbid.register_provider(public.node(n), ARRAY['/ip4/10.0.0.' || n || '/tcp/4001'],
                                    region, resources, max_concurrent);
SELECT public.node(1), lagbid.node_id_is_valid(public.node(1));
