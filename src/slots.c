/*-------------------------------------------------------------------------
 *
 * slots.c
 *	  Market rule 1, the bidder's concurrency limit.  A provider holds one
 *	  slot per open bid and per processing or submitted job; a slot is taken
 *	  only here, by a conditional UPDATE that both checks the limit and
 *	  locks the provider row, so two concurrent bids of one provider can
 *	  never both take its last slot.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "utils/builtins.h"

#include "lagbid.h"
#include "errors.h"
#include "market.h"

static LagbidPlan take_plan = {
	"UPDATE lagbid.provider SET slots_used = slots_used + 1 "
	"WHERE id = $1 AND state = 'active' AND slots_used < max_concurrent "
	"RETURNING node_id",
	1, {INT8OID}
};

static LagbidPlan why_plan = {
	"SELECT state::text, slots_used, max_concurrent, node_id FROM lagbid.provider WHERE id = $1",
	1, {INT8OID}
};

static LagbidPlan release_plan = {
	"UPDATE lagbid.provider SET slots_used = slots_used - $2 WHERE id = $1",
	2, {INT8OID, INT4OID}
};

char *
lagbid_take_slot(int64 provider_id)
{
	Datum		args[1];
	char	   *node_id;
	char	   *state;
	int32		used,
				limit;
	bool		isnull;

	args[0] = Int64GetDatum(provider_id);
	lagbid_connect();
	lagbid_exec(&take_plan, args, NULL, false, 0);
	if (SPI_processed == 1)
	{
		/* copy into the caller's context, which outlives SPI's */
		char	   *s = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1);

		node_id = SPI_palloc(strlen(s) + 1);
		strcpy(node_id, s);
		lagbid_finish();
		return node_id;
	}

	/* refused: say why */
	lagbid_exec(&why_plan, args, NULL, false, 1);
	if (SPI_processed == 0)
		lagbid_raise(LB_PROVIDER_NOT_FOUND, NULL, NULL,
					 "provider %lld does not exist", (long long) provider_id);
	state = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1);
	used = DatumGetInt32(lagbid_result_datum(0, 2, &isnull));
	limit = DatumGetInt32(lagbid_result_datum(0, 3, &isnull));
	if (strcmp(state, "active") != 0)
		lagbid_raise(LB_PROVIDER_INACTIVE, NULL, NULL,
					 "provider %lld is %s and cannot bid", (long long) provider_id, state);
	lagbid_raise(LB_PROVIDER_LIMIT_REACHED,
				 psprintf("It holds %d of its %d slots (open bids and running jobs).", used, limit),
				 "Withdraw a bid, finish a job, or raise the limit with lagbid.set_bid_limit().",
				 "provider %lld is at its bid limit", (long long) provider_id);
	return NULL;				/* not reached */
}

static int
cmp_int64(const void *a, const void *b)
{
	int64		x = *(const int64 *) a;
	int64		y = *(const int64 *) b;

	return (x > y) - (x < y);
}

void
lagbid_release_slots(int64 *provider_ids, int n)
{
	int64	   *ids;
	int			i;

	if (n <= 0)
		return;
	ids = palloc(sizeof(int64) * n);
	memcpy(ids, provider_ids, sizeof(int64) * n);
	qsort(ids, n, sizeof(int64), cmp_int64);

	lagbid_connect();
	for (i = 0; i < n;)
	{
		int			j = i;
		Datum		args[2];

		while (j < n && ids[j] == ids[i])
			j++;
		args[0] = Int64GetDatum(ids[i]);
		args[1] = Int32GetDatum(j - i);
		lagbid_exec(&release_plan, args, NULL, false, 0);
		i = j;
	}
	lagbid_finish();
	pfree(ids);
}
