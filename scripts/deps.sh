#!/usr/bin/env bash
# Install the Debian packages lagbid needs to build, test and demo, if missing.
# Needs root (or sudo) only when something is missing.
set -euo pipefail

PKGS=(postgresql-15 postgresql-server-dev-15 postgresql-15-cron libssl-dev
      postgresql-15-pgtap pgtap libipc-run-perl make gcc cppcheck
      python3-celery python3-psycopg python3-redis redis-server
      bubblewrap libssl-dev libpq-dev bc
      prometheus-postgres-exporter curl
      pgbouncer)   # pgbouncer: test/t/021_agent_pgbouncer.pl
# lagbid-agent parses JSON with jansson; its fuzzers need clang's libFuzzer
PKGS+=(libjansson-dev clang)
# its front proxy of services (evhttp) and its HTTP client to apps and for probes
PKGS+=(libevent-dev libcurl4-openssl-dev)
PKGS+=("$@")

missing=()
for p in "${PKGS[@]}"; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
		missing+=("$p")
	fi
done
[ ${#missing[@]} -eq 0 ] && exit 0

echo "deps: installing ${missing[*]}"
SUDO=
[ "$(id -u)" -eq 0 ] || SUDO=sudo
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -q >/dev/null
$SUDO apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null
