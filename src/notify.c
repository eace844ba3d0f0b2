/*-------------------------------------------------------------------------
 *
 * notify.c
 *	  Telling bidders and owners what happened: a durable outbox row in
 *	  lagbid.notification (fetched and acknowledged later, so nothing is lost
 *	  while a provider is offline) and a NOTIFY on channel "lagbid" with the
 *	  same JSON payload for live listeners (sent at commit, not before).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "commands/async.h"
#include "executor/spi.h"
#include "lib/stringinfo.h"
#include "utils/builtins.h"
#include "utils/json.h"

#include "lagbid.h"
#include "errors.h"
#include "market.h"

/*
 * The outbox row carries the whole payload (prices, amounts, reasons); the
 * NOTIFY carries only who, what and which ids.  LISTEN has no privilege
 * check, so anything sealed (a winning ask) must not travel on the channel:
 * a listener fetches the row (lagbid_api.notifications) for the rest.
 */
static LagbidPlan outbox_plan = {
	"INSERT INTO lagbid.notification (recipient, kind, task_id, bid_id, job_id, payload) "
	"VALUES ($1, $2, $3, $4, $5, "
	"        jsonb_strip_nulls(jsonb_build_object('recipient', $1, 'kind', $2, "
	"            'task_id', $3, 'bid_id', $4, 'job_id', $5)) || coalesce($6::jsonb, '{}')) "
	"RETURNING id, jsonb_strip_nulls(jsonb_build_object('id', id, 'recipient', recipient, "
	"          'kind', kind, 'task_id', task_id, 'bid_id', bid_id, 'job_id', job_id))::text",
	6, {TEXTOID, TEXTOID, INT8OID, INT8OID, INT8OID, TEXTOID}
};

int64
lagbid_notify(const char *recipient, const char *kind, int64 task_id,
			  int64 bid_id, int64 job_id, const char *extra_json)
{
	Datum		args[6];
	char		nulls[6] = {' ', ' ', ' ', ' ', ' ', ' '};
	int64		id;
	char	   *payload;

	args[0] = CStringGetTextDatum(recipient);
	args[1] = CStringGetTextDatum(kind);
	args[2] = Int64GetDatum(task_id);
	nulls[2] = task_id ? ' ' : 'n';
	args[3] = Int64GetDatum(bid_id);
	nulls[3] = bid_id ? ' ' : 'n';
	args[4] = Int64GetDatum(job_id);
	nulls[4] = job_id ? ' ' : 'n';
	if (extra_json)
		args[5] = CStringGetTextDatum(extra_json);
	else
		nulls[5] = 'n';

	lagbid_connect();
	lagbid_exec(&outbox_plan, args, nulls, false, 0);
	if (!lagbid_result_int64(1, &id))
		elog(ERROR, "lagbid: notification not stored");
	/* recipient is at most 128 bytes: the payload stays far below NOTIFY's 8000 */
	payload = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2);
	Async_Notify("lagbid", payload);
	lagbid_finish();
	return id;
}

/* {"key": "value"} with the value JSON-escaped */
char *
lagbid_json_object1(const char *key, const char *value)
{
	StringInfoData buf;

	initStringInfo(&buf);
	appendStringInfoChar(&buf, '{');
	escape_json(&buf, key);
	appendStringInfoString(&buf, ": ");
	escape_json(&buf, value);
	appendStringInfoChar(&buf, '}');
	return buf.data;
}
