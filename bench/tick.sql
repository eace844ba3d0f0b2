-- Workload 5: the minutely hook with nothing to do.
SELECT lagbid.tick();
