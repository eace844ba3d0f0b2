-- ---------------------------------------------------------------------------
-- Types: the three state machines (their transitions live in C, src/states.c)
-- ---------------------------------------------------------------------------

CREATE TYPE lagbid.task_state AS ENUM (
    'created', 'accepting_bids', 'bid_closed', 'processing',
    'completed', 'failed', 'cancelled');
COMMENT ON TYPE lagbid.task_state IS 'life cycle of a task; allowed transitions: lagbid.transitions()';

CREATE TYPE lagbid.bid_state AS ENUM ('open', 'won', 'lost', 'withdrawn');
COMMENT ON TYPE lagbid.bid_state IS 'life cycle of a bid: open -> won | lost | withdrawn';

CREATE TYPE lagbid.job_state AS ENUM ('processing', 'submitted', 'completed', 'failed');
COMMENT ON TYPE lagbid.job_state IS 'life cycle of a job (one per allocated bid)';

CREATE TYPE lagbid.provider_state AS ENUM ('active', 'suspended');
COMMENT ON TYPE lagbid.provider_state IS 'only active providers may bid';

CREATE TYPE lagbid.space_state AS ENUM ('active', 'expired');
COMMENT ON TYPE lagbid.space_state IS 'an expired space (reserved hours used up) is not republished until extended and triggered';

-- Holders are typed: an owner and a provider are different holders even when
-- their names are equal (an owner may well call itself like a node id).
CREATE TYPE lagbid.holder_kind AS ENUM ('owner', 'provider');
COMMENT ON TYPE lagbid.holder_kind IS
    'who holds money and receives notifications: an owner (named by owner name) or a provider (named by node id); the kind is part of the holder''s identity';

CREATE TYPE lagbid.account_kind AS ENUM ('owner', 'provider', 'escrow', 'external');
COMMENT ON TYPE lagbid.account_kind IS
    'owner: an owner''s account (named by owner name); provider: a provider''s account (named by node id); escrow: one per task or space; external: the outside world (deposits)';

-- ---------------------------------------------------------------------------
-- Money: a double-entry ledger.  Every ledger_tx has entries summing to zero;
-- account.balance is the sum of its entries (check_invariants verifies both).
-- ---------------------------------------------------------------------------

CREATE TABLE lagbid.account (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    kind        lagbid.account_kind NOT NULL,
    name        text NOT NULL,
    balance     numeric NOT NULL DEFAULT 0,
    created_at  timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT account_name_unique UNIQUE (kind, name),
    CONSTRAINT account_never_negative CHECK (kind = 'external' OR balance >= 0)
);
COMMENT ON TABLE lagbid.account IS 'ledger accounts, one per (kind, name); balances of owners, providers and escrows never go negative';

