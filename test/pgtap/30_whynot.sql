-- pgTAP: who may ask "why not?" and "how many could bid?", played the way
-- PostgREST drives the database (SET LOCAL ROLE to the JWT's role, the
-- claims in request.jwt.claims, the call, rollback).  Outcomes as in
-- 10_api_security.sql: 'ok', '<http> <code>' for a refusal in PostgREST
-- form, '42501' for a privilege PostgreSQL refused.
BEGIN;

-- this session plays PostgREST's login too (pg_temp.rows below): claims are
-- trusted only from lagbid.authenticators
SELECT set_config('lagbid.authenticators', 'authenticator, ' || quote_ident(session_user), true) IS NOT NULL AS gateway \gset

\ir lib/api_call.sql
-- rows(role, sub, q): the result of a query run as that caller, as text
CREATE FUNCTION pg_temp.rows(r text, sub text, q text) RETURNS text
    LANGUAGE plpgsql AS $$
DECLARE
    out text;
BEGIN
    EXECUTE format('SET LOCAL ROLE %I', r);
    PERFORM set_config('request.jwt.claims', jsonb_build_object('role', r, 'sub', sub)::text, true);
    EXECUTE format('SELECT string_agg(x::text, %L) FROM (%s) x', '; ', q) INTO out;
    RESET ROLE;
    RETURN coalesce(out, '');
END $$;

TRUNCATE lagbid.account, lagbid.ledger_tx, lagbid.ledger_entry, lagbid.provider, lagbid.space,
         lagbid.task, lagbid.bid, lagbid.job, lagbid.event, lagbid.notification RESTART IDENTITY CASCADE;
SELECT lagbid.deposit('alice', 1000, 'wn-a'), lagbid.deposit('bob', 1000, 'wn-b');
CREATE TEMP TABLE ids AS SELECT
    '12D3KooWD3eckifWpRn9wQpMG9R9hX3sD158z7EqHWmweQAJU5SA'::text AS n1,
    'QmYyQSo1c1Ym7orWxLYvCrM2EmxFTANf8wXmmE7DWjhx5N'::text AS n2,
    '12D3KooWRBhwfeP2Y4TCx1SM6s9rUoHhR5STiGwxBhgFRcw3UERE'::text AS n3;
GRANT SELECT ON ids TO PUBLIC;
-- p1 and p2 in eu-west; task 1 (alice, eu, p1 bid 4), task 2 (bob, never opened)
SELECT lagbid.register_provider(n1, ARRAY['/ip4/10.0.0.1/tcp/4001'], 'eu-west', '{"cpu": 8}', 5),
       lagbid.register_provider(n2, ARRAY['/ip4/10.0.0.2/tcp/4001'], 'eu-west', '{"cpu": 2}', 5) FROM ids;
SELECT lagbid.publish_task('alice', '{"cpu": 4}', 1, 10, 1, region => 'eu', bid_limit => 5, auto_allocate => false);
SELECT lagbid.publish_task('bob', '{}', 1, 10, 1, open => false);
SELECT lagbid.place_bid(1, 1, 4);

