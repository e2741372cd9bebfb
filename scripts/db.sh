#!/usr/bin/env bash
# Makes a local PostgreSQL with pgvector available and running on 127.0.0.1,
# installing what is missing, and writes .dev/env with DATABASE_URL (the
# `make run` database) and TEST_DATABASE_URL (where tests create their own
# throwaway databases). Safe and fast to re-run.
#   scripts/db.sh        start (installing if needed)
#   scripts/db.sh stop   stop the cluster
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
dev="$top/.dev"
data="$dev/pg"
sock="$dev/run"
log="$dev/postgres.log"

# As root the server runs as the postgres user, which may not be able to enter the clone (a
# `mktemp -d` folder, /root/...). Then the cluster, its socket and its log live in a folder of
# their own under /var/tmp, keyed by the checkout's path so that each clone keeps its own
# database; .dev/pgdir says where.
outside_clone() {
  [ "$(id -u)" = 0 ] || return 1
  if [ -f "$dev/pgdir" ]; then return 0; fi
  id postgres >/dev/null 2>&1 || return 1
  mkdir -p "$dev"
  ! (cd / && runuser -u postgres -- test -x "$dev")
}
use_outside_dir() {
  local base key
  base=/var/tmp/refarch-postgres
  key=$(printf '%s' "$top" | sha256sum | cut -c1-12)
  local dir="$base/$(basename "$top")-$key"
  mkdir -p "$dir" && chmod 755 "$base" "$dir"
  echo "$dir" >"$dev/pgdir"
  data="$dir/pg" sock="$dir/run" log="$dir/postgres.log"
}

say() { printf 'db: %s\n' "$*" >&2; }
die() { printf 'db: error: %s\n' "$*" >&2; exit 1; }

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else return 1; fi; }

pg_bindir() {
  local d
  for d in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -t/ -k5 -n -r); do
    [ -x "$d/initdb" ] && { echo "$d"; return; }
  done
  command -v pg_config >/dev/null && [ -x "$(pg_config --bindir)/initdb" ] && pg_config --bindir
}

apt_updated=
apt_install() {
  command -v apt-get >/dev/null || return 1
  if [ -z "$apt_updated" ]; then as_root apt-get update -qq >&2 || return 1; apt_updated=1; fi
  DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq --no-install-recommends "$@" >&2
}

ensure_postgres() {
  bin=$(pg_bindir || true)
  if [ -z "$bin" ]; then
    say "installing PostgreSQL"
    apt_install postgresql postgresql-contrib ||
      die "PostgreSQL is not installed and could not be installed; install postgresql (15 or newer) and re-run"
    bin=$(pg_bindir) || die "PostgreSQL installed but initdb not found"
  fi
  pgver=$("$bin/postgres" --version | sed -E 's/.* ([0-9]+)(\.[0-9]+)?.*/\1/')
}

# pgvector: the distribution's package if it has one, else built from
# Debian 13's source package against the installed server.
ensure_pgvector() {
  local share; share=$("$bin/pg_config" --sharedir 2>/dev/null || echo "/usr/share/postgresql/$pgver")
  [ -f "$share/extension/vector.control" ] && return
  say "installing pgvector for PostgreSQL $pgver"
  if apt_install "postgresql-$pgver-pgvector" 2>/dev/null; then return; fi
  say "no pgvector package for PostgreSQL $pgver; building it from the Debian source package"
  apt_install "postgresql-server-dev-$pgver" build-essential ca-certificates ||
    die "cannot install postgresql-server-dev-$pgver and build-essential; install them, or pgvector, and re-run"
  local mirror r
  mirror=$(awk '/^URIs:/{print $2; exit}' /etc/apt/sources.list.d/debian.sources 2>/dev/null || true)
  [ -n "$mirror" ] || mirror=$(awk '/^deb /{print $2; exit}' /etc/apt/sources.list 2>/dev/null || true)
  [ -n "$mirror" ] || die "cannot find a Debian mirror to fetch the pgvector source; install pgvector by hand"
  r=$(mktemp -d); mkdir -p "$r/lists/partial" "$r/archives/partial" "$r/src"
  printf 'deb-src %s trixie main\n' "$mirror" >"$r/sources.list"
  local o=(-o "Dir::Etc::SourceList=$r/sources.list" -o Dir::Etc::SourceParts=/dev/null
           -o "Dir::State::Lists=$r/lists" -o "Dir::Cache::Archives=$r/archives")
  apt-get "${o[@]}" update -qq >&2 || die "cannot read the Debian 13 source index for pgvector"
  (cd "$r/src" && apt-get "${o[@]}" source --download-only -qq pgvector >&2) ||
    die "cannot download the pgvector source package"
  local tarball; tarball=$(ls "$r"/src/pgvector_*.orig.tar.* | head -1)
  mkdir -p "$r/build" && tar -xf "$tarball" -C "$r/build" --strip-components=1
  (cd "$r/build" && make -s PG_CONFIG="$bin/pg_config" >&2 && as_root make -s PG_CONFIG="$bin/pg_config" install >&2) ||
    die "building pgvector failed (see above)"
  rm -rf "$r"
}

