#!/usr/bin/env bash
# Measures `kfl check` on generated files of 1,000 and 10,000 stages:
# whole-process wall time (median of 10 runs) and peak RSS.
# Targets: < 50 ms at 1,000 stages; 10,000 stages < 12x the 1,000 time; peak RSS < 100 MB at 10,000.
set -euo pipefail
cd "$(dirname "$0")/.."

cargo build --profile dist -p kfl --features jemalloc
KFL=./target/dist/kfl
TMP=${TMPDIR:-/tmp}/kfl-bench
mkdir -p "$TMP"

median_ms() { # FILE → median wall time of 10 runs, in ms
  local file=$1 times=()
  for _ in $(seq 10); do
    local s e
    s=$(date +%s%N)
    "$KFL" check "$file" > /dev/null 2>&1
    e=$(date +%s%N)
    times+=( $(( (e - s) / 1000 )) )
  done
  printf '%s\n' "${times[@]}" | sort -n | awk '{ a[NR] = $1 } END { printf "%.1f", (a[5] + a[6]) / 2 / 1000 }'
}

peak_rss_mb() { # FILE → maximum resident set size, in MB
  /usr/bin/time -v "$KFL" check "$1" 2>&1 > /dev/null \
    | awk -F: '/Maximum resident set size/ { printf "%.1f", $2 / 1024 }'
}

instructions() { # FILE → instructions executed (callgrind; repeatable on a noisy machine)
  if command -v valgrind > /dev/null; then
    valgrind --tool=callgrind --callgrind-out-file=/dev/null "$KFL" check "$1" 2>&1 > /dev/null \
      | awk '/Collected/ { print $4 }'
  else
    echo "n/a"
  fi
}

declare -A ms
for n in 1000 10000; do
  file=$TMP/g$n.kfl
  python3 bench/gen.py "$n" > "$file"
  "$KFL" check "$file" > /dev/null # must pass; aborts the script otherwise
  "$KFL" check "$file" > /dev/null 2>&1 # warm the page cache
  ms[$n]=$(median_ms "$file")
  if command -v hyperfine > /dev/null; then
    hyperfine -N --warmup 2 --runs 10 "$KFL check $file" | sed -n '2,3p'
  fi
  echo "stages=$n bytes=$(wc -c < "$file") median_wall_ms=${ms[$n]} peak_rss_mb=$(peak_rss_mb "$file") instructions=$(instructions "$file")"
done
awk -v a="${ms[1000]}" -v b="${ms[10000]}" 'BEGIN { printf "ratio 10000/1000 = %.1fx (target < 12x)\n", b / a }'
