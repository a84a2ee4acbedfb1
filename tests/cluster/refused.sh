#!/usr/bin/env bash
# "kfl check refuses first" (run calls this with a running test bed): every tests/cluster/refused/*.yaml
# holds one object the real webhooks refuse and, in its header,
#   # program: PATH     the .kfl program that object comes from
#   # refused: MESSAGE  the webhook's own answer, quoted for comparison
#   # builds: FILE      (optional) kfl builds the program without that object: FILE (a manifest, or
#                      pipeline.yaml for the objects its launcher tasks carry) is what it emits instead
# The server-side dry run of the object must be refused with exactly MESSAGE. Then either `kfl check
# PROGRAM` refuses the program with the code and line of its `// expect: CODE @ LINE` comment (the
# error fixtures' own), or, with `builds:`, `kfl build PROGRAM` succeeds and what FILE holds is accepted.
# Usage: refused.sh KFL OUT_DIR
set -euo pipefail
source "$(dirname "$0")/testbed.sh"
kfl=$1 out=$2
cp=$bin_dir/controlplane
cd "$cluster_dir/../.."

dry_run() {
  "$cp" apply --kubeconfig="$kubeconfig" --dry-run --launcher-manifests --namespace=kfl-refusals \
    --namespace-label="$katib_namespace_label" "$@" 2>&1 || true
}
failures=0
fail() {
  echo "!! $1: $2" >&2
  failures=$((failures + 1))
}
cases=(tests/cluster/refused/*.yaml)
for case in "${cases[@]}"; do
  program=$(sed -n 's/^# program: //p' "$case")
  expected=$(sed -n 's/^# refused: //p' "$case")
  builds=$(sed -n 's/^# builds: //p' "$case")
  if [ -z "$program" ] || [ -z "$expected" ]; then
    fail "$case" "has no '# program:' or no '# refused:' line"
    continue
  fi
  answer=$(dry_run "$case")
  if [[ "$answer" != "refused $case "* ]]; then
    fail "$case" "the webhooks no longer refuse it: $answer"
  elif [ "${answer#*: }" != "$expected" ]; then
    fail "$case" "refused with another message:
  quoted: $expected
  now:    ${answer#*: }"
  fi
  if [ -n "$builds" ]; then
    built=$out/refused-$(basename "$case" .yaml)
    if ! "$kfl" build "$program" -o "$built" >/dev/null 2>"$built.err"; then
      fail "$program" "kfl build failed: $(cat "$built.err")"
    elif [[ "$(dry_run "$built/$builds")" != "accepted "* ]]; then
      fail "$program" "what kfl builds instead is refused too: $(dry_run "$built/$builds")"
    fi
    continue
  fi
  if ! why=$(kfl_check_refuses "$kfl" "$program"); then
    fail "$program" "$why (the webhook refuses what it compiles to)"
  fi
done
if [ "$failures" -gt 0 ]; then
  echo "refused first: $failures of ${#cases[@]} cases failed" >&2
  exit 1
fi
echo "refused first: ${#cases[@]} objects the webhooks refuse, each refused by kfl check first (or not emitted by kfl build)"
