/*-------------------------------------------------------------------------
 *
 * results.c
 *	  Results stored in the database and verified there (issue 13): the
 *	  bidder uploads its result's content, PostgreSQL computes its SHA-256
 *	  (pg_cryptohash), and the job is submitted through the same path as
 *	  submit_result with result_hash 'sha256:<hex>' and result_uri
 *	  'lagbid:result/<job id>'.  The hash is computed, never trusted; the
 *	  election counts it like any claimed hash.  Results above
 *	  lagbid.max_result_bytes stay outside (submit_result).
 *
 *	  lagbid.upload_result.  Reading (task_result) and purging
 *	  (purge_results) are SQL: sql/install/75_work.sql.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/detoast.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "utils/builtins.h"

#include "lagbid.h"
#include "errors.h"
#include "market.h"

static LagbidPlan store_plan = {
	"INSERT INTO lagbid.result (job_id, content, sha256, bytes, stored_at) "
	"VALUES ($1, $2, $3, $4, $5)",
	5, {INT8OID, BYTEAOID, TEXTOID, INT4OID, TIMESTAMPTZOID}
};

/* market.h */
void
lagbid_store_result(int64 job_id, bytea *content, const char *sha256_hex)
{
	Datum		args[5];

	args[0] = Int64GetDatum(job_id);
	args[1] = PointerGetDatum(content);
	args[2] = CStringGetTextDatum(sha256_hex);
	args[3] = Int32GetDatum(VARSIZE_ANY_EXHDR(content));
	args[4] = TimestampTzGetDatum(lagbid_clock_now());
	lagbid_exec(&store_plan, args, NULL, false, 0);
}

PG_FUNCTION_INFO_V1(lagbid_upload_result);

/*
 * lagbid.upload_result(job_id bigint, content bytea) RETURNS text — stores
 * the content, submits the job with its computed hash, returns
 * 'sha256:<hex>'.  LB007 above lagbid.max_result_bytes; LB310 unless the
 * job is processing (a second upload included).
 */
Datum
lagbid_upload_result(PG_FUNCTION_ARGS)
{
	int64		job_id;
	Size		size;
	bytea	   *content;
	char	   *hex;
	char	   *hash;

	if (PG_ARGISNULL(0))
		lagbid_raise(LB_INVALID_ARGUMENT, NULL, NULL, "job_id must not be NULL");
	job_id = PG_GETARG_INT64(0);
	if (PG_ARGISNULL(1))
		lagbid_raise(LB_INVALID_ARGUMENT, NULL, NULL, "content must not be NULL");

	/* refused before the value is even detoasted */
	size = toast_raw_datum_size(PG_GETARG_DATUM(1)) - VARHDRSZ;
	if (size > (Size) lagbid_max_result_bytes)
		lagbid_raise(LB_INPUT_TOO_LARGE,
					 psprintf("lagbid.max_result_bytes is %d.", lagbid_max_result_bytes),
					 "Keep a larger result elsewhere and submit its URI and SHA-256 with lagbid.submit_result().",
					 "result of job %lld is %zu bytes long, longer than the limit of %d",
					 (long long) job_id, size, lagbid_max_result_bytes);
	content = PG_GETARG_BYTEA_PP(1);
	hex = lagbid_sha256_hex((unsigned char *) VARDATA_ANY(content), VARSIZE_ANY_EXHDR(content));
	hash = psprintf("sha256:%s", hex);

	lagbid_connect();
	lagbid_submit_job(job_id, psprintf("lagbid:result/%lld", (long long) job_id),
					  hash, content, hex);
	lagbid_finish();
	PG_RETURN_TEXT_P(cstring_to_text(hash));
}
