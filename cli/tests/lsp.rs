//! Acceptance tests of `kfl lsp`: the built binary driven over stdio with real JSON-RPC framing.

use std::io::{BufRead, BufReader, Read, Write};
use std::path::Path;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc::{Receiver, RecvTimeoutError, channel};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

const TIMEOUT: Duration = Duration::from_secs(20);

const MAIN: &str = r#"import "lib/common.kfl" as common
import std.data

project demo {
  image = "python:3.12"
}

param epochs: int = 3

dataset raw {
  uri = "s3://demo/raw.csv"
}

step split = common.split(data = raw)
step sample = data.sample(data = split.train)

/// Train the model.
train fit(data: Dataset = sample.sample, epochs: int = epochs) -> (model: Model) {
  framework = torch
  run       = ["python3", "train.py", data, epochs, model]
}
"#;

const COMMON: &str = r#"/// Shared components.

/// Shuffle and split a CSV table.
component split(data: Dataset, fraction: float = 0.2) -> (train: Dataset, test: Dataset) {
  image = "python:3.12-slim"
  run   = ["python3", "split.py", data, train, test, "--fraction", fraction]
}
"#;

/// A running `kfl lsp` and the messages it sent that nobody has read yet.
struct Server {
    child: Child,
    stdin: ChildStdin,
    incoming: Receiver<Value>,
    pending: Vec<Value>,
    next_id: i64,
}

impl Server {
    fn start(cache: &Path) -> Server {
        let mut child = Command::new(env!("CARGO_BIN_EXE_kfl"))
            .arg("lsp")
            .env("XDG_CACHE_HOME", cache)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start kfl lsp");
        let stdin = child.stdin.take().expect("stdin");
        let stdout = child.stdout.take().expect("stdout");
        let (sender, incoming) = channel();
        std::thread::spawn(move || {
            let mut reader = BufReader::new(stdout);
            loop {
                let mut length = None;
                loop {
                    let mut line = String::new();
                    if reader.read_line(&mut line).unwrap_or(0) == 0 {
                        return;
                    }
                    let line = line.trim_end();
                    if line.is_empty() {
                        break;
                    }
                    if let Some(value) = line.strip_prefix("Content-Length: ") {
                        length = value.parse::<usize>().ok();
                    }
                }
                let mut body = vec![0; length.expect("Content-Length header")];
                if reader.read_exact(&mut body).is_err() {
                    return;
                }
                let message: Value = serde_json::from_slice(&body).expect("JSON body");
                if sender.send(message).is_err() {
                    return;
                }
            }
        });
        let mut server = Server { child, stdin, incoming, pending: Vec::new(), next_id: 1 };
        let result = server.request("initialize", json!({ "processId": null, "rootUri": null, "capabilities": {} }));
        assert!(result["capabilities"]["hoverProvider"].as_bool().unwrap_or(false), "{result}");
        server.notify("initialized", json!({}));
        server
    }

    fn send(&mut self, message: Value) {
        let body = message.to_string();
        write!(self.stdin, "Content-Length: {}\r\n\r\n{body}", body.len()).expect("write");
        self.stdin.flush().expect("flush");
    }

    fn notify(&mut self, method: &str, params: Value) {
        self.send(json!({ "jsonrpc": "2.0", "method": method, "params": params }));
    }

    fn next(&mut self, deadline: Instant) -> Value {
        match self.incoming.recv_timeout(deadline.saturating_duration_since(Instant::now())) {
            Ok(message) => message,
            Err(RecvTimeoutError::Timeout) => panic!("no message from kfl lsp within {TIMEOUT:?}"),
            Err(RecvTimeoutError::Disconnected) => panic!("kfl lsp closed its output"),
        }
    }