# The server refuses to run as root, so root runs it as the postgres user.
run_pg() {
  if [ "$(id -u)" = 0 ]; then (cd / && runuser -u "$pguser" -- "$@"); else "$@"; fi
}

port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

running() { [ -f "$data/postmaster.pid" ] && run_pg "$bin/pg_ctl" -D "$data" status >/dev/null 2>&1; }

start() {
  ensure_postgres
  ensure_pgvector
  pguser=$(id -un)
  if [ "$(id -u)" = 0 ]; then
    pguser=postgres
    id postgres >/dev/null 2>&1 || useradd --system --home-dir /var/lib/postgresql --shell /bin/bash postgres
  fi
  mkdir -p "$dev"
  if outside_clone; then
    use_outside_dir
    say "the postgres user cannot enter $top; the cluster lives in $(dirname "$data")"
  fi
  if [ ! -f "$data/PG_VERSION" ]; then
    say "creating a cluster in $data"
    rm -rf "$data"; mkdir -p "$data" "$sock"
    [ "$(id -u)" = 0 ] && chown "$pguser" "$data" "$sock"
    run_pg "$bin/initdb" -D "$data" -A trust -U postgres -E UTF8 --locale=C.UTF-8 >/dev/null
  fi
  mkdir -p "$sock"; [ "$(id -u)" = 0 ] && chown "$pguser" "$sock" && touch "$log" && chown "$pguser" "$log"
  local port buffers_mb
  buffers_mb=$(search_buffers_mb)
  port=$(cat "$dev/port" 2>/dev/null || true)
  if ! running; then
    reserve_huge_pages "$buffers_mb"
    if [ -z "$port" ] || ! port_free "$port"; then
      port=55432
      while ! port_free "$port"; do port=$((port + 1)); done
    fi
    # A port nobody listens on can still be the local end of an outgoing
    # connection (it lies in Linux's ephemeral range), and then the server
    # cannot bind it: such a start is retried on the next free port.
    local try
    for try in 1 2 3 4 5; do
      run_pg "$bin/pg_ctl" -D "$data" -l "$log" -w -t 60 start \
        -o "-c listen_addresses=127.0.0.1 -p $port -k $sock $(memory_opts "$buffers_mb")" >/dev/null && break
      tail -n 5 "$log" | grep -q 'Address already in use' && [ "$try" -lt 5 ] || die "PostgreSQL did not start; see $log"
      say "could not bind 127.0.0.1:$port (the local end of an outgoing connection); trying the next port"
      port=$((port + 1))
      while ! port_free "$port"; do port=$((port + 1)); done
    done
    echo "$port" >"$dev/port"
  fi
  local admin="postgres://postgres@127.0.0.1:$port/postgres?sslmode=disable"
  tune_builds "$admin"
  tune_search "$admin" "$buffers_mb"
  tune_vacuum "$admin"
  "$bin/psql" -qAt "$admin" -c "SELECT 1 FROM pg_database WHERE datname='refarch'" | grep -q 1 ||
    "$bin/psql" -q "$admin" -c "CREATE DATABASE refarch" >/dev/null
  "$bin/psql" -q "postgres://postgres@127.0.0.1:$port/refarch?sslmode=disable" -c "CREATE EXTENSION IF NOT EXISTS vector" >/dev/null
  cat >"$dev/env" <<ENV
export DATABASE_URL='postgres://postgres@127.0.0.1:$port/refarch?sslmode=disable'
export TEST_DATABASE_URL='postgres://postgres@127.0.0.1:$port/postgres?sslmode=disable'
ENV
  say "PostgreSQL $pgver with pgvector on 127.0.0.1:$port (settings in .dev/env)"
}

