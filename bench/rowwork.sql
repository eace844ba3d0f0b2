-- Baseline of workload 3 (issue 15 item 1): the row work of one task's life,
-- in plain SQL with no checks, in the same 9 statements as bench/lifecycle.sql
-- (autocommit, so the same 8 commits).  Tables rw.* (bench/setup.sql) have
-- the columns, defaults, CHECK constraints, indexes and foreign keys of
-- lagbid's; no triggers.  The rows are the ones the contract asks for, each
-- written once in its final form where one statement can do so:
--   publish   task +1, escrow account +1, owner balance 1 update, escrow
--             ledger tx +1 with 2 entries, owner_load 1 update, 2 events
--   bid (x2)  bid +1, event +1, task bid_count 1 update, provider slot 1 update
--   closing   bid +1 (as won), 2 bids open -> won, job +3, task 1 update
--             (count, closed, allocated), provider slot 1 update,
--             3 bid_won notifications, 9 events
--   submit    job 1 update, task jobs_pending 1 update, 1 event (x3)
--   finalize  3 jobs completed, task completed, 4 ledger tx (3 payments,
--             1 refund) with 8 entries, 5 account updates (escrow, 3
--             providers, owner), 3 provider slots released, owner_load
--             1 update, 4 notifications, 4 events
-- (The lifecycle writes these rows and some more updates of the same rows:
-- docs/benchmarks.md lists them.)
\set p random(1, :nproviders - 2)
WITH ids AS (SELECT nextval(pg_get_serial_sequence('rw.task', 'id')) AS tid,
                    nextval(pg_get_serial_sequence('rw.account', 'id')) AS eid,
                    (SELECT id FROM rw.account WHERE kind = 'owner' AND name = 'owner-' || :client_id) AS oid),
     esc AS (INSERT INTO rw.account (id, kind, name, balance) OVERRIDING SYSTEM VALUE
             SELECT eid, 'escrow', 'task:' || tid, 30 FROM ids),
     t AS (INSERT INTO rw.task (id, owner, state, resources, cpu, memory_gb, region, price_min, price_max,
                                duration_hours, bid_limit, replicas, escrow_account_id, funding_account_id,
                                opened_at, bidding_deadline) OVERRIDING SYSTEM VALUE
           SELECT tid, 'owner-' || :client_id, 'accepting_bids', '{"cpu": 2, "memory_gb": 4}', 2, 4, 'eu', 1, 10,
                  1, 3, 3, eid, oid, now(), now() + interval '10 minutes' FROM ids),
     tx AS (INSERT INTO rw.ledger_tx (kind, amount, task_id, memo)
            SELECT 'escrow', 30, tid, 'task budget: price_max x duration_hours x replicas' FROM ids RETURNING id),
     le AS (INSERT INTO rw.ledger_entry (tx_id, account_id, amount)
            SELECT tx.id, v.a, v.m FROM tx, ids, LATERAL (VALUES (ids.oid, -30), (ids.eid, 30)) v(a, m)),
     ob AS (UPDATE rw.account SET balance = balance - 30 WHERE id = (SELECT oid FROM ids)),
     ol AS (UPDATE rw.owner_load SET live_tasks = live_tasks + 1 WHERE owner = 'owner-' || :client_id),
     ev AS (INSERT INTO rw.event (entity, entity_id, from_state, to_state, actor, reason)
            SELECT 'task', tid, v.f, v.s, current_user, v.r
              FROM ids, LATERAL (VALUES (NULL, 'created', 'published'), ('created', 'accepting_bids', 'opened')) v(f, s, r))
SELECT tid AS task FROM ids \gset
WITH b AS (INSERT INTO rw.bid (task_id, provider_id, price) VALUES (:task::bigint, :p, 5) RETURNING id),
     ev AS (INSERT INTO rw.event (entity, entity_id, to_state, actor, reason)
            SELECT 'bid', id, 'open', current_user, 'placed' FROM b),
     tk AS (UPDATE rw.task SET bid_count = bid_count + 1 WHERE id = :task::bigint),
     pv AS (UPDATE rw.provider SET slots_used = slots_used + 1 WHERE id = :p)
