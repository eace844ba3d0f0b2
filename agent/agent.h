/*-------------------------------------------------------------------------
 *
 * agent.h
 *	  Declarations shared by the modules of lagbid-agent, the computing
 *	  provider's daemon.
 *
 * The pure modules (json_io.c, workload.c, rows.c, peer_id.c, policy.c's
 * pricing, config.c's parser) include only this header, the C library,
 * jansson and the rules shared with the extension (../src/rules/ and
 * ../src/identity/, compiled into both), so that the unit tests and the
 * fuzzers can link them without libpq.
 *
 *-------------------------------------------------------------------------
 */
#ifndef LAGBID_AGENT_H
#define LAGBID_AGENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

#include <jansson.h>

#include "identity.h"
#include "regions.h"
#include "resource_rules.h"
#include "workload_rules.h"

#define AGENT_VERSION "0.3"

/* ---- log.c ---- */
typedef enum
{
	LOG_LEVEL_DEBUG = 0,
	LOG_LEVEL_LOG,
	LOG_LEVEL_WARNING,
	LOG_LEVEL_ERROR,
	LOG_LEVEL_FATAL
} LogLevel;

extern void log_init(bool json, LogLevel min_level);
extern void log_msg(LogLevel level, const char *event, const char *fmt,...)
			__attribute__((format(printf, 3, 4)));

#define log_debug(ev, ...)	 log_msg(LOG_LEVEL_DEBUG, ev, __VA_ARGS__)
#define log_info(ev, ...)	 log_msg(LOG_LEVEL_LOG, ev, __VA_ARGS__)
#define log_warning(ev, ...) log_msg(LOG_LEVEL_WARNING, ev, __VA_ARGS__)
#define log_error(ev, ...)	 log_msg(LOG_LEVEL_ERROR, ev, __VA_ARGS__)

/* ---- xalloc.c: allocation that aborts (logged) instead of returning NULL ---- */
extern void *xmalloc(size_t n);
extern void *xcalloc(size_t n, size_t m);
extern void *xrealloc(void *p, size_t n);
extern char *xstrdup(const char *s);
extern char *xstrndup(const char *s, size_t n);

/* ---- files and time (log.c) ---- */
extern double now_seconds(void);
extern char *read_file(const char *path, size_t max, size_t *len_out);
extern int	write_file_atomic(const char *path, const char *data, size_t len, int mode,
							  bool durable);
extern int	mkdir_p(const char *path, int mode);

/* ---- tree.c: iterative walks of a job's tree (pure) ---- */
typedef struct TreeUsage
{
	long long	bytes;			/* allocated blocks, in bytes */
	long		entries;		/* files, directories, links */
} TreeUsage;

extern int	rm_rf(const char *path);
extern int	tree_usage(const char *path, long max_entries, TreeUsage *u);

/* ---- json_io.c: JSON in (jansson, bounded) and out (log lines) ---- */
#define JSON_MAX_INPUT (32 * 1024 * 1024)

/* a document of at most max bytes (any top-level type); NULL with err */
extern json_t *json_read(const char *text, size_t len, size_t max, char *err, size_t errlen);
/* the member's string value (NULL when absent or not a string) */
extern const char *json_member_str(const json_t *obj, const char *key);
/* the member's number (integer or real) */
extern bool json_member_num(const json_t *obj, const char *key, double *out);
/* appends s as a JSON string literal (with quotes) to buf of size cap */
extern void json_escape(const char *s, char *buf, size_t cap);

