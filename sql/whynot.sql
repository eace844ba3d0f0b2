-- Why not? lagbid.why_not / lagbid_api.why_not (one row per rule that stops
-- a provider from bidding) and eligible_providers (the owner's count), then
-- the proof that why_not agrees with place_bid: for many random
-- provider/task pairs, why_not is empty exactly when place_bid at the
-- task's price_min places a new bid.
SELECT fresh_market();
SET lagbid.clock = '2030-01-01 00:00:00+00';
-- this session plays PostgREST's login: claims are trusted only from lagbid.authenticators
DO $$ BEGIN PERFORM set_config('lagbid.authenticators', 'authenticator, ' || quote_ident(session_user), false); END $$;
SELECT lagbid.deposit('alice', 100000, 'whynot-1');
SELECT cp(1, 'eu-west', max_concurrent => 1) AS p1,                       -- matches task 1
       cp(2, 'us-east', '{"cpu": 1, "memory_gb": 2}') AS p2,              -- wrong region, small
       cp(3, 'eu', '{"cpu": 8, "memory_gb": 32, "storage_gb": 10, "gpu": "A100", "gpu_count": 1}') AS p3,
       cp(4, 'europe') AS p4;                                             -- "eu" is not a prefix
-- task 1: region eu, 4 cpus, 16 GB, 2..10 per hour
SELECT lagbid.publish_task('alice', '{"cpu": 4, "memory_gb": 16}', 2, 10, 2, region => 'eu',
                           bid_limit => 3, auto_allocate => false) AS t1;
-- task 2: two a100s (case does not matter), 100 GB of storage, any region
SELECT lagbid.publish_task('alice', '{"gpu": "a100", "gpu_count": 2, "storage_gb": 100}', 2, 10, 2) AS t2;
-- task 3: created, never opened (as unknown to providers as task 99)
SELECT lagbid.publish_task('alice', '{}', 2, 10, 2, open => false) AS t3;

-- p1 may bid on task 1: no row
SELECT * FROM lagbid.why_not(1, 1);
-- every rule p2 breaks, in the market's order
SELECT * FROM lagbid.why_not(1, 2);
SELECT * FROM lagbid.why_not(1, 4);
-- gpu model and count, storage
SELECT * FROM lagbid.why_not(2, 3);
SELECT * FROM lagbid.why_not(2, 1);
-- unknown and never-opened tasks look the same
SELECT * FROM lagbid.why_not(99, 1);
SELECT * FROM lagbid.why_not(3, 1);
-- already bid, and its only slot is taken
SELECT lagbid.place_bid(1, 1, 5);
SELECT * FROM lagbid.why_not(1, 1);
-- a suspended provider
SELECT lagbid.set_provider_state(3, 'suspended');
SELECT * FROM lagbid.why_not(1, 3);
SELECT lagbid.set_provider_state(3, 'active');
-- the window has passed (the tick has not closed the task yet)
SET lagbid.clock = '2030-01-01 00:10:00+00';
SELECT * FROM lagbid.why_not(1, 3);
SET lagbid.clock = '2030-01-01 00:00:00+00';
-- a closed task says its state (its terms were public while it was open)
SELECT lagbid.close_bidding(1);
SELECT * FROM lagbid.why_not(1, 3);
-- bad arguments
SELECT try('SELECT * FROM lagbid.why_not(NULL, 1)');
SELECT try('SELECT * FROM lagbid.why_not(1, 99)');

-- eligible_providers: p1 (slot full since its bid) and p3 match task 1;
-- p3 alone has the gpu for task 2 but only one; nothing is asked of task 3
SELECT * FROM lagbid.eligible_providers(1);
SELECT * FROM lagbid.eligible_providers(2);
SELECT * FROM lagbid.eligible_providers(3);
SELECT try('SELECT * FROM lagbid.eligible_providers(99)');
SELECT try('SELECT * FROM lagbid.eligible_providers(NULL)');

-- through the API, as PostgREST calls it: the claim's role and sub
SELECT json_build_object('role', 'lagbid_provider', 'sub', node(2)) AS claims \gset
BEGIN;
SET LOCAL ROLE lagbid_provider;
SELECT set_config('request.jwt.claims', :'claims', true) IS NOT NULL;
SELECT * FROM lagbid_api.why_not(2);
SELECT try('SELECT * FROM lagbid_api.eligible_providers(2)');
ROLLBACK;
BEGIN;
SET LOCAL ROLE lagbid_owner;
SELECT set_config('request.jwt.claims', '{"role": "lagbid_owner", "sub": "alice"}', true) IS NOT NULL;
SELECT * FROM lagbid_api.eligible_providers(2);
SELECT try('SELECT * FROM lagbid_api.why_not(2)');
ROLLBACK;

-- ---------------------------------------------------------------------------
-- Agreement with place_bid.  A random market: 40 providers (regions, sizes,
-- limits, some suspended), 30 tasks (regions, needs, some never opened,
-- closed, cancelled, allocated or past their window), random bids.  Then
-- for 600 random pairs: why_not is empty exactly when place_bid at
-- price_min (in a subtransaction, always rolled back) places a new bid.
-- ---------------------------------------------------------------------------
SELECT fresh_market();
SELECT setseed(0.13);
SELECT lagbid.deposit('alice', 10000000, 'whynot-r');
SELECT count(cp(n, (ARRAY['eu', 'eu-west', 'eu-west-1', 'us', 'us-east', 'europe'])[1 + floor(random() * 6)::int],
                jsonb_strip_nulls(jsonb_build_object(
                    'cpu', 2 + floor(random() * 7), 'memory_gb', 8 + floor(random() * 25),
                    'storage_gb', 50 + floor(random() * 150),
                    'gpu', (ARRAY['A100', 'h100', NULL])[1 + floor(random() * 3)::int],
                    'gpu_count', floor(random() * 3))),
                1 + floor(random() * 3)::int))
  FROM generate_series(1, 40) AS n;
SELECT count(lagbid.set_provider_state(id, 'suspended')) FROM lagbid.provider WHERE random() < 0.15;

-- publish_random(n): task n, with random needs, region, limit and allocation;
-- every seventh is never opened
CREATE FUNCTION pg_temp.publish_random(n int) RETURNS bigint LANGUAGE sql
    RETURN lagbid.publish_task('alice', jsonb_strip_nulls(jsonb_build_object(
                    'cpu', floor(random() * 4), 'memory_gb', floor(random() * 16),
                    'storage_gb', floor(random() * 80),
                    'gpu', (ARRAY['a100', 'H100', NULL, NULL, NULL, NULL])[1 + floor(random() * 6)::int],
                    'gpu_count', floor(random() * 2))),
                2, 10, 1,
                region => (ARRAY['eu', 'eu-west', 'us', NULL])[1 + floor(random() * 4)::int],
                bid_limit => 3 + floor(random() * 3)::int, auto_allocate => random() < 0.5,
                open => n % 7 <> 0);
-- tasks 1..10 are published an hour earlier, with a 10-minute window: past it now
SET lagbid.clock = '2029-12-31 23:00:00+00';
SELECT count(pg_temp.publish_random(n)) FROM generate_series(1, 10) AS n;
SET lagbid.clock = '2030-01-01 00:00:00+00';
SELECT count(pg_temp.publish_random(n)) FROM generate_series(11, 30) AS n;

-- random bids where the market accepts them (refusals are swallowed)
CREATE FUNCTION pg_temp.try_bid(t bigint, p bigint, price numeric) RETURNS boolean
    LANGUAGE plpgsql AS $$
BEGIN
    PERFORM lagbid.place_bid(t, p, price);
    RETURN true;
EXCEPTION WHEN OTHERS THEN
    RETURN false;
END $$;
SELECT count(*) FILTER (WHERE pg_temp.try_bid(t, p, 2 + floor(random() * 9)::numeric)) > 0 AS some_bids
  FROM (SELECT 1 + floor(random() * 30)::bigint AS t, 1 + floor(random() * 40)::bigint AS p
          FROM generate_series(1, 300)) s;
-- some tasks leave bidding: closed by their owner, cancelled
SELECT count(lagbid.close_bidding(id)) FROM lagbid.task
 WHERE state = 'accepting_bids' AND id % 5 = 0 AND bid_count > 0 AND bidding_deadline > lagbid.now();
SELECT count(lagbid.cancel_task(id)) FROM lagbid.task WHERE state = 'accepting_bids' AND id % 11 = 0;

-- attempt(t, p): does place_bid at price_min place a new bid?  Always undone.
CREATE FUNCTION pg_temp.attempt(t bigint, p bigint) RETURNS text
    LANGUAGE plpgsql AS $$
DECLARE
    before bigint := (SELECT coalesce(max(id), 0) FROM lagbid.bid);
    got bigint;
BEGIN
    BEGIN
        got := lagbid.place_bid(t, p, coalesce((SELECT price_min FROM lagbid.task WHERE id = t), 1));
        RAISE EXCEPTION USING ERRCODE = 'LBOK0', MESSAGE = CASE WHEN got > before THEN 'new' ELSE 'retry' END;
    EXCEPTION WHEN OTHERS THEN
        IF SQLSTATE = 'LBOK0' THEN
            RETURN SQLERRM;
        END IF;
        RETURN SQLSTATE;
    END;
END $$;

CREATE TEMP TABLE pairs AS
SELECT k, 1 + floor(random() * 32)::bigint AS t, 1 + floor(random() * 40)::bigint AS p
  FROM generate_series(1, 600) AS k;
CREATE TEMP TABLE verdicts AS
SELECT k, t, p,
       (SELECT coalesce(string_agg(w.rule, ',' ORDER BY w.n), '')
          FROM lagbid.why_not(t, p) WITH ORDINALITY AS w(rule, detail, n)) AS why,
       pg_temp.attempt(t, p) AS outcome
  FROM pairs ORDER BY k;
-- the market state is what it was: every attempt was undone
SELECT * FROM lagbid.check_invariants();
-- the two agree on every pair: no row
SELECT k, t, p, why, outcome FROM verdicts WHERE (why = '') <> (outcome = 'new');
-- how often each answer came up (every rule is exercised)
SELECT outcome, count(*) FROM verdicts GROUP BY outcome ORDER BY outcome;
SELECT w.rule, count(*)
  FROM verdicts, LATERAL unnest(string_to_array(nullif(why, ''), ',')) AS w(rule)
 GROUP BY w.rule ORDER BY w.rule;
-- eligible_providers agrees with why_not's rule-4 rows, pair by pair
SELECT count(*) AS disagreements FROM lagbid.task t,
       LATERAL lagbid.eligible_providers(t.id) e
 WHERE t.opened_at IS NOT NULL
   AND (e.matching_providers <> (
        SELECT count(*) FROM lagbid.provider p
         WHERE NOT EXISTS (SELECT 1 FROM lagbid.why_not(t.id, p.id) w
                            WHERE w.rule IN ('task_not_found', 'provider_inactive', 'region_mismatch',
                                             'cpu', 'memory_gb', 'storage_gb', 'gpu', 'gpu_count')))
    OR e.with_free_slot <> (
        SELECT count(*) FROM lagbid.provider p
         WHERE NOT EXISTS (SELECT 1 FROM lagbid.why_not(t.id, p.id) w
                            WHERE w.rule IN ('task_not_found', 'provider_inactive', 'region_mismatch',
                                             'cpu', 'memory_gb', 'storage_gb', 'gpu', 'gpu_count',
                                             'slots_full'))));
RESET lagbid.clock;
