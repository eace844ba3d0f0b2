/*-------------------------------------------------------------------------
 *
 * spi_plans.c
 *	  SPI helpers: statements prepared once per backend and kept
 *	  (SPI_keepplan), executed with argument arrays, and small readers of
 *	  the result.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/detoast.h"
#include "executor/spi.h"
#include "utils/builtins.h"
#include "utils/memutils.h"

#include "lagbid.h"
#include "errors.h"

void
lagbid_connect(void)
{
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "lagbid: SPI_connect failed");
}

void
lagbid_finish(void)
{
	if (SPI_finish() != SPI_OK_FINISH)
		elog(ERROR, "lagbid: SPI_finish failed");
}

SPIPlanPtr
lagbid_plan(LagbidPlan *p)
{
	if (p->plan == NULL)
	{
		SPIPlanPtr	plan;

		plan = SPI_prepare_cursor(p->sql, p->nargs, p->argtypes,
								  p->custom_plans ? 0 : CURSOR_OPT_GENERIC_PLAN);

		if (plan == NULL)
			elog(ERROR, "lagbid: SPI_prepare failed for \"%s\": %s",
				 p->sql, SPI_result_code_string(SPI_result));
		if (SPI_keepplan(plan) != 0)
			elog(ERROR, "lagbid: SPI_keepplan failed");
		p->plan = plan;
	}
	return p->plan;
}

/*
 * Inside a lagbid_api call a wait for a row lock is bounded by
 * lagbid.api_lock_timeout (api_guard.c); PostgreSQL's lock_not_available
 * (55P03, which PostgREST answers with 500) becomes LB321, a 409 the caller
 * may retry.  Outside the API (the platform, the tick and its NOWAIT
 * prelocks) errors pass unchanged.
 */
static int
execute_api(LagbidPlan *p, Datum *values, const char *nulls, bool read_only,
			long count)
{
	MemoryContext cxt = CurrentMemoryContext;
	int			rc = 0;

	PG_TRY();
	{
		rc = SPI_execute_plan(lagbid_plan(p), values, nulls, read_only, count);
	}
	PG_CATCH();
	{
		ErrorData  *e;

		MemoryContextSwitchTo(cxt);
		e = CopyErrorData();
		if (e->sqlerrcode != ERRCODE_LOCK_NOT_AVAILABLE)
			PG_RE_THROW();
		FlushErrorState();
		lagbid_raise(LB_MARKET_BUSY,
					 psprintf("The call waited lagbid.api_lock_timeout (%d ms) for it.",
							  lagbid_api_lock_timeout),
					 "Nothing was changed; retry in a moment.",
					 "a market row this call needs is locked by another transaction");
	}
	PG_END_TRY();
	return rc;
}

int
lagbid_exec(LagbidPlan *p, Datum *values, const char *nulls, bool read_only,
			long count)
{
	int			rc = lagbid_api_errors ? execute_api(p, values, nulls, read_only, count)
		: SPI_execute_plan(lagbid_plan(p), values, nulls, read_only, count);

	if (rc < 0)
		elog(ERROR, "lagbid: SPI_execute_plan failed for \"%s\": %s",
			 p->sql, SPI_result_code_string(rc));
	return rc;
}

bool
lagbid_result_int64(int col, int64 *out)
{
	bool		isnull;
	Datum		d;

	if (SPI_processed == 0)
		return false;
	d = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, col, &isnull);
	if (isnull)
		return false;
	*out = DatumGetInt64(d);
	return true;
}

Datum
lagbid_result_datum(int row, int col, bool *isnull)
{
	return SPI_getbinval(SPI_tuptable->vals[row], SPI_tuptable->tupdesc, col, isnull);
}

/*
 * Convert a text argument to a C string, refusing values longer than maxlen
 * bytes (before detoasting the whole value where possible) or not valid in
 * the server encoding.
 */
char *
lagbid_text_to_cstring_limited(text *t, int maxlen, const char *what)
{
	Size		len = toast_raw_datum_size(PointerGetDatum(t)) - VARHDRSZ;
	char	   *s;

	if (len > (Size) maxlen)
		lagbid_raise(LB_INPUT_TOO_LARGE, NULL, NULL,
					 "%s is %zu bytes long, longer than the limit of %d",
					 what, len, maxlen);
	s = text_to_cstring(t);
	return s;
}
