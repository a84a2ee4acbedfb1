#!/usr/bin/env bash
# The search engine end to end through `kfl run`: examples/branin (each trial a python3 process printing
# `value=…`), TPE at a budget of 50 trials, over SEEDS seeds (default 20). Prints the mean and median regret
# (best − 0.397887) beside the library-level number of the same sampler (docs/PERFORMANCE.md, "Search quality")
# and Optuna's default TPE at 50 trials (0.207 mean, ../shared/anchors/README.md).
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --profile dist -p kfl --features jemalloc
KFL=$PWD/target/dist/kfl
SEEDS=${SEEDS:-20}
BUDGET=${BUDGET:-50}
TMP=${TMPDIR:-/tmp}/kfl-bench-branin
rm -rf "$TMP" && mkdir -p "$TMP"
start=$(date +%s)
for seed in $(seq 0 $((SEEDS - 1))); do
  dir="$TMP/$seed"
  mkdir -p "$dir"
  cp examples/branin/branin.py "$dir/"
  sed "s/tpe(seed = 1)/tpe(seed = $seed)/" examples/branin/branin.kfl > "$dir/branin.kfl"
  (cd "$dir" && "$KFL" run branin.kfl -p "trials=$BUDGET" >/dev/null 2>&1)
done
elapsed=$(( $(date +%s) - start ))
python3 - "$TMP" "$SEEDS" "$BUDGET" "$elapsed" <<'PY'
import glob, json, statistics, sys
root, seeds, budget, elapsed = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
regrets = []
for seed in range(seeds):
    (record,) = glob.glob(f"{root}/{seed}/.kfl/runs/*/run.json")
    run = json.load(open(record))
    tune = next(s for s in run["stages"] if s["name"] == "search")["instances"][0]
    assert tune["state"] == "succeeded", tune
    assert len(tune["trials"]) == budget
    regrets.append(tune["metrics"]["value"] - 0.397887)
print(f"| branin | {budget} | {seeds} | {statistics.mean(regrets):.3g} | {statistics.median(regrets):.3g} | {elapsed} s |")
PY
