/*-------------------------------------------------------------------------
 *
 * probes.c
 *	  Probes of live leases (issue 21): who probes which window, and what
 *	  a probe report must prove.
 *
 *	  For each window of a ready or degraded lease the tick assigns up to
 *	  lagbid.probers_per_window probers: active registered providers other
 *	  than the lease's own, at random, distinct hosts first; each gets
 *	  its own nonce (16 bytes of pg_strong_random, as 32 hex digits) and a
 *	  probe_assigned notification.  The owner may add a probe of its own
 *	  (probe_my_lease).  A prober GETs the endpoint with X-Lagbid-Probe:
 *	  <nonce>; the provider's front proxy answers with the app's status and
 *	  an Ed25519 signature, by the node's key, of probe_message(lease,
 *	  nonce, status).  A success (ok = true) is accepted only with that
 *	  signature: it proves the probe reached that provider's proxy.  A
 *	  failure needs none.  Each assignment is reported once, by its prober,
 *	  before its window has closed and been settled.
 *
 *	  lagbid.probe_message, lagbid.report_probe, lagbid.probe_my_lease.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "common/pg_prng.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "funcapi.h"
#include "lib/stringinfo.h"
#include "utils/array.h"
#include "utils/memutils.h"
#include "utils/builtins.h"
#include "utils/timestamp.h"

#include "lagbid.h"
#include "errors.h"
#include "leases.h"
#include "market.h"
#include "states.h"
#include "rules/workload_rules.h"

#define NONCE_BYTES		16

static char *
make_nonce(void)
{
	uint8		raw[NONCE_BYTES];
	char	   *hex = palloc(NONCE_BYTES * 2 + 1);
	int			i;

	if (!pg_strong_random(raw, sizeof(raw)))
		elog(ERROR, "lagbid: could not generate a random nonce");
	for (i = 0; i < NONCE_BYTES; i++)
		sprintf(hex + 2 * i, "%02x", raw[i]);
	return hex;
}

/*
 * The candidate probers: active providers, each with the host of its first
 * registered address.  Providers whose first address has the same host
 * count as one operator (a login is bound to one node only, so logins
 * cannot tell operators apart; a host can), so that no operator holds two
 * of a window's probes while another operator has none.  Read once per
 * tick (lagbid_probers_begin) and kept in the tick's memory; outside a
 * tick, once per call.
 */
typedef struct Candidate
{
	int64		id;
	char	   *node_id;
	char	   *host;
} Candidate;

static Candidate *candidates = NULL;
static int	ncandidates = 0;
static bool in_round = false;
static int64 round_first_probe = 0;

static LagbidPlan candidates_plan = {
	"SELECT p.id, p.node_id, coalesce(substring(p.multiaddrs[1] FROM '^/[^/]+/([^/]+)'), p.node_id) "
	"FROM lagbid.provider p WHERE p.state = 'active' ORDER BY p.id",
	0, {InvalidOid}
};

static void
load_candidates(void)
{
	int			i;
	MemoryContext caller = CurrentMemoryContext;

	lagbid_connect();
	lagbid_exec(&candidates_plan, NULL, NULL, false, 0);
	ncandidates = SPI_processed;
	candidates = MemoryContextAlloc(caller, sizeof(Candidate) * (ncandidates + 1));
	for (i = 0; i < ncandidates; i++)
	{
		bool		isnull;

		candidates[i].id = DatumGetInt64(lagbid_result_datum(i, 1, &isnull));
		candidates[i].node_id = MemoryContextStrdup(caller,
													SPI_getvalue(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 2));
		candidates[i].host = MemoryContextStrdup(caller,
												 SPI_getvalue(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 3));
	}
	lagbid_finish();
}

static LagbidPlan max_probe_plan = {
	"SELECT coalesce(max(id), 0) FROM lagbid.probe",
	0, {InvalidOid}
};

