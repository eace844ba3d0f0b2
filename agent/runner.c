/*-------------------------------------------------------------------------
 *
 * runner.c
 *	  The life of a won job here: start it in the sandbox (sandbox.c),
 *	  notice its end (SIGCHLD, waitpid WNOHANG) or its timeout, and report
 *	  to the market: upload_result() for an output up to max_result_bytes,
 *	  else a file in result_dir and submit_result() with a file:// URI and
 *	  its sha256; fail_job() with the reason when the run failed.
 *
 * A report that could not reach the market (connection lost) stays
 * pending and is sent after the reconnect; a report the market refuses
 * (the job is no longer processing) is logged and dropped.  The market's
 * job state guarantees nothing is submitted twice.
 *
 *-------------------------------------------------------------------------
 */
#include "daemon.h"

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

/*
 * Delete a job directory without holding up the main loop: renamed out of
 * the way at once (a re-run of the job starts from a fresh one), then
 * removed by a child process (a tree a workload built may take a minute to
 * delete on a slow disk); runner_reap() collects the child.  Whatever a
 * crash leaves behind is removed at the next start (runner_sweep).
 */
void
runner_remove_dir(const char *jobdir)
{
	char		gone[PATH_MAX + 32];
	pid_t		pid;

	snprintf(gone, sizeof(gone), "%s.deleted-%d-%ld", jobdir, (int) getpid(), (long) (now_seconds() * 1000));
	if (rename(jobdir, gone) != 0)
	{
		if (errno != ENOENT)
			rm_rf(jobdir);
		return;
	}
	pid = fork();
	if (pid == 0)
		_exit(rm_rf(gone) == 0 ? 0 : 1);
	if (pid < 0)
		rm_rf(gone);
}

/*
 * At start, before any job runs here: every directory in work_dir is a
 * leftover (of a crash, or of a deletion cut short).  Renamed out of the
 * way at once, so that a re-run of its job starts from a fresh directory,
 * then deleted in the background.
 */
void
runner_sweep(const char *work_dir)
{
	DIR		   *d = opendir(work_dir);
	struct dirent *e;
	pid_t		pid;
	long		stamp = (long) (now_seconds() * 1000);

	if (d == NULL)
		return;
	while ((e = readdir(d)) != NULL)
	{
		char		path[PATH_MAX],
					gone[PATH_MAX + 32];

		if (e->d_name[0] == '.' || strstr(e->d_name, ".deleted-") != NULL)
			continue;
		snprintf(path, sizeof(path), "%s/%s", work_dir, e->d_name);
		snprintf(gone, sizeof(gone), "%s.deleted-%d-%ld", path, (int) getpid(), stamp);
		if (rename(path, gone) != 0)
			log_warning("start", "could not move \"%s\" out of the way: %s", path, strerror(errno));
	}
	closedir(d);
	pid = fork();
	if (pid < 0)
		log_warning("start", "could not sweep \"%s\": %s", work_dir, strerror(errno));
	if (pid != 0)
		return;
	d = opendir(work_dir);
	while (d && (e = readdir(d)) != NULL)
	{
		char		path[PATH_MAX];

		if (strstr(e->d_name, ".deleted-") == NULL)
			continue;
		snprintf(path, sizeof(path), "%s/%s", work_dir, e->d_name);
		rm_rf(path);
	}
	_exit(0);
}

Job *
runner_find(Agent *a, long long job_id)
{
	for (int i = 0; i < a->njobs; i++)
		if (a->jobs[i]->job_id == job_id)
			return a->jobs[i];
	return NULL;
}

void
runner_drop(Agent *a, Job *j)
{
	for (int i = 0; i < a->njobs; i++)
		if (a->jobs[i] == j)
		{
			a->jobs[i] = a->jobs[--a->njobs];
			break;
		}
	runner_remove_dir(j->jobdir);
	workload_free(&j->wl);
	free(j->out_path);
	free(j);
	/* a slot frees: the market says how many, and we look again */
	a->want_reconcile = true;
	a->want_scan = true;
}

