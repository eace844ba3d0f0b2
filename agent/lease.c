/*-------------------------------------------------------------------------
 *
 * lease.c
 *	  The services this provider runs for the market's leases, and the
 *	  probes it is assigned: what the agent reads (my_leases(),
 *	  my_probes()) and reports (report_endpoint(), report_teardown(),
 *	  report_probe()).
 *
 * The market is the source of truth.  my_leases() is read with my_jobs()
 * (at every reconcile: on notifications, on the timer, after a
 * reconnect), and after a restart of the agent every live lease it lists
 * is started again here: an agent restart never ends a lease.
 *
 *	  starting, ready, degraded, unstable: the app runs here (started when
 *		it does not, restarted with backoff when it ends, service.c);
 *		report_endpoint(job, URL) once its health path answers the expected
 *		status, and again when the market's endpoint is not our URL;
 *	  expired, failed: torn down (service.c), then report_teardown();
 *	  not listed any more (torn down, or gone): torn down, nothing reported.
 *
 * A new reserved_until (extend_space) only moves the view here.
 *
 * The URL reported: service.proxy_public_url + "/l/NAME/" when set (TLS
 * in front, one certificate), or scheme://NAME.domain[:port]/ when it is
 * scheme:// then *.domain[:port] (a wildcard certificate); else http://NAME.DOMAIN:PORT/ when DOMAIN
 * (service.proxy_domain, default the host of the first registered
 * multiaddr) is a DNS name, and http://DOMAIN:PORT/l/NAME/ when it is an
 * address.  PORT is the front proxy's.
 *
 * Probes: my_probes() on the probe_assigned notification and on the
 * timer; each assignment not yet under way is handed to the proxy's
 * libcurl (proxy.c), and its result reported with report_probe().  Rows
 * are untrusted (rows.c checks every column); a URL that is not http(s)
 * is reported as a failed probe without a request.
 *
 *-------------------------------------------------------------------------
 */
#include "daemon.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define LEASE_MAX_ROWS 4096
#define PROBE_MAX_ROWS 256

static const char *const leases_sql =
"SELECT lease_id, job_id, task_id, name, state, endpoint, "
"extract(epoch FROM reserved_until)::float8, port, health_path, expected_status, "
"startup_timeout_s, workload_sha256 FROM lagbid_api.my_leases() ORDER BY lease_id";
static const char *const probes_sql =
"SELECT probe_id, lease_name, endpoint, nonce FROM lagbid_api.my_probes() ORDER BY probe_id";

/* the host of a multiaddr /dns4|dns6|dns|ip4|ip6/<host>/... */
int
lease_default_domain(const Config *c, char *out, size_t cap, bool *is_ip)
{
	static const char *const kinds[] = {"/dns4/", "/dns6/", "/dns/", "/ip4/", "/ip6/", NULL};

	out[0] = '\0';
	*is_ip = false;
	for (int i = 0; i < c->nmultiaddrs; i++)
		for (int k = 0; kinds[k]; k++)
		{
			size_t		kl = strlen(kinds[k]);
			const char *h = c->multiaddrs[i] + kl;
			size_t		hl;

			if (strncmp(c->multiaddrs[i], kinds[k], kl) != 0)
				continue;
			hl = strcspn(h, "/");
			if (hl == 0 || hl >= cap)
				continue;
			memcpy(out, h, hl);
			out[hl] = '\0';
			*is_ip = k >= 3;
			return 0;
		}
	return -1;
}

static bool
looks_like_ip(const char *h)
{
	if (strchr(h, ':'))
		return true;
	for (const char *p = h; *p; p++)
		if (!((*p >= '0' && *p <= '9') || *p == '.'))
			return false;
	return true;
}

