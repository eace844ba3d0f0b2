#!/usr/bin/env bash
# docs.sh: regenerate the state diagrams of the documentation from the code.
#
# The transition table lives once, in C (src/states.c); lagbid.state_diagram()
# prints it as a Graphviz digraph.  This script builds and installs lagbid,
# starts a throwaway cluster (port 55433, under /tmp), writes
# docs/states/{task,bid,job,lease}.dot from it and renders each to SVG with
# Graphviz's dot (installed with apt-get when missing and we are root).
# Run it after changing a transition; commit the .dot and .svg files.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
. "$here/scripts/lib.sh"

if ! command -v dot >/dev/null 2>&1; then
	if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null 2>&1; then
		DEBIAN_FRONTEND=noninteractive apt-get install -y -q graphviz >/dev/null
	else
		echo "docs.sh: Graphviz's dot is missing (Debian: apt-get install graphviz)" >&2
		exit 1
	fi
fi

stage=${LAGBID_DOCS_DIR:-/tmp/lagbid-docs.$(id -u)}
port=${LAGBID_DOCS_PORT:-55433}
machines="task bid job lease"

# the diagrams come from the library we build here: keep the shared
# installation ours (the install lock) until they are written
exec 9>${LAGBID_LOCK:-/tmp/lagbid-install.lock}
flock 9
build_and_install "$here"
stage_tree "$here" "$stage"
mkdir -p "$stage/out"
[ "$(id -u)" -ne 0 ] || chown postgres: "$stage/out"

as_runner bash -c "
	set -euo pipefail
	cd '$stage'
	rm -rf .cluster .cluster.initdb.log
	bash scripts/cluster.sh start '$stage/.cluster' $port lagbid_docs
	trap 'bash scripts/cluster.sh stop \"$stage/.cluster\"' EXIT
	psql -X -q -h '$stage/.cluster' -p $port -U postgres -d lagbid_docs -v ON_ERROR_STOP=1 \
		-c 'CREATE EXTENSION lagbid'
	for m in $machines; do
		psql -X -q -At -h '$stage/.cluster' -p $port -U postgres -d lagbid_docs -v ON_ERROR_STOP=1 \
			-c \"SELECT lagbid.state_diagram('\$m')\" >out/\$m.dot
		[ -s out/\$m.dot ] || { echo \"docs.sh: empty diagram for \$m\" >&2; exit 1; }
	done
"
flock -u 9

# The .dot files are what the code prints.  The pictures are drawn top to
# bottom with edge labels wrapped at about 28 characters, so that they fit
# the width of a page.
picture() {
	sed 's/rankdir=LR/rankdir=TB/' "$1" | perl -pe '
		s{label="([^"]*)"}{
			my ($line, @lines) = ("");
			for my $w (split / /, $1) {
				if (length($line) && length($line) + 1 + length($w) > 28) { push @lines, $line; $line = $w }
				else { $line = length($line) ? "$line $w" : $w }
			}
			q{label="} . join(q{\n}, @lines, $line) . q{"}
		}ge'
}

mkdir -p "$here/docs/states"
for m in $machines; do
	cp "$stage/out/$m.dot" "$here/docs/states/$m.dot"
	picture "$here/docs/states/$m.dot" |
		dot -Tsvg -Nfontname=Helvetica -Efontname=Helvetica -Efontsize=10 -o "$here/docs/states/$m.svg"
	echo "docs/states/$m.dot, docs/states/$m.svg"
done
