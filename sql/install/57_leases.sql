-- ---------------------------------------------------------------------------
-- 0.4: service spaces (issue 21, docs/0.4/spaces.md), their schema.  A
-- space or task of kind 'service' runs an app; its job has a lease
-- (src/leases.c) that is probed window by window (src/probes.c) and paid per
-- settled window (src/settlement.c).  The functions: 88_leases.sql.
-- ---------------------------------------------------------------------------

CREATE DOMAIN lagbid.work_kind AS text CHECK (VALUE IN ('batch', 'service'));
COMMENT ON DOMAIN lagbid.work_kind IS
    'batch: a job that prints a result (elected); service: a running app behind a lease, paid per probe window';

ALTER TABLE lagbid.space ADD COLUMN kind lagbid.work_kind NOT NULL DEFAULT 'batch';
COMMENT ON COLUMN lagbid.space.kind IS 'batch or service; the space''s tasks copy it';
ALTER TABLE lagbid.task ADD COLUMN kind lagbid.work_kind NOT NULL DEFAULT 'batch';
COMMENT ON COLUMN lagbid.task.kind IS 'batch (elected result) or service (its job is a lease; no election)';
ALTER TABLE lagbid.provider ADD COLUMN probes_missed bigint NOT NULL DEFAULT 0;
COMMENT ON COLUMN lagbid.provider.probes_missed IS
    'probe assignments of service leases this provider did not report before the window closed (counted against the prober, never the lease)';

-- leases join the event log
ALTER TABLE lagbid.event DROP CONSTRAINT event_entity_check;
ALTER TABLE lagbid.event ADD CONSTRAINT event_entity_check
    CHECK (entity IN ('task', 'bid', 'job', 'lease'));

CREATE TYPE lagbid.lease_state AS ENUM (
    'starting', 'ready', 'degraded', 'unstable', 'expired', 'failed', 'torn_down');
COMMENT ON TYPE lagbid.lease_state IS
    'life cycle of a service job''s lease; allowed transitions: lagbid.transitions() (machine lease)';

CREATE TABLE lagbid.lease (
    id                  bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    job_id              bigint NOT NULL UNIQUE REFERENCES lagbid.job (id),
    task_id             bigint NOT NULL REFERENCES lagbid.task (id),
    space_id            bigint REFERENCES lagbid.space (id),
    provider_id         bigint NOT NULL REFERENCES lagbid.provider (id),
    owner               text NOT NULL,
    name                text NOT NULL UNIQUE,
    state               lagbid.lease_state NOT NULL DEFAULT 'starting',
    endpoint            text,
    reserved_until      timestamptz NOT NULL,
    started_at          timestamptz NOT NULL,
    startup_deadline    timestamptz NOT NULL,
    ready_at            timestamptz,
    window_s            integer NOT NULL CHECK (window_s >= 10),
    price               numeric NOT NULL,
    price_max           numeric NOT NULL,
    down_streak         integer NOT NULL DEFAULT 0,
    windows_up          integer NOT NULL DEFAULT 0,
    windows_down        integer NOT NULL DEFAULT 0,
    windows_unprobed    integer NOT NULL DEFAULT 0,
    taken               numeric NOT NULL,
    paid                numeric NOT NULL DEFAULT 0,
    refunded            numeric NOT NULL DEFAULT 0,
    returned            numeric NOT NULL DEFAULT 0,
    settled_until       timestamptz,
    probes_until        timestamptz,
    near_expiry_told    boolean NOT NULL DEFAULT false,
    reason              text,
    ended_at            timestamptz,
    torn_down_at        timestamptz,
    due_at              timestamptz
);
COMMENT ON TABLE lagbid.lease IS
    'one row per job of a service task: its deterministic name, endpoint, state, windows and money (paid + refunded + returned = taken)';
COMMENT ON COLUMN lagbid.lease.name IS
    'first 16 characters of the lower-case base32 (no padding) of sha256(<market> || '':'' || job_id); <market> as in registration challenges';
COMMENT ON COLUMN lagbid.lease.taken IS 'what the lease took from the task''s escrow: price_max x hours, plus extensions';
COMMENT ON COLUMN lagbid.lease.returned IS 'what went back to the task''s funding account when the lease ended (unused time, unstable rest)';
COMMENT ON COLUMN lagbid.lease.settled_until IS 'end of the last settled window (windows start at ready_at + k x window_s)';
COMMENT ON COLUMN lagbid.lease.due_at IS 'when the tick next looks at the lease (a window closes, reserved_until, startup timeout, teardown grace); NULL once torn down';
CREATE INDEX lease_task ON lagbid.lease (task_id);
CREATE INDEX lease_space ON lagbid.lease (space_id, id) WHERE space_id IS NOT NULL;
CREATE INDEX lease_provider ON lagbid.lease (provider_id, id);
-- the tick's work list (a fair list over owners: tick.c)
CREATE INDEX lease_due ON lagbid.lease (owner, due_at, id) WHERE due_at IS NOT NULL;

CREATE TRIGGER lease_born BEFORE INSERT ON lagbid.lease
    FOR EACH ROW EXECUTE FUNCTION lagbid.guard_transition('lease');
CREATE TRIGGER lease_transition BEFORE UPDATE OF state ON lagbid.lease
    FOR EACH ROW WHEN (OLD.state IS DISTINCT FROM NEW.state)
    EXECUTE FUNCTION lagbid.guard_transition('lease');

CREATE TABLE lagbid.probe (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    lease_id        bigint NOT NULL REFERENCES lagbid.lease (id),
    window_start    timestamptz NOT NULL,
    window_end      timestamptz NOT NULL,
    prober_kind     lagbid.holder_kind NOT NULL,
    prober          text NOT NULL,
    provider_id     bigint REFERENCES lagbid.provider (id),
    nonce           text NOT NULL CHECK (nonce ~ '^[0-9a-f]{32}$'),
    assigned_at     timestamptz NOT NULL,
    reported_at     timestamptz,
    ok              boolean,
    http_status     integer,
    latency_ms      numeric,
    signature       text
);
COMMENT ON TABLE lagbid.probe IS
    'one probe assignment of a lease window: to a provider (by the tick) or to the owner (probe_my_lease), with its nonce and, once reported, its result';
CREATE INDEX probe_window ON lagbid.probe (lease_id, window_start);
CREATE INDEX probe_pending ON lagbid.probe (prober_kind, prober, id) WHERE reported_at IS NULL;

CREATE TABLE lagbid.lease_window (
    lease_id        bigint NOT NULL REFERENCES lagbid.lease (id),
    window_start    timestamptz NOT NULL,
    window_end      timestamptz NOT NULL,
    outcome         text NOT NULL CHECK (outcome IN ('up', 'down', 'unprobed')),
    paid            numeric NOT NULL,
    refunded        numeric NOT NULL,
    probers         integer NOT NULL,
    reported        integer NOT NULL,
    settled_at      timestamptz NOT NULL,
    misses_counted  boolean NOT NULL DEFAULT false,
    PRIMARY KEY (lease_id, window_start)
);
COMMENT ON TABLE lagbid.lease_window IS 'each settled window of a lease, once: its outcome and money';
COMMENT ON COLUMN lagbid.lease_window.misses_counted IS
    'its silent probers were counted in lagbid.provider.probes_missed (the tick counts them once per tick, for every window it settled)';
CREATE INDEX lease_window_misses ON lagbid.lease_window (lease_id) WHERE NOT misses_counted;

