/*-------------------------------------------------------------------------
 *
 * proxy.c
 *	  The front proxy of the services that run here, and the HTTP client of
 *	  the prober: one thread, one libevent loop.
 *
 * The server side is libevent's evhttp (agent/README.md says why): it
 * parses the requests, bounded (headers, body, time).  A request is routed
 * by its Host, "<lease name>.<proxy_domain>[:port]", or by its path,
 * "/l/<lease name>/..." (the prefix stripped); anything else is 404.
 *
 * The app is reached only through its sandbox's helper (svcbox.c): the
 * proxy asks for a connection on the route's socket, the helper connects
 * inside the sandbox and passes the connected socket back, and libcurl
 * speaks HTTP/1.1 on that socket (CURLOPT_OPENSOCKETFUNCTION hands it the
 * socket, CURL_SOCKOPT_ALREADY_CONNECTED; no reuse, no other socket).  So
 * neither side writes an HTTP parser: evhttp reads the client, libcurl
 * reads the app.  The app's answer is buffered (at most
 * proxy_max_response_bytes) and sent back; hop-by-hop headers are dropped
 * both ways.
 *
 * A probe (request header X-Lagbid-Probe: 32 lower-case hex) is forwarded
 * to the route's health path, whatever its own path, and answered with the
 * app's status and X-Lagbid-Probe-Signature: base64 of the Ed25519
 * signature, with the node key, of
 *	  "lagbid-probe-v1\nlease:<name>\nnonce:<nonce>\nstatus:<status>\n"
 * (/work/lease-design.md, "Probe proof").  An app that cannot be reached
 * is answered 502 (504 after proxy_timeout_s), signed the same way.
 *
 * Every route's health path is fetched by the proxy itself (each second
 * until it answers, then every 10 s); service.c reads the last status.
 *
 * The prober's GETs run here too (proxy_probe_submit): libcurl, http and
 * https only, no redirects, a timeout, at most 64 kB read, and unless
 * probe_allow_private, no connection to a loopback, private, link-local
 * or otherwise non-public address: the check is on the address libcurl is
 * about to connect to (CURLOPT_OPENSOCKETFUNCTION), after resolution.
 *
 * Threads: the main loop (daemon.c) calls proxy_route_*() and
 * proxy_probe_*(); they take the proxy's lock, change the tables and wake
 * the proxy's loop.  Every callback of the proxy's loop holds the lock.
 *
 *-------------------------------------------------------------------------
 */
#include "agent.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <curl/curl.h>
#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <event2/thread.h>
#include <openssl/evp.h>

#define MAX_ROUTES 256
#define MAX_OPS 1024
#define MAX_OPS_PER_ROUTE 256
#define MAX_HEADERS_BYTES (16 * 1024)
#define PROBE_MAX_READ (64 * 1024)
#define MAX_PROBES 512
#define NONCE_LEN 32

typedef struct Op Op;

typedef struct Route
{
	char		name[LEASE_NAME_LEN + 1];
	int			port;
	char		health_path[LEASE_HEALTH_PATH_MAX + 1];
	int			expected_status;
	int			fd;				/* the helper's socket, -1: none */
	int			new_fd;			/* handed over by the main loop, -1: none */
	struct event *ev;
	bool		removed;
	Op		   *wait_head;		/* waiting for a socket, in request order */
	Op		   *wait_tail;
	int			nops;
	unsigned long ns_ino;
	int			health_status;
	double		health_at;
	bool		health_busy;
	double		health_next;
} Route;

typedef enum
{
	OP_PROXY,
	OP_HEALTH,
	OP_PROBE
} OpKind;

struct Op
{
	OpKind		kind;
	Route	   *route;			/* OP_PROXY, OP_HEALTH */
	struct evhttp_request *req; /* OP_PROXY; NULL once the client left */
	struct evhttp_connection *evcon;
	CURL	   *easy;
	struct curl_slist *hdrs;
	int			fd;				/* the app's socket, until libcurl takes it */
	char	   *url;
	char	   *method;
	unsigned char *body;
	size_t		body_len;
	struct evbuffer *resp;
	size_t		resp_cap;
	bool		too_big;
	bool		is_probe;
	char		nonce[NONCE_LEN + 1];
	double		t0;
	long long	probe_id;		/* OP_PROBE */
	char		refused[128];	/* OP_PROBE: why the address was refused */
	Op		   *next_wait;
	Op		   *prev,
			   *next;			/* every live op */
};

static pthread_mutex_t plock;
static pthread_t pthread;
static bool running;
static struct event_base *base;
static struct evhttp *http;
static CURLM *multi;
static struct event *curl_timer;
static struct event *cmd_ev;
static struct event *tick_ev;
static Route *routes[MAX_ROUTES];
static int	nroutes;
static Op  *ops;
static int	nops;
static void *signer;
static char domain[256];
static int	bound_port;
static long max_response;
static int	timeout_s;
static int	probe_timeout_ms;
static bool allow_private;
static ProbeResult results[MAX_PROBES];
static int	nresults;
static int	nprobes;			/* in flight */

