#!/usr/bin/env node
// TextMate snapshot tests.
//
//   node test/snap.mjs                 compare test/snap/*.kfl with their .snap files
//   node test/snap.mjs -u              regenerate the .snap files
//   node test/snap.mjs PATH…           also tokenize every .kfl under PATH… (files or
//                                      directories, e.g. ../../examples) and fail on any
//                                      `invalid.*` scope (bad units excepted: E0202 is not
//                                      a lexical error); no snapshot is written for them.
//
// Files under a directory named `errors` or `syntax_errors` are skipped.

import { spawnSync } from "node:child_process";
import { readFileSync, readdirSync, statSync, existsSync } from "node:fs";
import { dirname, join, resolve, basename } from "node:path";
import { fileURLToPath } from "node:url";
import { createRequire } from "node:module";

const require = createRequire(import.meta.url);
const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const args = process.argv.slice(2);
const update = args.includes("-u") || args.includes("--update");
const extra = args.filter((a) => !a.startsWith("-"));

// 1. snapshots of the checked-in copies of the spec examples
const bin = join(root, "node_modules", ".bin", "vscode-tmgrammar-snap");
const snap = spawnSync(bin, [...(update ? ["-u"] : []), "test/snap/*.kfl"], { cwd: root, stdio: "inherit" });
let failed = snap.status !== 0;

// 2. extra paths: every line must tokenize without an `invalid.*` scope
function collect(path, out) {
  if (!existsSync(path)) return out;
  const st = statSync(path);
  if (st.isDirectory()) {
    const name = basename(path);
    if (name === "errors" || name === "syntax_errors" || name === "node_modules") return out;
    for (const entry of readdirSync(path).sort()) collect(join(path, entry), out);
  } else if (path.endsWith(".kfl")) {
    out.push(path);
  }
  return out;
}

if (extra.length > 0) {
  const vsctm = require("vscode-textmate");
  const oniguruma = require("vscode-oniguruma");
  const wasm = readFileSync(require.resolve("vscode-oniguruma/release/onig.wasm")).buffer;
  await oniguruma.loadWASM(wasm);
  const registry = new vsctm.Registry({
    onigLib: Promise.resolve({
      createOnigScanner: (p) => new oniguruma.OnigScanner(p),
      createOnigString: (s) => new oniguruma.OnigString(s),
    }),
    loadGrammar: async (scopeName) =>
      scopeName === "source.kfl"
        ? vsctm.parseRawGrammar(readFileSync(join(root, "syntaxes", "kfl.tmLanguage.json"), "utf8"), "kfl.tmLanguage.json")
        : null,
  });
  const grammar = await registry.loadGrammar("source.kfl");
  const files = extra.flatMap((p) => collect(resolve(p), []));
  let bad = 0;
  for (const file of files) {
    let ruleStack = vsctm.INITIAL;
    const lines = readFileSync(file, "utf8").split(/\r?\n/);
    lines.forEach((line, i) => {
      const r = grammar.tokenizeLine(line, ruleStack);
      for (const t of r.tokens) {
        // a unit that does not fit is a type error (E0202), not a lexical one: not flagged here
        const invalid = t.scopes.find((s) => s.startsWith("invalid.") && s !== "invalid.illegal.unit.kfl");
        if (invalid) {
          bad++;
          console.error(`${file}:${i + 1}:${t.startIndex + 1}: ${invalid}: ${JSON.stringify(line.slice(t.startIndex, t.endIndex))}`);
        }
      }
      ruleStack = r.ruleStack;
    });
  }
  console.log(`tokenized ${files.length} extra .kfl file(s): ${bad} invalid token(s)`);
  if (bad > 0) failed = true;
}

process.exit(failed ? 1 : 0);