void
lagbid_probers_begin(void)
{
	MemoryContext old = MemoryContextSwitchTo(TopTransactionContext);

	load_candidates();
	MemoryContextSwitchTo(old);
	lagbid_connect();
	lagbid_exec(&max_probe_plan, NULL, NULL, false, 1);
	if (!lagbid_result_int64(1, &round_first_probe))
		round_first_probe = 0;
	lagbid_finish();
	in_round = true;
}

/* the round's probes, grouped by prober: one notification each */
static LagbidPlan round_probes_plan = {
	"SELECT prober, jsonb_build_object('probe_ids', jsonb_agg(id ORDER BY id))::text "
	"FROM lagbid.probe WHERE id > $1 AND prober_kind = 'provider' GROUP BY prober ORDER BY prober",
	1, {INT8OID}
};

void
lagbid_probers_end(void)
{
	Datum		arg = Int64GetDatum(round_first_probe);
	int			i,
				n;
	char	  **probers;
	char	  **payloads;

	in_round = false;
	candidates = NULL;
	ncandidates = 0;
	lagbid_connect();
	lagbid_exec(&round_probes_plan, &arg, NULL, false, 0);
	n = SPI_processed;
	probers = palloc(sizeof(char *) * (n + 1));
	payloads = palloc(sizeof(char *) * (n + 1));
	for (i = 0; i < n; i++)
	{
		probers[i] = SPI_getvalue(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 1);
		payloads[i] = SPI_getvalue(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 2);
	}
	for (i = 0; i < n; i++)
		lagbid_notify(HOLDER_PROVIDER, probers[i], "probe_assigned", 0, 0, 0, payloads[i]);
	lagbid_finish();
}

static LagbidPlan assign_plan = {
	"INSERT INTO lagbid.probe (lease_id, window_start, window_end, prober_kind, prober, "
	"    provider_id, nonce, assigned_at) "
	"SELECT $1, $2, $3, 'provider', x.node, x.id, x.nonce, $4 "
	"FROM unnest($5::bigint[], $6::text[], $7::text[]) AS x(id, node, nonce) "
	"RETURNING id, prober",
	7, {INT8OID, TIMESTAMPTZOID, TIMESTAMPTZOID, TIMESTAMPTZOID, INT8ARRAYOID, TEXTARRAYOID, TEXTARRAYOID}
};

/*
 * Up to lagbid.probers_per_window candidates other than the lease's
 * provider, at random, a host not yet chosen first.
 */
static int
choose(int64 exclude, int want, int *chosen)
{
	int		   *order = palloc(sizeof(int) * (ncandidates + 1));
	int			n = 0,
				k = 0,
				i,
				j,
				pass;

	for (i = 0; i < ncandidates; i++)
		if (candidates[i].id != exclude)
			order[n++] = i;
	/* Fisher-Yates: a uniform random order */
	for (i = n - 1; i > 0; i--)
	{
		int			r = (int) pg_prng_uint64_range(&pg_global_prng_state, 0, i);
		int			t = order[i];

		order[i] = order[r];
		order[r] = t;
	}
	/* first pass: new hosts only; second: anybody left */
	for (pass = 0; pass < 2 && k < want; pass++)
		for (i = 0; i < n && k < want; i++)
		{
			bool		taken = false;

			if (order[i] < 0)
				continue;
			for (j = 0; j < k && pass == 0; j++)
				if (strcmp(candidates[chosen[j]].host, candidates[order[i]].host) == 0)
					taken = true;
			if (taken)
				continue;
			chosen[k++] = order[i];
			order[i] = -1;
		}
	pfree(order);
	return k;
}

