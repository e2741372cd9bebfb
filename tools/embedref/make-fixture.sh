#!/usr/bin/env bash
# Regenerates embedding/use/testdata/fixture.json from fixture_texts.json
# with the JavaScript reference.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
td="$root/embedding/use/testdata"
"$root/tools/embedref/run.sh" fixture "$td/fixture_texts.json" >"$td/fixture.json.tmp"
mv "$td/fixture.json.tmp" "$td/fixture.json"
echo "wrote $td/fixture.json" >&2
