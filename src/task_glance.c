/*-------------------------------------------------------------------------
 *
 * task_glance.c
 *	  The bid herd's glance at a task (issue 22): whether the current
 *	  snapshot shows a task not accepting bids, read before place_bid takes
 *	  the task's row lock (bids.c says what is done with it).
 *
 *	  Every bid makes this read, so it is a plain index fetch of the task
 *	  row by its primary key under a fresh MVCC snapshot (the snapshot an SPI
 *	  statement would take), without planning or starting an executor: a
 *	  tenth of what the same SELECT costs through SPI.  The relation, its
 *	  primary key index, the two columns and the label's OID are looked up
 *	  once and kept until the task table's relcache entry is invalidated
 *	  (ALTER EXTENSION UPDATE, DROP EXTENSION), the pattern of
 *	  trust_terms.c.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/genam.h"
#include "access/htup_details.h"
#include "access/stratnum.h"
#include "access/table.h"
#include "catalog/namespace.h"
#include "catalog/pg_enum.h"
#include "utils/fmgroids.h"
#include "utils/inval.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"
#include "utils/snapmgr.h"
#include "utils/syscache.h"
#include "utils/timestamp.h"

#include "lagbid.h"
#include "market.h"

static Oid	task_relid = InvalidOid;
static Oid	task_pkey = InvalidOid;
static AttrNumber state_attnum = InvalidAttrNumber;
static AttrNumber deadline_attnum = InvalidAttrNumber;
static Oid	accepting_oid = InvalidOid;
static bool callback_registered = false;

static void
forget_task(Datum arg, Oid relid)
{
	if (relid == InvalidOid || relid == task_relid)
		task_relid = InvalidOid;
}

/* look the names up; false when the schema is not (yet) what we know */
static bool
resolve(void)
{
	Oid			nsp;
	Oid			relid;
	Oid			state_type;
	HeapTuple	tup;
	Relation	rel;

	if (OidIsValid(task_relid))
		return true;
	if (!callback_registered)
	{
		CacheRegisterRelcacheCallback(forget_task, (Datum) 0);
		callback_registered = true;
	}
	nsp = get_namespace_oid("lagbid", true);
	relid = OidIsValid(nsp) ? get_relname_relid("task", nsp) : InvalidOid;
	if (!OidIsValid(relid))
		return false;
	state_attnum = get_attnum(relid, "state");
	deadline_attnum = get_attnum(relid, "bidding_deadline");
	if (state_attnum == InvalidAttrNumber || deadline_attnum == InvalidAttrNumber)
		return false;
	state_type = get_atttype(relid, state_attnum);
	tup = SearchSysCache2(ENUMTYPOIDNAME, ObjectIdGetDatum(state_type),
						  CStringGetDatum("accepting_bids"));
	if (!HeapTupleIsValid(tup))
		return false;
	accepting_oid = ((Form_pg_enum) GETSTRUCT(tup))->oid;
	ReleaseSysCache(tup);
	rel = table_open(relid, AccessShareLock);
	task_pkey = RelationGetPrimaryKeyIndex(rel);
	table_close(rel, AccessShareLock);
	if (!OidIsValid(task_pkey))
		return false;
	task_relid = relid;
	return true;
}

LagbidGlance
lagbid_task_glance(int64 task_id, TimestampTz now)
{
	LagbidGlance result = GLANCE_UNKNOWN;
	Relation	rel;
	ScanKeyData key;
	SysScanDesc scan;
	Snapshot	snapshot;
	HeapTuple	tup;

	if (!resolve())
		return GLANCE_UNKNOWN;

	/* what an SPI statement would see: a new snapshot in READ COMMITTED */
	CommandCounterIncrement();
	snapshot = RegisterSnapshot(GetTransactionSnapshot());
	rel = table_open(task_relid, AccessShareLock);
	ScanKeyInit(&key, 1, BTEqualStrategyNumber, F_INT8EQ, Int64GetDatum(task_id));
	scan = systable_beginscan(rel, task_pkey, true, snapshot, 1, &key);
	tup = systable_getnext(scan);
	if (!HeapTupleIsValid(tup))
		result = GLANCE_NO_TASK;
	else
	{
		bool		isnull;
		Datum		state = heap_getattr(tup, state_attnum, RelationGetDescr(rel), &isnull);
		Datum		deadline;

		result = GLANCE_OPEN;
		if (isnull || DatumGetObjectId(state) != accepting_oid)
			result = GLANCE_CLOSED;
		else
		{
			deadline = heap_getattr(tup, deadline_attnum, RelationGetDescr(rel), &isnull);
			if (!isnull && DatumGetTimestampTz(deadline) <= now)
				result = GLANCE_CLOSED;
		}
	}
	systable_endscan(scan);
	table_close(rel, AccessShareLock);
	UnregisterSnapshot(snapshot);
	return result;
}
