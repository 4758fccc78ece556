#!/usr/bin/env bash
# Runs the suites that load neither the embedded ClickHouse engine nor librdkafka with the clock a year ahead
# (libfaketime), to show that no test depends on the day it runs: a fixed date that a TTL, an expiry or "now"
# overtakes fails here today instead of next year. Neither native library runs under libfaketime: chDB's now() keeps
# the real clock while today() moves, and it stalls and crashes at exit; librdkafka's timed waits never wake, so a
# suite that starts the mock broker (Kafka.Tests, WorkerPipelineSpecs) hangs. Those suites rely on retention never
# reading a date from the data (docs/compliance.md#retention) and on their own data having no dates "now" can pass. Usage: scripts/test-clock-ahead.sh [+365d] (after a Release build of the solution).
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
# A hang fails the run within minutes (blame-hang) instead of holding CI until its deadline.
for project in Domain Streaming Hosting; do
  dotnet test "tests/CartRecovery.$project.Tests" -c Release --no-build -nologo --logger "console;verbosity=minimal" \
    --filter "FullyQualifiedName!~WorkerPipelineSpecs&FullyQualifiedName!~OutputWriterRowsSpecs" --blame-hang-timeout 10m --blame-hang-dump-type none \
    -e LD_PRELOAD="$preload" -e FAKETIME="$offset" -e CARTRECOVERY_CLOCK_AHEAD_SINCE="$since"
done
