/*-------------------------------------------------------------------------
 *
 * unit_test.c
 *	  Unit tests of lagbid-agent's pure parts, printing TAP: the JSON
 *	  reader and the workload parser (valid, every rule broken, hostile
 *	  bytes), base64, base58 and the peer id against known vectors, the
 *	  node key (mode 0600, kept, signatures verify), the price policy (each
 *	  decline reason, clamping, the external price script) and the config
 *	  file.  Built with AddressSanitizer and UBSan when available.
 *
 *-------------------------------------------------------------------------
 */
#include "agent.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>

static int	ntest = 0;
static int	nfail = 0;

static void
ok(bool cond, const char *fmt,...)
	__attribute__((format(printf, 2, 3)));

static void
ok(bool cond, const char *fmt,...)
{
	va_list		ap;

	ntest++;
	printf("%sok %d - ", cond ? "" : "not ", ntest);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	if (!cond)
		nfail++;
}

static bool
wl_ok(const char *json)
{
	Workload	wl;
	char		err[256];
	int			rc = workload_parse(json, strlen(json), &wl, err, sizeof(err));

	if (rc == 0)
		workload_free(&wl);
	return rc == 0;
}

/* the workload is refused and the error mentions want */
static bool
wl_refused(const char *json, const char *want)
{
	Workload	wl;
	char		err[256] = "";
	int			rc = workload_parse(json, strlen(json), &wl, err, sizeof(err));

	if (rc == 0)
	{
		workload_free(&wl);
		printf("# accepted: %s\n", json);
		return false;
	}
	if (want && strstr(err, want) == NULL)
	{
		printf("# error \"%s\" lacks \"%s\"\n", err, want);
		return false;
	}
	return true;
}

static char *
repeat(char c, size_t n)
{
	char	   *s = malloc(n + 1);

	memset(s, c, n);
	s[n] = '\0';
	return s;
}

static void
test_json(void)
{
	char		err[256];
	json_t	   *v;
	char	   *deep;
	const char *bad[] = {"", "{", "[1,]", "{\"a\":}", "{\"a\" 1}", "\"abc", "tru", "01",
		"1.", "-", "1e", "\"\\x\"", "\"\\ud800\"", "\"\\udc00x\"", "[1 2]", "{} {}",
	"\"a\nb\"", "{1:2}", "nul", "[\"\\u12\"]", "\"\\u0000\"", "\"\xff\""};

	{
		const char *doc = "{\"a\": [1, -2.5e3, true, false, null, \"x\\u00e9\\ud83d\\ude00\\n\"]}";

		v = json_read(doc, strlen(doc), JSON_MAX_INPUT, err, sizeof(err));
	}
	ok(v && json_is_object(v) && json_array_size(json_object_get(v, "a")) == 6,
	   "json: a nested document parses (jansson)");
	if (v)
	{
		const json_t *a = json_object_get(v, "a");

		ok(json_number_value(json_array_get(a, 1)) == -2500, "json: numbers");
		ok(strcmp(json_string_value(json_array_get(a, 5)), "x\xc3\xa9\xf0\x9f\x98\x80\n") == 0,
		   "json: escapes and surrogate pairs decode to UTF-8");
	}
	json_decref(v);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
	{
		v = json_read(bad[i], strlen(bad[i]), JSON_MAX_INPUT, err, sizeof(err));
		ok(v == NULL && strstr(err, "invalid JSON") != NULL, "json: malformed document %zu is refused (%s)", i, err);
		json_decref(v);
	}
	deep = malloc(200001);
	memset(deep, '[', 100000);
	memset(deep + 100000, ']', 100000);
	deep[200000] = '\0';
	v = json_read(deep, 200000, JSON_MAX_INPUT, err, sizeof(err));
	ok(v == NULL && strstr(err, "invalid JSON"), "json: 100000 nested arrays are refused, no stack overflow (%s)", err);
	free(deep);
	v = json_read(NULL, 0, JSON_MAX_INPUT, err, sizeof(err));
	ok(v == NULL, "json: NULL input is refused");
	v = json_read("[1, 2]", 6, 5, err, sizeof(err));
	ok(v == NULL && strstr(err, "over the limit"), "json: a document over the size cap is refused unread (%s)", err);
	v = json_read("{\"a\":1,\"a\":2}", 13, JSON_MAX_INPUT, err, sizeof(err));
	ok(v && json_integer_value(json_object_get(v, "a")) == 2, "json: the last duplicate member wins, as in jsonb");
	json_decref(v);
}

