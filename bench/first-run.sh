#!/usr/bin/env bash
# A new user's first contact, timed: clone the repository into a temporary folder and run the README's
# main job there with an empty target folder, compile included (issue 19: under 6 minutes on 2 cores).
#
#   bash bench/first-run.sh [REPO]     # REPO defaults to this checkout (its committed HEAD)
#
# Prints the wall time, the CPU time of the whole job (user + sys, from /usr/bin/time -v) and the load
# average before and after, because a shared machine's wall time says little alone. The registry cache
# (~/.cargo) is kept: the figure is the compile and the run, not the download.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=${1:-$PWD}
work=$(mktemp -d "${TMPDIR:-/tmp}/kfl-first-run.XXXXXX")
trap 'rm -rf "$work"' EXIT

git clone --quiet "$repo" "$work/kfl"
cd "$work/kfl"
export CARGO_TARGET_DIR="$work/target"
# The README's main job, read from the README so this script times what users are told to type.
job=$(grep -m1 -E '^\s*cargo run --release -- run ' README.md | sed -E 's/^\s*//')
[ -n "$job" ] || { echo "first-run: the README names no 'cargo run --release -- run' command" >&2; exit 1; }
echo "job: $job"
echo "load before: $(cut -d' ' -f1-3 /proc/loadavg)"
start=$(date +%s)
/usr/bin/time -v -o "$work/time" bash -c "$job" > "$work/out" 2>&1 || {
  tail -n 40 "$work/out" >&2
  echo "first-run: the main job failed" >&2
  exit 1
}
end=$(date +%s)
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"
awk -F': ' '/User time/ { u = $2 } /System time/ { s = $2 } END { printf "cpu: %.0f s (user %.0f + sys %.0f)\n", u + s, u, s }' "$work/time"
grep -E '^\s+Finished ' "$work/out" | sed -E 's/^\s+/compile: /' || true
printf 'wall: %dm %02ds\n' $(((end - start) / 60)) $(((end - start) % 60))
