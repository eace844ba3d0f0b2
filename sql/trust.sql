-- Trust between strangers (issue 20): collateral locked at bid time,
-- released or slashed once with a reason, reputation counted once per
-- finished job, min_reputation, and the reliability allocation.
SELECT fresh_market();
SET lagbid.clock = '2030-01-01 00:00:00+00';
DO $$ BEGIN PERFORM set_config('lagbid.authenticators', 'authenticator, ' || quote_ident(session_user), false); END $$;
SELECT lagbid.deposit('alice', 100000, 'trust-1');
SELECT count(cp(n, 'eu')) AS providers FROM generate_series(1, 6) AS n;
-- p1..p4 fund their collateral like owners fund tasks; p5 has 1, p6 nothing
SELECT count(lagbid.deposit(node(n), 100, 'trust-p' || n, holder_kind => 'provider'))
  FROM generate_series(1, 4) AS n;
SELECT lagbid.deposit(node(5), 1, 'trust-p5', holder_kind => 'provider') > 0 AS p5_funded;

-- money(): every provider's available and bonded amounts (the hold on its
-- account), the owner's balance
CREATE FUNCTION pg_temp.money() RETURNS TABLE (who text, available numeric, bonded numeric)
    LANGUAGE sql AS $$
    SELECT 'p' || p.id, lagbid.balance(p.node_id, 'provider'),
           coalesce((SELECT a.bonded FROM lagbid.account a WHERE a.kind = 'provider' AND a.name = p.node_id), 0)
      FROM lagbid.provider p
    UNION ALL SELECT 'alice', lagbid.balance('alice'), NULL
    ORDER BY 1 $$;

-- ---------------------------------------------------------------------------
-- The terms: collateral_ratio (default from lagbid.default_collateral_ratio),
-- min_reputation, allocation; bad values refused with LB001
-- ---------------------------------------------------------------------------
SELECT try($$SELECT lagbid.publish_task('alice', '{}', 1, 10, 1, collateral_ratio => -0.1)$$);
SELECT try($$SELECT lagbid.publish_task('alice', '{}', 1, 10, 1, collateral_ratio => 100.5)$$);
SELECT try($$SELECT lagbid.publish_task('alice', '{}', 1, 10, 1, collateral_ratio => 'NaN')$$);
SELECT try($$SELECT lagbid.publish_task('alice', '{}', 1, 10, 1, min_reputation => -1)$$);
SELECT try($$SELECT lagbid.publish_task('alice', '{}', 1, 10, 1, allocation => 'random')$$);
SELECT try($$SET lagbid.default_collateral_ratio = '101'$$);
SELECT try($$SET lagbid.default_collateral_ratio = '-1'$$);
SELECT try($$SET lagbid.default_collateral_ratio = 'lots'$$);
-- the setting is the default of a task published without a ratio
SET lagbid.default_collateral_ratio = '0.25';
SELECT lagbid.publish_task('alice', '{}', 1, 10, 2, bid_limit => 6, replicas => 3, auto_allocate => false) AS t1;
RESET lagbid.default_collateral_ratio;
SELECT lagbid.publish_task('alice', '{}', 1, 10, 2) AS t2;
SELECT lagbid.publish_task('alice', '{}', 1, 10, 2, collateral_ratio => 0.5, min_reputation => 2.5,
                           allocation => 'reliability') AS t3;
SELECT id, collateral_ratio, min_reputation, allocation FROM lagbid.task ORDER BY id;

-- ---------------------------------------------------------------------------
-- Locking at bid time: ratio x ask x duration_hours, in the bid's transaction
-- ---------------------------------------------------------------------------
-- p1 asks 4 on task 1: bond 0.25 x 4 x 2 = 2
SELECT lagbid.place_bid(1, 1, 4) AS b1;
-- the bond is held on p1's own account: its balance stays, 2 of it is bonded,
-- balance() says what is available; a hold moves no money (no ledger row)
SELECT id, bond, bond_state, (SELECT a.kind || ' ' || a.balance || ' bonded ' || a.bonded
                                FROM lagbid.account a JOIN lagbid.provider p ON a.kind = 'provider' AND a.name = p.node_id
                               WHERE p.id = b.provider_id) AS account,
       lagbid.balance(node(1), 'provider') AS available
  FROM lagbid.bid b ORDER BY id;
