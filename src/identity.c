/*-------------------------------------------------------------------------
 *
 * identity.c
 *	  The PostgreSQL face of the pure identity parsers (src/identity/):
 *	  node ids and multiaddrs refused with LB002/LB003, and the SQL
 *	  predicates lagbid.node_id_is_valid and lagbid.multiaddr_is_valid.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "fmgr.h"
#include "utils/builtins.h"

#include "lagbid.h"
#include "errors.h"
#include "market.h"
#include "identity/identity.h"

/* a value safe to quote in a message: at most 80 bytes, printable ASCII */
static char *
quotable(const char *s)
{
	StringInfoData buf;
	const char *p;

	initStringInfo(&buf);
	for (p = s; *p && buf.len < 80; p++)
		appendStringInfoChar(&buf, ((unsigned char) *p >= 0x20 && (unsigned char) *p < 0x7f) ? *p : '?');
	if (*p)
		appendStringInfoString(&buf, "...");
	return buf.data;
}

void
lagbid_check_node_id(const char *node_id, const char *what)
{
	const char *why = lb_peerid_check(node_id, strlen(node_id));

	if (why)
		lagbid_raise(LB_INVALID_NODE_ID, psprintf("\"%s\" %s.", quotable(node_id), why),
					 "A node id is a libp2p peer id such as 12D3KooW... or Qm....",
					 "%s is not a valid libp2p peer id", what);
}

void
lagbid_check_multiaddr(const char *addr, const char *node_id)
{
	const char *why = lb_multiaddr_check(addr, strlen(addr), node_id,
										 node_id ? strlen(node_id) : 0);

	if (why)
		lagbid_raise(LB_INVALID_MULTIADDR, psprintf("\"%s\" %s.", quotable(addr), why),
					 "A multiaddr looks like /ip4/203.0.113.7/tcp/4001 or /dns4/cp.example/udp/4001/quic-v1.",
					 "multiaddr is not a valid libp2p multiaddr");
}

PG_FUNCTION_INFO_V1(lagbid_node_id_is_valid);

/* lagbid.node_id_is_valid(node_id text) RETURNS boolean */
Datum
lagbid_node_id_is_valid(PG_FUNCTION_ARGS)
{
	text	   *t = PG_GETARG_TEXT_PP(0);

	PG_RETURN_BOOL(lb_peerid_check(VARDATA_ANY(t), VARSIZE_ANY_EXHDR(t)) == NULL);
}

PG_FUNCTION_INFO_V1(lagbid_multiaddr_is_valid);

/* lagbid.multiaddr_is_valid(multiaddr text, node_id text DEFAULT NULL) RETURNS boolean */
Datum
lagbid_multiaddr_is_valid(PG_FUNCTION_ARGS)
{
	text	   *a;
	text	   *n = NULL;

	if (PG_ARGISNULL(0))
		PG_RETURN_NULL();
	a = PG_GETARG_TEXT_PP(0);
	if (!PG_ARGISNULL(1))
		n = PG_GETARG_TEXT_PP(1);
	PG_RETURN_BOOL(lb_multiaddr_check(VARDATA_ANY(a), VARSIZE_ANY_EXHDR(a),
									  n ? VARDATA_ANY(n) : NULL,
									  n ? VARSIZE_ANY_EXHDR(n) : 0) == NULL);
}

PG_FUNCTION_INFO_V1(lagbid_multiaddr_problem);

/* lagbid.multiaddr_problem(multiaddr text, node_id text DEFAULT NULL) RETURNS text: NULL when valid */
Datum
lagbid_multiaddr_problem(PG_FUNCTION_ARGS)
{
	text	   *a;
	text	   *n = NULL;
	const char *why;

	if (PG_ARGISNULL(0))
		PG_RETURN_NULL();
	a = PG_GETARG_TEXT_PP(0);
	if (!PG_ARGISNULL(1))
		n = PG_GETARG_TEXT_PP(1);
	why = lb_multiaddr_check(VARDATA_ANY(a), VARSIZE_ANY_EXHDR(a),
							 n ? VARDATA_ANY(n) : NULL, n ? VARSIZE_ANY_EXHDR(n) : 0);
	if (why == NULL)
		PG_RETURN_NULL();
	PG_RETURN_TEXT_P(cstring_to_text(why));
}

PG_FUNCTION_INFO_V1(lagbid_peer_id_from_ed25519);

/*
 * lagbid.peer_id_from_ed25519(public_key bytea) RETURNS text — the libp2p
 * peer id of an ed25519 public key (32 bytes): the identity multihash of
 * its protobuf encoding, in base58btc ("12D3KooW...").
 */
Datum
lagbid_peer_id_from_ed25519(PG_FUNCTION_ARGS)
{
	bytea	   *key = PG_GETARG_BYTEA_PP(0);
	unsigned char mh[6 + 32] = {0x00, 0x24, 0x08, 0x01, 0x12, 0x20};
	char		text[LB_PEERID_MAX_LEN];

	if (VARSIZE_ANY_EXHDR(key) != 32)
		lagbid_raise(LB_INVALID_ARGUMENT, NULL, NULL,
					 "an ed25519 public key is 32 bytes, not %zu",
					 (size_t) VARSIZE_ANY_EXHDR(key));
	memcpy(mh + 6, VARDATA_ANY(key), 32);
	if (lb_base58_encode(mh, sizeof(mh), text, sizeof(text)) < 0)
		elog(ERROR, "lagbid: base58 encoding failed");
	PG_RETURN_TEXT_P(cstring_to_text(text));
}
