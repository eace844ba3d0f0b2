-- ---------------------------------------------------------------------------
-- Security: roles, privileges, row-level security, and the PostgREST API.
--
--   lagbid_anon      public market statistics only
--   lagbid_owner     a platform user: its tasks, spaces, the bids on them, its balance
--   lagbid_provider  a computing provider: its bids, jobs, notifications, the tasks open to it
--   lagbid_platform  the operator: every lagbid.* function, read access to every table
--
-- Owners and providers reach lagbid only through schema lagbid_api (what
-- PostgREST exposes: db-schemas = lagbid_api).  Its functions take the
-- caller's identity from request.jwt.claims (lagbid.api_identity, src/api.c)
-- and never from an argument.  Tables are granted to nobody but the
-- platform (read only) and carry row-level security on top.
-- ---------------------------------------------------------------------------

DO $$
DECLARE
    r text;
BEGIN
    FOREACH r IN ARRAY ARRAY['lagbid_anon', 'lagbid_owner', 'lagbid_provider', 'lagbid_platform'] LOOP
        IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = r) THEN
            EXECUTE pg_catalog.format('CREATE ROLE %I NOLOGIN', r);
        END IF;
    END LOOP;
END $$;

-- identity and refusals for the API layer (C, src/api.c)
CREATE FUNCTION lagbid.api_identity(expected_role text) RETURNS text
    LANGUAGE c STABLE
    AS 'MODULE_PATHNAME', 'lagbid_api_identity';
COMMENT ON FUNCTION lagbid.api_identity(text) IS
    'the caller''s identity: its login''s binding, or the sub of request.jwt.claims from one of lagbid.authenticators under exactly the claimed role; refused with LB101/LB105/LB106';

-- who may speak for whom (C, src/api.c; docs/0.3/identity.md)
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

CREATE FUNCTION lagbid.raise(sqlstate text, message text, detail text DEFAULT NULL, hint text DEFAULT NULL)
    RETURNS void
    LANGUAGE c VOLATILE
    AS 'MODULE_PATHNAME', 'lagbid_raise_sql';
COMMENT ON FUNCTION lagbid.raise(text, text, text, text) IS
    'raises one of lagbid''s refusals (see lagbid.error_codes()) from SQL, in PostgREST form under lagbid.api_errors';

-- the calling provider's id, or LB204
CREATE FUNCTION lagbid.api_provider() RETURNS bigint
    LANGUAGE plpgsql STABLE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    node text := lagbid.api_identity('lagbid_provider');
    pid bigint;
BEGIN
    SELECT p.id INTO pid FROM lagbid.provider p WHERE p.node_id = node;
    IF pid IS NULL THEN
        PERFORM lagbid.raise('LB204', 'no provider is registered with this node id',
                             NULL, 'Register first with lagbid_api.register_provider().');
    END IF;
    RETURN pid;
END $$;
COMMENT ON FUNCTION lagbid.api_provider() IS 'the provider id of the calling provider (JWT sub = node id)';

-- the calling holder, for calls open to owners and providers alike: its kind
-- from lagbid.api_role (the login's binding or the claim's role: a bound
-- login sends no claims), its name from lagbid.api_identity (an owner named
-- like a node id stays an owner)
CREATE FUNCTION lagbid.api_holder(OUT kind lagbid.holder_kind, OUT name text)
    LANGUAGE plpgsql STABLE
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    r text := lagbid.api_role();
BEGIN
    kind := CASE WHEN r = 'lagbid_provider' THEN 'provider' ELSE 'owner' END;
    name := lagbid.api_identity(r);
END $$;
COMMENT ON FUNCTION lagbid.api_holder() IS
    'the calling owner or provider as a typed holder (kind, name): what its balance and notifications belong to';

