-- 0.4, the election (issue 19 defect 2; docs/0.4/election.md): a leader needs a
-- strict majority of replicas, a computed hash outweighs a claimed one, and
-- without a majority the task gathers extra replicas (counted here) up to
-- lagbid.max_extra_replicas, then fails with no_consensus.

ALTER TABLE lagbid.task
    ADD COLUMN extra_replicas integer NOT NULL DEFAULT 0;
COMMENT ON COLUMN lagbid.task.extra_replicas IS 'replicas the election added (included in replicas) because no result held a strict majority; at most lagbid.max_extra_replicas (docs/0.4/election.md)';

COMMENT ON FUNCTION lagbid.finalize(bigint) IS
    'elects the leading node: a result hash needs a strict majority of replicas, a computed hash (upload_result) always outweighs a claimed one (submit_result); completes the task, pays ask x duration_hours per agreeing job and refunds the rest; returns the leader job id, or NULL: the task failed (no valid result, no_consensus) or, with no majority, gathers extra replicas (docs/0.4/election.md)';

COMMENT ON FUNCTION lagbid_api.finalize(bigint) IS
    'Elects the leading node of one of the caller''s tasks (a strict majority of replicas) and pays; returns the leader job id, or NULL when the task failed (no valid result, no_consensus) or gathers extra replicas for lack of a majority.';

-- check_invariants() gains the election's rules (a submitted job may wait
-- while its task gathers extra replicas; completed jobs agree on one hash):
-- its 0.4 definition, with trust's rules too, is in 51_trust_functions.sql
