/*-------------------------------------------------------------------------
 *
 * base58.c
 *	  base58btc decoding (the bitcoin alphabet), as used by the legacy text
 *	  form of libp2p peer ids.  Each leading '1' stands for one leading zero
 *	  byte; the rest of the text is a big-endian number in base 58.
 *
 * The work is quadratic in the input length, so inputs longer than
 * LB_MULTIADDR_MAX_LEN are refused before any of it is done.  Pure C: no
 * PostgreSQL headers (see identity.h).
 *
 *-------------------------------------------------------------------------
 */
#include <string.h>

#include "identity.h"

/* digit value of each byte, or -1 when it is not in the bitcoin alphabet */
static const signed char b58_digit[256] = {
	-1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
	-1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
	-1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
	/* '1'..'9' are 0..8; '0' is not a digit */
	-1, 0, 1, 2, 3, 4, 5, 6, 7, 8, -1, -1, -1, -1, -1, -1,
	/* 'A'..'Z' without 'I' and 'O' are 9..32 */
	-1, 9, 10, 11, 12, 13, 14, 15, 16, -1, 17, 18, 19, 20, 21, -1,
	22, 23, 24, 25, 26, 27, 28, 29, 30, 31, 32, -1, -1, -1, -1, -1,
	/* 'a'..'z' without 'l' are 33..57 */
	-1, 33, 34, 35, 36, 37, 38, 39, 40, 41, 42, 43, -1, 44, 45, 46,
	47, 48, 49, 50, 51, 52, 53, 54, 55, 56, 57, -1, -1, -1, -1, -1,
	-1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
	-1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
	-1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
	-1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
	-1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
	-1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
	-1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
	-1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1
};

/*
 * Decode src[0..len) into out[0..outcap).  Returns the number of bytes
 * written, or -1 when a character is not base58btc, when len exceeds
 * LB_MULTIADDR_MAX_LEN or when the result does not fit in outcap bytes
 * (out is then left in an unspecified state).  An empty input decodes to
 * zero bytes.
 */
int
lb_base58_decode(const char *src, size_t len, unsigned char *out, size_t outcap)
{
	/* the number, little-endian; each digit adds at most one byte */
	unsigned char num[LB_MULTIADDR_MAX_LEN];
	size_t		numlen = 0;
	size_t		zeros = 0;
	size_t		i;
	size_t		j;

	if (src == NULL && len > 0)
		return -1;
	if (len > LB_MULTIADDR_MAX_LEN)
		return -1;

	/* leading '1's are leading zero bytes */
	while (zeros < len && src[zeros] == '1')
		zeros++;

	for (i = zeros; i < len; i++)
	{
		int			digit = b58_digit[(unsigned char) src[i]];
		unsigned int carry;

		if (digit < 0)
			return -1;

		/* num = num * 58 + digit */
		carry = (unsigned int) digit;
		for (j = 0; j < numlen; j++)
		{
			carry += (unsigned int) num[j] * 58;
			num[j] = (unsigned char) (carry & 0xff);
			carry >>= 8;
		}
		while (carry > 0)
		{
			/* cannot overflow: numlen <= i - zeros < LB_MULTIADDR_MAX_LEN */
			num[numlen++] = (unsigned char) (carry & 0xff);
			carry >>= 8;
		}
	}

	if (zeros + numlen > outcap)
		return -1;

	if (zeros > 0)
		memset(out, 0, zeros);
	for (j = 0; j < numlen; j++)
		out[zeros + j] = num[numlen - 1 - j];

	return (int) (zeros + numlen);
}

static const char b58_alphabet[] =
"123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz";

/*
 * Encode src[0..len) as base58btc text into out (NUL-terminated, capacity
 * outcap).  Returns the text's length, or -1 when len exceeds 256 bytes or
 * the text does not fit.
 */
int
lb_base58_encode(const unsigned char *src, size_t len, char *out, size_t outcap)
{
	/* the number in base 58, little-endian; 256 bytes need at most 350 digits */
	unsigned char digits[352];
	size_t		ndigits = 0;
	size_t		zeros = 0;
	size_t		i;
	size_t		j;

	if (len > 256 || (src == NULL && len > 0))
		return -1;
	while (zeros < len && src[zeros] == 0)
		zeros++;

	for (i = zeros; i < len; i++)
	{
		unsigned int carry = src[i];

		/* digits = digits * 256 + byte */
		for (j = 0; j < ndigits; j++)
		{
			carry += (unsigned int) digits[j] << 8;
			digits[j] = (unsigned char) (carry % 58);
			carry /= 58;
		}
		while (carry > 0)
		{
			digits[ndigits++] = (unsigned char) (carry % 58);
			carry /= 58;
		}
	}

	if (zeros + ndigits + 1 > outcap)
		return -1;
	for (i = 0; i < zeros; i++)
		out[i] = '1';
	for (j = 0; j < ndigits; j++)
		out[zeros + j] = b58_alphabet[digits[ndigits - 1 - j]];
	out[zeros + ndigits] = '\0';
	return (int) (zeros + ndigits);
}
