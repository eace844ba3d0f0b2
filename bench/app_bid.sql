-- Workload 2's baseline: the checks of place_bid done by an application, in
-- several round trips, against plain tables of the same shape (app.*).
-- Same rules: task open and in its window, one live bid per provider and
-- task (same price = retry), ask in the price range, region and resources
-- match, provider active with a free slot; then insert the bid, log the
-- event, take the slot, count the bid.  8 round trips per bid.
\set task random(1, :ntasks)
\set provider random(1, :nproviders)
\set price 10 + (:task + :provider) % 11
BEGIN;
SELECT (state = 'accepting_bids' AND (bidding_deadline IS NULL OR now() < bidding_deadline))::int AS t_open,
       (price_min <= :price AND :price <= price_max)::int AS t_price_ok,
       bid_count AS t_bid_count, bid_limit AS t_bid_limit, region AS t_region,
       cpu AS t_cpu, memory_gb AS t_memory_gb, storage_gb AS t_storage_gb,
       coalesce(gpu, '') AS t_gpu, gpu_count AS t_gpu_count
  FROM app.task WHERE id = :task FOR UPDATE \gset
SELECT count(*) AS live, coalesce(min(price), -1) AS live_price
  FROM app.bid WHERE task_id = :task AND provider_id = :provider AND state IN ('open', 'won') \gset
SELECT (state = 'active')::int AS p_active, slots_used AS p_used, max_concurrent AS p_max,
       (region = :t_region OR region LIKE :t_region || '-%')::int AS p_region_ok,
       cpu AS p_cpu, memory_gb AS p_memory_gb, storage_gb AS p_storage_gb,
       (:t_gpu = '' OR lower(coalesce(gpu, '')) = lower(:t_gpu))::int AS p_gpu_ok, gpu_count AS p_gpu_count
  FROM app.provider WHERE id = :provider \gset
\if :live > 0
  -- a retry (same price) or a refused re-bid: nothing to write
\elif :t_open = 1 and :t_price_ok = 1 and :t_bid_count < :t_bid_limit and :p_region_ok = 1 and :p_cpu >= :t_cpu and :p_memory_gb >= :t_memory_gb and :p_storage_gb >= :t_storage_gb and :p_gpu_ok = 1 and :p_gpu_count >= :t_gpu_count and :p_active = 1 and :p_used < :p_max
WITH b AS (INSERT INTO app.bid (task_id, provider_id, price) VALUES (:task, :provider, :price) RETURNING id)
INSERT INTO app.event (entity, entity_id, to_state, actor, reason) SELECT 'bid', id, 'open', :provider, 'placed' FROM b;
UPDATE app.provider SET slots_used = slots_used + 1 WHERE id = :provider;
UPDATE app.task SET bid_count = bid_count + 1 WHERE id = :task;
\endif
COMMIT;
