/*-------------------------------------------------------------------------
 *
 * identity_test.c
 *	  Stand-alone unit tests of src/identity (base58 decoding, peer ids,
 *	  multiaddrs).  Prints TAP and exits non-zero when any test fails.
 *
 * Peer ids beyond the few real ones are made here by base58-encoding
 * hand-built multihashes, so that each error branch of lb_peerid_check()
 * is reached on purpose.
 *
 *-------------------------------------------------------------------------
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "identity.h"

#define MAX_TESTS	512
#define DESC_LEN	160

typedef struct TestResult
{
	int			passed;
	char		desc[DESC_LEN];
	char		diag[DESC_LEN * 2];
} TestResult;

static TestResult results[MAX_TESTS];
static int	ntests = 0;

/* real peer ids */
static const char *const ID_ED1 = "12D3KooWD3eckifWpRn9wQpMG9R9hX3sD158z7EqHWmweQAJU5SA";
static const char *const ID_ED2 = "12D3KooWRBhwfeP2Y4TCx1SM6s9rUoHhR5STiGwxBhgFRcw3UERE";
static const char *const ID_QM1 = "QmYyQSo1c1Ym7orWxLYvCrM2EmxFTANf8wXmmE7DWjhx5N";
static const char *const ID_QM2 = "QmcgpsyWgH8Y8ajJz1Cu72KnS5uo2Aa2LpzU7kinSupNKC";

/*
 * Record one test.  diag, when not NULL, is printed as a TAP comment if the
 * test failed.
 */
static void
record(int passed, const char *desc, const char *diag)
{
	TestResult *r;

	if (ntests >= MAX_TESTS)
	{
		fprintf(stderr, "too many tests: raise MAX_TESTS\n");
		exit(2);
	}
	r = &results[ntests++];
	r->passed = passed;
	snprintf(r->desc, sizeof(r->desc), "%s", desc);
	snprintf(r->diag, sizeof(r->diag), "%s", diag ? diag : "");
}

/* expected NULL (valid) or an exact message, and got */
static void
expect(const char *got, const char *want, const char *desc)
{
	char		diag[DESC_LEN * 2];
	int			passed;

	if (want == NULL)
		passed = (got == NULL);
	else
		passed = (got != NULL && strcmp(got, want) == 0);
	snprintf(diag, sizeof(diag), "want: %s / got: %s",
			 want ? want : "(valid)", got ? got : "(valid)");
	record(passed, desc, diag);
}

/*
 * base58btc encoding of in[0..n) into out (NUL terminated); the inverse of
 * lb_base58_decode().
 */
static void
b58_encode(const unsigned char *in, size_t n, char *out, size_t outcap)
{
	if (lb_base58_encode(in, n, out, outcap) < 0)
	{
		fprintf(stderr, "b58_encode: does not fit\n");
		exit(2);
	}
}

/* base58 text of a multihash: prefix bytes then body_len bytes of a pattern */
static void
make_id(const unsigned char *prefix, size_t prefix_len, size_t body_len,
		unsigned char seed, char *out, size_t outcap)
{
	unsigned char buf[128];
	size_t		i;

	memcpy(buf, prefix, prefix_len);
	for (i = 0; i < body_len; i++)
		buf[prefix_len + i] = (unsigned char) (seed + i * 7);
	b58_encode(buf, prefix_len + body_len, out, outcap);
}

static const char *
peer(const char *s)
{
	return lb_peerid_check(s, strlen(s));
}

static const char *
ma(const char *s)
{
	return lb_multiaddr_check(s, strlen(s), NULL, 0);
}

static const char *
ma_node(const char *s, const char *node)
{
	return lb_multiaddr_check(s, strlen(s), node, strlen(node));
}

