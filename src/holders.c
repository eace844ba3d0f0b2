/*-------------------------------------------------------------------------
 *
 * holders.c
 *	  Typed holders: who holds money and receives notifications is an owner
 *	  (named by owner name) or a provider (named by node id), and the kind is
 *	  part of the identity -- an owner named like a node id is a different
 *	  holder from that provider (issue 16, finding 2).
 *
 *	  Also the one place that knows whether the installed schema has typed
 *	  holders.  After a package upgrade the 0.3 library runs the 0.1/0.2 SQL
 *	  definitions until ALTER EXTENSION lagbid UPDATE: their ledger knows one
 *	  account kind "holder" and their outbox no recipient_kind.  The answer is
 *	  looked up once (two syscache probes) and kept until the notification
 *	  table's relcache entry is invalidated, as the update's ALTER TABLE does.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/attnum.h"
#include "catalog/namespace.h"
#include "fmgr.h"
#include "utils/builtins.h"
#include "utils/inval.h"
#include "utils/lsyscache.h"

#include "lagbid.h"
#include "errors.h"
#include "market.h"

static const char *const holder_kind_names[] = {"owner", "provider"};

/* the account kinds of a typed schema, and of a schema from before 0.3 */
static const char *const account_kind_names[] = {"owner", "provider", "escrow", "external"};
static const char *const legacy_account_kind_names[] = {"holder", "holder", "escrow", "external"};

/* whether the schema has typed holders: -1 unknown, else 0/1 */
static int	typed_state = -1;
static Oid	notification_relid = InvalidOid;
static bool callback_registered = false;

/* relcache callback: the notification table changed (or was not there) */
static void
forget_schema(Datum arg, Oid relid)
{
	if (relid == InvalidOid || relid == notification_relid || !OidIsValid(notification_relid))
		typed_state = -1;
}

bool
lagbid_holders_typed(void)
{
	if (typed_state < 0)
	{
		Oid			nsp = get_namespace_oid("lagbid", true);

		if (!callback_registered)
		{
			CacheRegisterRelcacheCallback(forget_schema, (Datum) 0);
			callback_registered = true;
		}
		notification_relid = OidIsValid(nsp) ? get_relname_relid("notification", nsp) : InvalidOid;
		typed_state = OidIsValid(notification_relid)
			&& get_attnum(notification_relid, "recipient_kind") != InvalidAttrNumber;
	}
	return typed_state == 1;
}

const char *
lagbid_holder_kind_name(LagbidHolderKind kind)
{
	if ((int) kind < 0 || (int) kind >= (int) lengthof(holder_kind_names))
		elog(ERROR, "lagbid: holder kind %d out of range", (int) kind);
	return holder_kind_names[kind];
}

const char *
lagbid_account_kind_label(LagbidAccountKind kind)
{
	if ((int) kind < 0 || (int) kind >= (int) lengthof(account_kind_names))
		elog(ERROR, "lagbid: account kind %d out of range", (int) kind);
	return lagbid_holders_typed() ? account_kind_names[kind] : legacy_account_kind_names[kind];
}

/*
 * The holder_kind argument number argno of a SQL function: 'owner' when the
 * caller's definition has no such argument (the 0.2 SQL definitions run by
 * this library until ALTER EXTENSION UPDATE), a refusal when it is NULL.
 */
LagbidHolderKind
lagbid_holder_kind_arg(FunctionCallInfo fcinfo, int argno)
{
	char	   *label;
	int			i;

	if (PG_NARGS() <= argno)
		return HOLDER_OWNER;
	if (PG_ARGISNULL(argno))
		lagbid_raise(LB_INVALID_ARGUMENT, NULL, "A holder is an \"owner\" or a \"provider\".",
					 "holder_kind must not be NULL");
	label = DatumGetCString(DirectFunctionCall1(enum_out, PG_GETARG_DATUM(argno)));
	for (i = 0; i < (int) lengthof(holder_kind_names); i++)
		if (strcmp(label, holder_kind_names[i]) == 0)
			return (LagbidHolderKind) i;
	lagbid_raise(LB_INVALID_ARGUMENT, NULL, "A holder is an \"owner\" or a \"provider\".",
				 "unknown holder kind \"%s\"", label);
	return HOLDER_OWNER;		/* not reached */
}
