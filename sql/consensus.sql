-- The election never guesses (0.4, issue 19 defect 2; docs/0.4/election.md):
-- a strict majority of replicas, computed hashes outweigh claimed ones,
-- extra replicas paid by the owner up to lagbid.max_extra_replicas, then
-- no_consensus (owner refunded, nobody paid).  And results_ready (issue 23).
SELECT fresh_market();
SET lagbid.clock = '2031-01-01 00:00:00+00';
SELECT lagbid.deposit('alice', 10000, 'consensus-1');
SELECT count(*) AS providers FROM (SELECT cp(n) FROM generate_series(1, 8) n) p;
SHOW lagbid.max_extra_replicas;

-- the job of provider p on task t
CREATE FUNCTION job_of(t bigint, p bigint) RETURNS bigint LANGUAGE sql
    RETURN (SELECT id FROM lagbid.job WHERE task_id = t AND provider_id = p);
-- what a task moved: escrowed (with extra replicas), paid, refunded; and whether it adds up
CREATE FUNCTION money_of(t bigint) RETURNS TABLE (escrowed numeric, paid numeric, refunded numeric,
                                                  adds_up boolean, escrow_left numeric)
    LANGUAGE sql
    RETURN (SELECT ROW(e, p, r, e = p + r, (SELECT a.balance FROM lagbid.account a
                                           JOIN lagbid.task k ON k.escrow_account_id = a.id WHERE k.id = t))
              FROM (SELECT coalesce(sum(amount) FILTER (WHERE kind = 'escrow'), 0) AS e,
                           coalesce(sum(amount) FILTER (WHERE kind = 'payment'), 0) AS p,
                           coalesce(sum(amount) FILTER (WHERE kind = 'refund'), 0) AS r
                      FROM lagbid.ledger_tx WHERE task_id = t) s);
-- the jobs of a task, with who ran them
CREATE FUNCTION jobs_of(t bigint) RETURNS TABLE (job bigint, provider bigint, state lagbid.job_state,
                                                 is_leader boolean, paid numeric, reason text)
    LANGUAGE sql
    BEGIN ATOMIC
        SELECT id, provider_id, state, is_leader, paid, reason FROM lagbid.job WHERE task_id = t ORDER BY id;
    END;
