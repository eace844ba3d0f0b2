-- pgTAP: the authorization matrix of the PostgREST API, played exactly the
-- way PostgREST drives the database: logged in as its NOINHERIT login
-- "authenticator" (lagbid.authenticators), in a transaction, SET LOCAL ROLE
-- to the JWT's role, set_config('request.jwt.claims', ..., true), the call,
-- and rollback.  Each call is checked to succeed or to be refused as designed:
--   'ok'            the call went through
--   '<http> <code>' a lagbid refusal in PostgREST form (SQLSTATE PGRST)
--   '42501'         PostgreSQL refused the privilege (PostgREST: 401 for
--                   anon, 403 for an authenticated role)
BEGIN;

\ir lib/api_call.sql

-- an empty market with ids from 1 (all of it rolled back at the end)
TRUNCATE lagbid.account, lagbid.ledger_tx, lagbid.ledger_entry, lagbid.provider, lagbid.space,
         lagbid.task, lagbid.bid, lagbid.job, lagbid.event, lagbid.notification RESTART IDENTITY CASCADE;

-- the market: owners alice and bob, providers p1 and p2 (node ids n1, n2)
SELECT lagbid.deposit('alice', 1000, 'pgtap-a'), lagbid.deposit('bob', 1000, 'pgtap-b');
CREATE TEMP TABLE ids AS SELECT
    '12D3KooWD3eckifWpRn9wQpMG9R9hX3sD158z7EqHWmweQAJU5SA'::text AS n1,
    'QmYyQSo1c1Ym7orWxLYvCrM2EmxFTANf8wXmmE7DWjhx5N'::text AS n2,
    '12D3KooWRBhwfeP2Y4TCx1SM6s9rUoHhR5STiGwxBhgFRcw3UERE'::text AS n3;
SELECT lagbid.register_provider(n1, ARRAY['/ip4/10.0.0.1/tcp/4001'], 'eu-west', '{"cpu": 8}', 5),
       lagbid.register_provider(n2, ARRAY['/ip4/10.0.0.2/tcp/4001'], 'eu-west', '{"cpu": 8}', 5) FROM ids;
-- task 1 (alice, open, bids of p1 and p2), task 2 (bob, open), task 3 (alice, p1 holds job 1)
SELECT lagbid.publish_task('alice', '{}', 1, 10, 1, bid_limit => 5, auto_allocate => false);
SELECT lagbid.publish_task('bob', '{}', 1, 10, 1, bid_limit => 5);
SELECT lagbid.publish_task('alice', '{}', 1, 10, 1, bid_limit => 1);
SELECT lagbid.place_bid(1, 1, 4), lagbid.place_bid(1, 2, 6), lagbid.place_bid(3, 1, 5);
SELECT lagbid.create_space('alice', 'app', '{}', 1, 2, 3);

