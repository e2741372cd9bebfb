#!/usr/bin/env bash
# Runs moto's server, a local stand-in for SQS that speaks the current AWS
# JSON protocol, so the sqsqueue conformance suite runs against a real client.
# Installs moto 5.1.1 from Debian 13 into ~/.cache/refarch (dpkg -x, not into
# the system, since Debian 12 lacks it; outside the clone, so CI's fresh
# clones reuse it) and its dependencies from the machine's own release,
# starts it on a free port on 127.0.0.1 and writes .dev/moto.env with
# TEST_SQS_ENDPOINT. A second server enforces IAM (INITIAL_NO_AUTH_ACTION_COUNT=0:
# every request must be signed by a user whose policies allow it), for the test
# that runs each role as a user holding exactly its Terraform policy; its address
# is TEST_MOTO_IAM_ENDPOINT. Both run through scripts/moto_server.py, which
# makes moto's SQS backend safe under concurrent calls (see its comment).
# Safe and fast to re-run.
#   scripts/moto.sh        start (installing if needed)
#   scripts/moto.sh stop   stop the server
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
dev="$top/.dev"
want=5.1.1
dir="${XDG_CACHE_HOME:-$HOME/.cache}/refarch/moto-$want"
envfile="$dev/moto.env"
# The system interpreter: a pyenv python first on PATH has none of the
# Debian packages moto needs.
py=/usr/bin/python3
deps=(python3-boto3 python3-botocore python3-flask python3-werkzeug python3-responses
      python3-xmltodict python3-flask-cors python3-jinja2 python3-requests python3-dateutil
      python3-cryptography python3-yaml)

say() { printf 'moto: %s\n' "$*" >&2; }
die() { printf 'moto: error: %s\n' "$*" >&2; exit 1; }

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else return 1; fi; }

pypath() { echo "$dir/usr/lib/python3/dist-packages"; }

importable() {
  [ -x "$py" ] && PYTHONPATH=$(pypath) "$py" -c 'import moto.server, moto.sqs.responses, flask, werkzeug, boto3, responses, xmltodict' 2>/dev/null
}