int
lagbid_assign_probers(LagbidLease *l, TimestampTz ws, TimestampTz we, bool nowait)
{
	Datum		args[7];
	Datum		ids[3],
				nodes[3],
				nonces[3];
	int			chosen[3];
	int			i,
				n;
	bool		own_round = !in_round;

	if (own_round)
		load_candidates();
	n = choose(l->provider_id, Min(lagbid_probers_per_window, 3), chosen);
	if (n == 0)
		return 0;				/* nobody to probe: the window will be unprobed */
	for (i = 0; i < n; i++)
	{
		ids[i] = Int64GetDatum(candidates[chosen[i]].id);
		nodes[i] = CStringGetTextDatum(candidates[chosen[i]].node_id);
		nonces[i] = CStringGetTextDatum(make_nonce());
	}
	args[0] = Int64GetDatum(l->id);
	args[1] = TimestampTzGetDatum(ws);
	args[2] = TimestampTzGetDatum(we);
	args[3] = TimestampTzGetDatum(lagbid_clock_now());
	args[4] = PointerGetDatum(construct_array(ids, n, INT8OID, 8, FLOAT8PASSBYVAL, TYPALIGN_DOUBLE));
	args[5] = PointerGetDatum(construct_array(nodes, n, TEXTOID, -1, false, TYPALIGN_INT));
	args[6] = PointerGetDatum(construct_array(nonces, n, TEXTOID, -1, false, TYPALIGN_INT));
	lagbid_connect();
	lagbid_exec(&assign_plan, args, NULL, false, 0);
	/* outside a tick's round, each prober is told at once */
	if (own_round)
		for (i = 0; i < (int) SPI_processed; i++)
		{
			bool		isnull;
			int64		probe_id = DatumGetInt64(lagbid_result_datum(i, 1, &isnull));

			lagbid_notify(HOLDER_PROVIDER, SPI_getvalue(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 2),
						  "probe_assigned", 0, 0, 0,
						  psprintf("{\"probe_ids\": [%lld]}", (long long) probe_id));
		}
	lagbid_finish();
	return n;
}

static LagbidPlan assign_batch_plan = {
	"INSERT INTO lagbid.probe (lease_id, window_start, window_end, prober_kind, prober, "
	"    provider_id, nonce, assigned_at) "
	"SELECT x.lease, x.ws, x.we, 'provider', x.node, x.id, x.nonce, $1 "
	"FROM unnest($2::bigint[], $3::timestamptz[], $4::timestamptz[], $5::bigint[], $6::text[], "
	"            $7::text[]) AS x(lease, ws, we, id, node, nonce)",
	7, {TIMESTAMPTZOID, INT8ARRAYOID, TIMESTAMPTZARRAYOID, TIMESTAMPTZARRAYOID, INT8ARRAYOID,
	TEXTARRAYOID, TEXTARRAYOID}
};

/*
 * The tick's probers for many leases' windows at once (settle_batch.c):
 * each lease chosen for as lagbid_assign_probers does, all of them
 * inserted by one statement; inside the tick's round (its notifications
 * name the probes).
 */
