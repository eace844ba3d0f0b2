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
