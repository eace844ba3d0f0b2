#!/usr/bin/env bash
# Static checks of the agent, as TAP: cppcheck finds nothing, and the pure
# modules (fuzzed and unit-tested without a database) include neither
# libpq nor OpenSSL nor PostgreSQL headers.  Run from agent/.
set -uo pipefail
echo "1..2"
if command -v cppcheck >/dev/null; then
	out=$(cppcheck --quiet --enable=warning,portability,performance --error-exitcode=1 --std=c11 \
		-D_GNU_SOURCE --suppress=missingIncludeSystem -I . -I ../src/rules -I ../src/identity ./*.c ../src/rules/*.c test/*.c fuzz/*.c 2>&1)
	if [ $? -eq 0 ] && [ -z "$out" ]; then echo "ok 1 - cppcheck finds nothing in agent/"; else
		echo "not ok 1 - cppcheck finds nothing in agent/"; echo "$out" | sed 's/^/# /'; fi
else
	echo "ok 1 - cppcheck finds nothing in agent/ # SKIP cppcheck not installed"
fi
if grep -lE '#include [<"](libpq|openssl/|postgres|fmgr|daemon\.h)' json_io.c workload.c rows.c wlcache.c peer_id.c config.c policy.c log.c xalloc.c tree.c \
	../src/rules/*.c ../src/rules/*.h ../src/identity/base58.c >/dev/null; then
	echo "not ok 2 - the pure modules and the shared rules (src/rules/) include no libpq, OpenSSL or PostgreSQL header"
else
	echo "ok 2 - the pure modules and the shared rules (src/rules/) include no libpq, OpenSSL or PostgreSQL header"
fi
