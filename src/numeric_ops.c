/*-------------------------------------------------------------------------
 *
 * numeric_ops.c
 *	  Small arithmetic on numeric Datums for the market modules (prices,
 *	  hours and money are numeric end to end: no float rounding).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "fmgr.h"
#include "utils/builtins.h"
#include "utils/numeric.h"

#include "market.h"

int
lagbid_num_cmp(Datum a, Datum b)
{
	return DatumGetInt32(DirectFunctionCall2(numeric_cmp, a, b));
}

Datum
lagbid_num_add(Datum a, Datum b)
{
	return DirectFunctionCall2(numeric_add, a, b);
}

Datum
lagbid_num_sub(Datum a, Datum b)
{
	return DirectFunctionCall2(numeric_sub, a, b);
}

Datum
lagbid_num_mul(Datum a, Datum b)
{
	return DirectFunctionCall2(numeric_mul, a, b);
}

Datum
lagbid_num_int(int64 v)
{
	return DirectFunctionCall1(int8_numeric, Int64GetDatum(v));
}

char *
lagbid_num_text(Datum a)
{
	return DatumGetCString(DirectFunctionCall1(numeric_out, a));
}