/* ---- workload.c: the workload contract, validated defensively (pure) ---- */
/* the caps are the extension's (src/rules/workload_rules.h) */
#define WL_MAX_ARGS LAGBID_WL_MAX_ARGS
#define WL_MAX_ARG_LEN LAGBID_WL_MAX_ARG_BYTES
#define WL_MAX_ENV LAGBID_WL_MAX_ENV
#define WL_MAX_ENV_VALUE LAGBID_WL_MAX_ENV_VALUE
#define WL_MAX_INPUTS LAGBID_WL_MAX_INPUTS
#define WL_MAX_PATH LAGBID_WL_MAX_PATH
#define WL_MAX_INPUT_BYTES LAGBID_WL_MAX_CONTENT
#define WL_DEFAULT_TIMEOUT LAGBID_WL_DEFAULT_TIMEOUT
#define WL_MAX_TIMEOUT LAGBID_WL_MAX_TIMEOUT

typedef struct WorkloadInput
{
	char	   *path;
	unsigned char *content;		/* decoded content_base64, or NULL */
	size_t		content_len;
	char	   *uri;			/* or a URI with its sha256 */
	char		sha256[65];
} WorkloadInput;

typedef struct Workload
{
	int			argc;
	char	  **argv;			/* NULL-terminated */
	int			nenv;
	char	  **env_names;
	char	  **env_values;
	int			ninputs;
	WorkloadInput *inputs;
	int			timeout_s;
	char	   *output;			/* NULL: stdout; else a relative path */
} Workload;

extern int	workload_parse(const char *json, size_t len, Workload *wl, char *err, size_t errlen);
extern int	workload_from_value(const json_t *v, Workload *wl, char *err, size_t errlen);
extern void workload_free(Workload *wl);
extern bool workload_path_ok(const char *path, size_t len, char *why, size_t whylen);
extern bool workload_is_service(const char *json, size_t len);

/* ---- peer_id.c (pure), with the extension's base58 (src/identity/) ---- */
extern int	peer_id_from_pubkey(const unsigned char pub[32], char *out, size_t outcap);

/* ---- config.c ---- */
#define MAX_MULTIADDRS 8
#define MAX_GPU_RATES 8
#define MAX_OWNERS 32

typedef struct Config
{
	char	   *conninfo;
	char	   *listen_conninfo;	/* LISTEN on its own session (NULL: conninfo) */
	char	   *region;
	int			nmultiaddrs;
	char	   *multiaddrs[MAX_MULTIADDRS];
	int			max_concurrent;
	int			scan_interval_s;

	/* resources offered (detected unless set) */
	double		cpu;
	double		memory_gb;
	double		storage_gb;
	char	   *gpu;
	int			gpu_count;

	/* price policy */
	double		rate_cpu;		/* per core-hour */
	double		rate_memory;	/* per GB-hour */
	double		rate_storage;	/* per GB-hour */
	int			ngpu_rates;
	char	   *gpu_models[MAX_GPU_RATES];
	double		gpu_rates[MAX_GPU_RATES];	/* per GPU-hour */
	double		markup;			/* ask = cost * markup, clamped */
	char	   *price_script;
	int			price_script_timeout_ms;
	int			nallow;
	char	   *allow_owners[MAX_OWNERS];
	int			ndeny;
	char	   *deny_owners[MAX_OWNERS];

	/* jobs */
	char	   *bwrap;
	char	   *result_dir;
	char	   *work_dir;
	int			grace_period_s;
	long		max_output_bytes;	/* stdout capture and file-size limit */
	long		max_result_bytes;	/* above: submit_result with a file URI */
	int			max_processes;
	int			default_memory_gb;	/* address-space limit when the task says none */
	double		default_storage_gb; /* a job's disk when the task says none */
	long		max_files;		/* entries in one job's work directory */

	/* metrics (metrics.c): the Prometheus textfile, NULL = DIR/metrics.prom */
	char	   *metrics_textfile;
	long		max_workload_bytes; /* tasks with bigger workloads are declined unread */

	/* [service]: leases run here (service.c), the front proxy and the prober (proxy.c) */
	char	   *proxy_listen;	/* host:port of the front proxy */
	char	   *proxy_domain;	/* NULL: the host of the first registered multiaddr */
	char	   *proxy_public_url;	/* NULL: URLs on proxy_listen's port */
	int			max_services;
	bool		probe_allow_private;	/* probes of loopback/private addresses */
	int			probe_timeout_ms;
	long		proxy_max_body_bytes;	/* a request's body */
	long		proxy_max_response_bytes;	/* an app's answer */
	int			proxy_timeout_s;
	int			service_grace_s;	/* SIGTERM to SIGKILL at teardown */
} Config;

