/*-------------------------------------------------------------------------
 *
 * api.c
 *	  Who is calling, for the API (schema lagbid_api).  Two kinds of caller:
 *
 *	  - PostgREST: its login (session_user) is one of lagbid.authenticators;
 *		it sets request.jwt.claims from a verified JWT together with SET
 *		LOCAL ROLE to the claim's role.  The identity is the claims' "sub".
 *	  - a direct login (a provider's daemon, an owner's tool): bound by the
 *		platform to one provider or owner (lagbid.login_binding,
 *		lagbid.bind_login / bind_owner_login), or bound by proving a node's
 *		key at its first registration (easy signup, lagbid.api_signup).
 *
 *	  lagbid.api_identity(expected_role text) RETURNS text — the caller's
 *	  sub (an owner name or a provider's node id), resolved in this order:
 *
 *	  1. session_user has a binding: its subject.  LB105 (403) when its kind
 *		 does not fit expected_role; claims, when set, must name the same
 *		 role and sub or are refused (LB106).
 *	  2. claims are set: trusted only when session_user is one of
 *		 lagbid.authenticators and the current role (SET ROLE) is exactly
 *		 the claimed role, else LB106 (403); malformed claims are LB101; a
 *		 claimed role other than expected_role is LB105.
 *	  3. otherwise LB101 (401).
 *
 *	  lagbid.api_role(), lagbid.api_node_id(), lagbid.api_signup() and
 *	  lagbid.is_authenticator() build on the same resolution.  Resolving a
 *	  caller also bounds its transaction (api_guard.c).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/namespace.h"
#include "catalog/pg_type.h"
#include "common/jsonapi.h"
#include "fmgr.h"
#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/jsonb.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/varlena.h"

#include "lagbid.h"
#include "errors.h"
#include "market.h"
#include "states.h"
#include "identity/identity.h"

#define MAX_CLAIMS_LEN	8192
#define MAX_SUB_LEN		128

#define ROLE_PROVIDER	"lagbid_provider"
#define ROLE_OWNER		"lagbid_owner"

/* what a login is bound to (lagbid.login_binding) */
typedef struct Binding
{
	bool		found;
	bool		provider;		/* kind 'provider', else 'owner' */
	char	   *subject;
} Binding;

static LagbidPlan binding_plan = {
	"SELECT b.kind = 'provider', b.subject FROM lagbid.login_binding b WHERE b.login = $1",
	1, {REGROLEOID}
};

static LagbidPlan node_bound_plan = {
	"SELECT b.login::text FROM lagbid.login_binding b "
	"WHERE b.kind = 'provider' AND b.subject = $1 AND b.login <> $2 LIMIT 1",
	2, {TEXTOID, REGROLEOID}
};

static LagbidPlan bind_signup_plan = {
	"INSERT INTO lagbid.login_binding (login, kind, subject, how) "
	"VALUES ($1, 'provider', $2, 'signup') ON CONFLICT (login) DO NOTHING",
	2, {REGROLEOID, TEXTOID}
};

/* ---- lagbid.authenticators, parsed once per value ---- */

static char *auth_cached_value = NULL;	/* the setting the cache is for */
static Oid	auth_cached_login = InvalidOid;
static bool auth_cached_result = false;

bool
lagbid_check_authenticators(char **newval, void **extra, GucSource source)
{
	char	   *raw;
	List	   *names;
	bool		ok;

	if (*newval == NULL)
		return true;
	raw = pstrdup(*newval);
	ok = SplitIdentifierString(raw, ',', &names);

	list_free(names);
	pfree(raw);
	if (!ok)
		GUC_check_errdetail("lagbid.authenticators is a comma-separated list of role names.");
	return ok;
}

/* whether the role named by oid is one of lagbid.authenticators */
static bool
is_authenticator_uncached(Oid login)
{
	char	   *raw;
	List	   *names;
	ListCell   *lc;
	char	   *name = GetUserNameFromId(login, true);
	bool		found = false;

	if (name == NULL || lagbid_authenticators == NULL)
		return false;
	raw = pstrdup(lagbid_authenticators);
	if (!SplitIdentifierString(raw, ',', &names))
		return false;
	foreach(lc, names)
	{
		if (strcmp((char *) lfirst(lc), name) == 0)
			found = true;
	}
	list_free(names);
	pfree(raw);
	return found;
}

