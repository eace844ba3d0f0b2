-- lagbid — the task-bidding market of a decentralized compute platform.
--
-- This install script is generated from the numbered parts in sql/install/;
-- read them in order: types and tables, identity, the state machines, the
-- ledger, the market calls, spaces and the minutely hook, the PostgREST API,
-- roles and row-level security.
--
-- Every object is schema-qualified; nothing here depends on the caller's
-- search_path.  Every SECURITY DEFINER function pins its own search_path.

\echo Use "CREATE EXTENSION lagbid" to load this file. \quit

CREATE SCHEMA lagbid_api;
COMMENT ON SCHEMA lagbid IS 'lagbid: task-bidding market (tables, SQL API for applications and operators)';
COMMENT ON SCHEMA lagbid_api IS 'lagbid API exposed through PostgREST (functions and views only; identity from request.jwt.claims)';

-- Extension schemas are created by the superuser running CREATE EXTENSION;
-- nobody else may create objects in them.
REVOKE ALL ON SCHEMA lagbid FROM PUBLIC;
REVOKE ALL ON SCHEMA lagbid_api FROM PUBLIC;

CREATE FUNCTION lagbid.version() RETURNS text
    LANGUAGE c IMMUTABLE PARALLEL SAFE
    AS 'MODULE_PATHNAME', 'lagbid_version';
COMMENT ON FUNCTION lagbid.version() IS 'the version of the loaded lagbid library';

CREATE FUNCTION lagbid.now() RETURNS timestamptz
    LANGUAGE c STABLE PARALLEL SAFE
    AS 'MODULE_PATHNAME', 'lagbid_now';
COMMENT ON FUNCTION lagbid.now() IS
    'the market clock: transaction start time, or the timestamp in setting lagbid.clock when a superuser sets it (tests)';

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
    -- 0.3: what each of its tasks runs (validated in C: src/workload.c)
    workload            jsonb,
    CONSTRAINT space_owner_name UNIQUE (owner, name),
    CONSTRAINT space_price_range CHECK (price_min >= 0 AND price_min <= price_max)
);
COMMENT ON TABLE lagbid.space IS 'a user''s long-lived app; creating or updating it publishes a task at the next tick';
COMMENT ON COLUMN lagbid.space.workload IS 'what each task of the space runs (copied into the task when it is published)';
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
    duration_hours      numeric NOT NULL CHECK (duration_hours > 0),
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
    -- 0.3: what the task runs (validated in C: src/workload.c); NULL: not said
    workload            jsonb,
    CONSTRAINT task_price_range CHECK (price_min >= 0 AND price_min <= price_max),
    CONSTRAINT task_replicas CHECK (replicas >= 1 AND replicas <= bid_limit),
    CONSTRAINT task_bid_limit_held CHECK (bid_count >= 0 AND bid_count <= bid_limit),
    CONSTRAINT task_window_positive CHECK (bidding_window > interval '0')
);
COMMENT ON TABLE lagbid.task IS 'compute tasks published by owners (directly, or from a space by the minutely hook)';
COMMENT ON COLUMN lagbid.task.bid_count IS 'open + won bids; the bid that reaches bid_limit closes bidding in its transaction';
COMMENT ON COLUMN lagbid.task.workload IS 'what the task runs: command, env, inputs, timeout_s, output (docs/0.3/work.md); NULL when the task does not say';

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

-- ---------------------------------------------------------------------------
-- The state machines.  The transition table is C data (src/states.c); the
-- trigger refuses every other change of state and logs each accepted one.
-- ---------------------------------------------------------------------------

CREATE FUNCTION lagbid.guard_transition() RETURNS trigger
    LANGUAGE c AS 'MODULE_PATHNAME', 'lagbid_guard_transition';
COMMENT ON FUNCTION lagbid.guard_transition() IS
    'trigger: refuses a state change not in lagbid.transitions() and appends accepted ones to lagbid.event';

CREATE TRIGGER task_born BEFORE INSERT ON lagbid.task
    FOR EACH ROW EXECUTE FUNCTION lagbid.guard_transition('task');
CREATE TRIGGER task_transition BEFORE UPDATE OF state ON lagbid.task
    FOR EACH ROW WHEN (OLD.state IS DISTINCT FROM NEW.state)
    EXECUTE FUNCTION lagbid.guard_transition('task');

CREATE TRIGGER bid_born BEFORE INSERT ON lagbid.bid
    FOR EACH ROW EXECUTE FUNCTION lagbid.guard_transition('bid');
CREATE TRIGGER bid_transition BEFORE UPDATE OF state ON lagbid.bid
    FOR EACH ROW WHEN (OLD.state IS DISTINCT FROM NEW.state)
    EXECUTE FUNCTION lagbid.guard_transition('bid');

CREATE TRIGGER job_born BEFORE INSERT ON lagbid.job
    FOR EACH ROW EXECUTE FUNCTION lagbid.guard_transition('job');
CREATE TRIGGER job_transition BEFORE UPDATE OF state ON lagbid.job
    FOR EACH ROW WHEN (OLD.state IS DISTINCT FROM NEW.state)
    EXECUTE FUNCTION lagbid.guard_transition('job');

CREATE FUNCTION lagbid.transitions(
    OUT machine text, OUT from_state text, OUT to_state text, OUT happens_when text)
    RETURNS SETOF record
    LANGUAGE c IMMUTABLE PARALLEL SAFE
    AS 'MODULE_PATHNAME', 'lagbid_transitions_srf';
COMMENT ON FUNCTION lagbid.transitions() IS 'every allowed state transition of tasks, bids and jobs (the C transition table)';

CREATE FUNCTION lagbid.state_diagram(machine text) RETURNS text
    LANGUAGE c IMMUTABLE STRICT PARALLEL SAFE
    AS 'MODULE_PATHNAME', 'lagbid_state_diagram';
COMMENT ON FUNCTION lagbid.state_diagram(text) IS 'the state machine ("task", "bid" or "job") as a Graphviz DOT digraph';

CREATE FUNCTION lagbid.error_codes(
    OUT sqlstate text, OUT name text, OUT http_status integer, OUT description text)
    RETURNS SETOF record
    LANGUAGE c IMMUTABLE PARALLEL SAFE
    AS 'MODULE_PATHNAME', 'lagbid_error_codes';
COMMENT ON FUNCTION lagbid.error_codes() IS 'every refusal lagbid raises: its SQLSTATE, name, HTTP status through PostgREST, meaning';

-- ---------------------------------------------------------------------------
-- Money: deposits from outside and balances (src/ledger.c).  Escrow,
-- payments and refunds are moved by the market functions themselves.
-- ---------------------------------------------------------------------------

CREATE FUNCTION lagbid.deposit(account text, amount numeric, reference text,
                               holder_kind lagbid.holder_kind DEFAULT 'owner')
    RETURNS bigint
    LANGUAGE c VOLATILE
    AS 'MODULE_PATHNAME', 'lagbid_deposit';
COMMENT ON FUNCTION lagbid.deposit(text, numeric, text, lagbid.holder_kind) IS
    'credits an owner''s account (holder_kind owner, the default) or a provider''s (holder_kind provider) from outside; idempotent on the external reference; returns the ledger transaction id';

CREATE FUNCTION lagbid.balance(account text, holder_kind lagbid.holder_kind DEFAULT 'owner')
    RETURNS numeric
    LANGUAGE c STABLE
    AS 'MODULE_PATHNAME', 'lagbid_balance';
COMMENT ON FUNCTION lagbid.balance(text, lagbid.holder_kind) IS
    'the balance of an owner (holder_kind owner, the default: account is the owner name) or of a provider (holder_kind provider: account is its node id); 0 if it never held money';

CREATE VIEW lagbid.ledger AS
    SELECT t.id AS tx_id, t.kind, t.reference, t.task_id, t.space_id, t.job_id, t.at,
           a.kind AS account_kind, a.name AS account, e.amount
    FROM lagbid.ledger_tx t
    JOIN lagbid.ledger_entry e ON e.tx_id = t.id
    JOIN lagbid.account a ON a.id = e.account_id;
COMMENT ON VIEW lagbid.ledger IS 'every ledger entry with its transaction and account, for operators';

-- ---------------------------------------------------------------------------
-- The market (C, src/): providers, tasks, bids, allocation, results.
-- Every function checks its rules under row locks taken in one order
-- (src/market.h): task, its bids, its jobs, providers, ledger accounts.
-- None is STRICT: a NULL argument is refused with SQLSTATE LB001 and a
-- message naming it, rather than silently returning NULL.  An explicit NULL
-- for an argument that has a default means that default (as if omitted).
-- ---------------------------------------------------------------------------

-- identity ------------------------------------------------------------------

CREATE FUNCTION lagbid.node_id_is_valid(node_id text) RETURNS boolean
    LANGUAGE c IMMUTABLE STRICT PARALLEL SAFE
    AS 'MODULE_PATHNAME', 'lagbid_node_id_is_valid';
COMMENT ON FUNCTION lagbid.node_id_is_valid(text) IS
    'true when node_id is a libp2p peer id (base58btc multihash: identity-hashed key 12D3KooW..., or sha2-256 Qm...)';

CREATE FUNCTION lagbid.multiaddr_is_valid(multiaddr text, node_id text DEFAULT NULL) RETURNS boolean
    LANGUAGE c IMMUTABLE PARALLEL SAFE
    AS 'MODULE_PATHNAME', 'lagbid_multiaddr_is_valid';
COMMENT ON FUNCTION lagbid.multiaddr_is_valid(text, text) IS
    'true when multiaddr is a valid libp2p multiaddr (and its /p2p/ component, if any, equals node_id when given)';

CREATE FUNCTION lagbid.multiaddr_problem(multiaddr text, node_id text DEFAULT NULL) RETURNS text
    LANGUAGE c IMMUTABLE PARALLEL SAFE
    AS 'MODULE_PATHNAME', 'lagbid_multiaddr_problem';
COMMENT ON FUNCTION lagbid.multiaddr_problem(text, text) IS
    'what is wrong with a multiaddr, or NULL when it is valid';

-- providers -----------------------------------------------------------------

CREATE FUNCTION lagbid.register_provider(
    node_id text, multiaddrs text[], region text, resources jsonb,
    max_concurrent integer DEFAULT 1, chain_id text DEFAULT NULL, chain_tx text DEFAULT NULL,
    signature bytea DEFAULT NULL)
    RETURNS bigint
    LANGUAGE c VOLATILE
    AS 'MODULE_PATHNAME', 'lagbid_register_provider';
COMMENT ON FUNCTION lagbid.register_provider(text, text[], text, jsonb, integer, text, text, bytea) IS
    'registers a computing provider by its libp2p node id (idempotent: registering again updates addresses, region, resources and limit); with a signature of registration_challenge() by the node''s key it is verified; returns the provider id';

CREATE FUNCTION lagbid.registration_challenge(node_id text, multiaddrs text[]) RETURNS bytea
    LANGUAGE c VOLATILE
    AS 'MODULE_PATHNAME', 'lagbid_registration_challenge';
COMMENT ON FUNCTION lagbid.registration_challenge(text, text[]) IS
    'the bytes a provider signs with its node''s ed25519 key to register these addresses now (valid for 5 to 10 minutes, once, for the calling login, on this market)';

CREATE FUNCTION lagbid.set_bid_limit(provider_id bigint, max_concurrent integer) RETURNS void
    LANGUAGE c VOLATILE
    AS 'MODULE_PATHNAME', 'lagbid_set_bid_limit';
COMMENT ON FUNCTION lagbid.set_bid_limit(bigint, integer) IS
    'sets how many bids the provider processes at once (market rule 1); lowering it below the slots in use only blocks new bids';

CREATE FUNCTION lagbid.set_provider_state(provider_id bigint, state text) RETURNS void
    LANGUAGE c VOLATILE
    AS 'MODULE_PATHNAME', 'lagbid_set_provider_state';
COMMENT ON FUNCTION lagbid.set_provider_state(bigint, text) IS
    'suspends (''suspended'') or reactivates (''active'') a provider; a suspended provider cannot bid';

-- tasks ---------------------------------------------------------------------

CREATE FUNCTION lagbid.publish_task(
    owner text, resources jsonb, price_min numeric, price_max numeric,
    duration_hours numeric, region text DEFAULT NULL, bid_limit integer DEFAULT 10,
    replicas integer DEFAULT 1, bidding_window interval DEFAULT '10 minutes',
    auto_allocate boolean DEFAULT true, open boolean DEFAULT true, workload jsonb DEFAULT NULL)
    RETURNS bigint
    LANGUAGE c VOLATILE
    AS 'MODULE_PATHNAME', 'lagbid_publish_task';
COMMENT ON FUNCTION lagbid.publish_task(text, jsonb, numeric, numeric, numeric, text, integer, integer, interval, boolean, boolean, jsonb) IS
    'publishes a task (with the workload it runs, validated): escrows price_max x duration_hours x replicas from the owner''s balance and opens bidding (unless open => false), telling providers on channel lagbid_tasks; returns the task id';

CREATE FUNCTION lagbid.open_bidding(task_id bigint) RETURNS void
    LANGUAGE c VOLATILE
    AS 'MODULE_PATHNAME', 'lagbid_open_bidding';
COMMENT ON FUNCTION lagbid.open_bidding(bigint) IS
    'opens bidding on a created task, or reopens a closed one (its open bids are declined and their slots released); providers are told on channel lagbid_tasks';

CREATE FUNCTION lagbid.close_bidding(task_id bigint) RETURNS void
    LANGUAGE c VOLATILE
    AS 'MODULE_PATHNAME', 'lagbid_close_bidding';
COMMENT ON FUNCTION lagbid.close_bidding(bigint) IS
    'the owner closes bidding; with auto_allocate the best bids are allocated at once';

