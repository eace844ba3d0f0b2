-- lagbid 0.3 -> 0.4, trust between strangers (issue 20): the functions 0.3
-- had whose signature, result or body 0.4 changes for collateral and
-- reputation.  Their fresh-install definitions are in sql/install/50_market,
-- 55_spaces, 58_invariants, 70_api and 74_whynot; this file repeats them
-- (with the privileges a fresh install gives them) so that an updated
-- database has exactly a fresh install's catalog (test/t/004_upgrade.pl).

-- new optional arguments (collateral_ratio, min_reputation, allocation) and
-- new result columns (open_tasks, eligible_providers): drop, then create
DROP FUNCTION lagbid_api.publish_task(jsonb, numeric, numeric, numeric, text, integer, integer, interval, boolean, boolean, jsonb);
DROP FUNCTION lagbid_api.create_space(text, jsonb, numeric, numeric, numeric, text, integer, jsonb);
DROP FUNCTION lagbid_api.update_space(bigint, jsonb, numeric, numeric, text, jsonb);
DROP FUNCTION lagbid_api.open_tasks(integer, bigint[]);
DROP FUNCTION lagbid_api.eligible_providers(bigint);
DROP FUNCTION lagbid.eligible_providers(bigint);
DROP FUNCTION lagbid.publish_task(text, jsonb, numeric, numeric, numeric, text, integer, integer, interval, boolean, boolean, jsonb);
DROP FUNCTION lagbid.create_space(text, text, jsonb, numeric, numeric, numeric, text, integer, jsonb);
DROP FUNCTION lagbid.update_space(bigint, jsonb, numeric, numeric, text, jsonb);
CREATE FUNCTION lagbid.publish_task(
    owner text, resources jsonb, price_min numeric, price_max numeric,
    duration_hours numeric, region text DEFAULT NULL, bid_limit integer DEFAULT 10,
    replicas integer DEFAULT 1, bidding_window interval DEFAULT '10 minutes',
    auto_allocate boolean DEFAULT true, open boolean DEFAULT true, workload jsonb DEFAULT NULL,
    collateral_ratio numeric DEFAULT NULL, min_reputation numeric DEFAULT NULL, allocation text DEFAULT NULL)
    RETURNS bigint
    LANGUAGE c VOLATILE
    AS 'MODULE_PATHNAME', 'lagbid_publish_task';
COMMENT ON FUNCTION lagbid.publish_task(text, jsonb, numeric, numeric, numeric, text, integer, integer, interval, boolean, boolean, jsonb, numeric, numeric, text) IS
    'publishes a task (with the workload it runs, validated): escrows price_max x duration_hours x replicas from the owner''s balance and opens bidding (unless open => false), telling providers on channel lagbid_tasks; each bid locks collateral_ratio x ask x duration_hours as its bond (NULL: lagbid.default_collateral_ratio), only providers scoring min_reputation may bid, allocation is lowest_ask (default) or reliability; returns the task id';

CREATE FUNCTION lagbid.create_space(
    owner text, name text, resources jsonb, price_min numeric, price_max numeric,
    hours numeric, region text DEFAULT NULL, replicas integer DEFAULT 1, workload jsonb DEFAULT NULL,
    collateral_ratio numeric DEFAULT NULL)
    RETURNS bigint
    LANGUAGE c VOLATILE
    AS 'MODULE_PATHNAME', 'lagbid_create_space';
COMMENT ON FUNCTION lagbid.create_space(text, text, jsonb, numeric, numeric, numeric, text, integer, jsonb, numeric) IS
    'creates a space (with the workload its tasks run) and pays hours x price_max x replicas into its escrow; its tasks take collateral_ratio (NULL: lagbid.default_collateral_ratio); the next tick publishes a task for it; returns the space id';

CREATE FUNCTION lagbid.update_space(
    space_id bigint, resources jsonb DEFAULT NULL, price_min numeric DEFAULT NULL,
    price_max numeric DEFAULT NULL, region text DEFAULT NULL, workload jsonb DEFAULT NULL,
    collateral_ratio numeric DEFAULT NULL)
    RETURNS void
    LANGUAGE c VOLATILE
    AS 'MODULE_PATHNAME', 'lagbid_update_space';