int
lagbid_assign_probers_batch(int n, const int64 *lease_ids, const int64 *provider_ids,
							const TimestampTz *ws, const TimestampTz *we)
{
	int			want = Min(lagbid_probers_per_window, 3);
	int			cap = n * want + 1;
	Datum	   *leases = palloc(sizeof(Datum) * cap);
	Datum	   *starts = palloc(sizeof(Datum) * cap);
	Datum	   *ends = palloc(sizeof(Datum) * cap);
	Datum	   *ids = palloc(sizeof(Datum) * cap);
	Datum	   *nodes = palloc(sizeof(Datum) * cap);
	Datum	   *nonces = palloc(sizeof(Datum) * cap);
	Datum		args[7];
	int			k = 0,
				i,
				j;

	if (!in_round)
		elog(ERROR, "lagbid: a batch of probers is assigned inside the tick's round");
	for (i = 0; i < n; i++)
	{
		int			chosen[3];
		int			m = choose(provider_ids[i], want, chosen);

		for (j = 0; j < m; j++)
		{
			leases[k] = Int64GetDatum(lease_ids[i]);
			starts[k] = TimestampTzGetDatum(ws[i]);
			ends[k] = TimestampTzGetDatum(we[i]);
			ids[k] = Int64GetDatum(candidates[chosen[j]].id);
			nodes[k] = CStringGetTextDatum(candidates[chosen[j]].node_id);
			nonces[k] = CStringGetTextDatum(make_nonce());
			k++;
		}
	}
	if (k == 0)
		return 0;				/* nobody to probe: the windows will be unprobed */
	args[0] = TimestampTzGetDatum(lagbid_clock_now());
	args[1] = PointerGetDatum(construct_array(leases, k, INT8OID, 8, FLOAT8PASSBYVAL, TYPALIGN_DOUBLE));
	args[2] = PointerGetDatum(construct_array(starts, k, TIMESTAMPTZOID, 8, FLOAT8PASSBYVAL, TYPALIGN_DOUBLE));
	args[3] = PointerGetDatum(construct_array(ends, k, TIMESTAMPTZOID, 8, FLOAT8PASSBYVAL, TYPALIGN_DOUBLE));
	args[4] = PointerGetDatum(construct_array(ids, k, INT8OID, 8, FLOAT8PASSBYVAL, TYPALIGN_DOUBLE));
	args[5] = PointerGetDatum(construct_array(nodes, k, TEXTOID, -1, false, TYPALIGN_INT));
	args[6] = PointerGetDatum(construct_array(nonces, k, TEXTOID, -1, false, TYPALIGN_INT));
	lagbid_connect();
	lagbid_exec(&assign_batch_plan, args, NULL, false, 0);
	lagbid_finish();
	return k;
}

/* the exact bytes the provider's proxy signs */
static bytea *
probe_message(const char *lease_name, const char *nonce, int32 status)
{
	StringInfoData buf;

	initStringInfo(&buf);
	appendBinaryStringInfo(&buf, "xxxx", VARHDRSZ);
	appendStringInfo(&buf, "lagbid-probe-v1\nlease:%s\nnonce:%s\nstatus:%d\n",
					 lease_name, nonce, status);
	SET_VARSIZE(buf.data, buf.len);
	return (bytea *) buf.data;
}

PG_FUNCTION_INFO_V1(lagbid_probe_message);

/* lagbid.probe_message(lease_name text, nonce text, status integer) RETURNS bytea */
Datum
lagbid_probe_message(PG_FUNCTION_ARGS)
{
	char	   *name,
			   *nonce;

	if (PG_ARGISNULL(0) || PG_ARGISNULL(1) || PG_ARGISNULL(2))
		lagbid_raise(LB_INVALID_ARGUMENT, NULL, NULL,
					 "lease_name, nonce and status must not be NULL");
	name = lagbid_text_to_cstring_limited(PG_GETARG_TEXT_PP(0), 64, "lease_name");
	nonce = lagbid_text_to_cstring_limited(PG_GETARG_TEXT_PP(1), 64, "nonce");
	PG_RETURN_BYTEA_P(probe_message(name, nonce, PG_GETARG_INT32(2)));
}

/* the probe, its lease (share-locked: settlement waits) and whether its window is open */
static LagbidPlan probe_plan = {
	"SELECT pr.lease_id, pr.window_start, pr.window_end, pr.nonce, pr.reported_at IS NOT NULL, "
	"       l.name, p.node_id, l.settled_until, l.state::text "
	"FROM lagbid.probe pr JOIN lagbid.lease l ON l.id = pr.lease_id "
	"     JOIN lagbid.provider p ON p.id = l.provider_id "
	"WHERE pr.id = $1 FOR SHARE OF l",
	1, {INT8OID}
};

static LagbidPlan report_plan = {
	"UPDATE lagbid.probe SET ok = $2, http_status = $3, latency_ms = $4, signature = $5, "
	"       reported_at = $6 "
	"WHERE id = $1 AND reported_at IS NULL",
	6, {INT8OID, BOOLOID, INT4OID, NUMERICOID, TEXTOID, TIMESTAMPTZOID}
};

PG_FUNCTION_INFO_V1(lagbid_report_probe);