extern void config_defaults(Config *c, const char *dir);
extern int	config_parse(Config *c, const char *text, char *err, size_t errlen);
extern int	config_load(Config *c, const char *path, char *err, size_t errlen);
extern void config_free(Config *c);
extern void config_log_changes(const Config *old, const Config *new);
extern char *config_render(const Config *c, const char *node_id,
						   const char *detected_note);

/* ---- policy.c ---- */
typedef struct TaskTerms
{
	long long	task_id;
	char		owner[256];
	char		region[128];	/* empty: any */
	double		cpu;
	double		memory_gb;
	double		storage_gb;
	/* the same amounts as number text, compared exactly (resource_rules.h) */
	char		cpu_text[32];
	char		memory_gb_text[32];
	char		storage_gb_text[32];
	char		gpu[128];
	int			gpu_count;		/* as the market reads it: 0 when not stated */
	bool		resources_bad;
	double		price_min;
	double		price_max;
	char		price_min_text[64];
	char		price_max_text[64];
	double		duration_hours;
	/* the workload: the market's size and digest, then the body read by id */
	bool		workload_null;	/* the task says it has no workload */
	long long	workload_bytes; /* the market's size of workload::text; -1 unknown */
	char		workload_sha256[65];	/* its hex SHA-256; "" unknown */
	const char *workload_json;	/* the body, NULL until read and verified */
	size_t		workload_len;
} TaskTerms;

typedef enum
{
	DECIDE_BID,
	DECLINE_REGION,
	DECLINE_RESOURCES,
	DECLINE_OWNER,
	DECLINE_WORKLOAD,
	DECLINE_CAPACITY,
	DECLINE_PRICE,
	DECLINE_SCRIPT,
	DECLINE_MARKET,
	DECLINE__COUNT
} Decision;

extern const char *decision_name(Decision d);
extern bool region_matches(const char *task_region, const char *provider_region);
extern int	terms_from_resources(TaskTerms *t, const char *json, size_t len);
extern void terms_from_value(TaskTerms *t, const json_t *r);
extern Decision policy_screen(const Config *c, const TaskTerms *t, int slots_used,
							  double *cost_out, char *why, size_t whylen);
extern Decision policy_decide(const Config *c, const TaskTerms *t, int slots_used,
							  char *price_out, size_t pricecap, double *cost_out,
							  char *why, size_t whylen);
extern double policy_cost(const Config *c, const TaskTerms *t, char *why, size_t whylen);
extern int	format_price(double v, char *out, size_t cap);
extern int	amount_text(double v, char *out, size_t cap);

/* what this agent registers as its resources, as the market reads them */
typedef struct Offer
{
	char		cpu[32];
	char		memory_gb[32];
	char		storage_gb[32];
	LagbidResText res;			/* points into the above and the Config */
} Offer;
extern void offer_from_config(const Config *c, Offer *o);

/* ---- rows.c: the market's rows and pushes, read as untrusted input (pure) ---- */
typedef struct Rows
{
	int			nrows;
	int			ncols;
	/* the value's length and *value, or -1 for SQL NULL; row and col in range */
	int			(*get) (const void *ctx, int row, int col, const char **value);
	const void *ctx;
} Rows;

/* the discovery query's columns (market.c) */
#define DISCOVERY_NCOLS 9
/* the reconcile query's columns */
#define JOB_NCOLS 6
/* the notifications query's columns */
#define NOTICE_NCOLS 6

typedef struct JobRow
{
	long long	job_id;
	long long	task_id;
	bool		workload_null;
	long long	workload_bytes;
	char		workload_sha256[65];
	const char *resources;		/* points into the result; may be NULL */
	size_t		resources_len;
	double		left_s;
} JobRow;

