#!/usr/bin/env bash
# make test: install what is missing, build with -Werror, install, then run
# every suite (unit, pg_regress, isolation, pgTAP, TAP) and print one summary
# line "N passed, N failed".  Exit status is non-zero when anything failed.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
. "$here/scripts/lib.sh"

bash "$here/scripts/deps.sh"

# One PostgreSQL installation is shared by every checkout on this machine:
# install and test under one lock so nobody swaps lagbid.so mid-run.
exec 9>${LAGBID_LOCK:-/tmp/lagbid-install.lock}
flock 9
build_and_install "$here"

stage=${LAGBID_STAGE:-/tmp/lagbid-test.$(id -u)}
stage_tree "$here" "$stage"

# the suites of scripts/suites.sh run as the unprivileged runner; "ubsan"
# needs root (it installs a sanitized build) and runs here, last
want_ubsan=1
suites=()
for a in "$@"; do
	if [ "$a" = ubsan ]; then want_ubsan=1; else suites+=("$a"); fi
done
[ $# -eq 0 ] || { printf '%s\n' "$@" | grep -qx ubsan || want_ubsan=0; }

status=0
pass=0
fail=0
if [ $# -eq 0 ] || [ ${#suites[@]} -gt 0 ]; then
	out=$(mktemp)
	# a failing suite must not stop the run (set -e): the ubsan pass and the
	# summary line still come
	rc=0
	as_runner bash "$stage/scripts/suites.sh" "${suites[@]}" | tee "$out" || rc=$?
	[ "$rc" -eq 0 ] || status=1
	read -r pass fail < <(sed -n 's/^suites: \([0-9]*\) passed, \([0-9]*\) failed$/\1 \2/p' "$out" | tail -1)
	rm -f "$out"
fi
if [ $want_ubsan -eq 1 ]; then
	# regress and isolation again, against an UndefinedBehaviorSanitizer build
	mkdir -p "$stage/test/log"
	log=$stage/test/log/ubsan.log
	printf '%-10s ' ubsan
	if LAGBID_LOCK_HELD=1 bash "$here/scripts/ubsan.sh" >"$log" 2>&1; then
		read -r p f < <(sed -n 's/^suites: \([0-9]*\) passed, \([0-9]*\) failed$/\1 \2/p' "$log" | tail -1)
		echo "${p:-0} passed (no undefined behaviour)"
		pass=$((pass + ${p:-0}))
	else
		echo "failed (log: $log)"
		tail -20 "$log" | sed 's/^/    /'
		fail=$((fail + 1))
		status=1
	fi
fi
echo "test: ${pass:-0} passed, ${fail:-0} failed"

# keep the failure evidence next to the checkout
if [ $status -ne 0 ]; then
	rm -rf "$here/test/log"; mkdir -p "$here/test/log"
	cp -r "$stage/test/log/." "$here/test/log/" 2>/dev/null || true
	echo "logs and diffs: $here/test/log/"
fi
exit $status