COMMENT ON FUNCTION lagbid.update_space(bigint, jsonb, numeric, numeric, text, jsonb, numeric) IS
    'changes a space (NULL keeps a value; workload => ''null'' removes the workload; collateral_ratio for its next tasks); a higher price_max is paid for the hours left; the next tick republishes it';

ALTER FUNCTION lagbid.publish_task(text, jsonb, numeric, numeric, numeric, text, integer, integer, interval, boolean, boolean, jsonb, numeric, numeric, text) SECURITY DEFINER SET search_path = pg_catalog, pg_temp;
ALTER FUNCTION lagbid.create_space(text, text, jsonb, numeric, numeric, numeric, text, integer, jsonb, numeric) SECURITY DEFINER SET search_path = pg_catalog, pg_temp;
ALTER FUNCTION lagbid.update_space(bigint, jsonb, numeric, numeric, text, jsonb, numeric) SECURITY DEFINER SET search_path = pg_catalog, pg_temp;
REVOKE ALL ON FUNCTION lagbid.publish_task(text, jsonb, numeric, numeric, numeric, text, integer, integer, interval, boolean, boolean, jsonb, numeric, numeric, text), lagbid.create_space(text, text, jsonb, numeric, numeric, numeric, text, integer, jsonb, numeric),
    lagbid.update_space(bigint, jsonb, numeric, numeric, text, jsonb, numeric) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION lagbid.publish_task(text, jsonb, numeric, numeric, numeric, text, integer, integer, interval, boolean, boolean, jsonb, numeric, numeric, text), lagbid.create_space(text, text, jsonb, numeric, numeric, numeric, text, integer, jsonb, numeric),
    lagbid.update_space(bigint, jsonb, numeric, numeric, text, jsonb, numeric) TO lagbid_platform;

-- the API
-- one limited index scan per matching region (the provider's region and each
-- of its prefixes) and one for tasks with no region
CREATE FUNCTION lagbid_api.open_tasks(max_rows integer DEFAULT 100, task_ids bigint[] DEFAULT NULL)
    RETURNS TABLE (task_id bigint, resources jsonb, region text, price_min numeric, price_max numeric,
                   duration_hours numeric, replicas integer, bid_limit integer, bid_count integer,
                   bidding_deadline timestamptz, owner text, workload_bytes integer, workload_sha256 text,
                   collateral_ratio numeric, min_reputation numeric)
    LANGUAGE plpgsql STABLE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp SET lagbid.api_errors = on
AS $$
DECLARE
    p lagbid.provider;
    prefixes text[];
    lim integer := least(greatest(coalesce(max_rows, 100), 1), 1000);
    now timestamptz := lagbid.now();