static void lock(void)
{
	pthread_mutex_lock(&plock);
}
static void unlock(void)
{
	pthread_mutex_unlock(&plock);
}

/* ---- the routes ---- */

static Route *
find_route(const char *name, size_t len)
{
	for (int i = 0; i < nroutes; i++)
		if (!routes[i]->removed && strlen(routes[i]->name) == len &&
			memcmp(routes[i]->name, name, len) == 0)
			return routes[i];
	return NULL;
}

/* ---- ops ---- */

static Op *
op_new(OpKind kind, Route *r)
{
	Op		   *op = xcalloc(1, sizeof(Op));

	op->kind = kind;
	op->route = r;
	op->fd = -1;
	op->t0 = now_seconds();
	op->resp = evbuffer_new();
	op->resp_cap = kind == OP_PROBE ? PROBE_MAX_READ :
		kind == OP_HEALTH ? PROBE_MAX_READ : (size_t) max_response;
	op->next = ops;
	if (ops)
		ops->prev = op;
	ops = op;
	nops++;
	if (r)
		r->nops++;
	return op;
}

static void
op_free(Op *op)
{
	if (op->prev)
		op->prev->next = op->next;
	else
		ops = op->next;
	if (op->next)
		op->next->prev = op->prev;
	nops--;
	if (op->route)
		op->route->nops--;
	if (op->easy)
	{
		curl_multi_remove_handle(multi, op->easy);
		curl_easy_cleanup(op->easy);
	}
	if (op->fd >= 0)
		close(op->fd);
	curl_slist_free_all(op->hdrs);
	evbuffer_free(op->resp);
	free(op->url);
	free(op->method);
	free(op->body);
	free(op);
}

static void
add_signature(struct evhttp_request *req, Op *op, int status)
{
	char		msg[256];
	unsigned char sig[64];
	char		b64[100];
	int			n;

	if (!op->is_probe || op->route == NULL)
		return;
	n = probe_message(op->route->name, op->nonce, status, msg, sizeof(msg));
	if (keys_signer_sign(signer, (unsigned char *) msg, (size_t) n, sig) != 0)
	{
		log_warning("probe", "could not sign the probe answer of service %s", op->route->name);
		return;
	}
	EVP_EncodeBlock((unsigned char *) b64, sig, 64);
	evhttp_add_header(evhttp_request_get_output_headers(req), "X-Lagbid-Probe-Signature", b64);
}

static const char *
reason_of(int status)
{
	switch (status)
	{
		case 200:
			return "OK";
		case 204:
			return "No Content";
		case 301:
			return "Moved Permanently";
		case 302:
			return "Found";
		case 304:
			return "Not Modified";
		case 400:
			return "Bad Request";
		case 403:
			return "Forbidden";
		case 404:
			return "Not Found";
		case 413:
			return "Payload Too Large";
		case 500:
			return "Internal Server Error";
		case 502:
			return "Bad Gateway";
		case 503:
			return "Service Unavailable";
		case 504:
			return "Gateway Timeout";
		default:
			return "Status";
	}
}

/* a short answer of the proxy's own (signed when it answers a probe) */
static void
reply_error(struct evhttp_request *req, Op *op, int status, const char *text)
{
	struct evbuffer *b = evbuffer_new();

	evbuffer_add_printf(b, "%s\n", text);
	evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type", "text/plain");
	if (op)
		add_signature(req, op, status);
	evhttp_send_reply(req, status, reason_of(status), b);
	evbuffer_free(b);
}

static void
op_fail(Op *op, int status, const char *text)
{
	if (op->kind == OP_PROXY && op->req)
		reply_error(op->req, op, status, text);
	else if (op->kind == OP_HEALTH && op->route)
	{
		op->route->health_status = 0;
		op->route->health_at = now_seconds();
		op->route->health_busy = false;
	}
	op_free(op);
}

/* a client that left: its op must not answer a freed request */
static void
on_client_close(struct evhttp_connection *evcon, void *arg)
{
	lock();
	for (Op *op = ops; op; op = op->next)
		if (op->evcon == evcon)
			op->req = NULL;
	unlock();
}

/* ---- libcurl on the proxy's loop ---- */

static curl_socket_t
open_given(void *clientp, curlsocktype purpose, struct curl_sockaddr *address)
{
	Op		   *op = clientp;
	int			fd = op->fd;

	/* the app's socket, once; libcurl gets no other */
	op->fd = -1;
	return fd >= 0 ? fd : CURL_SOCKET_BAD;
}

static int
already_connected(void *clientp, curl_socket_t fd, curlsocktype purpose)
{
	return CURL_SOCKOPT_ALREADY_CONNECTED;
}

static int
close_sock(void *clientp, curl_socket_t fd)
{
	return close(fd);
}

