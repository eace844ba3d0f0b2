/*
 * listener: LISTEN lagbid and print, for every outbox id a notification
 * names, "<outbox id>\t<receive time in microseconds since the epoch>".  The
 * payload is {"id": <outbox id>}, or {"ids": [...]} for a batch (0.4's push
 * worker); bench/run.sh joins these lines with lagbid.notification (its
 * bid_won rows, their created_at) to get the NOTIFY-to-listener latency.
 * With the channel lagbid_tasks (new tasks pushed to providers) it prints
 * "<task id>\t<receive time>" instead ({"task_id": N}, {"task_ids": [...]},
 * or 0.3's terms with "task_id" : N).
 *
 *   listener CONNINFO SECONDS [CHANNEL]   (exits after SECONDS, or on SIGTERM/SIGINT)
 *
 * Prints "ready" on stderr once LISTEN is in place.
 * Build: cc -O2 -I$(pg_config --includedir) listener.c -L$(pg_config --libdir) -lpq
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/select.h>
#include <time.h>

#include <libpq-fe.h>

static volatile sig_atomic_t stop = 0;

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

/*
 * Print "<id>\t<t>" for the id(s) after key ("task_id" or "id", with an
 * optional plural s) in payload: one number or an array of them.
 */
static long
print_ids(const char *payload, const char *key, long long t)
{
	const char *p = strstr(payload, key);
	long		n = 0;

	if (p == NULL)
		return 0;
	p += strlen(key);
	if (*p == 's')
		p++;
	if (*p++ != '"')
		return 0;
	while (*p == ' ' || *p == ':')
		p++;
	if (*p == '[')
		p++;
	for (;;)
	{
		char	   *end;
		long long	id;

		while (*p == ' ' || *p == ',')
			p++;
		id = strtoll(p, &end, 10);
		if (end == p)
			break;
		printf("%lld\t%lld\n", id, t);
		n++;
		p = end;
	}
	return n;
}

int
main(int argc, char **argv)
{
	PGconn	   *conn;
	PGresult   *res;
	long long	until;
	long		seen = 0,
				ids = 0;

	const char *channel = argc > 3 ? argv[3] : "lagbid";
	int			tasks;

	if (argc != 3 && argc != 4)
	{
		fprintf(stderr, "usage: %s CONNINFO SECONDS [lagbid|lagbid_tasks]\n", argv[0]);
		return 2;
	}
	tasks = strcmp(channel, "lagbid_tasks") == 0;
	signal(SIGTERM, on_signal);
	signal(SIGINT, on_signal);
	until = now_us() + atoll(argv[2]) * 1000000LL;

	conn = PQconnectdb(argv[1]);
	if (PQstatus(conn) != CONNECTION_OK)
	{
		fprintf(stderr, "listener: %s", PQerrorMessage(conn));
		return 1;
	}
	res = PQexec(conn, tasks ? "LISTEN lagbid_tasks" : "LISTEN lagbid");
	if (PQresultStatus(res) != PGRES_COMMAND_OK)
	{
		fprintf(stderr, "listener: LISTEN failed: %s", PQerrorMessage(conn));
		return 1;
	}
	PQclear(res);
	fprintf(stderr, "ready\n");

	while (!stop && now_us() < until)
	{
		int			sock = PQsocket(conn);
		fd_set		in;
		struct timeval tv = {0, 100000};
		PGnotify   *n;

		FD_ZERO(&in);
		FD_SET(sock, &in);
		if (select(sock + 1, &in, NULL, NULL, &tv) < 0)
		{
			if (errno == EINTR)
				continue;
			perror("listener: select");
			return 1;
		}
		if (!PQconsumeInput(conn))
		{
			fprintf(stderr, "listener: %s", PQerrorMessage(conn));
			return 1;
		}
		while ((n = PQnotifies(conn)) != NULL)
		{
			long long	t = now_us();

			seen++;
			ids += print_ids(n->extra, tasks ? "\"task_id" : "\"id", t);
			PQfreemem(n);
		}
	}
	fflush(stdout);
	fprintf(stderr, "listener: %ld notifications, %ld %s\n", seen, ids,
			tasks ? "tasks" : "with an id");
	PQfinish(conn);
	return 0;
}
