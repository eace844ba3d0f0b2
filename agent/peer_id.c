/*-------------------------------------------------------------------------
 *
 * peer_id.c
 *	  The libp2p peer id of the node's Ed25519 public key, encoded with the
 *	  extension's own base58btc (src/identity/base58.c, compiled into the
 *	  agent too), so that the agent's id is the one lagbid derives.
 *
 * The protobuf PublicKey {Type = Ed25519 (1), Data = 32 bytes} is 08 01 12
 * 20 || key (36 bytes); being short, it is inlined in an identity multihash
 * 00 24 || those 36 bytes, and base58btc-encoded: "12D3KooW...".
 *
 *-------------------------------------------------------------------------
 */
#include "agent.h"

#include <string.h>

int
peer_id_from_pubkey(const unsigned char pub[32], char *out, size_t outcap)
{
	unsigned char mh[38] = {0x00, 0x24, 0x08, 0x01, 0x12, 0x20};

	memcpy(mh + 6, pub, 32);
	return lb_base58_encode(mh, sizeof(mh), out, outcap);
}
