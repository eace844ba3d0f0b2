/*-------------------------------------------------------------------------
 *
 * push_worker.c
 *	  The push worker: one dynamic background worker per database (type
 *	  "lagbid push") that sends, after the market's commits, the NOTIFYs
 *	  the market queued in lagbid.push_queue (push.c).
 *
 *	  Each round is one transaction: delete a batch of queued rows, send
 *	  one NOTIFY per channel and batch (ids only: {"id": N} or {"ids":
 *	  [...]} on "lagbid", {"task_id": N} or {"task_ids": [...]} on
 *	  "lagbid_tasks", in id order, each payload under NOTIFY's limit), count
 *	  them in lagbid.push_worker, commit.  When anything fails -- typically
 *	  NOTIFY's queue is full because a listener sits idle in a transaction
 *	  -- the transaction rolls back, so the rows stay queued; the worker
 *	  records the error, nudges the listeners a failed flood left behind
 *	  (nudge_listeners), waits (1 s, doubling up to 5 s; commits do not
 *	  shorten the wait) and tries again.  Nothing is lost, and the market's
 *	  commits never see the failure.
 *
 *	  The worker is woken by the committing backends (they set its latch)
 *	  and also looks every lagbid.push_poll_interval; it exits when the
 *	  extension is dropped, when another live worker holds the database's
 *	  row of lagbid.push_worker, on SIGTERM, and after
 *	  lagbid.push_idle_timeout with nothing to push (the next commit that
 *	  queues a push starts it again).  Its own commits do not wait for the
 *	  disk (synchronous_commit off): a push lost in a crash is only sent
 *	  twice, and every push is a hint that listeners read back.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "catalog/namespace.h"
#include "commands/async.h"
#include "executor/spi.h"
#include "lib/stringinfo.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "postmaster/bgworker.h"
#include "postmaster/interrupt.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "storage/procsignal.h"
#include "tcop/tcopprot.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"

#include "lagbid.h"
#include "push.h"

PGDLLEXPORT void lagbid_push_worker_main(Datum arg);

/* rows one round takes */
#define PUSH_BATCH 1000
/* a payload stays well under NOTIFY's limit (BLCKSZ - NAMEDATALEN - 128) */
#define PUSH_PAYLOAD_MAX 7000
/* waits after a failed round: 1 s doubling up to 5 s */
#define PUSH_RETRY_MIN_MS 1000
#define PUSH_RETRY_MAX_MS 5000
/* a failure that repeats is logged again at most this often */
#define PUSH_LOG_EVERY_MS 60000

typedef enum PushOutcome
{
	PUSH_EMPTY,					/* nothing was queued */
	PUSH_SENT,					/* a batch went out */
	PUSH_GONE,					/* the extension was dropped */
	PUSH_DISPLACED				/* another live worker holds the row */
} PushOutcome;

/*
 * Claim this database's row of lagbid.push_worker: ours already, free, or
 * naming a process that is no longer a push worker here.  Two workers that
 * start at once serialise on the row; the second sees the first alive.
 */
static LagbidPlan claim_plan = {
	"UPDATE lagbid.push_worker w SET pid = pg_catalog.pg_backend_pid(), "
	"       started_at = CASE WHEN w.pid IS DISTINCT FROM pg_catalog.pg_backend_pid() "
	"                         THEN pg_catalog.now() ELSE w.started_at END, "
	"       last_push_at = CASE WHEN $1 > 0 THEN pg_catalog.now() ELSE w.last_push_at END, "
	"       pushed = w.pushed + $1, notifies = w.notifies + $2 "
	" WHERE w.id = 1 AND (w.pid = pg_catalog.pg_backend_pid() OR w.pid IS NULL "
	"       OR NOT EXISTS (SELECT 1 FROM pg_catalog.pg_stat_activity a "
	"                       WHERE a.pid = w.pid AND a.backend_type = '" LAGBID_PUSH_BACKEND_TYPE "' "
	"                         AND a.datid = (SELECT oid FROM pg_catalog.pg_database "
	"                                         WHERE datname = pg_catalog.current_database())))",
	2, {INT8OID, INT8OID}
};

/* a batch, oldest ids first in each channel */
static LagbidPlan take_plan = {
	"WITH q AS (DELETE FROM lagbid.push_queue "
	"            WHERE ctid = ANY (ARRAY(SELECT ctid FROM lagbid.push_queue LIMIT $1)) "
	"           RETURNING channel, id) "
	"SELECT channel, id FROM q ORDER BY channel, id",
	1, {INT4OID}
};

