#!/usr/bin/env bash
# Runs every test: pure domain, actors, checkpoint stores on SQLite and a real PostgreSQL server, storage on the
# real chDB engine, Kafka on librdkafka's mock cluster, analytics and the HTML report in headless Chromium, and
# the end-to-end, crash, scale and replay tests through the CLI as separate processes. Installs its own
# prerequisites (chDB from npm; PostgreSQL and Chromium from Debian when missing; NuGet restore).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cd "$root"
"$root/scripts/install-chdb.sh" >/dev/null # its progress (stderr) shows only when it installs
export CARTRECOVERY_CHDB_LIB="$root/.tools/chdb/libchdb.so"
"$root/scripts/install-chromium.sh"
# kubectl (with Kustomize) renders every overlay in KubernetesManifestTests.
export CARTRECOVERY_KUBECTL="$("$root/scripts/install-kubectl.sh" | tail -n 1)"
# dotnet-stack: a CLI process a test gives up on has its managed stacks in the failure (tests/Shared/Cli.cs). Diagnostic
# only: without it (no registry), the failure still lists the process's threads.
if [ ! -x "$root/.tools/dotnet-tools/dotnet-stack" ]; then
  dotnet tool install --tool-path "$root/.tools/dotnet-tools" dotnet-stack --version 10.0.750501 >/dev/null 2>&1 || echo "test.sh: dotnet-stack not installed (stall reports list threads only)" >&2
fi
export CARTRECOVERY_DOTNET_STACK="$root/.tools/dotnet-tools/dotnet-stack"
pgdir="$(mktemp -d /tmp/cartrecovery-pg-XXXXXX)"
trap '"$root/scripts/start-postgres.sh" --stop "$pgdir"' EXIT
export CARTRECOVERY_TEST_POSTGRES="$("$root/scripts/start-postgres.sh" "$pgdir")"
dotnet build CartRecovery.sln -c Release -nologo -v quiet -clp:ErrorsOnly
# The end-to-end tests drive the CLI as separate processes; build it where run.sh would.
dotnet build src/CartRecovery.Host/CartRecovery.Host.csproj -c Release -o "$root/.build/host" -nologo -v quiet -clp:ErrorsOnly
# A hung test fails its run after 20 minutes (the longest test takes about 6) instead of holding CI to its deadline.
dotnet test CartRecovery.sln -c Release --no-build -nologo --logger "console;verbosity=normal" \
  --blame-hang-timeout 20m --blame-hang-dump-type none "$@"
# A full run also runs the suites that do not load the embedded engine with the clock a year ahead: no test may
# depend on the day it runs (docs/compliance.md#retention).
if [ "$#" -eq 0 ]; then "$root/scripts/test-clock-ahead.sh" +365d; fi