-- the caller's subject (name only: see lagbid.api_holder for its kind)
CREATE FUNCTION lagbid.api_subject() RETURNS text
    LANGUAGE sql STABLE
    SET search_path = pg_catalog, pg_temp
    RETURN (SELECT h.name FROM lagbid.api_holder() h);
COMMENT ON FUNCTION lagbid.api_subject() IS 'the sub of a calling owner or provider';

-- ownership checks: LB201/LB102, LB202/LB203/LB103, LB205/LB104
CREATE FUNCTION lagbid.api_own_task(task_id bigint) RETURNS text
    LANGUAGE plpgsql STABLE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    me text := lagbid.api_identity('lagbid_owner');
    who text;
BEGIN
    SELECT t.owner INTO who FROM lagbid.task t WHERE t.id = api_own_task.task_id;
    IF who IS NULL THEN
        PERFORM lagbid.raise('LB201', format('task %s does not exist', task_id));
    ELSIF who <> me THEN
        PERFORM lagbid.raise('LB102', format('task %s belongs to another owner', task_id));
    END IF;
    RETURN me;
END $$;

CREATE FUNCTION lagbid.api_own_space(space_id bigint) RETURNS text
    LANGUAGE plpgsql STABLE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    me text := lagbid.api_identity('lagbid_owner');
    who text;
BEGIN
    SELECT s.owner INTO who FROM lagbid.space s WHERE s.id = api_own_space.space_id;
    IF who IS NULL THEN
        PERFORM lagbid.raise('LB205', format('space %s does not exist', space_id));
    ELSIF who <> me THEN
        PERFORM lagbid.raise('LB104', format('space %s belongs to another owner', space_id));
    END IF;
    RETURN me;
END $$;

CREATE FUNCTION lagbid.api_own_bid(bid_id bigint) RETURNS void
    LANGUAGE plpgsql STABLE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    me bigint := lagbid.api_provider();
    who bigint;
BEGIN
    SELECT b.provider_id INTO who FROM lagbid.bid b WHERE b.id = api_own_bid.bid_id;
    IF who IS NULL THEN
        PERFORM lagbid.raise('LB202', format('bid %s does not exist', bid_id));
    ELSIF who <> me THEN
        PERFORM lagbid.raise('LB103', format('bid %s was placed by another provider', bid_id));
    END IF;
END $$;

CREATE FUNCTION lagbid.api_own_job(job_id bigint) RETURNS void
    LANGUAGE plpgsql STABLE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    me bigint := lagbid.api_provider();
    who bigint;
BEGIN
    SELECT j.provider_id INTO who FROM lagbid.job j WHERE j.id = api_own_job.job_id;
    IF who IS NULL THEN
        PERFORM lagbid.raise('LB203', format('job %s does not exist', job_id));
    ELSIF who <> me THEN
        PERFORM lagbid.raise('LB103', format('job %s belongs to another provider', job_id));
    END IF;
END $$;

-- ---------------------------------------------------------------------------
-- lagbid_api: calls of a provider
-- ---------------------------------------------------------------------------

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

CREATE FUNCTION lagbid_api.set_bid_limit(max_concurrent integer) RETURNS void
    LANGUAGE sql VOLATILE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp SET lagbid.api_errors = on
    RETURN lagbid.set_bid_limit(lagbid.api_provider(), max_concurrent);
COMMENT ON FUNCTION lagbid_api.set_bid_limit(integer) IS
    'Sets how many bids the calling provider processes at once.';

CREATE FUNCTION lagbid_api.place_bid(task_id bigint, price numeric) RETURNS bigint
    LANGUAGE sql VOLATILE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp SET lagbid.api_errors = on
    RETURN lagbid.place_bid(task_id, lagbid.api_provider(), price);
COMMENT ON FUNCTION lagbid_api.place_bid(bigint, numeric) IS
    'Bids the ask price (per hour) on a task; every market rule is checked at once; sending the same bid again returns the same bid id (the bidder id).';

