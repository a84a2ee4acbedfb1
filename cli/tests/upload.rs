//! `kfl apply` uploads the staged datasets to a real S3 implementation that checks every request's Signature Version 4 (tests/s3fake: rclone/gofakes3 in memory), with the key pair read from the project's Secret through a fake API server or from the environment.
//!
//! Shown: the first apply uploads every file under the content address `kfl build` stages it at, a second one
//! uploads nothing, a wrong secret key is refused with the store's own error and nothing is applied, a changed
//! file goes to a new content address, no key pair anywhere is exit 2 naming both places, and a dry run
//! contacts no store. Where Go is not installed the build script (cli/build.rs) sets `kfl_testbed_without_go`
//! and the test is ignored with a reason `cargo test` prints on its line.

// Its `Applied` records hold more than this test reads.
#[allow(dead_code)]
#[path = "deploy/fake_apiserver.rs"]
mod fake_apiserver;
// For its kubeconfig writer and `serve`.
#[allow(dead_code)]
#[path = "launch/fake_cluster.rs"]
mod fake_cluster;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::{Arc, Mutex};

use serde_json::json;

const ACCESS_KEY: &str = "AKIAKFLTEST";
const SECRET_KEY: &str = "kfl-test-secret/0123456789";
const BUCKET: &str = "kfl-data";
const NAMESPACE: &str = "ml";

const PROGRAM: &str = r#"project stored {
  image            = "python:3.12"
  namespace        = "ml"
  artifacts        = "s3://kfl-data/team"
  artifacts_secret = store
}

secret store {
  k8s  = "team-store"
  keys = ["AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"]
}

volume scratch { size = 1Gi }

dataset raw { uri = "data/train.csv" }
dataset images { uri = "images" }

step prep(src: Dataset = raw, pictures: Dataset = images) -> (out: Dataset) {
  run = ["python3", "prep.py", src, pictures, out]
  mount scratch at "/scratch"
}
"#;

/// The fake store: the child process and every request line it printed ("METHOD PATH STATUS").
struct Store {
    child: Child,
    address: String,
    requests: Arc<Mutex<Vec<String>>>,
}

impl Store {
    fn start() -> Store {
        let binary = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("s3fake");
        let source = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/s3fake");
        let built = Command::new("go")
            .args(["build", "-o"])
            .arg(&binary)
            .arg(".")
            .current_dir(&source)
            .status()
            .expect("go runs");
        assert!(built.success(), "go build of tests/s3fake failed");
        let mut child = Command::new(&binary)
            .args(["--access-key", ACCESS_KEY, "--secret-key", SECRET_KEY, "--bucket", BUCKET])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("s3fake starts");
        let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
        let address = lines.next().expect("an address line").expect("readable");
        let requests = Arc::new(Mutex::new(Vec::new()));
        let seen = Arc::clone(&requests);
        std::thread::spawn(move || {
            for line in lines.map_while(Result::ok) {
                seen.lock().expect("lock").push(line);
            }
        });
        Store { child, address, requests }
    }

    fn url(&self) -> String {
        format!("http://{}", self.address)
    }

    /// The request lines since `from`, once the store printed them (it prints after answering).
    fn since(&self, from: usize) -> Vec<String> {
        std::thread::sleep(std::time::Duration::from_millis(200));
        self.requests.lock().expect("lock")[from..].to_vec()
    }

    fn count(&self) -> usize {
        self.requests.lock().expect("lock").len()
    }
}

