/*-------------------------------------------------------------------------
 *
 * keys.c
 *	  The node's identity: an Ed25519 key kept in DIR/node.key (PEM, mode
 *	  0600, created once and never replaced), signatures for the signed
 *	  registration, SHA-256 of results and inputs (OpenSSL 3 EVP), and what
 *	  the machine offers (cores, memory, disk) as detected at init.
 *
 *-------------------------------------------------------------------------
 */
#include "agent.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/pem.h>

#define KEY_FILE "node.key"

static EVP_PKEY *
load_key(const char *dir, char *err, size_t errlen)
{
	char		path[4096];
	struct stat st;
	FILE	   *f;
	EVP_PKEY   *pkey;

	snprintf(path, sizeof(path), "%s/%s", dir, KEY_FILE);
	if (stat(path, &st) != 0)
	{
		snprintf(err, errlen, "could not stat \"%s\": %s", path, strerror(errno));
		return NULL;
	}
	if (st.st_mode & 077)
	{
		snprintf(err, errlen, "key file \"%s\" has group or other permissions (must be 0600)", path);
		return NULL;
	}
	f = fopen(path, "r");
	if (f == NULL)
	{
		snprintf(err, errlen, "could not open \"%s\": %s", path, strerror(errno));
		return NULL;
	}
	pkey = PEM_read_PrivateKey(f, NULL, NULL, NULL);
	fclose(f);
	if (pkey == NULL || EVP_PKEY_get_id(pkey) != EVP_PKEY_ED25519)
	{
		snprintf(err, errlen, "\"%s\" does not hold an Ed25519 private key", path);
		EVP_PKEY_free(pkey);
		return NULL;
	}
	return pkey;
}

/*
 * Load DIR/node.key, or create it when missing (created = true).  Returns
 * the raw 32-byte public key.
 */
int
keys_load_or_create(const char *dir, unsigned char pub[32], bool *created,
					char *err, size_t errlen)
{
	char		path[4096];
	EVP_PKEY   *pkey = NULL;
	size_t		publen = 32;

	*created = false;
	snprintf(path, sizeof(path), "%s/%s", dir, KEY_FILE);
	if (access(path, F_OK) != 0)
	{
		EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_id(EVP_PKEY_ED25519, NULL);
		int			fd;
		FILE	   *f;

		if (ctx == NULL || EVP_PKEY_keygen_init(ctx) <= 0 || EVP_PKEY_keygen(ctx, &pkey) <= 0)
		{
			EVP_PKEY_CTX_free(ctx);
			snprintf(err, errlen, "could not generate an Ed25519 key");
			return -1;
		}
		EVP_PKEY_CTX_free(ctx);
		fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
		if (fd < 0 || (f = fdopen(fd, "w")) == NULL)
		{
			snprintf(err, errlen, "could not create \"%s\": %s", path, strerror(errno));
			if (fd >= 0)
				close(fd);
			EVP_PKEY_free(pkey);
			return -1;
		}
		if (!PEM_write_PrivateKey(f, pkey, NULL, NULL, 0, NULL, NULL) ||
			fflush(f) != 0 || fsync(fd) != 0)
		{
			fclose(f);
			unlink(path);
			snprintf(err, errlen, "could not write \"%s\"", path);
			EVP_PKEY_free(pkey);
			return -1;
		}
		fclose(f);
		*created = true;
	}
	else if ((pkey = load_key(dir, err, errlen)) == NULL)
		return -1;
	if (EVP_PKEY_get_raw_public_key(pkey, pub, &publen) <= 0 || publen != 32)
	{
		snprintf(err, errlen, "could not read the public key");
		EVP_PKEY_free(pkey);
		return -1;
	}
	EVP_PKEY_free(pkey);
	return 0;
}

int
keys_sign(const char *dir, const unsigned char *msg, size_t len,
		  unsigned char sig[64], char *err, size_t errlen)
{
	EVP_PKEY   *pkey = load_key(dir, err, errlen);
	EVP_MD_CTX *md;
	size_t		siglen = 64;
	int			rc = -1;

	if (pkey == NULL)
		return -1;
	md = EVP_MD_CTX_new();
	if (md && EVP_DigestSignInit(md, NULL, NULL, NULL, pkey) > 0 &&
		EVP_DigestSign(md, sig, &siglen, msg, len) > 0 && siglen == 64)
		rc = 0;
	else
		snprintf(err, errlen, "could not sign with the node key");
	EVP_MD_CTX_free(md);
	EVP_PKEY_free(pkey);
	return rc;
}

