-- ---------------------------------------------------------------------------
-- Reputation you can read (issue 20): a provider's profile -- its score,
-- the reliability allocation derives from it, and the counts beside it --
-- for anybody (lagbid_api.provider_profile), and for the provider itself
-- with the money it has at stake (lagbid_api.my_profile).
-- ---------------------------------------------------------------------------

CREATE FUNCTION lagbid.reliability(score numeric) RETURNS numeric
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    SET search_path = pg_catalog, pg_temp
    RETURN round((score + 1) / (score + 2), 6);
COMMENT ON FUNCTION lagbid.reliability(numeric) IS
    'reliability of a reputation score, (score + 1) / (score + 2) (shown to 6 decimals; allocation => ''reliability'' ranks by ask / reliability, exactly): 0.5 for a fresh key, 0.9 at score 8, 0.99 at 98';

CREATE FUNCTION lagbid.provider_profile(node_id text)
    RETURNS TABLE (verified boolean, first_seen timestamptz, score numeric,
                   reliability numeric, jobs_completed integer, jobs_agreed integer,
                   jobs_disagreed integer, jobs_no_show integer, jobs_failed integer,
                   slashed_total numeric)
    LANGUAGE plpgsql STABLE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF provider_profile.node_id IS NULL THEN
        PERFORM lagbid.raise('LB001', 'node_id must not be NULL');
    END IF;
    RETURN QUERY
    SELECT p.verified, p.registered_at, p.score, lagbid.reliability(p.score),
           p.jobs_completed, p.jobs_agreed, p.jobs_disagreed, p.jobs_no_show, p.jobs_failed,
           p.slashed_total
      FROM lagbid.provider p WHERE p.node_id = provider_profile.node_id;
    IF NOT FOUND THEN
        PERFORM lagbid.raise('LB204', format('no provider is registered with node id %s',
                                             left(provider_profile.node_id, 128)));
    END IF;
END $$;
COMMENT ON FUNCTION lagbid.provider_profile(text) IS
    'a provider''s public record: its score and reliability, jobs completed (agreed: on tasks of several replicas), disagreed, no-show, failed by it, all it was slashed, and when it was first seen; LB204 for an unknown node id';

CREATE FUNCTION lagbid_api.provider_profile(node_id text)
    RETURNS TABLE (verified boolean, first_seen timestamptz, score numeric,
                   reliability numeric, jobs_completed integer, jobs_agreed integer,
                   jobs_disagreed integer, jobs_no_show integer, jobs_failed integer,
                   slashed_total numeric)
    LANGUAGE sql STABLE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp SET lagbid.api_errors = on
BEGIN ATOMIC
    SELECT * FROM lagbid.provider_profile(provider_profile.node_id);
END;
COMMENT ON FUNCTION lagbid_api.provider_profile(text) IS
    'Any provider''s public record, for anybody: score, reliability, jobs completed, agreed, disagreed, no-show, failed, slashed in total, first seen.';

CREATE FUNCTION lagbid_api.my_profile()
    RETURNS TABLE (node_id text, verified boolean, first_seen timestamptz, score numeric,
                   reliability numeric, jobs_completed integer, jobs_agreed integer,
                   jobs_disagreed integer, jobs_no_show integer, jobs_failed integer,
                   slashed_total numeric, available numeric, bonded numeric, bonds integer)
    LANGUAGE plpgsql STABLE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp SET lagbid.api_errors = on
AS $$
DECLARE
    me bigint := lagbid.api_provider();
    node text := (SELECT p.node_id FROM lagbid.provider p WHERE p.id = me);
BEGIN
    RETURN QUERY
    SELECT node, f.*, lagbid.balance(node, 'provider'),
           coalesce((SELECT a.bonded FROM lagbid.account a WHERE a.kind = 'provider' AND a.name = node), 0),
           (SELECT count(*)::integer FROM lagbid.bid b WHERE b.provider_id = me AND b.bond_state = 'locked')
      FROM lagbid.provider_profile(node) f;
END $$;
COMMENT ON FUNCTION lagbid_api.my_profile() IS
    'The calling provider''s record (as provider_profile shows it to anybody) with its money: available (what balance() says, free to bid with) and bonded (held on its account by its live bids on collateral tasks, in bonds of them).';

REVOKE ALL ON FUNCTION lagbid.reliability(numeric), lagbid.provider_profile(text),
    lagbid_api.provider_profile(text), lagbid_api.my_profile() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION lagbid.reliability(numeric), lagbid.provider_profile(text) TO lagbid_platform;
GRANT EXECUTE ON FUNCTION lagbid_api.provider_profile(text)
    TO lagbid_anon, lagbid_owner, lagbid_provider, lagbid_platform;
GRANT EXECUTE ON FUNCTION lagbid_api.my_profile() TO lagbid_provider;
