/*-------------------------------------------------------------------------
 *
 * daemon.c
 *	  lagbid-agent run: the main loop.
 *
 * One thread, one poll() on the market connection and a self-pipe that
 * the signal handlers write to (SIGCHLD: a job ended; SIGHUP: reload the
 * config; SIGTERM/SIGINT: stop).  Jobs run in child processes, so the loop
 * never waits for them.  Each turn: reap children, enforce timeouts,
 * (re)connect with backoff, send pending reports, read notifications, and
 * every scan_interval_s (or when a slot frees) reconcile with my_jobs()
 * and scan open_tasks() -- a missed NOTIFY loses nothing.
 *
 * The scan at fleet scale: every agent of a fleet scans the same market,
 * so the interval is jittered (0.8 to 1.2 times scan_interval_s, and a
 * reconnect waits a random 0 to 5 s before its scan: a failover does not
 * bring a whole fleet's scans in the same second), and it is incremental:
 * a session that LISTENs was told of every task opened since it started,
 * so while that session is unbroken since the last full read of
 * open_tasks() the timer only reconciles jobs and notifications, a freed
 * slot scans only when some task waits for one, and open_tasks() is read
 * whole after any break of the LISTEN session, a malformed push, a reload,
 * and otherwise every FULL_SCAN_EVERY intervals as a safety net.
 *
 * With market.listen_conninfo the agent holds two sessions: m for its
 * statements (through PgBouncer in transaction mode, say) and lm, direct,
 * for LISTEN (conn.c).
 *
 * Stopping: no more bids; running jobs get grace_period_s to finish, then
 * they are killed and failed with "agent shutting down"; exit 0.
 *
 * DIR/agent.state and DIR/declines are caches for `status` (the market is
 * the source of truth): the first says what runs here, the second holds
 * one line "epoch reason" per decline of the last hour.
 *
 *-------------------------------------------------------------------------
 */
#include "daemon.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* while LISTEN is unbroken, open_tasks() is read whole this many intervals apart */
#define FULL_SCAN_EVERY 10

static int	sig_pipe[2] = {-1, -1};
static volatile sig_atomic_t got_term = 0;
static volatile sig_atomic_t got_hup = 0;
static volatile sig_atomic_t got_chld = 0;

static void
on_signal(int signo)
{
	int			save = errno;
	char		c = (char) signo;

	if (signo == SIGTERM || signo == SIGINT)
		got_term = 1;
	else if (signo == SIGHUP)
		got_hup = 1;
	else if (signo == SIGCHLD)
		got_chld = 1;
	if (sig_pipe[1] >= 0 && write(sig_pipe[1], &c, 1) < 0)
	{
		/* the pipe is full: a wake-up is already pending */
	}
	errno = save;
}

