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

/*
 * a / b truncated (towards zero) to `scale` decimals, exactly: the integer
 * quotient of a x 10^scale by b (numeric's div(), which never rounds up),
 * divided by 10^scale.  For b > 0 and a >= 0, b x result <= a always holds;
 * plain numeric division rounds its last digit and may give a quotient
 * whose product with b exceeds a (issue 16).
 */
Datum
lagbid_num_div_floor(Datum a, Datum b, int scale)
{
	Datum		unit = DirectFunctionCall3(numeric_in, CStringGetDatum(psprintf("1e-%d", scale)),
										   ObjectIdGetDatum(InvalidOid), Int32GetDatum(-1));
	/* q = trunc(a / (b x 10^-scale)): div() is numeric's exact truncated quotient */
	Datum		q = DirectFunctionCall2(numeric_div_trunc, a, lagbid_num_mul(b, unit));

	return DirectFunctionCall1(numeric_trim_scale, lagbid_num_mul(q, unit));
}