static void
test_workload(void)
{
	Workload	wl;
	char		err[256];
	char		buf[20000];
	char	   *big;
	const char *full =
		"{\"command\": [\"sh\", \"-c\", \"echo hi\"], \"env\": {\"A_1\": \"v\", \"_b\": \"\"},"
		" \"inputs\": [{\"path\": \"in/a.txt\", \"content_base64\": \"aGVsbG8=\"},"
		" {\"path\": \"b\", \"uri\": \"file:///tmp/x\", \"sha256\": \"abcdef0123456789abcdef0123456789abcdef0123456789abcdef0123456789\"}],"
		" \"timeout_s\": 30, \"output\": \"out/result.txt\"}";

	ok(workload_parse(full, strlen(full), &wl, err, sizeof(err)) == 0, "workload: the full example parses (%s)", err);
	ok(wl.argc == 3 && strcmp(wl.argv[2], "echo hi") == 0 && wl.argv[3] == NULL, "workload: argv");
	ok(wl.nenv == 2 && strcmp(wl.env_names[0], "A_1") == 0, "workload: env");
	ok(wl.ninputs == 2 && wl.inputs[0].content_len == 5 && memcmp(wl.inputs[0].content, "hello", 5) == 0,
	   "workload: content_base64 decoded");
	ok(strcmp(wl.inputs[1].sha256, "abcdef0123456789abcdef0123456789abcdef0123456789abcdef0123456789") == 0,
	   "workload: sha256 kept");
	ok(wl.timeout_s == 30 && strcmp(wl.output, "out/result.txt") == 0, "workload: timeout and output");
	workload_free(&wl);
	ok(workload_parse("{\"command\": [\"true\"]}", 21, &wl, err, sizeof(err)) == 0 &&
	   wl.timeout_s == 600 && wl.output == NULL, "workload: defaults (timeout 600, stdout)");
	workload_free(&wl);
	ok(wl_ok("{\"command\": [\"true\"], \"output\": \"stdout\"}"), "workload: output stdout");

	ok(wl_refused("[]", "not a JSON object"), "workload: not an object");
	ok(wl_refused("{}", "command"), "workload: no command");
	ok(wl_refused("{\"command\": []}", "1 to 64"), "workload: empty command");
	ok(wl_refused("{\"command\": \"ls\"}", "command array"), "workload: command not an array");
	ok(wl_refused("{\"command\": [1]}", "not a string"), "workload: command element not a string");
	ok(wl_refused("{\"command\": [\"\"]}", "must not be empty"), "workload: empty argument");
	ok(wl_refused("{\"command\": [\"a\\u0000b\"]}", "invalid JSON"), "workload: NUL byte in an argument (refused by the parser, as by jsonb)");
	big = repeat('x', 4097);
	snprintf(buf, sizeof(buf), "{\"command\": [\"%s\"]}", big);
	ok(wl_refused(buf, "longer than"), "workload: argument of 4097 bytes");
	big[4096] = '\0';
	snprintf(buf, sizeof(buf), "{\"command\": [\"%s\"]}", big);
	ok(wl_ok(buf), "workload: argument of 4096 bytes");
	free(big);
	{
		size_t		n = snprintf(buf, sizeof(buf), "{\"command\": [");

		for (int i = 0; i < 65; i++)
			n += snprintf(buf + n, sizeof(buf) - n, "%s\"a\"", i ? "," : "");
		snprintf(buf + n, sizeof(buf) - n, "]}");
		ok(wl_refused(buf, "1 to 64"), "workload: 65 arguments");
	}
	ok(wl_refused("{\"command\": [\"a\"], \"nope\": 1}", "unknown key"), "workload: unknown top-level key");
	ok(wl_refused("{\"command\": [\"a\"], \"env\": {\"1A\": \"x\"}}", "variable name"), "workload: env name starting with a digit");
	ok(wl_refused("{\"command\": [\"a\"], \"env\": {\"A-B\": \"x\"}}", "variable name"), "workload: env name with a dash");
	ok(wl_refused("{\"command\": [\"a\"], \"env\": {\"\": \"x\"}}", "variable name"), "workload: empty env name");
	ok(wl_refused("{\"command\": [\"a\"], \"env\": {\"A\": 1}}", "string"), "workload: env value not a string");
	ok(wl_refused("{\"command\": [\"a\"], \"env\": []}", "not an object"), "workload: env not an object");
	{
		size_t		n = snprintf(buf, sizeof(buf), "{\"command\": [\"a\"], \"env\": {");

		for (int i = 0; i < 65; i++)
			n += snprintf(buf + n, sizeof(buf) - n, "%s\"V%d\": \"x\"", i ? "," : "", i);
		snprintf(buf + n, sizeof(buf) - n, "}}");
		ok(wl_refused(buf, "more than 64"), "workload: 65 env variables");
	}
	{
		const char *paths[] = {"/etc/passwd", "../x", "a/../../x", ".", "a/./b", "", "a//b", "a/",
		"a\\u0001b", "a\\nb", "a\\u007f"};

		for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++)
		{
			snprintf(buf, sizeof(buf), "{\"command\": [\"a\"], \"inputs\": [{\"path\": \"%s\", \"content_base64\": \"\"}]}", paths[i]);
			ok(wl_refused(buf, "path"), "workload: hostile input path \"%s\" refused", paths[i]);
		}
	}
	big = repeat('p', 256);
	snprintf(buf, sizeof(buf), "{\"command\": [\"a\"], \"inputs\": [{\"path\": \"%s\", \"content_base64\": \"\"}]}", big);
	ok(wl_refused(buf, "255"), "workload: input path of 256 bytes");
	free(big);
	ok(wl_refused("{\"command\": [\"a\"], \"inputs\": [{\"path\": \"a\", \"content_base64\": \"!!!\"}]}", "base64"), "workload: invalid base64");
	ok(wl_refused("{\"command\": [\"a\"], \"inputs\": [{\"path\": \"a\", \"content_base64\": \"aGVsbG8=\", \"uri\": \"file:///x\"}]}", "both"), "workload: content and uri together");
	ok(wl_refused("{\"command\": [\"a\"], \"inputs\": [{\"path\": \"a\"}]}", "content_base64 or uri"), "workload: input without content");
	ok(wl_refused("{\"command\": [\"a\"], \"inputs\": [{\"path\": \"a\", \"uri\": \"ftp://x\", \"sha256\": \"0000000000000000000000000000000000000000000000000000000000000000\"}]}", "must start with"), "workload: ftp uri");
	ok(wl_refused("{\"command\": [\"a\"], \"inputs\": [{\"path\": \"a\", \"uri\": \"file:///x\"}]}", "sha256"), "workload: uri without sha256");
	ok(wl_refused("{\"command\": [\"a\"], \"inputs\": [{\"path\": \"a\", \"uri\": \"file:///x\", \"sha256\": \"abc\"}]}", "sha256"), "workload: short sha256");
	ok(wl_refused("{\"command\": [\"a\"], \"inputs\": [{\"path\": \"a\", \"uri\": \"file:///x\", \"sha256\": \"ABCDEF0123456789abcdef0123456789abcdef0123456789abcdef0123456789\"}]}", "lower-case"), "workload: upper-case sha256 refused, as the market refuses it");
	ok(wl_refused("{\"command\": [\"a\"], \"inputs\": [{\"path\": \"a\", \"content_base64\": \"QR==\"}]}", "canonical"), "workload: non-canonical base64 QR== refused, as the market refuses it");
	ok(wl_refused("{\"command\": [\"a\"], \"inputs\": [{\"path\": \"a\\\\b\", \"content_base64\": \"\"}]}", "backslash"), "workload: backslash in a path refused, as the market refuses it");
	{
		const char *loader[] = {"LD_PRELOAD", "LD_LIBRARY_PATH", "LD_AUDIT", "ld_preload", "GCONV_PATH", "LOCPATH",
		"MALLOC_CHECK_", "MALLOC_ARENA_MAX", "HOSTALIASES", "GLIBC_TUNABLES", "NLSPATH", "RES_OPTIONS", "TZDIR"};

		for (size_t i = 0; i < sizeof(loader) / sizeof(loader[0]); i++)
		{
			snprintf(buf, sizeof(buf), "{\"command\": [\"a\"], \"env\": {\"%s\": \"/tmp/x.so\"}}", loader[i]);
			ok(wl_refused(buf, loader[i]) && wl_refused(buf, "dynamic loader"), "workload: env %s refused, naming it", loader[i]);
		}
		ok(wl_ok("{\"command\": [\"a\"], \"env\": {\"LANG\": \"C\", \"PYTHONHASHSEED\": \"0\", \"OLD_PRELOAD\": \"x\"}}"),
		   "workload: ordinary env names pass");
	}
	ok(wl_refused("{\"command\": [\"a\"], \"inputs\": [{\"path\": \"a\", \"content_base64\": \"\", \"mode\": 1}]}", "unknown key"), "workload: unknown input key");
	ok(wl_refused("{\"command\": [\"a\"], \"inputs\": [{\"path\": \"a\", \"content_base64\": \"\"}, {\"path\": \"a\", \"content_base64\": \"\"}]}", "repeats"), "workload: duplicate input paths");
	ok(wl_refused("{\"command\": [\"a\"], \"inputs\": [1]}", "not an object"), "workload: input not an object");
	{
		/* 1 MiB + 3 bytes of content */
		size_t		enc = (1048579 + 2) / 3 * 4;
		char	   *doc = malloc(enc + 200);
		size_t		n = sprintf(doc, "{\"command\": [\"a\"], \"inputs\": [{\"path\": \"a\", \"content_base64\": \"");

		memset(doc + n, 'A', enc);
		n += enc;
		sprintf(doc + n, "\"}]}");
		ok(wl_refused(doc, "more than 1048576"), "workload: input content over 1 MiB");
		free(doc);
	}
	ok(wl_refused("{\"command\": [\"a\"], \"timeout_s\": 0}", "timeout_s"), "workload: timeout 0");
	ok(wl_refused("{\"command\": [\"a\"], \"timeout_s\": 86401}", "timeout_s"), "workload: timeout 86401");
	ok(wl_refused("{\"command\": [\"a\"], \"timeout_s\": 1.5}", "timeout_s"), "workload: fractional timeout");
	ok(wl_refused("{\"command\": [\"a\"], \"timeout_s\": \"10\"}", "timeout_s"), "workload: timeout as a string");
	ok(wl_refused("{\"command\": [\"a\"], \"timeout_s\": 1e400}", "invalid JSON"), "workload: timeout overflowing a double (refused by the parser)");
	ok(wl_refused("{\"command\": [\"a\"], \"output\": \"../x\"}", "output"), "workload: output escaping the work dir");
	ok(wl_refused("{\"command\": [\"a\"], \"output\": \"/etc/passwd\"}", "output"), "workload: absolute output");
	ok(wl_refused("{\"command\": [\"a\"], \"output\": 5}", "output"), "workload: output not a string");
	ok(wl_refused("{\"command\": [\"a\"]", "invalid JSON"), "workload: truncated JSON");
}

