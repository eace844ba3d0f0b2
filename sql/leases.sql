-- Service spaces (issue 21, docs/0.4/spaces.md): kind and the service
-- workload, leases and their states, endpoint rules, who may call what,
-- probes and their signatures, settlement window by window (up, down,
-- unprobed, the 80 % and majority edges), three downs -> unstable and the
-- re-auction, expiry pro rata, extension, startup timeout, teardown, money
-- to the unit.  Windows are 60 s under the market clock: nothing sleeps.
--
-- Provider 1 holds a real Ed25519 key (test/vectors/probes.sh made it with
-- openssl): its front proxy's signatures over probe_message(lease, nonce,
-- status) for the nonces 1..10 (status 200) and 1 (status 503) are below;
-- the test pins each probe's nonce to one of them.
SELECT fresh_market();
-- the windows below are written in UTC
SET timezone = 'UTC';
SET lagbid.clock = '2030-01-01 12:00:00+00';
SET lagbid.market_name = 'regress-market';
SET lagbid.probe_window = 60;
SET lagbid.probers_per_window = 3;
DO $$
DECLARE
    r text;
BEGIN
    FOREACH r IN ARRAY ARRAY['ls_alice', 'ls_bob'] LOOP
        EXECUTE format('CREATE ROLE %I LOGIN IN ROLE lagbid_owner', r);
    END LOOP;
    FOREACH r IN ARRAY ARRAY['ls_cp1', 'ls_cp2'] LOOP
        EXECUTE format('CREATE ROLE %I LOGIN IN ROLE lagbid_provider', r);
    END LOOP;
END $$;
CREATE TEMP TABLE sig (nonce int, status int, s text);
GRANT SELECT ON sig TO PUBLIC;
INSERT INTO sig VALUES
    (1, 200, 'pnUa0q4ugp0YAlJss5ZxqcU6V3HnVAlJuADNvZ58g3hqz9nhlr7BCjPJ/kAw2N+zFyuLIJSR7sXE3+QdzTaYBQ=='),
    (2, 200, 'CuZTgccH1TTGPrbWDL/YCcEmmh5THJvPMdvy+1JrxcUu5r9si8tcLL+GnL4eym4HUaCIkyLWWnccBBOBBaNYBg=='),
    (3, 200, 'Q3X1teoYG6HyfFhZp3Vo1j5vcBIjeShV8ZmxEcIzLaqsoULPbWEr1gnb6Pwfm7h9CmMept7jcbmgizsgFovKAg=='),
    (4, 200, 'EokgqlhL6NA4tmHMeVj637cIMkNjMaMgUWUyW3zkv4S/iepjhrToaOuFo9sM2iQIFnjfpNEuNOFK0EItW9vaCw=='),
    (5, 200, 'BB/8IOIev8WgIo19lNQt4EziHUTeQ5vvRfNS5i3O+hMjwtEow1evgUMFHozfbUUkPQp/+2NJezm7pHUXnYm4CQ=='),
    (6, 200, 'b/XA9dPrRn5Htc6HlZOdRGHMJ7s4g6Ohwzjd/CZsDAzBWTZxQZX+WQMjgHBtOTGb2qpTXqwhZh6vgfGu5LLuCA=='),
    (7, 200, 'P2pLWK25CQjlVNHBScCXt1/BCvLJttEPUctllZ+XRuzkIvskJ5UOdt8zW4ZEBwQYYNn5OHPRpbb0dBUwg30FDg=='),
    (8, 200, '9fYOLqv5PRqNs5RAieVNMlYfYWs2A3v3WH7nIVzOmAOvx3WIgGcOJkeuTznoTtnD/0myET9F35pAfpzVflPiDw=='),
    (9, 200, 'N7GF1D2/xCCxoGyVXzxwTqoEay+ZhggCLHcI9451g7/FSVs+qjt4G0zSEmcU2P9umLUmzoGJ43IyqIvVyhKrDw=='),
    (10, 200, '2iAQm7OCsN5TBUa6C4UbcCzWvp8eUK1/5fIyMDapx86TeIhhbk4EEhQuskshREXYlzHzIkuZYe7briYnf49JAA=='),
    (1, 503, 'Hye12mx5PqGm5vrqIPOa8Rp0QZT2bBkJGiAH8ZVRoSIfHMEnALG/6np6REd6U4s3rU3v+0Usi5t7PSwlPDWLDQ==');
-- tryp(sql): try(sql) with probe ids masked (probers are drawn at random, so
-- which probe id a prober holds is not fixed)
CREATE FUNCTION tryp(q text) RETURNS text LANGUAGE sql
    RETURN regexp_replace(try(q), 'probe \d+', 'probe #', 'g');
-- pin(probe, n): the probe's nonce becomes n (32 hex digits); up(probe, n):
-- pinned, then reported successful with the proxy's signature for n
CREATE FUNCTION pin(pid bigint, n int) RETURNS void LANGUAGE sql
    BEGIN ATOMIC UPDATE lagbid.probe SET nonce = lpad(to_hex(n), 32, '0') WHERE id = pid; END;