SELECT count(*) AS ledger_rows_since_deposits FROM lagbid.ledger_tx WHERE kind NOT IN ('deposit', 'escrow');
-- the same bid again (a client's retry) locks nothing more
SELECT lagbid.place_bid(1, 1, 4) AS b1_again;
-- p5 holds 1, its bond at ask 3 would be 1.5: refused, nothing written
SELECT try('SELECT lagbid.place_bid(1, 5, 3)');
-- (why_not judges an ask of price_min, whose bond p5 covers: no row)
SELECT * FROM lagbid.why_not(1, 5);
-- p6 holds nothing: why_not names the rule, and place_bid agrees
SELECT * FROM lagbid.why_not(1, 6);
SELECT try('SELECT lagbid.place_bid(1, 6, 1)');
-- an ask p5 can cover (ask 2 -> bond 1) is accepted
SELECT lagbid.place_bid(1, 5, 2) AS b2 \gset
SELECT * FROM pg_temp.money();
SELECT * FROM lagbid.check_invariants();

-- withdrawing releases the bond at once (the hold ends; no money moves)
SELECT lagbid.withdraw_bid(:b2);
SELECT id, state, bond, bond_state FROM lagbid.bid ORDER BY id;
SELECT * FROM pg_temp.money() WHERE who = 'p5';
SELECT count(*) AS ledger_rows_since_deposits FROM lagbid.ledger_tx WHERE kind NOT IN ('deposit', 'escrow');
-- a plain task (t2) locks nothing
SELECT lagbid.place_bid(2, 6, 5) AS plain_bid;
SELECT id, bond, bond_state FROM lagbid.bid WHERE task_id = 2;

-- ---------------------------------------------------------------------------
-- min_reputation (task 3 asks 2.5): LB404, why_not, open_tasks
-- ---------------------------------------------------------------------------
SELECT try('SELECT lagbid.place_bid(3, 2, 5)');
SELECT * FROM lagbid.why_not(3, 2);
SELECT json_build_object('role', 'lagbid_provider', 'sub', node(2)) AS claims2 \gset
BEGIN;
SET LOCAL ROLE lagbid_provider;
SELECT set_config('request.jwt.claims', :'claims2', true) IS NOT NULL;
SELECT task_id, collateral_ratio, min_reputation FROM lagbid_api.open_tasks() ORDER BY task_id;
ROLLBACK;
UPDATE lagbid.provider SET score = 2.5 WHERE id = 2;
SELECT * FROM lagbid.why_not(3, 2);
BEGIN;
SET LOCAL ROLE lagbid_provider;
SELECT set_config('request.jwt.claims', :'claims2', true) IS NOT NULL;
SELECT task_id, collateral_ratio, min_reputation FROM lagbid_api.open_tasks() ORDER BY task_id;
ROLLBACK;
SELECT lagbid.place_bid(3, 2, 5) AS b_rep;
SELECT * FROM lagbid.eligible_providers(3);
SELECT lagbid.cancel_task(3);
UPDATE lagbid.provider SET score = 0 WHERE id = 2;

-- ---------------------------------------------------------------------------
-- Allocation releases the losers; the election releases the agreeing and
-- slashes the disagreeing, each slash one ledger transaction and one
-- job_slashed notice with a reason and evidence
-- ---------------------------------------------------------------------------
SELECT lagbid.place_bid(1, 2, 5) AS b_p2, lagbid.place_bid(1, 3, 6) AS b_p3 \gset
SELECT lagbid.place_bid(1, 4, 9) AS b_p4;
SELECT count(*) AS jobs FROM lagbid.allocate(1, ARRAY[1, :b_p2, :b_p3]);
SELECT id, provider_id, state, bond, bond_state FROM lagbid.bid WHERE task_id = 1 ORDER BY id;
SELECT * FROM pg_temp.money();
-- p1 and p2 agree, p3 does not
SELECT lagbid.submit_result(j.id, 's3://r', CASE WHEN j.provider_id = 3 THEN 'sha256:bad' ELSE 'sha256:good' END)
  FROM lagbid.job j WHERE j.task_id = 1 ORDER BY j.id;
SELECT lagbid.finalize(1) AS leader;
SELECT id, provider_id, state, outcome FROM lagbid.job WHERE task_id = 1 ORDER BY id;
SELECT b.id, b.provider_id, b.bond, b.bond_state FROM lagbid.bid b WHERE task_id = 1 ORDER BY id;
SELECT kind, amount, job_id, memo FROM lagbid.ledger_tx WHERE kind = 'slash';
SELECT recipient_kind, recipient = node(3) AS to_p3, payload - 'recipient' AS payload
  FROM lagbid.notification WHERE kind = 'job_slashed';
SELECT * FROM pg_temp.money();
SELECT id, score, jobs_completed, jobs_agreed, jobs_disagreed, jobs_no_show, jobs_failed, slashed_total
  FROM lagbid.provider ORDER BY id;
SELECT * FROM lagbid.check_invariants();

-- ---------------------------------------------------------------------------
-- No-shows and failures: slashed with their reasons; the gentler rule for
-- input_unreachable on a task that fetches its inputs by URI
-- ---------------------------------------------------------------------------
SELECT lagbid.publish_task('alice', '{}', 1, 10, 1, bid_limit => 3, replicas => 3, collateral_ratio => 1,
                           auto_allocate => false,
                           workload => '{"command": ["./run"], "inputs": [{"path": "run", "uri": "https://x/run", "sha256": "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"}]}') AS t4 \gset
SELECT lagbid.place_bid(:t4, 1, 3), lagbid.place_bid(:t4, 2, 3), lagbid.place_bid(:t4, 3, 3);
SELECT count(*) FROM lagbid.allocate(:t4);
SELECT j.id AS j1 FROM lagbid.job j WHERE task_id = :t4 AND provider_id = 1 \gset
SELECT j.id AS j2 FROM lagbid.job j WHERE task_id = :t4 AND provider_id = 2 \gset
SELECT j.id AS j3 FROM lagbid.job j WHERE task_id = :t4 AND provider_id = 3 \gset
-- p1 claims the input was unreachable: judged when the task ends
SELECT lagbid.fail_job(:j1, 'input_unreachable');
SELECT id, state, outcome FROM lagbid.job WHERE id = :j1;
SELECT bond_state FROM lagbid.bid WHERE id = (SELECT bid_id FROM lagbid.job WHERE id = :j1);
SELECT * FROM lagbid.check_invariants();
-- p2 and p3 report the same result: 2 of 3 replicas, a strict majority
-- (0.4's election); the tick elects it and slashes p1 (the input was
-- reachable to the others).  No-shows are slashed below (p4).
SELECT lagbid.upload_result(:j2, 'fetched fine');
SELECT lagbid.upload_result(:j3, 'fetched fine');
SET lagbid.clock = '2030-01-01 02:00:00+00';
SELECT (lagbid.tick() ->> 'finalized')::int AS finalized;
SELECT id, provider_id, state, outcome, reason FROM lagbid.job WHERE task_id = :t4 ORDER BY id;
SELECT n.payload ->> 'reason' AS reason, n.payload ->> 'evidence' AS evidence, n.payload ->> 'amount' AS amount
  FROM lagbid.notification n WHERE n.kind = 'job_slashed' AND n.task_id = :t4 ORDER BY n.id;
SELECT * FROM lagbid.check_invariants();

-- the same claim on a task that then fails: excused, its bond released
SET lagbid.clock = '2030-01-02 00:00:00+00';
SELECT lagbid.publish_task('alice', '{}', 1, 10, 1, bid_limit => 2, replicas => 2, collateral_ratio => 1,
                           workload => '{"command": ["./run"], "inputs": [{"path": "run", "uri": "https://x/run", "sha256": "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"}]}') AS t5 \gset
SELECT lagbid.place_bid(:t5, 1, 2), lagbid.place_bid(:t5, 2, 2);
SELECT lagbid.fail_job(j.id, 'input_unreachable') FROM lagbid.job j WHERE task_id = :t5 AND provider_id = 1;
-- p2 gives up for another reason: a failure at once (slashed); the task fails
SELECT lagbid.fail_job(j.id, 'out of disk') FROM lagbid.job j WHERE task_id = :t5 AND provider_id = 2;
SELECT state, reason FROM lagbid.task WHERE id = :t5;
SELECT j.provider_id, j.outcome, b.bond_state FROM lagbid.job j JOIN lagbid.bid b ON b.id = j.bid_id
 WHERE j.task_id = :t5 ORDER BY j.id;
SELECT n.payload ->> 'reason' AS reason, n.payload ->> 'evidence' AS evidence
  FROM lagbid.notification n WHERE n.kind = 'job_slashed' AND n.task_id = :t5;
-- "input_unreachable" on a task without URI inputs is a plain failure
SELECT lagbid.publish_task('alice', '{}', 1, 10, 1, bid_limit => 1, collateral_ratio => 1) AS t6 \gset
SELECT lagbid.place_bid(:t6, 3, 2);
SELECT lagbid.fail_job(j.id, 'input_unreachable') FROM lagbid.job j WHERE task_id = :t6;
SELECT j.outcome, b.bond_state FROM lagbid.job j JOIN lagbid.bid b ON b.id = j.bid_id WHERE j.task_id = :t6;
SELECT * FROM lagbid.check_invariants();

-- cancel and reopen release the open bids' bonds
SELECT lagbid.publish_task('alice', '{}', 1, 10, 1, bid_limit => 5, collateral_ratio => 1, auto_allocate => false) AS t7 \gset
SELECT lagbid.place_bid(:t7, 1, 2), lagbid.place_bid(:t7, 2, 3);
SELECT lagbid.close_bidding(:t7);
SELECT lagbid.open_bidding(:t7);
SELECT lagbid.place_bid(:t7, 3, 4);
SELECT lagbid.cancel_task(:t7);
SELECT provider_id, state, reason, bond, bond_state FROM lagbid.bid WHERE task_id = :t7 ORDER BY id;
SELECT * FROM pg_temp.money() WHERE who IN ('p1', 'p2', 'p3');

-- a task nobody reports on: every job a no-show, slashed, the owner refunded
SELECT lagbid.publish_task('alice', '{}', 1, 10, 1, bid_limit => 2, replicas => 2, collateral_ratio => 0.5) AS t8 \gset
SELECT lagbid.place_bid(:t8, 1, 2), lagbid.place_bid(:t8, 4, 2);
SET lagbid.clock = '2030-01-03 00:00:00+00';
SELECT (lagbid.tick() ->> 'failed_no_result')::int AS failed_no_result;
SELECT j.provider_id, j.outcome, b.bond_state FROM lagbid.job j JOIN lagbid.bid b ON b.id = j.bid_id
 WHERE j.task_id = :t8 ORDER BY j.id;
SELECT * FROM pg_temp.money();
SELECT id, score, jobs_completed, jobs_agreed, jobs_disagreed, jobs_no_show, jobs_failed, slashed_total
  FROM lagbid.provider ORDER BY id;
SELECT * FROM lagbid.check_invariants();

-- ---------------------------------------------------------------------------
-- Spaces: collateral_ratio on create_space and update_space
-- ---------------------------------------------------------------------------
SELECT lagbid.create_space('alice', 'svc', '{}', 1, 2, 10, collateral_ratio => 0.2) AS s1;
SELECT version, collateral_ratio FROM lagbid.space WHERE id = 1;
SELECT (lagbid.tick() ->> 'spaces_published')::int AS published;
SELECT id, collateral_ratio FROM lagbid.task WHERE space_id = 1;
SELECT try('SELECT lagbid.update_space(1, collateral_ratio => 101)');
SELECT lagbid.update_space(1, collateral_ratio => 0.4);
SELECT version, changed, collateral_ratio FROM lagbid.space WHERE id = 1;
SELECT (lagbid.tick() ->> 'spaces_published')::int AS published;
SELECT id, state, collateral_ratio FROM lagbid.task WHERE space_id = 1 ORDER BY id;
SELECT * FROM lagbid.check_invariants();

-- ---------------------------------------------------------------------------
-- Profiles: anybody reads a provider's; a provider reads its own with its money
-- ---------------------------------------------------------------------------
SELECT verified, first_seen = (SELECT registered_at FROM lagbid.provider WHERE id = 3) AS first_seen_ok,
       score, reliability, jobs_completed, jobs_agreed, jobs_disagreed, jobs_no_show, jobs_failed, slashed_total
  FROM lagbid.provider_profile(node(3));
SELECT try($$SELECT * FROM lagbid.provider_profile('12D3KooWunknown')$$);
SELECT try($$SELECT * FROM lagbid.provider_profile(NULL)$$);
-- p3 bids on the space's task: its bond shows in its profile
SELECT lagbid.place_bid((SELECT max(id) FROM lagbid.task WHERE space_id = 1), 3, 1) IS NOT NULL AS p3_bids;
SELECT node(3) AS node3 \gset
BEGIN;
SET LOCAL ROLE lagbid_anon;
SELECT score, reliability, jobs_completed, jobs_disagreed, slashed_total
  FROM lagbid_api.provider_profile(:'node3');
ROLLBACK;
SELECT json_build_object('role', 'lagbid_provider', 'sub', node(3)) AS claims3 \gset
BEGIN;
SET LOCAL ROLE lagbid_provider;
SELECT set_config('request.jwt.claims', :'claims3', true) IS NOT NULL;
SELECT node_id = :'node3' AS is_p3, score, jobs_completed, jobs_no_show, jobs_failed, slashed_total,
       available, bonded, bonds
  FROM lagbid_api.my_profile();
SELECT lagbid_api.balance() AS balance_is_available;
ROLLBACK;
SELECT lagbid.reliability(0), lagbid.reliability(1), lagbid.reliability(8), lagbid.reliability(98);

-- ---------------------------------------------------------------------------
-- Allocation: the lowest ask, ties to the higher score; 'reliability' ranks
-- ask / ((score + 1) / (score + 2)), computed exactly
-- ---------------------------------------------------------------------------
UPDATE lagbid.provider SET score = CASE id WHEN 1 THEN 0 WHEN 2 THEN 8 WHEN 3 THEN 1 ELSE 0 END;
SELECT lagbid.publish_task('alice', '{}', 1, 10, 1, bid_limit => 3, auto_allocate => false) AS lowest;
SELECT max(id) AS tl FROM lagbid.task \gset
SELECT lagbid.place_bid(:tl, 1, 5), lagbid.place_bid(:tl, 2, 5), lagbid.place_bid(:tl, 3, 6);
SELECT count(*) FROM lagbid.allocate(:tl);
SELECT provider_id FROM lagbid.job WHERE task_id = :tl;
-- reliability: p1 (score 0) asks 5 -> 10; p3 (score 1) asks 6 -> 9; p2 (score 8) asks 8.5 -> 9.44...
SELECT lagbid.publish_task('alice', '{}', 1, 10, 1, bid_limit => 3, auto_allocate => false,
                           allocation => 'reliability') AS reliable;
SELECT max(id) AS tr FROM lagbid.task \gset
SELECT lagbid.place_bid(:tr, 1, 5), lagbid.place_bid(:tr, 2, 8.5), lagbid.place_bid(:tr, 3, 6);
SELECT count(*) FROM lagbid.allocate(:tr);
SELECT provider_id FROM lagbid.job WHERE task_id = :tr;
-- the SQL formula orders them the same way
SELECT b.provider_id, round(b.price / lagbid.reliability(p.score), 4) AS effective
  FROM lagbid.bid b JOIN lagbid.provider p ON p.id = b.provider_id WHERE b.task_id = :tr ORDER BY 2;

-- ---------------------------------------------------------------------------
-- The invariants catch what they guard (each tampering undone)
-- ---------------------------------------------------------------------------
SELECT lagbid.publish_task('alice', '{}', 1, 10, 1, bid_limit => 3, collateral_ratio => 1) AS tamper;
SELECT max(id) AS tt FROM lagbid.task \gset
SELECT lagbid.place_bid(:tt, 4, 2) AS tb \gset
BEGIN;
UPDATE lagbid.bid SET bond_state = 'released' WHERE id = :tb;
SELECT invariant FROM lagbid.check_invariants() ORDER BY 1;
ROLLBACK;
BEGIN;
UPDATE lagbid.bid SET bond = bond + 1 WHERE id = :tb;
SELECT invariant FROM lagbid.check_invariants() ORDER BY 1;
ROLLBACK;
-- (the bid's bond columns have no CHECK: the invariants catch a bond without a state)
BEGIN;
UPDATE lagbid.bid SET bond_state = NULL WHERE id = :tb;
SELECT invariant FROM lagbid.check_invariants() ORDER BY 1;
ROLLBACK;
-- a bond marked slashed without its slash transaction
BEGIN;
UPDATE lagbid.bid SET bond_state = 'slashed' WHERE id = :tb;
SELECT invariant FROM lagbid.check_invariants() ORDER BY 1;
ROLLBACK;
-- a slash taken from another account than its job's provider's
BEGIN;
UPDATE lagbid.ledger_entry e SET account_id = (SELECT a.id FROM lagbid.account a
                                                WHERE a.kind = 'provider' AND a.name = node(1))
  FROM lagbid.ledger_tx x
 WHERE x.id = e.tx_id AND x.kind = 'slash' AND e.amount < 0
   AND x.job_id = (SELECT min(j.id) FROM lagbid.job j JOIN lagbid.ledger_tx s ON s.job_id = j.id AND s.kind = 'slash'
                    WHERE j.provider_id <> 1);
SELECT DISTINCT invariant FROM lagbid.check_invariants() ORDER BY 1;
ROLLBACK;
-- the account itself refuses a hold above its balance, or below zero
SELECT try($$UPDATE lagbid.account SET bonded = balance + 1 WHERE kind = 'provider' AND name = node(4)$$)
       ~ '^23514: new row for relation "account" violates check constraint "account_never_negative"' AS above_balance_refused,
       try($$UPDATE lagbid.account SET bonded = -1 WHERE kind = 'provider' AND name = node(4)$$)
       ~ '^23514: new row for relation "account" violates check constraint "account_never_negative"' AS below_zero_refused;
BEGIN;
UPDATE lagbid.provider SET jobs_agreed = jobs_agreed + 1 WHERE id = 1;
SELECT invariant FROM lagbid.check_invariants() ORDER BY 1;
ROLLBACK;
BEGIN;
UPDATE lagbid.notification SET payload = payload - 'reason' WHERE kind = 'job_slashed';
SELECT DISTINCT invariant FROM lagbid.check_invariants() ORDER BY 1;
ROLLBACK;
BEGIN;
UPDATE lagbid.job SET outcome = NULL WHERE id = (SELECT min(id) FROM lagbid.job WHERE outcome = 'agreed');
SELECT DISTINCT invariant FROM lagbid.check_invariants() ORDER BY 1;
ROLLBACK;
SELECT * FROM lagbid.check_invariants();
RESET lagbid.clock;
