#!/usr/bin/env bash
# The sandbox holds, without a database: workloads run through
# "lagbid-agent try" (the same code path as a won job) that try the
# network, write outside their directory, fork without bound, eat memory,
# run past their timeout, lie about their inputs, set loader variables,
# build deep trees or fill the disk and memory are contained and fail
# with a reason.  Prints TAP.  Usage: sandbox_test.sh PATH/TO/lagbid-agent
set -uo pipefail
agent=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
tmp=$(mktemp -d /tmp/lagbid-sandbox.XXXXXX)
trap 'kill $listener 2>/dev/null; rm -rf "$tmp"' EXIT
listener=
n=0
fails=0

ok() {	# ok COND-STATUS DESCRIPTION
	n=$((n + 1))
	if [ "$1" -eq 0 ]; then echo "ok $n - $2"; else echo "not ok $n - $2"; fails=$((fails + 1)); fi
}

# run NAME JSON [options]: the outcome in $tmp/NAME.out, elapsed seconds in $elapsed
run() {
	local name=$1 json=$2; shift 2
	printf '%s' "$json" > "$tmp/$name.json"
	local t0=$(date +%s.%N)
	"$agent" try --workload "$tmp/$name.json" "$@" > "$tmp/$name.out" 2>&1
	rc=$?
	elapsed=$(echo "$(date +%s.%N) - $t0" | bc)
}

if ! bwrap --unshare-all --ro-bind / / true 2>/dev/null; then
	echo "1..0 # SKIP bubblewrap cannot create namespaces here"
	exit 0
fi

run hello '{"command": ["sh", "-c", "echo hello-lagbid"]}'
ok $([ $rc -eq 0 ] && grep -qx hello-lagbid "$tmp/hello.out"; echo $?) "a workload runs and its stdout is the output"

b64=$(printf 'input-one\n' | base64 -w0)
printf 'file-input\n' > "$tmp/data.txt"
sha=$(sha256sum "$tmp/data.txt" | cut -d' ' -f1)
run inputs "{\"command\": [\"sh\", \"-c\", \"cat in/one.txt data/two.txt\"], \"inputs\": [{\"path\": \"in/one.txt\", \"content_base64\": \"$b64\"}, {\"path\": \"data/two.txt\", \"uri\": \"file://$tmp/data.txt\", \"sha256\": \"$sha\"}]}"
ok $([ $rc -eq 0 ] && grep -qx input-one "$tmp/inputs.out" && grep -qx file-input "$tmp/inputs.out"; echo $?) \
	"inputs are materialized: content_base64 decoded, file URI copied after its sha256 check"

run badhash "{\"command\": [\"true\"], \"inputs\": [{\"path\": \"x\", \"uri\": \"file://$tmp/data.txt\", \"sha256\": \"$(printf '0%.0s' {1..64})\"}]}"
ok $([ $rc -ne 0 ] && grep -q 'failed: input hash mismatch for "x"' "$tmp/badhash.out"; echo $?) "an input whose sha256 does not match fails the job: $(head -1 "$tmp/badhash.out")"

run http '{"command": ["true"], "inputs": [{"path": "x", "uri": "https://example.com/x", "sha256": "0000000000000000000000000000000000000000000000000000000000000000"}]}'
ok $([ $rc -ne 0 ] && grep -q 'http(s) inputs are not supported' "$tmp/http.out"; echo $?) "an http(s) input fails with a reason: $(head -1 "$tmp/http.out")"

run status '{"command": ["sh", "-c", "echo oops >&2; exit 3"]}'
ok $([ $rc -ne 0 ] && grep -q 'failed: exit status 3: oops' "$tmp/status.out"; echo $?) "a non-zero exit fails with the status and stderr's last line: $(head -1 "$tmp/status.out")"

run missing '{"command": ["does-not-exist-anywhere"]}'
ok $([ $rc -ne 0 ] && grep -q 'exit status 127' "$tmp/missing.out"; echo $?) "a missing command fails with exit status 127"