int
lease_url(const Agent *a, const char *name, char *out, size_t cap)
{
	const char *d = a->proxy_domain;

	if (a->cfg.proxy_public_url)
	{
		const char *base = a->cfg.proxy_public_url;
		const char *star = strstr(base, "://*.");

		/* a wildcard host ("scheme://" then "*.domain"): the name is the first label */
		if (star)
			return snprintf(out, cap, "%.*s://%s.%s/", (int) (star - base), base, name,
							star + 5) < (int) cap ? 0 : -1;
		return snprintf(out, cap, "%s/l/%s/", base, name) < (int) cap ? 0 : -1;
	}
	if (d[0] == '\0')
		return -1;
	if (looks_like_ip(d))
		return snprintf(out, cap, strchr(d, ':') ? "http://[%s]:%d/l/%s/" : "http://%s:%d/l/%s/",
						d, proxy_port(), name) < (int) cap ? 0 : -1;
	return snprintf(out, cap, "http://%s.%s:%d/", name, d, proxy_port()) < (int) cap ? 0 : -1;
}

/* the front proxy, at the first start of the loop */
void
lease_init(Agent *a)
{
	char		err[512];
	bool		is_ip = false;

	if (a->cfg.proxy_domain)
		snprintf(a->proxy_domain, sizeof(a->proxy_domain), "%s", a->cfg.proxy_domain);
	else if (lease_default_domain(&a->cfg, a->proxy_domain, sizeof(a->proxy_domain), &is_ip) != 0)
		a->proxy_domain[0] = '\0';
	/* max_services = 0: no service runs here, but the prober uses the proxy's client */
	if (proxy_start(&a->cfg, a->dir, looks_like_ip(a->proxy_domain) ? "" : a->proxy_domain,
					err, sizeof(err)) != 0)
	{
		log_error("proxy", "%s: services and probes are off", err);
		return;
	}
	a->proxy_up = true;
}

static Service *
find_lease(Agent *a, long long lease_id)
{
	for (int i = 0; i < a->nsvcs; i++)
		if (a->svcs[i]->lease_id == lease_id)
			return a->svcs[i];
	return NULL;
}

bool
lease_owns_job(Agent *a, long long job_id)
{
	if (idset_has(&a->lease_jobs, job_id))
		return true;
	for (int i = 0; i < a->nsvcs; i++)
		if (a->svcs[i]->job_id == job_id)
			return true;
	return false;
}

static bool
live_state(const char *st)
{
	return strcmp(st, "starting") == 0 || strcmp(st, "ready") == 0 ||
		strcmp(st, "degraded") == 0 || strcmp(st, "unstable") == 0;
}

/* the workload by task id, its digest checked against the lease's */
static char *
lease_workload(Agent *a, const LeaseRow *l, char *why, size_t whylen)
{
	char		tid[32];
	const char *vals[1] = {tid};
	PGresult   *res;
	char		hex[65];
	size_t		len;
	char	   *body;
	const char *cached = wlcache_get(l->workload_sha256, &len);

	if (cached)
		return xstrndup(cached, len);
	snprintf(tid, sizeof(tid), "%lld", l->task_id);
	res = market_query(&a->m, "SELECT lagbid_api.task_workload($1::bigint)::text", 1, vals, NULL, NULL);
	if (res == NULL || !market_ok(res) || PQntuples(res) != 1 || PQnfields(res) != 1 ||
		PQgetisnull(res, 0, 0))
	{
		char		msg[512] = "no connection or no row";

		if (res && !market_ok(res))
			market_error_text(res, a->m.conn, msg, sizeof(msg));
		snprintf(why, whylen, "the workload could not be read: %s", msg);
		PQclear(res);
		return NULL;
	}
	len = (size_t) PQgetlength(res, 0, 0);
	if (len > LAGBID_WL_MAX_BYTES)
	{
		snprintf(why, whylen, "the workload is %zu bytes, over %d", len, LAGBID_WL_MAX_BYTES);
		PQclear(res);
		return NULL;
	}
	if (sha256_hex((const unsigned char *) PQgetvalue(res, 0, 0), len, hex) != 0 ||
		strcmp(hex, l->workload_sha256) != 0)
	{
		snprintf(why, whylen, "the workload read does not have the lease's SHA-256");
		PQclear(res);
		return NULL;
	}
	body = xstrndup(PQgetvalue(res, 0, 0), len);
	PQclear(res);
	wlcache_put(l->workload_sha256, body, len);
	return body;
}