CREATE TEMP TABLE cases (n serial, got text, want text, what text);
INSERT INTO cases (got, want, what)
SELECT pg_temp.as_(r, sub, q), want, what FROM ids, LATERAL (VALUES
    ('lagbid_provider', n2, 'SELECT * FROM lagbid_api.why_not(1)', 'ok', 'a provider asks why not'),
    ('lagbid_provider', n3, 'SELECT * FROM lagbid_api.why_not(1)', '404 LB204', 'an unregistered node: 404'),
    ('lagbid_provider', NULL, 'SELECT * FROM lagbid_api.why_not(1)', '401 LB101', 'no claims: 401'),
    ('lagbid_provider', n2, 'SELECT * FROM lagbid_api.why_not(NULL)', '400 LB001', 'NULL task: 400'),
    ('lagbid_owner', 'alice', 'SELECT * FROM lagbid_api.why_not(1)', '42501', 'an owner has no why_not'),
    ('lagbid_anon', NULL, 'SELECT * FROM lagbid_api.why_not(1)', '42501', 'anon has no why_not'),
    ('lagbid_provider', n1, 'SELECT * FROM lagbid.why_not(1, 2)', '42501', 'lagbid.why_not is the platform''s'),
    ('lagbid_owner', 'alice', 'SELECT * FROM lagbid_api.eligible_providers(1)', 'ok', 'an owner counts the providers of its task'),
    ('lagbid_owner', 'bob', 'SELECT * FROM lagbid_api.eligible_providers(1)', '403 LB102', 'not of another owner''s task'),
    ('lagbid_owner', 'bob', 'SELECT * FROM lagbid_api.eligible_providers(99)', '404 LB201', 'unknown task: 404'),
    ('lagbid_owner', 'alice', 'SELECT * FROM lagbid_api.eligible_providers(NULL)', '404 LB201', 'NULL task: not found'),
    ('lagbid_owner', NULL, 'SELECT * FROM lagbid_api.eligible_providers(1)', '401 LB101', 'no claims: 401'),
    ('lagbid_provider', n1, 'SELECT * FROM lagbid_api.eligible_providers(1)', '42501', 'a provider has no eligible_providers'),
    ('lagbid_anon', NULL, 'SELECT * FROM lagbid_api.eligible_providers(1)', '42501', 'anon has no eligible_providers'),
    ('lagbid_platform', NULL, 'SELECT * FROM lagbid.why_not(1, 2)', 'ok', 'the platform asks for any provider'),
    ('lagbid_platform', NULL, 'SELECT * FROM lagbid.eligible_providers(1)', 'ok', 'the platform counts for any task')
) AS v(r, sub, q, want, what);
-- a claim of another role under the provider's database role
INSERT INTO cases (got, want, what)
SELECT pg_temp.call('lagbid_provider', jsonb_build_object('role', 'lagbid_owner', 'sub', 'alice'),
                    'SELECT * FROM lagbid_api.why_not(1)'), '403 LB106', 'owner claims under the provider role are not trusted'
UNION ALL
SELECT pg_temp.call('lagbid_owner', jsonb_build_object('role', 'lagbid_provider', 'sub', n1),
                    'SELECT * FROM lagbid_api.eligible_providers(1)'), '403 LB106', 'provider claims under the owner role are not trusted' FROM ids;

SELECT plan((SELECT count(*)::int FROM cases) + 5);
SELECT is(got, want, what) FROM cases ORDER BY n;

-- what a provider learns: its own bid, never p1's ask or identity
SELECT is(pg_temp.rows('lagbid_provider', n2, 'SELECT * FROM lagbid_api.why_not(1)'),
          '(cpu,"the task needs 4; the provider has 2")', 'p2 learns only what it lacks') FROM ids;
SELECT is(pg_temp.rows('lagbid_provider', n1, 'SELECT * FROM lagbid_api.why_not(1)'),
          '(already_bid,"bid 1 asks 4")', 'p1 sees its own bid') FROM ids;
SELECT unalike(pg_temp.rows('lagbid_provider', n2, 'SELECT * FROM lagbid_api.why_not(1)'), '%' || n1 || '%',
              'no other provider''s node id') FROM ids;
-- a task never opened is as unknown as a missing one
SELECT is(pg_temp.rows('lagbid_provider', n1, 'SELECT rule FROM lagbid_api.why_not(2)'),
          pg_temp.rows('lagbid_provider', n1, 'SELECT rule FROM lagbid_api.why_not(99)'),
          'never-opened and missing tasks look the same') FROM ids;
SELECT is(pg_temp.rows('lagbid_owner', 'alice', 'SELECT * FROM lagbid_api.eligible_providers(1)'),
          '(1,1,1,0,0)', 'one provider matches task 1, has a free slot and the score it asks (0: best and median)');
SELECT * FROM finish();
ROLLBACK;
