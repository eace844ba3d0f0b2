/*-------------------------------------------------------------------------
 *
 * endpoints.c
 *	  A lease's name and the rules of the endpoint its provider reports
 *	  (issue 21).
 *
 *	  The name is deterministic, like Akash's: the first 16 characters of
 *	  the lower-case RFC 4648 base32 (no padding) of
 *	  sha256(<market> ":" <job id>), where <market> is the market's name as
 *	  registration challenges say it (lagbid.market_name, or
 *	  "<system identifier>/<database>").
 *
 *	  An endpoint is http:// or https://, with no userinfo, and names the
 *	  lease either by host (<name>.<domain>) or by path (/l/<name>/...);
 *	  the host, or the domain under the name, is one of the hosts of the
 *	  provider's registered multiaddrs (/dns4|dns6|dns/<h>, /ip4|ip6/<h>)
 *	  or a subdomain of a DNS one.  So a provider can only point the owner
 *	  at an address it registered, and one lease's URL never names another.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "common/cryptohash.h"
#include "common/sha2.h"
#include "executor/spi.h"
#include "lib/stringinfo.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/formatting.h"

#include "lagbid.h"
#include "errors.h"
#include "leases.h"

#define MAX_ENDPOINT	2048
#define MAX_HOST		253

char *
lagbid_lease_name(int64 job_id)
{
	static const char alphabet[] = "abcdefghijklmnopqrstuvwxyz234567";
	char	   *input = psprintf("%s:%lld", lagbid_market_string(), (long long) job_id);
	uint8		digest[PG_SHA256_DIGEST_LENGTH];
	pg_cryptohash_ctx *ctx = pg_cryptohash_create(PG_SHA256);
	char	   *name = palloc(17);
	int			i;

	if (pg_cryptohash_init(ctx) < 0 ||
		pg_cryptohash_update(ctx, (uint8 *) input, strlen(input)) < 0 ||
		pg_cryptohash_final(ctx, digest, sizeof(digest)) < 0)
		elog(ERROR, "lagbid: could not compute a SHA-256 digest");
	pg_cryptohash_free(ctx);

	/* 16 characters of 5 bits: the first 80 bits of the digest */
	for (i = 0; i < 16; i++)
	{
		int			bit = i * 5;
		int			byte = bit / 8;
		int			off = bit % 8;
		unsigned	v = ((unsigned) digest[byte] << 8) | digest[byte + 1];

		name[i] = alphabet[(v >> (11 - off)) & 0x1f];
	}
	name[16] = '\0';
	return name;
}

static LagbidPlan addrs_plan = {
	"SELECT multiaddrs FROM lagbid.provider WHERE id = $1",
	1, {INT8OID}
};

/* the hosts of the provider's registered multiaddrs, lower-cased; dns marks DNS names */
static int
provider_hosts(int64 provider_id, char ***hosts, bool **dns)
{
	Datum		arg = Int64GetDatum(provider_id);
	Datum	   *elems;
	bool	   *nulls;
	int			n,
				i,
				k = 0;
	bool		isnull;
	MemoryContext caller = CurrentMemoryContext;

	lagbid_connect();
	lagbid_exec(&addrs_plan, &arg, NULL, false, 1);
	if (SPI_processed != 1)
	{
		lagbid_finish();
		return 0;
	}
	{
		Datum		d = lagbid_result_datum(0, 1, &isnull);
		MemoryContext spi = MemoryContextSwitchTo(caller);

		deconstruct_array(DatumGetArrayTypePCopy(d), TEXTOID, -1, false, TYPALIGN_INT,
						  &elems, &nulls, &n);
		MemoryContextSwitchTo(spi);
	}
	lagbid_finish();

	*hosts = palloc(sizeof(char *) * (n + 1));
	*dns = palloc(sizeof(bool) * (n + 1));
	for (i = 0; i < n; i++)
	{
		char	   *a = TextDatumGetCString(elems[i]);
		char	   *proto,
				   *host,
				   *end;

		if (nulls[i] || a[0] != '/')
			continue;
		proto = a + 1;
		host = strchr(proto, '/');
		if (host == NULL)
			continue;
		*host++ = '\0';
		end = strchr(host, '/');
		if (end)
			*end = '\0';
		if (strcmp(proto, "dns4") != 0 && strcmp(proto, "dns6") != 0 &&
			strcmp(proto, "dns") != 0 && strcmp(proto, "ip4") != 0 &&
			strcmp(proto, "ip6") != 0)
			continue;
		(*hosts)[k] = asc_tolower(host, strlen(host));
		(*dns)[k] = proto[0] == 'd';
		k++;
	}
	return k;
}