    /// Sends a request and returns its response (`result`, or the whole message on error).
    fn request_raw(&mut self, method: &str, params: Value) -> Value {
        let id = self.next_id;
        self.next_id += 1;
        self.send(json!({ "jsonrpc": "2.0", "id": id, "method": method, "params": params }));
        let deadline = Instant::now() + TIMEOUT;
        loop {
            let message = self.next(deadline);
            if message["id"] == json!(id) && message.get("method").is_none() {
                return message;
            }
            self.pending.push(message);
        }
    }

    fn request(&mut self, method: &str, params: Value) -> Value {
        let response = self.request_raw(method, params);
        assert!(response.get("error").is_none(), "{method} failed: {response}");
        response["result"].clone()
    }

    /// The next `publishDiagnostics` for `uri`.
    fn diagnostics(&mut self, uri: &str) -> Vec<Value> {
        let deadline = Instant::now() + TIMEOUT;
        let matches = |m: &Value| m["method"] == "textDocument/publishDiagnostics" && m["params"]["uri"] == uri;
        if let Some(index) = self.pending.iter().position(matches) {
            let message = self.pending.remove(index);
            return message["params"]["diagnostics"].as_array().cloned().unwrap_or_default();
        }
        loop {
            let message = self.next(deadline);
            if matches(&message) {
                return message["params"]["diagnostics"].as_array().cloned().unwrap_or_default();
            }
            self.pending.push(message);
        }
    }

    fn open(&mut self, uri: &str, text: &str) {
        let document = json!({ "uri": uri, "languageId": "kfl", "version": 1, "text": text });
        self.notify("textDocument/didOpen", json!({ "textDocument": document }));
    }

    fn change(&mut self, uri: &str, version: i64, text: &str) {
        self.notify(
            "textDocument/didChange",
            json!({ "textDocument": { "uri": uri, "version": version }, "contentChanges": [{ "text": text }] }),
        );
    }

