-- Identity: libp2p peer ids and multiaddrs, validated in C (src/identity/).
SELECT fresh_market();
SELECT id, lagbid.node_id_is_valid(id) FROM (VALUES
    ('12D3KooWD3eckifWpRn9wQpMG9R9hX3sD158z7EqHWmweQAJU5SA'),   -- ed25519, identity multihash
    ('QmYyQSo1c1Ym7orWxLYvCrM2EmxFTANf8wXmmE7DWjhx5N'),         -- sha2-256
    ('QmYyQSo1c1Ym7orWxLYvCrM2EmxFTANf8wXmmE7DWjhx5'),          -- one character short
    ('QmYyQSo1c1Ym7orWxLYvCrM2EmxFTANf8wXmmE7DWjhx0N'),         -- 0 is not base58
    ('12D3KooWD3eckifWpRn9wQpMG9R9hX3sD158z7EqHWmweQAJU5SB'),   -- one bit off still decodes: length checks
    (''),
    ('not a peer id')) AS t(id);
SELECT a, lagbid.multiaddr_is_valid(a, '12D3KooWD3eckifWpRn9wQpMG9R9hX3sD158z7EqHWmweQAJU5SA') AS valid,
       lagbid.multiaddr_problem(a, '12D3KooWD3eckifWpRn9wQpMG9R9hX3sD158z7EqHWmweQAJU5SA') AS problem
FROM (VALUES
    ('/ip4/203.0.113.7/tcp/4001'),
    ('/ip4/203.0.113.7/udp/4001/quic-v1'),
    ('/ip6/2001:db8::1/tcp/4001/ws'),
    ('/dns4/cp.example.com/tcp/443/wss'),
    ('/dns/cp.example.com/tcp/443/tls/ws'),
    ('/dnsaddr/bootstrap.example.org'),
    ('/ip4/203.0.113.7/tcp/4001/p2p/12D3KooWD3eckifWpRn9wQpMG9R9hX3sD158z7EqHWmweQAJU5SA'),
    ('/ip4/203.0.113.7/tcp/4001/p2p/QmYyQSo1c1Ym7orWxLYvCrM2EmxFTANf8wXmmE7DWjhx5N'),
    ('/ip4/256.0.0.1/tcp/4001'),
    ('/ip4/203.0.113.7/tcp/65536'),
    ('/ip4/203.0.113.7/quic-v1'),
    ('/smtp/25'),
    ('/ip4/203.0.113.7/tcp/4001/'),
    ('ip4/203.0.113.7/tcp/4001'),
    ('')) AS t(a);
-- registration refuses bad identities with LB002 / LB003
SELECT try($$SELECT lagbid.register_provider('QmNotAPeerId', ARRAY['/ip4/1.2.3.4/tcp/1'], 'eu', '{}')$$);
SELECT try($$SELECT lagbid.register_provider(NULL, ARRAY['/ip4/1.2.3.4/tcp/1'], 'eu', '{}')$$);
SELECT try(format($$SELECT lagbid.register_provider(%L, ARRAY['/ip4/1.2.3.4/tcp/1/p2p/QmYyQSo1c1Ym7orWxLYvCrM2EmxFTANf8wXmmE7DWjhx5N'], 'eu', '{}')$$, node(1)));
SELECT try(format($$SELECT lagbid.register_provider(%L, ARRAY[]::text[], 'eu', '{}')$$, node(1)));
SELECT try(format($$SELECT lagbid.register_provider(%L, ARRAY[NULL]::text[], 'eu', '{}')$$, node(1)));
SELECT try(format($$SELECT lagbid.register_provider(%L, NULL, 'eu', '{}')$$, node(1)));
SELECT try(format($$SELECT lagbid.register_provider(%L, array_fill('/ip4/1.2.3.4/tcp/1'::text, ARRAY[33]), 'eu', '{}')$$, node(1)));
SELECT try(format($$SELECT lagbid.register_provider(%L, ARRAY[repeat('/ip4/1.2.3.4', 1000)], 'eu', '{}')$$, node(1)));
SELECT try($$SELECT lagbid.register_provider(repeat('Q', 10000000), ARRAY['/ip4/1.2.3.4/tcp/1'], 'eu', '{}')$$);
SELECT try($$SELECT lagbid.register_provider(E'12D3KooW\u00e9', ARRAY['/ip4/1.2.3.4/tcp/1'], 'eu', '{}')$$);
SELECT count(*) AS providers_written FROM lagbid.provider;
-- a peer id from an ed25519 public key (the encoder agrees with the validator)
SELECT lagbid.peer_id_from_ed25519(sha256('1'::bytea)) AS peer_id,
       lagbid.node_id_is_valid(lagbid.peer_id_from_ed25519(sha256('1'::bytea))) AS valid,
       lagbid.node_id_is_valid(lagbid.peer_id_from_ed25519('\x0000000000000000000000000000000000000000000000000000000000000000')) AS zero_key_valid;
SELECT try($$SELECT lagbid.peer_id_from_ed25519('\x00ff')$$);
