/*-------------------------------------------------------------------------
 *
 * daemon.h
 *	  The running agent's state, shared by conn.c, market.c, runner.c and
 *	  main.c.  Unlike agent.h this one includes libpq.
 *
 *-------------------------------------------------------------------------
 */
#ifndef LAGBID_DAEMON_H
#define LAGBID_DAEMON_H

#include "agent.h"

#include <limits.h>
#include <libpq-fe.h>

/* ---- conn.c ---- */
typedef struct Market
{
	PGconn	   *conn;
	double		next_attempt;	/* when disconnected */
	double		backoff;		/* seconds, doubles up to 60 */
	int			failures;
	bool		listener;		/* the session that LISTENs (for the log) */
	double		connected_at;	/* the current session's start */
	double		lost_at;		/* the last disconnection, 0: never */
	double		down_since;		/* the first failure of this outage */
} Market;

/* what one session of the agent does (see market_connect) */
typedef enum MarketSession
{
	MARKET_SESSION_BOTH,		/* direct: queries and LISTEN */
	MARKET_SESSION_POOLED,		/* through a pooler: single statements only */
	MARKET_SESSION_LISTEN		/* direct: LISTEN only */
} MarketSession;

extern PGconn *market_open(const char *conninfo, char *err, size_t errlen);
extern bool market_connect(Market *m, const char *conninfo, MarketSession kind);
extern void market_disconnect(Market *m, const char *why);
/* a PGresult seen through rows.c's interface (the result must outlive the Rows) */
extern Rows market_rows(const PGresult *res);
extern PGresult *market_query(Market *m, const char *sql, int nparams,
							  const char *const *values, const int *lengths,
							  const int *formats);
extern bool market_ok(PGresult *res);
extern const char *market_sqlstate(PGresult *res);
extern void market_error_text(PGresult *res, PGconn *conn, char *out, size_t cap);
extern void market_error_field(PGresult *res, const char *field, char *out, size_t cap);
extern int	market_conninfo_check(const char *conninfo, char *err, size_t errlen);

/* ---- runner.c ---- */
#define MAX_JOBS 256

typedef struct Job
{
	long long	job_id;
	long long	task_id;
	Workload	wl;
	RunSpec		spec;
	RunState	rs;
	char		jobdir[PATH_MAX];
	bool		done;			/* the run ended; report pending */
	bool		ok;
	bool		abandoned;		/* the market no longer wants it */
	bool		force_file;		/* upload_result refused the size: submit a file */
	bool		reporting_failed;	/* refused by the market: drop */
	char	   *out_path;
	char		reason[512];
} Job;

/* ---- service.c: a service's processes; lease.c: its lease ---- */
#define MAX_SERVICES_HERE 1024
#define LEASE_URL_MAX 2048

typedef struct Service
{
	char		name[LEASE_NAME_LEN + 1];
	int			port;
	char		health_path[LEASE_HEALTH_PATH_MAX + 1];
	int			expected_status;
	int			grace_s;		/* SIGTERM to SIGKILL */
	Workload	wl;
	bool		have_wl;
	RunSpec		spec;
	RunState	rs;
	char		jobdir[PATH_MAX];
	int			ctl;			/* the main loop's end of the helper's socket */
	bool		running;		/* a sandbox is up (its watcher not reaped) */
	double		started_at;
	int			starts;
	double		restart_at;		/* > 0: start again then */
	double		backoff;
	unsigned long ns_ino;		/* the sandbox's pid namespace (its helper's hello) */
	bool		tearing_down;
	double		term_at;
	bool		killed;
	bool		torn_down;		/* the sandbox is gone, none of its processes left */
	int			left_after_teardown;
	/* the lease, as the market said it last (lease.c) */
	long long	lease_id;
	long long	job_id;
	long long	task_id;
	char		state[16];
	char		endpoint[LEASE_URL_MAX + 1];
	double		reserved_until;
	char		workload_sha256[65];
	bool		listed;
	bool		teardown_reported;
	double		next_report;
} Service;

extern Service *service_new(const char *name, int port, const char *health_path,
							int expected_status);
extern int	service_start(Service *s, const Config *c, const char *self_exe, char *err,
						  size_t errlen);
extern void service_ended(Service *s, int status);
extern void service_teardown(Service *s);
extern void service_tick(Service *s, const Config *c, const char *self_exe);
extern bool service_healthy(Service *s);
extern void service_free(Service *s);