/* loopback, private, link-local, CGNAT, multicast, unspecified... */
static bool
address_private(const struct sockaddr *sa)
{
	if (sa->sa_family == AF_INET)
	{
		uint32_t	a = ntohl(((const struct sockaddr_in *) sa)->sin_addr.s_addr);

		return (a >> 24) == 0 || (a >> 24) == 10 || (a >> 24) == 127 ||
			(a >> 16) == 0xA9FE || (a >> 20) == 0xAC1 || (a >> 16) == 0xC0A8 ||
			(a >> 22) == (0x64400000 >> 22) || (a >> 28) >= 0xE ||
			(a >> 8) == 0xC00000 || (a >> 8) == 0xC00002 || (a >> 17) == (0xC6120000 >> 17) ||
			(a >> 8) == 0xC63364 || (a >> 8) == 0xCB0071;
	}
	if (sa->sa_family == AF_INET6)
	{
		const unsigned char *b = ((const struct sockaddr_in6 *) sa)->sin6_addr.s6_addr;
		static const unsigned char v4mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
		bool		zero = true;

		for (int i = 0; i < 15; i++)
			if (b[i])
				zero = false;
		if (zero)
			return true;		/* :: and ::1 */
		if (memcmp(b, v4mapped, 12) == 0)
		{
			struct sockaddr_in v4;

			memset(&v4, 0, sizeof(v4));
			v4.sin_family = AF_INET;
			memcpy(&v4.sin_addr, b + 12, 4);
			return address_private((struct sockaddr *) &v4);
		}
		return (b[0] & 0xfe) == 0xfc || (b[0] == 0xfe && (b[1] & 0xc0) == 0x80) ||
			b[0] == 0xff || (b[0] == 0x20 && b[1] == 0x01 && b[2] == 0x0d && b[3] == 0xb8) ||
			(b[0] == 0x00 && b[1] == 0x64 && b[2] == 0xff && b[3] == 0x9b);
	}
	return true;
}

static curl_socket_t
open_checked(void *clientp, curlsocktype purpose, struct curl_sockaddr *address)
{
	Op		   *op = clientp;

	if (!allow_private && address_private(&address->addr))
	{
		char		host[INET6_ADDRSTRLEN] = "?";

		if (address->family == AF_INET)
			inet_ntop(AF_INET, &((struct sockaddr_in *) &address->addr)->sin_addr, host, sizeof(host));
		else if (address->family == AF_INET6)
			inet_ntop(AF_INET6, &((struct sockaddr_in6 *) &address->addr)->sin6_addr, host, sizeof(host));
		snprintf(op->refused, sizeof(op->refused),
				 "the endpoint resolves to %s, a non-public address (service.probe_allow_private is off)", host);
		return CURL_SOCKET_BAD;
	}
	return socket(address->family, address->socktype | SOCK_CLOEXEC, address->protocol);
}

static size_t
on_body(char *data, size_t size, size_t n, void *arg)
{
	Op		   *op = arg;
	size_t		len = size * n;

	if (evbuffer_get_length(op->resp) + len > op->resp_cap)
	{
		op->too_big = true;
		return 0;
	}
	evbuffer_add(op->resp, data, len);
	return len;
}

static bool
hop_by_hop(const char *name)
{
	static const char *const names[] = {
		"connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "proxy-connection",
		"te", "trailer", "transfer-encoding", "upgrade", "content-length", "host", "expect",
		"x-lagbid-probe", "x-lagbid-probe-signature", NULL
	};

	for (int i = 0; names[i]; i++)
		if (strcasecmp(name, names[i]) == 0)
			return true;
	return false;
}

static void
finish_proxy(Op *op, CURLcode rc)
{
	struct evhttp_request *req = op->req;
	long		status = 0;
	struct evkeyvalq *out;

	if (req == NULL)
		return;
	curl_easy_getinfo(op->easy, CURLINFO_RESPONSE_CODE, &status);
	if (op->too_big)
	{
		reply_error(req, op, 502, "the service's answer is over service.proxy_max_response_bytes");
		return;
	}
	if (rc != CURLE_OK || status < 100 || status > 599)
	{
		bool		timeout = rc == CURLE_OPERATION_TIMEDOUT;

		reply_error(req, op, timeout ? 504 : 502,
					timeout ? "the service did not answer in time" : "the service did not answer");
		return;
	}
	out = evhttp_request_get_output_headers(req);
	{
		struct curl_header *h,
				   *prev = NULL;

		while ((h = curl_easy_nextheader(op->easy, CURLH_HEADER, -1, prev)) != NULL)
		{
			prev = h;
			if (hop_by_hop(h->name))
				continue;
			evhttp_add_header(out, h->name, h->value);
		}
	}
	add_signature(req, op, (int) status);
	evhttp_send_reply(req, (int) status, reason_of((int) status), op->resp);
}

