#!/usr/bin/env bash
# Installs chDB, the in-process ClickHouse engine (ClickHouse 26.5), as <repo>/.tools/chdb/libchdb.so
# (.tools/ is git-ignored). Source: the npm package @chdb/lib-linux-x64-gnu (a 166 MB tarball whose
# package/libchdb.so is 559 MB), fetched with `npm pack` -- no Node code is run or installed.
#
# Idempotent: does nothing, silently, when the pinned version is already installed; its progress lines
# ("install-chdb: ...", on stderr) appear only while it really installs. Non-interactive (CI=true, no stdin).
# Prints the installed path on stdout (last line) in every case, so callers can capture it:
#   lib="$(scripts/install-chdb.sh | tail -n 1)"
# Callers that do not need the path discard stdout (run.sh, test.sh, load/bench.sh), so a run prints nothing about chDB
# unless it installs it.
# Environment:
#   CHDB_NPM_VERSION   version to install (default below; keep it in step with the code that calls the C API)
set -euo pipefail

version="${CHDB_NPM_VERSION:-26.5.3}"
package="@chdb/lib-linux-x64-gnu"
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
target="$root/.tools/chdb"
lib="$target/libchdb.so"

log() { echo "install-chdb: $*" >&2; }

if [ -f "$lib" ] && [ "$(cat "$target/VERSION" 2>/dev/null || true)" = "$version" ]; then
  echo "$lib"
  exit 0
fi

case "$(uname -s)/$(uname -m)" in
  Linux/x86_64) ;;
  *) log "unsupported platform $(uname -s)/$(uname -m): $package is built for Linux x86_64 (glibc)"; exit 1 ;;
esac
command -v npm >/dev/null 2>&1 || { log "npm is required (apt-get install -y npm)"; exit 1; }
command -v tar >/dev/null 2>&1 || { log "tar is required"; exit 1; }

work="$(mktemp -d "${TMPDIR:-/tmp}/install-chdb.XXXXXX")"
trap 'rm -rf "$work"' EXIT

log "fetching $package@$version from the npm registry (166 MB) ..."
# npm verifies the tarball against the integrity hash the registry publishes for this version.
(cd "$work" && npm pack --silent --no-fund --no-audit "$package@$version" </dev/null >"$work/pack.out")
tgz="$(find "$work" -maxdepth 1 -name '*.tgz' -print -quit)"
[ -n "$tgz" ] || { log "npm pack produced no tarball (output: $(cat "$work/pack.out"))"; exit 1; }

log "extracting package/libchdb.so (559 MB) ..."
tar -xzf "$tgz" -C "$work" package/libchdb.so package/package.json
packed_version="$(sed -n 's/.*"version"[[:space:]]*:[[:space:]]*"\([^"]*\)".*/\1/p' "$work/package/package.json" | head -n 1)"
[ "$packed_version" = "$version" ] || { log "expected version $version, package says '$packed_version'"; exit 1; }
[ -s "$work/package/libchdb.so" ] || { log "package/libchdb.so missing or empty in $tgz"; exit 1; }

# Move into place atomically: a concurrent run (run.sh and test.sh side by side) never sees a partial file.
mkdir -p "$target"
partial="$(mktemp "$target/libchdb.so.partial.XXXXXX")"
mv -f "$work/package/libchdb.so" "$partial"
chmod 0755 "$partial"
mv -f "$partial" "$lib"
echo "$version" >"$target/VERSION.partial.$$"
mv -f "$target/VERSION.partial.$$" "$target/VERSION"

log "installed chDB $version"
echo "$lib"