static void
install_signals(void)
{
	struct sigaction sa;

	if (pipe2(sig_pipe, O_CLOEXEC | O_NONBLOCK) != 0)
	{
		log_msg(LOG_LEVEL_FATAL, "start", "could not create the signal pipe: %s", strerror(errno));
		exit(1);
	}
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sa.sa_flags = SA_RESTART;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	sigaction(SIGCHLD, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
}

void
agent_note_decline(Agent *a, Decision d)
{
	int			i = (a->decline_head + a->decline_count) % DECLINE_RING;

	if (a->decline_count == DECLINE_RING)
	{
		a->decline_head = (a->decline_head + 1) % DECLINE_RING;
		a->decline_count--;
	}
	a->decline_at[i] = now_seconds();
	a->decline_why[i] = (unsigned char) d;
	a->decline_count++;
	a->declines_total[d]++;
	a->declines_dirty = true;
}

static void
write_declines(Agent *a)
{
	double		cutoff = now_seconds() - 3600;
	size_t		cap = 64 + (size_t) a->decline_count * 40;
	char	   *buf = xmalloc(cap);
	size_t		n = 0;
	char		path[PATH_MAX];

	while (a->decline_count > 0 && a->decline_at[a->decline_head] < cutoff)
	{
		a->decline_head = (a->decline_head + 1) % DECLINE_RING;
		a->decline_count--;
	}
	for (int k = 0; k < a->decline_count; k++)
	{
		int			i = (a->decline_head + k) % DECLINE_RING;

		n += snprintf(buf + n, cap - n, "%.0f %s\n", a->decline_at[i],
					  decision_name((Decision) a->decline_why[i]));
	}
	snprintf(path, sizeof(path), "%s/declines", a->dir);
	if (write_file_atomic(path, buf, n, 0644, false) != 0)
		log_warning("state", "could not write \"%s\": %s", path, strerror(errno));
	free(buf);
	a->declines_dirty = false;
	a->declines_written = now_seconds();
}

/* the declines of the last hour that a previous run wrote: status counts them */
static void
load_declines(Agent *a)
{
	char		path[PATH_MAX];
	char	   *text;
	double		cutoff = now_seconds() - 3600;

	snprintf(path, sizeof(path), "%s/declines", a->dir);
	text = read_file(path, 64 * 1024 * 1024, NULL);
	for (char *line = text; line && *line;)
	{
		char	   *next = strchr(line, '\n');
		double		at;
		char		why[64];

		if (sscanf(line, "%lf %63s", &at, why) == 2 && at >= cutoff)
			for (int k = 1; k < DECLINE__COUNT; k++)
				if (strcmp(why, decision_name((Decision) k)) == 0)
				{
					int			i = (a->decline_head + a->decline_count) % DECLINE_RING;

					if (a->decline_count == DECLINE_RING)
						break;
					a->decline_at[i] = at;
					a->decline_why[i] = (unsigned char) k;
					a->decline_count++;
				}
		line = next ? next + 1 : NULL;
	}
	free(text);
}

void
agent_write_state(Agent *a)
{
	char		buf[8192];
	size_t		n = 0;
	char		path[PATH_MAX];

	n += snprintf(buf + n, sizeof(buf) - n,
				  "pid %d\nupdated %.0f\nconnected %d\nslots_used %d\nbids_placed %ld\njobs_run %ld\n",
				  (int) getpid(), now_seconds(), a->m.conn != NULL, a->slots_used,
				  a->bids_placed, a->jobs_run);
	for (int i = 0; i < a->njobs && n < sizeof(buf) - 100; i++)
		n += snprintf(buf + n, sizeof(buf) - n, "job %lld task %lld %s %.0f\n",
					  a->jobs[i]->job_id, a->jobs[i]->task_id,
					  a->jobs[i]->done ? "reporting" : "running", a->jobs[i]->rs.started);
	for (int i = 0; i < a->nsvcs && n < sizeof(buf) - 200; i++)
		n += snprintf(buf + n, sizeof(buf) - n, "service %s lease %lld job %lld %s %s starts %d\n",
					  a->svcs[i]->name, a->svcs[i]->lease_id, a->svcs[i]->job_id,
					  a->svcs[i]->state[0] ? a->svcs[i]->state : "-",
					  a->svcs[i]->running ? "running" : "stopped", a->svcs[i]->starts);
	snprintf(path, sizeof(path), "%s/agent.state", a->dir);
	if (write_file_atomic(path, buf, n, 0644, false) != 0)
		log_warning("state", "could not write \"%s\": %s", path, strerror(errno));
}

static bool
str_changed(const char *x, const char *y)
{
	if (x == NULL || y == NULL)
		return x != y;
	return strcmp(x, y) != 0;
}

static void
reload(Agent *a)
{
	Config		fresh;
	char		err[512];
	bool		conninfo_changed;
	bool		listen_changed;
	bool		scan_changed;

	config_defaults(&fresh, a->dir);
	if (config_load(&fresh, a->config_path, err, sizeof(err)) != 0)
	{
		log_error("config", "configuration not reloaded: %s", err);
		config_free(&fresh);
		return;
	}
	/* a conninfo libpq cannot parse would fail at every reconnect: refuse it now */
	if (market_conninfo_check(fresh.conninfo, err, sizeof(err)) != 0)
	{
		log_error("config", "configuration not reloaded: %s: market.conninfo is not a valid libpq connection string: %s",
				  a->config_path, err);
		config_free(&fresh);
		return;
	}
	{
		double		cpu,
					mem,
					disk;

		detect_resources(a->dir, &cpu, &mem, &disk);
		if (fresh.cpu < 0)
			fresh.cpu = cpu;
		if (fresh.memory_gb < 0)
			fresh.memory_gb = mem;
		if (fresh.storage_gb < 0)
			fresh.storage_gb = disk;
	}
	log_info("config", "received SIGHUP, reloading \"%s\"", a->config_path);
	config_log_changes(&a->cfg, &fresh);
	conninfo_changed = strcmp(a->cfg.conninfo, fresh.conninfo) != 0;
	listen_changed = str_changed(a->cfg.listen_conninfo, fresh.listen_conninfo);
	scan_changed = fresh.scan_interval_s != a->cfg.scan_interval_s;
	if (fresh.max_concurrent != a->cfg.max_concurrent && a->m.conn)
	{
		char		v[16];
		const char *vals[1] = {v};
		PGresult   *res;

		snprintf(v, sizeof(v), "%d", fresh.max_concurrent);
		res = market_query(&a->m, "SELECT lagbid_api.set_bid_limit($1::int)", 1, vals, NULL, NULL);
		if (res && !market_ok(res))
		{
			char		msg[512];

			market_error_text(res, a->m.conn, msg, sizeof(msg));
			log_warning("config", "could not set the bid limit: %s", msg);
		}
		PQclear(res);
	}
	{
		bool		moved = str_changed(a->cfg.region, fresh.region) ||
			a->cfg.cpu != fresh.cpu || a->cfg.memory_gb != fresh.memory_gb ||
			a->cfg.storage_gb != fresh.storage_gb || str_changed(a->cfg.gpu, fresh.gpu) ||
			a->cfg.gpu_count != fresh.gpu_count || a->cfg.nmultiaddrs != fresh.nmultiaddrs;

		for (int i = 0; !moved && i < fresh.nmultiaddrs; i++)
			moved = strcmp(a->cfg.multiaddrs[i], fresh.multiaddrs[i]) != 0;
		if (moved)
			log_warning("config", "region, resources or multiaddrs changed: the market keeps the registered ones until \"lagbid-agent init --dir %s\" registers again",
						a->dir);
	}
	config_free(&a->cfg);
	a->cfg = fresh;
	/* new prices or lists: every task deserves a new decision */
	memset(a->decided, 0, sizeof(a->decided));
	a->ndecided = 0;
	a->want_scan = true;
	a->want_full_scan = true;
	/* a new interval counts from now, not from the old one's next turn */
	if (scan_changed)
		a->next_scan = now_seconds();
	if (conninfo_changed && a->m.conn)
	{
		market_disconnect(&a->m, "conninfo changed");
		a->m.next_attempt = 0;
		a->m.backoff = 0;
	}
	if (a->lm.conn && (listen_changed || a->cfg.listen_conninfo == NULL))
	{
		market_disconnect(&a->lm, "listen_conninfo changed");
		a->lm.next_attempt = 0;
		a->lm.backoff = 0;
	}
	/* LISTEN moves to its own session, or back to conninfo's */
	if (a->m.conn && listen_changed)
	{
		market_disconnect(&a->m, "listen_conninfo changed");
		a->m.next_attempt = 0;
		a->m.backoff = 0;
	}
}

static void schedule_full_scan(Agent *a, double within);

static void
on_connected(Agent *a)
{
	char		v[16];
	const char *vals[1] = {v};
	PGresult   *res;

	market_detect_api(a);
	snprintf(v, sizeof(v), "%d", a->cfg.max_concurrent);
	res = market_query(&a->m, "SELECT lagbid_api.set_bid_limit($1::int)", 1, vals, NULL, NULL);
	if (res && !market_ok(res))
	{
		char		msg[512];

		market_error_text(res, a->m.conn, msg, sizeof(msg));
		log_warning("start", "could not set the bid limit to %d: %s", a->cfg.max_concurrent, msg);
	}
	PQclear(res);
	/* whatever happened while we were away */
	market_reconcile(a);
	market_on_notification(a);
	/* and the tasks opened meanwhile: soon, but not with the whole fleet */
	schedule_full_scan(a, 5);
}

/*
 * After a full scan that began with a slot free, a task still marked
 * "declined for capacity" was not among the open tasks (it would have had
 * a bid): it closed or went to others.  Mark it settled, or every freed
 * slot would read open_tasks() again for it, and the fleet's scans would
 * grow with its completed jobs.
 */
static void
settle_capacity_declines(Agent *a)
{
	for (int i = 0; i < DECIDED_SLOTS; i++)
		if (a->decided[i].task_id != 0 && a->decided[i].decision == DECLINE_CAPACITY)
			a->decided[i].decision = DECLINE_MARKET;
}

/* a random number in [0, 1) */
static double
uniform(void)
{
	return (rand() % 1000000) / 1000000.0;
}

/* read open_tasks() whole within a random 0 to `within` seconds */
static void
schedule_full_scan(Agent *a, double within)
{
	double		at = now_seconds() + uniform() *
		(within < a->cfg.scan_interval_s ? within : a->cfg.scan_interval_s);

	a->want_full_scan = true;
	if (a->next_scan == 0 || at < a->next_scan)
		a->next_scan = at;
}

/* the session that LISTENs: its own with listen_conninfo, else m's */
static Market *
listening(Agent *a)
{
	return a->cfg.listen_conninfo ? &a->lm : &a->m;
}

/*
 * Was every task opened since the last full scan pushed to us?  Yes when
 * the LISTEN session has been up since before that scan.
 */
static bool
heard_everything(Agent *a)
{
	Market	   *l = listening(a);

	return l->conn != NULL && a->last_full_scan > 0 && l->connected_at <= a->last_full_scan;
}

static int
live_jobs(Agent *a)
{
	return a->njobs;
}

int
agent_run(Agent *a)
{
	double		last_state = 0;

	install_signals();
	mkdir_p(a->cfg.work_dir, 0700);
	runner_sweep(a->cfg.work_dir);
	load_declines(a);
	lease_init(a);
	log_info("start", "lagbid-agent %s starting as node %s (region %s, %d slot%s, %g cpu, %g GB memory, %g GB storage)",
			 AGENT_VERSION, a->node_id, a->cfg.region, a->cfg.max_concurrent,
			 a->cfg.max_concurrent == 1 ? "" : "s",
			 a->cfg.cpu, a->cfg.memory_gb, a->cfg.storage_gb);

	for (;;)
	{
		double		now;
		int			timeout_ms = 1000;
		struct pollfd pfd[3];
		int			nfd = 0;

		if (got_chld)
		{
			got_chld = 0;
			runner_reap(a);
		}
		if (got_hup)
		{
			got_hup = 0;
			reload(a);
		}
		if (got_term && !a->stopping)
		{
			a->stopping = true;
			a->stop_deadline = now_seconds() + a->cfg.grace_period_s;
			log_info("stop", "received a stop signal: no more bids; %d job(s) get %d s to finish",
					 live_jobs(a), a->cfg.grace_period_s);
		}
		runner_check_timeouts(a);
		now = now_seconds();
		if (a->stopping && now >= a->stop_deadline)
		{
			bool		any = false;

			for (int i = 0; i < a->njobs; i++)
				if (!a->jobs[i]->done && !a->jobs[i]->rs.killed_for_shutdown)
					any = true;
			if (any)
			{
				log_info("stop", "grace period over: killing the running jobs");
				runner_kill_all(a, true);
			}
		}

		if (a->m.conn == NULL && now >= a->m.next_attempt)
		{
			if (market_connect(&a->m, a->cfg.conninfo,
							   a->cfg.listen_conninfo ? MARKET_SESSION_POOLED : MARKET_SESSION_BOTH))
			{
				metrics_connected();
				on_connected(a);
			}
			else
				metrics_connect_failed();
		}
		if (a->cfg.listen_conninfo && a->lm.conn == NULL && now >= a->lm.next_attempt)
		{
			a->lm.listener = true;
			/* pushes were missed while it was away: the next scan reads all */
			if (market_connect(&a->lm, a->cfg.listen_conninfo, MARKET_SESSION_LISTEN) &&
				a->m.conn)
				schedule_full_scan(a, 5);
		}
		a->m.listener = a->cfg.listen_conninfo == NULL;
		/* the statement session, when it is not the one that LISTENs: notice EOF */
		if (a->m.conn && a->cfg.listen_conninfo)
		{
			PGnotify   *n;

			if (PQconsumeInput(a->m.conn) == 0)
				market_disconnect(&a->m, PQerrorMessage(a->m.conn));
			while (a->m.conn && (n = PQnotifies(a->m.conn)) != NULL)
				PQfreemem(n);
		}
		if (a->m.conn)
			runner_report(a);
		if (listening(a)->conn)
		{
			Market	   *l = listening(a);
			PGnotify   *n;
			bool		mail = false;

			if (PQconsumeInput(l->conn) == 0)
				market_disconnect(l, PQerrorMessage(l->conn));
			while (l->conn && (n = PQnotifies(l->conn)) != NULL)
			{
				if (strcmp(n->relname, "lagbid_tasks") == 0)
				{
					bool		wanted = a->want_scan;

					market_on_task_notify(a, n->extra);
					/* more ids than a batch holds: open_tasks() says */
					if (!wanted && a->want_scan)
						a->want_full_scan = true;
				}
				else if (strcmp(n->relname, "lagbid") == 0)
					mail = true;
				PQfreemem(n);
			}

			/*
			 * One fetch for all the "lagbid" NOTIFYs of this turn: the
			 * payload names only an outbox id, not its recipient, so every
			 * agent hears every provider's notifications; a fetch per NOTIFY
			 * would cost the market a query per agent per notification.
			 */
			if (mail && a->m.conn)
				market_on_notification(a);
		}
		if (a->m.conn)
		{
			/* the ids pushed in this turn: one query for all of them */
			{
				long		before = a->bids_placed;
				double		t0 = now_seconds();

				market_flush_pushes(a);
				if (a->bids_placed > before)
					metrics_bid_latency(now_seconds() - t0);
			}
			if (a->m.conn && a->want_reconcile)
				market_reconcile(a);
			if (a->m.conn && !a->stopping && (now >= a->next_scan || a->want_scan))
			{
				int			capacity = market_capacity_declined(a);
				bool		timer = now >= a->next_scan;
				bool		full;

				if (a->want_scan && !timer && capacity > 0 &&
					a->slots_used < a->cfg.max_concurrent)
					log_info("scan", "a slot is free (%d of %d used): looking again at %d task(s) declined for capacity",
							 a->slots_used, a->cfg.max_concurrent, capacity);
				/*
				 * Incremental: what the LISTEN session heard since the last
				 * full scan was decided when it arrived; read open_tasks()
				 * only for what it may not have heard, or what waits for a
				 * slot.
				 */
				full = a->want_full_scan || !heard_everything(a) ||
					(a->want_scan && capacity > 0) ||
					(timer && now - a->last_full_scan >=
					 (double) FULL_SCAN_EVERY * a->cfg.scan_interval_s * 0.8);
				a->want_scan = false;
				if (timer)
				{
					/* what a NOTIFY missed: notifications, jobs */
					market_on_notification(a);
					market_reconcile(a);
				}
				if (full && a->m.conn)
				{
					bool		slot_free = a->slots_used < a->cfg.max_concurrent;

					market_scan(a);
					if (a->m.conn)
					{
						a->want_full_scan = false;
						a->last_full_scan = now;
						if (slot_free && a->slots_used < a->cfg.max_concurrent)
							settle_capacity_declines(a);
					}
				}
				else
					log_debug("scan", "LISTEN unbroken since the last full scan and no task waits for a slot: open_tasks() not read");
				if (timer)
					a->next_scan = now + a->cfg.scan_interval_s * (0.8 + 0.4 * uniform());
			}
		}
		/* services: restarts, teardowns, endpoints; probes */
		lease_tick(a);
		if (a->m.conn && (a->want_probes || now >= a->next_probes))
		{
			lease_probes(a);
			a->next_probes = now + a->cfg.scan_interval_s;
		}
		lease_report_probes(a);
		if (a->declines_dirty && now - a->declines_written >= 2)
			write_declines(a);
		if (now - last_state >= 2)
		{
			agent_write_state(a);
			metrics_write(a);
			last_state = now;
		}
		if (a->stopping && a->njobs == 0)
			break;
		/* stopping and the market unreachable: what is left is reconciled at the next start */
		if (a->stopping && a->m.conn == NULL && now >= a->stop_deadline + 10)
		{
			log_warning("stop", "%d job report(s) could not reach the market; the next start reconciles them",
						a->njobs);
			break;
		}

		pfd[nfd].fd = sig_pipe[0];
		pfd[nfd].events = POLLIN;
		nfd++;
		if (a->m.conn)
		{
			pfd[nfd].fd = PQsocket(a->m.conn);
			pfd[nfd].events = POLLIN;
			nfd++;
		}
		if (a->lm.conn)
		{
			pfd[nfd].fd = PQsocket(a->lm.conn);
			pfd[nfd].events = POLLIN;
			nfd++;
		}
		if (poll(pfd, nfd, timeout_ms) > 0 && (pfd[0].revents & POLLIN))
		{
			char		buf[64];

			while (read(sig_pipe[0], buf, sizeof(buf)) > 0)
				;
		}
	}
	lease_stop_all(a);
	write_declines(a);
	agent_write_state(a);
	metrics_write(a);
	idset_free(&a->pushed);
	idset_free(&a->lease_jobs);
	idset_free(&a->probes_started);
	wlcache_clear();
	if (a->m.conn)
		PQfinish(a->m.conn);
	if (a->lm.conn)
		PQfinish(a->lm.conn);
	{
		char		counts[512] = "";
		size_t		n = 0;

		for (int d = 1; d < DECLINE__COUNT; d++)
			if (a->declines_total[d] > 0)
				n += snprintf(counts + n, sizeof(counts) - n, "%s%s %ld", n ? ", " : "",
							  decision_name((Decision) d), a->declines_total[d]);
		log_info("stop", "lagbid-agent stopped (%ld bids placed, %ld jobs run; declines: %s)",
				 a->bids_placed, a->jobs_run, n ? counts : "none");
	}
	return 0;
}
