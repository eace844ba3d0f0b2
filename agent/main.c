/*-------------------------------------------------------------------------
 *
 * main.c
 *	  lagbid-agent: the computing provider's daemon for the lagbid market.
 *
 *	  lagbid-agent init   --dir DIR --conninfo ... --region R --multiaddr M
 *	  lagbid-agent run    --dir DIR
 *	  lagbid-agent status --dir DIR
 *	  lagbid-agent try    --workload FILE
 *
 * Option parsing and the commands that are not the daemon loop: init
 * (key, peer id, detected resources, config file, signed registration),
 * status (what the market and the running agent say) and try (one
 * workload in the sandbox, no market: for providers and for the tests).
 *
 *-------------------------------------------------------------------------
 */
#include "daemon.h"
#include "../src/identity/identity.h"

#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static const char *progname = "lagbid-agent";

static void
usage(void)
{
	printf("%s is the computing provider's daemon of the lagbid market: it bids on\n"
		   "open tasks, runs the jobs it wins in a bubblewrap sandbox and uploads\n"
		   "their results.\n\n", progname);
	printf("Usage:\n"
		   "  %s init   --dir DIR --conninfo CONNINFO --region REGION --multiaddr ADDR\n"
		   "                      [--multiaddr ADDR ...] [--max-concurrent N]\n"
		   "  %s run    --dir DIR [--json] [--verbose] [--no-bid]\n"
		   "  %s status --dir DIR\n"
		   "  %s try    --workload FILE [--dir DIR] [--memory-gb N] [--max-processes N]\n"
		   "               [--storage-gb N]\n"
		   "  %s serve  --workload FILE --dir DIR --port N [--name NAME] [--listen ADDR:PORT]\n"
		   "               [--domain DOMAIN] [--health PATH]\n"
		   "  %s probe  --url URL --nonce HEX32 [--allow-private]\n\n",
		   progname, progname, progname, progname, progname, progname);
	printf("Commands:\n"
		   "  init      create DIR, the node key DIR/node.key (Ed25519, mode 0600, kept\n"
		   "            when it exists), derive the libp2p peer id, detect the cores,\n"
		   "            memory and disk of this machine (printed), write the commented\n"
		   "            config DIR/lagbid-agent.conf and register the node with the\n"
		   "            market with a signed registration.  Safe to run again: the key\n"
		   "            is kept and the node re-registers (updating its addresses).\n"
		   "  run       the daemon: LISTEN for new tasks and notifications, scan the\n"
		   "            open tasks every scan_interval_s, bid by the price policy,\n"
		   "            run won jobs in the sandbox, upload results.  Logs one line\n"
		   "            per event to stderr.  SIGHUP reloads the config; SIGTERM or\n"
		   "            SIGINT stops bidding, gives running jobs grace_period_s to\n"
		   "            finish, fails the others with \"agent shutting down\", exits 0.\n"
		   "  status    the node's identity, slots used, open bids, running jobs,\n"
		   "            earnings and paid-vs-expected, declines by reason (last hour).\n"
		   "  try       run one workload (JSON file) in the sandbox without a market\n"
		   "            and print the outcome: what a job would do on this machine.\n"
		   "  serve     run one workload as a service (a lease's app) in the sandbox\n"
		   "            behind the front proxy, without a market, until SIGTERM; then\n"
		   "            tear it down.  For trying an app, the tests and bench/proxy.sh.\n"
		   "  probe     one probe as the prober makes it (GET URL with X-Lagbid-Probe)\n"
		   "            and its outcome, as report_probe() would be told.\n\n");
	printf("Options:\n"
		   "  -D, --dir=DIR            the agent's directory (key, config, state, jobs)\n"
		   "  -d, --conninfo=CONNINFO  libpq connection string of the market (init)\n"
		   "  -r, --region=REGION      the node's region, e.g. eu-west (init)\n"
		   "  -a, --multiaddr=ADDR     a libp2p multiaddr of the node (init, repeatable)\n"
		   "  -c, --max-concurrent=N   bids plus jobs at the same time (init; default 1)\n"
		   "  -j, --json               log as one JSON object per line (run)\n"
		   "  -v, --verbose            log DEBUG lines too\n"
		   "  -n, --no-bid             run won jobs but place no bids (run)\n"
		   "  -w, --workload=FILE      the workload JSON (try)\n"
		   "  -m, --memory-gb=N        address-space limit (try; default from config or 4)\n"
		   "  -p, --max-processes=N    process limit (try; default 256)\n"
		   "  -s, --storage-gb=N       disk limit of the job (try; default from config or 10)\n"
		   "  -V, --version            print the version and exit\n"
		   "  -?, --help               show this help and exit\n\n");
	printf("Files in DIR:\n"
		   "  node.key            the node's Ed25519 private key (PEM, 0600)\n"
		   "  lagbid-agent.conf   the configuration (INI, commented)\n"
		   "  identity            node id and provider id, written by init\n"
		   "  agent.state         what the running agent runs (a cache for status)\n"
		   "  declines            the declines of the last hour (for status)\n"
		   "  jobs/ID/            a job's sandbox work directory while it runs\n"
		   "  results/            results over max_result_bytes (file:// URIs)\n\n");
	printf("The connection uses its own login, a member of role lagbid_provider;\n"
		   "keep its password in ~/.pgpass rather than in the conninfo.\n\n"
		   "\"%s COMMAND --help\" shows one command's options.\n"
		   "Exit status: 0 on success (run: after a clean stop), 1 on error; status: 2\n"
		   "when the market could not be reached.\n", progname);
}

