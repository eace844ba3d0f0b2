/*-------------------------------------------------------------------------
 *
 * named_args.c
 *	  Arguments found by name in the SQL definition of the function being
 *	  called.  Options that 0.4 adds at the end of publish_task,
 *	  create_space and update_space (collateral_ratio, min_reputation,
 *	  allocation, and those of other features) are read this way, so that
 *	  their order in the SQL definition is free and an older definition
 *	  (without them) simply has none.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "catalog/pg_proc.h"
#include "fmgr.h"
#include "funcapi.h"
#include "utils/syscache.h"

#include "lagbid.h"
#include "trust.h"

int
lagbid_named_arg(FunctionCallInfo fcinfo, const char *name)
{
	HeapTuple	tup;
	Oid		   *types;
	char	  **names;
	char	   *modes;
	int			n,
				i,
				found = -1;

	if (fcinfo->flinfo == NULL || !OidIsValid(fcinfo->flinfo->fn_oid))
		return -1;
	tup = SearchSysCache1(PROCOID, ObjectIdGetDatum(fcinfo->flinfo->fn_oid));
	if (!HeapTupleIsValid(tup))
		elog(ERROR, "lagbid: cache lookup failed for function %u", fcinfo->flinfo->fn_oid);
	n = get_func_arg_info(tup, &types, &names, &modes);
	ReleaseSysCache(tup);
	for (i = 0; names && i < n; i++)
		if (names[i] && strcmp(names[i], name) == 0)
		{
			found = i;
			break;
		}
	if (found >= PG_NARGS())
		return -1;
	return found;
}