CREATE TEMP TABLE cases (n serial, got text, want text, what text);
INSERT INTO cases (got, want, what)
SELECT pg_temp.as_(r, sub, q), want, what FROM ids, LATERAL (VALUES
    -- provider calls: own, someone else's, the wrong role, anonymous
    ('lagbid_provider', n1, 'SELECT lagbid_api.place_bid(2, 5)', 'ok', 'provider bids'),
    ('lagbid_provider', n3, 'SELECT lagbid_api.place_bid(2, 5)', '404 LB204', 'unregistered node cannot bid'),
    ('lagbid_owner', 'alice', 'SELECT lagbid_api.place_bid(2, 5)', '42501', 'owner cannot bid'),
    ('lagbid_anon', NULL, 'SELECT lagbid_api.place_bid(2, 5)', '42501', 'anon cannot bid'),
    ('lagbid_provider', NULL, 'SELECT lagbid_api.place_bid(2, 5)', '401 LB101', 'no claims: 401'),
    ('lagbid_provider', n1, 'SELECT lagbid_api.place_bid(99, 5)', '404 LB201', 'unknown task: 404'),
    ('lagbid_provider', n1, 'SELECT lagbid_api.place_bid(2, 50)', '422 LB401', 'price out of range: 422'),
    ('lagbid_provider', n1, 'SELECT lagbid_api.withdraw_bid(1)', 'ok', 'provider withdraws its bid'),
    ('lagbid_provider', n2, 'SELECT lagbid_api.withdraw_bid(1)', '403 LB103', 'provider cannot withdraw another''s bid'),
    ('lagbid_provider', n1, 'SELECT lagbid_api.withdraw_bid(99)', '404 LB202', 'unknown bid: 404'),
    ('lagbid_owner', 'alice', 'SELECT lagbid_api.withdraw_bid(1)', '42501', 'owner cannot withdraw a bid'),
    ('lagbid_provider', n1, $q$SELECT lagbid_api.submit_result(1, 's3://r', 'h')$q$, 'ok', 'provider submits its job'),
    ('lagbid_provider', n2, $q$SELECT lagbid_api.submit_result(1, 's3://r', 'h')$q$, '403 LB103', 'provider cannot submit another''s job'),
    ('lagbid_provider', n1, $q$SELECT lagbid_api.submit_result(9, 's3://r', 'h')$q$, '404 LB203', 'unknown job: 404'),
    ('lagbid_provider', n1, $q$SELECT lagbid_api.fail_job(1, 'disk')$q$, 'ok', 'provider fails its job'),
    ('lagbid_provider', n2, $q$SELECT lagbid_api.fail_job(1, 'disk')$q$, '403 LB103', 'provider cannot fail another''s job'),
    ('lagbid_provider', n1, 'SELECT lagbid_api.set_bid_limit(3)', 'ok', 'provider sets its limit'),
    ('lagbid_provider', n1, 'SELECT lagbid_api.set_bid_limit(0)', '400 LB001', 'bad limit: 400'),
    ('lagbid_owner', 'alice', 'SELECT lagbid_api.set_bid_limit(3)', '42501', 'owner cannot set a bid limit'),
    ('lagbid_provider', n3, $q$SELECT lagbid_api.register_provider(ARRAY['/ip4/10.0.0.3/tcp/1'], 'eu', '{}')$q$, 'ok', 'a new provider signs up'),
    ('lagbid_provider', 'not-a-peer-id', $q$SELECT lagbid_api.register_provider(ARRAY['/ip4/10.0.0.3/tcp/1'], 'eu', '{}')$q$, '400 LB002', 'sub must be a peer id'),
    ('lagbid_provider', n1, 'SELECT * FROM lagbid_api.open_tasks()', 'ok', 'provider lists open tasks'),
    ('lagbid_provider', n1, 'SELECT * FROM lagbid_api.my_bids()', 'ok', 'provider lists its bids'),
    ('lagbid_provider', n1, 'SELECT * FROM lagbid_api.my_jobs()', 'ok', 'provider lists its jobs'),
    ('lagbid_owner', 'alice', 'SELECT * FROM lagbid_api.my_bids()', '42501', 'owner has no my_bids'),
    -- owner calls
    ('lagbid_owner', 'alice', $q$SELECT lagbid_api.publish_task('{}', 1, 2, 1)$q$, 'ok', 'owner publishes'),
    ('lagbid_owner', 'carol', $q$SELECT lagbid_api.publish_task('{}', 1, 2, 1)$q$, '402 LB501', 'owner without money: 402'),
    ('lagbid_provider', n1, $q$SELECT lagbid_api.publish_task('{}', 1, 2, 1)$q$, '42501', 'provider cannot publish'),
    ('lagbid_anon', NULL, $q$SELECT lagbid_api.publish_task('{}', 1, 2, 1)$q$, '42501', 'anon cannot publish'),
    ('lagbid_owner', 'alice', 'SELECT lagbid_api.close_bidding(1)', 'ok', 'owner closes its task'),
    ('lagbid_owner', 'bob', 'SELECT lagbid_api.close_bidding(1)', '403 LB102', 'owner cannot close another''s task'),
    ('lagbid_owner', 'bob', 'SELECT lagbid_api.close_bidding(99)', '404 LB201', 'unknown task: 404'),
    ('lagbid_owner', 'bob', 'SELECT lagbid_api.close_bidding(3)', '403 LB102', 'ownership is checked before state'),
    ('lagbid_owner', 'alice', 'SELECT lagbid_api.close_bidding(3)', '409 LB302', 'state conflict: 409'),
    ('lagbid_owner', 'alice', 'SELECT lagbid_api.allocate(1)', 'ok', 'owner allocates its task'),
    ('lagbid_owner', 'bob', 'SELECT lagbid_api.allocate(1)', '403 LB102', 'owner cannot allocate another''s task'),
    ('lagbid_owner', 'alice', 'SELECT lagbid_api.allocate(1, ARRAY[3])', '409 LB307', 'a bid of another task: 409'),
    ('lagbid_owner', 'alice', 'SELECT lagbid_api.cancel_task(1)', 'ok', 'owner cancels its task'),
    ('lagbid_owner', 'bob', 'SELECT lagbid_api.cancel_task(1)', '403 LB102', 'owner cannot cancel another''s task'),
    ('lagbid_owner', 'alice', 'SELECT lagbid_api.cancel_task(3)', '409 LB301', 'cannot cancel a processing task: 409'),
    ('lagbid_owner', 'alice', 'SELECT lagbid_api.open_bidding(3)', '409 LB301', 'cannot reopen a processing task'),
    ('lagbid_owner', 'alice', 'SELECT lagbid_api.finalize(3)', '409 LB311', 'not ready: 409'),
    ('lagbid_owner', 'bob', 'SELECT lagbid_api.finalize(3)', '403 LB102', 'owner cannot finalize another''s task'),
    ('lagbid_provider', n1, 'SELECT lagbid_api.finalize(3)', '42501', 'provider cannot finalize'),
    ('lagbid_owner', 'alice', 'SELECT * FROM lagbid_api.task_bids(1)', 'ok', 'owner sees the asks on its task'),
    ('lagbid_owner', 'bob', 'SELECT * FROM lagbid_api.task_bids(1)', '403 LB102', 'another owner does not'),
    ('lagbid_provider', n1, 'SELECT * FROM lagbid_api.task_bids(1)', '42501', 'a provider never sees asks on a task'),
    ('lagbid_owner', 'alice', 'SELECT * FROM lagbid_api.task_jobs(3)', 'ok', 'owner sees the jobs of its task'),
    ('lagbid_owner', 'bob', 'SELECT * FROM lagbid_api.task_jobs(3)', '403 LB102', 'another owner does not see them'),
    ('lagbid_owner', 'bob', 'SELECT * FROM lagbid_api.task_jobs(99)', '404 LB201', 'task_jobs of an unknown task: 404'),
    ('lagbid_provider', n1, 'SELECT * FROM lagbid_api.task_jobs(3)', '42501', 'not even the job''s own provider reads task_jobs'),
    ('lagbid_provider', n2, 'SELECT * FROM lagbid_api.task_jobs(3)', '42501', 'another provider never sees a task''s jobs'),
    ('lagbid_anon', NULL, 'SELECT * FROM lagbid_api.task_jobs(3)', '42501', 'anon cannot read task_jobs'),
    ('lagbid_owner', 'alice', 'SELECT * FROM lagbid_api.my_tasks()', 'ok', 'owner lists its tasks'),
    ('lagbid_owner', 'alice', $q$SELECT lagbid_api.create_space('app2', '{}', 1, 2, 1)$q$, 'ok', 'owner creates a space'),
    ('lagbid_owner', 'alice', $q$SELECT lagbid_api.create_space('app', '{}', 1, 2, 1)$q$, '409 LB315', 'duplicate space name: 409'),
    ('lagbid_owner', 'alice', 'SELECT lagbid_api.update_space(1, price_max => 3)', 'ok', 'owner updates its space'),
    ('lagbid_owner', 'bob', 'SELECT lagbid_api.update_space(1, price_max => 3)', '403 LB104', 'owner cannot update another''s space'),
    ('lagbid_owner', 'bob', 'SELECT lagbid_api.update_space(9, price_max => 3)', '404 LB205', 'unknown space: 404'),
    ('lagbid_owner', 'alice', 'SELECT lagbid_api.extend_space(1, 1)', 'ok', 'owner extends its space'),
    ('lagbid_owner', 'bob', 'SELECT lagbid_api.extend_space(1, 1)', '403 LB104', 'owner cannot extend another''s space'),
    ('lagbid_owner', 'alice', 'SELECT lagbid_api.trigger_space(1)', 'ok', 'owner triggers its space'),
    ('lagbid_owner', 'bob', 'SELECT lagbid_api.trigger_space(1)', '403 LB104', 'owner cannot trigger another''s space'),
    ('lagbid_provider', n1, 'SELECT lagbid_api.trigger_space(1)', '42501', 'provider cannot trigger a space'),
    ('lagbid_owner', 'alice', 'SELECT * FROM lagbid_api.my_spaces()', 'ok', 'owner lists its spaces'),
    -- shared and public calls
    ('lagbid_owner', 'alice', 'SELECT lagbid_api.balance()', 'ok', 'owner reads its balance'),
    ('lagbid_provider', n1, 'SELECT lagbid_api.balance()', 'ok', 'provider reads its balance'),
    ('lagbid_anon', NULL, 'SELECT lagbid_api.balance()', '42501', 'anon has no balance'),
    ('lagbid_provider', n1, 'SELECT * FROM lagbid_api.notifications()', 'ok', 'provider reads its notifications'),
    ('lagbid_provider', n1, 'SELECT lagbid_api.acknowledge(ARRAY[1, 2])', 'ok', 'provider acknowledges'),
    ('lagbid_anon', NULL, 'SELECT * FROM lagbid_api.market_stats()', 'ok', 'anon reads market statistics'),
    ('lagbid_anon', NULL, 'SELECT * FROM lagbid_api.open_tasks()', '42501', 'anon cannot list open tasks'),
    -- attacks: calling lagbid.* directly, reading tables, writing them
    ('lagbid_provider', n1, 'SELECT lagbid.place_bid(2, 1, 5)', '42501', 'lagbid.* is not reachable by a provider'),
    ('lagbid_owner', 'alice', $q$SELECT lagbid.deposit('alice', 1e9, 'free money')$q$, '42501', 'an owner cannot deposit'),
    ('lagbid_provider', n1, 'SELECT * FROM lagbid.bid', '42501', 'a provider cannot read lagbid.bid'),
    ('lagbid_owner', 'alice', 'SELECT * FROM lagbid.bid', '42501', 'an owner cannot read lagbid.bid'),
    ('lagbid_anon', NULL, 'SELECT * FROM lagbid.task', '42501', 'anon cannot read lagbid.task'),
    ('lagbid_platform', NULL, 'SELECT count(*) FROM lagbid.bid', 'ok', 'the platform reads every table'),
    ('lagbid_platform', NULL, 'SELECT lagbid.tick()', 'ok', 'the platform runs the tick'),
    ('lagbid_platform', NULL, $q$SELECT lagbid.deposit('alice', 5, 'platform-dep')$q$, 'ok', 'the platform deposits'),
    ('lagbid_platform', NULL, 'UPDATE lagbid.account SET balance = 1e9', '42501', 'not even the platform writes a table by hand'),
    ('lagbid_platform', NULL, 'DELETE FROM lagbid.ledger_entry', '42501', 'nor deletes ledger entries'),
    ('lagbid_provider', n1, 'SELECT lagbid.api_identity(''lagbid_owner'')', '42501', 'internal helpers are not callable')
) AS v(r, sub, q, want, what);

