/*-------------------------------------------------------------------------
 *
 * ledger.c
 *	  Money: a double-entry ledger.  Every movement is one ledger_tx with
 *	  two entries summing to zero; holder and escrow balances never go
 *	  negative (checked by a conditional UPDATE that also locks the row, and
 *	  by a CHECK constraint behind it).  Also lagbid.deposit() (idempotent
 *	  on its external reference) and lagbid.balance().
 *
 *	  Accounts are locked in ascending id order, and a payout to several
 *	  accounts visits them in that order, so concurrent movements cannot
 *	  deadlock.  Amounts are numeric, never floating point.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "utils/builtins.h"
#include "utils/numeric.h"

#include "lagbid.h"
#include "errors.h"
#include "market.h"
#include "trust.h"

#define MAX_REFERENCE 128

static LagbidPlan find_account_plan = {
	"SELECT id FROM lagbid.account WHERE kind = $1::lagbid.account_kind AND name = $2",
	2, {TEXTOID, TEXTOID}
};

static LagbidPlan create_account_plan = {
	"INSERT INTO lagbid.account (kind, name) VALUES ($1::lagbid.account_kind, $2) "
	"ON CONFLICT (kind, name) DO NOTHING RETURNING id",
	2, {TEXTOID, TEXTOID}
};

static LagbidPlan debit_plan = {
	"UPDATE lagbid.account SET balance = balance - $2 "
	"WHERE id = $1 AND (kind = 'external' OR balance >= $2) RETURNING id",
	2, {INT8OID, NUMERICOID}
};

static LagbidPlan credit_plan = {
	"UPDATE lagbid.account SET balance = balance + $2 WHERE id = $1",
	2, {INT8OID, NUMERICOID}
};

static LagbidPlan why_plan = {
	"SELECT kind::text, name, balance::text FROM lagbid.account WHERE id = $1",
	1, {INT8OID}
};

static LagbidPlan tx_plan = {
	"INSERT INTO lagbid.ledger_tx (kind, amount, task_id, space_id, job_id, memo) "
	"VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
	6, {TEXTOID, NUMERICOID, INT8OID, INT8OID, INT8OID, TEXTOID}
};

static LagbidPlan entries_plan = {
	"INSERT INTO lagbid.ledger_entry (tx_id, account_id, amount) "
	"VALUES ($1, $2, -$4), ($1, $3, $4)",
	4, {INT8OID, INT8OID, INT8OID, NUMERICOID}
};

static LagbidPlan balance_plan = {
	"SELECT balance FROM lagbid.account WHERE id = $1",
	1, {INT8OID}
};

static LagbidPlan holder_balance_plan = {
	"SELECT balance FROM lagbid.account WHERE kind = $2::lagbid.account_kind AND name = $1",
	2, {TEXTOID, TEXTOID}
};

/* 0.4: what a provider's live bids hold as bonds is not available (collateral.c) */
static LagbidPlan holder_available_plan = {
	"SELECT balance - bonded FROM lagbid.account WHERE kind = $2::lagbid.account_kind AND name = $1",
	2, {TEXTOID, TEXTOID}
};

static LagbidPlan deposit_tx_plan = {
	"INSERT INTO lagbid.ledger_tx (kind, reference, amount, memo) "
	"VALUES ('deposit', $1, $2, $3) ON CONFLICT (reference) DO NOTHING RETURNING id",
	3, {TEXTOID, NUMERICOID, TEXTOID}
};

static LagbidPlan deposit_again_plan = {
	"SELECT t.id, t.kind = 'deposit' AND t.amount = $2 "
	"       AND a.kind = $4::lagbid.account_kind AND a.name = $3 "
	"FROM lagbid.ledger_tx t "
	"JOIN lagbid.ledger_entry e ON e.tx_id = t.id AND e.amount > 0 "
	"JOIN lagbid.account a ON a.id = e.account_id "
	"WHERE t.reference = $1",
	4, {TEXTOID, NUMERICOID, TEXTOID, TEXTOID}
};