/* tests of lb_base58_decode */
static void
test_base58(void)
{
	unsigned char out[1100];
	char		text[1100];
	int			n;
	int			i;
	int			all_ok;
	static const unsigned char hello[] = "Hello World!";
	static const unsigned char fox[] =
	"The quick brown fox jumps over the lazy dog.";
	static const unsigned char zeros_val[] = {0x00, 0x00, 0x28, 0x7f, 0xb4, 0xcd};

	n = lb_base58_decode("", 0, out, sizeof(out));
	record(n == 0, "base58: empty input decodes to zero bytes", NULL);

	n = lb_base58_decode("1", 1, out, sizeof(out));
	record(n == 1 && out[0] == 0, "base58: '1' is one zero byte", NULL);

	n = lb_base58_decode("111", 3, out, sizeof(out));
	record(n == 3 && out[0] == 0 && out[1] == 0 && out[2] == 0,
		   "base58: '111' is three zero bytes", NULL);

	n = lb_base58_decode("2", 1, out, sizeof(out));
	record(n == 1 && out[0] == 1, "base58: '2' is 0x01", NULL);

	n = lb_base58_decode("z", 1, out, sizeof(out));
	record(n == 1 && out[0] == 57, "base58: 'z' is 57", NULL);

	n = lb_base58_decode("5Q", 2, out, sizeof(out));
	record(n == 1 && out[0] == 0xff, "base58: '5Q' is 0xff", NULL);

	n = lb_base58_decode("5R", 2, out, sizeof(out));
	record(n == 2 && out[0] == 1 && out[1] == 0, "base58: '5R' is 0x0100", NULL);

	n = lb_base58_decode("115Q", 4, out, sizeof(out));
	record(n == 3 && out[0] == 0 && out[1] == 0 && out[2] == 0xff,
		   "base58: leading '1's before a value are zero bytes", NULL);

	n = lb_base58_decode("2NEpo7TZRRrLZSi2U", 17, out, sizeof(out));
	record(n == 12 && memcmp(out, hello, 12) == 0,
		   "base58: 'Hello World!' vector", NULL);

	n = lb_base58_decode("USm3fpXnKG5EUBx2ndxBDMPVciP5hGey2Jh4NDv6gmeo1LkMeiKrLJUUBk6Z",
						 60, out, sizeof(out));
	record(n == (int) sizeof(fox) - 1 && memcmp(out, fox, sizeof(fox) - 1) == 0,
		   "base58: quick brown fox vector", NULL);

	n = lb_base58_decode("11233QC4", 8, out, sizeof(out));
	record(n == 6 && memcmp(out, zeros_val, 6) == 0,
		   "base58: 0x0000287fb4cd vector", NULL);

	record(lb_base58_decode("abc0", 4, out, sizeof(out)) == -1,
		   "base58: '0' is refused", NULL);
	record(lb_base58_decode("O", 1, out, sizeof(out)) == -1,
		   "base58: 'O' is refused", NULL);
	record(lb_base58_decode("I", 1, out, sizeof(out)) == -1,
		   "base58: 'I' is refused", NULL);
	record(lb_base58_decode("l", 1, out, sizeof(out)) == -1,
		   "base58: 'l' is refused", NULL);
	record(lb_base58_decode("ab\0c", 4, out, sizeof(out)) == -1,
		   "base58: NUL byte is refused", NULL);
	record(lb_base58_decode("\xc3\xa9", 2, out, sizeof(out)) == -1,
		   "base58: non-ASCII byte is refused", NULL);

	record(lb_base58_decode("5R", 2, out, 1) == -1,
		   "base58: result larger than outcap is refused", NULL);
	record(lb_base58_decode("11", 2, out, 1) == -1,
		   "base58: leading zeros larger than outcap are refused", NULL);
	record(lb_base58_decode("5R", 2, out, 2) == 2,
		   "base58: result exactly outcap bytes fits", NULL);
	record(lb_base58_decode("", 0, NULL, 0) == 0,
		   "base58: empty input with no output buffer", NULL);

	memset(text, 'z', sizeof(text));
	n = lb_base58_decode(text, LB_MULTIADDR_MAX_LEN, out, sizeof(out));
	record(n == 750, "base58: 1024 'z's decode to 750 bytes", NULL);
	record(lb_base58_decode(text, LB_MULTIADDR_MAX_LEN + 1, out, sizeof(out)) == -1,
		   "base58: input longer than LB_MULTIADDR_MAX_LEN is refused", NULL);

	/* round trips through the test encoder, with and without leading zeros */
	srand(42);
	all_ok = 1;
	for (i = 0; i < 500 && all_ok; i++)
	{
		unsigned char in[64];
		size_t		len = (size_t) (rand() % 64);
		size_t		nz = len > 0 ? (size_t) (rand() % 4) : 0;
		size_t		j;

		for (j = 0; j < len; j++)
			in[j] = j < nz ? 0 : (unsigned char) (rand() & 0xff);
		b58_encode(in, len, text, sizeof(text));
		n = lb_base58_decode(text, strlen(text), out, sizeof(out));
		if (n != (int) len || memcmp(in, out, len) != 0)
			all_ok = 0;
	}
	record(all_ok, "base58: 500 random round trips", NULL);
	record(lb_base58_encode((const unsigned char *) "\0\0\x01", 3, text, 4) == 3 &&
		   strcmp(text, "112") == 0, "base58: encode keeps leading zero bytes as '1's", NULL);
	record(lb_base58_encode((const unsigned char *) "\xff", 1, text, 2) == -1,
		   "base58: encode refuses an output buffer too small", NULL);
}