/* host equals a registered host, or (DNS) ends with "." + one */
static bool
served_host(const char *host, char **hosts, bool *dns, int n)
{
	int			i;
	size_t		len = strlen(host);

	for (i = 0; i < n; i++)
	{
		size_t		hl = strlen(hosts[i]);

		if (strcmp(host, hosts[i]) == 0)
			return true;
		if (dns[i] && len > hl + 1 && host[len - hl - 1] == '.' &&
			strcmp(host + len - hl, hosts[i]) == 0)
			return true;
	}
	return false;
}

static void
refuse_url(const char *url, const char *rule)
{
	lagbid_raise(LB_INVALID_ENDPOINT, NULL,
				 "Report http(s)://<lease>.<your domain>/ or http(s)://<your host>/l/<lease>/ (docs/0.4/spaces.md).",
				 "endpoint \"%.200s\" %s", url, rule);
}

void
lagbid_check_endpoint(const char *url, const char *lease_name, int64 provider_id)
{
	size_t		len = strlen(url);
	const char *auth,
			   *auth_end,
			   *path;
	char	   *host;
	char	   *prefix;
	char	   *domain = NULL;
	char	  **hosts;
	bool	   *dns;
	int			nhosts,
				i;
	size_t		hlen;

	if (len > MAX_ENDPOINT)
		refuse_url(url, "is longer than 2048 bytes");
	for (i = 0; i < (int) len; i++)
		if ((unsigned char) url[i] <= 0x20 || (unsigned char) url[i] >= 0x7f)
			refuse_url(url, "must be printable ASCII without spaces");
	if (strncmp(url, "http://", 7) == 0)
		auth = url + 7;
	else if (strncmp(url, "https://", 8) == 0)
		auth = url + 8;
	else
		refuse_url(url, "must start with http:// or https://");

	auth_end = auth + strcspn(auth, "/?#");
	path = auth_end;
	if (memchr(auth, '@', auth_end - auth) != NULL)
		refuse_url(url, "must not carry userinfo (user@)");
	if (auth_end == auth)
		refuse_url(url, "has no host");

	/* host[:port]; an IPv6 host in brackets */
	if (auth[0] == '[')
	{
		const char *close = memchr(auth, ']', auth_end - auth);

		if (close == NULL)
			refuse_url(url, "has an unclosed [ in its host");
		host = pnstrdup(auth + 1, close - auth - 1);
		auth = close + 1;
	}
	else
	{
		const char *colon = memchr(auth, ':', auth_end - auth);

		host = pnstrdup(auth, (colon ? colon : auth_end) - auth);
		auth = colon ? colon : auth_end;
	}
	if (auth < auth_end)
	{
		const char *p;

		if (*auth != ':' || auth + 1 == auth_end || auth_end - auth > 6)
			refuse_url(url, "has a bad port");
		for (p = auth + 1; p < auth_end; p++)
			if (*p < '0' || *p > '9')
				refuse_url(url, "has a bad port");
		if (atoi(auth + 1) < 1 || atoi(auth + 1) > 65535)
			refuse_url(url, "has a port outside 1..65535");
	}
	hlen = strlen(host);
	if (hlen == 0 || hlen > MAX_HOST)
		refuse_url(url, "has an empty or too long host");
	host = asc_tolower(host, hlen);

	/* which way it names the lease */
	prefix = psprintf("%s.", lease_name);
	if (strncmp(host, prefix, strlen(prefix)) == 0 && hlen > strlen(prefix))
		domain = host + strlen(prefix);
	else
	{
		char	   *lpath = psprintf("/l/%s/", lease_name);

		if (strncmp(path, lpath, strlen(lpath)) != 0)
			lagbid_raise(LB_INVALID_ENDPOINT, NULL,
						 psprintf("Use the host %s.<your domain> or the path /l/%s/.",
								  lease_name, lease_name),
						 "endpoint \"%.200s\" does not name lease %s by host or path",
						 url, lease_name);
		domain = host;
	}

	nhosts = provider_hosts(provider_id, &hosts, &dns);
	if (!served_host(domain, hosts, dns, nhosts))
	{
		StringInfoData list;

		initStringInfo(&list);
		for (i = 0; i < nhosts; i++)
			appendStringInfo(&list, "%s%s", i ? ", " : "", hosts[i]);
		lagbid_raise(LB_ENDPOINT_NOT_SERVED,
					 psprintf("The provider's registered hosts: %s.",
							  nhosts == 0 ? "none" : list.data),
					 "Register the address you serve from (lagbid_api.register_provider) or report a URL on it.",
					 "endpoint \"%.200s\" is on host \"%s\", which is not one of the provider's registered hosts nor below one",
					 url, domain);
	}
}
