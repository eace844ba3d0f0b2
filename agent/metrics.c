/*-------------------------------------------------------------------------
 *
 * metrics.c
 *	  The agent's counters in Prometheus text format (exposition format
 *	  0.0.4), written to a file every few seconds: DIR/metrics.prom, or the
 *	  [metrics] textfile setting, which is meant to sit in node exporter's
 *	  --collector.textfile.directory.
 *
 * A file, not a port: the agent holds the node's private key and runs
 * strangers' workloads; a listening socket would be one more thing that
 * hostile input can reach, and one more port to firewall on every
 * provider's machine.  Node exporter already runs there (or is one
 * package away), already serves /metrics, and reads *.prom files; the
 * agent only writes one (atomically: a temporary file and a rename, so a
 * scrape never sees half of it).
 *
 * What it counts: jobs by outcome (and failures by cause), declines by
 * reason, bids placed, the NOTIFY-to-bid latency as a histogram,
 * connection attempts that failed and reconnections, plus gauges for the
 * connection, the slots and the running jobs.  The counters start at zero
 * when the agent starts (Prometheus' rate() handles the reset).
 *
 *-------------------------------------------------------------------------
 */
#include "daemon.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* job outcomes, as reported to the market */
static const char *const outcome_names[] = {"uploaded", "submitted", "failed", "refused"};
#define NOUTCOMES (sizeof(outcome_names) / sizeof(outcome_names[0]))

/* causes of a failed job, from the reason runner.c reports */
static const struct
{
	const char *prefix;
	const char *cause;
}			causes[] = {
	{"timeout", "timeout"},
	{"exit status", "exit_status"},
	{"workload killed by signal", "signal"},
	{"agent shutting down", "shutdown"},
	{"deadline passed", "deadline"},
	{"invalid workload", "invalid_workload"},
	{"input", "input"},
	{"output", "output"},
	{"result refused", "refused"},
};
#define NCAUSES (sizeof(causes) / sizeof(causes[0]))

/* NOTIFY-to-bid latency buckets, seconds */
static const double buckets[] = {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5};
#define NBUCKETS (sizeof(buckets) / sizeof(buckets[0]))

static struct
{
	double		started;
	long		jobs[NOUTCOMES];
	long		failed_by_cause[NCAUSES + 1];	/* last: other */
	long		bid_latency_buckets[NBUCKETS];
	long		bid_latency_count;
	double		bid_latency_sum;
	long		connect_failures;
	long		reconnects;
	long		connects;
}			M;

void
metrics_job_reported(const char *outcome, const char *reason)
{
	for (size_t i = 0; i < NOUTCOMES; i++)
		if (strcmp(outcome, outcome_names[i]) == 0)
			M.jobs[i]++;
	if (strcmp(outcome, "failed") == 0)
	{
		size_t		k;

		for (k = 0; k < NCAUSES; k++)
			if (reason && strncmp(reason, causes[k].prefix, strlen(causes[k].prefix)) == 0)
				break;
		M.failed_by_cause[k]++;
	}
}

void
metrics_bid_latency(double seconds)
{
	for (size_t i = 0; i < NBUCKETS; i++)
		if (seconds <= buckets[i])
			M.bid_latency_buckets[i]++;
	M.bid_latency_count++;
	M.bid_latency_sum += seconds;
}

void
metrics_connected(void)
{
	if (M.connects++ > 0)
		M.reconnects++;
}

void
metrics_connect_failed(void)
{
	M.connect_failures++;
}