-- a refusal's SQLSTATE, message and hint
CREATE FUNCTION hint_of(q text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    h text;
BEGIN
    EXECUTE q;
    RETURN 'ok';
EXCEPTION WHEN OTHERS THEN
    GET STACKED DIAGNOSTICS h = PG_EXCEPTION_HINT;
    RETURN SQLSTATE || ': ' || SQLERRM || ' [hint: ' || h || ']';
END $$;

-- 1. The reviewer's (a): replicas 2, a lazy provider uploads '\x' at once, the
-- honest one '42\n'.  A 1-1 tie is no majority: the first never wins by being
-- first.  The owner pays one more replica; the task gathers it.
SELECT lagbid.publish_task('alice', '{}', 1, 10, 1, bid_limit => 2, replicas => 2) AS t1;
SELECT lagbid.place_bid(1, 1, 2), lagbid.place_bid(1, 2, 3);
SELECT lagbid.upload_result(job_of(1, 1), '\x');
SET lagbid.clock = '2031-01-01 00:20:00+00';
SELECT lagbid.upload_result(job_of(1, 2), E'42\n'::bytea);
-- every replica reported: the owner is told, in the reporting transaction
SELECT recipient_kind, recipient, kind, payload->'replicas' AS replicas, payload->'submitted' AS submitted,
       payload->'failed' AS failed
  FROM lagbid.notification WHERE kind = 'results_ready' AND task_id = 1;
SELECT lagbid.finalize(1) IS NULL AS no_leader_yet;
SELECT state, replicas, extra_replicas, bid_limit, bid_count, jobs_pending, leader_job_id
  FROM lagbid.task WHERE id = 1;
SELECT * FROM jobs_of(1);
SELECT * FROM money_of(1);
SELECT kind, amount, memo FROM lagbid.ledger_tx WHERE task_id = 1 ORDER BY id;
SELECT from_state, to_state, reason FROM lagbid.event WHERE entity = 'task' AND entity_id = 1 ORDER BY id;
SELECT recipient_kind, kind, job_id, payload->>'evidence' AS evidence
  FROM lagbid.notification WHERE kind = 'election_extended' AND task_id = 1 ORDER BY id;
SELECT * FROM lagbid.check_invariants();
-- the task gathers more: finalize says so (LB311) and how to go on
SELECT hint_of('SELECT lagbid.finalize(1)');
-- the old bidders cannot bid again: their bids are won (a retry of the same ask
-- gets the won bid's id back, rule 5); a new bidder can
SELECT try('SELECT lagbid.place_bid(1, 1, 2)');
SELECT try('SELECT lagbid.place_bid(1, 2, 4)');
SELECT lagbid.place_bid(1, 3, 4) AS extra_bid;
SELECT state, bid_count, bid_limit, jobs_pending FROM lagbid.task WHERE id = 1;
SELECT lagbid.upload_result(job_of(1, 3), E'42\n'::bytea);
SELECT count(*) AS results_ready_notices FROM lagbid.notification WHERE kind = 'results_ready' AND task_id = 1;
-- 2 of 3 agree: the honest result is elected; its computed submission leads
SELECT lagbid.finalize(1) = job_of(1, 2) AS honest_leads;
SELECT * FROM jobs_of(1);
SELECT convert_from(lagbid.task_result(1), 'UTF8') = E'42\n' AS owner_gets_42;
SELECT kind, job_id, payload->>'reason' AS reason, payload->>'amount' AS amount, payload->>'evidence' AS evidence
  FROM lagbid.notification WHERE task_id = 1 AND kind IN ('job_paid', 'job_failed') ORDER BY id;
SELECT payload->>'evidence' AS owner_evidence FROM lagbid.notification WHERE task_id = 1 AND kind = 'task_completed';
SELECT * FROM money_of(1);
SELECT * FROM lagbid.check_invariants();

-- 2. The reviewer's (b): two logins claim sha256:000...0 with a made-up URI and
-- no content; one honest provider uploads.  A claim never outvotes a computed
-- hash: no majority; two more replicas are the fewest that could make one.
SELECT lagbid.publish_task('alice', '{}', 1, 10, 1, bid_limit => 3, replicas => 3) AS t2;
SELECT lagbid.place_bid(2, 1, 2), lagbid.place_bid(2, 2, 2), lagbid.place_bid(2, 3, 3);
SELECT lagbid.submit_result(job_of(2, 1), 's3://made/up', 'sha256:' || repeat('0', 64));
SELECT lagbid.submit_result(job_of(2, 2), 's3://made/up', 'sha256:' || repeat('0', 64));
SELECT lagbid.upload_result(job_of(2, 3), E'42\n'::bytea);
SELECT lagbid.finalize(2) IS NULL AS no_leader_yet;
SELECT state, replicas, extra_replicas, bid_limit FROM lagbid.task WHERE id = 2;
SELECT * FROM jobs_of(2);
SELECT payload->>'evidence' AS owner_evidence, payload->>'charged' AS charged
  FROM lagbid.notification WHERE task_id = 2 AND kind = 'election_extended' AND recipient_kind = 'owner';
SELECT lagbid.place_bid(2, 4, 3), lagbid.place_bid(2, 5, 3);
SELECT state, jobs_pending FROM lagbid.task WHERE id = 2;
SELECT lagbid.upload_result(job_of(2, 4), E'42\n'::bytea);
SELECT lagbid.upload_result(job_of(2, 5), E'42\n'::bytea);
SELECT lagbid.finalize(2) = job_of(2, 3) AS honest_leads;
SELECT * FROM jobs_of(2);
SELECT job_id, payload->>'evidence' AS evidence FROM lagbid.notification
 WHERE task_id = 2 AND kind = 'job_failed' ORDER BY id;
SELECT * FROM money_of(2);
SELECT * FROM lagbid.check_invariants();

-- 2'. The same attack where no replica may be added: no_consensus at once.
-- Everybody's job fails with a readable reason, the owner is refunded in
-- full, nobody is paid.
SET lagbid.max_extra_replicas = 0;
SELECT lagbid.publish_task('alice', '{}', 1, 10, 1, bid_limit => 3, replicas => 3) AS t3;
SELECT lagbid.place_bid(3, 1, 2), lagbid.place_bid(3, 2, 2), lagbid.place_bid(3, 3, 3);
SELECT lagbid.submit_result(job_of(3, 1), 's3://made/up', 'sha256:' || repeat('0', 64));
SELECT lagbid.submit_result(job_of(3, 2), 's3://made/up', 'sha256:' || repeat('0', 64));
SELECT lagbid.upload_result(job_of(3, 3), E'42\n'::bytea);
SELECT lagbid.finalize(3) IS NULL AS no_leader;
SELECT state, reason, replicas FROM lagbid.task WHERE id = 3;
SELECT * FROM jobs_of(3);
SELECT recipient_kind, kind, job_id, payload->>'reason' AS reason, payload->>'evidence' AS evidence
  FROM lagbid.notification WHERE task_id = 3 AND kind IN ('job_failed', 'task_failed') ORDER BY id;
SELECT * FROM money_of(3);
SELECT id, slots_used FROM lagbid.provider WHERE id <= 3 ORDER BY id;
SELECT lagbid.finalize(3) IS NULL AS still_no_leader;
SELECT * FROM lagbid.check_invariants();
RESET lagbid.max_extra_replicas;

-- 3. Strict majority of 5: three computed against two wins; two, two and one
-- is none, and when the one replica left could not make one, no round is
-- bought in vain: no_consensus at once.
SELECT lagbid.publish_task('alice', '{}', 1, 10, 1, bid_limit => 5, replicas => 5) AS t4;
SELECT count(lagbid.place_bid(4, p, 2)) FROM generate_series(1, 5) p;
SELECT lagbid.upload_result(job_of(4, 1), 'b'), lagbid.upload_result(job_of(4, 2), 'b'),
       lagbid.upload_result(job_of(4, 3), 'a'), lagbid.upload_result(job_of(4, 4), 'a'),
       lagbid.upload_result(job_of(4, 5), 'a');
SELECT lagbid.finalize(4) = job_of(4, 3) AS three_of_five_lead;
SELECT * FROM jobs_of(4);
SET lagbid.max_extra_replicas = 1;
SELECT lagbid.publish_task('alice', '{}', 1, 10, 1, bid_limit => 5, replicas => 5) AS t5;
SELECT count(lagbid.place_bid(5, p, 2)) FROM generate_series(1, 5) p;
SELECT lagbid.upload_result(job_of(5, 1), 'a'), lagbid.upload_result(job_of(5, 2), 'a'),
       lagbid.upload_result(job_of(5, 3), 'b'), lagbid.upload_result(job_of(5, 4), 'b'),
       lagbid.upload_result(job_of(5, 5), 'c');
SELECT lagbid.finalize(5) IS NULL AS no_leader;
SELECT state, reason, replicas, extra_replicas FROM lagbid.task WHERE id = 5;
SELECT DISTINCT state, reason FROM lagbid.job WHERE task_id = 5;
SELECT payload->>'evidence' AS owner_evidence FROM lagbid.notification WHERE task_id = 5 AND kind = 'task_failed';
SELECT * FROM money_of(5);
RESET lagbid.max_extra_replicas;

-- 4. Claimed and computed together.
-- (i) claims that agree with the only computed hash count: 3 of 3; the
-- computed submission leads although both claims came first
SELECT lagbid.publish_task('alice', '{}', 1, 10, 1, bid_limit => 3, replicas => 3) AS t6;
SELECT lagbid.place_bid(6, 1, 2), lagbid.place_bid(6, 2, 2), lagbid.place_bid(6, 3, 2);
SELECT lagbid.submit_result(job_of(6, 1), 's3://big/1', 'sha256:' || encode(sha256('x'), 'hex'));
SELECT lagbid.submit_result(job_of(6, 2), 's3://big/2', 'sha256:' || encode(sha256('x'), 'hex'));
SET lagbid.clock = '2031-01-01 00:30:00+00';
SELECT lagbid.upload_result(job_of(6, 3), 'x');
SELECT lagbid.finalize(6) = job_of(6, 3) AS computed_leads;
SELECT * FROM jobs_of(6);
-- (ii) two computed hashes disagree: no claim counts, not even one agreeing
-- with one of them; 1-1 (the claim aside) is no majority
SELECT lagbid.publish_task('alice', '{}', 1, 10, 1, bid_limit => 3, replicas => 3) AS t7;
SELECT lagbid.place_bid(7, 1, 2), lagbid.place_bid(7, 2, 2), lagbid.place_bid(7, 3, 2);
SELECT lagbid.submit_result(job_of(7, 1), 's3://big/1', 'sha256:' || encode(sha256('x'), 'hex'));
SELECT lagbid.upload_result(job_of(7, 2), 'x'), lagbid.upload_result(job_of(7, 3), 'y');
SELECT lagbid.finalize(7) IS NULL AS no_leader_yet;
SELECT state, replicas, extra_replicas FROM lagbid.task WHERE id = 7;
SELECT job_id, payload->>'evidence' AS evidence FROM lagbid.notification
 WHERE task_id = 7 AND kind = 'election_extended' AND recipient_kind = 'provider' ORDER BY id;
-- (two more, not one: one more could give x at most 2 of 4, no majority)
-- both extra replicas compute x: 3 computed of 5
SELECT lagbid.place_bid(7, 4, 2), lagbid.place_bid(7, 5, 2);
SELECT lagbid.upload_result(job_of(7, 4), 'x'), lagbid.upload_result(job_of(7, 5), 'x');
SELECT lagbid.finalize(7) = job_of(7, 2) AS earliest_computed_x_leads;
-- the claim of x agreed with the elected result: it is completed and paid
SELECT * FROM jobs_of(7);
SELECT * FROM money_of(7);
-- (iii) claims only, and they agree: they count (nothing computed disagrees)
SELECT lagbid.publish_task('alice', '{}', 1, 10, 1, bid_limit => 2, replicas => 2) AS t8;
SELECT lagbid.place_bid(8, 1, 2), lagbid.place_bid(8, 2, 2);
SELECT lagbid.submit_result(job_of(8, 1), 's3://big/1', 'sha256:feed');
SELECT lagbid.submit_result(job_of(8, 2), 's3://big/2', 'sha256:feed');
SELECT lagbid.finalize(8) = job_of(8, 1) AS two_claims_of_two;
SELECT * FROM lagbid.check_invariants();

-- 5. The deadline path (tick): one of two replicas never reports.  One result
-- of two is no majority: the no-show fails, one more replica is gathered.
-- Then nobody bids for it: at the bidding deadline the task fails with
-- no_consensus, the owner is refunded, nobody is paid.
SET lagbid.clock = '2031-01-02 00:00:00+00';
SELECT lagbid.publish_task('alice', '{}', 1, 10, 1, bid_limit => 2, replicas => 2) AS t9;
SELECT lagbid.place_bid(9, 1, 2), lagbid.place_bid(9, 2, 2);
SELECT lagbid.upload_result(job_of(9, 1), 'x');
SELECT count(*) AS results_ready FROM lagbid.notification WHERE task_id = 9 AND kind = 'results_ready';
SELECT hint_of('SELECT lagbid.finalize(9)');
SET lagbid.clock = '2031-01-02 01:11:00+00';
SELECT lagbid.tick() - 'deferred' - 'failed' AS tick;
SELECT state, replicas, extra_replicas, bidding_deadline FROM lagbid.task WHERE id = 9;
SELECT * FROM jobs_of(9);
SELECT payload->>'evidence' AS evidence FROM lagbid.notification
 WHERE task_id = 9 AND job_id = job_of(9, 2) AND kind = 'job_failed';
SELECT * FROM lagbid.check_invariants();
SET lagbid.clock = '2031-01-02 01:22:00+00';
SELECT lagbid.tick() - 'deferred' - 'failed' AS tick;
SELECT state, reason FROM lagbid.task WHERE id = 9;
SELECT * FROM jobs_of(9);
SELECT payload->>'evidence' AS evidence FROM lagbid.notification WHERE task_id = 9 AND job_id = job_of(9, 1)
   AND kind = 'job_failed';
SELECT * FROM money_of(9);

-- 6. More replicas the owner cannot pay: no_consensus, refunded.
SELECT lagbid.deposit('bob', 2, 'consensus-2');
SELECT lagbid.publish_task('bob', '{}', 1, 1, 1, bid_limit => 2, replicas => 2) AS t10;
SELECT lagbid.place_bid(10, 1, 1), lagbid.place_bid(10, 2, 1);
SELECT lagbid.upload_result(job_of(10, 1), 'x'), lagbid.upload_result(job_of(10, 2), 'y');
SELECT lagbid.balance('bob') AS bob_before;
SELECT lagbid.finalize(10) IS NULL AS no_leader;
SELECT state, reason, replicas FROM lagbid.task WHERE id = 10;
SELECT payload->>'evidence' AS owner_evidence FROM lagbid.notification WHERE task_id = 10 AND kind = 'task_failed';
SELECT lagbid.balance('bob') AS bob_after;
SELECT * FROM money_of(10);

-- 7. results_ready is not sent when every job failed (task_failed is), and
-- comes once the last processing job gives up after another submitted
SELECT lagbid.publish_task('alice', '{}', 1, 10, 1, bid_limit => 2, replicas => 2) AS t11;
SELECT lagbid.place_bid(11, 1, 2), lagbid.place_bid(11, 2, 2);
SELECT lagbid.fail_job(job_of(11, 1), 'no disk'), lagbid.fail_job(job_of(11, 2), 'no disk');
SELECT kind FROM lagbid.notification WHERE task_id = 11 AND recipient_kind = 'owner' ORDER BY id;
SELECT lagbid.publish_task('alice', '{}', 1, 10, 1, bid_limit => 2, replicas => 2) AS t12;
SELECT lagbid.place_bid(12, 1, 2), lagbid.place_bid(12, 2, 2);
SELECT lagbid.upload_result(job_of(12, 1), 'x');
SELECT lagbid.fail_job(job_of(12, 2), 'no disk');
SELECT kind, payload->'submitted' AS submitted, payload->'failed' AS failed
  FROM lagbid.notification WHERE task_id = 12 AND recipient_kind = 'owner' ORDER BY id;

-- 8. A round of extra replicas always allocates, even for a task published
-- with auto_allocate => false; the owner may allocate by hand only the
-- replicas still missing.
SELECT lagbid.publish_task('alice', '{}', 1, 10, 1, bid_limit => 2, replicas => 2,
                           auto_allocate => false) AS t13;
SELECT lagbid.place_bid(13, 1, 2), lagbid.place_bid(13, 2, 2);
SELECT count(*) AS jobs FROM lagbid.allocate(13);
SELECT lagbid.upload_result(job_of(13, 1), 'x'), lagbid.upload_result(job_of(13, 2), 'y');
SELECT lagbid.finalize(13) IS NULL AS no_leader_yet;
SELECT state, replicas, bid_limit, bid_count FROM lagbid.task WHERE id = 13;
SELECT lagbid.place_bid(13, 3, 5) AS bid;
SELECT state, replicas, bid_limit, bid_count, jobs_pending FROM lagbid.task WHERE id = 13;
SELECT * FROM jobs_of(13);
SELECT lagbid.publish_task('alice', '{}', 1, 10, 1, bid_limit => 5, replicas => 2) AS t14;
SELECT lagbid.place_bid(14, 1, 2), lagbid.place_bid(14, 2, 2);
SELECT lagbid.close_bidding(14);
SELECT lagbid.upload_result(job_of(14, 1), 'x'), lagbid.upload_result(job_of(14, 2), 'y');
SELECT lagbid.finalize(14) IS NULL AS no_leader_yet;
SELECT lagbid.place_bid(14, 3, 5) AS b3, lagbid.place_bid(14, 4, 4) AS b4;
SELECT try('SELECT lagbid.allocate(14, ARRAY[' || (SELECT string_agg(id::text, ',') FROM lagbid.bid
                                                 WHERE task_id = 14 AND state = 'open') || '])');
SELECT count(*) AS jobs FROM lagbid.allocate(14);
SELECT b.provider_id, b.state, b.reason FROM lagbid.bid b WHERE b.task_id = 14 ORDER BY b.id;
SELECT state, replicas, bid_count, jobs_pending FROM lagbid.task WHERE id = 14;

-- every task: what was escrowed was paid or refunded, and the market holds
SELECT t.id, m.adds_up, m.escrow_left FROM lagbid.task t, money_of(t.id) m
 WHERE t.state IN ('completed', 'failed') AND NOT (m.adds_up AND m.escrow_left = 0);
SELECT * FROM lagbid.check_invariants();
DROP FUNCTION job_of(bigint, bigint), money_of(bigint), jobs_of(bigint), hint_of(text);
