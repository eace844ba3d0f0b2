/*-------------------------------------------------------------------------
 *
 * conn.c
 *	  The agent's connection to the market database: connect (multi-host
 *	  conninfo and target_session_attrs are libpq's), LISTEN, run one
 *	  query, notice that the connection is gone, and come back with an
 *	  exponential backoff (1 s doubling to 5 s in the first two minutes of
 *	  an outage, then to 60 s, with jitter) as
 *	  pg_receivewal does: the market, not the agent, holds the state, so a
 *	  reconnect is followed by a full reconcile.  Behind a pooler in
 *	  transaction mode the agent holds two sessions (market_connect's
 *	  MarketSession): pooled single statements, and a direct one that
 *	  LISTENs.
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

/*
 * A conninfo libpq cannot parse (an unknown keyword, a bad value) fails the
 * same way at every attempt: 0 when it parses, else -1 with libpq's reason.
 */
int
market_conninfo_check(const char *conninfo, char *err, size_t errlen)
{
	char	   *msg = NULL;
	PQconninfoOption *opts = PQconninfoParse(conninfo ? conninfo : "", &msg);

	if (opts == NULL)
	{
		snprintf(err, errlen, "%s", msg ? msg : "out of memory");
		flatten(err);
		PQfreemem(msg);
		return -1;
	}
	PQconninfoFree(opts);
	return 0;
}

/*
 * "fe_sendauth: no password supplied" means that the server wants a password
 * and libpq found none: the usual cause is a ~/.pgpass line whose host,
 * port, database or user differs from the conninfo's (a wrong dbname
 * looks like a missing password).  Say which line libpq looked for.
 */
static void
password_hint(PGconn *conn, char *err, size_t errlen)
{
	const char *passfile = getenv("PGPASSFILE");
	const char *home = getenv("HOME");
	char		def[1024];
	size_t		n = strlen(err);
	PQconninfoOption *opts;

	if (conn == NULL || strstr(err, "no password supplied") == NULL)
		return;
	if (passfile == NULL)
	{
		snprintf(def, sizeof(def), "%s/.pgpass", home ? home : "~");
		passfile = def;
	}
	opts = PQconninfo(conn);
	for (PQconninfoOption *o = opts; o && o->keyword; o++)
		if (strcmp(o->keyword, "passfile") == 0 && o->val && o->val[0])
		{
			snprintf(def, sizeof(def), "%s", o->val);
			passfile = def;
		}
	PQconninfoFree(opts);
	snprintf(err + n, errlen - n,
			 " (hint: no password was found for %s:%s:%s:%s in \"%s\"; a line there must match "
			 "host, port, database and user exactly, \"*\" matching any: check the conninfo's dbname "
			 "and user, and that the file has mode 0600)",
			 PQhost(conn) ? PQhost(conn) : "", PQport(conn) ? PQport(conn) : "",
			 PQdb(conn) ? PQdb(conn) : "", PQuser(conn) ? PQuser(conn) : "", passfile);
}

/*
 * The wait before the next attempt: 1 s doubling, at most 5 s for the first
 * two minutes of an outage (a failover lasts seconds: the agent is back on
 * the new primary within about 5 s of its promotion), then up to 60 s.
 */
static void
next_backoff(Market *m)
{
	double		now = now_seconds();
	double		cap;

	if (m->failures == 0)
		m->down_since = now;
	m->failures++;
	cap = now - m->down_since < 120 ? 5 : 60;
	m->backoff = m->backoff < 1 ? 1 : (m->backoff * 2 > cap ? cap : m->backoff * 2);
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
		password_hint(conn, err, errlen);
		PQfinish(conn);
		return NULL;
	}
	PQsetNoticeProcessor(conn, on_notice, NULL);
	return conn;
}

/*
 * Connect one of the agent's sessions.  MARKET_SESSION_BOTH is the single
 * session of a direct conninfo: queries, a statement timeout and LISTEN.
 * With market.listen_conninfo the work splits in two: MARKET_SESSION_POOLED
 * only runs single statements (each its own transaction), so it works
 * through a pooler in transaction mode and sets nothing on the session (a
 * SET would stay on whichever server connection ran it: the operator sets
 * statement_timeout on the role instead); MARKET_SESSION_LISTEN only
 * LISTENs, on a direct session that nothing pools.
 */
bool
market_connect(Market *m, const char *conninfo, MarketSession kind)
{
	char		err[1024];
	PGresult   *res = NULL;
	const char *what = kind == MARKET_SESSION_LISTEN ? "the market's notifications" : "the market";
	const char *sql = kind == MARKET_SESSION_BOTH ?
		"SET statement_timeout = '60s'; LISTEN lagbid_tasks; LISTEN lagbid" :
		kind == MARKET_SESSION_LISTEN ? "LISTEN lagbid_tasks; LISTEN lagbid" : NULL;

	m->conn = market_open(conninfo, err, sizeof(err));
	if (m->conn == NULL)
	{
		double		jitter = (rand() % 1000) / 1000.0;

		next_backoff(m);
		m->next_attempt = now_seconds() + m->backoff * (0.75 + 0.5 * jitter);
		log_warning("connect", "could not connect to %s: %s; retrying in %.0f s",
					what, err, m->backoff);
		return false;
	}
	if (sql != NULL)
	{
		res = PQexec(m->conn, sql);
		if (!market_ok(res))
		{
			log_warning("connect", "could not LISTEN: %s", PQerrorMessage(m->conn));
			PQclear(res);
			market_disconnect(m, "LISTEN failed");
			return false;
		}
		PQclear(res);
	}
	PQsetnonblocking(m->conn, 0);
	m->connected_at = now_seconds();
	log_info("connect", "connected to %s at %s:%s as \"%s\"%s%s%s",
			 what, PQhost(m->conn), PQport(m->conn), PQuser(m->conn),
			 kind == MARKET_SESSION_POOLED ? " (queries only: LISTEN has its own session)" : "",
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
		log_warning("connect", "lost the market connection%s: %s",
					m->listener ? " that LISTENs" : "", buf);
		PQfinish(m->conn);
		m->conn = NULL;
	}
	next_backoff(m);
	m->next_attempt = now_seconds() + m->backoff;
	m->lost_at = now_seconds();
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

/*
 * One more field of a refusal: "details" or "hint" (lagbid's in the PGRST
 * body, or PostgreSQL's own DETAIL and HINT).  Empty when there is none.
 */
void
market_error_field(PGresult *res, const char *field, char *out, size_t cap)
{
	json_t	   *v = pgrst_body(res);
	const char *val = NULL;

	if (v)
		val = json_member_str(v, field);
	else if (res)
		val = PQresultErrorField(res, strcmp(field, "hint") == 0 ? PG_DIAG_MESSAGE_HINT
								 : PG_DIAG_MESSAGE_DETAIL);
	snprintf(out, cap, "%s", val ? val : "");
	json_decref(v);
	flatten(out);
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
