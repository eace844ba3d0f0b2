/*-------------------------------------------------------------------------
 *
 * lagbid.c
 *	  Module entry point: PG_MODULE_MAGIC, the settings (GUCs) and
 *	  lagbid.version().
 *
 * Settings
 *	  lagbid.clock              SUSET   a timestamp that replaces now() (tests)
 *	  lagbid.processing_grace   SUSET   minutes after a job's duration before
 *	                                    the tick fails it
 *	  lagbid.tick_batch_size    SUSET   rows one tick handles per action
 *	  lagbid.max_allocate_ids   SUSET   longest bid_ids array allocate() takes
 *	  lagbid.api_errors         USERSET set by lagbid_api functions: refusals
 *	                                    are raised in PostgREST's PGRST form
 *	  lagbid.max_result_bytes   SUSET   largest content upload_result stores
 *	  lagbid.authenticators     SUSET   the logins whose request.jwt.claims
 *	                                    are trusted (PostgREST's)
 *	  lagbid.require_signed_registration SUSET  registration must prove the
 *	                                    node's key
 *	  lagbid.market_name        SUSET   names the market in registration
 *	                                    challenges
 *	  lagbid.min_task_budget    SUSET   least budget of a task or space (LB008)
 *	  lagbid.default_collateral_ratio  SUSET  collateral of tasks published without one (issue 20)
 *	  lagbid.max_open_tasks_per_owner SUSET  live tasks per owner (LB316)
 *	  lagbid.probe_window       SUSET   seconds of one probe window of a
 *	                                    service lease (issue 21; leases.h)
 *	  lagbid.probers_per_window SUSET   probers assigned per lease window
 *	  lagbid.max_spaces_per_owner SUSET active spaces per owner (LB316)
 *	  lagbid.max_workload_bytes_per_owner SUSET  live workload bytes per
 *	                                    owner (LB320)
 *	  lagbid.api_lock_timeout   SUSET   how long a lagbid_api call waits
 *	                                    for a market row (then LB321)
 *	  lagbid.api_statement_timeout SUSET  statement_timeout of the rest of a
 *	                                    transaction that called lagbid_api
 *	  lagbid.api_idle_timeout   SUSET   its idle_in_transaction_session_timeout
 *	  lagbid.api_transaction_timeout SUSET  the session ends when such a
 *	                                    transaction lasts longer
 *	  lagbid.max_extra_replicas SUSET   replicas an election may add when
 *	                                    no result holds a majority
 *	  lagbid.push_idle_timeout  SUSET   seconds the push worker stays with
 *	                                    nothing to push (push_worker.c)
 *	  lagbid.push_poll_interval SUSET   how often the push worker looks
 *	                                    without being woken
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "fmgr.h"
#include "utils/builtins.h"
#include "utils/guc.h"

#include "lagbid.h"
#include "push.h"
#include "trust.h"
#include "leases.h"

PG_MODULE_MAGIC;

char	   *lagbid_clock_setting = NULL;
int			lagbid_processing_grace_minutes = 10;
int			lagbid_tick_batch_size = 1000;
bool		lagbid_api_errors = false;
int			lagbid_max_allocate_ids = 1000;
int			lagbid_max_result_bytes = 1024 * 1024;
char	   *lagbid_authenticators = NULL;
bool		lagbid_require_signed_registration = false;
char	   *lagbid_market_name = NULL;
char	   *lagbid_min_task_budget_setting = NULL;
int			lagbid_max_open_tasks_per_owner = 10000;
int			lagbid_max_spaces_per_owner = 10000;
int			lagbid_max_workload_bytes_per_owner = 64 * 1024 * 1024;
int			lagbid_api_lock_timeout = 2000;
int			lagbid_api_statement_timeout = 5000;
int			lagbid_api_idle_timeout = 5000;
int			lagbid_api_transaction_timeout = 15000;
int			lagbid_max_extra_replicas = 2;
int			lagbid_push_idle_timeout = 300;
int			lagbid_push_poll_interval = 1000;
int			lagbid_probe_window = 300;
int			lagbid_probers_per_window = 3;

void		_PG_init(void);

void
_PG_init(void)
{
	DefineCustomStringVariable("lagbid.clock",
							   "Replaces the market clock with a fixed timestamp (for tests).",
							   "Empty means the transaction start time.",
							   &lagbid_clock_setting,
							   "",
							   PGC_SUSET,
							   0,
							   NULL, NULL, NULL);

	DefineCustomIntVariable("lagbid.processing_grace",
							"Minutes a job may run past its task's duration before tick() fails it.",
							NULL,
							&lagbid_processing_grace_minutes,
							10, 0, 7 * 24 * 60,
							PGC_SUSET,
							GUC_UNIT_MIN,
							NULL, NULL, NULL);

	DefineCustomIntVariable("lagbid.tick_batch_size",
							"Rows tick() handles per action in one call.",
							NULL,
							&lagbid_tick_batch_size,
							1000, 1, 1000000,
							PGC_SUSET,
							0,
							NULL, NULL, NULL);

	DefineCustomIntVariable("lagbid.max_allocate_ids",
							"Longest bid_ids array allocate() accepts.",
							NULL,
							&lagbid_max_allocate_ids,
							1000, 1, 100000,
							PGC_SUSET,
							0,
							NULL, NULL, NULL);

	DefineCustomBoolVariable("lagbid.api_errors",
							 "Raise refusals in PostgREST's PGRST form (set by lagbid_api functions).",
							 NULL,
							 &lagbid_api_errors,
							 false,
							 PGC_USERSET,
							 0,
							 NULL, NULL, NULL);

	/* issue 13: results stored in the database */
	DefineCustomIntVariable("lagbid.max_result_bytes",
							"Largest result content upload_result() stores; larger results use submit_result().",
							NULL,
							&lagbid_max_result_bytes,
							1024 * 1024, 0, 64 * 1024 * 1024,
							PGC_SUSET,
							GUC_UNIT_BYTE,
							NULL, NULL, NULL);

	/* identity: who may speak for whom, and proof of key (docs/0.3/identity.md) */
	DefineCustomStringVariable("lagbid.authenticators",
							   "Logins whose request.jwt.claims are trusted (comma-separated role names).",
							   "Claims from any other login are refused; such a login acts as the provider or owner bound to it.",
							   &lagbid_authenticators,
							   "authenticator",
							   PGC_SUSET,
							   GUC_LIST_INPUT,
							   lagbid_check_authenticators, NULL, NULL);

	DefineCustomBoolVariable("lagbid.require_signed_registration",
							 "Refuse provider registrations without a signature of the node's key.",
							 NULL,
							 &lagbid_require_signed_registration,
							 false,
							 PGC_SUSET,
							 0,
							 NULL, NULL, NULL);

	DefineCustomStringVariable("lagbid.market_name",
							   "Names this market in registration challenges.",
							   "Empty means the cluster's system identifier and the database name.",
							   &lagbid_market_name,
							   "",
							   PGC_SUSET,
							   0,
							   lagbid_check_market_name, NULL, NULL);

	/* market safety (issue 16): what one owner may put on the market */
	DefineCustomStringVariable("lagbid.min_task_budget",
							   "Least budget (price_max x hours x replicas) of a task or space.",
							   "A numeric >= 0; publishing below it is refused (LB008).",
							   &lagbid_min_task_budget_setting,
							   "0.01",
							   PGC_SUSET,
							   0,
							   lagbid_check_min_task_budget, NULL, NULL);

	/* trust between strangers (issue 20): collateral.c */
	DefineCustomStringVariable("lagbid.default_collateral_ratio",
							   "Collateral ratio of tasks and spaces published without one.",
							   "A decimal from 0 to 100: each bid locks ratio x ask x duration_hours of its provider's balance; 0 means no collateral.",
							   &lagbid_default_collateral_ratio_setting,
							   "0",
							   PGC_SUSET,
							   0,
							   lagbid_check_collateral_ratio_setting, NULL, NULL);

	DefineCustomIntVariable("lagbid.max_open_tasks_per_owner",
							"Live tasks (not completed, failed or cancelled) one owner may hold.",
							NULL,
							&lagbid_max_open_tasks_per_owner,
							10000, 1, INT_MAX,
							PGC_SUSET,
							0,
							NULL, NULL, NULL);

	DefineCustomIntVariable("lagbid.max_spaces_per_owner",
							"Active spaces one owner may hold.",
							NULL,
							&lagbid_max_spaces_per_owner,
							10000, 1, INT_MAX,
							PGC_SUSET,
							0,
							NULL, NULL, NULL);

	/* 0.4: the election never guesses (docs/0.4/election.md) */
	DefineCustomIntVariable("lagbid.max_extra_replicas",
							"Replicas a task may add, paid by its owner, when no result holds a majority.",
							"Past it the task fails with reason no_consensus; 0 fails it at once.",
							&lagbid_max_extra_replicas,
							2, 0, 100,
							PGC_SUSET,
							0,
							NULL, NULL, NULL);

	/* the push worker (issue 19 defect 7b; push_worker.c) */
	DefineCustomIntVariable("lagbid.push_idle_timeout",
							"Time the push worker stays with nothing to push before it exits.",
							"The next commit that queues a push starts it again; 0 keeps it running.",
							&lagbid_push_idle_timeout,
							300, 0, 24 * 3600,
							PGC_SUSET,
							GUC_UNIT_S,
							NULL, NULL, NULL);

	DefineCustomIntVariable("lagbid.push_poll_interval",
							"How often the push worker looks for queued pushes without being woken.",
							"Committing backends wake it at once; this bounds a lost wake.",
							&lagbid_push_poll_interval,
							1000, 10, 60000,
							PGC_SUSET,
							GUC_UNIT_MS,
							NULL, NULL, NULL);

	/* issue 19: workload bodies stored once; what one owner keeps live */
	DefineCustomIntVariable("lagbid.max_workload_bytes_per_owner",
							"Bytes of workload (as jsonb text) one owner's live tasks and active spaces may carry.",
							"Tasks published from a space count as the space; publishing past it is refused (LB320).",
							&lagbid_max_workload_bytes_per_owner,
							64 * 1024 * 1024, 0, INT_MAX,
							PGC_SUSET,
							GUC_UNIT_BYTE,
							NULL, NULL, NULL);

	/* issue 19: how long a lagbid_api caller may keep market rows (api_guard.c) */
	DefineCustomIntVariable("lagbid.api_lock_timeout",
							"How long a lagbid_api call waits for a market row another transaction holds.",
							"Then the call is refused with LB321 (409, retry). Set as lock_timeout for the rest of the transaction; 0 leaves lock_timeout alone.",
							&lagbid_api_lock_timeout,
							2000, 0, INT_MAX,
							PGC_SUSET,
							GUC_UNIT_MS,
							NULL, NULL, NULL);

	DefineCustomIntVariable("lagbid.api_statement_timeout",
							"statement_timeout of every later statement of a transaction that called lagbid_api.",
							"Set transaction-locally by the first call, never loosening a stricter value; 0 leaves statement_timeout alone.",
							&lagbid_api_statement_timeout,
							5000, 0, INT_MAX,
							PGC_SUSET,
							GUC_UNIT_MS,
							NULL, NULL, NULL);

	DefineCustomIntVariable("lagbid.api_idle_timeout",
							"idle_in_transaction_session_timeout of a transaction that called lagbid_api.",
							"Set transaction-locally by the first call, never loosening a stricter value; 0 leaves it alone.",
							&lagbid_api_idle_timeout,
							5000, 0, INT_MAX,
							PGC_SUSET,
							GUC_UNIT_MS,
							NULL, NULL, NULL);

	DefineCustomIntVariable("lagbid.api_transaction_timeout",
							"The session ends when a transaction lasts this long after its first lagbid_api call.",
							"A deadline the caller cannot lift (unlike the settings above); 0 disables it.",
							&lagbid_api_transaction_timeout,
							15000, 0, INT_MAX,
							PGC_SUSET,
							GUC_UNIT_MS,
							NULL, NULL, NULL);

	/* service leases (issue 21; docs/0.4/spaces.md) */
	DefineCustomIntVariable("lagbid.probe_window",
							"Length of one probe window of a service lease.",
							"Copied into each lease when it is created; each window is settled up, down or unprobed.",
							&lagbid_probe_window,
							300, 10, 86400,
							PGC_SUSET,
							GUC_UNIT_S,
							NULL, NULL, NULL);

	DefineCustomIntVariable("lagbid.probers_per_window",
							"Probers the tick assigns to each live lease per window.",
							"Registered providers other than the lease's own, at random, distinct hosts (the host of their first registered address) where possible.",
							&lagbid_probers_per_window,
							3, 1, 3,
							PGC_SUSET,
							0,
							NULL, NULL, NULL);

	lagbid_api_guard_init();


#if PG_VERSION_NUM >= 150000
	MarkGUCPrefixReserved("lagbid");
#else
	EmitWarningsOnPlaceholders("lagbid");
#endif
}

PG_FUNCTION_INFO_V1(lagbid_version);

/*
 * lagbid.version() — the version the library was built as.
 */
Datum
lagbid_version(PG_FUNCTION_ARGS)
{
	PG_RETURN_TEXT_P(cstring_to_text(LAGBID_VERSION));
}