static void
adopt(Agent *a, const LeaseRow *l)
{
	Service    *s;
	char		why[600];
	char	   *body;
	bool		live = live_state(l->state);

	if (a->nsvcs >= MAX_SERVICES_HERE)
		return;
	if (live && (!a->proxy_up || a->nsvcs >= a->cfg.max_services))
	{
		log_warning("lease", "lease %lld (%s) not started here: %s", l->lease_id, l->name,
					a->proxy_up ? "service.max_services reached" : "the front proxy is not running");
		return;
	}
	s = service_new(l->name, l->port, l->health_path, l->expected_status);
	s->grace_s = a->cfg.service_grace_s;
	s->lease_id = l->lease_id;
	s->job_id = l->job_id;
	s->task_id = l->task_id;
	snprintf(s->workload_sha256, sizeof(s->workload_sha256), "%s", l->workload_sha256);
	a->svcs[a->nsvcs++] = s;
	if (!live)
	{
		/* expired or failed and not running here (a restart of the agent) */
		s->tearing_down = true;
		s->torn_down = true;
		log_info("lease", "lease %lld (%s) is %s and nothing of it runs here", l->lease_id, l->name, l->state);
		return;
	}
	body = lease_workload(a, l, why, sizeof(why));
	if (body == NULL)
	{
		log_warning("lease", "lease %lld (%s) not started: %s (tried again at the next reconcile)",
					l->lease_id, l->name, why);
		a->svcs[--a->nsvcs] = NULL;
		service_free(s);
		return;
	}
	if (workload_parse(body, strlen(body), &s->wl, why, sizeof(why)) != 0)
	{
		log_warning("lease", "lease %lld (%s) not started: invalid workload: %s", l->lease_id, l->name, why);
		free(body);
		a->svcs[--a->nsvcs] = NULL;
		service_free(s);
		return;
	}
	free(body);
	s->have_wl = true;
	if (service_start(s, &a->cfg, a->self_exe, why, sizeof(why)) != 0)
	{
		log_warning("lease", "lease %lld (%s): %s (again with backoff)", l->lease_id, l->name, why);
		s->restart_at = now_seconds() + s->backoff;
	}
	else
		log_info("lease", "lease %lld (%s, job %lld) %s: its app runs here on port %d until %.0f",
				 l->lease_id, l->name, l->job_id, l->state, l->port, l->reserved_until);
}