SELECT id FROM b;
WITH b AS (INSERT INTO rw.bid (task_id, provider_id, price) VALUES (:task::bigint, :p + 1, 6) RETURNING id),
     ev AS (INSERT INTO rw.event (entity, entity_id, to_state, actor, reason)
            SELECT 'bid', id, 'open', current_user, 'placed' FROM b),
     tk AS (UPDATE rw.task SET bid_count = bid_count + 1 WHERE id = :task::bigint),
     pv AS (UPDATE rw.provider SET slots_used = slots_used + 1 WHERE id = :p + 1)
SELECT id FROM b;
WITH b AS (INSERT INTO rw.bid (task_id, provider_id, price, state, decided_at, reason)
           VALUES (:task::bigint, :p + 2, 7, 'won', now(), 'allocated') RETURNING id, provider_id, price),
     won AS (UPDATE rw.bid SET state = 'won', decided_at = now(), reason = 'allocated'
              WHERE task_id = :task::bigint AND state = 'open' RETURNING id, provider_id, price),
     allb AS (SELECT * FROM won UNION ALL SELECT * FROM b),
     j AS (INSERT INTO rw.job (task_id, bid_id, provider_id, price, deadline)
           SELECT :task::bigint, id, provider_id, price, now() + interval '1 hour' FROM allb
           RETURNING id, bid_id, provider_id, price, deadline),
     tk AS (UPDATE rw.task SET bid_count = bid_count + 1, state = 'processing', jobs_pending = 3,
                   closed_at = now(), allocated_at = now(), processing_deadline = now() + interval '1 hour'
             WHERE id = :task::bigint),
     pv AS (UPDATE rw.provider SET slots_used = slots_used + 1 WHERE id = :p + 2),
     n AS (INSERT INTO rw.notification (recipient, kind, task_id, bid_id, job_id, payload, recipient_kind)
           SELECT pr.node_id, 'bid_won', :task::bigint, j.bid_id, j.id,
                  jsonb_build_object('kind', 'bid_won', 'price', j.price, 'bid_id', j.bid_id, 'job_id', j.id,
                                     'task_id', :task::bigint, 'deadline', j.deadline, 'workload', NULL,
                                     'recipient', pr.node_id, 'recipient_kind', 'provider'), 'provider'
             FROM j JOIN rw.provider pr ON pr.id = j.provider_id),
     ev AS (INSERT INTO rw.event (entity, entity_id, from_state, to_state, actor, reason)
            SELECT e, i, f, s, current_user, r FROM (
                SELECT 'bid' AS e, id AS i, NULL AS f, 'open' AS s, 'placed' AS r FROM b
                UNION ALL SELECT 'task', :task::bigint, 'accepting_bids', 'bid_closed', 'bid_limit_reached'
                UNION ALL SELECT 'bid', id, 'open', 'won', 'allocated' FROM allb
                UNION ALL SELECT 'job', id, NULL, 'processing', 'allocated' FROM j
                UNION ALL SELECT 'task', :task::bigint, 'bid_closed', 'processing', 'allocated') x)
SELECT count(*) FROM j;
SELECT j[1] AS j1, j[2] AS j2, j[3] AS j3
  FROM (SELECT array_agg(id ORDER BY id) AS j FROM rw.job WHERE task_id = :task::bigint) s \gset
WITH j AS (UPDATE rw.job SET state = 'submitted', result_uri = 'ipfs://bench/result',
                  result_hash = 'bench-result-hash', submitted_at = now() WHERE id = :j1::bigint RETURNING id),
     tk AS (UPDATE rw.task SET jobs_pending = jobs_pending - 1 WHERE id = :task::bigint)
INSERT INTO rw.event (entity, entity_id, from_state, to_state, actor, reason)
SELECT 'job', id, 'processing', 'submitted', current_user, 'result_submitted' FROM j;
WITH j AS (UPDATE rw.job SET state = 'submitted', result_uri = 'ipfs://bench/result',
                  result_hash = 'bench-result-hash', submitted_at = now() WHERE id = :j2 RETURNING id),
     tk AS (UPDATE rw.task SET jobs_pending = jobs_pending - 1 WHERE id = :task::bigint)