# Search index builds: maintenance_work_mem is the most a build may take
# (refarch sizes each build's session from the vector count, up to this),
# a quarter of the machine's memory between 256 MB and 16 GB; a build uses
# as many parallel workers as there are cores (at most 8). Autovacuum keeps
# its own, smaller budget. All three apply on reload, so a re-run of
# `make db` updates a running cluster.
tune_builds() {
  local mem_kb cores build_mb workers
  mem_kb=$(awk '/^MemTotal:/{print $2}' /proc/meminfo 2>/dev/null || echo 0)
  build_mb=$((mem_kb / 4 / 1024))
  [ "$build_mb" -lt 256 ] && build_mb=256
  [ "$build_mb" -gt 16384 ] && build_mb=16384
  cores=$(nproc 2>/dev/null || echo 2)
  workers=$((cores > 8 ? 8 : cores))
  "$bin/psql" -qAt "$1" \
    -c "ALTER SYSTEM SET maintenance_work_mem = '${build_mb}MB'" \
    -c "ALTER SYSTEM SET max_parallel_maintenance_workers = $workers" \
    -c "ALTER SYSTEM SET autovacuum_work_mem = '256MB'" \
    -c "SELECT pg_reload_conf()" >/dev/null ||
    die "cannot set the index build settings (maintenance_work_mem, max_parallel_maintenance_workers)"
}

# Vacuum: during a bootstrap the status change log and the queue tables gain
# and lose thousands of rows a second, and autovacuum visits each database
# only once a naptime (a minute by default): by then status_changes held
# 170,000 dead rows beside 2,000 live ones, and `refarch status` took 2 s at
# a million products, most of it scanning them. Every 5 s keeps them to
# seconds' worth. Applies on reload.
tune_vacuum() {
  "$bin/psql" -qAt "$1" -c "ALTER SYSTEM SET autovacuum_naptime = '5s'" -c "SELECT pg_reload_conf()" >/dev/null ||
    die "cannot set autovacuum_naptime"
}

# Search: an HNSW search reads thousands of index pages at random, so the
# index must stay in shared_buffers (a page copied in from the OS cache
# costs some 10-40 us; at a million 512-dimension vectors the index is
# 2.6 GB and a search at ef_search 600 touches about 9,000 pages). shared_buffers is a
# quarter of the machine's memory between 256 MB and 8 GB, given when the
# server starts (a running cluster keeps its own until `make db-stop &&
# make db`); effective_cache_size tells the planner the rest is cached.
search_buffers_mb() {
  local mem_kb mb
  mem_kb=$(awk '/^MemTotal:/{print $2}' /proc/meminfo 2>/dev/null || echo 0)
  mb=$((mem_kb / 4 / 1024))
  [ "$mb" -lt 256 ] && mb=256
  [ "$mb" -gt 8192 ] && mb=8192
  echo "$mb"
}

# memory_opts: the server options that size its shared memory (its argument, MB of
# shared_buffers), for the start and for reserve_huge_pages' count alike.
memory_opts() { echo "-c max_connections=200 -c shared_buffers=$1MB"; }

