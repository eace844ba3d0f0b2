-- Signed registration (src/registration.c): a provider proves it holds the
-- ed25519 key of its peer id by signing lagbid.registration_challenge().
-- The vectors below were made once with an independent signer (openssl
-- pkeyutl, test/vectors/registration.sh) for the market clock 2030-01-01
-- 12:00 UTC (challenge window 6311664), the market name 'regress-market' and the
-- login regress_signer; k1 is the key of n1, k2 of n2.
SELECT fresh_market();
CREATE ROLE regress_signer LOGIN;
CREATE ROLE regress_other LOGIN;
GRANT lagbid_platform TO regress_signer, regress_other;
SET lagbid.clock = '2030-01-01 12:00:00+00';
SET lagbid.market_name = 'regress-market';
CREATE TEMP TABLE v AS SELECT
    '12D3KooWCBmYeGMX6aBhMTYffYvfyEBaxqYuRPHr7wA7riVpB6Vg'::text AS n1,
    '12D3KooWNfzw5GvHpF2nM5QFcvxsQc4unG4hc2mnJkCXtW9U2137'::text AS n2,
    ARRAY['/ip4/203.0.113.7/tcp/4001', '/dns4/cp1.example/udp/4001/quic-v1'] AS a,
    ARRAY['/ip4/198.51.100.1/tcp/4001'] AS a3,
    -- k1 over (n1, a, window 6311664, seq 0)
    '\x0fcef0d80581cb5d3793773613647d64ed213293bf0a29890de4f732398d440858a3949fa2a76d687de21e2a5e97e5a68965adc1498bae2867344572e7beb60e'::bytea AS s1,
    -- k1 over (n1, a, window 6311664, seq 1)
    '\xc18921357e3c1e9787206236d7e3f3d5c35bea727cd319051e529d50de2010be3ee74ed6202c13255183452b941a35587dcebe53af5119dfb0abe88b4d366e00'::bytea AS s2,
    -- k1 over (n1, a3, window 6311665, seq 2)
    '\x891f380cf0ebaec74d70850f68bc287249e050e047b29621a99ff9d72ef6c661fc42ef0adfec927a6c74da32bb18a713d413d6b85be97aa0df81950bd341b209'::bytea AS s3;
GRANT SELECT ON v TO regress_signer, regress_other;
SET SESSION AUTHORIZATION regress_signer;
-- the challenge is exactly the documented bytes (what the signer signed)
SELECT lagbid.registration_challenge(n1, a) = '\x6c61676269642d726567697374726174696f6e2d76310a6e6f64653a313244334b6f6f5743426d5965474d58366142684d545966665976667945426178715975525048723777413772695670423656670a616464723a2f6970342f3230332e302e3131332e372f7463702f343030310a616464723a2f646e73342f6370312e6578616d706c652f7564702f343030312f717569632d76310a77696e646f773a363331313636340a7365713a300a6c6f67696e3a726567726573735f7369676e65720a6d61726b65743a726567726573732d6d61726b65740a'::bytea AS challenge_as_documented,
       convert_from(lagbid.registration_challenge(n1, a), 'UTF8') AS challenge FROM v;
