#!/usr/bin/env bash
# Installs the JavaScript reference outside the git tree (in
# REFARCH_EMBEDREF_DIR, default ~/.cache/refarch/embedref) and runs
# embedref.js with the given arguments.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
dir="${REFARCH_EMBEDREF_DIR:-$HOME/.cache/refarch/embedref}"
mkdir -p "$dir"
if ! cmp -s "$here/package.json" "$dir/package.json" || [[ ! -d "$dir/node_modules/@energetic-ai/embeddings" ]]; then
	echo "embedref: installing the JavaScript reference into $dir" >&2
	cp "$here/package.json" "$dir/package.json"
	(cd "$dir" && npm install --no-audit --no-fund --silent) >&2
fi
NODE_PATH="$dir/node_modules" exec node "$here/embedref.js" "$@"
