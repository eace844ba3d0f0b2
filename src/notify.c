/*-------------------------------------------------------------------------
 *
 * notify.c
 *	  Telling bidders and owners what happened: a durable outbox row in
 *	  lagbid.notification addressed to a typed holder (fetched and
 *	  acknowledged later, so nothing is lost while a provider is offline) and
 *	  a push on channel "lagbid" naming only the row's id, for live
 *	  listeners: queued in lagbid.push_queue by the same statement and sent
 *	  after the commit by the push worker (push.c, push_worker.c), so that
 *	  the market's own commit never sends NOTIFY.
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
#include "push.h"

/*
 * The outbox row carries the whole payload (prices, amounts, reasons) and
 * its recipient; the NOTIFY carries only the row's id.  LISTEN has no
 * privilege check, so any login may listen: who was told what (a bid won,
 * by whom, on which task) is market intelligence between competitors.  A
 * listener fetches what is its own (lagbid_api.notifications).
 */
static LagbidPlan outbox_plan = {
	"INSERT INTO lagbid.notification (recipient_kind, recipient, kind, task_id, bid_id, job_id, payload) "
	"VALUES ($7::lagbid.holder_kind, $1, $2, $3, $4, $5, "
	"        jsonb_strip_nulls(jsonb_build_object('recipient', $1, 'recipient_kind', $7, 'kind', $2, "
	"            'task_id', $3, 'bid_id', $4, 'job_id', $5)) || coalesce($6::jsonb, '{}')) "
	"RETURNING id",
	7, {TEXTOID, TEXTOID, INT8OID, INT8OID, INT8OID, TEXTOID, TEXTOID}
};

/* the same, and the id queued for the push worker (0.4: push.c) */
static LagbidPlan outbox_queued_plan = {
	"WITH n AS (INSERT INTO lagbid.notification (recipient_kind, recipient, kind, task_id, bid_id, job_id, payload) "
	"           VALUES ($7::lagbid.holder_kind, $1, $2, $3, $4, $5, "
	"                   jsonb_strip_nulls(jsonb_build_object('recipient', $1, 'recipient_kind', $7, 'kind', $2, "
	"                       'task_id', $3, 'bid_id', $4, 'job_id', $5)) || coalesce($6::jsonb, '{}')) "
	"           RETURNING id), "
	"     q AS (INSERT INTO lagbid.push_queue (channel, id) SELECT '" LAGBID_CHANNEL_NOTIFICATIONS "', id FROM n) "
	"SELECT id FROM n",
	7, {TEXTOID, TEXTOID, INT8OID, INT8OID, INT8OID, TEXTOID, TEXTOID}
};

/* the outbox of a schema from before 0.3 (no recipient_kind; holders.c) */
static LagbidPlan outbox_legacy_plan = {
	"INSERT INTO lagbid.notification (recipient, kind, task_id, bid_id, job_id, payload) "
	"VALUES ($1, $2, $3, $4, $5, "
	"        jsonb_strip_nulls(jsonb_build_object('recipient', $1, 'kind', $2, "
	"            'task_id', $3, 'bid_id', $4, 'job_id', $5)) || coalesce($6::jsonb, '{}')) "
	"RETURNING id",
	6, {TEXTOID, TEXTOID, INT8OID, INT8OID, INT8OID, TEXTOID}
};

int64
lagbid_notify(LagbidHolderKind recipient_kind, const char *recipient,
			  const char *kind, int64 task_id, int64 bid_id, int64 job_id,
			  const char *extra_json)
{
	Datum		args[7];
	char		nulls[7] = {' ', ' ', ' ', ' ', ' ', ' ', ' '};
	int64		id;
	bool		queued = lagbid_push_queued();

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
	args[6] = CStringGetTextDatum(lagbid_holder_kind_name(recipient_kind));

	lagbid_connect();
	lagbid_exec(queued ? &outbox_queued_plan :
				lagbid_holders_typed() ? &outbox_plan : &outbox_legacy_plan,
				args, nulls, false, 0);
	if (!lagbid_result_int64(1, &id))
		elog(ERROR, "lagbid: notification not stored");
	lagbid_finish();
	if (queued)
		lagbid_push_note();
	else						/* a schema from before 0.4: at our commit */
		Async_Notify(LAGBID_CHANNEL_NOTIFICATIONS, psprintf("{\"id\": %lld}", (long long) id));
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

/* {"k1": "v1", "k2": "v2"}, JSON-escaped */
char *
lagbid_json_object2(const char *key1, const char *value1,
					const char *key2, const char *value2)
{
	StringInfoData buf;

	initStringInfo(&buf);
	appendStringInfoChar(&buf, '{');
	escape_json(&buf, key1);
	appendStringInfoString(&buf, ": ");
	escape_json(&buf, value1);
	appendStringInfoString(&buf, ", ");
	escape_json(&buf, key2);
	appendStringInfoString(&buf, ": ");
	escape_json(&buf, value2);
	appendStringInfoChar(&buf, '}');
	return buf.data;
}
