#!/usr/bin/env bash
# make install puts lagbid-agent where a user finds it: the binary in
# PostgreSQL's bindir (beside pg_config, not on Debian's PATH) and a
# symbolic link in /usr/local/bin (linkdir), which is.  Installed into a
# scratch DESTDIR, so it runs as any user.  Prints TAP.  Run from agent/.
set -uo pipefail
tmp=$(mktemp -d /tmp/lagbid-install.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
bindir=$(${PG_CONFIG:-pg_config} --bindir)
n=0
fails=0
ok() {
	n=$((n + 1))
	if [ "$1" -eq 0 ]; then echo "ok $n - $2"; else echo "not ok $n - $2"; fails=$((fails + 1)); fi
}
make -s install DESTDIR="$tmp" > "$tmp/out" 2>&1
ok $? "make install DESTDIR=... succeeds"
ok $([ -x "$tmp$bindir/lagbid-agent" ]; echo $?) "the agent is installed in pg_config's bindir ($bindir)"
ok $([ -L "$tmp/usr/local/bin/lagbid-agent" ] && [ "$(readlink "$tmp/usr/local/bin/lagbid-agent")" = "$bindir/lagbid-agent" ]; echo $?) \
	"/usr/local/bin/lagbid-agent links to it"
ok $(grep -q "lagbid-agent installed in $bindir, linked from /usr/local/bin/lagbid-agent" "$tmp/out"; echo $?) "make install says where"
ok $(grep -qE '^[[:space:]]*PATH=.*/usr/local/bin' /etc/profile; echo $?) "/usr/local/bin is on Debian's default PATH (/etc/profile)"
rm -rf "$tmp/usr"
make -s install DESTDIR="$tmp" linkdir= > /dev/null 2>&1
ok $([ -x "$tmp$bindir/lagbid-agent" ] && [ ! -e "$tmp/usr/local/bin/lagbid-agent" ]; echo $?) "linkdir= installs no link"
echo "1..$n"
[ $fails -eq 0 ]
