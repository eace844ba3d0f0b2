/*-------------------------------------------------------------------------
 *
 * resource_rules_test.c
 *	  Unit tests of src/rules/resource_rules.c (the resources rules the
 *	  extension and lagbid-agent share), printing TAP: the number grammar,
 *	  the amount and gpu_count rules at their edges (huge values, many
 *	  decimals, e notation, negative zero, NaN and Infinity), the keys, the
 *	  coverage rule, and a differential test of the exact comparison against
 *	  128-bit integer arithmetic over many texts of the same values.
 *
 *-------------------------------------------------------------------------
 */
#include "resource_rules.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int	tests,
			failures;

static void ok(bool cond, const char *fmt,...) __attribute__((format(printf, 2, 3)));

static void
ok(bool cond, const char *fmt,...)
{
	va_list		ap;

	tests++;
	if (!cond)
		failures++;
	printf("%s %d - ", cond ? "ok" : "not ok", tests);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
}

static const char *
rule(const char *s)
{
	return lagbid_res_amount_rule(s, strlen(s));
}

static bool
rule_is(const char *s, const char *want)
{
	const char *got = rule(s);

	if (want == NULL)
		return got == NULL;
	return got != NULL && strcmp(got, want) == 0;
}

static int
cmp(const char *a, const char *b)
{
	return lagbid_res_amount_cmp(a, strlen(a), b, strlen(b));
}

static const char *
count_rule(const char *s, int *n)
{
	return lagbid_res_gpu_count_rule(s, strlen(s), n);
}

static char *
repeat(char c, size_t n, const char *prefix, const char *suffix)
{
	size_t		lp = strlen(prefix),
				ls = strlen(suffix);
	char	   *s = malloc(lp + n + ls + 1);

	memcpy(s, prefix, lp);
	memset(s + lp, c, n);
	memcpy(s + lp + n, suffix, ls + 1);
	return s;
}

static void
test_grammar(void)
{
	const char *numbers[] = {"0", "-0", "1", "10", "1.5", "0.05", "1e3", "1E3", "1e+3", "1e-3",
	"2.50e-1", "-1", "-0.0", "0e99", "1000000000000", NULL};
	const char *not_numbers[] = {"", "NaN", "nan", "Infinity", "-Infinity", "inf", "+1", "01",
		"-01", "1.", ".5", "1e", "1e+", "--1", " 1", "1 ", "1,5", "0x10", "1.5.5", "1e3.5",
	"\"1\"", "true", "null", "1\n", NULL};
	bool		all = true;

	for (int i = 0; numbers[i]; i++)
		all &= lagbid_res_is_number(numbers[i], strlen(numbers[i]));
	ok(all, "grammar: JSON numbers are numbers (0, -0, 1.5, 1e3, 1E+3, 2.50e-1, ...)");
	all = true;
	for (int i = 0; not_numbers[i]; i++)
	{
		bool		is = lagbid_res_is_number(not_numbers[i], strlen(not_numbers[i]));

		if (is)
			printf("# \"%s\" read as a number\n", not_numbers[i]);
		all &= !is;
	}
	ok(all, "grammar: NaN, Infinity, +1, 01, 1., .5, 1e, spaces, hex, strings are not numbers");
	ok(!lagbid_res_is_number(NULL, 0), "grammar: NULL is not a number");
	ok(lagbid_res_is_number("12", 1) && lagbid_res_is_number("1x", 1) && !lagbid_res_is_number("1x", 2),
	   "grammar: only LEN bytes are read (not NUL-terminated)");
	ok(!lagbid_res_is_number("1\0", 2), "grammar: a NUL inside LEN is not part of a number");
}

