/*-------------------------------------------------------------------------
 *
 * svcbox.c
 *	  A service (a lease's app) in the sandbox: the helper that runs inside
 *	  it, and the host side of the socket that reaches it.
 *
 * A service runs in the same bubblewrap sandbox as a batch job
 * (sandbox.c): every namespace unshared, the network too, so the app has
 * a loopback of its own and no route to the host's (the market's port,
 * another lease's app).  The agent reaches the app's port through one
 * inherited SOCK_SEQPACKET socketpair: its other end is fd 4 of the
 * sandbox's pid 1, this same program started as "__svcshim", which
 *
 *	  - says hello first: "H <inode of its pid namespace>" (the agent then
 *		knows which processes are the sandbox's, to prove at teardown that
 *		none is left);
 *	  - at "C" connects to 127.0.0.1:PORT in the sandbox's network and
 *		answers "F" with the connected socket attached (SCM_RIGHTS), or
 *		"E <errno>";
 *	  - at "T" sends SIGTERM to every other process of the sandbox (the
 *		first step of a teardown);
 *	  - reaps every process of the sandbox, and exits with the app's status
 *		when the app ends (a crash: the pid namespace ends with it, and the
 *		agent starts a fresh sandbox after a backoff).
 *
 * The socket is close-on-exec in the shim, so the app never holds it, and
 * the shim is not dumpable: the app cannot take it through /proc/1/fd.
 * Messages are single datagrams of at most SVC_MSG_MAX bytes; the agent
 * reads the answers in the order of its requests.
 *
 * svcbox_sweep_pidns() is the proof of a teardown: it looks at every
 * process of the host (/proc/N/ns/pid) for the sandbox's pid namespace,
 * and kills what it finds.
 *
 *-------------------------------------------------------------------------
 */
#include "agent.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define SVC_SOCK_FD 4
#define CONNECT_TIMEOUT_MS 1000

int
svcbox_socketpair(int fds[2])
{
	return socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, fds);
}

static int
send_msg(int sock, const char *text, int fd)
{
	struct msghdr msg;
	struct iovec iov;
	union
	{
		struct cmsghdr align;
		char		buf[CMSG_SPACE(sizeof(int))];
	}			u;

	memset(&msg, 0, sizeof(msg));
	iov.iov_base = (void *) text;
	iov.iov_len = strlen(text);
	msg.msg_iov = &iov;
	msg.msg_iovlen = 1;
	if (fd >= 0)
	{
		struct cmsghdr *c;

		memset(&u, 0, sizeof(u));
		msg.msg_control = u.buf;
		msg.msg_controllen = sizeof(u.buf);
		c = CMSG_FIRSTHDR(&msg);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(c), &fd, sizeof(int));
	}
	for (;;)
	{
		ssize_t		w = sendmsg(sock, &msg, MSG_NOSIGNAL | MSG_DONTWAIT);

		if (w >= 0)
			return 0;
		if (errno != EINTR)
			return -1;
	}
}

int
svcbox_request_connect(int sock)
{
	return send_msg(sock, "C", -1);
}

int
svcbox_terminate(int sock)
{
	return send_msg(sock, "T", -1);
}

/*
 * One message from the shim.  Returns 1 for a hello (*ns_ino set), 2 for a
 * connected socket (*fd_out), 3 for a refused connection (*err_out), 0 at
 * EOF (the sandbox ended), -1 on EAGAIN, -2 for a malformed message
 * (anything attached to it is closed).
 */
