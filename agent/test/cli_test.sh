#!/usr/bin/env bash
# The command line without a market: --help (and each command's), the
# messages for bad arguments (a number that is not one, a bad multiaddr or
# conninfo, an unknown command), init checks its arguments before writing
# anything and leaves nothing behind when it fails, run --json lines (each
# one JSON object) while it retries with backoff, SIGTERM exits 0, SIGHUP
# with a broken config keeps the old one, config errors name the file, the
# line and the accepted settings, a conninfo libpq cannot parse is not
# retried, status exits 2 when the market is down.  Prints TAP.
# (What needs a market -- LB107, the .pgpass hint, "1 slot", the markup
# init writes -- is in test/users/market_test.sh, suite contrib.)
# Usage: cli_test.sh PATH/TO/lagbid-agent
set -uo pipefail
agent=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
tmp=$(mktemp -d /tmp/lagbid-cli.XXXXXX)
pid=
trap '[ -n "$pid" ] && kill -9 $pid 2>/dev/null; rm -rf "$tmp"' EXIT
n=0
fails=0
ok() {
	n=$((n + 1))
	if [ "$1" -eq 0 ]; then echo "ok $n - $2"; else echo "not ok $n - $2"; fails=$((fails + 1)); fi
}

"$agent" --help > "$tmp/help" 2>&1
ok $([ $? -eq 0 ] && grep -q '^Usage:' "$tmp/help" && grep -q -- '--max-concurrent' "$tmp/help"; echo $?) "--help prints the usage and exits 0"
"$agent" > /dev/null 2>&1
ok $([ $? -ne 0 ]; echo $?) "no command is an error"
"$agent" run > "$tmp/nodir" 2>&1
ok $([ $? -ne 0 ] && grep -q 'run needs --dir' "$tmp/nodir"; echo $?) "run without --dir is an error"
"$agent" frobnicate --dir "$tmp/x" > "$tmp/unknown" 2>&1
ok $([ $? -ne 0 ] && grep -q 'unknown command "frobnicate" (the commands are init, run, status, try, serve and probe)' "$tmp/unknown" &&
	! grep -q 'needs --dir' "$tmp/unknown"; echo $?) "an unknown command is named as one"
for c in init run status try; do
	"$agent" $c --help > "$tmp/help.$c" 2>&1
	ok $([ $? -eq 0 ] && grep -q "^  lagbid-agent $c " "$tmp/help.$c" && grep -q '^Exit status' "$tmp/help.$c"; echo $?) \
		"$c --help prints that command's usage and exit status"
done
ok $(grep -q -- '--max-concurrent=N' "$tmp/help.init" && grep -q sslmode "$tmp/help.init"; echo $?) "init --help lists its options and the sslmode note"

# bad arguments are refused before anything is written
bad=$tmp/bad
"$agent" init --dir "$bad" --conninfo "host=$tmp/nosocket" --region eu --multiaddr /ip4/127.0.0.1/tcp/1 \
	--max-concurrent abc > "$tmp/nan" 2>&1
ok $([ $? -ne 0 ] && grep -q -- '--max-concurrent: "abc" is not a number' "$tmp/nan" && [ ! -e "$bad" ]; echo $?) \
	"--max-concurrent abc: not a number, and nothing written"
"$agent" init --dir "$bad" --max-concurrent 0 > "$tmp/zero" 2>&1
ok $([ $? -ne 0 ] && grep -q -- '--max-concurrent must be between 1 and 100000 (got 0)' "$tmp/zero"; echo $?) "--max-concurrent 0: the range"
"$agent" init --dir "$bad" --conninfo "host=$tmp/nosocket" --region eu --multiaddr /ip4/127.0.0.1/tcp/1 \
	--multiaddr /ip4/10.0.0.256/tcp/1 > "$tmp/badaddr" 2>&1
ok $([ $? -ne 0 ] && grep -q -- '--multiaddr "/ip4/10.0.0.256/tcp/1" is not a valid libp2p multiaddr' "$tmp/badaddr" &&
	grep -q '^HINT:' "$tmp/badaddr" && [ ! -e "$bad" ]; echo $?) "a bad multiaddr is named, and nothing written"
"$agent" init --dir "$bad" --conninfo "host=$tmp/nosocket colour=blue" --region eu --multiaddr /ip4/127.0.0.1/tcp/1 > "$tmp/badci" 2>&1
ok $([ $? -ne 0 ] && grep -q 'invalid connection option "colour"' "$tmp/badci" && [ ! -e "$bad" ]; echo $?) \
	"a conninfo with an unknown keyword is refused at once, and nothing written"