CREATE FUNCTION lagbid.cancel_task(task_id bigint, reason text DEFAULT NULL) RETURNS void
    LANGUAGE c VOLATILE
    AS 'MODULE_PATHNAME', 'lagbid_cancel_task';
COMMENT ON FUNCTION lagbid.cancel_task(bigint, text) IS
    'the owner cancels a task before processing: open bids lost, slots released, the escrow refunded, bidders told';

-- bids ----------------------------------------------------------------------

CREATE FUNCTION lagbid.place_bid(task_id bigint, provider_id bigint, price numeric) RETURNS bigint
    LANGUAGE c VOLATILE
    AS 'MODULE_PATHNAME', 'lagbid_place_bid';
COMMENT ON FUNCTION lagbid.place_bid(bigint, bigint, numeric) IS
    'places a bid (ask price per hour) checking every market rule atomically; the same bid again returns the same id; the bid reaching bid_limit closes bidding; returns the bid id (the bidder id)';

CREATE FUNCTION lagbid.withdraw_bid(bid_id bigint) RETURNS void
    LANGUAGE c VOLATILE
    AS 'MODULE_PATHNAME', 'lagbid_withdraw_bid';
COMMENT ON FUNCTION lagbid.withdraw_bid(bigint) IS
    'withdraws an open bid and releases its slot';

CREATE FUNCTION lagbid.allocate(task_id bigint, bid_ids bigint[] DEFAULT NULL) RETURNS SETOF bigint
    LANGUAGE c VOLATILE ROWS 3
    AS 'MODULE_PATHNAME', 'lagbid_allocate';
COMMENT ON FUNCTION lagbid.allocate(bigint, bigint[]) IS
    'allocates the given open bids (at most replicas), or the best replicas bids (lowest ask, then earliest); others lose; returns the job ids';

-- jobs ----------------------------------------------------------------------

CREATE FUNCTION lagbid.submit_result(job_id bigint, result_uri text, result_hash text) RETURNS void
    LANGUAGE c VOLATILE
    AS 'MODULE_PATHNAME', 'lagbid_submit_result';
COMMENT ON FUNCTION lagbid.submit_result(bigint, text, text) IS
    'the allocated bidder submits the URI and claimed hash of a result kept elsewhere (larger than lagbid.max_result_bytes) for a processing job';

CREATE FUNCTION lagbid.fail_job(job_id bigint, reason text) RETURNS void
    LANGUAGE c VOLATILE
    AS 'MODULE_PATHNAME', 'lagbid_fail_job';
COMMENT ON FUNCTION lagbid.fail_job(bigint, text) IS
    'the bidder gives up a job; its slot is released; when every job failed the task fails and is refunded';

CREATE FUNCTION lagbid.finalize(task_id bigint) RETURNS bigint
    LANGUAGE c VOLATILE
    AS 'MODULE_PATHNAME', 'lagbid_finalize';
COMMENT ON FUNCTION lagbid.finalize(bigint) IS
    'elects the leading node (earliest submission agreeing with the most common result hash), completes the task, pays ask x duration_hours per completed job and refunds the rest; returns the leader job id (NULL when no valid result: the task failed)';

-- ---------------------------------------------------------------------------
-- Spaces (src/spaces.c): long-lived apps paid by reserved hours; a trigger
-- marks a changed space and the next tick publishes a task for it.
-- ---------------------------------------------------------------------------

CREATE FUNCTION lagbid.space_changed() RETURNS trigger
    LANGUAGE c AS 'MODULE_PATHNAME', 'lagbid_space_changed';
COMMENT ON FUNCTION lagbid.space_changed() IS
    'trigger: a change of resources, prices, region, replicas or workload bumps the space''s version and marks it changed';

CREATE TRIGGER space_changed BEFORE UPDATE ON lagbid.space
    FOR EACH ROW EXECUTE FUNCTION lagbid.space_changed();

CREATE FUNCTION lagbid.create_space(
    owner text, name text, resources jsonb, price_min numeric, price_max numeric,
    hours numeric, region text DEFAULT NULL, replicas integer DEFAULT 1, workload jsonb DEFAULT NULL)
    RETURNS bigint
    LANGUAGE c VOLATILE
    AS 'MODULE_PATHNAME', 'lagbid_create_space';
COMMENT ON FUNCTION lagbid.create_space(text, text, jsonb, numeric, numeric, numeric, text, integer, jsonb) IS
    'creates a space (with the workload its tasks run) and pays hours x price_max x replicas into its escrow; the next tick publishes a task for it; returns the space id';

CREATE FUNCTION lagbid.update_space(
    space_id bigint, resources jsonb DEFAULT NULL, price_min numeric DEFAULT NULL,
    price_max numeric DEFAULT NULL, region text DEFAULT NULL, workload jsonb DEFAULT NULL)
    RETURNS void
    LANGUAGE c VOLATILE
    AS 'MODULE_PATHNAME', 'lagbid_update_space';
COMMENT ON FUNCTION lagbid.update_space(bigint, jsonb, numeric, numeric, text, jsonb) IS
    'changes a space (NULL keeps a value; workload => ''null'' removes the workload); a higher price_max is paid for the hours left; the next tick republishes it';

CREATE FUNCTION lagbid.extend_space(space_id bigint, hours numeric) RETURNS void
    LANGUAGE c VOLATILE
    AS 'MODULE_PATHNAME', 'lagbid_extend_space';
COMMENT ON FUNCTION lagbid.extend_space(bigint, numeric) IS
    'pays for more reserved hours (hours x price_max x replicas); an expired space restarts now and waits for trigger_space';

CREATE FUNCTION lagbid.trigger_space(space_id bigint) RETURNS bigint
    LANGUAGE c VOLATILE
    AS 'MODULE_PATHNAME', 'lagbid_trigger_space';
COMMENT ON FUNCTION lagbid.trigger_space(bigint) IS
    'publishes a task for the space now (superseding its open task); refused when its reservation has ended; returns the task id';

-- ---------------------------------------------------------------------------
-- The minutely hook (src/tick.c) and its pg_cron schedule
-- ---------------------------------------------------------------------------

CREATE FUNCTION lagbid.tick() RETURNS jsonb
    LANGUAGE c VOLATILE
    AS 'MODULE_PATHNAME', 'lagbid_tick';
COMMENT ON FUNCTION lagbid.tick() IS
    'the minutely hook: expires reservations, publishes changed spaces, closes or fails tasks past their bidding deadline, elects due winners; idempotent and bounded (lagbid.tick_batch_size per action); returns a count per action';

CREATE FUNCTION lagbid.schedule_tick(database text DEFAULT current_database(),
                                     schedule text DEFAULT '* * * * *')
    RETURNS bigint
    LANGUAGE plpgsql VOLATILE
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    job_id bigint;
BEGIN
    IF to_regnamespace('cron') IS NULL
       OR to_regproc('cron.schedule_in_database') IS NULL THEN
        RAISE EXCEPTION 'pg_cron is not installed in database "%"', current_database()
            USING ERRCODE = 'LB314',
                  DETAIL = 'pg_cron runs its jobs from the one database named by cron.database_name.',
                  HINT = 'Add pg_cron to shared_preload_libraries, CREATE EXTENSION pg_cron in that database, '
                      || 'and call lagbid.schedule_tick() there; or call lagbid.tick() from any other scheduler.';
    END IF;
    -- in libpq mode pg_cron connects to the host stored with the job: after a
    -- failover that can be a standby, where tick() does nothing (and says so)
    IF current_setting('cron.use_background_workers', true) IS DISTINCT FROM 'on' THEN
        RAISE WARNING 'pg_cron runs jobs over libpq (cron.use_background_workers is off)'
            USING DETAIL = 'After a failover the job may connect to a standby, where lagbid.tick() does nothing.',
                  HINT = 'Set cron.use_background_workers = on (docs/ha.md).';
    END IF;
    IF database IS NULL OR database = '' THEN
        RAISE EXCEPTION 'database must not be empty' USING ERRCODE = 'LB001';
    END IF;
    IF database = current_database() THEN
        -- cron.schedule(name, ...) updates the job of that name: one job however often this is called
        EXECUTE 'SELECT cron.schedule($1, $2, $3)' INTO job_id
            USING 'lagbid-tick', schedule, 'SELECT lagbid.tick()';
    ELSE
        EXECUTE 'SELECT cron.schedule_in_database($1, $2, $3, $4)' INTO job_id
            USING 'lagbid-tick:' || database, schedule, 'SELECT lagbid.tick()', database;
    END IF;
    RETURN job_id;
END $$;
COMMENT ON FUNCTION lagbid.schedule_tick(text, text) IS
    'registers SELECT lagbid.tick() with pg_cron (every minute by default) for the given database; calling it again keeps one job; returns the pg_cron job id';

-- ---------------------------------------------------------------------------
-- check_invariants(): one row per broken rule of the market, none when all
-- hold.  Counters are checked against the rows they summarize, money against
-- the ledger, limits against their definitions.
-- ---------------------------------------------------------------------------

CREATE FUNCTION lagbid.check_invariants()
    RETURNS TABLE (invariant text, detail text)
    LANGUAGE sql STABLE
    SET search_path = pg_catalog, pg_temp
