/*-------------------------------------------------------------------------
 *
 * limits.c
 *	  The watcher of one running job: a process between the agent and
 *	  bubblewrap that holds the job to its disk and memory, and ends it
 *	  with the reason when it crosses either.
 *
 * Without a delegated cgroup (an unprivileged agent rarely has one: see
 * limits_describe) the kernel bounds some of it and this watcher the rest:
 *
 *	  disk	 = the work directory (its allocated blocks, walked by tree.c)
 *			 + the captured stdout and stderr + what /tmp and /dev/shm hold;
 *			 at most the task's storage_gb (jobs.default_storage_gb when it
 *			 names none); at most jobs.max_files entries in the work directory
 *	  memory = the proportional set size (Pss) of every process of the
 *			 sandbox + what /tmp and /dev/shm hold; at most memory_gb
 *
 * /tmp and /dev/shm are tmpfs sized by bubblewrap to min(disk, memory), so
 * RAM-backed files are bounded by the kernel even between two looks; a
 * look happens every 250 ms, or less often when walking the work directory
 * takes longer (at most a fifth of the time goes to walking).  After the
 * sandbox ends, the work directory is measured once more, so a job that
 * wrote past its disk between two looks fails all the same.
 *
 * The reason goes to the job directory's "limit" file (out of the
 * sandbox's view), where sandbox_outcome() finds it.  The watcher leaves
 * with bubblewrap's own exit status otherwise.
 *
 *-------------------------------------------------------------------------
 */
#include "agent.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/magic.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#define GB (1024.0 * 1024.0 * 1024.0)
#define MAX_SANDBOX_PIDS 8192
#define LOOK_INTERVAL 0.25