CREATE FUNCTION up(pid bigint, n int) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pin(pid, n);
    RETURN tryp(format('SELECT lagbid.report_probe(%s, true, 200, 12.5, %L)', pid,
                      (SELECT s FROM sig WHERE nonce = n AND status = 200)));
END $$;
CREATE FUNCTION down(pid bigint) RETURNS text LANGUAGE sql
    RETURN tryp(format('SELECT lagbid.report_probe(%s, false, 503, 3, NULL)', pid));
-- the probe of window ws assigned to provider node n (or the owner: n = 0);
-- the test's logins call it too
CREATE FUNCTION probe_of(ws timestamptz, n int) RETURNS bigint LANGUAGE sql SECURITY DEFINER
    RETURN (SELECT id FROM lagbid.probe WHERE window_start = ws
              AND prober = CASE WHEN n = 0 THEN 'alice' ELSE node(n) END ORDER BY id LIMIT 1);
CREATE VIEW lease_money AS
    SELECT l.id, l.state, l.reason, l.down_streak AS streak, l.windows_up AS up, l.windows_down AS down,
           l.windows_unprobed AS unprobed, l.taken, l.paid, l.refunded, l.returned,
           (SELECT a.balance FROM lagbid.account a JOIN lagbid.task t ON t.escrow_account_id = a.id
             WHERE t.id = l.task_id) AS escrow
      FROM lagbid.lease l ORDER BY l.id;

SELECT lagbid.deposit('alice', 1000, 'ls-1'), lagbid.deposit('bob', 1000, 'ls-2');
SELECT lagbid.register_provider('12D3KooWSCRFmQUZ3Jfe2Pkso352yTES1187UP3DDMabsNytCHBb',
                                ARRAY['/dns4/cp1.example/tcp/4001', '/ip4/203.0.113.7/tcp/4001'],
                                'eu-west', '{"cpu": 8, "memory_gb": 32}', 5) AS p1;
SELECT lagbid.deposit('12D3KooWSCRFmQUZ3Jfe2Pkso352yTES1187UP3DDMabsNytCHBb', 10, 'ls-3', holder_kind => 'provider');
SELECT cp(2) AS p2, cp(3) AS p3, cp(4) AS p4;
SELECT lagbid.bind_owner_login('alice', 'ls_alice'), lagbid.bind_owner_login('bob', 'ls_bob');
SELECT lagbid.bind_login('12D3KooWSCRFmQUZ3Jfe2Pkso352yTES1187UP3DDMabsNytCHBb', 'ls_cp1'),
       lagbid.bind_login(node(2), 'ls_cp2');

-- ---------------------------------------------------------------------------
-- 1. kind and the service workload (LB601, LB602, LB009 naming the field)
-- ---------------------------------------------------------------------------
CREATE TEMP TABLE w AS SELECT '{"command": ["app"], "service": {"port": 8000}}'::jsonb AS svc,
                              '{"command": ["app"]}'::jsonb AS batch;
SELECT try(format('SELECT lagbid.publish_task(''alice'', ''{}'', 1, 2, 1, workload => %L, kind => ''daemon'')', svc)) AS bad_kind,
       try(format('SELECT lagbid.publish_task(''alice'', ''{}'', 1, 2, 1, workload => %L, kind => ''service'')', batch)) AS service_without_service,
       try(format('SELECT lagbid.publish_task(''alice'', ''{}'', 1, 2, 1, kind => ''service'')', batch)) AS service_without_workload,
       try(format('SELECT lagbid.publish_task(''alice'', ''{}'', 1, 2, 1, workload => %L)', svc)) AS batch_with_service,
       try(format('SELECT lagbid.publish_task(''alice'', ''{}'', 1, 2, 1, replicas => 2, workload => %L, kind => ''service'')', svc)) AS two_replicas
  FROM w;
SELECT s AS service, try(format('SELECT lagbid.create_space(''alice'', ''x'', ''{}'', 1, 2, 1, workload => %L, kind => ''service'')',
                                jsonb_build_object('command', jsonb_build_array('app'), 'service', s::jsonb))) AS refused
  FROM unnest(ARRAY['{}', '[]', '{"port": 0}', '{"port": 65536}', '{"port": 80.5}', '{"port": "80"}',
                    '{"port": 80, "health_path": "healthz"}', '{"port": 80, "health_path": "/a b"}',
                    '{"port": 80, "health_path": "/é"}', '{"port": 80, "health_path": 5}',
                    format('{"port": 80, "health_path": "/%s"}', repeat('a', 256)),
                    '{"port": 80, "expected_status": 99}', '{"port": 80, "expected_status": 600}',
                    '{"port": 80, "startup_timeout_s": 0}', '{"port": 80, "startup_timeout_s": 86401}',
                    '{"port": 80, "startup_timeout_s": 1.5}', '{"port": 80, "tls": true}']) s;
-- the edges that pass
SELECT try(format('SELECT lagbid.create_space(''alice'', ''edge'', ''{}'', 1, 2, 1, workload => %L, kind => ''service'')',
               '{"command": ["app"], "service": {"port": 65535, "health_path": "/' || repeat('a', 255) ||
               '", "expected_status": 599, "startup_timeout_s": 86400}}')) AS edges_accepted;
