#!/usr/bin/env bash
# Katib's real suggestion services on the Experiments kfl emits (run calls this; no control plane
# needed). Katib v0.19.0's Python services (hyperopt, optuna, skopt, hyperband, the medianstop
# early-stopping service) run from the Go module cache in one virtual environment each, with the
# release's requirements.txt and our frozen versions (katib/constraints/); goptuna, a Go service,
# runs inside `katib suggest` (katib/suggest.go says how it drives them as Katib's controllers do).
#  1. Every Experiment of the given compiled programs (manifests/ and the objects pipeline.yaml's
#     launcher tasks carry) and of suggestions/every_setting.kfl (every algorithm with every setting
#     kfl accepts) must validate and get every trial it asks for, inside its search space.
#  2. suggestions/refused/*.yaml: each is the search kfl would emit for a program `kfl check`
#     refuses (`# program:`, whose `// expect: CODE @ LINE` it must meet), and the service refuses
#     it with the message quoted in `# refused:`; or, with `# ignored:` instead, the service accepts
#     it and logs that it drops the value (kfl refuses a value that would be dropped silently).
# Usage: suggestions.sh KFL OUT_DIR [PROGRAM_OUTPUT_DIR...]
set -euo pipefail
source "$(dirname "$0")/testbed.sh"
kfl=$1 out=$2
shift 2
cd "$cluster_dir/../.."
with_lock build build_each controlplane katib
katib_dir=$(module_dir katib github.com/kubeflow/katib)
katib_venvs
venvs=$state_dir/venvs

work=$out/suggestions
mkdir -p "$work/experiments" "$work/logs"
# medianstop's constructor loads a kubeconfig outside a pod (pkg/earlystopping/v1beta1/medianstop/
# service.py); validating settings never contacts the server this one names.
cat >"$work/kubeconfig" <<'KUBECONFIG'
apiVersion: v1
kind: Config
clusters: [{name: none, cluster: {server: "https://127.0.0.1:9"}}]
users: [{name: none, user: {}}]
contexts: [{name: none, context: {cluster: none, user: none}}]
current-context: none
KUBECONFIG
suggest() {
  KUBECONFIG=$work/kubeconfig "$bin_dir/katib" suggest \
    --katib-config="$katib_dir/manifests/v1beta1/installs/katib-standalone/katib-config.yaml" \
    --katib-dir="$katib_dir" --serve="$cluster_dir/katib/serve.py" --venvs="$venvs" --logs="$work/logs" "$@" \
    2>>"$work/suggest.log"
}

"$kfl" build tests/cluster/suggestions/every_setting.kfl -o "$work/every_setting" >/dev/null
experiments=()
for dir in "$@" "$work/every_setting"; do
  name=$(basename "$dir")
  while IFS= read -r manifest; do experiments+=("$manifest"); done < <(grep -l '^kind: Experiment' "$dir"/manifests/*.yaml 2>/dev/null || true)
  [ -f "$dir/pipeline.yaml" ] || continue
  while IFS=$'\t' read -r source kind json; do
    [ "$kind" = Experiment ] || continue
    file=$work/experiments/$name.${source##*#}.json
    printf '%s\n' "$json" >"$file"
    experiments+=("$file")
  done < <("$bin_dir/controlplane" inline "$dir/pipeline.yaml")
done

failures=0
echo "== Katib's suggestion services on ${#experiments[@]} compiled Experiments"
suggest "${experiments[@]}" >"$work/accepted.txt" || true
sed "s|$out/||" "$work/accepted.txt"
accepted=$(grep -c '^accepted ' "$work/accepted.txt" || true)
if [ "$accepted" != "${#experiments[@]}" ]; then
  echo "!! $((${#experiments[@]} - accepted)) of ${#experiments[@]} Experiments kfl built were not served to the end (above; logs: $work/logs, $work/suggest.log)" >&2
  failures=$((failures + 1))
fi

# Object addresses in a Python message (`<… object at 0x7f…>`) differ between runs.
normal() { sed 's/0x[0-9a-f]\+/0x…/g'; }
cases=(tests/cluster/suggestions/refused/*.yaml)
for case in "${cases[@]}"; do
  program=$(sed -n 's/^# program: //p' "$case")
  refused=$(sed -n 's/^# refused: //p' "$case")
  ignored=$(sed -n 's/^# ignored: //p' "$case")
  answer=$(suggest "$case") || true
  if [ -n "$refused" ]; then
    if [[ "$answer" != "refused $case "* ]]; then
      echo "!! $case: the service no longer refuses it: $answer" >&2
      failures=$((failures + 1))
    elif [ "$(normal <<<"${answer#*): }")" != "$(normal <<<"$refused")" ]; then
      printf '!! %s: refused with another message:\n  quoted: %s\n  now:    %s\n' "$case" "$refused" "${answer#*): }" >&2
      failures=$((failures + 1))
    fi
  elif [ -n "$ignored" ]; then
    name=$(sed -n 's/^  name: //p' "$case" | head -n 1)
    service=$(sed -n 's/.*(\([a-z]*\) service).*/\1/p' <<<"$answer")
    if [[ "$answer" != "accepted $case "* ]] || ! grep -qF "$ignored" "$work/logs/$(basename "$case" .yaml).$name.$service.log"; then
      echo "!! $case: the service no longer accepts it while logging '$ignored': $answer" >&2
      failures=$((failures + 1))
    fi
  else
    echo "!! $case: has neither '# refused:' nor '# ignored:'" >&2
    failures=$((failures + 1))
  fi
  if ! why=$(kfl_check_refuses "$kfl" "$program"); then
    echo "!! $program: $why (Katib's $case)" >&2
    failures=$((failures + 1))
  fi
done
if [ "$failures" -gt 0 ]; then
  echo "suggestion services: $failures failures (above)" >&2
  exit 1
fi
echo "suggestion services: $accepted Experiments served to the end; ${#cases[@]} searches kfl check refuses, each refused or dropped by the service"
