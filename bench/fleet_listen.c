/*
 * fleet_listen: many idle LISTEN sessions in one process, the light half of
 * bench/fleet.sh's fleet (the other half is real lagbid-agent processes).
 * Each session LISTENs on lagbid_tasks and does nothing else, as an idle
 * agent does; the process polls them all and records, for every pushed
 * task, when the first and the last session had it.
 *
 *   fleet_listen CONNINFO SESSIONS SECONDS
 *
 * Opens SESSIONS connections (50 at a time, nonblocking), prints
 * "ready N" on stderr once every one LISTENs, then runs until SECONDS have
 * passed or SIGTERM/SIGINT, and prints one line per task on stdout:
 * "<task id>\t<first receive, us since the epoch>\t<last receive>\t<sessions
 * that had it>".  A session that breaks is counted and not reopened.
 *
 * Build: cc -O2 -I$(pg_config --includedir) fleet_listen.c -L$(pg_config --libdir) -lpq
 */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <libpq-fe.h>

#define MAX_TASKS 100000
#define BATCH 50

typedef struct Seen
{
	long long	task_id;
	long long	first_us;
	long long	last_us;
	int			count;
} Seen;

static volatile sig_atomic_t stop = 0;
static Seen *seen;
static int	nseen;

static void
on_signal(int sig)
{
	(void) sig;
	stop = 1;
}

static long long
now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (long long) ts.tv_sec * 1000000LL + ts.tv_nsec / 1000;
}

/* tasks arrive in id order: a short backward search finds a task's slot */
static void
record(long long task_id, long long t)
{
	for (int i = nseen - 1; i >= 0 && i >= nseen - 1000; i--)
		if (seen[i].task_id == task_id)
		{
			seen[i].last_us = t;
			seen[i].count++;
			return;
		}
	if (nseen == MAX_TASKS)
		return;
	seen[nseen].task_id = task_id;
	seen[nseen].first_us = seen[nseen].last_us = t;
	seen[nseen].count = 1;
	nseen++;
}

int
main(int argc, char **argv)
{
	int			n;
	long long	until;
	PGconn	  **conns;
	struct pollfd *pfd;
	int			broken = 0;
	long		total = 0;

	if (argc != 4)
	{
		fprintf(stderr, "usage: %s CONNINFO SESSIONS SECONDS\n", argv[0]);
		return 2;
	}
	n = atoi(argv[2]);
	if (n < 1)
		return 2;
	signal(SIGTERM, on_signal);
	signal(SIGINT, on_signal);
	conns = calloc(n, sizeof(PGconn *));
	pfd = calloc(n, sizeof(struct pollfd));
	seen = calloc(MAX_TASKS, sizeof(Seen));
	if (conns == NULL || pfd == NULL || seen == NULL)
		return 1;

	/* connect BATCH sessions at a time, nonblocking: a fleet connects in parallel */
	for (int first = 0; first < n && !stop; first += BATCH)
	{
		int			last = first + BATCH < n ? first + BATCH : n;
		int			pending = 0;

		for (int i = first; i < last; i++)
		{
			conns[i] = PQconnectStart(argv[1]);
			if (conns[i] == NULL || PQstatus(conns[i]) == CONNECTION_BAD)
			{
				fprintf(stderr, "fleet_listen: session %d: %s", i,
						conns[i] ? PQerrorMessage(conns[i]) : "out of memory\n");
				return 1;
			}
			pfd[i].fd = PQsocket(conns[i]);
			pfd[i].events = POLLOUT;
			pending++;
		}
		while (pending > 0)
		{
			if (poll(pfd + first, last - first, 1000) < 0 && errno != EINTR)
			{
				perror("fleet_listen: poll");
				return 1;
			}
			for (int i = first; i < last; i++)
			{
				PostgresPollingStatusType st;

				if (pfd[i].events == 0 || pfd[i].revents == 0)
					continue;
				st = PQconnectPoll(conns[i]);
				pfd[i].fd = PQsocket(conns[i]);
				if (st == PGRES_POLLING_FAILED)
				{
					fprintf(stderr, "fleet_listen: session %d: %s", i, PQerrorMessage(conns[i]));
					return 1;
				}
				pfd[i].events = st == PGRES_POLLING_READING ? POLLIN :
					st == PGRES_POLLING_WRITING ? POLLOUT : 0;
				if (st == PGRES_POLLING_OK)
					pending--;
			}
		}
		for (int i = first; i < last; i++)
		{
			PGresult   *res = PQexec(conns[i], "LISTEN lagbid_tasks");

			if (PQresultStatus(res) != PGRES_COMMAND_OK)
			{
				fprintf(stderr, "fleet_listen: LISTEN failed: %s", PQerrorMessage(conns[i]));
				return 1;
			}
			PQclear(res);
			PQsetnonblocking(conns[i], 1);
			pfd[i].fd = PQsocket(conns[i]);
			pfd[i].events = POLLIN;
		}
	}
	fprintf(stderr, "ready %d\n", n);
	until = now_us() + atoll(argv[3]) * 1000000LL;

	while (!stop && now_us() < until)
	{
		int			r = poll(pfd, n, 100);

		if (r < 0)
		{
			if (errno == EINTR)
				continue;
			perror("fleet_listen: poll");
			return 1;
		}
		for (int i = 0; i < n && r > 0; i++)
		{
			PGnotify   *nt;

			if (pfd[i].fd < 0 || !(pfd[i].revents & (POLLIN | POLLERR | POLLHUP)))
				continue;
			if (!PQconsumeInput(conns[i]))
			{
				broken++;
				pfd[i].fd = -1;
				continue;
			}
			while ((nt = PQnotifies(conns[i])) != NULL)
			{
				/* {"task_id" : 123, ...} (json_build_object's spacing) */
				const char *id = strstr(nt->extra, "\"task_id\"");

				total++;
				if (id && (id = strchr(id, ':')) != NULL)
					record(atoll(id + 1), now_us());
				PQfreemem(nt);
			}
		}
	}
	for (int i = 0; i < nseen; i++)
		printf("%lld\t%lld\t%lld\t%d\n", seen[i].task_id, seen[i].first_us,
			   seen[i].last_us, seen[i].count);
	fflush(stdout);
	fprintf(stderr, "fleet_listen: %d sessions, %ld notifications, %d tasks, %d sessions broken\n",
			n, total, nseen, broken);
	for (int i = 0; i < n; i++)
		PQfinish(conns[i]);
	return 0;
}