static void
test_amounts(void)
{
	char	   *s;

	ok(rule_is("0", NULL) && rule_is("4", NULL) && rule_is("0.5", NULL) && rule_is("16.25", NULL),
	   "amount: ordinary amounts pass");
	ok(rule_is("-0", NULL) && rule_is("-0.000", NULL) && rule_is("-0e10", NULL),
	   "amount: negative zero is zero, as numeric reads it");
	ok(rule_is("-1", "must not be negative") && rule_is("-0.5", "must not be negative") &&
	   rule_is("-1e-400", "must not be negative") && rule_is("-1e400", "must not be negative"),
	   "amount: negative amounts are refused as negative (before the size check, as before)");
	ok(rule_is("NaN", "must be a number") && rule_is("Infinity", "must be a number") &&
	   rule_is("-Infinity", "must be a number") && rule_is("", "must be a number"),
	   "amount: NaN and Infinity text are not numbers");
	ok(rule_is("1000000000000", NULL) && rule_is("1e12", NULL) && rule_is("1000000000000.000", NULL) &&
	   rule_is("0.000001e18", NULL) && rule_is("1E+12", NULL),
	   "amount: exactly 10^12 in every notation passes");
	ok(rule_is("1000000000000.0000000000000000000000001", "is larger than 1e12") &&
	   rule_is("1000000000001", "is larger than 1e12") && rule_is("1.0000000000001e12", "is larger than 1e12") &&
	   rule_is("1e13", "is larger than 1e12"),
	   "amount: anything above 10^12, by however little, is refused");
	ok(rule_is("1e400", "is larger than 1e12") && rule_is("1e999999999999999999999", "is larger than 1e12"),
	   "amount: huge exponents are larger than 1e12 (no overflow)");
	ok(rule_is("1e-400", NULL) && rule_is("1e-999999999999999999999", NULL),
	   "amount: tiny positive amounts pass");
	s = repeat('0', 401, "1", "");
	ok(rule_is(s, "is larger than 1e12"), "amount: 1 and 400 zeros (numeric_out of 1e400) is larger than 1e12");
	free(s);
	s = repeat('9', 12, "", "");
	ok(rule_is(s, NULL), "amount: 999999999999 passes");
	free(s);
	s = repeat('9', 5000, "999999999999.", "");
	ok(rule_is(s, NULL), "amount: 999999999999.(5000 nines) passes: below 10^12");
	free(s);
	s = repeat('0', 16000, "1000000000000.", "1");
	ok(rule_is(s, "is larger than 1e12"), "amount: 10^12 + 10^-16001 is larger than 1e12");
	free(s);
	s = repeat('0', 16000, "1000000000000.", "");
	ok(rule_is(s, NULL), "amount: 10^12 with 16000 zero decimals passes");
	free(s);
}

static void
test_compare(void)
{
	char	   *a,
			   *b;

	ok(cmp("1.5", "1.50") == 0 && cmp("1.5", "15e-1") == 0 && cmp("1500", "1.5e3") == 0 &&
	   cmp("0", "-0") == 0 && cmp("0.0", "0e7") == 0 && cmp("100", "1E2") == 0,
	   "compare: the same value in different texts is equal");
	ok(cmp("1", "2") < 0 && cmp("2", "1") > 0 && cmp("9", "10") < 0 && cmp("0.9", "0.10") > 0 &&
	   cmp("0.01", "0.1") < 0 && cmp("-1", "1") < 0 && cmp("-2", "-1") < 0 && cmp("-0.5", "0") < 0,
	   "compare: order by value, not by text");
	ok(cmp("1", "1.0000000000000000000000001") < 0 && cmp("1.0000000000000000000000001", "1") > 0,
	   "compare: a difference in the 25th decimal (past a double's precision) counts");
	ok(cmp("0.1", "0.1000000000000000055511151231257827") < 0,
	   "compare: 0.1 is below the double nearest to it");
	a = repeat('0', 3000, "2.", "1");
	b = repeat('0', 3000, "2.", "2");
	ok(cmp(a, b) < 0 && cmp(b, a) > 0 && cmp(a, a) == 0, "compare: 3000 decimals, differing in the last");
	free(a);
	free(b);
	ok(cmp("1e-400", "0") > 0 && cmp("1e-400", "2e-400") < 0 && cmp("1e-401", "1e-400") < 0,
	   "compare: tiny amounts are above zero and ordered");
	ok(cmp("NaN", "0") == 0 && cmp("x", "-1") > 0, "compare: a text that is not a number counts as zero");
}