/*
 * The limits of a run from the task's resources and the agent's config:
 * memory (RLIMIT_AS per process, and the watcher's bound on them all with
 * the tmpfs), disk (storage_gb, else jobs.default_storage_gb), /tmp and
 * /dev/shm sized to the smaller of the two plus a page (a full tmpfs is
 * then over both), CPU seconds, file size, processes, files.
 */
void
runner_limits(const Config *c, const char *resources, int timeout_s, SandboxLimits *l)
{
	TaskTerms	t;
	double		mem,
				disk,
				cpus;

	memset(&t, 0, sizeof(t));
	memset(l, 0, sizeof(*l));
	if (resources)
		terms_from_resources(&t, resources, strlen(resources));
	mem = t.memory_gb > 0 ? t.memory_gb : c->default_memory_gb;
	if (mem < 1)
		mem = 1;
	disk = t.storage_gb > 0 ? t.storage_gb : c->default_storage_gb;
	if (disk > 1e6)
		disk = 1e6;
	cpus = t.cpu >= 1 ? ceil(t.cpu) : 1;
	l->memory_gb = mem;
	l->storage_gb = disk;
	l->memory_bytes = mem > 1e6 ? 0 : (long) (mem * 1024 * 1024 * 1024);
	l->disk_bytes = (long long) (disk * 1024 * 1024 * 1024);
	l->tmpfs_bytes = l->disk_bytes;
	if (l->memory_bytes > 0 && l->memory_bytes < l->tmpfs_bytes)
		l->tmpfs_bytes = l->memory_bytes;
	l->tmpfs_bytes = (l->tmpfs_bytes / 4096 + 1) * 4096;
	l->cpu_seconds = (long) (cpus * timeout_s) + 5;
	l->file_bytes = c->max_output_bytes;
	l->processes = c->max_processes;
	l->max_files = c->max_files;
}

static void
fail_now(Agent *a, long long job_id, long long task_id, const char *reason)
{
	Job		   *j = xcalloc(1, sizeof(Job));

	/* a job that never ran: report its failure like any other */
	j->job_id = job_id;
	j->task_id = task_id;
	j->done = true;
	j->ok = false;
	snprintf(j->reason, sizeof(j->reason), "%s", reason);
	snprintf(j->jobdir, sizeof(j->jobdir), "%s/%lld", a->cfg.work_dir, job_id);
	a->jobs[a->njobs++] = j;
	log_info("run", "job %lld of task %lld cannot run: %s", job_id, task_id, reason);
}

void
runner_start(Agent *a, long long job_id, long long task_id, const char *workload,
			 const char *resources, double left_s)
{
	Job		   *j;
	char		err[512];
	int			timeout;

	if (a->njobs >= MAX_JOBS)
	{
		log_warning("run", "job %lld not started: %d jobs already here", job_id, MAX_JOBS);
		return;
	}
	if (workload == NULL)
	{
		fail_now(a, job_id, task_id, "the task has no workload to run");
		return;
	}
	if (left_s < 1)
	{
		fail_now(a, job_id, task_id, "deadline passed before the job could run");
		return;
	}
	j = xcalloc(1, sizeof(Job));
	j->job_id = job_id;
	j->task_id = task_id;
	snprintf(j->jobdir, sizeof(j->jobdir), "%s/%lld", a->cfg.work_dir, job_id);
	if (workload_parse(workload, strlen(workload), &j->wl, err, sizeof(err)) != 0)
	{
		char		reason[600];

		free(j);
		snprintf(reason, sizeof(reason), "invalid workload: %s", err);
		fail_now(a, job_id, task_id, reason);
		return;
	}
	timeout = j->wl.timeout_s;
	if (left_s < timeout)
		timeout = (int) left_s;
	j->spec.wl = &j->wl;
	j->spec.jobdir = j->jobdir;
	j->spec.bwrap = a->cfg.bwrap;
	j->spec.self_exe = a->self_exe;
	j->spec.timeout_s = timeout;
	runner_limits(&a->cfg, resources, timeout, &j->spec.limits);
	a->jobs[a->njobs++] = j;
	if (sandbox_prepare(&j->wl, j->jobdir, err, sizeof(err)) != 0 ||
		sandbox_start(&j->spec, &j->rs, err, sizeof(err)) != 0)
	{
		j->done = true;
		snprintf(j->reason, sizeof(j->reason), "%s", err);
		log_info("run", "job %lld of task %lld cannot run: %s", job_id, task_id, err);
		return;
	}
	a->jobs_run++;
	log_info("run", "job %lld of task %lld started in the sandbox (pid %d, timeout %d s, %s)",
			 job_id, task_id, (int) j->rs.pid, timeout, j->wl.argv[0]);
}