CREATE FUNCTION lagbid_api.withdraw_bid(bid_id bigint) RETURNS void
    LANGUAGE plpgsql VOLATILE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp SET lagbid.api_errors = on
AS $$
BEGIN
    PERFORM lagbid.api_own_bid(bid_id);
    PERFORM lagbid.withdraw_bid(bid_id);
END $$;
COMMENT ON FUNCTION lagbid_api.withdraw_bid(bigint) IS 'Withdraws one of the caller''s open bids.';

CREATE FUNCTION lagbid_api.submit_result(job_id bigint, result_uri text, result_hash text) RETURNS void
    LANGUAGE plpgsql VOLATILE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp SET lagbid.api_errors = on
AS $$
BEGIN
    PERFORM lagbid.api_own_job(job_id);
    PERFORM lagbid.submit_result(job_id, result_uri, result_hash);
END $$;
COMMENT ON FUNCTION lagbid_api.submit_result(bigint, text, text) IS 'Uploads the result (URI and hash) of one of the caller''s jobs.';

CREATE FUNCTION lagbid_api.fail_job(job_id bigint, reason text) RETURNS void
    LANGUAGE plpgsql VOLATILE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp SET lagbid.api_errors = on
AS $$
BEGIN
    PERFORM lagbid.api_own_job(job_id);
    PERFORM lagbid.fail_job(job_id, reason);
END $$;
COMMENT ON FUNCTION lagbid_api.fail_job(bigint, text) IS 'Gives up one of the caller''s jobs.';

-- one limited index scan per matching region (the provider's region and each
-- of its prefixes) and one for tasks with no region; with task_ids (a push's
-- ids), those tasks by primary key under the same filters.  Terms, the
-- workload's size and digest, never its body (lagbid_api.task_workload).
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

CREATE FUNCTION lagbid_api.my_bids()
    RETURNS TABLE (bid_id bigint, task_id bigint, price numeric, state lagbid.bid_state,
                   placed_at timestamptz, decided_at timestamptz, reason text)
    LANGUAGE sql STABLE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp SET lagbid.api_errors = on
BEGIN ATOMIC
    SELECT b.id, b.task_id, b.price, b.state, b.placed_at, b.decided_at, b.reason
      FROM lagbid.bid b WHERE b.provider_id = lagbid.api_provider() ORDER BY b.id DESC LIMIT 1000;
END;
COMMENT ON FUNCTION lagbid_api.my_bids() IS 'The calling provider''s bids, newest first.';

CREATE FUNCTION lagbid_api.my_jobs()
    RETURNS TABLE (job_id bigint, task_id bigint, bid_id bigint, state lagbid.job_state, price numeric,
                   is_leader boolean, deadline timestamptz, result_uri text, result_hash text, paid numeric,
                   workload_bytes integer, workload_sha256 text, resources jsonb, duration_hours numeric)
    LANGUAGE sql STABLE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp SET lagbid.api_errors = on
BEGIN ATOMIC
    SELECT j.id, j.task_id, j.bid_id, j.state, j.price, j.is_leader, j.deadline, j.result_uri,
           j.result_hash, j.paid, t.workload_bytes, t.workload_sha256, t.resources, t.duration_hours
      FROM lagbid.job j JOIN lagbid.task t ON t.id = j.task_id
     WHERE j.provider_id = lagbid.api_provider() ORDER BY j.id DESC LIMIT 1000;
END;
COMMENT ON FUNCTION lagbid_api.my_jobs() IS 'The calling provider''s jobs, newest first, with what each runs: the size and SHA-256 of its workload (the body: lagbid_api.task_workload), resources, duration_hours.';

-- ---------------------------------------------------------------------------
-- lagbid_api: calls of an owner
-- ---------------------------------------------------------------------------

