/*-------------------------------------------------------------------------
 *
 * workload_store.c
 *	  Workload bodies stored once, by content (issue 19, defect 6).
 *
 *	  A workload (up to 4 MiB) is stored in lagbid.workload_body under the
 *	  hex SHA-256 of its jsonb text rendering (workload::text); tasks and
 *	  spaces hold only that digest (workload_sha256) and the rendering's
 *	  length (workload_bytes), both computed here once, when the workload is
 *	  published, created or updated, never per read.  A space's
 *	  republication by the tick copies the digest, not the body, and
 *	  discovery (open_tasks, the push, bid_won, my_jobs) carries the digest
 *	  and the size; the body is read by id with lagbid_api.task_workload.
 *	  Equal workloads share one row (ON CONFLICT DO NOTHING: a second
 *	  publish of the same body writes nothing but its digest).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "utils/builtins.h"
#include "utils/jsonb.h"

#include "lagbid.h"
#include "errors.h"
#include "market.h"

static LagbidPlan store_plan = {
	"INSERT INTO lagbid.workload_body (sha256, body, bytes) VALUES ($1, $2, $3) "
	"ON CONFLICT (sha256) DO NOTHING",
	3, {TEXTOID, JSONBOID, INT4OID}
};

/* market.h */
void
lagbid_workload_digest(Jsonb *jb, char **sha256, int32 *bytes)
{
	char	   *text = JsonbToCString(NULL, &jb->root, VARSIZE(jb));
	size_t		len = strlen(text);

	*sha256 = lagbid_sha256_hex((const unsigned char *) text, len);
	*bytes = (int32) len;
	pfree(text);
}

/* market.h */
void
lagbid_store_workload(Jsonb *jb, char **sha256, int32 *bytes)
{
	Datum		args[3];

	lagbid_workload_digest(jb, sha256, bytes);
	args[0] = CStringGetTextDatum(*sha256);
	args[1] = JsonbPGetDatum(jb);
	args[2] = Int32GetDatum(*bytes);
	lagbid_connect();
	lagbid_exec(&store_plan, args, NULL, false, 0);
	lagbid_finish();
}
