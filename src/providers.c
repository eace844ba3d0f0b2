/*-------------------------------------------------------------------------
 *
 * providers.c
 *	  Computing providers: registration ("easy signup", idempotent on the
 *	  node id), the bidder's concurrency limit, suspension.
 *
 *	  lagbid.register_provider, lagbid.set_bid_limit, lagbid.set_provider_state.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/jsonb.h"

#include "lagbid.h"
#include "errors.h"
#include "market.h"
#include "identity/identity.h"

#define MAX_MULTIADDRS		32
#define MAX_CONCURRENT		100000
#define MAX_CHAIN_TEXT		128

/*
 * The upsert, shared by the three statements below: registering again
 * updates the addresses, region, resources and limit.
 */
#define REGISTER_INSERT \
	"INSERT INTO lagbid.provider AS p (node_id, multiaddrs, region, resources, cpu, " \
	"    memory_gb, storage_gb, gpu, gpu_count, max_concurrent, chain_id, chain_tx"
#define REGISTER_VALUES "$1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12"
#define REGISTER_UPDATE \
	"ON CONFLICT (node_id) DO UPDATE SET multiaddrs = excluded.multiaddrs, " \
	"    region = excluded.region, resources = excluded.resources, cpu = excluded.cpu, " \
	"    memory_gb = excluded.memory_gb, storage_gb = excluded.storage_gb, " \
	"    gpu = excluded.gpu, gpu_count = excluded.gpu_count, " \
	"    max_concurrent = excluded.max_concurrent, " \
	"    chain_id = coalesce(excluded.chain_id, p.chain_id), " \
	"    chain_tx = coalesce(excluded.chain_tx, p.chain_tx), updated_at = now()"
#define REGISTER_TYPES \
	TEXTOID, TEXTARRAYOID, TEXTOID, JSONBOID, NUMERICOID, NUMERICOID, NUMERICOID, \
	TEXTOID, INT4OID, INT4OID, TEXTOID, TEXTOID

/* an unsigned registration: the addresses are no longer proven */
static LagbidPlan register_plan = {
	REGISTER_INSERT ", verified) VALUES (" REGISTER_VALUES ", false) "
	REGISTER_UPDATE ", verified = false RETURNING id",
	12, {REGISTER_TYPES}
};

/*
 * A signed registration, checked against sequence $13: a concurrent signed
 * registration that used it first makes this one update nothing.
 */
static LagbidPlan register_signed_plan = {
	REGISTER_INSERT ", verified, registration_seq) VALUES (" REGISTER_VALUES ", true, 1) "
	REGISTER_UPDATE ", verified = true, registration_seq = p.registration_seq + 1 "
	"WHERE p.registration_seq = $13 RETURNING id",
	13, {REGISTER_TYPES, INT8OID}
};

/* the 0.2 definition of register_provider, before ALTER EXTENSION UPDATE */
static LagbidPlan register_0_2_plan = {
	REGISTER_INSERT ") VALUES (" REGISTER_VALUES ") " REGISTER_UPDATE " RETURNING id",
	12, {REGISTER_TYPES}
};

static void
check_limit(int32 max_concurrent)
{
	if (max_concurrent < 1 || max_concurrent > MAX_CONCURRENT)
		lagbid_raise(LB_INVALID_ARGUMENT, NULL,
					 "max_concurrent is how many bids the provider processes at once.",
					 "max_concurrent must be between 1 and %d, not %d",
					 MAX_CONCURRENT, max_concurrent);
}

static char *
optional_text(FunctionCallInfo fcinfo, int n, const char *name)
{
	char	   *s;

	if (PG_NARGS() <= n || PG_ARGISNULL(n))
		return NULL;
	s = lagbid_text_to_cstring_limited(PG_GETARG_TEXT_PP(n), MAX_CHAIN_TEXT, name);
	lagbid_check_name(s, name);
	return s;
}