/* tests of lb_peerid_check */
static void
test_peerid(void)
{
	char		id[300];
	char		long_id[200];
	static const unsigned char sha2[] = {0x12, 0x20};
	static const unsigned char ed25519[] = {0x00, 0x24, 0x08, 0x01, 0x12, 0x20};
	static const unsigned char secp[] = {0x00, 0x25, 0x08, 0x02, 0x12, 0x21};

	expect(peer(ID_ED1), NULL, "peerid: real ed25519 id 1");
	expect(peer(ID_ED2), NULL, "peerid: real ed25519 id 2");
	expect(peer(ID_QM1), NULL, "peerid: real sha2-256 id 1");
	expect(peer(ID_QM2), NULL, "peerid: real sha2-256 id 2");

	make_id(ed25519, sizeof(ed25519), 32, 3, id, sizeof(id));
	expect(peer(id), NULL, "peerid: generated ed25519 id");
	record(strncmp(id, "12D3KooW", 8) == 0, "peerid: ed25519 ids start with 12D3KooW", id);

	make_id(ed25519, sizeof(ed25519), 32, 0, id, sizeof(id));
	expect(peer(id), NULL, "peerid: ed25519 id with an all-pattern key from 0");

	make_id(sha2, sizeof(sha2), 32, 200, id, sizeof(id));
	expect(peer(id), NULL, "peerid: generated sha2-256 id");
	record(strncmp(id, "Qm", 2) == 0, "peerid: sha2-256 ids start with Qm", id);

	make_id(secp, sizeof(secp), 33, 9, id, sizeof(id));
	expect(peer(id), NULL, "peerid: generated secp256k1 id (identity, 37 bytes)");
	record(strncmp(id, "16Uiu2", 6) == 0, "peerid: secp256k1 ids start with 16Uiu2", id);

	{
		static const unsigned char ecdsa[] = {0x00, 0x2a, 0x08, 0x03, 0x12, 0x26};

		make_id(ecdsa, sizeof(ecdsa), 38, 1, id, sizeof(id));
		expect(peer(id), NULL, "peerid: identity key of exactly 42 bytes (ecdsa type)");
	}
	{
		static const unsigned char rsa[] = {0x00, 0x0a, 0x08, 0x00, 0x12, 0x06};

		make_id(rsa, sizeof(rsa), 6, 1, id, sizeof(id));
		expect(peer(id), NULL, "peerid: short identity key of type 0");
	}

	/* text-level errors */
	expect(peer(""), "is empty", "peerid: empty");
	expect(lb_peerid_check(NULL, 0), "is empty", "peerid: NULL");
	memset(long_id, 'z', 129);
	long_id[129] = '\0';
	expect(peer(long_id), "is longer than 128 characters", "peerid: 129 characters");
	long_id[128] = '\0';
	record(peer(long_id) != NULL &&
		   strcmp(peer(long_id), "is longer than 128 characters") != 0,
		   "peerid: 128 characters pass the length check", NULL);
	expect(peer("Qm0yQSo1c1Ym7orWxLYvCrM2EmxFTANf8wXmmE7DWjhx5N"),
		   "contains the character '0' which is not base58btc", "peerid: character '0'");
	expect(peer("QmOyQSo1c1Ym7orWxLYvCrM2EmxFTANf8wXmmE7DWjhx5N"),
		   "contains the character 'O' which is not base58btc", "peerid: character 'O'");
	expect(peer("QmIyQSo1c1Ym7orWxLYvCrM2EmxFTANf8wXmmE7DWjhx5N"),
		   "contains the character 'I' which is not base58btc", "peerid: character 'I'");
	expect(peer("QmlyQSo1c1Ym7orWxLYvCrM2EmxFTANf8wXmmE7DWjhx5N"),
		   "contains the character 'l' which is not base58btc", "peerid: character 'l'");
	expect(peer("/p2p/QmYyQSo1c1Ym7orWxLYvCrM2EmxFTANf8wXmmE7DWjhx5N"),
		   "contains the character '/' which is not base58btc", "peerid: character '/'");
	expect(peer(" QmYyQSo1c1Ym7orWxLYvCrM2EmxFTANf8wXmmE7DWjhx5N"),
		   "contains the character ' ' which is not base58btc", "peerid: leading space");
	expect(peer("QmYyQSo1c1Ym7orWxLYvCrM2EmxFTANf8wXmmE7DWjhx5N\""),
		   "contains the character '\"' which is not base58btc", "peerid: double quote");
	expect(peer("QmYyQSo1c1Ym7orWxLYvCrM2EmxFTANf8wXmmE7DWjhx5N\n"),
		   "contains a control character or a non-ASCII byte", "peerid: trailing newline");
	expect(peer("Qm\xc3\xa9yQSo1c1Ym7orWxLYvCrM2EmxFTANf8wXmmE7DWjhx5N"),
		   "contains a control character or a non-ASCII byte", "peerid: non-ASCII byte");
	expect(lb_peerid_check("QmYyQSo1c1Ym7or\0WxLYvCrM2EmxFTANf8wXmmE7DWjhx5N", 47),
		   "contains a NUL byte", "peerid: NUL byte in the middle");

	/* multihash-level errors */
	expect(peer("1"), "is too short to be a multihash", "peerid: one byte");
	expect(peer("z"), "is too short to be a multihash", "peerid: one non-zero byte");
	{
		static const unsigned char md5[] = {0xd5, 0x10};

		make_id(md5, sizeof(md5), 16, 5, id, sizeof(id));
		expect(peer(id), "is not a sha2-256 or identity multihash", "peerid: md5 multihash");
	}
	{
		static const unsigned char sha3[] = {0x16, 0x20};

		make_id(sha3, sizeof(sha3), 32, 5, id, sizeof(id));
		expect(peer(id), "is not a sha2-256 or identity multihash", "peerid: sha3-256 multihash");
	}
	{
		static const unsigned char sha2_33[] = {0x12, 0x21};

		make_id(sha2_33, sizeof(sha2_33), 33, 5, id, sizeof(id));
		expect(peer(id), "is a sha2-256 multihash whose length is not 32",
			   "peerid: sha2-256 header length 33");
	}
	make_id(sha2, sizeof(sha2), 31, 5, id, sizeof(id));
	expect(peer(id), "has a digest shorter than the 32 bytes its multihash header says",
		   "peerid: sha2-256 digest of 31 bytes");
	make_id(sha2, sizeof(sha2), 33, 5, id, sizeof(id));
	expect(peer(id), "has a digest longer than the 32 bytes its multihash header says",
		   "peerid: sha2-256 digest of 33 bytes");
	make_id(sha2, sizeof(sha2), 0, 5, id, sizeof(id));
	expect(peer(id), "has a digest shorter than the 32 bytes its multihash header says",
		   "peerid: sha2-256 header without digest");

	{
		static const unsigned char id43[] = {0x00, 0x2b, 0x08, 0x03, 0x12, 0x27};

		make_id(id43, sizeof(id43), 39, 5, id, sizeof(id));
		expect(peer(id), "has an identity multihash longer than 42 bytes",
			   "peerid: identity of 43 bytes");
	}
	{
		static const unsigned char id_big[] = {0x00, 0xa4, 0x01};

		make_id(id_big, sizeof(id_big), 20, 5, id, sizeof(id));
		expect(peer(id), "has an identity multihash longer than 42 bytes",
			   "peerid: identity with a two-byte varint length");
	}
	{
		static const unsigned char id_nonmin[] = {0x00, 0x80, 0x00};

		make_id(id_nonmin, sizeof(id_nonmin), 0, 5, id, sizeof(id));
		expect(peer(id), "has a multihash length that is not minimally encoded",
			   "peerid: identity with a non-minimal varint length");
	}
	make_id(ed25519, sizeof(ed25519), 31, 5, id, sizeof(id));
	expect(peer(id), "has a public key shorter than its identity multihash header says",
		   "peerid: ed25519 id one byte short");
	make_id(ed25519, sizeof(ed25519), 33, 5, id, sizeof(id));
	expect(peer(id), "has a public key longer than its identity multihash header says",
		   "peerid: ed25519 id one byte long");
	{
		static const unsigned char id_short[] = {0x00, 0x02, 0x08, 0x01};

		make_id(id_short, sizeof(id_short), 0, 5, id, sizeof(id));
		expect(peer(id), "has an identity multihash that is not a libp2p public key",
			   "peerid: identity of 2 bytes");
	}
	{
		static const unsigned char id_tag[] = {0x00, 0x24, 0x0a, 0x01, 0x12, 0x20};

		make_id(id_tag, sizeof(id_tag), 32, 5, id, sizeof(id));
		expect(peer(id), "has an identity multihash that is not a libp2p public key",
			   "peerid: protobuf field 1 with the wrong tag");
	}
	{
		static const unsigned char id_tag2[] = {0x00, 0x24, 0x08, 0x01, 0x1a, 0x20};

		make_id(id_tag2, sizeof(id_tag2), 32, 5, id, sizeof(id));
		expect(peer(id), "has an identity multihash that is not a libp2p public key",
			   "peerid: protobuf field 2 with the wrong tag");
	}
	{
		static const unsigned char id_type[] = {0x00, 0x24, 0x08, 0x04, 0x12, 0x20};

		make_id(id_type, sizeof(id_type), 32, 5, id, sizeof(id));
		expect(peer(id), "has a public key of an unknown type (not 0..3)",
			   "peerid: key type 4");
	}
	{
		static const unsigned char id_pblen[] = {0x00, 0x24, 0x08, 0x01, 0x12, 0x1f};

		make_id(id_pblen, sizeof(id_pblen), 32, 5, id, sizeof(id));
		expect(peer(id), "has a public key whose protobuf length does not match the multihash",
			   "peerid: protobuf key length 31 in a 36-byte multihash");
	}
	{
		static const unsigned char id_empty[] = {0x00, 0x04, 0x08, 0x01, 0x12, 0x00};

		make_id(id_empty, sizeof(id_empty), 0, 5, id, sizeof(id));
		expect(peer(id), "has an empty public key", "peerid: empty key");
	}
	{
		static const unsigned char ed31[] = {0x00, 0x23, 0x08, 0x01, 0x12, 0x1f};

		make_id(ed31, sizeof(ed31), 31, 5, id, sizeof(id));
		expect(peer(id), "has an ed25519 public key that is not 32 bytes",
			   "peerid: ed25519 key of 31 bytes");
	}
	{
		static const unsigned char secp32[] = {0x00, 0x24, 0x08, 0x02, 0x12, 0x20};

		make_id(secp32, sizeof(secp32), 32, 5, id, sizeof(id));
		expect(peer(id), "has a secp256k1 public key that is not 33 bytes",
			   "peerid: secp256k1 key of 32 bytes");
	}

	/* the real id with its last character dropped is no longer valid */
	snprintf(id, sizeof(id), "%s", ID_ED1);
	id[strlen(id) - 1] = '\0';
	record(peer(id) != NULL, "peerid: truncated ed25519 id is refused", NULL);
	snprintf(id, sizeof(id), "%s", ID_QM1);
	id[strlen(id) - 1] = '\0';
	record(peer(id) != NULL, "peerid: truncated sha2-256 id is refused", NULL);
	/* a length that stops short of the NUL terminator is honoured */
	expect(lb_peerid_check(ID_QM1, strlen(ID_QM1) - 1),
		   peer(id), "peerid: length argument is honoured");
}

