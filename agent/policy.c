/*-------------------------------------------------------------------------
 *
 * policy.c
 *	  Whether to bid on a task, and at what price.
 *
 * Cheapest checks first (policy_screen): region, resources, owner
 * allow/deny list, a workload of acceptable size, a free slot, the cost
 * from the per-resource hourly rates against price_max; then (with the
 * workload's body, read by market.c) the workload rules shared with the
 * extension and whether this agent can fetch its inputs; last the
 * optional external price script (a process: the dearest check).  Every "no" carries a Decision
 * (counted by reason) and a sentence for the log.
 *
 *-------------------------------------------------------------------------
 */
#include "agent.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/wait.h>
#include <unistd.h>

static const char *const decision_names[DECLINE__COUNT] = {
	"bid", "region", "resources", "owner", "workload", "capacity", "price",
	"price_script", "market"
};

const char *
decision_name(Decision d)
{
	return (d >= 0 && d < DECLINE__COUNT) ? decision_names[d] : "unknown";
}

/* the extension's rule (src/rules/regions.c); an empty task region is none */
bool
region_matches(const char *task_region, const char *provider_region)
{
	return lagbid_region_matches(task_region && task_region[0] ? task_region : NULL,
								 provider_region);
}

/*
 * A double as the shortest number text that reads back as the same double
 * ("0.1", not "0.10000000000000001"): the text of every decimal of at most
 * 15 significant digits is that decimal again.
 */
int
amount_text(double v, char *out, size_t cap)
{
	int			n = 0;

	for (int digits = 15; digits <= 17; digits++)
	{
		n = snprintf(out, cap, "%.*g", digits, v);
		if (strtod(out, NULL) == v)
			break;
	}
	return n;
}

/*
 * The resources this agent registers (main.c sends them) and checks tasks
 * against: the amounts as exact texts, a gpu model with a count of at
 * least one, no gpus without a model.
 */
void
offer_from_config(const Config *c, Offer *o)
{
	bool		gpu = c->gpu != NULL && c->gpu[0] != '\0';

	amount_text(c->cpu, o->cpu, sizeof(o->cpu));
	amount_text(c->memory_gb, o->memory_gb, sizeof(o->memory_gb));
	amount_text(c->storage_gb, o->storage_gb, sizeof(o->storage_gb));
	o->res.cpu = o->cpu;
	o->res.memory_gb = o->memory_gb;
	o->res.storage_gb = o->storage_gb;
	o->res.gpu = gpu ? c->gpu : NULL;
	o->res.gpu_count = gpu ? (c->gpu_count > 0 ? c->gpu_count : 1) : 0;
}

/*
 * The text of a JSON number as the agent has it: jansson keeps integers
 * exactly and reals as doubles, so an amount of more than 15 significant
 * digits is seen as its nearest double (the market compares the exact
 * value; it lists only the tasks a provider's registered resources cover).
 */