/* collect every ended child (SIGCHLD told us some did) */
void
runner_reap(Agent *a)
{
	for (;;)
	{
		int			status;
		pid_t		pid = waitpid(-1, &status, WNOHANG);

		if (pid <= 0)
			break;
		if (lease_reaped(a, pid, status))
			continue;
		for (int i = 0; i < a->njobs; i++)
		{
			Job		   *j = a->jobs[i];

			if (j->rs.pid != pid || j->rs.finished)
				continue;
			/* the group may hold leftovers: none outlives the run */
			kill(-pid, SIGKILL);
			j->rs.finished = true;
			j->rs.wait_status = status;
			j->done = true;
			j->ok = sandbox_outcome(&j->spec, &j->rs, &j->out_path, j->reason,
									sizeof(j->reason)) == 0;
			log_info("run", "job %lld of task %lld ended after %.1f s: %s",
					 j->job_id, j->task_id, now_seconds() - j->rs.started,
					 j->ok ? "output ready" : j->reason);
		}
	}
}

void
runner_check_timeouts(Agent *a)
{
	double		now = now_seconds();

	for (int i = 0; i < a->njobs; i++)
	{
		Job		   *j = a->jobs[i];

		if (j->done || j->rs.pid <= 0 || j->rs.finished || j->rs.timed_out)
			continue;
		if (now >= j->rs.kill_at)
		{
			j->rs.timed_out = true;
			log_info("timeout", "job %lld of task %lld ran past its %d s: killing it",
					 j->job_id, j->task_id, j->spec.timeout_s);
			sandbox_kill(&j->rs);
		}
	}
}

void
runner_kill_all(Agent *a, bool for_shutdown)
{
	for (int i = 0; i < a->njobs; i++)
	{
		Job		   *j = a->jobs[i];

		if (j->done || j->rs.finished)
			continue;
		j->rs.killed_for_shutdown = for_shutdown;
		sandbox_kill(&j->rs);
	}
}