/* lagbid-agent COMMAND --help: that command's synopsis, options and exit status */
static void
usage_command(const char *cmd)
{
	if (strcmp(cmd, "init") == 0)
		printf("%s init creates the node's key, writes its config and registers it with the market.\n\n"
			   "Usage:\n  %s init --dir DIR --conninfo CONNINFO --region REGION --multiaddr ADDR\n"
			   "                    [--multiaddr ADDR ...] [--max-concurrent N]\n"
			   "  %s init --dir DIR          (again: keep the key, re-register from the config)\n\n"
			   "Options:\n"
			   "  -D, --dir=DIR            the agent's directory (created, mode 0700)\n"
			   "  -d, --conninfo=CONNINFO  libpq connection string of the market, e.g.\n"
			   "                           \"host=localhost port=55433 dbname=lagbid user=cp1\"\n"
			   "                           (add sslmode=verify-full for a market reached over a\n"
			   "                           network; a local market without TLS refuses it)\n"
			   "  -r, --region=REGION      the node's region: lower-case letters, digits and\n"
			   "                           single dashes, e.g. eu-west\n"
			   "  -a, --multiaddr=ADDR     a libp2p multiaddr of the node, e.g.\n"
			   "                           /ip4/203.0.113.7/tcp/4001 (repeatable, at most %d)\n"
			   "  -c, --max-concurrent=N   bids plus jobs at the same time, 1 to 100000 (default 1)\n\n"
			   "Arguments are checked before anything is written.  When init fails, it leaves\n"
			   "nothing behind that it created (directory, key, config); an existing config\n"
			   "is restored.  The key, once the node is registered, is the node's identity:\n"
			   "back it up.\n\n"
			   "Exit status: 0 when the node is registered, 1 otherwise.\n",
			   progname, progname, progname, MAX_MULTIADDRS);
	else if (strcmp(cmd, "run") == 0)
		printf("%s run is the provider's daemon: it bids, runs won jobs in the sandbox and\n"
			   "uploads their results, logging one line per event to stderr.\n\n"
			   "Usage:\n  %s run --dir DIR [--json] [--verbose] [--no-bid]\n\n"
			   "Options:\n"
			   "  -D, --dir=DIR     the directory init created\n"
			   "  -j, --json        log one JSON object per line\n"
			   "  -v, --verbose     log DEBUG lines too\n"
			   "  -n, --no-bid      run won jobs but place no bids\n\n"
			   "Signals: SIGHUP reloads DIR/lagbid-agent.conf (an invalid file keeps the old\n"
			   "one); SIGTERM or SIGINT stop bidding and give running jobs grace_period_s.\n"
			   "Metrics: DIR/metrics.prom (Prometheus text format, see [metrics] textfile).\n\n"
			   "Exit status: 0 after a clean stop, 1 when it cannot start (no key, an invalid\n"
			   "config or conninfo, no bubblewrap).\n", progname, progname);
	else if (strcmp(cmd, "status") == 0)
		printf("%s status prints what the market and the running agent say: identity,\n"
			   "slots used, open bids, jobs in progress, balance, earnings, declines.\n\n"
			   "Usage:\n  %s status --dir DIR\n\n"
			   "Exit status: 0 when the market answered, 1 on a local error (no key, an invalid\n"
			   "config), 2 when the market could not be reached.\n", progname, progname);
	else if (strcmp(cmd, "try") == 0)
		printf("%s try runs one workload in the sandbox without a market and prints the\n"
			   "outcome: what a job would do on this machine.\n\n"
			   "Usage:\n  %s try --workload FILE [--dir DIR] [--memory-gb N] [--max-processes N]\n\n"
			   "Options:\n"
			   "  -w, --workload=FILE      the workload JSON ({\"command\": [...], ...})\n"
			   "  -D, --dir=DIR            take the sandbox settings from DIR's config\n"
			   "  -m, --memory-gb=N        address-space limit, 1 to 1048576 (default 4)\n"
			   "  -p, --max-processes=N    process limit, 1 to 1000000 (default 256)\n\n"
			   "Exit status: 0 when the workload succeeded, 1 otherwise.\n", progname, progname);
}

static bool
known_command(const char *cmd)
{
	return strcmp(cmd, "init") == 0 || strcmp(cmd, "run") == 0 ||
		strcmp(cmd, "status") == 0 || strcmp(cmd, "try") == 0 || strcmp(cmd, "serve") == 0 ||
		strcmp(cmd, "probe") == 0;
}

/* a whole number option in [lo, hi], or a message that says what is wrong */
static bool
int_option(const char *opt, const char *val, long lo, long hi, int *out)
{
	char	   *end;
	long		v;

	errno = 0;
	v = strtol(val, &end, 10);
	if (end == val || *end != '\0' || errno == ERANGE)
	{
		fprintf(stderr, "%s: --%s: \"%s\" is not a number\n", progname, opt, val);
		return false;
	}
	if (v < lo || v > hi)
	{
		fprintf(stderr, "%s: --%s must be between %ld and %ld (got %ld)\n", progname, opt, lo, hi, v);
		return false;
	}
	*out = (int) v;
	return true;
}

static void
self_exe(char *out, size_t cap)
{
	ssize_t		n = readlink("/proc/self/exe", out, cap - 1);

	if (n <= 0)
	{
		fprintf(stderr, "%s: could not find its own executable\n", progname);
		exit(1);
	}
	out[n] = '\0';
}

static int
node_identity(const char *dir, char *node_id, size_t cap, bool create, bool *created)
{
	unsigned char pub[32];
	char		err[512];
	bool		c = false;

	if (!create)
	{
		char		path[PATH_MAX];

		snprintf(path, sizeof(path), "%s/node.key", dir);
		if (access(path, F_OK) != 0)
		{
			fprintf(stderr, "%s: no node key in \"%s\": run \"%s init\" first\n", progname, dir, progname);
			return -1;
		}
	}
	if (keys_load_or_create(dir, pub, &c, err, sizeof(err)) != 0)
	{
		fprintf(stderr, "%s: %s\n", progname, err);
		return -1;
	}
	if (created)
		*created = c;
	if (peer_id_from_pubkey(pub, node_id, cap) < 0)
	{
		fprintf(stderr, "%s: could not derive the peer id\n", progname);
		return -1;
	}
	return 0;
}

static int
load_config(const char *dir, Config *cfg, char *path, size_t pathcap)
{
	char		err[512];

	snprintf(path, pathcap, "%s/lagbid-agent.conf", dir);
	config_defaults(cfg, dir);
	if (config_load(cfg, path, err, sizeof(err)) != 0)
	{
		fprintf(stderr, "%s: %s\n", progname, err);
		return -1;
	}
	if (market_conninfo_check(cfg->conninfo, err, sizeof(err)) != 0)
	{
		fprintf(stderr, "%s: %s: market.conninfo is not a valid libpq connection string: %s\n",
				progname, path, err);
		return -1;
	}
	if (cfg->cpu < 0 || cfg->memory_gb < 0 || cfg->storage_gb < 0)
	{
		double		cpu,
					mem,
					disk;

		detect_resources(dir, &cpu, &mem, &disk);
		if (cfg->cpu < 0)
			cfg->cpu = cpu;
		if (cfg->memory_gb < 0)
			cfg->memory_gb = mem;
		if (cfg->storage_gb < 0)
			cfg->storage_gb = disk;
	}
	return 0;
}

