/*-------------------------------------------------------------------------
 *
 * sandbox.c
 *	  Runs one workload under bubblewrap.
 *
 * Layout of a job directory (DIR/jobs/<job id>/, created fresh for every
 * run, so that a re-run after a crash starts from nothing):
 *	  work/		the workload's cwd (/work inside), its inputs materialized
 *	  stdout	the captured standard output (capped by RLIMIT_FSIZE)
 *	  stderr	the captured standard error (for the failure reason)
 *	  limit		why the watcher (limits.c) stopped the job, when it did
 *
 * The processes: agent -> watcher (limits.c; its own process group, dies
 * with the agent) -> bwrap (dies with the watcher) -> the shim as the
 * sandbox's pid 1 (--as-pid-1) -> the workload.
 *
 * What reaches the host: nothing of the workload.  bwrap is executed with
 * an empty environment (a loader variable in it would act on the host,
 * before any namespace exists) and its options come through a memfd
 * (--args 3), so its command line holds no host path and no variable;
 * --clearenv and --setenv give the workload's variables to the workload
 * alone, and names that configure the loader or libc are refused here too
 * (src/rules/env_names.c), whatever path the workload came by.
 *
 * The sandbox: every namespace unshared (no network), no user namespace
 * inside (--disable-userns: nothing mounts an unsized tmpfs), the system
 * read-only (/usr and the merged-usr links, a few files of /etc), fresh
 * /proc, /dev read-only but for its devices, /tmp and /dev/shm tmpfs of
 * the job's size, die with the parent, a new session.  The limits
 * (address space, CPU seconds, file size, processes) are set inside by
 * this same program started as the shim ("lagbid-agent __shim ..."):
 * RLIMIT_NPROC set there counts the sandbox's own user namespace only.
 * The shim, not dumpable, starts the workload and reaps until it ends;
 * its exit ends the pid namespace and whatever the workload left.  On
 * timeout the watcher's group is SIGKILLed, and with bwrap the sandbox.
 *
 *-------------------------------------------------------------------------
 */
#include "agent.h"
#include "env_names.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define SHIM_PATH "/.lagbid-shim"

/* the agent's own directory (key, config): never an input */
static char protected_dir[PATH_MAX];

void
sandbox_protect_dir(const char *dir)
{
	if (dir == NULL || realpath(dir, protected_dir) == NULL)
		protected_dir[0] = '\0';
}

static int
write_all(int fd, const unsigned char *p, size_t n)
{
	while (n > 0)
	{
		ssize_t		w = write(fd, p, n);

		if (w < 0)
		{
			if (errno == EINTR)
				continue;
			return -1;
		}
		p += w;
		n -= w;
	}
	return 0;
}

/* create the parent directories of rel under base (never following links) */
static int
make_parents(const char *base, const char *rel, char *err, size_t errlen)
{
	char		path[PATH_MAX];
	size_t		blen = strlen(base);

	if (blen + 1 + strlen(rel) >= sizeof(path))
	{
		snprintf(err, errlen, "input path \"%s\" is too long", rel);
		return -1;
	}
	snprintf(path, sizeof(path), "%s/%s", base, rel);
	for (char *p = path + blen + 1; *p; p++)
	{
		struct stat st;

		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(path, 0755) != 0 && errno != EEXIST)
		{
			snprintf(err, errlen, "could not create directory for input \"%s\": %s", rel, strerror(errno));
			return -1;
		}
		if (lstat(path, &st) != 0 || !S_ISDIR(st.st_mode))
		{
			snprintf(err, errlen, "input \"%s\" conflicts with another input", rel);
			return -1;
		}
		*p = '/';
	}
	return 0;
}

static int
percent_decode(const char *in, char *out, size_t cap)
{
	size_t		n = 0;

	for (; *in; in++)
	{
		if (n + 1 >= cap)
			return -1;
		if (*in == '%')
		{
			unsigned	v;

			if (sscanf(in + 1, "%2x", &v) != 1 || v == 0)
				return -1;
			out[n++] = (char) v;
			in += 2;
		}
		else
			out[n++] = *in;
	}
	out[n] = '\0';
	return 0;
}

