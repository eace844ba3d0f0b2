-- ---------------------------------------------------------------------------
-- Node keys that can prove nothing (issue 19, defect 8; src/registration.c,
-- src/identity/ed25519.c): an ed25519 key of small order or not canonically
-- encoded is refused at registration (LB010), signed or not.  This function
-- lets the platform find such ids among what is already registered.
--
-- 0.4 adds this part whole: sql/upgrade/0.3--0.4/ links to it, and
-- 20_node_keys_unverify.sql then clears verified on such providers.
-- ---------------------------------------------------------------------------

CREATE FUNCTION lagbid.node_key_problem(node_id text) RETURNS text
    LANGUAGE c IMMUTABLE STRICT PARALLEL SAFE
    AS 'MODULE_PATHNAME', 'lagbid_node_key_problem';
COMMENT ON FUNCTION lagbid.node_key_problem(text) IS
    'why the ed25519 key of node_id can prove nothing (of small order, or not canonically encoded), NULL when it can or the id holds no ed25519 key; such ids are refused at registration (LB010)';

REVOKE ALL ON FUNCTION lagbid.node_key_problem(text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION lagbid.node_key_problem(text) TO lagbid_platform;
