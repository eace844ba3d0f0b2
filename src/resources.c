/*-------------------------------------------------------------------------
 *
 * resources.c
 *	  Validation of what tasks and providers announce: the resources JSON
 *	  object (cpu, memory_gb, storage_gb, gpu, gpu_count), regions and their
 *	  prefix matching (market rule 4), names, and numeric arguments (no NULL,
 *	  NaN or infinity where money or hours are concerned).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "fmgr.h"
#include "utils/builtins.h"
#include "utils/jsonb.h"
#include "utils/numeric.h"

#include "lagbid.h"
#include "errors.h"
#include "market.h"

#define MAX_GPU_NAME 64
#define MAX_GPU_COUNT 1024
#define MAX_NAME 128

static Datum
numeric_zero(void)
{
	return DirectFunctionCall1(int4_numeric, Int32GetDatum(0));
}

static int
numeric_sign_of(Datum n)
{
	return DatumGetInt32(DirectFunctionCall2(numeric_cmp, n, numeric_zero()));
}

static bool
numeric_not_finite(Numeric n)
{
	if (numeric_is_nan(n))
		return true;
#if PG_VERSION_NUM >= 140000
	if (numeric_is_inf(n))
		return true;
#endif
	return false;
}

/* |n| > 10^15 */
static bool
numeric_is_huge(Datum n)
{
	Datum		limit = DirectFunctionCall1(int8_numeric, Int64GetDatum(INT64CONST(1000000000000000)));

	return DatumGetInt32(DirectFunctionCall2(numeric_cmp,
											 DirectFunctionCall1(numeric_abs, n), limit)) > 0;
}

Datum
lagbid_check_numeric(Datum value, bool isnull, const char *arg, bool allow_zero)
{
	int			sign;

	if (isnull)
		lagbid_raise(LB_INVALID_ARGUMENT, NULL, NULL, "%s must not be NULL", arg);
	if (numeric_not_finite(DatumGetNumeric(value)))
		lagbid_raise(LB_INVALID_ARGUMENT, NULL, NULL,
					 "%s must be a finite number, not %s", arg,
					 DatumGetCString(DirectFunctionCall1(numeric_out, value)));
	sign = numeric_sign_of(value);
	if (sign < 0 || (sign == 0 && !allow_zero))
		lagbid_raise(LB_INVALID_ARGUMENT, NULL, NULL,
					 "%s must be %s%s", arg,
					 allow_zero ? "zero or more" : "greater than zero",
					 numeric_is_huge(value) ? "" :
					 psprintf(", not %s", DatumGetCString(DirectFunctionCall1(numeric_out, value))));
	/* a bound on every amount lagbid takes, so that no message echoes a huge number */
	if (numeric_is_huge(value))
		lagbid_raise(LB_INVALID_ARGUMENT, NULL, NULL,
					 "%s must be at most 10^15", arg);
	return value;
}

static Datum
resource_amount(JsonbValue *v, const char *key, const char *what)
{
	Datum		d;

	if (v->type != jbvNumeric)
		lagbid_raise(LB_INVALID_RESOURCES, NULL,
					 "Resources is an object such as {\"cpu\": 4, \"memory_gb\": 16}.",
					 "%s: \"%s\" must be a number", what, key);
	d = NumericGetDatum(v->val.numeric);
	if (numeric_sign_of(d) < 0)
		lagbid_raise(LB_INVALID_RESOURCES, NULL, NULL,
					 "%s: \"%s\" must not be negative", what, key);
	/* one million cores, exabytes: anything larger is a typo */
	if (DatumGetInt32(DirectFunctionCall2(numeric_cmp, d,
										  DirectFunctionCall1(int8_numeric, Int64GetDatum(INT64CONST(1000000000000))))) > 0)
		lagbid_raise(LB_INVALID_RESOURCES, NULL, NULL,
					 "%s: \"%s\" is larger than 1e12", what, key);
	return d;
}