-- forged claims: a claim of another role than the session's
INSERT INTO cases (got, want, what)
SELECT pg_temp.call('lagbid_provider', jsonb_build_object('role', 'lagbid_owner', 'sub', 'alice'),
                    $q$SELECT lagbid_api.publish_task('{}', 1, 2, 1)$q$), '42501', 'owner claims under the provider role: no owner call'
UNION ALL
SELECT pg_temp.call('lagbid_provider', jsonb_build_object('role', 'lagbid_owner', 'sub', n2),
                    'SELECT lagbid_api.place_bid(2, 5)'), '403 LB106', 'a claim of another role than the session''s is not trusted' FROM ids
UNION ALL
SELECT pg_temp.call('lagbid_owner', jsonb_build_object('role', 'lagbid_owner', 'sub', n1),
                    'SELECT lagbid_api.place_bid(2, 5)'), '42501', 'a node id as owner sub still cannot bid' FROM ids
UNION ALL
SELECT pg_temp.call('lagbid_provider', '"just a string"'::jsonb, 'SELECT lagbid_api.place_bid(2, 5)'),
       '401 LB101', 'claims that are not an object: 401'
UNION ALL
SELECT pg_temp.call('lagbid_provider', jsonb_build_object('role', 'lagbid_provider'), 'SELECT lagbid_api.place_bid(2, 5)'),
       '401 LB101', 'claims without sub: 401';

