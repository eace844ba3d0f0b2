/*-------------------------------------------------------------------------
 *
 * registration.c
 *	  Signed registration: a provider proves that it holds the private key
 *	  of its libp2p peer id by signing a challenge with it (Ed25519, through
 *	  OpenSSL's libcrypto).
 *
 *	  lagbid.registration_challenge(node_id text, multiaddrs text[])
 *	  RETURNS bytea — the exact bytes to sign:
 *
 *		lagbid-registration-v1\n
 *		node:<node id>\n
 *		addr:<multiaddr>\n			one line per address, in the order given
 *		window:<floor(unix seconds of the market clock / 300)>\n
 *		seq:<the provider's registration_seq; 0 when not registered>\n
 *		login:<session_user, the login that will register>\n
 *		market:<lagbid.market_name, or "<system identifier>/<database>">\n
 *
 *	  The window makes a signature useless ten minutes later (verification
 *	  accepts the current and the previous window); seq, which every signed
 *	  registration increments, makes it useless once used (so an old
 *	  signature cannot roll the addresses back); login makes a signature
 *	  intercepted on its way useless to any other login (easy signup binds
 *	  the registering login to the node); market makes it useless on any
 *	  other market.
 *
 *	  A node id whose ed25519 key is of small order or not canonically
 *	  encoded (src/identity/ed25519.c) is refused at registration, signed or
 *	  not, and by registration_challenge (LB010): a "signature" of such a key
 *	  can be made without any private key (issue 19, defect 8).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <openssl/err.h>
#include <openssl/evp.h>

#include "access/xlog.h"
#include "catalog/pg_type.h"
#include "commands/dbcommands.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "utils/array.h"
#include "utils/builtins.h"

#include "lagbid.h"
#include "errors.h"
#include "market.h"
#include "identity/identity.h"

#define WINDOW_SECONDS	300
/* seconds from the Unix epoch to PostgreSQL's (2000-01-01) */
#define UNIX_TO_PG_EPOCH_SECONDS	INT64CONST(946684800)

static LagbidPlan seq_plan = {
	"SELECT p.registration_seq FROM lagbid.provider p WHERE p.node_id = $1",
	1, {TEXTOID}
};

/* lagbid.market_name is one line of the challenge: no control characters */
bool
lagbid_check_market_name(char **newval, void **extra, GucSource source)
{
	const unsigned char *p;

	for (p = (const unsigned char *) (*newval ? *newval : ""); *p; p++)
	{
		if (*p < 0x20 || *p == 0x7f)
		{
			GUC_check_errdetail("lagbid.market_name must not contain control characters.");
			return false;
		}
	}
	if (*newval && strlen(*newval) > 128)
	{
		GUC_check_errdetail("lagbid.market_name is at most 128 bytes.");
		return false;
	}
	return true;
}

/* the challenge window the market clock is in */
static int64
current_window(void)
{
	int64		us = lagbid_clock_now() + UNIX_TO_PG_EPOCH_SECONDS * USECS_PER_SEC;
	int64		w = WINDOW_SECONDS * USECS_PER_SEC;

	/* floor division, also before 1970 */
	return us >= 0 ? us / w : -((-us + w - 1) / w);
}

/* the provider's registration sequence, 0 when it is not registered */
int64
lagbid_registration_seq(const char *node_id)
{
	Datum		arg = CStringGetTextDatum(node_id);
	int64		seq = 0;

	lagbid_connect();
	lagbid_exec(&seq_plan, &arg, NULL, true, 1);
	if (!lagbid_result_int64(1, &seq))
		seq = 0;
	lagbid_finish();
	return seq;
}

/* the challenge bytes of (node_id, addrs) for one window and sequence */
static bytea *
challenge(const char *node_id, char **addrs, int naddrs, int64 window, int64 seq)
{
	StringInfoData buf;
	int			i;

	initStringInfo(&buf);
	appendBinaryStringInfo(&buf, "xxxx", VARHDRSZ);
	appendStringInfo(&buf, "lagbid-registration-v1\nnode:%s\n", node_id);
	for (i = 0; i < naddrs; i++)
		appendStringInfo(&buf, "addr:%s\n", addrs[i]);
	appendStringInfo(&buf, "window:" INT64_FORMAT "\nseq:" INT64_FORMAT "\nlogin:%s\n",
					 window, seq, GetUserNameFromId(GetSessionUserId(), false));
	appendStringInfo(&buf, "market:%s\n", lagbid_market_string());
	SET_VARSIZE(buf.data, buf.len);
	return (bytea *) buf.data;
}

/*
 * market.h: the market's name as its challenges say it: lagbid.market_name,
 * or "<system identifier>/<database>".  Lease names hash it too (issue 21).
 */
char *
lagbid_market_string(void)
{
	char	   *db;

	if (lagbid_market_name && lagbid_market_name[0] != '\0')
		return pstrdup(lagbid_market_name);
	db = get_database_name(MyDatabaseId);
	return psprintf(UINT64_FORMAT "/%s", GetSystemIdentifier(), db ? db : "");
}


/* the reason node_id's ed25519 key can prove nothing; NULL when it can or has none */
static const char *
node_key_problem(const char *node_id)
{
	unsigned char key[LB_ED25519_KEY_LEN];

	if (lb_peerid_ed25519_key(node_id, strlen(node_id), key) != NULL)
		return NULL;			/* no ed25519 key in it (a Qm... id) */
	return lb_ed25519_key_problem(key);
}

