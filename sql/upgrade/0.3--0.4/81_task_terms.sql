-- The task's terms fixed at publish (price range, replicas, duration, bidding
-- window) are no longer CHECK constraints: PostgreSQL compiles every CHECK of
-- a table again in each statement that writes one of its rows, and every bid
-- writes its task (bid_count).  C validates them in every function that
-- writes them; check_invariants() reports a task whose terms break them
-- (task_terms, 70_4_invariants.sql).  bid_count <= bid_limit stays a CHECK.
ALTER TABLE lagbid.task
    DROP CONSTRAINT task_price_range,
    DROP CONSTRAINT task_replicas,
    DROP CONSTRAINT task_window_positive,
    DROP CONSTRAINT task_duration_hours_check;
