/*-------------------------------------------------------------------------
 *
 * resource_rules.h
 *	  The resources object's rules, written once in plain C (no PostgreSQL
 *	  header, no libpq, no JSON library, no allocation) and compiled into
 *	  both the extension (src/resources.c at publish and registration,
 *	  src/bids.c at place_bid) and lagbid-agent (agent/policy.c): which keys
 *	  there are, what each value may be, and whether a provider's resources
 *	  cover a task's (DESIGN.md, market rule 4).
 *
 *	  Amounts are compared exactly, as the text of a JSON number (what
 *	  numeric_out prints, or what a JSON document holds): no conversion to
 *	  a binary floating or fixed point type, so that the answer is the one
 *	  PostgreSQL's numeric comparison gives for every number jsonb accepts,
 *	  however many digits it has.
 *
 *-------------------------------------------------------------------------
 */
#ifndef LAGBID_RESOURCE_RULES_H
#define LAGBID_RESOURCE_RULES_H

#include <stdbool.h>
#include <stddef.h>

/* the caps: part of the contract */
#define LAGBID_RES_MAX_AMOUNT_TEXT	"1e12"	/* cpu, memory_gb, storage_gb */
#define LAGBID_RES_MAX_GPU_NAME		64	/* bytes */
#define LAGBID_RES_MAX_GPU_COUNT	1024

/* the keys of a resources object, in the order the market checks them */
typedef enum LagbidResKey
{
	LAGBID_RES_UNKNOWN = -1,
	LAGBID_RES_CPU,
	LAGBID_RES_MEMORY_GB,
	LAGBID_RES_STORAGE_GB,
	LAGBID_RES_GPU,
	LAGBID_RES_GPU_COUNT
} LagbidResKey;

#define LAGBID_RES_KEYS_HINT "The keys are cpu, memory_gb, storage_gb, gpu and gpu_count."

/* which key KEY (LEN bytes, not NUL-terminated) is; LAGBID_RES_UNKNOWN if none */
extern LagbidResKey lagbid_res_key(const char *key, size_t len);

/*
 * Whether NUM (LEN bytes) is the text of a JSON number (RFC 8259 section 6:
 * -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)?, nothing around it; "NaN"
 * and "Infinity" are not numbers).
 */
extern bool lagbid_res_is_number(const char *num, size_t len);

/*
 * An amount (cpu, memory_gb, storage_gb): NULL when NUM is a JSON number
 * from 0 to 10^12 ("-0" is zero), else the rule it breaks as a phrase that
 * follows the key: "must be a number", "must not be negative", "is larger
 * than 1e12".
 */
extern const char *lagbid_res_amount_rule(const char *num, size_t len);

/*
 * Exact comparison of two JSON numbers (texts that lagbid_res_is_number
 * accepts): <0, 0, >0 as A is less than, equal to or greater than B; "1.50",
 * "1.5" and "15e-1" are equal.  A text that is not a number compares as
 * zero (callers check the rule first).
 */
extern int	lagbid_res_amount_cmp(const char *a, size_t alen, const char *b, size_t blen);

/* a gpu model: 1 to 64 bytes, no control character (and no NUL) */
extern const char *lagbid_res_gpu_rule(const char *gpu, size_t len);

/*
 * gpu_count: NULL when NUM is a JSON number that is a whole number from 0
 * to 1024 ("2", "2.0", "2e0"; *count gets it), else "must be a number",
 * "must not be negative", "is larger than 1e12" (the amount rule, checked
 * first) or "must be a whole number from 0 to 1024".
 */
extern const char *lagbid_res_gpu_count_rule(const char *num, size_t len, int *count);

/*
 * A side of market rule 4: the amounts as NUL-terminated JSON number
 * texts (NULL: none stated, which is 0), the gpu model (NULL: none) and
 * the gpu count.
 */
typedef struct LagbidResText
{
	const char *cpu;
	const char *memory_gb;
	const char *storage_gb;
	const char *gpu;
	int			gpu_count;
} LagbidResText;

/*
 * Market rule 4's resource part: NULL when HAVE (a provider) covers NEED
 * (a task): every amount at least the task's, the task's gpu model (if it
 * names one) the provider's, compared without regard to ASCII case, and
 * at least the task's gpu count.  Else the first key that falls short, in
 * the order "cpu", "memory_gb", "storage_gb", "gpu", "gpu_count".
 */
extern const char *lagbid_res_shortfall(const LagbidResText *need, const LagbidResText *have);

#endif							/* LAGBID_RESOURCE_RULES_H */
