# Shared by start, stop, status and run: where the test bed keeps its binaries, state and logs.
# Sourced, never run.
cluster_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
state_dir=$cluster_dir/.state
bin_dir=$state_dir/bin
pki_dir=$state_dir/pki
log_dir=$state_dir/logs
pid_dir=$state_dir/pids
kubeconfig=$state_dir/kubeconfig
# Written by start once everything is up; a test bed without it is not whole.
ready=$state_dir/ready
# The processes start launches, in start order (stop ends them in reverse).
components=(etcd kube-apiserver kube-controller-manager kube-scheduler kwok jobset trainer kserve mariadb katib)
# The label Katib's Experiment validator requires of an Experiment's namespace (github.com/kubeflow/katib
# v0.19.0 pkg/webhook/v1beta1/experiment/validation_webhook.go), which Kubeflow's profile controller gives
# every profile namespace (kubeflow/kubeflow components/profile-controller): the namespaces the tests'
# dry runs create get it, as a user's namespace on Kubeflow has it.
katib_namespace_label=katib.kubeflow.org/metrics-collector-injection=enabled
# One build of each module at a time on a 2-core machine shared with other work.
export GOFLAGS="${GOFLAGS:--p=2} -buildvcs=false"

# build MODULE: compiles tests/cluster/MODULE into .state/bin/MODULE unless the binary is newer
# than every source file of the module (the Go build cache makes a rebuild a link step anyway).
build() {
  local module=$1 binary=$bin_dir/$1
  mkdir -p "$bin_dir"
  if [ -x "$binary" ] && [ -z "$(find "$cluster_dir/$module" -newer "$binary" -type f)" ]; then
    return 0
  fi
  echo "building $module (cold: see README for the time it takes)" >&2
  (cd "$cluster_dir/$module" && go build -o "$binary" .)
}

# build_all: every program of the test bed, one build at a time across processes (`prepare`, run by
# .ci/run in the background while Rust compiles, and a test's `start` may overlap: the second waits
# for the first and finds the binaries built).
build_all() {
  with_lock build build_each controlplane operators kserve katib
}
build_each() {
  local module
  for module in "$@"; do build "$module"; done
}

# with_lock NAME COMMAND...: runs COMMAND holding .state/NAME.lock (flock), so two processes never
# build or install the same thing at once.
with_lock() {
  local lock=$state_dir/$1.lock
  shift
  mkdir -p "$state_dir"
  (
    flock 9
    "$@"
  ) 9>"$lock"
}

# katib_venvs: one venv per Katib Python service, as Katib ships one image per service, from the
# release's requirements.txt and our frozen versions (katib/constraints/); rebuilt when our pins
# change. Under the venvs lock (see build_all).
katib_venvs() {
  with_lock venvs install_katib_venvs
}
install_katib_venvs() {
  local katib_dir service requirements constraints venvs=$state_dir/venvs
  katib_dir=$(module_dir katib github.com/kubeflow/katib)
  for service in hyperopt optuna skopt hyperband medianstop; do
    case $service in
      medianstop) requirements=$katib_dir/cmd/earlystopping/medianstop/v1beta1/requirements.txt ;;
      *) requirements=$katib_dir/cmd/suggestion/$service/v1beta1/requirements.txt ;;
    esac
    constraints=$cluster_dir/katib/constraints/$service.txt
    if ! cmp -s "$constraints" "$venvs/$service/constraints.txt" 2>/dev/null; then
      echo "installing Katib's $service service's Python dependencies" >&2
      rm -rf "${venvs:?}/$service"
      python3 -m venv "$venvs/$service"
      timeout 900 "$venvs/$service/bin/pip" install --quiet --disable-pip-version-check --prefer-binary \
        -r "$requirements" -c "$constraints"
      cp "$constraints" "$venvs/$service/constraints.txt"
    fi
  done
}

# module_dir MODULE PATH: the Go module cache directory of an upstream module a module of ours
# requires (downloaded on demand), to read the data files its release carries.
module_dir() {
  (cd "$cluster_dir/$1" && go mod download "$2" && go list -m -f '{{.Dir}}' "$2")
}

# api PATH: GET PATH from the test bed's API server as its admin (p_api: start's, or ports.env's).
api() { curl -sf --cacert "$pki_dir/ca.crt" --cert "$pki_dir/admin.crt" --key "$pki_dir/admin.key" "https://127.0.0.1:$p_api$1"; }

running() {
  local pid_file=$pid_dir/$1.pid
  [ -f "$pid_file" ] && kill -0 "$(cat "$pid_file")" 2>/dev/null
}

# kfl_check_refuses KFL PROGRAM: succeeds when `kfl check` refuses PROGRAM with the code and line of
# its `// expect: CODE @ LINE` comment (the error fixtures' own); else prints why not and fails.
kfl_check_refuses() {
  local kfl=$1 program=$2 code line diagnostics
  read -r code line < <(sed -n 's|^// expect: \([EW][0-9]*\) @ \([0-9]*\).*|\1 \2|p' "$program" | head -n 1) || true
  if [ -z "${code:-}" ]; then
    echo "has no '// expect: CODE @ LINE' comment"
    return 1
  elif diagnostics=$("$kfl" check --format json "$program" 2>&1); then
    echo "kfl check accepts it"
    return 1
  elif ! grep -q "\"code\":\"$code\".*\"line\":$line," <<<"$diagnostics"; then
    echo "kfl check refuses it, but not with $code at line $line: $diagnostics"
    return 1
  fi
}