CREATE TABLE lagbid.ledger_tx (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    kind        text NOT NULL CHECK (kind IN ('deposit', 'escrow', 'payment', 'refund', 'transfer')),
    reference   text UNIQUE,
    amount      numeric NOT NULL CHECK (amount > 0),
    task_id     bigint,
    space_id    bigint,
    job_id      bigint,
    memo        text,
    at          timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX ledger_tx_task ON lagbid.ledger_tx (task_id) WHERE task_id IS NOT NULL;
CREATE INDEX ledger_tx_job ON lagbid.ledger_tx (job_id) WHERE job_id IS NOT NULL;
COMMENT ON TABLE lagbid.ledger_tx IS 'one row per money movement; reference makes deposits idempotent';

CREATE TABLE lagbid.ledger_entry (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    tx_id       bigint NOT NULL REFERENCES lagbid.ledger_tx (id),
    account_id  bigint NOT NULL REFERENCES lagbid.account (id),
    amount      numeric NOT NULL CHECK (amount <> 0)
);
CREATE INDEX ledger_entry_tx ON lagbid.ledger_entry (tx_id);
CREATE INDEX ledger_entry_account ON lagbid.ledger_entry (account_id);
COMMENT ON TABLE lagbid.ledger_entry IS 'the legs of a ledger transaction (debit negative, credit positive)';

-- ---------------------------------------------------------------------------
-- Computing providers
-- ---------------------------------------------------------------------------

CREATE TABLE lagbid.provider (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    node_id         text NOT NULL UNIQUE,
    multiaddrs      text[] NOT NULL,
    region          text NOT NULL,
    resources       jsonb NOT NULL DEFAULT '{}',
    -- resources, normalized (what matching compares)
    cpu             numeric NOT NULL DEFAULT 0,
    memory_gb       numeric NOT NULL DEFAULT 0,
    storage_gb      numeric NOT NULL DEFAULT 0,
    gpu             text,
    gpu_count       integer NOT NULL DEFAULT 0,
    max_concurrent  integer NOT NULL DEFAULT 1 CHECK (max_concurrent >= 1),
    -- slots in use: open bids plus processing/submitted jobs (market rule 1)
    slots_used      integer NOT NULL DEFAULT 0 CHECK (slots_used >= 0),
    state           lagbid.provider_state NOT NULL DEFAULT 'active',
    chain_id        text,
    chain_tx        text,
    registered_at   timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    verified        boolean NOT NULL DEFAULT false,
    registration_seq bigint NOT NULL DEFAULT 0
);
COMMENT ON TABLE lagbid.provider IS 'computing providers (CPs), identified by their libp2p node id';
COMMENT ON COLUMN lagbid.provider.max_concurrent IS 'how many bids the provider processes at once (market rule 1)';
COMMENT ON COLUMN lagbid.provider.slots_used IS 'open bids + processing/submitted jobs; place_bid refuses past max_concurrent';
COMMENT ON COLUMN lagbid.provider.verified IS 'the last registration carried a valid signature of the node''s key over its addresses';
COMMENT ON COLUMN lagbid.provider.registration_seq IS 'signed registrations so far; part of the challenge, so a signature serves once';

-- ---------------------------------------------------------------------------
-- Spaces: long-lived apps converted to tasks by the minutely hook
-- ---------------------------------------------------------------------------

CREATE TABLE lagbid.space (
    id                  bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    owner               text NOT NULL,
    name                text NOT NULL,
    resources           jsonb NOT NULL DEFAULT '{}',
    region              text,
    price_min           numeric NOT NULL,
    price_max           numeric NOT NULL,
    replicas            integer NOT NULL DEFAULT 1 CHECK (replicas >= 1),
    hours               numeric NOT NULL CHECK (hours > 0),
    reserved_from       timestamptz NOT NULL,
    reserved_until      timestamptz NOT NULL,
    state               lagbid.space_state NOT NULL DEFAULT 'active',
    version             integer NOT NULL DEFAULT 1,
    published_version   integer NOT NULL DEFAULT 0,
    changed             boolean NOT NULL DEFAULT true,
    current_task_id     bigint,
    escrow_account_id   bigint REFERENCES lagbid.account (id),
    created_at          timestamptz NOT NULL DEFAULT now(),
    updated_at          timestamptz NOT NULL DEFAULT now(),
    -- what each of its tasks runs (validated in C: src/workload.c), by the
    -- digest of its body in lagbid.workload_body (76_workloads.sql; 0.3 kept
    -- the body here, in column workload)
    workload_sha256     text,
    workload_bytes      integer,
    CONSTRAINT space_owner_name UNIQUE (owner, name),
    CONSTRAINT space_price_range CHECK (price_min >= 0 AND price_min <= price_max)
);
COMMENT ON TABLE lagbid.space IS 'a user''s long-lived app; creating or updating it publishes a task at the next tick';
COMMENT ON COLUMN lagbid.space.workload_sha256 IS 'what each task of the space runs: the hex SHA-256 of its workload''s text, the key of lagbid.workload_body (each task of the space names the same digest; the body is never copied)';
COMMENT ON COLUMN lagbid.space.workload_bytes IS 'the length in bytes of the workload''s text (workload::text), counted against lagbid.max_workload_bytes_per_owner while the space is active';
COMMENT ON COLUMN lagbid.space.changed IS 'set by a trigger when the space changes; the next tick publishes a task for it';
-- the tick's work lists: changed spaces, reservations running out
CREATE INDEX space_changed ON lagbid.space (id) WHERE changed AND state = 'active';
CREATE INDEX space_reserved_until ON lagbid.space (reserved_until) WHERE state = 'active';

-- ---------------------------------------------------------------------------
-- Tasks, bids, jobs
-- ---------------------------------------------------------------------------

CREATE TABLE lagbid.task (
    id                  bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    owner               text NOT NULL,
    state               lagbid.task_state NOT NULL DEFAULT 'created',
    resources           jsonb NOT NULL DEFAULT '{}',
    cpu                 numeric NOT NULL DEFAULT 0,
    memory_gb           numeric NOT NULL DEFAULT 0,
    storage_gb          numeric NOT NULL DEFAULT 0,
    gpu                 text,
    gpu_count           integer NOT NULL DEFAULT 0,
    region              text,
    price_min           numeric NOT NULL,
    price_max           numeric NOT NULL,
    duration_hours      numeric NOT NULL,
    bid_limit           integer NOT NULL DEFAULT 10 CHECK (bid_limit >= 1),
    replicas            integer NOT NULL DEFAULT 1,
    bidding_window      interval NOT NULL DEFAULT '10 minutes',
    auto_allocate       boolean NOT NULL DEFAULT true,
    -- open + won bids (market rule 2: never above bid_limit)
    bid_count           integer NOT NULL DEFAULT 0,
    -- jobs still processing (0 with state processing: due for finalize)
    jobs_pending        integer NOT NULL DEFAULT 0 CHECK (jobs_pending >= 0),
    escrow_account_id   bigint REFERENCES lagbid.account (id),
    funding_account_id  bigint REFERENCES lagbid.account (id),
    space_id            bigint REFERENCES lagbid.space (id),
    space_version       integer,
    leader_job_id       bigint,
    reason              text,
    created_at          timestamptz NOT NULL DEFAULT now(),
    opened_at           timestamptz,
    bidding_deadline    timestamptz,
    closed_at           timestamptz,
    allocated_at        timestamptz,
    processing_deadline timestamptz,
    finished_at         timestamptz,
    -- what the task runs (validated in C: src/workload.c), by the digest of
    -- its body in lagbid.workload_body (76_workloads.sql); NULL: not said
    workload_sha256     text,
    workload_bytes      integer,
    -- 0.4: replicas the election added, paid by the owner, when no result held a majority
    extra_replicas      integer NOT NULL DEFAULT 0,
    -- Only what changes under concurrency is a CHECK here: every CHECK of
    -- lagbid.task is compiled again by each statement that writes a task row,
    -- and every bid writes its task.  The terms fixed at publish (price
    -- range, replicas, duration, bidding window) are validated in C by every
    -- function that writes them and covered by check_invariants()'s
    -- task_terms (0.4; they were CHECKs up to 0.3).
    CONSTRAINT task_bid_limit_held CHECK (bid_count >= 0 AND bid_count <= bid_limit)
);
COMMENT ON TABLE lagbid.task IS 'compute tasks published by owners (directly, or from a space by the minutely hook)';
COMMENT ON COLUMN lagbid.task.bid_count IS 'open + won bids; the bid that reaches bid_limit closes bidding in its transaction';
COMMENT ON COLUMN lagbid.task.extra_replicas IS 'replicas the election added (included in replicas) because no result held a strict majority; at most lagbid.max_extra_replicas (docs/0.4/election.md)';
COMMENT ON COLUMN lagbid.task.workload_sha256 IS 'what the task runs: the hex SHA-256 of its workload''s text (command, env, inputs, timeout_s, output: docs/0.3/work.md), the key of lagbid.workload_body; NULL when the task does not say';
COMMENT ON COLUMN lagbid.task.workload_bytes IS 'the length in bytes of the workload''s text (workload::text), stored with the digest at publish';

CREATE INDEX task_owner ON lagbid.task (owner, id);
-- open tasks by region, best paying first, ties by id (lagbid_api.open_tasks
-- scans one range per region prefix), and those open to every region
CREATE INDEX task_open_by_region ON lagbid.task (region, price_max DESC, id)
    WHERE state = 'accepting_bids';
CREATE INDEX task_open_any_region ON lagbid.task (price_max DESC, id)
    WHERE state = 'accepting_bids' AND region IS NULL;
CREATE INDEX task_bidding_deadline ON lagbid.task (bidding_deadline)
    WHERE state = 'accepting_bids';
CREATE INDEX task_processing_deadline ON lagbid.task (processing_deadline)
    WHERE state = 'processing';
CREATE INDEX task_space ON lagbid.task (space_id) WHERE space_id IS NOT NULL;
-- tasks whose every job has reported: the tick elects their winner
CREATE INDEX task_all_reported ON lagbid.task (id)
    WHERE state = 'processing' AND jobs_pending = 0;

CREATE TABLE lagbid.bid (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    task_id     bigint NOT NULL REFERENCES lagbid.task (id),
    provider_id bigint NOT NULL REFERENCES lagbid.provider (id),
    price       numeric NOT NULL CHECK (price >= 0),
    state       lagbid.bid_state NOT NULL DEFAULT 'open',
    placed_at   timestamptz NOT NULL DEFAULT now(),
    decided_at  timestamptz,
    reason      text
);
COMMENT ON TABLE lagbid.bid IS 'bids of providers on tasks; the bid id is the "bidder id" (market rule 7)';
-- market rule 5: one live bid per provider per task
CREATE UNIQUE INDEX bid_one_live_per_provider ON lagbid.bid (task_id, provider_id)
    WHERE state IN ('open', 'won');
-- (a task's open bids, at most bid_limit of them, are read through the index
-- above and put in allocation order, lowest ask then earliest, in C:
-- allocation.c; an index by price cost every bid a fourth index insert)
CREATE INDEX bid_provider ON lagbid.bid (provider_id, id);

CREATE TABLE lagbid.job (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    task_id         bigint NOT NULL REFERENCES lagbid.task (id),
    bid_id          bigint NOT NULL UNIQUE REFERENCES lagbid.bid (id),
    provider_id     bigint NOT NULL REFERENCES lagbid.provider (id),
    state           lagbid.job_state NOT NULL DEFAULT 'processing',
    is_leader       boolean NOT NULL DEFAULT false,
    price           numeric NOT NULL,
    result_uri      text,
    result_hash     text,
    submitted_at    timestamptz,
    deadline        timestamptz,
    paid            numeric NOT NULL DEFAULT 0,
    reason          text,
    created_at      timestamptz NOT NULL DEFAULT now(),
    finished_at     timestamptz
);
COMMENT ON TABLE lagbid.job IS 'one job per allocated (won) bid; the elected winner is_leader';
CREATE INDEX job_task ON lagbid.job (task_id, id);
CREATE INDEX job_provider ON lagbid.job (provider_id, id);
CREATE INDEX job_deadline ON lagbid.job (deadline) WHERE state IN ('processing', 'submitted');
CREATE UNIQUE INDEX job_one_leader ON lagbid.job (task_id) WHERE is_leader;

-- ---------------------------------------------------------------------------
-- The event log (every accepted state transition) and the notification outbox
-- ---------------------------------------------------------------------------

CREATE TABLE lagbid.event (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    entity      text NOT NULL CHECK (entity IN ('task', 'bid', 'job')),
    entity_id   bigint NOT NULL,
    from_state  text,
    to_state    text NOT NULL,
    actor       text,
    reason      text,
    at          timestamptz NOT NULL DEFAULT clock_timestamp()
);
COMMENT ON TABLE lagbid.event IS 'append-only log of state transitions (from_state is NULL at birth)';
CREATE INDEX event_entity ON lagbid.event (entity, entity_id, id);

CREATE TABLE lagbid.notification (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    recipient   text NOT NULL,
    kind        text NOT NULL,
    task_id     bigint,
    bid_id      bigint,
    job_id      bigint,
    payload     jsonb NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT clock_timestamp(),
    acked_at    timestamptz,
    recipient_kind lagbid.holder_kind NOT NULL
);
COMMENT ON TABLE lagbid.notification IS
    'durable outbox: the recipient (recipient_kind and recipient: an owner name or a node id) fetches and acknowledges; NOTIFY lagbid carries only the id';
CREATE INDEX notification_pending ON lagbid.notification (recipient_kind, recipient, id) WHERE acked_at IS NULL;