BEGIN
    SELECT * INTO p FROM lagbid.provider WHERE id = lagbid.api_provider();
    SELECT array_agg(array_to_string(parts[1:i], '-'))
      INTO prefixes
      FROM (SELECT string_to_array(p.region, '-') AS parts) s,
           generate_series(1, cardinality(s.parts)) AS i;
    IF task_ids IS NOT NULL THEN
        IF cardinality(task_ids) > 1000 THEN
            PERFORM lagbid.raise('LB007', format('task_ids has %s ids, more than the limit of 1000', cardinality(task_ids)),
                                 NULL, 'Ask for at most 1000 tasks at a time.');
        END IF;
        RETURN QUERY
        SELECT t.id, t.resources, t.region, t.price_min, t.price_max, t.duration_hours, t.replicas,
               t.bid_limit, t.bid_count, t.bidding_deadline, t.owner, t.workload_bytes, t.workload_sha256,
               t.collateral_ratio, t.min_reputation
          FROM lagbid.task t
         WHERE t.id = ANY (task_ids)
           AND t.state = 'accepting_bids' AND (t.region IS NULL OR t.region = ANY (prefixes))
           AND t.bidding_deadline > now
           AND t.cpu <= p.cpu AND t.memory_gb <= p.memory_gb AND t.storage_gb <= p.storage_gb
           AND t.gpu_count <= p.gpu_count AND (t.gpu IS NULL OR lower(t.gpu) = lower(p.gpu))
           AND t.min_reputation <= p.score
           AND NOT EXISTS (SELECT 1 FROM lagbid.bid b WHERE b.task_id = t.id
                              AND b.provider_id = p.id AND b.state IN ('open', 'won'))
         ORDER BY t.price_max DESC, t.id
         LIMIT lim;
        RETURN;
    END IF;
    RETURN QUERY
    SELECT t.id, t.resources, t.region, t.price_min, t.price_max, t.duration_hours, t.replicas,
           t.bid_limit, t.bid_count, t.bidding_deadline, t.owner, t.workload_bytes, t.workload_sha256,
           t.collateral_ratio, t.min_reputation
      FROM (SELECT m.*
              FROM unnest(prefixes) AS r(region)
             CROSS JOIN LATERAL (
                    SELECT * FROM lagbid.task t
                     WHERE t.state = 'accepting_bids' AND t.region = r.region
                       AND t.bidding_deadline > now
                       AND t.cpu <= p.cpu AND t.memory_gb <= p.memory_gb AND t.storage_gb <= p.storage_gb
                       AND t.gpu_count <= p.gpu_count AND (t.gpu IS NULL OR lower(t.gpu) = lower(p.gpu))
                       AND t.min_reputation <= p.score
                       AND NOT EXISTS (SELECT 1 FROM lagbid.bid b WHERE b.task_id = t.id
                                          AND b.provider_id = p.id AND b.state IN ('open', 'won'))
                     ORDER BY t.price_max DESC, t.id
                     LIMIT lim) AS m
            UNION ALL
            (SELECT * FROM lagbid.task t
              WHERE t.state = 'accepting_bids' AND t.region IS NULL
                AND t.bidding_deadline > now
                AND t.cpu <= p.cpu AND t.memory_gb <= p.memory_gb AND t.storage_gb <= p.storage_gb
                AND t.gpu_count <= p.gpu_count AND (t.gpu IS NULL OR lower(t.gpu) = lower(p.gpu))
                AND t.min_reputation <= p.score
                AND NOT EXISTS (SELECT 1 FROM lagbid.bid b WHERE b.task_id = t.id
                                   AND b.provider_id = p.id AND b.state IN ('open', 'won'))
              ORDER BY t.price_max DESC, t.id
              LIMIT lim)) AS t
     ORDER BY t.price_max DESC, t.id
     LIMIT lim;
END $$;
COMMENT ON FUNCTION lagbid_api.open_tasks(integer, bigint[]) IS
    'The tasks the calling provider may bid on now (its region, resources and score, not yet bid on), best paying first, with their owner, the size and SHA-256 of the workload they run (the body: lagbid_api.task_workload) and the collateral_ratio a bid stakes (its bond: collateral_ratio x ask x duration_hours); task_ids (at most 1000) asks for those tasks only, under the same rules; at most max_rows (1 to 1000) rows; other bidders'' asks are never shown.';

CREATE FUNCTION lagbid_api.publish_task(
    resources jsonb, price_min numeric, price_max numeric, duration_hours numeric,
    region text DEFAULT NULL, bid_limit integer DEFAULT 10, replicas integer DEFAULT 1,
    bidding_window interval DEFAULT '10 minutes', auto_allocate boolean DEFAULT true,
    open boolean DEFAULT true, workload jsonb DEFAULT NULL, collateral_ratio numeric DEFAULT NULL,
    min_reputation numeric DEFAULT NULL, allocation text DEFAULT NULL)
    RETURNS bigint LANGUAGE sql VOLATILE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp SET lagbid.api_errors = on
    RETURN lagbid.publish_task(lagbid.api_identity('lagbid_owner'), resources, price_min, price_max,
                               duration_hours, region, bid_limit, replicas, bidding_window,
                               auto_allocate, open, workload, collateral_ratio => collateral_ratio,
                               min_reputation => min_reputation, allocation => allocation);