BEGIN ATOMIC
    -- money: every ledger transaction sums to zero
    SELECT 'ledger_tx_balanced', format('ledger tx %s sums to %s', e.tx_id, sum(e.amount))
      FROM lagbid.ledger_entry e GROUP BY e.tx_id HAVING sum(e.amount) <> 0
    UNION ALL
    -- money: each ledger tx has entries matching its amount
    SELECT 'ledger_tx_amount', format('ledger tx %s of %s has entries crediting %s', t.id, t.amount,
                                      coalesce(sum(e.amount) FILTER (WHERE e.amount > 0), 0))
      FROM lagbid.ledger_tx t LEFT JOIN lagbid.ledger_entry e ON e.tx_id = t.id
     GROUP BY t.id, t.amount
    HAVING coalesce(sum(e.amount) FILTER (WHERE e.amount > 0), 0) <> t.amount
    UNION ALL
    -- money: balances are the sum of their entries
    SELECT 'account_balance', format('account %s (%s %s) has balance %s, entries sum to %s',
                                     a.id, a.kind, a.name, a.balance, coalesce(s.total, 0))
      FROM lagbid.account a
      LEFT JOIN (SELECT account_id, sum(amount) AS total FROM lagbid.ledger_entry GROUP BY account_id) s
        ON s.account_id = a.id
     WHERE a.balance <> coalesce(s.total, 0)
    UNION ALL
    -- money: holders and escrows never negative
    SELECT 'balance_never_negative', format('account %s (%s %s) holds %s', a.id, a.kind, a.name, a.balance)
      FROM lagbid.account a WHERE a.kind <> 'external' AND a.balance < 0
    UNION ALL
    -- money: no money created or lost (all accounts together sum to zero)
    SELECT 'money_conserved', format('all balances sum to %s', sum(a.balance))
      FROM lagbid.account a HAVING sum(a.balance) <> 0
    UNION ALL
    -- money: a finished task's escrow is empty, a live task's holds its budget
    SELECT 'task_escrow', format('task %s (%s) escrow holds %s, expected %s', t.id, t.state, a.balance,
                                 CASE WHEN t.state IN ('completed', 'failed', 'cancelled') THEN 0
                                      ELSE t.price_max * t.duration_hours * t.replicas END)
      FROM lagbid.task t JOIN lagbid.account a ON a.id = t.escrow_account_id
     WHERE a.balance <> CASE WHEN t.state IN ('completed', 'failed', 'cancelled') THEN 0
                             ELSE t.price_max * t.duration_hours * t.replicas END
    UNION ALL
    -- money: each completed job paid exactly once, ask x duration_hours
    SELECT 'job_paid_once', format('job %s (%s) paid %s in %s payments, expected %s', j.id, j.state,
                                   coalesce(sum(x.amount), 0), count(x.id),
                                   CASE WHEN j.state = 'completed' THEN j.price * t.duration_hours ELSE 0 END)
      FROM lagbid.job j JOIN lagbid.task t ON t.id = j.task_id
      LEFT JOIN lagbid.ledger_tx x ON x.job_id = j.id AND x.kind = 'payment'
     GROUP BY j.id, j.state, j.price, t.duration_hours
    HAVING count(x.id) <> CASE WHEN j.state = 'completed' AND j.price * t.duration_hours > 0 THEN 1 ELSE 0 END
        OR coalesce(sum(x.amount), 0) <> CASE WHEN j.state = 'completed' THEN j.price * t.duration_hours ELSE 0 END
    UNION ALL
    -- holders are typed: a task is funded by its owner's own account (kind
    -- owner), or by its space's escrow
    SELECT 'task_funding_account', format('task %s of owner %s is funded by account %s (%s %s)',
                                          t.id, t.owner, a.id, a.kind, a.name)
      FROM lagbid.task t
      JOIN lagbid.account a ON a.id = t.funding_account_id
      LEFT JOIN lagbid.space s ON s.id = t.space_id
     WHERE NOT CASE WHEN t.space_id IS NULL THEN a.kind = 'owner' AND a.name = t.owner
                    ELSE a.id = s.escrow_account_id END
    UNION ALL
    -- holders are typed: an escrow is paid by, and a refund returns to, the
    -- payer: a task's funding account, a space's owner (kind owner)
    SELECT 'escrow_refund_payer', format('%s %s of %s %s account %s (%s %s)', x.kind, x.id,
                                         coalesce('task ' || x.task_id, 'space ' || x.space_id),
                                         CASE x.kind WHEN 'escrow' THEN 'debits' ELSE 'credits' END,
                                         a.id, a.kind, a.name)
      FROM lagbid.ledger_tx x
      JOIN lagbid.ledger_entry e ON e.tx_id = x.id AND (e.amount < 0) = (x.kind = 'escrow')
      JOIN lagbid.account a ON a.id = e.account_id
      LEFT JOIN lagbid.task t ON t.id = x.task_id
      LEFT JOIN lagbid.space s ON s.id = x.space_id
     WHERE x.kind IN ('escrow', 'refund')
       AND NOT CASE WHEN x.task_id IS NOT NULL THEN a.id = t.funding_account_id
                    ELSE a.kind = 'owner' AND a.name = s.owner END
    UNION ALL
    -- holders are typed: a job's payment goes to its provider (kind provider)
    SELECT 'payment_to_provider', format('payment %s for job %s credits account %s (%s %s), not provider %s',
                                         x.id, x.job_id, a.id, a.kind, a.name, p.node_id)
      FROM lagbid.ledger_tx x
      JOIN lagbid.ledger_entry e ON e.tx_id = x.id AND e.amount > 0
      JOIN lagbid.account a ON a.id = e.account_id
      LEFT JOIN lagbid.job j ON j.id = x.job_id
      LEFT JOIN lagbid.provider p ON p.id = j.provider_id
     WHERE x.kind = 'payment' AND (a.kind <> 'provider' OR a.name IS DISTINCT FROM p.node_id)
    UNION ALL
    -- holders are typed: a notice about a bid or job goes to its provider
    -- (kind provider); an owner's notice about a task to the task's owner
    SELECT 'notification_recipient', format('notification %s (%s) is addressed to %s %s', n.id, n.kind,
                                            n.recipient_kind, n.recipient)
      FROM lagbid.notification n
      LEFT JOIN lagbid.bid b ON b.id = n.bid_id
      LEFT JOIN lagbid.job j ON j.id = n.job_id
      LEFT JOIN lagbid.task t ON t.id = n.task_id
     WHERE CASE n.recipient_kind
               WHEN 'provider' THEN coalesce(b.provider_id, j.provider_id) IS NOT NULL
                   AND n.recipient IS DISTINCT FROM
                       (SELECT p.node_id FROM lagbid.provider p WHERE p.id = coalesce(b.provider_id, j.provider_id))
               ELSE n.task_id IS NOT NULL AND n.recipient IS DISTINCT FROM t.owner
           END
    UNION ALL
    -- rule 1: the slot counter equals open bids plus live jobs
    SELECT 'provider_slots', format('provider %s counts %s slots, holds %s', p.id, p.slots_used,
                                    coalesce(b.n, 0) + coalesce(j.n, 0))
      FROM lagbid.provider p
      LEFT JOIN (SELECT provider_id, count(*) AS n FROM lagbid.bid WHERE state = 'open' GROUP BY provider_id) b
        ON b.provider_id = p.id
      LEFT JOIN (SELECT provider_id, count(*) AS n FROM lagbid.job
                  WHERE state IN ('processing', 'submitted') GROUP BY provider_id) j
        ON j.provider_id = p.id
     WHERE p.slots_used <> coalesce(b.n, 0) + coalesce(j.n, 0)
    UNION ALL
    -- rule 2: the bid counter equals open plus won bids, never above the limit
    SELECT 'task_bid_count', format('task %s counts %s bids, holds %s (limit %s)', t.id, t.bid_count,
                                    coalesce(b.n, 0), t.bid_limit)
      FROM lagbid.task t
      LEFT JOIN (SELECT task_id, count(*) AS n FROM lagbid.bid WHERE state IN ('open', 'won') GROUP BY task_id) b
        ON b.task_id = t.id
     WHERE t.bid_count <> coalesce(b.n, 0) OR coalesce(b.n, 0) > t.bid_limit
    UNION ALL
    -- rule 6: a processing task counts its processing jobs
    SELECT 'task_jobs_pending', format('task %s counts %s pending jobs, has %s', t.id, t.jobs_pending, coalesce(j.n, 0))
      FROM lagbid.task t
      LEFT JOIN (SELECT task_id, count(*) AS n FROM lagbid.job WHERE state = 'processing' GROUP BY task_id) j
        ON j.task_id = t.id
     WHERE t.state = 'processing' AND t.jobs_pending <> coalesce(j.n, 0)
    UNION ALL
    -- allocation: won bids have exactly one job; at most replicas won
    SELECT 'bid_won_has_job', format('bid %s is %s and has %s jobs', b.id, b.state, count(j.id))
      FROM lagbid.bid b LEFT JOIN lagbid.job j ON j.bid_id = b.id
     GROUP BY b.id, b.state
    HAVING (b.state = 'won') <> (count(j.id) = 1) OR count(j.id) > 1
    UNION ALL
    SELECT 'task_replicas', format('task %s has %s jobs for %s replicas', t.id, count(j.id), t.replicas)
      FROM lagbid.task t JOIN lagbid.job j ON j.task_id = t.id
     GROUP BY t.id, t.replicas HAVING count(j.id) > t.replicas
    UNION ALL
    -- rule 6: a completed task has exactly one leader, completed, and it is its leader_job_id
    SELECT 'task_leader', format('task %s is %s with leader %s', t.id, t.state, t.leader_job_id)
      FROM lagbid.task t LEFT JOIN lagbid.job j ON j.id = t.leader_job_id
     WHERE (t.state = 'completed') <> (j.id IS NOT NULL AND j.is_leader AND j.state = 'completed' AND j.task_id = t.id)
    UNION ALL
    -- rule 5: one live bid per provider per task (also a unique index)
    SELECT 'one_bid_per_provider', format('provider %s has %s live bids on task %s', provider_id, count(*), task_id)
      FROM lagbid.bid WHERE state IN ('open', 'won') GROUP BY task_id, provider_id HAVING count(*) > 1
    UNION ALL
    -- rule 3: every bid lies in its task's price range
    SELECT 'bid_price_in_range', format('bid %s asks %s outside [%s, %s] of task %s', b.id, b.price,
                                        t.price_min, t.price_max, t.id)
      FROM lagbid.bid b JOIN lagbid.task t ON t.id = b.task_id
     WHERE b.price < t.price_min OR b.price > t.price_max
    UNION ALL
    -- states agree: open bids only on tasks before processing, live jobs only on processing tasks
    SELECT 'open_bid_task_state', format('bid %s is open on task %s which is %s', b.id, t.id, t.state)
      FROM lagbid.bid b JOIN lagbid.task t ON t.id = b.task_id
     WHERE b.state = 'open' AND t.state NOT IN ('accepting_bids', 'bid_closed')
    UNION ALL
    SELECT 'live_job_task_state', format('job %s is %s on task %s which is %s', j.id, j.state, t.id, t.state)
      FROM lagbid.job j JOIN lagbid.task t ON t.id = j.task_id
     WHERE j.state IN ('processing', 'submitted') AND t.state <> 'processing';
END;
COMMENT ON FUNCTION lagbid.check_invariants() IS
    'one row per broken market rule (money, limits, counters, allocation, election); no row when the market is consistent';

-- ---------------------------------------------------------------------------
-- Outbox retention: acknowledged notifications older than a period go, and
-- so do unacknowledged ones older than a (longer) period: a recipient that
-- never comes back (or a flood of failed tasks' notices) cannot keep rows
-- forever.
-- ---------------------------------------------------------------------------

CREATE FUNCTION lagbid.purge_notifications(older_than interval DEFAULT '30 days',
                                           unacked_older_than interval DEFAULT '90 days')
    RETURNS bigint
    LANGUAGE sql VOLATILE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
BEGIN ATOMIC
    WITH gone AS (
        DELETE FROM lagbid.notification
         WHERE (acked_at IS NOT NULL AND acked_at < clock_timestamp() - older_than)
            OR (acked_at IS NULL AND created_at < clock_timestamp() - unacked_older_than)
        RETURNING 1)
    SELECT count(*) FROM gone;
END;
COMMENT ON FUNCTION lagbid.purge_notifications(interval, interval) IS
    'deletes notifications acknowledged longer ago than older_than, and unacknowledged ones created longer ago than unacked_older_than (NULL keeps them); returns how many (schedule it with pg_cron)';

-- ---------------------------------------------------------------------------
-- Security: roles, privileges, row-level security, and the PostgREST API.
--
--   lagbid_anon      public market statistics only
--   lagbid_owner     a platform user: its tasks, spaces, the bids on them, its balance
--   lagbid_provider  a computing provider: its bids, jobs, notifications, the tasks open to it
--   lagbid_platform  the operator: every lagbid.* function, read access to every table
--
-- Owners and providers reach lagbid only through schema lagbid_api (what
-- PostgREST exposes: db-schemas = lagbid_api).  Its functions take the
-- caller's identity from request.jwt.claims (lagbid.api_identity, src/api.c)
-- and never from an argument.  Tables are granted to nobody but the
-- platform (read only) and carry row-level security on top.
-- ---------------------------------------------------------------------------

DO $$
DECLARE
    r text;
BEGIN
    FOREACH r IN ARRAY ARRAY['lagbid_anon', 'lagbid_owner', 'lagbid_provider', 'lagbid_platform'] LOOP
        IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = r) THEN
            EXECUTE pg_catalog.format('CREATE ROLE %I NOLOGIN', r);
        END IF;
    END LOOP;
END $$;

-- identity and refusals for the API layer (C, src/api.c)
CREATE FUNCTION lagbid.api_identity(expected_role text) RETURNS text
    LANGUAGE c STABLE
    AS 'MODULE_PATHNAME', 'lagbid_api_identity';
COMMENT ON FUNCTION lagbid.api_identity(text) IS
    'the caller''s identity: its login''s binding, or the sub of request.jwt.claims from one of lagbid.authenticators under exactly the claimed role; refused with LB101/LB105/LB106';

-- who may speak for whom (C, src/api.c; docs/0.3/identity.md)
CREATE FUNCTION lagbid.api_role() RETURNS text
    LANGUAGE c STABLE
    AS 'MODULE_PATHNAME', 'lagbid_api_role';
COMMENT ON FUNCTION lagbid.api_role() IS
    'lagbid_provider when the caller speaks as a provider (its binding or its claims), else lagbid_owner';

CREATE FUNCTION lagbid.api_node_id(node_id text DEFAULT NULL) RETURNS text
    LANGUAGE c STABLE
    AS 'MODULE_PATHNAME', 'lagbid_api_node_id';
COMMENT ON FUNCTION lagbid.api_node_id(text) IS
    'the node a provider call speaks for: its binding''s or claims'' (node_id must agree: LB107/LB106), or node_id for an unbound direct login';

CREATE FUNCTION lagbid.api_signup(node_id text, signed boolean) RETURNS text
    LANGUAGE c VOLATILE
    AS 'MODULE_PATHNAME', 'lagbid_api_signup';
COMMENT ON FUNCTION lagbid.api_signup(text, boolean) IS
    'the node a registration speaks for; an unbound direct login (easy signup) must sign (LB109) a node no other login holds (LB107) and is bound to it';

CREATE FUNCTION lagbid.is_authenticator(login regrole) RETURNS boolean
    LANGUAGE c STABLE
    AS 'MODULE_PATHNAME', 'lagbid_is_authenticator';
COMMENT ON FUNCTION lagbid.is_authenticator(regrole) IS
    'true when login is one of lagbid.authenticators (its request.jwt.claims are trusted)';

CREATE FUNCTION lagbid.raise(sqlstate text, message text, detail text DEFAULT NULL, hint text DEFAULT NULL)
    RETURNS void
    LANGUAGE c VOLATILE
    AS 'MODULE_PATHNAME', 'lagbid_raise_sql';
COMMENT ON FUNCTION lagbid.raise(text, text, text, text) IS
    'raises one of lagbid''s refusals (see lagbid.error_codes()) from SQL, in PostgREST form under lagbid.api_errors';

-- the calling provider's id, or LB204
CREATE FUNCTION lagbid.api_provider() RETURNS bigint
    LANGUAGE plpgsql STABLE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    node text := lagbid.api_identity('lagbid_provider');
    pid bigint;
BEGIN
    SELECT p.id INTO pid FROM lagbid.provider p WHERE p.node_id = node;
    IF pid IS NULL THEN
        PERFORM lagbid.raise('LB204', 'no provider is registered with this node id',
                             NULL, 'Register first with lagbid_api.register_provider().');
    END IF;
    RETURN pid;
END $$;
COMMENT ON FUNCTION lagbid.api_provider() IS 'the provider id of the calling provider (JWT sub = node id)';

-- the calling holder, for calls open to owners and providers alike: its kind
-- from lagbid.api_role (the login's binding or the claim's role: a bound
-- login sends no claims), its name from lagbid.api_identity (an owner named
-- like a node id stays an owner)
CREATE FUNCTION lagbid.api_holder(OUT kind lagbid.holder_kind, OUT name text)
    LANGUAGE plpgsql STABLE
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    r text := lagbid.api_role();
BEGIN
    kind := CASE WHEN r = 'lagbid_provider' THEN 'provider' ELSE 'owner' END;
    name := lagbid.api_identity(r);
END $$;
COMMENT ON FUNCTION lagbid.api_holder() IS
    'the calling owner or provider as a typed holder (kind, name): what its balance and notifications belong to';

-- the caller's subject (name only: see lagbid.api_holder for its kind)
CREATE FUNCTION lagbid.api_subject() RETURNS text
    LANGUAGE sql STABLE
    SET search_path = pg_catalog, pg_temp
    RETURN (SELECT h.name FROM lagbid.api_holder() h);
COMMENT ON FUNCTION lagbid.api_subject() IS 'the sub of a calling owner or provider';

-- ownership checks: LB201/LB102, LB202/LB203/LB103, LB205/LB104
CREATE FUNCTION lagbid.api_own_task(task_id bigint) RETURNS text
    LANGUAGE plpgsql STABLE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    me text := lagbid.api_identity('lagbid_owner');
    who text;
