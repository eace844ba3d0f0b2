/*-------------------------------------------------------------------------
 *
 * peerid.c
 *	  Validation of libp2p peer ids in their legacy base58btc text form.
 *
 * The text decodes to a multihash, which must be one of:
 *
 *	sha2-256:	0x12 0x20 then the 32-byte digest ("Qm...");
 *	identity:	0x00, a one-byte varint length L (at most 42) then exactly L
 *				bytes: a libp2p PublicKey protobuf, field 1 (0x08) the key
 *				type 0..3 (RSA, Ed25519, Secp256k1, ECDSA), field 2 (0x12)
 *				the key bytes with a length that fills the rest.  Ed25519
 *				keys must be 32 bytes ("12D3KooW...") and Secp256k1 keys 33
 *				(compressed).
 *
 * Base58 with the leading-'1' rule has exactly one text per byte string, so
 * two valid peer ids name the same peer if and only if their texts are
 * equal.  Pure C: no PostgreSQL headers (see identity.h).
 *
 *-------------------------------------------------------------------------
 */
#include <string.h>

#include "identity.h"

#define MH_IDENTITY			0x00
#define MH_SHA2_256			0x12
#define SHA2_256_LEN		32
#define IDENTITY_MAX_LEN	42

/* libp2p PublicKey protobuf */
#define PB_KEY_TYPE_TAG		0x08	/* field 1, varint */
#define PB_KEY_DATA_TAG		0x12	/* field 2, length-delimited */
#define KEY_TYPE_RSA		0
#define KEY_TYPE_ED25519	1
#define KEY_TYPE_SECP256K1	2
#define KEY_TYPE_ECDSA		3

static const char b58_alphabet[] =
"123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz";

/*
 * The message for each printable ASCII byte (0x20..0x7e) that is not in the
 * base58btc alphabet; NULL for those that are.  Static strings, so that the
 * error can name the character without a buffer.
 */
#define BAD(c) "contains the character '" c "' which is not base58btc"
static const char *const bad_char_msg[0x7f - 0x20] = {
	/* 0x20 */ BAD(" "), BAD("!"), BAD("\""), BAD("#"),
	/* 0x24 */ BAD("$"), BAD("%"), BAD("&"), BAD("'"),
	/* 0x28 */ BAD("("), BAD(")"), BAD("*"), BAD("+"),
	/* 0x2c */ BAD(","), BAD("-"), BAD("."), BAD("/"),
	/* 0x30 */ BAD("0"), NULL, NULL, NULL,
	/* 0x34 */ NULL, NULL, NULL, NULL,
	/* 0x38 */ NULL, NULL, BAD(":"), BAD(";"),
	/* 0x3c */ BAD("<"), BAD("="), BAD(">"), BAD("?"),
	/* 0x40 */ BAD("@"), NULL, NULL, NULL,
	/* 0x44 */ NULL, NULL, NULL, NULL,
	/* 0x48 */ NULL, BAD("I"), NULL, NULL,
	/* 0x4c */ NULL, NULL, NULL, BAD("O"),
	/* 0x50 */ NULL, NULL, NULL, NULL,
	/* 0x54 */ NULL, NULL, NULL, NULL,
	/* 0x58 */ NULL, NULL, NULL, BAD("["),
	/* 0x5c */ BAD("\\"), BAD("]"), BAD("^"), BAD("_"),
	/* 0x60 */ BAD("`"), NULL, NULL, NULL,
	/* 0x64 */ NULL, NULL, NULL, NULL,
	/* 0x68 */ NULL, NULL, NULL, NULL,
	/* 0x6c */ BAD("l"), NULL, NULL, NULL,
	/* 0x70 */ NULL, NULL, NULL, NULL,
	/* 0x74 */ NULL, NULL, NULL, NULL,
	/* 0x78 */ NULL, NULL, NULL, BAD("{"),
	/* 0x7c */ BAD("|"), BAD("}"), BAD("~")
};
#undef BAD

/*
 * NULL if s[0..len) is a valid peer id, else what is wrong with it.
 */
