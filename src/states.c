/*-------------------------------------------------------------------------
 *
 * states.c
 *	  The state machines of tasks, bids and jobs, kept once, as data: the
 *	  transition table below.  Everything else is derived from it:
 *
 *	  - lagbid.guard_transition(), the C trigger on lagbid.task, lagbid.bid
 *	    and lagbid.job that refuses any state change not in the table and
 *	    appends every accepted one (and every birth) to lagbid.event;
 *	  - lagbid.transitions(), the table as rows (the README and a test that
 *	    tries every forbidden pair read it);
 *	  - lagbid.state_diagram(machine), the machine as a Graphviz digraph.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "access/xact.h"
#include "catalog/pg_enum.h"
#include "commands/trigger.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "funcapi.h"
#include "lib/stringinfo.h"
#include "miscadmin.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/inval.h"
#include "utils/memutils.h"
#include "utils/syscache.h"

#include "lagbid.h"
#include "errors.h"
#include "states.h"
#include "leases.h"

static const char *const task_state_names[] = {
	"created", "accepting_bids", "bid_closed", "processing",
	"completed", "failed", "cancelled"
};
static const char *const bid_state_names[] = {
	"open", "won", "lost", "withdrawn"
};
static const char *const job_state_names[] = {
	"processing", "submitted", "completed", "failed"
};
static const char *const lease_state_names[] = {
	"starting", "ready", "degraded", "unstable", "expired", "failed", "torn_down"
};

const MachineInfo lagbid_machines[MACHINE__COUNT] = {
	[MACHINE_TASK] = {"task", "task_state", task_state_names, lengthof(task_state_names), TASK_CREATED},
	[MACHINE_BID] = {"bid", "bid_state", bid_state_names, lengthof(bid_state_names), BID_OPEN},
	[MACHINE_JOB] = {"job", "job_state", job_state_names, lengthof(job_state_names), JOB_PROCESSING},
	[MACHINE_LEASE] = {"lease", "lease_state", lease_state_names, lengthof(lease_state_names), LEASE_STARTING},
};

/* The transition table: the only place the machines are defined. */
const StateTransition lagbid_transitions[] = {
	{MACHINE_TASK, TASK_CREATED, TASK_ACCEPTING_BIDS, "published and opened (publish_task, open_bidding)"},
	{MACHINE_TASK, TASK_CREATED, TASK_CANCELLED, "owner cancels (cancel_task)"},
	{MACHINE_TASK, TASK_ACCEPTING_BIDS, TASK_BID_CLOSED, "bid limit reached (place_bid), owner closes (close_bidding), or deadline passes with bids (tick)"},
	{MACHINE_TASK, TASK_ACCEPTING_BIDS, TASK_FAILED, "bidding deadline passes with no bid (tick, reason no_bids), or an extra replica finds no bidder (reason no_consensus)"},
	{MACHINE_TASK, TASK_ACCEPTING_BIDS, TASK_CANCELLED, "owner cancels (cancel_task), or a newer space version supersedes it"},
	{MACHINE_TASK, TASK_BID_CLOSED, TASK_PROCESSING, "bidders allocated (allocate, automatic with auto_allocate)"},
	{MACHINE_TASK, TASK_BID_CLOSED, TASK_ACCEPTING_BIDS, "owner reopens: no acceptable bid (open_bidding)"},
	{MACHINE_TASK, TASK_BID_CLOSED, TASK_CANCELLED, "owner cancels (cancel_task)"},
	{MACHINE_TASK, TASK_PROCESSING, TASK_COMPLETED, "a result holds a strict majority of replicas: its leading node is elected (finalize, tick)"},
	{MACHINE_TASK, TASK_PROCESSING, TASK_FAILED, "every job failed, no valid result by the processing deadline, or no majority within lagbid.max_extra_replicas (no_consensus)"},
	{MACHINE_TASK, TASK_PROCESSING, TASK_ACCEPTING_BIDS, "no result holds a majority: more replicas are gathered, paid by the owner (finalize, tick; reason no_majority)"},
	{MACHINE_BID, BID_OPEN, BID_WON, "allocated (allocate)"},
	{MACHINE_BID, BID_OPEN, BID_LOST, "not allocated, or the task was cancelled or failed"},
	{MACHINE_BID, BID_OPEN, BID_WITHDRAWN, "the bidder withdraws it (withdraw_bid)"},
	{MACHINE_JOB, JOB_PROCESSING, JOB_SUBMITTED, "the bidder uploads its result (submit_result)"},
	{MACHINE_JOB, JOB_PROCESSING, JOB_FAILED, "the bidder gives up (fail_job), the deadline passes, or the task is finalized without it"},
	{MACHINE_JOB, JOB_SUBMITTED, JOB_COMPLETED, "its result agrees with the elected majority (finalize)"},
	{MACHINE_JOB, JOB_SUBMITTED, JOB_FAILED, "its result disagrees with the elected majority, or no result held one (no_consensus) (finalize)"},
	{MACHINE_JOB, JOB_PROCESSING, JOB_COMPLETED, "a service job: its lease expired and was torn down (report_teardown, or the tick after the grace)"},
	{MACHINE_LEASE, LEASE_STARTING, LEASE_READY, "the provider reports the endpoint, after the health path answered (report_endpoint)"},
	{MACHINE_LEASE, LEASE_STARTING, LEASE_FAILED, "the startup timeout passed without report_endpoint (tick), the provider gives the job up (fail_job), or the owner cancels (cancel_task)"},
	{MACHINE_LEASE, LEASE_READY, LEASE_DEGRADED, "a probe window settled down (settle_window, tick)"},
	{MACHINE_LEASE, LEASE_DEGRADED, LEASE_READY, "a probe window settled up (settle_window, tick)"},
	{MACHINE_LEASE, LEASE_DEGRADED, LEASE_UNSTABLE, "the third down window in a row (settle_window, tick): payment stops, the rest of the escrow goes back"},
	{MACHINE_LEASE, LEASE_READY, LEASE_EXPIRED, "reserved_until reached (tick), or the owner cancels (cancel_task: the last window settled pro rata)"},
	{MACHINE_LEASE, LEASE_DEGRADED, LEASE_EXPIRED, "reserved_until reached (tick), or the owner cancels (cancel_task: the last window settled pro rata)"},
	{MACHINE_LEASE, LEASE_UNSTABLE, LEASE_EXPIRED, "the tick ends it (nothing pays for it any more), or the owner cancels (cancel_task)"},
	{MACHINE_LEASE, LEASE_EXPIRED, LEASE_TORN_DOWN, "the provider tore the app down (report_teardown), or the tick after a grace of 10 minutes"},
	{MACHINE_LEASE, LEASE_FAILED, LEASE_TORN_DOWN, "the provider tore the app down (report_teardown), or the tick after a grace of 10 minutes"},
};
const int	lagbid_ntransitions = lengthof(lagbid_transitions);