/* tests of lb_multiaddr_check */
static void
test_multiaddr(void)
{
	char		buf[2100];
	char		label[100];

	/* valid */
	expect(ma("/ip4/127.0.0.1/tcp/4001"), NULL, "multiaddr: ip4 tcp");
	expect(ma("/ip4/0.0.0.0/tcp/0"), NULL, "multiaddr: ip4 zeros, port 0");
	expect(ma("/ip4/255.255.255.255/udp/65535/quic-v1"), NULL,
		   "multiaddr: ip4 max values, udp quic-v1");
	expect(ma("/ip4/10.0.0.1/udp/4001/quic"), NULL, "multiaddr: udp quic");
	expect(ma("/ip4/10.0.0.1/udp/53"), NULL, "multiaddr: bare udp");
	expect(ma("/ip6/2001:0db8:0000:0000:0000:ff00:0042:8329/tcp/4001"), NULL,
		   "multiaddr: ip6 full form");
	expect(ma("/ip6/2001:db8::ff00:42:8329/tcp/4001"), NULL,
		   "multiaddr: ip6 compressed in the middle");
	expect(ma("/ip6/::1/tcp/1"), NULL, "multiaddr: ip6 ::1");
	expect(ma("/ip6/::/tcp/1"), NULL, "multiaddr: ip6 ::");
	expect(ma("/ip6/fe80::/udp/9/quic-v1"), NULL, "multiaddr: ip6 trailing ::");
	expect(ma("/ip6/1:2:3:4:5:6:7::/tcp/1"), NULL, "multiaddr: ip6 :: for one group");
	expect(ma("/ip6/::ffff:1.2.3.4/tcp/80"), NULL, "multiaddr: ip6 ::ffff:1.2.3.4");
	expect(ma("/ip6/1:2:3:4:5:6:1.2.3.4/tcp/80"), NULL,
		   "multiaddr: ip6 six groups and an ip4 tail");
	expect(ma("/ip6/ABCD:ef01::/tcp/80"), NULL, "multiaddr: ip6 mixed-case hex");
	expect(ma("/dns4/example.com/udp/443/quic-v1"), NULL, "multiaddr: dns4 quic-v1");
	expect(ma("/dns6/a-b.example/tcp/443/wss"), NULL, "multiaddr: dns6 wss");
	expect(ma("/dns/example.com/tcp/443/tls/ws"), NULL, "multiaddr: dns tls/ws");
	expect(ma("/dns/example.com/tcp/80/http"), NULL, "multiaddr: http");
	expect(ma("/dns/example.com/tcp/443/tls/https"), NULL, "multiaddr: tls/https");
	expect(ma("/dns4/localhost/tcp/4001/tls"), NULL, "multiaddr: bare tls");
	expect(ma("/dnsaddr/bootstrap.libp2p.io"), NULL, "multiaddr: dnsaddr");
	expect(ma("/dnsaddr/bootstrap.libp2p.io/p2p/QmcgpsyWgH8Y8ajJz1Cu72KnS5uo2Aa2LpzU7kinSupNKC"),
		   NULL, "multiaddr: dnsaddr with p2p");
	snprintf(buf, sizeof(buf), "/p2p/%s", ID_ED1);
	expect(ma(buf), NULL, "multiaddr: p2p alone");
	snprintf(buf, sizeof(buf), "/ipfs/%s", ID_QM1);
	expect(ma(buf), NULL, "multiaddr: ipfs alias alone");
	snprintf(buf, sizeof(buf), "/ip4/1.2.3.4/tcp/4001/p2p/%s", ID_ED1);
	expect(ma_node(buf, ID_ED1), NULL, "multiaddr: p2p matching the node id");
	snprintf(buf, sizeof(buf), "/ip4/1.2.3.4/udp/4001/quic-v1/ipfs/%s", ID_ED2);
	expect(ma_node(buf, ID_ED2), NULL, "multiaddr: quic-v1 then ipfs matching the node id");
	snprintf(buf, sizeof(buf), "/dns4/x.example/tcp/443/wss/p2p/%s", ID_QM2);
	expect(ma(buf), NULL, "multiaddr: wss then p2p without node id");
	expect(ma_node("/ip4/1.2.3.4/tcp/1", ID_ED1), NULL,
		   "multiaddr: node id given but no p2p component");

	memset(label, 'a', 63);
	label[63] = '\0';
	snprintf(buf, sizeof(buf), "/dns/%s.com/tcp/1", label);
	expect(ma(buf), NULL, "multiaddr: dns label of 63 bytes");
	/* 253 bytes: 3 labels of 63, one of 61, and 3 dots */
	snprintf(buf, sizeof(buf), "/dns/%s.%s.%s.%.61s/tcp/1", label, label, label, label);
	expect(ma(buf), NULL, "multiaddr: dns name of 253 bytes");
	expect(ma("/dns/1.2.3.4/tcp/1"), NULL, "multiaddr: all-digit dns labels");

	/* invalid: shape */
	expect(ma(""), "is empty", "multiaddr: empty");
	expect(lb_multiaddr_check(NULL, 0, NULL, 0), "is empty", "multiaddr: NULL");
	expect(ma("ip4/1.2.3.4/tcp/1"), "does not start with '/'", "multiaddr: no leading slash");
	expect(ma("/ip4/1.2.3.4/tcp/1/"), "ends with '/'", "multiaddr: trailing slash");
	expect(ma("/"), "ends with '/'", "multiaddr: lone slash");
	expect(ma("//ip4/1.2.3.4/tcp/1"), "has an empty component", "multiaddr: empty first component");
	expect(ma("/ip4//tcp/1"), "has an empty component", "multiaddr: empty value");
	expect(ma("/ip4/1.2.3.4//tcp/1"), "has an empty component", "multiaddr: double slash");
	expect(ma("/ip4"), "has /ip4 without an address", "multiaddr: ip4 without value");
	expect(ma("/ip4/1.2.3.4/tcp"), "has /tcp without a port", "multiaddr: tcp without port");
	expect(ma("/p2p"), "has /p2p without a peer id", "multiaddr: p2p without value");
	expect(ma("/ip4/1.2.3.4/sctp/1"), "has an unknown protocol", "multiaddr: unknown protocol");
	expect(ma("/IP4/1.2.3.4/tcp/1"), "has an unknown protocol", "multiaddr: protocols are case-sensitive");
	expect(ma("/ip4/1.2.3.4/tcp/1/ws/x"), "has an unknown protocol",
		   "multiaddr: value after a value-less protocol");
	expect(lb_multiaddr_check("/ip4/1.2.3.4\0/tcp/1", 19, NULL, 0), "contains a NUL byte",
		   "multiaddr: NUL byte in the middle");
	memset(buf, 0, sizeof(buf));
	strcpy(buf, "/ip4/1.2.3.4/tcp/1/p2p/");
	memset(buf + strlen(buf), 'z', 2000 - strlen(buf));
	buf[2000] = '\0';
	expect(ma(buf), "is longer than 1024 characters", "multiaddr: 2000-byte input");
	buf[1025] = '\0';
	expect(ma(buf), "is longer than 1024 characters", "multiaddr: 1025-byte input");
	buf[1024] = '\0';
	expect(ma(buf), "has a /p2p component that is not a valid peer id",
		   "multiaddr: 1024-byte input is read (bad peer id)");

	/* invalid: order */
	expect(ma("/tcp/1"), "does not start with an ip4, ip6, dns, dnsaddr or p2p component",
		   "multiaddr: starts with tcp");
	expect(ma("/ws"), "does not start with an ip4, ip6, dns, dnsaddr or p2p component",
		   "multiaddr: starts with ws");
	expect(ma("/ip4/1.2.3.4"), "has an address without a transport (tcp or udp)",
		   "multiaddr: address alone");
	snprintf(buf, sizeof(buf), "/ip4/1.2.3.4/p2p/%s", ID_ED1);
	expect(ma(buf), "has an address without a transport (tcp or udp) before /p2p",
		   "multiaddr: p2p right after the address");
	expect(ma("/ip4/1.2.3.4/ip4/1.2.3.4/tcp/1"), "has an address that is not at the start",
		   "multiaddr: two addresses");
	expect(ma("/ip4/1.2.3.4/tcp/1/udp/2"),
		   "has /tcp or /udp that does not follow an ip4, ip6 or dns address",
		   "multiaddr: udp after tcp");
	expect(ma("/dnsaddr/example.com/tcp/1"),
		   "has /tcp or /udp that does not follow an ip4, ip6 or dns address",
		   "multiaddr: tcp after dnsaddr");
	expect(ma("/ip4/1.2.3.4/tcp/1/quic-v1"), "has /quic or /quic-v1 that does not follow /udp",
		   "multiaddr: quic-v1 after tcp");
	expect(ma("/ip4/1.2.3.4/udp/1/ws"),
		   "has /ws, /wss, /http or /https that does not follow /tcp or /tls",
		   "multiaddr: ws after udp");
	expect(ma("/ip4/1.2.3.4/tcp/1/tls/tls"), "has /tls that does not follow /tcp",
		   "multiaddr: tls twice");
	expect(ma("/ip4/1.2.3.4/tcp/1/ws/wss"),
		   "has /ws, /wss, /http or /https that does not follow /tcp or /tls",
		   "multiaddr: wss after ws");
	snprintf(buf, sizeof(buf), "/ip4/1.2.3.4/tcp/1/p2p/%s/ws", ID_ED1);
	expect(ma(buf), "has a component after /p2p", "multiaddr: component after p2p");
	snprintf(buf, sizeof(buf), "/p2p/%s/p2p/%s", ID_ED1, ID_ED1);
	expect(ma(buf), "has a component after /p2p", "multiaddr: p2p twice");

	/* invalid: p2p values */
	snprintf(buf, sizeof(buf), "/ip4/1.2.3.4/tcp/1/p2p/%s", ID_ED1);
	expect(ma_node(buf, ID_ED2), "has a /p2p component that is not this node's id",
		   "multiaddr: p2p mismatch");
	expect(lb_multiaddr_check(buf, strlen(buf), ID_ED1, strlen(ID_ED1) - 1),
		   "has a /p2p component that is not this node's id",
		   "multiaddr: p2p longer than the node id");
	expect(ma("/ip4/1.2.3.4/tcp/1/p2p/Qm0yQSo1c1Ym7orWxLYvCrM2EmxFTANf8wXmmE7DWjhx5N"),
		   "has a /p2p component that is not a valid peer id", "multiaddr: p2p invalid");

	/* invalid: ports */
	expect(ma("/ip4/1.2.3.4/tcp/65536"), "has a port out of range (0..65535)",
		   "multiaddr: port 65536");
	expect(ma("/ip4/1.2.3.4/udp/99999999999999999999"), "has a port out of range (0..65535)",
		   "multiaddr: port of 20 digits");
	expect(ma("/ip4/1.2.3.4/tcp/01"), "has a port with a leading zero", "multiaddr: port 01");
	expect(ma("/ip4/1.2.3.4/tcp/-1"), "has a port that is not a decimal number",
		   "multiaddr: port -1");
	expect(ma("/ip4/1.2.3.4/tcp/80a"), "has a port that is not a decimal number",
		   "multiaddr: port 80a");

	/* invalid: ip4 */
	expect(ma("/ip4/256.0.0.1/tcp/1"), "has an ip4 address out of range", "multiaddr: ip4 256");
	expect(ma("/ip4/1.2.3.1000/tcp/1"), "has an ip4 address out of range", "multiaddr: ip4 1000");
	expect(ma("/ip4/01.2.3.4/tcp/1"), "has an ip4 address with a leading zero", "multiaddr: ip4 01");
	expect(ma("/ip4/1.2.3.00/tcp/1"), "has an ip4 address with a leading zero", "multiaddr: ip4 00");
	expect(ma("/ip4/1.2.3/tcp/1"), "has an ip4 address that is not a dotted quad",
		   "multiaddr: ip4 three parts");
	expect(ma("/ip4/1.2.3.4.5/tcp/1"), "has an ip4 address that is not a dotted quad",
		   "multiaddr: ip4 five parts");
	expect(ma("/ip4/1..3.4/tcp/1"), "has an ip4 address that is not a dotted quad",
		   "multiaddr: ip4 empty part");
	expect(ma("/ip4/1.2.3.4a/tcp/1"), "has an ip4 address that is not a dotted quad",
		   "multiaddr: ip4 trailing letter");
	expect(ma("/ip4/::1/tcp/1"), "has an ip4 address that is not a dotted quad",
		   "multiaddr: ip6 text under ip4");

	/* invalid: ip6 */
	expect(ma("/ip6/1:::2/tcp/1"),
		   "has an ip6 address with an empty group (':::' or more than one '::')",
		   "multiaddr: ip6 1:::2");
	expect(ma("/ip6/:::/tcp/1"),
		   "has an ip6 address with an empty group (':::' or more than one '::')",
		   "multiaddr: ip6 :::");
	expect(ma("/ip6/1:2:3:4:5:6:7:8:9/tcp/1"), "has an ip6 address with more than 8 groups",
		   "multiaddr: ip6 nine groups");
	expect(ma("/ip6/1:2:3:4:5:6:7/tcp/1"),
		   "has an ip6 address with fewer than 8 groups and no '::'",
		   "multiaddr: ip6 seven groups without ::");
	expect(ma("/ip6/1::2:3:4:5:6:7:8/tcp/1"), "has an ip6 address with '::' and 8 groups",
		   "multiaddr: ip6 :: with eight groups");
	expect(ma("/ip6/1::2::3/tcp/1"), "has an ip6 address with more than one '::'",
		   "multiaddr: ip6 two ::");
	expect(ma("/ip6/:1::2/tcp/1"), "has an ip6 address that starts with a single ':'",
		   "multiaddr: ip6 leading single colon");
	expect(ma("/ip6/1::2:/tcp/1"), "has an ip6 address that ends with a single ':'",
		   "multiaddr: ip6 trailing single colon");
	expect(ma("/ip6/12345::/tcp/1"), "has an ip6 address with a group of more than 4 hex digits",
		   "multiaddr: ip6 five-digit group");
	expect(ma("/ip6/g::1/tcp/1"), "has an ip6 address with a character that is not a hex digit",
		   "multiaddr: ip6 non-hex digit");
	expect(ma("/ip6/fe80::1%eth0/tcp/1"),
		   "has an ip6 address with a character that is not a hex digit",
		   "multiaddr: ip6 zone index");
	expect(ma("/ip6/::1.2.3.256/tcp/1"), "has an ip6 address with an invalid ip4 part",
		   "multiaddr: ip6 bad ip4 tail");
	expect(ma("/ip6/1.2.3.4::1/tcp/1"), "has an ip6 address with an ip4 part that is not at the end",
		   "multiaddr: ip6 ip4 part first");
	expect(ma("/ip6/1:2:3:4:5:6:7:1.2.3.4/tcp/1"), "has an ip6 address with more than 8 groups",
		   "multiaddr: ip6 seven groups and an ip4 tail");
	expect(ma("/ip6/1.2.3.4/tcp/1"), "has an ip6 address with fewer than 8 groups and no '::'",
		   "multiaddr: ip4 text under ip6");

	/* invalid: dns */
	expect(ma("/dns4/-a.com/tcp/1"), "has a dns name with a label that starts or ends with '-'",
		   "multiaddr: dns label starting with '-'");
	expect(ma("/dns4/a-.com/tcp/1"), "has a dns name with a label that starts or ends with '-'",
		   "multiaddr: dns label ending with '-'");
	expect(ma("/dns/a..com/tcp/1"), "has a dns name with an empty label",
		   "multiaddr: dns empty label");
	expect(ma("/dns/a.com./tcp/1"), "has a dns name with an empty label",
		   "multiaddr: dns trailing dot");
	expect(ma("/dns/.a.com/tcp/1"), "has a dns name with an empty label",
		   "multiaddr: dns leading dot");
	expect(ma("/dns/a_b.com/tcp/1"),
		   "has a dns name with a character other than letters, digits, '-' and '.'",
		   "multiaddr: dns underscore");
	expect(ma("/dnsaddr/exa mple.com"),
		   "has a dns name with a character other than letters, digits, '-' and '.'",
		   "multiaddr: dnsaddr with a space");
	snprintf(buf, sizeof(buf), "/dns/%sa.com/tcp/1", label);
	expect(ma(buf), "has a dns name with a label longer than 63 bytes",
		   "multiaddr: dns label of 64 bytes");
	snprintf(buf, sizeof(buf), "/dns/%s.%s.%s.%.62s/tcp/1", label, label, label, label);
	expect(ma(buf), "has a dns name longer than 253 bytes", "multiaddr: dns name of 254 bytes");

	/* every proper prefix of a valid address is either valid or refused */
	snprintf(buf, sizeof(buf), "/ip6/::ffff:1.2.3.4/tcp/443/tls/ws/p2p/%s", ID_ED1);
	{
		int			all_ok = 1;
		size_t		i;

		for (i = 0; i < strlen(buf); i++)
		{
			const char *r = lb_multiaddr_check(buf, i, NULL, 0);

			if (r != NULL && r[0] == '\0')
				all_ok = 0;
		}
		all_ok = all_ok && ma(buf) == NULL;
		record(all_ok, "multiaddr: every prefix of a long valid address is checked", NULL);
	}
}

