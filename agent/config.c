/*-------------------------------------------------------------------------
 *
 * config.c
 *	  DIR/lagbid-agent.conf: an INI-style file with comments, written by
 *	  `lagbid-agent init`, read at start and again on SIGHUP.
 *
 *	  [section]
 *	  key = value		# comment
 *
 * Unknown keys are errors (a typo in a price must not go unnoticed); at
 * reload an invalid file keeps the previous configuration.  The conninfo
 * is never printed: it may hold a password.
 *
 *-------------------------------------------------------------------------
 */
#include "agent.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void
config_defaults(Config *c, const char *dir)
{
	char		buf[4096];

	memset(c, 0, sizeof(*c));
	c->max_concurrent = 1;
	c->scan_interval_s = 60;
	c->cpu = c->memory_gb = c->storage_gb = -1;	/* -1: detect */
	c->rate_cpu = 0.05;
	c->rate_memory = 0.005;
	c->rate_storage = 0.0001;
	c->markup = 1.0;
	c->price_script_timeout_ms = 2000;
	c->bwrap = xstrdup("/usr/bin/bwrap");
	snprintf(buf, sizeof(buf), "%s/results", dir ? dir : ".");
	c->result_dir = xstrdup(buf);
	snprintf(buf, sizeof(buf), "%s/jobs", dir ? dir : ".");
	c->work_dir = xstrdup(buf);
	c->grace_period_s = 30;
	c->max_output_bytes = 256L * 1024 * 1024;
	c->max_result_bytes = 1048576;
	c->max_processes = 256;
	c->default_memory_gb = 4;
	c->default_storage_gb = 10;
	c->max_files = 100000;
	c->max_workload_bytes = 1048576;
	c->proxy_listen = xstrdup("127.0.0.1:8480");
	c->max_services = 4;
	c->probe_timeout_ms = 10000;
	c->proxy_max_body_bytes = 8L * 1024 * 1024;
	c->proxy_max_response_bytes = 64L * 1024 * 1024;
	c->proxy_timeout_s = 30;
	c->service_grace_s = 10;
}

void
config_free(Config *c)
{
	free(c->conninfo);
	free(c->listen_conninfo);
	free(c->region);
	for (int i = 0; i < c->nmultiaddrs; i++)
		free(c->multiaddrs[i]);
	free(c->gpu);
	for (int i = 0; i < c->ngpu_rates; i++)
		free(c->gpu_models[i]);
	free(c->price_script);
	for (int i = 0; i < c->nallow; i++)
		free(c->allow_owners[i]);
	for (int i = 0; i < c->ndeny; i++)
		free(c->deny_owners[i]);
	free(c->bwrap);
	free(c->result_dir);
	free(c->work_dir);
	free(c->metrics_textfile);
	free(c->proxy_listen);
	free(c->proxy_domain);
	free(c->proxy_public_url);
	memset(c, 0, sizeof(*c));
}

static char *
trim(char *s)
{
	char	   *e;

	while (isspace((unsigned char) *s))
		s++;
	e = s + strlen(s);
	while (e > s && isspace((unsigned char) e[-1]))
		*--e = '\0';
	return s;
}

static bool
parse_num(const char *v, double lo, double hi, double *out)
{
	char	   *end;
	double		d;

	errno = 0;
	d = strtod(v, &end);
	if (errno || end == v || *trim(end) != '\0' || !isfinite(d) || d < lo || d > hi)
		return false;
	*out = d;
	return true;
}

static int
split_list(const char *v, char **arr, int max, int *n)
{
	char	   *copy = xstrdup(v);
	char	   *save = NULL;

	for (char *tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save))
	{
		char	   *t = trim(tok);

		if (*t == '\0')
			continue;
		if (*n >= max)
		{
			free(copy);
			return -1;
		}
		arr[(*n)++] = xstrdup(t);
	}
	free(copy);
	return 0;
}

/* IPv4:port (the front proxy listens on one address) */
static bool
listen_ok(const char *v)
{
	unsigned	a,
				b,
				c,
				d,
				port;
	char		tail;

	return sscanf(v, "%u.%u.%u.%u:%u%c", &a, &b, &c, &d, &port, &tail) == 5 &&
		a < 256 && b < 256 && c < 256 && d < 256 && port >= 1 && port <= 65535;
}