static int
numeric_sign_of(Datum n)
{
	return DatumGetInt32(DirectFunctionCall2(numeric_cmp, n,
											 DirectFunctionCall1(int4_numeric, Int32GetDatum(0))));
}

static char *
numeric_text(Datum n)
{
	return DatumGetCString(DirectFunctionCall1(numeric_out, n));
}

int64
lagbid_account_id(LagbidAccountKind kind, const char *name, bool create)
{
	Datum		args[2];
	int64		id = 0;
	bool		found;

	args[0] = CStringGetTextDatum(lagbid_account_kind_label(kind));
	args[1] = CStringGetTextDatum(name);
	lagbid_connect();
	lagbid_exec(&find_account_plan, args, NULL, false, 1);
	found = lagbid_result_int64(1, &id);
	if (!found && create)
	{
		lagbid_exec(&create_account_plan, args, NULL, false, 0);
		found = lagbid_result_int64(1, &id);
		if (!found)
		{
			/* a concurrent transaction created it: it is visible now */
			lagbid_exec(&find_account_plan, args, NULL, false, 1);
			found = lagbid_result_int64(1, &id);
		}
	}
	lagbid_finish();
	return found ? id : 0;
}

/* raise LB_INSUFFICIENT_FUNDS for account `from` (caller is inside SPI) */
static void
refuse_funds(int64 from, Datum amount)
{
	Datum		args[1];

	args[0] = Int64GetDatum(from);
	lagbid_exec(&why_plan, args, NULL, false, 1);
	if (SPI_processed == 0)
		elog(ERROR, "lagbid: ledger account %lld does not exist", (long long) from);
	lagbid_raise(LB_INSUFFICIENT_FUNDS,
				 psprintf("The %s account \"%s\" holds %s; %s is needed.",
						  SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1),
						  SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2),
						  SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 3),
						  numeric_text(amount)),
				 "Deposit funds with lagbid.deposit().",
				 "insufficient funds in account \"%s\"",
				 SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2));
}

/* debit `from` (refusing to overdraw it); caller is inside SPI */
static void
debit(int64 from, Datum amount)
{
	Datum		args[2];

	args[0] = Int64GetDatum(from);
	args[1] = amount;
	lagbid_exec(&debit_plan, args, NULL, false, 0);
	if (SPI_processed == 1)
		return;
	refuse_funds(from, amount);
}

void
lagbid_require_funds(int64 account_id, Datum amount)
{
	if (DatumGetInt32(DirectFunctionCall2(numeric_cmp, lagbid_account_balance(account_id), amount)) >= 0)
		return;
	lagbid_connect();
	refuse_funds(account_id, amount);
}

static void
credit(int64 to, Datum amount)
{
	Datum		args[2];

	args[0] = Int64GetDatum(to);
	args[1] = amount;
	lagbid_exec(&credit_plan, args, NULL, false, 0);
	if (SPI_processed != 1)
		elog(ERROR, "lagbid: ledger account %lld does not exist", (long long) to);
}

/* move amount between two accounts under an existing ledger_tx; inside SPI */
static void
move(int64 tx_id, int64 from, int64 to, Datum amount)
{
	Datum		args[4];

	if (from == to)
		elog(ERROR, "lagbid: a ledger transaction needs two different accounts");
	/* lock order: ascending account id */
	if (from < to)
	{
		debit(from, amount);
		credit(to, amount);
	}
	else
	{
		credit(to, amount);
		debit(from, amount);
	}
	args[0] = Int64GetDatum(tx_id);
	args[1] = Int64GetDatum(from);
	args[2] = Int64GetDatum(to);
	args[3] = amount;
	lagbid_exec(&entries_plan, args, NULL, false, 0);
}

