#!/usr/bin/env bash
# Tests every editor integration under editors/.
#
#   bash editors/test.sh [PATH…]
#
# PATH… are .kfl files or directories to parse with tree-sitter (and tokenize with
# the TextMate grammar). Default: the spec examples (shared/design/examples beside
# the repo), the repo's examples/ and tests/cases/ (when present), and
# editors/vscode/test/snap/. Files in a directory named `errors` or `syntax_errors`
# are skipped.
#
# 1. VS Code: npm ci; the TextMate grammar is up to date with syntaxes/build.mjs;
#    vscode-tmgrammar-test assertions (test/*.test.kfl); vscode-tmgrammar-snap
#    snapshots (test/snap/*.kfl); no invalid token in PATH…; `vsce package` writes the
#    installable extension to target/editors/kfl.vsix.
# 2. vim: syntax and indent checks (skipped when vim is not installed).
# 3. tree-sitter: the CLI (install-tree-sitter.sh: cargo install, pinned, when not on PATH);
#    the committed src/ matches `tree-sitter generate`; `tree-sitter test` (corpus +
#    highlight tests); every .kfl in PATH… parses without ERROR or MISSING nodes.
#
# Exits 1 if any check fails. Environment: TREE_SITTER (the CLI to use),
# KFL_EDITORS_SKIP_VSCODE=1 / KFL_EDITORS_SKIP_TREE_SITTER=1 / KFL_EDITORS_SKIP_VIM=1.

set -uo pipefail

editors="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
TREE_SITTER_CLI_VERSION=$(bash "$editors/install-tree-sitter.sh" --version)
repo="$(dirname "$editors")"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

summary=()
failed=0
t_all=$SECONDS

log() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

# record NAME STATUS DETAIL
record() {
  summary+=("$(printf '%-5s %-44s %s' "$2" "$1" "$3")")
  if [ "$2" = FAIL ]; then failed=1; fi
}

# check NAME DETAIL -- COMMAND…: run, record PASS/FAIL with the time it took
check() {
  local name=$1 detail=$2
  shift 3
  local t0=$SECONDS
  if "$@"; then
    record "$name" PASS "$detail ($((SECONDS - t0))s)"
  else
    record "$name" FAIL "$detail ($((SECONDS - t0))s)"
  fi
}

# ------------------------------------------------------------------ paths