char	  **
lagbid_parse_multiaddrs(ArrayType *addrs, const char *node_id, int *naddrs)
{
	Datum	   *elems;
	bool	   *enulls;
	char	  **out;
	int			i;

	if (addrs == NULL)
		lagbid_raise(LB_INVALID_MULTIADDR, NULL,
					 "Give at least one address the platform can reach the provider at.",
					 "multiaddrs must not be NULL");
	if (ARR_NDIM(addrs) > 1)
		lagbid_raise(LB_INVALID_MULTIADDR, NULL, NULL, "multiaddrs must be a one-dimensional array");
	if (ArrayGetNItems(ARR_NDIM(addrs), ARR_DIMS(addrs)) > MAX_MULTIADDRS)
		lagbid_raise(LB_INPUT_TOO_LARGE, NULL, NULL,
					 "multiaddrs holds more than %d addresses", MAX_MULTIADDRS);
	deconstruct_array(addrs, TEXTOID, -1, false, TYPALIGN_INT, &elems, &enulls, naddrs);
	if (*naddrs == 0)
		lagbid_raise(LB_INVALID_MULTIADDR, NULL,
					 "Give at least one address the platform can reach the provider at.",
					 "multiaddrs must not be empty");
	out = palloc(sizeof(char *) * *naddrs);
	for (i = 0; i < *naddrs; i++)
	{
		if (enulls[i])
			lagbid_raise(LB_INVALID_MULTIADDR, NULL, NULL, "multiaddrs must not contain NULL");
		out[i] = lagbid_text_to_cstring_limited(DatumGetTextPP(elems[i]), LB_MULTIADDR_MAX_LEN, "a multiaddr");
		lagbid_check_multiaddr(out[i], node_id);
	}
	return out;
}

PG_FUNCTION_INFO_V1(lagbid_register_provider);

/*
 * lagbid.register_provider(node_id text, multiaddrs text[], region text,
 *     resources jsonb, max_concurrent int DEFAULT 1, chain_id text DEFAULT
 *     NULL, chain_tx text DEFAULT NULL, signature bytea DEFAULT NULL)
 *     RETURNS bigint
 *
 * With a signature (registration.c) the provider is marked verified and its
 * registration_seq moves on; without one it is not verified (refused with
 * LB109 under lagbid.require_signed_registration).
 */
Datum
lagbid_register_provider(PG_FUNCTION_ARGS)
{
	char	   *node_id;
	char	   *region;
	ArrayType  *addrs;
	char	  **addr_texts;
	int			naddrs;
	bytea	   *signature = NULL;
	int64		seq = 0;
	LagbidPlan *plan;
	Jsonb	   *resources;
	LagbidResources res;
	int32		max_concurrent;
	char	   *chain_id,
			   *chain_tx;
	Datum		values[13];
	char		nulls[13];
	int64		id;

	if (PG_ARGISNULL(0))
		lagbid_raise(LB_INVALID_NODE_ID, NULL, NULL, "node_id must not be NULL");
	node_id = lagbid_text_to_cstring_limited(PG_GETARG_TEXT_PP(0), LB_PEERID_MAX_LEN, "node_id");
	lagbid_check_node_id(node_id, "node_id");
	/* a small-order or non-canonical key proves nothing, signed or not (LB010) */
	lagbid_check_node_key(node_id);

	addrs = PG_ARGISNULL(1) ? NULL : PG_GETARG_ARRAYTYPE_P(1);
	addr_texts = lagbid_parse_multiaddrs(addrs, node_id, &naddrs);

	if (PG_ARGISNULL(2))
		lagbid_raise(LB_INVALID_REGION, NULL, NULL, "region must not be NULL");
	region = lagbid_text_to_cstring_limited(PG_GETARG_TEXT_PP(2), 64, "region");
	lagbid_check_region(region, false);

	if (PG_ARGISNULL(3))
		lagbid_raise(LB_INVALID_RESOURCES, NULL,
					 "Pass '{}' for a provider that announces nothing.",
					 "resources must not be NULL");
	resources = PG_GETARG_JSONB_P(3);
	lagbid_parse_resources(resources, "provider resources", &res);

	max_concurrent = PG_ARGISNULL(4) ? 1 : PG_GETARG_INT32(4);
	check_limit(max_concurrent);
	chain_id = optional_text(fcinfo, 5, "chain_id");
	chain_tx = optional_text(fcinfo, 6, "chain_tx");
	if (PG_NARGS() > 7 && !PG_ARGISNULL(7))
		signature = PG_GETARG_BYTEA_PP(7);

	if (signature)
	{
		seq = lagbid_registration_seq(node_id);
		lagbid_verify_registration(node_id, addr_texts, naddrs, seq, signature);
		plan = &register_signed_plan;
	}
	else if (lagbid_require_signed_registration)
		lagbid_raise(LB_SIGNATURE_REQUIRED, NULL,
					 "Sign lagbid.registration_challenge(node_id, multiaddrs) with the node's ed25519 key and pass it as signature.",
					 "registration of node \"%s\" must be signed (lagbid.require_signed_registration)",
					 node_id);
	else
		plan = PG_NARGS() > 7 ? &register_plan : &register_0_2_plan;

	memset(nulls, ' ', sizeof(nulls));
	values[0] = CStringGetTextDatum(node_id);
	values[1] = PointerGetDatum(addrs);
	values[2] = CStringGetTextDatum(region);
	values[3] = JsonbPGetDatum(resources);
	values[4] = res.cpu;
	values[5] = res.memory_gb;
	values[6] = res.storage_gb;
	if (res.gpu)
		values[7] = CStringGetTextDatum(res.gpu);
	else
		nulls[7] = 'n';
	values[8] = Int32GetDatum(res.gpu_count);
	values[9] = Int32GetDatum(max_concurrent);
	if (chain_id)
		values[10] = CStringGetTextDatum(chain_id);
	else
		nulls[10] = 'n';
	if (chain_tx)
		values[11] = CStringGetTextDatum(chain_tx);
	else
		nulls[11] = 'n';
	values[12] = Int64GetDatum(seq);

	lagbid_connect();
	lagbid_exec(plan, values, nulls, false, 0);
	if (!lagbid_result_int64(1, &id))
	{
		if (signature)
			lagbid_raise(LB_INVALID_SIGNATURE, NULL,
						 "Request a new challenge and sign it again.",
						 "a concurrent signed registration of node \"%s\" used this challenge first",
						 node_id);
		elog(ERROR, "lagbid: provider not registered");
	}
	lagbid_finish();
	/* its provider account, where payments go */
	lagbid_account_id(ACCOUNT_PROVIDER, node_id, true);
	PG_RETURN_INT64(id);
}

