/*-------------------------------------------------------------------------
 *
 * api.c
 *	  Who is calling, for the PostgREST API (schema lagbid_api): the
 *	  identity comes from request.jwt.claims, which PostgREST sets from a
 *	  verified JWT together with SET LOCAL ROLE to the claim's role.
 *
 *	  lagbid.api_identity(expected_role text) RETURNS text — the caller's
 *	  "sub" (an owner name or a provider's node id).  Refuses with LB101
 *	  (401) when there are no usable claims, LB105 (403) when the claim's
 *	  role is not the one the call is for, or when it differs from the role
 *	  the session switched to (a claim forged under another role).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "common/jsonapi.h"
#include "fmgr.h"
#include "mb/pg_wchar.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/jsonb.h"

#include "lagbid.h"
#include "errors.h"
#include "market.h"
#include "states.h"

#define MAX_CLAIMS_LEN	8192

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

PG_FUNCTION_INFO_V1(lagbid_api_identity);

Datum
lagbid_api_identity(PG_FUNCTION_ARGS)
{
	const char *raw = GetConfigOption("request.jwt.claims", true, false);
	const char *session_role = GetConfigOption("role", true, false);
	char	   *expected;
	JsonLexContext *lex;
	Jsonb	   *jb;
	char	   *role,
			   *sub;

	if (PG_ARGISNULL(0))
		lagbid_raise(LB_INVALID_ARGUMENT, NULL, NULL, "expected_role must not be NULL");
	expected = text_to_cstring(PG_GETARG_TEXT_PP(0));

	if (raw == NULL || raw[0] == '\0')
		lagbid_raise(LB_NO_IDENTITY, NULL,
					 "Send a JWT whose claims carry \"role\" and \"sub\".",
					 "the request carries no identity");
	if (strlen(raw) > MAX_CLAIMS_LEN)
		lagbid_raise(LB_NO_IDENTITY, NULL, NULL, "the request's claims are too large");

	/* validate before parsing, so that bad JSON is a refusal, not a crash of the call */
	lex = makeJsonLexContextCstringLen((char *) raw, strlen(raw), GetDatabaseEncoding(), false);
	if (pg_parse_json(lex, &nullSemAction) != JSON_SUCCESS)
		lagbid_raise(LB_NO_IDENTITY, NULL, NULL, "the request's claims are not valid JSON");
	jb = DatumGetJsonbP(DirectFunctionCall1(jsonb_in, CStringGetDatum(raw)));
	if (!JB_ROOT_IS_OBJECT(jb) || JB_ROOT_IS_SCALAR(jb))
		lagbid_raise(LB_NO_IDENTITY, NULL, NULL, "the request's claims are not a JSON object");

	role = claim(jb, "role");
	sub = claim(jb, "sub");
	if (role == NULL || sub == NULL || sub[0] == '\0')
		lagbid_raise(LB_NO_IDENTITY, NULL,
					 "The JWT must carry string claims \"role\" and \"sub\".",
					 "the request carries no role or no subject");
	if (strcmp(role, expected) != 0)
		lagbid_raise(LB_WRONG_ROLE, psprintf("The request's role is \"%s\".", role), NULL,
					 "this call is for role \"%s\"", expected);
	/* PostgREST switches to the claim's role; a claim under another role is forged */
	if (session_role && strcmp(session_role, "none") != 0 && strcmp(session_role, role) != 0)
		lagbid_raise(LB_WRONG_ROLE,
					 psprintf("The session runs as \"%s\" but the claims say \"%s\".", session_role, role),
					 NULL, "the request's role claim does not match its database role");
	if (strlen(sub) > 128)
		lagbid_raise(LB_NO_IDENTITY, NULL, NULL, "the request's subject is too long");
	lagbid_check_name(sub, "sub");
	/* the event log records who acted: the caller, not the definer */
	lagbid_event_actor(sub);
	PG_RETURN_TEXT_P(cstring_to_text(sub));
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