"$agent" init --dir "$bad" --region eu > "$tmp/missing" 2>&1
ok $([ $? -ne 0 ] && grep -q 'missing: --conninfo --multiaddr' "$tmp/missing" && [ ! -e "$bad" ]; echo $?) \
	"init names the arguments missing the first time"

# init that fails at the market leaves nothing behind
"$agent" init --dir "$bad" --conninfo "host=$tmp/nosocket port=1 connect_timeout=2 password=hunter2" \
	--region eu-test --multiaddr /ip4/127.0.0.1/tcp/4001 --max-concurrent 3 > "$tmp/init" 2>&1
ok $([ $? -ne 0 ] && grep -q 'could not connect to the market' "$tmp/init"; echo $?) "init fails when the market is unreachable"
ok $([ ! -e "$bad" ] && grep -q 'removed, nothing is left behind' "$tmp/init"; echo $?) "... and removes the directory it created (key and config)"
ok $(grep -qE '^detected: [0-9]+ cores, [0-9]+ GB memory, [0-9]+ GB free disk' "$tmp/init"; echo $?) "init prints what it detected"
ok $(! grep -q hunter2 "$tmp/init"; echo $?) "the password in the conninfo is never printed"

# a node directory made by hand: a key (as init makes it) and the sample config
dir=$tmp/node
mkdir -m 700 "$dir"
openssl genpkey -algorithm ed25519 -out "$dir/node.key" 2>/dev/null
chmod 600 "$dir/node.key"
sed -e "s|^conninfo = .*|conninfo = host=$tmp/nosocket port=1 connect_timeout=2 password=hunter2|" \
	-e "s|/var/lib/lagbid-agent|$dir|" -e 's|^max_concurrent = .*|max_concurrent = 1|' \
	"$(dirname "$0")/../lagbid-agent.conf.sample" > "$dir/lagbid-agent.conf"
chmod 600 "$dir/lagbid-agent.conf"
cp "$dir/lagbid-agent.conf" "$tmp/sample.conf"
"$agent" init --dir "$dir" > "$tmp/init2" 2>&1
id1=$(sed -n 's/^node id //p' "$tmp/init2")
ok $([ $? -eq 0 ] && [ -n "$id1" ] && grep -q 'node key .* kept' "$tmp/init2"; echo $?) "init keeps an existing key"
ok $([ -s "$dir/node.key" ] && cmp -s "$dir/lagbid-agent.conf" "$tmp/sample.conf" && grep -q 'is as it was before' "$tmp/init2"; echo $?) \
	"a failed init leaves an existing directory as it was (key kept, config restored)"
ok $(! grep -q hunter2 "$tmp/init2"; echo $?) "... and never prints the password"