/* copy a file:// input into place, checking its sha256 */
static int
fetch_file_uri(const WorkloadInput *in, const char *dest, char *err, size_t errlen)
{
	char		src[PATH_MAX];
	char		hex[65];
	int			sfd,
				dfd;
	unsigned char buf[65536];
	ssize_t		r;
	struct stat st;

	if (strncmp(in->uri, "file:///", 8) != 0)
	{
		snprintf(err, errlen, "input \"%s\": http(s) inputs are not supported by this agent", in->path);
		return -1;
	}
	if (percent_decode(in->uri + 7, src, sizeof(src)) != 0)
	{
		snprintf(err, errlen, "input \"%s\": malformed file URI", in->path);
		return -1;
	}
	/* a workload may name any file the agent can read, but not the node key */
	{
		char		real[PATH_MAX];
		size_t		plen = strlen(protected_dir);

		if (realpath(src, real) != NULL && plen > 0 && strncmp(real, protected_dir, plen) == 0 &&
			(real[plen] == '/' || real[plen] == '\0'))
		{
			snprintf(err, errlen, "input \"%s\": file URIs inside the agent's directory are refused", in->path);
			return -1;
		}
	}
	sfd = open(src, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
	if (sfd < 0 || fstat(sfd, &st) != 0 || !S_ISREG(st.st_mode))
	{
		snprintf(err, errlen, "input \"%s\": could not read \"%s\"", in->path, src);
		if (sfd >= 0)
			close(sfd);
		return -1;
	}
	dfd = open(dest, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
	if (dfd < 0)
	{
		snprintf(err, errlen, "input \"%s\": could not create: %s", in->path, strerror(errno));
		close(sfd);
		return -1;
	}
	while ((r = read(sfd, buf, sizeof(buf))) != 0)
	{
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0 || write_all(dfd, buf, r) != 0)
		{
			snprintf(err, errlen, "input \"%s\": copy failed: %s", in->path, strerror(errno));
			close(sfd);
			close(dfd);
			return -1;
		}
	}
	close(sfd);
	close(dfd);
	if (sha256_file_hex(dest, hex, NULL) != 0 || strcmp(hex, in->sha256) != 0)
	{
		snprintf(err, errlen, "input hash mismatch for \"%s\"", in->path);
		return -1;
	}
	return 0;
}

/* a fresh job directory with the workload's inputs in work/ */
int
sandbox_prepare(const Workload *wl, const char *jobdir, char *err, size_t errlen)
{
	char		work[PATH_MAX];

	if (rm_rf(jobdir) != 0 || mkdir_p(jobdir, 0700) != 0)
	{
		snprintf(err, errlen, "could not create job directory \"%s\": %s", jobdir, strerror(errno));
		return -1;
	}
	snprintf(work, sizeof(work), "%s/work", jobdir);
	if (mkdir(work, 0755) != 0)
	{
		snprintf(err, errlen, "could not create \"%s\": %s", work, strerror(errno));
		return -1;
	}
	for (int i = 0; i < wl->ninputs; i++)
	{
		const WorkloadInput *in = &wl->inputs[i];
		char		dest[PATH_MAX];
		char		why[128];

		/* parsed already, but this is what touches the disk: check again */
		if (!workload_path_ok(in->path, strlen(in->path), why, sizeof(why)))
		{
			snprintf(err, errlen, "input path \"%s\" refused: %s", in->path, why);
			return -1;
		}
		if (make_parents(work, in->path, err, errlen) != 0)
			return -1;
		snprintf(dest, sizeof(dest), "%s/%s", work, in->path);
		if (in->uri)
		{
			if (fetch_file_uri(in, dest, err, errlen) != 0)
				return -1;
		}
		else
		{
			int			fd = open(dest, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);

			if (fd < 0 || write_all(fd, in->content, in->content_len) != 0)
			{
				snprintf(err, errlen, "could not write input \"%s\": %s", in->path, strerror(errno));
				if (fd >= 0)
					close(fd);
				return -1;
			}
			close(fd);
		}
	}
	return 0;
}

/* bubblewrap's arguments, NUL-separated, for --args FD */
typedef struct ArgBuf
{
	char	   *data;
	size_t		len;
	size_t		cap;
} ArgBuf;

static void
add(ArgBuf *b, const char *a)
{
	size_t		n = strlen(a) + 1;

	if (b->len + n > b->cap)
	{
		b->cap = (b->len + n) * 2 + 4096;
		b->data = realloc(b->data, b->cap);
		if (b->data == NULL)
		{
			log_msg(LOG_LEVEL_FATAL, "oom", "out of memory");
			abort();
		}
	}
	memcpy(b->data + b->len, a, n);
	b->len += n;
}

/* a system directory: a symlink (merged /usr) stays one, else read-only */
static void
add_system(ArgBuf *b, const char *path)
{
	struct stat st;
	char		link[PATH_MAX];

	if (lstat(path, &st) != 0)
		return;
	if (S_ISLNK(st.st_mode))
	{
		ssize_t		l = readlink(path, link, sizeof(link) - 1);

		if (l <= 0)
			return;
		link[l] = '\0';
		add(b, "--symlink");
		add(b, link);
		add(b, path);
	}
	else
	{
		add(b, "--ro-bind");
		add(b, path);
		add(b, path);
	}
}

/*
 * The first variable of the workload that configures the dynamic loader or
 * the C library, or NULL.  The parser refuses them already; this is the
 * last check before anything starts, whatever path the workload came by.
 */
const char *
sandbox_env_refused(const Workload *wl)
{
	for (int i = 0; i < wl->nenv; i++)
		if (lagbid_env_name_dangerous(wl->env_names[i]))
			return wl->env_names[i];
	return NULL;
}

/* the sandbox's arguments: everything but the command */
static void
sandbox_args(const RunSpec *spec, ArgBuf *b)
{
	static const char *const systems[] = {"/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64"};
	static const char *const etc_files[] = {
		"/etc/alternatives", "/etc/ld.so.cache", "/etc/ld.so.conf", "/etc/ld.so.conf.d",
		"/etc/localtime", "/etc/nsswitch.conf", "/etc/passwd", "/etc/group"
	};
	static const char *const defaults[][2] = {
		{"PATH", "/usr/local/bin:/usr/bin:/bin"}, {"HOME", "/work"}, {"TMPDIR", "/tmp"},
		{"LANG", "C.UTF-8"}
	};
	const Workload *wl = spec->wl;
	char		work[PATH_MAX],
				tmpfs[32];

	snprintf(work, sizeof(work), "%s/work", spec->jobdir);
	snprintf(tmpfs, sizeof(tmpfs), "%lld", spec->limits.tmpfs_bytes);

	/* every namespace, no user namespace inside, no reaper of bwrap's own */
	add(b, "--unshare-all");
	add(b, "--unshare-user");
	add(b, "--disable-userns");
	add(b, "--as-pid-1");
	add(b, "--die-with-parent");
	add(b, "--new-session");
	add(b, "--cap-drop");
	add(b, "ALL");
	/* the workload's variables reach the workload only */
	add(b, "--clearenv");
	for (size_t i = 0; i < sizeof(defaults) / sizeof(defaults[0]); i++)
	{
		add(b, "--setenv");
		add(b, defaults[i][0]);
		add(b, defaults[i][1]);
	}
	for (int i = 0; i < wl->nenv; i++)
	{
		add(b, "--setenv");
		add(b, wl->env_names[i]);
		add(b, wl->env_values[i]);
	}
	for (size_t i = 0; i < sizeof(systems) / sizeof(systems[0]); i++)
		add_system(b, systems[i]);
	for (size_t i = 0; i < sizeof(etc_files) / sizeof(etc_files[0]); i++)
	{
		add(b, "--ro-bind-try");
		add(b, etc_files[i]);
		add(b, etc_files[i]);
	}
	add(b, "--proc");
	add(b, "/proc");
	/* /dev read-only but for its devices; /dev/shm and /tmp sized */
	add(b, "--dev");
	add(b, "/dev");
	add(b, "--size");
	add(b, tmpfs);
	add(b, "--tmpfs");
	add(b, "/dev/shm");
	add(b, "--remount-ro");
	add(b, "/dev");
	add(b, "--size");
	add(b, tmpfs);
	add(b, "--tmpfs");
	add(b, "/tmp");
	add(b, "--bind");
	add(b, work);
	add(b, "/work");
	add(b, "--chdir");
	add(b, "/work");
	add(b, "--ro-bind");
	add(b, spec->self_exe);
	add(b, SHIM_PATH);
	/* last: nothing outside /work, /tmp and /dev/shm stays writable */
	add(b, "--remount-ro");
	add(b, "/");
}

int
sandbox_start(const RunSpec *spec, RunState *rs, char *err, size_t errlen)
{
	const Workload *wl = spec->wl;
	const char *bad = sandbox_env_refused(wl);
	ArgBuf		args = {0};
	char	  **argv;
	char	   *const envp[] = {NULL};
	int			n = 0,
				afd;
	char		outp[PATH_MAX],
				errp[PATH_MAX],
				limp[PATH_MAX];
	char		lim[4][32];
	char		portarg[16];
	int			svc = spec->svc_port > 0 ? spec->svc_fd : -1;
	pid_t		pid,
				agent;

	memset(rs, 0, sizeof(*rs));
	if (bad)
	{
		snprintf(err, errlen, "env variable \"%s\" refused: it configures the dynamic loader or the C library",
				 bad);
		return -1;
	}
	snprintf(outp, sizeof(outp), "%s/stdout", spec->jobdir);
	snprintf(errp, sizeof(errp), "%s/stderr", spec->jobdir);
	snprintf(limp, sizeof(limp), "%s/limit", spec->jobdir);
	unlink(limp);
	snprintf(lim[0], sizeof(lim[0]), "%ld", spec->limits.memory_bytes);
	snprintf(lim[1], sizeof(lim[1]), "%ld", spec->limits.cpu_seconds);
	snprintf(lim[2], sizeof(lim[2]), "%ld", spec->limits.file_bytes);
	snprintf(lim[3], sizeof(lim[3]), "%ld", spec->limits.processes);

	/*
	 * bwrap's options (host paths, the workload's variables) go through a
	 * memfd: its command line shows only "--args 3", and as --as-pid-1
	 * leaves no bwrap process inside, the sandbox's /proc/1 is the shim.
	 */
	sandbox_args(spec, &args);
	afd = memfd_create("lagbid-bwrap-args", MFD_CLOEXEC);
	if (afd < 0 || write_all(afd, (unsigned char *) args.data, args.len) != 0 ||
		lseek(afd, 0, SEEK_SET) != 0)
	{
		snprintf(err, errlen, "could not pass bubblewrap its arguments: %s", strerror(errno));
		if (afd >= 0)
			close(afd);
		free(args.data);
		return -1;
	}
	free(args.data);
	argv = xcalloc(16 + WL_MAX_ARGS + 1, sizeof(char *));
	argv[n++] = (char *) spec->bwrap;
	argv[n++] = "--args";
	argv[n++] = "3";
	argv[n++] = "--";
	argv[n++] = SHIM_PATH;
	argv[n++] = spec->svc_port > 0 ? "__svcshim" : "__shim";
	for (int i = 0; i < 4; i++)
		argv[n++] = lim[i];
	if (spec->svc_port > 0)
	{
		/* a service: the port the helper connects to, the socket on fd 4 */
		snprintf(portarg, sizeof(portarg), "%d", spec->svc_port);
		argv[n++] = portarg;
	}
	argv[n++] = "--";
	for (int i = 0; i < wl->argc && i < WL_MAX_ARGS; i++)
		argv[n++] = wl->argv[i];
	argv[n] = NULL;

	agent = getpid();
	pid = fork();
	if (pid < 0)
	{
		snprintf(err, errlen, "fork failed: %s", strerror(errno));
		free(argv);
		close(afd);
		return -1;
	}
	if (pid == 0)
	{
		/* the watcher (limits.c): its own process group, bwrap below it */
		int			in = open("/dev/null", O_RDONLY | O_CLOEXEC);
		int			out = open(outp, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600);
		int			er = open(errp, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600);
		sigset_t	none;
		pid_t		bw;

		/* dies with the agent, and bubblewrap with it (--die-with-parent) */
		if (prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) != 0 || getppid() != agent)
			_exit(126);
		setsid();
		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);
		for (int s = 1; s < NSIG; s++)
			signal(s, SIG_DFL);
		if (in < 0 || out < 0 || er < 0)
			_exit(126);
		/* nothing of the agent's (its market connection, its self-pipe) */
		for (int fd = 3; fd < 1024; fd++)
			if (fd != in && fd != out && fd != er && fd != afd && fd != svc)
				close(fd);
		bw = fork();
		if (bw < 0)
			_exit(126);
		if (bw == 0)
		{
			int			fds[5] = {in, out, er, afd, svc};
			int			nfds = svc >= 0 ? 5 : 4;

			/* out of the way of 0..4 first: any of them may be one already */
			for (int i = 0; i < nfds; i++)
				if ((fds[i] = fcntl(fds[i], F_DUPFD_CLOEXEC, 16)) < 0)
					_exit(126);
			for (int i = 0; i < nfds; i++)
				if (dup2(fds[i], i) < 0)
					_exit(126);
			/* every other descriptor, however high (the proxy's sockets may pass 1024) */
			if (close_range((unsigned) nfds, ~0U, 0) != 0)
				for (int fd = nfds; fd < 65536; fd++)
					close(fd);
			/* bwrap starts with nothing of the agent's or the workload's environment */
			execve(spec->bwrap, argv, envp);
			dprintf(2, "could not execute \"%s\": %s\n", spec->bwrap, strerror(errno));
			_exit(126);
		}
		close(in);
		close(out);
		close(er);
		close(afd);
		if (svc >= 0)
			close(svc);
		_exit(limits_watch(spec, bw));
	}
	free(argv);
	close(afd);
	rs->pid = pid;
	rs->started = now_seconds();
	rs->kill_at = rs->started + spec->timeout_s;
	return 0;
}