/* tests of lb_peerid_ed25519_key */
static void
test_ed25519_key(void)
{
	static const unsigned char ed25519[] = {0x00, 0x24, 0x08, 0x01, 0x12, 0x20};
	static const unsigned char secp[] = {0x00, 0x25, 0x08, 0x02, 0x12, 0x21};
	unsigned char key[LB_ED25519_KEY_LEN];
	unsigned char want[LB_ED25519_KEY_LEN];
	char		id[300];
	char		back[300];
	unsigned char mh[6 + LB_ED25519_KEY_LEN];
	int			i;

	/* a generated id gives back exactly the key it was made of */
	make_id(ed25519, sizeof(ed25519), 32, 3, id, sizeof(id));
	for (i = 0; i < LB_ED25519_KEY_LEN; i++)
		want[i] = (unsigned char) (3 + i * 7);
	memset(key, 0, sizeof(key));
	expect(lb_peerid_ed25519_key(id, strlen(id), key), NULL, "ed25519 key: of a generated id");
	record(memcmp(key, want, sizeof(key)) == 0, "ed25519 key: the bytes the id was made of", id);

	/* a real id: the key re-encodes to the same text */
	expect(lb_peerid_ed25519_key(ID_ED1, strlen(ID_ED1), key), NULL, "ed25519 key: of a real id");
	memcpy(mh, ed25519, sizeof(ed25519));
	memcpy(mh + sizeof(ed25519), key, sizeof(key));
	b58_encode(mh, sizeof(mh), back, sizeof(back));
	record(strcmp(back, ID_ED1) == 0, "ed25519 key: re-encodes to the real id", back);

	expect(lb_peerid_ed25519_key(ID_QM1, strlen(ID_QM1), key),
		   "is a sha2-256 peer id, which holds only a hash of its public key",
		   "ed25519 key: none in a Qm id");
	make_id(secp, sizeof(secp), 33, 9, id, sizeof(id));
	expect(lb_peerid_ed25519_key(id, strlen(id), key),
		   "holds a public key that is not ed25519", "ed25519 key: none in a secp256k1 id");
	expect(lb_peerid_ed25519_key("12D3KooW", 8, key),
		   lb_peerid_check("12D3KooW", 8), "ed25519 key: an invalid id says why");
	expect(lb_peerid_ed25519_key("", 0, key), "is empty", "ed25519 key: empty");
	expect(lb_peerid_ed25519_key(NULL, 0, key), "is empty", "ed25519 key: NULL");
}