    fn shutdown(mut self) {
        let result = self.request("shutdown", Value::Null);
        assert_eq!(result, Value::Null);
        self.notify("exit", Value::Null);
        let deadline = Instant::now() + TIMEOUT;
        loop {
            if let Some(status) = self.child.try_wait().expect("wait") {
                assert!(status.success(), "kfl lsp exited with {status}");
                return;
            }
            assert!(Instant::now() < deadline, "kfl lsp did not exit");
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

fn uri(path: &Path) -> String {
    format!("file://{}", path.display())
}

/// A project on disk: `main.kfl` importing `lib/common.kfl` and `std.data`.
fn fixture() -> (tempfile::TempDir, String) {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::create_dir_all(dir.path().join("lib")).expect("lib");
    std::fs::write(dir.path().join("lib/common.kfl"), COMMON).expect("write common");
    std::fs::write(dir.path().join("main.kfl"), MAIN).expect("write main");
    let main = uri(&dir.path().join("main.kfl"));
    (dir, main)
}

/// Line and character of the first occurrence of `needle` in `text`, plus `extra` characters.
fn at(text: &str, needle: &str, extra: usize) -> Value {
    let offset = text.find(needle).unwrap_or_else(|| panic!("`{needle}` not in text")) + extra;
    let line = text[..offset].matches('\n').count();
    let character = offset - text[..offset].rfind('\n').map_or(0, |i| i + 1);
    json!({ "line": line, "character": character })
}

fn position(uri: &str, text: &str, needle: &str, extra: usize) -> Value {
    json!({ "textDocument": { "uri": uri }, "position": at(text, needle, extra) })
}

/// Decodes relative semantic tokens into (line, character) → token type.
fn semantic_types(tokens: &Value) -> std::collections::BTreeMap<(u64, u64), u64> {
    let data: Vec<u64> = tokens["data"].as_array().into_iter().flatten().filter_map(Value::as_u64).collect();
    assert!(!data.is_empty() && data.len().is_multiple_of(5), "{tokens}");
    let (mut line, mut character) = (0, 0);
    let mut out = std::collections::BTreeMap::new();
    for token in data.chunks(5) {
        line += token[0];
        character = if token[0] == 0 { character + token[1] } else { token[1] };
        out.insert((line, character), token[3]);
    }
    out
}

fn position_key(text: &str, needle: &str) -> (u64, u64) {
    let value = at(text, needle, 0);
    (value["line"].as_u64().unwrap_or(0), value["character"].as_u64().unwrap_or(0))
}

fn labels(items: &Value) -> Vec<String> {
    let items = items.as_array().or_else(|| items["items"].as_array()).cloned().unwrap_or_default();
    items.iter().filter_map(|i| i["label"].as_str().map(str::to_string)).collect()
}

#[test]
fn diagnostics_follow_edits() {
    let (dir, main) = fixture();
    let mut server = Server::start(dir.path());
    let broken =
        MAIN.replace("framework = torch", "framework = torchh").replace("data, epochs, model", "data, epoch, model");
    server.open(&main, &broken);
    let diagnostics = server.diagnostics(&main);
    let codes: Vec<&str> = diagnostics.iter().filter_map(|d| d["code"].as_str()).collect();
    assert_eq!(codes, ["E0201", "E0101"], "{diagnostics:#?}");
    assert_eq!(diagnostics[0]["range"]["start"], at(&broken, "torchh", 0));
    assert_eq!(diagnostics[0]["range"]["end"], at(&broken, "torchh", 6));
    assert_eq!(diagnostics[1]["range"]["start"], at(&broken, "epoch, model", 0));
    assert_eq!(diagnostics[1]["range"]["end"], at(&broken, "epoch, model", 5));
    assert_eq!(diagnostics[0]["severity"], 1);
    assert!(diagnostics[0]["message"].as_str().unwrap_or("").contains("did you mean `torch`?"));

    server.change(&main, 2, MAIN);
    assert_eq!(server.diagnostics(&main), Vec::<Value>::new());
    server.shutdown();
}

#[test]
fn cluster_only_refusals_arrive_as_warnings() {
    let (dir, main) = fixture();
    let mut server = Server::start(dir.path());
    // An `always` stage inside a `for`: `kfl run` runs it, KFP has no exit handler there (W0402, an error only
    // for `kfl build`).
    let local =
        format!("{MAIN}\nfor i in 0..1 {{\n  step each(i: int = i) {{ run = [\"each\", i], always = true }}\n}}\n");
    server.open(&main, &local);
    let diagnostics = server.diagnostics(&main);
    let codes: Vec<&str> = diagnostics.iter().filter_map(|d| d["code"].as_str()).collect();
    assert_eq!(codes, ["W0402"], "{diagnostics:#?}");
    assert_eq!(diagnostics[0]["severity"], 2, "{diagnostics:#?}");
    assert_eq!(diagnostics[0]["range"]["start"], at(&local, "step each", 5));
    assert!(diagnostics[0]["message"].as_str().unwrap_or("").contains("`each`"), "{diagnostics:#?}");

    // A local file without `project.artifacts`: staged for KFP's default bucket by `kfl build` (W0403).
    let local = MAIN.replace("s3://demo/raw.csv", "data/raw.csv");
    server.change(&main, 2, &local);
    let diagnostics = server.diagnostics(&main);
    let codes: Vec<&str> = diagnostics.iter().filter_map(|d| d["code"].as_str()).collect();
    assert_eq!(codes, ["W0403"], "{diagnostics:#?}");
    assert_eq!(diagnostics[0]["severity"], 2, "{diagnostics:#?}");
    assert_eq!(diagnostics[0]["range"]["start"], at(&local, "dataset raw", 8));

    server.change(&main, 3, MAIN);
    assert_eq!(server.diagnostics(&main), Vec::<Value>::new());
    server.shutdown();
}

#[test]
fn secondary_labels_become_related_information() {
    let (dir, main) = fixture();
    let mut server = Server::start(dir.path());
    let twice = format!("{MAIN}\nparam epochs: int = 4\n");
    server.open(&main, &twice);
    let diagnostics = server.diagnostics(&main);
    let duplicate = diagnostics.iter().find(|d| d["code"] == "E0102").expect("E0102");
    let related = &duplicate["relatedInformation"][0];
    assert_eq!(related["location"]["uri"], main);
    assert_eq!(related["location"]["range"]["start"], at(&twice, "epochs: int = 3", 0));
    server.shutdown();
}

#[test]
fn hover_shows_type_doc_and_property_meaning() {
    let (dir, main) = fixture();
    let mut server = Server::start(dir.path());
    server.open(&main, MAIN);
    assert!(server.diagnostics(&main).is_empty());

    let hover = server.request("textDocument/hover", position(&main, MAIN, "fit(", 1));
    let text = hover["contents"]["value"].as_str().unwrap_or_default();
    assert!(text.contains("train fit(data: Dataset = sample.sample"), "{text}");
    assert!(text.contains("Train the model."), "{text}");

    let hover = server.request("textDocument/hover", position(&main, MAIN, "epochs: int = epochs", 16));
    let text = hover["contents"]["value"].as_str().unwrap_or_default();
    assert!(text.contains("param epochs: int = 3"), "{text}");

    let hover = server.request("textDocument/hover", position(&main, MAIN, "framework", 2));
    let text = hover["contents"]["value"].as_str().unwrap_or_default();
    assert!(text.contains("Training framework"), "{text}");
    assert!(text.contains("`torch`") && text.contains("`deepspeed`"), "{text}");
    assert!(text.contains("required"), "{text}");
    server.shutdown();
}

#[test]
fn definition_crosses_imports_and_reaches_the_standard_library() {
    let (dir, main) = fixture();
    let mut server = Server::start(dir.path());
    server.open(&main, MAIN);
    server.diagnostics(&main);

    let common = uri(&dir.path().join("lib/common.kfl"));
    let found = server.request("textDocument/definition", position(&main, MAIN, "common.split(", 8));
    assert_eq!(found["uri"], common, "{found}");
    assert_eq!(found["range"]["start"], at(COMMON, "split(", 0));

    let found = server.request("textDocument/definition", position(&main, MAIN, "split.train", 7));
    assert_eq!(found["uri"], common, "{found}");
    assert_eq!(found["range"]["start"], at(COMMON, "train: Dataset", 0));

    let found = server.request("textDocument/definition", position(&main, MAIN, "data.sample(", 6));
    let target = found["uri"].as_str().unwrap_or_default().to_string();
    assert!(target.ends_with("/data.kfl"), "{found}");
    let std_file = target.strip_prefix("file://").expect("file uri");
    let std_text = std::fs::read_to_string(std_file).expect("std module written to the cache folder");
    assert_eq!(found["range"]["start"], at(&std_text, "sample(", 0));
    assert!(std_file.starts_with(&dir.path().display().to_string()), "{std_file}");
    // Opened in the editor, the module checks clean: it is a library, it needs no `project`.
    server.open(&target, &std_text);
    assert_eq!(server.diagnostics(&target), Vec::<Value>::new());

    let found = server.request("textDocument/definition", position(&main, MAIN, "epochs, model", 1));
    assert_eq!(found["range"]["start"], at(MAIN, "epochs: int = epochs", 0));
    server.shutdown();
}

#[test]
fn completion_offers_properties_enum_values_and_outputs() {
    let (dir, main) = fixture();
    let mut server = Server::start(dir.path());
    server.open(&main, MAIN);
    server.diagnostics(&main);

    let typing = MAIN.replace("  framework = torch\n", "  framework = torch\n  \n");
    server.change(&main, 2, &typing);
    server.diagnostics(&main);
    let inside = position(&main, &typing, "torch\n  \n", 8);
    let items = server.request(
        "textDocument/completion",
        json!({ "textDocument": inside["textDocument"], "position": inside["position"] }),
    );
    let names = labels(&items);
    for expected in ["framework", "nodes", "run", "image", "resources"] {
        assert!(names.contains(&expected.to_string()), "{expected} missing from {names:?}");
    }
    assert!(!names.contains(&"uri".to_string()), "dataset property offered in train: {names:?}");
    let framework = items.as_array().into_iter().flatten().find(|i| i["label"] == "framework").expect("framework");
    assert!(framework["documentation"]["value"].as_str().unwrap_or("").contains("Training framework"));

    let typing = MAIN.replace("framework = torch", "framework = ");
    server.change(&main, 3, &typing);
    server.diagnostics(&main);
    let mut after_space = position(&main, &typing, "framework = ", 12);
    after_space["context"] = json!({ "triggerKind": 2, "triggerCharacter": " " });
    let names = labels(&server.request("textDocument/completion", after_space));
    assert!(names.contains(&"torch".to_string()) && names.contains(&"jax".to_string()), "{names:?}");
    let mut mid_list = position(&main, &typing, "train.py\", data", 10);
    mid_list["context"] = json!({ "triggerKind": 2, "triggerCharacter": " " });
    assert_eq!(labels(&server.request("textDocument/completion", mid_list)), Vec::<String>::new());
    assert!(!names.contains(&"epochs".to_string()), "{names:?}");

    let typing = MAIN.replace("framework = torch", "framework = to");
    server.change(&main, 4, &typing);
    server.diagnostics(&main);
    let names = labels(&server.request("textDocument/completion", position(&main, &typing, "framework = to", 14)));
    assert_eq!(names, ["torch"]);

    let typing = MAIN.replace("sample.sample,", "split.,");
    server.change(&main, 5, &typing);
    server.diagnostics(&main);
    let names = labels(&server.request("textDocument/completion", position(&main, &typing, "split.,", 6)));
    assert_eq!(names, ["train", "test"]);

    let typing = format!("{MAIN}\n");
    server.change(&main, 6, &typing);
    server.diagnostics(&main);
    let end =
        json!({ "textDocument": { "uri": main }, "position": { "line": typing.lines().count(), "character": 0 } });
    let names = labels(&server.request("textDocument/completion", end));
    for expected in ["train", "step", "tune", "serve", "import"] {
        assert!(names.contains(&expected.to_string()), "{expected} missing from {names:?}");
    }
    server.shutdown();
}

#[test]
fn rename_references_symbols_tokens_and_formatting() {
    let (dir, main) = fixture();
    let mut server = Server::start(dir.path());
    server.open(&main, MAIN);
    server.diagnostics(&main);

    let refs = server.request(
        "textDocument/references",
        json!({ "textDocument": { "uri": main }, "position": at(MAIN, "epochs: int = 3", 1), "context": { "includeDeclaration": true } }),
    );
    assert_eq!(refs.as_array().map(Vec::len), Some(2), "{refs}");

    let edit = server.request(
        "textDocument/rename",
        json!({ "textDocument": { "uri": main }, "position": at(MAIN, "sample = data", 1), "newName": "subset" }),
    );
    let edits = edit["documentChanges"][0]["edits"].as_array().cloned().unwrap_or_default();
    assert_eq!(edit["documentChanges"][0]["textDocument"]["uri"], main);
    let starts: Vec<Value> = edits.iter().map(|e| e["range"]["start"].clone()).collect();
    assert_eq!(starts, [at(MAIN, "sample = data", 0), at(MAIN, "sample.sample", 0)], "{edit}");
    assert!(edits.iter().all(|e| e["newText"] == "subset"));

    let refused = server.request_raw(
        "textDocument/rename",
        json!({ "textDocument": { "uri": main }, "position": at(MAIN, "framework", 1), "newName": "x" }),
    );
    assert!(refused["error"]["message"].as_str().unwrap_or("").contains("property"), "{refused}");

    let symbols = server.request("textDocument/documentSymbol", json!({ "textDocument": { "uri": main } }));
    let names: Vec<&str> = symbols.as_array().into_iter().flatten().filter_map(|s| s["name"].as_str()).collect();
    assert_eq!(names, ["common", "std.data", "demo", "epochs", "raw", "split", "sample", "fit"]);

    let tokens = server.request("textDocument/semanticTokens/full", json!({ "textDocument": { "uri": main } }));
    let types = semantic_types(&tokens);
    // Indexes into the legend announced by `initialize`.
    let (keyword, function, property, enum_member, type_name) = (0, 2, 6, 7, 1);
    assert_eq!(types.get(&position_key(MAIN, "train fit")), Some(&keyword), "{types:?}");
    assert_eq!(types.get(&position_key(MAIN, "fit(")), Some(&function));
    assert_eq!(types.get(&position_key(MAIN, "framework")), Some(&property));
    assert_eq!(types.get(&position_key(MAIN, "torch")), Some(&enum_member));
    assert_eq!(types.get(&position_key(MAIN, "Dataset = sample")), Some(&type_name));

    let messy = MAIN.replace("  framework = torch", "framework    =   torch");
    server.change(&main, 2, &messy);
    server.diagnostics(&main);
    let edits = server.request(
        "textDocument/formatting",
        json!({ "textDocument": { "uri": main }, "options": { "tabSize": 2, "insertSpaces": true } }),
    );
    let edits = edits.as_array().cloned().unwrap_or_default();
    assert_eq!(edits.len(), 1, "{edits:?}");
    assert_eq!(edits[0]["newText"], MAIN);
    server.shutdown();
}

#[test]
fn errors_in_an_imported_file_are_published_under_its_uri() {
    let (dir, main) = fixture();
    let broken = COMMON.replace("fraction: float = 0.2", "fraction: float = \"x\"");
    std::fs::write(dir.path().join("lib/common.kfl"), &broken).expect("write common");
    let common = uri(&dir.path().join("lib/common.kfl"));
    let mut server = Server::start(dir.path());
    server.open(&main, MAIN);
    let diagnostics = server.diagnostics(&common);
    let codes: Vec<&str> = diagnostics.iter().filter_map(|d| d["code"].as_str()).collect();
    assert_eq!(codes, ["E0201"], "{diagnostics:#?}");
    assert_eq!(diagnostics[0]["range"]["start"], at(&broken, "\"x\"", 0));

    // Fixed on disk and announced by the client's file watcher: the importer is re-checked.
    std::fs::write(dir.path().join("lib/common.kfl"), COMMON).expect("write common");
    server.notify("workspace/didChangeWatchedFiles", json!({ "changes": [{ "uri": common, "type": 2 }] }));
    assert!(server.diagnostics(&main).is_empty());
    assert!(server.diagnostics(&common).is_empty());
    server.shutdown();
}

#[test]
fn edits_to_a_large_file_report_positions_after_the_edit() {
    // Large enough to be parsed in pieces, whose trees the server reuses between changes.
    let mut text =
        String::from("project big {\n  image = \"x\"\n}\n\ndataset raw {\n  uri = \"s3://big/raw.csv\"\n}\n\n");
    for i in 0..600 {
        text.push_str(&format!(
            "/// Step {i}.\nstep s{i}(d: Dataset = raw) -> (out: Dataset) {{\n  run = [\"echo\", d, out]\n}}\n\n"
        ));
    }
    assert!(text.len() > 40_000);
    let dir = tempfile::tempdir().expect("tempdir");
    let big = uri(&dir.path().join("big.kfl"));
    let mut server = Server::start(dir.path());
    server.open(&big, &text);
    assert!(server.diagnostics(&big).is_empty());

    let edited = text
        .replacen("project big", "/// A longer file now.\n\nproject big", 1)
        .replace("[\"echo\", d, out]\n}\n\n/// Step 300.", "[\"echo\", dd, out]\n}\n\n/// Step 300.");
    server.change(&big, 2, &edited);
    let diagnostics = server.diagnostics(&big);
    let codes: Vec<&str> = diagnostics.iter().filter_map(|d| d["code"].as_str()).collect();
    assert_eq!(codes, ["E0101"], "{diagnostics:#?}");
    assert_eq!(diagnostics[0]["range"]["start"], at(&edited, "dd, out", 0));
    let hover = server.request("textDocument/hover", position(&big, &edited, "s350(", 1));
    assert!(hover["contents"]["value"].as_str().unwrap_or("").contains("Step 350."), "{hover}");

    server.change(&big, 3, &text);
    assert!(server.diagnostics(&big).is_empty());
    server.shutdown();
}

#[test]
fn editing_an_open_import_rechecks_its_importer() {
    let (dir, main) = fixture();
    let mut server = Server::start(dir.path());
    server.open(&main, MAIN);
    assert!(server.diagnostics(&main).is_empty());
    let common = uri(&dir.path().join("lib/common.kfl"));
    server.open(&common, COMMON);
    assert!(server.diagnostics(&common).is_empty());
    server.diagnostics(&main);

    let renamed =
        COMMON.replace("train: Dataset, test", "fit: Dataset, test").replace("data, train, test", "data, fit, test");
    server.change(&common, 2, &renamed);
    assert!(server.diagnostics(&common).is_empty());
    let diagnostics = server.diagnostics(&main);
    let codes: Vec<&str> = diagnostics.iter().filter_map(|d| d["code"].as_str()).collect();
    assert_eq!(codes, ["E0304"], "{diagnostics:#?}");
    server.shutdown();
}

/// Documents no tree may follow (a flat chain of 4,000 `+`, 5,000 nested `for` blocks, a long chain
/// typed in at the end of a valid file) are refused with E0001 and the server answers afterwards: it
/// neither overflows its stack nor stops.
#[test]
fn the_server_survives_deep_documents() {
    let (dir, main) = fixture();
    let mut server = Server::start(dir.path());
    let chain = format!("project p {{ image = \"x\" }}\nparam n: int = {}\n", vec!["1"; 4_000].join(" + "));
    let blocks = format!(
        "project p {{ image = \"x\" }}\n{}step a {{ run = [\"x\"] }}\n{}",
        (0..5_000).map(|k| format!("for i{k} in [1] {{\n")).collect::<String>(),
        "}\n".repeat(5_000)
    );
    let typed = format!("{MAIN}\nparam m: bool = {}\n", vec!["true"; 5_000].join(" && "));
    server.open(&main, &chain);
    for (version, text) in [(2, &chain), (3, &blocks), (4, &typed)] {
        server.change(&main, version, text);
        let diagnostics = server.diagnostics(&main);
        assert!(
            diagnostics.iter().any(|d| d["message"].as_str().unwrap_or("").contains("levels deep")),
            "{:?}",
            diagnostics.iter().take(3).collect::<Vec<_>>()
        );
        // Every request that walks the tree still answers.
        server.request("textDocument/documentSymbol", json!({ "textDocument": { "uri": main } }));
        server.request("textDocument/semanticTokens/full", json!({ "textDocument": { "uri": main } }));
        server.request_raw(
            "textDocument/formatting",
            json!({ "textDocument": { "uri": main }, "options": { "tabSize": 2, "insertSpaces": true } }),
        );
        server.request(
            "textDocument/hover",
            json!({ "textDocument": { "uri": main }, "position": { "line": 1, "character": 20 } }),
        );
    }
    server.change(&main, 5, MAIN);
    // Publications of the deep versions may still be queued: the server is well once the fixed one comes.
    let deep = |d: &Value| d["message"].as_str().unwrap_or("").contains("levels deep");
    while server.diagnostics(&main).iter().any(deep) {}
    server.shutdown();
}
