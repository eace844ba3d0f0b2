SELECT fresh_market();
SET lagbid.clock = '2030-01-01 00:00:00+00';
-- The operator's views: market_overview, provider_utilization, task_timeline,
-- stuck_tasks, notification_backlog.  (lagbid.event.at is the wall clock, so
-- timelines are shown without it.)

-- an empty market
\x on
SELECT * FROM lagbid.market_overview;
\x off
SELECT * FROM lagbid.provider_utilization;
SELECT * FROM lagbid.stuck_tasks;
SELECT count(*) FROM lagbid.task_timeline(1);

SELECT lagbid.deposit('alice', 1000, 'admin-1'), lagbid.deposit('bob', 500, 'admin-2');
SELECT cp(1, 'eu-west', max_concurrent => 2) AS p1, cp(2, 'eu-central', max_concurrent => 1) AS p2,
       cp(3, 'us-east', max_concurrent => 3) AS p3, cp(4, 'ap-south', max_concurrent => 1) AS p4;

-- t1: 2 replicas, bid limit 3: the third bid closes bidding and allocates p1 and p2, p3 loses
SELECT lagbid.publish_task('alice', '{"cpu": 4}', 4, 10, 2, bid_limit => 3, replicas => 2) AS t1;
SELECT lagbid.place_bid(1, 1, 5), lagbid.place_bid(1, 2, 6), lagbid.place_bid(1, 3, 8);
-- t2: nobody bids within its 10 minute window
SELECT lagbid.publish_task('alice', '{}', 1, 3, 1) AS t2;
-- t3: p3 bids, bob closes bidding: allocated, 1 hour + 10 minutes grace to deliver
SELECT lagbid.publish_task('bob', '{}', 2, 5, 1, bidding_window => '1 hour') AS t3;
SELECT lagbid.place_bid(3, 3, 3);
SELECT lagbid.close_bidding(3);
-- t4: an open bid of p3, then bob cancels
SELECT lagbid.publish_task('bob', '{}', 2, 5, 1, bidding_window => '1 hour') AS t4;
SELECT lagbid.place_bid(4, 3, 4);
SELECT lagbid.cancel_task(4, 'changed my mind');
-- t5: still accepting bids; p1 holds an open bid on it
SELECT lagbid.publish_task('alice', '{}', 1, 3, 1, bidding_window => '1 hour') AS t5;
SELECT lagbid.place_bid(5, 1, 2);
-- p1 and p2 deliver t1; p4 is suspended; p1's limit drops below the two slots it holds
SELECT lagbid.submit_result(1, 'ipfs://r1', 'sha256:aa'), lagbid.submit_result(2, 'ipfs://r2', 'sha256:aa');
SELECT lagbid.set_provider_state(4, 'suspended');
SELECT lagbid.set_bid_limit(1, 1);

SELECT id, state, bid_count, jobs_pending FROM lagbid.task ORDER BY id;
\x on
SELECT * FROM lagbid.market_overview;
\x off
SELECT provider_id, region, state, max_concurrent, slots_used, utilization_pct, open_bids, bids_won,
       bids_lost, live_jobs, jobs_completed, jobs_failed, jobs_led, earned
  FROM lagbid.provider_utilization ORDER BY provider_id;
SELECT entity, entity_id, from_state, to_state, actor IS NOT NULL AS has_actor, reason
  FROM lagbid.task_timeline(1);

-- what the tick should handle: t1 is due now (every job reported)
SELECT * FROM lagbid.stuck_tasks ORDER BY task_id, problem;

-- 15 minutes later, without a tick: t2's bidding window ended 5 minutes ago
SET lagbid.clock = '2030-01-01 00:15:00+00';
SELECT * FROM lagbid.stuck_tasks ORDER BY task_id, problem;
-- 1 hour 30 minutes later: t3's processing deadline (1 hour + 10 minutes grace) passed 20 minutes ago,
-- t5's bidding window 30 minutes ago
SET lagbid.clock = '2030-01-01 01:30:00+00';
SELECT * FROM lagbid.stuck_tasks ORDER BY task_id, problem;

