/*-------------------------------------------------------------------------
 *
 * collateral.c
 *	  Collateral at stake (issue 20).  A task may require each bid to lock
 *	  a bond of collateral_ratio x ask x duration_hours from its provider's
 *	  balance.  The bond is held, in the bid's own statement, on the
 *	  provider's own account (account.bonded): the account keeps the money
 *	  and balance - bonded is what the provider may still spend or stake.
 *	  A hold moves no money, so it is no ledger transaction.  It ends once:
 *	  released (the bid lost or was withdrawn, the job agreed with the
 *	  elected result, the task was cancelled: bonded goes down, nothing
 *	  moves) or slashed to the task's owner with a reason and the evidence
 *	  the market saw (the job disagreed, never reported, or was given up:
 *	  bonded goes down and the bond moves in one ledger transaction, kind
 *	  slash).  The account's CHECK keeps balance >= bonded >= 0;
 *	  lagbid.check_invariants() checks that each provider's account holds
 *	  exactly its locked bonds and that each slashed bond moved once.
 *
 *	  (0.4 first opened an account of kind bonded per bid and moved the bond
 *	  there with a ledger transaction: six writes per bid, half the rate of
 *	  a plain bid.  The hold is one write, folded into the bid's INSERT.)
 *
 *	  Amounts are exact numerics: a bond is the product of the ratio, the
 *	  ask and the hours, with every decimal they carry, so that a release
 *	  or a slash moves back exactly what was locked.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "lib/stringinfo.h"
#include "utils/builtins.h"
#include "utils/json.h"
#include "utils/numeric.h"

#include "lagbid.h"
#include "errors.h"
#include "market.h"
#include "trust.h"

#define MAX_COLLATERAL_RATIO	100

char	   *lagbid_default_collateral_ratio_setting = NULL;

/* GUC check hook of lagbid.default_collateral_ratio: a decimal in [0, 100] */
bool
lagbid_check_collateral_ratio_setting(char **newval, void **extra, GucSource source)
{
	const char *p = *newval;
	int			digits = 0;
	long		whole = 0;
	bool		fraction = false;

	if (p == NULL || *p == '\0')
		return true;
	if (*p == '+')
		p++;
	for (; *p >= '0' && *p <= '9' && whole <= MAX_COLLATERAL_RATIO; p++, digits++)
		whole = whole * 10 + (*p - '0');
	if (*p == '.')
		for (p++; *p >= '0' && *p <= '9' && digits <= 1000; p++, digits++)
			fraction |= (*p != '0');
	if (*p == '\0' && digits > 0 && digits <= 1000 &&
		(whole < MAX_COLLATERAL_RATIO || (whole == MAX_COLLATERAL_RATIO && !fraction)))
		return true;
	GUC_check_errdetail("lagbid.default_collateral_ratio must be a decimal number from 0 to 100, such as 0.3.");
	return false;
}

static Datum
default_ratio(void)
{
	const char *s = lagbid_default_collateral_ratio_setting;

	if (s == NULL || *s == '\0')
		return lagbid_num_int(0);
	return DirectFunctionCall3(numeric_in, CStringGetDatum(s),
							   ObjectIdGetDatum(InvalidOid), Int32GetDatum(-1));
}

Datum
lagbid_collateral_ratio_arg(FunctionCallInfo fcinfo, bool use_default, bool *given)
{
	int			n = lagbid_named_arg(fcinfo, "collateral_ratio");
	Datum		r;

	*given = false;
	if (n < 0 || PG_ARGISNULL(n))
		return use_default ? default_ratio() : (Datum) 0;
	r = lagbid_check_numeric(PG_GETARG_DATUM(n), false, "collateral_ratio", true);
	if (lagbid_num_cmp(r, lagbid_num_int(MAX_COLLATERAL_RATIO)) > 0)
		lagbid_raise(LB_INVALID_ARGUMENT, NULL,
					 "The bond is collateral_ratio x ask x duration_hours: 0.3 locks 30 % of each winning ask.",
					 "collateral_ratio %s is above the limit of %d",
					 lagbid_num_text(r), MAX_COLLATERAL_RATIO);
	*given = true;
	return r;
}

/* ---- locks ---- */

#define SETTLEMENT_ACCOUNTS \
	"SELECT a.id FROM lagbid.account a WHERE a.id = ANY (ARRAY[$2, $3] " \
	"  || ARRAY(SELECT o.id FROM lagbid.account o WHERE o.kind = 'owner' AND o.name = $4) " \
	"  || ARRAY(SELECT pa.id FROM lagbid.bid b " \
	"             JOIN lagbid.provider p ON p.id = b.provider_id " \
	"             JOIN lagbid.account pa ON pa.kind = 'provider' AND pa.name = p.node_id " \
	"            WHERE b.task_id = $1 AND b.state IN ('open', 'won'))) " \
	"ORDER BY a.id FOR NO KEY UPDATE"

