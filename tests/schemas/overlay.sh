#!/usr/bin/env bash
# Builds the schemas folder that CI's kube-validate steps (KFL_SCHEMAS_DIR) and the test bed read:
# ../shared/schemas plus the CRDs of kinds kfl emits that ../shared has no schema for, listed in
# SOURCES.md beside this script. They come from the prometheus-operator Go module at the release of
# ../shared's own PrometheusRule CRD (checked: byte-identical to the module's), through the go command
# (the Go module proxy's zip with curl where Go is not installed), and each file must have the sha256
# below. Prints the folder's path: target/schemas-overlay in this clone.
# Usage: tests/schemas/overlay.sh [SHARED_DIR]   (default: $KFL_SHARED, else ../shared beside the clone)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
shared=${1:-${KFL_SHARED:-$repo/../shared}}
[ -d "$shared/schemas/crds" ] || { echo "overlay: no $shared/schemas/crds (set KFL_SHARED)" >&2; exit 1; }

module=github.com/prometheus-operator/prometheus-operator
version=v0.93.0
crd_path=example/prometheus-operator-crd
# The release's PrometheusRule CRD, which ../shared/schemas holds too: the overlay pairs CRDs of one release.
release_rules=monitoring.coreos.com_prometheusrules.yaml
release_rules_sha256=78be98554b9c8506ab2b4f4feb91c5f3a56e536a0a510f3a8e876a459970d56d
# FILE SHA256: the CRDs added (SOURCES.md).
added=(
  "monitoring.coreos.com_podmonitors.yaml 45a93443daa687d3654f7e9631909ff7edcdf3ec09c5e60251b74aa2722aee5d"
  "monitoring.coreos.com_servicemonitors.yaml a99047972c9dd7679ce2050b9968e8a08773492e671b3e17abd476d42aa78a32"
)

# The module's files: from the Go module cache, or from the proxy's zip of the release.
if command -v go >/dev/null; then
  module_dir=$(cd "$here" && go mod download -json "$module@$version" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')
  [ -d "$module_dir" ] || { echo "overlay: go mod download $module@$version gave no directory" >&2; exit 1; }
  source_dir=$module_dir/$crd_path
else
  proxy=${GOPROXY:-https://proxy.golang.org}
  proxy=${proxy%%[,|]*}
  cache=$repo/target/schemas-overlay-module
  mkdir -p "$cache"
  if [ ! -f "$cache/$version.zip" ]; then
    curl -fsSL -o "$cache/$version.zip.part" "$proxy/$module/@v/$version.zip"
    mv "$cache/$version.zip.part" "$cache/$version.zip"
  fi
  source_dir=$cache/$version
  python3 - "$cache/$version.zip" "$module@$version/$crd_path" "$source_dir" <<'PY'
import os, sys, zipfile
archive, prefix, out = sys.argv[1:]
os.makedirs(out, exist_ok=True)
with zipfile.ZipFile(archive) as z:
    for name in z.namelist():
        if name.startswith(prefix + "/") and name.endswith(".yaml"):
            with open(os.path.join(out, os.path.basename(name)), "wb") as f:
                f.write(z.read(name))
PY
fi

check() {
  local file=$1 want=$2 got
  got=$(sha256sum "$file" | cut -d' ' -f1)
  [ "$got" = "$want" ] || { echo "overlay: $file has sha256 $got, not $want" >&2; exit 1; }
}
check "$source_dir/$release_rules" "$release_rules_sha256"
check "$shared/schemas/crds/prometheus-operator/$release_rules" "$release_rules_sha256"

out=$repo/target/schemas-overlay
mkdir -p "$repo/target"
tmp=$(mktemp -d "$out.XXXXXX")
cp -R "$shared/schemas/." "$tmp/"
for entry in "${added[@]}"; do
  read -r file sha <<<"$entry"
  check "$source_dir/$file" "$sha"
  cp "$source_dir/$file" "$tmp/crds/prometheus-operator/$file"
done
chmod -R u+w "$tmp"
rm -rf "$out"
mv "$tmp" "$out"
echo "$out"