static void
test_gpu(void)
{
	int			n = -1;
	char	   *s;

	ok(count_rule("2", &n) == NULL && n == 2, "gpu_count: 2");
	ok(count_rule("2.0", &n) == NULL && n == 2 && count_rule("2e0", &n) == NULL && n == 2 &&
	   count_rule("0.2e1", &n) == NULL && n == 2 && count_rule("200e-2", &n) == NULL && n == 2,
	   "gpu_count: 2.0, 2e0, 0.2e1, 200e-2 are the whole number 2 (numeric_trunc agrees)");
	ok(count_rule("0", &n) == NULL && n == 0 && count_rule("-0", &n) == NULL && n == 0 &&
	   count_rule("0.000", &n) == NULL && n == 0, "gpu_count: zero in any text");
	ok(count_rule("1024", &n) == NULL && n == 1024 && count_rule("1.024e3", &n) == NULL && n == 1024,
	   "gpu_count: 1024 is the most");
	ok(count_rule("1025", &n) && strstr(count_rule("1025", &n), "whole number from 0 to 1024") &&
	   count_rule("1.5", &n) && count_rule("0.5", &n) && count_rule("1024.0000001", &n) &&
	   count_rule("2147483648", &n) && count_rule("1e4", &n),
	   "gpu_count: fractions and counts above 1024 are refused");
	ok(count_rule("-1", &n) && strcmp(count_rule("-1", &n), "must not be negative") == 0 &&
	   strcmp(count_rule("1e400", &n), "is larger than 1e12") == 0 &&
	   strcmp(count_rule("NaN", &n), "must be a number") == 0,
	   "gpu_count: the amount rule comes first (negative, 1e400, NaN)");
	s = repeat('0', 2000, "3.", "");
	ok(count_rule(s, &n) == NULL && n == 3, "gpu_count: 3 with 2000 zero decimals is 3");
	free(s);
	ok(lagbid_res_gpu_rule("A100", 4) == NULL && lagbid_res_gpu_rule("a", 1) == NULL,
	   "gpu: model names pass");
	s = repeat('x', 64, "", "");
	ok(lagbid_res_gpu_rule(s, 64) == NULL, "gpu: 64 bytes pass");
	free(s);
	s = repeat('x', 65, "", "");
	ok(lagbid_res_gpu_rule(s, 65) && lagbid_res_gpu_rule("", 0) && lagbid_res_gpu_rule(NULL, 0),
	   "gpu: empty, missing and 65-byte names are refused");
	free(s);
	ok(lagbid_res_gpu_rule("a\001", 2) && strstr(lagbid_res_gpu_rule("a\x7f", 2), "control") &&
	   lagbid_res_gpu_rule("a\0b", 3), "gpu: control characters and NUL are refused");
}

static void
test_keys(void)
{
	ok(lagbid_res_key("cpu", 3) == LAGBID_RES_CPU && lagbid_res_key("memory_gb", 9) == LAGBID_RES_MEMORY_GB &&
	   lagbid_res_key("storage_gb", 10) == LAGBID_RES_STORAGE_GB && lagbid_res_key("gpu", 3) == LAGBID_RES_GPU &&
	   lagbid_res_key("gpu_count", 9) == LAGBID_RES_GPU_COUNT, "keys: the five keys");
	ok(lagbid_res_key("ram", 3) == LAGBID_RES_UNKNOWN && lagbid_res_key("CPU", 3) == LAGBID_RES_UNKNOWN &&
	   lagbid_res_key("cpu ", 4) == LAGBID_RES_UNKNOWN && lagbid_res_key("cpu\0", 4) == LAGBID_RES_UNKNOWN &&
	   lagbid_res_key("gpu_count", 3) == LAGBID_RES_GPU && lagbid_res_key("", 0) == LAGBID_RES_UNKNOWN,
	   "keys: others, other cases, and keys with a NUL or a space are unknown");
}