static LagbidPlan limit_plan = {
	"UPDATE lagbid.provider SET max_concurrent = $2, updated_at = now() WHERE id = $1",
	2, {INT8OID, INT4OID}
};

PG_FUNCTION_INFO_V1(lagbid_set_bid_limit);

/*
 * lagbid.set_bid_limit(provider_id bigint, max_concurrent int) — lowering
 * below the slots in use is allowed: it only blocks new bids.
 */
Datum
lagbid_set_bid_limit(PG_FUNCTION_ARGS)
{
	Datum		args[2];

	if (PG_ARGISNULL(0))
		lagbid_raise(LB_INVALID_ARGUMENT, NULL, NULL, "provider_id must not be NULL");
	if (PG_ARGISNULL(1))
		lagbid_raise(LB_INVALID_ARGUMENT, NULL, NULL, "max_concurrent must not be NULL");
	check_limit(PG_GETARG_INT32(1));
	args[0] = PG_GETARG_DATUM(0);
	args[1] = PG_GETARG_DATUM(1);
	lagbid_connect();
	lagbid_exec(&limit_plan, args, NULL, false, 0);
	if (SPI_processed == 0)
		lagbid_raise(LB_PROVIDER_NOT_FOUND, NULL, NULL,
					 "provider %lld does not exist", (long long) PG_GETARG_INT64(0));
	lagbid_finish();
	PG_RETURN_VOID();
}

static LagbidPlan state_plan = {
	"UPDATE lagbid.provider SET state = $2::lagbid.provider_state, updated_at = now() WHERE id = $1",
	2, {INT8OID, TEXTOID}
};

PG_FUNCTION_INFO_V1(lagbid_set_provider_state);

/* lagbid.set_provider_state(provider_id bigint, state text) — 'active' or 'suspended' */
Datum
lagbid_set_provider_state(PG_FUNCTION_ARGS)
{
	Datum		args[2];
	char	   *state;

	if (PG_ARGISNULL(0))
		lagbid_raise(LB_INVALID_ARGUMENT, NULL, NULL, "provider_id must not be NULL");
	if (PG_ARGISNULL(1))
		lagbid_raise(LB_INVALID_ARGUMENT, NULL, NULL, "state must not be NULL");
	state = lagbid_text_to_cstring_limited(PG_GETARG_TEXT_PP(1), 16, "state");
	if (strcmp(state, "active") != 0 && strcmp(state, "suspended") != 0)
		lagbid_raise(LB_INVALID_ARGUMENT, NULL, NULL,
					 "state must be \"active\" or \"suspended\"");
	args[0] = PG_GETARG_DATUM(0);
	args[1] = CStringGetTextDatum(state);
	lagbid_connect();
	lagbid_exec(&state_plan, args, NULL, false, 0);
	if (SPI_processed == 0)
		lagbid_raise(LB_PROVIDER_NOT_FOUND, NULL, NULL,
					 "provider %lld does not exist", (long long) PG_GETARG_INT64(0));
	lagbid_finish();
	PG_RETURN_VOID();
}
