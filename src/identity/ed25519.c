/*
 * ed25519.c
 *	  Which Ed25519 public keys can prove nothing (issue 19, defect 8).
 *
 *	  A key is 32 bytes: the little-endian y coordinate of a point of the
 *	  curve in its low 255 bits, and the sign of x in the top bit (RFC 8032
 *	  section 5.1.2).  Two kinds of key are refused before any signature is
 *	  checked with them:
 *
 *	  - not canonical: y >= p = 2^255 - 19.  Such an encoding names the same
 *	    point as y - p, so one key would have two peer ids (RFC 8032 requires
 *	    decoding to fail).
 *	  - of small order: the eight points of order 1, 2, 4 or 8 (the torsion
 *	    subgroup), whatever the sign bit says.  Verification checks
 *	    [S]B = R + [k]A; with A of small order, [k]A is one of at most eight
 *	    points whoever signs, so S = 0 and R = -[k]A verify without any
 *	    private key: for the identity key (01 then 31 zero bytes) the
 *	    signature 01 then 63 zero bytes verifies for every message, and for
 *	    the others a forger tries R over the eight points.  A registration
 *	    "signed" that way proves nothing.  Their y coordinates are 0 (order
 *	    4), 1 (order 1), p - 1 (order 2) and the two below (order 8); the
 *	    encodings with the sign bit set name the other point of each pair
 *	    (or, for y = 1 and y = p - 1, whose x is 0, are not canonical).
 *
 *	  Pure C without PostgreSQL headers, like the rest of src/identity/: the
 *	  unit tests (test/unit/) check every such key.
 */
#include <string.h>

#include "identity.h"

/* y coordinates (little-endian, sign bit clear) of the points of small order */
static const unsigned char small_order_y[][LB_ED25519_KEY_LEN] = {
	/* y = 0: the two points of order 4 */
	{0},
	/* y = 1: the identity, order 1 */
	{0x01},
	/* y = p - 1: order 2 */
	{0xec, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
	0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f},
	/* two points of order 8 each */
	{0x26, 0xe8, 0x95, 0x8f, 0xc2, 0xb2, 0x27, 0xb0, 0x45, 0xc3, 0xf4, 0x89, 0xf2, 0xef, 0x98, 0xf0,
	0xd5, 0xdf, 0xac, 0x05, 0xd3, 0xc6, 0x33, 0x39, 0xb1, 0x38, 0x02, 0x88, 0x6d, 0x53, 0xfc, 0x05},
	{0xc7, 0x17, 0x6a, 0x70, 0x3d, 0x4d, 0xd8, 0x4f, 0xba, 0x3c, 0x0b, 0x76, 0x0d, 0x10, 0x67, 0x0f,
	0x2a, 0x20, 0x53, 0xfa, 0x2c, 0x39, 0xcc, 0xc6, 0x4e, 0xc7, 0xfd, 0x77, 0x92, 0xac, 0x03, 0x7a},
};

/* whether y (sign bit cleared) is at least p = 2^255 - 19 */
static int
at_least_p(const unsigned char *y)
{
	int			i;

	if (y[31] != 0x7f)
		return 0;
	for (i = 30; i >= 1; i--)
		if (y[i] != 0xff)
			return 0;
	return y[0] >= 0xed;
}

const char *
lb_ed25519_key_problem(const unsigned char key[LB_ED25519_KEY_LEN])
{
	unsigned char y[LB_ED25519_KEY_LEN];
	size_t		i;

	memcpy(y, key, sizeof(y));
	y[LB_ED25519_KEY_LEN - 1] &= 0x7f;
	if (at_least_p(y))
		return "is not canonically encoded (its y coordinate is not below 2^255 - 19)";
	for (i = 0; i < sizeof(small_order_y) / sizeof(small_order_y[0]); i++)
		if (memcmp(y, small_order_y[i], sizeof(y)) == 0)
			return "is a point of small order, with which any signature can be forged";
	return NULL;
}