/* hex of 32 bytes into out */
static void
unhex32(const char *hex, unsigned char out[LB_ED25519_KEY_LEN])
{
	int			i;

	for (i = 0; i < LB_ED25519_KEY_LEN; i++)
	{
		unsigned int b;

		if (sscanf(hex + 2 * i, "%2x", &b) != 1)
		{
			fprintf(stderr, "unhex32: bad hex\n");
			exit(2);
		}
		out[i] = (unsigned char) b;
	}
}

/* tests of lb_ed25519_key_problem (issue 19, defect 8) */
static void
test_ed25519_key_problem(void)
{
	/* the eight points of small order: their canonical encodings */
	static const char *const small[] = {
		"0100000000000000000000000000000000000000000000000000000000000000",	/* order 1 */
		"ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",	/* order 2 */
		"0000000000000000000000000000000000000000000000000000000000000000",	/* order 4 */
		"0000000000000000000000000000000000000000000000000000000000000080",	/* order 4 */
		"26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05",	/* order 8 */
		"26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc85",	/* order 8 */
		"c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a",	/* order 8 */
		"c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac03fa",	/* order 8 */
	};
	/* y >= p = 2^255 - 19 (either sign), and x = 0 with the sign bit set */
	static const char *const noncanonical[] = {
		"edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",	/* p */
		"eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",	/* p + 1 */
		"f0ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff",	/* p + 3, sign */
		"ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",	/* 2^255 - 1 */
	};
	static const char *const small_noncanonical[] = {
		"0100000000000000000000000000000000000000000000000000000000000080",	/* -0 of y = 1 */
		"ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff",	/* -0 of y = p - 1 */
	};
	/* good keys: a real one, and the largest canonical y that is no small point */
	static const char *const good[] = {
		"d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a",	/* RFC 8032 test 1 */
		"ebffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",	/* p - 2 */
		"0200000000000000000000000000000000000000000000000000000000000000",	/* y = 2 */
	};
	unsigned char key[LB_ED25519_KEY_LEN];
	char		desc[DESC_LEN];
	size_t		i;

	for (i = 0; i < sizeof(small) / sizeof(small[0]); i++)
	{
		unhex32(small[i], key);
		snprintf(desc, sizeof(desc), "ed25519 key problem: small-order point %s", small[i]);
		expect(lb_ed25519_key_problem(key),
			   "is a point of small order, with which any signature can be forged", desc);
	}
	for (i = 0; i < sizeof(noncanonical) / sizeof(noncanonical[0]); i++)
	{
		unhex32(noncanonical[i], key);
		snprintf(desc, sizeof(desc), "ed25519 key problem: non-canonical %s", noncanonical[i]);
		expect(lb_ed25519_key_problem(key),
			   "is not canonically encoded (its y coordinate is not below 2^255 - 19)", desc);
	}
	for (i = 0; i < sizeof(small_noncanonical) / sizeof(small_noncanonical[0]); i++)
	{
		unhex32(small_noncanonical[i], key);
		snprintf(desc, sizeof(desc), "ed25519 key problem: -0 of a small point %s", small_noncanonical[i]);
		expect(lb_ed25519_key_problem(key),
			   "is a point of small order, with which any signature can be forged", desc);
	}
	for (i = 0; i < sizeof(good) / sizeof(good[0]); i++)
	{
		unhex32(good[i], key);
		snprintf(desc, sizeof(desc), "ed25519 key problem: none in %s", good[i]);
		expect(lb_ed25519_key_problem(key), NULL, desc);
	}
}

int
main(void)
{
	int			i;
	int			failed = 0;

	test_base58();
	test_peerid();
	test_ed25519_key();
	test_ed25519_key_problem();
	test_multiaddr();

	printf("1..%d\n", ntests);
	for (i = 0; i < ntests; i++)
	{
		printf("%s %d - %s\n", results[i].passed ? "ok" : "not ok", i + 1,
			   results[i].desc);
		if (!results[i].passed)
		{
			failed++;
			if (results[i].diag[0] != '\0')
				printf("# %s\n", results[i].diag);
		}
	}
	if (failed > 0)
		printf("# %d of %d tests failed\n", failed, ntests);
	return failed > 0 ? 1 : 0;
}
