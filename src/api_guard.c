/*-------------------------------------------------------------------------
 *
 * api_guard.c
 *	  How long a caller of lagbid_api may keep market rows locked (issue
 *	  19, defect 7(a)).
 *
 *	  The review's attack: a provider's own login runs BEGIN; SELECT
 *	  lagbid_api.place_bid(T, 2); SELECT pg_sleep(75); ROLLBACK.  The bid
 *	  locks task T's row until the transaction ends: other bidders and the
 *	  owner's close_bidding wait, the tick skips T, and T ends failed no_bids.
 *	  A function's own SET clause would not help (it is undone when the
 *	  function returns), and idle_in_transaction_session_timeout does not
 *	  bound pg_sleep (the session is active).  So the first lagbid_api call
 *	  of a transaction (the caller's identity is resolved first in every
 *	  call: api.c) arms, for the rest of that transaction:
 *
 *	  1. transaction-local settings, as set_config(name, value, true) makes
 *	     them (they outlive the function, until the transaction ends), each
 *	     only tightened, never loosened:
 *	       lock_timeout = lagbid.api_lock_timeout: a wait for a market row
 *	         is refused as LB321 (spi_plans.c), a 409 to retry;
 *	       statement_timeout = lagbid.api_statement_timeout: every later
 *	         statement of the transaction (the pg_sleep) is cancelled, which
 *	         aborts the transaction and releases its locks;
 *	       idle_in_transaction_session_timeout = lagbid.api_idle_timeout:
 *	         a transaction left idle is ended with its session.
 *	  2. a deadline the caller cannot lift: the settings above are the
 *	     caller's to change (SET LOCAL statement_timeout = 0), and a
 *	     statement that calls lagbid_api and then sleeps is one statement.
 *	     lagbid.api_transaction_timeout (superuser only) after the first
 *	     call, a timer of this library ends the session as
 *	     pg_terminate_backend would, unless the transaction ended first.
 *	     Such a transaction may not be prepared (PREPARE TRANSACTION would
 *	     keep its locks with no session to end).
 *
 *	  PostgREST's requests, and the agent's autocommit calls, are one short
 *	  statement each: none of this touches them.  The platform's own calls
 *	  (lagbid.*) and the tick are not guarded.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "miscadmin.h"
#include "storage/latch.h"
#include "storage/proc.h"
#include "utils/guc.h"
#include "utils/timeout.h"

#include "lagbid.h"

static TimeoutId deadline_timeout = MAX_TIMEOUTS;	/* not registered yet */
static LocalTransactionId guarded_lxid = InvalidLocalTransactionId;

/*
 * The deadline passed while the transaction that called lagbid_api is still
 * open: end the session (a signal handler: flags and the latch only, as
 * die() does).
 */
static void
deadline_reached(void)
{
	ProcDiePending = true;
	InterruptPending = true;
	SetLatch(MyLatch);
}

static bool
guarded(void)
{
	return MyProc != NULL && guarded_lxid != InvalidLocalTransactionId &&
		guarded_lxid == MyProc->lxid;
}

static void
disarm(void)
{
	if (guarded_lxid == InvalidLocalTransactionId)
		return;					/* the transaction called no lagbid_api */
	if (deadline_timeout != MAX_TIMEOUTS)
		disable_timeout(deadline_timeout, false);
	guarded_lxid = InvalidLocalTransactionId;
}

static void
guard_xact_callback(XactEvent event, void *arg)
{
	switch (event)
	{
		case XACT_EVENT_PRE_PREPARE:
			if (guarded())
				ereport(ERROR,
						(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
						 errmsg("a transaction that called lagbid_api cannot be prepared"),
						 errdetail("A prepared transaction would keep market rows locked past lagbid.api_transaction_timeout."),
						 errhint("Commit or roll it back.")));
			break;
		case XACT_EVENT_COMMIT:
		case XACT_EVENT_ABORT:
		case XACT_EVENT_PREPARE:
		case XACT_EVENT_PARALLEL_COMMIT:
		case XACT_EVENT_PARALLEL_ABORT:
			disarm();
			break;
		default:
			break;
	}
}

/* lagbid.c: once per backend, when the library is loaded */
void
lagbid_api_guard_init(void)
{
	RegisterXactCallback(guard_xact_callback, NULL);
}

/* set name to ms for the rest of the transaction, unless it is already stricter */
static void
tighten(const char *name, int current, int ms)
{
	char		value[32];

	if (ms <= 0 || (current > 0 && current <= ms))
		return;
	snprintf(value, sizeof(value), "%d", ms);
	(void) set_config_option(name, value, superuser() ? PGC_SUSET : PGC_USERSET,
							 PGC_S_SESSION, GUC_ACTION_LOCAL, true, 0, false);
}

/* lagbid.h */
void
lagbid_api_guard(void)
{
	if (MyProc == NULL || guarded())
		return;
	guarded_lxid = MyProc->lxid;
	tighten("lock_timeout", LockTimeout, lagbid_api_lock_timeout);
	tighten("statement_timeout", StatementTimeout, lagbid_api_statement_timeout);
	tighten("idle_in_transaction_session_timeout", IdleInTransactionSessionTimeout,
			lagbid_api_idle_timeout);
	if (lagbid_api_transaction_timeout > 0)
	{
		/* registered here, not in _PG_init: a library preloaded by the postmaster must not */
		if (deadline_timeout == MAX_TIMEOUTS)
			deadline_timeout = RegisterTimeout(USER_TIMEOUT, deadline_reached);
		enable_timeout_after(deadline_timeout, lagbid_api_transaction_timeout);
	}
}