/* '{"a","b"}' with each element quoted for the array literal */
static void
text_array(char *const *items, int n, char *out, size_t cap)
{
	size_t		k = 0;

	out[k++] = '{';
	for (int i = 0; i < n && k + 8 < cap; i++)
	{
		if (i)
			out[k++] = ',';
		out[k++] = '"';
		for (const char *p = items[i]; *p && k + 4 < cap; p++)
		{
			if (*p == '"' || *p == '\\')
				out[k++] = '\\';
			out[k++] = *p;
		}
		out[k++] = '"';
	}
	out[k++] = '}';
	out[k] = '\0';
}

/*
 * A refusal by the market, in PostgreSQL's voice: the message with lagbid's
 * SQLSTATE, then DETAIL and HINT.  LB107 (the login is bound to another
 * node) gets the operator's step that frees the login.
 */
static void
report_refusal(const char *what, PGresult *res, PGconn *conn, const char *node_id)
{
	char		msg[1024],
				detail[1024],
				hint[1024];
	const char *state = market_sqlstate(res);

	market_error_text(res, conn, msg, sizeof(msg));
	market_error_field(res, "details", detail, sizeof(detail));
	market_error_field(res, "hint", hint, sizeof(hint));
	fprintf(stderr, "%s: %s: %s%s%s%s\n", progname, what, msg,
			state[0] ? " (SQLSTATE " : "", state, state[0] ? ")" : "");
	if (detail[0])
		fprintf(stderr, "DETAIL:  %s\n", detail);
	if (strcmp(state, "LB107") == 0)
	{
		const char *login = conn && PQuser(conn) ? PQuser(conn) : "LOGIN";

		fprintf(stderr,
				"HINT:  A login speaks for one node, and this directory's key is node %s.\n"
				"       If the key of the node the login is bound to still exists, run the agent\n"
				"       with the --dir that holds it.  If that key is lost, the market's operator\n"
				"       frees the login (the old node's bids and jobs stay with the old node):\n"
				"           SELECT lagbid.unbind_login('%s');\n"
				"       then run init again (docs/0.4/users.md, \"Lost node key\").\n",
				node_id, login);
	}
	else if (hint[0])
		fprintf(stderr, "HINT:  %s\n", hint);
}

static int
do_register(const char *dir, const Config *cfg, const char *node_id, bool *unknown)
{
	char		err[1024];
	PGconn	   *conn = market_open(cfg->conninfo, err, sizeof(err));
	char		addrs[8192],
				resources[1024],
				maxc[16];
	PGresult   *res;
	unsigned char sig[64];

	if (conn == NULL)
	{
		fprintf(stderr, "%s: could not connect to the market: %s\n", progname, err);
		return -1;
	}
	text_array(cfg->multiaddrs, cfg->nmultiaddrs, addrs, sizeof(addrs));
	{
		const char *vals[2] = {addrs, node_id};

		/* the challenge in binary: the exact bytes to sign */
		res = PQexecParams(conn, "SELECT lagbid_api.registration_challenge($1::text[], $2)",
						   2, NULL, vals, NULL, NULL, 1);
	}
	if (!market_ok(res) || PQntuples(res) != 1 || PQgetisnull(res, 0, 0))
	{
		report_refusal("could not get a registration challenge", res, conn, node_id);
		PQclear(res);
		PQfinish(conn);
		return -1;
	}
	if (keys_sign(dir, (const unsigned char *) PQgetvalue(res, 0, 0), PQgetlength(res, 0, 0),
				  sig, err, sizeof(err)) != 0)
	{
		fprintf(stderr, "%s: %s\n", progname, err);
		PQclear(res);
		PQfinish(conn);
		return -1;
	}
	PQclear(res);
	{
		char		gpu[300];
		size_t		n;
		Offer		offer;

		/* exact texts: the amounts the agent checks tasks against (policy.c) */
		offer_from_config(cfg, &offer);
		n = snprintf(resources, sizeof(resources), "{\"cpu\": %s, \"memory_gb\": %s, \"storage_gb\": %s",
					 offer.cpu, offer.memory_gb, offer.storage_gb);
		if (offer.res.gpu)
		{
			json_escape(offer.res.gpu, gpu, sizeof(gpu));
			n += snprintf(resources + n, sizeof(resources) - n, ", \"gpu\": %s, \"gpu_count\": %d",
						  gpu, offer.res.gpu_count);
		}
		snprintf(resources + n, sizeof(resources) - n, "}");
	}
	snprintf(maxc, sizeof(maxc), "%d", cfg->max_concurrent);
	{
		const char *vals[6] = {addrs, cfg->region, resources, maxc, (const char *) sig, node_id};
		int			lens[6] = {0, 0, 0, 0, 64, 0};
		int			fmts[6] = {0, 0, 0, 0, 1, 0};

		res = PQexecParams(conn,
						   "SELECT lagbid_api.register_provider($1::text[], $2, $3::jsonb, $4::int, $5::bytea, $6)",
						   6, NULL, vals, lens, fmts, 0);
	}
	if (!market_ok(res))
	{
		/* no SQLSTATE: the connection broke, and the outcome is not known */
		*unknown = res == NULL || PQresultErrorField(res, PG_DIAG_SQLSTATE) == NULL;
		report_refusal("registration refused", res, conn, node_id);
		PQclear(res);
		PQfinish(conn);
		return -1;
	}
	{
		char		path[PATH_MAX],
					buf[256];
		int			n;

		printf("registered as provider %s (node %s, region %s, %d slot%s)\n",
			   PQgetvalue(res, 0, 0), node_id, cfg->region, cfg->max_concurrent,
			   cfg->max_concurrent == 1 ? "" : "s");
		n = snprintf(buf, sizeof(buf), "node_id %s\nprovider_id %s\n", node_id, PQgetvalue(res, 0, 0));
		snprintf(path, sizeof(path), "%s/identity", dir);
		if (write_file_atomic(path, buf, n, 0644, true) != 0)
			fprintf(stderr, "%s: could not write \"%s\": %s\n", progname, path, strerror(errno));
	}
	PQclear(res);
	PQfinish(conn);
	return 0;
}