/* whether login is one of lagbid.authenticators; cached for the session's login */
static bool
is_authenticator(Oid login)
{
	const char *value = lagbid_authenticators ? lagbid_authenticators : "";

	if (login != GetSessionUserId())
		return is_authenticator_uncached(login);
	if (auth_cached_value == NULL || login != auth_cached_login ||
		strcmp(auth_cached_value, value) != 0)
	{
		auth_cached_result = is_authenticator_uncached(login);
		auth_cached_login = login;
		if (auth_cached_value)
			pfree(auth_cached_value);
		auth_cached_value = MemoryContextStrdup(TopMemoryContext, value);
	}
	return auth_cached_result;
}

/* ---- the binding of the session's login ---- */

/*
 * Whether lagbid.login_binding exists: not while a 0.2 schema runs on this
 * library, before ALTER EXTENSION lagbid UPDATE (then no login is bound).
 * Looked up until it is first seen, then taken as given.
 */
static bool
binding_table_exists(void)
{
	static bool seen = false;
	Oid			nsp;

	if (!seen)
	{
		nsp = get_namespace_oid("lagbid", true);
		seen = OidIsValid(nsp) && OidIsValid(get_relname_relid("login_binding", nsp));
	}
	return seen;
}

static void
binding_of(Oid login, Binding *b)
{
	MemoryContext caller = CurrentMemoryContext;
	Datum		arg = ObjectIdGetDatum(login);
	bool		isnull;

	b->found = false;
	b->provider = false;
	b->subject = NULL;
	if (!binding_table_exists())
		return;
	lagbid_connect();
	lagbid_exec(&binding_plan, &arg, NULL, true, 1);
	if (SPI_processed > 0)
	{
		b->found = true;
		b->provider = DatumGetBool(lagbid_result_datum(0, 1, &isnull));
		b->subject = MemoryContextStrdup(caller,
										 TextDatumGetCString(lagbid_result_datum(0, 2, &isnull)));
	}
	lagbid_finish();
}

/* ---- the claims ---- */

/* the raw claims, NULL when there are none */
static const char *
claims_raw(void)
{
	const char *raw = GetConfigOption("request.jwt.claims", true, false);

	return (raw == NULL || raw[0] == '\0') ? NULL : raw;
}

/* the string value of key in a jsonb object, or NULL */
static char *
claim(Jsonb *jb, const char *key)
{
	JsonbValue	k,
			   *v;

	k.type = jbvString;
	k.val.string.val = (char *) key;
	k.val.string.len = strlen(key);
	v = findJsonbValueFromContainer(&jb->root, JB_FOBJECT, &k);
	if (v == NULL || v->type != jbvString)
		return NULL;
	return pnstrdup(v->val.string.val, v->val.string.len);
}

/*
 * Parse raw claims into *role and *sub, or refuse with LB101.  Any bad JSON
 * is a refusal, including escapes no text can hold (\u0000, or a code
 * point the database encoding lacks): the validation pass de-escapes the
 * strings (need_escapes), so jsonb_in never meets what it would reject
 * with a raw parser error.
 */
