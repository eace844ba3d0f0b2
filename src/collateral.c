/*-------------------------------------------------------------------------
 *
 * collateral.c
 *	  Collateral at stake (issue 20).  A task may require each bid to lock
 *	  a bond of collateral_ratio x ask x duration_hours from its provider's
 *	  balance.  The bond moves, in the bid's own transaction, into an
 *	  account of its own (kind bonded, name bid:<id>), and leaves it once:
 *	  released back to the provider (the bid lost or was withdrawn, the job
 *	  agreed with the elected result, the task was cancelled) or slashed to
 *	  the task's owner with a reason and the evidence the market saw (the
 *	  job disagreed, never reported, or was given up).  Each movement is
 *	  one ledger transaction; lagbid.check_invariants() checks that the
 *	  bonded accounts hold exactly the locked bonds and that each bond left
 *	  at most once.
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
	"  || ARRAY(SELECT b.bond_account_id FROM lagbid.bid b " \
	"            WHERE b.task_id = $1 AND b.bond_state = 'locked') " \
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
 * One statement: debit the provider's account (never below zero), open the
 * bid's bonded account with the bond, record the ledger transaction and its
 * two entries, and mark the bid.  No row when the balance is short.
 */
static LagbidPlan bond_plan = {
	"WITH debit AS ( "
	"    UPDATE lagbid.account a SET balance = a.balance - $3 "
	"     WHERE a.kind = 'provider' "
	"       AND a.name = (SELECT p.node_id FROM lagbid.provider p WHERE p.id = $2) "
	"       AND a.balance >= $3 "
	"    RETURNING a.id), "
	"bonded AS ( "
	"    INSERT INTO lagbid.account (kind, name, balance) "
	"    SELECT 'bonded'::lagbid.account_kind, 'bid:' || $1, $3 FROM debit RETURNING id), "
	"tx AS ( "
	"    INSERT INTO lagbid.ledger_tx (kind, amount, task_id, memo) "
	"    SELECT 'bond', $3, $4, $5 FROM debit RETURNING id), "
	"legs AS ( "
	"    INSERT INTO lagbid.ledger_entry (tx_id, account_id, amount) "
	"    SELECT tx.id, debit.id, -$3 FROM tx, debit "
	"    UNION ALL SELECT tx.id, bonded.id, $3 FROM tx, bonded), "
	"marked AS ( "
	"    UPDATE lagbid.bid b SET bond = $3, bond_state = 'locked', bond_account_id = bonded.id "
	"      FROM bonded WHERE b.id = $1) "
	"SELECT id FROM bonded",
	5, {INT8OID, INT8OID, NUMERICOID, INT8OID, TEXTOID}
};

static LagbidPlan available_plan = {
	"SELECT coalesce((SELECT a.balance FROM lagbid.account a "
	"                  WHERE a.kind = 'provider' AND a.name = p.node_id), 0)::text "
	"FROM lagbid.provider p WHERE p.id = $1",
	1, {INT8OID}
};

/* the bond of an ask on a task: ratio x ask x duration_hours, exactly */
static Datum
bond_of(LagbidTask *t, Datum price)
{
	return lagbid_num_mul(lagbid_num_mul(t->collateral_ratio, price), t->duration_hours);
}

void
lagbid_bond_lock(LagbidTask *t, int64 bid_id, int64 provider_id, Datum price,
				 bool closes_with_allocation)
{
	Datum		args[5];
	Datum		bond;

	if (!lagbid_num_positive(t->collateral_ratio))
		return;
	bond = bond_of(t, price);
	if (!lagbid_num_positive(bond))
		return;					/* an ask of 0 stakes nothing */
	/* this bid allocates the task: its losers' bonds go back, in id order */
	if (closes_with_allocation)
		lagbid_trust_lock_accounts(t);

	args[0] = Int64GetDatum(bid_id);
	args[1] = Int64GetDatum(provider_id);
	args[2] = bond;
	args[3] = Int64GetDatum(t->id);
	args[4] = CStringGetTextDatum(psprintf("bond of bid %lld: collateral_ratio %s x ask %s x duration_hours %s",
										   (long long) bid_id,
										   lagbid_num_text(t->collateral_ratio),
										   lagbid_num_text(price),
										   lagbid_num_text(t->duration_hours)));
	lagbid_connect();
	lagbid_exec(&bond_plan, args, NULL, false, 0);
	if (SPI_processed == 1)
	{
		lagbid_finish();
		return;
	}
	args[0] = Int64GetDatum(provider_id);
	lagbid_exec(&available_plan, args, NULL, true, 1);
	lagbid_raise(LB_INSUFFICIENT_COLLATERAL,
				 psprintf("The provider's available balance is %s; the bond is %s "
						  "(collateral_ratio %s x ask %s x duration_hours %s).",
						  SPI_processed ? SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1) : "0",
						  lagbid_num_text(bond), lagbid_num_text(t->collateral_ratio),
						  lagbid_num_text(price), lagbid_num_text(t->duration_hours)),
				 "Deposit with lagbid.deposit(..., holder_kind => 'provider'); "
				 "lagbid_api.my_profile() shows the available and the bonded amounts.",
				 "provider %lld cannot lock the bond of its bid on task %lld",
				 (long long) provider_id, (long long) t->id);
}