/* what init created, so that a failed init leaves nothing behind */
typedef struct InitUndo
{
	const char *dir;
	bool		dir_existed;
	bool		key_existed;
	bool		identity_existed;
	char	   *old_config;		/* the config before init, or NULL */
	size_t		old_config_len;
} InitUndo;

static void
init_undo(const InitUndo *u)
{
	char		path[PATH_MAX];

	if (!u->dir_existed)
	{
		rm_rf(u->dir);
		fprintf(stderr, "%s: init failed: \"%s\" removed, nothing is left behind\n", progname, u->dir);
		return;
	}
	snprintf(path, sizeof(path), "%s/lagbid-agent.conf", u->dir);
	if (u->old_config)
		(void) write_file_atomic(path, u->old_config, u->old_config_len, 0600, true);
	else
		unlink(path);
	if (!u->key_existed)
	{
		snprintf(path, sizeof(path), "%s/node.key", u->dir);
		unlink(path);
	}
	if (!u->identity_existed)
	{
		snprintf(path, sizeof(path), "%s/identity", u->dir);
		unlink(path);
	}
	fprintf(stderr, "%s: init failed: \"%s\" is as it was before\n", progname, u->dir);
}

static bool
exists(const char *dir, const char *name)
{
	char		path[PATH_MAX];

	snprintf(path, sizeof(path), "%s%s%s", dir, name ? "/" : "", name ? name : "");
	return access(path, F_OK) == 0;
}

static int
cmd_init(const char *dir, const char *conninfo, const char *region, char **addrs, int naddrs,
		 int max_concurrent)
{
	char		node_id[64],
				path[PATH_MAX],
				err[512];
	bool		created;
	Config		cfg;
	double		cpu,
				mem,
				disk;
	bool		have_config;
	bool		changed = false;
	bool		unknown = false;
	InitUndo	undo = {.dir = dir};

	/* the arguments first: nothing is written before they are known good */
	if (conninfo && market_conninfo_check(conninfo, err, sizeof(err)) != 0)
	{
		fprintf(stderr, "%s: --conninfo is not a valid libpq connection string: %s\n", progname, err);
		return 1;
	}
	if (region && region[0] == '\0')
	{
		fprintf(stderr, "%s: --region must not be empty (e.g. eu-west)\n", progname);
		return 1;
	}
	for (int i = 0; i < naddrs; i++)
	{
		const char *why = lb_multiaddr_check(addrs[i], strlen(addrs[i]), NULL, 0);

		if (why)
		{
			fprintf(stderr, "%s: --multiaddr \"%s\" is not a valid libp2p multiaddr: %s\n"
					"HINT:  A multiaddr looks like /ip4/203.0.113.7/tcp/4001 or /dns4/cp.example.org/udp/4001/quic-v1.\n",
					progname, addrs[i], why);
			return 1;
		}
	}
	snprintf(path, sizeof(path), "%s/lagbid-agent.conf", dir);
	have_config = access(path, F_OK) == 0;
	config_defaults(&cfg, dir);
	if (have_config)
	{
		if (config_load(&cfg, path, err, sizeof(err)) != 0)
		{
			fprintf(stderr, "%s: %s\n", progname, err);
			config_free(&cfg);
			return 1;
		}
		undo.old_config = read_file(path, 1024 * 1024, &undo.old_config_len);
	}
	else if (conninfo == NULL || region == NULL || naddrs == 0)
	{
		fprintf(stderr, "%s: init needs --conninfo, --region and --multiaddr the first time (missing:%s%s%s)\n"
				"Try \"%s init --help\" for more information.\n", progname,
				conninfo ? "" : " --conninfo", region ? "" : " --region", naddrs ? "" : " --multiaddr",
				progname);
		config_free(&cfg);
		return 1;
	}

	undo.dir_existed = exists(dir, NULL);
	undo.key_existed = exists(dir, "node.key");
	undo.identity_existed = exists(dir, "identity");
	if (mkdir_p(dir, 0700) != 0)
	{
		fprintf(stderr, "%s: could not create directory \"%s\": %s\n", progname, dir, strerror(errno));
		config_free(&cfg);
		return 1;
	}
	if (node_identity(dir, node_id, sizeof(node_id), true, &created) != 0)
		goto fail;
	printf("node key %s/node.key %s\n", dir, created ? "created (Ed25519, mode 0600)" : "kept");
	printf("node id %s\n", node_id);
	detect_resources(dir, &cpu, &mem, &disk);
	printf("detected: %g cores, %g GB memory, %g GB free disk under %s\n", cpu, mem, disk, dir);

	if (!have_config)
	{
		cfg.cpu = cpu;
		cfg.memory_gb = mem;
		cfg.storage_gb = disk;
		/* the sample's markup: a missing line still means 1 (no markup) */
		cfg.markup = 1.2;
		changed = true;
	}
	if (conninfo && (cfg.conninfo == NULL || strcmp(cfg.conninfo, conninfo) != 0))
	{
		free(cfg.conninfo);
		cfg.conninfo = xstrdup(conninfo);
		changed = true;
	}
	if (region && (cfg.region == NULL || strcmp(cfg.region, region) != 0))
	{
		free(cfg.region);
		cfg.region = xstrdup(region);
		changed = true;
	}
	if (naddrs > 0)
	{
		for (int i = 0; i < cfg.nmultiaddrs; i++)
			free(cfg.multiaddrs[i]);
		cfg.nmultiaddrs = 0;
		for (int i = 0; i < naddrs && i < MAX_MULTIADDRS; i++)
			cfg.multiaddrs[cfg.nmultiaddrs++] = xstrdup(addrs[i]);
		changed = true;
	}
	if (max_concurrent > 0 && max_concurrent != cfg.max_concurrent)
	{
		cfg.max_concurrent = max_concurrent;
		changed = true;
	}
	if (cfg.nmultiaddrs == 0)
	{
		fprintf(stderr, "%s: %s names no multiaddr: give --multiaddr\n", progname, path);
		goto fail;
	}
	if (cfg.cpu < 0)
		cfg.cpu = cpu;
	if (cfg.memory_gb < 0)
		cfg.memory_gb = mem;
	if (cfg.storage_gb < 0)
		cfg.storage_gb = disk;
	if (changed)
	{
		char		note[256];
		char	   *text;

		snprintf(note, sizeof(note), "detected at init: %g cores, %g GB memory, %g GB free disk",
				 cpu, mem, disk);
		text = config_render(&cfg, node_id, note);
		if (write_file_atomic(path, text, strlen(text), 0600, true) != 0)
		{
			fprintf(stderr, "%s: could not write \"%s\": %s\n", progname, path, strerror(errno));
			free(text);
			goto fail;
		}
		free(text);
		printf("config %s %s\n", path, have_config ? "updated" : "written");
	}
	else
		printf("config %s kept\n", path);
	printf("offering: %g cpu, %g GB memory, %g GB storage%s%s\n", cfg.cpu, cfg.memory_gb,
		   cfg.storage_gb, cfg.gpu ? ", gpu " : "", cfg.gpu ? cfg.gpu : "");
	if (do_register(dir, &cfg, node_id, &unknown) != 0)
	{
		if (unknown)
		{
			/* the market may have registered the key: never throw it away then */
			fprintf(stderr, "%s: the connection broke during the registration, whose outcome is unknown: "
					"\"%s\" is kept; run init again\n", progname, dir);
			config_free(&cfg);
			free(undo.old_config);
			return 1;
		}
		goto fail;
	}
	config_free(&cfg);
	free(undo.old_config);
	return 0;

fail:
	init_undo(&undo);
	config_free(&cfg);
	free(undo.old_config);
	return 1;
}