static void
parse_claims(const char *raw, char **role, char **sub)
{
	JsonLexContext *lex;
	Jsonb	   *jb;

	if (strlen(raw) > MAX_CLAIMS_LEN)
		lagbid_raise(LB_NO_IDENTITY, NULL, NULL, "the request's claims are too large");
	lex = makeJsonLexContextCstringLen((char *) raw, strlen(raw), GetDatabaseEncoding(), true);
	if (pg_parse_json(lex, &nullSemAction) != JSON_SUCCESS)
		lagbid_raise(LB_NO_IDENTITY, NULL, NULL, "the request's claims are not valid JSON");
	jb = DatumGetJsonbP(DirectFunctionCall1(jsonb_in, CStringGetDatum(raw)));
	if (!JB_ROOT_IS_OBJECT(jb) || JB_ROOT_IS_SCALAR(jb))
		lagbid_raise(LB_NO_IDENTITY, NULL, NULL, "the request's claims are not a JSON object");
	*role = claim(jb, "role");
	*sub = claim(jb, "sub");
	if (*role == NULL || *sub == NULL || (*sub)[0] == '\0')
		lagbid_raise(LB_NO_IDENTITY, NULL,
					 "The JWT must carry string claims \"role\" and \"sub\".",
					 "the request carries no role or no subject");
	if (strlen(*sub) > MAX_SUB_LEN)
		lagbid_raise(LB_NO_IDENTITY, NULL, NULL, "the request's subject is too long");
	lagbid_check_name(*sub, "sub");
}

/*
 * The trusted claims of an authenticator's request, or a refusal: LB106
 * when the login is not an authenticator or the current role is not
 * exactly the claimed role (there is no "none" shortcut: a login that
 * inherits lagbid_owner must still SET ROLE to claim it).
 */
static void
trusted_claims(const char *raw, char **role, char **sub)
{
	Oid			login = GetSessionUserId();
	Oid			current = GetOuterUserId();
	Oid			claimed;

	if (!is_authenticator(login))
		lagbid_raise(LB_CLAIMS_NOT_TRUSTED,
					 psprintf("Login \"%s\" is not one of lagbid.authenticators.",
							  GetUserNameFromId(login, false)),
					 "A provider's or owner's own login acts as what it is bound to (lagbid.bind_login); only the API gateway's login sets claims.",
					 "request.jwt.claims are not trusted from this login");
	parse_claims(raw, role, sub);
	claimed = get_role_oid(*role, true);
	if (claimed != current)
		lagbid_raise(LB_CLAIMS_NOT_TRUSTED,
					 psprintf("The session runs as \"%s\" but the claims say \"%s\".",
							  GetUserNameFromId(current, false), *role),
					 "SET ROLE to the claimed role, as PostgREST does.",
					 "the request's role claim does not match its database role");
}

/*
 * The caller's identity: *provider tells its kind, the result its sub.
 * expected_role, when not NULL, must fit (LB105).
 */
static char *
resolve(const char *expected_role, bool *provider)
{
	Binding		b;
	const char *raw = claims_raw();
	char	   *role,
			   *sub;

	/* every lagbid_api call comes here first: bound its transaction */
	lagbid_api_guard();
	binding_of(GetSessionUserId(), &b);
	if (b.found)
	{
		const char *bound_role = b.provider ? ROLE_PROVIDER : ROLE_OWNER;

		/* claims of a bound login may only repeat what the binding says */
		if (raw != NULL)
		{
			parse_claims(raw, &role, &sub);
			if (strcmp(role, bound_role) != 0 || strcmp(sub, b.subject) != 0)
				lagbid_raise(LB_CLAIMS_NOT_TRUSTED,
							 psprintf("Login \"%s\" is bound to %s \"%s\".",
									  GetUserNameFromId(GetSessionUserId(), false),
									  b.provider ? "provider" : "owner", b.subject),
							 "A bound login speaks only for what it is bound to; send no claims.",
							 "request.jwt.claims name another identity than the login's binding");
		}
		if (expected_role && strcmp(bound_role, expected_role) != 0)
			lagbid_raise(LB_WRONG_ROLE,
						 psprintf("Login \"%s\" is bound to %s \"%s\".",
								  GetUserNameFromId(GetSessionUserId(), false),
								  b.provider ? "provider" : "owner", b.subject),
						 NULL, "this call is for role \"%s\"", expected_role);
		*provider = b.provider;
		return b.subject;
	}

	if (raw == NULL)
		lagbid_raise(LB_NO_IDENTITY, NULL,
					 "Call through the API gateway with a JWT whose claims carry \"role\" and \"sub\", or bind this login (lagbid.bind_login).",
					 "the request carries no identity");
	trusted_claims(raw, &role, &sub);
	if (expected_role && strcmp(role, expected_role) != 0)
		lagbid_raise(LB_WRONG_ROLE, psprintf("The request's role is \"%s\".", role), NULL,
					 "this call is for role \"%s\"", expected_role);
	*provider = strcmp(role, ROLE_PROVIDER) == 0;
	return sub;
}