/*
 * lagbid.report_probe(probe_id bigint, ok boolean, http_status integer,
 *     latency_ms numeric, signature text) RETURNS void
 */
Datum
lagbid_report_probe(PG_FUNCTION_ARGS)
{
	int64		probe_id;
	bool		ok;
	int32		status = 0;
	Datum		args[6];
	char		nulls[6] = {' ', ' ', ' ', ' ', ' ', ' '};
	TimestampTz now = lagbid_clock_now();
	TimestampTz ws,
				we,
				settled;
	char	   *nonce,
			   *name,
			   *node;
	bool		reported,
				isnull;
	char	   *sig = NULL;

	if (PG_ARGISNULL(0) || PG_ARGISNULL(1))
		lagbid_raise(LB_INVALID_ARGUMENT, NULL, NULL, "probe_id and ok must not be NULL");
	probe_id = PG_GETARG_INT64(0);
	ok = PG_GETARG_BOOL(1);
	if (!PG_ARGISNULL(2))
	{
		status = PG_GETARG_INT32(2);
		if (status < 100 || status > 599)
			lagbid_raise(LB_INVALID_ARGUMENT, NULL, NULL,
						 "http_status must be from 100 to 599, not %d", status);
	}
	else if (ok)
		lagbid_raise(LB_INVALID_ARGUMENT, NULL, NULL, "a successful probe needs its http_status");
	if (!PG_ARGISNULL(3))
		lagbid_check_numeric(PG_GETARG_DATUM(3), false, "latency_ms", true);
	if (!PG_ARGISNULL(4))
		sig = lagbid_text_to_cstring_limited(PG_GETARG_TEXT_PP(4), 128, "signature");

	args[0] = Int64GetDatum(probe_id);
	lagbid_connect();
	lagbid_exec(&probe_plan, args, NULL, false, 1);
	if (SPI_processed == 0)
		lagbid_raise(LB_PROBE_NOT_FOUND, NULL, NULL, "probe %lld does not exist", (long long) probe_id);
	ws = DatumGetTimestampTz(lagbid_result_datum(0, 2, &isnull));
	we = DatumGetTimestampTz(lagbid_result_datum(0, 3, &isnull));
	nonce = pstrdup(SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 4));
	reported = DatumGetBool(lagbid_result_datum(0, 5, &isnull));
	name = pstrdup(SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 6));
	node = pstrdup(SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 7));
	settled = DatumGetTimestampTz(lagbid_result_datum(0, 8, &isnull));
	if (isnull)
		settled = 0;

	if (reported)
		lagbid_raise(LB_PROBE_REPORTED, NULL, NULL,
					 "probe %lld was reported already", (long long) probe_id);
	if (settled > ws || now >= we)
		lagbid_raise(LB_PROBE_CLOSED, NULL, "Report a probe within its window.",
					 "the window of probe %lld closed at %s", (long long) probe_id,
					 timestamptz_to_str(we));
	if (ok)
	{
		unsigned char raw[64 + 3];
		long		n = -1;
		bytea	   *msg;

		if (sig != NULL && strlen(sig) == 88 &&
			lagbid_wl_base64_rule(sig, strlen(sig), NULL) == NULL)
			n = lagbid_wl_base64_decode(sig, strlen(sig), raw, sizeof(raw));
		msg = probe_message(name, nonce, status);
		if (n != 64 ||
			!lagbid_node_signed(node, (unsigned char *) VARDATA(msg), VARSIZE(msg) - VARHDRSZ,
								raw, (size_t) n))
			lagbid_raise(LB_PROBE_UNSIGNED,
						 "The front proxy signs \"lagbid-probe-v1\\nlease:<name>\\nnonce:<nonce>\\nstatus:<status>\\n\" "
						 "with the node's key (header X-Lagbid-Probe-Signature, base64).",
						 "Report ok => false when the answer carried no valid signature.",
						 "probe %lld reports success without the signature of lease %s's provider",
						 (long long) probe_id, name);
	}

	args[1] = BoolGetDatum(ok);
	args[2] = Int32GetDatum(status);
	nulls[2] = PG_ARGISNULL(2) ? 'n' : ' ';
	args[3] = PG_ARGISNULL(3) ? (Datum) 0 : PG_GETARG_DATUM(3);
	nulls[3] = PG_ARGISNULL(3) ? 'n' : ' ';
	args[4] = sig ? CStringGetTextDatum(sig) : (Datum) 0;
	nulls[4] = sig ? ' ' : 'n';
	args[5] = TimestampTzGetDatum(now);
	lagbid_exec(&report_plan, args, nulls, false, 0);
	if (SPI_processed != 1)
		lagbid_raise(LB_PROBE_REPORTED, NULL, NULL,
					 "probe %lld was reported already", (long long) probe_id);
	lagbid_finish();
	PG_RETURN_VOID();
}