static void
finish_probe(Op *op, CURLcode rc)
{
	ProbeResult *pr;
	long		status = 0;
	struct curl_header *h;

	nprobes--;
	if (nresults >= MAX_PROBES)
		return;
	pr = &results[nresults++];
	memset(pr, 0, sizeof(*pr));
	pr->probe_id = op->probe_id;
	pr->latency_ms = (now_seconds() - op->t0) * 1000.0;
	curl_easy_getinfo(op->easy, CURLINFO_RESPONSE_CODE, &status);
	if (rc != CURLE_OK && !(rc == CURLE_WRITE_ERROR && op->too_big))
	{
		snprintf(pr->why, sizeof(pr->why), "%s", op->refused[0] ? op->refused : curl_easy_strerror(rc));
		pr->http_status = 0;
		return;
	}
	pr->http_status = (status >= 100 && status <= 599) ? (int) status : 0;
	if (curl_easy_header(op->easy, "X-Lagbid-Probe-Signature", 0, CURLH_HEADER, -1, &h) == CURLHE_OK)
	{
		size_t		n = strlen(h->value);
		bool		good = n == 88;

		for (size_t i = 0; good && i < n; i++)
			if (!(isalnum((unsigned char) h->value[i]) || h->value[i] == '+' || h->value[i] == '/' ||
				  h->value[i] == '='))
				good = false;
		if (good)
			snprintf(pr->signature, sizeof(pr->signature), "%s", h->value);
	}
	pr->ok = pr->http_status >= 200 && pr->http_status <= 299 && pr->signature[0] != '\0';
	if (!pr->ok)
		snprintf(pr->why, sizeof(pr->why), pr->signature[0] ? "status %d" : "status %d without a valid signature",
				 pr->http_status);
}

static void
check_done(void)
{
	CURLMsg    *m;
	int			left;

	while ((m = curl_multi_info_read(multi, &left)) != NULL)
	{
		Op		   *op = NULL;

		if (m->msg != CURLMSG_DONE)
			continue;
		curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **) &op);
		if (op == NULL)
			continue;
		if (op->kind == OP_PROXY)
			finish_proxy(op, m->data.result);
		else if (op->kind == OP_PROBE)
			finish_probe(op, m->data.result);
		else if (op->route)
		{
			long		status = 0;

			curl_easy_getinfo(op->easy, CURLINFO_RESPONSE_CODE, &status);
			op->route->health_status = (m->data.result == CURLE_OK ||
										(m->data.result == CURLE_WRITE_ERROR && op->too_big)) ? (int) status : 0;
			op->route->health_at = now_seconds();
			op->route->health_busy = false;
			op->route->health_next = now_seconds() +
				(op->route->health_status == op->route->expected_status ? 10 : 1);
		}
		op_free(op);
	}
}

typedef struct SockCtx
{
	struct event *ev;
} SockCtx;

static void
on_curl_socket(evutil_socket_t fd, short what, void *arg)
{
	int			flags = ((what & EV_READ) ? CURL_CSELECT_IN : 0) | ((what & EV_WRITE) ? CURL_CSELECT_OUT : 0);
	int			still;

	lock();
	curl_multi_socket_action(multi, fd, flags, &still);
	check_done();
	unlock();
}

static int
curl_socket_cb(CURL *e, curl_socket_t s, int what, void *userp, void *socketp)
{
	SockCtx    *c = socketp;

	if (what == CURL_POLL_REMOVE)
	{
		if (c)
		{
			event_free(c->ev);
			free(c);
			curl_multi_assign(multi, s, NULL);
		}
		return 0;
	}
	if (c == NULL)
	{
		c = xcalloc(1, sizeof(SockCtx));
		curl_multi_assign(multi, s, c);
	}
	else
		event_free(c->ev);
	c->ev = event_new(base, s, ((what & CURL_POLL_IN) ? EV_READ : 0) |
					  ((what & CURL_POLL_OUT) ? EV_WRITE : 0) | EV_PERSIST, on_curl_socket, NULL);
	event_add(c->ev, NULL);
	return 0;
}

static void
on_curl_timer(evutil_socket_t fd, short what, void *arg)
{
	int			still;

	lock();
	curl_multi_socket_action(multi, CURL_SOCKET_TIMEOUT, 0, &still);
	check_done();
	unlock();
}

static int
curl_timer_cb(CURLM *m, long ms, void *userp)
{
	if (ms < 0)
		evtimer_del(curl_timer);
	else
	{
		struct timeval tv = {ms / 1000, (ms % 1000) * 1000};

		evtimer_add(curl_timer, &tv);
	}
	return 0;
}