PG_FUNCTION_INFO_V1(lagbid_api_identity);

/* lagbid.api_identity(expected_role text) RETURNS text */
Datum
lagbid_api_identity(PG_FUNCTION_ARGS)
{
	bool		provider;
	char	   *sub;

	if (PG_ARGISNULL(0))
		lagbid_raise(LB_INVALID_ARGUMENT, NULL, NULL, "expected_role must not be NULL");
	sub = resolve(text_to_cstring(PG_GETARG_TEXT_PP(0)), &provider);
	/* the event log records who acted: the caller, not the definer */
	lagbid_event_actor(sub);
	PG_RETURN_TEXT_P(cstring_to_text(sub));
}

PG_FUNCTION_INFO_V1(lagbid_api_role);

/*
 * lagbid.api_role() RETURNS text — 'lagbid_provider' when the caller is a
 * provider (its binding's kind, or its trusted claims' role), else
 * 'lagbid_owner'; for calls open to both (api_subject).  Refuses as
 * api_identity does.
 */
Datum
lagbid_api_role(PG_FUNCTION_ARGS)
{
	bool		provider;

	(void) resolve(NULL, &provider);
	PG_RETURN_TEXT_P(cstring_to_text(provider ? ROLE_PROVIDER : ROLE_OWNER));
}

/* the node_id argument of an unbound direct login, validated */
static char *
argument_node(FunctionCallInfo fcinfo)
{
	char	   *node;

	if (PG_ARGISNULL(0))
		lagbid_raise(LB_NO_IDENTITY, NULL,
					 "An unbound login names the node id it speaks for: pass node_id.",
					 "the request carries no identity");
	node = lagbid_text_to_cstring_limited(PG_GETARG_TEXT_PP(0), LB_PEERID_MAX_LEN, "node_id");
	lagbid_check_node_id(node, "node_id");
	return node;
}

/*
 * The node a provider call speaks for, given an optional node_id argument:
 * the binding's or the claims' (an argument naming another node is LB107
 * or LB106), or, for an unbound login that is no authenticator and sends
 * no claims, the argument itself (*direct set).
 */
static char *
provider_node(FunctionCallInfo fcinfo, bool *direct)
{
	Oid			login = GetSessionUserId();
	char	   *arg = PG_ARGISNULL(0) ? NULL : text_to_cstring(PG_GETARG_TEXT_PP(0));
	char	   *node;
	Binding		b;
	bool		provider;

	*direct = false;
	lagbid_api_guard();
	binding_of(login, &b);
	if (!b.found && claims_raw() == NULL && !is_authenticator(login))
	{
		*direct = true;
		return argument_node(fcinfo);
	}
	node = resolve(ROLE_PROVIDER, &provider);
	if (arg != NULL && strcmp(arg, node) != 0)
	{
		if (b.found)
			lagbid_raise(LB_LOGIN_ALREADY_BOUND,
						 psprintf("Login \"%s\" is bound to node \"%s\".",
								  GetUserNameFromId(login, false), node),
						 "A bound login speaks only for its node; the platform may unbind it (lagbid.unbind_login).",
						 "this login cannot act as another node");
		lagbid_raise(LB_CLAIMS_NOT_TRUSTED,
					 psprintf("The request's sub is \"%s\".", node), NULL,
					 "node_id names another node than the request's claims");
	}
	return node;
}

PG_FUNCTION_INFO_V1(lagbid_api_node_id);

/*
 * lagbid.api_node_id(node_id text) RETURNS text — the node a provider call
 * speaks for (see provider_node); for registration_challenge.
 */
Datum
lagbid_api_node_id(PG_FUNCTION_ARGS)
{
	bool		direct;

	PG_RETURN_TEXT_P(cstring_to_text(provider_node(fcinfo, &direct)));
}