static bool
number_text(const json_t *v, char *out, size_t cap)
{
	if (json_is_integer(v))
		snprintf(out, cap, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
	else if (json_is_real(v))
		amount_text(json_real_value(v), out, cap);
	else
		return false;
	return true;
}

/*
 * Fill the resource needs of t from the task's resources (parsed), with the
 * rules the market applied at publish (src/rules/resource_rules.c): a
 * resources object the market would refuse is not readable.
 */
void
terms_from_value(TaskTerms *t, const json_t *r)
{
	const char *key;
	json_t	   *v;

	t->cpu = t->memory_gb = t->storage_gb = 0;
	snprintf(t->cpu_text, sizeof(t->cpu_text), "0");
	snprintf(t->memory_gb_text, sizeof(t->memory_gb_text), "0");
	snprintf(t->storage_gb_text, sizeof(t->storage_gb_text), "0");
	t->gpu[0] = '\0';
	t->gpu_count = 0;
	t->resources_bad = false;
	if (r == NULL || json_is_null(r))
		return;
	if (!json_is_object(r))
	{
		t->resources_bad = true;
		return;
	}
	json_object_foreach((json_t *) r, key, v)
	{
		LagbidResKey k = lagbid_res_key(key, strlen(key));
		char		text[32];
		const char *why = NULL;
		double	   *amount = NULL;
		char	   *amount_out = NULL;

		/* JSON null means "not stated", like a missing key */
		if (k != LAGBID_RES_UNKNOWN && json_is_null(v))
			continue;
		switch (k)
		{
			case LAGBID_RES_UNKNOWN:
				why = "unknown";
				break;
			case LAGBID_RES_CPU:
				amount = &t->cpu, amount_out = t->cpu_text;
				break;
			case LAGBID_RES_MEMORY_GB:
				amount = &t->memory_gb, amount_out = t->memory_gb_text;
				break;
			case LAGBID_RES_STORAGE_GB:
				amount = &t->storage_gb, amount_out = t->storage_gb_text;
				break;
			case LAGBID_RES_GPU:
				why = json_is_string(v) ?
					lagbid_res_gpu_rule(json_string_value(v), json_string_length(v)) :
					lagbid_res_gpu_rule(NULL, 0);
				if (why == NULL)
					snprintf(t->gpu, sizeof(t->gpu), "%s", json_string_value(v));
				break;
			case LAGBID_RES_GPU_COUNT:
				why = number_text(v, text, sizeof(text)) ?
					lagbid_res_gpu_count_rule(text, strlen(text), &t->gpu_count) : "must be a number";
				break;
		}
		if (amount)
		{
			why = number_text(v, text, sizeof(text)) ?
				lagbid_res_amount_rule(text, strlen(text)) : "must be a number";
			if (why == NULL)
			{
				*amount = json_number_value(v);
				memcpy(amount_out, text, sizeof(text));
			}
		}
		if (why)
		{
			t->resources_bad = true;
			return;
		}
	}
}

/* the same from the resources JSON text; -1 when unreadable */
int
terms_from_resources(TaskTerms *t, const char *json, size_t len)
{
	json_t	   *r;

	terms_from_value(t, NULL);
	if (json == NULL || len == 0)
		return 0;
	r = json_read(json, len, 64 * 1024, NULL, 0);
	if (r == NULL)
	{
		t->resources_bad = true;
		return -1;
	}
	terms_from_value(t, r);
	json_decref(r);
	return t->resources_bad ? -1 : 0;
}

/* the hourly cost of what the task asks for; < 0 when it cannot be priced */
double
policy_cost(const Config *c, const TaskTerms *t, char *why, size_t whylen)
{
	double		cost = t->cpu * c->rate_cpu + t->memory_gb * c->rate_memory +
		t->storage_gb * c->rate_storage;

	/* a task that names a gpu model without a count is priced for one */
	if (t->gpu[0] != '\0')
	{
		int			i;

		for (i = 0; i < c->ngpu_rates; i++)
			if (strcasecmp(c->gpu_models[i], t->gpu) == 0)
				break;
		if (i == c->ngpu_rates)
		{
			snprintf(why, whylen, "no price configured for gpu \"%s\"", t->gpu);
			return -1;
		}
		cost += (t->gpu_count > 0 ? t->gpu_count : 1) * c->gpu_rates[i];
	}
	return cost;
}

/*
 * The ask as text: at least price_min, at most price_max, rounded up to
 * 4 decimals; the task's own text at the bounds so no rounding can cross
 * them.
 */
static void
ask_text(const TaskTerms *t, double ask, char *out, size_t cap)
{
	double		up = ceil(ask * 10000.0 - 1e-6) / 10000.0;

	if (ask <= t->price_min && t->price_min_text[0])
		snprintf(out, cap, "%s", t->price_min_text);
	else if (up >= t->price_max && t->price_max_text[0])
		snprintf(out, cap, "%s", t->price_max_text);
	else
		format_price(up, out, cap);
}

int
format_price(double v, char *out, size_t cap)
{
	int			n = snprintf(out, cap, "%.4f", v);

	/* trim trailing zeros, keep two decimals */
	while (n >= 4 && (size_t) n < cap && out[n - 1] == '0' && out[n - 3] != '.')
		out[--n] = '\0';
	return n;
}

static bool
in_list(char *const *list, int n, const char *s)
{
	for (int i = 0; i < n; i++)
		if (strcmp(list[i], s) == 0)
			return true;
	return false;
}

/*
 * Run the price script: the terms as JSON on stdin, one price on stdout.
 * Returns 0 with *price set, 1 when the script declines (non-zero exit),
 * -1 on failure or timeout (why says which).
 */
static int
run_price_script(const Config *c, const TaskTerms *t, double cost, double *price,
				 char *why, size_t whylen)
{
	int			in[2],
				out[2];
	pid_t		pid;
	char		json[2048],
				owner[600],
				region[300],
				gpu[300];
	char		reply[256];
	size_t		got = 0;
	double		deadline = now_seconds() + c->price_script_timeout_ms / 1000.0;
	int			status;
	bool		timed_out = false;

	json_escape(t->owner, owner, sizeof(owner));
	json_escape(t->region, region, sizeof(region));
	json_escape(t->gpu, gpu, sizeof(gpu));
	snprintf(json, sizeof(json),
			 "{\"task_id\": %lld, \"owner\": %s, \"region\": %s, \"cpu\": %g, \"memory_gb\": %g, "
			 "\"storage_gb\": %g, \"gpu\": %s, \"gpu_count\": %d, \"price_min\": %g, "
			 "\"price_max\": %g, \"duration_hours\": %g, \"cost\": %g}\n",
			 (long long) t->task_id, owner, region, t->cpu, t->memory_gb, t->storage_gb,
			 gpu, t->gpu_count, t->price_min, t->price_max, t->duration_hours, cost);
	if (pipe2(in, O_CLOEXEC) != 0)
	{
		snprintf(why, whylen, "price script: pipe failed");
		return -1;
	}
	if (pipe2(out, O_CLOEXEC) != 0)
	{
		close(in[0]);
		close(in[1]);
		snprintf(why, whylen, "price script: pipe failed");
		return -1;
	}
	pid = fork();
	if (pid < 0)
	{
		close(in[0]);
		close(in[1]);
		close(out[0]);
		close(out[1]);
		snprintf(why, whylen, "price script: fork failed");
		return -1;
	}
	if (pid == 0)
	{
		char	   *argv[] = {c->price_script, NULL};

		setpgid(0, 0);
		dup2(in[0], 0);
		dup2(out[1], 1);
		signal(SIGPIPE, SIG_DFL);
		execv(c->price_script, argv);
		_exit(127);
	}
	close(in[0]);
	close(out[1]);
	/* a short write to a pipe never blocks for this size; ignore EPIPE */
	{
		void		(*old) (int) = signal(SIGPIPE, SIG_IGN);

		if (write(in[1], json, strlen(json)) < 0)
		{
			/* the script may ignore its input */
		}
		signal(SIGPIPE, old);
	}
	close(in[1]);
	for (;;)
	{
		struct pollfd pfd = {out[0], POLLIN, 0};
		double		left = deadline - now_seconds();
		ssize_t		r;

		if (left <= 0)
		{
			timed_out = true;
			break;
		}
		if (poll(&pfd, 1, (int) (left * 1000) + 1) <= 0)
			continue;
		r = read(out[0], reply + got, sizeof(reply) - 1 - got);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		got += r;
		if (got >= sizeof(reply) - 1)
			break;
	}
	close(out[0]);
	reply[got] = '\0';
	if (timed_out)
		kill(-pid, SIGKILL), kill(pid, SIGKILL);
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	if (timed_out)
	{
		snprintf(why, whylen, "price script timed out after %d ms", c->price_script_timeout_ms);
		return -1;
	}
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
	{
		snprintf(why, whylen, "price script declined (%s %d)",
				 WIFEXITED(status) ? "exit status" : "signal",
				 WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status));
		return 1;
	}
	{
		char	   *end;

		errno = 0;
		*price = strtod(reply, &end);
		while (*end == ' ' || *end == '\n' || *end == '\r' || *end == '\t')
			end++;
		if (errno || end == reply || *end != '\0' || !isfinite(*price) || *price <= 0)
		{
			snprintf(why, whylen, "price script printed no valid price");
			return -1;
		}
	}
	return 0;
}