CREATE FUNCTION lagbid_api.publish_task(
    resources jsonb, price_min numeric, price_max numeric, duration_hours numeric,
    region text DEFAULT NULL, bid_limit integer DEFAULT 10, replicas integer DEFAULT 1,
    bidding_window interval DEFAULT '10 minutes', auto_allocate boolean DEFAULT true,
    open boolean DEFAULT true, workload jsonb DEFAULT NULL, collateral_ratio numeric DEFAULT NULL,
    min_reputation numeric DEFAULT NULL, allocation text DEFAULT NULL, kind text DEFAULT 'batch')
    RETURNS bigint LANGUAGE sql VOLATILE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp SET lagbid.api_errors = on
    RETURN lagbid.publish_task(lagbid.api_identity('lagbid_owner'), resources, price_min, price_max,
                               duration_hours, region, bid_limit, replicas, bidding_window,
                               auto_allocate, open, workload, collateral_ratio => collateral_ratio,
                               min_reputation => min_reputation, allocation => allocation,
                               kind => kind);
COMMENT ON FUNCTION lagbid_api.publish_task(jsonb, numeric, numeric, numeric, text, integer, integer, interval, boolean, boolean, jsonb, numeric, numeric, text, text) IS
    'Publishes a task of the caller, with the workload it runs: escrows price_max x duration_hours x replicas from its balance and opens bidding. Each bid locks collateral_ratio x ask x duration_hours of its provider''s balance as its bond; only providers scoring at least min_reputation may bid; allocation is lowest_ask (default) or reliability; kind => ''service'' runs the workload''s app behind a lease. Returns the task id.';

CREATE FUNCTION lagbid_api.open_bidding(task_id bigint) RETURNS void
    LANGUAGE plpgsql VOLATILE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp SET lagbid.api_errors = on
AS $$
BEGIN
    PERFORM lagbid.api_own_task(task_id);
    PERFORM lagbid.open_bidding(task_id);
END $$;
COMMENT ON FUNCTION lagbid_api.open_bidding(bigint) IS 'Opens (or reopens) bidding on one of the caller''s tasks.';

CREATE FUNCTION lagbid_api.close_bidding(task_id bigint) RETURNS void
    LANGUAGE plpgsql VOLATILE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp SET lagbid.api_errors = on
AS $$
BEGIN
    PERFORM lagbid.api_own_task(task_id);
    PERFORM lagbid.close_bidding(task_id);
END $$;
COMMENT ON FUNCTION lagbid_api.close_bidding(bigint) IS 'Closes bidding on one of the caller''s tasks.';

CREATE FUNCTION lagbid_api.allocate(task_id bigint, bid_ids bigint[] DEFAULT NULL) RETURNS SETOF bigint
    LANGUAGE plpgsql VOLATILE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp SET lagbid.api_errors = on
AS $$
BEGIN
    PERFORM lagbid.api_own_task(task_id);
    RETURN QUERY SELECT lagbid.allocate(task_id, bid_ids);
END $$;
COMMENT ON FUNCTION lagbid_api.allocate(bigint, bigint[]) IS
    'Allocates bidders of one of the caller''s tasks (the given bids, or the best ones). Returns the job ids.';

CREATE FUNCTION lagbid_api.cancel_task(task_id bigint, reason text DEFAULT NULL) RETURNS void
    LANGUAGE plpgsql VOLATILE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp SET lagbid.api_errors = on
AS $$
BEGIN
    PERFORM lagbid.api_own_task(task_id);
    PERFORM lagbid.cancel_task(task_id, reason);
END $$;
COMMENT ON FUNCTION lagbid_api.cancel_task(bigint, text) IS 'Cancels one of the caller''s tasks before processing; refunds it.';

CREATE FUNCTION lagbid_api.finalize(task_id bigint) RETURNS bigint
    LANGUAGE plpgsql VOLATILE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp SET lagbid.api_errors = on
AS $$
BEGIN
    PERFORM lagbid.api_own_task(task_id);
    RETURN lagbid.finalize(task_id);
