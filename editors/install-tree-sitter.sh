#!/usr/bin/env bash
# The tree-sitter CLI the editor tests use: prints its path, installing the pinned version with
# cargo when none is found (a few minutes of compiling: .ci/run starts this in the background while
# Rust compiles, editors/test.sh calls it again and finds it). `--version` prints the pinned version.
# Environment: TREE_SITTER (the CLI to use), CARGO_INSTALL_ROOT / CARGO_HOME (where cargo installs).
set -euo pipefail
# The version whose `tree-sitter generate` wrote the committed editors/tree-sitter-kfl/src/.
version=0.27.1
if [ "${1:-}" = --version ]; then
  echo "$version"
  exit 0
fi
cargo_bin="${CARGO_INSTALL_ROOT:-${CARGO_HOME:-$HOME/.cargo}}/bin"
if [ -n "${TREE_SITTER:-}" ]; then
  echo "$TREE_SITTER"
elif command -v tree-sitter >/dev/null 2>&1; then
  command -v tree-sitter
elif [ -x "$cargo_bin/tree-sitter" ]; then
  echo "$cargo_bin/tree-sitter"
else
  echo "installing tree-sitter-cli $version with cargo (a few minutes)…" >&2
  cargo install tree-sitter-cli --version "$version" --locked >&2
  echo "$cargo_bin/tree-sitter"
fi
