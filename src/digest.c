/*-------------------------------------------------------------------------
 *
 * digest.c
 *	  SHA-256 in lower-case hex, computed by PostgreSQL's own cryptohash
 *	  (OpenSSL's when the server is built with it).  Used where the
 *	  database computes a hash that others rely on: uploaded results
 *	  (results.c) and the digests that name stored workload bodies
 *	  (workload_store.c).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "common/cryptohash.h"
#include "common/sha2.h"

#include "market.h"

/* market.h */
char *
lagbid_sha256_hex(const unsigned char *data, size_t len)
{
	pg_cryptohash_ctx *ctx = pg_cryptohash_create(PG_SHA256);
	uint8		digest[PG_SHA256_DIGEST_LENGTH];
	char	   *hex = palloc(PG_SHA256_DIGEST_LENGTH * 2 + 1);
	int			i;

	if (pg_cryptohash_init(ctx) < 0 ||
		pg_cryptohash_update(ctx, data, len) < 0 ||
#if PG_VERSION_NUM >= 150000
		pg_cryptohash_final(ctx, digest, sizeof(digest)) < 0
#else
		pg_cryptohash_final(ctx, digest) < 0
#endif
		)
	{
		pg_cryptohash_free(ctx);
		elog(ERROR, "lagbid: could not compute a SHA-256 digest");
	}
	pg_cryptohash_free(ctx);
	for (i = 0; i < PG_SHA256_DIGEST_LENGTH; i++)
		sprintf(hex + 2 * i, "%02x", digest[i]);
	return hex;
}