/* ---- releasing and slashing ---- */

static LagbidPlan bond_of_bid_plan = {
	"SELECT b.bond, b.bond_account_id, " LAGBID_NODE_OF("b") " FROM lagbid.bid b "
	"WHERE b.id = $1 AND b.bond_state = 'locked'",
	1, {INT8OID}
};

static LagbidPlan settled_plan = {
	"UPDATE lagbid.bid SET bond_state = $2 WHERE id = $1 AND bond_state = 'locked'",
	2, {INT8OID, TEXTOID}
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
	int64		bonded,
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
	bonded = DatumGetInt64(lagbid_result_datum(0, 2, &isnull));
	bid_node = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 3);
	if (node_id == NULL)
		node_id = bid_node;

	/* every account of the settlement, in id order, before the first move */
	lagbid_trust_lock_accounts(t);

	args[1] = CStringGetTextDatum(slash ? "slashed" : "released");
	lagbid_exec(&settled_plan, args, NULL, false, 0);
	if (SPI_processed != 1)
		elog(ERROR, "lagbid: the bond of bid %lld was settled twice", (long long) bid_id);

	if (slash)
	{
		to = lagbid_account_id(ACCOUNT_OWNER, t->owner, true);
		memo = psprintf("bond of bid %lld slashed to the owner: %s", (long long) bid_id, reason);
		lagbid_transfer_job("slash", bonded, to, bond, t->id, t->space_id, job_id, memo);
		lagbid_notify(HOLDER_PROVIDER, node_id, "job_slashed", t->id, 0, job_id,
					  slash_payload(bond, reason, evidence));
	}
	else
	{
		to = lagbid_account_id(ACCOUNT_PROVIDER, node_id, true);
		memo = psprintf("bond of bid %lld released: %s", (long long) bid_id,
						reason ? reason : "released");
		lagbid_transfer_job("release", bonded, to, bond, t->id, t->space_id, job_id, memo);
	}
	lagbid_finish();
	return slash ? bond : lagbid_num_int(0);
}

static LagbidPlan locked_bids_plan = {
	"SELECT b.id FROM lagbid.bid b WHERE b.id = ANY ($1) AND b.bond_state = 'locked' "
	"ORDER BY (SELECT a.id FROM lagbid.account a "
	"           WHERE a.kind = 'provider' AND a.name = " LAGBID_NODE_OF("b") "), b.id",
	1, {INT8ARRAYOID}
};

void
lagbid_bonds_release(LagbidTask *t, int64 *bid_ids, int n, const char *reason)
{
	Datum		args[1];
	Datum	   *d;
	int64	   *locked;
	int			i,
				nlocked;

	if (n <= 0 || !lagbid_num_positive(t->collateral_ratio))
		return;
	d = palloc(sizeof(Datum) * n);
	for (i = 0; i < n; i++)
		d[i] = Int64GetDatum(bid_ids[i]);
	args[0] = PointerGetDatum(construct_array(d, n, INT8OID, 8, FLOAT8PASSBYVAL, TYPALIGN_DOUBLE));

	lagbid_trust_lock_accounts(t);
	lagbid_connect();
	lagbid_exec(&locked_bids_plan, args, NULL, false, 0);
	nlocked = SPI_processed;
	locked = palloc(sizeof(int64) * (nlocked + 1));
	for (i = 0; i < nlocked; i++)
	{
		bool		isnull;

		locked[i] = DatumGetInt64(lagbid_result_datum(i, 1, &isnull));
	}
	/* in the providers' account order (they are locked already: no wait) */
	for (i = 0; i < nlocked; i++)
		lagbid_bond_settle(t, locked[i], 0, NULL, false, reason, NULL);
	lagbid_finish();
}