impl Drop for Store {
    fn drop(&mut self) {
        // Closing stdin ends it; the kill covers a store that stopped reading.
        drop(self.child.stdin.take());
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn kfl(dir: &Path, kubeconfig: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_kfl"));
    command
        .args(args)
        .current_dir(dir)
        .env("KUBECONFIG", kubeconfig)
        .env("NO_COLOR", "1")
        .env_remove("AWS_ACCESS_KEY_ID")
        .env_remove("AWS_SECRET_ACCESS_KEY")
        .env_remove("KUBERNETES_SERVICE_HOST")
        .env_remove("KUBERNETES_SERVICE_PORT");
    for (name, value) in env {
        command.env(name, value);
    }
    command.output().expect("kfl runs")
}

fn text(output: &Output) -> String {
    format!("{}\n{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr))
}

/// The files `kfl build` staged, as the object paths the store must hold (`/BUCKET/team/datasets/…`).
fn staged_objects(dir: &Path, kubeconfig: &Path) -> Vec<String> {
    let out = dir.join(format!("build-{}", std::fs::read_dir(dir).map(|d| d.count()).unwrap_or(0)));
    let built = kfl(dir, kubeconfig, &["build", "stored.kfl", "-o", &out.to_string_lossy()], &[]);
    assert!(built.status.success(), "{}", text(&built));
    let mut found = Vec::new();
    let mut stack = vec![out.join("stage")];
    while let Some(folder) = stack.pop() {
        for entry in std::fs::read_dir(&folder).expect("stage/ is a folder") {
            let path = entry.expect("entry").path();
            if path.is_dir() {
                stack.push(path);
            } else {
                let relative =
                    path.strip_prefix(out.join("stage")).expect("under stage/").to_string_lossy().into_owned();
                found.push(format!("/{BUCKET}/team/{relative}"));
            }
        }
    }
    found.sort();
    found
}

fn puts(lines: &[String]) -> Vec<String> {
    let mut paths: Vec<String> = lines
        .iter()
        .filter_map(|l| l.strip_prefix("PUT ").and_then(|rest| rest.strip_suffix(" 200")).map(str::to_string))
        .collect();
    paths.sort();
    paths
}

#[test]
#[cfg_attr(
    kfl_testbed_without_go,
    ignore = "SKIPPED: Go is not installed, so tests/s3fake cannot be built: kfl apply's dataset uploads were not \
              checked against an S3 server that verifies signatures"
)]
fn apply_uploads_staged_datasets_once_signed_with_the_declared_secret() {
    let store = Store::start();
    let (api, server) = fake_apiserver::start();
    let dir = tempfile::tempdir().expect("a scratch directory");
    let kubeconfig = fake_cluster::kubeconfig(dir.path(), &api);
    let work = dir.path().join("project");
    std::fs::create_dir_all(work.join("data")).expect("data/");
    std::fs::create_dir_all(work.join("images/cats")).expect("images/");
    std::fs::write(work.join("stored.kfl"), PROGRAM).expect("program");
    std::fs::write(work.join("data/train.csv"), "x,y\n1,2\n3,4\n").expect("csv");
    std::fs::write(work.join("images/a.png"), [0u8, 1, 2, 3]).expect("png");
    std::fs::write(work.join("images/cats/b.png"), [9u8; 1000]).expect("png");
    let endpoint = store.url();
    let apply = ["apply", "stored.kfl", "--artifacts-endpoint", endpoint.as_str()];
    let applied_count = || server.lock().expect("lock").applied.len();

    // No key pair in the environment and no Secret: exit 2 naming both places, nothing sent anywhere.
    let none = kfl(&work, &kubeconfig, &apply, &[]);
    let said = text(&none);
    assert_eq!(none.status.code(), Some(2), "{said}");
    for place in ["AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "Secret `team-store`", "namespace `ml`"] {
        assert!(said.contains(place), "the error must name {place}:\n{said}");
    }
    assert_eq!(applied_count(), 0, "nothing is applied without the data");
    assert_eq!(store.count(), 0, "no request reaches the store without a key pair");

    // A dry run lists the datasets and contacts no store.
    let dry = kfl(&work, &kubeconfig, &[&apply[..], &["--dry-run=server"]].concat(), &[]);
    assert!(dry.status.success(), "{}", text(&dry));
    let shown = text(&dry);
    assert!(shown.contains("Dataset/raw would be uploaded") && shown.contains("Dataset/images would be uploaded"));
    assert!(shown.contains("2 file(s), 1004 bytes"), "{shown}");
    assert_eq!(store.count(), 0, "a dry run uploads nothing");

    // The Secret in the project's namespace: the first apply uploads every staged file, where kfl build put it.
    let encode = |text: &str| {
        // The API serves Secret data base64-encoded (standard alphabet, padded).
        const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
        let bytes = text.as_bytes();
        let mut out = String::new();
        for chunk in bytes.chunks(3) {
            let n = chunk.iter().enumerate().fold(0u32, |n, (i, b)| n | (u32::from(*b) << (16 - 8 * i)));
            for i in 0..4 {
                if i <= chunk.len() {
                    out.push(ALPHABET[(n >> (18 - 6 * i)) as usize & 63] as char);
                } else {
                    out.push('=');
                }
            }
        }
        out
    };
    server.lock().expect("lock").objects.insert(
        format!("/api/v1/namespaces/{NAMESPACE}/secrets/team-store"),
        json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "team-store", "namespace": NAMESPACE},
               "data": {"AWS_ACCESS_KEY_ID": encode(ACCESS_KEY), "AWS_SECRET_ACCESS_KEY": encode(SECRET_KEY)}}),
    );
    let expected = staged_objects(&work, &kubeconfig);
    assert_eq!(expected.len(), 3, "{expected:?}");
    let before = store.count();
    let first = kfl(&work, &kubeconfig, &apply, &[]);
    assert!(first.status.success(), "{}", text(&first));
    let out = String::from_utf8_lossy(&first.stdout).into_owned();
    assert!(out.contains("Dataset/raw uploaded: 1 file(s), 12 bytes; 0 unchanged"), "{out}");
    assert!(out.contains("Dataset/images uploaded: 2 file(s), 1004 bytes; 0 unchanged"), "{out}");
    assert_eq!(puts(&store.since(before)), expected, "the store holds exactly the staged files, at their addresses");
    let applied: Vec<String> =
        server.lock().expect("lock").applied.iter().filter(|a| !a.dry_run).map(|a| a.kind.clone()).collect();
    assert_eq!(applied, ["PersistentVolumeClaim"], "the manifests are applied after the data");

    // Again: every object is there with its size, so nothing is uploaded.
    let before = store.count();
    let second = kfl(&work, &kubeconfig, &apply, &[]);
    assert!(second.status.success(), "{}", text(&second));
    let out = String::from_utf8_lossy(&second.stdout).into_owned();
    assert!(out.contains("Dataset/raw uploaded: 0 file(s), 0 bytes; 1 unchanged"), "{out}");
    assert!(out.contains("Dataset/images uploaded: 0 file(s), 0 bytes; 2 unchanged"), "{out}");
    let lines = store.since(before);
    assert!(puts(&lines).is_empty() && lines.iter().all(|l| l.starts_with("HEAD ")), "{lines:?}");

    // A wrong secret key from the environment (read before the Secret): the store's refusal is quoted, and
    // nothing is applied.
    let applied_before = applied_count();
    let wrong = kfl(
        &work,
        &kubeconfig,
        &apply,
        &[("AWS_ACCESS_KEY_ID", ACCESS_KEY), ("AWS_SECRET_ACCESS_KEY", "not-the-secret")],
    );
    let said = text(&wrong);
    assert_eq!(wrong.status.code(), Some(1), "{said}");
    assert!(said.contains("SignatureDoesNotMatch"), "the store's own error is quoted:\n{said}");
    assert!(said.contains("nothing was uploaded") && said.contains("no object was applied"), "{said}");
    assert_eq!(applied_count(), applied_before, "a refused upload applies nothing");

    // A changed file: a new content address is uploaded; the unchanged folder is not.
    std::fs::write(work.join("data/train.csv"), "x,y\n1,2\n3,4\n5,6\n").expect("csv");
    let expected_now = staged_objects(&work, &kubeconfig);
    let new: Vec<String> = expected_now.iter().filter(|p| !expected.contains(p)).cloned().collect();
    assert_eq!(new.len(), 1, "{expected_now:?}");
    let before = store.count();
    let changed = kfl(&work, &kubeconfig, &apply, &[]);
    assert!(changed.status.success(), "{}", text(&changed));
    let out = String::from_utf8_lossy(&changed.stdout).into_owned();
    assert!(out.contains("Dataset/raw uploaded: 1 file(s), 16 bytes; 0 unchanged"), "{out}");
    assert!(out.contains("Dataset/images uploaded: 0 file(s), 0 bytes; 2 unchanged"), "{out}");
    assert_eq!(puts(&store.since(before)), new);
}
