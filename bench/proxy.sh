#!/usr/bin/env bash
# The front proxy's cost (issue 21): requests per second through
# lagbid-agent's front proxy (evhttp, the sandbox's helper, libcurl to the
# app) against the same app reached directly, in one run, and the latency
# it adds at p99.  No database: "lagbid-agent serve" runs the app in the
# service sandbox behind the proxy; the same app also runs on the host.
#
# The app is python3's http.server (threaded) serving a 1 kB page, the
# kind of app the issue names.  The client is curl --parallel (HTTP/1.1,
# keep-alive to the proxy; the app itself answers HTTP/1.0, one connection
# per request, both ways).  Rounds alternate direct and proxied; medians.
#
# Environment: PROXY_BENCH_REQUESTS=2000 per run, PROXY_BENCH_PARALLEL="1 16"
# (one table per level of concurrency),
# PROXY_BENCH_ROUNDS=3, BENCH_STRICT=1 (exit 1 when the ratio is under 0.8).
# Usage: bash bench/proxy.sh
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
agent=$here/agent/lagbid-agent
[ -x "$agent" ] || make -s -C "$here/agent" lagbid-agent >/dev/null
n=${PROXY_BENCH_REQUESTS:-2000}
levels=${PROXY_BENCH_PARALLEL:-1 16}
rounds=${PROXY_BENCH_ROUNDS:-3}
tmp=$(mktemp -d /tmp/lagbid-proxy-bench.XXXXXX)
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	sleep 0.5
	rm -rf "$tmp"
}
trap cleanup EXIT

if ! bwrap --unshare-all --ro-bind / / true 2>/dev/null; then
	echo "proxy bench: SKIP (bubblewrap cannot create namespaces here)"
	exit 0
fi

cat > "$tmp/app.py" <<'PY'
import http.server, socketserver, sys
class H(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *a):
        pass
class S(socketserver.ThreadingMixIn, socketserver.TCPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128
S(("127.0.0.1", int(sys.argv[1])), H).serve_forever()
PY
head -c 1024 /dev/zero | tr '\0' x > "$tmp/index.html"
printf '{"command": ["python3", "app.py", "8000"], "inputs": [{"path": "app.py", "content_base64": "%s"}, {"path": "index.html", "content_base64": "%s"}]}' \
	"$(base64 -w0 "$tmp/app.py")" "$(base64 -w0 "$tmp/index.html")" > "$tmp/w.json"
mkdir -p "$tmp/dir"
"$agent" serve --workload "$tmp/w.json" --dir "$tmp/dir" --port 8000 --name benchbenchbench2 \
	--health /index.html > "$tmp/serve.out" 2> "$tmp/serve.log" &
pids+=($!)
# the same app on the host
direct_port=$(python3 -c "import socket; s=socket.socket(); s.bind(('127.0.0.1', 0)); print(s.getsockname()[1])")
(cd "$tmp" && exec python3 app.py "$direct_port") &
pids+=($!)
for _ in $(seq 1 300); do
	grep -q '^ready' "$tmp/serve.out" 2>/dev/null && curl -s -o /dev/null "http://127.0.0.1:$direct_port/" && break
	sleep 0.1
done
grep -q '^ready' "$tmp/serve.out" || { echo "proxy bench: the service did not become ready"; cat "$tmp/serve.log"; exit 1; }
proxy_port=$(awk '/^proxy/{print $2}' "$tmp/serve.out" | cut -d: -f2)

# run NAME URL: requests/s and p99 (ms) of one run into $tmp/NAME.N
run() {
	local name=$1 url=$2 t0 t1
	t0=$(date +%s.%N)
	curl -s --no-progress-meter -Z --parallel-max "$par" -w '%{stderr}%{http_code} %{time_total}\n' "$url?[1-$n]" \
		> /dev/null 2> "$tmp/$name.times"
	t1=$(date +%s.%N)
	python3 - "$tmp/$name.times" "$t0" "$t1" "$n" >> "$tmp/$name.runs" <<'PY'
import re, sys
# curl --parallel draws a progress meter on stderr too: keep "CODE SECONDS" lines
lines = re.findall(r"(\d{3}) (\d+\.\d+)\n", open(sys.argv[1]).read())
ok = [float(t) for c, t in lines if c == "200"]
bad = len(lines) - len(ok)
wall = float(sys.argv[3]) - float(sys.argv[2])
ok.sort()
p99 = ok[min(len(ok) - 1, int(len(ok) * 0.99))] * 1000 if ok else 0
print("%.1f %.2f %d" % (len(ok) / wall, p99, bad))
PY
}
# warm up both
status=0
for par in $levels; do
rm -f "$tmp"/*.runs
run warm "http://127.0.0.1:$direct_port/index.html"
run warm "http://127.0.0.1:$proxy_port/l/benchbenchbench2/index.html"
for r in $(seq 1 "$rounds"); do
	run direct "http://127.0.0.1:$direct_port/index.html"
	run proxy "http://127.0.0.1:$proxy_port/l/benchbenchbench2/index.html"
done
python3 - "$tmp/direct.runs" "$tmp/proxy.runs" "$n" "$par" "$rounds" "${BENCH_STRICT:-0}" <<'PY' || status=1
import statistics, sys
d = [list(map(float, l.split())) for l in open(sys.argv[1])]
p = [list(map(float, l.split())) for l in open(sys.argv[2])]
rd, rp = statistics.median(x[0] for x in d), statistics.median(x[0] for x in p)
ld, lp = statistics.median(x[1] for x in d), statistics.median(x[1] for x in p)
bad = sum(x[2] for x in d + p)
ratio = rp / rd if rd else 0
print("proxy bench: %s requests x %s rounds, %s in parallel (medians)" % (sys.argv[3], sys.argv[5], sys.argv[4]))
print("%-24s %10s %10s" % ("", "req/s", "p99 ms"))
print("%-24s %10.0f %10.1f" % ("app directly", rd, ld))
print("%-24s %10.0f %10.1f" % ("through the proxy", rp, lp))
print("ratio %.2f (target >= 0.80: %s), added p99 %.1f ms, failed requests %d"
      % (ratio, "PASS" if ratio >= 0.8 else "MISS", lp - ld, bad))
sys.exit(1 if bad or (sys.argv[6] == "1" and ratio < 0.8) else 0)
PY
done
exit $status
