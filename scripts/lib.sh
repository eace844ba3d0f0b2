# Shared helpers for the scripts: pg_config, the non-root runner, staging.
# shellcheck shell=bash

PG_CONFIG=${PG_CONFIG:-pg_config}
PG_BINDIR=$("$PG_CONFIG" --bindir)
export PATH="$PG_BINDIR:$PATH"

# PostgreSQL refuses to run as root.  When we are root, the server-side work
# runs as the unprivileged "postgres" user on a staged copy of the tree that
# it owns (the checkout may live where that user cannot write, or even read).
as_runner() {
	if [ "$(id -u)" -eq 0 ]; then
		runuser -u postgres -- env PATH="$PATH" PG_CONFIG="$PG_CONFIG" \
			${LAGBID_STAGE:+LAGBID_STAGE="$LAGBID_STAGE"} \
			${LAGBID_FLOOD_DRAIN:+LAGBID_FLOOD_DRAIN="$LAGBID_FLOOD_DRAIN"} "$@"
	else
		"$@"
	fi
}

# stage_tree DIR: copy the working tree (without build products) into DIR,
# owned by the runner.  Prints nothing.
stage_tree() {
	local src=$1 dst=$2
	rm -rf "$dst"
	mkdir -p "$dst"
	(cd "$src" && tar --exclude=./.git --exclude=./tmp_check --exclude=./tmp_check_iso \
		--exclude=./.cluster --exclude=./results --exclude=./output_iso \
		--exclude='*.o' --exclude='*.so' --exclude='*.bc' -cf - .) | (cd "$dst" && tar -xf -)
	if [ "$(id -u)" -eq 0 ]; then
		chown -R postgres: "$dst"
	fi
}

build_and_install() {
	local src=$1
	make -C "$src" -s PG_CONFIG="$PG_CONFIG" >/dev/null
	if [ -w "$("$PG_CONFIG" --pkglibdir)" ]; then
		make -C "$src" -s PG_CONFIG="$PG_CONFIG" install >/dev/null
	else
		sudo make -C "$src" -s PG_CONFIG="$PG_CONFIG" install >/dev/null
	fi
}

# Several checkouts may test at once on one machine, each with its own
# LAGBID_STAGE (and PG_CONFIG, LAGBID_LOCK): lagbid_slot prints a number
# 1..40 for such a checkout (0 without LAGBID_STAGE) that the suites with
# fixed scratch directories and ports (ubsan, contrib, bench) add to them.
lagbid_slot() {
	if [ -n "${LAGBID_STAGE:-}" ]; then
		echo $(($(printf %s "$LAGBID_STAGE" | cksum | cut -d' ' -f1) % 40 + 1))
	else
		echo 0
	fi
}
