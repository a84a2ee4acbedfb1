#!/usr/bin/env bash
# Peak memory of `kfl check` and `kfl build` against the input's size, on generated files of growing size up to
# 50 MB (bench/gen.py: steps, trains and tunes). Target (issue 14): peak RSS ≤ 30× the input size at 50 MB, and
# linear growth (the ratio does not rise with the size).
#
#   bash bench/memory.sh [PROFILE] [STAGES…]    # PROFILE: dist (default, with jemalloc, as shipped) or release
#                                                # (the system allocator, as `cargo run --release` builds it)
#
# Prints one line per size and command: stages, input bytes, peak RSS (MB) and the ratio peak RSS / input.
set -euo pipefail
cd "$(dirname "$0")/.."

profile=${1:-dist}
shift || true
sizes=("$@")
if [ ${#sizes[@]} -eq 0 ]; then
  sizes=(2000 20000 100000 267000) # 267,000 stages of bench/gen.py ≈ 50 MB
fi

if [ "$profile" = dist ]; then
  cargo build --profile dist -p kfl --features jemalloc
else
  cargo build --profile "$profile" -p kfl
fi
KFL=./target/$profile/kfl
TMP=${TMPDIR:-/tmp}/kfl-bench-memory
rm -rf "$TMP" && mkdir -p "$TMP"

peak_kb() { # COMMAND… → maximum resident set size in kB; the command must succeed
  local out
  out=$(/usr/bin/time -v "$@" 2>&1 >/dev/null) || { echo "failed: $*" >&2; echo "$out" | tail -5 >&2; exit 1; }
  echo "$out" | awk -F: '/Maximum resident set size/ { print $2 + 0 }'
}

printf '%-8s %8s %12s %10s %7s\n' command stages input_bytes peak_mb ratio
for n in "${sizes[@]}"; do
  file=$TMP/g$n.kfl
  python3 bench/gen.py "$n" > "$file"
  bytes=$(wc -c < "$file")
  for command in check build; do
    if [ "$command" = check ]; then
      kb=$(peak_kb "$KFL" check "$file")
    else
      rm -rf "$TMP/out$n"
      kb=$(peak_kb "$KFL" build "$file" -o "$TMP/out$n")
      rm -rf "$TMP/out$n"
    fi
    awk -v c="$command" -v n="$n" -v b="$bytes" -v kb="$kb" \
      'BEGIN { printf "%-8s %8d %12d %10.1f %6.1fx\n", c, n, b, kb / 1024, kb * 1024 / b }'
  done
  rm -f "$file"
done
