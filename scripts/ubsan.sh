#!/usr/bin/env bash
# make ubsan: the pg_regress and isolation suites against lagbid built with
# UndefinedBehaviorSanitizer (its runtime loads with the library; ASan would
# need a preloaded runtime, which hangs PostgreSQL here).  Undefined behaviour
# aborts the backend, which fails the suite; the server logs are searched
# for sanitizer reports too.  The normal library is reinstalled at the end;
# the install lock is held throughout so that nobody else runs against the
# sanitized build.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
. "$here/scripts/lib.sh"
bash "$here/scripts/deps.sh"

# scripts/test.sh calls this while it holds the install lock itself
if [ -z "${LAGBID_LOCK_HELD:-}" ]; then
	exec 9>${LAGBID_LOCK:-/tmp/lagbid-install.lock}
	flock 9
fi
uid=$(id -u)
build=/tmp/lagbid-ubsan-build.$uid.$(lagbid_slot)
stage=/tmp/lagbid-ubsan.$uid.$(lagbid_slot)
trap 'build_and_install "$here"' EXIT

stage_tree "$here" "$build"
make -C "$build" -s with_llvm=no \
	PG_CFLAGS="-Wall -Wextra -Werror -Wno-unused-parameter -Wno-missing-field-initializers -Wno-sign-compare -Wno-implicit-fallthrough -Wno-cast-function-type -fsanitize=undefined -fno-sanitize-recover=all -fno-omit-frame-pointer" >/dev/null
make -C "$build" -s with_llvm=no install >/dev/null
[ "$(nm -D "$("$PG_CONFIG" --pkglibdir)/lagbid.so" | grep -c __ubsan)" -gt 0 ] || { echo "ubsan: the library is not instrumented"; exit 1; }

stage_tree "$here" "$stage"
status=0
as_runner env UBSAN_OPTIONS=print_stacktrace=1 bash "$stage/scripts/suites.sh" regress isolation || status=1
if grep -rl "runtime error" "$stage"/tmp_check*/log "$stage"/log 2>/dev/null; then
	echo "ubsan: undefined behaviour reported:"
	grep -rh -A5 "runtime error" "$stage"/tmp_check*/log "$stage"/log 2>/dev/null | head -40
	status=1
else
	echo "ubsan: no undefined behaviour reported"
fi
exit $status