static void
test_shortfall(void)
{
	LagbidResText need = {"4", "16", NULL, "a100", 2};
	LagbidResText have = {"4.0", "16", "0", "A100", 2};
	const char *m;

	ok(lagbid_res_shortfall(&need, &have) == NULL, "cover: equal amounts in other texts, gpu in another case");
	have.cpu = "3.9999999999999999999999";
	m = lagbid_res_shortfall(&need, &have);
	ok(m && strcmp(m, "cpu") == 0, "cover: a cpu short by 10^-22 falls short");
	have.cpu = "8";
	have.memory_gb = "1.6e1";
	need.storage_gb = "0.0000001";
	m = lagbid_res_shortfall(&need, &have);
	ok(m && strcmp(m, "storage_gb") == 0, "cover: storage stated by the task, 0 at the provider");
	have.storage_gb = NULL;
	m = lagbid_res_shortfall(&need, &have);
	ok(m && strcmp(m, "storage_gb") == 0, "cover: storage not stated at the provider is 0");
	need.storage_gb = NULL;
	have.gpu = "H100";
	m = lagbid_res_shortfall(&need, &have);
	ok(m && strcmp(m, "gpu") == 0, "cover: another gpu model");
	have.gpu = NULL;
	m = lagbid_res_shortfall(&need, &have);
	ok(m && strcmp(m, "gpu") == 0, "cover: no gpu model");
	have.gpu = "A100";
	have.gpu_count = 1;
	m = lagbid_res_shortfall(&need, &have);
	ok(m && strcmp(m, "gpu_count") == 0, "cover: too few gpus");
	need.gpu = NULL;
	m = lagbid_res_shortfall(&need, &have);
	ok(m && strcmp(m, "gpu_count") == 0, "cover: a gpu count without a model still counts (as in bids.c)");
	need.gpu_count = 0;
	have.memory_gb = "15.99";
	have.cpu = "1";
	m = lagbid_res_shortfall(&need, &have);
	ok(m && strcmp(m, "cpu") == 0, "cover: the first shortfall is named (cpu before memory_gb)");
	{
		LagbidResText none = {NULL, NULL, NULL, NULL, 0};

		ok(lagbid_res_shortfall(&none, &none) == NULL, "cover: nothing needed, nothing offered");
	}
}

/* ---- the differential test: values m x 10^e written many ways ---- */

static uint64_t rng = 88172645463325252ULL;