-- hijacking a definer function through the search_path: an object in a
-- schema the attacker controls is never resolved by lagbid's functions
CREATE SCHEMA evil;
GRANT USAGE, CREATE ON SCHEMA evil TO lagbid_provider;
CREATE FUNCTION evil.lower(text) RETURNS text LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'hijacked'; END $$;
CREATE FUNCTION evil.cardinality(anyarray) RETURNS integer LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'hijacked'; END $$;
GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA evil TO PUBLIC;
INSERT INTO cases (got, want, what)
SELECT pg_temp.as_('lagbid_provider', n1, 'SET LOCAL search_path = evil, pg_catalog; SELECT * FROM lagbid_api.open_tasks()'),
       'ok', 'open_tasks ignores the caller''s search_path' FROM ids
UNION ALL
SELECT pg_temp.as_('lagbid_provider', n1, 'SET LOCAL search_path = evil, pg_catalog; SELECT lagbid_api.place_bid(2, 5)'),
       'ok', 'place_bid ignores the caller''s search_path' FROM ids;

-- sealed bids: what a provider can see of a task never includes another's ask
INSERT INTO cases (got, want, what)
SELECT pg_temp.as_('lagbid_provider', n2,
       $q$DO $d$ BEGIN IF EXISTS (SELECT 1 FROM lagbid_api.my_bids() WHERE price = 4) THEN RAISE EXCEPTION 'saw p1''s ask'; END IF; END $d$$q$),
       'ok', 'p2''s bids do not include p1''s ask' FROM ids;

SELECT plan((SELECT count(*)::int FROM cases) + 3);
SELECT is(got, want, what) FROM cases ORDER BY n;
-- every API function has a comment (PostgREST's OpenAPI description)
SELECT is((SELECT count(*)::int FROM pg_proc p WHERE p.pronamespace = 'lagbid_api'::regnamespace
            AND obj_description(p.oid, 'pg_proc') IS NULL), 0, 'every lagbid_api function has a COMMENT');
-- every SECURITY DEFINER function of the extension pins its search_path
SELECT is((SELECT string_agg(p.oid::regprocedure::text, ', ') FROM pg_proc p
            WHERE p.pronamespace IN ('lagbid'::regnamespace, 'lagbid_api'::regnamespace)
              AND p.prosecdef AND NOT EXISTS (SELECT 1 FROM unnest(p.proconfig) c WHERE c LIKE 'search_path=%')),
          NULL, 'every SECURITY DEFINER function sets search_path');
-- lagbid_api holds functions only: no tables
SELECT is((SELECT count(*)::int FROM pg_class WHERE relnamespace = 'lagbid_api'::regnamespace), 0,
          'lagbid_api has no tables or views of rows');
SELECT * FROM finish();
ROLLBACK;