/* my_leases() against the services here */
void
lease_reconcile(Agent *a)
{
	PGresult   *res;
	Rows		r;
	int			n;

	if (!a->api_leases || a->m.conn == NULL)
		return;
	res = market_query(&a->m, leases_sql, 0, NULL, NULL, NULL);
	if (res == NULL)
		return;
	if (!market_ok(res))
	{
		char		msg[512];

		market_error_text(res, a->m.conn, msg, sizeof(msg));
		log_warning("lease", "could not list my leases: %s", msg);
		PQclear(res);
		return;
	}
	n = PQntuples(res);
	if (n > LEASE_MAX_ROWS)
	{
		log_warning("lease", "the market lists %d leases: the first %d are read", n, LEASE_MAX_ROWS);
		n = LEASE_MAX_ROWS;
	}
	r = market_rows(res);
	for (int i = 0; i < a->nsvcs; i++)
		a->svcs[i]->listed = false;
	/* every job of a lease, malformed rows too: none of them is a batch run */
	idset_free(&a->lease_jobs);
	for (int i = 0; i < n; i++)
	{
		long long	jid;

		if (rows_id(&r, i, 1, &jid))
			idset_add(&a->lease_jobs, jid, LEASE_MAX_ROWS);
	}
	for (int i = 0; i < n && a->m.conn; i++)
	{
		LeaseRow	l;
		char		why[256];
		Service    *s;

		if (!lease_from_row(&r, i, &l, why, sizeof(why)))
		{
			char		id[24];

			rows_printable(&r, i, 0, id, sizeof(id));
			log_warning("lease", "ignored a malformed my_leases row (lease %s): %s", id, why);
			continue;
		}
		if (strcmp(l.state, "torn_down") == 0)
			continue;
		s = find_lease(a, l.lease_id);
		if (s == NULL)
		{
			if (a->stopping)
				continue;
			adopt(a, &l);
			s = find_lease(a, l.lease_id);
			if (s == NULL)
				continue;
		}
		else if (strcmp(s->name, l.name) != 0 || s->job_id != l.job_id || s->port != l.port)
		{
			log_warning("lease", "lease %lld: the market's name, job or port changed (%s, %lld, %d): kept %s, %lld, %d",
						l.lease_id, l.name, l.job_id, l.port, s->name, s->job_id, s->port);
		}
		s->listed = true;
		if (s->reserved_until > 0 && l.reserved_until > s->reserved_until + 0.5)
			log_info("lease", "lease %lld (%s) extended: reserved until %.0f (was %.0f)",
					 l.lease_id, s->name, l.reserved_until, s->reserved_until);
		s->reserved_until = l.reserved_until;
		if (strcmp(s->state, l.state) != 0 && s->state[0])
			log_info("lease", "lease %lld (%s): %s -> %s", l.lease_id, s->name, s->state, l.state);
		snprintf(s->state, sizeof(s->state), "%s", l.state);
		snprintf(s->endpoint, sizeof(s->endpoint), "%s", l.endpoint);
		if (!live_state(l.state) && !s->tearing_down)
		{
			log_info("lease", "lease %lld (%s) is %s: tearing it down", l.lease_id, s->name, l.state);
			service_teardown(s);
		}
	}
	PQclear(res);
	/* not listed: torn down in the market, or gone; stop what runs */
	for (int i = 0; i < a->nsvcs; i++)
	{
		Service    *s = a->svcs[i];

		if (!s->listed && !s->tearing_down)
		{
			log_info("lease", "lease %lld (%s) is no longer live in the market: tearing it down",
					 s->lease_id, s->name);
			s->teardown_reported = true;	/* nothing to report */
			service_teardown(s);
		}
		else if (!s->listed)
			s->teardown_reported = true;
	}
}

/* a child ended: one of the services' sandboxes? */
bool
lease_reaped(Agent *a, pid_t pid, int status)
{
	for (int i = 0; i < a->nsvcs; i++)
	{
		Service    *s = a->svcs[i];

		if (s->running && s->rs.pid == pid)
		{
			service_ended(s, status);
			return true;
		}
	}
	return false;
}

static void
report_endpoint(Agent *a, Service *s)
{
	char		url[LEASE_URL_MAX + 1];
	char		jid[32];
	const char *vals[2] = {jid, url};
	PGresult   *res;

	if (lease_url(a, s->name, url, sizeof(url)) != 0)
	{
		if (s->next_report == 0)
			log_warning("lease", "lease %lld (%s): no URL to report (set service.proxy_domain or service.proxy_public_url)",
						s->lease_id, s->name);
		s->next_report = now_seconds() + 60;
		return;
	}
	if (strcmp(url, s->endpoint) == 0 && strcmp(s->state, "starting") != 0)
		return;
	snprintf(jid, sizeof(jid), "%lld", s->job_id);
	res = market_query(&a->m, "SELECT lagbid_api.report_endpoint($1::bigint, $2)", 2, vals, NULL, NULL);
	if (res == NULL)
		return;
	if (market_ok(res))
	{
		log_info("lease", "lease %lld (%s) ready: endpoint %s reported", s->lease_id, s->name, url);
		snprintf(s->endpoint, sizeof(s->endpoint), "%s", url);
		if (strcmp(s->state, "starting") == 0)
			snprintf(s->state, sizeof(s->state), "ready");
	}
	else
	{
		char		msg[512];

		market_error_text(res, a->m.conn, msg, sizeof(msg));
		log_warning("lease", "lease %lld (%s): report_endpoint(%s) refused: %s (SQLSTATE %s)",
					s->lease_id, s->name, url, msg, market_sqlstate(res));
		s->next_report = now_seconds() + 30;
		a->want_reconcile = true;
	}
	PQclear(res);
}