# Huge pages: on a virtual machine a search's random walk through gigabytes
# of shared_buffers in 4 kB pages pays the hypervisor for TLB misses and for
# every backend's first touch of each page. /api/search at a million
# products and 8 clients (same cluster and index, prewarmed) took p50
# 515-898 ms with 4 kB pages and 62-71 ms with 2 MB ones. So, as root, the
# start reserves the huge pages shared_buffers needs (vm.nr_hugepages),
# which the server uses by its default (huge_pages = try; 4 kB pages when
# they are not there), and `stop` gives back what it reserved.
# DB_HUGE_PAGES=off leaves the kernel's setting alone.
reserve_huge_pages() {
  local need free have got
  [ "${DB_HUGE_PAGES:-on}" != off ] || return 0
  [ "$(id -u)" = 0 ] && [ -w /proc/sys/vm/nr_hugepages ] || return 0
  # shellcheck disable=SC2046 # memory_opts is a list of options
  need=$(run_pg "$bin/postgres" -D "$data" -C shared_memory_size_in_huge_pages $(memory_opts "$1") 2>/dev/null) || return 0
  # Free pages that another cluster has reserved are not free for this one.
  free=$(awk '/^HugePages_Free:/{f=$2} /^HugePages_Rsvd:/{r=$2} END {print f - r}' /proc/meminfo)
  [ -n "$need" ] && [ "$need" -gt 0 ] && [ "${free:-0}" -lt "$need" ] || return 0
  have=$(cat /proc/sys/vm/nr_hugepages)
  echo $((have + need - free)) >/proc/sys/vm/nr_hugepages 2>/dev/null || true
  got=$(( $(cat /proc/sys/vm/nr_hugepages) - have ))
  if [ "$got" -lt $((need - free)) ]; then
    # Memory too fragmented for the rest (after a day of builds, 993 of
    # 3,200 came): drop the clean page cache, compact, and try once more.
    sync; echo 3 >/proc/sys/vm/drop_caches 2>/dev/null || true
    echo 1 >/proc/sys/vm/compact_memory 2>/dev/null || true
    echo $((have + need - free)) >/proc/sys/vm/nr_hugepages 2>/dev/null || true
    got=$(( $(cat /proc/sys/vm/nr_hugepages) - have ))
  fi
  if [ "$got" -lt $((need - free)) ]; then
    echo "$have" >/proc/sys/vm/nr_hugepages 2>/dev/null || true
    say "could reserve only $got of the $need huge pages shared_buffers needs; the server uses 4 kB pages (slower searches)"
    return 0
  fi
  echo $(( $(cat "$dev/hugepages" 2>/dev/null || echo 0) + got )) >"$dev/hugepages"
  say "reserved $got huge pages (2 MB) for shared_buffers"
}

tune_search() {
  local mem_kb have
  mem_kb=$(awk '/^MemTotal:/{print $2}' /proc/meminfo 2>/dev/null || echo 0)
  "$bin/psql" -qAt "$1" \
    -c "ALTER SYSTEM SET effective_cache_size = '$((mem_kb * 3 / 4 / 1024 > 1024 ? mem_kb * 3 / 4 / 1024 : 1024))MB'" \
    -c "SELECT pg_reload_conf()" >/dev/null ||
    die "cannot set effective_cache_size"
  have=$("$bin/psql" -qAt "$1" -c "SELECT setting::bigint * 8 / 1024 FROM pg_settings WHERE name = 'shared_buffers'")
  if [ "$have" != "$2" ]; then
    say "shared_buffers is ${have} MB, ${2} MB from the next start (make db-stop && make db)"
  fi
}

stop() {
  [ -f "$dev/pgdir" ] && use_outside_dir
  bin=$(pg_bindir || true)
  [ -n "$bin" ] && [ -f "$data/postmaster.pid" ] || { say "not running"; return; }
  pguser=postgres; [ "$(id -u)" = 0 ] || pguser=$(id -un)
  run_pg "$bin/pg_ctl" -D "$data" -m fast -w stop >/dev/null && say "stopped"
  release_huge_pages
}

# release_huge_pages gives back the huge pages the start reserved.
release_huge_pages() {
  local n have
  n=$(cat "$dev/hugepages" 2>/dev/null || echo 0)
  [ "$n" -gt 0 ] && [ -w /proc/sys/vm/nr_hugepages ] || return 0
  have=$(cat /proc/sys/vm/nr_hugepages)
  echo $((have > n ? have - n : 0)) >/proc/sys/vm/nr_hugepages 2>/dev/null || true
  rm -f "$dev/hugepages"
}

case "${1:-start}" in
  start) start ;;
  stop) stop ;;
  *) die "usage: $0 [start|stop]" ;;
esac
