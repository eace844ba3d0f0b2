-- Resource rules (src/rules/resource_rules.c, compiled into the extension and
-- lagbid-agent): publish and register refuse what they refused when they
-- compared numerics, and place_bid's rule 4 compares amounts exactly, as
-- numeric does.  Every pair below is also compared by SQL's numeric (as
-- open_tasks and why_not compare the columns): a query counts disagreements.
SELECT fresh_market();
SET lagbid.clock = '2030-01-01 00:00:00+00';
SELECT lagbid.deposit('alice', 1000000, 'resource-rules-1');

-- the rules at publish: notations, edges, duplicate keys (jsonb keeps the last)
SELECT r, try(format('SELECT lagbid.publish_task(%L, %L, 1, 2, 1, open => false)', 'alice', r))
  FROM unnest(ARRAY[
    '{"cpu": 1e3}', '{"cpu": 1E+3, "memory_gb": 2.5e-1}', '{"cpu": 1e12}', '{"cpu": 1000000000000.000}',
    '{"cpu": 1000000000000.0000000000000000001}', '{"cpu": 1.0000000000001e12}', '{"storage_gb": 1e-400}',
    '{"cpu": -0}', '{"cpu": -0.0}', '{"cpu": -1e-400}', '{"memory_gb": -1e400}', '{"cpu": 1e1000}',
    '{"cpu": -1, "cpu": 2}', '{"cpu": 2, "cpu": -1}', '{"ram": 1, "ram": 2}', '{"cpu": 1, "CPU": 1}',
    '{"cpu": "1"}', '{"cpu": "NaN"}', '{"cpu": "Infinity"}',
    '{"gpu_count": 2.0}', '{"gpu_count": 0.2e1}', '{"gpu_count": 1024}', '{"gpu_count": 1.024e3}',
    '{"gpu_count": 1025}', '{"gpu_count": 2.000000000000000000001}', '{"gpu_count": -0}',
    '{"gpu_count": -1}', '{"gpu_count": 1e13}', '{"gpu": "A100", "gpu": 7}',
    '{"gpu": "' || repeat('x', 64) || '"}', '{"gpu": "' || repeat('x', 65) || '"}'
  ]) AS r;
-- a huge number of decimals is accepted and kept exactly
SELECT try(format('SELECT lagbid.publish_task(%L, %L, 1, 2, 1, open => false)', 'alice',
                  '{"cpu": 999999999999.' || repeat('9', 3000) || '}'));
SELECT length(resources->>'cpu') FROM lagbid.task WHERE resources->>'cpu' LIKE '999999999999.9999%';

-- rule 4 on exact amounts: task k needs `need` of `key`, provider k has `have`
CREATE TEMP TABLE pairs (k int, key text, need text, have text);
INSERT INTO pairs VALUES
    (1, 'cpu', '1', '1'),
    (2, 'cpu', '1', '1.000'),
    (3, 'cpu', '1.0000000000000000000000001', '1'),
    (4, 'cpu', '1', '1.0000000000000000000000001'),
    (5, 'memory_gb', '1e3', '999.9999999999999999999'),
    (6, 'memory_gb', '1e3', '1000'),
    (7, 'memory_gb', '1.5e-1', '0.15'),
    (8, 'storage_gb', '0.15', '0.149999999999999999999'),
    (9, 'storage_gb', '1e-400', '0'),
    (10, 'storage_gb', '0', '1e-400'),
    (11, 'cpu', '1e-400', '2e-400'),
    (12, 'cpu', '2e-400', '1e-400'),
    (13, 'memory_gb', '2.' || repeat('0', 1000) || '1', '2.' || repeat('0', 1000) || '2'),
    (14, 'memory_gb', '2.' || repeat('0', 1000) || '2', '2.' || repeat('0', 1000) || '1'),
    (15, 'storage_gb', '999999999999.999999999999', '1000000000000'),
    (16, 'storage_gb', '1000000000000', '999999999999.999999999999'),
    -- pairs that doubles cannot tell apart
    (17, 'cpu', '0.1', '0.10000000000000001'),
    (18, 'cpu', '0.10000000000000001', '0.1'),
    (19, 'cpu', '123456789.123456789', '123456789.12345679'),
    (20, 'cpu', '123456789.12345679', '123456789.123456789'),
    (21, 'memory_gb', '900719925474.09932', '900719925474.09931'),
    (22, 'memory_gb', '900719925474.09931', '900719925474.09932');
ALTER TABLE pairs ADD provider bigint, ADD task bigint;
UPDATE pairs SET provider = cp(100 + k, 'eu', jsonb_build_object(key, have::numeric)),
                 task = lagbid.publish_task('alice', jsonb_build_object(key, need::numeric), 1, 10, 1, region => 'eu');
CREATE TEMP TABLE outcome AS
SELECT k, key, left(need, 30) AS need, left(have, 30) AS have,
       need::numeric <= have::numeric AS numeric_covers,
       try(format('SELECT lagbid.place_bid(%s, %s, 5)', task, provider)) AS place_bid_full
  FROM pairs;
SELECT k, key, need, have, numeric_covers, left(place_bid_full, 76) AS place_bid FROM outcome ORDER BY k;
-- no disagreement between the shared rule and numeric
SELECT count(*) AS pairs,
       count(*) FILTER (WHERE numeric_covers <> (place_bid_full = 'ok')) AS disagreements
  FROM outcome;

-- gpu: the model without regard to case, the count whole
SELECT cp(200, 'eu', '{"gpu": "A100", "gpu_count": 2}') AS p200,
       cp(201, 'eu', '{"gpu": "H100", "gpu_count": 8}') AS p201,
       cp(202, 'eu', '{"gpu_count": 4}') AS p202;
SELECT lagbid.publish_task('alice', '{"gpu": "a100", "gpu_count": 2.0}', 1, 10, 1, region => 'eu') AS t_gpu2,
       lagbid.publish_task('alice', '{"gpu_count": 3}', 1, 10, 1, region => 'eu') AS t_count3;
SELECT g.node, g.task, try(format('SELECT lagbid.place_bid(%s, (SELECT id FROM lagbid.provider WHERE node_id = node(%s)), 5)',
                                  (SELECT id FROM lagbid.task WHERE resources = g.task::jsonb), g.node))
  FROM (VALUES (200, '{"gpu": "a100", "gpu_count": 2.0}'), (201, '{"gpu": "a100", "gpu_count": 2.0}'),
               (202, '{"gpu": "a100", "gpu_count": 2.0}'), (200, '{"gpu_count": 3}'),
               (201, '{"gpu_count": 3}'), (202, '{"gpu_count": 3}')) AS g(node, task)
 ORDER BY g.task, g.node;