void
sandbox_kill(RunState *rs)
{
	if (rs->pid > 0 && !rs->finished)
	{
		kill(-rs->pid, SIGKILL);
		kill(rs->pid, SIGKILL);
	}
}

/*
 * Inside the sandbox, as its pid 1: lagbid-agent __shim AS CPU FSIZE NPROC
 * -- argv...  Sets the limits, starts the workload and reaps every process
 * of the sandbox until the workload ends; then exits with its status
 * (128 + the signal that killed it), which ends the pid namespace and with
 * it whatever the workload left running.  Not dumpable: the workload
 * cannot read its memory.
 */
int
sandbox_shim_main(int argc, char **argv)
{
	static const int res[4] = {RLIMIT_AS, RLIMIT_CPU, RLIMIT_FSIZE, RLIMIT_NPROC};
	struct rlimit zero = {0, 0};
	pid_t		child;

	if (argc < 8 || strcmp(argv[6], "--") != 0)
	{
		dprintf(2, "lagbid-shim: bad arguments\n");
		return 125;
	}
	for (int i = 0; i < 4; i++)
	{
		long		v = strtol(argv[2 + i], NULL, 10);
		struct rlimit rl;

		if (v <= 0)
			continue;
		rl.rlim_cur = rl.rlim_max = (rlim_t) v;
		if (setrlimit(res[i], &rl) != 0)
		{
			dprintf(2, "lagbid-shim: setrlimit failed: %s\n", strerror(errno));
			return 125;
		}
	}
	setrlimit(RLIMIT_CORE, &zero);
	child = fork();
	if (child < 0)
	{
		dprintf(2, "lagbid-shim: fork failed: %s\n", strerror(errno));
		return 125;
	}
	if (child == 0)
	{
		execvp(argv[7], argv + 7);
		dprintf(2, "lagbid-shim: could not execute \"%s\": %s\n", argv[7], strerror(errno));
		_exit(127);
	}
	prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
	for (;;)
	{
		int			status;
		pid_t		p = waitpid(-1, &status, 0);

		if (p == child)
			return WIFEXITED(status) ? WEXITSTATUS(status) :
				WIFSIGNALED(status) ? 128 + WTERMSIG(status) : 125;
		if (p < 0 && errno != EINTR)
			return 125;
	}
}