static int64
transfer_internal(const char *kind, int64 from, int64 to, Datum amount,
				  int64 task_id, int64 space_id, int64 job_id, const char *memo)
{
	Datum		args[6];
	char		nulls[6] = {' ', ' ', ' ', ' ', ' ', ' '};
	int			sign = numeric_sign_of(amount);
	int64		tx_id;

	if (sign == 0)
		return 0;
	if (sign < 0)
		elog(ERROR, "lagbid: negative ledger amount %s", numeric_text(amount));

	args[0] = CStringGetTextDatum(kind);
	args[1] = amount;
	args[2] = Int64GetDatum(task_id);
	nulls[2] = task_id ? ' ' : 'n';
	args[3] = Int64GetDatum(space_id);
	nulls[3] = space_id ? ' ' : 'n';
	args[4] = Int64GetDatum(job_id);
	nulls[4] = job_id ? ' ' : 'n';
	if (memo)
		args[5] = CStringGetTextDatum(memo);
	else
		nulls[5] = 'n';

	lagbid_connect();
	lagbid_exec(&tx_plan, args, nulls, false, 0);
	if (!lagbid_result_int64(1, &tx_id))
		elog(ERROR, "lagbid: ledger transaction not created");
	move(tx_id, from, to, amount);
	lagbid_finish();
	return tx_id;
}

int64
lagbid_transfer(const char *kind, int64 from_account, int64 to_account,
				Datum amount, int64 task_id, int64 space_id, const char *memo)
{
	return transfer_internal(kind, from_account, to_account, amount,
							 task_id, space_id, 0, memo);
}

int64
lagbid_transfer_job(const char *kind, int64 from_account, int64 to_account,
					Datum amount, int64 task_id, int64 space_id, int64 job_id,
					const char *memo)
{
	return transfer_internal(kind, from_account, to_account, amount,
							 task_id, space_id, job_id, memo);
}

static int
cmp_payout(const void *a, const void *b)
{
	const LagbidPayout *x = a;
	const LagbidPayout *y = b;

	if (x->to_account != y->to_account)
		return (x->to_account > y->to_account) - (x->to_account < y->to_account);
	return (x->job_id > y->job_id) - (x->job_id < y->job_id);
}

void
lagbid_payout(int64 from_account, LagbidPayout *legs, int n,
			  int64 task_id, int64 space_id)
{
	int			i;

	qsort(legs, n, sizeof(LagbidPayout), cmp_payout);
	for (i = 0; i < n; i++)
		transfer_internal(legs[i].kind, from_account, legs[i].to_account,
						  legs[i].amount, task_id, space_id, legs[i].job_id,
						  legs[i].job_id ? psprintf("job %lld", (long long) legs[i].job_id) : NULL);
}

Datum
lagbid_account_balance(int64 account_id)
{
	Datum		args[1];
	Datum		result;
	bool		isnull;

	args[0] = Int64GetDatum(account_id);
	lagbid_connect();
	lagbid_exec(&balance_plan, args, NULL, false, 1);
	if (SPI_processed == 0)
		elog(ERROR, "lagbid: ledger account %lld does not exist", (long long) account_id);
	result = SPI_datumTransfer(lagbid_result_datum(0, 1, &isnull), false, -1);
	lagbid_finish();
	return result;
}

PG_FUNCTION_INFO_V1(lagbid_deposit);

/*
 * lagbid.deposit(account text, amount numeric, reference text,
 *				  holder_kind lagbid.holder_kind DEFAULT 'owner') RETURNS bigint
 *
 * Credits the account of the holder (holder_kind, account) from outside.  The reference (a payment id of the
 * outside world) makes it idempotent: the same reference for the same
 * account and amount returns the first transaction; for anything else it is
 * refused.  Concurrent duplicates wait on the unique reference and then see
 * the first one.
 */