"$agent" run --dir "$dir" --json 2> "$tmp/run.log" &
pid=$!
sleep 2.5
kill -HUP $pid
sleep 0.3
cp "$dir/lagbid-agent.conf" "$tmp/good.conf"
echo 'bogus line' >> "$dir/lagbid-agent.conf"
kill -HUP $pid
sleep 0.5
sed "s|^conninfo = .*|conninfo = host=$tmp/nosocket colour=blue|" "$tmp/good.conf" > "$dir/lagbid-agent.conf"
kill -HUP $pid
sleep 0.5
kill -TERM $pid
wait $pid
rc=$?
pid=
ok $([ $rc -eq 0 ]; echo $?) "SIGTERM stops run with exit status 0"
ok $(python3 -c '
import json, sys
n = 0
for line in open(sys.argv[1]):
    d = json.loads(line)
    assert {"ts", "epoch", "pid", "level", "event", "message"} <= d.keys(), d
    n += 1
assert n >= 3
' "$tmp/run.log" 2>/dev/null; echo $?) "--json: every log line is one JSON object"
ok $(grep -q 'could not connect to the market.*retrying in' "$tmp/run.log"; echo $?) "it retries the connection with a backoff"
ok $(grep -q "configuration not reloaded: $dir/lagbid-agent.conf: line [0-9]*: expected" "$tmp/run.log"; echo $?) "SIGHUP with a broken config keeps the old one and says why (file and line)"
ok $(grep -q 'configuration not reloaded: .*market.conninfo is not a valid libpq connection string: invalid connection option \\"colour\\"' "$tmp/run.log"; echo $?) \
	"SIGHUP with an unknown conninfo keyword keeps the old configuration"
ok $(grep -q 'starting as node .* (region eu-west, 1 slot, ' "$tmp/run.log"; echo $?) 'one slot is "1 slot"'
ok $(grep -q '"event": "start"' "$tmp/run.log" && [ -s "$dir/metrics.prom" ]; echo $?) "run writes its metrics file"
ok $(grep -q '^lagbid_agent_connected 0$' "$dir/metrics.prom" && grep -q '^lagbid_agent_connect_failures_total [1-9]' "$dir/metrics.prom" &&
	grep -q '^# TYPE lagbid_agent_bid_latency_seconds histogram$' "$dir/metrics.prom" &&
	grep -q '^lagbid_agent_declines_total{reason="price"} 0$' "$dir/metrics.prom" &&
	grep -q '^lagbid_agent_jobs_total{outcome="failed"} 0$' "$dir/metrics.prom"; echo $?) \
	"the metrics say: not connected, failed attempts counted, jobs and declines by label, the bid latency histogram"
ok $(! grep -q hunter2 "$tmp/run.log"; echo $?) "the password never reaches the log"
ok $(grep -q '"level": "LOG", "event": "stop"' "$tmp/run.log"; echo $?) "the stop is logged"
cp "$tmp/good.conf" "$dir/lagbid-agent.conf"

"$agent" status --dir "$dir" > "$tmp/status" 2>&1
rc=$?
ok $(grep -q "^node id $id1\$" "$tmp/status" && grep -q '^market unreachable' "$tmp/status" && grep -q '^agent not running' "$tmp/status" && grep -q '^declines in the last hour: 0' "$tmp/status"; echo $?) \
	"status works with the market down"
ok $([ $rc -eq 2 ]; echo $?) "... and exits 2 (got $rc)"

# config errors: the file, the line, what is accepted
sed 's/^max_concurrent = /max_concurent = /' "$tmp/good.conf" > "$dir/lagbid-agent.conf"
"$agent" status --dir "$dir" > "$tmp/typo" 2>&1
ok $([ $? -eq 1 ] && grep -q "$dir/lagbid-agent.conf: line [0-9]*: unknown setting \"market.max_concurent\" (the settings of \[market\] are: conninfo, node_id, provider_id, region, multiaddr, max_concurrent, scan_interval_s, listen_conninfo)" "$tmp/typo"; echo $?) \
	"a misspelt setting: the file, the line and the settings of its section"
sed 's/^markup = .*/markup = lots/' "$tmp/good.conf" > "$dir/lagbid-agent.conf"
"$agent" status --dir "$dir" > "$tmp/badnum" 2>&1
ok $(grep -q "$dir/lagbid-agent.conf: line [0-9]*: invalid value \"lots\" for \"price.markup\": a number from 0.01 to 1000" "$tmp/badnum"; echo $?) \
	"a bad number: the file, the line, the value and the accepted range"
sed 's/^\[owners\]/[owner]/' "$tmp/good.conf" > "$dir/lagbid-agent.conf"
"$agent" status --dir "$dir" > "$tmp/badsec" 2>&1
ok $(grep -q 'unknown setting "owner.allow" (the sections are \[market\], \[resources\], \[price\], \[owners\], \[jobs\], \[metrics\] and \[service\])' "$tmp/badsec"; echo $?) \
	"a misspelt section: the sections"

# a conninfo libpq cannot parse is a permanent error: run stops at once
sed "s|^conninfo = .*|conninfo = host=$tmp/nosocket colour=blue|" "$tmp/good.conf" > "$dir/lagbid-agent.conf"
timeout 10 "$agent" run --dir "$dir" > "$tmp/permanent" 2>&1
rc=$?
ok $([ $rc -eq 1 ] && grep -q "$dir/lagbid-agent.conf: market.conninfo is not a valid libpq connection string: invalid connection option \"colour\"" "$tmp/permanent"; echo $?) \
	"run with an unknown conninfo keyword exits 1 at once, naming the file (rc $rc)"
cp "$tmp/good.conf" "$dir/lagbid-agent.conf"

chmod 644 "$dir/node.key"
"$agent" run --dir "$dir" > "$tmp/badkey" 2>&1
ok $([ $? -ne 0 ] && grep -q '0600' "$tmp/badkey"; echo $?) "a key readable by others is refused"

echo "1..$n"
[ $fails -eq 0 ]