END $$;
COMMENT ON FUNCTION lagbid_api.finalize(bigint) IS
    'Elects the leading node of one of the caller''s tasks (a strict majority of replicas) and pays; returns the leader job id, or NULL when the task failed (no valid result, no_consensus) or gathers extra replicas for lack of a majority.';

CREATE FUNCTION lagbid_api.my_tasks()
    RETURNS TABLE (task_id bigint, state lagbid.task_state, price_min numeric, price_max numeric,
                   duration_hours numeric, bid_limit integer, replicas integer, bid_count integer,
                   space_id bigint, leader_job_id bigint, created_at timestamptz, reason text)
    LANGUAGE sql STABLE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp SET lagbid.api_errors = on
BEGIN ATOMIC
    SELECT t.id, t.state, t.price_min, t.price_max, t.duration_hours, t.bid_limit, t.replicas,
           t.bid_count, t.space_id, t.leader_job_id, t.created_at, t.reason
      FROM lagbid.task t WHERE t.owner = lagbid.api_identity('lagbid_owner') ORDER BY t.id DESC LIMIT 1000;
END;
COMMENT ON FUNCTION lagbid_api.my_tasks() IS 'The caller''s tasks, newest first.';

CREATE FUNCTION lagbid_api.task_bids(task_id bigint)
    RETURNS TABLE (bid_id bigint, provider_id bigint, node_id text, price numeric,
                   state lagbid.bid_state, placed_at timestamptz)
    LANGUAGE plpgsql STABLE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp SET lagbid.api_errors = on
AS $$
BEGIN
    PERFORM lagbid.api_own_task(task_id);
    RETURN QUERY
    SELECT b.id, b.provider_id, p.node_id, b.price, b.state, b.placed_at
      FROM lagbid.bid b JOIN lagbid.provider p ON p.id = b.provider_id
     WHERE b.task_id = task_bids.task_id ORDER BY b.price, b.placed_at, b.id;
END $$;
COMMENT ON FUNCTION lagbid_api.task_bids(bigint) IS 'The bids on one of the caller''s tasks, best first (only the task''s owner sees the asks).';

CREATE FUNCTION lagbid_api.create_space(name text, resources jsonb, price_min numeric, price_max numeric,
                                        hours numeric, region text DEFAULT NULL, replicas integer DEFAULT 1,
                                        workload jsonb DEFAULT NULL, collateral_ratio numeric DEFAULT NULL,
                                        kind text DEFAULT 'batch')
    RETURNS bigint LANGUAGE sql VOLATILE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp SET lagbid.api_errors = on
    RETURN lagbid.create_space(lagbid.api_identity('lagbid_owner'), name, resources, price_min,
                               price_max, hours, region, replicas, workload,
                               collateral_ratio => collateral_ratio, kind => kind);
COMMENT ON FUNCTION lagbid_api.create_space(text, jsonb, numeric, numeric, numeric, text, integer, jsonb, numeric, text) IS
    'Creates a space of the caller (with the workload its tasks run, and the collateral_ratio each of its bids stakes) and pays for its reserved hours; the next tick publishes it; kind => ''service'' runs its app behind a lease. Returns the space id.';

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

CREATE FUNCTION lagbid_api.extend_space(space_id bigint, hours numeric) RETURNS void
    LANGUAGE plpgsql VOLATILE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp SET lagbid.api_errors = on
AS $$
BEGIN
    PERFORM lagbid.api_own_space(space_id);
    PERFORM lagbid.extend_space(space_id, hours);
END $$;
COMMENT ON FUNCTION lagbid_api.extend_space(bigint, numeric) IS 'Pays for more reserved hours of one of the caller''s spaces.';

CREATE FUNCTION lagbid_api.trigger_space(space_id bigint) RETURNS bigint
    LANGUAGE plpgsql VOLATILE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp SET lagbid.api_errors = on