int
svcbox_read_reply(int sock, int *fd_out, unsigned long *ns_ino, int *err_out)
{
	char		text[SVC_MSG_MAX + 1];
	struct msghdr msg;
	struct iovec iov;
	union
	{
		struct cmsghdr align;
		char		buf[CMSG_SPACE(sizeof(int) * 4)];
	}			u;
	ssize_t		r;
	int			got = -1;

	*fd_out = -1;
	memset(&msg, 0, sizeof(msg));
	iov.iov_base = text;
	iov.iov_len = SVC_MSG_MAX;
	msg.msg_iov = &iov;
	msg.msg_iovlen = 1;
	msg.msg_control = u.buf;
	msg.msg_controllen = sizeof(u.buf);
	do
		r = recvmsg(sock, &msg, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
	while (r < 0 && errno == EINTR);
	if (r == 0)
		return 0;
	if (r < 0)
		return (errno == EAGAIN || errno == EWOULDBLOCK) ? -1 : 0;
	text[r] = '\0';
	/* every descriptor attached: at most one is kept */
	for (struct cmsghdr *c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c))
		if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS)
		{
			size_t		n = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);

			for (size_t i = 0; i < n; i++)
			{
				int			fd;

				memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof(int));
				if (got < 0)
					got = fd;
				else
					close(fd);
			}
		}
	if ((msg.msg_flags & (MSG_TRUNC | MSG_CTRUNC)) != 0)
		goto bad;
	if (text[0] == 'F' && r == 1 && got >= 0)
	{
		*fd_out = got;
		return 2;
	}
	if (text[0] == 'H' && text[1] == ' ' && got < 0)
	{
		char	   *end;
		unsigned long v;

		errno = 0;
		v = strtoul(text + 2, &end, 10);
		if (errno == 0 && *end == '\0' && v > 0)
		{
			*ns_ino = v;
			return 1;
		}
	}
	if (text[0] == 'E' && text[1] == ' ' && got < 0)
	{
		*err_out = atoi(text + 2);
		return 3;
	}
bad:
	if (got >= 0)
		close(got);
	return -2;
}

/* connect to 127.0.0.1:port, at most CONNECT_TIMEOUT_MS; the socket or -errno */
static int
connect_local(int port)
{
	struct sockaddr_in sa;
	int			s = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	int			e = 0;
	socklen_t	elen = sizeof(e);

	if (s < 0)
		return -errno;
	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_port = htons((uint16_t) port);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (connect(s, (struct sockaddr *) &sa, sizeof(sa)) != 0)
	{
		struct pollfd p = {.fd = s,.events = POLLOUT};

		if (errno != EINPROGRESS)
		{
			e = errno;
			close(s);
			return -e;
		}
		if (poll(&p, 1, CONNECT_TIMEOUT_MS) != 1)
		{
			close(s);
			return -ETIMEDOUT;
		}
		if (getsockopt(s, SOL_SOCKET, SO_ERROR, &e, &elen) != 0 || e != 0)
		{
			close(s);
			return -(e ? e : EIO);
		}
	}
	return s;
}

/*
 * Inside the sandbox, as its pid 1: lagbid-agent __svcshim AS CPU FSIZE
 * NPROC PORT -- argv...  The limits as __shim sets them, then the app,
 * then the helper's loop until the app ends.
 */
