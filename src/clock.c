/*-------------------------------------------------------------------------
 *
 * clock.c
 *	  The market clock.  Every deadline lagbid writes or compares is taken
 *	  from lagbid_clock_now(): the transaction's start time, or the fixed
 *	  timestamp of setting lagbid.clock (superuser only) so that tests can
 *	  move time instead of sleeping.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "fmgr.h"
#include "utils/builtins.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"

#include "lagbid.h"
#include "errors.h"

/* parsed value of lagbid.clock, valid while the setting string is the same */
static char *cached_setting = NULL;
static TimestampTz cached_value = 0;

TimestampTz
lagbid_clock_now(void)
{
	Datum		d;

	if (lagbid_clock_setting == NULL || lagbid_clock_setting[0] == '\0')
		return GetCurrentTransactionStartTimestamp();

	if (cached_setting && strcmp(cached_setting, lagbid_clock_setting) == 0)
		return cached_value;

	d = DirectFunctionCall3(timestamptz_in,
							CStringGetDatum(lagbid_clock_setting),
							ObjectIdGetDatum(InvalidOid),
							Int32GetDatum(-1));
	cached_value = DatumGetTimestampTz(d);
	if (TIMESTAMP_NOT_FINITE(cached_value))
		lagbid_raise(LB_INVALID_ARGUMENT, NULL,
					 "Set lagbid.clock to a finite timestamp, or to '' for real time.",
					 "lagbid.clock must be a finite timestamp");
	if (cached_setting)
		pfree(cached_setting);
	cached_setting = MemoryContextStrdup(TopMemoryContext, lagbid_clock_setting);
	return cached_value;
}

PG_FUNCTION_INFO_V1(lagbid_now);

Datum
lagbid_now(PG_FUNCTION_ARGS)
{
	PG_RETURN_TIMESTAMPTZ(lagbid_clock_now());
}