static bool
report_teardown(Agent *a, Service *s)
{
	char		jid[32];
	const char *vals[1] = {jid};
	PGresult   *res;

	snprintf(jid, sizeof(jid), "%lld", s->job_id);
	res = market_query(&a->m, "SELECT lagbid_api.report_teardown($1::bigint)", 1, vals, NULL, NULL);
	if (res == NULL)
		return false;
	if (market_ok(res))
		log_info("teardown", "lease %lld (%s, job %lld) reported torn down (%s)", s->lease_id, s->name,
				 s->job_id, s->left_after_teardown == 0 ? "no process left" : "leftovers were killed");
	else
	{
		char		msg[512];

		market_error_text(res, a->m.conn, msg, sizeof(msg));
		log_warning("teardown", "lease %lld (%s): report_teardown refused: %s (SQLSTATE %s)",
					s->lease_id, s->name, msg, market_sqlstate(res));
	}
	PQclear(res);
	return true;
}

static void
drop(Agent *a, int i)
{
	Service    *s = a->svcs[i];

	a->svcs[i] = a->svcs[--a->nsvcs];
	a->svcs[a->nsvcs] = NULL;
	service_free(s);
}

/* every turn of the main loop */
void
lease_tick(Agent *a)
{
	double		now = now_seconds();

	for (int i = 0; i < a->nsvcs; i++)
	{
		Service    *s = a->svcs[i];

		service_tick(s, &a->cfg, a->self_exe);
		if (s->torn_down)
		{
			if (!s->teardown_reported && a->m.conn == NULL)
				continue;
			if (!s->teardown_reported && !report_teardown(a, s))
				continue;
			drop(a, i);
			i--;
			continue;
		}
		if (!s->tearing_down && a->m.conn && now >= s->next_report && live_state(s->state) &&
			strcmp(s->state, "unstable") != 0 && service_healthy(s))
			report_endpoint(a, s);
	}
}

/* at the agent's stop: every sandbox ends, the leases stay (the next start restarts them) */
void
lease_stop_all(Agent *a)
{
	for (int i = 0; i < a->nsvcs; i++)
		if (a->svcs[i]->running)
			sandbox_kill(&a->svcs[i]->rs);
}

static void
idset_remove(IdSet *set, long long id)
{
	for (int i = 0; i < set->n; i++)
		if (set->ids[i] == id)
		{
			set->ids[i] = set->ids[--set->n];
			return;
		}
}