int
svcbox_shim_main(int argc, char **argv)
{
	static const int res[4] = {RLIMIT_AS, RLIMIT_CPU, RLIMIT_FSIZE, RLIMIT_NPROC};
	struct rlimit zero = {0, 0};
	pid_t		child;
	int			port;
	int			sock = SVC_SOCK_FD;
	bool		sock_open = true;
	struct stat st;
	char		hello[64];

	if (argc < 9 || strcmp(argv[7], "--") != 0)
	{
		dprintf(2, "lagbid-svcshim: bad arguments\n");
		return 125;
	}
	port = atoi(argv[6]);
	if (port < 1 || port > 65535 || fcntl(sock, F_SETFD, FD_CLOEXEC) != 0)
	{
		dprintf(2, "lagbid-svcshim: bad port or no socket\n");
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
			dprintf(2, "lagbid-svcshim: setrlimit failed: %s\n", strerror(errno));
			return 125;
		}
	}
	setrlimit(RLIMIT_CORE, &zero);
	prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
	child = fork();
	if (child < 0)
	{
		dprintf(2, "lagbid-svcshim: fork failed: %s\n", strerror(errno));
		return 125;
	}
	if (child == 0)
	{
		execvp(argv[8], argv + 8);
		dprintf(2, "lagbid-svcshim: could not execute \"%s\": %s\n", argv[8], strerror(errno));
		_exit(127);
	}
	if (stat("/proc/self/ns/pid", &st) == 0)
	{
		snprintf(hello, sizeof(hello), "H %lu", (unsigned long) st.st_ino);
		send_msg(sock, hello, -1);
	}
	for (;;)
	{
		int			status;
		pid_t		p;
		struct pollfd pf = {.fd = sock,.events = POLLIN};

		while ((p = waitpid(-1, &status, WNOHANG)) > 0)
			if (p == child)
				return WIFEXITED(status) ? WEXITSTATUS(status) :
					WIFSIGNALED(status) ? 128 + WTERMSIG(status) : 125;
		if (p < 0 && errno == ECHILD)
			return 125;
		if (!sock_open)
		{
			usleep(100000);
			continue;
		}
		if (poll(&pf, 1, 100) <= 0)
			continue;
		{
			char		buf[SVC_MSG_MAX];
			ssize_t		r = recv(sock, buf, sizeof(buf), MSG_DONTWAIT);

			if (r == 0 || (r < 0 && errno != EAGAIN && errno != EINTR))
			{
				/* the agent is gone: so is the sandbox */
				kill(-1, SIGKILL);
				return 125;
			}
			if (r < 1)
				continue;
			if (buf[0] == 'C')
			{
				int			s = connect_local(port);

				if (s >= 0)
				{
					send_msg(sock, "F", s);
					close(s);
				}
				else
				{
					char		e[32];

					snprintf(e, sizeof(e), "E %d", -s);
					send_msg(sock, e, -1);
				}
			}
			else if (buf[0] == 'T')
				kill(-1, SIGTERM);
		}
	}
}

/* a zombie (Z) or dead (X) process, or one gone */
static bool
process_dead(long pid)
{
	char		path[64],
				buf[512];
	FILE	   *f;
	char	   *rp;
	bool		dead = true;

	snprintf(path, sizeof(path), "/proc/%ld/stat", pid);
	if ((f = fopen(path, "r")) == NULL)
		return true;
	if (fgets(buf, sizeof(buf), f) != NULL && (rp = strrchr(buf, ')')) != NULL && rp[1] == ' ')
		dead = rp[2] == 'Z' || rp[2] == 'X';
	fclose(f);
	return dead;
}

/*
 * Until no live process of pid namespace ns_ino is left (each one found is
 * SIGKILLed), at most timeout_ms: the number still there then, 0 = proven
 * empty.
 */
int
svcbox_wait_empty(unsigned long ns_ino, int timeout_ms)
{
	double		until = now_seconds() + timeout_ms / 1000.0;
	int			n;

	while ((n = svcbox_sweep_pidns(ns_ino, true)) > 0 && now_seconds() < until)
		usleep(10000);
	return n;
}

/*
 * The processes of the host in pid namespace ns_ino (those this user may
 * look at: all of the sandbox's), SIGKILLed when kill_them.  Returns how
 * many there were.
 */
int
svcbox_sweep_pidns(unsigned long ns_ino, bool kill_them)
{
	DIR		   *d = opendir("/proc");
	struct dirent *e;
	int			n = 0;

	if (d == NULL || ns_ino == 0)
	{
		if (d)
			closedir(d);
		return 0;
	}
	while ((e = readdir(d)) != NULL)
	{
		char		path[300];
		struct stat st;
		char	   *end;
		long		pid = strtol(e->d_name, &end, 10);

		if (pid <= 0 || *end != '\0')
			continue;
		snprintf(path, sizeof(path), "/proc/%ld/ns/pid", pid);
		if (stat(path, &st) != 0 || (unsigned long) st.st_ino != ns_ino)
			continue;
		/* a zombie runs nothing: its parent, dying too, has not reaped it yet */
		if (process_dead(pid))
			continue;
		n++;
		if (kill_them)
			kill((pid_t) pid, SIGKILL);
	}
	closedir(d);
	return n;
}
