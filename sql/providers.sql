-- Providers: registration (idempotent on the node id), limits, suspension.
SELECT fresh_market();
SELECT cp(1) AS p1, cp(2, 'us-east', '{"cpu": 2, "gpu": "A100", "gpu_count": 2}', 3) AS p2;
SELECT id, node_id = node(id::int) AS is_node, multiaddrs, region, cpu, memory_gb, gpu, gpu_count,
       max_concurrent, slots_used, state FROM lagbid.provider ORDER BY id;
-- registering again updates addresses, region, resources and limit; same id
SELECT lagbid.register_provider(node(1), ARRAY['/dns4/cp1.example.com/udp/4001/quic-v1', '/ip4/10.0.0.1/tcp/4001/p2p/' || node(1)],
                                'eu-central', '{"cpu": 16}', max_concurrent => 4, chain_id => 'filecoin', chain_tx => '0xabc') AS p1_again;
SELECT id, multiaddrs, region, cpu, memory_gb, max_concurrent, chain_id, chain_tx FROM lagbid.provider WHERE id = 1;
-- each provider has a provider account (where it is paid)
SELECT kind, name = node(1) OR name = node(2) AS is_provider, balance FROM lagbid.account ORDER BY id;
-- refusals, each with its SQLSTATE; nothing written
SELECT try(format($$SELECT lagbid.register_provider(%L, ARRAY['/ip4/1.2.3.4/tcp/1'], 'EU', '{}')$$, node(3)));
SELECT try(format($$SELECT lagbid.register_provider(%L, ARRAY['/ip4/1.2.3.4/tcp/1'], NULL, '{}')$$, node(3)));
SELECT try(format($$SELECT lagbid.register_provider(%L, ARRAY['/ip4/1.2.3.4/tcp/1'], 'eu', '{"ram": 4}')$$, node(3)));
SELECT try(format($$SELECT lagbid.register_provider(%L, ARRAY['/ip4/1.2.3.4/tcp/1'], 'eu', '{"cpu": -1}')$$, node(3)));
SELECT try(format($$SELECT lagbid.register_provider(%L, ARRAY['/ip4/1.2.3.4/tcp/1'], 'eu', '{"cpu": "many"}')$$, node(3)));
SELECT try(format($$SELECT lagbid.register_provider(%L, ARRAY['/ip4/1.2.3.4/tcp/1'], 'eu', '[1, 2]')$$, node(3)));
SELECT try(format($$SELECT lagbid.register_provider(%L, ARRAY['/ip4/1.2.3.4/tcp/1'], 'eu', NULL)$$, node(3)));
SELECT try(format($$SELECT lagbid.register_provider(%L, ARRAY['/ip4/1.2.3.4/tcp/1'], 'eu', '{"gpu_count": 1.5}')$$, node(3)));
SELECT try(format($$SELECT lagbid.register_provider(%L, ARRAY['/ip4/1.2.3.4/tcp/1'], 'eu', '{}', 0)$$, node(3)));
SELECT try(format($$SELECT lagbid.register_provider(%L, ARRAY['/ip4/1.2.3.4/tcp/1'], 'eu', '{}', 1000000)$$, node(3)));
SELECT count(*) AS providers FROM lagbid.provider;
-- the bid limit (market rule 1)
SELECT lagbid.set_bid_limit(1, 7);
SELECT max_concurrent FROM lagbid.provider WHERE id = 1;
SELECT try('SELECT lagbid.set_bid_limit(1, 0)');
SELECT try('SELECT lagbid.set_bid_limit(1, NULL)');
SELECT try('SELECT lagbid.set_bid_limit(99, 2)');
-- suspension
SELECT lagbid.set_provider_state(2, 'suspended');
SELECT try($$SELECT lagbid.set_provider_state(2, 'gone')$$);
SELECT try($$SELECT lagbid.set_provider_state(99, 'active')$$);
SELECT id, state FROM lagbid.provider ORDER BY id;
SELECT * FROM lagbid.check_invariants();