-- the tick handles all of it
SELECT lagbid.tick() - 'deferred' - 'spaces_expired' - 'spaces_unfunded' - 'spaces_published' - 'tasks_superseded' AS tick;
SELECT * FROM lagbid.stuck_tasks;
SELECT id, state, reason, leader_job_id FROM lagbid.task ORDER BY id;
\x on
SELECT * FROM lagbid.market_overview;
\x off
-- money adds up: what holders hold is what came in, minus escrowed, plus paid and refunded
SELECT money_deposited - money_escrowed + money_paid + money_refunded AS holders_should_hold,
       (SELECT sum(balance) FROM lagbid.account WHERE kind IN ('owner', 'provider')) AS holders_hold,
       money_in_escrow = (SELECT sum(balance) FROM lagbid.account WHERE kind = 'escrow') AS escrow_agrees
  FROM lagbid.market_overview;
SELECT provider_id, slots_used, utilization_pct, open_bids, bids_won, bids_lost, live_jobs,
       jobs_completed, jobs_failed, jobs_led, earned
  FROM lagbid.provider_utilization ORDER BY provider_id;
SELECT entity, entity_id, from_state, to_state, reason FROM lagbid.task_timeline(1);
SELECT entity, entity_id, from_state, to_state, reason FROM lagbid.task_timeline(3);
SELECT entity, entity_id, from_state, to_state, reason FROM lagbid.task_timeline(4);
-- in the order the events were logged; an unknown task has no timeline
SELECT bool_and(at IS NOT NULL) AS timestamped, count(*) FROM lagbid.task_timeline(1);
SELECT count(*) FROM lagbid.task_timeline(999);
SELECT count(*) FROM lagbid.task_timeline(NULL);

-- the notification backlog (ages are wall-clock)
SELECT recipient = public.node(3) AS is_p3, pending, oldest_age >= interval '0' AS aged
  FROM lagbid.notification_backlog WHERE recipient = public.node(3);
SELECT recipient, pending FROM lagbid.notification_backlog WHERE recipient IN ('alice', 'bob') ORDER BY recipient;
UPDATE lagbid.notification SET acked_at = clock_timestamp() WHERE recipient = 'bob';
SELECT count(*) FROM lagbid.notification_backlog WHERE recipient = 'bob';

-- the platform reads them all under row-level security
SET ROLE lagbid_platform;
SELECT tasks_completed, tasks_failed, tasks_cancelled, providers_active, providers_suspended
  FROM lagbid.market_overview;
SELECT count(*) FROM lagbid.provider_utilization;
SELECT count(*) FROM lagbid.task_timeline(1);
SELECT count(*) FROM lagbid.stuck_tasks;
SELECT count(*) > 0 AS sees_backlog FROM lagbid.notification_backlog;
RESET ROLE;

-- nobody else may
SELECT r.role, o.obj,
       CASE WHEN o.obj LIKE '%(%' THEN has_function_privilege(r.role, o.obj, 'EXECUTE')
            ELSE has_table_privilege(r.role, o.obj, 'SELECT') END AS allowed
  FROM (VALUES ('lagbid_anon'), ('lagbid_owner'), ('lagbid_provider'), ('lagbid_platform'), ('public')) AS r(role),
       (VALUES ('lagbid.market_overview'), ('lagbid.provider_utilization'), ('lagbid.stuck_tasks'),
               ('lagbid.notification_backlog'), ('lagbid.task_timeline(bigint)')) AS o(obj)
 ORDER BY o.obj, r.role;
SET ROLE lagbid_owner;
SELECT try('SELECT * FROM lagbid.market_overview');
SELECT try('SELECT * FROM lagbid.task_timeline(1)');
RESET ROLE;
SET ROLE lagbid_provider;
SELECT try('SELECT * FROM lagbid.provider_utilization');
RESET ROLE;

-- each is documented
SELECT o.obj, d.description IS NOT NULL AS commented
  FROM (VALUES ('lagbid.market_overview'), ('lagbid.provider_utilization'), ('lagbid.stuck_tasks'),
               ('lagbid.notification_backlog')) AS o(obj)
  LEFT JOIN pg_description d ON d.objoid = o.obj::regclass AND d.classoid = 'pg_class'::regclass AND d.objsubid = 0
 ORDER BY o.obj;
SELECT obj_description('lagbid.task_timeline(bigint)'::regprocedure, 'pg_proc') IS NOT NULL AS commented;

SELECT * FROM lagbid.check_invariants();
RESET lagbid.clock;
