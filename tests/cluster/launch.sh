# `kfl launch` against the test bed (run calls this with the kfl binary and the directory
# of compiled programs): the TrainJobs the compiled examples launch reach Complete through the
# real Trainer and JobSet controllers with kwok's pods; a retry adopts its own run's object; a
# second run under the same name is refused and one under a new name runs; a failure is reported
# with the TrainJob's Failed condition; the iris InferenceService reaches Ready through KServe.
set -euo pipefail
source "$(dirname "$0")/testbed.sh"
kfl=$1
out=$2
export KUBECONFIG=$kubeconfig
cp=$bin_dir/controlplane
passed=0
failed=0

# inline PROGRAM KIND: the launcher manifest of KIND a compiled program's pipeline carries.
inline() {
  "$cp" inline "$out/$1/pipeline.yaml" | awk -F'\t' -v kind="$2" '$2 == kind { print $3; exit }'
}
# check NAME EXPECTED_STATUS PATTERN COMMAND...: runs COMMAND; passes when its exit status is
# EXPECTED_STATUS (0, or "fail" for any other) and its stderr, lines joined by spaces, matches
# the extended regular expression PATTERN.
check() {
  local name=$1 expected=$2 pattern=$3 status=0
  shift 3
  "$@" >"$out/launch.out" 2>"$out/launch.err" || status=$?
  if { [ "$expected" = 0 ] && [ "$status" = 0 ]; } || { [ "$expected" = fail ] && [ "$status" != 0 ]; }; then
    if tr '\n' ' ' <"$out/launch.err" | grep -Eq "$pattern"; then
      echo "ok   $name"
      passed=$((passed + 1))
      return
    fi
  fi
  echo "FAIL $name (exit $status, wanted $expected and stderr matching /$pattern/):"
  sed 's/^/     /' "$out/launch.err"
  failed=$((failed + 1))
}
# edit JSON PYTHON: the JSON object with PYTHON (statements on `o`) applied.
edit() {
  python3 -c 'import json, sys; o = json.loads(sys.argv[1]); exec(sys.argv[2]); print(json.dumps(o))' "$1" "$2"
}

echo "== kfl launch trainjob against the test bed"
# The iris example trains inside Katib's trials: its TrainJob is the Experiment's trial template,
# here with the trial parameters Katib would substitute.
experiment=$(inline examples__iris__iris.kfl Experiment)
iris=$(edit "$experiment" '
o = o["spec"]["trialTemplate"]["trialSpec"]
o["metadata"]["name"] = "iris-train"
o["spec"]["trainer"]["args"] = [a.replace("${trialParameters.lr}", "0.01").replace("${trialParameters.hidden}", "16") for a in o["spec"]["trainer"]["args"]]')
churn=$(inline examples__cross-validation__cv.kfl TrainJob)
# A namespace of this run's own: a test bed reused across runs keeps the TrainJobs of earlier ones.
ns=launch-$(date +%s)
"$cp" apply --kubeconfig="$kubeconfig" - >/dev/null <<NAMESPACE
apiVersion: v1
kind: Namespace
metadata: {name: $ns}
NAMESPACE

iris_flags=(--namespace "$ns" --set data=s3://kfl-test/iris.csv --set epochs=3 --output model=s3://kfl-test/model --poll-interval 1 --timeout 300)
# `kfl launch` names a run's TrainJob STAGE-HASH (8 hex digits of SHA-256 over the run id and the stage,
# cli/src/launch/run_objects.rs): a retry of the run adopts it, another run creates its own.
check "iris TrainJob created under its run's name and Complete" 0 \
  "created TrainJob $ns/iris-train-[0-9a-f]{8} .*TrainJob $ns/iris-train-[0-9a-f]{8} completed" \
  "$kfl" launch trainjob --manifest-json "$iris" --run-id run-1 "${iris_flags[@]}"
check "a retry of the same run adopts its TrainJob" 0 "adopted TrainJob $ns/iris-train-[0-9a-f]{8} created by this run .*completed" \
  "$kfl" launch trainjob --manifest-json "$iris" --run-id run-1 "${iris_flags[@]}"
check "another run creates a TrainJob of its own" 0 "created TrainJob $ns/iris-train-[0-9a-f]{8} .*completed" \
  "$kfl" launch trainjob --manifest-json "$iris" --run-id run-2 "${iris_flags[@]}"
check "cross-validation's final TrainJob Complete" 0 "created TrainJob $ns/final-[0-9a-f]{8} .*completed" \
  "$kfl" launch trainjob --manifest-json "$churn" --run-id run-1 --namespace "$ns" \
  --set data=s3://kfl-test/churn.csv --set depth=4 --output model=s3://kfl-test/churn-model --poll-interval 1 --timeout 300
# Nothing can schedule a pod asking for 1000 CPUs, so Trainer fails the TrainJob at its deadline.
doomed=$(edit "$iris" '
o["metadata"]["name"] = "iris-doomed"
o["spec"]["activeDeadlineSeconds"] = 3
o["spec"]["trainer"]["resourcesPerNode"] = {"requests": {"cpu": "1000"}, "limits": {"cpu": "1000"}}')
check "a failed TrainJob is reported with its Failed condition" fail 'condition Failed.*DeadlineExceeded' \
  "$kfl" launch trainjob --manifest-json "$doomed" --run-id run-1 "${iris_flags[@]}"

echo "== kfl launch inferenceservice against the test bed (KServe in Standard mode)"
# The iris InferenceService as compiled, in the deployment mode the test bed runs (no Knative).
isvc=$(edit "$(inline examples__iris__iris.kfl InferenceService)" '
o["metadata"].setdefault("annotations", {})["serving.kserve.io/deploymentMode"] = "Standard"')
check "iris InferenceService created and Ready" 0 "created InferenceService $ns/iris .*InferenceService $ns/iris ready at http" \
  "$kfl" launch inferenceservice --manifest-json "$isvc" --namespace "$ns" --run-id run-1 \
  --set storage_uri=s3://kfl-test/model --output-url "$out/iris.url" --poll-interval 1 --timeout 180

echo "launch: $passed passed, $failed failed"
[ "$failed" = 0 ]