/* the app's socket arrived: libcurl speaks HTTP on it */
static void
start_on_socket(Op *op, int fd)
{
	CURL	   *e = curl_easy_init();
	Route	   *r = op->route;
	char		url[LEASE_HEALTH_PATH_MAX + 64];

	op->fd = fd;
	if (e == NULL)
	{
		op_fail(op, 502, "out of memory");
		return;
	}
	op->easy = e;
	if (op->kind == OP_HEALTH)
	{
		snprintf(url, sizeof(url), "http://127.0.0.1:%d%s", r->port, r->health_path);
		op->url = xstrdup(url);
	}
	curl_easy_setopt(e, CURLOPT_URL, op->url);
	curl_easy_setopt(e, CURLOPT_PRIVATE, op);
	curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(e, CURLOPT_PROXY, "");
	curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http");
	curl_easy_setopt(e, CURLOPT_FORBID_REUSE, 1L);
	curl_easy_setopt(e, CURLOPT_FRESH_CONNECT, 1L);
	curl_easy_setopt(e, CURLOPT_OPENSOCKETFUNCTION, open_given);
	curl_easy_setopt(e, CURLOPT_OPENSOCKETDATA, op);
	curl_easy_setopt(e, CURLOPT_SOCKOPTFUNCTION, already_connected);
	curl_easy_setopt(e, CURLOPT_CLOSESOCKETFUNCTION, close_sock);
	curl_easy_setopt(e, CURLOPT_TIMEOUT, (long) (op->kind == OP_HEALTH ? 5 : timeout_s));
	curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(e, CURLOPT_WRITEDATA, op);
	curl_easy_setopt(e, CURLOPT_HTTP_TRANSFER_DECODING, 1L);
	if (op->hdrs)
		curl_easy_setopt(e, CURLOPT_HTTPHEADER, op->hdrs);
	if (op->method && strcmp(op->method, "HEAD") == 0)
		curl_easy_setopt(e, CURLOPT_NOBODY, 1L);
	else if (op->method && strcmp(op->method, "GET") != 0)
	{
		curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t) op->body_len);
		curl_easy_setopt(e, CURLOPT_POSTFIELDS, op->body ? (char *) op->body : "");
		curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, op->method);
	}
	if (curl_multi_add_handle(multi, e) != CURLM_OK)
		op_fail(op, 502, "the proxy could not start the request");
}

/* ask the route's helper for a socket; the op waits in line */
static void
request_socket(Op *op)
{
	Route	   *r = op->route;

	if (r->fd < 0 || svcbox_request_connect(r->fd) != 0)
	{
		op_fail(op, 502, "the service is not running");
		return;
	}
	op->next_wait = NULL;
	if (r->wait_tail)
		r->wait_tail->next_wait = op;
	else
		r->wait_head = op;
	r->wait_tail = op;
}

static Op *
pop_wait(Route *r)
{
	Op		   *op = r->wait_head;

	if (op)
	{
		r->wait_head = op->next_wait;
		if (r->wait_head == NULL)
			r->wait_tail = NULL;
	}
	return op;
}

static void
fail_waiting(Route *r, const char *why)
{
	Op		   *op;

	while ((op = pop_wait(r)) != NULL)
		op_fail(op, 502, why);
}

static void
detach_fd(Route *r)
{
	if (r->ev)
	{
		event_free(r->ev);
		r->ev = NULL;
	}
	if (r->fd >= 0)
		close(r->fd);
	r->fd = -1;
	fail_waiting(r, "the service is restarting");
}

/* the helper answered */
static void
on_helper(evutil_socket_t fd, short what, void *arg)
{
	Route	   *r = arg;

	lock();
	while (r->fd >= 0)
	{
		int			got = -1,
					err = 0;
		unsigned long ino = 0;
		int			rc = svcbox_read_reply(r->fd, &got, &ino, &err);
		Op		   *op;

		if (rc == -1)
			break;
		if (rc == -2)
			continue;
		if (rc == 0)
		{
			log_debug("proxy", "service %s: its sandbox ended", r->name);
			detach_fd(r);
			break;
		}
		if (rc == 1)
		{
			r->ns_ino = ino;
			continue;
		}
		op = pop_wait(r);
		if (op == NULL)
		{
			if (got >= 0)
				close(got);
			continue;
		}
		if (rc == 2)
			start_on_socket(op, got);
		else
			op_fail(op, 502, err == ECONNREFUSED ? "the service is not listening" :
					"the service could not be reached");
	}
	unlock();
}

/* ---- the server ---- */

static bool
header_list_add(Op *op, const char *name, const char *value)
{
	char	   *line;
	size_t		n = strlen(name) + strlen(value) + 3;
	struct curl_slist *l;

	line = xmalloc(n);
	snprintf(line, n, "%s: %s", name, value);
	l = curl_slist_append(op->hdrs, line);
	free(line);
	if (l == NULL)
		return false;
	op->hdrs = l;
	return true;
}

