-- Helpers for the pgTAP files that play API calls the way PostgREST drives
-- the database (included with \ir; this directory is not a test).

-- PostgREST's login (rolled back with the rest)
DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'authenticator') THEN
        CREATE ROLE authenticator LOGIN NOINHERIT;
    END IF;
END $$;
GRANT lagbid_anon, lagbid_owner, lagbid_provider, lagbid_platform TO authenticator;

-- call(login, db_role, claims, sql): the outcome of sql run as login (SET
-- SESSION AUTHORIZATION), under SET ROLE db_role unless NULL, with the given
-- claims, in a subtransaction that is rolled back: 'ok', '<http> <code>' for
-- a refusal in PostgREST's form, else the SQLSTATE
CREATE FUNCTION pg_temp.call(login text, db_role text, claims text, q text) RETURNS text
    LANGUAGE plpgsql AS $$
DECLARE
    st text;
    msg text;
    det text;
BEGIN
    BEGIN
        EXECUTE format('SET LOCAL SESSION AUTHORIZATION %I', login);
        IF db_role IS NOT NULL THEN
            EXECUTE format('SET LOCAL ROLE %I', db_role);
        END IF;
        PERFORM set_config('request.jwt.claims', coalesce(claims, ''), true);
        EXECUTE q;
        RAISE EXCEPTION 'ok' USING ERRCODE = 'LBOK0';
    EXCEPTION WHEN OTHERS THEN
        GET STACKED DIAGNOSTICS st = RETURNED_SQLSTATE, msg = MESSAGE_TEXT, det = PG_EXCEPTION_DETAIL;
        IF st = 'LBOK0' THEN
            RETURN 'ok';
        ELSIF st = 'PGRST' THEN
            RETURN (det::jsonb ->> 'status') || ' ' || (msg::jsonb ->> 'code');
        END IF;
        RETURN st;
    END;
END $$;
-- call(db_role, claims, sql): run sql as PostgREST would (its authenticator
-- login, SET ROLE, the claims), report the outcome
CREATE FUNCTION pg_temp.call(db_role text, claims jsonb, q text) RETURNS text LANGUAGE sql
    RETURN pg_temp.call('authenticator', db_role, claims::text, q);
-- as(role, sub, sql): the usual case, the claims match the role
CREATE FUNCTION pg_temp.as_(r text, sub text, q text) RETURNS text LANGUAGE sql
    RETURN pg_temp.call(r, CASE WHEN sub IS NULL THEN NULL ELSE jsonb_build_object('role', r, 'sub', sub) END, q);
