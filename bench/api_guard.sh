#!/usr/bin/env bash
# What the transaction bound of lagbid_api costs (issue 19, defect 7(a);
# src/api_guard.c): the first call of each transaction sets three
# transaction-local timeouts and starts the deadline timer, and the commit
# stops it.  Counted in instructions (callgrind), which a shared machine
# does not disturb, as bench/instructions.sh counts the market functions:
# one build, a throwaway cluster with one provider bound to the login, then
# `postgres --single` under callgrind running N and 2N transactions of one
# call each (lagbid_api.balance(): the cheapest call that resolves its
# caller), with the guard on (the defaults) and off (the four lagbid.api_*
# settings 0: the guard then only notes the transaction).  Reports the whole
# backend's instructions per transaction, (count(2N) - count(N)) / N, for
# each, and the difference.
#
#   bench/api_guard.sh PG_CONFIG
#
# Run it as a non-root user (as root: runuser -u postgres -- bash bench/api_guard.sh ...).
# Environment: RG_CALLS=300 RG_DIR=/tmp/lagbid-api-guard.$UID
set -euo pipefail
[ $# -eq 1 ] || { sed -n 2,18p "$0" >&2; exit 2; }
cfg=$1; b=$("$cfg" --bindir)
n=${RG_CALLS:-300}
d=${RG_DIR:-/tmp/lagbid-api-guard.$(id -u)}; db=lagbid_guard
here=$(cd "$(dirname "$0")/.." && pwd)
rm -rf "$d" && mkdir -p "$d"
"$b/initdb" -D "$d/data" -U postgres -A trust --no-sync -E UTF8 --locale=C >"$d/initdb.log" 2>&1
node=12D3KooWD3eckifWpRn9wQpMG9R9hX3sD158z7EqHWmweQAJU5SA
{
	echo "CREATE DATABASE $db"
} | "$b/postgres" --single -D "$d/data" postgres >"$d/setup0.log" 2>&1
{
	echo "CREATE EXTENSION lagbid"
	echo "SELECT lagbid.register_provider('$node', ARRAY['/ip4/10.0.0.1/tcp/4001'], 'eu', '{}')"
	echo "SELECT lagbid.bind_login('$node', 'postgres')"
	echo "SELECT lagbid_api.balance()"
} | "$b/postgres" --single -D "$d/data" $db >"$d/setup.log" 2>&1
grep -q 'balance = "0"' "$d/setup.log" || { echo "api_guard: setup failed: $d/setup.log" >&2; exit 1; }

# count NAME CALLS SETTINGS: the backend's instructions running CALLS transactions
count() {
	local name=$1 calls=$2 settings=$3
	{
		[ -z "$settings" ] || echo "$settings"
		for _ in $(seq 1 "$calls"); do echo "SELECT lagbid_api.balance()"; done
	} | valgrind --tool=callgrind --callgrind-out-file="$d/$name.cg" \
		"$b/postgres" --single -D "$d/data" -c shared_preload_libraries= $db >"$d/$name.log" 2>&1
	sed -n 's/.*Collected : \([0-9]*\).*/\1/p' "$d/$name.log"
}
off="SET lagbid.api_lock_timeout = 0; SET lagbid.api_statement_timeout = 0; SET lagbid.api_idle_timeout = 0; SET lagbid.api_transaction_timeout = 0"
on1=$(count on1 "$n" ""); on2=$(count on2 $((2 * n)) "")
off1=$(count off1 "$n" "$off"); off2=$(count off2 $((2 * n)) "$off")
awk -v a1="$on1" -v a2="$on2" -v b1="$off1" -v b2="$off2" -v n="$n" 'BEGIN {
	on = (a2 - a1) / n; off = (b2 - b1) / n
	printf "api_guard: instructions per autocommit lagbid_api.balance() (whole backend): guard on %.0f, off %.0f; the guard costs %.0f (%.1f%%)\n", on, off, on - off, 100 * (on - off) / off
}'
