-- pgTAP: who may speak for whom (docs/0.3/identity.md).  Claims are trusted
-- only from the logins of lagbid.authenticators under exactly the claimed
-- role; other logins act as the provider or owner bound to them; an
-- unbound provider login signs up by proving its node's key.  Each call
-- runs in a subtransaction as the given login (SET SESSION AUTHORIZATION),
-- optionally under SET ROLE, with the given claims, and is rolled back.
BEGIN;

\ir lib/api_call.sql
CREATE ROLE pgtap_cp1 LOGIN;          -- provider n1's daemon, bound by the platform
CREATE ROLE pgtap_daemon LOGIN;       -- a new daemon, unbound: signs up for n4
CREATE ROLE pgtap_intruder LOGIN;     -- a provider login that forges claims
CREATE ROLE pgtap_alice LOGIN;        -- owner alice's tool, bound by the platform
CREATE ROLE pgtap_both LOGIN;         -- member of both roles, bound to owner alice
CREATE ROLE pgtap_member LOGIN;       -- an INHERIT member of lagbid_owner (issue 16 item 5)
CREATE ROLE pgtap_platform LOGIN;
GRANT lagbid_provider TO pgtap_cp1, pgtap_daemon, pgtap_intruder, pgtap_both;
GRANT lagbid_owner TO pgtap_alice, pgtap_both, pgtap_member;
GRANT lagbid_platform TO pgtap_platform;

CREATE FUNCTION pg_temp.claims(r text, sub text) RETURNS text LANGUAGE sql
    RETURN jsonb_build_object('role', r, 'sub', sub)::text;

TRUNCATE lagbid.account, lagbid.ledger_tx, lagbid.ledger_entry, lagbid.provider, lagbid.space,
         lagbid.task, lagbid.bid, lagbid.job, lagbid.event, lagbid.notification,
         lagbid.login_binding RESTART IDENTITY CASCADE;
-- the signup vector (test/vectors/registration.sh): key k4 of n4 signed the
-- challenge of (n4, /ip4/192.0.2.44/tcp/4001, window 6311664, seq 0, login
-- pgtap_daemon, market pgtap-market)
SET LOCAL lagbid.clock = '2030-01-01 12:00:00+00';
SET LOCAL lagbid.market_name = 'pgtap-market';
CREATE TEMP TABLE v AS SELECT
    '12D3KooWD3eckifWpRn9wQpMG9R9hX3sD158z7EqHWmweQAJU5SA'::text AS n1,
    'QmYyQSo1c1Ym7orWxLYvCrM2EmxFTANf8wXmmE7DWjhx5N'::text AS n2,
    '12D3KooWRBhwfeP2Y4TCx1SM6s9rUoHhR5STiGwxBhgFRcw3UERE'::text AS n3,
    '12D3KooWDLAMsRv4Q94RtcqrodMZDtroJDLhpNzucNHMrZUJ3AYV'::text AS n4,
    ARRAY['/ip4/192.0.2.44/tcp/4001'] AS a4,
    '\x15447804210f789c7330550e4b369db1a9a82f2a12b085ff8f44d813bf050b076f5c275ef14497a0ab4d0c18afe0c83845a0b69ec26791506f7d04439ad9ec01'::bytea AS s4;
GRANT SELECT ON v TO PUBLIC;
SELECT lagbid.deposit('alice', 1000, 'pgtap-id-a');
SELECT lagbid.register_provider(n1, ARRAY['/ip4/10.0.0.1/tcp/4001'], 'eu', '{}', 5),
       lagbid.register_provider(n2, ARRAY['/ip4/10.0.0.2/tcp/4001'], 'eu', '{}', 5) FROM v;
SELECT lagbid.publish_task('alice', '{}', 1, 10, 1, bid_limit => 5, auto_allocate => false);
SELECT lagbid.place_bid(1, 1, 4), lagbid.place_bid(1, 2, 6);   -- bid 1 of n1, bid 2 of n2
SELECT lagbid.bind_login(n1, 'pgtap_cp1'), lagbid.bind_owner_login('alice', 'pgtap_alice'),
       lagbid.bind_owner_login('alice', 'pgtap_both') FROM v;

