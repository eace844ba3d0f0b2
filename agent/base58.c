/*-------------------------------------------------------------------------
 *
 * base58.c
 *	  base58btc (the Bitcoin alphabet) and the libp2p peer id of an Ed25519
 *	  public key.  The only hand-written encoding in the agent; the crypto
 *	  itself is OpenSSL's (keys.c).
 *
 * Peer id: the protobuf PublicKey {Type = Ed25519 (1), Data = 32 bytes} is
 * 08 01 12 20 || key (36 bytes); being short, it is inlined in an identity
 * multihash 00 24 || those 36 bytes, and base58btc-encoded: "12D3KooW...".
 *
 *-------------------------------------------------------------------------
 */
#include "agent.h"

#include <string.h>

static const char alphabet[] = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz";

/* returns the length written (without the NUL), or -1 when out is too small */
int
base58_encode(const unsigned char *in, size_t len, char *out, size_t outcap)
{
	unsigned char digits[512];	/* base-58 digits, least significant first */
	size_t		ndigits = 0;
	size_t		zeros = 0;
	size_t		n = 0;

	if (len > 256)
		return -1;
	while (zeros < len && in[zeros] == 0)
		zeros++;
	for (size_t i = zeros; i < len; i++)
	{
		unsigned	carry = in[i];

		for (size_t j = 0; j < ndigits; j++)
		{
			carry += (unsigned) digits[j] << 8;
			digits[j] = (unsigned char) (carry % 58);
			carry /= 58;
		}
		while (carry)
		{
			digits[ndigits++] = (unsigned char) (carry % 58);
			carry /= 58;
		}
	}
	if (zeros + ndigits + 1 > outcap)
		return -1;
	for (size_t i = 0; i < zeros; i++)
		out[n++] = '1';
	while (ndigits)
		out[n++] = alphabet[digits[--ndigits]];
	out[n] = '\0';
	return (int) n;
}

int
peer_id_from_pubkey(const unsigned char pub[32], char *out, size_t outcap)
{
	unsigned char mh[38] = {0x00, 0x24, 0x08, 0x01, 0x12, 0x20};

	memcpy(mh + 6, pub, 32);
	return base58_encode(mh, sizeof(mh), out, outcap);
}