static LagbidPlan release_plan = {
	"UPDATE lagbid.push_worker SET pid = NULL WHERE id = 1 AND pid = pg_catalog.pg_backend_pid()",
	0, {InvalidOid}
};

static LagbidPlan failure_plan = {
	"UPDATE lagbid.push_worker SET failures = failures + 1, last_error = $1, "
	"       last_error_at = pg_catalog.now() "
	" WHERE id = 1 AND pid = pg_catalog.pg_backend_pid()",
	1, {TEXTOID}
};

/* the queue this worker claimed: a new one means the extension was recreated */
static Oid	claimed_queue = InvalidOid;

/*
 * Whether the extension this worker serves is still there: the queue it
 * claimed at start (a DROP and CREATE EXTENSION makes a new queue, and the
 * backends then start a new worker; this one leaves).
 */
static bool
extension_present(void)
{
	Oid			nsp = get_namespace_oid("lagbid", true);
	Oid			queue = OidIsValid(nsp) ? get_relname_relid("push_queue", nsp) : InvalidOid;

	if (!OidIsValid(queue) || !OidIsValid(get_relname_relid("push_worker", nsp)))
		return false;
	if (!OidIsValid(claimed_queue))
		claimed_queue = queue;
	return queue == claimed_queue;
}

static void
begin_round(const char *what)
{
	SetCurrentStatementStartTimestamp();
	StartTransactionCommand();
	PushActiveSnapshot(GetTransactionSnapshot());
	pgstat_report_activity(STATE_RUNNING, what);
	lagbid_connect();
}

static void
end_round(void)
{
	lagbid_finish();
	PopActiveSnapshot();
	CommitTransactionCommand();
#if PG_VERSION_NUM < 150000
	ProcessCompletedNotifies();
#endif
	pgstat_report_stat(false);
	pgstat_report_activity(STATE_IDLE, NULL);
}

/* NOTIFY channel with the ids in batch (sorted), as few payloads as fit */
static int
notify_ids(const char *channel, const char *one, const char *many,
		   const int64 *ids, int n)
{
	StringInfoData buf;
	int			sent = 0;
	int			i = 0;

	initStringInfo(&buf);
	while (i < n)
	{
		int			first = i;
		int			count = 0;

		resetStringInfo(&buf);
		appendStringInfo(&buf, "{\"%s\": [", many);
		for (; i < n && buf.len < PUSH_PAYLOAD_MAX; i++)
		{
			if (i > first && ids[i] == ids[i - 1])
				continue;		/* queued twice (a task reopened): once */
			appendStringInfo(&buf, "%s" INT64_FORMAT, count ? ", " : "", ids[i]);
			count++;
		}
		if (count == 1)
		{
			resetStringInfo(&buf);
			appendStringInfo(&buf, "{\"%s\": " INT64_FORMAT "}", one, ids[first]);
		}
		else
			appendStringInfoString(&buf, "]}");
		Async_Notify(channel, buf.data);
		sent++;
	}
	pfree(buf.data);
	return sent;
}

/* one round: a batch of queued rows out, in one transaction */
static PushOutcome
push_round(int *taken)
{
	Datum		arg;
	uint64		n;
	int64	   *note_ids;
	int64	   *task_ids;
	int			nnote = 0;
	int			ntask = 0;
	int			notifies = 0;
	Datum		counts[2];

	*taken = 0;
	begin_round("lagbid push: taking queued ids");
	if (!extension_present())
	{
		end_round();
		return PUSH_GONE;
	}
	arg = Int32GetDatum(PUSH_BATCH);
	lagbid_exec(&take_plan, &arg, NULL, false, 0);
	n = SPI_processed;
	if (n == 0)
	{
		end_round();
		return PUSH_EMPTY;
	}
	note_ids = palloc(sizeof(int64) * n);
	task_ids = palloc(sizeof(int64) * n);
	for (uint64 i = 0; i < n; i++)
	{
		bool		isnull;
		char	   *channel = TextDatumGetCString(lagbid_result_datum(i, 1, &isnull));
		int64		id = DatumGetInt64(lagbid_result_datum(i, 2, &isnull));

		if (strcmp(channel, LAGBID_CHANNEL_NOTIFICATIONS) == 0)
			note_ids[nnote++] = id;
		else if (strcmp(channel, LAGBID_CHANNEL_TASKS) == 0)
			task_ids[ntask++] = id;
		/* any other channel: not ours to announce; the row is dropped */
	}
	notifies += notify_ids(LAGBID_CHANNEL_NOTIFICATIONS, "id", "ids", note_ids, nnote);
	notifies += notify_ids(LAGBID_CHANNEL_TASKS, "task_id", "task_ids", task_ids, ntask);
	counts[0] = Int64GetDatum(nnote + ntask);
	counts[1] = Int64GetDatum(notifies);
	lagbid_exec(&claim_plan, counts, NULL, false, 0);
	*taken = (int) n;
	if (SPI_processed == 0)
	{
		/* the batch still goes out with this commit; then we leave */
		end_round();
		return PUSH_DISPLACED;
	}
	end_round();
	return PUSH_SENT;
}