ensure_deps() {
  local missing=() p
  for p in "${deps[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
  done
  [ -x "$py" ] || missing+=(python3)
  [ ${#missing[@]} -eq 0 ] && return
  say "installing ${missing[*]}"
  command -v apt-get >/dev/null || die "apt-get not found; install ${missing[*]} and re-run"
  as_root apt-get update -qq >&2 || die "apt-get update failed"
  DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2 ||
    die "cannot install ${missing[*]}"
}

# moto itself comes from Debian 13 through a private sources list and state
# folder, so nothing from that release is installed into the system.
ensure_moto() {
  if importable; then return; fi
  ensure_deps
  say "fetching python3-moto $want from Debian 13 into $dir"
  local mirror r o
  mirror=$(awk '/^URIs:/{print $2; exit}' /etc/apt/sources.list.d/debian.sources 2>/dev/null || true)
  [ -n "$mirror" ] || mirror=$(awk '/^deb /{print $2; exit}' /etc/apt/sources.list 2>/dev/null || true)
  [ -n "$mirror" ] || die "cannot find the Debian mirror this machine uses"
  r=$(mktemp -d); mkdir -p "$r/lists/partial" "$r/archives/partial" "$r/debs"
  printf 'deb %s trixie main\n' "$mirror" >"$r/sources.list"
  o=(-o "Dir::Etc::SourceList=$r/sources.list" -o Dir::Etc::SourceParts=/dev/null -o APT::Sandbox::User=root
     -o "Dir::State::Lists=$r/lists" -o "Dir::Cache::Archives=$r/archives")
  apt-get "${o[@]}" update -qq >&2 || die "cannot read the Debian 13 package index"
  (cd "$r/debs" && apt-get "${o[@]}" download -qq python3-moto python3-antlr4 >&2) ||
    die "cannot download python3-moto"
  local deb; deb=$(ls "$r"/debs/python3-moto_*.deb)
  case "$(basename "$deb")" in
    python3-moto_"$want"-*) ;;
    *) say "warning: got $(basename "$deb"), the suite was verified with $want" ;;
  esac
  rm -rf "$dir"; mkdir -p "$dir"
  for deb in "$r"/debs/*.deb; do dpkg -x "$deb" "$dir"; done
  rm -rf "$r"
  importable || die "moto does not import after unpacking (try: PYTHONPATH=$(pypath) $py -c 'import moto.server')"
}

port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# answers PORT [SECONDS]: moto answers on PORT within SECONDS (default 2).
answers() {
  "$py" - "$1" "${2:-2}" <<'PY' 2>/dev/null
import sys, urllib.request
urllib.request.urlopen("http://127.0.0.1:%s/moto-api/data.json" % sys.argv[1], timeout=float(sys.argv[2])).read()
PY
}

# running NAME: the server NAME (moto, moto-iam) answers on its recorded port.
# A busy server (a test hammering it) may take seconds: starting a second one
# beside it would only split the tests between two servers.
running() {
  local pid port
  pid=$(cat "$dev/$1.pid" 2>/dev/null || true)
  port=$(cat "$dev/$1.port" 2>/dev/null || true)
  [ -n "$pid" ] && [ -n "$port" ] && kill -0 "$pid" 2>/dev/null && answers "$port" 30
}

write_env() {
  {
    echo "export TEST_SQS_ENDPOINT=http://127.0.0.1:$(cat "$dev/moto.port")"
    echo "export TEST_MOTO_IAM_ENDPOINT=http://127.0.0.1:$(cat "$dev/moto-iam.port")"
  } >"$envfile"
}

# start_one NAME [VAR=VALUE...]: starts the server NAME with extra environment.
start_one() {
  local name=$1 port=54566 pid i try
  shift
  running "$name" && return
  # A port nobody listens on can still be the local end of an outgoing
  # connection (these ports lie in Linux's ephemeral range), and then the
  # server cannot bind it: such a start is retried on the next free port.
  for try in 1 2 3 4 5; do
    while ! port_free "$port"; do port=$((port + 1)); done
    # setsid: the server outlives this script and the shell that ran it.
    env "$@" PYTHONPATH="$(pypath)" setsid "$py" "$top/scripts/moto_server.py" -H 127.0.0.1 -p "$port" >"$dev/$name.log" 2>&1 </dev/null &
    pid=$!
    echo "$pid" >"$dev/$name.pid"; echo "$port" >"$dev/$name.port"
    for i in $(seq 1 100); do
      answers "$port" && break
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.2
    done
    kill -0 "$pid" 2>/dev/null && break
    grep -q 'Address already in use' "$dev/$name.log" || die "$name exited at start; see $dev/$name.log"
    say "$name could not bind 127.0.0.1:$port (the local end of an outgoing connection); trying the next port"
    port=$((port + 1))
  done
  kill -0 "$pid" 2>/dev/null || die "$name exited at start; see $dev/$name.log"
  answers "$port" || die "$name did not answer on 127.0.0.1:$port within 20 s; see $dev/$name.log"
  say "$name $(PYTHONPATH=$(pypath) "$py" -c 'import moto; print(moto.__version__)') on 127.0.0.1:$port"
}

start() {
  mkdir -p "$dev"
  if running moto && running moto-iam; then write_env; say "running (settings in .dev/moto.env)"; return; fi
  ensure_moto
  start_one moto
  start_one moto-iam INITIAL_NO_AUTH_ACTION_COUNT=0
  write_env
  say "settings in .dev/moto.env"
}

stop() {
  local name pid
  for name in moto moto-iam; do
    pid=$(cat "$dev/$name.pid" 2>/dev/null || true)
    if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
      kill "$pid"
      for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
      say "$name stopped"
    else
      say "$name not running"
    fi
    rm -f "$dev/$name.pid"
  done
  rm -f "$envfile"
}

case "${1:-start}" in
  start) start ;;
  stop) stop ;;
  *) die "usage: $0 [start|stop]" ;;
esac
