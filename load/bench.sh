#!/usr/bin/env bash
# The load harness (issue "Performance"): raw consume ceiling and the worker end to end on the same embedded broker
# and generated input, a paced live phase for trigger latencies, heap per waiting session. Options: see --help.
#   load/bench.sh --shoppers 10000 --repeat 3
# Last line: bench: e2e_events_per_s=N raw_events_per_s=N ratio=R p99_timer_lag_ms=N p99_chat_ms=N heap_bytes_per_waiting_session=N replay_x=N alloc_bytes_per_event=N checkpoint_bytes_per_s=N snapshot_bytes_per_waiting_session=N p99_promo_chat_ms=N
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
command -v dotnet >/dev/null || { echo "bench.sh: the .NET SDK 10 (dotnet) is required on PATH" >&2; exit 1; }
"$root/scripts/install-chdb.sh" >/dev/null # its progress (stderr) shows only when it installs
out="$root/.build/load"
echo "bench.sh: building the harness (Release)..." >&2
dotnet build "$root/load/CartRecovery.Load/CartRecovery.Load.csproj" -c Release -o "$out" -nologo -v quiet -clp:ErrorsOnly >&2
export CARTRECOVERY_CHDB_LIB="${CARTRECOVERY_CHDB_LIB:-$root/.tools/chdb/libchdb.so}"
# A measurement on its own embedded broker: the public development keys unless keys are configured.
export CARTRECOVERY_Compliance__AllowDevelopmentKeys="${CARTRECOVERY_Compliance__AllowDevelopmentKeys:-true}"
exec dotnet "$out/cartrecovery-load.dll" "$@"
