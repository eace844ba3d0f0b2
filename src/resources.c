/*-------------------------------------------------------------------------
 *
 * resources.c
 *	  Validation of what tasks and providers announce: the resources JSON
 *	  object (cpu, memory_gb, storage_gb, gpu, gpu_count; its rules are
 *	  src/rules/resource_rules.c, which the agent compiles too), regions
 *	  (src/rules/regions.c), names, and numeric arguments (no NULL, NaN or
 *	  infinity where money or hours are concerned).
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
#include "rules/resource_rules.h"

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

/*
 * An amount's rule (src/rules/resource_rules.c, which the agent compiles
 * too) on numeric_out's text of a jsonb number; returns the numeric.
 */
static Datum
resource_amount(JsonbValue *v, const char *key, const char *what, int *gpu_count)
{
	char	   *text;
	const char *why;

	if (v->type != jbvNumeric)
		lagbid_raise(LB_INVALID_RESOURCES, NULL,
					 "Resources is an object such as {\"cpu\": 4, \"memory_gb\": 16}.",
					 "%s: \"%s\" must be a number", what, key);
	text = DatumGetCString(DirectFunctionCall1(numeric_out, NumericGetDatum(v->val.numeric)));
	if (gpu_count)
		why = lagbid_res_gpu_count_rule(text, strlen(text), gpu_count);
	else
		why = lagbid_res_amount_rule(text, strlen(text));
	if (why)
		lagbid_raise(LB_INVALID_RESOURCES, NULL, NULL, "%s: \"%s\" %s", what, key, why);
	pfree(text);
	return NumericGetDatum(v->val.numeric);
}

void
lagbid_parse_resources(Jsonb *jb, const char *what, LagbidResources *out)
{
	JsonbIterator *it;
	JsonbValue	v;
	JsonbIteratorToken tok;
	LagbidResKey key = LAGBID_RES_UNKNOWN;
	const char *name = NULL;

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
			key = lagbid_res_key(v.val.string.val, v.val.string.len);
			if (key == LAGBID_RES_UNKNOWN)
				lagbid_raise(LB_INVALID_RESOURCES, NULL, LAGBID_RES_KEYS_HINT,
							 "%s: unknown key \"%s\"", what,
							 v.val.string.len > 64 ? "(a long key)" :
							 pnstrdup(v.val.string.val, v.val.string.len));
			name = pnstrdup(v.val.string.val, v.val.string.len);
			continue;
		}
		if (tok != WJB_VALUE)
			continue;

		/* JSON null means "not stated", like a missing key */
		if (v.type == jbvNull)
			continue;
		switch (key)
		{
			case LAGBID_RES_CPU:
				out->cpu = resource_amount(&v, name, what, NULL);
				break;
			case LAGBID_RES_MEMORY_GB:
				out->memory_gb = resource_amount(&v, name, what, NULL);
				break;
			case LAGBID_RES_STORAGE_GB:
				out->storage_gb = resource_amount(&v, name, what, NULL);
				break;
			case LAGBID_RES_GPU:
				{
					const char *why;

					why = v.type != jbvString ? lagbid_res_gpu_rule(NULL, 0) :
						lagbid_res_gpu_rule(v.val.string.val, v.val.string.len);
					if (why)
						lagbid_raise(LB_INVALID_RESOURCES, NULL, NULL,
									 "%s: \"gpu\" %s", what, why);
					out->gpu = pnstrdup(v.val.string.val, v.val.string.len);
					break;
				}
			case LAGBID_RES_GPU_COUNT:
				{
					int			count;

					(void) resource_amount(&v, name, what, &count);
					out->gpu_count = count;
					break;
				}
			case LAGBID_RES_UNKNOWN:
				break;
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