bool
lagbid_transition_allowed(LagbidMachine m, int from, int to)
{
	int			i;

	for (i = 0; i < lagbid_ntransitions; i++)
		if (lagbid_transitions[i].machine == m &&
			lagbid_transitions[i].from == from &&
			lagbid_transitions[i].to == to)
			return true;
	return false;
}

const char *
lagbid_state_name(LagbidMachine m, int state)
{
	Assert(state >= 0 && state < lagbid_machines[m].nstates);
	return lagbid_machines[m].states[state];
}

int
lagbid_state_from_name(LagbidMachine m, const char *name)
{
	int			i;

	for (i = 0; i < lagbid_machines[m].nstates; i++)
		if (strcmp(lagbid_machines[m].states[i], name) == 0)
			return i;
	return -1;
}

/*
 * Enum value OID -> state index, cached per backend.  The cache is reset by
 * a syscache invalidation on pg_enum (e.g. the extension was recreated).
 */
#define ENUM_CACHE_SIZE 32
typedef struct EnumCacheEntry
{
	Oid			oid;
	int			machine;
	int			state;
} EnumCacheEntry;

static EnumCacheEntry enum_cache[ENUM_CACHE_SIZE];
static int	enum_cache_used = 0;
static bool callbacks_registered = false;

static void
enum_cache_reset(Datum arg, int cacheid, uint32 hashvalue)
{
	enum_cache_used = 0;
}