/* the text, in a malloc'd buffer */
char *
metrics_render(const Agent *a)
{
	size_t		cap = 16384,
				n = 0;
	char	   *buf = xmalloc(cap);

#define OUT(...) do { int k_ = snprintf(buf + n, cap - n, __VA_ARGS__); \
	if (k_ > 0) n += ((size_t) k_ < cap - n) ? (size_t) k_ : cap - n - 1; } while (0)

	if (M.started == 0)
		M.started = now_seconds();
	OUT("# HELP lagbid_agent_info The running agent: version and node id.\n"
		"# TYPE lagbid_agent_info gauge\n"
		"lagbid_agent_info{version=\"%s\",node_id=\"%s\",region=\"%s\"} 1\n",
		AGENT_VERSION, a->node_id, a->cfg.region ? a->cfg.region : "");
	OUT("# HELP lagbid_agent_start_time_seconds When the agent started, seconds since the epoch.\n"
		"# TYPE lagbid_agent_start_time_seconds gauge\n"
		"lagbid_agent_start_time_seconds %.3f\n", M.started);
	OUT("# HELP lagbid_agent_connected 1 while the agent holds a connection to the market.\n"
		"# TYPE lagbid_agent_connected gauge\n"
		"lagbid_agent_connected %d\n", a->m.conn != NULL);
	OUT("# HELP lagbid_agent_reconnects_total Connections to the market made again after a loss.\n"
		"# TYPE lagbid_agent_reconnects_total counter\n"
		"lagbid_agent_reconnects_total %ld\n", M.reconnects);
	OUT("# HELP lagbid_agent_connect_failures_total Connection attempts that failed.\n"
		"# TYPE lagbid_agent_connect_failures_total counter\n"
		"lagbid_agent_connect_failures_total %ld\n", M.connect_failures);
	OUT("# HELP lagbid_agent_slots_used Open bids plus jobs processing or submitted.\n"
		"# TYPE lagbid_agent_slots_used gauge\n"
		"lagbid_agent_slots_used %d\n", a->slots_used);
	OUT("# HELP lagbid_agent_max_concurrent The configured limit of slots.\n"
		"# TYPE lagbid_agent_max_concurrent gauge\n"
		"lagbid_agent_max_concurrent %d\n", a->cfg.max_concurrent);
	OUT("# HELP lagbid_agent_jobs_running Jobs in the sandbox or waiting for their report.\n"
		"# TYPE lagbid_agent_jobs_running gauge\n"
		"lagbid_agent_jobs_running %d\n", a->njobs);
	OUT("# HELP lagbid_agent_bids_total Bids placed.\n"
		"# TYPE lagbid_agent_bids_total counter\n"
		"lagbid_agent_bids_total %ld\n", a->bids_placed);
	OUT("# HELP lagbid_agent_jobs_started_total Jobs started in the sandbox.\n"
		"# TYPE lagbid_agent_jobs_started_total counter\n"
		"lagbid_agent_jobs_started_total %ld\n", a->jobs_run);
	OUT("# HELP lagbid_agent_jobs_total Jobs reported to the market, by outcome (uploaded, submitted as a file URI, failed, refused by the market).\n"
		"# TYPE lagbid_agent_jobs_total counter\n");
	for (size_t i = 0; i < NOUTCOMES; i++)
		OUT("lagbid_agent_jobs_total{outcome=\"%s\"} %ld\n", outcome_names[i], M.jobs[i]);
	OUT("# HELP lagbid_agent_jobs_failed_total Jobs failed, by cause.\n"
		"# TYPE lagbid_agent_jobs_failed_total counter\n");
	for (size_t i = 0; i <= NCAUSES; i++)
		OUT("lagbid_agent_jobs_failed_total{cause=\"%s\"} %ld\n",
			i < NCAUSES ? causes[i].cause : "other", M.failed_by_cause[i]);
	OUT("# HELP lagbid_agent_declines_total Tasks declined, by reason.\n"
		"# TYPE lagbid_agent_declines_total counter\n");
	for (int d = 1; d < DECLINE__COUNT; d++)
		OUT("lagbid_agent_declines_total{reason=\"%s\"} %ld\n", decision_name((Decision) d),
			a->declines_total[d]);
	OUT("# HELP lagbid_agent_bid_latency_seconds From a task's NOTIFY reaching the agent to its bid placed.\n"
		"# TYPE lagbid_agent_bid_latency_seconds histogram\n");
	/* each bucket counts every bid at or under its bound: cumulative already */
	for (size_t i = 0; i < NBUCKETS; i++)
		OUT("lagbid_agent_bid_latency_seconds_bucket{le=\"%g\"} %ld\n", buckets[i],
			M.bid_latency_buckets[i]);
	OUT("lagbid_agent_bid_latency_seconds_bucket{le=\"+Inf\"} %ld\n"
		"lagbid_agent_bid_latency_seconds_sum %.6f\n"
		"lagbid_agent_bid_latency_seconds_count %ld\n",
		M.bid_latency_count, M.bid_latency_sum, M.bid_latency_count);
#undef OUT
	return buf;
}

/* rewrite the metrics file (atomically); a failure is logged once */
void
metrics_write(const Agent *a)
{
	static bool warned = false;
	char		path[PATH_MAX];
	char	   *text = metrics_render(a);

	if (a->cfg.metrics_textfile && a->cfg.metrics_textfile[0])
		snprintf(path, sizeof(path), "%s", a->cfg.metrics_textfile);
	else
		snprintf(path, sizeof(path), "%s/metrics.prom", a->dir);
	if (write_file_atomic(path, text, strlen(text), 0644, false) != 0)
	{
		if (!warned)
			log_warning("metrics", "could not write \"%s\": %s", path, strerror(errno));
		warned = true;
	}
	else
		warned = false;
	free(text);
}