static int
cmd_run(const char *dir, bool json, bool verbose, bool no_bid)
{
	Agent	   *a = xcalloc(1, sizeof(Agent));
	int			rc;

	log_init(json, verbose ? LOG_LEVEL_DEBUG : LOG_LEVEL_LOG);
	snprintf(a->dir, sizeof(a->dir), "%s", dir);
	if (node_identity(dir, a->node_id, sizeof(a->node_id), false, NULL) != 0)
		return 1;
	if (load_config(dir, &a->cfg, a->config_path, sizeof(a->config_path)) != 0)
		return 1;
	self_exe(a->self_exe, sizeof(a->self_exe));
	if (access(a->cfg.bwrap, X_OK) != 0)
	{
		log_msg(LOG_LEVEL_FATAL, "start", "bubblewrap not found at \"%s\": install it or set jobs.bwrap",
				a->cfg.bwrap);
		return 1;
	}
	{
		char		how[256];

		limits_describe(how, sizeof(how));
		log_info("start", "job limits: %s", how);
	}
	if (geteuid() == 0)
		log_warning("start", "running as root: RLIMIT_NPROC does not bind root's workloads; run the agent as an unprivileged user");
	sandbox_protect_dir(dir);
	a->no_bids = no_bid;
	srand((unsigned) (getpid() ^ (unsigned) now_seconds()));
	rc = agent_run(a);
	config_free(&a->cfg);
	free(a);
	return rc;
}

static int
print_query(PGconn *conn, const char *title, const char *sql)
{
	PGresult   *res = PQexec(conn, sql);
	int			n;

	if (!market_ok(res))
	{
		char		err[512];

		market_error_text(res, conn, err, sizeof(err));
		printf("%s: unavailable (%s)\n", title, err);
		PQclear(res);
		return -1;
	}
	n = PQntuples(res);
	printf("%s:%s\n", title, n == 0 ? " none" : "");
	for (int i = 0; i < n; i++)
	{
		printf("   ");
		for (int f = 0; f < PQnfields(res); f++)
			printf(" %s=%s", PQfname(res, f), PQgetisnull(res, i, f) ? "-" : PQgetvalue(res, i, f));
		printf("\n");
	}
	PQclear(res);
	return n;
}

static void
print_value(PGconn *conn, const char *label, const char *sql)
{
	PGresult   *res = PQexec(conn, sql);

	if (market_ok(res) && PQntuples(res) == 1)
		printf("%s %s\n", label, PQgetisnull(res, 0, 0) ? "-" : PQgetvalue(res, 0, 0));
	else
	{
		char		err[512];

		market_error_text(res, conn, err, sizeof(err));
		printf("%s unavailable (%s)\n", label, err);
	}
	PQclear(res);
}