/* the first claim, at start */
static bool
claim(void)
{
	Datum		counts[2] = {Int64GetDatum(0), Int64GetDatum(0)};
	bool		ok;

	begin_round("lagbid push: starting");
	if (!extension_present())
	{
		end_round();
		return false;
	}
	lagbid_exec(&claim_plan, counts, NULL, false, 0);
	ok = SPI_processed == 1;
	end_round();
	return ok;
}

/* leave the row free for the next worker (idle exit), best effort */
static void
release(void)
{
	begin_round("lagbid push: exiting");
	if (extension_present())
		lagbid_exec(&release_plan, NULL, NULL, false, 0);
	end_round();
}

/* every other client backend of the cluster */
static LagbidPlan backends_plan = {
	"SELECT pid FROM pg_catalog.pg_stat_activity "
	" WHERE backend_type = 'client backend' AND pid <> pg_catalog.pg_backend_pid()",
	0, {InvalidOid}
};

/*
 * NOTIFY's queue is full.  PostgreSQL signals listeners only when a NOTIFY
 * commits; a flood's last transaction fails half-written, and a listener
 * that stopped at its entries (in progress when it read) is never told to
 * read on: it holds the queue's tail, so every later NOTIFY fails too, even
 * after the session that was idle in its transaction has gone.  Nudge every
 * client backend (PROCSIG_NOTIFY_INTERRUPT, what a committing NOTIFY
 * sends): a listener reads its queue when idle, anyone else ignores it.
 */
static void
nudge_listeners(void)
{
	int		   *pids;
	int			n;

	lagbid_exec(&backends_plan, NULL, NULL, true, 0);
	n = (int) SPI_processed;
	pids = palloc(sizeof(int) * Max(n, 1));
	for (int i = 0; i < n; i++)
	{
		bool		isnull;

		pids[i] = DatumGetInt32(lagbid_result_datum(i, 1, &isnull));
	}
	for (int i = 0; i < n; i++)
		(void) SendProcSignal(pids[i], PROCSIG_NOTIFY_INTERRUPT, InvalidBackendId);
}

static void
record_failure(const char *message, bool queue_full)
{
	MemoryContext cxt = CurrentMemoryContext;

	PG_TRY();
	{
		Datum		arg = CStringGetTextDatum(message);

		begin_round("lagbid push: recording a failure");
		if (extension_present())
			lagbid_exec(&failure_plan, &arg, NULL, false, 0);
		if (queue_full)
			nudge_listeners();
		end_round();
	}
	PG_CATCH();
	{
		MemoryContextSwitchTo(cxt);
		FlushErrorState();
		AbortCurrentTransaction();
	}
	PG_END_TRY();
}

/* the worker's state across rounds (kept out of PG_TRY's locals) */
static TimestampTz last_work = 0;	/* the last round that pushed */
static TimestampTz retry_at = 0;	/* failing: no round before this */
static TimestampTz last_logged = 0;
static int	retry_ms = PUSH_RETRY_MIN_MS;
static bool failing = false;

/* rounds until the queue is empty; false when the worker is to exit */
static bool
push_all(void)
{
	for (;;)
	{
		int			taken;
		PushOutcome o = push_round(&taken);

		if (o == PUSH_GONE || o == PUSH_DISPLACED)
			return false;
		if (o == PUSH_EMPTY)
			return true;
		last_work = GetCurrentTimestamp();
		if (taken < PUSH_BATCH)
			return true;
		CHECK_FOR_INTERRUPTS();
	}
}

