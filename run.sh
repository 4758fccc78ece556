#!/usr/bin/env bash
# CartRecovery entry point. Without arguments: the main job on the embedded default (embedded Kafka broker,
# generated traffic, the worker, chDB analytics store in ./data, summary). `./run.sh --help` lists commands.
# Installs what it needs on first use: the chDB engine (npm) and the .NET build (NuGet restore).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

command -v dotnet >/dev/null || { echo "run.sh: the .NET SDK 10 (dotnet) is required on PATH" >&2; exit 1; }
"$root/scripts/install-chdb.sh" >/dev/null # its progress (stderr) shows only when it installs
out="$root/.build/host"
# Sources only: a build of any project (tests included) rewrites files under src/*/obj and src/*/bin, which are outputs.
if [ ! -f "$out/cartrecovery.dll" ] || [ -n "$(find "$root/src" \( -name obj -o -name bin \) -prune -o -newer "$out/cartrecovery.dll" -type f \( -name '*.cs' -o -name '*.csproj' -o -name '*.json' -o -name '*.sql' \) -print -quit)" ] \
   || [ "$root/Directory.Packages.props" -nt "$out/cartrecovery.dll" ]; then
  echo "run.sh: building (first run restores NuGet packages)..." >&2
  dotnet build "$root/src/CartRecovery.Host/CartRecovery.Host.csproj" -c Release -o "$out" -nologo -v quiet -clp:ErrorsOnly >&2
fi
export CARTRECOVERY_CHDB_LIB="${CARTRECOVERY_CHDB_LIB:-$root/.tools/chdb/libchdb.so}"
# The main job, backtests and replays of a file run on an embedded broker of their own: they may use the public
# development keys when no compliance keys are configured (configured keys win). Every other command (the worker,
# replays of live topics, erase, audit verify, token verify) needs the keys (docs/compliance.md).
development=()
case "${1:-}" in
  -h|--help|-\?) ;;
  ""|-*|backtest) development=(--Compliance:AllowDevelopmentKeys=true) ;;
  replay) for arg in "$@"; do case "$arg" in --input|--input=*) development=(--Compliance:AllowDevelopmentKeys=true) ;; esac; done ;;
esac
exec dotnet "$out/cartrecovery.dll" "$@" "${development[@]}"