/* copy the output to result_dir; returns the file:// URI or NULL */
static char *
store_result(Agent *a, Job *j, const char *hex, char *err, size_t errlen)
{
	char		dest[PATH_MAX],
				tmp[PATH_MAX + 8];
	int			in,
				out;
	char		buf[65536];
	ssize_t		r;
	char	   *uri;

	if (mkdir_p(a->cfg.result_dir, 0755) != 0)
	{
		snprintf(err, errlen, "could not create result directory: %s", strerror(errno));
		return NULL;
	}
	snprintf(dest, sizeof(dest), "%s/job-%lld-%.16s.out", a->cfg.result_dir, j->job_id, hex);
	snprintf(tmp, sizeof(tmp), "%s.tmp", dest);
	in = open(j->out_path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	out = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (in < 0 || out < 0)
	{
		snprintf(err, errlen, "could not store the result: %s", strerror(errno));
		if (in >= 0)
			close(in);
		if (out >= 0)
			close(out);
		return NULL;
	}
	while ((r = read(in, buf, sizeof(buf))) > 0)
		if (write(out, buf, r) != r)
		{
			r = -1;
			break;
		}
	close(in);
	if (r < 0 || fsync(out) != 0 || close(out) != 0 || rename(tmp, dest) != 0)
	{
		snprintf(err, errlen, "could not store the result: %s", strerror(errno));
		unlink(tmp);
		return NULL;
	}
	uri = xmalloc(strlen(dest) + 8);
	sprintf(uri, "file://%s", dest);
	return uri;
}

/* one report; returns false when it must be retried later (no connection) */
static bool
report_one(Agent *a, Job *j)
{
	char		jid[32];
	PGresult   *res = NULL;
	char		msg[512];
	const char *what;

	snprintf(jid, sizeof(jid), "%lld", j->job_id);
	if (j->ok)
	{
		char		hex[65];
		size_t		size;

		if (sha256_file_hex(j->out_path, hex, &size) != 0)
		{
			j->ok = false;
			snprintf(j->reason, sizeof(j->reason), "output unreadable");
			return report_one(a, j);
		}
		if ((long) size <= a->cfg.max_result_bytes && !j->force_file)
		{
			size_t		len;
			char	   *data = read_file(j->out_path, size + 1, &len);
			const char *vals[2] = {jid, data};
			int			lens[2] = {0, (int) len};
			int			fmts[2] = {0, 1};

			if (data == NULL)
			{
				j->ok = false;
				snprintf(j->reason, sizeof(j->reason), "output unreadable");
				return report_one(a, j);
			}
			res = market_query(&a->m, "SELECT lagbid_api.upload_result($1::bigint, $2::bytea)",
							   2, vals, lens, fmts);
			free(data);
			what = "uploaded";
			if (res && market_ok(res))
				log_info("upload", "job %lld of task %lld result uploaded (%zu bytes, %s)",
						 j->job_id, j->task_id, len, PQgetvalue(res, 0, 0));
		}
		else
		{
			char		err[256];
			char	   *uri = store_result(a, j, hex, err, sizeof(err));
			char		hash[80];
			const char *vals[3] = {jid, uri, hash};

			if (uri == NULL)
			{
				j->ok = false;
				snprintf(j->reason, sizeof(j->reason), "%s", err);
				return report_one(a, j);
			}
			snprintf(hash, sizeof(hash), "sha256:%s", hex);
			res = market_query(&a->m, "SELECT lagbid_api.submit_result($1::bigint, $2, $3)",
							   3, vals, NULL, NULL);
			what = "submitted";
			if (res && market_ok(res))
				log_info("upload", "job %lld of task %lld result submitted as %s (%zu bytes, %s)",
						 j->job_id, j->task_id, uri, size, hash);
			free(uri);
		}
	}
	else
	{
		const char *vals[2] = {jid, j->reason};

		res = market_query(&a->m, "SELECT lagbid_api.fail_job($1::bigint, $2)", 2, vals, NULL, NULL);
		what = "failed";
		if (res && market_ok(res))
			log_info("fail", "job %lld of task %lld failed: %s", j->job_id, j->task_id, j->reason);
	}
	if (res == NULL)
		return false;			/* no connection: keep it for later */
	if (!market_ok(res))
	{
		const char *code = market_sqlstate(res);

		market_error_text(res, a->m.conn, msg, sizeof(msg));
		log_warning("report", "job %lld of task %lld could not be %s: %s (SQLSTATE %s)",
					j->job_id, j->task_id, what, msg, code);
		/* too large for upload_result: the market's cap is below ours */
		if (j->ok && strcmp(what, "uploaded") == 0 && strcmp(code, "LB007") == 0)
		{
			PQclear(res);
			log_info("report", "job %lld: submitting the result as a file instead", j->job_id);
			j->force_file = true;
			return report_one(a, j);
		}
		/* a refused result must not leave the job hanging until its deadline */
		if (j->ok && strcmp(code, "LB301") != 0 && strcmp(code, "LB203") != 0 &&
			strcmp(code, "LB103") != 0)
		{
			PQclear(res);
			j->ok = false;
			snprintf(j->reason, sizeof(j->reason), "result refused by the market: %.400s", msg);
			return report_one(a, j);
		}
	}
	metrics_job_reported(market_ok(res) ? what : "refused", j->ok ? NULL : j->reason);
	PQclear(res);
	return true;
}

/* send every pending report */
void
runner_report(Agent *a)
{
	for (int i = a->njobs - 1; i >= 0 && a->m.conn; i--)
	{
		Job		   *j = a->jobs[i];

		if (!j->done)
			continue;
		if (j->abandoned)
		{
			runner_drop(a, j);
			continue;
		}
		if (report_one(a, j))
			runner_drop(a, j);
	}
}
