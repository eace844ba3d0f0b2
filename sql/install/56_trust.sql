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

-- a bid's bond is held on its provider's own account (column bonded): the
-- bid locks it in one UPDATE of that row, the account keeps the money, and
-- what the provider may still spend or stake is balance - bonded.  Holding
-- moves no money, so it is no ledger transaction; a release lowers bonded
-- again; a slash lowers it and moves the bond to the task's owner in one
-- ledger transaction (kind slash).  Nothing here is a new account, so the
-- double entry and check_invariants() see every coin that moves.  The rule
-- balance >= bonded >= 0 is the account's own CHECK (it replaces
-- account_never_negative, which it implies): a hold never exceeds what the
-- provider has, and a slash cannot take more than is held.
ALTER TABLE lagbid.account
    ADD COLUMN bonded numeric NOT NULL DEFAULT 0,
    DROP CONSTRAINT account_never_negative,
    ADD CONSTRAINT account_never_negative CHECK (kind = 'external' OR (balance >= bonded AND bonded >= 0));
COMMENT ON COLUMN lagbid.account.bonded IS
    'of balance, what the live bids of a provider on collateral tasks hold as their bonds (balance - bonded is what it may spend or stake); 0 for other accounts';

-- slash: a held bond, from its provider's account to the task's owner, with
-- the job and its reason
ALTER TABLE lagbid.ledger_tx DROP CONSTRAINT ledger_tx_kind_check,
    ADD CONSTRAINT ledger_tx_kind_check
        CHECK (kind IN ('deposit', 'escrow', 'payment', 'refund', 'transfer', 'slash'));

ALTER TABLE lagbid.task
    ADD COLUMN collateral_ratio numeric NOT NULL DEFAULT 0,
    ADD COLUMN min_reputation numeric NOT NULL DEFAULT 0,
    ADD COLUMN allocation text NOT NULL DEFAULT 'lowest_ask';
-- (no CHECK constraints on these: every CHECK of lagbid.task is compiled
-- again by each UPDATE of a task row, and every bid updates one.  C
-- validates the three where it writes them: lagbid_task_trust_args and
-- lagbid_collateral_ratio_arg, src/trust_terms.c and src/collateral.c.)
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
    ADD COLUMN bond_state text;
-- (no CHECK: C writes both columns, once, with the bid; the bid_bond
-- invariant of check_invariants() checks them, and a CHECK here would be
-- compiled again by every bid's INSERT)
COMMENT ON COLUMN lagbid.bid.bond IS 'what the bid locked of its provider''s balance (collateral_ratio x ask x duration_hours)';
COMMENT ON COLUMN lagbid.bid.bond_state IS
    'locked (held on its provider''s account, in account.bonded), released (the hold lifted) or slashed (moved to the task''s owner); NULL without a bond';

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
    ADD COLUMN slashed_total numeric NOT NULL DEFAULT 0;
-- (no CHECK: src/reputation.c writes them, and each bid updates its
-- provider's row, which would compile a CHECK again every time)
COMMENT ON COLUMN lagbid.provider.score IS
    'reputation: +1 per result agreeing with the elected one on a task of several replicas, x 2/3 per disagreement, no-show or failure';
COMMENT ON COLUMN lagbid.provider.jobs_completed IS 'jobs completed with the elected result';
COMMENT ON COLUMN lagbid.provider.jobs_agreed IS 'of those, on tasks of more than one replica (what the score counts)';
COMMENT ON COLUMN lagbid.provider.jobs_disagreed IS 'jobs whose result disagreed with the elected leader';
COMMENT ON COLUMN lagbid.provider.jobs_no_show IS 'jobs that never reported by their deadline';
COMMENT ON COLUMN lagbid.provider.jobs_failed IS 'jobs the provider gave up after allocation (fail_job)';
COMMENT ON COLUMN lagbid.provider.slashed_total IS 'all bonds slashed from this provider';