AS $$
BEGIN
    PERFORM lagbid.api_own_space(space_id);
    RETURN lagbid.trigger_space(space_id);
END $$;
COMMENT ON FUNCTION lagbid_api.trigger_space(bigint) IS 'Publishes one of the caller''s spaces now; returns the task id.';

CREATE FUNCTION lagbid_api.my_spaces()
    RETURNS TABLE (space_id bigint, name text, state lagbid.space_state, version integer,
                   price_min numeric, price_max numeric, replicas integer, reserved_until timestamptz,
                   current_task_id bigint)
    LANGUAGE sql STABLE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp SET lagbid.api_errors = on
BEGIN ATOMIC
    SELECT s.id, s.name, s.state, s.version, s.price_min, s.price_max, s.replicas, s.reserved_until,
           s.current_task_id
      FROM lagbid.space s WHERE s.owner = lagbid.api_identity('lagbid_owner') ORDER BY s.id;
END;
COMMENT ON FUNCTION lagbid_api.my_spaces() IS 'The caller''s spaces.';

-- ---------------------------------------------------------------------------
-- lagbid_api: for owners and providers alike, and for everybody
-- ---------------------------------------------------------------------------

CREATE FUNCTION lagbid_api.balance() RETURNS numeric
    LANGUAGE sql STABLE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp SET lagbid.api_errors = on
    RETURN (SELECT lagbid.balance(h.name, h.kind) FROM lagbid.api_holder() h);
COMMENT ON FUNCTION lagbid_api.balance() IS 'The caller''s balance.';

CREATE FUNCTION lagbid_api.notifications(pending_only boolean DEFAULT true, max_rows integer DEFAULT 100)
    RETURNS TABLE (id bigint, kind text, task_id bigint, bid_id bigint, job_id bigint,
                   payload jsonb, created_at timestamptz, acked_at timestamptz)
    LANGUAGE plpgsql STABLE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp SET lagbid.api_errors = on
AS $$
DECLARE
    -- the caller first: a refused identity is refused even with no rows
    me record := lagbid.api_holder();
BEGIN
    RETURN QUERY
    SELECT n.id, n.kind, n.task_id, n.bid_id, n.job_id, n.payload, n.created_at, n.acked_at
      FROM lagbid.notification n
     WHERE n.recipient_kind = me.kind AND n.recipient = me.name
       AND (n.acked_at IS NULL OR NOT coalesce(pending_only, true))
     ORDER BY n.id
     LIMIT least(greatest(coalesce(max_rows, 100), 1), 1000);
END $$;
COMMENT ON FUNCTION lagbid_api.notifications(boolean, integer) IS
    'The caller''s notifications (bid won or lost, task cancelled, job paid, ...), oldest first; pending ones by default.';

CREATE FUNCTION lagbid_api.acknowledge(ids bigint[]) RETURNS integer
    LANGUAGE plpgsql VOLATILE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp SET lagbid.api_errors = on
AS $$
DECLARE
    me lagbid.holder_kind;
    my_name text;
    n integer;
BEGIN
    SELECT h.kind, h.name INTO me, my_name FROM lagbid.api_holder() h;
    IF ids IS NULL OR cardinality(ids) > 1000 THEN
        PERFORM lagbid.raise('LB001', 'ids must be an array of at most 1000 notification ids');
    END IF;
    UPDATE lagbid.notification SET acked_at = clock_timestamp()
     WHERE id = ANY (ids) AND recipient_kind = me AND recipient = my_name AND acked_at IS NULL;
    GET DIAGNOSTICS n = ROW_COUNT;
    RETURN n;
END $$;
COMMENT ON FUNCTION lagbid_api.acknowledge(bigint[]) IS 'Marks the caller''s notifications as read; returns how many.';

CREATE FUNCTION lagbid_api.market_stats()
    RETURNS TABLE (open_tasks bigint, active_providers bigint, tasks_completed bigint,
                   median_open_price_max numeric)
    LANGUAGE sql STABLE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
