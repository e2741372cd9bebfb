#!/usr/bin/env bash
# Installs Debian's chromium for the browser tests, unless it is already
# there. Idempotent: a second run does nothing and exits 0.
set -euo pipefail

if [ -x /usr/bin/chromium ]; then
	echo "chromium: $(/usr/bin/chromium --version 2>/dev/null || echo present)"
	exit 0
fi
if [ "$(id -u)" != 0 ]; then
	echo "chromium: not installed and not root; run: sudo apt-get install chromium" >&2
	exit 1
fi
echo "chromium: installing Debian's package (about a minute)"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends chromium fonts-dejavu-core >/dev/null
echo "chromium: $(/usr/bin/chromium --version 2>/dev/null)"
