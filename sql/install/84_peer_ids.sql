-- ---------------------------------------------------------------------------
-- 0.2: a peer id from a public key (src/identity.c), for signup tooling,
-- tests and demos.
-- ---------------------------------------------------------------------------

CREATE FUNCTION lagbid.peer_id_from_ed25519(public_key bytea) RETURNS text
    LANGUAGE c IMMUTABLE STRICT PARALLEL SAFE
    AS 'MODULE_PATHNAME', 'lagbid_peer_id_from_ed25519';
COMMENT ON FUNCTION lagbid.peer_id_from_ed25519(bytea) IS
    'the libp2p peer id ("12D3KooW...") of a 32-byte ed25519 public key';
REVOKE ALL ON FUNCTION lagbid.peer_id_from_ed25519(bytea) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION lagbid.peer_id_from_ed25519(bytea) TO lagbid_platform;
