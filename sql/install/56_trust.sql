-- ---------------------------------------------------------------------------
-- Trust between strangers (0.4, issue 20): collateral at stake, slashes with
-- reasons, reputation earned.  The rules are C (src/collateral.c,
-- src/reputation.c, src/outcome.c), applied under the task's row lock in
-- the transactions of the market calls they belong to; this part adds the
-- columns they keep.  docs/0.4/trust.md tells the whole story.
--
-- The same file is the 0.3 -> 0.4 upgrade of these objects (a symbolic link
-- in sql/upgrade/0.3--0.4/): everything here is ALTER, so that a fresh
-- install and an updated 0.3 database end with the same catalog.  Reputation
-- starts at zero on the update: 0.3 staked nothing and elected the first
-- submission, so its history says nothing about who agrees with a majority.
-- ---------------------------------------------------------------------------

-- a bid's bond lives in an account of its own (kind bonded, name bid:<id>).
-- Nothing below may use the new label in this transaction (PostgreSQL
-- refuses an enum value added by an uncommitted transaction), so SQL here
-- compares kind::text.
ALTER TYPE lagbid.account_kind ADD VALUE 'bonded';
COMMENT ON TYPE lagbid.account_kind IS
    'owner: an owner''s account (named by owner name); provider: a provider''s account (named by node id); escrow: one per task or space; external: the outside world (deposits); bonded: one per bid on a collateral task, holding its bond (named bid:<bid id>)';

-- bond: provider -> bonded at bid time; release: bonded -> provider; slash:
-- bonded -> the task's owner, with the job and its reason
ALTER TABLE lagbid.ledger_tx DROP CONSTRAINT ledger_tx_kind_check,
    ADD CONSTRAINT ledger_tx_kind_check
        CHECK (kind IN ('deposit', 'escrow', 'payment', 'refund', 'transfer', 'bond', 'release', 'slash'));

ALTER TABLE lagbid.task
    ADD COLUMN collateral_ratio numeric NOT NULL DEFAULT 0,
    ADD COLUMN min_reputation numeric NOT NULL DEFAULT 0,
    ADD COLUMN allocation text NOT NULL DEFAULT 'lowest_ask',
    ADD CONSTRAINT task_collateral_ratio CHECK (collateral_ratio >= 0 AND collateral_ratio <= 100),
    ADD CONSTRAINT task_min_reputation CHECK (min_reputation >= 0),
    ADD CONSTRAINT task_allocation CHECK (allocation IN ('lowest_ask', 'reliability'));
COMMENT ON COLUMN lagbid.task.collateral_ratio IS
    'each bid locks collateral_ratio x ask x duration_hours of its provider''s balance as its bond (0: no collateral)';
COMMENT ON COLUMN lagbid.task.min_reputation IS 'only providers whose score is at least this may bid';
COMMENT ON COLUMN lagbid.task.allocation IS
    'lowest_ask (lowest ask, then higher score, then earliest) or reliability (lowest ask / reliability, reliability = (score + 1) / (score + 2))';

ALTER TABLE lagbid.space
    ADD COLUMN collateral_ratio numeric NOT NULL DEFAULT 0,
    ADD CONSTRAINT space_collateral_ratio CHECK (collateral_ratio >= 0 AND collateral_ratio <= 100);
COMMENT ON COLUMN lagbid.space.collateral_ratio IS 'the collateral_ratio of each task the space publishes';

ALTER TABLE lagbid.bid
    ADD COLUMN bond numeric NOT NULL DEFAULT 0,
    ADD COLUMN bond_state text,
    ADD COLUMN bond_account_id bigint,
    ADD CONSTRAINT bid_bond CHECK (bond >= 0 AND (bond_state IS NULL) = (bond = 0)
                                   AND (bond_account_id IS NULL) = (bond = 0)
                                   AND bond_state IN ('locked', 'released', 'slashed'));
COMMENT ON COLUMN lagbid.bid.bond IS 'what the bid locked of its provider''s balance (collateral_ratio x ask x duration_hours)';
COMMENT ON COLUMN lagbid.bid.bond_state IS
    'locked (in account bond_account_id), released (back to the provider) or slashed (to the task''s owner); NULL without a bond';

ALTER TABLE lagbid.job
    ADD COLUMN outcome text,
    ADD CONSTRAINT job_outcome CHECK (outcome IN ('agreed', 'disagreed', 'no_show', 'failed',
                                                  'input_unreachable', 'excused', 'undecided', 'legacy'));
COMMENT ON COLUMN lagbid.job.outcome IS
    'what the job''s end did to its provider''s reputation and bond, set once: agreed, disagreed, no_show, failed (by its provider), input_unreachable (judged when the task ends: failed or excused), undecided (no leader), legacy (finished before 0.4: not counted)';
-- jobs that finished before the update (none in a fresh install) count for nothing
UPDATE lagbid.job SET outcome = 'legacy' WHERE state IN ('completed', 'failed');

-- reputation (src/reputation.c): the score and the counts beside it
ALTER TABLE lagbid.provider
    ADD COLUMN score numeric NOT NULL DEFAULT 0,
    ADD COLUMN jobs_completed integer NOT NULL DEFAULT 0,
    ADD COLUMN jobs_agreed integer NOT NULL DEFAULT 0,
    ADD COLUMN jobs_disagreed integer NOT NULL DEFAULT 0,
    ADD COLUMN jobs_no_show integer NOT NULL DEFAULT 0,
    ADD COLUMN jobs_failed integer NOT NULL DEFAULT 0,
    ADD COLUMN slashed_total numeric NOT NULL DEFAULT 0,
    ADD CONSTRAINT provider_reputation CHECK (score >= 0 AND slashed_total >= 0);
COMMENT ON COLUMN lagbid.provider.score IS
    'reputation: +1 per result agreeing with the elected one on a task of several replicas, x 2/3 per disagreement, no-show or failure';
COMMENT ON COLUMN lagbid.provider.jobs_completed IS 'jobs completed with the elected result';
COMMENT ON COLUMN lagbid.provider.jobs_agreed IS 'of those, on tasks of more than one replica (what the score counts)';
COMMENT ON COLUMN lagbid.provider.jobs_disagreed IS 'jobs whose result disagreed with the elected leader';
COMMENT ON COLUMN lagbid.provider.jobs_no_show IS 'jobs that never reported by their deadline';
COMMENT ON COLUMN lagbid.provider.jobs_failed IS 'jobs the provider gave up after allocation (fail_job)';
COMMENT ON COLUMN lagbid.provider.slashed_total IS 'all bonds slashed from this provider';