PG_FUNCTION_INFO_V1(lagbid_api_signup);

/*
 * lagbid.api_signup(node_id text, signed boolean) RETURNS text — the node a
 * registration through lagbid_api speaks for.  For an unbound direct login
 * this is easy signup: it must carry a signature (LB109), the node must not
 * be bound to another login (LB107), and the login is bound to the node
 * here; the registration that follows verifies the signature in the same
 * transaction, so a bad one leaves no binding behind.
 */
Datum
lagbid_api_signup(PG_FUNCTION_ARGS)
{
	Oid			login = GetSessionUserId();
	bool		direct;
	char	   *node = provider_node(fcinfo, &direct);
	Datum		args[2];

	if (!direct)
		PG_RETURN_TEXT_P(cstring_to_text(node));

	if (PG_ARGISNULL(1) || !PG_GETARG_BOOL(1))
		lagbid_raise(LB_SIGNATURE_REQUIRED, NULL,
					 "Sign lagbid_api.registration_challenge(multiaddrs, node_id) with the node's ed25519 key and pass it as signature.",
					 "an unbound login signs up only with a signature of node \"%s\"", node);

	args[0] = CStringGetTextDatum(node);
	args[1] = ObjectIdGetDatum(login);
	lagbid_connect();
	lagbid_exec(&node_bound_plan, args, NULL, true, 1);
	if (SPI_processed > 0)
	{
		bool		isnull;
		char	   *other = TextDatumGetCString(lagbid_result_datum(0, 1, &isnull));

		lagbid_raise(LB_LOGIN_ALREADY_BOUND,
					 psprintf("Node \"%s\" is bound to login %s.", node, other),
					 "The platform may unbind it (lagbid.unbind_login).",
					 "node \"%s\" already speaks through another login", node);
	}
	args[0] = ObjectIdGetDatum(login);
	args[1] = CStringGetTextDatum(node);
	lagbid_exec(&bind_signup_plan, args, NULL, false, 0);
	lagbid_finish();
	lagbid_event_actor(node);
	PG_RETURN_TEXT_P(cstring_to_text(node));
}

PG_FUNCTION_INFO_V1(lagbid_is_authenticator);

/* lagbid.is_authenticator(login regrole) RETURNS boolean */
Datum
lagbid_is_authenticator(PG_FUNCTION_ARGS)
{
	PG_RETURN_BOOL(is_authenticator(PG_GETARG_OID(0)));
}

PG_FUNCTION_INFO_V1(lagbid_raise_sql);

/*
 * lagbid.raise(sqlstate text, message text, detail text, hint text) — raise
 * one of lagbid's refusals from SQL or PL/pgSQL code (the API layer), in
 * the same form as the C functions (PostgREST form under lagbid.api_errors).
 */
Datum
lagbid_raise_sql(PG_FUNCTION_ARGS)
{
	char	   *code;
	int			i;

	if (PG_ARGISNULL(0) || PG_ARGISNULL(1))
		lagbid_raise(LB_INVALID_ARGUMENT, NULL, NULL, "lagbid.raise needs a code and a message");
	code = lagbid_text_to_cstring_limited(PG_GETARG_TEXT_PP(0), 5, "sqlstate");
	for (i = 0; i < LB__COUNT; i++)
	{
		if (strcmp(lagbid_error_table[i].sqlstate, code) == 0)
			lagbid_raise((LagbidError) i,
						 PG_ARGISNULL(2) ? NULL : text_to_cstring(PG_GETARG_TEXT_PP(2)),
						 PG_ARGISNULL(3) ? NULL : text_to_cstring(PG_GETARG_TEXT_PP(3)),
						 "%s", lagbid_text_to_cstring_limited(PG_GETARG_TEXT_PP(1), 1024, "message"));
	}
	lagbid_raise(LB_INVALID_ARGUMENT, NULL, NULL, "unknown lagbid error code \"%s\"", code);
	PG_RETURN_VOID();
}
