#!/usr/bin/env bash
# Katib's whole loop on the test bed (run calls this with the kfl binary and the directory of
# compiled programs): `kfl launch experiment` creates the iris tune's Experiment; the real Experiment
# and Suggestion controllers ask the real suggestion service (hyperopt's tpe, run locally by the
# katib process for the Suggestion's Deployment, katib/services.go) for trials; the Trial controller
# runs each as its TrainJob through Trainer, JobSet and kwok's pods; each trial's metrics reach
# Katib's DB manager (katib/dbmanager.go, on the test bed's MariaDB), and the Experiment ends
# Succeeded with its best trial, which `kfl launch` writes out and `kfl status` shows.
# Kwok's pods run nothing, so no metrics collector reports: this script reports each running
# trial's observation log to the DB manager through Katib's own gRPC API (ReportObservationLog,
# `katib report`) as the collector would when training ends; the Trial controller, which waits for
# a trial's metrics once its job has succeeded, then marks it Succeeded.
set -euo pipefail
source "$(dirname "$0")/testbed.sh"
source "$state_dir/ports.env"
# Usage: katib-loop.sh KFL OUT_DIR IRIS_PROGRAM (the .kfl file OUT_DIR/examples__iris__iris.kfl was built from)
kfl=$1
out=$2
program=$3
export KUBECONFIG=$kubeconfig
cp=$bin_dir/controlplane
work=$out/katib-loop
mkdir -p "$work"
passed=0
failed=0
pass() { echo "ok   $1"; passed=$((passed + 1)); }
fail() { echo "FAIL $1"; failed=$((failed + 1)); }