BEGIN
    SELECT t.owner INTO who FROM lagbid.task t WHERE t.id = api_own_task.task_id;
    IF who IS NULL THEN
        PERFORM lagbid.raise('LB201', format('task %s does not exist', task_id));
    ELSIF who <> me THEN
        PERFORM lagbid.raise('LB102', format('task %s belongs to another owner', task_id));
    END IF;
    RETURN me;
END $$;

CREATE FUNCTION lagbid.api_own_space(space_id bigint) RETURNS text
    LANGUAGE plpgsql STABLE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    me text := lagbid.api_identity('lagbid_owner');
    who text;
BEGIN
    SELECT s.owner INTO who FROM lagbid.space s WHERE s.id = api_own_space.space_id;
    IF who IS NULL THEN
        PERFORM lagbid.raise('LB205', format('space %s does not exist', space_id));
    ELSIF who <> me THEN
        PERFORM lagbid.raise('LB104', format('space %s belongs to another owner', space_id));
    END IF;
    RETURN me;
END $$;

CREATE FUNCTION lagbid.api_own_bid(bid_id bigint) RETURNS void
    LANGUAGE plpgsql STABLE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    me bigint := lagbid.api_provider();
    who bigint;
BEGIN
    SELECT b.provider_id INTO who FROM lagbid.bid b WHERE b.id = api_own_bid.bid_id;
    IF who IS NULL THEN
        PERFORM lagbid.raise('LB202', format('bid %s does not exist', bid_id));
    ELSIF who <> me THEN
        PERFORM lagbid.raise('LB103', format('bid %s was placed by another provider', bid_id));
    END IF;
END $$;

CREATE FUNCTION lagbid.api_own_job(job_id bigint) RETURNS void
    LANGUAGE plpgsql STABLE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    me bigint := lagbid.api_provider();
    who bigint;
BEGIN
    SELECT j.provider_id INTO who FROM lagbid.job j WHERE j.id = api_own_job.job_id;
    IF who IS NULL THEN
        PERFORM lagbid.raise('LB203', format('job %s does not exist', job_id));
    ELSIF who <> me THEN
        PERFORM lagbid.raise('LB103', format('job %s belongs to another provider', job_id));
    END IF;
END $$;

-- ---------------------------------------------------------------------------
-- lagbid_api: calls of a provider
-- ---------------------------------------------------------------------------

CREATE FUNCTION lagbid_api.register_provider(multiaddrs text[], region text, resources jsonb,
                                             max_concurrent integer DEFAULT 1, signature bytea DEFAULT NULL,
                                             node_id text DEFAULT NULL)
    RETURNS bigint LANGUAGE sql VOLATILE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp SET lagbid.api_errors = on
    RETURN lagbid.register_provider(lagbid.api_signup(node_id, signature IS NOT NULL), multiaddrs, region,
                                    resources, max_concurrent, signature => signature);
COMMENT ON FUNCTION lagbid_api.register_provider(text[], text, jsonb, integer, bytea, text) IS
    'Registers the calling provider (its node id is the JWT sub or its login''s binding) with its multiaddrs, region, resources and concurrency limit; again to update. A signature of registration_challenge() by the node''s key marks it verified; an unbound login signs up by passing node_id and a signature, which binds it to the node. Returns the provider id.';

CREATE FUNCTION lagbid_api.registration_challenge(multiaddrs text[], node_id text DEFAULT NULL)
    RETURNS bytea LANGUAGE sql VOLATILE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp SET lagbid.api_errors = on
    RETURN lagbid.registration_challenge(lagbid.api_node_id(node_id), multiaddrs);
COMMENT ON FUNCTION lagbid_api.registration_challenge(text[], text) IS
    'The bytes to sign with the node''s ed25519 key to register these addresses now (node_id only for an unbound login signing up). Valid 5 to 10 minutes, once.';

CREATE FUNCTION lagbid_api.set_bid_limit(max_concurrent integer) RETURNS void
    LANGUAGE sql VOLATILE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp SET lagbid.api_errors = on
    RETURN lagbid.set_bid_limit(lagbid.api_provider(), max_concurrent);
COMMENT ON FUNCTION lagbid_api.set_bid_limit(integer) IS
    'Sets how many bids the calling provider processes at once.';

CREATE FUNCTION lagbid_api.place_bid(task_id bigint, price numeric) RETURNS bigint
    LANGUAGE sql VOLATILE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp SET lagbid.api_errors = on
    RETURN lagbid.place_bid(task_id, lagbid.api_provider(), price);
COMMENT ON FUNCTION lagbid_api.place_bid(bigint, numeric) IS
    'Bids the ask price (per hour) on a task; every market rule is checked at once; sending the same bid again returns the same bid id (the bidder id).';

CREATE FUNCTION lagbid_api.withdraw_bid(bid_id bigint) RETURNS void
    LANGUAGE plpgsql VOLATILE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp SET lagbid.api_errors = on
AS $$
BEGIN
    PERFORM lagbid.api_own_bid(bid_id);
    PERFORM lagbid.withdraw_bid(bid_id);
END $$;
COMMENT ON FUNCTION lagbid_api.withdraw_bid(bigint) IS 'Withdraws one of the caller''s open bids.';

CREATE FUNCTION lagbid_api.submit_result(job_id bigint, result_uri text, result_hash text) RETURNS void
    LANGUAGE plpgsql VOLATILE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp SET lagbid.api_errors = on
AS $$
BEGIN
    PERFORM lagbid.api_own_job(job_id);
    PERFORM lagbid.submit_result(job_id, result_uri, result_hash);
END $$;
COMMENT ON FUNCTION lagbid_api.submit_result(bigint, text, text) IS 'Uploads the result (URI and hash) of one of the caller''s jobs.';

CREATE FUNCTION lagbid_api.fail_job(job_id bigint, reason text) RETURNS void
    LANGUAGE plpgsql VOLATILE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp SET lagbid.api_errors = on
AS $$
BEGIN
    PERFORM lagbid.api_own_job(job_id);
    PERFORM lagbid.fail_job(job_id, reason);
END $$;
COMMENT ON FUNCTION lagbid_api.fail_job(bigint, text) IS 'Gives up one of the caller''s jobs.';

-- one limited index scan per matching region (the provider's region and each
-- of its prefixes) and one for tasks with no region
CREATE FUNCTION lagbid_api.open_tasks(max_rows integer DEFAULT 100)
    RETURNS TABLE (task_id bigint, resources jsonb, region text, price_min numeric, price_max numeric,
                   duration_hours numeric, replicas integer, bid_limit integer, bid_count integer,
                   bidding_deadline timestamptz, owner text, workload jsonb)
    LANGUAGE plpgsql STABLE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp SET lagbid.api_errors = on
AS $$
DECLARE
    p lagbid.provider;
    prefixes text[];
    lim integer := least(greatest(coalesce(max_rows, 100), 1), 1000);
    now timestamptz := lagbid.now();
BEGIN
    SELECT * INTO p FROM lagbid.provider WHERE id = lagbid.api_provider();
    SELECT array_agg(array_to_string(parts[1:i], '-'))
      INTO prefixes
      FROM (SELECT string_to_array(p.region, '-') AS parts) s,
           generate_series(1, cardinality(s.parts)) AS i;
    RETURN QUERY
    SELECT t.id, t.resources, t.region, t.price_min, t.price_max, t.duration_hours, t.replicas,
           t.bid_limit, t.bid_count, t.bidding_deadline, t.owner, t.workload
      FROM (SELECT m.*
              FROM unnest(prefixes) AS r(region)
             CROSS JOIN LATERAL (
                    SELECT * FROM lagbid.task t
                     WHERE t.state = 'accepting_bids' AND t.region = r.region
                       AND t.bidding_deadline > now
                       AND t.cpu <= p.cpu AND t.memory_gb <= p.memory_gb AND t.storage_gb <= p.storage_gb
                       AND t.gpu_count <= p.gpu_count AND (t.gpu IS NULL OR lower(t.gpu) = lower(p.gpu))
                       AND NOT EXISTS (SELECT 1 FROM lagbid.bid b WHERE b.task_id = t.id
                                          AND b.provider_id = p.id AND b.state IN ('open', 'won'))
                     ORDER BY t.price_max DESC, t.id
                     LIMIT lim) AS m
            UNION ALL
            (SELECT * FROM lagbid.task t
              WHERE t.state = 'accepting_bids' AND t.region IS NULL
                AND t.bidding_deadline > now
                AND t.cpu <= p.cpu AND t.memory_gb <= p.memory_gb AND t.storage_gb <= p.storage_gb
                AND t.gpu_count <= p.gpu_count AND (t.gpu IS NULL OR lower(t.gpu) = lower(p.gpu))
                AND NOT EXISTS (SELECT 1 FROM lagbid.bid b WHERE b.task_id = t.id
                                   AND b.provider_id = p.id AND b.state IN ('open', 'won'))
              ORDER BY t.price_max DESC, t.id
              LIMIT lim)) AS t
     ORDER BY t.price_max DESC, t.id
     LIMIT lim;
END $$;
COMMENT ON FUNCTION lagbid_api.open_tasks(integer) IS
    'The tasks the calling provider may bid on now (its region, resources, not yet bid on), best paying first, with their owner and the workload they run; other bidders'' asks are never shown.';

CREATE FUNCTION lagbid_api.my_bids()
    RETURNS TABLE (bid_id bigint, task_id bigint, price numeric, state lagbid.bid_state,
                   placed_at timestamptz, decided_at timestamptz, reason text)
    LANGUAGE sql STABLE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp SET lagbid.api_errors = on
BEGIN ATOMIC
    SELECT b.id, b.task_id, b.price, b.state, b.placed_at, b.decided_at, b.reason
      FROM lagbid.bid b WHERE b.provider_id = lagbid.api_provider() ORDER BY b.id DESC LIMIT 1000;
END;
COMMENT ON FUNCTION lagbid_api.my_bids() IS 'The calling provider''s bids, newest first.';

CREATE FUNCTION lagbid_api.my_jobs()
    RETURNS TABLE (job_id bigint, task_id bigint, bid_id bigint, state lagbid.job_state, price numeric,
                   is_leader boolean, deadline timestamptz, result_uri text, result_hash text, paid numeric,
                   workload jsonb, resources jsonb, duration_hours numeric)
    LANGUAGE sql STABLE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp SET lagbid.api_errors = on
BEGIN ATOMIC
    SELECT j.id, j.task_id, j.bid_id, j.state, j.price, j.is_leader, j.deadline, j.result_uri,
           j.result_hash, j.paid, t.workload, t.resources, t.duration_hours
      FROM lagbid.job j JOIN lagbid.task t ON t.id = j.task_id
     WHERE j.provider_id = lagbid.api_provider() ORDER BY j.id DESC LIMIT 1000;
END;
COMMENT ON FUNCTION lagbid_api.my_jobs() IS 'The calling provider''s jobs, newest first, with what each runs (workload, resources, duration_hours).';

-- ---------------------------------------------------------------------------
-- lagbid_api: calls of an owner
-- ---------------------------------------------------------------------------

CREATE FUNCTION lagbid_api.publish_task(
    resources jsonb, price_min numeric, price_max numeric, duration_hours numeric,
    region text DEFAULT NULL, bid_limit integer DEFAULT 10, replicas integer DEFAULT 1,
    bidding_window interval DEFAULT '10 minutes', auto_allocate boolean DEFAULT true,
    open boolean DEFAULT true, workload jsonb DEFAULT NULL)
    RETURNS bigint LANGUAGE sql VOLATILE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp SET lagbid.api_errors = on
    RETURN lagbid.publish_task(lagbid.api_identity('lagbid_owner'), resources, price_min, price_max,
                               duration_hours, region, bid_limit, replicas, bidding_window,
                               auto_allocate, open, workload);
COMMENT ON FUNCTION lagbid_api.publish_task(jsonb, numeric, numeric, numeric, text, integer, integer, interval, boolean, boolean, jsonb) IS
    'Publishes a task of the caller, with the workload it runs: escrows price_max x duration_hours x replicas from its balance and opens bidding. Returns the task id.';

CREATE FUNCTION lagbid_api.open_bidding(task_id bigint) RETURNS void
    LANGUAGE plpgsql VOLATILE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp SET lagbid.api_errors = on
AS $$
BEGIN
    PERFORM lagbid.api_own_task(task_id);
    PERFORM lagbid.open_bidding(task_id);
END $$;
COMMENT ON FUNCTION lagbid_api.open_bidding(bigint) IS 'Opens (or reopens) bidding on one of the caller''s tasks.';

CREATE FUNCTION lagbid_api.close_bidding(task_id bigint) RETURNS void
    LANGUAGE plpgsql VOLATILE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp SET lagbid.api_errors = on
AS $$
BEGIN
    PERFORM lagbid.api_own_task(task_id);
    PERFORM lagbid.close_bidding(task_id);
END $$;
COMMENT ON FUNCTION lagbid_api.close_bidding(bigint) IS 'Closes bidding on one of the caller''s tasks.';

CREATE FUNCTION lagbid_api.allocate(task_id bigint, bid_ids bigint[] DEFAULT NULL) RETURNS SETOF bigint
    LANGUAGE plpgsql VOLATILE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp SET lagbid.api_errors = on
AS $$
BEGIN
    PERFORM lagbid.api_own_task(task_id);
    RETURN QUERY SELECT lagbid.allocate(task_id, bid_ids);
END $$;
COMMENT ON FUNCTION lagbid_api.allocate(bigint, bigint[]) IS
    'Allocates bidders of one of the caller''s tasks (the given bids, or the best ones). Returns the job ids.';

