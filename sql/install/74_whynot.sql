-- ---------------------------------------------------------------------------
-- Why not? (issue 13, item 6)
--
-- Providers' first question is "why do I receive no tasks?".  lagbid.why_not
-- answers it for one provider and one task: one row per market rule that
-- stops the provider from bidding now, none when place_bid would accept a
-- bid at any price in the task's range.  It reads the same columns that
-- place_bid (src/bids.c) and rule 1 (src/slots.c) check, and a test
-- (sql/whynot.sql) tries place_bid at price_min for many random pairs to
-- prove that the two agree.
--
-- A provider must not learn what it may not see: a task that was never open
-- to bids (or does not exist) is one row, task_not_found; a task that was
-- open (so its terms were public) says its state; nothing ever names another
-- provider or shows another provider's ask.
--
-- lagbid.eligible_providers answers the owner's question: how many active
-- providers could bid on the task at all (region and resources), and how
-- many of them have a free slot now.
-- ---------------------------------------------------------------------------

CREATE FUNCTION lagbid.why_not(task_id bigint, provider_id bigint)
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

-- the API: the caller's provider, the caller's task

CREATE FUNCTION lagbid_api.why_not(task_id bigint)
    RETURNS TABLE (rule text, detail text)
    LANGUAGE sql STABLE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp SET lagbid.api_errors = on
BEGIN ATOMIC
    SELECT w.rule, w.detail
      FROM lagbid.why_not(why_not.task_id, lagbid.api_provider()) WITH ORDINALITY AS w(rule, detail, n)
     ORDER BY w.n;
END;
COMMENT ON FUNCTION lagbid_api.why_not(bigint) IS
    'Why the calling provider may not bid on a task now: one row (rule, detail) per rule that stops it, none when it may bid any price in the task''s range. Never shows other providers or their asks.';

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

REVOKE ALL ON FUNCTION lagbid.why_not(bigint, bigint), lagbid.eligible_providers(bigint),
    lagbid_api.why_not(bigint), lagbid_api.eligible_providers(bigint) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION lagbid.why_not(bigint, bigint), lagbid.eligible_providers(bigint) TO lagbid_platform;
GRANT EXECUTE ON FUNCTION lagbid_api.why_not(bigint) TO lagbid_provider;
GRANT EXECUTE ON FUNCTION lagbid_api.eligible_providers(bigint) TO lagbid_owner;