static int
state_of_enum(LagbidMachine m, Oid enumval)
{
	int			i;
	HeapTuple	tup;
	int			state;

	for (i = 0; i < enum_cache_used; i++)
		if (enum_cache[i].oid == enumval && enum_cache[i].machine == m)
			return enum_cache[i].state;

	tup = SearchSysCache1(ENUMOID, ObjectIdGetDatum(enumval));
	if (!HeapTupleIsValid(tup))
		elog(ERROR, "lagbid: invalid enum value %u", enumval);
	state = lagbid_state_from_name(m, NameStr(((Form_pg_enum) GETSTRUCT(tup))->enumlabel));
	ReleaseSysCache(tup);
	if (state < 0)
		elog(ERROR, "lagbid: enum value %u is not a %s state", enumval, lagbid_machines[m].name);

	if (enum_cache_used < ENUM_CACHE_SIZE)
	{
		enum_cache[enum_cache_used].oid = enumval;
		enum_cache[enum_cache_used].machine = m;
		enum_cache[enum_cache_used].state = state;
		enum_cache_used++;
	}
	return state;
}

/* ---- event context ---- */

static char *event_actor = NULL;
static char *event_reason = NULL;

static void
event_context_xact_callback(XactEvent event, void *arg)
{
	switch (event)
	{
		case XACT_EVENT_COMMIT:
		case XACT_EVENT_ABORT:
		case XACT_EVENT_PARALLEL_COMMIT:
		case XACT_EVENT_PARALLEL_ABORT:
		case XACT_EVENT_PREPARE:
			/* the strings lived in TopTransactionContext */
			event_actor = NULL;
			event_reason = NULL;
			break;
		default:
			break;
	}
}

static void
register_callbacks(void)
{
	if (callbacks_registered)
		return;
	CacheRegisterSyscacheCallback(ENUMOID, enum_cache_reset, (Datum) 0);
	RegisterXactCallback(event_context_xact_callback, NULL);
	callbacks_registered = true;
}

static char *
copy_to_xact(const char *s)
{
	register_callbacks();
	return s ? MemoryContextStrdup(TopTransactionContext, s) : NULL;
}

void
lagbid_event_actor(const char *actor)
{
	event_actor = copy_to_xact(actor);
}

void
lagbid_event_reason(const char *reason)
{
	event_reason = copy_to_xact(reason);
}

/* ---- the trigger ---- */

static LagbidPlan log_plan = {
	"INSERT INTO lagbid.event (entity, entity_id, from_state, to_state, actor, reason, at) "
	"VALUES ($1, $2, $3, $4, $5, $6, coalesce($7, clock_timestamp()))",
	7, {TEXTOID, INT8OID, TEXTOID, TEXTOID, TEXTOID, TEXTOID, TIMESTAMPTZOID}
};

static void
log_event(LagbidMachine m, int64 id, int from, int to)
{
	Datum		values[7];
	char		nulls[7] = {' ', ' ', ' ', ' ', ' ', ' ', ' '};
	const char *actor = event_actor;

	if (actor == NULL)
		actor = GetUserNameFromId(GetSessionUserId(), true);

	values[0] = CStringGetTextDatum(lagbid_machines[m].name);
	values[1] = Int64GetDatum(id);
	if (from < 0)
		nulls[2] = 'n';
	else
		values[2] = CStringGetTextDatum(lagbid_state_name(m, from));
	values[3] = CStringGetTextDatum(lagbid_state_name(m, to));
	if (actor)
		values[4] = CStringGetTextDatum(actor);
	else
		nulls[4] = 'n';
	if (event_reason)
		values[5] = CStringGetTextDatum(event_reason);
	else
		nulls[5] = 'n';

	/* under a fixed market clock (tests, the demo) events carry market time */
	if (lagbid_clock_setting && lagbid_clock_setting[0] != '\0')
		values[6] = TimestampTzGetDatum(lagbid_clock_now());
	else
		nulls[6] = 'n';

	lagbid_connect();
	lagbid_exec(&log_plan, values, nulls, false, 0);
	lagbid_finish();
}

