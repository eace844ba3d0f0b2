-- Money rounds in the payer's favour (issue 16): a property test over
-- thousands of random cases (setseed: the same cases every run).  Prices,
-- asks and hours carry 27 decimals; replicas 1..5.  Each space is created,
-- published, bid on, finalized or cancelled, repriced, extended and ticked;
-- each direct task is published, bid on and finalized or cancelled.  At
-- the end the clock runs 400 days on and the tick winds everything down.
-- 1,500 cases (800 spaces, 700 direct tasks; about 5,000 random asks), one
-- transaction each.  Only aggregate booleans are printed.
SELECT fresh_market();
SET lagbid.clock = '2030-01-01 00:00:00+00';
SELECT setseed(0.16);
SELECT count(cp(n, 'eu', '{}', 1000)) AS providers FROM generate_series(1, 8) AS n;
-- providers fund their collateral (issue 20): half the cases stake a bond
-- of collateral_ratio (0..2, 27 decimals) x ask x hours on every bid
SELECT count(lagbid.deposit(node(n), 1000000000, 'cp-' || n, holder_kind => 'provider'))
  FROM generate_series(1, 8) AS n;

-- a random numeric in [lo, hi) with 27 decimals of randomness
CREATE FUNCTION public.rnd(lo numeric, hi numeric) RETURNS numeric LANGUAGE sql VOLATILE
    RETURN lo + (hi - lo) * ('0.' || lpad(floor(random() * 1e15)::bigint::text, 15, '0')
                                  || lpad(floor(random() * 1e12)::bigint::text, 12, '0'))::numeric;
CREATE TABLE public.rounding_error (case_no int, step text, sqlstate text, message text);
CREATE TABLE public.rounding_tick (case_no int, result jsonb);

-- run one statement of case n; an error is recorded, never raised
CREATE FUNCTION public.step(n int, what text, q text) RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE
    r bigint;
BEGIN
    EXECUTE q INTO r;
    RETURN r;
EXCEPTION WHEN OTHERS THEN
    INSERT INTO public.rounding_error VALUES (n, what, SQLSTATE, SQLERRM);
    RETURN NULL;
END $$;

-- a task through bids from `reps` providers (random asks), then finalized
-- (or, one case in four, cancelled while bidding).  Providers that hold a bid
-- on it already are passed over: an election without a majority (a replica
-- failed) makes the task gather extra replicas (0.4), which run the same way.
CREATE FUNCTION public.run_task(n int, tid bigint, reps int) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    t record;
    k bigint;
    j record;
BEGIN
    SELECT * INTO t FROM lagbid.task WHERE id = tid;
    IF random() < 0.25 THEN
        PERFORM public.step(n, 'cancel_task', format('SELECT 0 FROM lagbid.cancel_task(%s)', tid));
        RETURN;
    END IF;
    FOR k IN SELECT p.id FROM lagbid.provider p
              WHERE NOT EXISTS (SELECT 1 FROM lagbid.bid b WHERE b.task_id = tid AND b.provider_id = p.id)
              ORDER BY p.id LIMIT reps LOOP
        PERFORM public.step(n, 'place_bid', format('SELECT lagbid.place_bid(%s, %s, %s)', tid, k,
                                                   public.rnd(t.price_min, t.price_max)));
    END LOOP;
    IF (SELECT state FROM lagbid.task WHERE id = tid) = 'accepting_bids' THEN
        PERFORM public.step(n, 'close_bidding', format('SELECT 0 FROM lagbid.close_bidding(%s)', tid));
    END IF;
    IF NOT t.auto_allocate AND t.allocated_at IS NULL THEN
        PERFORM public.step(n, 'allocate', format('SELECT count(*) FROM lagbid.allocate(%s)', tid));
    END IF;
    FOR j IN SELECT id FROM lagbid.job WHERE task_id = tid AND state = 'processing' ORDER BY id LOOP
        -- one replica in five fails its job
        IF random() < 0.2 THEN
            PERFORM public.step(n, 'fail_job', format('SELECT 0 FROM lagbid.fail_job(%s, %L)', j.id, 'gave up'));
        ELSE
            PERFORM public.step(n, 'submit_result', format('SELECT 0 FROM lagbid.submit_result(%s, %L, %L)',
                                                           j.id, 's3://r', 'h'));
        END IF;
    END LOOP;
    IF (SELECT state FROM lagbid.task WHERE id = tid) = 'processing' THEN
        PERFORM public.step(n, 'finalize', format('SELECT coalesce(lagbid.finalize(%s), 0)', tid));
    END IF;
    -- no majority: the extra replicas it gathers
    SELECT * INTO t FROM lagbid.task WHERE id = tid;
    IF t.state = 'accepting_bids' AND t.allocated_at IS NOT NULL THEN
        PERFORM public.run_task(n, tid, t.replicas - (SELECT count(*) FROM lagbid.job WHERE task_id = tid)::int);
    END IF;