static LagbidPlan lock_accounts_plan = {
	SETTLEMENT_ACCOUNTS,
	4, {INT8OID, INT8OID, INT8OID, TEXTOID}
};

static LagbidPlan prelock_accounts_plan = {
	SETTLEMENT_ACCOUNTS " NOWAIT",
	4, {INT8OID, INT8OID, INT8OID, TEXTOID}
};

static void
lock_accounts(LagbidTask *t, LagbidPlan *plan)
{
	Datum		args[4];

	args[0] = Int64GetDatum(t->id);
	args[1] = Int64GetDatum(t->escrow_account_id);
	args[2] = Int64GetDatum(t->funding_account_id);
	args[3] = CStringGetTextDatum(t->owner);
	lagbid_connect();
	lagbid_exec(plan, args, NULL, false, 0);
	lagbid_finish();
}

void
lagbid_trust_lock_accounts(LagbidTask *t)
{
	if (lagbid_num_positive(t->collateral_ratio))
		lock_accounts(t, &lock_accounts_plan);
}

void
lagbid_trust_prelock_nowait(LagbidTask *t)
{
	if (lagbid_num_positive(t->collateral_ratio))
		lock_accounts(t, &prelock_accounts_plan);
}

/* ---- locking a bond at bid time ---- */

/*
 * One statement: hold the bond on the provider's account (never beyond its
 * balance) and insert the bid with it.  No row when the balance is short.
 */
static LagbidPlan bonded_bid_plan = {
	"WITH hold AS ( "
	"    UPDATE lagbid.account a SET bonded = a.bonded + $5 "
	"     WHERE a.kind = 'provider' AND a.name = $6 AND a.balance - a.bonded >= $5 "
	"    RETURNING a.id) "
	"INSERT INTO lagbid.bid (task_id, provider_id, price, placed_at, bond, bond_state) "
	"SELECT $1, $2, $3, $4, $5, 'locked' FROM hold RETURNING id",
	6, {INT8OID, INT8OID, NUMERICOID, TIMESTAMPTZOID, NUMERICOID, TEXTOID}
};

static LagbidPlan available_plan = {
	"SELECT coalesce((SELECT (a.balance - a.bonded)::text FROM lagbid.account a "
	"                  WHERE a.kind = 'provider' AND a.name = $1), '0')",
	1, {TEXTOID}
};

Datum
lagbid_bond_of(LagbidTask *t, Datum price)
{
	Datum		bond;

	if (!lagbid_num_positive(t->collateral_ratio))
		return (Datum) 0;
	/* ratio x ask x duration_hours, exactly */
	bond = lagbid_num_mul(lagbid_num_mul(t->collateral_ratio, price), t->duration_hours);
	/* an ask of 0 stakes nothing */
	return lagbid_num_positive(bond) ? bond : (Datum) 0;
}

int64
lagbid_bid_insert_bonded(LagbidTask *t, int64 provider_id, const char *node_id,
						 Datum price, Datum bond, TimestampTz placed_at,
						 bool closes_with_allocation)
{
	Datum		args[6];
	int64		bid_id;

	/* this bid allocates the task: its losers' bonds go back, in id order */
	if (closes_with_allocation)
		lagbid_trust_lock_accounts(t);

	args[0] = Int64GetDatum(t->id);
	args[1] = Int64GetDatum(provider_id);
	args[2] = price;
	args[3] = TimestampTzGetDatum(placed_at);
	args[4] = bond;
	args[5] = CStringGetTextDatum(node_id);
	lagbid_connect();
	lagbid_exec(&bonded_bid_plan, args, NULL, false, 0);
	if (lagbid_result_int64(1, &bid_id))
	{
		lagbid_finish();
		return bid_id;
	}
	args[0] = args[5];
	lagbid_exec(&available_plan, args, NULL, true, 1);
	lagbid_raise(LB_INSUFFICIENT_COLLATERAL,
				 psprintf("The provider's available balance is %s; the bond is %s "
						  "(collateral_ratio %s x ask %s x duration_hours %s).",
						  SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1),
						  lagbid_num_text(bond), lagbid_num_text(t->collateral_ratio),
						  lagbid_num_text(price), lagbid_num_text(t->duration_hours)),
				 "Deposit with lagbid.deposit(..., holder_kind => 'provider'); "
				 "lagbid_api.my_profile() shows the available and the bonded amounts.",
				 "provider %lld cannot lock the bond of its bid on task %lld",
				 (long long) provider_id, (long long) t->id);
	return 0;					/* not reached */
}

/* ---- releasing and slashing ---- */

static LagbidPlan bond_of_bid_plan = {
	"SELECT b.bond, " LAGBID_NODE_OF("b") " FROM lagbid.bid b "
	"WHERE b.id = $1 AND b.bond_state = 'locked'",
	1, {INT8OID}
};

static LagbidPlan settled_plan = {
	"UPDATE lagbid.bid SET bond_state = $2 WHERE id = $1 AND bond_state = 'locked'",
	2, {INT8OID, TEXTOID}
};