CREATE FUNCTION lagbid_api.cancel_task(task_id bigint, reason text DEFAULT NULL) RETURNS void
    LANGUAGE plpgsql VOLATILE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp SET lagbid.api_errors = on
AS $$
BEGIN
    PERFORM lagbid.api_own_task(task_id);
    PERFORM lagbid.cancel_task(task_id, reason);
END $$;
COMMENT ON FUNCTION lagbid_api.cancel_task(bigint, text) IS 'Cancels one of the caller''s tasks before processing; refunds it.';

CREATE FUNCTION lagbid_api.finalize(task_id bigint) RETURNS bigint
    LANGUAGE plpgsql VOLATILE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp SET lagbid.api_errors = on
AS $$
BEGIN
    PERFORM lagbid.api_own_task(task_id);
    RETURN lagbid.finalize(task_id);
END $$;
COMMENT ON FUNCTION lagbid_api.finalize(bigint) IS
    'Elects the leading node of one of the caller''s tasks and pays; returns the leader job id, or NULL when the task failed (no valid result).';

CREATE FUNCTION lagbid_api.my_tasks()
    RETURNS TABLE (task_id bigint, state lagbid.task_state, price_min numeric, price_max numeric,
                   duration_hours numeric, bid_limit integer, replicas integer, bid_count integer,
                   space_id bigint, leader_job_id bigint, created_at timestamptz, reason text)
    LANGUAGE sql STABLE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp SET lagbid.api_errors = on
BEGIN ATOMIC
    SELECT t.id, t.state, t.price_min, t.price_max, t.duration_hours, t.bid_limit, t.replicas,
           t.bid_count, t.space_id, t.leader_job_id, t.created_at, t.reason
      FROM lagbid.task t WHERE t.owner = lagbid.api_identity('lagbid_owner') ORDER BY t.id DESC LIMIT 1000;
END;
COMMENT ON FUNCTION lagbid_api.my_tasks() IS 'The caller''s tasks, newest first.';

CREATE FUNCTION lagbid_api.task_bids(task_id bigint)
    RETURNS TABLE (bid_id bigint, provider_id bigint, node_id text, price numeric,
                   state lagbid.bid_state, placed_at timestamptz)
    LANGUAGE plpgsql STABLE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp SET lagbid.api_errors = on
AS $$
BEGIN
    PERFORM lagbid.api_own_task(task_id);
    RETURN QUERY
    SELECT b.id, b.provider_id, p.node_id, b.price, b.state, b.placed_at
      FROM lagbid.bid b JOIN lagbid.provider p ON p.id = b.provider_id
     WHERE b.task_id = task_bids.task_id ORDER BY b.price, b.placed_at, b.id;
END $$;
COMMENT ON FUNCTION lagbid_api.task_bids(bigint) IS 'The bids on one of the caller''s tasks, best first (only the task''s owner sees the asks).';

CREATE FUNCTION lagbid_api.create_space(name text, resources jsonb, price_min numeric, price_max numeric,
                                        hours numeric, region text DEFAULT NULL, replicas integer DEFAULT 1,
                                        workload jsonb DEFAULT NULL)
    RETURNS bigint LANGUAGE sql VOLATILE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp SET lagbid.api_errors = on
    RETURN lagbid.create_space(lagbid.api_identity('lagbid_owner'), name, resources, price_min,
                               price_max, hours, region, replicas, workload);
COMMENT ON FUNCTION lagbid_api.create_space(text, jsonb, numeric, numeric, numeric, text, integer, jsonb) IS
    'Creates a space of the caller (with the workload its tasks run) and pays for its reserved hours; the next tick publishes it. Returns the space id.';

CREATE FUNCTION lagbid_api.update_space(space_id bigint, resources jsonb DEFAULT NULL,
                                        price_min numeric DEFAULT NULL, price_max numeric DEFAULT NULL,
                                        region text DEFAULT NULL, workload jsonb DEFAULT NULL)
    RETURNS void LANGUAGE plpgsql VOLATILE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp SET lagbid.api_errors = on
AS $$
BEGIN
    PERFORM lagbid.api_own_space(space_id);
    PERFORM lagbid.update_space(space_id, resources, price_min, price_max, region, workload);
END $$;
COMMENT ON FUNCTION lagbid_api.update_space(bigint, jsonb, numeric, numeric, text, jsonb) IS 'Changes one of the caller''s spaces (workload => ''null'' removes its workload); the next tick republishes it.';

CREATE FUNCTION lagbid_api.extend_space(space_id bigint, hours numeric) RETURNS void
    LANGUAGE plpgsql VOLATILE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp SET lagbid.api_errors = on
AS $$
BEGIN
    PERFORM lagbid.api_own_space(space_id);
    PERFORM lagbid.extend_space(space_id, hours);
END $$;
COMMENT ON FUNCTION lagbid_api.extend_space(bigint, numeric) IS 'Pays for more reserved hours of one of the caller''s spaces.';

CREATE FUNCTION lagbid_api.trigger_space(space_id bigint) RETURNS bigint
    LANGUAGE plpgsql VOLATILE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp SET lagbid.api_errors = on
AS $$
BEGIN
    PERFORM lagbid.api_own_space(space_id);
    RETURN lagbid.trigger_space(space_id);
END $$;
COMMENT ON FUNCTION lagbid_api.trigger_space(bigint) IS 'Publishes one of the caller''s spaces now; returns the task id.';

CREATE FUNCTION lagbid_api.my_spaces()
    RETURNS TABLE (space_id bigint, name text, state lagbid.space_state, version integer,
                   price_min numeric, price_max numeric, replicas integer, reserved_until timestamptz,
                   current_task_id bigint)
    LANGUAGE sql STABLE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp SET lagbid.api_errors = on
BEGIN ATOMIC
    SELECT s.id, s.name, s.state, s.version, s.price_min, s.price_max, s.replicas, s.reserved_until,
           s.current_task_id
      FROM lagbid.space s WHERE s.owner = lagbid.api_identity('lagbid_owner') ORDER BY s.id;
END;
COMMENT ON FUNCTION lagbid_api.my_spaces() IS 'The caller''s spaces.';

-- ---------------------------------------------------------------------------
-- lagbid_api: for owners and providers alike, and for everybody
-- ---------------------------------------------------------------------------

CREATE FUNCTION lagbid_api.balance() RETURNS numeric
    LANGUAGE sql STABLE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp SET lagbid.api_errors = on
    RETURN (SELECT lagbid.balance(h.name, h.kind) FROM lagbid.api_holder() h);
COMMENT ON FUNCTION lagbid_api.balance() IS 'The caller''s balance.';

CREATE FUNCTION lagbid_api.notifications(pending_only boolean DEFAULT true, max_rows integer DEFAULT 100)
    RETURNS TABLE (id bigint, kind text, task_id bigint, bid_id bigint, job_id bigint,
                   payload jsonb, created_at timestamptz, acked_at timestamptz)
    LANGUAGE plpgsql STABLE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp SET lagbid.api_errors = on
AS $$
DECLARE
    -- the caller first: a refused identity is refused even with no rows
    me record := lagbid.api_holder();
BEGIN
    RETURN QUERY
    SELECT n.id, n.kind, n.task_id, n.bid_id, n.job_id, n.payload, n.created_at, n.acked_at
      FROM lagbid.notification n
     WHERE n.recipient_kind = me.kind AND n.recipient = me.name
       AND (n.acked_at IS NULL OR NOT coalesce(pending_only, true))
     ORDER BY n.id
     LIMIT least(greatest(coalesce(max_rows, 100), 1), 1000);
END $$;
COMMENT ON FUNCTION lagbid_api.notifications(boolean, integer) IS
    'The caller''s notifications (bid won or lost, task cancelled, job paid, ...), oldest first; pending ones by default.';

CREATE FUNCTION lagbid_api.acknowledge(ids bigint[]) RETURNS integer
    LANGUAGE plpgsql VOLATILE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp SET lagbid.api_errors = on
AS $$
DECLARE
    me lagbid.holder_kind;
    my_name text;
    n integer;
BEGIN
    SELECT h.kind, h.name INTO me, my_name FROM lagbid.api_holder() h;
    IF ids IS NULL OR cardinality(ids) > 1000 THEN
        PERFORM lagbid.raise('LB001', 'ids must be an array of at most 1000 notification ids');
    END IF;
    UPDATE lagbid.notification SET acked_at = clock_timestamp()
     WHERE id = ANY (ids) AND recipient_kind = me AND recipient = my_name AND acked_at IS NULL;
    GET DIAGNOSTICS n = ROW_COUNT;
    RETURN n;
END $$;
COMMENT ON FUNCTION lagbid_api.acknowledge(bigint[]) IS 'Marks the caller''s notifications as read; returns how many.';

CREATE FUNCTION lagbid_api.market_stats()
    RETURNS TABLE (open_tasks bigint, active_providers bigint, tasks_completed bigint,
                   median_open_price_max numeric)
    LANGUAGE sql STABLE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
BEGIN ATOMIC
    SELECT (SELECT count(*) FROM lagbid.task WHERE state = 'accepting_bids'),
           (SELECT count(*) FROM lagbid.provider WHERE state = 'active'),
           (SELECT count(*) FROM lagbid.task WHERE state = 'completed'),
           (SELECT percentile_disc(0.5) WITHIN GROUP (ORDER BY price_max) FROM lagbid.task
             WHERE state = 'accepting_bids');
END;
COMMENT ON FUNCTION lagbid_api.market_stats() IS 'Public market statistics: open tasks, active providers, completed tasks, the median price_max of open tasks.';

-- ---------------------------------------------------------------------------
-- The market functions run as the extension's owner with a pinned
-- search_path, so that the platform needs no write privilege on any table.
-- ---------------------------------------------------------------------------

ALTER FUNCTION lagbid.register_provider(text, text[], text, jsonb, integer, text, text, bytea) SECURITY DEFINER SET search_path = pg_catalog, pg_temp;
ALTER FUNCTION lagbid.registration_challenge(text, text[]) SECURITY DEFINER SET search_path = pg_catalog, pg_temp;
ALTER FUNCTION lagbid.set_bid_limit(bigint, integer) SECURITY DEFINER SET search_path = pg_catalog, pg_temp;
ALTER FUNCTION lagbid.set_provider_state(bigint, text) SECURITY DEFINER SET search_path = pg_catalog, pg_temp;
ALTER FUNCTION lagbid.publish_task(text, jsonb, numeric, numeric, numeric, text, integer, integer, interval, boolean, boolean, jsonb) SECURITY DEFINER SET search_path = pg_catalog, pg_temp;
ALTER FUNCTION lagbid.open_bidding(bigint) SECURITY DEFINER SET search_path = pg_catalog, pg_temp;
ALTER FUNCTION lagbid.close_bidding(bigint) SECURITY DEFINER SET search_path = pg_catalog, pg_temp;
ALTER FUNCTION lagbid.cancel_task(bigint, text) SECURITY DEFINER SET search_path = pg_catalog, pg_temp;
ALTER FUNCTION lagbid.place_bid(bigint, bigint, numeric) SECURITY DEFINER SET search_path = pg_catalog, pg_temp;
ALTER FUNCTION lagbid.withdraw_bid(bigint) SECURITY DEFINER SET search_path = pg_catalog, pg_temp;
ALTER FUNCTION lagbid.allocate(bigint, bigint[]) SECURITY DEFINER SET search_path = pg_catalog, pg_temp;
ALTER FUNCTION lagbid.submit_result(bigint, text, text) SECURITY DEFINER SET search_path = pg_catalog, pg_temp;
ALTER FUNCTION lagbid.fail_job(bigint, text) SECURITY DEFINER SET search_path = pg_catalog, pg_temp;
ALTER FUNCTION lagbid.finalize(bigint) SECURITY DEFINER SET search_path = pg_catalog, pg_temp;
ALTER FUNCTION lagbid.create_space(text, text, jsonb, numeric, numeric, numeric, text, integer, jsonb) SECURITY DEFINER SET search_path = pg_catalog, pg_temp;
ALTER FUNCTION lagbid.update_space(bigint, jsonb, numeric, numeric, text, jsonb) SECURITY DEFINER SET search_path = pg_catalog, pg_temp;
ALTER FUNCTION lagbid.extend_space(bigint, numeric) SECURITY DEFINER SET search_path = pg_catalog, pg_temp;
ALTER FUNCTION lagbid.trigger_space(bigint) SECURITY DEFINER SET search_path = pg_catalog, pg_temp;
ALTER FUNCTION lagbid.deposit(text, numeric, text, lagbid.holder_kind) SECURITY DEFINER SET search_path = pg_catalog, pg_temp;
ALTER FUNCTION lagbid.balance(text, lagbid.holder_kind) SECURITY DEFINER SET search_path = pg_catalog, pg_temp;
ALTER FUNCTION lagbid.tick() SECURITY DEFINER SET search_path = pg_catalog, pg_temp;
ALTER FUNCTION lagbid.check_invariants() SECURITY DEFINER;

-- ---------------------------------------------------------------------------
-- Privileges: nothing to PUBLIC; each role exactly its calls
-- ---------------------------------------------------------------------------

REVOKE ALL ON ALL FUNCTIONS IN SCHEMA lagbid FROM PUBLIC;
REVOKE ALL ON ALL FUNCTIONS IN SCHEMA lagbid_api FROM PUBLIC;
REVOKE ALL ON ALL TABLES IN SCHEMA lagbid FROM PUBLIC;

