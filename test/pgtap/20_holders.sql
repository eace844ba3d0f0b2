-- pgTAP: holders are typed (issue 16, finding 2), played through the
-- PostgREST API.  An owner whose JWT sub equals a provider's node id is
-- another holder: it does not read the provider's balance or sealed notices,
-- does not escrow from its earnings, does not acknowledge its notices, and
-- its refunds do not land in the provider's account.  Each call runs the way
-- PostgREST drives it (SET LOCAL ROLE, claims), and its effects are kept for
-- the next call; everything is rolled back at the end.
BEGIN;

-- this session plays PostgREST's login: claims are trusted only from lagbid.authenticators
SELECT set_config('lagbid.authenticators', 'authenticator, ' || quote_ident(session_user), true) IS NOT NULL AS gateway \gset

-- run(db_role, sub, sql): the first column of sql's first row, as text, run
-- as that role with matching claims; a refusal as '<http> <code>' or SQLSTATE
CREATE FUNCTION pg_temp.run(db_role text, sub text, q text) RETURNS text
    LANGUAGE plpgsql AS $$
DECLARE
    st text;
    msg text;
    det text;
    res text;
BEGIN
    BEGIN
        EXECUTE format('SET LOCAL ROLE %I', db_role);
        PERFORM set_config('request.jwt.claims', jsonb_build_object('role', db_role, 'sub', sub)::text, true);
        EXECUTE q INTO res;
        RESET ROLE;
        PERFORM set_config('request.jwt.claims', '', true);
        RETURN coalesce(res, 'NULL');
    EXCEPTION WHEN OTHERS THEN
        GET STACKED DIAGNOSTICS st = RETURNED_SQLSTATE, msg = MESSAGE_TEXT, det = PG_EXCEPTION_DETAIL;
        IF st = 'PGRST' THEN
            RETURN (det::jsonb ->> 'status') || ' ' || (msg::jsonb ->> 'code');
        END IF;
        RETURN st;
    END;
END $$;

TRUNCATE lagbid.account, lagbid.ledger_tx, lagbid.ledger_entry, lagbid.provider, lagbid.space,
         lagbid.task, lagbid.bid, lagbid.job, lagbid.event, lagbid.notification RESTART IDENTITY CASCADE;

-- the victim: provider 1 (node n1) won alice's task 1 at 5 for 5 hours and was paid 25
CREATE TEMP TABLE ids AS SELECT
    '12D3KooWD3eckifWpRn9wQpMG9R9hX3sD158z7EqHWmweQAJU5SA'::text AS n1,
    'QmYyQSo1c1Ym7orWxLYvCrM2EmxFTANf8wXmmE7DWjhx5N'::text AS n2;
GRANT SELECT ON ids TO PUBLIC;
SELECT lagbid.deposit('alice', 1000, 'holders-a');
SELECT lagbid.register_provider(n1, ARRAY['/ip4/10.0.0.1/tcp/4001'], 'eu', '{}', 5),
       lagbid.register_provider(n2, ARRAY['/ip4/10.0.0.2/tcp/4001'], 'eu', '{}', 5) FROM ids;
SELECT lagbid.publish_task('alice', '{}', 1, 10, 5, bid_limit => 1);
SELECT lagbid.place_bid(1, 1, 5);
SELECT lagbid.submit_result(1, 's3://out/1', 'sha256:aaa');
SELECT lagbid.finalize(1);

SELECT plan(17);

-- balances apart
SELECT is(pg_temp.run('lagbid_provider', n1, 'SELECT lagbid_api.balance()'), '25',
          'the provider reads its earnings') FROM ids;
SELECT is(pg_temp.run('lagbid_owner', n1, 'SELECT lagbid_api.balance()'), '0',
          'an owner named like its node id reads its own empty balance, not the provider''s') FROM ids;

