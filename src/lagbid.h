/*-------------------------------------------------------------------------
 *
 * lagbid.h
 *	  Declarations shared by the lagbid modules: settings (GUCs), the
 *	  market clock, the kept-SPI-plan helper and small utilities.
 *
 *-------------------------------------------------------------------------
 */
#ifndef LAGBID_H
#define LAGBID_H

#include "postgres.h"

#include "executor/spi.h"
#include "utils/guc.h"
#include "utils/timestamp.h"

/* settings (lagbid.c) */
extern char *lagbid_clock_setting;	/* lagbid.clock */
extern int	lagbid_processing_grace_minutes;	/* lagbid.processing_grace */
extern int	lagbid_tick_batch_size; /* lagbid.tick_batch_size */
extern bool lagbid_api_errors;	/* lagbid.api_errors */
extern int	lagbid_max_allocate_ids;	/* lagbid.max_allocate_ids */
extern int	lagbid_max_result_bytes;	/* lagbid.max_result_bytes */
extern char *lagbid_authenticators;	/* lagbid.authenticators */
extern bool lagbid_require_signed_registration; /* lagbid.require_signed_registration */
extern char *lagbid_market_name;	/* lagbid.market_name */

/* api.c: check hook of lagbid.authenticators (a list of role names) */
extern bool lagbid_check_authenticators(char **newval, void **extra, GucSource source);

/* registration.c: check hook of lagbid.market_name (one line of the challenge) */
extern bool lagbid_check_market_name(char **newval, void **extra, GucSource source);
extern char *lagbid_min_task_budget_setting;	/* lagbid.min_task_budget */
extern int	lagbid_max_open_tasks_per_owner;	/* lagbid.max_open_tasks_per_owner */
extern int	lagbid_max_spaces_per_owner;	/* lagbid.max_spaces_per_owner */
extern int	lagbid_max_workload_bytes_per_owner;	/* lagbid.max_workload_bytes_per_owner */
extern int	lagbid_api_lock_timeout;	/* lagbid.api_lock_timeout (ms) */
extern int	lagbid_api_statement_timeout;	/* lagbid.api_statement_timeout (ms) */
extern int	lagbid_api_idle_timeout;	/* lagbid.api_idle_timeout (ms) */
extern int	lagbid_api_transaction_timeout; /* lagbid.api_transaction_timeout (ms) */

/*
 * api_guard.c: the first lagbid_api call of a transaction bounds how long
 * the transaction may keep market rows locked (lock, statement and idle
 * timeouts for the rest of it, and a deadline the caller cannot lift).
 */
extern void lagbid_api_guard(void);
extern void lagbid_api_guard_init(void);

/* market_limits.c: GUC check hook of lagbid.min_task_budget */
extern bool lagbid_check_min_task_budget(char **newval, void **extra, GucSource source);

/* clock.c */
extern TimestampTz lagbid_clock_now(void);

/*
 * A statement prepared on first use and kept for the life of the backend
 * (SPI_keepplan).  Kept plans are revalidated by the plan cache when the
 * objects they reference change, so they survive DROP/CREATE EXTENSION.
 *
 * Plans are generic (CURSOR_OPT_GENERIC_PLAN): every market statement finds
 * its rows by key (id, task_id, id = ANY), so a custom plan would only be
 * the same plan made again on every call, which the plan cache did whenever
 * a custom estimate (three ids in the array) beat the generic one (ten).
 * custom_plans = true keeps the plan cache's choice, for the tick's work
 * lists, whose range predicates ($1 = now) depend on the value.
 */
typedef struct LagbidPlan
{
	const char *sql;
	int			nargs;
	Oid			argtypes[20];
	SPIPlanPtr	plan;
	bool		custom_plans;
} LagbidPlan;

extern SPIPlanPtr lagbid_plan(LagbidPlan *p);
extern int	lagbid_exec(LagbidPlan *p, Datum *values, const char *nulls,
						bool read_only, long count);
extern void lagbid_connect(void);
extern void lagbid_finish(void);

/* first column of the first row of SPI_tuptable as int64 / bool / Datum */
extern bool lagbid_result_int64(int col, int64 *out);
extern Datum lagbid_result_datum(int row, int col, bool *isnull);

/* strings */
extern char *lagbid_text_to_cstring_limited(text *t, int maxlen,
											const char *what);

#endif							/* LAGBID_H */
