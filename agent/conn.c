/*-------------------------------------------------------------------------
 *
 * conn.c
 *	  The agent's connection to the market database: connect (multi-host
 *	  conninfo and target_session_attrs are libpq's), LISTEN, run one
 *	  query, notice that the connection is gone, and come back with an
 *	  exponential backoff (1 s doubling to 60 s, with jitter) as
 *	  pg_receivewal does: the market, not the agent, holds the state, so a
 *	  reconnect is followed by a full reconcile.
 *
 * Never logs the conninfo (it may hold a password): only host and port.
 *
 *-------------------------------------------------------------------------
 */
#include "daemon.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* one line, printable: server messages and errors may span lines */
static void
flatten(char *s)
{
	size_t		n = strlen(s);

	while (n > 0 && (s[n - 1] == '\n' || s[n - 1] == ' ' || s[n - 1] == '\t'))
		s[--n] = '\0';
	for (char *p = s; *p; p++)
		if (*p == '\n' || *p == '\t' || *p == '\r')
			*p = ' ';
}

/* the server's notices (and FATALs before a disconnect) as our log lines */
static void
on_notice(void *arg, const char *message)
{
	char		buf[1024];

	snprintf(buf, sizeof(buf), "%s", message);
	flatten(buf);
	log_info("server", "server said: %s", buf);
}

PGconn *
market_open(const char *conninfo, char *err, size_t errlen)
{
	/* defaults first: the provider's conninfo (expanded from dbname) wins */
	const char *const keys[] = {"application_name", "connect_timeout", "keepalives",
	"keepalives_idle", "keepalives_interval", "keepalives_count", "dbname", NULL};
	const char *const vals[] = {"lagbid-agent", "10", "1", "30", "10", "3", conninfo, NULL};
	PGconn	   *conn = PQconnectdbParams(keys, vals, 1);

	if (conn == NULL || PQstatus(conn) != CONNECTION_OK)
	{
		const char *msg = conn ? PQerrorMessage(conn) : "out of memory";

		snprintf(err, errlen, "%s", msg);
		flatten(err);
		PQfinish(conn);
		return NULL;
	}
	PQsetNoticeProcessor(conn, on_notice, NULL);
	return conn;
}

bool
market_connect(Market *m, const char *conninfo, bool listen)
{
	char		err[1024];
	PGresult   *res;

	m->conn = market_open(conninfo, err, sizeof(err));
	if (m->conn == NULL)
	{
		double		jitter = (rand() % 1000) / 1000.0;

		m->failures++;
		m->backoff = m->backoff < 1 ? 1 : (m->backoff * 2 > 60 ? 60 : m->backoff * 2);
		m->next_attempt = now_seconds() + m->backoff * (0.75 + 0.5 * jitter);
		log_warning("connect", "could not connect to the market: %s; retrying in %.0f s",
					err, m->backoff);
		return false;
	}
	res = PQexec(m->conn, listen ? "SET statement_timeout = '60s'; LISTEN lagbid_tasks; LISTEN lagbid"
				 : "SET statement_timeout = '60s'");
	if (!market_ok(res))
	{
		log_warning("connect", "could not LISTEN: %s", PQerrorMessage(m->conn));
		PQclear(res);
		market_disconnect(m, "LISTEN failed");
		return false;
	}
	PQclear(res);
	PQsetnonblocking(m->conn, 0);
	log_info("connect", "connected to the market at %s:%s as \"%s\"%s%s",
			 PQhost(m->conn), PQport(m->conn), PQuser(m->conn),
			 m->failures ? " after " : "",
			 m->failures ? "a disconnection" : "");
	m->failures = 0;
	m->backoff = 0;
	return true;
}

void
market_disconnect(Market *m, const char *why)
{
	if (m->conn)
	{
		char		buf[1024];

		snprintf(buf, sizeof(buf), "%s", why);
		flatten(buf);
		log_warning("connect", "lost the market connection: %s", buf);
		PQfinish(m->conn);
		m->conn = NULL;
	}
	m->failures++;
	m->backoff = m->backoff < 1 ? 1 : (m->backoff * 2 > 60 ? 60 : m->backoff * 2);
	m->next_attempt = now_seconds() + m->backoff;
}

bool
market_ok(PGresult *res)
{
	ExecStatusType st = res ? PQresultStatus(res) : PGRES_FATAL_ERROR;

	return st == PGRES_TUPLES_OK || st == PGRES_COMMAND_OK;
}

/*
 * Under lagbid.api_errors (every lagbid_api function) a refusal arrives as
 * SQLSTATE PGRST with a JSON body {"code": "LB303", "message": ...}: these
 * two give lagbid's own code and message either way.
 */
static json_t *
pgrst_body(PGresult *res)
{
	const char *state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
	const char *msg = res ? PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY) : NULL;
	json_t	   *v;

	if (state == NULL || msg == NULL || strcmp(state, "PGRST") != 0)
		return NULL;
	v = json_read(msg, strlen(msg), 64 * 1024, NULL, 0);
	if (v && !json_is_object(v))
	{
		json_decref(v);
		return NULL;
	}
	return v;
}

const char *
market_sqlstate(PGresult *res)
{
	static char code[16];
	const char *s = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
	json_t	   *v = pgrst_body(res);

	if (v)
	{
		const char *c = json_member_str(v, "code");

		snprintf(code, sizeof(code), "%s", c ? c : "PGRST");
		json_decref(v);
		return code;
	}
	return s ? s : "";
}

void
market_error_text(PGresult *res, PGconn *conn, char *out, size_t cap)
{
	const char *msg = res ? PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY) : NULL;
	json_t	   *v = pgrst_body(res);
	size_t		n;

	if (v && json_member_str(v, "message"))
		msg = json_member_str(v, "message");
	if (msg == NULL)
		msg = conn ? PQerrorMessage(conn) : "no connection";
	snprintf(out, cap, "%s", msg);
	json_decref(v);
	n = strlen(out);
	while (n > 0 && (out[n - 1] == '\n' || out[n - 1] == ' '))
		out[--n] = '\0';
	for (char *p = out; *p; p++)
		if (*p == '\n')
			*p = ' ';
}

/*
 * Run one statement; NULL when there is no connection.  When the
 * connection broke under it, disconnects (the loop reconnects) and
 * returns the failed result, which the caller treats as "try later".
 */
PGresult *
market_query(Market *m, const char *sql, int nparams, const char *const *values,
			 const int *lengths, const int *formats)
{
	PGresult   *res;

	if (m->conn == NULL)
		return NULL;
	res = PQexecParams(m->conn, sql, nparams, NULL, values, lengths, formats, 0);
	if (PQstatus(m->conn) != CONNECTION_OK)
	{
		PQclear(res);
		market_disconnect(m, "server closed the connection");
		return NULL;
	}
	return res;
}