/*
 * The checks that need no workload body: region, resources, owner, a
 * workload at all, a free slot, the cost against price_max.  market.c
 * reads a workload only for a task that passes these.
 */
Decision
policy_screen(const Config *c, const TaskTerms *t, int slots_used, double *cost_out,
			  char *why, size_t whylen)
{
	double		cost;

	*cost_out = 0;
	why[0] = '\0';
	if (!region_matches(t->region, c->region))
	{
		snprintf(why, whylen, "region \"%s\" does not match ours (\"%s\")", t->region, c->region);
		return DECLINE_REGION;
	}
	if (t->resources_bad)
	{
		snprintf(why, whylen, "resources are not readable");
		return DECLINE_RESOURCES;
	}
	/* the market's rule 4 (src/rules/resource_rules.c) against what we offer */
	{
		LagbidResText need = {t->cpu_text, t->memory_gb_text, t->storage_gb_text,
		t->gpu[0] ? t->gpu : NULL, t->gpu_count};
		Offer		have;
		const char *missing;

		offer_from_config(c, &have);
		missing = lagbid_res_shortfall(&need, &have.res);
		if (missing && strcmp(missing, "cpu") == 0)
			snprintf(why, whylen, "needs %s cpu, we offer %s", need.cpu, have.cpu);
		else if (missing && strcmp(missing, "memory_gb") == 0)
			snprintf(why, whylen, "needs %s GB of memory, we offer %s", need.memory_gb, have.memory_gb);
		else if (missing && strcmp(missing, "storage_gb") == 0)
			snprintf(why, whylen, "needs %s GB of storage, we offer %s", need.storage_gb, have.storage_gb);
		else if (missing)
			snprintf(why, whylen, "needs %d gpu \"%s\", we offer %d \"%s\"",
					 t->gpu_count, t->gpu, have.res.gpu_count, have.res.gpu ? have.res.gpu : "");
		if (missing)
			return DECLINE_RESOURCES;
	}
	if (in_list(c->deny_owners, c->ndeny, t->owner))
	{
		snprintf(why, whylen, "owner \"%s\" is denied", t->owner);
		return DECLINE_OWNER;
	}
	if (c->nallow > 0 && !in_list(c->allow_owners, c->nallow, t->owner))
	{
		snprintf(why, whylen, "owner \"%s\" is not in the allow list", t->owner);
		return DECLINE_OWNER;
	}
	if (t->workload_null)
	{
		snprintf(why, whylen, "the task has no workload to run");
		return DECLINE_WORKLOAD;
	}
	if (t->workload_bytes > c->max_workload_bytes)
	{
		snprintf(why, whylen, "the workload is %lld bytes, over max_workload_bytes (%ld): not read",
				 t->workload_bytes, c->max_workload_bytes);
		return DECLINE_WORKLOAD;
	}
	if (slots_used >= c->max_concurrent)
	{
		snprintf(why, whylen, "all %d slots are taken", c->max_concurrent);
		return DECLINE_CAPACITY;
	}
	cost = policy_cost(c, t, why, whylen);
	if (cost < 0)
		return DECLINE_PRICE;
	*cost_out = cost;
	if (cost > t->price_max)
	{
		snprintf(why, whylen, "cost %.4f/h is above price_max %s/h", cost,
				 t->price_max_text[0] ? t->price_max_text : "?");
		return DECLINE_PRICE;
	}
	return DECIDE_BID;
}

