/*-------------------------------------------------------------------------
 *
 * fuzz_resources.c
 *	  libFuzzer harness of src/rules/resource_rules.c: the number grammar,
 *	  the amount and gpu_count rules, the exact comparison and the coverage
 *	  rule, on one to three texts separated by '|'.
 *
 * Besides memory errors and undefined behaviour, it aborts when an
 * invariant breaks: a text compares equal to itself; the comparison is
 * antisymmetric and transitive; it agrees with strtod wherever the doubles
 * differ (rounding to a double never reverses an order); an accepted
 * amount lies in [0, 1e12]; an accepted gpu_count compares equal to the
 * count it yields, from 0 to 1024; the amount rule calls a text a number
 * exactly when the grammar does; and a provider covers a task's cpu
 * exactly when its amount is not less.
 *
 *-------------------------------------------------------------------------
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "resource_rules.h"

int			LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int
sign(int v)
{
	return (v > 0) - (v < 0);
}

static void
check_one(const char *s, size_t len)
{
	bool		number = lagbid_res_is_number(s, len);
	const char *why = lagbid_res_amount_rule(s, len);
	int			count = -1;
	const char *cwhy = lagbid_res_gpu_count_rule(s, len, &count);

	if (lagbid_res_amount_cmp(s, len, s, len) != 0)
		abort();
	if (number != !(why && strcmp(why, "must be a number") == 0))
		abort();
	if (why == NULL && (lagbid_res_amount_cmp(s, len, "0", 1) < 0 ||
						lagbid_res_amount_cmp(s, len, "1e12", 4) > 0))
		abort();
	if (why != NULL && (cwhy == NULL || strcmp(why, cwhy) != 0))
		abort();
	if (cwhy == NULL)
	{
		char		text[16];
		int			n = snprintf(text, sizeof(text), "%d", count);

		if (count < 0 || count > LAGBID_RES_MAX_GPU_COUNT ||
			lagbid_res_amount_cmp(s, len, text, (size_t) n) != 0)
			abort();
	}
	(void) lagbid_res_key(s, len);
	(void) lagbid_res_gpu_rule(s, len);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char	   *copy = malloc(size + 1);
	char	   *part[3];
	size_t		len[3];
	int			n = 0;
	size_t		start = 0;

	memcpy(copy, data, size);
	copy[size] = '\0';
	for (size_t i = 0; i <= size && n < 3; i++)
		if (i == size || copy[i] == '|')
		{
			part[n] = copy + start;
			len[n++] = i - start;
			copy[i] = '\0';
			start = i + 1;
		}
	for (int i = 0; i < n; i++)
		check_one(part[i], len[i]);
	if (n >= 2)
	{
		int			ab = lagbid_res_amount_cmp(part[0], len[0], part[1], len[1]);
		int			ba = lagbid_res_amount_cmp(part[1], len[1], part[0], len[0]);

		if (sign(ab) != -sign(ba))
			abort();
		/* strtod rounds monotonically: a strict order of the doubles is the order */
		if (lagbid_res_is_number(part[0], len[0]) && lagbid_res_is_number(part[1], len[1]) &&
			strlen(part[0]) == len[0] && strlen(part[1]) == len[1])
		{
			double		da = strtod(part[0], NULL),
						db = strtod(part[1], NULL);

			if ((da < db && ab >= 0) || (da > db && ab <= 0))
				abort();
		}
		/* rule 4: a provider with cpu part[1] covers a task needing part[0] */
		if (lagbid_res_is_number(part[0], len[0]) && lagbid_res_is_number(part[1], len[1]) &&
			strlen(part[0]) == len[0] && strlen(part[1]) == len[1])
		{
			LagbidResText need = {part[0], NULL, NULL, NULL, 0};
			LagbidResText have = {part[1], NULL, NULL, NULL, 0};

			if ((lagbid_res_shortfall(&need, &have) == NULL) != (ab <= 0))
				abort();
		}
		if (n == 3)
		{
			int			bc = lagbid_res_amount_cmp(part[1], len[1], part[2], len[2]);
			int			ac = lagbid_res_amount_cmp(part[0], len[0], part[2], len[2]);

			if (ab <= 0 && bc <= 0 && ac > 0)
				abort();
			if (ab >= 0 && bc >= 0 && ac < 0)
				abort();
		}
	}
	free(copy);
	return 0;
}