const char *
lb_peerid_check(const char *s, size_t len)
{
	unsigned char buf[LB_PEERID_MAX_LEN];
	const unsigned char *key;
	size_t		i;
	size_t		keylen;
	int			n;

	if (s == NULL || len == 0)
		return "is empty";
	if (len > LB_PEERID_MAX_LEN)
		return "is longer than 128 characters";

	for (i = 0; i < len; i++)
	{
		unsigned char c = (unsigned char) s[i];

		if (c == '\0')
			return "contains a NUL byte";
		if (c < 0x20 || c >= 0x7f)
			return "contains a control character or a non-ASCII byte";
		if (memchr(b58_alphabet, c, sizeof(b58_alphabet) - 1) == NULL)
			return bad_char_msg[c - 0x20];
	}

	/* a 128-character text decodes to at most 128 bytes */
	n = lb_base58_decode(s, len, buf, sizeof(buf));
	if (n < 0)
		return "is not valid base58btc";
	if (n < 2)
		return "is too short to be a multihash";

	if (buf[0] == MH_SHA2_256)
	{
		if (buf[1] != SHA2_256_LEN)
			return "is a sha2-256 multihash whose length is not 32";
		if ((size_t) n - 2 < SHA2_256_LEN)
			return "has a digest shorter than the 32 bytes its multihash header says";
		if ((size_t) n - 2 > SHA2_256_LEN)
			return "has a digest longer than the 32 bytes its multihash header says";
		return NULL;
	}

	if (buf[0] != MH_IDENTITY)
		return "is not a sha2-256 or identity multihash";

	/* identity: the length is a varint, one byte for anything up to 42 */
	if (buf[1] & 0x80)
	{
		if (n > 2 && buf[2] == 0)
			return "has a multihash length that is not minimally encoded";
		return "has an identity multihash longer than 42 bytes";
	}
	if (buf[1] > IDENTITY_MAX_LEN)
		return "has an identity multihash longer than 42 bytes";
	if ((size_t) n - 2 < buf[1])
		return "has a public key shorter than its identity multihash header says";
	if ((size_t) n - 2 > buf[1])
		return "has a public key longer than its identity multihash header says";

	/* the PublicKey protobuf: 08 <type> 12 <len> <key bytes> */
	key = buf + 2;
	keylen = buf[1];
	if (keylen < 4 || key[0] != PB_KEY_TYPE_TAG || key[2] != PB_KEY_DATA_TAG)
		return "has an identity multihash that is not a libp2p public key";
	if (key[1] > KEY_TYPE_ECDSA)
		return "has a public key of an unknown type (not 0..3)";
	if (key[3] != keylen - 4)
		return "has a public key whose protobuf length does not match the multihash";
	if (key[3] == 0)
		return "has an empty public key";
	if (key[1] == KEY_TYPE_ED25519 && key[3] != 32)
		return "has an ed25519 public key that is not 32 bytes";
	if (key[1] == KEY_TYPE_SECP256K1 && key[3] != 33)
		return "has a secp256k1 public key that is not 33 bytes";

	return NULL;
}

/*
 * The ed25519 key of a peer id, or why it has none.
 */
const char *
lb_peerid_ed25519_key(const char *s, size_t len, unsigned char key[LB_ED25519_KEY_LEN])
{
	unsigned char buf[LB_PEERID_MAX_LEN];
	const char *why = lb_peerid_check(s, len);
	int			n;

	if (why != NULL)
		return why;
	/* valid, so it decodes; the checks above fixed its layout */
	n = lb_base58_decode(s, len, buf, sizeof(buf));
	if (n < 2 || buf[0] == MH_SHA2_256)
		return "is a sha2-256 peer id, which holds only a hash of its public key";
	if (n != 6 + LB_ED25519_KEY_LEN || buf[3] != KEY_TYPE_ED25519)
		return "holds a public key that is not ed25519";
	memcpy(key, buf + 6, LB_ED25519_KEY_LEN);
	return NULL;
}
