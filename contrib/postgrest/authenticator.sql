-- PostgREST's login for a lagbid market.  Run once per database, as a
-- superuser, after CREATE EXTENSION lagbid:
--
--   psql -d lagbid -v authenticator_password='a long random password' \
--        -f contrib/postgrest/authenticator.sql
--
-- test/t/020_postgrest_replay.pl runs this very file and replays every API
-- call from the login it creates.

\set ON_ERROR_STOP on

-- The login PostgREST connects as (db-uri).  NOINHERIT: by itself it has no
-- privilege at all; each request switches to the role its JWT names.
SELECT format('CREATE ROLE authenticator LOGIN NOINHERIT PASSWORD %L', :'authenticator_password')
 WHERE NOT EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = 'authenticator') \gexec

-- The roles it may switch to: db-anon-role and the JWT roles.
GRANT lagbid_anon, lagbid_owner, lagbid_provider, lagbid_platform TO authenticator;

-- lagbid trusts request.jwt.claims only from the logins named here
-- (lagbid.authenticators, default 'authenticator'): any other login that
-- sends claims is refused (LB105) and acts only as the owner or provider
-- bound to it.  Written out so that renaming the login above cannot
-- silently turn the API off.
SELECT format('ALTER DATABASE %I SET lagbid.authenticators = %L', current_database(), 'authenticator') \gexec