COMMENT ON FUNCTION lagbid_api.publish_task(jsonb, numeric, numeric, numeric, text, integer, integer, interval, boolean, boolean, jsonb, numeric, numeric, text) IS
    'Publishes a task of the caller, with the workload it runs: escrows price_max x duration_hours x replicas from its balance and opens bidding. Each bid locks collateral_ratio x ask x duration_hours of its provider''s balance as its bond; only providers scoring at least min_reputation may bid; allocation is lowest_ask (default) or reliability. Returns the task id.';

CREATE FUNCTION lagbid_api.create_space(name text, resources jsonb, price_min numeric, price_max numeric,
                                        hours numeric, region text DEFAULT NULL, replicas integer DEFAULT 1,
                                        workload jsonb DEFAULT NULL, collateral_ratio numeric DEFAULT NULL)
    RETURNS bigint LANGUAGE sql VOLATILE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp SET lagbid.api_errors = on
    RETURN lagbid.create_space(lagbid.api_identity('lagbid_owner'), name, resources, price_min,
                               price_max, hours, region, replicas, workload,
                               collateral_ratio => collateral_ratio);
COMMENT ON FUNCTION lagbid_api.create_space(text, jsonb, numeric, numeric, numeric, text, integer, jsonb, numeric) IS
    'Creates a space of the caller (with the workload its tasks run, and the collateral_ratio each of its bids stakes) and pays for its reserved hours; the next tick publishes it. Returns the space id.';

CREATE FUNCTION lagbid_api.update_space(space_id bigint, resources jsonb DEFAULT NULL,
                                        price_min numeric DEFAULT NULL, price_max numeric DEFAULT NULL,
                                        region text DEFAULT NULL, workload jsonb DEFAULT NULL,
                                        collateral_ratio numeric DEFAULT NULL)
    RETURNS void LANGUAGE plpgsql VOLATILE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp SET lagbid.api_errors = on
AS $$
BEGIN
    PERFORM lagbid.api_own_space(space_id);
    PERFORM lagbid.update_space(space_id, resources, price_min, price_max, region, workload,
                                collateral_ratio => collateral_ratio);
END $$;
COMMENT ON FUNCTION lagbid_api.update_space(bigint, jsonb, numeric, numeric, text, jsonb, numeric) IS 'Changes one of the caller''s spaces (workload => ''null'' removes its workload; collateral_ratio for its next tasks); the next tick republishes it.';

REVOKE ALL ON FUNCTION lagbid_api.open_tasks(integer, bigint[]), lagbid_api.publish_task(jsonb, numeric, numeric, numeric, text, integer, integer, interval, boolean, boolean, jsonb, numeric, numeric, text),
    lagbid_api.create_space(text, jsonb, numeric, numeric, numeric, text, integer, jsonb, numeric), lagbid_api.update_space(bigint, jsonb, numeric, numeric, text, jsonb, numeric) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION lagbid_api.open_tasks(integer, bigint[]) TO lagbid_provider;
GRANT EXECUTE ON FUNCTION lagbid_api.publish_task(jsonb, numeric, numeric, numeric, text, integer, integer, interval, boolean, boolean, jsonb, numeric, numeric, text), lagbid_api.create_space(text, jsonb, numeric, numeric, numeric, text, integer, jsonb, numeric),
    lagbid_api.update_space(bigint, jsonb, numeric, numeric, text, jsonb, numeric) TO lagbid_owner;

-- why not: reputation_too_low and insufficient_collateral; eligible providers' scores
CREATE OR REPLACE FUNCTION lagbid.why_not(task_id bigint, provider_id bigint)
    RETURNS TABLE (rule text, detail text)
    LANGUAGE plpgsql STABLE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    t lagbid.task;
    p lagbid.provider;
    live record;
    available numeric;