# the network: a listener on the host's loopback is unreachable from inside
port=$((20000 + RANDOM % 20000))
python3 -c "
import socket, time
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(('127.0.0.1', $port)); s.listen(5); time.sleep(60)" &
listener=$!
sleep 0.5
python3 -c "import socket; socket.create_connection(('127.0.0.1', $port), 2)" 2>/dev/null
ok $? "control: the host listener on port $port is reachable outside the sandbox"
run net "{\"command\": [\"python3\", \"-c\", \"import socket; socket.create_connection(('127.0.0.1', $port), 2); print('connected')\"]}"
ok $([ $rc -ne 0 ] && ! grep -q connected "$tmp/net.out"; echo $?) "no network inside: $(head -1 "$tmp/net.out")"
run dns '{"command": ["python3", "-c", "import socket; socket.create_connection((\"1.1.1.1\", 53), 2); print(\"connected\")"]}'
ok $([ $rc -ne 0 ] && ! grep -q connected "$tmp/dns.out"; echo $?) "no route out: $(head -1 "$tmp/dns.out")"

# writes outside the work directory
mkdir -p "$tmp/host"
run outside "{\"command\": [\"sh\", \"-c\", \"echo x > $tmp/host/pwned; echo y > ../escape; echo z > /usr/evil; echo w > /etc/evil; echo ok > inside; cat inside\"]}"
ok $([ ! -e "$tmp/host/pwned" ] && [ ! -e /usr/evil ] && [ ! -e /etc/evil ] && grep -qx ok "$tmp/outside.out"; echo $?) \
	"writes outside the work directory fail (host path, .., /usr, /etc) while the work directory is writable"

ln -s /etc/passwd "$tmp/passwd-link"
run link '{"command": ["sh", "-c", "ln -s /etc/passwd result.txt"], "output": "result.txt"}'
ok $([ $rc -ne 0 ] && grep -q 'output "result.txt" missing' "$tmp/link.out"; echo $?) "an output that is a symlink out of the work directory is refused"

run outfile '{"command": ["sh", "-c", "mkdir -p out && echo file-result > out/r.txt"], "output": "out/r.txt"}'
ok $([ $rc -eq 0 ] && grep -qx file-result "$tmp/outfile.out"; echo $?) "an output file is the result"

run nooutput '{"command": ["true"], "output": "out/r.txt"}'
ok $([ $rc -ne 0 ] && grep -q 'output "out/r.txt" missing' "$tmp/nooutput.out"; echo $?) "a missing output file fails the job"

# processes: a bounded number, and a fork bomb dies with its sandbox
if [ "$(id -u)" -eq 0 ]; then
	# the kernel lets root past RLIMIT_NPROC: the agent warns, the unit runs it unprivileged
	n=$((n + 1)); echo "ok $n - RLIMIT_NPROC holds # SKIP root is not bound by RLIMIT_NPROC"
else
	run nproc '{"command": ["sh", "-c", "for i in $(seq 64); do sleep 5 & done"]}' --max-processes 16
	ok $([ $rc -ne 0 ] && grep -qi 'fork' "$tmp/nproc.out"; echo $?) "RLIMIT_NPROC holds: $(head -1 "$tmp/nproc.out")"
fi
marker=lagbid-bomb-$$
run bomb "{\"command\": [\"sh\", \"-c\", \"f(){ f | f & }; f; sleep 100\", \"$marker\"], \"timeout_s\": 3}" --max-processes 64
ok $([ $rc -ne 0 ] && grep -q 'failed:' "$tmp/bomb.out" && [ "$(echo "$elapsed < 15" | bc)" -eq 1 ]; echo $?) "a fork bomb is contained and fails ($(head -1 "$tmp/bomb.out"), ${elapsed%.*} s)"
sleep 0.5
ok $(! pgrep -f "$marker" >/dev/null; echo $?) "nothing of the fork bomb outlives its sandbox"

run sleep '{"command": ["sh", "-c", "sleep 100 & sleep 100"], "timeout_s": 2}'
ok $([ $rc -ne 0 ] && grep -q 'failed: timeout: killed after 2 s' "$tmp/sleep.out" && [ "$(echo "$elapsed < 8" | bc)" -eq 1 ]; echo $?) \
	"a workload past its timeout is killed (${elapsed%.*} s)"