GRANT USAGE ON SCHEMA lagbid_api TO lagbid_anon, lagbid_owner, lagbid_provider, lagbid_platform;
GRANT EXECUTE ON FUNCTION lagbid_api.market_stats() TO lagbid_anon, lagbid_owner, lagbid_provider, lagbid_platform;
GRANT EXECUTE ON FUNCTION
    lagbid_api.register_provider(text[], text, jsonb, integer, bytea, text),
    lagbid_api.registration_challenge(text[], text),
    lagbid_api.set_bid_limit(integer),
    lagbid_api.place_bid(bigint, numeric),
    lagbid_api.withdraw_bid(bigint),
    lagbid_api.submit_result(bigint, text, text),
    lagbid_api.fail_job(bigint, text),
    lagbid_api.open_tasks(integer),
    lagbid_api.my_bids(),
    lagbid_api.my_jobs()
    TO lagbid_provider;
GRANT EXECUTE ON FUNCTION
    lagbid_api.publish_task(jsonb, numeric, numeric, numeric, text, integer, integer, interval, boolean, boolean, jsonb),
    lagbid_api.open_bidding(bigint),
    lagbid_api.close_bidding(bigint),
    lagbid_api.allocate(bigint, bigint[]),
    lagbid_api.cancel_task(bigint, text),
    lagbid_api.finalize(bigint),
    lagbid_api.my_tasks(),
    lagbid_api.task_bids(bigint),
    lagbid_api.create_space(text, jsonb, numeric, numeric, numeric, text, integer, jsonb),
    lagbid_api.update_space(bigint, jsonb, numeric, numeric, text, jsonb),
    lagbid_api.extend_space(bigint, numeric),
    lagbid_api.trigger_space(bigint),
    lagbid_api.my_spaces()
    TO lagbid_owner;
GRANT EXECUTE ON FUNCTION lagbid_api.balance(), lagbid_api.notifications(boolean, integer),
    lagbid_api.acknowledge(bigint[])
    TO lagbid_owner, lagbid_provider;

-- the platform: every market function, read access to every table
GRANT USAGE ON SCHEMA lagbid TO lagbid_platform;
GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA lagbid TO lagbid_platform;
GRANT SELECT ON ALL TABLES IN SCHEMA lagbid TO lagbid_platform;

-- row-level security: even a table granted by mistake shows nothing but to the platform
DO $$
DECLARE
    t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['account', 'ledger_tx', 'ledger_entry', 'provider', 'space', 'task',
                             'bid', 'job', 'event', 'notification'] LOOP
        EXECUTE pg_catalog.format('ALTER TABLE lagbid.%I ENABLE ROW LEVEL SECURITY', t);
        EXECUTE pg_catalog.format('CREATE POLICY platform_reads ON lagbid.%I FOR SELECT TO lagbid_platform USING (true)', t);
    END LOOP;
END $$;