static int
cmd_status(const char *dir)
{
	char		node_id[64],
				path[PATH_MAX],
				err[1024];
	Config		cfg;
	char	   *text;
	PGconn	   *conn;
	int			pid = 0;
	int			rc = 0;

	if (node_identity(dir, node_id, sizeof(node_id), false, NULL) != 0)
		return 1;
	if (load_config(dir, &cfg, path, sizeof(path)) != 0)
		return 1;
	printf("node id %s\n", node_id);
	snprintf(path, sizeof(path), "%s/identity", dir);
	text = read_file(path, 65536, NULL);
	if (text)
	{
		char	   *p = strstr(text, "provider_id ");

		printf("provider id %s", p ? p + 12 : "unknown\n");
		free(text);
	}
	else
		printf("provider id unknown (not registered: run init)\n");
	printf("region %s\n", cfg.region);
	snprintf(path, sizeof(path), "%s/agent.state", dir);
	text = read_file(path, 1024 * 1024, NULL);
	if (text && sscanf(text, "pid %d", &pid) == 1 && pid > 0 && kill(pid, 0) == 0)
	{
		char	   *line = strstr(text, "\njob ");

		printf("agent running (pid %d)\n", pid);
		while (line)
		{
			char	   *end = strchr(line + 1, '\n');

			printf("  local %.*s\n", end ? (int) (end - line - 1) : (int) strlen(line + 1), line + 1);
			line = end ? strstr(end, "\njob ") == end ? end : NULL : NULL;
		}
	}
	else
		printf("agent not running\n");
	free(text);

	conn = market_open(cfg.conninfo, err, sizeof(err));
	if (conn == NULL)
	{
		printf("market unreachable: %s\n", err);
		rc = 2;
	}
	else
	{
		PGresult   *res = PQexec(conn,
								 "SELECT (SELECT count(*) FROM lagbid_api.my_bids() WHERE state = 'open'), "
								 "(SELECT count(*) FROM lagbid_api.my_jobs() WHERE state IN ('processing', 'submitted'))");

		if (market_ok(res))
			printf("slots used %d of %d (%s open bids, %s jobs processing or submitted)\n",
				   atoi(PQgetvalue(res, 0, 0)) + atoi(PQgetvalue(res, 0, 1)), cfg.max_concurrent,
				   PQgetvalue(res, 0, 0), PQgetvalue(res, 0, 1));
		PQclear(res);
		print_query(conn, "open bids",
					"SELECT bid_id, task_id, price, placed_at FROM lagbid_api.my_bids() "
					"WHERE state = 'open' ORDER BY bid_id");
		print_query(conn, "jobs in progress",
					"SELECT job_id, task_id, state, price, deadline FROM lagbid_api.my_jobs() "
					"WHERE state IN ('processing', 'submitted') ORDER BY job_id");
		print_value(conn, "balance", "SELECT lagbid_api.balance()");
		print_value(conn, "paid for jobs",
					"SELECT coalesce(sum(paid), 0) || ' over ' || count(*) FILTER (WHERE state = 'completed') || ' completed jobs' FROM lagbid_api.my_jobs()");
		print_value(conn, "paid vs expected",
					"SELECT coalesce(sum(paid), 0) || ' paid, ' || coalesce(sum(price * duration_hours), 0) || ' expected (price x hours), ' "
					"|| count(*) FILTER (WHERE coalesce(paid, 0) <> price * duration_hours) || ' job(s) differ' "
					"FROM lagbid_api.my_jobs() WHERE state = 'completed'");
		PQfinish(conn);
	}
	{
		char		p2[PATH_MAX];
		char	   *d;
		long		counts[DECLINE__COUNT] = {0};
		double		cutoff = now_seconds() - 3600;
		int			total = 0;

		snprintf(p2, sizeof(p2), "%s/declines", dir);
		d = read_file(p2, 64 * 1024 * 1024, NULL);
		for (char *line = d; line && *line;)
		{
			double		at;
			char		why[64];
			char	   *next = strchr(line, '\n');

			if (sscanf(line, "%lf %63s", &at, why) == 2 && at >= cutoff)
				for (int k = 1; k < DECLINE__COUNT; k++)
					if (strcmp(why, decision_name((Decision) k)) == 0)
					{
						counts[k]++;
						total++;
					}
			line = next ? next + 1 : NULL;
		}
		free(d);
		printf("declines in the last hour: %d\n", total);
		for (int k = 1; k < DECLINE__COUNT; k++)
			if (counts[k])
				printf("  %-13s %ld\n", decision_name((Decision) k), counts[k]);
	}
	config_free(&cfg);
	return rc;
}

static int
cmd_try(const char *dir, const char *workload_path, int memory_gb, int max_processes,
		double storage_gb)
{
	Config		cfg;
	Workload	wl;
	RunSpec		spec;
	RunState	rs;
	char		err[512],
				exe[PATH_MAX],
				jobdir[PATH_MAX],
				cfgpath[PATH_MAX],
				reason[512];
	char	   *json;
	size_t		len;
	char	   *out_path = NULL;
	char		tmpl[] = "/tmp/lagbid-try.XXXXXX";

	log_init(false, LOG_LEVEL_LOG);
	config_defaults(&cfg, dir ? dir : "/tmp");
	if (dir)
	{
		snprintf(cfgpath, sizeof(cfgpath), "%s/lagbid-agent.conf", dir);
		if (access(cfgpath, F_OK) == 0 && load_config(dir, &cfg, cfgpath, sizeof(cfgpath)) != 0)
			return 1;
	}
	sandbox_protect_dir(dir);
	if (memory_gb > 0)
		cfg.default_memory_gb = memory_gb;
	if (max_processes > 0)
		cfg.max_processes = max_processes;
	if (storage_gb > 0)
		cfg.default_storage_gb = storage_gb;
	json = read_file(workload_path, JSON_MAX_INPUT, &len);
	if (json == NULL)
	{
		fprintf(stderr, "%s: could not read \"%s\": %s\n", progname, workload_path, strerror(errno));
		return 1;
	}
	if (workload_parse(json, len, &wl, err, sizeof(err)) != 0)
	{
		printf("failed: invalid workload: %s\n", err);
		free(json);
		return 1;
	}
	free(json);
	if (mkdtemp(tmpl) == NULL)
	{
		fprintf(stderr, "%s: mkdtemp failed: %s\n", progname, strerror(errno));
		return 1;
	}
	snprintf(jobdir, sizeof(jobdir), "%s/job", tmpl);
	self_exe(exe, sizeof(exe));
	memset(&spec, 0, sizeof(spec));
	spec.wl = &wl;
	spec.jobdir = jobdir;
	spec.bwrap = cfg.bwrap;
	spec.self_exe = exe;
	spec.timeout_s = wl.timeout_s;
	runner_limits(&cfg, NULL, spec.timeout_s, &spec.limits);
	if (sandbox_prepare(&wl, jobdir, err, sizeof(err)) != 0 ||
		sandbox_start(&spec, &rs, err, sizeof(err)) != 0)
	{
		printf("failed: %s\n", err);
		rm_rf(tmpl);
		return 1;
	}
	for (;;)
	{
		int			status;
		pid_t		p = waitpid(rs.pid, &status, WNOHANG);

		if (p == rs.pid)
		{
			rs.finished = true;
			rs.wait_status = status;
			break;
		}
		if (!rs.timed_out && now_seconds() >= rs.kill_at)
		{
			rs.timed_out = true;
			sandbox_kill(&rs);
		}
		usleep(20000);
	}
	kill(-rs.pid, SIGKILL);
	if (sandbox_outcome(&spec, &rs, &out_path, reason, sizeof(reason)) != 0)
	{
		printf("failed: %s\n", reason);
		rm_rf(tmpl);
		workload_free(&wl);
		return 1;
	}
	{
		char		hex[65];
		size_t		size = 0;
		char	   *content = read_file(out_path, 4096, NULL);

		sha256_file_hex(out_path, hex, &size);
		printf("ok: %zu bytes, sha256:%s after %.1f s\n", size, hex, now_seconds() - rs.started);
		if (content)
			fwrite(content, 1, strlen(content), stdout);
		free(content);
	}
	free(out_path);
	rm_rf(tmpl);
	workload_free(&wl);
	config_free(&cfg);
	return 0;
}