typedef struct NoticeRow
{
	long long	id;
	char		kind[40];
	char		task[24];
	char		bid[24];
	char		job[24];
	char		payload[256];
} NoticeRow;

typedef struct IdSet
{
	long long  *ids;
	int			n;
	int			cap;
} IdSet;

extern const char *rows_raw(const Rows *r, int row, int col, size_t *len);
extern bool parse_id(const char *s, size_t len, long long *out);
extern bool rows_id(const Rows *r, int row, int col, long long *out);
extern bool rows_num(const Rows *r, int row, int col, double *out);
extern bool rows_text(const Rows *r, int row, int col, char *dst, size_t cap);
extern void rows_printable(const Rows *r, int row, int col, char *dst, size_t cap);
extern bool terms_from_row(const Rows *r, int row, TaskTerms *t, char *why, size_t whylen);
extern bool job_from_row(const Rows *r, int row, JobRow *j, char *why, size_t whylen);
extern bool notice_from_row(const Rows *r, int row, NoticeRow *n);
/* my_leases(): lease_id, job_id, task_id, name, state, endpoint,
 * reserved_until (epoch), port, health_path, expected_status,
 * startup_timeout_s, workload_sha256 */
#define LEASE_NCOLS 12
/* my_probes(): probe_id, lease_name, endpoint, nonce */
#define PROBE_NCOLS 4

typedef struct LeaseRow
{
	long long	lease_id;
	long long	job_id;
	long long	task_id;
	char		name[17];
	char		state[16];
	char		endpoint[2049]; /* "" when NULL */
	double		reserved_until;
	int			port;
	char		health_path[257];
	int			expected_status;
	int			startup_timeout_s;
	char		workload_sha256[65];
} LeaseRow;

typedef struct ProbeRow
{
	long long	probe_id;
	char		lease_name[17];
	char		endpoint[2049];
	char		nonce[33];
} ProbeRow;

extern bool lease_from_row(const Rows *r, int row, LeaseRow *l, char *why, size_t whylen);
extern bool probe_from_row(const Rows *r, int row, ProbeRow *p, char *why, size_t whylen);
extern bool probe_url_ok(const char *url, char *why, size_t whylen);
extern bool idset_add(IdSet *s, long long id, int limit);
extern bool idset_has(const IdSet *s, long long id);
extern void idset_free(IdSet *s);
extern char *ids_array_literal(const long long *ids, int n);
extern int	push_payload_ids(const char *payload, size_t len, IdSet *out, int limit);

/* ---- wlcache.c: workload bodies by digest, bounded (pure) ---- */
extern const char *wlcache_get(const char *sha256, size_t *len);
extern void wlcache_put(const char *sha256, const char *body, size_t len);
extern void wlcache_clear(void);

/* ---- keys.c ---- */
extern int	keys_load_or_create(const char *dir, unsigned char pub[32], bool *created,
								char *err, size_t errlen);
extern int	keys_sign(const char *dir, const unsigned char *msg, size_t len,
					  unsigned char sig[64], char *err, size_t errlen);
extern int	sha256_hex(const unsigned char *data, size_t len, char out[65]);
extern void *keys_signer_load(const char *dir, char *err, size_t errlen);
extern int	keys_signer_sign(void *signer, const unsigned char *msg, size_t len,
							 unsigned char sig[64]);
extern void keys_signer_free(void *signer);
extern int	sha256_file_hex(const char *path, char out[65], size_t *size_out);

/* ---- sandbox.c / runner.c ---- */
typedef struct SandboxLimits
{
	long		memory_bytes;	/* RLIMIT_AS, and the watcher's memory bound; 0 = none */
	long		cpu_seconds;	/* RLIMIT_CPU */
	long		file_bytes;		/* RLIMIT_FSIZE */
	long		processes;		/* RLIMIT_NPROC */
	long long	disk_bytes;		/* work directory + output + tmpfs (limits.c) */
	long long	tmpfs_bytes;	/* the size of /tmp and of /dev/shm */
	long		max_files;		/* entries in the work directory */
	double		memory_gb;		/* as the task says (for messages) */
	double		storage_gb;
} SandboxLimits;