CREATE TEMP TABLE cases (n serial, got text, want text, what text);
INSERT INTO cases (got, want, what)
SELECT pg_temp.call(l, r, c, q), want, what FROM v, LATERAL (VALUES
    -- PostgREST, as before
    ('authenticator', 'lagbid_provider', pg_temp.claims('lagbid_provider', n1), 'SELECT * FROM lagbid_api.my_bids()', 'ok',
     'the authenticator''s claims are trusted under the claimed role'),
    ('authenticator', 'lagbid_owner', pg_temp.claims('lagbid_provider', n1), 'SELECT lagbid_api.balance()', '403 LB106',
     'claims of another role than the current one are not trusted'),
    ('authenticator', 'lagbid_provider', '{"role": "lagbid_provider", "sub": "\u0000"}', 'SELECT lagbid_api.balance()', '401 LB101',
     '\u0000 in the sub is LB101, not a raw Unicode error'),
    ('authenticator', 'lagbid_provider', '{"role": "lagbid\u0000provider", "sub": "x"}', 'SELECT lagbid_api.balance()', '401 LB101',
     '\u0000 in the role is LB101'),
    ('authenticator', 'lagbid_provider', '{"role": "lagbid_provider", "sub": "\ud800"}', 'SELECT lagbid_api.balance()', '401 LB101',
     'a lone surrogate is LB101'),
    -- forged claims from other logins (issue 13 item 5, issue 16 item 5)
    ('pgtap_intruder', 'lagbid_provider', pg_temp.claims('lagbid_provider', n2), 'SELECT lagbid_api.withdraw_bid(2)', '403 LB106',
     'a provider login cannot withdraw another provider''s bid with forged claims'),
    ('pgtap_intruder', NULL, pg_temp.claims('lagbid_provider', n2), 'SELECT * FROM lagbid_api.my_bids()', '403 LB106',
     'nor read its bids without SET ROLE'),
    ('pgtap_intruder', 'lagbid_provider', pg_temp.claims('lagbid_provider', 'garbage'), 'SELECT * FROM lagbid_api.my_bids()', '403 LB106',
     'untrusted claims are refused before they are parsed'),
    ('pgtap_member', NULL, pg_temp.claims('lagbid_provider', n1), 'SELECT lagbid_api.balance()', '403 LB106',
     'an owner-member login with role none cannot read a provider''s balance'),
    ('pgtap_member', NULL, pg_temp.claims('lagbid_provider', n1), 'SELECT * FROM lagbid_api.notifications()', '403 LB106',
     'nor its sealed notifications'),
    ('pgtap_member', NULL, pg_temp.claims('lagbid_owner', 'alice'), 'SELECT lagbid_api.balance()', '403 LB106',
     'nor an owner''s balance'),
    ('pgtap_intruder', 'lagbid_provider', NULL, 'SELECT * FROM lagbid_api.my_bids()', '401 LB101',
     'an unbound login without claims has no identity'),
    -- a bound provider login acts as its node, and only as it
    ('pgtap_cp1', NULL, NULL, 'SELECT lagbid_api.withdraw_bid(1)', 'ok', 'a bound login withdraws its node''s bid'),
    ('pgtap_cp1', NULL, NULL, 'SELECT lagbid_api.withdraw_bid(2)', '403 LB103', 'but not another node''s'),
    ('pgtap_cp1', 'lagbid_provider', NULL, 'SELECT lagbid_api.balance()', 'ok', 'a bound login reads its balance'),
    ('pgtap_cp1', NULL, pg_temp.claims('lagbid_provider', n1), 'SELECT * FROM lagbid_api.my_bids()', 'ok',
     'claims that repeat the binding are accepted'),
    ('pgtap_cp1', NULL, pg_temp.claims('lagbid_provider', n2), 'SELECT lagbid_api.withdraw_bid(2)', '403 LB106',
     'claims naming another node are refused'),
    ('pgtap_cp1', NULL, NULL, $q$SELECT lagbid_api.register_provider(ARRAY['/ip4/10.0.0.9/tcp/1'], 'eu', '{}')$q$, 'ok',
     'a bound login updates its registration'),
    ('pgtap_cp1', NULL, NULL, format($q$SELECT lagbid_api.register_provider(ARRAY['/ip4/10.0.0.9/tcp/1'], 'eu', '{}', node_id => %L)$q$, n1), 'ok',
     'naming its own node is fine'),
    ('pgtap_cp1', NULL, NULL, format($q$SELECT lagbid_api.register_provider(ARRAY['/ip4/10.0.0.9/tcp/1'], 'eu', '{}', node_id => %L)$q$, n3), '403 LB107',
     'a bound login cannot register a second node id'),
    ('pgtap_cp1', NULL, NULL, format($q$SELECT lagbid_api.register_provider(a4, 'eu', '{}', signature => s4, node_id => n4) FROM v$q$), '403 LB107',
     'not even with a valid signature of it'),
    ('pgtap_cp1', NULL, NULL, format($q$SELECT lagbid_api.registration_challenge(ARRAY['/ip4/10.0.0.9/tcp/1'], %L)$q$, n3), '403 LB107',
     'nor ask for another node''s challenge'),
    ('pgtap_cp1', NULL, NULL, $q$SELECT lagbid_api.registration_challenge(ARRAY['/ip4/10.0.0.9/tcp/1'])$q$, 'ok',
     'a bound login asks for its own challenge'),
    ('pgtap_cp1', 'lagbid_provider', NULL, format('SELECT lagbid.api_signup(%L, true)', n4), '42501',
     'the signup helper is internal'),
    ('pgtap_cp1', 'lagbid_provider', NULL, format('SELECT lagbid.registration_challenge(%L, ARRAY[''/ip4/10.0.0.9/tcp/1''])', n1), '42501',
     'the platform''s challenge function is not a provider''s'),
    ('pgtap_cp1', 'lagbid_provider', NULL, $q$SELECT lagbid.bind_login('12D3KooWDLAMsRv4Q94RtcqrodMZDtroJDLhpNzucNHMrZUJ3AYV', 'pgtap_cp1')$q$, '42501',
     'binding is for the platform only'),
    -- a bound owner login
    ('pgtap_alice', NULL, NULL, $q$SELECT lagbid_api.publish_task('{}', 1, 2, 1)$q$, 'ok', 'a bound owner login publishes as its owner'),
    ('pgtap_alice', NULL, NULL, 'SELECT lagbid_api.cancel_task(1)', 'ok', 'and cancels its owner''s task'),
    ('pgtap_alice', NULL, pg_temp.claims('lagbid_owner', 'bob'), 'SELECT lagbid_api.balance()', '403 LB106',
     'claims naming another owner are refused'),
    ('pgtap_alice', NULL, NULL, 'SELECT * FROM lagbid_api.my_bids()', '42501', 'an owner login has no provider calls'),
    ('pgtap_both', NULL, NULL, 'SELECT * FROM lagbid_api.my_bids()', '403 LB105',
     'a login bound to an owner cannot make provider calls even with the privilege'),
    ('pgtap_both', NULL, NULL, $q$SELECT lagbid_api.register_provider(ARRAY['/ip4/10.0.0.9/tcp/1'], 'eu', '{}')$q$, '403 LB105',
     'nor register a provider'),
    -- easy signup
    ('pgtap_daemon', NULL, NULL,
     $q$DO $d$ BEGIN IF (SELECT lagbid_api.registration_challenge(a4, n4) FROM v)
         <> convert_to(format(E'lagbid-registration-v1\nnode:%s\naddr:%s\nwindow:6311664\nseq:0\nlogin:pgtap_daemon\nmarket:pgtap-market\n',
                              (SELECT n4 FROM v), (SELECT a4[1] FROM v)), 'UTF8')
         THEN RAISE 'challenge differs'; END IF; END $d$$q$, 'ok',
     'an unbound login gets the challenge of the node it names'),
    ('pgtap_daemon', NULL, NULL,
     $q$SELECT lagbid_api.register_provider(a4, 'eu', '{"cpu": 2}', signature => s4, node_id => n4) FROM v;
        SELECT lagbid_api.set_bid_limit(3);
        DO $d$ BEGIN IF position('seq:1' IN convert_from(lagbid_api.registration_challenge(ARRAY['/ip4/192.0.2.44/tcp/4001']), 'UTF8')) = 0
                 THEN RAISE 'not bound'; END IF; END $d$$q$, 'ok',
     'easy signup: a valid signature registers the node and binds the login to it'),
    ('pgtap_daemon', NULL, NULL,
     format($q$SELECT lagbid_api.register_provider(a4, 'eu', '{}', signature => s4, node_id => n4) FROM v;
        SELECT lagbid_api.register_provider(ARRAY['/ip4/10.0.0.9/tcp/1'], 'eu', '{}', node_id => %L)$q$, n3), '403 LB107',
     'once signed up, the login cannot register a second node id'),
    ('pgtap_daemon', NULL, NULL, $q$SELECT lagbid_api.register_provider(a4, 'eu', '{}', node_id => n4) FROM v$q$, '403 LB109',
     'signup without a signature: LB109'),
    ('pgtap_daemon', NULL, NULL, $q$SELECT lagbid_api.register_provider(a4, 'eu', '{}', signature => s4) FROM v$q$, '401 LB101',
     'signup without a node id: LB101'),
    ('pgtap_daemon', NULL, NULL,
     $q$SELECT lagbid_api.register_provider(a4, 'eu', '{}', signature => set_byte(s4, 0, get_byte(s4, 0) # 1), node_id => n4) FROM v$q$, '403 LB108',
     'signup with a bad signature: LB108'),
    ('pgtap_daemon', NULL, NULL,
     $q$SELECT lagbid_api.register_provider(a4, 'eu', '{}', signature => s4, node_id => n4) FROM v;
        SELECT lagbid_api.register_provider(a4, 'eu', '{}', signature => s4) FROM v$q$, '403 LB108',
     'the signature serves once'),
    ('pgtap_daemon', NULL, NULL, $q$SELECT lagbid_api.register_provider(ARRAY['/ip4/10.0.0.1/tcp/4001'], 'eu', '{}', signature => s4, node_id => n1) FROM v$q$, '403 LB107',
     'a node bound to another login cannot be taken over'),
    ('pgtap_daemon', NULL, NULL, $q$SELECT lagbid_api.register_provider(ARRAY['/ip4/10.0.0.2/tcp/4001'], 'eu', '{}', signature => s4, node_id => n2) FROM v$q$, '403 LB108',
     'a Qm node cannot prove its key'),
    ('pgtap_intruder', NULL, NULL, $q$SELECT lagbid_api.register_provider(a4, 'eu', '{}', signature => s4, node_id => n4) FROM v$q$, '403 LB108',
     'a signature made for another login does not sign it up'),
    ('pgtap_daemon', NULL, pg_temp.claims('lagbid_provider', n4), $q$SELECT lagbid_api.register_provider(a4, 'eu', '{}', signature => s4, node_id => n4) FROM v$q$, '403 LB106',
     'an unbound login that sends claims is refused, not signed up'),
    ('authenticator', 'lagbid_provider', NULL, $q$SELECT lagbid_api.register_provider(a4, 'eu', '{}', signature => s4, node_id => n4) FROM v$q$, '401 LB101',
     'the authenticator never signs up'),
    ('authenticator', 'lagbid_provider', pg_temp.claims('lagbid_provider', n1),
     format($q$SELECT lagbid_api.register_provider(ARRAY['/ip4/10.0.0.1/tcp/4001'], 'eu', '{}', node_id => %L)$q$, n3), '403 LB106',
     'a PostgREST caller cannot register another node than its sub'),
    ('authenticator', 'lagbid_provider', pg_temp.claims('lagbid_provider', n1),
     $q$SELECT lagbid_api.registration_challenge(ARRAY['/ip4/10.0.0.1/tcp/4001'])$q$, 'ok',
     'a PostgREST caller gets its sub''s challenge'),
    ('authenticator', 'lagbid_provider', pg_temp.claims('lagbid_provider', n1),
     format($q$SELECT lagbid_api.registration_challenge(ARRAY['/ip4/10.0.0.1/tcp/4001'], %L)$q$, n3), '403 LB106',
     'but not another node''s'),
    -- the platform binds
    ('pgtap_platform', NULL, NULL, format($q$SELECT lagbid.bind_login(%L, 'pgtap_cp1')$q$, n1), 'ok', 'binding again the same way is a no-op'),
    ('pgtap_platform', NULL, NULL, format($q$SELECT lagbid.bind_login(%L, 'pgtap_cp1')$q$, n2), 'LB107', 'a login is bound to at most one identity'),
    ('pgtap_platform', NULL, NULL, $q$SELECT lagbid.bind_owner_login('bob', 'pgtap_cp1')$q$, 'LB107', 'to one kind too'),
    ('pgtap_platform', NULL, NULL, format($q$SELECT lagbid.bind_login(%L, 'authenticator')$q$, n2), 'LB001', 'an authenticator cannot be bound'),
    ('pgtap_platform', NULL, NULL, $q$SELECT lagbid.bind_login('not-a-node', 'pgtap_intruder')$q$, 'LB002', 'a node id is checked'),
    ('pgtap_platform', NULL, NULL, $q$SELECT lagbid.bind_owner_login(E'a\tb', 'pgtap_intruder')$q$, 'LB001', 'an owner name is checked'),
    ('pgtap_platform', NULL, NULL, $q$SELECT lagbid.bind_login(NULL, 'pgtap_intruder')$q$, 'LB001', 'NULL is refused'),
    ('pgtap_platform', NULL, NULL, 'SELECT count(*) FROM lagbid.login_binding', 'ok', 'the platform reads the bindings'),
    ('pgtap_platform', NULL, NULL,
     $q$DO $d$ BEGIN IF NOT lagbid.is_authenticator('authenticator') OR lagbid.is_authenticator('pgtap_cp1') THEN RAISE 'is_authenticator'; END IF; END $d$$q$,
     'ok', 'is_authenticator reads lagbid.authenticators'),
    ('pgtap_platform', NULL, NULL, $q$SET lagbid.authenticators = 'pgtap_platform'$q$, '42501', 'only a superuser names the authenticators'),
    ('postgres', NULL, NULL, $q$SET LOCAL lagbid.authenticators = '"oops'$q$, '22023', 'lagbid.authenticators is a list of role names'),
    ('pgtap_cp1', NULL, '{"role": "lagbid_provider", "sub": "\u0000"}', 'SELECT * FROM lagbid_api.my_bids()', '401 LB101',
     'a bound login''s malformed claims are LB101 too'),
    ('pgtap_cp1', 'lagbid_provider', NULL, 'SELECT count(*) FROM lagbid.login_binding', '42501', 'a provider does not'),
    ('pgtap_platform', NULL, NULL,
     $q$DO $d$ BEGIN IF NOT lagbid.unbind_login('pgtap_cp1') OR lagbid.unbind_login('pgtap_cp1') THEN RAISE 'unbind'; END IF; END $d$$q$,
     'ok', 'unbind_login says whether there was a binding')
) AS c(l, r, c, q, want, what);

-- the authenticators list is checked against the session's login, not the role:
-- even an authenticator gets no "none" shortcut
SET lagbid.authenticators = 'authenticator, pgtap_member';
INSERT INTO cases (got, want, what)
SELECT pg_temp.call('pgtap_member', NULL, pg_temp.claims('lagbid_provider', n1), 'SELECT lagbid_api.balance()'), '403 LB106',
       'an authenticator that did not SET ROLE to the claimed role is refused' FROM v
UNION ALL
SELECT pg_temp.call('pgtap_member', 'lagbid_owner', pg_temp.claims('lagbid_owner', 'alice'), 'SELECT lagbid_api.balance()'), 'ok',
       'the same login under the claimed role is trusted' FROM v;
RESET lagbid.authenticators;
-- after unbinding, the login has no identity any more
SELECT lagbid.unbind_login('pgtap_cp1');
INSERT INTO cases (got, want, what)
SELECT pg_temp.call('pgtap_cp1', NULL, NULL, 'SELECT * FROM lagbid_api.my_bids()'), '401 LB101', 'an unbound login has no identity';

SELECT plan((SELECT count(*)::int FROM cases) + 1);
SELECT is(got, want, what) FROM cases ORDER BY n;
SELECT is((SELECT count(*)::int FROM lagbid.login_binding WHERE how = 'signup'), 0, 'every signup above was rolled back with its call');
SELECT * FROM finish();
ROLLBACK;