/*
 * probe: one probe through the prober's client (proxy.c), with the checks
 * lease.c applies to a my_probes() row.  Prints "up" or "down", the
 * status, the latency, the signature received and why; exit 0 when up.
 */
static int
cmd_probe(const char *url, const char *nonce, bool allow_private)
{
	Config		cfg;
	char		err[512];
	ProbeResult pr;
	double		until;

	log_init(false, LOG_LEVEL_WARNING);
	if (!probe_nonce_ok(nonce, strlen(nonce)))
	{
		fprintf(stderr, "%s: --nonce must be 32 lower-case hex characters\n", progname);
		return 1;
	}
	if (!probe_url_ok(url, err, sizeof(err)))
	{
		printf("down status 0 refused: %s\n", err);
		return 1;
	}
	config_defaults(&cfg, "/tmp");
	free(cfg.proxy_listen);
	cfg.proxy_listen = xstrdup("127.0.0.1:0");
	cfg.probe_allow_private = allow_private;
	if (proxy_start(&cfg, NULL, "", err, sizeof(err)) != 0 || !proxy_probe_submit(1, url, nonce))
	{
		fprintf(stderr, "%s: %s\n", progname, err);
		return 1;
	}
	until = now_seconds() + cfg.probe_timeout_ms / 1000.0 + 5;
	while (proxy_probe_results(&pr, 1) == 0)
	{
		if (now_seconds() > until)
		{
			fprintf(stderr, "%s: the probe did not finish\n", progname);
			return 1;
		}
		usleep(10000);
	}
	printf("%s status %d latency_ms %.1f signature %s%s%s\n", pr.ok ? "up" : "down", pr.http_status,
		   pr.latency_ms, pr.signature[0] ? pr.signature : "-", pr.why[0] ? " why: " : "", pr.why);
	config_free(&cfg);
	return pr.ok ? 0 : 1;
}

static volatile sig_atomic_t serve_stop = 0;

static void
serve_on_term(int signo)
{
	serve_stop = 1;
}

/*
 * serve: one service in the sandbox behind the front proxy, without a
 * market (service.c and proxy.c as the daemon runs them).  Prints
 * "proxy 127.0.0.1:PORT" when it listens, "ready" when the health path
 * answers 200, and at SIGTERM tears the service down and prints
 * "torn down: N process(es) left".
 */
static int
cmd_serve(const char *dir, const char *workload_path, int port, const char *name,
		  const char *listen, const char *domain, const char *health)
{
	Config		cfg;
	char		err[512],
				exe[PATH_MAX],
				path[PATH_MAX];
	unsigned char pub[32];
	bool		created;
	char	   *json;
	size_t		len;
	Service    *s;
	bool		said_ready = false;
	struct sigaction sa;

	log_init(false, LOG_LEVEL_LOG);
	if (!lease_name_ok(name, strlen(name)))
	{
		fprintf(stderr, "%s: --name must be 16 characters of a-z and 2-7\n", progname);
		return 1;
	}
	if (health[0] != '/')
	{
		fprintf(stderr, "%s: --health must start with \"/\"\n", progname);
		return 1;
	}
	config_defaults(&cfg, dir);
	snprintf(path, sizeof(path), "%s/lagbid-agent.conf", dir);
	if (access(path, F_OK) == 0 && load_config(dir, &cfg, path, sizeof(path)) != 0)
		return 1;
	free(cfg.proxy_listen);
	cfg.proxy_listen = xstrdup(listen);
	if (mkdir_p(dir, 0700) != 0 ||
		keys_load_or_create(dir, pub, &created, err, sizeof(err)) != 0)
	{
		fprintf(stderr, "%s: %s\n", progname, err[0] ? err : strerror(errno));
		return 1;
	}
	sandbox_protect_dir(dir);
	json = read_file(workload_path, JSON_MAX_INPUT, &len);
	if (json == NULL)
	{
		fprintf(stderr, "%s: could not read \"%s\": %s\n", progname, workload_path, strerror(errno));
		return 1;
	}
	s = service_new(name, port, health, 200);
	s->grace_s = cfg.service_grace_s;
	if (workload_parse(json, len, &s->wl, err, sizeof(err)) != 0)
	{
		fprintf(stderr, "%s: invalid workload: %s\n", progname, err);
		free(json);
		return 1;
	}
	free(json);
	s->have_wl = true;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = serve_on_term;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	if (proxy_start(&cfg, dir, domain, err, sizeof(err)) != 0)
	{
		fprintf(stderr, "%s: %s\n", progname, err);
		return 1;
	}
	printf("proxy %s:%d\n", "127.0.0.1", proxy_port());
	fflush(stdout);
	self_exe(exe, sizeof(exe));
	if (service_start(s, &cfg, exe, err, sizeof(err)) != 0)
	{
		fprintf(stderr, "%s: %s\n", progname, err);
		return 1;
	}
	for (;;)
	{
		int			status;
		pid_t		p;

		while ((p = waitpid(-1, &status, WNOHANG)) > 0)
			if (s->running && p == s->rs.pid)
				service_ended(s, status);
		service_tick(s, &cfg, exe);
		if (!said_ready && service_healthy(s))
		{
			said_ready = true;
			printf("ready\n");
			fflush(stdout);
		}
		if (serve_stop && !s->tearing_down)
			service_teardown(s);
		if (s->torn_down)
			break;
		usleep(20000);
	}
	printf("torn down: %d process(es) left\n", s->left_after_teardown);
	fflush(stdout);
	service_free(s);
	config_free(&cfg);
	return 0;
}