static LagbidPlan space_lease_plan = {
	"SELECT l.id FROM lagbid.lease l WHERE l.space_id = $1 AND l.state IN ('ready', 'degraded') "
	"ORDER BY l.id DESC LIMIT 1",
	1, {INT8OID}
};

static LagbidPlan owner_probe_plan = {
	"INSERT INTO lagbid.probe (lease_id, window_start, window_end, prober_kind, prober, "
	"    nonce, assigned_at) "
	"SELECT l.id, l.settled_until, least(l.settled_until + make_interval(secs => l.window_s), "
	"       l.reserved_until), 'owner', l.owner, $2, $3 "
	"FROM lagbid.lease l WHERE l.id = $1 "
	"RETURNING id, (SELECT endpoint FROM lagbid.lease WHERE id = $1), nonce",
	3, {INT8OID, TEXTOID, TIMESTAMPTZOID}
};

PG_FUNCTION_INFO_V1(lagbid_probe_my_lease);

/*
 * lagbid.probe_my_lease(space_id bigint) RETURNS TABLE (probe_id bigint,
 * endpoint text, nonce text) — a probe of the space's live lease by its
 * owner, in the current window; the owner reports it with report_probe.
 */
Datum
lagbid_probe_my_lease(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	int64		space_id;
	int64		lease_id = 0;
	LagbidLease l;
	Datum		args[3];
	Datum		values[3];
	bool		nulls[3] = {false, false, false};
	bool		isnull;

	if (PG_ARGISNULL(0))
		lagbid_raise(LB_INVALID_ARGUMENT, NULL, NULL, "space_id must not be NULL");
	space_id = PG_GETARG_INT64(0);
	InitMaterializedSRF(fcinfo, MAT_SRF_USE_EXPECTED_DESC);

	args[0] = Int64GetDatum(space_id);
	lagbid_connect();
	lagbid_exec(&space_lease_plan, args, NULL, false, 1);
	if (!lagbid_result_int64(1, &lease_id))
		lease_id = 0;
	lagbid_finish();
	if (lease_id == 0)
		lagbid_raise(LB_NO_LIVE_LEASE, NULL, "lagbid_api.space_status() shows its leases.",
					 "space %lld has no ready or degraded lease", (long long) space_id);
	lagbid_lock_lease(lease_id, false, &l);
	if (l.state != LEASE_READY && l.state != LEASE_DEGRADED)
		lagbid_raise(LB_NO_LIVE_LEASE, NULL, NULL,
					 "space %lld has no ready or degraded lease", (long long) space_id);

	args[0] = Int64GetDatum(lease_id);
	args[1] = CStringGetTextDatum(make_nonce());
	args[2] = TimestampTzGetDatum(lagbid_clock_now());
	lagbid_connect();
	lagbid_exec(&owner_probe_plan, args, NULL, false, 1);
	values[0] = lagbid_result_datum(0, 1, &isnull);
	values[1] = lagbid_result_datum(0, 2, &nulls[1]);
	values[2] = lagbid_result_datum(0, 3, &isnull);
	tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	lagbid_finish();
	return (Datum) 0;
}