/* hostile bytes: mutations of valid workloads, under ASan */
static void
test_hostile(void)
{
	const char *seeds[] = {
		"{\"command\": [\"sh\", \"-c\", \"echo hi\"], \"env\": {\"A\": \"v\"}, \"inputs\": [{\"path\": \"a/b\", \"content_base64\": \"aGVsbG8=\"}], \"timeout_s\": 30, \"output\": \"o\"}",
		"{\"command\": [\"x\"], \"inputs\": [{\"path\": \"b\", \"uri\": \"file:///tmp/x\", \"sha256\": \"0000000000000000000000000000000000000000000000000000000000000000\"}]}",
	};
	const char	alphabet[] = "{}[]\",:\\u0123456789abcdefnulltrue -.eE/\x01\xff\x00";
	unsigned	seed = 12345;
	int			parsed = 0;

	for (int iter = 0; iter < 30000; iter++)
	{
		const char *s = seeds[iter % 2];
		size_t		len = strlen(s);
		char		buf[512];
		Workload	wl;
		char		err[256];
		int			edits;

		memcpy(buf, s, len);
		seed = seed * 1103515245 + 12345;
		edits = 1 + (seed >> 16) % 4;
		for (int e = 0; e < edits; e++)
		{
			size_t		pos;

			seed = seed * 1103515245 + 12345;
			pos = (seed >> 8) % len;
			seed = seed * 1103515245 + 12345;
			switch ((seed >> 16) % 3)
			{
				case 0:
					buf[pos] = alphabet[(seed >> 4) % (sizeof(alphabet) - 1)];
					break;
				case 1:
					len = pos;	/* truncate */
					if (len == 0)
						len = 1;
					break;
				case 2:
					if (len < sizeof(buf) - 1)
					{
						memmove(buf + pos + 1, buf + pos, len - pos);
						buf[pos] = alphabet[(seed >> 4) % (sizeof(alphabet) - 1)];
						len++;
					}
					break;
			}
		}
		if (workload_parse(buf, len, &wl, err, sizeof(err)) == 0)
		{
			parsed++;
			for (int i = 0; i < wl.ninputs; i++)
			{
				char		why[128];

				if (!workload_path_ok(wl.inputs[i].path, strlen(wl.inputs[i].path), why, sizeof(why)))
					parsed = -1000000;	/* an accepted path must be safe */
			}
			workload_free(&wl);
		}
	}
	ok(parsed >= 0, "hostile: 30000 mutated workloads parsed or refused without a crash (%d accepted, every accepted path safe)", parsed);
}

static void
test_base64_base58(void)
{
	unsigned char out[64];
	char		b58[128];
	unsigned char pub[32];
	unsigned int mdlen = 32;

	ok(lagbid_wl_base64_decode("aGVsbG8gd29ybGQ=", 16, out, sizeof(out)) == 11 && memcmp(out, "hello world", 11) == 0,
	   "base64: hello world");
	ok(lagbid_wl_base64_decode("", 0, out, sizeof(out)) == 0, "base64: empty");
	ok(lagbid_wl_base64_decode("QQ==", 4, out, sizeof(out)) == 1 && out[0] == 'A', "base64: QQ== is A");
	ok(lagbid_wl_base64_decode("QR==", 4, out, sizeof(out)) < 0, "base64: QR== (non-canonical) refused");
	ok(lagbid_wl_base64_decode("QUJ=", 4, out, sizeof(out)) < 0, "base64: QUJ= (non-canonical) refused");
	ok(lagbid_wl_base64_decode("QUI=", 4, out, sizeof(out)) == 2, "base64: QUI= is AB");
	ok(lagbid_wl_base64_decode("aGVs\nbG8=", 9, out, sizeof(out)) < 0, "base64: whitespace refused, as the market refuses it");
	ok(lagbid_wl_base64_decode("aGVsbG8", 7, out, sizeof(out)) < 0, "base64: padding required");
	ok(lagbid_wl_base64_decode("aG=Vs", 5, out, sizeof(out)) < 0, "base64: data after padding");
	ok(lagbid_wl_base64_decode("====", 4, out, sizeof(out)) < 0, "base64: padding only");
	ok(lagbid_wl_base64_decode("aGVsbG8gd29ybGQ=", 16, out, 4) < 0, "base64: output bound respected");

	ok(lb_base58_encode((const unsigned char *) "", 0, b58, sizeof(b58)) == 0 && b58[0] == '\0', "base58: empty");
	ok(lb_base58_encode((const unsigned char *) "\0", 1, b58, sizeof(b58)) == 1 && strcmp(b58, "1") == 0, "base58: one zero byte");
	lb_base58_encode((const unsigned char *) "hello world", 11, b58, sizeof(b58));
	ok(strcmp(b58, "StV1DL6CwTryKyV") == 0, "base58: hello world (%s)", b58);
	lb_base58_encode((const unsigned char *) "\0\0\x01", 3, b58, sizeof(b58));
	ok(strcmp(b58, "112") == 0, "base58: leading zeros (%s)", b58);
	ok(lb_base58_encode((const unsigned char *) "hello world", 11, b58, 5) < 0, "base58: output bound respected");

	/* the extension's vector: peer_id_from_ed25519(sha256('1')) */
	EVP_Digest("1", 1, pub, &mdlen, EVP_sha256(), NULL);
	peer_id_from_pubkey(pub, b58, sizeof(b58));
	ok(strcmp(b58, "12D3KooWH46vGd2B9FXDcosoW4YUByS3ipTQmom2i6RTaD4pXouC") == 0,
	   "peer id: matches lagbid.peer_id_from_ed25519(sha256('1')) (%s)", b58);
	memset(pub, 0, 32);
	peer_id_from_pubkey(pub, b58, sizeof(b58));
	ok(strncmp(b58, "12D3KooW", 8) == 0 && strlen(b58) == 52, "peer id: the zero key gives a 12D3KooW id of 52 characters");
}

