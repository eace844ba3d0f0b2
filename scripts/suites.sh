#!/usr/bin/env bash
# Runs every test suite of lagbid against throwaway clusters and prints a
# summary.  Called by scripts/test.sh as a non-root user in a staged tree.
# Arguments (optional): the suites to run, among lint unit agent regress isolation pgtap tap torture contrib demo bench.
set -uo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
cd "$here"
. scripts/lib.sh

suites=("$@")
[ ${#suites[@]} -gt 0 ] || suites=(lint unit agent regress isolation pgtap tap torture contrib demo bench)

logdir=test/log
rm -rf "$logdir"; mkdir -p "$logdir"
total_pass=0
total_fail=0

# count LOG: number of passed and failed tests in a suite's output
count() {
	local log=$1 kind=$2 p f
	case $kind in
	pg_regress)
		p=$(grep -cE '\.\.\. ok' "$log" || true)
		f=$(grep -cE '\.\.\. FAILED|\.\.\. failed' "$log" || true) ;;
	tap)
		p=$(grep -cE '^[[:space:]]*ok [0-9]+' "$log" || true)
		f=$(grep -cE '^[[:space:]]*not ok [0-9]+' "$log" || true) ;;
	esac
	echo "$p $f"
}

run_suite() {
	local name=$1 kind=$2; shift 2
	local log=$logdir/$name.log rc p f
	printf '%-10s ' "$name"
	"$@" >"$log" 2>&1
	rc=$?
	read -r p f < <(count "$log" "$kind")
	# a suite that failed without reporting a failing test still failed
	if [ $rc -ne 0 ] && [ "$f" -eq 0 ]; then f=1; fi
	# a suite that ran nothing is a failure too
	if [ $rc -eq 0 ] && [ "$p" -eq 0 ] && [ "$f" -eq 0 ]; then f=1; fi
	total_pass=$((total_pass + p))
	total_fail=$((total_fail + f))
	if [ $rc -eq 0 ] && [ "$f" -eq 0 ]; then
		echo "$p passed"
	else
		echo "$p passed, $f failed (log: $log)"
		grep -E 'not ok|FAILED|failed' "$log" | head -20 | sed 's/^/    /'
		for d in regression.diffs output_iso/regression.diffs; do
			[ -s "$d" ] && { cp "$d" "$logdir/$name.diffs"; head -60 "$d" | sed 's/^/    /'; }
		done
	fi
}

for s in "${suites[@]}"; do
	case $s in
	lint)      run_suite lint tap bash scripts/lint.sh ;;
	unit)      run_suite unit tap make -s check-unit ;;
	agent)     run_suite agent tap make -s check-agent ;;
	regress)   run_suite regress pg_regress make -s check-regress ;;
	isolation) run_suite isolation pg_regress make -s check-isolation ;;
	pgtap)     run_suite pgtap tap make -s check-pgtap ;;
	tap)       run_suite tap tap make -s check-tap ;;
	torture)   run_suite torture tap bash test/torture/run.sh "${TORTURE_SECONDS:-10}" "${TORTURE_CLIENTS:-16}" ;;
	# the Celery bridge, the Prometheus exporter's queries, and make market
	# with an owner and three agents (docs/0.4/users.md)
	contrib)   run_suite contrib tap bash -c 'rc=0; for t in contrib/celery/test.sh contrib/prometheus/test.sh test/users/market_test.sh; do bash "$t" || rc=1; done; exit $rc' ;;
	# make demo's acts, checked (test/demo/test.sh)
	demo)      run_suite demo tap bash test/demo/test.sh ;;
	bench)     run_suite bench tap env BENCH_QUICK=1 BENCH_INSTALL=0 bash bench/run.sh ;;
	*) echo "unknown suite $s"; total_fail=$((total_fail + 1)) ;;
	esac
done

echo "suites: $total_pass passed, $total_fail failed"
[ $total_fail -eq 0 ]
