# `model-registry://` on the test bed (run calls this with the kfl binary and the directory of compiled
# programs): KServe v0.20.0 ships no ClusterStorageContainer for it, so its controller refuses the URI
# ("StorageURI not supported", pkg/controller/v1beta1/inferenceservice/utils/utils.go) and the service gets
# no predictor; `kfl launch inferenceservice` refuses such a service until one supports the URI, and with
# one (a container of ours with the prefix the Model Registry's
# `manifests/kustomize/options/csi/clusterstoragecontainer.yaml` declares) the predictor pod gets that
# container as its storage initializer.
set -euo pipefail
source "$(dirname "$0")/testbed.sh"
kfl=$1
out=$2
export KUBECONFIG=$kubeconfig
cp=$bin_dir/controlplane
ns=storage-$(date +%s)
csc=kfl-test-model-registry
image=kfl-test/model-registry-storage-initializer:test
uri=model-registry://iris/1
failed=0
fail() { echo "FAIL $*"; failed=$((failed + 1)); }

edit() {
  python3 -c 'import json, sys; o = json.loads(sys.argv[1]); exec(sys.argv[2]); print(json.dumps(o))' "$1" "$2"
}
# The storage initializer (image) of the newest pod of InferenceService $1's predictor, once there is one.
initializer() {
  for _ in $(seq 60); do
    found=$(kubectl -n "$ns" get pods -l "serving.kserve.io/inferenceservice=$1" \
      -o jsonpath='{range .items[*]}{range .spec.initContainers[?(@.name=="storage-initializer")]}{.image}{"\n"}{end}{end}' 2>/dev/null | tail -1)
    [ -n "$found" ] && { echo "$found"; return; }
    sleep 1
  done
  echo "none"
}

kubectl create namespace "$ns" >/dev/null
kubectl delete clusterstoragecontainer "$csc" --ignore-not-found >/dev/null
isvc=$("$cp" inline "$out/examples__iris__iris.kfl/pipeline.yaml" | awk -F'\t' '$2 == "InferenceService" { print $3; exit }')
isvc=$(edit "$isvc" 'o["metadata"].setdefault("annotations", {})["serving.kserve.io/deploymentMode"] = "Standard"')

echo "== model-registry:// without a ClusterStorageContainer for it"
if "$kfl" launch inferenceservice --manifest-json "$isvc" --namespace "$ns" --set "storage_uri=$uri" \
  --poll-interval 1 --timeout 60 >/dev/null 2>"$out/csc.err"; then
  fail "kfl launch created a service KServe cannot fetch"
elif grep -q "no ClusterStorageContainer on the cluster supports it" "$out/csc.err"; then
  echo "ok   kfl launch refuses $uri: $(tr '\n' ' ' <"$out/csc.err" | cut -c1-140)…"
else
  fail "kfl launch failed otherwise:"; cat "$out/csc.err"
fi
# The same service created behind kfl's back: KServe's controller refuses its URI, so it gets no predictor.
direct=$(edit "$isvc" '
o["metadata"]["name"] = "direct"
o["metadata"]["namespace"] = "'"$ns"'"
for var in o["spec"]["predictor"]["containers"][0]["env"]:
    if var["name"] == "STORAGE_URI":
        var["value"] = "'"$uri"'"')
echo "$direct" | kubectl apply -f - >/dev/null
sleep 10
if kubectl -n "$ns" get deployment direct-predictor >/dev/null 2>&1; then
  fail "without a ClusterStorageContainer the service got a predictor"
elif grep -q "\"namespace\":\"$ns\",\"name\":\"direct\".*StorageURI not supported" "$log_dir/kserve.log"; then
  echo "ok   without one, KServe's controller refuses $uri (StorageURI not supported): no predictor"
else
  fail "without a ClusterStorageContainer, no 'StorageURI not supported' for the service in $log_dir/kserve.log"
fi

echo "== with a ClusterStorageContainer for model-registry://"
kubectl apply -f - >/dev/null <<CSC
apiVersion: serving.kserve.io/v1alpha1
kind: ClusterStorageContainer
metadata: {name: $csc}
spec:
  container: {name: storage-initializer, image: $image}
  supportedUriFormats: [{prefix: "model-registry://"}]
CSC
if "$kfl" launch inferenceservice --manifest-json "$isvc" --namespace "$ns" --set "storage_uri=$uri" \
  --poll-interval 1 --timeout 180 >/dev/null 2>"$out/csc.err" \
  && grep -q "is fetched by ClusterStorageContainer \`$csc\`" "$out/csc.err"; then
  echo "ok   kfl launch creates the service: $(grep -o "is fetched by.*" "$out/csc.err")"
else
  fail "kfl launch with a ClusterStorageContainer:"; cat "$out/csc.err"
fi
with=$(initializer iris)
if [ "$with" = "$image" ]; then
  echo "ok   the predictor's storage initializer is the ClusterStorageContainer's ($with)"
else
  fail "the predictor's storage initializer is '$with', not $image"
fi
kubectl delete clusterstoragecontainer "$csc" >/dev/null
kubectl delete namespace "$ns" --wait=false >/dev/null
echo "storage containers: $failed failed"
[ "$failed" = 0 ]
