#!/usr/bin/env bash
# Renders highlighted kfl source to a PNG for the README (docs/highlight.png):
# tree-sitter's highlighter with editors/tree-sitter-kfl/queries/highlights.scm
# → HTML with our colour theme → a headless Chromium screenshot.
#
# Usage: editors/render-highlight.sh [FILE] [FIRST_LINE] [LAST_LINE] [OUT.png]
#   defaults: examples/iris/iris.kfl, its whole text, docs/highlight.png
# Needs: the tree-sitter CLI (see editors/test.sh) and chromium (`apt-get install chromium`).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
file=$(realpath "${1:-$root/examples/iris/iris.kfl}")
first=${2:-1}
last=${3:-$(wc -l < "$file")}
out=$(realpath -m "${4:-$root/docs/highlight.png}")

ts=$(command -v tree-sitter || echo "$HOME/.cargo/bin/tree-sitter")
chromium=$(command -v chromium || command -v chromium-browser || command -v google-chrome || true)
[ -x "$ts" ] || { echo "error: the tree-sitter CLI is not installed (cargo install tree-sitter-cli)" >&2; exit 2; }
[ -n "$chromium" ] || { echo "error: chromium is not installed (apt-get install chromium)" >&2; exit 2; }

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
sed -n "${first},${last}p" "$file" > "$tmp/$(basename "$file")"
excerpt="$tmp/$(basename "$file")"
# Run inside the grammar so its tree-sitter.json (scope, queries) is used.
(cd "$root/editors/tree-sitter-kfl" && "$ts" highlight --html --style minimal --layout fragment "$excerpt" 2>/dev/null) > "$tmp/code.html"
grep -q "<span class='keyword'>" "$tmp/code.html" || { echo "error: tree-sitter produced no highlighting" >&2; exit 1; }

lines=$(wc -l < "$excerpt")
columns=$(awk '{ if (length($0) > m) m = length($0) } END { print m }' "$excerpt")
# DejaVu Sans Mono at 14px: 8.43px per column, 20px per line; padding and the title bar around.
width=$(( columns * 843 / 100 + 64 ))
height=$(( lines * 20 + 78 ))

{
  cat <<HTML
<!doctype html>
<html><head><meta charset="utf-8"><style>
  html, body { margin: 0; background: #1e2127; }
  .window { margin: 0; background: #282c34; color: #abb2bf; height: 100vh; box-sizing: border-box; }
  .bar { height: 34px; display: flex; align-items: center; padding: 0 14px; background: #21252b; }
  .dot { width: 12px; height: 12px; border-radius: 50%; margin-right: 8px; }
  .title { margin-left: 12px; font: 13px "DejaVu Sans", sans-serif; color: #9da5b4; }
  .highlight pre { margin: 0; padding: 16px 24px; font: 14px/20px "DejaVu Sans Mono", monospace; }
  .comment { color: #7f848e; font-style: italic; }
  .comment.documentation { color: #8fa876; }
  .keyword { color: #c678dd; }
  .string { color: #98c379; }
  .string.escape, .punctuation.special { color: #56b6c2; }
  .number { color: #d19a66; }
  .boolean { color: #d19a66; }
  .type, .label { color: #e5c07b; }
  .type.builtin { color: #e5c07b; font-style: italic; }
  .module, .type.definition { color: #e5c07b; font-weight: bold; }
  .function, .function.call { color: #61afef; }
  .function.builtin { color: #56b6c2; }
  .property { color: #e06c75; }
  .constant { color: #d19a66; }
  .constant.builtin { color: #56b6c2; }
  .variable.parameter { color: #ef9f76; }
  .variable.member { color: #e06c75; }
  .variable.builtin { color: #56b6c2; }
  .operator { color: #56b6c2; }
  .punctuation { color: #abb2bf; }
</style></head><body><div class="window">
<div class="bar"><span class="dot" style="background:#ff5f56"></span><span class="dot" style="background:#ffbd2e"></span><span class="dot" style="background:#27c93f"></span><span class="title">$(basename "$file")</span></div>
HTML
  cat "$tmp/code.html"
  echo "</div></body></html>"
} > "$tmp/page.html"

mkdir -p "$(dirname "$out")"
"$chromium" --headless --no-sandbox --disable-gpu --disable-background-networking --disable-component-update \
  --disable-sync --no-first-run --hide-scrollbars --user-data-dir="$tmp/profile" \
  --screenshot="$out" --window-size="$width,$height" "file://$tmp/page.html" >/dev/null 2>&1
[ -s "$out" ] || { echo "error: chromium wrote no screenshot" >&2; exit 1; }
echo "wrote $out (${width}x${height}, lines $first-$last of ${file#"$root"/})"