static bool
domain_ok(const char *v)
{
	size_t		n = strlen(v);

	if (n == 0 || n > 200 || v[0] == '.' || v[0] == '-' || v[n - 1] == '.')
		return false;
	for (const char *p = v; *p; p++)
		if (!(isalnum((unsigned char) *p) || *p == '-' || *p == '.'))
			return false;
	return true;
}

/* scheme://host[:port], nothing after */
static bool
public_url_ok(const char *v)
{
	const char *h;
	char		host[256];
	const char *colon;

	if (strncmp(v, "http://", 7) == 0)
		h = v + 7;
	else if (strncmp(v, "https://", 8) == 0)
		h = v + 8;
	else
		return false;
	colon = strchr(h, ':');
	if (colon)
	{
		char	   *end;
		long		port = strtol(colon + 1, &end, 10);

		if ((size_t) (colon - h) >= sizeof(host) || *end != '\0' || port < 1 || port > 65535)
			return false;
		memcpy(host, h, colon - h);
		host[colon - h] = '\0';
	}
	else
		snprintf(host, sizeof(host), "%s", h);
	/* a wildcard host ("https://" then "*.domain"): Host routing behind the front */
	if (strncmp(host, "*.", 2) == 0)
		return domain_ok(host + 2);
	return domain_ok(host);
}

/* every setting, by section: what an unknown one is told it could have been */
static const char *const known_settings[] = {
	"market.conninfo", "market.node_id", "market.provider_id", "market.region", "market.multiaddr",
	"market.max_concurrent", "market.scan_interval_s", "market.listen_conninfo",
	"resources.cpu", "resources.memory_gb", "resources.storage_gb", "resources.gpu",
	"resources.gpu_count",
	"price.cpu_core_hour", "price.memory_gb_hour", "price.storage_gb_hour", "price.gpu_hour.MODEL",
	"price.markup", "price.script", "price.script_timeout_ms",
	"owners.allow", "owners.deny",
	"jobs.bwrap", "jobs.result_dir", "jobs.work_dir", "jobs.grace_period_s",
	"jobs.max_output_bytes", "jobs.max_result_bytes", "jobs.max_processes",
	"jobs.default_memory_gb", "jobs.default_storage_gb", "jobs.max_files", "jobs.max_workload_bytes",
	"metrics.textfile",
	"service.proxy_listen", "service.proxy_domain", "service.proxy_public_url",
	"service.max_services", "service.probe_allow_private", "service.probe_timeout_ms",
	"service.proxy_max_body_bytes", "service.proxy_max_response_bytes", "service.proxy_timeout_s",
	"service.grace_s",
	NULL
};

/* "line N: unknown setting "s.k" (the settings of [s] are: a, b, c)" */
static void
unknown_setting(char *err, size_t errlen, int lineno, const char *section, const char *full)
{
	size_t		slen = strlen(section);
	size_t		n;
	int			found = 0;

	n = snprintf(err, errlen, "line %d: unknown setting \"%s\" (the settings of [%s] are:",
				 lineno, full, section);
	for (int i = 0; known_settings[i] && n < errlen; i++)
		if (strncmp(known_settings[i], section, slen) == 0 && known_settings[i][slen] == '.')
			n += snprintf(err + n, errlen - n, "%s %s", found++ ? "," : "", known_settings[i] + slen + 1);
	if (found == 0)
		snprintf(err, errlen, "line %d: unknown setting \"%s\" (the sections are [market], [resources], "
				 "[price], [owners], [jobs], [metrics] and [service])", lineno, full);
	else if (n < errlen)
		snprintf(err + n, errlen - n, ")");
}

#define SETSTR(field) do { free(c->field); c->field = xstrdup(val); } while (0)
#define SETNUM(field, lo, hi) do { \
		double d_; \
		if (!parse_num(val, lo, hi, &d_)) \
		{ \
			range_lo = (lo); \
			range_hi = (hi); \
			goto badval; \
		} \
		c->field = d_; \
	} while (0)