-- ---------------------------------------------------------------------------
-- 0.3: who may speak for whom.  request.jwt.claims are trusted only from the
-- logins of lagbid.authenticators (PostgREST's); any other login acts as the
-- provider or owner it is bound to here (src/api.c resolves it on every API
-- call with one probe of the primary key).  The platform binds logins; an
-- unbound login that proves a node's key at registration binds itself
-- (easy signup, lagbid.api_signup).  docs/0.3/identity.md.
-- ---------------------------------------------------------------------------

CREATE TABLE lagbid.login_binding (
    login       regrole PRIMARY KEY,
    kind        text NOT NULL CHECK (kind IN ('provider', 'owner')),
    subject     text NOT NULL,
    how         text NOT NULL CHECK (how IN ('platform', 'signup')),
    bound_at    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX login_binding_subject ON lagbid.login_binding (kind, subject);
COMMENT ON TABLE lagbid.login_binding IS
    'logins bound to one provider (subject = node id) or owner (subject = owner name): such a login''s API calls speak for it and nothing else';
COMMENT ON COLUMN lagbid.login_binding.how IS
    'platform: bound by lagbid.bind_login/bind_owner_login; signup: bound by a signed registration of an unbound login';

ALTER TABLE lagbid.login_binding ENABLE ROW LEVEL SECURITY;
CREATE POLICY platform_reads ON lagbid.login_binding FOR SELECT TO lagbid_platform USING (true);
REVOKE ALL ON lagbid.login_binding FROM PUBLIC;
GRANT SELECT ON lagbid.login_binding TO lagbid_platform;
-- bindings are data: pg_dump keeps them (90_dump.sql does the same for the market's tables)
SELECT pg_catalog.pg_extension_config_dump('lagbid.login_binding', '');

-- bind one login (shared by bind_login and bind_owner_login)
CREATE FUNCTION lagbid.bind(kind text, subject text, login regrole) RETURNS void
    LANGUAGE plpgsql VOLATILE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    b lagbid.login_binding;
BEGIN
    IF login IS NULL OR subject IS NULL THEN
        PERFORM lagbid.raise('LB001', format('%s and login must not be NULL',
                                             CASE kind WHEN 'provider' THEN 'node_id' ELSE 'owner' END));
    END IF;
    IF kind = 'provider' AND NOT lagbid.node_id_is_valid(subject) THEN
        PERFORM lagbid.raise('LB002', 'node_id is not a valid libp2p peer id', NULL,
                             'A node id is a libp2p peer id such as 12D3KooW... or Qm....');
    END IF;
    IF kind = 'owner' AND (octet_length(subject) NOT BETWEEN 1 AND 128 OR subject ~ '[[:cntrl:]]') THEN
        PERFORM lagbid.raise('LB001', 'owner must be 1 to 128 bytes without control characters');
    END IF;
    IF lagbid.is_authenticator(login) THEN
        PERFORM lagbid.raise('LB001', format('login %s is one of lagbid.authenticators and cannot be bound', login),
                             'Its requests speak for whoever their claims name.',
                             'Bind the provider''s or owner''s own login.');
    END IF;
    SELECT * INTO b FROM lagbid.login_binding lb WHERE lb.login = bind.login FOR UPDATE;
    IF FOUND AND b.kind = bind.kind AND b.subject = bind.subject THEN
        RETURN;
    ELSIF FOUND THEN
        PERFORM lagbid.raise('LB107', format('login %s is already bound to %s %s', login, b.kind, b.subject),
                             NULL, 'Unbind it first with lagbid.unbind_login().');
    END IF;
    INSERT INTO lagbid.login_binding (login, kind, subject, how)
    VALUES (bind.login, bind.kind, bind.subject, 'platform')
    ON CONFLICT ON CONSTRAINT login_binding_pkey DO NOTHING;
    IF NOT FOUND THEN
        PERFORM lagbid.raise('LB107', format('login %s was bound concurrently', login));
    END IF;
END $$;
COMMENT ON FUNCTION lagbid.bind(text, text, regrole) IS
    'binds login to the provider or owner subject (internal: bind_login, bind_owner_login)';

CREATE FUNCTION lagbid.bind_login(node_id text, login regrole) RETURNS void
    LANGUAGE sql VOLATILE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    RETURN lagbid.bind('provider', node_id, login);
COMMENT ON FUNCTION lagbid.bind_login(text, regrole) IS
    'binds a login (e.g. a provider daemon''s) to the provider of node_id: its API calls then speak for that node only; LB107 when the login is bound to another identity';

CREATE FUNCTION lagbid.bind_owner_login(owner text, login regrole) RETURNS void
    LANGUAGE sql VOLATILE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    RETURN lagbid.bind('owner', owner, login);
COMMENT ON FUNCTION lagbid.bind_owner_login(text, regrole) IS
    'binds a login to an owner: its API calls then speak for that owner only; LB107 when the login is bound to another identity';

CREATE FUNCTION lagbid.unbind_login(login regrole) RETURNS boolean
    LANGUAGE plpgsql VOLATILE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    DELETE FROM lagbid.login_binding lb WHERE lb.login = unbind_login.login;
    RETURN FOUND;
END $$;
COMMENT ON FUNCTION lagbid.unbind_login(regrole) IS
    'removes the binding of a login (do it before dropping the login); returns whether there was one';

REVOKE ALL ON FUNCTION lagbid.bind(text, text, regrole), lagbid.bind_login(text, regrole),
    lagbid.bind_owner_login(text, regrole), lagbid.unbind_login(regrole) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION lagbid.bind_login(text, regrole), lagbid.bind_owner_login(text, regrole),
    lagbid.unbind_login(regrole) TO lagbid_platform;

-- ---------------------------------------------------------------------------
-- Why not? (issue 13, item 6)
--
-- Providers' first question is "why do I receive no tasks?".  lagbid.why_not
-- answers it for one provider and one task: one row per market rule that
-- stops the provider from bidding now, none when place_bid would accept a
-- bid at any price in the task's range.  It reads the same columns that
-- place_bid (src/bids.c) and rule 1 (src/slots.c) check, and a test
-- (sql/whynot.sql) tries place_bid at price_min for many random pairs to
-- prove that the two agree.
--
-- A provider must not learn what it may not see: a task that was never open
-- to bids (or does not exist) is one row, task_not_found; a task that was
-- open (so its terms were public) says its state; nothing ever names another
-- provider or shows another provider's ask.
--
-- lagbid.eligible_providers answers the owner's question: how many active
-- providers could bid on the task at all (region and resources), and how
-- many of them have a free slot now.
-- ---------------------------------------------------------------------------

CREATE FUNCTION lagbid.why_not(task_id bigint, provider_id bigint)
    RETURNS TABLE (rule text, detail text)
    LANGUAGE plpgsql STABLE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    t lagbid.task;
    p lagbid.provider;
    live record;
BEGIN
    IF why_not.task_id IS NULL OR why_not.provider_id IS NULL THEN
        PERFORM lagbid.raise('LB001', 'task_id and provider_id must not be NULL');
    END IF;
    SELECT * INTO p FROM lagbid.provider pr WHERE pr.id = why_not.provider_id;
    IF NOT FOUND THEN
        PERFORM lagbid.raise('LB204', format('provider %s does not exist', why_not.provider_id));
    END IF;

    -- a task never opened to bids is as unknown as one that does not exist
    SELECT * INTO t FROM lagbid.task tk WHERE tk.id = why_not.task_id;
    IF NOT FOUND OR t.opened_at IS NULL THEN
        rule := 'task_not_found';
        detail := format('task %s does not exist or was never open to bids', why_not.task_id);
        RETURN NEXT;
        RETURN;
    END IF;

    -- the task: its state, then its bidding window
    IF t.state <> 'accepting_bids' THEN
        rule := 'not_accepting_bids';
        detail := format('task %s is %s', t.id, t.state);
        RETURN NEXT;
    ELSIF t.bidding_deadline IS NOT NULL AND lagbid.now() >= t.bidding_deadline THEN
        rule := 'bidding_window_closed';
        detail := format('bidding on task %s ended at %s', t.id,
                         to_char(t.bidding_deadline AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"'));
        RETURN NEXT;
    END IF;

    -- the provider: active, then market rule 4 (region, each resource)
    IF p.state <> 'active' THEN
        rule := 'provider_inactive';
        detail := format('provider %s is %s', p.id, p.state);
        RETURN NEXT;
    END IF;
    IF NOT (t.region IS NULL OR p.region = t.region OR starts_with(p.region, t.region || '-')) THEN
        rule := 'region_mismatch';
        detail := format('the task runs in region "%s"; the provider is in "%s"', t.region, p.region);
        RETURN NEXT;
    END IF;
    -- each resource, in the order place_bid compares them; place_bid
    -- compares gpu models with pg_strcasecmp: ASCII case folding, which is
    -- what lower() does under the "C" collation
    RETURN QUERY
    SELECT v.rule, v.detail
      FROM (VALUES
            (1, 'cpu', p.cpu < t.cpu, format('the task needs %s; the provider has %s', t.cpu, p.cpu)),
            (2, 'memory_gb', p.memory_gb < t.memory_gb,
             format('the task needs %s; the provider has %s', t.memory_gb, p.memory_gb)),
            (3, 'storage_gb', p.storage_gb < t.storage_gb,
             format('the task needs %s; the provider has %s', t.storage_gb, p.storage_gb)),
            (4, 'gpu', t.gpu IS NOT NULL AND (p.gpu IS NULL OR lower(p.gpu COLLATE "C") <> lower(t.gpu COLLATE "C")),
             format('the task needs "%s"; the provider has %s', t.gpu, coalesce('"' || p.gpu || '"', 'none'))),
            (5, 'gpu_count', p.gpu_count < t.gpu_count,
             format('the task needs %s; the provider has %s', t.gpu_count, p.gpu_count)))
           AS v(n, rule, fails, detail)
     WHERE v.fails
     ORDER BY v.n;

    -- market rule 1, then rule 5, then rule 2
    IF p.slots_used >= p.max_concurrent THEN
        rule := 'slots_full';
        detail := format('%s of %s slots in use (open bids and running jobs)', p.slots_used, p.max_concurrent);
        RETURN NEXT;
    END IF;
    SELECT b.id, b.price INTO live FROM lagbid.bid b
     WHERE b.task_id = t.id AND b.provider_id = p.id AND b.state IN ('open', 'won');
    IF FOUND THEN
        rule := 'already_bid';
        detail := format('bid %s asks %s', live.id, live.price);
        RETURN NEXT;
    END IF;
    IF t.state = 'accepting_bids' AND t.bid_count >= t.bid_limit THEN
        rule := 'bid_limit_reached';
        detail := format('task %s holds %s of its %s bids', t.id, t.bid_count, t.bid_limit);
        RETURN NEXT;
    END IF;
END $$;
COMMENT ON FUNCTION lagbid.why_not(bigint, bigint) IS
    'One row (rule, detail) per market rule that stops the provider from bidding on the task now, in the order the market checks them; empty when place_bid would accept any ask in [price_min, price_max]. Rules: task_not_found, not_accepting_bids, bidding_window_closed, provider_inactive, region_mismatch, cpu, memory_gb, storage_gb, gpu, gpu_count, slots_full, already_bid, bid_limit_reached.';

CREATE FUNCTION lagbid.eligible_providers(task_id bigint)
    RETURNS TABLE (matching_providers bigint, with_free_slot bigint)
    LANGUAGE plpgsql STABLE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    t lagbid.task;
BEGIN
    IF eligible_providers.task_id IS NULL THEN
        PERFORM lagbid.raise('LB001', 'task_id must not be NULL');
    END IF;
    SELECT * INTO t FROM lagbid.task tk WHERE tk.id = eligible_providers.task_id;
    IF NOT FOUND THEN
        PERFORM lagbid.raise('LB201', format('task %s does not exist', eligible_providers.task_id));
    END IF;
    RETURN QUERY
    SELECT count(*), count(*) FILTER (WHERE p.slots_used < p.max_concurrent)
      FROM lagbid.provider p
     WHERE p.state = 'active'
       AND (t.region IS NULL OR p.region = t.region OR starts_with(p.region, t.region || '-'))
       AND p.cpu >= t.cpu AND p.memory_gb >= t.memory_gb AND p.storage_gb >= t.storage_gb
       AND p.gpu_count >= t.gpu_count
       AND (t.gpu IS NULL OR lower(p.gpu COLLATE "C") = lower(t.gpu COLLATE "C"));
END $$;
COMMENT ON FUNCTION lagbid.eligible_providers(bigint) IS
    'How many active providers match the task''s region and resources (matching_providers), and how many of those have a free slot now (with_free_slot).';

-- the API: the caller's provider, the caller's task

CREATE FUNCTION lagbid_api.why_not(task_id bigint)
    RETURNS TABLE (rule text, detail text)
    LANGUAGE sql STABLE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp SET lagbid.api_errors = on
BEGIN ATOMIC
    SELECT w.rule, w.detail
      FROM lagbid.why_not(why_not.task_id, lagbid.api_provider()) WITH ORDINALITY AS w(rule, detail, n)
     ORDER BY w.n;
END;
COMMENT ON FUNCTION lagbid_api.why_not(bigint) IS
    'Why the calling provider may not bid on a task now: one row (rule, detail) per rule that stops it, none when it may bid any price in the task''s range. Never shows other providers or their asks.';

CREATE FUNCTION lagbid_api.eligible_providers(task_id bigint)
    RETURNS TABLE (matching_providers bigint, with_free_slot bigint)
    LANGUAGE plpgsql STABLE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp SET lagbid.api_errors = on
AS $$
BEGIN
    PERFORM lagbid.api_own_task(eligible_providers.task_id);
    RETURN QUERY SELECT e.matching_providers, e.with_free_slot
                   FROM lagbid.eligible_providers(eligible_providers.task_id) e;
END $$;
COMMENT ON FUNCTION lagbid_api.eligible_providers(bigint) IS
    'For one of the caller''s tasks: how many active providers match its region and resources, and how many of them have a free slot now.';

REVOKE ALL ON FUNCTION lagbid.why_not(bigint, bigint), lagbid.eligible_providers(bigint),
    lagbid_api.why_not(bigint), lagbid_api.eligible_providers(bigint) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION lagbid.why_not(bigint, bigint), lagbid.eligible_providers(bigint) TO lagbid_platform;
GRANT EXECUTE ON FUNCTION lagbid_api.why_not(bigint) TO lagbid_provider;
GRANT EXECUTE ON FUNCTION lagbid_api.eligible_providers(bigint) TO lagbid_owner;

-- ---------------------------------------------------------------------------
-- Real work (issue 13): results stored in the database and verified there.
--
-- A bidder uploads its result's content with upload_result (src/results.c):
-- PostgreSQL computes its SHA-256 and submits the job with result_hash
-- 'sha256:<hex>' and result_uri 'lagbid:result/<job id>'; the election
-- counts uploaded and claimed hashes alike.  The task's owner reads the
-- leader's content with task_result; purge_results deletes stored results
-- of tasks finished long ago.  Workloads (what a task runs) are columns of
-- lagbid.task and lagbid.space, validated in C (src/workload.c).
--
-- This part is also appended whole to the 0.2 -> 0.3 upgrade, so it grants
-- and protects its own objects (70_api.sql's bulk grants ran before it).
-- ---------------------------------------------------------------------------

CREATE TABLE lagbid.result (
    job_id      bigint PRIMARY KEY REFERENCES lagbid.job (id),
    content     bytea NOT NULL,
    sha256      text NOT NULL CHECK (sha256 ~ '^[0-9a-f]{64}$'),
    bytes       integer NOT NULL CHECK (bytes >= 0),
    stored_at   timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE lagbid.result IS
    'results uploaded with upload_result: the content and its SHA-256 computed by PostgreSQL (job.result_hash = ''sha256:'' || sha256)';

GRANT SELECT ON lagbid.result TO lagbid_platform;
ALTER TABLE lagbid.result ENABLE ROW LEVEL SECURITY;
CREATE POLICY platform_reads ON lagbid.result FOR SELECT TO lagbid_platform USING (true);
-- the market's data: pg_dump keeps it (90_dump.sql)
SELECT pg_catalog.pg_extension_config_dump('lagbid.result', '');

CREATE FUNCTION lagbid.upload_result(job_id bigint, content bytea) RETURNS text
    LANGUAGE c VOLATILE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS 'MODULE_PATHNAME', 'lagbid_upload_result';
COMMENT ON FUNCTION lagbid.upload_result(bigint, bytea) IS
    'the allocated bidder uploads the content of its result (at most lagbid.max_result_bytes): stored, hashed by PostgreSQL, and the job submitted with result_hash ''sha256:<hex>'' and result_uri ''lagbid:result/<job id>''; returns the hash';

CREATE FUNCTION lagbid.task_result(task_id bigint) RETURNS bytea
    LANGUAGE plpgsql STABLE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    st lagbid.task_state;
    leader bigint;
    uri text;
    hash text;
    c bytea;
BEGIN
    IF task_id IS NULL THEN
        PERFORM lagbid.raise('LB001', 'task_id must not be NULL');
    END IF;
    SELECT t.state, t.leader_job_id INTO st, leader FROM lagbid.task t WHERE t.id = task_result.task_id;
    IF NOT FOUND THEN
        PERFORM lagbid.raise('LB201', format('task %s does not exist', task_id));
    END IF;
    IF leader IS NULL THEN
        PERFORM lagbid.raise('LB206', format('task %s has no result: no leader has been elected', task_id),
                             format('The task is %s.', st),
                             'The leader''s result is available once the task is completed.');
    END IF;
    SELECT r.content INTO c FROM lagbid.result r WHERE r.job_id = leader;
    IF FOUND THEN
        RETURN c;
    END IF;
    SELECT j.result_uri, j.result_hash INTO uri, hash FROM lagbid.job j WHERE j.id = leader;
    IF uri = 'lagbid:result/' || leader THEN
        PERFORM lagbid.raise('LB206', format('the result of task %s was purged', task_id),
                             format('Its hash was %s.', hash),
                             'lagbid.purge_results() deletes the results of tasks finished long ago.');
    END IF;
    PERFORM lagbid.raise('LB206', format('the result of task %s is not stored in the database', task_id),
                         format('The leader (job %s) submitted it by URI with result_hash %s.', leader, hash),
                         format('Fetch it from %s and check its hash.', uri));
    RETURN NULL;
END $$;
COMMENT ON FUNCTION lagbid.task_result(bigint) IS
    'the content of the task''s leading result, as uploaded; LB206 when there is no leader yet, the leader submitted a URI (submit_result), or the result was purged';

CREATE FUNCTION lagbid.purge_results(older_than interval DEFAULT '30 days') RETURNS bigint
    LANGUAGE plpgsql VOLATILE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    n bigint;
BEGIN
    IF older_than IS NULL OR older_than < interval '0' THEN
        PERFORM lagbid.raise('LB001', 'older_than must be an interval of zero or more');
    END IF;
    DELETE FROM lagbid.result r
     USING lagbid.job j, lagbid.task t
     WHERE j.id = r.job_id AND t.id = j.task_id
       AND t.state IN ('completed', 'failed', 'cancelled')
       AND t.finished_at < lagbid.now() - older_than;
    GET DIAGNOSTICS n = ROW_COUNT;
    RETURN n;
END $$;
COMMENT ON FUNCTION lagbid.purge_results(interval) IS
    'deletes the stored results of tasks finished (completed, failed, cancelled) longer ago than older_than on the market clock; returns how many (schedule it with pg_cron)';

CREATE FUNCTION lagbid_api.upload_result(job_id bigint, content bytea) RETURNS text
    LANGUAGE plpgsql VOLATILE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp SET lagbid.api_errors = on
AS $$
BEGIN
    PERFORM lagbid.api_own_job(job_id);
    RETURN lagbid.upload_result(job_id, content);
END $$;
COMMENT ON FUNCTION lagbid_api.upload_result(bigint, bytea) IS
    'Uploads the content of one of the caller''s results (at most lagbid.max_result_bytes); the database computes its SHA-256 and submits the job. Returns ''sha256:<hex>''.';

CREATE FUNCTION lagbid_api.task_result(task_id bigint) RETURNS bytea
    LANGUAGE plpgsql STABLE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp SET lagbid.api_errors = on
AS $$
BEGIN
    PERFORM lagbid.api_own_task(task_id);
    RETURN lagbid.task_result(task_id);
END $$;
COMMENT ON FUNCTION lagbid_api.task_result(bigint) IS
    'The content of the leading result of one of the caller''s tasks, as uploaded by its bidder.';

REVOKE ALL ON FUNCTION lagbid.upload_result(bigint, bytea), lagbid.task_result(bigint),
    lagbid.purge_results(interval), lagbid_api.upload_result(bigint, bytea),
    lagbid_api.task_result(bigint) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION lagbid.upload_result(bigint, bytea), lagbid.task_result(bigint),
    lagbid.purge_results(interval) TO lagbid_platform;
GRANT EXECUTE ON FUNCTION lagbid_api.upload_result(bigint, bytea) TO lagbid_provider;
GRANT EXECUTE ON FUNCTION lagbid_api.task_result(bigint) TO lagbid_owner;

-- ---------------------------------------------------------------------------
-- Administration: what an operator looks at from psql.
--
--   lagbid.market_overview        one row: the market at a glance
--   lagbid.provider_utilization   per provider: slots against its limit, earnings
--   lagbid.task_timeline(task)    the life of a task, its bids and its jobs
--   lagbid.stuck_tasks            what the minutely tick should have handled
--   lagbid.notification_backlog   unacknowledged notifications per recipient
--
-- For the platform role only.  The views run with their owner's rights (the
-- extension's owner), so they see every row whatever the caller's row-level
-- security; task_timeline reads lagbid.event, which the platform may read.
-- Deadlines are compared with lagbid.now(), the market clock.
-- ---------------------------------------------------------------------------

CREATE VIEW lagbid.market_overview AS
SELECT lagbid.now() AS as_of,
       t.tasks_created, t.tasks_accepting_bids, t.tasks_bid_closed, t.tasks_processing,
       t.tasks_completed, t.tasks_failed, t.tasks_cancelled,
       (SELECT count(*) FROM lagbid.bid b WHERE b.state = 'open') AS open_bids,
       (SELECT count(*) FROM lagbid.job j WHERE j.state IN ('processing', 'submitted')) AS live_jobs,
       p.providers_active, p.providers_suspended,
       m.money_deposited, m.money_escrowed, m.money_in_escrow, m.money_paid, m.money_refunded
  FROM (SELECT count(*) FILTER (WHERE state = 'created') AS tasks_created,
               count(*) FILTER (WHERE state = 'accepting_bids') AS tasks_accepting_bids,
               count(*) FILTER (WHERE state = 'bid_closed') AS tasks_bid_closed,
               count(*) FILTER (WHERE state = 'processing') AS tasks_processing,
               count(*) FILTER (WHERE state = 'completed') AS tasks_completed,
               count(*) FILTER (WHERE state = 'failed') AS tasks_failed,
               count(*) FILTER (WHERE state = 'cancelled') AS tasks_cancelled
          FROM lagbid.task) AS t,
       (SELECT count(*) FILTER (WHERE state = 'active') AS providers_active,
               count(*) FILTER (WHERE state = 'suspended') AS providers_suspended
          FROM lagbid.provider) AS p,
       (SELECT coalesce(sum(e.amount) FILTER (WHERE x.kind = 'deposit' AND a.kind IN ('owner', 'provider')), 0) AS money_deposited,
               coalesce(-sum(e.amount) FILTER (WHERE x.kind = 'escrow' AND a.kind IN ('owner', 'provider')), 0) AS money_escrowed,
               (SELECT coalesce(sum(balance), 0) FROM lagbid.account WHERE kind = 'escrow') AS money_in_escrow,
               coalesce(sum(e.amount) FILTER (WHERE x.kind = 'payment' AND a.kind IN ('owner', 'provider')), 0) AS money_paid,
               coalesce(sum(e.amount) FILTER (WHERE x.kind = 'refund' AND a.kind IN ('owner', 'provider')), 0) AS money_refunded
          FROM lagbid.ledger_tx x
          JOIN lagbid.ledger_entry e ON e.tx_id = x.id
          JOIN lagbid.account a ON a.id = e.account_id) AS m;
COMMENT ON VIEW lagbid.market_overview IS
    'one row: tasks by state, open bids, live jobs (processing or submitted), providers active and suspended, and money: deposited from outside, escrowed by holders (owners), held in escrow now, paid to providers, refunded to holders';

CREATE VIEW lagbid.provider_utilization AS
SELECT p.id AS provider_id, p.node_id, p.region, p.state, p.max_concurrent, p.slots_used,
       round(100.0 * p.slots_used / p.max_concurrent, 1) AS utilization_pct,
       coalesce(b.open_bids, 0) AS open_bids,
       coalesce(b.bids_won, 0) AS bids_won,
       coalesce(b.bids_lost, 0) AS bids_lost,
       coalesce(j.live_jobs, 0) AS live_jobs,
       coalesce(j.jobs_completed, 0) AS jobs_completed,
       coalesce(j.jobs_failed, 0) AS jobs_failed,
       coalesce(j.jobs_led, 0) AS jobs_led,
       coalesce(j.earned, 0) AS earned
  FROM lagbid.provider p
  LEFT JOIN (SELECT provider_id,
                    count(*) FILTER (WHERE state = 'open') AS open_bids,
                    count(*) FILTER (WHERE state = 'won') AS bids_won,
                    count(*) FILTER (WHERE state = 'lost') AS bids_lost
               FROM lagbid.bid GROUP BY provider_id) AS b ON b.provider_id = p.id
  LEFT JOIN (SELECT jb.provider_id,
                    count(*) FILTER (WHERE jb.state IN ('processing', 'submitted')) AS live_jobs,
                    count(*) FILTER (WHERE jb.state = 'completed') AS jobs_completed,
                    count(*) FILTER (WHERE jb.state = 'failed') AS jobs_failed,
                    count(*) FILTER (WHERE jb.is_leader) AS jobs_led,
                    sum(pay.amount) AS earned
               FROM lagbid.job jb
               LEFT JOIN (SELECT x.job_id, sum(x.amount) AS amount FROM lagbid.ledger_tx x
                           WHERE x.kind = 'payment' GROUP BY x.job_id) AS pay ON pay.job_id = jb.id
              GROUP BY jb.provider_id) AS j ON j.provider_id = p.id;
COMMENT ON VIEW lagbid.provider_utilization IS
    'per provider: slots in use against its max_concurrent (utilization_pct above 100 after the limit was lowered), open bids, bids won and lost, live jobs (processing or submitted), jobs completed, failed and led, money earned';

CREATE FUNCTION lagbid.task_timeline(task_id bigint)
    RETURNS TABLE (at timestamptz, entity text, entity_id bigint, from_state text,
                   to_state text, actor text, reason text)
    LANGUAGE sql STABLE
    SET search_path = pg_catalog, pg_temp
BEGIN ATOMIC
    SELECT e.at, e.entity, e.entity_id, e.from_state, e.to_state, e.actor, e.reason
      FROM lagbid.event e
     WHERE (e.entity = 'task' AND e.entity_id = task_timeline.task_id)
        OR (e.entity = 'bid' AND e.entity_id IN (SELECT b.id FROM lagbid.bid b
                                                 WHERE b.task_id = task_timeline.task_id))
        OR (e.entity = 'job' AND e.entity_id IN (SELECT j.id FROM lagbid.job j
                                                 WHERE j.task_id = task_timeline.task_id))
     ORDER BY e.id;
END;
COMMENT ON FUNCTION lagbid.task_timeline(bigint) IS
    'every state transition of a task, its bids and its jobs from lagbid.event, in the order they happened (from_state NULL at birth)';

CREATE VIEW lagbid.stuck_tasks AS
SELECT s.task_id, s.owner, s.state, s.problem, s.due_at, lagbid.now() - s.due_at AS overdue,
       s.bid_count, s.jobs_pending, s.space_id
  FROM (SELECT t.id AS task_id, t.owner, t.state, 'bidding_deadline_passed' AS problem,
               t.bidding_deadline AS due_at, t.bid_count, t.jobs_pending, t.space_id
          FROM lagbid.task t
         WHERE t.state = 'accepting_bids' AND t.bidding_deadline <= lagbid.now()
        UNION ALL
        -- every job reported: due since the last report
        SELECT t.id, t.owner, t.state, 'all_jobs_reported',
               coalesce((SELECT max(greatest(j.submitted_at, j.finished_at)) FROM lagbid.job j
                          WHERE j.task_id = t.id), t.allocated_at),
               t.bid_count, t.jobs_pending, t.space_id
          FROM lagbid.task t
         WHERE t.state = 'processing' AND t.jobs_pending = 0
        UNION ALL
        SELECT t.id, t.owner, t.state, 'processing_deadline_passed',
               t.processing_deadline, t.bid_count, t.jobs_pending, t.space_id
          FROM lagbid.task t
         WHERE t.state = 'processing' AND t.jobs_pending > 0
           AND t.processing_deadline <= lagbid.now()) AS s;
COMMENT ON VIEW lagbid.stuck_tasks IS
    'tasks the minutely tick should already have handled: accepting bids past their bidding deadline, processing with every job reported, or processing past their processing deadline; overdue is measured on the market clock (a minute or less is normal between ticks)';

CREATE VIEW lagbid.notification_backlog AS
SELECT n.recipient,
       count(*) AS pending,
       min(n.created_at) AS oldest,
       pg_catalog.now() - min(n.created_at) AS oldest_age,
       n.recipient_kind
  FROM lagbid.notification n
 WHERE n.acked_at IS NULL
 GROUP BY n.recipient_kind, n.recipient;
COMMENT ON VIEW lagbid.notification_backlog IS
    'unacknowledged notifications per recipient (recipient_kind provider: a node id; owner: an owner name), with the oldest one''s age on the wall clock';

REVOKE ALL ON lagbid.market_overview, lagbid.provider_utilization, lagbid.stuck_tasks,
    lagbid.notification_backlog FROM PUBLIC;
REVOKE ALL ON FUNCTION lagbid.task_timeline(bigint) FROM PUBLIC;
GRANT SELECT ON lagbid.market_overview, lagbid.provider_utilization, lagbid.stuck_tasks,
    lagbid.notification_backlog TO lagbid_platform;
GRANT EXECUTE ON FUNCTION lagbid.task_timeline(bigint) TO lagbid_platform;

-- ---------------------------------------------------------------------------
-- 0.2: a peer id from a public key (src/identity.c), for signup tooling,
-- tests and demos.
-- ---------------------------------------------------------------------------

CREATE FUNCTION lagbid.peer_id_from_ed25519(public_key bytea) RETURNS text
    LANGUAGE c IMMUTABLE STRICT PARALLEL SAFE
    AS 'MODULE_PATHNAME', 'lagbid_peer_id_from_ed25519';
COMMENT ON FUNCTION lagbid.peer_id_from_ed25519(bytea) IS
    'the libp2p peer id ("12D3KooW...") of a 32-byte ed25519 public key';
REVOKE ALL ON FUNCTION lagbid.peer_id_from_ed25519(bytea) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION lagbid.peer_id_from_ed25519(bytea) TO lagbid_platform;

-- ---------------------------------------------------------------------------
-- The tick's own state (src/tick.c): its lock, the ticks it skipped, and the
-- rows it could not handle.  Only the extension's owner writes or locks
-- these tables (the market functions run as it); the platform reads them,
-- best through lagbid.tick_status and lagbid.tick_failures.
-- ---------------------------------------------------------------------------

-- One row: the lock that keeps ticks one at a time (FOR NO KEY UPDATE SKIP
-- LOCKED of row 1).  Locking a row needs UPDATE on the table, which no role
-- is granted: unlike an advisory lock, no login can take it to pause the
-- market.
CREATE TABLE lagbid.tick_state (
    id          integer PRIMARY KEY CHECK (id = 1),
    last_run_at timestamptz,
    last_result jsonb
);
INSERT INTO lagbid.tick_state (id) VALUES (1);
COMMENT ON TABLE lagbid.tick_state IS
    'one row, the lock of lagbid.tick() (one tick at a time) and what the last completed tick did (market clock)';

-- One row per tick that found the lock taken, since the last completed tick
-- (which deletes them): plain inserts, so a skipped tick never waits.
CREATE TABLE lagbid.tick_skip (
    at  timestamptz NOT NULL
);
COMMENT ON TABLE lagbid.tick_skip IS
    'ticks skipped because another transaction held the tick lock, since the last completed tick (market clock)';

-- A row (task or space) whose action failed in the tick: rolled back alone,
-- left alone until next_retry_at (1, 2, 4 ... minutes, at most a day),
-- deleted once the tick handles it.
CREATE TABLE lagbid.tick_failure (
    entity          text NOT NULL CHECK (entity IN ('task', 'space')),
    entity_id       bigint NOT NULL,
    action          text NOT NULL,
    failures        integer NOT NULL CHECK (failures >= 1),
    sqlstate        text NOT NULL,
    error           text NOT NULL,
    first_failed_at timestamptz NOT NULL,
    last_failed_at  timestamptz NOT NULL,
    next_retry_at   timestamptz NOT NULL,
    PRIMARY KEY (entity, entity_id)
);
COMMENT ON TABLE lagbid.tick_failure IS
    'tasks and spaces whose tick action failed: the last error, how often, and when the tick tries again (market clock)';

-- The live tasks each owner published with publish_task (not from spaces),
-- for lagbid.max_open_tasks_per_owner (src/market_limits.c): raised by
-- publish_task, lowered when such a task completes, fails or is cancelled.
CREATE TABLE lagbid.owner_load (
    owner       text PRIMARY KEY,
    live_tasks  integer NOT NULL DEFAULT 0
);
COMMENT ON TABLE lagbid.owner_load IS
    'per owner: live tasks (created, accepting_bids, bid_closed, processing) published with publish_task, capped by lagbid.max_open_tasks_per_owner';

-- the fair work lists of the tick: per owner, earliest first (tick.c)
CREATE INDEX task_owner_bidding_deadline ON lagbid.task (owner, bidding_deadline, id)
    WHERE state = 'accepting_bids';
CREATE INDEX task_owner_processing_deadline ON lagbid.task (owner, processing_deadline, id)
    WHERE state = 'processing';
CREATE INDEX space_owner_reserved_until ON lagbid.space (owner, reserved_until, id)
    WHERE state = 'active';
CREATE INDEX space_owner_changed ON lagbid.space (owner, id)
    WHERE changed AND state = 'active';

CREATE VIEW lagbid.tick_status AS
SELECT s.last_run_at,
       s.last_result,
       k.consecutive_skips,
       k.first_skip_at,
       k.last_skip_at,
       f.failing_rows,
       f.oldest_failure_at
  FROM (SELECT count(*)::int AS consecutive_skips, min(at) AS first_skip_at, max(at) AS last_skip_at
          FROM lagbid.tick_skip) AS k
  CROSS JOIN (SELECT count(*)::int AS failing_rows, min(first_failed_at) AS oldest_failure_at
                FROM lagbid.tick_failure) AS f
  LEFT JOIN lagbid.tick_state s ON s.id = 1;
COMMENT ON VIEW lagbid.tick_status IS
    'one row: when the last tick completed and what it did, how many ticks were skipped since (another transaction held the tick lock), and how many rows the tick could not handle';

CREATE VIEW lagbid.tick_failures AS
SELECT f.entity, f.entity_id, coalesce(t.owner, s.owner) AS owner, f.action, f.failures,
       f.sqlstate, f.error, f.first_failed_at, f.last_failed_at, f.next_retry_at
  FROM lagbid.tick_failure f
  LEFT JOIN lagbid.task t ON f.entity = 'task' AND t.id = f.entity_id
  LEFT JOIN lagbid.space s ON f.entity = 'space' AND s.id = f.entity_id;
COMMENT ON VIEW lagbid.tick_failures IS
    'tasks and spaces whose tick action failed (rolled back alone): the owner, the last error and its SQLSTATE, how many failures, and when the tick tries again';

-- nobody but the extension's owner writes or locks; the platform reads
REVOKE ALL ON lagbid.tick_state, lagbid.tick_skip, lagbid.tick_failure, lagbid.owner_load,
    lagbid.tick_status, lagbid.tick_failures FROM PUBLIC;
GRANT SELECT ON lagbid.tick_state, lagbid.tick_skip, lagbid.tick_failure, lagbid.owner_load,
    lagbid.tick_status, lagbid.tick_failures TO lagbid_platform;
ALTER TABLE lagbid.tick_state ENABLE ROW LEVEL SECURITY;
ALTER TABLE lagbid.tick_skip ENABLE ROW LEVEL SECURITY;
ALTER TABLE lagbid.tick_failure ENABLE ROW LEVEL SECURITY;
ALTER TABLE lagbid.owner_load ENABLE ROW LEVEL SECURITY;
CREATE POLICY platform_reads ON lagbid.tick_state FOR SELECT TO lagbid_platform USING (true);
CREATE POLICY platform_reads ON lagbid.tick_skip FOR SELECT TO lagbid_platform USING (true);
CREATE POLICY platform_reads ON lagbid.tick_failure FOR SELECT TO lagbid_platform USING (true);
CREATE POLICY platform_reads ON lagbid.owner_load FOR SELECT TO lagbid_platform USING (true);

-- the counts are market data: a dump and restore keeps them with the tasks
SELECT pg_catalog.pg_extension_config_dump('lagbid.owner_load', '');

-- ---------------------------------------------------------------------------
-- Backups: the market's rows are data, not extension definition.  Marking
-- the tables (and their identity sequences) makes pg_dump include their
-- contents, so that a dump and restore brings the market back whole.
-- ---------------------------------------------------------------------------

DO $$
DECLARE
    t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['account', 'ledger_tx', 'ledger_entry', 'provider', 'space', 'task',
                             'bid', 'job', 'event', 'notification'] LOOP
        PERFORM pg_catalog.pg_extension_config_dump(pg_catalog.format('lagbid.%I', t)::regclass, '');
        PERFORM pg_catalog.pg_extension_config_dump(
            pg_catalog.pg_get_serial_sequence(pg_catalog.format('lagbid.%I', t), 'id')::regclass, '');
    END LOOP;
END $$;