ok $(! pgrep -f "sleep 100 & sleep 100" >/dev/null; echo $?) "nothing of a timed-out workload is left running"

run memory '{"command": ["python3", "-c", "b = bytearray(3 * 1024 * 1024 * 1024); print(len(b))"]}' --memory-gb 1
ok $([ $rc -ne 0 ] && grep -q 'failed:' "$tmp/memory.out"; echo $?) "RLIMIT_AS holds: 3 GB in a 1 GB sandbox fails ($(head -1 "$tmp/memory.out"))"

mkdir -p "$tmp/cfgdir" "$tmp/cfgfiles"
printf '[market]\nconninfo = dbname=none\nregion = test\n[jobs]\nmax_files = 1000\n' > "$tmp/cfgfiles/lagbid-agent.conf"
printf '[market]\nconninfo = dbname=none\nregion = test\n[jobs]\nmax_output_bytes = 1048576\n' > "$tmp/cfgdir/lagbid-agent.conf"
run bigout '{"command": ["sh", "-c", "head -c 3000000 /dev/zero"]}' --dir "$tmp/cfgdir"
ok $([ $rc -ne 0 ] && grep -q 'file size limit' "$tmp/bigout.out"; echo $?) "RLIMIT_FSIZE caps the output: $(head -1 "$tmp/bigout.out")"

mkdir -p "$tmp/agentdir"
printf 'secret-key\n' > "$tmp/agentdir/node.key"
keysha=$(sha256sum "$tmp/agentdir/node.key" | cut -d' ' -f1)
run keyleak "{\"command\": [\"cat\", \"k\"], \"inputs\": [{\"path\": \"k\", \"uri\": \"file://$tmp/agentdir/node.key\", \"sha256\": \"$keysha\"}]}" --dir "$tmp/agentdir"
ok $([ $rc -ne 0 ] && grep -q "inside the agent's directory are refused" "$tmp/keyleak.out" && ! grep -q secret-key "$tmp/keyleak.out"; echo $?) \
	"a file URI into the agent's own directory (its key) is refused"

run env '{"command": ["sh", "-c", "echo \"$GREETING\" \"${PGPASSWORD:-none}\" \"$HOME\""], "env": {"GREETING": "hi"}}'
ok $([ $rc -eq 0 ] && grep -qx 'hi none /work' "$tmp/env.out"; echo $?) "the workload's env is set and the agent's is not inherited"

run malformed '{"command": ["a"], "inputs": [{"path": "../../etc/passwd", "content_base64": ""}]}'
ok $([ $rc -ne 0 ] && grep -q 'invalid workload' "$tmp/malformed.out"; echo $?) "a hostile input path is refused before anything runs"

# ---- a workload's environment never reaches the host (issue 19, defect 1) ----
# A real shared object whose constructor, wherever it runs, copies the
# node key to a file on the host, appends to the key, and leaves a note in
# /work saying it ran.  Each loader variable that loads code is given it
# (LD_PRELOAD, LD_AUDIT, LD_LIBRARY_PATH with bwrap's own libraries,
# GCONV_PATH with a gconv module), and every other name of the list: the
# variable is refused and nothing ran, inside or out.
keydir="$tmp/keydir"
mkdir -p "$keydir"
hostmark="$tmp/host-marker"
cat > "$tmp/evil.c" <<EOF
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
static void __attribute__((constructor)) grab(void)
{
	char key[256];
	int n = -1, fd = open("$keydir/node.key", O_RDONLY);
	if (fd >= 0) { n = (int) read(fd, key, sizeof(key)); close(fd); }
	fd = open("$hostmark", O_WRONLY | O_CREAT | O_APPEND, 0644);
	if (fd >= 0) { dprintf(fd, "ran outside as pid %d, key %d bytes\n", (int) getpid(), n); if (n > 0) write(fd, key, n); close(fd); }
	fd = open("$keydir/node.key", O_WRONLY | O_APPEND);
	if (fd >= 0) { write(fd, "x", 1); close(fd); }
	fd = open("/work/ran-inside", O_WRONLY | O_CREAT | O_APPEND, 0644);
	if (fd >= 0) { dprintf(fd, "pid %d key %d\n", (int) getpid(), n); close(fd); }
}
/* an audit library (LD_AUDIT) and a gconv module (GCONV_PATH) too */
unsigned int la_version(unsigned int v) { return v; }
int gconv_init(void *step) { (void) step; return 0; }
int gconv(void *a, void *b, const unsigned char **c, const unsigned char *d, unsigned char **e, size_t *f, int g, int h)
{ (void) a; (void) b; (void) c; (void) d; (void) e; (void) f; (void) g; (void) h; return 0; }
EOF
if ! cc -shared -fPIC -o "$tmp/evil.so" "$tmp/evil.c" 2>"$tmp/evil.err"; then
	echo "Bail out! cannot build the test's shared object: $(cat "$tmp/evil.err")"
	exit 1