BEGIN ATOMIC
    SELECT (SELECT count(*) FROM lagbid.task WHERE state = 'accepting_bids'),
           (SELECT count(*) FROM lagbid.provider WHERE state = 'active'),
           (SELECT count(*) FROM lagbid.task WHERE state = 'completed'),
           (SELECT percentile_disc(0.5) WITHIN GROUP (ORDER BY price_max) FROM lagbid.task
             WHERE state = 'accepting_bids');
END;
COMMENT ON FUNCTION lagbid_api.market_stats() IS 'Public market statistics: open tasks, active providers, completed tasks, the median price_max of open tasks.';

-- ---------------------------------------------------------------------------
-- The market functions run as the extension's owner with a pinned
-- search_path, so that the platform needs no write privilege on any table.
-- ---------------------------------------------------------------------------

ALTER FUNCTION lagbid.register_provider(text, text[], text, jsonb, integer, text, text, bytea) SECURITY DEFINER SET search_path = pg_catalog, pg_temp;
ALTER FUNCTION lagbid.registration_challenge(text, text[]) SECURITY DEFINER SET search_path = pg_catalog, pg_temp;
ALTER FUNCTION lagbid.set_bid_limit(bigint, integer) SECURITY DEFINER SET search_path = pg_catalog, pg_temp;
ALTER FUNCTION lagbid.set_provider_state(bigint, text) SECURITY DEFINER SET search_path = pg_catalog, pg_temp;
ALTER FUNCTION lagbid.publish_task(text, jsonb, numeric, numeric, numeric, text, integer, integer, interval, boolean, boolean, jsonb, numeric, numeric, text, text) SECURITY DEFINER SET search_path = pg_catalog, pg_temp;
ALTER FUNCTION lagbid.open_bidding(bigint) SECURITY DEFINER SET search_path = pg_catalog, pg_temp;
ALTER FUNCTION lagbid.close_bidding(bigint) SECURITY DEFINER SET search_path = pg_catalog, pg_temp;
ALTER FUNCTION lagbid.cancel_task(bigint, text) SECURITY DEFINER SET search_path = pg_catalog, pg_temp;
ALTER FUNCTION lagbid.place_bid(bigint, bigint, numeric) SECURITY DEFINER SET search_path = pg_catalog, pg_temp;
ALTER FUNCTION lagbid.withdraw_bid(bigint) SECURITY DEFINER SET search_path = pg_catalog, pg_temp;
ALTER FUNCTION lagbid.allocate(bigint, bigint[]) SECURITY DEFINER SET search_path = pg_catalog, pg_temp;
ALTER FUNCTION lagbid.submit_result(bigint, text, text) SECURITY DEFINER SET search_path = pg_catalog, pg_temp;
ALTER FUNCTION lagbid.fail_job(bigint, text) SECURITY DEFINER SET search_path = pg_catalog, pg_temp;
ALTER FUNCTION lagbid.finalize(bigint) SECURITY DEFINER SET search_path = pg_catalog, pg_temp;
ALTER FUNCTION lagbid.create_space(text, text, jsonb, numeric, numeric, numeric, text, integer, jsonb, numeric, text) SECURITY DEFINER SET search_path = pg_catalog, pg_temp;
ALTER FUNCTION lagbid.update_space(bigint, jsonb, numeric, numeric, text, jsonb, numeric) SECURITY DEFINER SET search_path = pg_catalog, pg_temp;
ALTER FUNCTION lagbid.extend_space(bigint, numeric) SECURITY DEFINER SET search_path = pg_catalog, pg_temp;
ALTER FUNCTION lagbid.trigger_space(bigint) SECURITY DEFINER SET search_path = pg_catalog, pg_temp;
ALTER FUNCTION lagbid.deposit(text, numeric, text, lagbid.holder_kind) SECURITY DEFINER SET search_path = pg_catalog, pg_temp;
ALTER FUNCTION lagbid.balance(text, lagbid.holder_kind) SECURITY DEFINER SET search_path = pg_catalog, pg_temp;
ALTER FUNCTION lagbid.tick() SECURITY DEFINER SET search_path = pg_catalog, pg_temp;
ALTER FUNCTION lagbid.check_invariants() SECURITY DEFINER;

