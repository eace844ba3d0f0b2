-- lagbid — the task-bidding market of a decentralized compute platform.
--
-- This install script is generated from the numbered parts in sql/install/;
-- read them in order: types and tables, identity, the state machines, the
-- ledger, the market calls, spaces and the minutely hook, the PostgREST API,
-- roles and row-level security.
--
-- Every object is schema-qualified; nothing here depends on the caller's
-- search_path.  Every SECURITY DEFINER function pins its own search_path.

\echo Use "CREATE EXTENSION lagbid" to load this file. \quit

CREATE SCHEMA lagbid_api;
COMMENT ON SCHEMA lagbid IS 'lagbid: task-bidding market (tables, SQL API for applications and operators)';
COMMENT ON SCHEMA lagbid_api IS 'lagbid API exposed through PostgREST (functions and views only; identity from request.jwt.claims)';

-- Extension schemas are created by the superuser running CREATE EXTENSION;
-- nobody else may create objects in them.
REVOKE ALL ON SCHEMA lagbid FROM PUBLIC;
REVOKE ALL ON SCHEMA lagbid_api FROM PUBLIC;

CREATE FUNCTION lagbid.version() RETURNS text
    LANGUAGE c IMMUTABLE PARALLEL SAFE
    AS 'MODULE_PATHNAME', 'lagbid_version';
COMMENT ON FUNCTION lagbid.version() IS 'the version of the loaded lagbid library';

CREATE FUNCTION lagbid.now() RETURNS timestamptz
    LANGUAGE c STABLE PARALLEL SAFE
    AS 'MODULE_PATHNAME', 'lagbid_now';
COMMENT ON FUNCTION lagbid.now() IS
    'the market clock: transaction start time, or the timestamp in setting lagbid.clock when a superuser sets it (tests)';