/* lift a hold; returns the account (the CHECK refuses more than is held) */
static LagbidPlan unhold_plan = {
	"UPDATE lagbid.account SET bonded = bonded - $2 "
	"WHERE kind = 'provider' AND name = $1 RETURNING id",
	2, {TEXTOID, NUMERICOID}
};

static char *
slash_payload(Datum amount, const char *reason, const char *evidence)
{
	StringInfoData buf;

	initStringInfo(&buf);
	appendStringInfo(&buf, "{\"amount\": %s, \"reason\": ", lagbid_num_text(amount));
	escape_json(&buf, reason);
	appendStringInfoString(&buf, ", \"evidence\": ");
	escape_json(&buf, evidence);
	appendStringInfoChar(&buf, '}');
	return buf.data;
}

Datum
lagbid_bond_settle(LagbidTask *t, int64 bid_id, int64 job_id, const char *node_id,
				   bool slash, const char *reason, const char *evidence)
{
	Datum		args[2];
	Datum		bond;
	int64		from,
				to;
	bool		isnull;
	char	   *memo;
	char	   *bid_node;

	if (slash && (reason == NULL || reason[0] == '\0' || evidence == NULL || evidence[0] == '\0'))
		elog(ERROR, "lagbid: a slash needs a reason and evidence (job %lld)", (long long) job_id);
	if (!lagbid_trust_schema())
		return lagbid_num_int(0);

	lagbid_connect();
	args[0] = Int64GetDatum(bid_id);
	lagbid_exec(&bond_of_bid_plan, args, NULL, false, 1);
	if (SPI_processed == 0)
	{
		lagbid_finish();
		return lagbid_num_int(0);	/* no bond, or settled already */
	}
	bond = SPI_datumTransfer(lagbid_result_datum(0, 1, &isnull), false, -1);
	bid_node = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2);
	if (node_id == NULL)
		node_id = bid_node;

	/* every account of the settlement, in id order, before the first move */
	lagbid_trust_lock_accounts(t);

	args[1] = CStringGetTextDatum(slash ? "slashed" : "released");
	lagbid_exec(&settled_plan, args, NULL, false, 0);
	if (SPI_processed != 1)
		elog(ERROR, "lagbid: the bond of bid %lld was settled twice", (long long) bid_id);

	/* the hold ends (its provider's account: the bid's, whatever node_id says) */
	args[0] = CStringGetTextDatum(bid_node);
	args[1] = bond;
	lagbid_exec(&unhold_plan, args, NULL, false, 0);
	if (!lagbid_result_int64(1, &from))
		elog(ERROR, "lagbid: the bond of bid %lld is held by no account", (long long) bid_id);

	if (slash)
	{
		to = lagbid_account_id(ACCOUNT_OWNER, t->owner, true);
		memo = psprintf("bond of bid %lld slashed to the owner: %s", (long long) bid_id, reason);
		lagbid_transfer_job("slash", from, to, bond, t->id, t->space_id, job_id, memo);
		lagbid_notify(HOLDER_PROVIDER, node_id, "job_slashed", t->id, 0, job_id,
					  slash_payload(bond, reason, evidence));
	}
	lagbid_finish();
	return slash ? bond : lagbid_num_int(0);
}

/*
 * Release the locked bonds of these bids in one statement: mark them, then
 * lift each provider's holds at once (the accounts are locked already, in
 * id order).  Releasing moves no money.
 */
static LagbidPlan release_plan = {
	"WITH released AS ( "
	"    UPDATE lagbid.bid b SET bond_state = 'released' "
	"     WHERE b.id = ANY ($1) AND b.bond_state = 'locked' "
	"    RETURNING b.provider_id, b.bond), "
	"per_provider AS ( "
	"    SELECT p.node_id, sum(r.bond) AS total "
	"      FROM released r JOIN lagbid.provider p ON p.id = r.provider_id "
	"     GROUP BY p.node_id) "
	"UPDATE lagbid.account a SET bonded = a.bonded - pp.total "
	"  FROM per_provider pp WHERE a.kind = 'provider' AND a.name = pp.node_id",
	1, {INT8ARRAYOID}
};

void
lagbid_bonds_release(LagbidTask *t, int64 *bid_ids, int n)
{
	Datum		args[1];
	Datum	   *d;
	int			i;

	if (n <= 0 || !lagbid_num_positive(t->collateral_ratio))
		return;
	d = palloc(sizeof(Datum) * n);
	for (i = 0; i < n; i++)
		d[i] = Int64GetDatum(bid_ids[i]);
	args[0] = PointerGetDatum(construct_array(d, n, INT8OID, 8, FLOAT8PASSBYVAL, TYPALIGN_DOUBLE));

	lagbid_trust_lock_accounts(t);
	lagbid_connect();
	lagbid_exec(&release_plan, args, NULL, false, 0);
	lagbid_finish();
}
