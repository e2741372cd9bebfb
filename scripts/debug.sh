#!/usr/bin/env bash
# Runs one role of refarch under Delve, headless, for an editor to attach to
# (VS Code: the "attach to make debug" configuration in .vscode/launch.json;
# GoLand: Go Remote on the same address). Run the rest of the stack beside it
# with `make run EXCEPT=ROLE` (refarch serve --all --except ROLE).
#   scripts/debug.sh ROLE     ROLE is emu, pelican or serve
# Environment: DEBUG_ADDR (Delve's listen address, default 127.0.0.1:2345),
# ROLE_ADDR (the role's own --addr: /healthz, /metrics, and for serve the UI;
# default 127.0.0.1:8081 so that it does not clash with the stack's 8080).
# Delve is built once with `go install` at a pinned version into
# $(go env GOPATH)/bin/dlv-VERSION (about a minute on the first run).
set -euo pipefail

DLV_VERSION="v1.27.2"
role=${1:-}
case "$role" in
emu | pelican) args=("$role") ;;
serve) args=(serve --roles serve) ;;
*)
	echo "debug.sh: usage: make debug ROLE=emu|pelican|serve" >&2
	exit 2
	;;
esac

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
[[ -f .dev/env ]] || {
	echo "debug.sh: no .dev/env: run \`make db\` first" >&2
	exit 1
}
gobin="$(go env GOBIN)"
[[ -n "$gobin" ]] || gobin="$(go env GOPATH)/bin"
dlv="$gobin/dlv-$DLV_VERSION"
if [[ ! -x "$dlv" ]]; then
	echo "debug.sh: building Delve $DLV_VERSION with go install (first run only, about a minute)" >&2
	tmp=$(mktemp -d)
	(cd "$tmp" && GOFLAGS= GOBIN="$tmp" go install "github.com/go-delve/delve/cmd/dlv@$DLV_VERSION") >&2 ||
		{ echo "debug.sh: go install delve@$DLV_VERSION failed" >&2; exit 1; }
	mkdir -p "$gobin" && mv "$tmp/dlv" "$dlv" && rm -rf "$tmp"
fi

# Optimizations and inlining off, so that every variable and line can be inspected.
go build -gcflags='all=-N -l' -o bin/refarch-debug .
set -a
# shellcheck disable=SC1091
. ./.dev/env
if [[ -f .dev/moto.env ]]; then . ./.dev/moto.env; fi
set +a
debug_addr=${DEBUG_ADDR:-127.0.0.1:2345}
echo "debug.sh: $role under Delve; attach a debugger to $debug_addr (the role answers on ${ROLE_ADDR:-127.0.0.1:8081})" >&2
exec "$dlv" exec bin/refarch-debug --headless --listen="$debug_addr" --api-version=2 --accept-multiclient --continue \
	-- "${args[@]}" --addr "${ROLE_ADDR:-127.0.0.1:8081}"
