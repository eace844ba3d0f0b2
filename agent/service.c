/*-------------------------------------------------------------------------
 *
 * service.c
 *	  The life of one service (a lease's app) on this machine: start it in
 *	  the sandbox with its helper (svcbox.c) and its route in the front
 *	  proxy (proxy.c), restart it with backoff when it ends, and tear it
 *	  down: SIGTERM inside, grace, SIGKILL of the whole sandbox, the route
 *	  removed, and the proof that no process of its pid namespace is left.
 *
 * What the market says of the lease (lease.c) drives it; nothing here
 * talks to the market, so `lagbid-agent serve` (main.c) runs the same code
 * without one, for the tests.
 *
 * Restarts: 1 s after the first end, doubling up to 60 s; a run that
 * lasted 60 s or more starts the backoff again from 1 s.  Each start is a
 * fresh sandbox (a fresh work directory with the workload's inputs), as a
 * re-run of a batch job is.
 *
 *-------------------------------------------------------------------------
 */
#include "daemon.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define BACKOFF_FIRST 1.0
#define BACKOFF_MAX 60.0
#define BACKOFF_RESET_AFTER 60.0

Service *
service_new(const char *name, int port, const char *health_path, int expected_status)
{
	Service    *s = xcalloc(1, sizeof(Service));

	snprintf(s->name, sizeof(s->name), "%s", name);
	s->port = port;
	snprintf(s->health_path, sizeof(s->health_path), "%s", health_path);
	s->expected_status = expected_status;
	s->ctl = -1;
	s->backoff = BACKOFF_FIRST;
	return s;
}

/* a fresh sandbox for the app; its route gets the helper's socket */
int
service_start(Service *s, const Config *c, const char *self_exe, char *err, size_t errlen)
{
	int			sv[2];

	if (!s->have_wl)
	{
		snprintf(err, errlen, "no workload");
		return -1;
	}
	snprintf(s->jobdir, sizeof(s->jobdir), "%s/svc-%s", c->work_dir, s->name);
	memset(&s->spec, 0, sizeof(s->spec));
	s->spec.wl = &s->wl;
	s->spec.jobdir = s->jobdir;
	s->spec.bwrap = c->bwrap;
	s->spec.self_exe = self_exe;
	s->spec.timeout_s = 1;
	runner_limits(c, NULL, 1, &s->spec.limits);
	/* a service runs as long as its lease: no CPU-seconds limit */
	s->spec.limits.cpu_seconds = 0;
	/* its output files: the captured stdout/stderr, bounded as a job's */
	if (mkdir_p(c->work_dir, 0700) != 0 || svcbox_socketpair(sv) != 0)
	{
		snprintf(err, errlen, "could not create the service's socket: %s", strerror(errno));
		return -1;
	}
	s->spec.svc_port = s->port;
	s->spec.svc_fd = sv[1];
	if (sandbox_prepare(&s->wl, s->jobdir, err, errlen) != 0 ||
		sandbox_start(&s->spec, &s->rs, err, errlen) != 0)
	{
		close(sv[0]);
		close(sv[1]);
		return -1;
	}
	close(sv[1]);
	if (s->ctl >= 0)
		close(s->ctl);
	s->ctl = fcntl(sv[0], F_DUPFD_CLOEXEC, 3);
	proxy_route_set(s->name, s->port, s->health_path, s->expected_status, sv[0]);
	s->running = true;
	s->ns_ino = 0;
	s->started_at = now_seconds();
	s->starts++;
	log_info("service", "service %s started in the sandbox (pid %d, port %d, start %d)",
			 s->name, (int) s->rs.pid, s->port, s->starts);
	return 0;
}

