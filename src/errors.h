/*-------------------------------------------------------------------------
 *
 * errors.h
 *	  lagbid's refusals: one SQLSTATE per rule, each with the HTTP status
 *	  PostgREST answers with.  The table in errors.c is the single source:
 *	  lagbid.error_codes() exposes it and the README lists it.
 *
 *-------------------------------------------------------------------------
 */
#ifndef LAGBID_ERRORS_H
#define LAGBID_ERRORS_H

typedef enum LagbidError
{
	/* bad input: 400 */
	LB_INVALID_ARGUMENT = 0,
	LB_INVALID_NODE_ID,
	LB_INVALID_MULTIADDR,
	LB_INVALID_RESOURCES,
	LB_INVALID_REGION,
	LB_INVALID_PRICE_RANGE,
	LB_INPUT_TOO_LARGE,
	LB_BUDGET_TOO_SMALL,
	LB_INVALID_WORKLOAD,
	LB_INVALID_NODE_KEY,
	/* identity and authorization: 401/403 */
	LB_NO_IDENTITY,
	LB_NOT_TASK_OWNER,
	LB_NOT_BIDDER,
	LB_NOT_SPACE_OWNER,
	LB_WRONG_ROLE,
	LB_CLAIMS_NOT_TRUSTED,
	LB_LOGIN_ALREADY_BOUND,
	LB_INVALID_SIGNATURE,
	LB_SIGNATURE_REQUIRED,
	LB_WORKLOAD_NOT_OPEN,
	/* not found: 404 */
	LB_TASK_NOT_FOUND,
	LB_BID_NOT_FOUND,
	LB_JOB_NOT_FOUND,
	LB_PROVIDER_NOT_FOUND,
	LB_SPACE_NOT_FOUND,
	LB_RESULT_NOT_FOUND,
	/* state conflicts: 409 */
	LB_INVALID_TRANSITION,
	LB_BIDDING_NOT_OPEN,
	LB_PROVIDER_LIMIT_REACHED,
	LB_PROVIDER_INACTIVE,
	LB_DUPLICATE_BID,
	LB_BID_NOT_OPEN,
	LB_BID_NOT_ON_TASK,
	LB_NO_BIDS_TO_ALLOCATE,
	LB_TOO_MANY_BIDS_ALLOCATED,
	LB_JOB_NOT_ACTIVE,
	LB_NOT_READY_TO_FINALIZE,
	LB_DEPOSIT_REFERENCE_REUSED,
	LB_SPACE_EXPIRED,
	LB_PG_CRON_MISSING,
	LB_SPACE_EXISTS,
	LB_MARKET_BUSY,
	/* too many: 429 */
	LB_OWNER_LIMIT_REACHED,
	LB_OWNER_WORKLOAD_LIMIT,
	/* no match: 422 */
	LB_PRICE_OUT_OF_RANGE,
	LB_REGION_MISMATCH,
	LB_RESOURCES_INSUFFICIENT,
	LB_REPUTATION_TOO_LOW,
	/* money: 402 */
	LB_INSUFFICIENT_FUNDS,
	LB_INSUFFICIENT_COLLATERAL,
	/* service spaces and leases (issue 21): LB6xx, each its own status */
	LB_INVALID_KIND,
	LB_SERVICE_REPLICAS,
	LB_INVALID_ENDPOINT,
	LB_ENDPOINT_NOT_SERVED,
	LB_LEASE_NOT_FOUND,
	LB_LEASE_STATE,
	LB_PROBE_NOT_FOUND,
	LB_NOT_PROBER,
	LB_PROBE_CLOSED,
	LB_PROBE_REPORTED,
	LB_PROBE_UNSIGNED,
	LB_NO_LIVE_LEASE,
	LB_WINDOW_NOT_CLOSED,
	LB_NOT_A_SERVICE,
	LB__COUNT
} LagbidError;

typedef struct LagbidErrorInfo
{
	const char *sqlstate;
	int			http_status;
	const char *name;
	const char *description;
} LagbidErrorInfo;

extern const LagbidErrorInfo lagbid_error_table[LB__COUNT];

/*
 * Raise refusal `code` with a formatted message (PostgreSQL's voice: lower
 * case, no final period) and optional detail and hint.  Under
 * lagbid.api_errors the error is raised as SQLSTATE PGRST with a JSON body,
 * so that PostgREST answers with the table's HTTP status and keeps lagbid's
 * own code in the response body.
 */
extern void lagbid_raise(LagbidError code, const char *detail, const char *hint,
						 const char *fmt,...) pg_attribute_printf(4, 5) pg_attribute_noreturn();

extern int	lagbid_errcode(LagbidError code);

#endif							/* LAGBID_ERRORS_H */