static uint64_t
next_rand(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

/* m x 10^e (m >= 0) as text in form 0..4 */
static void
render(char *out, size_t cap, bool neg, long long m, int e, int form)
{
	char		digits[64];
	int			nd,
				pad = (int) (next_rand() % 3);
	const char *sign = neg ? "-" : "";

	nd = snprintf(digits, sizeof(digits), "%lld", m);
	if (m == 0)
		form = form % 2, e = e < 0 ? e : 0;	/* no "000" */
	switch (form)
	{
		case 0:					/* plain decimal, with extra trailing zeros */
		case 1:
			if (e >= 0)
			{
				int			n = snprintf(out, cap, "%s%s", sign, digits);

				for (int i = 0; i < e; i++)
					n += snprintf(out + n, cap - n, "0");
				if (form == 1 && pad)
				{
					n += snprintf(out + n, cap - n, ".");
					for (int i = 0; i < pad; i++)
						n += snprintf(out + n, cap - n, "0");
				}
			}
			else
			{
				int			point = nd + e;	/* digits before the point */
				int			n = snprintf(out, cap, "%s", sign);

				if (point <= 0)
				{
					n += snprintf(out + n, cap - n, "0.");
					for (int i = 0; i < -point; i++)
						n += snprintf(out + n, cap - n, "0");
					n += snprintf(out + n, cap - n, "%s", digits);
				}
				else
					n += snprintf(out + n, cap - n, "%.*s.%s", point, digits, digits + point);
				for (int i = 0; form == 1 && i < pad; i++)
					n += snprintf(out + n, cap - n, "0");
			}
			break;
		case 2:					/* integer mantissa, e notation */
			snprintf(out, cap, "%s%se%d", sign, digits, e);
			break;
		case 3:					/* one digit before the point, E notation */
			if (nd == 1)
				snprintf(out, cap, "%s%sE%+d", sign, digits, e);
			else
				snprintf(out, cap, "%s%c.%sE%+d", sign, digits[0], digits + 1, e + nd - 1);
			break;
		default:				/* 0.digits e notation, padded */
			snprintf(out, cap, "%s0.%s%se%d", sign, digits, pad ? "00" : "", e + nd);
			break;
	}
}

/* a x 10^ea against b x 10^eb exactly, in 128 bits (|e| <= 12, m < 10^7) */
static int
ref_cmp(__int128 a, int ea, __int128 b, int eb)
{
	int			lo = ea < eb ? ea : eb;

	for (int i = lo; i < ea; i++)
		a *= 10;
	for (int i = lo; i < eb; i++)
		b *= 10;
	return (a > b) - (a < b);
}

static void
test_differential(void)
{
	int			n = 200000,
				wrong_cmp = 0,
				wrong_rule = 0,
				wrong_count = 0;

	for (int i = 0; i < n; i++)
	{
		long long	ma = (long long) (next_rand() % 10000000),
					mb = next_rand() % 4 == 0 ? ma : (long long) (next_rand() % 10000000);
		int			ea = (int) (next_rand() % 25) - 12,
					eb = next_rand() % 4 == 0 ? ea : (int) (next_rand() % 25) - 12;
		bool		na = next_rand() % 8 == 0,
					nb = next_rand() % 8 == 0;
		char		a[128],
					b[128];
		int			want,
					got,
					count;
		__int128	va = na ? -(__int128) ma : ma,
					vb = nb ? -(__int128) mb : mb;
		const char *why,
				   *want_why;

		if (next_rand() % 16 == 0)
			ma = ma % 10, mb = ma;	/* small, often equal */
		va = na ? -(__int128) ma : ma;
		vb = nb ? -(__int128) mb : mb;
		render(a, sizeof(a), na, ma, ea, (int) (next_rand() % 5));
		render(b, sizeof(b), nb, mb, eb, (int) (next_rand() % 5));
		want = ref_cmp(va, ea, vb, eb);
		if (!lagbid_res_is_number(a, strlen(a)) || !lagbid_res_is_number(b, strlen(b)))
			printf("# not rendered as a number: \"%s\" \"%s\"\n", a, b), wrong_cmp++;
		got = cmp(a, b);
		if ((got > 0) - (got < 0) != want)
		{
			if (wrong_cmp++ < 5)
				printf("# compare \"%s\" \"%s\": %d, want %d\n", a, b, got, want);
		}
		/* the amount rule */
		if (va < 0)
			want_why = "must not be negative";
		else if (ref_cmp(va, ea, 1, 12) > 0)
			want_why = "is larger than 1e12";
		else
			want_why = NULL;
		why = rule(a);
		if ((why == NULL) != (want_why == NULL) || (why && strcmp(why, want_why) != 0))
		{
			if (wrong_rule++ < 5)
				printf("# rule \"%s\": %s, want %s\n", a, why ? why : "ok", want_why ? want_why : "ok");
		}
		/* gpu_count: whole and at most 1024 */
		if (want_why == NULL)
		{
			bool		whole = true;
			__int128	v = va;
			int			e = ea;

			for (; e < 0; e++)
			{
				if (v % 10 != 0)
					whole = false;
				v /= 10;
			}
			for (; e > 0 && v <= 1024; e--)
				v *= 10;
			why = count_rule(a, &count);
			if (whole && v <= 1024 ? (why != NULL || count != (int) v) : why == NULL)
			{
				if (wrong_count++ < 5)
					printf("# gpu_count \"%s\": %s %d\n", a, why ? why : "ok", count);
			}
		}
	}
	ok(wrong_cmp == 0, "differential: %d comparisons of values in 5 notations agree with exact integer arithmetic (%d wrong)",
	   n, wrong_cmp);
	ok(wrong_rule == 0, "differential: the amount rule agrees on the same %d texts (%d wrong)", n, wrong_rule);
	ok(wrong_count == 0, "differential: the gpu_count rule agrees (%d wrong)", wrong_count);
}

int
main(void)
{
	test_grammar();
	test_amounts();
	test_compare();
	test_gpu();
	test_keys();
	test_shortfall();
	test_differential();
	printf("1..%d\n", tests);
	return failures ? 1 : 0;
}