Datum
lagbid_deposit(PG_FUNCTION_ARGS)
{
	char	   *account;
	char	   *reference;
	Datum		amount;
	Datum		args[4];
	int64		tx_id;
	LagbidHolderKind holder_kind;
	int64		holder,
				external;

	if (PG_ARGISNULL(0))
		lagbid_raise(LB_INVALID_ARGUMENT, NULL, NULL, "account must not be NULL");
	account = lagbid_text_to_cstring_limited(PG_GETARG_TEXT_PP(0), 128, "account");
	lagbid_check_name(account, "account");
	amount = lagbid_check_numeric(PG_GETARG_DATUM(1), PG_ARGISNULL(1), "amount", false);
	if (PG_ARGISNULL(2))
		lagbid_raise(LB_INVALID_ARGUMENT, NULL,
					 "The reference is the outside payment's id; it makes a retried deposit safe.",
					 "reference must not be NULL");
	reference = lagbid_text_to_cstring_limited(PG_GETARG_TEXT_PP(2), MAX_REFERENCE, "reference");
	lagbid_check_name(reference, "reference");
	holder_kind = lagbid_holder_kind_arg(fcinfo, 3);
	/* a provider is named by its node id: a typo must not open a stray account */
	if (holder_kind == HOLDER_PROVIDER)
		lagbid_check_node_id(account, "account");

	holder = lagbid_account_id((LagbidAccountKind) holder_kind, account, true);
	external = lagbid_account_id(ACCOUNT_EXTERNAL, "external", true);

	args[0] = CStringGetTextDatum(reference);
	args[1] = amount;
	args[2] = CStringGetTextDatum(account);
	args[3] = CStringGetTextDatum(lagbid_account_kind_label((LagbidAccountKind) holder_kind));
	lagbid_connect();
	lagbid_exec(&deposit_tx_plan, args, NULL, false, 0);
	if (!lagbid_result_int64(1, &tx_id))
	{
		bool		same,
					isnull;

		lagbid_exec(&deposit_again_plan, args, NULL, false, 1);
		if (SPI_processed == 0)
			lagbid_raise(LB_DEPOSIT_REFERENCE_REUSED, NULL, NULL,
						 "reference \"%s\" belongs to another ledger transaction", reference);
		tx_id = DatumGetInt64(lagbid_result_datum(0, 1, &isnull));
		same = DatumGetBool(lagbid_result_datum(0, 2, &isnull));
		if (!same)
			lagbid_raise(LB_DEPOSIT_REFERENCE_REUSED,
						 psprintf("Ledger transaction %lld already used it.", (long long) tx_id),
						 "Use a new reference for a new deposit.",
						 "deposit reference \"%s\" was used for another account or amount", reference);
		lagbid_finish();
		PG_RETURN_INT64(tx_id);
	}
	move(tx_id, external, holder, amount);
	lagbid_finish();
	PG_RETURN_INT64(tx_id);
}

PG_FUNCTION_INFO_V1(lagbid_balance);

/*
 * lagbid.balance(account text, holder_kind lagbid.holder_kind DEFAULT 'owner')
 * RETURNS numeric — the balance of an owner (by owner name) or of a provider
 * (by node id); 0 for a holder that never held money.  A provider's balance
 * is what it has available: the bonds its live bids hold are not.
 */
Datum
lagbid_balance(PG_FUNCTION_ARGS)
{
	Datum		args[2];
	Datum		result;
	bool		isnull;
	LagbidHolderKind holder_kind;

	if (PG_ARGISNULL(0))
		lagbid_raise(LB_INVALID_ARGUMENT, NULL, NULL, "account must not be NULL");
	args[0] = CStringGetTextDatum(lagbid_text_to_cstring_limited(PG_GETARG_TEXT_PP(0), 128, "account"));
	holder_kind = lagbid_holder_kind_arg(fcinfo, 1);
	args[1] = CStringGetTextDatum(lagbid_account_kind_label((LagbidAccountKind) holder_kind));
	lagbid_connect();
	lagbid_exec(lagbid_trust_schema() ? &holder_available_plan : &holder_balance_plan,
				args, NULL, true, 1);
	if (SPI_processed == 0)
	{
		lagbid_finish();
		PG_RETURN_DATUM(DirectFunctionCall1(int4_numeric, Int32GetDatum(0)));
	}
	result = SPI_datumTransfer(lagbid_result_datum(0, 1, &isnull), false, -1);
	lagbid_finish();
	PG_RETURN_DATUM(result);
}
