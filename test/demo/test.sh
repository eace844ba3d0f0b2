#!/usr/bin/env bash
# The "demo" suite of make test: runs the demo (scripts/demo_run.sh, what
# make demo runs after building) on a throwaway cluster and checks, as TAP,
# that each act ended as the README says.  Keeps make demo from rotting.
set -uo pipefail
here=$(cd "$(dirname "$0")/../.." && pwd)
cd "$here" || exit 1
log=test/log/demo-output.log
mkdir -p test/log
# a port of its own per checkout, so parallel checkouts do not collide
port=$((56000 + $(printf '%s' "$here" | cksum | cut -d' ' -f1) % 900))
rc=0
bash scripts/demo_run.sh "$here" "$port" >"$log" 2>&1 || rc=$?
n=0
check() {
	local desc=$1 ok=$2
	n=$((n + 1))
	if [ "$ok" = 1 ]; then echo "ok $n - $desc"; else echo "not ok $n - $desc"; fi
}
has() { grep -qE -- "$1" "$log" && echo 1 || echo 0; }
check "make demo's acts ran to the end (exit status $rc)" "$([ $rc -eq 0 ] && echo 1 || echo 0)"
check "no psql error in the demo's output" "$(grep -qE '^(psql:.*)?ERROR:' "$log" && echo 0 || echo 1)"
check "every invariant check of the SQL acts printed 0 broken" \
	"$(awk '/broken_invariants/ {getline; getline; if ($1 != "0") bad = 1; seen++} END {print (seen > 0 && !bad) ? 1 : 0}' "$log")"
check "the slashed provider reads the reason and evidence" "$(has 'bond of bid [0-9]+ slashed to the owner: result_disagrees')"
check "the owner reads the leader's output computed by real agents" "$(has 'sum of squares 1\.\.10 = 385')"
check "the agents' act ends with no broken invariant" "$(has '^broken invariants: 0$')"
check "each agent was paid what it asked, no job differs" "$(has 'paid vs expected .* 0 job\(s\) differ')"
# the service space act (scripts/demo_space.sh)
check "the service space's app answers through the provider's front proxy at its endpoint" \
	"$(grep -A1 -E '^  curl http://127\.0\.0\.[0-9]+:[0-9]+/l/[a-z2-7]{16}/$' "$log" | grep -qx '  <h1>Hello from a lagbid service space</h1>' && echo 1 || echo 0)"
check "probed windows of the lease are up and paid" \
	"$(awk -F'|' '$2 ~ /^ up +$/ && $4 + 0 >= 1 && $5 + 0 >= 1 && $6 + 0 > 0 {up++} END {print (up >= 2) ? 1 : 0}' "$log")"
check "extend_space moves the lease's reserved_until, and the agent learns it" \
	"$([ "$(has 'reserved_until .* -> .* \(36 s\)$')$(has 'extended: reserved until [0-9]+ \(was [0-9]+\)')" = 11 ] && echo 1 || echo 0)"
check "at expiry the lease is torn down, no process of it left, the route gone" \
	"$([ "$(has 'expired -> torn_down')$(has 'torn down after [0-9.]+ s: no process left')$(has 'is gone: yes; the endpoint now answers 404$')" = 111 ] && echo 1 || echo 0)"
check "the lease's money closes: paid + refunded + returned = escrow taken" \
	"$(awk -F'|' '/escrow_taken .* closes/ {for (i = 1; i <= NF; i++) if ($i ~ /^ closes +$/) c = i; getline; getline; ok = ($c ~ /^ t +$/)} END {print ok ? 1 : 0}' "$log")"
check "the space act ends with no broken invariant" "$(has '^broken invariants after the space: 0$')"
echo "1..$n"
[ $rc -eq 0 ] || { echo "# last lines of $log:"; tail -20 "$log" | sed 's/^/# /'; }