/* market.h */
void
lagbid_check_node_key(const char *node_id)
{
	const char *why = node_key_problem(node_id);

	if (why != NULL)
		lagbid_raise(LB_INVALID_NODE_KEY, psprintf("Its ed25519 public key %s.", why),
					 "Generate a new key pair (lagbid-agent init does) and register the peer id of its public key.",
					 "node \"%s\" has an ed25519 key that can prove nothing", node_id);
}

/* whether sig is key's Ed25519 signature of msg */
static bool
ed25519_verify(const unsigned char *key, const unsigned char *sig,
			   const unsigned char *msg, size_t len)
{
	EVP_PKEY   *pkey;
	EVP_MD_CTX *ctx;
	bool		ok = false;

	pkey = EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, NULL, key, LB_ED25519_KEY_LEN);
	ctx = EVP_MD_CTX_new();
	if (pkey != NULL && ctx != NULL &&
		EVP_DigestVerifyInit(ctx, NULL, NULL, NULL, pkey) == 1)
		ok = EVP_DigestVerify(ctx, sig, LB_ED25519_SIG_LEN, msg, len) == 1;
	EVP_MD_CTX_free(ctx);
	EVP_PKEY_free(pkey);
	/* leave nothing in the thread's error queue for the SSL connection to trip on */
	ERR_clear_error();
	return ok;
}

void
lagbid_verify_registration(const char *node_id, char **addrs, int naddrs,
						   int64 seq, bytea *signature)
{
	unsigned char key[LB_ED25519_KEY_LEN];
	const char *why = lb_peerid_ed25519_key(node_id, strlen(node_id), key);
	int64		window = current_window();
	int			back;

	lagbid_check_node_key(node_id);
	if (why != NULL)
		lagbid_raise(LB_INVALID_SIGNATURE, psprintf("The node id %s.", why),
					 "Only a 12D3KooW... peer id (an ed25519 key) can prove its key; register a Qm... id without a signature.",
					 "the signature of node \"%s\" cannot be verified", node_id);
	if (VARSIZE_ANY_EXHDR(signature) != LB_ED25519_SIG_LEN)
		lagbid_raise(LB_INVALID_SIGNATURE,
					 psprintf("An ed25519 signature is %d bytes, not %zu.", LB_ED25519_SIG_LEN,
							  (size_t) VARSIZE_ANY_EXHDR(signature)),
					 "Sign the bytes of lagbid.registration_challenge() and send the raw signature.",
					 "the signature of node \"%s\" is not an ed25519 signature", node_id);

	/* the current window, then the previous one */
	for (back = 0; back <= 1; back++)
	{
		bytea	   *msg = challenge(node_id, addrs, naddrs, window - back, seq);
		bool		ok = ed25519_verify(key, (unsigned char *) VARDATA_ANY(signature),
										(unsigned char *) VARDATA(msg), VARSIZE(msg) - VARHDRSZ);

		pfree(msg);
		if (ok)
			return;
	}
	lagbid_raise(LB_INVALID_SIGNATURE,
				 psprintf("It was checked over the challenge of these addresses, sequence " INT64_FORMAT
						  " and the last two %d-second windows.", seq, WINDOW_SECONDS),
				 "Sign a fresh lagbid.registration_challenge() of exactly these addresses with the node's key.",
				 "the signature does not prove the key of node \"%s\"", node_id);
}

PG_FUNCTION_INFO_V1(lagbid_registration_challenge);

/*
 * lagbid.registration_challenge(node_id text, multiaddrs text[]) RETURNS
 * bytea — the bytes register_provider checks a signature against now.
 */
Datum
lagbid_registration_challenge(PG_FUNCTION_ARGS)
{
	char	   *node_id;
	char	  **addrs;
	int			naddrs;

	if (PG_ARGISNULL(0))
		lagbid_raise(LB_INVALID_NODE_ID, NULL, NULL, "node_id must not be NULL");
	node_id = lagbid_text_to_cstring_limited(PG_GETARG_TEXT_PP(0), LB_PEERID_MAX_LEN, "node_id");
	lagbid_check_node_id(node_id, "node_id");
	lagbid_check_node_key(node_id);
	addrs = lagbid_parse_multiaddrs(PG_ARGISNULL(1) ? NULL : PG_GETARG_ARRAYTYPE_P(1),
									node_id, &naddrs);
	PG_RETURN_BYTEA_P(challenge(node_id, addrs, naddrs, current_window(),
								lagbid_registration_seq(node_id)));
}

PG_FUNCTION_INFO_V1(lagbid_node_key_problem);

/*
 * lagbid.node_key_problem(node_id text) RETURNS text — why the node id's
 * ed25519 key can prove nothing (small order, not canonical), NULL when it
 * can or when the id holds no ed25519 key; LB002 for an invalid node id.
 */
Datum
lagbid_node_key_problem(PG_FUNCTION_ARGS)
{
	char	   *node_id = lagbid_text_to_cstring_limited(PG_GETARG_TEXT_PP(0), LB_PEERID_MAX_LEN, "node_id");
	const char *why;

	lagbid_check_node_id(node_id, "node_id");
	why = node_key_problem(node_id);
	if (why == NULL)
		PG_RETURN_NULL();
	PG_RETURN_TEXT_P(cstring_to_text(why));
}

/* market.h: whether sig is node_id's Ed25519 signature of msg (false: no key) */
bool
lagbid_node_signed(const char *node_id, const unsigned char *msg, size_t len,
				   const unsigned char *sig, size_t siglen)
{
	unsigned char key[LB_ED25519_KEY_LEN];

	if (siglen != LB_ED25519_SIG_LEN ||
		lb_peerid_ed25519_key(node_id, strlen(node_id), key) != NULL ||
		lb_ed25519_key_problem(key) != NULL)
		return false;
	return ed25519_verify(key, sig, msg, len);
}
