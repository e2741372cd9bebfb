#!/usr/bin/env bash
# Installs axe-core (the accessibility rules the browser tests run inside
# each page) from the npm registry into a cache outside the clone, unless it
# is already there. Prints the path of axe.min.js. Idempotent.
set -euo pipefail

VERSION=4.14.1
DIR="${REFARCH_AXE_DIR:-$HOME/.cache/refarch/axe-core-$VERSION}"
JS="$DIR/node_modules/axe-core/axe.min.js"
if [ -f "$JS" ]; then
	echo "axe-core: $JS"
	exit 0
fi
if ! command -v npm >/dev/null; then
	echo "axe-core: npm is missing; install Node.js (apt-get install nodejs npm)" >&2
	exit 1
fi
mkdir -p "$DIR"
echo "axe-core: installing $VERSION into $DIR"
npm install --prefix "$DIR" --no-audit --no-fund --silent "axe-core@$VERSION" >/dev/null
test -f "$JS"
echo "axe-core: $JS"