void
lagbid_parse_resources(Jsonb *jb, const char *what, LagbidResources *out)
{
	JsonbIterator *it;
	JsonbValue	v;
	JsonbIteratorToken tok;
	char	   *key = NULL;

	out->cpu = numeric_zero();
	out->memory_gb = out->cpu;
	out->storage_gb = out->cpu;
	out->gpu = NULL;
	out->gpu_count = 0;

	if (jb == NULL)
		return;
	if (!JB_ROOT_IS_OBJECT(jb))
		lagbid_raise(LB_INVALID_RESOURCES, NULL,
					 "Resources is an object such as {\"cpu\": 4, \"memory_gb\": 16}.",
					 "%s must be a JSON object", what);

	it = JsonbIteratorInit(&jb->root);
	while ((tok = JsonbIteratorNext(&it, &v, true)) != WJB_DONE)
	{
		if (tok == WJB_KEY)
		{
			key = pnstrdup(v.val.string.val, v.val.string.len);
			if (strcmp(key, "cpu") != 0 && strcmp(key, "memory_gb") != 0 &&
				strcmp(key, "storage_gb") != 0 && strcmp(key, "gpu") != 0 &&
				strcmp(key, "gpu_count") != 0)
				lagbid_raise(LB_INVALID_RESOURCES, NULL,
							 "The keys are cpu, memory_gb, storage_gb, gpu and gpu_count.",
							 "%s: unknown key \"%s\"", what,
							 v.val.string.len > 64 ? "(a long key)" : key);
			continue;
		}
		if (tok != WJB_VALUE)
			continue;

		/* JSON null means "not stated", like a missing key */
		if (v.type == jbvNull)
			continue;
		if (strcmp(key, "cpu") == 0)
			out->cpu = resource_amount(&v, key, what);
		else if (strcmp(key, "memory_gb") == 0)
			out->memory_gb = resource_amount(&v, key, what);
		else if (strcmp(key, "storage_gb") == 0)
			out->storage_gb = resource_amount(&v, key, what);
		else if (strcmp(key, "gpu") == 0)
		{
			if (v.type != jbvString || v.val.string.len == 0 ||
				v.val.string.len > MAX_GPU_NAME)
				lagbid_raise(LB_INVALID_RESOURCES, NULL, NULL,
							 "%s: \"gpu\" must be a model name of 1 to %d bytes",
							 what, MAX_GPU_NAME);
			out->gpu = pnstrdup(v.val.string.val, v.val.string.len);
			for (int i = 0; i < v.val.string.len; i++)
				if ((unsigned char) out->gpu[i] < 0x20 || out->gpu[i] == 0x7f)
					lagbid_raise(LB_INVALID_RESOURCES, NULL, NULL,
								 "%s: \"gpu\" must not contain control characters", what);
		}
		else
		{
			Datum		d = resource_amount(&v, key, what);
			Datum		truncated = DirectFunctionCall2(numeric_trunc, d, Int32GetDatum(0));

			if (!DatumGetBool(DirectFunctionCall2(numeric_eq, d, truncated)) ||
				DatumGetInt32(DirectFunctionCall2(numeric_cmp, d,
												  DirectFunctionCall1(int4_numeric, Int32GetDatum(MAX_GPU_COUNT)))) > 0)
				lagbid_raise(LB_INVALID_RESOURCES, NULL, NULL,
							 "%s: \"gpu_count\" must be a whole number from 0 to %d",
							 what, MAX_GPU_COUNT);
			out->gpu_count = DatumGetInt32(DirectFunctionCall1(numeric_int4, d));
		}
	}
}

/* the rule is src/rules/regions.c, which the agent compiles too */
void
lagbid_check_region(const char *region, bool allow_null)
{
	if (region == NULL)
	{
		if (!allow_null)
			lagbid_raise(LB_INVALID_REGION, NULL, NULL, "region must not be NULL");
		return;
	}
	if (lagbid_region_rule(region) != NULL)
		lagbid_raise(LB_INVALID_REGION, NULL,
					 "A region is lower-case words joined by hyphens, such as \"eu\" or \"eu-west-1\" (at most 64 bytes).",
					 "invalid region \"%s\"", strlen(region) > LAGBID_REGION_MAX_LEN ? "(too long)" : region);
}

void
lagbid_check_name(const char *name, const char *what)
{
	size_t		len;
	const unsigned char *p;

	if (name == NULL)
		lagbid_raise(LB_INVALID_ARGUMENT, NULL, NULL, "%s must not be NULL", what);
	len = strlen(name);
	if (len == 0 || len > MAX_NAME)
		lagbid_raise(LB_INVALID_ARGUMENT, NULL, NULL,
					 "%s must be 1 to %d bytes long, not %zu", what, MAX_NAME, len);
	for (p = (const unsigned char *) name; *p; p++)
		if (*p < 0x20 || *p == 0x7f)
			lagbid_raise(LB_INVALID_ARGUMENT, NULL, NULL,
						 "%s must not contain control characters", what);
}

void
lagbid_check_price_range(Datum price_min, Datum price_max)
{
	if (DatumGetInt32(DirectFunctionCall2(numeric_cmp, price_max,
										  DirectFunctionCall1(int8_numeric,
															  Int64GetDatum(INT64CONST(1000000000000))))) > 0)
		lagbid_raise(LB_INVALID_PRICE_RANGE, NULL, NULL,
					 "price_max %s is above the limit of 1000000000000",
					 DatumGetCString(DirectFunctionCall1(numeric_out, price_max)));
	if (DatumGetInt32(DirectFunctionCall2(numeric_cmp, price_min, price_max)) > 0)
		lagbid_raise(LB_INVALID_PRICE_RANGE,
					 psprintf("price_min is %s and price_max is %s.",
							  DatumGetCString(DirectFunctionCall1(numeric_out, price_min)),
							  DatumGetCString(DirectFunctionCall1(numeric_out, price_max))),
					 "A bid's ask must lie in [price_min, price_max].",
					 "price_min must not be greater than price_max");
}