int
main(int argc, char **argv)
{
	static struct option long_options[] = {
		{"dir", required_argument, NULL, 'D'},
		{"conninfo", required_argument, NULL, 'd'},
		{"region", required_argument, NULL, 'r'},
		{"multiaddr", required_argument, NULL, 'a'},
		{"max-concurrent", required_argument, NULL, 'c'},
		{"json", no_argument, NULL, 'j'},
		{"verbose", no_argument, NULL, 'v'},
		{"no-bid", no_argument, NULL, 'n'},
		{"workload", required_argument, NULL, 'w'},
		{"memory-gb", required_argument, NULL, 'm'},
		{"max-processes", required_argument, NULL, 'p'},
		{"storage-gb", required_argument, NULL, 's'},
		{"port", required_argument, NULL, 1001},
		{"name", required_argument, NULL, 1002},
		{"listen", required_argument, NULL, 1003},
		{"domain", required_argument, NULL, 1004},
		{"health", required_argument, NULL, 1005},
		{"url", required_argument, NULL, 1006},
		{"nonce", required_argument, NULL, 1007},
		{"allow-private", no_argument, NULL, 1008},
		{"version", no_argument, NULL, 'V'},
		{"help", no_argument, NULL, '?'},
		{NULL, 0, NULL, 0}
	};
	const char *cmd;
	const char *dir = NULL,
			   *conninfo = NULL,
			   *region = NULL,
			   *workload = NULL;
	char	   *addrs[MAX_MULTIADDRS];
	int			naddrs = 0,
				max_concurrent = 0,
				memory_gb = 0,
				max_processes = 0;
	double		storage_gb = 0;
	int			svc_port = 0;
	const char *svc_name = "testservice22222",
			   *svc_listen = "127.0.0.1:0",
			   *svc_domain = "localhost",
			   *svc_health = "/",
			   *probe_url = NULL,
			   *probe_nonce = NULL;
	bool		probe_private = false;
	bool		json = false,
				verbose = false,
				no_bid = false;
	int			c;

	/* inside the sandbox: set the limits and become the workload */
	if (argc >= 2 && strcmp(argv[1], "__shim") == 0)
		return sandbox_shim_main(argc, argv);
	/* inside a service's sandbox: the same, plus the helper (svcbox.c) */
	if (argc >= 2 && strcmp(argv[1], "__svcshim") == 0)
		return svcbox_shim_main(argc, argv);
	if (argc >= 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-?") == 0 ||
					  strcmp(argv[1], "help") == 0))
	{
		usage();
		return 0;
	}
	if (argc >= 2 && (strcmp(argv[1], "--version") == 0 || strcmp(argv[1], "-V") == 0))
	{
		printf("lagbid-agent %s\n", AGENT_VERSION);
		return 0;
	}
	if (argc < 2 || argv[1][0] == '-')
	{
		fprintf(stderr, "%s: no command given\nTry \"%s --help\" for more information.\n",
				progname, progname);
		return 1;
	}
	cmd = argv[1];
	if (!known_command(cmd))
	{
		fprintf(stderr, "%s: unknown command \"%s\" (the commands are init, run, status, try, serve and probe)\n"
				"Try \"%s --help\" for more information.\n", progname, cmd, progname);
		return 1;
	}
	for (int i = 2; i < argc; i++)
	{
		if (strcmp(argv[i], "--") == 0)
			break;
		if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-?") == 0)
		{
			usage_command(cmd);
			return 0;
		}
	}
	optind = 2;
	while ((c = getopt_long(argc, argv, "D:d:r:a:c:jvnw:m:p:s:V?", long_options, NULL)) != -1)
	{
		switch (c)
		{
			case 'D':
				dir = optarg;
				break;
			case 'd':
				conninfo = optarg;
				break;
			case 'r':
				region = optarg;
				break;
			case 'a':
				if (naddrs >= MAX_MULTIADDRS)
				{
					fprintf(stderr, "%s: at most %d multiaddrs\n", progname, MAX_MULTIADDRS);
					return 1;
				}
				addrs[naddrs++] = optarg;
				break;
			case 'c':
				if (!int_option("max-concurrent", optarg, 1, 100000, &max_concurrent))
					return 1;
				break;
			case 'j':
				json = true;
				break;
			case 'v':
				verbose = true;
				break;
			case 'n':
				no_bid = true;
				break;
			case 'w':
				workload = optarg;
				break;
			case 'm':
				if (!int_option("memory-gb", optarg, 1, 1048576, &memory_gb))
					return 1;
				break;
			case 'p':
				if (!int_option("max-processes", optarg, 1, 1000000, &max_processes))
					return 1;
				break;
			case 's':
				storage_gb = atof(optarg);
				break;
			case 'V':
				printf("lagbid-agent %s\n", AGENT_VERSION);
				return 0;
			case 1001:
				if (!int_option("port", optarg, 1, 65535, &svc_port))
					return 1;
				break;
			case 1002:
				svc_name = optarg;
				break;
			case 1003:
				svc_listen = optarg;
				break;
			case 1004:
				svc_domain = optarg;
				break;
			case 1005:
				svc_health = optarg;
				break;
			case 1006:
				probe_url = optarg;
				break;
			case 1007:
				probe_nonce = optarg;
				break;
			case 1008:
				probe_private = true;
				break;
			default:
				fprintf(stderr, "Try \"%s %s --help\" for more information.\n", progname, cmd);
				return 1;
		}
	}
	if (optind < argc)
	{
		fprintf(stderr, "%s: too many command-line arguments (first is \"%s\")\n", progname, argv[optind]);
		return 1;
	}
	if (strcmp(cmd, "try") == 0)
	{
		if (workload == NULL)
		{
			fprintf(stderr, "%s: try needs --workload\n", progname);
			return 1;
		}
		return cmd_try(dir, workload, memory_gb, max_processes, storage_gb);
	}
	if (strcmp(cmd, "probe") == 0)
	{
		if (probe_url == NULL || probe_nonce == NULL)
		{
			fprintf(stderr, "%s: probe needs --url and --nonce\n", progname);
			return 1;
		}
		return cmd_probe(probe_url, probe_nonce, probe_private);
	}
	if (strcmp(cmd, "serve") == 0)
	{
		if (workload == NULL || dir == NULL || svc_port == 0)
		{
			fprintf(stderr, "%s: serve needs --workload, --dir and --port\n", progname);
			return 1;
		}
		return cmd_serve(dir, workload, svc_port, svc_name, svc_listen, svc_domain, svc_health);
	}
	if (dir == NULL)
	{
		fprintf(stderr, "%s: %s needs --dir\nTry \"%s %s --help\" for more information.\n",
				progname, cmd, progname, cmd);
		return 1;
	}
	if (strcmp(cmd, "init") == 0)
		return cmd_init(dir, conninfo, region, addrs, naddrs, max_concurrent);
	if (strcmp(cmd, "run") == 0)
		return cmd_run(dir, json, verbose, no_bid);
	return cmd_status(dir);
}