-- inboxes apart: the sealed winning ask stays the provider's
SELECT is(pg_temp.run('lagbid_owner', n1, 'SELECT count(*) FROM lagbid_api.notifications(false)'), '0',
          'the owner named like the node id sees none of the provider''s notices') FROM ids;
SELECT is(pg_temp.run('lagbid_provider', n1,
          $q$SELECT string_agg(kind || ':' || coalesce(payload->>'price', payload->>'amount'), ',' ORDER BY id)
               FROM lagbid_api.notifications(false)$q$), 'bid_won:5,job_paid:25',
          'the provider sees its won ask and its payment') FROM ids;
SELECT is(pg_temp.run('lagbid_owner', n1, 'SELECT lagbid_api.acknowledge(ARRAY[1, 3])'), '0',
          'the owner cannot acknowledge (hide) the provider''s notices') FROM ids;
SELECT is(pg_temp.run('lagbid_provider', n1, 'SELECT count(*) FROM lagbid_api.notifications()'), '2',
          'they are still pending for the provider') FROM ids;

-- publishing escrows from the owner's own account
SELECT is(pg_temp.run('lagbid_owner', n1, $q$SELECT lagbid_api.publish_task('{}', 1, 10, 1, bid_limit => 1)$q$),
          '402 LB501', 'the owner cannot publish with the provider''s earnings') FROM ids;
SELECT lagbid.deposit(n1, 30, 'holders-b') FROM ids;
SELECT is(pg_temp.run('lagbid_owner', n1, $q$SELECT lagbid_api.publish_task('{}', 1, 10, 1, bid_limit => 1)$q$),
          '2', 'with its own deposit it publishes') FROM ids;
SELECT is(pg_temp.run('lagbid_owner', n1, 'SELECT lagbid_api.balance()') || ' '
          || pg_temp.run('lagbid_provider', n1, 'SELECT lagbid_api.balance()'), '20 25',
          'the escrow came from the owner''s account; the provider''s is untouched') FROM ids;

-- provider 2 does the work; finalize pays provider 2 and refunds the owner
SELECT is(pg_temp.run('lagbid_provider', n2, 'SELECT lagbid_api.place_bid(2, 4)'), '2', 'provider 2 bids') FROM ids;
SELECT is(pg_temp.run('lagbid_provider', n2, $q$SELECT lagbid_api.submit_result(2, 's3://out/2', 'sha256:bbb')$q$),
          '', 'provider 2 submits') FROM ids;
SELECT is(pg_temp.run('lagbid_owner', n1, 'SELECT lagbid_api.finalize(2)'), '2', 'the owner finalizes') FROM ids;
SELECT is(pg_temp.run('lagbid_owner', n1, 'SELECT lagbid_api.balance()') || ' '
          || pg_temp.run('lagbid_provider', n1, 'SELECT lagbid_api.balance()') || ' '
          || pg_temp.run('lagbid_provider', n2, 'SELECT lagbid_api.balance()'), '26 25 4',
          'the refund went to the owner, the payment to provider 2, nothing to the provider named alike') FROM ids;
SELECT is(pg_temp.run('lagbid_owner', n1, 'SELECT string_agg(kind, '','' ORDER BY id) FROM lagbid_api.notifications()'),
          'results_ready,task_completed', 'the owner is told its results are ready and its task completed, and only that') FROM ids;

-- acknowledging one's own, as the right kind (1 and 3 are the provider's, 6 the owner's)
SELECT is(pg_temp.run('lagbid_provider', n1, 'SELECT lagbid_api.acknowledge(ARRAY[1, 3, 6])'), '2',
          'the provider acknowledges its two notices, not the owner''s') FROM ids;
SELECT is(pg_temp.run('lagbid_owner', n1, 'SELECT count(*) FROM lagbid_api.notifications()'), '2',
          'the owner''s notices are still pending') FROM ids;

SELECT is((SELECT count(*)::int FROM lagbid.check_invariants()), 0, 'the market is consistent');
SELECT * FROM finish();
ROLLBACK;
