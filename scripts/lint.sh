#!/usr/bin/env bash
# Static checks, as TAP: cppcheck over the C sources (warnings are failures),
# and a check that the pure identity parsers and the shared rules (compiled
# into lagbid-agent too) include no PostgreSQL header.
set -uo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
cd "$here"
echo "1..2"
out=$(cppcheck --quiet --enable=warning,portability,performance --error-exitcode=1 \
	--library=test/cppcheck.cfg --suppress=missingIncludeSystem --suppress=missingInclude \
	-I src "-Dpg_attribute_printf(a,b)=" "-Dpg_attribute_noreturn()=__attribute__((noreturn))" \
	-DPG_VERSION_NUM=150000 src 2>&1)
if [ $? -eq 0 ] && [ -z "$out" ]; then echo "ok 1 - cppcheck finds nothing in src/"; else
	echo "not ok 1 - cppcheck finds nothing in src/"; echo "$out" | sed 's/^/# /'; fi
if grep -lE '#include "(postgres|fmgr|utils/|executor/)' src/identity/*.c src/identity/*.h src/rules/*.c src/rules/*.h >/dev/null; then
	echo "not ok 2 - src/identity/ and src/rules/ are free of PostgreSQL headers"
else
	echo "ok 2 - src/identity/ and src/rules/ are free of PostgreSQL headers"
fi
