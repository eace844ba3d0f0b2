/*-------------------------------------------------------------------------
 *
 * resource_rules.c
 *	  The rules of the resources object and of market rule 4's resource
 *	  part, written once and compiled into both the extension and
 *	  lagbid-agent (issue 23: the extension compared numerics and the agent
 *	  doubles, and they could disagree).  Plain C: no PostgreSQL header, no
 *	  allocation.
 *
 *	  A number is read as its decimal text and never converted: it is taken
 *	  apart into a sign, its significant digits (a span of the text, read
 *	  past the decimal point) and the power of ten of its first significant
 *	  digit, and two numbers are compared on those.  That is exact for any
 *	  length of text, as PostgreSQL's numeric is.  The exponent of an "e"
 *	  notation is read up to 10^15 in magnitude and held there beyond
 *	  (numeric refuses exponents beyond 1000, so no text that reaches the
 *	  extension comes near it; in the agent such a number is either larger
 *	  than 1e12, which the amount rule refuses, or a positive number below
 *	  any amount a provider offers).
 *
 *-------------------------------------------------------------------------
 */
#include "resource_rules.h"

#include <stdint.h>
#include <string.h>

#define EXPONENT_CAP INT64_C(1000000000000000)

/* a JSON number taken apart: value = sign 0.DDD... x 10^point */
typedef struct Decimal
{
	bool		neg;
	bool		zero;
	const char *digit;			/* first significant digit */
	const char *end;			/* end of the mantissa (before any 'e') */
	int64_t		point;			/* the power of ten of 0.DDD */
} Decimal;

static bool
is_digit(char c)
{
	return c >= '0' && c <= '9';
}

/* false when s is not a JSON number */
static bool
decimal_parse(const char *s, size_t len, Decimal *d)
{
	const char *p;
	const char *end;
	const char *int_start;
	int64_t		nint;
	int64_t		exp = 0;
	int64_t		lead = 0;		/* zero digits before the first significant one */
	bool		exp_neg = false;

	memset(d, 0, sizeof(*d));
	if (s == NULL)
		return false;
	p = s;
	end = s + len;
	if (p < end && *p == '-')
		d->neg = true, p++;
	int_start = p;
	if (p < end && *p == '0')
		p++;
	else if (p < end && *p >= '1' && *p <= '9')
		while (p < end && is_digit(*p))
			p++;
	else
		return false;
	nint = p - int_start;
	if (p < end && *p == '.')
	{
		const char *frac = ++p;

		while (p < end && is_digit(*p))
			p++;
		if (p == frac)
			return false;
	}
	d->end = p;
	if (p < end && (*p == 'e' || *p == 'E'))
	{
		const char *digits;

		p++;
		if (p < end && (*p == '+' || *p == '-'))
			exp_neg = (*p == '-'), p++;
		digits = p;
		while (p < end && is_digit(*p))
		{
			if (exp < EXPONENT_CAP)
				exp = exp * 10 + (*p - '0');
			p++;
		}
		if (p == digits)
			return false;
		if (exp > EXPONENT_CAP)
			exp = EXPONENT_CAP;
		if (exp_neg)
			exp = -exp;
	}
	if (p != end)
		return false;

	/* the first significant digit */
	for (p = int_start; p < d->end; p++)
	{
		if (*p == '.')
			continue;
		if (*p != '0')
			break;
		lead++;
	}
	if (p == d->end)
	{
		d->zero = true;
		d->neg = false;			/* -0 is 0 */
		return true;
	}
	d->digit = p;
	d->point = nint - lead + exp;
	return true;
}

/* the next significant digit at *p (past a '.'), or -1 at the end */
static int
next_digit(const char **p, const char *end)
{
	if (*p < end && **p == '.')
		(*p)++;
	if (*p >= end)
		return -1;
	return *(*p)++ - '0';
}

static int
decimal_cmp(const Decimal *a, const Decimal *b)
{
	int			sa = a->zero ? 0 : (a->neg ? -1 : 1);
	int			sb = b->zero ? 0 : (b->neg ? -1 : 1);
	int			mag = 0;
	const char *pa,
			   *pb;

	if (sa != sb)
		return sa < sb ? -1 : 1;
	if (sa == 0)
		return 0;
	if (a->point != b->point)
		mag = a->point > b->point ? 1 : -1;
	else
	{
		pa = a->digit;
		pb = b->digit;
		for (;;)
		{
			int			da = next_digit(&pa, a->end);
			int			db = next_digit(&pb, b->end);

			if (da < 0 && db < 0)
				break;
			/* a shorter text goes on with zeros */
			if (da < 0)
				da = 0;
			if (db < 0)
				db = 0;
			if (da != db)
			{
				mag = da > db ? 1 : -1;
				break;
			}
		}
	}
	return sa * mag;
}

