#!/usr/bin/env bash
# Runs the local stack the way AWS does: serve, pelican and emu as three processes, each logged in
# to Postgres as its own role (refarch_serve, refarch_pelican, refarch_emu, created with only their
# grants by the migrations), so a grant that is missing shows up here before it does in AWS. The
# schema owner (DATABASE_URL's user) only migrates and seeds. Stops all three on Ctrl-C.
#   scripts/run-roles.sh BIN ADDR
set -euo pipefail
bin=$1 addr=$2
: "${DATABASE_URL:?run through make run-roles, which loads .dev/env}"

as_user() { # as_user URL USER: URL with its user replaced
  python3 -c 'import sys, urllib.parse as u; p = u.urlsplit(sys.argv[1]); h = p.netloc.rsplit("@", 1)[-1]; print(u.urlunsplit(p._replace(netloc=sys.argv[2] + "@" + h)))' "$1" "$2"
}
port=${addr##*:} host=${addr%:*}

"$bin" migrate
"$bin" seed --if-empty
pids=()
trap 'kill "${pids[@]}" 2>/dev/null; wait' EXIT INT TERM
DATABASE_URL=$(as_user "$DATABASE_URL" refarch_emu) "$bin" emu --addr "$host:$((port + 2))" & pids+=($!)
DATABASE_URL=$(as_user "$DATABASE_URL" refarch_pelican) "$bin" pelican --addr "$host:$((port + 1))" & pids+=($!)
echo "refarch: open http://$addr (pelican health on :$((port + 1)), emu on :$((port + 2)))"
DATABASE_URL=$(as_user "$DATABASE_URL" refarch_serve) "$bin" serve --addr "$addr" & pids+=($!)
wait -n "${pids[@]}"