fi
so64=$(base64 -w0 "$tmp/evil.so")
modules=$(printf 'module EVIL// INTERNAL evil 1\nmodule INTERNAL EVIL// evil 1\n' | base64 -w0)
# the control: loaded on the host, the object does what it says
printf 'secret-node-key\n' > "$keydir/node.key"
LD_PRELOAD="$tmp/evil.so" /bin/true
ok $([ -s "$hostmark" ] && grep -q secret-node-key "$hostmark"; echo $?) "control: evil.so loaded on the host copies the node key"
rm -f "$hostmark"
printf 'secret-node-key\n' > "$keydir/node.key"
chmod 600 "$keydir/node.key"
keysum=$(sha256sum "$keydir/node.key")

inputs="[{\"path\": \"evil.so\", \"content_base64\": \"$so64\"}, {\"path\": \"lib/libselinux.so.1\", \"content_base64\": \"$so64\"}, {\"path\": \"lib/libcap.so.2\", \"content_base64\": \"$so64\"}, {\"path\": \"gconv/evil.so\", \"content_base64\": \"$so64\"}, {\"path\": \"gconv/gconv-modules\", \"content_base64\": \"$modules\"}]"
for var in LD_PRELOAD=/work/evil.so LD_AUDIT=/work/evil.so LD_LIBRARY_PATH=/work/lib GCONV_PATH=/work/gconv \
	ld_preload=/work/evil.so MALLOC_CHECK_=3 GLIBC_TUNABLES=glibc.malloc.check=3 LOCPATH=/work HOSTALIASES=/work/h \
	NLSPATH=/work/%N TZDIR=/work RES_OPTIONS=debug LOCALDOMAIN=x GETCONF_DIR=/work NIS_PATH=/work \
	RESOLV_HOST_CONF=/work/h TMPDIR=/work GMON_OUT_PREFIX=/work/g LD_DEBUG_OUTPUT=/work/d; do
	name=${var%%=*}
	value=${var#*=}
	run "env-$name" "{\"command\": [\"sh\", \"-c\", \"iconv -f EVIL -t UTF-8 </dev/null; echo ran\"], \"inputs\": $inputs, \"env\": {\"$name\": \"$value\"}}" --dir "$keydir"
	ok $([ $rc -ne 0 ] && grep -q "\"$name\"" "$tmp/env-$name.out" && grep -q refused "$tmp/env-$name.out" && ! grep -q '^ran' "$tmp/env-$name.out" \
		&& [ ! -e "$hostmark" ] && [ "$(sha256sum "$keydir/node.key")" = "$keysum" ]; echo $?) \
		"env $name is refused before anything starts; nothing ran, the key is untouched: $(head -1 "$tmp/env-$name.out")"
done

# the same object loaded by the workload itself, inside: it runs there and
# can neither read the key nor write the host
run inside "{\"command\": [\"sh\", \"-c\", \"LD_PRELOAD=/work/evil.so /bin/true; GCONV_PATH=/work/gconv iconv -f EVIL -t UTF-8 </dev/null; cat /work/ran-inside\"], \"inputs\": $inputs}" --dir "$keydir"
ok $([ $rc -eq 0 ] && grep -q '^pid [0-9]* key -1$' "$tmp/inside.out" && ! grep -q '^pid [0-9]* key [0-9]' "$tmp/inside.out" \
	&& [ ! -e "$hostmark" ] && [ "$(sha256sum "$keydir/node.key")" = "$keysum" ]; echo $?) \
	"evil.so loaded inside the sandbox runs there, cannot read the key nor write the host ($(grep -c '^pid' "$tmp/inside.out") constructor runs)"

# bubblewrap itself starts with an empty environment and an argv without
# host paths; the workload's variables reach the workload; /proc/1 inside
# is the sandbox's own init, whose command line names no host path
cat > "$tmp/probe.json" <<'EOF'
{"command": ["sh", "-c", "sleep 2; echo \"probe=$LAGBID_PROBE\"; tr '\\0' ' ' < /proc/1/cmdline; echo; cat /proc/1/environ 2>&1 | tr '\\0' ' '; echo"], "env": {"LAGBID_PROBE": "marker-19"}}
EOF
"$agent" try --workload "$tmp/probe.json" > "$tmp/probe.out" 2>&1 &
trypid=$!
bw=
for _ in $(seq 50); do
	watcher=$(pgrep -P $trypid | head -1)
	[ -n "$watcher" ] && bw=$(pgrep -P "$watcher" -x bwrap | head -1)
	[ -n "$bw" ] && break
	sleep 0.1
done
bwenv=$(tr '\0' '\n' < /proc/$bw/environ 2>/dev/null | grep -c .)
bwcmd=$(tr '\0' ' ' < /proc/$bw/cmdline 2>/dev/null)
wait $trypid
ok $([ -n "$bw" ] && [ "$bwenv" -eq 0 ]; echo $?) "bubblewrap (pid ${bw:-?}) runs on the host with an empty environment ($bwenv variables)"
ok $([ -n "$bwcmd" ] && ! echo "$bwcmd" | grep -q -e /tmp -e marker-19 -e "$tmp"; echo $?) "bubblewrap's command line holds no host path nor variable: $bwcmd"
ok $(grep -qx 'probe=marker-19' "$tmp/probe.out"; echo $?) "the workload's variable reaches the workload"
ok $(sed -n 3p "$tmp/probe.out" | grep -q '^/.lagbid-shim __shim ' && ! grep -q -e /tmp/lagbid-try -e "$tmp" -e bwrap "$tmp/probe.out"; echo $?) \
	"/proc/1 inside is the shim; its command line and environment show no host path: $(sed -n 3p "$tmp/probe.out" | cut -c1-50)"

# ---- a 10,000-deep directory chain is deleted (defect 4) ----
deepmark=deep-$$-$RANDOM
run deep "{\"command\": [\"python3\", \"-c\", \"import os\\nopen('$deepmark', 'w').close()\\nfor i in range(10000):\\n    os.mkdir('a'); os.chdir('a')\\nprint('deep')\"], \"timeout_s\": 900}"
ok $([ $rc -eq 0 ] && grep -qx deep "$tmp/deep.out"; echo $?) "a workload makes a 10,000-deep directory chain (${elapsed%.*} s with its deletion)"
ok $([ -z "$(find /tmp -maxdepth 4 -name "$deepmark" 2>/dev/null)" ]; echo $?) "the chain is deleted: nothing of it is left on disk"

# deletion follows no link out and opens up what the workload locked
mkdir -p "$tmp/victim"
touch "$tmp/victim/keep"
lockmark=locked-$$-$RANDOM
run locked "{\"command\": [\"sh\", \"-c\", \"mkdir -p $lockmark/in/deeper && touch $lockmark/in/f && ln -s $tmp/victim $lockmark/victim-link && ln -s / $lockmark/root-link && chmod 000 $lockmark/in && chmod 500 $lockmark\"]}"
ok $([ $rc -ne 0 ] && grep -q 'failed: disk limit cannot be checked: the workload made a directory unreadable' "$tmp/locked.out"; echo $?) \
	"a directory made unreadable cannot be measured and fails the job: $(head -1 "$tmp/locked.out")"
ok $([ -e "$tmp/victim/keep" ] && [ -z "$(find /tmp -maxdepth 4 -name "$lockmark" 2>/dev/null)" ]; echo $?) \
	"the locked tree is deleted, its symbolic links are not followed (the host directory they name is intact)"

# ---- disk and memory limits (defect 5) ----
run honest-bg '{"command": ["sh", "-c", "sleep 4; echo honest-done"]}' &
honest=$!
run disk '{"command": ["sh", "-c", "for i in $(seq 40); do head -c 19000000 /dev/zero > f$i; done; sleep 100"], "timeout_s": 120}' --storage-gb 0.5
ok $([ $rc -ne 0 ] && grep -q 'failed: disk limit exceeded: 0\.[5-9][0-9] GB > storage_gb 0.5' "$tmp/disk.out" && [ "$(echo "$elapsed < 90" | bc)" -eq 1 ]; echo $?) \
	"40 files of 19 MB in a storage_gb 0.5 job are stopped at the limit (${elapsed%.*} s): $(head -1 "$tmp/disk.out")"
wait $honest
ok $(grep -qx honest-done "$tmp/honest-bg.out"; echo $?) "a concurrent honest job is unaffected"

run tmpfill '{"command": ["sh", "-c", "for i in 1 2 3 4; do head -c 200000000 /dev/zero > /tmp/fill$i; done; sleep 100"], "timeout_s": 120}' --storage-gb 0.5
ok $([ $rc -ne 0 ] && grep -q 'failed: disk limit exceeded: .* tmpfs 0\.5' "$tmp/tmpfill.out" && [ "$(echo "$elapsed < 90" | bc)" -eq 1 ]; echo $?) \
	"filling /tmp stops at its size and fails the job: $(head -1 "$tmp/tmpfill.out")"

run shmfill '{"command": ["sh", "-c", "for i in 1 2 3 4 5 6; do head -c 200000000 /dev/zero > /dev/shm/fill$i; done; sleep 100"], "timeout_s": 120}' --memory-gb 1 --storage-gb 8
ok $([ $rc -ne 0 ] && grep -q 'failed: memory limit exceeded: 1\.[0-9]* GB > memory_gb 1 (processes .* tmpfs 1\.00 GB)' "$tmp/shmfill.out"; echo $?) \
	"/dev/shm is a tmpfs of at most memory_gb, counted as memory: $(head -1 "$tmp/shmfill.out")"

run devfill '{"command": ["sh", "-c", "echo x > /dev/fill && echo wrote"]}'
ok $(! grep -q wrote "$tmp/devfill.out"; echo $?) "/dev itself is read-only: $(head -1 "$tmp/devfill.out")"

run manyproc '{"command": ["sh", "-c", "for i in 1 2 3; do python3 -c \"import time; b = b\\\"x\\\" * (450 * 2**20); time.sleep(100)\" & done; wait"], "timeout_s": 120}' --memory-gb 1
ok $([ $rc -ne 0 ] && grep -q 'failed: memory limit exceeded: .* > memory_gb 1 (processes' "$tmp/manyproc.out"; echo $?) \
	"three processes of 450 MB, each under RLIMIT_AS, exceed memory_gb 1 together: $(head -1 "$tmp/manyproc.out")"

run manyfiles '{"command": ["python3", "-c", "import time\nfor i in range(5000):\n    open(\"f%d\" % i, \"w\").close()\ntime.sleep(100)"], "timeout_s": 120}' --dir "$tmp/cfgfiles"
ok $([ $rc -ne 0 ] && grep -q 'failed: file limit exceeded: more than 1000 files' "$tmp/manyfiles.out"; echo $?) \
	"jobs.max_files bounds the entries of the work directory: $(head -1 "$tmp/manyfiles.out")"

echo "1..$n"
[ $fails -eq 0 ]
