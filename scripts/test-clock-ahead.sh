#!/usr/bin/env bash
# Runs the suites that do not load the embedded ClickHouse engine with the clock a year ahead (libfaketime), to show
# that no test depends on the day it runs: a fixed date that a TTL, an expiry or "now" overtakes fails here today
# instead of next year. chDB cannot run under libfaketime (its now() keeps the real clock while today() moves, and it
# stalls and crashes at exit), so the engine's suites rely on retention never reading a date from the data
# (docs/compliance.md#retention). Usage: scripts/test-clock-ahead.sh [+365d] (after a Release build of the solution).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
offset="${1:-+365d}"
if ! command -v faketime >/dev/null; then
  echo "test-clock-ahead: installing faketime from Debian ..." >&2
  export DEBIAN_FRONTEND=noninteractive
  { apt-get update -qq && apt-get install -y -qq faketime; } >&2
fi
echo "test-clock-ahead: clock $(faketime -f "$offset" date -u +%Y-%m-%dT%H:%M:%SZ) (real $(date -u +%Y-%m-%dT%H:%M:%SZ))" >&2
# Only the test host runs on the moved clock (dotnet test -e): vstest's own connection timeouts stay real. The
# multithreaded libfaketime keeps the runtime's timed waits working; CARTRECOVERY_CLOCK_AHEAD_SINCE lets
# WallClockProbeTests check that the clock really moved.
preload=$(ls /usr/lib/*/faketime/libfaketimeMT.so.1 | head -1)
since=$(date -u +%s)
for project in Domain Streaming Kafka Hosting; do
  dotnet test "tests/CartRecovery.$project.Tests" -c Release --no-build -nologo --logger "console;verbosity=minimal" \
    -e LD_PRELOAD="$preload" -e FAKETIME="$offset" -e CARTRECOVERY_CLOCK_AHEAD_SINCE="$since"
done