SELECT kind FROM lagbid.space;
-- a service space keeps a service workload; a batch space cannot take one
SELECT try('SELECT lagbid.update_space(1, workload => ''{"command": ["app"]}'')') AS service_loses_service,
       try('SELECT lagbid.update_space(1, workload => ''null'')') AS service_loses_workload;
SELECT lagbid.create_space('alice', 'plain', '{}', 1, 2, 1, workload => '{"command": ["app"]}') AS batch_space;
SELECT try('SELECT lagbid.update_space(2, workload => ''{"command": ["app"], "service": {"port": 80}}'')') AS batch_gets_service;
-- through the API, kind is the last argument
SET SESSION AUTHORIZATION ls_bob;
SELECT try($$SELECT lagbid_api.create_space('b', '{}', 1, 2, 1, workload => '{"command": ["app"], "service": {"port": 80}}', kind => 'nope')$$) AS api_bad_kind;
RESET SESSION AUTHORIZATION;
SELECT lagbid.tick() ->> 'spaces_published' AS published;
SELECT id, space_id, kind, replicas FROM lagbid.task ORDER BY id;
SELECT lagbid.cancel_task(id) FROM lagbid.task;
SELECT fresh_market();
SELECT lagbid.deposit('alice', 1000, 'ls-1'), lagbid.deposit('bob', 1000, 'ls-2');
SELECT lagbid.register_provider('12D3KooWSCRFmQUZ3Jfe2Pkso352yTES1187UP3DDMabsNytCHBb',
                                ARRAY['/dns4/cp1.example/tcp/4001', '/ip4/203.0.113.7/tcp/4001'],
                                'eu-west', '{"cpu": 8, "memory_gb": 32}', 5) AS p1;
SELECT lagbid.deposit('12D3KooWSCRFmQUZ3Jfe2Pkso352yTES1187UP3DDMabsNytCHBb', 10, 'ls-3', holder_kind => 'provider');
SELECT cp(2) AS p2, cp(3) AS p3, cp(4) AS p4;
SELECT lagbid.bind_owner_login('alice', 'ls_alice'), lagbid.bind_owner_login('bob', 'ls_bob');
SELECT lagbid.bind_login('12D3KooWSCRFmQUZ3Jfe2Pkso352yTES1187UP3DDMabsNytCHBb', 'ls_cp1'),
       lagbid.bind_login(node(2), 'ls_cp2');

-- ---------------------------------------------------------------------------
-- 2. the lease's states are data beside the others
-- ---------------------------------------------------------------------------
SELECT from_state, to_state FROM lagbid.transitions() WHERE machine = 'lease' ORDER BY 1, 2;
SELECT from_state, to_state FROM lagbid.transitions() WHERE machine = 'job' AND to_state = 'completed' ORDER BY 1;
SELECT lagbid.state_diagram('lease') ~ 'start -> starting' AS diagram_starts,
       lagbid.state_diagram('lease') ~ 'degraded -> unstable' AS diagram_unstable;

-- ---------------------------------------------------------------------------
-- 3. a service space: allocated, its job is a lease; no election
-- ---------------------------------------------------------------------------
SELECT lagbid.create_space('alice', 'web', '{}', 1, 2, 1, collateral_ratio => 0.5, kind => 'service',
                           workload => '{"command": ["app"], "service": {"port": 8000, "health_path": "/healthz", "startup_timeout_s": 600}}') AS space;
SELECT lagbid.tick() ->> 'spaces_published' AS published;
SELECT lagbid.place_bid(1, 1, 1.5) AS bid;
SELECT lagbid.close_bidding(1);
SELECT id, kind, state, processing_deadline FROM lagbid.task;
-- the name is base32(sha256('regress-market:1')), as coreutils computed it
SELECT id, job_id, name, name = 'uqineqej4nq7stak' AS name_as_computed, state, reserved_until,
       startup_deadline, window_s, price, taken FROM lagbid.lease;