static void
test_keys(void)
{
	char		dir[] = "/tmp/lagbid-unit.XXXXXX";
	char		path[300];
	unsigned char pub1[32],
				pub2[32],
				sig[64];
	bool		created;
	char		err[256];
	struct stat st;
	EVP_PKEY   *pk;
	EVP_MD_CTX *md;
	char		hex[65];

	if (mkdtemp(dir) == NULL)
	{
		ok(false, "keys: mkdtemp");
		return;
	}
	ok(keys_load_or_create(dir, pub1, &created, err, sizeof(err)) == 0 && created, "keys: a key is created");
	snprintf(path, sizeof(path), "%s/node.key", dir);
	ok(stat(path, &st) == 0 && (st.st_mode & 0777) == 0600, "keys: the key file has mode 0600");
	ok(keys_load_or_create(dir, pub2, &created, err, sizeof(err)) == 0 && !created &&
	   memcmp(pub1, pub2, 32) == 0, "keys: a second load keeps the same key");
	ok(keys_sign(dir, (const unsigned char *) "challenge", 9, sig, err, sizeof(err)) == 0, "keys: signs");
	pk = EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, NULL, pub1, 32);
	md = EVP_MD_CTX_new();
	ok(pk && EVP_DigestVerifyInit(md, NULL, NULL, NULL, pk) > 0 &&
	   EVP_DigestVerify(md, sig, 64, (const unsigned char *) "challenge", 9) == 1,
	   "keys: the signature verifies with the public key");
	EVP_MD_CTX_free(md);
	EVP_PKEY_free(pk);
	chmod(path, 0644);
	ok(keys_load_or_create(dir, pub2, &created, err, sizeof(err)) != 0 && strstr(err, "0600"),
	   "keys: a key readable by others is refused");
	unlink(path);
	rmdir(dir);
	sha256_hex((const unsigned char *) "abc", 3, hex);
	ok(strcmp(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad") == 0, "sha256: abc");
}

static void
terms(TaskTerms *t, const char *owner, const char *region, const char *resources,
	  const char *pmin, const char *pmax)
{
	memset(t, 0, sizeof(*t));
	t->task_id = 7;
	snprintf(t->owner, sizeof(t->owner), "%s", owner);
	snprintf(t->region, sizeof(t->region), "%s", region);
	terms_from_resources(t, resources, strlen(resources));
	snprintf(t->price_min_text, sizeof(t->price_min_text), "%s", pmin);
	snprintf(t->price_max_text, sizeof(t->price_max_text), "%s", pmax);
	t->price_min = atof(pmin);
	t->price_max = atof(pmax);
	t->duration_hours = 1;
	t->workload_bytes = 21;
	t->workload_json = "{\"command\": [\"true\"]}";
	t->workload_len = strlen(t->workload_json);
}

static void
test_policy(void)
{
	Config		c;
	TaskTerms	t;
	char		price[64],
				why[512];
	double		cost;
	char		err[256];
	const char *cfg = "[market]\nconninfo = dbname=x\nregion = eu-west\nmax_concurrent = 2\n"
		"[resources]\ncpu = 8\nmemory_gb = 16\nstorage_gb = 100\ngpu = A100\ngpu_count = 2\n"
		"[price]\ncpu_core_hour = 0.5\nmemory_gb_hour = 0.1\nstorage_gb_hour = 0.01\ngpu_hour.A100 = 2\n"
		"[owners]\ndeny = mallory\n";

	ok(region_matches("eu", "eu-west") && region_matches("eu", "eu") && region_matches("", "us") &&
	   !region_matches("eu", "europe") && !region_matches("eu-west", "eu") && !region_matches("us", "eu-west"),
	   "policy: region matching (eu matches eu and eu-*, none matches all)");
	ok(lagbid_region_rule("eu-west-1") == NULL && lagbid_region_rule("a") == NULL &&
	   lagbid_region_rule("EU") && lagbid_region_rule("eu--west") && lagbid_region_rule("eu-") &&
	   lagbid_region_rule("1eu") && lagbid_region_rule("") && lagbid_region_rule("eu west"),
	   "regions: the extension's region rule (src/rules/regions.c), compiled into the agent");
	config_defaults(&c, "/tmp");
	ok(config_parse(&c, cfg, err, sizeof(err)) == 0, "config: the test config parses (%s)", err);

	terms(&t, "alice", "us", "{\"cpu\": 1}", "1", "10");
	ok(policy_decide(&c, &t, 0, price, sizeof(price), &cost, why, sizeof(why)) == DECLINE_REGION, "policy: region decline (%s)", why);
	terms(&t, "alice", "eu", "{\"cpu\": 16}", "1", "10");
	ok(policy_decide(&c, &t, 0, price, sizeof(price), &cost, why, sizeof(why)) == DECLINE_RESOURCES, "policy: cpu decline (%s)", why);
	terms(&t, "alice", "eu", "{\"memory_gb\": 32}", "1", "10");
	ok(policy_decide(&c, &t, 0, price, sizeof(price), &cost, why, sizeof(why)) == DECLINE_RESOURCES, "policy: memory decline");
	terms(&t, "alice", "eu", "{\"gpu\": \"H100\"}", "1", "10");
	ok(policy_decide(&c, &t, 0, price, sizeof(price), &cost, why, sizeof(why)) == DECLINE_RESOURCES, "policy: gpu model decline (%s)", why);
	terms(&t, "alice", "eu", "{\"gpu\": \"A100\", \"gpu_count\": 3}", "1", "10");
	ok(policy_decide(&c, &t, 0, price, sizeof(price), &cost, why, sizeof(why)) == DECLINE_RESOURCES, "policy: gpu count decline");
	terms(&t, "alice", "eu", "[1]", "1", "10");
	ok(policy_decide(&c, &t, 0, price, sizeof(price), &cost, why, sizeof(why)) == DECLINE_RESOURCES, "policy: unreadable resources decline");
	terms(&t, "mallory", "eu", "{\"cpu\": 1}", "1", "10");
	ok(policy_decide(&c, &t, 0, price, sizeof(price), &cost, why, sizeof(why)) == DECLINE_OWNER, "policy: denied owner");
	terms(&t, "alice", "eu", "{\"cpu\": 1}", "1", "10");
	ok(policy_decide(&c, &t, 2, price, sizeof(price), &cost, why, sizeof(why)) == DECLINE_CAPACITY, "policy: capacity decline at 2 of 2 slots");
	terms(&t, "alice", "eu", "{\"cpu\": 8, \"memory_gb\": 16}", "1", "5");
	ok(policy_decide(&c, &t, 0, price, sizeof(price), &cost, why, sizeof(why)) == DECLINE_PRICE && cost > 5,
	   "policy: cost 5.6/h above price_max 5 declined (%s)", why);
	terms(&t, "alice", "eu", "{\"cpu\": 2}", "1.50", "10");
	ok(policy_decide(&c, &t, 0, price, sizeof(price), &cost, why, sizeof(why)) == DECIDE_BID && strcmp(price, "1.50") == 0,
	   "policy: cost 1/h clamped up to price_min (ask %s)", price);
	terms(&t, "alice", "eu", "{\"cpu\": 4, \"memory_gb\": 2}", "1", "10");
	ok(policy_decide(&c, &t, 0, price, sizeof(price), &cost, why, sizeof(why)) == DECIDE_BID && strcmp(price, "2.20") == 0,
	   "policy: cost 2.2/h asked as is (ask %s)", price);
	terms(&t, "alice", "eu", "{\"gpu\": \"a100\", \"gpu_count\": 2}", "1", "10");
	ok(policy_decide(&c, &t, 0, price, sizeof(price), &cost, why, sizeof(why)) == DECIDE_BID && strcmp(price, "4.00") == 0,
	   "policy: gpu priced per model and count (ask %s)", price);
	c.markup = 3;
	terms(&t, "alice", "eu", "{\"cpu\": 4}", "1", "5.25");
	ok(policy_decide(&c, &t, 0, price, sizeof(price), &cost, why, sizeof(why)) == DECIDE_BID && strcmp(price, "5.25") == 0,
	   "policy: markup clamped down to price_max (ask %s)", price);
	c.markup = 1;
	terms(&t, "alice", "eu", "{\"cpu\": 1}", "1", "10");
	t.workload_json = "{\"command\": []}";
	t.workload_len = strlen(t.workload_json);
	ok(policy_decide(&c, &t, 0, price, sizeof(price), &cost, why, sizeof(why)) == DECLINE_WORKLOAD, "policy: invalid workload declined (%s)", why);
	t.workload_json = "{\"command\": [\"a\"], \"inputs\": [{\"path\": \"x\", \"uri\": \"https://e/x\", \"sha256\": \"0000000000000000000000000000000000000000000000000000000000000000\"}]}";
	t.workload_len = strlen(t.workload_json);
	ok(policy_decide(&c, &t, 0, price, sizeof(price), &cost, why, sizeof(why)) == DECLINE_WORKLOAD, "policy: https input declined (%s)", why);
	t.workload_json = NULL;
	ok(policy_decide(&c, &t, 0, price, sizeof(price), &cost, why, sizeof(why)) == DECLINE_WORKLOAD &&
	   strstr(why, "not read"), "policy: no bid on a workload the agent has not read (%s)", why);
	ok(policy_screen(&c, &t, 0, &cost, why, sizeof(why)) == DECIDE_BID, "policy: the screen passes without the body");
	t.workload_bytes = c.max_workload_bytes + 1;
	ok(policy_screen(&c, &t, 0, &cost, why, sizeof(why)) == DECLINE_WORKLOAD && strstr(why, "max_workload_bytes"),
	   "policy: a workload over max_workload_bytes is declined unread (%s)", why);
	t.workload_bytes = 21;
	t.workload_null = true;
	ok(policy_decide(&c, &t, 0, price, sizeof(price), &cost, why, sizeof(why)) == DECLINE_WORKLOAD, "policy: no workload declined");
	t.workload_null = false;

	/* the external price script */
	{
		char		script[] = "/tmp/lagbid-price.XXXXXX";
		int			fd = mkstemp(script);
		FILE	   *f = fdopen(fd, "w");

		fprintf(f, "#!/bin/sh\nread terms\ncase \"$terms\" in *'\"owner\": \"bob\"'*) exit 3;; *'\"owner\": \"slow\"'*) sleep 5;; esac\necho 3.25\n");
		fclose(f);
		chmod(script, 0700);
		c.price_script = strdup(script);
		c.price_script_timeout_ms = 500;
		terms(&t, "alice", "eu", "{\"cpu\": 1}", "1", "10");
		ok(policy_decide(&c, &t, 0, price, sizeof(price), &cost, why, sizeof(why)) == DECIDE_BID && strcmp(price, "3.25") == 0,
		   "policy: the price script sets the ask (%s %s)", price, why);
		terms(&t, "bob", "eu", "{\"cpu\": 1}", "1", "10");
		ok(policy_decide(&c, &t, 0, price, sizeof(price), &cost, why, sizeof(why)) == DECLINE_SCRIPT && strstr(why, "exit status 3"),
		   "policy: a non-zero exit of the script declines (%s)", why);
		terms(&t, "slow", "eu", "{\"cpu\": 1}", "1", "10");
		{
			double		t0 = now_seconds();

			ok(policy_decide(&c, &t, 0, price, sizeof(price), &cost, why, sizeof(why)) == DECLINE_SCRIPT &&
			   strstr(why, "timed out") && now_seconds() - t0 < 3,
			   "policy: a slow script is killed at its timeout (%s)", why);
		}
		terms(&t, "alice", "eu", "{\"cpu\": 1}", "1", "3");
		ok(policy_decide(&c, &t, 0, price, sizeof(price), &cost, why, sizeof(why)) == DECLINE_SCRIPT,
		   "policy: a script price above price_max declines (%s)", why);
		unlink(script);
	}
	config_free(&c);
}

static void
test_config(void)
{
	Config		c,
				d;
	char		err[256];
	char	   *text;

	config_defaults(&c, "/srv/agent");
	ok(config_parse(&c, "[market]\nconninfo = host=a,b dbname=m  # comment\nregion=eu\nmultiaddr = /ip4/1.2.3.4/tcp/1, /ip4/5.6.7.8/tcp/2\n"
					"; another comment\n[owners]\nallow = alice, bob\n", err, sizeof(err)) == 0,
	   "config: parses with comments (%s)", err);
	ok(strcmp(c.conninfo, "host=a,b dbname=m") == 0 && c.nmultiaddrs == 2 && c.nallow == 2 &&
	   strcmp(c.allow_owners[1], "bob") == 0, "config: values, lists and trailing comments");
	ok(strcmp(c.work_dir, "/srv/agent/jobs") == 0 && c.max_concurrent == 1, "config: defaults under DIR");
	c.cpu = 4;
	c.memory_gb = 8;
	c.storage_gb = 50;
	text = config_render(&c, "12D3KooWtest", "detected");
	config_defaults(&d, "/srv/agent");
	ok(config_parse(&d, text, err, sizeof(err)) == 0 && d.cpu == 4 && d.nmultiaddrs == 2 && d.nallow == 2 &&
	   strcmp(d.conninfo, c.conninfo) == 0, "config: what init writes reads back (%s)", err);
	free(text);
	config_free(&d);
	config_free(&c);
	config_defaults(&c, "/x");
	ok(config_parse(&c, "[market]\nconninfo = x\nregion = eu\nmax_concurent = 2\n", err, sizeof(err)) != 0 &&
	   strstr(err, "unknown setting"), "config: a typo is an error (%s)", err);
	config_free(&c);
	config_defaults(&c, "/x");
	ok(config_parse(&c, "[market]\nconninfo = x\nregion = eu\nmax_concurrent = two\n", err, sizeof(err)) != 0 &&
	   strstr(err, "invalid value"), "config: a bad number is an error (%s)", err);
	config_free(&c);
	config_defaults(&c, "/x");
	ok(config_parse(&c, "[price]\ncpu_core_hour = 1\n", err, sizeof(err)) != 0, "config: conninfo and region are required");
	config_free(&c);

	/* [service] */
	config_defaults(&c, "/x");
	ok(strcmp(c.proxy_listen, "127.0.0.1:8480") == 0 && c.max_services == 4 && !c.probe_allow_private,
	   "config: [service] defaults (proxy on 127.0.0.1:8480, 4 services, no private probes)");
	ok(config_parse(&c, "[market]\nconninfo = x\nregion = eu\n[service]\nproxy_listen = 127.0.0.1:9000\n"
					"proxy_domain = spaces.example.org\nproxy_public_url = https://*.spaces.example.org\n"
					"probe_allow_private = on\nmax_services = 0\n", err, sizeof(err)) == 0 &&
	   strcmp(c.proxy_listen, "127.0.0.1:9000") == 0 && c.probe_allow_private && c.max_services == 0 &&
	   strcmp(c.proxy_public_url, "https://*.spaces.example.org") == 0, "config: [service] reads (%s)", err);
	config_free(&c);
	{
		const char *bad[] = {
			"proxy_listen = localhost:80", "proxy_listen = 127.0.0.1", "proxy_listen = 127.0.0.1:0",
			"proxy_listen = 1.2.3.4:99999", "proxy_domain = a b", "proxy_domain = .example.org",
			"proxy_domain = x/y", "proxy_public_url = ftp://x", "proxy_public_url = https://x/path",
			"proxy_public_url = https://user@x", "proxy_public_url = https://x:0",
			"probe_allow_private = maybe", "max_services = -1", "probe_timeout_ms = 5",
		};

		for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		{
			char		conf[256];

			config_defaults(&c, "/x");
			snprintf(conf, sizeof(conf), "[market]\nconninfo = x\nregion = eu\n[service]\n%s\n", bad[i]);
			ok(config_parse(&c, conf, err, sizeof(err)) != 0, "config: \"%s\" is refused (%s)", bad[i], err);
			config_free(&c);
		}
	}
}

/* ---- rows: a result set made of C strings ("\N" = NULL) ---- */
typedef struct TestRows
{
	int			ncols;
	const char *const *cells;
} TestRows;

static int
test_get(const void *ctx, int row, int col, const char **value)
{
	const TestRows *t = ctx;
	const char *v = t->cells[row * t->ncols + col];

	if (strcmp(v, "\\N") == 0)
		return -1;
	*value = v;
	return (int) strlen(v);
}

static Rows
test_rows(TestRows *t, int nrows)
{
	Rows		r = {nrows, t->ncols, test_get, t};

	return r;
}

static void
test_rows_and_pushes(void)
{
	const char *sha = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
	const char *good[] = {"42", "{\"cpu\": 1}", "eu", "1.5", "2", "1", "alice", "21", sha};
	const char *cells[9];
	TestRows	tr = {9, cells};
	Rows		r;
	TaskTerms	t;
	char		why[256];
	IdSet		ids = {0};
	char	   *lit;

	memcpy(cells, good, sizeof(good));
	r = test_rows(&tr, 1);
	ok(terms_from_row(&r, 0, &t, why, sizeof(why)) && t.task_id == 42 && t.price_max == 2 &&
	   t.workload_bytes == 21 && strcmp(t.owner, "alice") == 0, "rows: a clean open_tasks row reads (%s)", why);
	{
		/* each hostile cell alone makes the row refused */
		const struct
		{
			int			col;
			const char *v;
		}			bad[] = {
			{0, "\\N"}, {0, "-1"}, {0, "0"}, {0, "12x"}, {0, "99999999999999999999"}, {0, " 1"},
			{3, "\\N"}, {3, "1e400"}, {3, "nan"}, {3, "-1"}, {4, "0.5"}, {4, "abc"},
			{5, "inf"}, {5, "\\N"}, {6, "\\N"}, {6, ""}, {6, "al\nice"},
			{2, "eu\x01"}, {7, "-5"}, {7, "\\N"}, {7, "99999999999"}, {8, "\\N"}, {8, "ABC"},
			{8, "E3B0C44298FC1C149AFBF4C8996FB92427AE41E4649B934CA495991B7852B855"},
		};
		char		longtext[4096];

		for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		{
			memcpy(cells, good, sizeof(good));
			cells[bad[i].col] = bad[i].v;
			ok(!terms_from_row(&r, 0, &t, why, sizeof(why)), "rows: hostile cell %zu (column %d) refuses the row (%s)",
			   i, bad[i].col, why);
		}
		memset(longtext, 'o', sizeof(longtext) - 1);
		longtext[sizeof(longtext) - 1] = '\0';
		memcpy(cells, good, sizeof(good));
		cells[6] = longtext;
		ok(!terms_from_row(&r, 0, &t, why, sizeof(why)), "rows: a 4 kB owner is refused, not truncated into a buffer");
		memcpy(cells, good, sizeof(good));
		cells[7] = "\\N";
		cells[8] = "\\N";
		ok(terms_from_row(&r, 0, &t, why, sizeof(why)) && t.workload_null, "rows: no workload reads as none");
		memcpy(cells, good, sizeof(good));
		tr.ncols = 8;
		r = test_rows(&tr, 1);
		ok(!terms_from_row(&r, 0, &t, why, sizeof(why)), "rows: a result of the wrong width is refused (%s)", why);
		tr.ncols = 9;
	}

	/* the reviewer's overflow: 130 notification ids of 19 digits acknowledged at once */
	{
		const char *nc[6] = {"9223372036854775807", "bid_won", "\\N", "\\N", "\\N", "{}"};
		TestRows	nt = {6, nc};
		Rows		nr = test_rows(&nt, 1);
		NoticeRow	n;

		for (int i = 0; i < 130; i++)
			idset_add(&ids, 9223372036854775807LL - i, 1000);
		lit = ids_array_literal(ids.ids, ids.n);
		ok(ids.n == 130 && strlen(lit) == 2 + 130 * 19 + 129 && lit[strlen(lit) - 1] == '}',
		   "rows: 130 ids of 19 digits make a %zu-byte literal, sized to fit", strlen(lit));
		free(lit);
		idset_free(&ids);
		ok(notice_from_row(&nr, 0, &n) && n.id == 9223372036854775807LL && strcmp(n.task, "-") == 0,
		   "rows: a notification row with NULL ids reads");
		nc[0] = "9223372036854775808";
		ok(!notice_from_row(&nr, 0, &n), "rows: an id past bigint is refused");
		nc[0] = "7";
		nc[1] = "bid_won\n2030-01-01 LOG:  forged line";
		ok(notice_from_row(&nr, 0, &n) && strchr(n.kind, '\n') == NULL, "rows: control bytes never reach the log (%s)", n.kind);
	}
	for (int i = 0; i < 5000; i++)
		idset_add(&ids, 1 + i % 7, 1000);
	ok(ids.n == 7, "rows: repeated ids are kept once");
	idset_free(&ids);
	for (int i = 0; i < 5000; i++)
		idset_add(&ids, 1 + i, 1000);
	ok(ids.n == 1000, "rows: an id set is bounded (%d)", ids.n);
	idset_free(&ids);

	/* pushes: ids only */
	{
		const char *forged = "{\"task_id\": 9, \"owner\": \"alice\", \"resources\": {}, \"price_min\": 0.01, \"price_max\": 0.01}";

		ok(push_payload_ids(forged, strlen(forged), &ids, 1000) == 1 && ids.n == 1 && ids.ids[0] == 9,
		   "push: a payload with terms gives its task id, nothing else");
		idset_free(&ids);
		ok(push_payload_ids("{\"task_ids\": [3, 4, 3]}", 23, &ids, 1000) == 3 && ids.n == 2,
		   "push: a batch of ids, repeats kept once");
		idset_free(&ids);
		ok(push_payload_ids("{\"task_id\": \"9\"}", 16, &ids, 1000) < 0, "push: a string id is refused");
		ok(push_payload_ids("{\"task_id\": 1.5}", 16, &ids, 1000) < 0, "push: a fractional id is refused");
		ok(push_payload_ids("{\"task_id\": -3}", 15, &ids, 1000) < 0, "push: a negative id is refused");
		ok(push_payload_ids("{\"task_ids\": 3}", 15, &ids, 1000) < 0, "push: task_ids not an array is refused");
		ok(push_payload_ids("[1]", 3, &ids, 1000) < 0 && push_payload_ids("{", 1, &ids, 1000) < 0,
		   "push: not an object is refused");
		ok(ids.n == 0, "push: refused payloads add nothing");
	}

	/* the body cache: by digest, bounded */
	{
		char		key[65];
		size_t		len;
		const char *got;

		for (int i = 0; i < 200; i++)
		{
			snprintf(key, sizeof(key), "%064d", i);
			wlcache_put(key, "{\"command\": [\"x\"]}", 18);
		}
		snprintf(key, sizeof(key), "%064d", 199);
		got = wlcache_get(key, &len);
		ok(got && len == 18, "wlcache: the newest body is found");
		snprintf(key, sizeof(key), "%064d", 0);
		ok(wlcache_get(key, &len) == NULL, "wlcache: the oldest of 200 was evicted (64 entries)");
		wlcache_clear();
	}
}

/*
 * The corpus both sides judge (test/vectors/workloads.txt): every line is
 * "ok<TAB>json" or "refused<TAB>json"; test/t/023_workload_rules.pl runs
 * the same lines through publish_task and expects the same verdicts.
 */
static void
test_corpus(void)
{
	char	   *text = read_file("../test/vectors/workloads.txt", 16 * 1024 * 1024, NULL);
	int			n = 0,
				agree = 0;

	ok(text != NULL, "corpus: ../test/vectors/workloads.txt is readable");
	for (char *line = text; line && *line;)
	{
		char	   *next = strchr(line, '\n');
		char	   *tab;

		if (next)
			*next = '\0';
		tab = strchr(line, '\t');
		if (line[0] != '#' && tab)
		{
			bool		want_ok = strncmp(line, "ok\t", 3) == 0;
			Workload	wl;
			char		err[256] = "";
			bool		got_ok = workload_parse(tab + 1, strlen(tab + 1), &wl, err, sizeof(err)) == 0;

			if (got_ok)
				workload_free(&wl);
			n++;
			if (got_ok == want_ok)
				agree++;
			else
				printf("# corpus line %d: expected %s, the agent says %s (%s): %.200s\n", n,
					   want_ok ? "ok" : "refused", got_ok ? "ok" : "refused", err, tab + 1);
		}
		line = next ? next + 1 : NULL;
	}
	free(text);
	ok(n > 50 && agree == n, "corpus: the agent's verdict is the expected one on %d of %d workloads", agree, n);
}

/*
 * The resources rules the agent shares with the extension
 * (src/rules/resource_rules.c): what it reads from a task, what it
 * registers, and rule 4 as the market applies it.
 */
static void
test_resources(void)
{
	Config		c;
	TaskTerms	t;
	Offer		o;
	char		why[512],
				err[256],
				buf[64];
	double		cost;
	const char *cfg = "[market]\nconninfo = dbname=x\nregion = eu\nmax_concurrent = 2\n"
		"[resources]\ncpu = 8\nmemory_gb = 16\nstorage_gb = 100\n";

#define READS(json) (terms_from_resources(&t, json, strlen(json)) == 0 && !t.resources_bad)
	ok(READS("{\"cpu\": 4, \"memory_gb\": 16.5}") && strcmp(t.cpu_text, "4") == 0 &&
	   strcmp(t.memory_gb_text, "16.5") == 0 && strcmp(t.storage_gb_text, "0") == 0 && t.memory_gb == 16.5,
	   "resources: amounts read as exact text and as doubles");
	ok(READS("{\"cpu\": 1e3, \"memory_gb\": 2.5E-1}") && strcmp(t.cpu_text, "1000") == 0 &&
	   strcmp(t.memory_gb_text, "0.25") == 0, "resources: 1e3 notation (%s, %s)", t.cpu_text, t.memory_gb_text);
	ok(READS("{\"cpu\": 1000000000000}") && !READS("{\"cpu\": 1000000000001}") &&
	   !READS("{\"storage_gb\": 1e13}") && !READS("{\"cpu\": 1e400}"),
	   "resources: huge values are refused as the market refuses them (above 1e12)");
	ok(!READS("{\"cpu\": -1}") && !READS("{\"memory_gb\": -0.5}") && READS("{\"cpu\": -0.0}") &&
	   strcmp(t.cpu_text, "-0") == 0 && READS("{\"cpu\": -0}"),
	   "resources: negative amounts refused, negative zero is zero");
	ok(!READS("{\"cpu\": \"NaN\"}") && !READS("{\"cpu\": \"Infinity\"}") && !READS("{\"cpu\": NaN}") &&
	   !READS("{\"cpu\": true}") && !READS("{\"cpu\": [1]}"),
	   "resources: NaN and Infinity (text or bare) and other types are not amounts");
	ok(READS("{\"cpu\": 0.1234567890123456789012345}") && strcmp(t.cpu_text, "0.12345678901234568") == 0,
	   "resources: many decimals reach the agent as jansson's double (%s); the market compares the exact value",
	   t.cpu_text);
	ok(!READS("{\"ram\": 1}") && !READS("{\"cpu\": 1, \"CPU\": 1}") && !READS("{\"\": 1}"),
	   "resources: unknown keys are refused (as at publish)");
	ok(READS("{\"cpu\": -1, \"cpu\": 2}") && strcmp(t.cpu_text, "2") == 0,
	   "resources: a duplicate key: the last wins (as in jsonb)");
	ok(READS("{\"cpu\": null, \"gpu\": null, \"gpu_count\": null}") && t.gpu[0] == '\0' && t.gpu_count == 0,
	   "resources: null is not stated");
	ok(READS("{\"gpu\": \"A100\"}") && t.gpu_count == 0 && strcmp(t.gpu, "A100") == 0,
	   "resources: a gpu model without a count is a count of 0, as the market reads it");
	ok(READS("{\"gpu_count\": 2.0}") && t.gpu_count == 2 && !READS("{\"gpu_count\": 1.5}") &&
	   !READS("{\"gpu_count\": 1025}") && !READS("{\"gpu_count\": -1}"),
	   "resources: gpu_count is a whole number from 0 to 1024");
	ok(!READS("{\"gpu\": \"\"}") && !READS("{\"gpu\": 1}") && !READS("{\"gpu\": \"a\\u0001\"}"),
	   "resources: gpu is a model name without control characters");
#undef READS

	/* what the agent registers is what it checks against */
	amount_text(0.1, buf, sizeof(buf));
	ok(strcmp(buf, "0.1") == 0, "amount_text: 0.1, not 0.10000000000000001 (%s)", buf);
	amount_text(1234567.25, buf, sizeof(buf));
	ok(strcmp(buf, "1234567.25") == 0, "amount_text: 1234567.25 exactly (%%g sent 1.23457e+06) (%s)", buf);
	config_defaults(&c, "/tmp");
	ok(config_parse(&c, cfg, err, sizeof(err)) == 0, "resources: config parses (%s)", err);
	{
		Config		back;
		char	   *text;

		c.memory_gb = 1234567.25;
		text = config_render(&c, "12D3KooWtest", "detected");
		config_defaults(&back, "/tmp");
		ok(strstr(text, "memory_gb = 1234567.25\n") && config_parse(&back, text, err, sizeof(err)) == 0 &&
		   back.memory_gb == 1234567.25, "config: init writes amounts exactly, as it registers them (%s)", err);
		free(text);
		config_free(&back);
		c.memory_gb = 16;
	}
	offer_from_config(&c, &o);
	ok(strcmp(o.cpu, "8") == 0 && o.res.gpu == NULL && o.res.gpu_count == 0,
	   "offer: no gpu model registers no gpus");
	c.gpu = strdup("A100");
	c.gpu_count = 0;
	offer_from_config(&c, &o);
	ok(o.res.gpu && o.res.gpu_count == 1, "offer: a gpu model registers at least one gpu");

	/* rule 4 as the market applies it */
#define TERMS(json) terms_from_resources(&t, json, strlen(json))
	memset(&t, 0, sizeof(t));
	t.price_max = 1000;
	snprintf(t.price_max_text, sizeof(t.price_max_text), "1000");
	TERMS("{\"gpu_count\": 2}");
	ok(policy_screen(&c, &t, 0, &cost, why, sizeof(why)) == DECLINE_RESOURCES && strstr(why, "needs 2 gpu"),
	   "policy: a gpu_count without a model is checked, as place_bid checks it (%s)", why);
	TERMS("{\"gpu\": \"a100\"}");
	ok(policy_screen(&c, &t, 0, &cost, why, sizeof(why)) != DECLINE_RESOURCES,
	   "policy: a model without a count is covered by one registered gpu (%s)", why);
	TERMS("{\"cpu\": 8.000000000000002}");
	ok(policy_screen(&c, &t, 0, &cost, why, sizeof(why)) == DECLINE_RESOURCES &&
	   strstr(why, "needs 8.000000000000002 cpu, we offer 8"), "policy: 8.000000000000002 cpu is more than 8 (%s)", why);
	TERMS("{\"cpu\": 8.0, \"memory_gb\": 1.6e1}");
	ok(policy_screen(&c, &t, 0, &cost, why, sizeof(why)) != DECLINE_RESOURCES,
	   "policy: 8.0 cpu and 1.6e1 GB are what we offer (%s)", why);
#undef TERMS
	config_free(&c);
}

/* ---- service leases and probes: my_leases() and my_probes() rows as hostile input ---- */
static void
test_lease_rows(void)
{
	const char *sha = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
	const char *good[LEASE_NCOLS] = {"7", "11", "3", "abcdefgh234567ab", "ready",
		"http://abcdefgh234567ab.example.org:8480/", "1893457501.5", "8000", "/healthz", "200", "1800", sha};
	const char *cells[LEASE_NCOLS];
	TestRows	tr = {LEASE_NCOLS, cells};
	Rows		r;
	LeaseRow	l;
	char		why[256];
	char		longpath[400];
	const struct
	{
		int			col;
		const char *v;
	}			bad[] = {
		{0, "\\N"}, {1, "-1"}, {2, "x"},
		{3, "ABCDEFGH234567AB"}, {3, "abcdefgh234567a"}, {3, "abcdefgh234567ab1"}, {3, "abcdefgh23456781"},
		{3, "../../etc/passwd"}, {3, "abcdefgh.34567ab"},
		{4, "running"}, {4, "\\N"}, {5, "http://x/\n"},
		{6, "\\N"}, {6, "-5"}, {6, "nan"},
		{7, "0"}, {7, "65536"}, {7, "80.5"}, {7, "\\N"},
		{8, "healthz"}, {8, "/a b"}, {8, "/a\r\nHost: evil"}, {8, "/\x80"}, {8, "\\N"},
		{9, "99"}, {9, "600"}, {10, "0"}, {10, "86401"},
		{11, "ABC"}, {11, "\\N"},
	};

	memcpy(cells, good, sizeof(good));
	r = test_rows(&tr, 1);
	ok(lease_from_row(&r, 0, &l, why, sizeof(why)) && l.lease_id == 7 && l.job_id == 11 && l.port == 8000 &&
	   strcmp(l.health_path, "/healthz") == 0 && l.expected_status == 200 && strcmp(l.state, "ready") == 0,
	   "leases: a clean my_leases row reads (%s)", why);
	cells[5] = "\\N";
	ok(lease_from_row(&r, 0, &l, why, sizeof(why)) && l.endpoint[0] == '\0', "leases: no endpoint yet reads as none");
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
	{
		memcpy(cells, good, sizeof(good));
		cells[bad[i].col] = bad[i].v;
		ok(!lease_from_row(&r, 0, &l, why, sizeof(why)), "leases: hostile cell %zu (column %d) refuses the row (%s)",
		   i, bad[i].col, why);
	}
	memset(longpath, 'a', sizeof(longpath) - 1);
	longpath[0] = '/';
	longpath[sizeof(longpath) - 1] = '\0';
	memcpy(cells, good, sizeof(good));
	cells[8] = longpath;
	ok(!lease_from_row(&r, 0, &l, why, sizeof(why)), "leases: a 400-byte health path is refused, not truncated");
	tr.ncols = LEASE_NCOLS - 1;
	r = test_rows(&tr, 1);
	ok(!lease_from_row(&r, 0, &l, why, sizeof(why)), "leases: a result of the wrong width is refused (%s)", why);

	/* probes */
	{
		const char *pgood[PROBE_NCOLS] = {"5", "abcdefgh234567ab", "http://abcdefgh234567ab.example.org:8480/",
		"0123456789abcdef0123456789abcdef"};
		const char *pc[PROBE_NCOLS];
		TestRows	pt = {PROBE_NCOLS, pc};
		ProbeRow	p;
		const struct
		{
			int			col;
			const char *v;
		}			pbad[] = {
			{0, "0"}, {1, "short"}, {2, "\\N"}, {2, "ftp://example.org/"}, {2, "file:///etc/passwd"},
			{2, "gopher://x/"}, {2, "http://user:pw@example.org/"}, {2, "http://"}, {2, "http:// x/"},
			{2, "javascript:alert(1)"}, {3, "0123456789ABCDEF0123456789ABCDEF"}, {3, "0123"},
			{3, "0123456789abcdef0123456789abcdeg"}, {3, "\\N"},
		};
		Rows		pr;

		memcpy(pc, pgood, sizeof(pgood));
		pr = test_rows(&pt, 1);
		ok(probe_from_row(&pr, 0, &p, why, sizeof(why)) && p.probe_id == 5, "probes: a clean my_probes row reads (%s)", why);
		for (size_t i = 0; i < sizeof(pbad) / sizeof(pbad[0]); i++)
		{
			memcpy(pc, pgood, sizeof(pgood));
			pc[pbad[i].col] = pbad[i].v;
			ok(!probe_from_row(&pr, 0, &p, why, sizeof(why)), "probes: hostile cell %zu (column %d) refuses the row (%s)",
			   i, pbad[i].col, why);
		}
	}
	{
		char		msg[256];

		probe_message("abcdefgh234567ab", "0123456789abcdef0123456789abcdef", 200, msg, sizeof(msg));
		ok(strcmp(msg, "lagbid-probe-v1\nlease:abcdefgh234567ab\nnonce:0123456789abcdef0123456789abcdef\nstatus:200\n") == 0,
		   "probes: the signed message is the design's bytes");
	}
}

int
main(void)
{
	log_init(false, LOG_LEVEL_FATAL);
	test_rows_and_pushes();
	test_lease_rows();
	test_corpus();
	test_json();
	test_workload();
	test_hostile();
	test_base64_base58();
	test_keys();
	test_policy();
	test_resources();
	test_config();
	printf("1..%d\n", ntest);
	if (nfail)
		printf("# %d of %d failed\n", nfail, ntest);
	return nfail ? 1 : 0;
}