INSERT INTO rw.event (entity, entity_id, from_state, to_state, actor, reason)
SELECT 'job', id, 'processing', 'submitted', current_user, 'result_submitted' FROM j;
WITH j AS (UPDATE rw.job SET state = 'submitted', result_uri = 'ipfs://bench/result',
                  result_hash = 'bench-result-hash', submitted_at = now() WHERE id = :j3 RETURNING id),
     tk AS (UPDATE rw.task SET jobs_pending = jobs_pending - 1 WHERE id = :task::bigint)
INSERT INTO rw.event (entity, entity_id, from_state, to_state, actor, reason)
SELECT 'job', id, 'processing', 'submitted', current_user, 'result_submitted' FROM j;
WITH j AS (UPDATE rw.job SET state = 'completed', is_leader = (id = :j1::bigint), paid = price, finished_at = now()
            WHERE task_id = :task::bigint RETURNING id, provider_id, price, is_leader),
     pay AS (SELECT j.*, a.id AS acct, pr.node_id
               FROM j JOIN rw.provider pr ON pr.id = j.provider_id
               JOIN rw.account a ON a.kind = 'provider' AND a.name = pr.node_id),
     t AS (UPDATE rw.task SET state = 'completed', leader_job_id = :j1::bigint, finished_at = now()
            WHERE id = :task::bigint RETURNING escrow_account_id AS esc, funding_account_id AS own, owner),
     refund AS (SELECT 30 - sum(price) AS amount FROM pay),
     tx AS (INSERT INTO rw.ledger_tx (kind, amount, task_id, job_id, memo)
            SELECT 'payment', price, :task::bigint, id, 'job ' || id FROM pay
            UNION ALL SELECT 'refund', amount, :task::bigint, NULL, NULL FROM refund
            RETURNING id, job_id, amount),
     le AS (INSERT INTO rw.ledger_entry (tx_id, account_id, amount)
            SELECT tx.id, v.a, v.m FROM tx LEFT JOIN pay ON pay.id = tx.job_id CROSS JOIN t,
                   LATERAL (VALUES (t.esc, -tx.amount), (coalesce(pay.acct, t.own), tx.amount)) v(a, m)),
     ab AS (UPDATE rw.account a SET balance = balance + d.m
              FROM (SELECT acct AS id, price AS m FROM pay
                    UNION ALL SELECT t.own, refund.amount FROM t, refund
                    UNION ALL SELECT t.esc, -30 FROM t) d
             WHERE a.id = d.id),
     pv AS (UPDATE rw.provider SET slots_used = slots_used - 1 WHERE id IN (SELECT provider_id FROM j)),
     ol AS (UPDATE rw.owner_load SET live_tasks = live_tasks - 1 WHERE owner = (SELECT owner FROM t)),
     n AS (INSERT INTO rw.notification (recipient, kind, task_id, job_id, payload, recipient_kind)
           SELECT node_id, 'job_paid', :task::bigint, id,
                  jsonb_build_object('kind', 'job_paid', 'amount', price, 'job_id', id, 'leader', is_leader,
                                     'task_id', :task::bigint, 'recipient', node_id, 'recipient_kind', 'provider'),
                  'provider'::lagbid.holder_kind FROM pay
           UNION ALL
           SELECT owner, 'task_completed', :task::bigint, :j1::bigint,
                  jsonb_build_object('kind', 'task_completed', 'job_id', :j1::bigint, 'task_id', :task::bigint,
                                     'recipient', owner, 'recipient_kind', 'owner'), 'owner'::lagbid.holder_kind FROM t)
INSERT INTO rw.event (entity, entity_id, from_state, to_state, actor, reason)
SELECT 'job', id, 'submitted', 'completed', current_user, 'elected' FROM j
UNION ALL SELECT 'task', :task::bigint, 'processing', 'completed', current_user, 'winner_elected';