paths=()
if [ $# -gt 0 ]; then
  paths=("$@")
else
  for p in "$repo/../shared/design/examples" "$repo/examples" "$repo/stdlib" "$repo/tests/cases"; do
    if [ -d "$p" ]; then paths+=("$(cd "$p" && pwd)"); fi
  done
  paths+=("$editors/vscode/test/snap")
fi

# every .kfl under the paths, except in `errors`/`syntax_errors` directories; unique
: >"$tmp/files"
for p in "${paths[@]}"; do
  if [ -f "$p" ]; then
    echo "$(cd "$(dirname "$p")" && pwd)/$(basename "$p")" >>"$tmp/files"
  elif [ -d "$p" ]; then
    find "$p" \( -type d \( -name errors -o -name syntax_errors -o -name node_modules \) -prune \) \
      -o \( -type f -name '*.kfl' -print \) >>"$tmp/files"
  else
    echo "warning: $p does not exist" >&2
  fi
done
sort -u -o "$tmp/files" "$tmp/files"
nfiles=$(wc -l <"$tmp/files")
echo "parsing $nfiles .kfl file(s) from: ${paths[*]}"

# ------------------------------------------------------------------ 1. VS Code

vscode_tests() {
  cd "$editors/vscode" || return 1
  log "vscode: npm"
  local t0=$SECONDS
  if [ -f package-lock.json ]; then
    npm ci --no-audit --no-fund --loglevel=error || return 1
  else
    npm install --no-audit --no-fund --loglevel=error || return 1
  fi
  record "vscode: npm ci" PASS "($((SECONDS - t0))s)"

  log "vscode: grammar generated from syntaxes/build.mjs"
  check "vscode: tmLanguage.json up to date" "" -- node syntaxes/build.mjs --check

  log "vscode: vscode-tmgrammar-test"
  local n
  n=$(ls test/*.test.kfl | wc -l)
  check "vscode: tmgrammar assertion tests" "$n file(s), $(grep -c '^ *//.*\(\^\|<-\)' test/*.test.kfl | awk -F: '{s+=$2} END {print s}') assertion line(s)" -- \
    npx --no-install vscode-tmgrammar-test "test/*.test.kfl"

  log "vscode: vscode-tmgrammar-snap (+ tokenize the .kfl paths)"
  n=$(ls test/snap/*.kfl | wc -l)
  check "vscode: tmgrammar snapshots + tokenize" "$n snapshot(s), $nfiles file(s) tokenized" -- \
    xargs -a "$tmp/files" -d '\n' node test/snap.mjs

  # The installable extension: vsce (a devDependency, so `npm ci` put it in node_modules) compiles the
  # TypeScript (`vscode:prepublish`) and packs it. A warning (a missing LICENSE, a bad field) fails here.
  log "vscode: package the extension (.vsix)"
  mkdir -p "$repo/target/editors"
  # stdin from /dev/null: vsce asks before packing past a warning; that answer is "no", not a hung job.
  check "vscode: vsce package" "target/editors/kfl.vsix" -- \
    bash -c 'npx --no-install vsce package --out "$1" </dev/null' _ "$repo/target/editors/kfl.vsix"
}

# ------------------------------------------------------------------ 2. vim

vim_tests() {
  log "vim: syntax and indent"
  if ! command -v vim >/dev/null 2>&1; then
    record "vim: syntax + indent" SKIP "(vim not installed)"
    return 0
  fi
  local out
  out=$(cd "$repo" && timeout 120 vim -Nu NONE -i NONE -es -S "$editors/vim/test/syntax_test.vim" 2>&1 </dev/null)
  local rc=$?
  out=$(printf '%s\n' "$out" | sed 's/\x1b\[[0-9;?]*[A-Za-z]//g' | tr -s ' ')
  printf '%s\n' "$out"
  if [ $rc -eq 0 ]; then
    record "vim: syntax + indent" PASS "$(printf '%s\n' "$out" | grep -o '[0-9]* checks passed' | tail -1)"
  else
    record "vim: syntax + indent" FAIL "(see above)"
  fi
}

# ------------------------------------------------------------------ 3. tree-sitter

tree_sitter_tests() {
  cd "$editors/tree-sitter-kfl" || return 1
  log "tree-sitter: CLI"
  local ts t0=$SECONDS
  if ts=$(bash "$editors/install-tree-sitter.sh"); then
    record "tree-sitter: CLI" PASS "$ts ($((SECONDS - t0))s)"
  else
    record "tree-sitter: CLI" FAIL "(cargo install tree-sitter-cli $TREE_SITTER_CLI_VERSION failed, $((SECONDS - t0))s)"
    return 1
  fi
  local version
  version=$("$ts" --version | awk '{print $2}')
  echo "using $ts ($version)"
  if [ "$version" != "$TREE_SITTER_CLI_VERSION" ]; then
    echo "warning: tree-sitter $version, the committed src/ was generated by $TREE_SITTER_CLI_VERSION" >&2
  fi
  # a config without parser directories: no warning, no scanning of $HOME
  export TREE_SITTER_DIR="$tmp/ts-config"
  mkdir -p "$TREE_SITTER_DIR"
  echo '{"parser-directories": []}' >"$TREE_SITTER_DIR/config.json"

  log "tree-sitter: committed src/ matches grammar.js"
  check "tree-sitter: generate (src/ up to date)" "" -- \
    bash -c '"$1" generate -o "$2/gen" && diff -r "$2/gen" src >/dev/null || { echo "src/ is stale: run \`tree-sitter generate\` in editors/tree-sitter-kfl" >&2; diff -r "$2/gen" src | head -20; exit 1; }' _ "$ts" "$tmp"

  log "tree-sitter: test (corpus + highlight)"
  "$ts" test >"$tmp/ts-test.log" 2>&1
  local rc=$?
  sed 's/\x1b\[[0-9;]*m//g' "$tmp/ts-test.log" | grep -v '✓' || true
  local corpus highlights
  corpus=$(sed 's/\x1b\[[0-9;]*m//g' "$tmp/ts-test.log" | grep -c '^ *[0-9]*\. ✓')
  highlights=$(sed 's/\x1b\[[0-9;]*m//g' "$tmp/ts-test.log" | grep -o '([0-9]* assertions)' | grep -o '[0-9]*' | awk '{s+=$1} END {print s+0}')
  if [ $rc -eq 0 ]; then
    record "tree-sitter: test" PASS "$corpus passing test(s), $highlights highlight assertion(s)"
  else
    record "tree-sitter: test" FAIL "(see above)"
  fi

  log "tree-sitter: parse $nfiles .kfl file(s)"
  local bad=0 f
  while IFS= read -r f; do
    [ -n "$f" ] || continue
    if "$ts" parse "$f" >"$tmp/parse.out" 2>"$tmp/parse.err" && ! grep -q '(ERROR\|(MISSING' "$tmp/parse.out"; then
      :
    else
      bad=$((bad + 1))
      echo "FAIL $f"
      grep -n 'ERROR\|MISSING' "$tmp/parse.out" | head -5
      grep -v 'parser directories\|init-config\|configuration file\|language grammars\|^$' "$tmp/parse.err" | head -5
    fi
  done <"$tmp/files"
  if [ $bad -eq 0 ]; then
    record "tree-sitter: parse .kfl files" PASS "$nfiles file(s), no ERROR/MISSING"
  else
    record "tree-sitter: parse .kfl files" FAIL "$bad of $nfiles file(s) with ERROR/MISSING"
  fi
}

# each section runs in a subshell (it may `cd` or `return` early); its summary
# lines come back through a file
run_section() {
  local fn=$1
  ( summary=(); failed=0; "$fn"; rc=$?
    printf '%s\n' "${summary[@]}" >"$tmp/$fn.summary"
    [ $rc -eq 0 ] && [ $failed -eq 0 ] )
  local rc=$?
  if [ -f "$tmp/$fn.summary" ]; then
    while IFS= read -r line; do [ -n "$line" ] && summary+=("$line"); done <"$tmp/$fn.summary"
  fi
  if [ $rc -ne 0 ]; then
    failed=1
    grep -q '^FAIL' "$tmp/$fn.summary" 2>/dev/null || record "$fn" FAIL "(aborted)"
  fi
}

summary=()
failed=0
if [ "${KFL_EDITORS_SKIP_VSCODE:-}" = 1 ]; then
  record "vscode" SKIP "(KFL_EDITORS_SKIP_VSCODE=1)"
else
  run_section vscode_tests
fi
if [ "${KFL_EDITORS_SKIP_VIM:-}" = 1 ]; then
  record "vim" SKIP "(KFL_EDITORS_SKIP_VIM=1)"
else
  run_section vim_tests
fi
if [ "${KFL_EDITORS_SKIP_TREE_SITTER:-}" = 1 ]; then
  record "tree-sitter" SKIP "(KFL_EDITORS_SKIP_TREE_SITTER=1)"
else
  run_section tree_sitter_tests
fi

printf '\n\033[1m== editors/test.sh summary (%ss)\033[0m\n' "$((SECONDS - t_all))"
printf '%s\n' "${summary[@]}"
if [ $failed -ne 0 ]; then
  echo "editors: FAILED"
  exit 1
fi
echo "editors: all checks passed"
