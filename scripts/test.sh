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
exec 9>/tmp/lagbid-install.lock
flock 9
build_and_install "$here"

stage=${LAGBID_STAGE:-/tmp/lagbid-test.$(id -u)}
stage_tree "$here" "$stage"
status=0
as_runner bash "$stage/scripts/suites.sh" "$@" || status=$?
# keep the failure evidence next to the checkout
if [ $status -ne 0 ]; then
	rm -rf "$here/test/log"; mkdir -p "$here/test/log"
	cp -r "$stage/test/log/." "$here/test/log/" 2>/dev/null || true
	echo "logs and diffs: $here/test/log/"
fi
exit $status