static void
on_request(struct evhttp_request *req, void *arg)
{
	const char *uri = evhttp_request_get_uri(req);
	struct evkeyvalq *in = evhttp_request_get_input_headers(req);
	const char *host = evhttp_find_header(in, "Host");
	const char *probe = evhttp_find_header(in, "X-Lagbid-Probe");
	const char *path = uri;
	Route	   *r = NULL;
	char		prefix[LEASE_NAME_LEN + 8] = "";
	Op		   *op;
	const char *method;

	lock();
	if (uri == NULL || uri[0] != '/')
	{
		reply_error(req, NULL, 400, "bad request target");
		goto out;
	}
	for (const char *p = uri; *p; p++)
		if ((unsigned char) *p <= 0x20 || *p == 0x7f)
		{
			reply_error(req, NULL, 400, "bad request target");
			goto out;
		}
	/* by Host: <name>.<domain>[:port] */
	if (host && domain[0])
	{
		size_t		hlen = strcspn(host, ":");
		size_t		dlen = strlen(domain);

		if (hlen == LEASE_NAME_LEN + 1 + dlen && host[LEASE_NAME_LEN] == '.' &&
			strncasecmp(host + LEASE_NAME_LEN + 1, domain, dlen) == 0)
		{
			char		name[LEASE_NAME_LEN + 1];

			for (int i = 0; i < LEASE_NAME_LEN; i++)
				name[i] = (char) tolower((unsigned char) host[i]);
			name[LEASE_NAME_LEN] = '\0';
			r = find_route(name, LEASE_NAME_LEN);
		}
	}
	/* by path: /l/<name>/... */
	if (r == NULL && strncmp(uri, "/l/", 3) == 0)
	{
		size_t		nlen = strcspn(uri + 3, "/?");

		if (lease_name_ok(uri + 3, nlen) && (r = find_route(uri + 3, nlen)) != NULL)
		{
			path = uri + 3 + nlen;
			snprintf(prefix, sizeof(prefix), "/l/%.*s", (int) nlen, uri + 3);
		}
	}
	if (r == NULL)
	{
		reply_error(req, NULL, 404, "no such service here");
		goto out;
	}
	if (r->nops >= MAX_OPS_PER_ROUTE || nops >= MAX_OPS)
	{
		reply_error(req, NULL, 503, "too many requests in flight");
		goto out;
	}
	op = op_new(OP_PROXY, r);
	op->req = req;
	op->evcon = evhttp_request_get_connection(req);
	evhttp_connection_set_closecb(op->evcon, on_client_close, NULL);
	if (probe)
	{
		if (!probe_nonce_ok(probe, strlen(probe)))
		{
			op->req = NULL;
			op_free(op);
			reply_error(req, NULL, 400, "X-Lagbid-Probe must be 32 lower-case hex characters");
			goto out;
		}
		op->is_probe = true;
		snprintf(op->nonce, sizeof(op->nonce), "%s", probe);
		path = r->health_path;
		op->method = xstrdup("GET");
	}
	else
	{
		switch (evhttp_request_get_command(req))
		{
			case EVHTTP_REQ_GET:
				method = "GET";
				break;
			case EVHTTP_REQ_POST:
				method = "POST";
				break;
			case EVHTTP_REQ_HEAD:
				method = "HEAD";
				break;
			case EVHTTP_REQ_PUT:
				method = "PUT";
				break;
			case EVHTTP_REQ_DELETE:
				method = "DELETE";
				break;
			case EVHTTP_REQ_OPTIONS:
				method = "OPTIONS";
				break;
			case EVHTTP_REQ_PATCH:
				method = "PATCH";
				break;
			default:
				op->req = NULL;
				op_free(op);
				reply_error(req, NULL, 405, "method not proxied");
				goto out;
		}
		op->method = xstrdup(method);
		if (path[0] == '\0' || path[0] == '?')
		{
			/* "/l/NAME" or "/l/NAME?q": the app's root */
			size_t		n = strlen(path) + 2;
			char	   *p = xmalloc(n);

			snprintf(p, n, "/%s", path);
			op->url = p;
		}
		{
			struct evbuffer *body = evhttp_request_get_input_buffer(req);
			size_t		blen = evbuffer_get_length(body);

			if (blen > 0)
			{
				op->body = xmalloc(blen);
				evbuffer_remove(body, op->body, blen);
				op->body_len = blen;
			}
		}
		/* the client's headers but the hop-by-hop ones */
		for (struct evkeyval *h = in->tqh_first; h; h = h->next.tqe_next)
			if (!hop_by_hop(h->key))
				header_list_add(op, h->key, h->value);
		if (evhttp_find_header(in, "Accept") == NULL)
			op->hdrs = curl_slist_append(op->hdrs, "Accept:");
		if (evhttp_find_header(in, "Content-Type") == NULL)
			op->hdrs = curl_slist_append(op->hdrs, "Content-Type:");
		if (host)
		{
			header_list_add(op, "Host", host);
			header_list_add(op, "X-Forwarded-Host", host);
		}
		if (prefix[0])
			header_list_add(op, "X-Forwarded-Prefix", prefix);
		{
			char	   *peer = NULL;
			ev_uint16_t pport = 0;

			evhttp_connection_get_peer(op->evcon, &peer, &pport);
			if (peer)
				header_list_add(op, "X-Forwarded-For", peer);
		}
	}
	op->hdrs = curl_slist_append(op->hdrs, "Expect:");
	{
		const char *p = op->url ? op->url : path;
		size_t		n = strlen(p) + 32;
		char	   *u = xmalloc(n);

		snprintf(u, n, "http://127.0.0.1:%d%s", r->port, p);
		free(op->url);
		op->url = u;
	}
	request_socket(op);
out:
	unlock();
}

/* ---- housekeeping: commands from the main loop, health checks ---- */

