/*-------------------------------------------------------------------------
 *
 * push.c
 *	  The market's side of the push (issue 19 defect 7b): a market
 *	  transaction never sends NOTIFY.  What listeners are to be told (a
 *	  notification id on channel "lagbid", the id of a task opened for bids
 *	  on channel "lagbid_tasks") is queued in lagbid.push_queue by the same
 *	  statement that writes the row it names, and the database's push worker
 *	  (push_worker.c) sends the NOTIFYs after the commit.  This file decides
 *	  which of the two the schema has, keeps the worker's process id, starts
 *	  the worker when there is none, and wakes it at commit.
 *
 *	  Waking it cannot fail and cannot wait: a transaction callback, after
 *	  the commit, looks the worker's PGPROC up by its pid (kept from
 *	  lagbid.push_worker, read at most once per transaction and only when
 *	  the kept pid is no longer a live push worker of this database) and
 *	  sets its latch.  When that process has gone, the callback registers a
 *	  new dynamic background worker (no catalog access, no allocation).  A
 *	  wake that is lost costs at most the worker's poll interval: the queued
 *	  rows are durable.  No shared_preload_libraries entry is needed.
 *
 *	  A schema from before 0.4 (no lagbid.push_queue: the new library with
 *	  a database not yet updated) keeps the old behaviour: NOTIFY in the
 *	  transaction, delivered at its commit.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "catalog/namespace.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "postmaster/bgworker.h"
#include "storage/latch.h"
#include "storage/proc.h"
#include "storage/procarray.h"
#include "utils/inval.h"
#include "utils/lsyscache.h"

#include "lagbid.h"
#include "market.h"
#include "push.h"

/* whether the schema has lagbid.push_queue: -1 unknown, else 0/1 */
static int	queue_state = -1;
static Oid	queue_relid = InvalidOid;
static bool relcache_callback_registered = false;

/* the push worker as this backend last knew it */
static int	worker_pid = 0;
static Oid	worker_role = InvalidOid;

/* this transaction queued a push (wake the worker at commit) */
static bool wake_at_commit = false;
static bool checked_this_xact = false;
static bool xact_callback_registered = false;

static void
forget_queue(Datum arg, Oid relid)
{
	if (relid == InvalidOid || relid == queue_relid || !OidIsValid(queue_relid))
		queue_state = -1;
}

bool
lagbid_push_queued(void)
{
	if (queue_state < 0)
	{
		Oid			nsp = get_namespace_oid("lagbid", true);

		if (!relcache_callback_registered)
		{
			CacheRegisterRelcacheCallback(forget_queue, (Datum) 0);
			relcache_callback_registered = true;
		}
		queue_relid = OidIsValid(nsp) ? get_relname_relid("push_queue", nsp) : InvalidOid;
		queue_state = OidIsValid(queue_relid);
	}
	return queue_state == 1;
}

/*
 * Whether pid is a live background worker connected to this database (the
 * push worker, unless its pid was reused by another worker of this
 * database, which costs at most a poll interval).  Takes ProcArrayLock
 * shared; never fails.
 */
static bool
worker_alive(int pid)
{
	PGPROC	   *proc;

	if (pid == 0)
		return false;
	proc = BackendPidGetProc(pid);
	return proc != NULL && proc->isBackgroundWorker && proc->databaseId == MyDatabaseId;
}

/*
 * Register this database's push worker (a dynamic background worker that
 * connects as role).  Returns false when no slot is free
 * (max_worker_processes); the queued rows wait for the next attempt.  No
 * catalog access and no allocation: safe in the commit callback.
 */