LagbidResKey
lagbid_res_key(const char *key, size_t len)
{
	static const char *const names[] = {"cpu", "memory_gb", "storage_gb", "gpu", "gpu_count"};

	for (int i = 0; i < (int) (sizeof(names) / sizeof(names[0])); i++)
		if (strlen(names[i]) == len && memcmp(names[i], key, len) == 0)
			return (LagbidResKey) i;
	return LAGBID_RES_UNKNOWN;
}

bool
lagbid_res_is_number(const char *num, size_t len)
{
	Decimal		d;

	return decimal_parse(num, len, &d);
}

const char *
lagbid_res_amount_rule(const char *num, size_t len)
{
	Decimal		d,
				max;

	if (!decimal_parse(num, len, &d))
		return "must be a number";
	if (d.neg)
		return "must not be negative";
	decimal_parse(LAGBID_RES_MAX_AMOUNT_TEXT, strlen(LAGBID_RES_MAX_AMOUNT_TEXT), &max);
	if (decimal_cmp(&d, &max) > 0)
		return "is larger than 1e12";
	return NULL;
}

int
lagbid_res_amount_cmp(const char *a, size_t alen, const char *b, size_t blen)
{
	Decimal		da,
				db;

	if (!decimal_parse(a, alen, &da))
		decimal_parse("0", 1, &da);
	if (!decimal_parse(b, blen, &db))
		decimal_parse("0", 1, &db);
	return decimal_cmp(&da, &db);
}

const char *
lagbid_res_gpu_rule(const char *gpu, size_t len)
{
	if (gpu == NULL || len == 0 || len > LAGBID_RES_MAX_GPU_NAME)
		return "must be a model name of 1 to 64 bytes";
	for (size_t i = 0; i < len; i++)
		if ((unsigned char) gpu[i] < 0x20 || gpu[i] == 0x7f)
			return "must not contain control characters";
	return NULL;
}

const char *
lagbid_res_gpu_count_rule(const char *num, size_t len, int *count)
{
	const char *why = lagbid_res_amount_rule(num, len);
	Decimal		d;
	const char *p;
	int64_t		nsig = 0,
				seen = 0;
	int			value = 0;
	int			digit;

	*count = 0;
	if (why != NULL)
		return why;
	decimal_parse(num, len, &d);
	if (d.zero)
		return NULL;
	/* whole: no significant digit after the point */
	p = d.digit;
	while ((digit = next_digit(&p, d.end)) >= 0)
	{
		seen++;
		if (digit != 0)
			nsig = seen;
	}
	if (nsig > d.point || d.point > 4)
		return "must be a whole number from 0 to 1024";
	p = d.digit;
	for (int64_t i = 0; i < d.point; i++)
	{
		digit = next_digit(&p, d.end);
		value = value * 10 + (digit < 0 ? 0 : digit);
	}
	if (value > LAGBID_RES_MAX_GPU_COUNT)
		return "must be a whole number from 0 to 1024";
	*count = value;
	return NULL;
}

static int
amount_cmp(const char *a, const char *b)
{
	return lagbid_res_amount_cmp(a ? a : "0", a ? strlen(a) : 1, b ? b : "0", b ? strlen(b) : 1);
}

/* equal when folded to ASCII lower case (pg_strcasecmp's answer on these names) */
static bool
same_model(const char *a, const char *b)
{
	for (;; a++, b++)
	{
		unsigned char ca = (unsigned char) *a;
		unsigned char cb = (unsigned char) *b;

		if (ca >= 'A' && ca <= 'Z')
			ca += 'a' - 'A';
		if (cb >= 'A' && cb <= 'Z')
			cb += 'a' - 'A';
		if (ca != cb)
			return false;
		if (ca == '\0')
			return true;
	}
}

const char *
lagbid_res_shortfall(const LagbidResText *need, const LagbidResText *have)
{
	if (amount_cmp(have->cpu, need->cpu) < 0)
		return "cpu";
	if (amount_cmp(have->memory_gb, need->memory_gb) < 0)
		return "memory_gb";
	if (amount_cmp(have->storage_gb, need->storage_gb) < 0)
		return "storage_gb";
	if (need->gpu != NULL && (have->gpu == NULL || !same_model(need->gpu, have->gpu)))
		return "gpu";
	if (have->gpu_count < need->gpu_count)
		return "gpu_count";
	return NULL;
}