int
config_parse(Config *c, const char *text, char *err, size_t errlen)
{
	char	   *copy = xstrdup(text ? text : "");
	char	   *save = NULL;
	char		section[64] = "";
	int			lineno = 0;
	char	   *line;
	char	   *next = copy;
	double		range_lo = 0,
				range_hi = 0;

	while (next != NULL)
	{
		char	   *key,
				   *val,
				   *eq,
				   *hash;
		char		full[256];

		line = next;
		next = strchr(line, '\n');
		if (next)
			*next++ = '\0';
		lineno++;
		/* a comment starts with # or ; at the start or after whitespace */
		for (hash = line; *hash; hash++)
			if ((*hash == '#' || *hash == ';') &&
				(hash == line || isspace((unsigned char) hash[-1])))
			{
				*hash = '\0';
				break;
			}
		line = trim(line);
		if (*line == '\0')
			continue;
		if (*line == '[')
		{
			char	   *end = strchr(line, ']');

			if (end == NULL || end[1] != '\0' || end - line - 1 >= (long) sizeof(section))
			{
				snprintf(err, errlen, "line %d: bad section header", lineno);
				goto bad;
			}
			*end = '\0';
			snprintf(section, sizeof(section), "%s", trim(line + 1));
			continue;
		}
		eq = strchr(line, '=');
		if (eq == NULL)
		{
			snprintf(err, errlen, "line %d: expected \"key = value\"", lineno);
			goto bad;
		}
		*eq = '\0';
		key = trim(line);
		val = trim(eq + 1);
		snprintf(full, sizeof(full), "%s.%s", section, key);

		if (strcmp(full, "market.conninfo") == 0)
			SETSTR(conninfo);
		else if (strcmp(full, "market.listen_conninfo") == 0)
		{
			if (*val)
				SETSTR(listen_conninfo);
		}
		else if (strcmp(full, "market.region") == 0)
			SETSTR(region);
		else if (strcmp(full, "market.multiaddr") == 0)
		{
			if (split_list(val, c->multiaddrs, MAX_MULTIADDRS, &c->nmultiaddrs) != 0)
			{
				snprintf(err, errlen, "line %d: more than %d multiaddrs", lineno, MAX_MULTIADDRS);
				goto bad;
			}
		}
		else if (strcmp(full, "market.node_id") == 0 || strcmp(full, "market.provider_id") == 0)
			 /* informative, written by init */ ;
		else if (strcmp(full, "market.max_concurrent") == 0)
			SETNUM(max_concurrent, 1, 100000);
		else if (strcmp(full, "market.scan_interval_s") == 0)
			SETNUM(scan_interval_s, 1, 86400);
		else if (strcmp(full, "resources.cpu") == 0)
			SETNUM(cpu, 0, 1e6);
		else if (strcmp(full, "resources.memory_gb") == 0)
			SETNUM(memory_gb, 0, 1e9);
		else if (strcmp(full, "resources.storage_gb") == 0)
			SETNUM(storage_gb, 0, 1e12);
		else if (strcmp(full, "resources.gpu") == 0)
			SETSTR(gpu);
		else if (strcmp(full, "resources.gpu_count") == 0)
			SETNUM(gpu_count, 0, 1024);
		else if (strcmp(full, "price.cpu_core_hour") == 0)
			SETNUM(rate_cpu, 0, 1e9);
		else if (strcmp(full, "price.memory_gb_hour") == 0)
			SETNUM(rate_memory, 0, 1e9);
		else if (strcmp(full, "price.storage_gb_hour") == 0)
			SETNUM(rate_storage, 0, 1e9);
		else if (strncmp(full, "price.gpu_hour.", 15) == 0 && full[15] != '\0')
		{
			double		d;

			if (!parse_num(val, 0, 1e9, &d))
			{
				range_lo = 0;
				range_hi = 1e9;
				goto badval;
			}
			if (c->ngpu_rates >= MAX_GPU_RATES)
			{
				snprintf(err, errlen, "line %d: more than %d gpu rates", lineno, MAX_GPU_RATES);
				goto bad;
			}
			c->gpu_models[c->ngpu_rates] = xstrdup(full + 15);
			c->gpu_rates[c->ngpu_rates++] = d;
		}
		else if (strcmp(full, "price.markup") == 0)
			SETNUM(markup, 0.01, 1000);
		else if (strcmp(full, "price.script") == 0)
		{
			if (*val)
				SETSTR(price_script);
		}
		else if (strcmp(full, "price.script_timeout_ms") == 0)
			SETNUM(price_script_timeout_ms, 1, 600000);
		else if (strcmp(full, "owners.allow") == 0)
		{
			if (split_list(val, c->allow_owners, MAX_OWNERS, &c->nallow) != 0)
				goto badval;
		}
		else if (strcmp(full, "owners.deny") == 0)
		{
			if (split_list(val, c->deny_owners, MAX_OWNERS, &c->ndeny) != 0)
				goto badval;
		}
		else if (strcmp(full, "jobs.bwrap") == 0)
			SETSTR(bwrap);
		else if (strcmp(full, "jobs.result_dir") == 0)
			SETSTR(result_dir);
		else if (strcmp(full, "jobs.work_dir") == 0)
			SETSTR(work_dir);
		else if (strcmp(full, "jobs.grace_period_s") == 0)
			SETNUM(grace_period_s, 0, 86400);
		else if (strcmp(full, "jobs.max_output_bytes") == 0)
			SETNUM(max_output_bytes, 1024, 1e12);
		else if (strcmp(full, "jobs.max_result_bytes") == 0)
			SETNUM(max_result_bytes, 1, 1e12);
		else if (strcmp(full, "jobs.max_processes") == 0)
			SETNUM(max_processes, 1, 1e6);
		else if (strcmp(full, "jobs.default_memory_gb") == 0)
			SETNUM(default_memory_gb, 0, 1e6);
		else if (strcmp(full, "jobs.default_storage_gb") == 0)
			SETNUM(default_storage_gb, 0.001, 1e6);
		else if (strcmp(full, "jobs.max_files") == 0)
			SETNUM(max_files, 100, 1e9);
		else if (strcmp(full, "metrics.textfile") == 0)
			SETSTR(metrics_textfile);
		else if (strcmp(full, "jobs.max_workload_bytes") == 0)
			SETNUM(max_workload_bytes, 2, LAGBID_WL_MAX_BYTES);
		else if (strcmp(full, "service.proxy_listen") == 0)
		{
			if (!listen_ok(val))
			{
				snprintf(err, errlen, "line %d: invalid value \"%s\" for \"%s\": HOST:PORT with an IPv4 address",
						 lineno, val, full);
				goto bad;
			}
			SETSTR(proxy_listen);
		}
		else if (strcmp(full, "service.proxy_domain") == 0)
		{
			if (*val && !domain_ok(val))
			{
				snprintf(err, errlen, "line %d: invalid value \"%s\" for \"%s\": a DNS name or address (letters, digits, '-', '.')",
						 lineno, val, full);
				goto bad;
			}
			free(c->proxy_domain);
			c->proxy_domain = *val ? xstrdup(val) : NULL;
		}
		else if (strcmp(full, "service.proxy_public_url") == 0)
		{
			if (*val && !public_url_ok(val))
			{
				snprintf(err, errlen, "line %d: invalid value \"%s\" for \"%s\": http:// or https:// then a host (or *.domain) and an optional port, no path",
						 lineno, val, full);
				goto bad;
			}
			free(c->proxy_public_url);
			c->proxy_public_url = *val ? xstrdup(val) : NULL;
		}
		else if (strcmp(full, "service.max_services") == 0)
			SETNUM(max_services, 0, 1024);
		else if (strcmp(full, "service.probe_allow_private") == 0)
		{
			if (strcmp(val, "on") == 0 || strcmp(val, "true") == 0)
				c->probe_allow_private = true;
			else if (strcmp(val, "off") == 0 || strcmp(val, "false") == 0)
				c->probe_allow_private = false;
			else
			{
				snprintf(err, errlen, "line %d: invalid value \"%s\" for \"%s\": on or off", lineno, val, full);
				goto bad;
			}
		}
		else if (strcmp(full, "service.probe_timeout_ms") == 0)
			SETNUM(probe_timeout_ms, 100, 60000);
		else if (strcmp(full, "service.proxy_max_body_bytes") == 0)
			SETNUM(proxy_max_body_bytes, 0, 1073741824);
		else if (strcmp(full, "service.proxy_max_response_bytes") == 0)
			SETNUM(proxy_max_response_bytes, 1024, 1073741824);
		else if (strcmp(full, "service.proxy_timeout_s") == 0)
			SETNUM(proxy_timeout_s, 1, 3600);
		else if (strcmp(full, "service.grace_s") == 0)
			SETNUM(service_grace_s, 0, 3600);
		else
		{
			unknown_setting(err, errlen, lineno, section, full);
			goto bad;
		}
		continue;
badval:
		if (range_hi > range_lo)
			snprintf(err, errlen, "line %d: invalid value \"%s\" for \"%s\": a number from %.15g to %.15g",
					 lineno, val, full, range_lo, range_hi);
		else
			snprintf(err, errlen, "line %d: invalid value \"%s\" for \"%s\": at most %d names",
					 lineno, val, full, MAX_OWNERS);
		goto bad;
	}
	(void) save;
	free(copy);
	if (c->conninfo == NULL || c->region == NULL)
	{
		snprintf(err, errlen, "%s%s%s required in [market]", c->conninfo ? "" : "conninfo",
				 c->conninfo || c->region ? "" : " and ", c->region ? "" : "region");
		snprintf(err + strlen(err), errlen - strlen(err), " %s",
				 (c->conninfo == NULL && c->region == NULL) ? "are" : "is");
		return -1;
	}
	return 0;
bad:
	free(copy);
	return -1;
}