echo "== Katib's loop on the test bed: Experiment, suggestion service, trials, metrics, best trial"
# The iris tune as compiled (its launcher task's manifest), without its early stopping: medianstop
# reads the trials' metric logs from the DB manager itself, from Python, at a cluster address no
# resolver of ours can answer. Four trials, two at a time, keep the test short (and no more failed
# trials allowed than trials: the webhook refuses maxFailedTrialCount over maxTrialCount).
experiment=$("$cp" inline "$out/examples__iris__iris.kfl/pipeline.yaml" | awk -F'\t' '$2 == "Experiment" { print $3; exit }')
experiment=$(python3 -c '
import json, sys
o = json.loads(sys.argv[1])
del o["spec"]["earlyStopping"]
o["spec"]["maxTrialCount"] = 4
o["spec"]["parallelTrialCount"] = 2
o["spec"]["maxFailedTrialCount"] = 4
print(json.dumps(o))' "$experiment")
goal=$(python3 -c 'import json, sys; print(json.loads(sys.argv[1])["spec"]["objective"]["goal"])' "$experiment")
ns=katib-loop-$(date +%s)
"$cp" apply --kubeconfig="$kubeconfig" - >/dev/null <<NAMESPACE
apiVersion: v1
kind: Namespace
metadata:
  name: $ns
  labels: {${katib_namespace_label%%=*}: ${katib_namespace_label#*=}}
NAMESPACE

# KFP's executor input, as the pipeline's task would get it: where the best trial's model is reported.
executor_input='{"outputs": {"artifacts": {"best_model": {"artifacts": [{"uri": "s3://kfl-test/best-model"}]}}, "outputFile": "'$work/executor-output.json'"}}'
started=$SECONDS
"$kfl" launch experiment --manifest-json "$experiment" --namespace "$ns" --run-id run-1 \
  --set data=s3://kfl-test/iris.csv --set epochs=3 \
  --best "lr=$work/best-lr" --best "hidden=$work/best-hidden" --best "accuracy=$work/best-accuracy" \
  --best model=s3://kfl-test/best-model --executor-input "$executor_input" \
  --poll-interval 1 --timeout 300 >"$work/launch.out" 2>"$work/launch.err" &
launch_pid=$!
# A failing step ends the script: the launch goes with it.
trap 'kill "$launch_pid" 2>/dev/null || true' EXIT

# What each trial "measured": a made-up function of its assignment, below the goal so that all four
# trials run, less 0.0001 per trial reported before it, so that no two tie (tpe may suggest one
# assignment twice); loss = 1 - accuracy (the tune's additional metric).
measure() {
  python3 -c '
import json, math, sys
p = {a["name"]: a["value"] for a in json.loads(sys.argv[1])}
accuracy = 0.9 - abs(math.log10(float(p["lr"])) + 2) / 10 + int(p["hidden"]) / 1000 - int(sys.argv[2]) / 10000
print(f"{accuracy:.4f} {1 - accuracy:.4f}")' "$1" "$2"
}
declare -A reported
count=0
while kill -0 "$launch_pid" 2>/dev/null; do
  trials=$(api "/apis/kubeflow.org/v1beta1/namespaces/$ns/trials" || echo '{"items": []}')
  # A trial whose job runs: its training "ends" and the collector reports.
  while read -r trial assignments; do
    [ -n "$trial" ] && [ -z "${reported[$trial]:-}" ] || continue
    read -r accuracy loss < <(measure "$assignments" "$count")
    "$bin_dir/katib" report --db-manager="127.0.0.1:$p_katib_db" --trial="$trial" "accuracy=$accuracy" "loss=$loss"
    reported[$trial]=$accuracy
    count=$((count + 1))
    echo "$trial $accuracy $assignments" >>"$work/reported.txt"
  done < <(python3 -c '
import json, sys
for t in json.loads(sys.argv[1])["items"]:
    running = any(c["type"] == "Running" and c["status"] == "True" for c in t.get("status", {}).get("conditions", []))
    if running:
        print(t["metadata"]["name"], json.dumps(t["spec"]["parameterAssignments"]))' "$trials")
  sleep 1
done
status=0
wait "$launch_pid" || status=$?
elapsed=$((SECONDS - started))

if [ "$status" = 0 ] && grep -q "succeeded; best trial" "$work/launch.err"; then
  pass "kfl launch experiment: the Experiment Succeeded (${elapsed}s)"
else
  fail "kfl launch experiment exited $status:"
  sed 's/^/     /' "$work/launch.err"
fi
name=$(sed -n "s|^created Experiment $ns/\([^ ]*\)$|\1|p" "$work/launch.err")
live=$(api "/apis/kubeflow.org/v1beta1/namespaces/$ns/experiments/$name" || echo '{}')
touch "$work/reported.txt"
best_reported=$(sort -k2,2 -r "$work/reported.txt" | head -n 1 | cut -d' ' -f1,2)
verdict=$(python3 -c '
import json, sys
e = json.loads(sys.argv[1]); best_trial, best_accuracy = (sys.argv[2].split() + ["", ""])[:2]
s = e.get("status", {})
problems = []
succeeded = s.get("trialsSucceeded")
if succeeded != 4:
    problems.append(f"trialsSucceeded {succeeded}, not 4")
optimal = s.get("currentOptimalTrial", {})
named = optimal.get("bestTrialName")
if named != best_trial:
    problems.append(f"best trial {named!r}, not the best reported {best_trial!r}")
metrics = {m["name"]: m for m in optimal.get("observation", {}).get("metrics", [])}
accuracy = metrics.get("accuracy", {})
if accuracy.get("latest") != best_accuracy:
    problems.append(f"best accuracy {accuracy}, not {best_accuracy}")
print("; ".join(problems) or "ok")' "$live" "$best_reported")
if [ "$verdict" = ok ] && [ "$(wc -l <"$work/reported.txt")" = 4 ]; then
  pass "4 trials reported and Succeeded; status.currentOptimalTrial is the best reported ($best_reported)"
else
  fail "the Experiment's status: $verdict (reported: $(cut -d' ' -f1,2 "$work/reported.txt" | tr '\n' ';'))"
fi
best_accuracy=${best_reported#* }
best_files=$(python3 -c '
import json, sys
work, best = sys.argv[1], sys.argv[2].split()
for line in open(f"{work}/reported.txt"):
    trial, accuracy, assignments = line.split(" ", 2)
    if [trial, accuracy] == best:
        want = {a["name"]: a["value"] for a in json.loads(assignments)} | {"accuracy": accuracy}
        got = {name: open(f"{work}/best-{name}").read().strip() for name in ("lr", "hidden", "accuracy")}
        model = json.load(open(f"{work}/executor-output.json"))["artifacts"]["best_model"]["artifacts"][0]["uri"]
        if got != want:
            print(f"wrote {got}, the best trial has {want}")
        elif model != f"s3://kfl-test/best-model/{trial}":
            print(f"reported the best model at {model}, not under the best trial {trial}")
        else:
            print("ok")
        break
else:
    print("no best trial reported")' "$work" "$best_reported" 2>&1)
if [ "$best_files" = ok ]; then
  pass "kfl launch wrote the best trial's lr, hidden and accuracy, and reported its model to KFP (--best)"
else
  fail "kfl launch's --best files: $best_files"
fi
# `kfl status` on the program the Experiment came from: the run-created Experiment's row.
if "$kfl" status "$program" --namespace "$ns" >"$work/status.out" 2>"$work/status.err" &&
  grep -Eq "Experiment +$ns +$name +Succeeded +best trial ${best_reported% *} .*accuracy=$best_accuracy" "$work/status.out"; then
  pass "kfl status shows the Experiment Succeeded with its best trial"
else
  fail "kfl status:"
  sed 's/^/     /' "$work/status.out" "$work/status.err"
fi
echo "katib loop: $passed passed, $failed failed (goal $goal not reached: the Experiment ends at maxTrialCount)"
[ "$failed" = 0 ]