END $$;

DO $$
DECLARE
    n int;
    owner text;
    pmin numeric;
    pmax numeric;
    hours numeric;
    reps int;
    sid bigint;
    tid bigint;
    ratio numeric;
BEGIN
    -- spaces
    FOR n IN 1..800 LOOP
        owner := 'owner' || (n % 40);
        pmin := public.rnd(0, 5);
        pmax := pmin + public.rnd(1, 20);
        hours := public.rnd(1, 30);
        reps := 1 + floor(random() * 5)::int;
        PERFORM lagbid.deposit(owner, ceil((pmax + 30) * (hours + 10) * reps * 2), 'dep-' || n);
        ratio := CASE WHEN random() < 0.5 THEN public.rnd(0, 2) ELSE 0 END;
        sid := public.step(n, 'create_space', format('SELECT lagbid.create_space(%L, %L, %L, %s, %s, %s, NULL, %s, collateral_ratio => %s)',
                                                     owner, 's' || n, '{}', pmin, pmax, hours, reps, ratio));
        CONTINUE WHEN sid IS NULL;
        tid := public.step(n, 'trigger_space', format('SELECT lagbid.trigger_space(%s)', sid));
        IF tid IS NOT NULL THEN
            PERFORM public.run_task(n, tid, reps);
        END IF;
        -- reprice (up or down, 27 decimals), extend, tick
        IF random() < 0.7 THEN
            PERFORM public.step(n, 'update_space', format('SELECT 0 FROM lagbid.update_space(%s, price_max => %s)',
                                                          sid, pmin + public.rnd(0.5, 25)));
        END IF;
        IF random() < 0.5 THEN
            PERFORM public.step(n, 'extend_space', format('SELECT 0 FROM lagbid.extend_space(%s, %s)',
                                                          sid, public.rnd(0.0001, 5)));
        END IF;
        IF n % 10 = 0 THEN
            INSERT INTO public.rounding_tick SELECT n, lagbid.tick();
            -- the republished tasks are run too
            FOR tid IN SELECT t.id FROM lagbid.task t WHERE t.space_id IS NOT NULL
                                                      AND t.state = 'accepting_bids' ORDER BY t.id LOOP
                PERFORM public.run_task(n, tid, (SELECT replicas FROM lagbid.task WHERE id = tid));
            END LOOP;
        END IF;
        -- a transaction per case, as for real callers (one transaction
        -- updating the same accounts thousands of times slows to a crawl)
        COMMIT;
    END LOOP;
    -- direct tasks
    FOR n IN 801..1500 LOOP
        owner := 'owner' || (n % 40);
        pmin := public.rnd(0, 5);
        pmax := pmin + public.rnd(0.01, 20);
        hours := public.rnd(0.01, 30);
        reps := 1 + floor(random() * 5)::int;
        PERFORM lagbid.deposit(owner, ceil(pmax * hours * reps + 1), 'dep-' || n);
        ratio := CASE WHEN random() < 0.5 THEN public.rnd(0, 2) ELSE 0 END;
        tid := public.step(n, 'publish_task',
                           format('SELECT lagbid.publish_task(%L, %L, %s, %s, %s, replicas => %s, auto_allocate => %L, collateral_ratio => %s)',
                                  owner, '{}', pmin, pmax, hours, reps, random() < 0.5, ratio));
        IF tid IS NOT NULL THEN
            PERFORM public.run_task(n, tid, reps);
        END IF;
        COMMIT;
    END LOOP;
END $$;

-- wind down: 400 days on, tick until nothing is left to do
DO $$
DECLARE
    i int;
    r jsonb;
BEGIN
    PERFORM set_config('lagbid.clock', '2031-02-05 00:00:00+00', false);
    FOR i IN 1..30 LOOP
        r := lagbid.tick();
        INSERT INTO public.rounding_tick VALUES (100000 + i, r);
        EXIT WHEN NOT EXISTS (SELECT 1 FROM jsonb_each_text(r) WHERE value <> '0');
    END LOOP;
END $$;