SELECT lagbid.lease_name(1);
SELECT entity, entity_id, from_state, to_state, reason FROM lagbid.event WHERE entity = 'lease';
-- a state the table does not allow is refused by the trigger
SELECT try('UPDATE lagbid.lease SET state = ''expired'' WHERE id = 1') AS starting_to_expired;
-- the election never runs on it: no result, no finalize, the tick leaves it
SELECT try('SELECT lagbid.submit_result(1, ''file:///r'', ''sha256:' || repeat('a', 64) || ''')') AS submit,
       try('SELECT lagbid.finalize(1)') AS finalize;
SET lagbid.clock = '2030-01-01 12:09:59+00';
SELECT lagbid.tick() ->> 'finalized' AS finalized;
SELECT state, processing_deadline FROM lagbid.task;
SET lagbid.clock = '2030-01-01 12:00:00+00';
-- the provider sees its lease
SET SESSION AUTHORIZATION ls_cp1;
SELECT lease_id, job_id, task_id, name, state, endpoint, port, health_path, expected_status, startup_timeout_s,
       workload_sha256 IS NOT NULL AS has_workload FROM lagbid_api.my_leases();
RESET SESSION AUTHORIZATION;
SET SESSION AUTHORIZATION ls_cp2;
SELECT count(*) AS others_see_none FROM lagbid_api.my_leases();
RESET SESSION AUTHORIZATION;

-- ---------------------------------------------------------------------------
-- 4. the endpoint: http(s), no userinfo, the lease by host or path, on a
--    host the provider registered (or below a DNS one)
-- ---------------------------------------------------------------------------
SELECT u AS url, try(format('SELECT lagbid.report_endpoint(1, %L)', u)) AS outcome
  FROM unnest(ARRAY['ftp://uqineqej4nq7stak.cp1.example/',
                    'uqineqej4nq7stak.cp1.example',
                    'https://user@uqineqej4nq7stak.cp1.example/',
                    'https://uqineqej4nq7stak.cp1.example:0/',
                    'https://uqineqej4nq7stak.cp1.example:99999/',
                    'https://uqineqej4nq7stak.cp1.example:8x/',
                    'https://cp1.example/',
                    'https://cp1.example/l/aaaaaaaaaaaaaaaa/',
                    'https://cp1.example/l/uqineqej4nq7stak',
                    'https://uqineqej4nq7stak.evil.example/',
                    'https://uqineqej4nq7stak.cp1.example.evil.example/',
                    'https://uqineqej4nq7stak.xcp1.example/',
                    'http://10.0.0.2/l/uqineqej4nq7stak/',
                    'http://x.203.0.113.7/l/uqineqej4nq7stak/',
                    'https://uqineqej4nq7stak.cp1.example/ space',
                    'http://[::1]/l/uqineqej4nq7stak/']) u;
-- another provider cannot report it (the API checks whose job it is)
SET SESSION AUTHORIZATION ls_cp2;
SELECT try('SELECT lagbid_api.report_endpoint(1, ''https://uqineqej4nq7stak.cp1.example/'')') AS not_its_job;
RESET SESSION AUTHORIZATION;
-- its provider can: by host on a subdomain of its DNS name
SET SESSION AUTHORIZATION ls_cp1;
SELECT lagbid_api.report_endpoint(1, 'https://uqineqej4nq7stak.px.CP1.example:8443/');
RESET SESSION AUTHORIZATION;
SELECT state, endpoint, ready_at, settled_until FROM lagbid.lease;
-- again (an agent restarted): same state, the new URL; by path on its IP
SELECT lagbid.report_endpoint(1, 'http://203.0.113.7:8480/l/uqineqej4nq7stak/');
SELECT state, endpoint, ready_at FROM lagbid.lease;
SELECT kind, recipient, payload ->> 'lease_id' AS lease FROM lagbid.notification
 WHERE kind IN ('lease_started', 'endpoint_ready') ORDER BY id;
-- a live lease is not given up with fail_job
SELECT try('SELECT lagbid.fail_job(1, ''bored'')') AS fail_ready_lease;

-- ---------------------------------------------------------------------------
-- 5. probes: assignment, who reports, what a success must prove
-- ---------------------------------------------------------------------------
SELECT lagbid.tick() ->> 'probes_assigned' AS assigned;
SELECT prober_kind, prober = ANY (ARRAY[node(2), node(3), node(4)]) AS another_provider, window_start,
       window_end, nonce ~ '^[0-9a-f]{32}$' AS nonce_ok FROM lagbid.probe ORDER BY prober;
SELECT count(DISTINCT nonce) AS distinct_nonces FROM lagbid.probe;
-- a second tick in the same window assigns nobody twice
SELECT lagbid.tick() ->> 'probes_assigned' AS assigned_again;
-- one probe_assigned per prober per tick, naming its probes
SELECT kind, count(*), sum(jsonb_array_length(payload -> 'probe_ids')) AS probes_named,
       bool_and(payload -> 'probe_ids' = (SELECT jsonb_agg(p.id) FROM lagbid.probe p WHERE p.prober = n.recipient)) AS its_own
  FROM lagbid.notification n WHERE kind = 'probe_assigned' GROUP BY kind;
SET SESSION AUTHORIZATION ls_cp2;
SELECT lease_name, endpoint, window_start, window_end FROM lagbid_api.my_probes();
-- only the assigned prober may report (LB608), a missing probe is LB607
SELECT tryp(format('SELECT lagbid_api.report_probe(%s, false)', probe_of('2030-01-01 12:00', 3))) AS not_mine,
       tryp('SELECT lagbid_api.report_probe(999, false)') AS no_such_probe;
RESET SESSION AUTHORIZATION;
-- a success needs the provider's signature over (lease, nonce, status)
SELECT pin(probe_of('2030-01-01 12:00', 2), 1);
SELECT tryp(format('SELECT lagbid.report_probe(%s, true, 200, 10, NULL)', probe_of('2030-01-01 12:00', 2))) AS no_signature,
       tryp(format('SELECT lagbid.report_probe(%s, true, 200, 10, ''abc'')', probe_of('2030-01-01 12:00', 2))) AS not_base64,
       tryp(format('SELECT lagbid.report_probe(%s, true, 200, 10, %L)', probe_of('2030-01-01 12:00', 2),
                  (SELECT s FROM sig WHERE nonce = 2 AND status = 200))) AS other_nonce,
       tryp(format('SELECT lagbid.report_probe(%s, true, 503, 10, %L)', probe_of('2030-01-01 12:00', 2),
                  (SELECT s FROM sig WHERE nonce = 1 AND status = 200))) AS other_status,
       tryp(format('SELECT lagbid.report_probe(%s, true, NULL, 10, %L)', probe_of('2030-01-01 12:00', 2),
                  (SELECT s FROM sig WHERE nonce = 1 AND status = 200))) AS no_status,
       tryp(format('SELECT lagbid.report_probe(%s, false, 700, 10, NULL)', probe_of('2030-01-01 12:00', 2))) AS bad_status;
-- the same signature is a proof: accepted through the API from the prober
SET SESSION AUTHORIZATION ls_cp2;
SELECT tryp(format('SELECT lagbid_api.report_probe(%s, true, 200, 10, %L)', probe_of('2030-01-01 12:00', 2),
                  (SELECT s FROM sig WHERE nonce = 1 AND status = 200))) AS signed;
-- once
SELECT tryp(format('SELECT lagbid_api.report_probe(%s, false)', probe_of('2030-01-01 12:00', 2))) AS twice;
SELECT count(*) AS left_to_report FROM lagbid_api.my_probes();
RESET SESSION AUTHORIZATION;
SELECT up(probe_of('2030-01-01 12:00', 3), 2), up(probe_of('2030-01-01 12:00', 4), 3);
-- a window that has closed takes no report, and settles only once it closed
SELECT try('SELECT lagbid.settle_window(1, ''2030-01-01 12:00'')') AS not_closed_yet;
SET lagbid.clock = '2030-01-01 12:01:00+00';
SELECT try('SELECT lagbid.settle_window(1, ''2030-01-01 12:00:30'')') AS not_a_window_start;
SELECT lagbid.settle_window(1, '2030-01-01 12:00') AS w0, lagbid.settle_window(1, '2030-01-01 12:00') AS w0_again;
SELECT * FROM lease_money;

-- ---------------------------------------------------------------------------
-- 6. settlement window by window
-- ---------------------------------------------------------------------------
-- w1 12:01: one prober up, one down, one silent: a tie is no majority -> down;
-- the bond is slashed once (service_down_window, the window as evidence); the
-- silent prober counts against itself
SELECT lagbid.tick() ->> 'probes_assigned' AS assigned;
SELECT up(probe_of('2030-01-01 12:01', 2), 4), down(probe_of('2030-01-01 12:01', 3));
SET lagbid.clock = '2030-01-01 12:02:00+00';
SELECT tryp(format('SELECT lagbid.report_probe(%s, false, NULL, NULL, NULL)', probe_of('2030-01-01 12:01', 4))) AS too_late;
SELECT lagbid.tick() ->> 'windows_settled' AS settled;
SELECT * FROM lease_money;
SELECT node_id = node(4) AS silent_one, probes_missed FROM lagbid.provider WHERE probes_missed > 0;
SELECT bond, bond_state FROM lagbid.bid;
SELECT kind, payload ->> 'reason' AS reason, payload ->> 'evidence' AS evidence FROM lagbid.notification
 WHERE kind IN ('job_slashed', 'lease_degraded') ORDER BY id;
-- w2 12:02: only the owner reports, five probes, four up: 80 % -> it says up -> up, ready again
SET SESSION AUTHORIZATION ls_alice;
SELECT count(*) AS owner_probes FROM (SELECT lagbid_api.probe_my_lease(1) FROM generate_series(1, 5)) p;
SELECT try('SELECT lagbid_api.probe_my_lease(99)') AS not_her_space;
RESET SESSION AUTHORIZATION;
SET SESSION AUTHORIZATION ls_bob;
SELECT try('SELECT lagbid_api.probe_my_lease(1)') AS not_his_space;
RESET SESSION AUTHORIZATION;
SELECT up(id, 4 + row_number() OVER (ORDER BY id)::int) AS owner_up FROM lagbid.probe
 WHERE prober = 'alice' ORDER BY id LIMIT 4;
SELECT max(id) AS owner_last FROM lagbid.probe WHERE prober = 'alice' \gset
SET SESSION AUTHORIZATION ls_alice;
SELECT tryp('SELECT lagbid_api.report_probe(' || :owner_last || ', false, 503)') AS owner_down;
RESET SESSION AUTHORIZATION;
SET lagbid.clock = '2030-01-01 12:03:00+00';
SELECT lagbid.tick() ->> 'windows_settled' AS settled;
SELECT window_start, outcome, probers, reported, paid, refunded FROM lagbid.lease_window ORDER BY window_start;
SELECT state, down_streak FROM lagbid.lease;
-- w3 12:03: the owner five probes, three up: 60 % -> says down; the providers silent -> down
SELECT lagbid.probe_my_lease(1) IS NOT NULL FROM generate_series(1, 5);
SELECT up(id, 8 + row_number() OVER (ORDER BY id)::int) FROM lagbid.probe
 WHERE prober = 'alice' AND window_start = '2030-01-01 12:03' ORDER BY id LIMIT 2;
SELECT pin(probe_of('2030-01-01 12:03', 0), 9);
SELECT down(id) FROM lagbid.probe WHERE prober = 'alice' AND window_start = '2030-01-01 12:03' AND reported_at IS NULL
 ORDER BY id LIMIT 2;
SELECT up(id, 10) FROM lagbid.probe WHERE prober = 'alice' AND window_start = '2030-01-01 12:03' AND reported_at IS NULL;
-- w4 12:04: nobody reports -> unprobed: paid as up, the streak unchanged
SET lagbid.clock = '2030-01-01 12:04:00+00';
SELECT lagbid.tick() ->> 'windows_settled' AS settled;
SET lagbid.clock = '2030-01-01 12:05:00+00';
SELECT lagbid.tick() ->> 'windows_settled' AS settled;
SELECT window_start, outcome, probers, reported, paid, refunded FROM lagbid.lease_window ORDER BY window_start;
SELECT * FROM lease_money;
SELECT * FROM lagbid.check_invariants();
-- three downs in a row: degraded -> unstable, payment stops, the rest back to the space
SELECT down(probe_of('2030-01-01 12:05', 2));
SET lagbid.clock = '2030-01-01 12:06:00+00';
SELECT lagbid.tick() ->> 'windows_settled' AS settled;
SELECT state, down_streak FROM lagbid.lease;
SELECT down(probe_of('2030-01-01 12:06', 3));
SET lagbid.clock = '2030-01-01 12:07:00+00';
SELECT lagbid.tick() - ARRAY['failed', 'deferred', 'allocated', 'finalized', 'bidding_closed', 'failed_no_bids',
                             'spaces_expired', 'spaces_unfunded', 'failed_no_result', 'spaces_published',
                             'tasks_superseded'] AS tick;
SELECT * FROM lease_money;
SELECT from_state, to_state, reason FROM lagbid.event WHERE entity = 'lease' ORDER BY id;
SELECT kind, recipient_kind, payload ->> 'reason' AS reason FROM lagbid.notification
 WHERE kind IN ('lease_unstable', 'lease_expired') ORDER BY id;
SELECT balance AS space_escrow_gets_the_rest FROM lagbid.account WHERE kind = 'escrow' AND name = 'space:1';
SELECT count(*) AS no_more_probes FROM lagbid.probe WHERE window_start >= '2030-01-01 12:07';
-- settle_window of a window after the end: the lease is not live
SELECT try('SELECT lagbid.settle_window(1, ''2030-01-01 12:07'')') AS after_the_end;
-- the provider tears it down: the job and the task fail with it
SELECT try('SELECT lagbid.report_teardown(2)') AS no_such_lease;
SET SESSION AUTHORIZATION ls_cp1;
SELECT lagbid_api.report_teardown(1);
SELECT try('SELECT lagbid_api.report_teardown(1)') AS twice;
SELECT count(*) AS none_left FROM lagbid_api.my_leases();
RESET SESSION AUTHORIZATION;
SELECT l.state AS lease, j.state AS job, j.outcome, t.state AS task, t.reason FROM lagbid.lease l
  JOIN lagbid.job j ON j.id = l.job_id JOIN lagbid.task t ON t.id = l.task_id;
SELECT * FROM lagbid.check_invariants();
-- the owner re-auctions the remaining hours and gets the new endpoint
SELECT lagbid.deposit(node(2), 10, 'ls-4', holder_kind => 'provider');
SELECT lagbid.trigger_space(1) AS task;
SELECT lagbid.place_bid(2, 2, 1) AS bid;
SELECT lagbid.close_bidding(2);
SELECT lagbid.report_endpoint(2, 'http://10.0.0.2/l/' || lagbid.lease_name(2) || '/');
SET SESSION AUTHORIZATION ls_alice;
SELECT lease_id, task_id, job_id, lease_name, state,
       endpoint ~ '^http://10.0.0.2/l/' AS new_endpoint, windows_up, windows_down, windows_unprobed, down_streak, paid, refunded
  FROM lagbid_api.space_status(1);
RESET SESSION AUTHORIZATION;
SET SESSION AUTHORIZATION ls_bob;
SELECT try('SELECT * FROM lagbid_api.space_status(1)') AS not_his;
RESET SESSION AUTHORIZATION;

-- ---------------------------------------------------------------------------
-- 7. extension and expiry: the reserved time moves, nothing is redeployed;
--    windows the tick missed are unprobed (paid), the last one pro rata
-- ---------------------------------------------------------------------------
SET lagbid.clock = '2030-01-01 13:00:00+00';
SELECT lagbid.create_space('bob', 'api', '{}', 1, 2, 1, kind => 'service',
                           workload => '{"command": ["app"], "service": {"port": 80}}') AS space;
SELECT lagbid.tick() ->> 'spaces_published' AS published;
SELECT lagbid.place_bid(t.id, 3, 1.5) FROM lagbid.task t WHERE t.space_id = 2;
SELECT lagbid.close_bidding(t.id) FROM lagbid.task t WHERE t.space_id = 2;
SET lagbid.clock = '2030-01-01 13:00:30+00';
SELECT lagbid.report_endpoint(l.job_id, 'http://10.0.0.3/l/' || l.name || '/') FROM lagbid.lease l WHERE l.space_id = 2;
SELECT id, state, reserved_until, taken FROM lagbid.lease WHERE space_id = 2;
SELECT lagbid.extend_space(2, 1);
SELECT id, state, reserved_until, taken FROM lagbid.lease WHERE space_id = 2;
SELECT s.reserved_until, a.balance AS space_escrow FROM lagbid.space s JOIN lagbid.account a ON a.id = s.escrow_account_id WHERE s.id = 2;
SELECT kind, payload ->> 'reserved_until' AS reserved_until FROM lagbid.notification WHERE kind = 'lease_extended';
-- the owner hears of the end two windows before it
SET lagbid.clock = '2030-01-01 14:58:30+00';
SELECT lagbid.tick() ->> 'windows_settled' AS settled;
SELECT count(*) AS near_expiry FROM lagbid.notification WHERE kind = 'lease_near_expiry';
SET lagbid.clock = '2030-01-01 14:59:00+00';
SELECT lagbid.tick() ->> 'windows_settled' AS settled;
SELECT count(*) AS near_expiry_once FROM lagbid.notification WHERE kind = 'lease_near_expiry';
SET lagbid.clock = '2030-01-01 15:00:10+00';
SELECT lagbid.tick() ->> 'leases_expired' AS expired;
SELECT w.window_start, w.window_end, w.outcome, w.paid, w.refunded FROM lagbid.lease_window w
  JOIN lagbid.lease l ON l.id = w.lease_id WHERE l.space_id = 2 ORDER BY w.window_start DESC LIMIT 2;
SELECT count(*) AS windows, sum(w.paid) AS paid, sum(w.refunded) AS refunded
  FROM lagbid.lease_window w JOIN lagbid.lease l ON l.id = w.lease_id WHERE l.space_id = 2;
SELECT * FROM lease_money WHERE id = 3;
-- torn down by the tick after the grace: the job and the task complete
SET lagbid.clock = '2030-01-01 15:10:09+00';
SELECT lagbid.tick() ->> 'leases_torn_down' AS torn_down;
SET lagbid.clock = '2030-01-01 15:10:10+00';
SELECT lagbid.tick() ->> 'leases_torn_down' AS torn_down;
SELECT l.state AS lease, l.reason, j.state AS job, j.is_leader, j.outcome, t.state AS task, t.leader_job_id = j.id AS leader
  FROM lagbid.lease l JOIN lagbid.job j ON j.id = l.job_id JOIN lagbid.task t ON t.id = l.task_id WHERE l.id = 3;
SELECT slots_used FROM lagbid.provider WHERE id = 3;
SELECT * FROM lagbid.check_invariants();

-- ---------------------------------------------------------------------------
-- 8. startup: a timeout fails the lease; the provider may give it up while it
--    starts; a failed lease takes no endpoint
-- ---------------------------------------------------------------------------
SELECT lagbid.publish_task('bob', '{}', 1, 2, 2, workload => '{"command": ["app"], "service": {"port": 80, "startup_timeout_s": 60}}',
                           kind => 'service') AS task;
SELECT lagbid.place_bid(t.id, 4, 2) FROM lagbid.task t WHERE t.owner = 'bob' AND t.space_id IS NULL;
SELECT lagbid.close_bidding(t.id) FROM lagbid.task t WHERE t.owner = 'bob' AND t.space_id IS NULL;
SET lagbid.clock = '2030-01-01 15:11:10+00';
SELECT lagbid.tick() ->> 'leases_failed' AS failed;
SELECT try(format('SELECT lagbid.report_endpoint(%s, ''http://10.0.0.4/l/%s/'')', job_id, name)) AS too_late,
       state, reason FROM lagbid.lease WHERE id = 4;
SELECT * FROM lease_money WHERE id = 4;
SELECT lagbid.publish_task('bob', '{}', 1, 2, 2, workload => '{"command": ["app"], "service": {"port": 80}}',
                           kind => 'service') AS task;
SELECT lagbid.place_bid(max(t.id), 2, 2) FROM lagbid.task t;
SELECT lagbid.close_bidding(max(t.id)) FROM lagbid.task t;
SELECT lagbid.fail_job(l.job_id, 'image_missing') FROM lagbid.lease l WHERE l.id = 5;
SELECT l.state AS lease, l.reason, j.state AS job, t.state AS task FROM lagbid.lease l
  JOIN lagbid.job j ON j.id = l.job_id JOIN lagbid.task t ON t.id = l.task_id WHERE l.id IN (4, 5) ORDER BY l.id;
SELECT lagbid.report_teardown(l.job_id) FROM lagbid.lease l WHERE l.id IN (4, 5);
SELECT l.id, l.state AS lease, j.state AS job, j.outcome, t.state AS task FROM lagbid.lease l
  JOIN lagbid.job j ON j.id = l.job_id JOIN lagbid.task t ON t.id = l.task_id WHERE l.id IN (4, 5) ORDER BY l.id;
SELECT * FROM lagbid.check_invariants();

-- the owner cancels: a starting lease fails (no fault of the provider's), a
-- ready one expires now with its last window settled pro rata; teardown
-- completes the job and the task
SELECT lagbid.publish_task('bob', '{}', 1, 2, 1, workload => '{"command": ["app"], "service": {"port": 80}}',
                           kind => 'service') AS task \gset
SELECT lagbid.place_bid(:task, 3, 1.2);
SELECT lagbid.close_bidding(:task);
SELECT lagbid.cancel_task(:task);
SELECT l.state, l.reason, l.returned = l.taken AS all_returned FROM lagbid.lease l WHERE l.task_id = :task;
SELECT lagbid.report_teardown(l.job_id) FROM lagbid.lease l WHERE l.task_id = :task;
SELECT j.state AS job, j.outcome, t.state AS task FROM lagbid.job j JOIN lagbid.task t ON t.id = j.task_id
 WHERE t.id = :task;
SELECT lagbid.publish_task('bob', '{}', 1, 2, 1, workload => '{"command": ["app"], "service": {"port": 80}}',
                           kind => 'service') AS task \gset
SELECT lagbid.place_bid(:task, 3, 1.2);
SELECT lagbid.close_bidding(:task);
SELECT lagbid.report_endpoint(l.job_id, 'http://10.0.0.3/l/' || l.name || '/') FROM lagbid.lease l WHERE l.task_id = :task;
SET lagbid.clock = '2030-01-01 15:12:40+00';
SELECT lagbid.cancel_task(:task);
SELECT try(format('SELECT lagbid.cancel_task(%s)', :task)) AS twice;
SELECT w.window_start, w.window_end, w.outcome, w.paid, w.refunded FROM lagbid.lease_window w
  JOIN lagbid.lease l ON l.id = w.lease_id WHERE l.task_id = :task ORDER BY w.window_start;
SELECT l.state, l.reason, l.reserved_until, l.paid + l.refunded + l.returned = l.taken AS money_closes
  FROM lagbid.lease l WHERE l.task_id = :task;
SELECT lagbid.report_teardown(l.job_id) FROM lagbid.lease l WHERE l.task_id = :task;
SELECT j.state AS job, j.outcome, t.state AS task FROM lagbid.job j JOIN lagbid.task t ON t.id = j.task_id
 WHERE t.id = :task;
SELECT * FROM lagbid.check_invariants();

-- ---------------------------------------------------------------------------
-- 9. probers: never the lease's provider; one per host before any host twice
-- ---------------------------------------------------------------------------
SELECT lagbid.register_provider(node(5), ARRAY['/ip4/10.0.0.3/tcp/4002'], 'eu-west', '{"cpu": 8}') AS p5_same_host_as_p3;
SET lagbid.probers_per_window = 2;
SET lagbid.clock = '2030-01-01 15:20:00+00';
SELECT lagbid.create_space('alice', 'probed', '{}', 1, 2, 1, kind => 'service',
                           workload => '{"command": ["app"], "service": {"port": 80}}') AS space;
SELECT lagbid.tick() ->> 'spaces_published' AS published;
SELECT lagbid.place_bid(t.id, 2, 1) FROM lagbid.task t WHERE t.space_id = 3;
SELECT lagbid.close_bidding(t.id) FROM lagbid.task t WHERE t.space_id = 3;
SELECT lagbid.report_endpoint(l.job_id, 'http://10.0.0.2/l/' || l.name || '/') FROM lagbid.lease l WHERE l.space_id = 3;
DO $$
BEGIN
    FOR i IN 0..11 LOOP
        PERFORM set_config('lagbid.clock', (timestamptz '2030-01-01 15:20:00+00' + i * interval '1 minute')::text, false);
        PERFORM lagbid.tick();
    END LOOP;
END $$;
-- twelve windows of two probers each: never provider 2 (the lease's own),
-- never providers 3 and 5 (one host) together while providers 1 and 4 exist
SELECT count(DISTINCT p.window_start) AS windows, count(*) AS probes,
       count(*) FILTER (WHERE p.provider_id = 2) AS own_provider,
       (SELECT count(*) FROM (SELECT q.window_start FROM lagbid.probe q JOIN lagbid.lease m ON m.id = q.lease_id
                               WHERE m.space_id = 3 AND q.provider_id IN (3, 5)
                               GROUP BY q.window_start HAVING count(*) = 2) x) AS windows_with_one_host_twice
  FROM lagbid.probe p JOIN lagbid.lease l ON l.id = p.lease_id WHERE l.space_id = 3;
-- nobody reported: twelve unprobed windows, paid; the silent probers counted
SELECT windows_unprobed, paid FROM lagbid.lease WHERE space_id = 3;
SELECT sum(probes_missed) >= 22 AS missed_counted FROM lagbid.provider;
SELECT * FROM lagbid.check_invariants();

-- the refusals of this file, as PostgREST answers them
SELECT sqlstate, http_status, name FROM lagbid.error_codes() WHERE sqlstate LIKE 'LB6%' ORDER BY 1;
RESET timezone;
RESET lagbid.probers_per_window;
RESET lagbid.probe_window;
DROP VIEW lease_money;
DROP FUNCTION tryp, pin, up, down, probe_of;
DROP TABLE sig, w;
SELECT fresh_market();
DROP ROLE ls_alice, ls_bob, ls_cp1, ls_cp2;