/* the last non-empty line of the job's stderr, made printable */
static void
stderr_tail(const char *jobdir, char *out, size_t cap)
{
	char		path[PATH_MAX];
	char	   *text;
	size_t		len = 0;
	char	   *end,
			   *start;
	size_t		n = 0;

	out[0] = '\0';
	snprintf(path, sizeof(path), "%s/stderr", jobdir);
	{
		int			fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
		off_t		size;
		char		buf[1024];
		ssize_t		r;

		if (fd < 0)
			return;
		size = lseek(fd, 0, SEEK_END);
		lseek(fd, size > (off_t) sizeof(buf) - 1 ? size - (off_t) sizeof(buf) + 1 : 0, SEEK_SET);
		r = read(fd, buf, sizeof(buf) - 1);
		close(fd);
		if (r <= 0)
			return;
		buf[r] = '\0';
		len = (size_t) r;
		text = buf;
		end = text + len;
		while (end > text && (end[-1] == '\n' || end[-1] == '\r' || end[-1] == ' '))
			end--;
		start = end;
		while (start > text && start[-1] != '\n')
			start--;
		for (char *p = start; p < end && n + 1 < cap && n < 200; p++)
			out[n++] = ((unsigned char) *p < 0x20 || *p == 0x7f) ? '?' : *p;
		out[n] = '\0';
	}
}

