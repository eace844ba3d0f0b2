/*-------------------------------------------------------------------------
 *
 * fuzz_multiaddr.c
 *	  libFuzzer harness of lb_multiaddr_check() (and lb_base58_decode() on
 *	  the same bytes).
 *
 * Invariants checked: every error is a non-empty string; an address valid
 * for a node id is valid without one; an address valid without a node id
 * and containing no /p2p/ or /ipfs/ component is valid for any node id.
 *
 *-------------------------------------------------------------------------
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "identity.h"

int			LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char node_id[] = "12D3KooWD3eckifWpRn9wQpMG9R9hX3sD158z7EqHWmweQAJU5SA";

static int
has_p2p(const char *s, size_t size)
{
	size_t		i;

	for (i = 0; i + 5 <= size; i++)
	{
		if (memcmp(s + i, "/p2p/", 5) == 0)
			return 1;
		if (i + 6 <= size && memcmp(s + i, "/ipfs/", 6) == 0)
			return 1;
	}
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *s = (const char *) data;
	const char *err_any;
	const char *err_node;
	unsigned char out[64];

	(void) lb_base58_decode(s, size, out, sizeof(out));

	err_any = lb_multiaddr_check(s, size, NULL, 0);
	err_node = lb_multiaddr_check(s, size, node_id, sizeof(node_id) - 1);

	if (err_any != NULL && err_any[0] == '\0')
		abort();
	if (err_node != NULL && err_node[0] == '\0')
		abort();
	if (err_node == NULL && err_any != NULL)
		abort();
	if (err_any == NULL && err_node != NULL && !has_p2p(s, size))
		abort();
	return 0;
}
