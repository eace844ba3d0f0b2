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
    auto_allocate boolean DEFAULT true, open boolean DEFAULT true, workload jsonb DEFAULT NULL,
    collateral_ratio numeric DEFAULT NULL, min_reputation numeric DEFAULT NULL, allocation text DEFAULT NULL,
    kind text DEFAULT 'batch')
    RETURNS bigint
    LANGUAGE c VOLATILE
    AS 'MODULE_PATHNAME', 'lagbid_publish_task';
COMMENT ON FUNCTION lagbid.publish_task(text, jsonb, numeric, numeric, numeric, text, integer, integer, interval, boolean, boolean, jsonb, numeric, numeric, text, text) IS
    'publishes a task (with the workload it runs, validated): escrows price_max x duration_hours x replicas from the owner''s balance and opens bidding (unless open => false), telling providers on channel lagbid_tasks; each bid locks collateral_ratio x ask x duration_hours as its bond (NULL: lagbid.default_collateral_ratio), only providers scoring min_reputation may bid, allocation is lowest_ask (default) or reliability; kind service runs the workload''s app behind a lease paid per probe window (replicas 1); returns the task id';

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
    'elects the leading node: a result hash needs a strict majority of replicas, a computed hash (upload_result) always outweighs a claimed one (submit_result); completes the task, pays ask x duration_hours per agreeing job and refunds the rest; returns the leader job id, or NULL: the task failed (no valid result, no_consensus) or, with no majority, gathers extra replicas (docs/0.4/election.md)';