static void
apply_commands(void)
{
	for (int i = 0; i < nroutes; i++)
	{
		Route	   *r = routes[i];

		if (r->removed)
		{
			detach_fd(r);
			/* ops still running keep no pointer to a freed route */
			for (Op *op = ops; op; op = op->next)
				if (op->route == r)
				{
					if (op->kind == OP_HEALTH)
						op->route = NULL;
					else if (op->kind == OP_PROXY && op->easy == NULL)
						op->route = NULL;
				}
			{
				bool		busy = false;

				for (Op *op = ops; op; op = op->next)
					if (op->route == r)
						busy = true;
				if (busy)
					continue;	/* the next turn frees it */
			}
			free(r);
			routes[i] = routes[--nroutes];
			i--;
			continue;
		}
		if (r->new_fd >= 0)
		{
			detach_fd(r);
			r->fd = r->new_fd;
			r->new_fd = -1;
			r->ns_ino = 0;
			r->health_status = 0;
			r->health_at = 0;
			r->health_next = now_seconds() + 0.2;
			r->ev = event_new(base, r->fd, EV_READ | EV_PERSIST, on_helper, r);
			event_add(r->ev, NULL);
		}
	}
}

static void
on_command(evutil_socket_t fd, short what, void *arg)
{
	lock();
	apply_commands();
	unlock();
}

static void
on_tick(evutil_socket_t fd, short what, void *arg)
{
	double		now = now_seconds();

	lock();
	apply_commands();
	for (int i = 0; i < nroutes; i++)
	{
		Route	   *r = routes[i];

		if (r->removed || r->fd < 0 || r->health_busy || now < r->health_next || r->ns_ino == 0)
			continue;
		r->health_busy = true;
		{
			Op		   *op = op_new(OP_HEALTH, r);

			op->method = xstrdup("GET");
			request_socket(op);
		}
	}
	unlock();
}

static void *
proxy_main(void *arg)
{
	event_base_dispatch(base);
	return NULL;
}

int
proxy_start(const Config *c, const char *key_dir, const char *dom, char *err, size_t errlen)
{
	char		addr[64];
	char	   *colon;
	struct evhttp_bound_socket *bs;
	pthread_mutexattr_t ma;
	sigset_t	all,
				old;
	struct timeval second = {0, 250000};

	if (running)
		return 0;
	pthread_mutexattr_init(&ma);
	pthread_mutexattr_settype(&ma, PTHREAD_MUTEX_RECURSIVE);
	pthread_mutex_init(&plock, &ma);
	if (key_dir && (signer = keys_signer_load(key_dir, err, errlen)) == NULL)
		return -1;
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != 0 || evthread_use_pthreads() != 0 ||
		(base = event_base_new()) == NULL || (http = evhttp_new(base)) == NULL ||
		(multi = curl_multi_init()) == NULL)
	{
		snprintf(err, errlen, "could not set up the front proxy's libraries");
		return -1;
	}
	snprintf(domain, sizeof(domain), "%s", dom ? dom : "");
	max_response = c->proxy_max_response_bytes;
	timeout_s = c->proxy_timeout_s;
	probe_timeout_ms = c->probe_timeout_ms;
	allow_private = c->probe_allow_private;
	snprintf(addr, sizeof(addr), "%s", c->proxy_listen);
	colon = strrchr(addr, ':');
	if (colon == NULL)
	{
		snprintf(err, errlen, "service.proxy_listen \"%s\" has no port", c->proxy_listen);
		return -1;
	}
	*colon = '\0';
	evhttp_set_max_headers_size(http, MAX_HEADERS_BYTES);
	evhttp_set_max_body_size(http, c->proxy_max_body_bytes);
	evhttp_set_timeout(http, c->proxy_timeout_s);
	evhttp_set_allowed_methods(http, EVHTTP_REQ_GET | EVHTTP_REQ_POST | EVHTTP_REQ_HEAD |
							   EVHTTP_REQ_PUT | EVHTTP_REQ_DELETE | EVHTTP_REQ_OPTIONS |
							   EVHTTP_REQ_PATCH);
	evhttp_set_gencb(http, on_request, NULL);
	bs = evhttp_bind_socket_with_handle(http, addr, (ev_uint16_t) atoi(colon + 1));
	if (bs == NULL)
	{
		snprintf(err, errlen, "the front proxy could not listen on %s: %s", c->proxy_listen, strerror(errno));
		return -1;
	}
	{
		struct sockaddr_in sa;
		socklen_t	sl = sizeof(sa);

		if (getsockname(evhttp_bound_socket_get_fd(bs), (struct sockaddr *) &sa, &sl) == 0)
			bound_port = ntohs(sa.sin_port);
	}
	curl_timer = evtimer_new(base, on_curl_timer, NULL);
	cmd_ev = event_new(base, -1, 0, on_command, NULL);
	tick_ev = event_new(base, -1, EV_PERSIST, on_tick, NULL);
	evtimer_add(tick_ev, &second);
	curl_multi_setopt(multi, CURLMOPT_SOCKETFUNCTION, curl_socket_cb);
	curl_multi_setopt(multi, CURLMOPT_TIMERFUNCTION, curl_timer_cb);
	/* signals stay with the main loop */
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &old);
	if (pthread_create(&pthread, NULL, proxy_main, NULL) != 0)
	{
		pthread_sigmask(SIG_SETMASK, &old, NULL);
		snprintf(err, errlen, "could not start the front proxy's thread");
		return -1;
	}
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	running = true;
	log_info("proxy", "front proxy listening on %s:%d (services by Host *.%s and by path /l/NAME/)",
			 addr, bound_port, domain[0] ? domain : "(no domain)");
	return 0;
}

