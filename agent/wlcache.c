/*-------------------------------------------------------------------------
 *
 * wlcache.c
 *	  Workload bodies the agent has read and whose digest it has checked,
 *	  keyed by that digest (SHA-256 of workload::text), so that a workload
 *	  published again (a space republished every tick, replicas, a won
 *	  job) is not read twice.  Bounded: WLCACHE_ENTRIES bodies and
 *	  WLCACHE_BYTES in all; the oldest entry goes first.
 *
 *-------------------------------------------------------------------------
 */
#include "agent.h"

#include <stdlib.h>
#include <string.h>

#define WLCACHE_ENTRIES 64
#define WLCACHE_BYTES (16 * 1024 * 1024)

typedef struct CacheEntry
{
	char		sha256[65];
	char	   *body;
	size_t		len;
	unsigned long stamp;
} CacheEntry;

static CacheEntry cache[WLCACHE_ENTRIES];
static size_t cache_bytes = 0;
static unsigned long clock_stamp = 0;

static void
evict(CacheEntry *e)
{
	cache_bytes -= e->len;
	free(e->body);
	memset(e, 0, sizeof(*e));
}

const char *
wlcache_get(const char *sha256, size_t *len)
{
	for (int i = 0; i < WLCACHE_ENTRIES; i++)
		if (cache[i].body && strcmp(cache[i].sha256, sha256) == 0)
		{
			cache[i].stamp = ++clock_stamp;
			*len = cache[i].len;
			return cache[i].body;
		}
	return NULL;
}

void
wlcache_put(const char *sha256, const char *body, size_t len)
{
	size_t		dummy;
	CacheEntry *slot = NULL;

	if (len > WLCACHE_BYTES || strlen(sha256) != 64 || wlcache_get(sha256, &dummy))
		return;
	for (;;)
	{
		CacheEntry *oldest = NULL;

		slot = NULL;
		for (int i = 0; i < WLCACHE_ENTRIES; i++)
		{
			if (cache[i].body == NULL)
				slot = slot ? slot : &cache[i];
			else if (oldest == NULL || cache[i].stamp < oldest->stamp)
				oldest = &cache[i];
		}
		if (slot && cache_bytes + len <= WLCACHE_BYTES)
			break;
		evict(oldest);
	}
	memcpy(slot->sha256, sha256, 65);
	slot->body = xstrndup(body, len);
	slot->len = len;
	slot->stamp = ++clock_stamp;
	cache_bytes += len;
}

void
wlcache_clear(void)
{
	for (int i = 0; i < WLCACHE_ENTRIES; i++)
		if (cache[i].body)
			evict(&cache[i]);
}