/* the sandbox's watcher ended (reaped by the caller) */
void
service_ended(Service *s, int status)
{
	int			left;
	double		ran = now_seconds() - s->started_at;

	/* the watcher's group may hold leftovers: none outlives the run */
	kill(-s->rs.pid, SIGKILL);
	s->rs.finished = true;
	s->running = false;
	if (s->ctl >= 0)
		close(s->ctl);
	s->ctl = -1;
	left = svcbox_wait_empty(s->ns_ino, 2000);
	if (left > 0)
		log_warning("service", "service %s: %d process(es) of its sandbox outlived it and could not be killed",
					s->name, left);
	if (s->tearing_down)
	{
		proxy_route_remove(s->name);
		/* the proof: nothing of that pid namespace is left */
		left = svcbox_sweep_pidns(s->ns_ino, false);
		s->left_after_teardown = left;
		s->torn_down = true;
		log_info("teardown", "service %s torn down after %.1f s: %s%s", s->name,
				 now_seconds() - s->term_at,
				 left == 0 ? "no process left" : "PROCESSES LEFT",
				 s->ns_ino ? "" : " (its pid namespace was never seen)");
		return;
	}
	if (ran >= BACKOFF_RESET_AFTER)
		s->backoff = BACKOFF_FIRST;
	s->restart_at = now_seconds() + s->backoff;
	log_warning("service", "service %s ended (%s %d) after %.1f s: restarting in %.0f s",
				s->name, WIFSIGNALED(status) ? "signal" : "status",
				WIFSIGNALED(status) ? WTERMSIG(status) : WEXITSTATUS(status), ran, s->backoff);
	s->backoff = s->backoff * 2 > BACKOFF_MAX ? BACKOFF_MAX : s->backoff * 2;
}

void
service_teardown(Service *s)
{
	if (s->tearing_down)
		return;
	s->tearing_down = true;
	s->term_at = now_seconds();
	if (!s->running)
	{
		proxy_route_remove(s->name);
		s->left_after_teardown = svcbox_wait_empty(s->ns_ino, 2000);
		s->torn_down = true;
		log_info("teardown", "service %s torn down (it was not running)", s->name);
		return;
	}
	log_info("teardown", "service %s: SIGTERM to its processes, %d s of grace", s->name, s->grace_s);
	if (s->ctl < 0 || svcbox_terminate(s->ctl) != 0)
		s->term_at = 0;			/* no helper to ask: SIGKILL at the next turn */
}

/* one turn: restarts, the teardown's SIGKILL, the pid namespace */
void
service_tick(Service *s, const Config *c, const char *self_exe)
{
	double		now = now_seconds();

	if (s->running && s->ns_ino == 0)
	{
		int			st;
		double		at;
		unsigned long ino = 0;

		if (proxy_route_status(s->name, &st, &at, &ino) && ino)
			s->ns_ino = ino;
	}
	if (s->tearing_down)
	{
		if (s->running && !s->killed && now >= s->term_at + s->grace_s)
		{
			log_info("teardown", "service %s: grace over, SIGKILL to its sandbox", s->name);
			s->killed = true;
			sandbox_kill(&s->rs);
		}
		return;
	}
	if (!s->running && s->restart_at > 0 && now >= s->restart_at)
	{
		char		err[512];

		s->restart_at = 0;
		if (service_start(s, c, self_exe, err, sizeof(err)) != 0)
		{
			s->restart_at = now + s->backoff;
			log_warning("service", "service %s could not start: %s (again in %.0f s)", s->name, err, s->backoff);
			s->backoff = s->backoff * 2 > BACKOFF_MAX ? BACKOFF_MAX : s->backoff * 2;
		}
	}
}

/* the app answers its health path with the expected status */
bool
service_healthy(Service *s)
{
	int			st = 0;
	double		at = 0;
	unsigned long ino = 0;

	return s->running && proxy_route_status(s->name, &st, &at, &ino) &&
		at >= s->started_at && st == s->expected_status;
}

void
service_free(Service *s)
{
	if (s->ctl >= 0)
		close(s->ctl);
	if (s->have_wl)
		workload_free(&s->wl);
	if (s->jobdir[0])
		runner_remove_dir(s->jobdir);
	free(s);
}
