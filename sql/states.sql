-- The state machines: every pair of states of every machine is tried
SELECT fresh_market();
-- directly against the trigger; exactly the pairs in lagbid.transitions()
-- are accepted, every other one is refused with LB301.  Rows are put into
-- the "from" state with triggers disabled (session_replication_role), then
-- the "to" update runs with the trigger on.
BEGIN;
INSERT INTO lagbid.provider (node_id, multiaddrs, region)
    VALUES ('states-node', '{}', 'eu') RETURNING id AS provider \gset
INSERT INTO lagbid.task (owner, price_min, price_max, duration_hours)
    VALUES ('states-owner', 1, 2, 1) RETURNING id AS task \gset
INSERT INTO lagbid.bid (task_id, provider_id, price)
    VALUES (:task, :provider, 1) RETURNING id AS bid \gset
INSERT INTO lagbid.job (task_id, bid_id, provider_id, price)
    VALUES (:task, :bid, :provider, 1) RETURNING id AS job \gset
-- a service job's lease (issue 21)
INSERT INTO lagbid.lease (job_id, task_id, provider_id, owner, name, reserved_until, started_at,
                          startup_deadline, window_s, price, price_max, taken)
    VALUES (:job, :task, :provider, 'states-owner', 'statesleaseaaaaa', now(), now(), now(), 60, 1, 2, 2)
    RETURNING id AS lease \gset

CREATE TEMP TABLE tried (machine text, from_state text, to_state text, accepted boolean, outcome text);

CREATE FUNCTION pg_temp.try_pair(machine text, tbl text, id bigint, from_state text, to_state text)
RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    outcome text := 'ok';
BEGIN
    PERFORM set_config('session_replication_role', 'replica', true);
    EXECUTE format('UPDATE lagbid.%I SET state = %L WHERE id = %s', tbl, from_state, id);
    PERFORM set_config('session_replication_role', 'origin', true);
    BEGIN
        EXECUTE format('UPDATE lagbid.%I SET state = %L WHERE id = %s', tbl, to_state, id);
    EXCEPTION WHEN OTHERS THEN
        outcome := SQLSTATE;
    END;
    INSERT INTO tried VALUES (machine, from_state, to_state, outcome = 'ok', outcome);
END $$;

SELECT pg_temp.try_pair('task', 'task', :task, f::text, t::text)
  FROM unnest(enum_range(NULL::lagbid.task_state)) f, unnest(enum_range(NULL::lagbid.task_state)) t
 WHERE f <> t \g /dev/null
SELECT pg_temp.try_pair('bid', 'bid', :bid, f::text, t::text)
  FROM unnest(enum_range(NULL::lagbid.bid_state)) f, unnest(enum_range(NULL::lagbid.bid_state)) t
 WHERE f <> t \g /dev/null
SELECT pg_temp.try_pair('job', 'job', :job, f::text, t::text)
  FROM unnest(enum_range(NULL::lagbid.job_state)) f, unnest(enum_range(NULL::lagbid.job_state)) t
 WHERE f <> t \g /dev/null
SELECT pg_temp.try_pair('lease', 'lease', :lease, f::text, t::text)
  FROM unnest(enum_range(NULL::lagbid.lease_state)) f, unnest(enum_range(NULL::lagbid.lease_state)) t
 WHERE f <> t \g /dev/null

-- accepted and refused pairs per machine
SELECT machine, count(*) AS pairs,
       count(*) FILTER (WHERE accepted) AS accepted,
       count(*) FILTER (WHERE NOT accepted AND outcome = 'LB301') AS refused_lb301
  FROM tried GROUP BY machine ORDER BY machine;
-- no pair disagrees with the transition table (expect no rows)
SELECT t.machine, t.from_state, t.to_state, t.outcome
  FROM tried t
  LEFT JOIN lagbid.transitions() x USING (machine, from_state, to_state)
 WHERE t.accepted <> (x.machine IS NOT NULL) OR (NOT t.accepted AND t.outcome <> 'LB301');
-- every accepted transition was logged with its from and to state
SELECT count(*) AS logged FROM lagbid.event e
  JOIN tried t ON t.accepted AND e.entity = t.machine AND e.from_state = t.from_state
              AND e.to_state = t.to_state
 WHERE e.entity_id IN (:task, :bid, :job, :lease);
ROLLBACK;

-- what a refusal says (ids are deterministic: fresh_market() restarted them)
BEGIN;
INSERT INTO lagbid.task (owner, price_min, price_max, duration_hours)
    VALUES ('states-owner', 1, 2, 1) RETURNING id AS task \gset
\set VERBOSITY default
UPDATE lagbid.task SET state = 'completed' WHERE id = :task;
ROLLBACK;
-- a row must be born in its machine's first state
SELECT try($$INSERT INTO lagbid.task (owner, price_min, price_max, duration_hours, state)
             VALUES ('states-owner', 1, 2, 1, 'processing')$$);
-- births are logged with no from_state, and the actor defaults to the current user
BEGIN;
INSERT INTO lagbid.task (owner, price_min, price_max, duration_hours)
    VALUES ('states-owner', 1, 2, 1) RETURNING id AS task \gset
SELECT entity, from_state, to_state, actor = current_user AS actor_is_user
  FROM lagbid.event WHERE entity = 'task' AND entity_id = :task;
ROLLBACK;
-- the diagrams are generated from the same table
SELECT lagbid.state_diagram('bid');
SELECT lagbid.state_diagram('lease');
SELECT try($$SELECT lagbid.state_diagram('auction')$$);
SELECT machine, count(*) FROM lagbid.transitions() GROUP BY machine ORDER BY machine;