typedef struct RunSpec
{
	const Workload *wl;
	const char *jobdir;			/* holds work/, stdout, stderr */
	const char *bwrap;
	const char *self_exe;		/* this program, the in-sandbox shim */
	SandboxLimits limits;
	int			timeout_s;
	int			svc_port;		/* > 0: a service (svcbox.c) listening there */
	int			svc_fd;			/* then: its helper's socket, fd 4 inside */
} RunSpec;

typedef struct RunState
{
	pid_t		pid;			/* bwrap's pid = process group */
	double		started;
	double		kill_at;
	bool		timed_out;
	bool		killed_for_shutdown;
	bool		finished;
	int			wait_status;
} RunState;

extern int	sandbox_prepare(const Workload *wl, const char *jobdir, char *err, size_t errlen);
extern void sandbox_protect_dir(const char *dir);
extern int	sandbox_start(const RunSpec *spec, RunState *rs, char *err, size_t errlen);
extern void sandbox_kill(RunState *rs);
extern int	sandbox_shim_main(int argc, char **argv);
extern const char *sandbox_env_refused(const Workload *wl);

/* ---- svcbox.c: a service in the sandbox, reached through its helper ---- */
#define SVC_MSG_MAX 64

extern int	svcbox_shim_main(int argc, char **argv);
extern int	svcbox_socketpair(int fds[2]);
extern int	svcbox_request_connect(int sock);
extern int	svcbox_read_reply(int sock, int *fd_out, unsigned long *ns_ino, int *err_out);
extern int	svcbox_terminate(int sock);
extern int	svcbox_sweep_pidns(unsigned long ns_ino, bool kill_them);
extern int	svcbox_wait_empty(unsigned long ns_ino, int timeout_ms);

/* ---- proxy.c: the front proxy of the services, and the prober's client ---- */
#define LEASE_NAME_LEN 16
#define LEASE_HEALTH_PATH_MAX 256

typedef struct ProbeResult
{
	long long	probe_id;
	bool		ok;
	int			http_status;	/* 0: no answer */
	double		latency_ms;
	char		signature[100]; /* the X-Lagbid-Probe-Signature received, or "" */
	char		why[160];
} ProbeResult;

extern bool lease_name_ok(const char *s, size_t len);
extern bool probe_nonce_ok(const char *s, size_t len);
extern int	probe_message(const char *name, const char *nonce, int status, char *out, size_t cap);
extern int	proxy_start(const Config *c, const char *key_dir, const char *domain,
						char *err, size_t errlen);
extern int	proxy_port(void);
extern void proxy_set_domain(const char *domain);
extern void proxy_route_set(const char *name, int port, const char *health_path,
							int expected_status, int fd);
extern void proxy_route_remove(const char *name);
extern bool proxy_route_status(const char *name, int *health_status, double *health_at,
							   unsigned long *ns_ino);
extern bool proxy_probe_submit(long long probe_id, const char *url, const char *nonce);
extern int	proxy_probe_results(ProbeResult *out, int max);
extern bool proxy_probe_busy(long long probe_id);

/* ---- limits.c: the watcher between the agent and bubblewrap ---- */
extern int	limits_watch(const RunSpec *spec, pid_t bwrap);
extern void limits_describe(char *out, size_t cap);
extern int	sandbox_outcome(const RunSpec *spec, const RunState *rs, char **out_path,
							char *reason, size_t reasonlen);

/* ---- system facts (keys.c) ---- */
extern void detect_resources(const char *dir, double *cpu, double *memory_gb, double *storage_gb);

#endif							/* LAGBID_AGENT_H */
