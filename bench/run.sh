#!/usr/bin/env bash
# Measures `kfl run` scheduler overhead: 1,000 trivial stages (`true`) in a wide DAG and in a chain,
# without the cache (every stage really starts a process), beside the cost of just spawning `true` 1,000
# times from bash. Target (issue 4): under 5 ms per stage; kfp.local spends 46 ms per trivial task
# (../shared/anchors/README.md).
set -euo pipefail
cd "$(dirname "$0")/.."

cargo build --profile dist -p kfl --features jemalloc
KFL=$PWD/target/dist/kfl
N=${N:-1000}
TMP=${TMPDIR:-/tmp}/kfl-bench-run
rm -rf "$TMP" && mkdir -p "$TMP"

median_ms() { # COMMAND… → median wall time of 5 runs, in ms
  local times=()
  for _ in 1 2 3 4 5; do
    local s e
    s=$(date +%s%N); "$@" >/dev/null 2>&1 || true; e=$(date +%s%N)
    times+=( $(( (e - s) / 1000 )) )
  done
  printf '%s\n' "${times[@]}" | sort -n | awk '{ a[NR] = $1 } END { printf "%.1f", a[3] / 1000 }'
}

spawn_only() { for _ in $(seq "$N"); do /bin/true; done; }

echo "| shape | stages | jobs | whole run (median of 5) | per stage | spawning \`true\` alone, per stage |"
echo "|---|---|---|---|---|---|"
base=$(median_ms spawn_only)
for shape in wide chain; do
  python3 bench/trivial.py "$shape" "$N" > "$TMP/$shape.kfl"
  for jobs in 1 2; do
    total=$(cd "$TMP" && median_ms "$KFL" run "$shape.kfl" --no-cache --jobs "$jobs")
    awk -v t="$total" -v b="$base" -v n="$N" -v s="$shape" -v j="$jobs" \
      'BEGIN { printf "| %s | %d | %d | %.0f ms | %.2f ms | %.2f ms |\n", s, n, j, t, t / n, b / n }'
  done
done
