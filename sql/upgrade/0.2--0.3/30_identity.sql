-- ---------------------------------------------------------------------------
-- 0.3 identity (docs/0.3/identity.md): signed registration and who may speak
-- for whom.  The new table and bind functions are install part
-- 72_identity.sql (next in the list); here, what changed of 0.2's objects.
-- ---------------------------------------------------------------------------

-- the provider's proof of key (10_schema.sql)
ALTER TABLE lagbid.provider
    ADD COLUMN verified boolean NOT NULL DEFAULT false,
    ADD COLUMN registration_seq bigint NOT NULL DEFAULT 0;
COMMENT ON COLUMN lagbid.provider.verified IS 'the last registration carried a valid signature of the node''s key over its addresses';
COMMENT ON COLUMN lagbid.provider.registration_seq IS 'signed registrations so far; part of the challenge, so a signature serves once';

-- register_provider gains a trailing signature (50_market.sql); the API
-- function depends on it, so both are dropped and made again
DROP FUNCTION lagbid_api.register_provider(text[], text, jsonb, integer);
DROP FUNCTION lagbid.register_provider(text, text[], text, jsonb, integer, text, text);

CREATE FUNCTION lagbid.register_provider(
    node_id text, multiaddrs text[], region text, resources jsonb,
    max_concurrent integer DEFAULT 1, chain_id text DEFAULT NULL, chain_tx text DEFAULT NULL,
    signature bytea DEFAULT NULL)
    RETURNS bigint
    LANGUAGE c VOLATILE
    AS 'MODULE_PATHNAME', 'lagbid_register_provider';
COMMENT ON FUNCTION lagbid.register_provider(text, text[], text, jsonb, integer, text, text, bytea) IS
    'registers a computing provider by its libp2p node id (idempotent: registering again updates addresses, region, resources and limit); with a signature of registration_challenge() by the node''s key it is verified; returns the provider id';

CREATE FUNCTION lagbid.registration_challenge(node_id text, multiaddrs text[]) RETURNS bytea
    LANGUAGE c VOLATILE
    AS 'MODULE_PATHNAME', 'lagbid_registration_challenge';
COMMENT ON FUNCTION lagbid.registration_challenge(text, text[]) IS
    'the bytes a provider signs with its node''s ed25519 key to register these addresses now (valid for 5 to 10 minutes, once, for the calling login, on this market)';

ALTER FUNCTION lagbid.register_provider(text, text[], text, jsonb, integer, text, text, bytea) SECURITY DEFINER SET search_path = pg_catalog, pg_temp;
ALTER FUNCTION lagbid.registration_challenge(text, text[]) SECURITY DEFINER SET search_path = pg_catalog, pg_temp;

-- identity resolution (70_api.sql)
COMMENT ON FUNCTION lagbid.api_identity(text) IS
    'the caller''s identity: its login''s binding, or the sub of request.jwt.claims from one of lagbid.authenticators under exactly the claimed role; refused with LB101/LB105/LB106';

CREATE FUNCTION lagbid.api_role() RETURNS text
    LANGUAGE c STABLE
    AS 'MODULE_PATHNAME', 'lagbid_api_role';
COMMENT ON FUNCTION lagbid.api_role() IS
    'lagbid_provider when the caller speaks as a provider (its binding or its claims), else lagbid_owner';

CREATE FUNCTION lagbid.api_node_id(node_id text DEFAULT NULL) RETURNS text
    LANGUAGE c STABLE
    AS 'MODULE_PATHNAME', 'lagbid_api_node_id';
COMMENT ON FUNCTION lagbid.api_node_id(text) IS
    'the node a provider call speaks for: its binding''s or claims'' (node_id must agree: LB107/LB106), or node_id for an unbound direct login';

CREATE FUNCTION lagbid.api_signup(node_id text, signed boolean) RETURNS text
    LANGUAGE c VOLATILE
    AS 'MODULE_PATHNAME', 'lagbid_api_signup';
COMMENT ON FUNCTION lagbid.api_signup(text, boolean) IS
    'the node a registration speaks for; an unbound direct login (easy signup) must sign (LB109) a node no other login holds (LB107) and is bound to it';

CREATE FUNCTION lagbid.is_authenticator(login regrole) RETURNS boolean
    LANGUAGE c STABLE
    AS 'MODULE_PATHNAME', 'lagbid_is_authenticator';
COMMENT ON FUNCTION lagbid.is_authenticator(regrole) IS
    'true when login is one of lagbid.authenticators (its request.jwt.claims are trusted)';

-- (lagbid.api_subject and lagbid.api_holder take the caller's kind from
-- lagbid.api_role: see 20_holders.sql)

REVOKE ALL ON FUNCTION lagbid.register_provider(text, text[], text, jsonb, integer, text, text, bytea),
    lagbid.registration_challenge(text, text[]), lagbid.api_role(), lagbid.api_node_id(text),
    lagbid.api_signup(text, boolean), lagbid.is_authenticator(regrole) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION lagbid.register_provider(text, text[], text, jsonb, integer, text, text, bytea),
    lagbid.registration_challenge(text, text[]), lagbid.api_role(), lagbid.api_node_id(text),
    lagbid.api_signup(text, boolean), lagbid.is_authenticator(regrole) TO lagbid_platform;

-- the provider's API calls (70_api.sql)
CREATE FUNCTION lagbid_api.register_provider(multiaddrs text[], region text, resources jsonb,
                                             max_concurrent integer DEFAULT 1, signature bytea DEFAULT NULL,
                                             node_id text DEFAULT NULL)
    RETURNS bigint LANGUAGE sql VOLATILE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp SET lagbid.api_errors = on
    RETURN lagbid.register_provider(lagbid.api_signup(node_id, signature IS NOT NULL), multiaddrs, region,
                                    resources, max_concurrent, signature => signature);
COMMENT ON FUNCTION lagbid_api.register_provider(text[], text, jsonb, integer, bytea, text) IS
    'Registers the calling provider (its node id is the JWT sub or its login''s binding) with its multiaddrs, region, resources and concurrency limit; again to update. A signature of registration_challenge() by the node''s key marks it verified; an unbound login signs up by passing node_id and a signature, which binds it to the node. Returns the provider id.';

CREATE FUNCTION lagbid_api.registration_challenge(multiaddrs text[], node_id text DEFAULT NULL)
    RETURNS bytea LANGUAGE sql VOLATILE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp SET lagbid.api_errors = on
    RETURN lagbid.registration_challenge(lagbid.api_node_id(node_id), multiaddrs);
COMMENT ON FUNCTION lagbid_api.registration_challenge(text[], text) IS
    'The bytes to sign with the node''s ed25519 key to register these addresses now (node_id only for an unbound login signing up). Valid 5 to 10 minutes, once.';

REVOKE ALL ON FUNCTION lagbid_api.register_provider(text[], text, jsonb, integer, bytea, text),
    lagbid_api.registration_challenge(text[], text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION lagbid_api.register_provider(text[], text, jsonb, integer, bytea, text),
    lagbid_api.registration_challenge(text[], text) TO lagbid_provider;
