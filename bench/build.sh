#!/usr/bin/env bash
# Measures `kfl build` (whole process) on generated pipelines beside the KFP
# SDK compiling the equivalent 1,000-component chain.
# Targets (issue 3): ≥ 100× faster than the KFP SDK at 1,000 components (≤ 30 ms),
# under 50 MiB, linear growth.
# The KFP SDK side needs kfp 2.17.3 in bench/.venv:
#   python3 -m venv bench/.venv && bench/.venv/bin/pip install kfp==2.17.3
set -euo pipefail
cd "$(dirname "$0")/.."

cargo build --profile dist -p kfl --features jemalloc
KFL=./target/dist/kfl
TMP=${TMPDIR:-/tmp}/kfl-bench-build
rm -rf "$TMP" && mkdir -p "$TMP"

rss_mb() { /usr/bin/time -v "$@" 2>&1 >/dev/null | awk -F: '/Maximum resident set size/ { printf "%.1f", $2 / 1024 }'; }
median_ms() { # COMMAND… → median wall time in ms: hyperfine (50 runs after 5 warm-ups) when installed, else 21 timed runs
  if command -v hyperfine > /dev/null; then
    hyperfine -N --warmup 5 --runs 50 --export-json "$TMP/hyperfine.json" "$*" > /dev/null 2>&1
    python3 -c 'import json, sys; print("%.1f" % (json.load(open(sys.argv[1]))["results"][0]["median"] * 1000))' "$TMP/hyperfine.json"
    return
  fi
  local times=()
  for _ in $(seq 21); do
    local s e
    s=$(date +%s%N); "$@" >/dev/null 2>&1; e=$(date +%s%N)
    times+=( $(( (e - s) / 1000 )) )
  done
  printf '%s\n' "${times[@]}" | sort -n | awk '{ a[NR] = $1 } END { printf "%.1f", a[11] / 1000 }'
}
instructions() { # COMMAND… → instructions executed (callgrind: repeatable on a noisy machine)
  if command -v valgrind > /dev/null; then
    valgrind --tool=callgrind --callgrind-out-file=/dev/null "$@" 2>&1 > /dev/null | awk '/Collected/ { print $4 }'
  else
    echo "n/a"
  fi
}

# The freshly linked binary (about 100 MB with its debug info) is still being written back to disk for a few
# seconds after the build; runs timed during that writeback came out twice as slow.
sync

for n in 1000 10000; do
  python3 bench/chain.py "$n" "$TMP"
  python3 bench/gen.py "$n" > "$TMP/mixed$n.kfl"
  for shape in chain mixed; do
    file="$TMP/$shape$n.kfl"
    [ "$shape" = chain ] && file="$TMP/chain$n.kfl"
    "$KFL" build "$file" -o "$TMP/out-$shape$n" 2>/dev/null
    counted=""
    [ "$n" = 1000 ] && counted=" instructions=$(instructions "$KFL" build "$file" -o "$TMP/out-$shape$n")"
    echo "kfl build $shape n=$n: median_wall_ms=$(median_ms "$KFL" build "$file" -o "$TMP/out-$shape$n") peak_rss_mb=$(rss_mb "$KFL" build "$file" -o "$TMP/out-$shape$n")$counted"
  done
done

if [ -x bench/.venv/bin/python ]; then
  s=$(date +%s%N)
  bench/.venv/bin/python "$TMP/chain1000_kfp.py" "$TMP/kfp-chain1000.yaml"
  e=$(date +%s%N)
  echo "kfp sdk chain n=1000: wall_ms=$(( (e - s) / 1000000 )) peak_rss_mb=$(rss_mb bench/.venv/bin/python "$TMP/chain1000_kfp.py" "$TMP/kfp-chain1000.yaml")"
else
  echo "kfp sdk: bench/.venv missing (see the header of this script)"
fi
