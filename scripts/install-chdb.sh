#!/usr/bin/env bash
# Installs chDB, the in-process ClickHouse engine, into .tools/chdb/libchdb.so (git-ignored), from the npm
# registry (package @chdb/lib-linux-x64-gnu: a 166 MB download, 559 MB unpacked). Idempotent.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
version="26.5.3"
target="$root/.tools/chdb"
if [ -f "$target/libchdb.so" ] && [ "$(cat "$target/VERSION" 2>/dev/null)" = "$version" ]; then
  exit 0
fi
command -v npm >/dev/null || { echo "install-chdb: npm is required (Node.js)" >&2; exit 1; }
echo "install-chdb: fetching @chdb/lib-linux-x64-gnu@$version from npm ..." >&2
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
(cd "$work" && npm pack --silent "@chdb/lib-linux-x64-gnu@$version" >/dev/null)
tar -xzf "$work"/chdb-lib-linux-x64-gnu-*.tgz -C "$work"
mkdir -p "$target"
mv "$work/package/libchdb.so" "$target/libchdb.so.partial"
mv "$target/libchdb.so.partial" "$target/libchdb.so"
echo "$version" > "$target/VERSION"
echo "install-chdb: installed $target/libchdb.so" >&2