static void
to_hex(const unsigned char *d, size_t n, char *out)
{
	static const char hx[] = "0123456789abcdef";

	for (size_t i = 0; i < n; i++)
	{
		out[2 * i] = hx[d[i] >> 4];
		out[2 * i + 1] = hx[d[i] & 15];
	}
	out[2 * n] = '\0';
}

int
sha256_hex(const unsigned char *data, size_t len, char out[65])
{
	unsigned char md[32];
	unsigned int mdlen = 32;

	if (EVP_Digest(data, len, md, &mdlen, EVP_sha256(), NULL) <= 0)
		return -1;
	to_hex(md, 32, out);
	return 0;
}

int
sha256_file_hex(const char *path, char out[65], size_t *size_out)
{
	int			fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	EVP_MD_CTX *md;
	unsigned char buf[65536];
	unsigned char dig[32];
	unsigned int diglen = 32;
	size_t		total = 0;
	ssize_t		r;

	if (fd < 0)
		return -1;
	md = EVP_MD_CTX_new();
	if (md == NULL || EVP_DigestInit_ex(md, EVP_sha256(), NULL) <= 0)
	{
		EVP_MD_CTX_free(md);
		close(fd);
		return -1;
	}
	while ((r = read(fd, buf, sizeof(buf))) != 0)
	{
		if (r < 0)
		{
			if (errno == EINTR)
				continue;
			EVP_MD_CTX_free(md);
			close(fd);
			return -1;
		}
		EVP_DigestUpdate(md, buf, r);
		total += r;
	}
	close(fd);
	EVP_DigestFinal_ex(md, dig, &diglen);
	EVP_MD_CTX_free(md);
	to_hex(dig, 32, out);
	if (size_out)
		*size_out = total;
	return 0;
}

/* what the machine offers: online cores, total memory, free disk under dir */
void
detect_resources(const char *dir, double *cpu, double *memory_gb, double *storage_gb)
{
	long		ncpu = sysconf(_SC_NPROCESSORS_ONLN);
	long		pages = sysconf(_SC_PHYS_PAGES);
	long		pagesize = sysconf(_SC_PAGESIZE);
	struct statvfs vfs;
	FILE	   *f;

	*cpu = ncpu > 0 ? (double) ncpu : 1;
	*memory_gb = 0;
	f = fopen("/proc/meminfo", "r");
	if (f)
	{
		char		line[256];
		long long	kb;

		while (fgets(line, sizeof(line), f))
			if (sscanf(line, "MemTotal: %lld kB", &kb) == 1)
				*memory_gb = (double) (kb / (1024 * 1024));
		fclose(f);
	}
	if (*memory_gb <= 0 && pages > 0 && pagesize > 0)
		*memory_gb = (double) ((long long) pages * pagesize / (1024LL * 1024 * 1024));
	if (*memory_gb < 1)
		*memory_gb = 1;
	*storage_gb = 0;
	if (statvfs(dir, &vfs) == 0)
		*storage_gb = (double) ((unsigned long long) vfs.f_bavail * vfs.f_frsize / (1024ULL * 1024 * 1024));
}

/*
 * The node key, loaded once for a signer that signs often (the front
 * proxy's probe answers, proxy.c): an EVP_PKEY as an opaque pointer, so
 * that agent.h needs no OpenSSL header.  NULL with err.
 */
void *
keys_signer_load(const char *dir, char *err, size_t errlen)
{
	return load_key(dir, err, errlen);
}

int
keys_signer_sign(void *signer, const unsigned char *msg, size_t len, unsigned char sig[64])
{
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	size_t		siglen = 64;
	int			rc = -1;

	if (md && signer && EVP_DigestSignInit(md, NULL, NULL, NULL, (EVP_PKEY *) signer) > 0 &&
		EVP_DigestSign(md, sig, &siglen, msg, len) > 0 && siglen == 64)
		rc = 0;
	EVP_MD_CTX_free(md);
	return rc;
}

void
keys_signer_free(void *signer)
{
	EVP_PKEY_free((EVP_PKEY *) signer);
}