SELECT (SELECT count(*) FROM lagbid.bid) >= 4000 AS thousands_of_random_asks,
       count(*) >= 1500 AS thousands_of_cases,
       count(*) FILTER (WHERE scale(price_max) >= 20) >= 1400 AS prices_with_20_decimals,
       count(DISTINCT replicas - extra_replicas) = 5 AS replicas_1_to_5,
       count(*) FILTER (WHERE state = 'completed') >= 500 AS many_completed,
       count(*) FILTER (WHERE state = 'failed') >= 50 AS many_failed,
       count(*) FILTER (WHERE state = 'cancelled') >= 100 AS many_cancelled,
       count(*) FILTER (WHERE space_id IS NOT NULL) >= 800 AS many_space_tasks
  FROM lagbid.task;
-- 0.4: elections without a majority bought extra replicas (paid into the
-- escrow at price_max x hours, 27 decimals) or failed with no_consensus
SELECT count(*) FILTER (WHERE extra_replicas > 0) >= 50 AS many_with_extra_replicas,
       count(*) FILTER (WHERE reason = 'no_consensus') >= 50 AS many_no_consensus
  FROM lagbid.task;
-- every call succeeded (no refusal, no error), and the tick never failed a row
SELECT count(*) = 0 AS no_errors FROM public.rounding_error;
SELECT step, sqlstate, message FROM public.rounding_error ORDER BY case_no LIMIT 5;
SELECT bool_and((result ->> 'failed')::int = 0) AS tick_never_failed,
       bool_and(NOT result ? 'skipped') AS tick_never_skipped
  FROM public.rounding_tick;
-- money: balances never negative, every ledger tx sums to zero, nothing lost
SELECT bool_and(balance >= 0) AS balances_never_negative FROM lagbid.account WHERE kind <> 'external';
SELECT count(*) = 0 AS every_tx_sums_to_zero
  FROM (SELECT tx_id FROM lagbid.ledger_entry GROUP BY tx_id HAVING sum(amount) <> 0) AS unbalanced;
SELECT sum(balance) = 0 AS money_conserved FROM lagbid.account;
-- escrows of finished tasks and expired spaces are exactly 0
SELECT bool_and(t.state IN ('completed', 'failed', 'cancelled')) AS all_tasks_finished,
       bool_and(a.balance = 0) AS finished_task_escrows_zero
  FROM lagbid.task t JOIN lagbid.account a ON a.id = t.escrow_account_id;
SELECT bool_and(s.state = 'expired') AS all_spaces_expired,
       bool_and(a.balance = 0) AS space_escrows_zero
  FROM lagbid.space s JOIN lagbid.account a ON a.id = s.escrow_account_id;
-- payments: ask x duration, never more than the budget
SELECT bool_and(j.paid = j.price * t.duration_hours) AS paid_ask_times_hours,
       bool_and(j.paid <= t.price_max * t.duration_hours) AS paid_within_budget
  FROM lagbid.job j JOIN lagbid.task t ON t.id = j.task_id WHERE j.state = 'completed';
-- collateral with many decimals: every bond is exactly ratio x ask x hours,
-- left its account once (none is locked at the end), and each provider
-- holds exactly its deposits and payments less its slashes
SELECT count(*) >= 1000 AS many_bonds,
       count(*) FILTER (WHERE scale(b.bond) >= 40) >= 500 AS bonds_with_40_decimals,
       count(*) FILTER (WHERE b.bond_state = 'slashed') >= 50 AS many_slashed,
       bool_and(b.bond = t.collateral_ratio * b.price * t.duration_hours) AS bonds_exact,
       bool_and(b.bond_state IN ('released', 'slashed')) AS every_bond_settled
  FROM lagbid.bid b JOIN lagbid.task t ON t.id = b.task_id WHERE b.bond > 0;
SELECT bool_and(a.bonded = 0) AS no_bond_held, count(*) FILTER (WHERE a.kind = 'provider') >= 1 AS provider_accounts
  FROM lagbid.account a;
SELECT bool_and(a.balance = (SELECT coalesce(sum(e.amount), 0) FROM lagbid.ledger_entry e
                               JOIN lagbid.ledger_tx x ON x.id = e.tx_id
                              WHERE e.account_id = a.id AND x.kind IN ('deposit', 'payment'))
                          - (SELECT coalesce(sum(x.amount), 0) FROM lagbid.ledger_tx x
                               JOIN lagbid.job j ON j.id = x.job_id
                              WHERE x.kind = 'slash' AND j.provider_id = p.id)) AS providers_hold_pay_less_slashes
  FROM lagbid.provider p JOIN lagbid.account a ON a.kind = 'provider' AND a.name = p.node_id;
SELECT count(*) = 0 AS invariants_hold FROM lagbid.check_invariants();

DROP FUNCTION public.run_task(int, bigint, int);
DROP FUNCTION public.step(int, text, text);
DROP FUNCTION public.rnd(numeric, numeric);
DROP TABLE public.rounding_error, public.rounding_tick;
RESET lagbid.clock;