int
config_load(Config *c, const char *path, char *err, size_t errlen)
{
	size_t		len;
	char	   *text = read_file(path, 1024 * 1024, &len);
	int			rc;

	if (text == NULL)
	{
		snprintf(err, errlen, "could not read \"%s\": %s", path, strerror(errno));
		return -1;
	}
	rc = config_parse(c, text, err, errlen);
	free(text);
	if (rc != 0)
	{
		/* name the file: "PATH: line N: ..." */
		char	   *msg = xstrdup(err);

		snprintf(err, errlen, "%s: %s", path, msg);
		free(msg);
	}
	return rc;
}

static bool
str_differs(const char *a, const char *b)
{
	if (a == NULL || b == NULL)
		return a != b;
	return strcmp(a, b) != 0;
}

/* one LOG line per setting that changed at reload (never the conninfo's value) */
void
config_log_changes(const Config *o, const Config *n)
{
#define NUMCHG(f, name) if (o->f != n->f) \
	log_info("config", "setting \"%s\" changed from %.15g to %.15g", name, (double) o->f, (double) n->f)
#define STRCHG(f, name) if (str_differs(o->f, n->f)) \
	log_info("config", "setting \"%s\" changed from \"%s\" to \"%s\"", name, \
			 o->f ? o->f : "", n->f ? n->f : "")

	if (str_differs(o->conninfo, n->conninfo))
		log_info("config", "setting \"market.conninfo\" changed (reconnecting)");
	if (str_differs(o->listen_conninfo, n->listen_conninfo))
		log_info("config", "setting \"market.listen_conninfo\" changed (reconnecting)");
	STRCHG(region, "market.region");
	NUMCHG(max_concurrent, "market.max_concurrent");
	NUMCHG(scan_interval_s, "market.scan_interval_s");
	NUMCHG(cpu, "resources.cpu");
	NUMCHG(memory_gb, "resources.memory_gb");
	NUMCHG(storage_gb, "resources.storage_gb");
	STRCHG(gpu, "resources.gpu");
	NUMCHG(gpu_count, "resources.gpu_count");
	NUMCHG(rate_cpu, "price.cpu_core_hour");
	NUMCHG(rate_memory, "price.memory_gb_hour");
	NUMCHG(rate_storage, "price.storage_gb_hour");
	NUMCHG(markup, "price.markup");
	STRCHG(price_script, "price.script");
	NUMCHG(price_script_timeout_ms, "price.script_timeout_ms");
	NUMCHG(nallow, "owners.allow (count)");
	NUMCHG(ndeny, "owners.deny (count)");
	STRCHG(bwrap, "jobs.bwrap");
	STRCHG(result_dir, "jobs.result_dir");
	STRCHG(work_dir, "jobs.work_dir");
	NUMCHG(grace_period_s, "jobs.grace_period_s");
	NUMCHG(max_output_bytes, "jobs.max_output_bytes");
	NUMCHG(max_result_bytes, "jobs.max_result_bytes");
	NUMCHG(max_processes, "jobs.max_processes");
	NUMCHG(default_memory_gb, "jobs.default_memory_gb");
	NUMCHG(default_storage_gb, "jobs.default_storage_gb");
	NUMCHG(max_files, "jobs.max_files");
	STRCHG(metrics_textfile, "metrics.textfile");
	NUMCHG(max_workload_bytes, "jobs.max_workload_bytes");
	STRCHG(proxy_listen, "service.proxy_listen (applies at the next start)");
	STRCHG(proxy_domain, "service.proxy_domain");
	STRCHG(proxy_public_url, "service.proxy_public_url");
	NUMCHG(max_services, "service.max_services");
	NUMCHG(probe_allow_private, "service.probe_allow_private (applies at the next start)");
	NUMCHG(probe_timeout_ms, "service.probe_timeout_ms (applies at the next start)");
#undef NUMCHG
#undef STRCHG
}