int
proxy_port(void)
{
	return bound_port;
}

void
proxy_set_domain(const char *dom)
{
	if (!running)
		return;
	lock();
	snprintf(domain, sizeof(domain), "%s", dom ? dom : "");
	unlock();
}

static void
wake(void)
{
	event_active(cmd_ev, EV_READ, 0);
}

/* add a route, or give it the socket of a fresh sandbox (fd: the proxy's now) */
void
proxy_route_set(const char *name, int port, const char *health_path, int expected_status, int fd)
{
	Route	   *r;

	if (!running)
	{
		close(fd);
		return;
	}
	lock();
	r = find_route(name, strlen(name));
	if (r == NULL)
	{
		if (nroutes >= MAX_ROUTES)
		{
			unlock();
			close(fd);
			log_warning("proxy", "service %s not routed: %d routes already", name, MAX_ROUTES);
			return;
		}
		r = xcalloc(1, sizeof(Route));
		snprintf(r->name, sizeof(r->name), "%s", name);
		r->fd = -1;
		r->new_fd = -1;
		routes[nroutes++] = r;
	}
	r->port = port;
	snprintf(r->health_path, sizeof(r->health_path), "%s", health_path);
	r->expected_status = expected_status;
	if (r->new_fd >= 0)
		close(r->new_fd);
	r->new_fd = fd;
	unlock();
	wake();
}

void
proxy_route_remove(const char *name)
{
	Route	   *r;

	if (!running)
		return;
	lock();
	r = find_route(name, strlen(name));
	if (r)
	{
		r->removed = true;
		if (r->new_fd >= 0)
			close(r->new_fd);
		r->new_fd = -1;
	}
	unlock();
	wake();
}

/* the route's last health check; false when there is no such route */
bool
proxy_route_status(const char *name, int *health_status, double *health_at, unsigned long *ns_ino)
{
	Route	   *r;
	bool		found = false;

	if (!running)
		return false;
	lock();
	r = find_route(name, strlen(name));
	if (r)
	{
		found = true;
		*health_status = r->health_status;
		*health_at = r->health_at;
		*ns_ino = r->ns_ino;
	}
	unlock();
	return found;
}

/* start a probe (url and nonce checked by the caller); false when full */
bool
proxy_probe_submit(long long probe_id, const char *url, const char *nonce)
{
	Op		   *op;
	CURL	   *e;
	char		hdr[64];

	if (!running)
		return false;
	lock();
	if (nprobes + nresults >= MAX_PROBES || nops >= MAX_OPS || (e = curl_easy_init()) == NULL)
	{
		unlock();
		return false;
	}
	op = op_new(OP_PROBE, NULL);
	op->probe_id = probe_id;
	op->easy = e;
	op->url = xstrdup(url);
	snprintf(hdr, sizeof(hdr), "X-Lagbid-Probe: %s", nonce);
	op->hdrs = curl_slist_append(NULL, hdr);
	curl_easy_setopt(e, CURLOPT_URL, op->url);
	curl_easy_setopt(e, CURLOPT_PRIVATE, op);
	curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(e, CURLOPT_PROXY, "");
	curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(e, CURLOPT_FORBID_REUSE, 1L);
	curl_easy_setopt(e, CURLOPT_OPENSOCKETFUNCTION, open_checked);
	curl_easy_setopt(e, CURLOPT_OPENSOCKETDATA, op);
	curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, (long) probe_timeout_ms);
	curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(e, CURLOPT_WRITEDATA, op);
	curl_easy_setopt(e, CURLOPT_HTTPHEADER, op->hdrs);
	curl_easy_setopt(e, CURLOPT_USERAGENT, "lagbid-agent-prober/" AGENT_VERSION);
	if (curl_multi_add_handle(multi, e) != CURLM_OK)
	{
		op_free(op);
		unlock();
		return false;
	}
	nprobes++;
	unlock();
	/* the new handle's first timer is set from this thread: wake the loop */
	wake();
	return true;
}

/* the finished probes, at most max; they are forgotten here */
int
proxy_probe_results(ProbeResult *out, int max)
{
	int			n;

	if (!running)
		return 0;
	lock();
	n = nresults < max ? nresults : max;
	memcpy(out, results, n * sizeof(ProbeResult));
	memmove(results, results + n, (nresults - n) * sizeof(ProbeResult));
	nresults -= n;
	unlock();
	return n;
}

bool
proxy_probe_busy(long long probe_id)
{
	bool		busy = false;

	if (!running)
		return false;
	lock();
	for (Op *op = ops; op; op = op->next)
		if (op->kind == OP_PROBE && op->probe_id == probe_id)
			busy = true;
	for (int i = 0; i < nresults; i++)
		if (results[i].probe_id == probe_id)
			busy = true;
	unlock();
	return busy;
}
