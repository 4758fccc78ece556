#!/usr/bin/env bash
# Starts a throwaway PostgreSQL server on loopback for the tests (the checkpoint store runs against a real
# server, not a fake) and prints its Npgsql connection string on stdout. Installs PostgreSQL from Debian if
# missing. Usage: scripts/start-postgres.sh [DIR] (a temp dir by default); stop with: scripts/start-postgres.sh --stop DIR
set -euo pipefail
if [ "${1:-}" = "--stop" ]; then
  bin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
  if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$bin/pg_ctl" -D "$2/data" stop -m fast >/dev/null 2>&1 || true
  else "$bin/pg_ctl" -D "$2/data" stop -m fast >/dev/null 2>&1 || true; fi
  rm -rf "$2"
  exit 0
fi
if ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
  echo "start-postgres: installing postgresql from Debian ..." >&2
  export DEBIAN_FRONTEND=noninteractive
  { apt-get update -qq && apt-get install -y -qq postgresql; } >&2
fi
bin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
dir=${1:-$(mktemp -d /tmp/cartrecovery-pg-XXXXXX)}
mkdir -p "$dir"
port=$(( 20000 + RANDOM % 20000 ))
as_owner() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
[ "$(id -u)" = 0 ] && chown postgres: "$dir"
as_owner "$bin/initdb" -D "$dir/data" -A trust -U cartrecovery >/dev/null
as_owner "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w \
  -o "-p $port -k $dir -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200" start >/dev/null
echo "start-postgres: server in $dir on 127.0.0.1:$port" >&2
echo "Host=127.0.0.1;Port=$port;Username=cartrecovery;Database=postgres;Pooling=true;Maximum Pool Size=20"
