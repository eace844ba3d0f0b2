/*-------------------------------------------------------------------------
 *
 * kinds.c
 *	  The kind of a space or task (issue 21): 'batch' (a job that prints a
 *	  result, as before 0.4) or 'service' (a running app behind a lease,
 *	  leases.c).  The argument `kind` of create_space and publish_task, the
 *	  rules that tie it to the workload and to replicas, and storing it:
 *
 *	  - a service needs a workload with the object "service", a batch one
 *	    must not have it (LB009, naming workload.service);
 *	  - a service runs once: replicas = 1 (LB602);
 *	  - a space's tasks copy its kind.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "utils/builtins.h"
#include "utils/jsonb.h"

#include "lagbid.h"
#include "errors.h"
#include "leases.h"
#include "market.h"
#include "trust.h"

/* market.h-style: the kind argument (named "kind"); absent or NULL: batch */
bool
lagbid_kind_arg(FunctionCallInfo fcinfo)
{
	int			n = lagbid_named_arg(fcinfo, "kind");
	char	   *kind;

	if (n < 0 || PG_ARGISNULL(n))
		return false;
	kind = lagbid_text_to_cstring_limited(PG_GETARG_TEXT_PP(n), 16, "kind");
	if (strcmp(kind, "service") == 0)
		return true;
	if (strcmp(kind, "batch") == 0)
		return false;
	lagbid_raise(LB_INVALID_KIND, NULL, "Use 'batch' (the default) or 'service'.",
				 "kind \"%s\" is not a kind of work", kind);
	return false;				/* not reached */
}

void
lagbid_check_kind(bool service, Jsonb *workload, bool workload_known_service,
				  int32 replicas, const char *what)
{
	bool		has_service = workload ? lagbid_workload_is_service(workload)
		: workload_known_service;

	if (service && !has_service)
		lagbid_raise(LB_INVALID_WORKLOAD, NULL,
					 "A service's workload says how to reach and check the app: "
					 "\"service\": {\"port\": 8000, \"health_path\": \"/healthz\"} (docs/0.4/spaces.md).",
					 "workload.service is required for a service %s", what);
	if (!service && has_service)
		lagbid_raise(LB_INVALID_WORKLOAD, NULL,
					 "Pass kind => 'service' to run the app as a service.",
					 "workload.service is only for a service %s, and this %s is a batch one",
					 what, what);
	if (service && replicas != 1)
		lagbid_raise(LB_SERVICE_REPLICAS, NULL,
					 "A service runs once, behind one endpoint: use replicas => 1.",
					 "a service %s has replicas 1, not %d", what, replicas);
}

static LagbidPlan task_kind_plan = {
	"UPDATE lagbid.task SET kind = 'service' WHERE id = $1",
	1, {INT8OID}
};

static LagbidPlan space_kind_plan = {
	"UPDATE lagbid.space SET kind = 'service' WHERE id = $1",
	1, {INT8OID}
};

void
lagbid_store_kind(bool is_space, int64 id)
{
	Datum		args[1];

	args[0] = Int64GetDatum(id);
	lagbid_connect();
	lagbid_exec(is_space ? &space_kind_plan : &task_kind_plan, args, NULL, false, 0);
	lagbid_finish();
}
