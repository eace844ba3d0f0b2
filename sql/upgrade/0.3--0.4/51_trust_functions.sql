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

-- the invariants: bonds, slashes, reputation counts (CREATE OR REPLACE keeps
-- the privileges, not SECURITY DEFINER: 70_api.sql's ALTER again)
CREATE OR REPLACE FUNCTION lagbid.check_invariants()
    RETURNS TABLE (invariant text, detail text)
    LANGUAGE sql STABLE
    SET search_path = pg_catalog, pg_temp
BEGIN ATOMIC
    -- money: every ledger transaction sums to zero
    SELECT 'ledger_tx_balanced', format('ledger tx %s sums to %s', e.tx_id, sum(e.amount))
      FROM lagbid.ledger_entry e GROUP BY e.tx_id HAVING sum(e.amount) <> 0
    UNION ALL
    -- money: each ledger tx has entries matching its amount
    SELECT 'ledger_tx_amount', format('ledger tx %s of %s has entries crediting %s', t.id, t.amount,
                                      coalesce(sum(e.amount) FILTER (WHERE e.amount > 0), 0))
      FROM lagbid.ledger_tx t LEFT JOIN lagbid.ledger_entry e ON e.tx_id = t.id
     GROUP BY t.id, t.amount
    HAVING coalesce(sum(e.amount) FILTER (WHERE e.amount > 0), 0) <> t.amount
    UNION ALL
    -- money: balances are the sum of their entries
    SELECT 'account_balance', format('account %s (%s %s) has balance %s, entries sum to %s',
                                     a.id, a.kind, a.name, a.balance, coalesce(s.total, 0))
      FROM lagbid.account a
      LEFT JOIN (SELECT account_id, sum(amount) AS total FROM lagbid.ledger_entry GROUP BY account_id) s
        ON s.account_id = a.id
     WHERE a.balance <> coalesce(s.total, 0)
    UNION ALL
    -- money: holders and escrows never negative
    SELECT 'balance_never_negative', format('account %s (%s %s) holds %s', a.id, a.kind, a.name, a.balance)
      FROM lagbid.account a WHERE a.kind <> 'external' AND a.balance < 0
    UNION ALL
    -- money: no money created or lost (all accounts together sum to zero)
    SELECT 'money_conserved', format('all balances sum to %s', sum(a.balance))
      FROM lagbid.account a HAVING sum(a.balance) <> 0
    UNION ALL
    -- money: a finished task's escrow is empty, a live task's holds its budget
    SELECT 'task_escrow', format('task %s (%s) escrow holds %s, expected %s', t.id, t.state, a.balance,
                                 CASE WHEN t.state IN ('completed', 'failed', 'cancelled') THEN 0
                                      ELSE t.price_max * t.duration_hours * t.replicas END)
      FROM lagbid.task t JOIN lagbid.account a ON a.id = t.escrow_account_id
     WHERE a.balance <> CASE WHEN t.state IN ('completed', 'failed', 'cancelled') THEN 0
                             ELSE t.price_max * t.duration_hours * t.replicas END
    UNION ALL
    -- money: each completed job paid exactly once, ask x duration_hours
    SELECT 'job_paid_once', format('job %s (%s) paid %s in %s payments, expected %s', j.id, j.state,
                                   coalesce(sum(x.amount), 0), count(x.id),
                                   CASE WHEN j.state = 'completed' THEN j.price * t.duration_hours ELSE 0 END)
      FROM lagbid.job j JOIN lagbid.task t ON t.id = j.task_id
      LEFT JOIN lagbid.ledger_tx x ON x.job_id = j.id AND x.kind = 'payment'
     GROUP BY j.id, j.state, j.price, t.duration_hours
    HAVING count(x.id) <> CASE WHEN j.state = 'completed' AND j.price * t.duration_hours > 0 THEN 1 ELSE 0 END
        OR coalesce(sum(x.amount), 0) <> CASE WHEN j.state = 'completed' THEN j.price * t.duration_hours ELSE 0 END
    UNION ALL
    -- holders are typed: a task is funded by its owner's own account (kind
    -- owner), or by its space's escrow
    SELECT 'task_funding_account', format('task %s of owner %s is funded by account %s (%s %s)',
                                          t.id, t.owner, a.id, a.kind, a.name)
      FROM lagbid.task t
      JOIN lagbid.account a ON a.id = t.funding_account_id
      LEFT JOIN lagbid.space s ON s.id = t.space_id
     WHERE NOT CASE WHEN t.space_id IS NULL THEN a.kind = 'owner' AND a.name = t.owner
                    ELSE a.id = s.escrow_account_id END
    UNION ALL
    -- holders are typed: an escrow is paid by, and a refund returns to, the
    -- payer: a task's funding account, a space's owner (kind owner)
    SELECT 'escrow_refund_payer', format('%s %s of %s %s account %s (%s %s)', x.kind, x.id,
                                         coalesce('task ' || x.task_id, 'space ' || x.space_id),
                                         CASE x.kind WHEN 'escrow' THEN 'debits' ELSE 'credits' END,
                                         a.id, a.kind, a.name)
      FROM lagbid.ledger_tx x
      JOIN lagbid.ledger_entry e ON e.tx_id = x.id AND (e.amount < 0) = (x.kind = 'escrow')
      JOIN lagbid.account a ON a.id = e.account_id
      LEFT JOIN lagbid.task t ON t.id = x.task_id
      LEFT JOIN lagbid.space s ON s.id = x.space_id
     WHERE x.kind IN ('escrow', 'refund')
       AND NOT CASE WHEN x.task_id IS NOT NULL THEN a.id = t.funding_account_id
                    ELSE a.kind = 'owner' AND a.name = s.owner END
    UNION ALL
    -- holders are typed: a job's payment goes to its provider (kind provider)
    SELECT 'payment_to_provider', format('payment %s for job %s credits account %s (%s %s), not provider %s',
                                         x.id, x.job_id, a.id, a.kind, a.name, p.node_id)
      FROM lagbid.ledger_tx x
      JOIN lagbid.ledger_entry e ON e.tx_id = x.id AND e.amount > 0
      JOIN lagbid.account a ON a.id = e.account_id
      LEFT JOIN lagbid.job j ON j.id = x.job_id
      LEFT JOIN lagbid.provider p ON p.id = j.provider_id
     WHERE x.kind = 'payment' AND (a.kind <> 'provider' OR a.name IS DISTINCT FROM p.node_id)
    UNION ALL
    -- holders are typed: a notice about a bid or job goes to its provider
    -- (kind provider); an owner's notice about a task to the task's owner
    SELECT 'notification_recipient', format('notification %s (%s) is addressed to %s %s', n.id, n.kind,
                                            n.recipient_kind, n.recipient)
      FROM lagbid.notification n
      LEFT JOIN lagbid.bid b ON b.id = n.bid_id
      LEFT JOIN lagbid.job j ON j.id = n.job_id
      LEFT JOIN lagbid.task t ON t.id = n.task_id
     WHERE CASE n.recipient_kind
               WHEN 'provider' THEN coalesce(b.provider_id, j.provider_id) IS NOT NULL
                   AND n.recipient IS DISTINCT FROM
                       (SELECT p.node_id FROM lagbid.provider p WHERE p.id = coalesce(b.provider_id, j.provider_id))
               ELSE n.task_id IS NOT NULL AND n.recipient IS DISTINCT FROM t.owner
           END
    UNION ALL
    -- rule 1: the slot counter equals open bids plus live jobs
    SELECT 'provider_slots', format('provider %s counts %s slots, holds %s', p.id, p.slots_used,
                                    coalesce(b.n, 0) + coalesce(j.n, 0))
      FROM lagbid.provider p
      LEFT JOIN (SELECT provider_id, count(*) AS n FROM lagbid.bid WHERE state = 'open' GROUP BY provider_id) b
        ON b.provider_id = p.id
      LEFT JOIN (SELECT provider_id, count(*) AS n FROM lagbid.job
                  WHERE state IN ('processing', 'submitted') GROUP BY provider_id) j
        ON j.provider_id = p.id
     WHERE p.slots_used <> coalesce(b.n, 0) + coalesce(j.n, 0)
    UNION ALL
    -- rule 2: the bid counter equals open plus won bids, never above the limit
    SELECT 'task_bid_count', format('task %s counts %s bids, holds %s (limit %s)', t.id, t.bid_count,
                                    coalesce(b.n, 0), t.bid_limit)
      FROM lagbid.task t
      LEFT JOIN (SELECT task_id, count(*) AS n FROM lagbid.bid WHERE state IN ('open', 'won') GROUP BY task_id) b
        ON b.task_id = t.id
     WHERE t.bid_count <> coalesce(b.n, 0) OR coalesce(b.n, 0) > t.bid_limit
    UNION ALL
    -- rule 6: a processing task counts its processing jobs
    SELECT 'task_jobs_pending', format('task %s counts %s pending jobs, has %s', t.id, t.jobs_pending, coalesce(j.n, 0))
      FROM lagbid.task t
      LEFT JOIN (SELECT task_id, count(*) AS n FROM lagbid.job WHERE state = 'processing' GROUP BY task_id) j
        ON j.task_id = t.id
     WHERE t.state = 'processing' AND t.jobs_pending <> coalesce(j.n, 0)
    UNION ALL
    -- allocation: won bids have exactly one job; at most replicas won
    SELECT 'bid_won_has_job', format('bid %s is %s and has %s jobs', b.id, b.state, count(j.id))
      FROM lagbid.bid b LEFT JOIN lagbid.job j ON j.bid_id = b.id
     GROUP BY b.id, b.state
    HAVING (b.state = 'won') <> (count(j.id) = 1) OR count(j.id) > 1
    UNION ALL
    SELECT 'task_replicas', format('task %s has %s jobs for %s replicas', t.id, count(j.id), t.replicas)
      FROM lagbid.task t JOIN lagbid.job j ON j.task_id = t.id
     GROUP BY t.id, t.replicas HAVING count(j.id) > t.replicas
    UNION ALL
    -- rule 6: every completed job of a task carries the one elected result hash
    -- (0.4 also needs a strict majority of replicas; tasks completed under 0.3's
    -- rule may hold less, so that is tested by the election's own tests)
    SELECT 'election_agreement', format('task %s completed %s jobs with %s distinct result hashes',
                                        j.task_id, count(*), count(DISTINCT j.result_hash))
      FROM lagbid.job j WHERE j.state = 'completed'
     GROUP BY j.task_id HAVING count(DISTINCT j.result_hash) <> 1 OR count(j.result_hash) <> count(*)
    UNION ALL
    -- rule 6: a completed task has exactly one leader, completed, and it is its leader_job_id
    SELECT 'task_leader', format('task %s is %s with leader %s', t.id, t.state, t.leader_job_id)
      FROM lagbid.task t LEFT JOIN lagbid.job j ON j.id = t.leader_job_id
     WHERE (t.state = 'completed') <> (j.id IS NOT NULL AND j.is_leader AND j.state = 'completed' AND j.task_id = t.id)
    UNION ALL
    -- rule 5: one live bid per provider per task (also a unique index)
    SELECT 'one_bid_per_provider', format('provider %s has %s live bids on task %s', provider_id, count(*), task_id)
      FROM lagbid.bid WHERE state IN ('open', 'won') GROUP BY task_id, provider_id HAVING count(*) > 1
    UNION ALL
    -- rule 3: every bid lies in its task's price range
    SELECT 'bid_price_in_range', format('bid %s asks %s outside [%s, %s] of task %s', b.id, b.price,
                                        t.price_min, t.price_max, t.id)
      FROM lagbid.bid b JOIN lagbid.task t ON t.id = b.task_id
     WHERE b.price < t.price_min OR b.price > t.price_max
    UNION ALL
    -- states agree: open bids only on tasks before processing, live jobs only on processing tasks
    SELECT 'open_bid_task_state', format('bid %s is open on task %s which is %s', b.id, t.id, t.state)
      FROM lagbid.bid b JOIN lagbid.task t ON t.id = b.task_id
     WHERE b.state = 'open' AND t.state NOT IN ('accepting_bids', 'bid_closed')
    UNION ALL
    -- (a submitted job also waits while its task gathers extra replicas: allocated
    -- once, accepting bids or closed again)
    SELECT 'live_job_task_state', format('job %s is %s on task %s which is %s', j.id, j.state, t.id, t.state)
      FROM lagbid.job j JOIN lagbid.task t ON t.id = j.task_id
     WHERE (j.state = 'processing' AND t.state <> 'processing')
        OR (j.state = 'submitted' AND t.state <> 'processing'
            AND NOT (t.state IN ('accepting_bids', 'bid_closed') AND t.allocated_at IS NOT NULL))
    UNION ALL
    -- collateral (issue 20): a bid's bond is collateral_ratio x ask x
    -- duration_hours of its task, has a state exactly when it is above 0, and
    -- is locked only while the bid is open or its task is processing
    SELECT 'bid_bond', format('bid %s (%s) of task %s (%s) has bond %s (%s), expected %s', b.id, b.state, t.id,
                              t.state, b.bond, coalesce(b.bond_state, 'none'),
                              t.collateral_ratio * b.price * t.duration_hours)
      FROM lagbid.bid b JOIN lagbid.task t ON t.id = b.task_id
     WHERE (b.bond > 0 AND b.bond <> t.collateral_ratio * b.price * t.duration_hours)
        OR b.bond < 0 OR (b.bond_state IS NULL) <> (b.bond = 0)
        OR b.bond_state NOT IN ('locked', 'released', 'slashed')
        OR (b.bond_state = 'locked'
            AND NOT (b.state = 'open' OR (b.state = 'won' AND t.state = 'processing')
                     -- a won bid's job waits while its task gathers extra replicas
                     OR (b.state = 'won' AND t.state IN ('accepting_bids', 'bid_closed')
                         AND t.allocated_at IS NOT NULL)))
    UNION ALL
    -- collateral: a provider's account holds (bonded) exactly the locked bonds of
    -- its bids, never more than its balance; no other account holds anything
    SELECT 'account_bonded', format('account %s (%s %s) holds %s of its balance %s, its locked bonds are %s',
                                    a.id, a.kind, a.name, a.bonded, a.balance, coalesce(l.total, 0))
      FROM lagbid.account a
      LEFT JOIN (SELECT p.node_id, sum(b.bond) AS total
                   FROM lagbid.bid b JOIN lagbid.provider p ON p.id = b.provider_id
                  WHERE b.bond_state = 'locked' GROUP BY p.node_id) l
        ON a.kind = 'provider' AND l.node_id = a.name
     WHERE a.bonded <> coalesce(l.total, 0) OR a.bonded < 0 OR (a.kind <> 'external' AND a.balance < a.bonded)
    UNION ALL
    -- collateral: no bond is locked in a provider's name that has no account to hold it
    SELECT 'account_bonded', format('provider %s has %s locked in bonds and no account', p.node_id, sum(b.bond))
      FROM lagbid.bid b JOIN lagbid.provider p ON p.id = b.provider_id
     WHERE b.bond_state = 'locked'
       AND NOT EXISTS (SELECT 1 FROM lagbid.account a WHERE a.kind = 'provider' AND a.name = p.node_id)
     GROUP BY p.node_id
    UNION ALL
    -- collateral: a bond leaves its hold at most once, and money moves only for a
    -- slash: one slash transaction, for the bid's job, when slashed, none otherwise
    SELECT 'bond_settled_once', format('bid %s (%s) has %s slash transactions', b.id, b.bond_state, count(x.id))
      FROM lagbid.bid b
      LEFT JOIN lagbid.job j ON j.bid_id = b.id
      LEFT JOIN lagbid.ledger_tx x ON x.job_id = j.id AND x.kind = 'slash'
     WHERE b.bond > 0
     GROUP BY b.id, b.bond_state
    HAVING count(x.id) <> (b.bond_state = 'slashed')::int
    UNION ALL
    -- collateral: a slash pays the task's owner (kind owner) for one job of that task, and its
    -- provider was told why (job_slashed with a reason and evidence)
    SELECT 'slash_to_owner', format('slash %s for job %s of task %s credits account %s (%s %s)%s', x.id, x.job_id,
                                    x.task_id, a.id, a.kind, a.name,
                                    CASE WHEN n.id IS NULL THEN ', and its provider was never told why' ELSE '' END)
      FROM lagbid.ledger_tx x
      JOIN lagbid.ledger_entry e ON e.tx_id = x.id AND e.amount > 0
      JOIN lagbid.account a ON a.id = e.account_id
      LEFT JOIN lagbid.task t ON t.id = x.task_id
      LEFT JOIN lagbid.job j ON j.id = x.job_id AND j.task_id = x.task_id
      LEFT JOIN LATERAL (SELECT n.id FROM lagbid.notification n
                          WHERE n.kind = 'job_slashed' AND n.job_id = x.job_id
                            AND n.recipient_kind = 'provider'
                            AND (n.payload ->> 'amount')::numeric = x.amount
                            AND coalesce(n.payload ->> 'reason', '') <> ''
                            AND coalesce(n.payload ->> 'evidence', '') <> '' LIMIT 1) n ON true
     WHERE x.kind = 'slash'
       AND (a.kind <> 'owner' OR a.name IS DISTINCT FROM t.owner OR j.id IS NULL OR n.id IS NULL)
    UNION ALL
    -- collateral: a slash takes the bond from the account of the job's provider
    SELECT 'slash_from_provider', format('slash %s for job %s debits account %s (%s %s), not provider %s',
                                         x.id, x.job_id, a.id, a.kind, a.name, p.node_id)
      FROM lagbid.ledger_tx x
      JOIN lagbid.ledger_entry e ON e.tx_id = x.id AND e.amount < 0
      JOIN lagbid.account a ON a.id = e.account_id
      LEFT JOIN lagbid.job j ON j.id = x.job_id
      LEFT JOIN lagbid.provider p ON p.id = j.provider_id
     WHERE x.kind = 'slash' AND (a.kind <> 'provider' OR a.name IS DISTINCT FROM p.node_id)
    UNION ALL
    -- reputation: each finished job counted once, in its provider's counts
    SELECT 'provider_counts', format('provider %s counts %s completed, %s agreed, %s disagreed, %s no-show, %s failed, '
                                     '%s slashed; its jobs say %s, %s, %s, %s, %s, %s', p.id, p.jobs_completed,
                                     p.jobs_agreed, p.jobs_disagreed, p.jobs_no_show, p.jobs_failed, p.slashed_total,
                                     coalesce(c.completed, 0), coalesce(c.agreed, 0), coalesce(c.disagreed, 0),
                                     coalesce(c.no_show, 0), coalesce(c.failed, 0), coalesce(c.slashed, 0))
      FROM lagbid.provider p
      LEFT JOIN (SELECT j.provider_id,
                        count(*) FILTER (WHERE j.outcome = 'agreed') AS completed,
                        count(*) FILTER (WHERE j.outcome = 'agreed' AND t.replicas > 1) AS agreed,
                        count(*) FILTER (WHERE j.outcome = 'disagreed') AS disagreed,
                        count(*) FILTER (WHERE j.outcome = 'no_show') AS no_show,
                        count(*) FILTER (WHERE j.outcome = 'failed') AS failed,
                        sum((SELECT sum(x.amount) FROM lagbid.ledger_tx x
                              WHERE x.kind = 'slash' AND x.job_id = j.id)) AS slashed
                   FROM lagbid.job j JOIN lagbid.task t ON t.id = j.task_id
                  GROUP BY j.provider_id) c ON c.provider_id = p.id
     WHERE p.jobs_completed <> coalesce(c.completed, 0) OR p.jobs_agreed <> coalesce(c.agreed, 0)
        OR p.jobs_disagreed <> coalesce(c.disagreed, 0) OR p.jobs_no_show <> coalesce(c.no_show, 0)
        OR p.jobs_failed <> coalesce(c.failed, 0) OR p.slashed_total <> coalesce(c.slashed, 0)
    UNION ALL
    -- reputation: every finished job has its outcome (set once, when it finished), a live job none;
    -- input_unreachable waits only while its task is processing
    SELECT 'job_outcome', format('job %s (%s) of task %s (%s) has outcome %s', j.id, j.state, t.id, t.state,
                                 coalesce(j.outcome, 'none'))
      FROM lagbid.job j JOIN lagbid.task t ON t.id = j.task_id
     WHERE (j.state IN ('processing', 'submitted') AND j.outcome IS NOT NULL)
        OR (j.state IN ('completed', 'failed') AND j.outcome IS NULL)
        OR (j.outcome = 'input_unreachable'
            AND (j.state <> 'failed'
                 OR NOT (t.state = 'processing'
                         -- or gathering extra replicas (allocated once)
                         OR (t.state IN ('accepting_bids', 'bid_closed') AND t.allocated_at IS NOT NULL))))
        OR (j.outcome = 'agreed' AND j.state <> 'completed')
        OR (j.state = 'completed' AND j.outcome NOT IN ('agreed', 'legacy'));
END;
COMMENT ON FUNCTION lagbid.check_invariants() IS
    'one row per broken market rule (money, limits, counters, allocation, election); no row when the market is consistent';
ALTER FUNCTION lagbid.check_invariants() SECURITY DEFINER;