/*
 * Push what is queued; a failure is logged (once, then at most every
 * minute while it lasts), recorded in lagbid.push_worker and retried
 * after a back-off.  Returns false when the worker is to exit.
 */
static bool
attempt(MemoryContext cxt, Oid dboid)
{
	MemoryContext old = MemoryContextSwitchTo(cxt);
	volatile bool keep = true;

	PG_TRY();
	{
		keep = push_all();
		if (failing)
			ereport(LOG,
					(errmsg("lagbid push worker of database %u pushes again", dboid)));
		failing = false;
		retry_ms = PUSH_RETRY_MIN_MS;
	}
	PG_CATCH();
	{
		ErrorData  *edata;
		TimestampTz now;

		MemoryContextSwitchTo(cxt);
		edata = CopyErrorData();
		FlushErrorState();
		AbortCurrentTransaction();
		now = GetCurrentTimestamp();
		if (!failing || TimestampDifferenceExceeds(last_logged, now, PUSH_LOG_EVERY_MS))
		{
			ereport(LOG,
					(errmsg("lagbid push worker of database %u could not push: %s",
							dboid, edata->message),
					 errdetail("The ids stay queued in lagbid.push_queue; the worker tries again in %d ms.",
							   retry_ms)));
			last_logged = now;
		}
		record_failure(edata->message, edata->sqlerrcode == ERRCODE_PROGRAM_LIMIT_EXCEEDED);
		failing = true;
		retry_at = TimestampTzPlusMilliseconds(now, retry_ms);
		retry_ms = Min(retry_ms * 2, PUSH_RETRY_MAX_MS);
	}
	PG_END_TRY();
	MemoryContextSwitchTo(old);
	MemoryContextReset(cxt);
	return keep;
}

void
lagbid_push_worker_main(Datum arg)
{
	Oid			dboid = DatumGetObjectId(arg);
	Oid			role;
	MemoryContext cxt;

	memcpy(&role, MyBgworkerEntry->bgw_extra, sizeof(Oid));
	pqsignal(SIGHUP, SignalHandlerForConfigReload);
	pqsignal(SIGTERM, die);
	BackgroundWorkerUnblockSignals();
	BackgroundWorkerInitializeConnectionByOid(dboid, role, 0);
	pgstat_report_appname(LAGBID_PUSH_BACKEND_TYPE);

	/* the pushes are hints, re-sent after a crash: never wait for the disk */
	SetConfigOption("synchronous_commit", "off", PGC_SUSET, PGC_S_OVERRIDE);
	SetConfigOption("search_path", "pg_catalog, pg_temp", PGC_SUSET, PGC_S_OVERRIDE);
	SetConfigOption("statement_timeout", "30s", PGC_SUSET, PGC_S_OVERRIDE);
	SetConfigOption("lock_timeout", "10s", PGC_SUSET, PGC_S_OVERRIDE);
	SetConfigOption("idle_in_transaction_session_timeout", "0", PGC_SUSET, PGC_S_OVERRIDE);

	cxt = AllocSetContextCreate(TopMemoryContext, "lagbid push", ALLOCSET_DEFAULT_SIZES);

	if (!claim())
		proc_exit(0);
	ereport(DEBUG1, (errmsg("lagbid push worker started for database %u", dboid)));
	last_work = GetCurrentTimestamp();

	for (;;)
	{
		TimestampTz now;
		long		timeout_ms;

		CHECK_FOR_INTERRUPTS();
		if (ConfigReloadPending)
		{
			ConfigReloadPending = false;
			ProcessConfigFile(PGC_SIGHUP);
		}

		if (GetCurrentTimestamp() >= retry_at && !attempt(cxt, dboid))
			break;

		now = GetCurrentTimestamp();
		if (!failing && lagbid_push_idle_timeout > 0 &&
			TimestampDifferenceExceeds(last_work, now, lagbid_push_idle_timeout * 1000))
		{
			release();
			break;
		}
		if (failing)
		{
			/* wait out the back-off: a commit's wake does not shorten it */
			timeout_ms = Max(1, (long) ((retry_at - now) / 1000));
		}
		else
			timeout_ms = lagbid_push_poll_interval;

		(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
						 timeout_ms, PG_WAIT_EXTENSION);
		ResetLatch(MyLatch);
	}
	proc_exit(0);
}
