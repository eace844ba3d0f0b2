/*-------------------------------------------------------------------------
 *
 * errors.c
 *	  The table of lagbid's refusals (SQLSTATE, HTTP status through
 *	  PostgREST, name, meaning), the function that raises them, and
 *	  lagbid.error_codes() which returns the table.
 *
 * SQLSTATEs are in class "LB" (implementation-defined: a class starting with
 * a letter from I to Z is never used by the SQL standard or PostgreSQL).
 * PostgREST maps an unknown class to 400, so through the API lagbid raises
 * the PGRST form instead (see errors.h) and the status is exact.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "fmgr.h"
#include "funcapi.h"
#include "lib/stringinfo.h"
#include "utils/builtins.h"
#include "utils/json.h"

#include "lagbid.h"
#include "errors.h"

const LagbidErrorInfo lagbid_error_table[LB__COUNT] = {
	[LB_INVALID_ARGUMENT] = {"LB001", 400, "invalid_argument", "an argument is NULL, out of range, NaN or infinite"},
	[LB_INVALID_NODE_ID] = {"LB002", 400, "invalid_node_id", "not a libp2p peer id (base58btc multihash)"},
	[LB_INVALID_MULTIADDR] = {"LB003", 400, "invalid_multiaddr", "not a valid libp2p multiaddr, or its /p2p/ is another node"},
	[LB_INVALID_RESOURCES] = {"LB004", 400, "invalid_resources", "resources is not an object of cpu, memory_gb, storage_gb, gpu, gpu_count"},
	[LB_INVALID_REGION] = {"LB005", 400, "invalid_region", "region is not lower-case words joined by hyphens"},
	[LB_INVALID_PRICE_RANGE] = {"LB006", 400, "invalid_price_range", "price_min > price_max, or price_max above 10^12"},
	[LB_INPUT_TOO_LARGE] = {"LB007", 413, "input_too_large", "a string or array is longer than lagbid accepts"},
	[LB_BUDGET_TOO_SMALL] = {"LB008", 400, "budget_too_small", "the task's or space's budget is below lagbid.min_task_budget"},
	[LB_INVALID_WORKLOAD] = {"LB009", 400, "invalid_workload", "workload is not an object of command, env, inputs, timeout_s, output within the documented caps"},
	[LB_INVALID_NODE_KEY] = {"LB010", 400, "invalid_node_key", "the node id's Ed25519 public key is of small order or not canonically encoded (y >= p): no signature can prove it"},
	[LB_NO_IDENTITY] = {"LB101", 401, "no_identity", "the API call carries no usable identity (request.jwt.claims role/sub)"},
	[LB_NOT_TASK_OWNER] = {"LB102", 403, "not_task_owner", "only the task's owner may do this"},
	[LB_NOT_BIDDER] = {"LB103", 403, "not_bidder", "only the provider that placed the bid or holds the job may do this"},
	[LB_NOT_SPACE_OWNER] = {"LB104", 403, "not_space_owner", "only the space's owner may do this"},
	[LB_WRONG_ROLE] = {"LB105", 403, "wrong_role", "the caller's role (JWT role claim) may not make this call"},
	[LB_CLAIMS_NOT_TRUSTED] = {"LB106", 403, "claims_not_trusted", "request.jwt.claims set by a login that is not in lagbid.authenticators, or for another role than the current one"},
	[LB_LOGIN_ALREADY_BOUND] = {"LB107", 403, "login_already_bound", "the login is bound to another provider or owner"},
	[LB_INVALID_SIGNATURE] = {"LB108", 403, "invalid_signature", "the registration signature does not verify against the node id's key for the current challenge"},
	[LB_SIGNATURE_REQUIRED] = {"LB109", 403, "signature_required", "a signed registration is required (lagbid.require_signed_registration, or an unbound login signing up)"},
	[LB_WORKLOAD_NOT_OPEN] = {"LB322", 403, "workload_not_open", "the task's workload is read only by its owner and by providers it is open to (accepting bids, matching) or that hold a bid or job on it"},
	[LB_TASK_NOT_FOUND] = {"LB201", 404, "task_not_found", "no such task"},
	[LB_BID_NOT_FOUND] = {"LB202", 404, "bid_not_found", "no such bid"},
	[LB_JOB_NOT_FOUND] = {"LB203", 404, "job_not_found", "no such job"},
	[LB_PROVIDER_NOT_FOUND] = {"LB204", 404, "provider_not_found", "no such provider"},
	[LB_SPACE_NOT_FOUND] = {"LB205", 404, "space_not_found", "no such space"},
	[LB_RESULT_NOT_FOUND] = {"LB206", 404, "result_not_found", "the task has no stored result (no leader yet, result not uploaded, or purged)"},
	[LB_INVALID_TRANSITION] = {"LB301", 409, "invalid_transition", "the state machine does not allow this transition"},
	[LB_BIDDING_NOT_OPEN] = {"LB302", 409, "bidding_not_open", "the task is not accepting bids (closed, bid limit reached, or not yet open)"},
	[LB_PROVIDER_LIMIT_REACHED] = {"LB303", 409, "provider_limit_reached", "the provider holds max_concurrent slots already (market rule 1)"},
	[LB_PROVIDER_INACTIVE] = {"LB304", 409, "provider_inactive", "the provider is suspended"},
	[LB_DUPLICATE_BID] = {"LB305", 409, "duplicate_bid", "the provider already has a live bid on this task at another price (market rule 5)"},
	[LB_BID_NOT_OPEN] = {"LB306", 409, "bid_not_open", "the bid is no longer open"},
	[LB_BID_NOT_ON_TASK] = {"LB307", 409, "bid_not_on_task", "a bid given to allocate() is not an open bid on that task"},
	[LB_NO_BIDS_TO_ALLOCATE] = {"LB308", 409, "no_bids_to_allocate", "the task has no open bid to allocate"},
	[LB_TOO_MANY_BIDS_ALLOCATED] = {"LB309", 409, "too_many_bids_allocated", "more bids than the task's replicas"},
	[LB_JOB_NOT_ACTIVE] = {"LB310", 409, "job_not_active", "the job is not processing (or not submitted) any more"},
	[LB_NOT_READY_TO_FINALIZE] = {"LB311", 409, "not_ready_to_finalize", "some jobs are still processing and the deadline has not passed"},
	[LB_DEPOSIT_REFERENCE_REUSED] = {"LB312", 409, "deposit_reference_reused", "the deposit reference was used for another account or amount"},
	[LB_SPACE_EXPIRED] = {"LB313", 409, "space_expired", "the space's reserved hours are used up; extend it first"},
	[LB_PG_CRON_MISSING] = {"LB314", 409, "pg_cron_missing", "pg_cron is not installed in this cluster"},
	[LB_SPACE_EXISTS] = {"LB315", 409, "space_exists", "the owner already has a space of that name"},
	[LB_MARKET_BUSY] = {"LB321", 409, "market_busy", "a market row the call needs stayed locked by another transaction past lagbid.api_lock_timeout; nothing was changed: retry (Retry-After: 1)"},
	[LB_OWNER_LIMIT_REACHED] = {"LB316", 429, "owner_limit_reached", "the owner has lagbid.max_open_tasks_per_owner open tasks or lagbid.max_spaces_per_owner active spaces"},
	[LB_OWNER_WORKLOAD_LIMIT] = {"LB320", 429, "owner_workload_limit", "the owner's live tasks and active spaces would carry more than lagbid.max_workload_bytes_per_owner bytes of workload"},
	[LB_PRICE_OUT_OF_RANGE] = {"LB401", 422, "price_out_of_range", "the ask is outside the task's [price_min, price_max] (market rule 3)"},
	[LB_REGION_MISMATCH] = {"LB402", 422, "region_mismatch", "the provider's region does not match the task's (market rule 4)"},
	[LB_RESOURCES_INSUFFICIENT] = {"LB403", 422, "resources_insufficient", "the provider's resources do not cover the task's needs (market rule 4)"},
	[LB_REPUTATION_TOO_LOW] = {"LB404", 422, "reputation_too_low", "the provider's score is below the task's min_reputation"},
	[LB_INSUFFICIENT_FUNDS] = {"LB501", 402, "insufficient_funds", "the paying account's balance is too low"},
	[LB_INSUFFICIENT_COLLATERAL] = {"LB502", 402, "insufficient_collateral", "the provider's available balance does not cover the bid's bond (collateral_ratio x ask x duration_hours)"},
	[LB_INVALID_KIND] = {"LB601", 400, "invalid_kind", "kind is neither 'batch' nor 'service'"},
	[LB_SERVICE_REPLICAS] = {"LB602", 400, "service_replicas", "a service space or task has replicas 1"},
	[LB_INVALID_ENDPOINT] = {"LB603", 400, "invalid_endpoint", "the endpoint is not an http(s) URL without userinfo naming the lease by host (<lease>.<domain>) or path (/l/<lease>/)"},
	[LB_ENDPOINT_NOT_SERVED] = {"LB604", 403, "endpoint_not_served", "the endpoint's host is not one of the provider's registered hosts nor below one"},
	[LB_LEASE_NOT_FOUND] = {"LB605", 404, "lease_not_found", "no such lease (the job is not a service's, or the id is unknown)"},
	[LB_LEASE_STATE] = {"LB606", 409, "lease_state", "the lease's state does not allow this (report_endpoint while starting, ready or degraded; report_teardown once expired or failed)"},
	[LB_PROBE_NOT_FOUND] = {"LB607", 404, "probe_not_found", "no such probe assignment"},
	[LB_NOT_PROBER] = {"LB608", 403, "not_prober", "only the assigned prober may report this probe"},
	[LB_PROBE_CLOSED] = {"LB609", 409, "probe_closed", "the probe's window has closed or been settled"},
	[LB_PROBE_REPORTED] = {"LB610", 409, "probe_reported", "the probe was reported already (once per assignment)"},
	[LB_PROBE_UNSIGNED] = {"LB611", 403, "probe_unsigned", "a successful probe needs the provider's proxy signature (Ed25519 over the probe message) and this one is missing or wrong"},
	[LB_NO_LIVE_LEASE] = {"LB612", 409, "no_live_lease", "the space has no ready or degraded lease to probe"},
	[LB_WINDOW_NOT_CLOSED] = {"LB613", 409, "window_not_closed", "the probe window has not closed yet: it is settled after its end"},
	[LB_NOT_A_SERVICE] = {"LB614", 409, "not_a_service", "a service job takes no result and its task no election (upload_result, submit_result, finalize); it ends with its lease"},
};

static int
sqlstate_of(const char *s)
{
	return MAKE_SQLSTATE(s[0], s[1], s[2], s[3], s[4]);
}

int
lagbid_errcode(LagbidError code)
{
	return errcode(sqlstate_of(lagbid_error_table[code].sqlstate));
}

static void
append_json_field(StringInfo buf, const char *key, const char *value, bool first)
{
	if (!first)
		appendStringInfoChar(buf, ',');
	escape_json(buf, key);
	appendStringInfoChar(buf, ':');
	if (value)
		escape_json(buf, value);
	else
		appendStringInfoString(buf, "null");
}

void
lagbid_raise(LagbidError code, const char *detail, const char *hint,
			 const char *fmt,...)
{
	const LagbidErrorInfo *info = &lagbid_error_table[code];
	StringInfoData msg;

	initStringInfo(&msg);
	for (;;)
	{
		va_list		args;
		int			needed;

		va_start(args, fmt);
		needed = appendStringInfoVA(&msg, fmt, args);
		va_end(args);
		if (needed == 0)
			break;
		enlargeStringInfo(&msg, needed);
	}

	if (lagbid_api_errors)
	{
		StringInfoData body;

		initStringInfo(&body);
		appendStringInfoChar(&body, '{');
		append_json_field(&body, "code", info->sqlstate, true);
		append_json_field(&body, "message", msg.data, false);
		append_json_field(&body, "details", detail, false);
		append_json_field(&body, "hint", hint, false);
		appendStringInfoChar(&body, '}');
		ereport(ERROR,
				(errcode(MAKE_SQLSTATE('P', 'G', 'R', 'S', 'T')),
				 errmsg_internal("%s", body.data),
				 errdetail_internal("{\"status\":%d,\"headers\":{%s}}",
									info->http_status,
									code == LB_MARKET_BUSY ? "\"Retry-After\":\"1\"" : "")));
	}

	ereport(ERROR,
			(errcode(sqlstate_of(info->sqlstate)),
			 errmsg_internal("%s", msg.data),
			 detail ? errdetail_internal("%s", detail) : 0,
			 hint ? errhint("%s", hint) : 0));
	pg_unreachable();
}

PG_FUNCTION_INFO_V1(lagbid_error_codes);

/*
 * lagbid.error_codes() — the refusal table, for the README and clients.
 */
Datum
lagbid_error_codes(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	int			i;

	InitMaterializedSRF(fcinfo, 0);
	for (i = 0; i < LB__COUNT; i++)
	{
		Datum		values[4];
		bool		nulls[4] = {false, false, false, false};

		values[0] = CStringGetTextDatum(lagbid_error_table[i].sqlstate);
		values[1] = CStringGetTextDatum(lagbid_error_table[i].name);
		values[2] = Int32GetDatum(lagbid_error_table[i].http_status);
		values[3] = CStringGetTextDatum(lagbid_error_table[i].description);
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	return (Datum) 0;
}