static void
refuse_transition(LagbidMachine m, int64 id, int from, int to)
{
	StringInfoData allowed;
	int			i;
	bool		any = false;

	initStringInfo(&allowed);
	for (i = 0; i < lagbid_ntransitions; i++)
	{
		if (lagbid_transitions[i].machine != m || lagbid_transitions[i].from != from)
			continue;
		appendStringInfo(&allowed, "%s\"%s\"", any ? ", " : "",
						 lagbid_state_name(m, lagbid_transitions[i].to));
		any = true;
	}
	if (!any)
		appendStringInfoString(&allowed, "none (final state)");

	lagbid_raise(LB_INVALID_TRANSITION,
				 psprintf("From \"%s\" a %s may go to: %s.",
						  lagbid_state_name(m, from), lagbid_machines[m].name, allowed.data),
				 "lagbid.transitions() lists every allowed transition.",
				 "%s %lld cannot go from state \"%s\" to \"%s\"",
				 lagbid_machines[m].name, (long long) id,
				 lagbid_state_name(m, from), lagbid_state_name(m, to));
}

PG_FUNCTION_INFO_V1(lagbid_guard_transition);

/*
 * lagbid.guard_transition(machine) — BEFORE INSERT OR UPDATE OF state row
 * trigger.  On INSERT the row must be born in its machine's initial state;
 * on UPDATE the change must be in the transition table.  Either way the
 * transition is appended to lagbid.event.
 */
Datum
lagbid_guard_transition(PG_FUNCTION_ARGS)
{
	TriggerData *trigdata = (TriggerData *) fcinfo->context;
	TupleDesc	tupdesc;
	HeapTuple	newtuple;
	LagbidMachine m;
	int			state_att,
				id_att;
	bool		isnull;
	int64		id;
	int			to,
				from = -1;

	if (!CALLED_AS_TRIGGER(fcinfo))
		elog(ERROR, "lagbid.guard_transition must be called as a trigger");
	if (!TRIGGER_FIRED_BEFORE(trigdata->tg_event) ||
		!TRIGGER_FIRED_FOR_ROW(trigdata->tg_event) ||
		trigdata->tg_trigger->tgnargs != 1)
		elog(ERROR, "lagbid.guard_transition must be a BEFORE ROW trigger with one argument");

	for (m = 0; m < MACHINE__COUNT; m++)
		if (strcmp(trigdata->tg_trigger->tgargs[0], lagbid_machines[m].name) == 0)
			break;
	if (m == MACHINE__COUNT)
		elog(ERROR, "lagbid.guard_transition: unknown machine \"%s\"",
			 trigdata->tg_trigger->tgargs[0]);

	register_callbacks();
	tupdesc = trigdata->tg_relation->rd_att;
	state_att = SPI_fnumber(tupdesc, "state");
	id_att = SPI_fnumber(tupdesc, "id");
	if (state_att <= 0 || id_att <= 0)
		elog(ERROR, "lagbid.guard_transition: table has no id or state column");

	newtuple = TRIGGER_FIRED_BY_UPDATE(trigdata->tg_event) ?
		trigdata->tg_newtuple : trigdata->tg_trigtuple;

	id = DatumGetInt64(heap_getattr(newtuple, id_att, tupdesc, &isnull));
	to = state_of_enum(m, DatumGetObjectId(heap_getattr(newtuple, state_att, tupdesc, &isnull)));

	if (TRIGGER_FIRED_BY_INSERT(trigdata->tg_event))
	{
		if (to != lagbid_machines[m].initial)
			lagbid_raise(LB_INVALID_TRANSITION,
						 psprintf("A %s is born \"%s\".", lagbid_machines[m].name,
								  lagbid_state_name(m, lagbid_machines[m].initial)),
						 NULL,
						 "%s %lld cannot be created in state \"%s\"",
						 lagbid_machines[m].name, (long long) id,
						 lagbid_state_name(m, to));
	}
	else if (TRIGGER_FIRED_BY_UPDATE(trigdata->tg_event))
	{
		from = state_of_enum(m, DatumGetObjectId(heap_getattr(trigdata->tg_trigtuple,
															  state_att, tupdesc, &isnull)));
		if (from == to)
			return PointerGetDatum(newtuple);
		if (!lagbid_transition_allowed(m, from, to))
			refuse_transition(m, id, from, to);
	}
	else
		elog(ERROR, "lagbid.guard_transition fires on INSERT or UPDATE only");

	log_event(m, id, from, to);
	return PointerGetDatum(newtuple);
}