/* ---- the agent ---- */
#define DECIDED_SLOTS 8192
#define DECLINE_RING 20000

typedef struct Decided
{
	long long	task_id;		/* 0 = free */
	Decision	decision;
	double		at;
} Decided;

typedef struct Agent
{
	char		dir[PATH_MAX];
	char		config_path[PATH_MAX];
	char		self_exe[PATH_MAX];
	Config		cfg;
	Market		m;				/* queries (and LISTEN without listen_conninfo) */
	Market		lm;				/* LISTEN, with market.listen_conninfo */
	double		last_full_scan; /* when open_tasks() was last read whole */
	char		node_id[64];

	Job		   *jobs[MAX_JOBS];
	int			njobs;
	int			slots_used;		/* from the market, plus bids since */

	bool		stopping;
	double		stop_deadline;
	bool		no_bids;		/* --no-bid: run won jobs only */
	double		next_scan;
	bool		want_reconcile;
	bool		want_scan;
	bool		want_full_scan; /* read open_tasks() whole at the next scan */
	bool		api_04;			/* the market has lagbid_api.task_workload */
	IdSet		pushed;			/* task ids pushed since the last flush */

	Decided		decided[DECIDED_SLOTS];
	int			ndecided;

	/* declines, for status: a ring of (time, reason) */
	double		decline_at[DECLINE_RING];
	unsigned char decline_why[DECLINE_RING];
	int			decline_head;
	int			decline_count;
	long		declines_total[DECLINE__COUNT];
	bool		declines_dirty;
	double		declines_written;
	long		bids_placed;
	long		jobs_run;

	/* services (lease.c) */
	Service    *svcs[MAX_SERVICES_HERE];
	int			nsvcs;
	bool		api_leases;		/* the market has lagbid_api.my_leases */
	bool		proxy_up;
	char		proxy_domain[256];	/* the configured one, or the first registered host */
	bool		want_probes;
	double		next_probes;
	IdSet		probes_started; /* probe ids submitted and not reported yet */
	IdSet		lease_jobs;		/* the jobs of the leases my_leases() listed last */
} Agent;

extern int	agent_run(Agent *a);
extern void agent_note_decline(Agent *a, Decision d);
extern void agent_write_state(Agent *a);

/* metrics.c: the agent's counters as a Prometheus textfile */
extern void metrics_job_reported(const char *outcome, const char *reason);
extern void metrics_bid_latency(double seconds);
extern void metrics_connected(void);
extern void metrics_connect_failed(void);
extern char *metrics_render(const Agent *a);
extern void metrics_write(const Agent *a);

/* market.c */
extern void market_scan(Agent *a);
extern int	market_capacity_declined(Agent *a);
extern void market_detect_api(Agent *a);
extern void market_on_task_notify(Agent *a, const char *payload);
extern void market_flush_pushes(Agent *a);
extern void market_on_notification(Agent *a);
extern void market_reconcile(Agent *a);
extern void market_refresh_slots(Agent *a);

/* lease.c */
extern void lease_init(Agent *a);
extern void lease_reconcile(Agent *a);
extern bool lease_owns_job(Agent *a, long long job_id);
extern bool lease_reaped(Agent *a, pid_t pid, int status);
extern void lease_tick(Agent *a);
extern void lease_probes(Agent *a);
extern void lease_report_probes(Agent *a);
extern void lease_stop_all(Agent *a);
extern int	lease_url(const Agent *a, const char *name, char *out, size_t cap);
extern int	lease_default_domain(const Config *c, char *out, size_t cap, bool *is_ip);

/* runner.c */
extern Job *runner_find(Agent *a, long long job_id);
extern void runner_start(Agent *a, long long job_id, long long task_id,
						 const char *workload, const char *resources, double left_s);
extern void runner_reap(Agent *a);
extern void runner_check_timeouts(Agent *a);
extern void runner_report(Agent *a);
extern void runner_kill_all(Agent *a, bool for_shutdown);
extern void runner_drop(Agent *a, Job *j);
extern void runner_remove_dir(const char *jobdir);
extern void runner_sweep(const char *work_dir);
extern void runner_limits(const Config *c, const char *resources, int timeout_s,
						  SandboxLimits *l);

#endif							/* LAGBID_DAEMON_H */