-- ---------------------------------------------------------------------------
-- Privileges: nothing to PUBLIC; each role exactly its calls
-- ---------------------------------------------------------------------------

REVOKE ALL ON ALL FUNCTIONS IN SCHEMA lagbid FROM PUBLIC;
REVOKE ALL ON ALL FUNCTIONS IN SCHEMA lagbid_api FROM PUBLIC;
REVOKE ALL ON ALL TABLES IN SCHEMA lagbid FROM PUBLIC;

GRANT USAGE ON SCHEMA lagbid_api TO lagbid_anon, lagbid_owner, lagbid_provider, lagbid_platform;
GRANT EXECUTE ON FUNCTION lagbid_api.market_stats() TO lagbid_anon, lagbid_owner, lagbid_provider, lagbid_platform;
GRANT EXECUTE ON FUNCTION
    lagbid_api.register_provider(text[], text, jsonb, integer, bytea, text),
    lagbid_api.registration_challenge(text[], text),
    lagbid_api.set_bid_limit(integer),
    lagbid_api.place_bid(bigint, numeric),
    lagbid_api.withdraw_bid(bigint),
    lagbid_api.submit_result(bigint, text, text),
    lagbid_api.fail_job(bigint, text),
    lagbid_api.open_tasks(integer, bigint[]),
    lagbid_api.my_bids(),
    lagbid_api.my_jobs()
    TO lagbid_provider;
GRANT EXECUTE ON FUNCTION
    lagbid_api.publish_task(jsonb, numeric, numeric, numeric, text, integer, integer, interval, boolean, boolean, jsonb, numeric, numeric, text, text),
    lagbid_api.open_bidding(bigint),
    lagbid_api.close_bidding(bigint),
    lagbid_api.allocate(bigint, bigint[]),
    lagbid_api.cancel_task(bigint, text),
    lagbid_api.finalize(bigint),
    lagbid_api.my_tasks(),
    lagbid_api.task_bids(bigint),
    lagbid_api.create_space(text, jsonb, numeric, numeric, numeric, text, integer, jsonb, numeric, text),
    lagbid_api.update_space(bigint, jsonb, numeric, numeric, text, jsonb, numeric),
    lagbid_api.extend_space(bigint, numeric),
    lagbid_api.trigger_space(bigint),
    lagbid_api.my_spaces()
    TO lagbid_owner;
GRANT EXECUTE ON FUNCTION lagbid_api.balance(), lagbid_api.notifications(boolean, integer),
    lagbid_api.acknowledge(bigint[])
    TO lagbid_owner, lagbid_provider;

-- the platform: every market function, read access to every table
GRANT USAGE ON SCHEMA lagbid TO lagbid_platform;
GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA lagbid TO lagbid_platform;
GRANT SELECT ON ALL TABLES IN SCHEMA lagbid TO lagbid_platform;

-- row-level security: even a table granted by mistake shows nothing but to the platform
DO $$
DECLARE
    t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['account', 'ledger_tx', 'ledger_entry', 'provider', 'space', 'task',
                             'bid', 'job', 'event', 'notification'] LOOP
        EXECUTE pg_catalog.format('ALTER TABLE lagbid.%I ENABLE ROW LEVEL SECURITY', t);
        EXECUTE pg_catalog.format('CREATE POLICY platform_reads ON lagbid.%I FOR SELECT TO lagbid_platform USING (true)', t);
    END LOOP;
END $$;