PG_FUNCTION_INFO_V1(lagbid_transitions_srf);

/*
 * lagbid.transitions() — the transition table as rows.
 */
Datum
lagbid_transitions_srf(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	int			i;

	InitMaterializedSRF(fcinfo, 0);
	for (i = 0; i < lagbid_ntransitions; i++)
	{
		const StateTransition *t = &lagbid_transitions[i];
		Datum		values[4];
		bool		nulls[4] = {false, false, false, false};

		values[0] = CStringGetTextDatum(lagbid_machines[t->machine].name);
		values[1] = CStringGetTextDatum(lagbid_state_name(t->machine, t->from));
		values[2] = CStringGetTextDatum(lagbid_state_name(t->machine, t->to));
		values[3] = CStringGetTextDatum(t->when);
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	return (Datum) 0;
}

PG_FUNCTION_INFO_V1(lagbid_state_diagram);

/*
 * lagbid.state_diagram(machine text) — Graphviz DOT of one machine.
 */
Datum
lagbid_state_diagram(PG_FUNCTION_ARGS)
{
	char	   *name = lagbid_text_to_cstring_limited(PG_GETARG_TEXT_PP(0), 16, "machine");
	StringInfoData buf;
	LagbidMachine m;
	int			i;

	for (m = 0; m < MACHINE__COUNT; m++)
		if (strcmp(name, lagbid_machines[m].name) == 0)
			break;
	if (m == MACHINE__COUNT)
		lagbid_raise(LB_INVALID_ARGUMENT, NULL, "Use \"task\", \"bid\", \"job\" or \"lease\".",
					 "unknown state machine \"%s\"", name);

	initStringInfo(&buf);
	appendStringInfo(&buf, "digraph %s_state {\n  rankdir=LR;\n  node [shape=box, style=rounded];\n", lagbid_machines[m].name);
	appendStringInfo(&buf, "  start [shape=point];\n  start -> %s;\n",
					 lagbid_state_name(m, lagbid_machines[m].initial));
	for (i = 0; i < lagbid_ntransitions; i++)
	{
		const StateTransition *t = &lagbid_transitions[i];
		StringInfoData label;

		if (t->machine != m)
			continue;
		initStringInfo(&label);
		for (const char *c = t->when; *c; c++)
		{
			if (*c == '"' || *c == '\\')
				appendStringInfoChar(&label, '\\');
			appendStringInfoChar(&label, *c);
		}
		appendStringInfo(&buf, "  %s -> %s [label=\"%s\"];\n",
						 lagbid_state_name(m, t->from), lagbid_state_name(m, t->to), label.data);
	}
	appendStringInfoString(&buf, "}\n");
	PG_RETURN_TEXT_P(cstring_to_text(buf.data));
}