-- refused (LB108): other addresses, another node, one byte changed, not 64
-- bytes, a Qm id (it holds no key), a signature for another login
SELECT try(format('SELECT lagbid.register_provider(%L, %L, ''eu'', ''{}'', signature => %L)', n1, a[1:1], s1)) AS fewer_addresses FROM v;
SELECT try(format('SELECT lagbid.register_provider(%L, %L, ''eu'', ''{}'', signature => %L)', n1, a3, s1)) AS other_addresses FROM v;
SELECT try(format('SELECT lagbid.register_provider(%L, %L, ''eu'', ''{}'', signature => %L)', n2, a, s1)) AS other_node FROM v;
SELECT try(format('SELECT lagbid.register_provider(%L, %L, ''eu'', ''{}'', signature => %L)', n1, a,
                  set_byte(s1, 17, get_byte(s1, 17) # 1))) AS tampered FROM v;
SELECT try(format('SELECT lagbid.register_provider(%L, %L, ''eu'', ''{}'', signature => %L)', n1, a, substr(s1, 1, 63))) AS short FROM v;
SELECT try(format('SELECT lagbid.register_provider(%L, %L, ''eu'', ''{}'', signature => %L)',
                  'QmYyQSo1c1Ym7orWxLYvCrM2EmxFTANf8wXmmE7DWjhx5N', ARRAY['/ip4/10.0.0.1/tcp/1'], s1)) AS qm_id FROM v;
SELECT try(format('SELECT lagbid.register_provider(%L, %L, ''eu'', ''{}'', signature => %L)', n1, a, ''::bytea)) AS empty FROM v;
RESET SESSION AUTHORIZATION;
SET SESSION AUTHORIZATION regress_other;
SELECT try(format('SELECT lagbid.register_provider(%L, %L, ''eu'', ''{}'', signature => %L)', n1, a, s1)) AS other_login FROM v;
RESET SESSION AUTHORIZATION;
SET SESSION AUTHORIZATION regress_signer;
SELECT count(*) AS nothing_registered FROM lagbid.provider;
-- accepted: verified, and the sequence moves on
SELECT lagbid.register_provider(n1, a, 'eu', '{"cpu": 4}', signature => s1) AS id FROM v;
SELECT node_id = v.n1 AS n1, multiaddrs, verified, registration_seq FROM lagbid.provider, v;
-- the same signature again is refused: it was for sequence 0
SELECT try(format('SELECT lagbid.register_provider(%L, %L, ''eu'', ''{}'', signature => %L)', n1, a, s1)) AS replay FROM v;
-- a signature two windows old is refused, one window old is accepted
RESET SESSION AUTHORIZATION;
SET lagbid.clock = '2030-01-01 12:10:00+00';
SET SESSION AUTHORIZATION regress_signer;
SELECT try(format('SELECT lagbid.register_provider(%L, %L, ''eu'', ''{}'', signature => %L)', n1, a, s2)) AS ten_minutes_later FROM v;
RESET SESSION AUTHORIZATION;
SET lagbid.clock = '2030-01-01 12:05:00+00';
SET SESSION AUTHORIZATION regress_signer;
SELECT try(format('SELECT lagbid.register_provider(%L, %L, ''eu'', ''{}'', signature => %L)', n1, a, s2)) AS five_minutes_later FROM v;
SELECT verified, registration_seq FROM lagbid.provider;
-- new addresses signed in the next window; the oldest signature cannot roll them back
SELECT try(format('SELECT lagbid.register_provider(%L, %L, ''eu'', ''{}'', signature => %L)', n1, a3, s3)) AS moved FROM v;
SELECT try(format('SELECT lagbid.register_provider(%L, %L, ''eu'', ''{}'', signature => %L)', n1, a, s1)) AS roll_back FROM v;
SELECT try(format('SELECT lagbid.register_provider(%L, %L, ''eu'', ''{}'', signature => %L)', n1, a, s2)) AS roll_back_2 FROM v;
SELECT multiaddrs = v.a3 AS moved, verified, registration_seq FROM lagbid.provider, v;
-- an unsigned registration is allowed by default, and is not verified
SELECT lagbid.register_provider(n1, a3, 'eu', '{"cpu": 4}') = 1 AS same_id FROM v;
SELECT verified, registration_seq FROM lagbid.provider;
RESET SESSION AUTHORIZATION;
-- lagbid.require_signed_registration: only superusers change it; unsigned is refused (LB109)
SET SESSION AUTHORIZATION regress_signer;
SELECT try('SET lagbid.require_signed_registration = on') AS platform_cannot_turn_it_off;
RESET SESSION AUTHORIZATION;
SET lagbid.require_signed_registration = on;
SET SESSION AUTHORIZATION regress_signer;
SELECT try(format('SELECT lagbid.register_provider(%L, %L, ''eu'', ''{}'')', n1, a3)) AS unsigned FROM v;
SELECT try(format('SELECT lagbid.register_provider(%L, %L, ''eu'', ''{}'')', n2, a)) AS unsigned_new FROM v;
SELECT count(*) AS providers FROM lagbid.provider;
-- garbage never crashes: NULL and huge arguments of the challenge
SELECT try('SELECT lagbid.registration_challenge(NULL, ARRAY[''/ip4/1.2.3.4/tcp/1''])') AS null_node;
SELECT try(format('SELECT lagbid.registration_challenge(%L, NULL)', n1)) AS null_addrs FROM v;
SELECT try(format('SELECT lagbid.registration_challenge(%L, ARRAY[repeat(''/ip4/1.2.3.4'', 100000)])', n1)) AS huge FROM v;
SELECT try(format('SELECT lagbid.register_provider(%L, %L, ''eu'', ''{}'', signature => %L)', n1, a3, decode(repeat('00', 100000), 'hex'))) AS huge_signature FROM v;
RESET SESSION AUTHORIZATION;
RESET lagbid.require_signed_registration;
RESET lagbid.clock;
RESET lagbid.market_name;
-- the market name is one line of the challenge
SELECT try(format('SET lagbid.market_name = %L', E'a\nwindow:1')) AS no_newline;
-- the challenge names this market when lagbid.market_name is empty
SELECT convert_from(lagbid.registration_challenge(n1, a), 'UTF8')
       ~ ('market:' || (SELECT system_identifier FROM pg_control_system()) || '/' || current_database() || E'\n$')
       AS names_cluster_and_database FROM v;
SELECT * FROM lagbid.check_invariants();
DROP OWNED BY regress_signer, regress_other;
DROP ROLE regress_signer, regress_other;
