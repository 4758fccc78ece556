#!/usr/bin/env bash
# Runs every test: pure domain, actors, storage on the real chDB engine, Kafka on librdkafka's mock cluster,
# and the end-to-end tests through the CLI. Installs its own prerequisites (chDB from npm, NuGet restore).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cd "$root"
"$root/scripts/install-chdb.sh"
export CARTRECOVERY_CHDB_LIB="$root/.tools/chdb/libchdb.so"
dotnet build CartRecovery.sln -c Release -nologo -v quiet -clp:ErrorsOnly
# The end-to-end tests drive the CLI as separate processes; build it where run.sh would.
dotnet build src/CartRecovery.Host/CartRecovery.Host.csproj -c Release -o "$root/.build/host" -nologo -v quiet -clp:ErrorsOnly
dotnet test CartRecovery.sln -c Release --no-build -nologo --logger "console;verbosity=normal" "$@"