/* my_probes(): start what is not under way */
void
lease_probes(Agent *a)
{
	PGresult   *res;
	Rows		r;
	int			n;
	IdSet		listed = {0};

	a->want_probes = false;
	if (!a->api_leases || a->m.conn == NULL || !a->proxy_up)
		return;
	res = market_query(&a->m, probes_sql, 0, NULL, NULL, NULL);
	if (res == NULL)
		return;
	if (!market_ok(res))
	{
		char		msg[512];

		market_error_text(res, a->m.conn, msg, sizeof(msg));
		log_warning("probe", "could not list my probes: %s", msg);
		PQclear(res);
		return;
	}
	n = PQntuples(res);
	if (n > PROBE_MAX_ROWS)
		n = PROBE_MAX_ROWS;
	r = market_rows(res);
	for (int i = 0; i < n; i++)
	{
		long long	id;

		if (rows_id(&r, i, 0, &id))
			idset_add(&listed, id, PROBE_MAX_ROWS);
	}
	for (int i = 0; i < n; i++)
	{
		ProbeRow	p;
		char		why[256];

		if (!probe_from_row(&r, i, &p, why, sizeof(why)))
		{
			long long	id;

			if (rows_id(&r, i, 0, &id) && !idset_has(&a->probes_started, id))
			{
				/* an assignment we cannot carry out: a failed probe, said once */
				ProbeResult pr;

				memset(&pr, 0, sizeof(pr));
				pr.probe_id = id;
				snprintf(pr.why, sizeof(pr.why), "%s", why);
				log_warning("probe", "probe %lld not made: %s", id, why);
				idset_add(&a->probes_started, id, 100000);
				{
					char		pid[32];
					const char *vals[5] = {pid, "false", NULL, "0", NULL};
					PGresult   *rr;

					snprintf(pid, sizeof(pid), "%lld", id);
					rr = market_query(&a->m, "SELECT lagbid_api.report_probe($1::bigint, $2::boolean, $3::integer, $4::numeric, $5)",
									  5, vals, NULL, NULL);
					PQclear(rr);
				}
			}
			continue;
		}
		if (idset_has(&a->probes_started, p.probe_id))
			continue;
		if (!proxy_probe_submit(p.probe_id, p.endpoint, p.nonce))
		{
			log_warning("probe", "probe %lld of %s postponed: too many probes under way", p.probe_id, p.lease_name);
			break;
		}
		idset_add(&a->probes_started, p.probe_id, 100000);
		log_debug("probe", "probe %lld of lease %s: GET %s", p.probe_id, p.lease_name, p.endpoint);
	}
	PQclear(res);
	/* forget what the market no longer lists and the proxy no longer holds: the set stays small */
	for (int i = a->probes_started.n - 1; i >= 0; i--)
	{
		long long	id = a->probes_started.ids[i];

		if (!idset_has(&listed, id) && !proxy_probe_busy(id))
			idset_remove(&a->probes_started, id);
	}
	idset_free(&listed);
}

/* the probes that finished: report_probe() each */
void
lease_report_probes(Agent *a)
{
	ProbeResult done[64];
	int			n;

	if (!a->proxy_up || a->m.conn == NULL)
		return;
	while ((n = proxy_probe_results(done, 64)) > 0)
	{
		for (int i = 0; i < n; i++)
		{
			ProbeResult *p = &done[i];
			char		pid[32],
						st[16],
						lat[32];
			const char *vals[5] = {pid, p->ok ? "true" : "false", p->http_status ? st : NULL, lat,
			p->signature[0] ? p->signature : NULL};
			PGresult   *res;

			snprintf(pid, sizeof(pid), "%lld", p->probe_id);
			snprintf(st, sizeof(st), "%d", p->http_status);
			snprintf(lat, sizeof(lat), "%.3f", p->latency_ms);
			res = market_query(&a->m, "SELECT lagbid_api.report_probe($1::bigint, $2::boolean, $3::integer, $4::numeric, $5)",
							   5, vals, NULL, NULL);
			if (res == NULL)
			{
				/* lost with the connection: made again if my_probes() still lists them */
				for (int k = i; k < n; k++)
					idset_remove(&a->probes_started, done[k].probe_id);
				return;
			}
			if (market_ok(res))
				log_info("probe", "probe %lld: %s (status %d, %.0f ms)%s%s", p->probe_id,
						 p->ok ? "up" : "down", p->http_status, p->latency_ms,
						 p->why[0] ? ": " : "", p->why);
			else
			{
				char		msg[512];

				market_error_text(res, a->m.conn, msg, sizeof(msg));
				log_warning("probe", "probe %lld: report_probe refused: %s (SQLSTATE %s)",
							p->probe_id, msg, market_sqlstate(res));
			}
			PQclear(res);
		}
	}
}
