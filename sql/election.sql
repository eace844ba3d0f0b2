-- Results, the leading node (market rule 6) and payment.
SELECT fresh_market();
SET lagbid.clock = '2030-01-01 00:00:00+00';
SELECT lagbid.deposit('alice', 10000, 'elect-1');
SELECT cp(1, 'eu') AS p1, cp(2, 'eu') AS p2, cp(3, 'eu') AS p3, cp(4, 'eu') AS p4;

-- three replicas; two agree, one disagrees
SELECT lagbid.publish_task('alice', '{}', 1, 10, 2, bid_limit => 3, replicas => 3) AS t1;
SELECT lagbid.place_bid(1, 1, 5), lagbid.place_bid(1, 2, 6), lagbid.place_bid(1, 3, 7);
SELECT id, bid_id, provider_id, price, state FROM lagbid.job ORDER BY id;
SELECT try('SELECT lagbid.finalize(1)');
SET lagbid.clock = '2030-01-01 00:30:00+00';
SELECT lagbid.submit_result(3, 's3://out/3', 'sha256:bbb');
SET lagbid.clock = '2030-01-01 00:40:00+00';
SELECT lagbid.submit_result(2, 's3://out/2', 'sha256:aaa');
SET lagbid.clock = '2030-01-01 00:50:00+00';
SELECT lagbid.submit_result(1, 's3://out/1', 'sha256:aaa');
-- a job takes one result
SELECT try($$SELECT lagbid.submit_result(1, 's3://again', 'sha256:ccc')$$);
SELECT try($$SELECT lagbid.submit_result(99, 's3://x', 'h')$$);
SELECT try($$SELECT lagbid.submit_result(1, NULL, 'h')$$);
SELECT try($$SELECT lagbid.submit_result(1, '', 'h')$$);
SELECT try($$SELECT lagbid.submit_result(1, 's3://x', repeat('h', 300))$$);
SELECT try($$SELECT lagbid.submit_result(1, E's3://x\n', 'h')$$);
SELECT state, jobs_pending FROM lagbid.task WHERE id = 1;
-- every job reported: due.  The earliest agreeing submission (job 2) leads.
SELECT lagbid.finalize(1) AS leader;
SELECT id, state, is_leader, paid, reason FROM lagbid.job ORDER BY id;
SELECT state, leader_job_id, finished_at FROM lagbid.task WHERE id = 1;
-- paid ask x duration_hours, exactly once; the rest refunded to alice
SELECT account, amount, kind, job_id FROM lagbid.ledger WHERE task_id = 1 AND amount > 0 ORDER BY tx_id;
SELECT lagbid.balance(node(1), 'provider') AS p1, lagbid.balance(node(2), 'provider') AS p2,
       lagbid.balance(node(3), 'provider') AS p3,
       lagbid.balance('alice') AS alice;
-- finalizing again changes nothing and returns the same leader
SELECT lagbid.finalize(1) AS leader_again;
SELECT count(*) AS payments FROM lagbid.ledger_tx WHERE kind = 'payment';
SELECT id, slots_used FROM lagbid.provider ORDER BY id;
SELECT recipient = node(2) AS to_p2, kind, job_id, payload->>'amount' AS amount, payload->>'leader' AS leader
  FROM lagbid.notification WHERE kind IN ('job_paid', 'job_failed', 'task_completed') ORDER BY id;

-- the deadline: a job that never reports fails; the submitted one alone is no
-- strict majority of 2 replicas (0.4): the task gathers one more (consensus.sql)
SET lagbid.clock = '2030-01-02 00:00:00+00';
SELECT lagbid.publish_task('alice', '{}', 1, 10, 1, bid_limit => 2, replicas => 2) AS t2;
SELECT lagbid.place_bid(2, 1, 2), lagbid.place_bid(2, 4, 3);
SELECT lagbid.submit_result(5, 'ipfs://bafy', 'h1');
SELECT try('SELECT lagbid.finalize(2)');
SELECT processing_deadline FROM lagbid.task WHERE id = 2;
SET lagbid.clock = '2030-01-02 01:10:00+00';
SELECT lagbid.finalize(2) AS leader;
SELECT id, state, is_leader, paid, reason FROM lagbid.job WHERE task_id = 2 ORDER BY id;
SELECT state, replicas, extra_replicas FROM lagbid.task WHERE id = 2;

-- fail_job: the bidder gives up; all jobs failed -> the task fails and is refunded
SELECT lagbid.publish_task('alice', '{}', 1, 10, 1, bid_limit => 2, replicas => 2) AS t3;
SELECT lagbid.place_bid(3, 2, 2), lagbid.place_bid(3, 3, 3);
SELECT lagbid.fail_job(7, 'out of disk');
SELECT try($$SELECT lagbid.fail_job(7, 'again')$$);
SELECT try($$SELECT lagbid.fail_job(6, NULL)$$);
SELECT lagbid.submit_result(6, 'ipfs://x', 'h');
SELECT lagbid.fail_job(6, 'result lost');
SELECT id, state, reason FROM lagbid.job WHERE task_id = 3 ORDER BY id;
SELECT state, reason FROM lagbid.task WHERE id = 3;
SELECT balance AS escrow_left FROM lagbid.account WHERE name = 'task:3';
-- finalize of a task failed through fail_job: NULL, as documented (0.2 raised LB301)
SELECT lagbid.finalize(3) IS NULL AS no_leader;
-- no valid result at the deadline: the task fails, everything refunded
SELECT lagbid.publish_task('alice', '{}', 1, 10, 1, bid_limit => 1) AS t4;
SELECT lagbid.place_bid(4, 1, 2);
SET lagbid.clock = '2030-01-03 00:00:00+00';
SELECT lagbid.finalize(4) AS leader_is_null;
SELECT state, reason FROM lagbid.task WHERE id = 4;
SELECT lagbid.balance('alice') AS alice_end;
SELECT * FROM lagbid.check_invariants();