static bool
start_worker(Oid role)
{
	BackgroundWorker w;

	memset(&w, 0, sizeof(w));
	w.bgw_flags = BGWORKER_SHMEM_ACCESS | BGWORKER_BACKEND_DATABASE_CONNECTION;
	w.bgw_start_time = BgWorkerStart_RecoveryFinished;
	w.bgw_restart_time = BGW_NEVER_RESTART;
	strlcpy(w.bgw_library_name, "lagbid", BGW_MAXLEN);
	strlcpy(w.bgw_function_name, "lagbid_push_worker_main", BGW_MAXLEN);
	snprintf(w.bgw_name, BGW_MAXLEN, "lagbid push worker for database %u", MyDatabaseId);
	strlcpy(w.bgw_type, LAGBID_PUSH_BACKEND_TYPE, BGW_MAXLEN);
	w.bgw_main_arg = ObjectIdGetDatum(MyDatabaseId);
	memcpy(w.bgw_extra, &role, sizeof(Oid));
	w.bgw_notify_pid = 0;
	return RegisterDynamicBackgroundWorker(&w, NULL);
}

static void
push_xact_callback(XactEvent event, void *arg)
{
	switch (event)
	{
		case XACT_EVENT_COMMIT:
			if (wake_at_commit)
			{
				PGPROC	   *proc = worker_pid ? BackendPidGetProc(worker_pid) : NULL;

				if (proc != NULL && proc->isBackgroundWorker && proc->databaseId == MyDatabaseId)
					SetLatch(&proc->procLatch);
				else if (worker_pid != 0 && OidIsValid(worker_role))
				{
					/* it has gone since we looked: a new one drains at start */
					worker_pid = 0;
					(void) start_worker(worker_role);
				}
			}
			wake_at_commit = false;
			checked_this_xact = false;
			break;
		case XACT_EVENT_ABORT:
		case XACT_EVENT_PREPARE:
			/* prepared: the worker's poll finds the rows after COMMIT PREPARED */
			wake_at_commit = false;
			checked_this_xact = false;
			break;
		default:
			break;
	}
}

static LagbidPlan worker_plan = {
	"SELECT w.pid, e.extowner FROM lagbid.push_worker w, pg_catalog.pg_extension e "
	"WHERE w.id = 1 AND e.extname = 'lagbid'",
	0, {InvalidOid}
};

/*
 * Make sure a push worker runs for this database: the kept pid if it is
 * still a live worker here, else the one lagbid.push_worker names, else a
 * new one.  Inside a transaction (SPI).  Never raises for a worker that
 * cannot start: the rows stay queued, tick() and the next commit try again.
 */
static void
ensure_worker(void)
{
	bool		isnull;
	int			pid = 0;

	if (worker_alive(worker_pid))
		return;
	lagbid_connect();
	lagbid_exec(&worker_plan, NULL, NULL, true, 1);
	if (SPI_processed == 1)
	{
		Datum		d = lagbid_result_datum(0, 1, &isnull);

		pid = isnull ? 0 : DatumGetInt32(d);
		d = lagbid_result_datum(0, 2, &isnull);
		if (!isnull)
			worker_role = DatumGetObjectId(d);
	}
	lagbid_finish();
	if (worker_alive(pid))
	{
		worker_pid = pid;
		return;
	}
	worker_pid = 0;
	if (!OidIsValid(worker_role))
		return;
	if (!start_worker(worker_role))
		ereport(LOG,
				(errmsg("lagbid: could not start the push worker of database %u", MyDatabaseId),
				 errdetail("No background worker slot is free; the queued pushes wait for the next commit or tick()."),
				 errhint("Raise max_worker_processes.")));
}

void
lagbid_push_note(void)
{
	if (!xact_callback_registered)
	{
		RegisterXactCallback(push_xact_callback, NULL);
		xact_callback_registered = true;
	}
	wake_at_commit = true;
	if (!checked_this_xact)
	{
		checked_this_xact = true;
		ensure_worker();
	}
}

static LagbidPlan pending_plan = {
	"SELECT EXISTS (SELECT 1 FROM lagbid.push_queue)",
	0, {InvalidOid}
};

void
lagbid_push_kick(void)
{
	bool		pending = false;

	if (!lagbid_push_queued())
		return;
	lagbid_connect();
	lagbid_exec(&pending_plan, NULL, NULL, true, 1);
	if (SPI_processed == 1)
	{
		bool		isnull;
		Datum		d = lagbid_result_datum(0, 1, &isnull);

		pending = !isnull && DatumGetBool(d);
	}
	lagbid_finish();
	if (pending)
		lagbid_push_note();
}