/* the commented file that init writes */
char *
config_render(const Config *c, const char *node_id, const char *detected_note)
{
	size_t		cap = 16384;
	char	   *buf = xmalloc(cap);
	size_t		n = 0;
	char		addrs[4096] = "";
	char		cpu[32],
				memory_gb[32],
				storage_gb[32];

#define OUT(...) do { int k_ = snprintf(buf + n, cap - n, __VA_ARGS__); \
	if (k_ > 0) n += ((size_t) k_ < cap - n) ? (size_t) k_ : cap - n - 1; } while (0)

	for (int i = 0; i < c->nmultiaddrs; i++)
	{
		size_t		l = strlen(addrs);

		snprintf(addrs + l, sizeof(addrs) - l, "%s%s", i ? ", " : "", c->multiaddrs[i]);
	}
	OUT("# lagbid-agent configuration, written by \"lagbid-agent init\".\n"
		"# Edit freely; \"kill -HUP\" the running agent (or systemctl reload) to apply.\n"
		"# Comments start with # or ;.  Unknown settings are errors.\n\n");
	OUT("[market]\n"
		"# libpq connection string of the market database (multi-host works:\n"
		"# host=a,b target_session_attrs=read-write).  Keep passwords in ~/.pgpass.\n"
		"conninfo = %s\n", c->conninfo);
	OUT("# LISTEN on its own direct session when conninfo goes through a pooler\n"
		"# in transaction mode (PgBouncer); empty: LISTEN on conninfo's session\n"
		"listen_conninfo = %s\n", c->listen_conninfo ? c->listen_conninfo : "");
	OUT("# this node's libp2p peer id, derived from node.key (informative)\n"
		"node_id = %s\n", node_id ? node_id : "");
	OUT("region = %s\n"
		"# libp2p multiaddrs the node is reachable at, comma-separated\n"
		"multiaddr = %s\n"
		"# bids placed plus jobs running at most at the same time\n"
		"max_concurrent = %d\n"
		"# full scan of open_tasks() this often, besides LISTEN lagbid_tasks\n"
		"scan_interval_s = %d\n\n",
		c->region, addrs, c->max_concurrent, c->scan_interval_s);
	/* the amounts as init registers them: exact text, not %g's 6 digits */
	amount_text(c->cpu, cpu, sizeof(cpu));
	amount_text(c->memory_gb, memory_gb, sizeof(memory_gb));
	amount_text(c->storage_gb, storage_gb, sizeof(storage_gb));
	OUT("[resources]\n"
		"# what this machine offers; %s\n"
		"cpu = %s\n"
		"memory_gb = %s\n"
		"storage_gb = %s\n"
		"%sgpu = %s\n"
		"gpu_count = %d\n\n",
		detected_note ? detected_note : "detected at init",
		cpu, memory_gb, storage_gb,
		c->gpu ? "" : "# ", c->gpu ? c->gpu : "A100", c->gpu_count);
	OUT("[price]\n"
		"# hourly cost of what a task asks for; the ask is cost * markup,\n"
		"# clamped into the task's [price_min, price_max]; a task whose cost is\n"
		"# above price_max is declined\n"
		"cpu_core_hour = %g\n"
		"memory_gb_hour = %g\n"
		"storage_gb_hour = %g\n"
		"# per GPU-hour, one line per model: gpu_hour.MODEL = rate\n",
		c->rate_cpu, c->rate_memory, c->rate_storage);
	for (int i = 0; i < c->ngpu_rates; i++)
		OUT("gpu_hour.%s = %g\n", c->gpu_models[i], c->gpu_rates[i]);
	if (c->ngpu_rates == 0)
		OUT("# gpu_hour.A100 = 2.50\n");
	OUT("markup = %g\n"
		"# optional: a program given the task's terms as JSON on stdin that prints\n"
		"# the ask on stdout; a non-zero exit declines the task\n"
		"%sscript = %s\n"
		"script_timeout_ms = %d\n\n",
		c->markup, c->price_script ? "" : "# ",
		c->price_script ? c->price_script : "/usr/local/bin/my-price", c->price_script_timeout_ms);
	OUT("[owners]\n"
		"# comma-separated owner names; empty allow = everybody not denied\n"
		"allow = ");
	for (int i = 0; i < c->nallow; i++)
		OUT("%s%s", i ? ", " : "", c->allow_owners[i]);
	OUT("\ndeny = ");
	for (int i = 0; i < c->ndeny; i++)
		OUT("%s%s", i ? ", " : "", c->deny_owners[i]);
	OUT("\n\n");
	OUT("[jobs]\n"
		"bwrap = %s\n"
		"# results over max_result_bytes are stored here and submitted as file:// URIs\n"
		"result_dir = %s\n"
		"work_dir = %s\n"
		"# at SIGTERM, running jobs get this long to finish before they are failed\n"
		"grace_period_s = %d\n"
		"# stdout capture and file-size limit of a workload\n"
		"max_output_bytes = %ld\n"
		"# the market's lagbid.max_result_bytes: above it, submit_result with a URI\n"
		"max_result_bytes = %ld\n"
		"max_processes = %d\n"
		"# address-space limit when a task names no memory_gb\n"
		"default_memory_gb = %d\n"
		"# a job's disk (work directory, output, /tmp) when a task names no storage_gb\n"
		"default_storage_gb = %g\n"
		"# files and directories in one job's work directory\n"
		"max_files = %ld\n",
		c->bwrap, c->result_dir, c->work_dir, c->grace_period_s,
		c->max_output_bytes, c->max_result_bytes, c->max_processes, c->default_memory_gb,
		c->default_storage_gb, c->max_files);
	OUT("\n[metrics]\n"
		"# the agent's counters in Prometheus text format, rewritten every few\n"
		"# seconds; point it into node exporter's --collector.textfile.directory\n"
		"# (the agent opens no port: see docs/0.4/users.md).  Empty: DIR/metrics.prom\n"
		"%stextfile = %s\n",
		c->metrics_textfile ? "" : "# ",
		c->metrics_textfile ? c->metrics_textfile : "/var/lib/prometheus/node-exporter/lagbid_agent.prom");
	OUT("\n[service]\n"
		"# service leases (spaces that run): the front proxy listens here; put TLS\n"
		"# (nginx, caddy) in front of it (agent/README.md)\n"
		"proxy_listen = %s\n"
		"# the endpoints' host part: NAME.DOMAIN; empty: the host of the first\n"
		"# registered multiaddr (an address: paths /l/NAME/ on it instead)\n"
		"proxy_domain = %s\n"
		"# when TLS sits in front: scheme://host[:port] (URLs BASE/l/NAME/) or\n"
		"# scheme://*.domain[:port] (URLs scheme://NAME.domain[:port]/)\n"
		"proxy_public_url = %s\n"
		"# apps running here at most; 0: no services (the proxy and the prober still run)\n"
		"max_services = %d\n"
		"# probes of loopback or private addresses (tests only)\n"
		"probe_allow_private = %s\n"
		"probe_timeout_ms = %d\n"
		"proxy_max_body_bytes = %ld\n"
		"proxy_max_response_bytes = %ld\n"
		"proxy_timeout_s = %d\n"
		"# at teardown: SIGTERM, this long, then SIGKILL of the whole sandbox\n"
		"grace_s = %d\n",
		c->proxy_listen, c->proxy_domain ? c->proxy_domain : "",
		c->proxy_public_url ? c->proxy_public_url : "", c->max_services,
		c->probe_allow_private ? "on" : "off", c->probe_timeout_ms, c->proxy_max_body_bytes,
		c->proxy_max_response_bytes, c->proxy_timeout_s, c->service_grace_s);
#undef OUT
	return buf;
}