/*
 * Whether to bid and at what ask: policy_screen, then the workload body
 * (read and checked by this agent: no bid without it), then the ask and
 * the price script.
 */
Decision
policy_decide(const Config *c, const TaskTerms *t, int slots_used,
			  char *price_out, size_t pricecap, double *cost_out,
			  char *why, size_t whylen)
{
	double		cost,
				ask;
	Decision	d;

	price_out[0] = '\0';
	d = policy_screen(c, t, slots_used, cost_out, why, whylen);
	if (d != DECIDE_BID)
		return d;
	cost = *cost_out;
	/* no bid on a workload this agent has not read and checked itself */
	if (t->workload_json == NULL)
	{
		snprintf(why, whylen, "the workload was not read and checked");
		return DECLINE_WORKLOAD;
	}
	{
		Workload	wl;
		char		err[256];

		if (workload_parse(t->workload_json, t->workload_len, &wl, err, sizeof(err)) != 0)
		{
			snprintf(why, whylen, "workload rejected: %s", err);
			return DECLINE_WORKLOAD;
		}
		for (int i = 0; i < wl.ninputs; i++)
			if (wl.inputs[i].uri && strncmp(wl.inputs[i].uri, "file:///", 8) != 0)
			{
				snprintf(why, whylen, "workload input \"%s\" needs a uri this agent does not fetch (only file:///)",
						 wl.inputs[i].path);
				workload_free(&wl);
				return DECLINE_WORKLOAD;
			}
		workload_free(&wl);
	}
	ask = cost * c->markup;
	if (c->price_script)
	{
		double		p;
		int			rc = run_price_script(c, t, cost, &p, why, whylen);

		if (rc != 0)
			return DECLINE_SCRIPT;
		ask = p;
		if (ask > t->price_max)
		{
			snprintf(why, whylen, "price script asked %.4f/h, above price_max", ask);
			return DECLINE_SCRIPT;
		}
	}
	if (ask < t->price_min)
		ask = t->price_min;
	if (ask > t->price_max)
		ask = t->price_max;
	ask_text(t, ask, price_out, pricecap);
	return DECIDE_BID;
}