/* the first child of pid (bubblewrap's: the sandbox's pid 1), or 0 */
static pid_t
first_child(pid_t pid)
{
	char		path[64],
				buf[64];
	int			fd;
	ssize_t		r;

	snprintf(path, sizeof(path), "/proc/%d/task/%d/children", (int) pid, (int) pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	r = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (r <= 0)
		return 0;
	buf[r] = '\0';
	return (pid_t) strtol(buf, NULL, 10);
}

/*
 * The bytes a tmpfs of the sandbox holds (through its pid 1's root).  Only
 * once it is the sandbox's own: a tmpfs of exactly the size given to
 * bubblewrap (while bubblewrap sets up, that root is still the host's).
 */
static long long
tmpfs_used(pid_t init, const char *where, long long size)
{
	char		path[PATH_MAX];
	struct statfs sf;

	snprintf(path, sizeof(path), "/proc/%d/root%s", (int) init, where);
	if (statfs(path, &sf) != 0 || sf.f_type != TMPFS_MAGIC ||
		(long long) sf.f_blocks * (long long) sf.f_frsize != size)
		return 0;
	return (long long) (sf.f_blocks - sf.f_bfree) * (long long) sf.f_frsize;
}

/* the Pss of one process in bytes, from smaps_rollup */
static long long
pss_of(pid_t pid)
{
	char		path[64];
	char		buf[4096];
	int			fd;
	ssize_t		r;
	const char *p;

	snprintf(path, sizeof(path), "/proc/%d/smaps_rollup", (int) pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	r = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (r <= 0)
		return 0;
	buf[r] = '\0';
	p = strstr(buf, "\nPss:");
	return p ? strtoll(p + 5, NULL, 10) * 1024 : 0;
}

/*
 * The Pss of init and all its descendants: every process of the sandbox
 * (an orphan is re-parented to the sandbox's pid 1, so none escapes the
 * tree).  Breadth first over /proc/PID/task/TID/children.
 */
static long long
sandbox_pss(pid_t init)
{
	pid_t	   *queue = xmalloc(MAX_SANDBOX_PIDS * sizeof(pid_t));
	int			head = 0,
				tail = 0;
	long long	total = 0;

	queue[tail++] = init;
	while (head < tail)
	{
		pid_t		pid = queue[head++];
		char		path[64];
		DIR		   *tasks;
		struct dirent *t;

		total += pss_of(pid);
		snprintf(path, sizeof(path), "/proc/%d/task", (int) pid);
		tasks = opendir(path);
		if (tasks == NULL)
			continue;
		while ((t = readdir(tasks)) != NULL && tail < MAX_SANDBOX_PIDS)
		{
			char		cpath[PATH_MAX],
						buf[8192];
			int			fd;
			ssize_t		r;
			char	   *p,
					   *end;

			if (t->d_name[0] == '.')
				continue;
			snprintf(cpath, sizeof(cpath), "/proc/%d/task/%s/children", (int) pid, t->d_name);
			fd = open(cpath, O_RDONLY | O_CLOEXEC);
			if (fd < 0)
				continue;
			r = read(fd, buf, sizeof(buf) - 1);
			close(fd);
			if (r <= 0)
				continue;
			buf[r] = '\0';
			for (p = buf; tail < MAX_SANDBOX_PIDS; p = end)
			{
				long		c = strtol(p, &end, 10);

				if (end == p)
					break;
				queue[tail++] = (pid_t) c;
			}
		}
		closedir(tasks);
	}
	free(queue);
	return total;
}

static long long
file_bytes(const char *jobdir, const char *name)
{
	char		path[PATH_MAX];
	struct stat st;

	snprintf(path, sizeof(path), "%s/%s", jobdir, name);
	if (lstat(path, &st) != 0)
		return 0;
	return (long long) st.st_blocks * 512;
}

/*
 * One look.  init: the sandbox's pid 1, or 0 once it has ended (the work
 * directory only).  Returns true with the reason when a limit is crossed.
 */
static bool
crossed(const RunSpec *spec, pid_t init, int *unmeasurable, char *why, size_t whylen)
{
	const SandboxLimits *l = &spec->limits;
	char		work[PATH_MAX];
	TreeUsage	u;
	long long	tmp = 0,
				out,
				disk,
				procs = 0;
	int			rc;

	snprintf(work, sizeof(work), "%s/work", spec->jobdir);
	rc = tree_usage(work, l->max_files, &u);
	if (l->max_files > 0 && u.entries > l->max_files)
	{
		snprintf(why, whylen, "file limit exceeded: more than %ld files and directories in the work directory (jobs.max_files)",
				 l->max_files);
		return true;
	}
	if (rc != 0 && errno == EACCES)
	{
		snprintf(why, whylen, "disk limit cannot be checked: the workload made a directory unreadable");
		return true;
	}
	/* moved under the walk: once in a while is churn, always is hiding */
	if (rc != 0 && errno == ESTALE && ++*unmeasurable >= 20)
	{
		snprintf(why, whylen, "disk limit cannot be checked: the work directory keeps moving");
		return true;
	}
	if (rc == 0)
		*unmeasurable = 0;
	out = file_bytes(spec->jobdir, "stdout") + file_bytes(spec->jobdir, "stderr");
	if (init > 0)
	{
		tmp = tmpfs_used(init, "/tmp", l->tmpfs_bytes) +
			tmpfs_used(init, "/dev/shm", l->tmpfs_bytes);
		procs = sandbox_pss(init);
	}
	disk = u.bytes + out + tmp;
	if (l->disk_bytes > 0 && disk > l->disk_bytes)
	{
		snprintf(why, whylen, "disk limit exceeded: %.2f GB > storage_gb %g (work directory %.2f GB, tmpfs %.2f GB, stdout and stderr %.2f GB)",
				 disk / GB, l->storage_gb, u.bytes / GB, tmp / GB, out / GB);
		return true;
	}
	if (l->memory_bytes > 0 && procs + tmp > l->memory_bytes)
	{
		snprintf(why, whylen, "memory limit exceeded: %.2f GB > memory_gb %g (processes %.2f GB, tmpfs %.2f GB)",
				 (procs + tmp) / GB, l->memory_gb, procs / GB, tmp / GB);
		return true;
	}
	return false;
}

static void
write_reason(const char *jobdir, const char *why)
{
	char		path[PATH_MAX];
	int			fd;

	snprintf(path, sizeof(path), "%s/limit", jobdir);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0)
		return;
	if (write(fd, why, strlen(why)) < 0 || write(fd, "\n", 1) < 0)
		dprintf(2, "lagbid-agent: could not record the limit: %s\n", strerror(errno));
	close(fd);
}

/* leave as bubblewrap left */
static int
mirror(int status)
{
	if (WIFSIGNALED(status))
	{
		signal(WTERMSIG(status), SIG_DFL);
		raise(WTERMSIG(status));
		return 128 + WTERMSIG(status);
	}
	return WIFEXITED(status) ? WEXITSTATUS(status) : 125;
}

/*
 * The watcher's life (a child of the agent, bwrap its child): look at the
 * limits until bwrap ends; on a crossing, record the reason and kill
 * bwrap, which takes the sandbox with it (--die-with-parent).
 */
int
limits_watch(const RunSpec *spec, pid_t bwrap)
{
	int			pidfd = (int) syscall(SYS_pidfd_open, bwrap, 0);
	double		next = now_seconds() + LOOK_INTERVAL;
	int			status = 0,
				unmeasurable = 0;
	char		why[512];

	for (;;)
	{
		double		now = now_seconds();
		int			wait_ms = next > now ? (int) ((next - now) * 1000) + 1 : 0;

		if (pidfd >= 0)
		{
			struct pollfd p = {.fd = pidfd,.events = POLLIN};

			(void) poll(&p, 1, wait_ms);
		}
		else
			usleep(wait_ms < 50 ? wait_ms * 1000 : 50000);
		if (waitpid(bwrap, &status, WNOHANG) == bwrap)
			break;
		if (now_seconds() >= next)
		{
			double		t0 = now_seconds(),
						took;

			if (crossed(spec, first_child(bwrap), &unmeasurable, why, sizeof(why)))
			{
				write_reason(spec->jobdir, why);
				kill(bwrap, SIGKILL);
				while (waitpid(bwrap, &status, 0) < 0 && errno == EINTR)
					;
				return 0;
			}
			took = now_seconds() - t0;
			next = now_seconds() + (took * 4 > LOOK_INTERVAL ? took * 4 : LOOK_INTERVAL);
		}
	}
	/* the sandbox is gone: its work directory as it was left */
	unmeasurable = 0;
	if (crossed(spec, 0, &unmeasurable, why, sizeof(why)))
		write_reason(spec->jobdir, why);
	return mirror(status);
}

/*
 * What holds the limits on this host, for the start-up log line: cgroup v2
 * would need a writable delegated subtree with the memory controller.
 */
void
limits_describe(char *out, size_t cap)
{
	char	   *cg = read_file("/proc/self/cgroup", 65536, NULL);
	char	   *line = cg ? strstr(cg, "0::") : NULL;
	char		dir[PATH_MAX];
	char	   *ctl;

	if (line == NULL || (line != cg && line[-1] != '\n'))
	{
		snprintf(out, cap, "no cgroup v2 hierarchy: disk and memory held by sized tmpfs and the job watcher");
		free(cg);
		return;
	}
	line += 3;
	line[strcspn(line, "\n")] = '\0';
	snprintf(dir, sizeof(dir), "/sys/fs/cgroup%s/cgroup.subtree_control", strcmp(line, "/") == 0 ? "" : line);
	ctl = read_file(dir, 4096, NULL);
	if (ctl && strstr(ctl, "memory") && access(dir, W_OK) == 0)
		snprintf(out, cap, "a delegated cgroup v2 (%s) is writable but not used by this version: disk and memory held by sized tmpfs and the job watcher",
				 line);
	else
		snprintf(out, cap, "no delegated cgroup v2 with the memory controller: disk and memory held by sized tmpfs and the job watcher");
	free(ctl);
	free(cg);
}
