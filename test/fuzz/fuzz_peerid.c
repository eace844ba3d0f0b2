/*-------------------------------------------------------------------------
 *
 * fuzz_peerid.c
 *	  libFuzzer harness of lb_peerid_check(), lb_peerid_ed25519_key() and
 *	  lb_base58_decode().
 *
 * Besides looking for memory errors and undefined behaviour, it checks a few
 * invariants and aborts when one breaks: every error is a non-empty string;
 * a valid peer id decodes to a 7..44-byte multihash and is accepted as a
 * "/p2p/<id>" multiaddr, both with and without itself as the node id; a
 * key is extracted only from a valid id, and re-encodes to the same text.
 *
 *-------------------------------------------------------------------------
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "identity.h"

int			LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *s = (const char *) data;
	const char *err;
	unsigned char out[LB_MULTIADDR_MAX_LEN];
	int			n;
	int			small;
	size_t		tight;

	/* the decoder on its own, with a roomy and a tight output buffer */
	n = lb_base58_decode(s, size, out, sizeof(out));
	if (n >= 0 && (size_t) n > size)
		abort();
	tight = size / 2 < sizeof(out) ? size / 2 : sizeof(out);
	small = lb_base58_decode(s, size, out, tight);
	if (small >= 0 && (n != small || (size_t) small > tight))
		abort();

	err = lb_peerid_check(s, size);
	{
		unsigned char key[LB_ED25519_KEY_LEN];
		const char *kerr = lb_peerid_ed25519_key(s, size, key);

		if (err != NULL && (kerr == NULL || strcmp(err, kerr) != 0))
			abort();
		if (kerr == NULL)
		{
			unsigned char mh[6 + LB_ED25519_KEY_LEN] = {0x00, 0x24, 0x08, 0x01, 0x12, 0x20};
			char		back[LB_PEERID_MAX_LEN + 1];

			memcpy(mh + 6, key, sizeof(key));
			if (lb_base58_encode(mh, sizeof(mh), back, sizeof(back)) != (int) size ||
				memcmp(back, s, size) != 0)
				abort();
		}
	}
	if (err != NULL)
	{
		if (err[0] == '\0')
			abort();
		return 0;
	}

	/* valid: a multihash of 2 + 5..42 or 2 + 32 bytes, and a /p2p/ address */
	n = lb_base58_decode(s, size, out, sizeof(out));
	if (n < 7 || n > 44)
		abort();
	if (size <= LB_PEERID_MAX_LEN)
	{
		char		ma[5 + LB_PEERID_MAX_LEN];

		memcpy(ma, "/p2p/", 5);
		memcpy(ma + 5, s, size);
		if (lb_multiaddr_check(ma, size + 5, NULL, 0) != NULL)
			abort();
		if (lb_multiaddr_check(ma, size + 5, s, size) != NULL)
			abort();
	}
	else
		abort();
	return 0;
}