BEGIN
    IF why_not.task_id IS NULL OR why_not.provider_id IS NULL THEN
        PERFORM lagbid.raise('LB001', 'task_id and provider_id must not be NULL');
    END IF;
    SELECT * INTO p FROM lagbid.provider pr WHERE pr.id = why_not.provider_id;
    IF NOT FOUND THEN
        PERFORM lagbid.raise('LB204', format('provider %s does not exist', why_not.provider_id));
    END IF;

    -- a task never opened to bids is as unknown as one that does not exist
    SELECT * INTO t FROM lagbid.task tk WHERE tk.id = why_not.task_id;
    IF NOT FOUND OR t.opened_at IS NULL THEN
        rule := 'task_not_found';
        detail := format('task %s does not exist or was never open to bids', why_not.task_id);
        RETURN NEXT;
        RETURN;
    END IF;

    -- the task: its state, then its bidding window
    IF t.state <> 'accepting_bids' THEN
        rule := 'not_accepting_bids';
        detail := format('task %s is %s', t.id, t.state);
        RETURN NEXT;
    ELSIF t.bidding_deadline IS NOT NULL AND lagbid.now() >= t.bidding_deadline THEN
        rule := 'bidding_window_closed';
        detail := format('bidding on task %s ended at %s', t.id,
                         to_char(t.bidding_deadline AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"'));
        RETURN NEXT;
    END IF;

    -- the provider: active, then market rule 4 (region, each resource)
    IF p.state <> 'active' THEN
        rule := 'provider_inactive';
        detail := format('provider %s is %s', p.id, p.state);
        RETURN NEXT;
    END IF;
    IF NOT (t.region IS NULL OR p.region = t.region OR starts_with(p.region, t.region || '-')) THEN
        rule := 'region_mismatch';
        detail := format('the task runs in region "%s"; the provider is in "%s"', t.region, p.region);
        RETURN NEXT;
    END IF;
    -- each resource, in the order place_bid compares them; place_bid
    -- compares gpu models with pg_strcasecmp: ASCII case folding, which is
    -- what lower() does under the "C" collation
    RETURN QUERY
    SELECT v.rule, v.detail
      FROM (VALUES
            (1, 'cpu', p.cpu < t.cpu, format('the task needs %s; the provider has %s', t.cpu, p.cpu)),
            (2, 'memory_gb', p.memory_gb < t.memory_gb,
             format('the task needs %s; the provider has %s', t.memory_gb, p.memory_gb)),
            (3, 'storage_gb', p.storage_gb < t.storage_gb,
             format('the task needs %s; the provider has %s', t.storage_gb, p.storage_gb)),
            (4, 'gpu', t.gpu IS NOT NULL AND (p.gpu IS NULL OR lower(p.gpu COLLATE "C") <> lower(t.gpu COLLATE "C")),
             format('the task needs "%s"; the provider has %s', t.gpu, coalesce('"' || p.gpu || '"', 'none'))),
            (5, 'gpu_count', p.gpu_count < t.gpu_count,
             format('the task needs %s; the provider has %s', t.gpu_count, p.gpu_count)))
           AS v(n, rule, fails, detail)
     WHERE v.fails
     ORDER BY v.n;

    -- the task's min_reputation (issue 20), where place_bid checks it
    IF p.score < t.min_reputation THEN
        rule := 'reputation_too_low';
        detail := format('the task asks for a score of %s; the provider has %s', t.min_reputation, p.score);
        RETURN NEXT;
    END IF;

    -- market rule 1, then rule 5, then rule 2
    IF p.slots_used >= p.max_concurrent THEN
        rule := 'slots_full';
        detail := format('%s of %s slots in use (open bids and running jobs)', p.slots_used, p.max_concurrent);
        RETURN NEXT;
    END IF;
    SELECT b.id, b.price INTO live FROM lagbid.bid b
     WHERE b.task_id = t.id AND b.provider_id = p.id AND b.state IN ('open', 'won');
    IF FOUND THEN
        rule := 'already_bid';
        detail := format('bid %s asks %s', live.id, live.price);
        RETURN NEXT;
    END IF;
    IF t.state = 'accepting_bids' AND t.bid_count >= t.bid_limit THEN
        rule := 'bid_limit_reached';
        detail := format('task %s holds %s of its %s bids', t.id, t.bid_count, t.bid_limit);
        RETURN NEXT;
    END IF;
    -- collateral (issue 20): the bond of an ask at price_min, from the available balance
    IF t.collateral_ratio > 0 THEN
        available := coalesce((SELECT a.balance - a.bonded FROM lagbid.account a
                                WHERE a.kind = 'provider' AND a.name = p.node_id), 0);
        IF available < t.collateral_ratio * t.price_min * t.duration_hours THEN
            rule := 'insufficient_collateral';
            detail := format('a bid locks collateral_ratio %s x ask x duration_hours %s: %s at price_min, %s at price_max; the provider has %s available',
                             t.collateral_ratio, t.duration_hours, t.collateral_ratio * t.price_min * t.duration_hours,
                             t.collateral_ratio * t.price_max * t.duration_hours, available);
            RETURN NEXT;
        END IF;
    END IF;
END $$;
COMMENT ON FUNCTION lagbid.why_not(bigint, bigint) IS
    'One row (rule, detail) per market rule that stops the provider from bidding on the task now, in the order the market checks them; empty when place_bid would accept an ask of price_min (and any ask in [price_min, price_max] on a task without collateral). Rules: task_not_found, not_accepting_bids, bidding_window_closed, provider_inactive, region_mismatch, cpu, memory_gb, storage_gb, gpu, gpu_count, reputation_too_low, slots_full, already_bid, bid_limit_reached, insufficient_collateral.';

CREATE FUNCTION lagbid.eligible_providers(task_id bigint)
    RETURNS TABLE (matching_providers bigint, with_free_slot bigint, with_min_reputation bigint,
                   best_score numeric, median_score numeric)
    LANGUAGE plpgsql STABLE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    t lagbid.task;
BEGIN
    IF eligible_providers.task_id IS NULL THEN
        PERFORM lagbid.raise('LB001', 'task_id must not be NULL');
    END IF;
    SELECT * INTO t FROM lagbid.task tk WHERE tk.id = eligible_providers.task_id;
    IF NOT FOUND THEN
        PERFORM lagbid.raise('LB201', format('task %s does not exist', eligible_providers.task_id));
    END IF;
    RETURN QUERY
    SELECT count(*), count(*) FILTER (WHERE p.slots_used < p.max_concurrent),
           count(*) FILTER (WHERE p.score >= t.min_reputation),
           max(p.score), percentile_disc(0.5) WITHIN GROUP (ORDER BY p.score)
      FROM lagbid.provider p
     WHERE p.state = 'active'
       AND (t.region IS NULL OR p.region = t.region OR starts_with(p.region, t.region || '-'))
       AND p.cpu >= t.cpu AND p.memory_gb >= t.memory_gb AND p.storage_gb >= t.storage_gb
       AND p.gpu_count >= t.gpu_count
       AND (t.gpu IS NULL OR lower(p.gpu COLLATE "C") = lower(t.gpu COLLATE "C"));
END $$;
COMMENT ON FUNCTION lagbid.eligible_providers(bigint) IS
    'How many active providers match the task''s region and resources (matching_providers), how many of those have a free slot now (with_free_slot) and a score of at least the task''s min_reputation (with_min_reputation), and their best and median reputation scores.';

CREATE FUNCTION lagbid_api.eligible_providers(task_id bigint)
    RETURNS TABLE (matching_providers bigint, with_free_slot bigint, with_min_reputation bigint,
                   best_score numeric, median_score numeric)
    LANGUAGE plpgsql STABLE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp SET lagbid.api_errors = on
AS $$
BEGIN
    PERFORM lagbid.api_own_task(eligible_providers.task_id);
    RETURN QUERY SELECT e.matching_providers, e.with_free_slot, e.with_min_reputation,
                        e.best_score, e.median_score
                   FROM lagbid.eligible_providers(eligible_providers.task_id) e;
END $$;
COMMENT ON FUNCTION lagbid_api.eligible_providers(bigint) IS
    'For one of the caller''s tasks: how many active providers match its region and resources, how many of them have a free slot now and the score its min_reputation asks, and their best and median reputation scores.';

REVOKE ALL ON FUNCTION lagbid.eligible_providers(bigint), lagbid_api.eligible_providers(bigint) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION lagbid.eligible_providers(bigint) TO lagbid_platform;
GRANT EXECUTE ON FUNCTION lagbid_api.eligible_providers(bigint) TO lagbid_owner;

-- check_invariants(): 70_4_invariants.sql defines 0.4's whole function once,
-- as sql/install/58_invariants.sql has it (bonds, slashes, reputation, leases)