/*
 * After the run: 0 with *out_path (malloc'd) the output file, or -1 with
 * the reason the job failed.
 */
int
sandbox_outcome(const RunSpec *spec, const RunState *rs, char **out_path,
				char *reason, size_t reasonlen)
{
	char		tail[256];
	char		path[PATH_MAX];
	struct stat st;
	int			st_code = rs->wait_status;

	*out_path = NULL;
	stderr_tail(spec->jobdir, tail, sizeof(tail));
	if (rs->killed_for_shutdown)
	{
		snprintf(reason, reasonlen, "agent shutting down");
		return -1;
	}
	/* the watcher stopped it at a limit and wrote why */
	snprintf(path, sizeof(path), "%s/limit", spec->jobdir);
	{
		size_t		len;
		char	   *why = read_file(path, 1024, &len);

		if (why)
		{
			while (len > 0 && why[len - 1] == '\n')
				why[--len] = '\0';
			snprintf(reason, reasonlen, "%s", why);
			free(why);
			return -1;
		}
	}
	if (rs->timed_out)
	{
		snprintf(reason, reasonlen, "timeout: killed after %d s", spec->timeout_s);
		return -1;
	}
	if (WIFSIGNALED(st_code))
	{
		snprintf(reason, reasonlen, "killed by signal %d (%s)", WTERMSIG(st_code),
				 strsignal(WTERMSIG(st_code)));
		return -1;
	}
	if (WIFEXITED(st_code) && WEXITSTATUS(st_code) != 0)
	{
		int			code = WEXITSTATUS(st_code);

		/* bwrap reports a child killed by signal S as 128 + S */
		if (code > 128 && code < 128 + 65)
			snprintf(reason, reasonlen, "workload killed by signal %d (%s)%s%s", code - 128,
					 code - 128 == SIGXFSZ ? "file size limit, output too large" :
					 code - 128 == SIGXCPU ? "CPU time limit" : strsignal(code - 128),
					 tail[0] ? ": " : "", tail);
		else
			snprintf(reason, reasonlen, "exit status %d%s%s", code, tail[0] ? ": " : "", tail);
		return -1;
	}
	if (spec->wl->output == NULL)
		snprintf(path, sizeof(path), "%s/stdout", spec->jobdir);
	else
	{
		char		real[PATH_MAX],
					base[PATH_MAX],
					work[PATH_MAX];

		snprintf(work, sizeof(work), "%s/work", spec->jobdir);
		snprintf(path, sizeof(path), "%s/%s", work, spec->wl->output);
		/* the workload may have made the output a link to anywhere */
		if (realpath(path, real) == NULL || realpath(work, base) == NULL ||
			strncmp(real, base, strlen(base)) != 0 || real[strlen(base)] != '/')
		{
			snprintf(reason, reasonlen, "output \"%s\" missing", spec->wl->output);
			return -1;
		}
	}
	if (lstat(path, &st) != 0 || !S_ISREG(st.st_mode))
	{
		snprintf(reason, reasonlen, "output \"%s\" missing or not a regular file",
				 spec->wl->output ? spec->wl->output : "stdout");
		return -1;
	}
	*out_path = xstrdup(path);
	return 0;
}
