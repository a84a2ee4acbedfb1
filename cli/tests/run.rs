//! `kfl run` end to end: real processes from the fixtures in `tests/run/`, each run in its own scratch folder.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

/// A scratch project holding one fixture as `main.kfl`.
fn project(fixture: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    let source = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/run").join(format!("{fixture}.kfl"));
    std::fs::copy(&source, dir.path().join("main.kfl")).expect("copy fixture");
    dir
}

fn kfl_command(dir: &Path, args: &[&str]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_kfl"));
    command.current_dir(dir).args(args).env("KFL_RETRY_BASE_MS", "20").env("NO_COLOR", "1");
    command
}

fn kfl(dir: &Path, args: &[&str]) -> Output {
    kfl_command(dir, args).output().expect("run kfl")
}

fn run(dir: &Path, extra: &[&str]) -> Output {
    let mut args = vec!["run", "main.kfl"];
    args.extend_from_slice(extra);
    kfl(dir, &args)
}

fn text(output: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr))
}

fn latest_record(dir: &Path) -> Value {
    let runs = dir.join(".kfl/runs");
    let mut ids: Vec<PathBuf> = std::fs::read_dir(&runs).expect("runs").flatten().map(|e| e.path()).collect();
    ids.sort();
    let last = ids.last().expect("a run");
    serde_json::from_str(&std::fs::read_to_string(last.join("run.json")).expect("run.json")).expect("json")
}

fn instances<'a>(record: &'a Value, stage: &str) -> &'a Vec<Value> {
    let stages = record["stages"].as_array().expect("stages");
    let stage = stages.iter().find(|s| s["name"] == stage).unwrap_or_else(|| panic!("no stage {stage}"));
    stage["instances"].as_array().expect("instances")
}

fn state(record: &Value, stage: &str) -> String {
    instances(record, stage)[0]["state"].as_str().expect("state").to_string()
}

fn seconds(path: &Path) -> f64 {
    std::fs::read_to_string(path).expect("timestamp").trim().parse().expect("seconds")
}

/// Processes whose command line holds `marker`.
fn processes_with(marker: &str) -> Vec<String> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").expect("/proc").flatten() {
        let Ok(cmdline) = std::fs::read(entry.path().join("cmdline")) else { continue };
        let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else { continue };
        let zombie = stat.rsplit_once(')').is_some_and(|(_, rest)| rest.trim_start().starts_with('Z'));
        if !zombie && String::from_utf8_lossy(&cmdline).contains(marker) {
            found.push(entry.file_name().to_string_lossy().into_owned());
        }
    }
    found
}

fn wait_for(path: &Path, limit: Duration) {
    let start = Instant::now();
    while !path.exists() {
        assert!(start.elapsed() < limit, "{} did not appear within {limit:?}", path.display());
        std::thread::sleep(Duration::from_millis(50));
    }
    // The writer may still be between creating and filling the file.
    std::thread::sleep(Duration::from_millis(100));
}

#[test]
fn independent_stages_run_in_parallel_and_the_sink_waits_for_both() {
    let dir = project("dag");
    let output = run(dir.path(), &["--jobs", "2"]);
    assert!(output.status.success(), "{}", text(&output));
    let record = latest_record(dir.path());
    for stage in ["source", "left", "right", "sink"] {
        assert_eq!(state(&record, stage), "succeeded");
    }
    let value = |stage: &str, output: &str| -> f64 {
        instances(&record, stage)[0]["outputs"][output]["text"].as_str().expect("text").parse().expect("number")
    };
    let (left_start, right_start) = (seconds(&dir.path().join("left.start")), seconds(&dir.path().join("right.start")));
    let (left_end, right_end) = (value("left", "t"), value("right", "t"));
    assert!(left_start < right_end && right_start < left_end, "left and right did not overlap");
    assert!(value("sink", "t") >= left_end.max(right_end), "sink started before its inputs existed");

    // With one job at a time they cannot overlap.
    let serial = project("dag");
    let output = run(serial.path(), &["--jobs", "1"]);
    assert!(output.status.success(), "{}", text(&output));
    let record = latest_record(serial.path());
    let end = |stage: &str| -> f64 {
        instances(&record, stage)[0]["outputs"]["t"]["text"].as_str().expect("text").parse().expect("number")
    };
    let (left_start, right_start) =
        (seconds(&serial.path().join("left.start")), seconds(&serial.path().join("right.start")));
    assert!(left_start >= end("right") || right_start >= end("left"), "--jobs 1 ran two stages at once");
}

#[test]
fn loops_fan_out_and_in_when_skips_propagate_and_always_runs_after_failure() {
    let dir = project("loops");
    let output = run(dir.path(), &[]);
    assert_eq!(output.status.code(), Some(1), "{}", text(&output));
    let record = latest_record(dir.path());
    let squares = instances(&record, "square");
    assert_eq!(squares.len(), 4);
    let ys: Vec<&str> = squares.iter().map(|i| i["outputs"]["y"]["text"].as_str().expect("y")).collect();
    assert_eq!(ys, ["1", "4", "9", "16"]);
    assert_eq!(squares[3]["metrics"]["score"], 4.0);
    assert_eq!(instances(&record, "total")[0]["outputs"]["sum"]["value"], 30);
    assert_eq!(state(&record, "big"), "skipped");
    assert_eq!(state(&record, "after_big"), "skipped");
    assert_eq!(state(&record, "broken"), "failed");
    assert_eq!(instances(&record, "broken")[0]["exit_code"], 3);
    assert_eq!(state(&record, "needs_broken"), "upstream_failed");
    assert_eq!(state(&record, "cleanup"), "succeeded");
    assert!(dir.path().join("cleanup.done").exists());
    assert_eq!(record["state"], "failed");

    // `-p` reaches `when`: with a lower limit the skipped branch runs.
    let output = run(dir.path(), &["-p", "limit=1"]);
    let record = latest_record(dir.path());
    assert_eq!(state(&record, "big"), "succeeded", "{}", text(&output));
    assert_eq!(state(&record, "after_big"), "succeeded");
}

#[test]
fn an_always_step_reads_the_final_status_of_what_it_waits_for() {
    let dir = project("final_status");
    let output = run(dir.path(), &[]);
    assert_eq!(output.status.code(), Some(1), "{}", text(&output));
    let record = latest_record(dir.path());
    assert_eq!(state(&record, "fit"), "failed");
    assert_eq!(state(&record, "report"), "succeeded");
    let read = |dir: &Path| -> Value {
        serde_json::from_str(&std::fs::read_to_string(dir.join("status.json")).expect("status.json")).expect("json")
    };
    let status = read(dir.path());
    assert_eq!(status["state"], "FAILED");
    assert_eq!(status["pipelineTaskName"], "exit-handler-1");
    assert_eq!(status["pipelineJobResourceName"], record["run_id"]);
    let message = status["error"]["message"].as_str().expect("error message");
    assert!(message.starts_with("stage `fit`: ") && message.contains('4'), "{message}");

    let output = run(dir.path(), &["-p", "fail=false"]);
    assert!(output.status.success(), "{}", text(&output));
    let status = read(dir.path());
    assert_eq!(status["state"], "COMPLETE");
    assert_eq!(status["error"], serde_json::json!({}));
}

#[test]
fn retries_run_the_stage_again_until_it_succeeds() {
    let dir = project("retry");
    let output = run(dir.path(), &[]);
    assert!(output.status.success(), "{}", text(&output));
    let record = latest_record(dir.path());
    assert_eq!(instances(&record, "flaky")[0]["attempts"], 3);
    assert_eq!(std::fs::read_to_string(dir.path().join("attempts.txt")).expect("attempts").lines().count(), 3);
}

#[test]
fn a_timeout_kills_the_whole_process_group() {
    let dir = project("timeout");
    let start = Instant::now();
    let output = run(dir.path(), &[]);
    assert_eq!(output.status.code(), Some(1));
    assert!(start.elapsed() < Duration::from_secs(20), "the timeout did not stop the stage");
    let record = latest_record(dir.path());
    assert_eq!(state(&record, "slow"), "failed");
    assert!(instances(&record, "slow")[0]["message"].as_str().expect("message").contains("timed out"));
    assert!(processes_with("kfl-timeout-marker").is_empty(), "a process of the stage survived");
}

#[test]
fn a_train_gang_gets_the_rendezvous_environment_and_fails_as_one() {
    let dir = project("gang");
    let start = Instant::now();
    let output = run(dir.path(), &[]);
    assert_eq!(output.status.code(), Some(1), "{}", text(&output));
    assert!(start.elapsed() < Duration::from_secs(20), "rank 0 was not stopped when rank 1 failed");
    let record = latest_record(dir.path());
    let message = instances(&record, "fit")[0]["message"].as_str().expect("message").to_string();
    assert!(message.contains("rank 1 exited with 7"), "{message}");
    let rank1 = std::fs::read_to_string(dir.path().join("rank-1.env")).expect("rank 1 env");
    let fields: Vec<&str> = rank1.split_whitespace().collect();
    assert_eq!(&fields[..5], ["2", "1", "0", "1", "127.0.0.1"]);
    assert_eq!(fields[6], "2");
    let rank0 = std::fs::read_to_string(dir.path().join("rank-0.env")).expect("rank 0 env");
    assert_eq!(rank0.split_whitespace().nth(5), Some(fields[5]), "ranks got different MASTER_PORTs");

    let output = run(dir.path(), &["-p", "fail=false"]);
    assert!(output.status.success(), "{}", text(&output));
    let record = latest_record(dir.path());
    let fit = &instances(&record, "fit")[0];
    assert_eq!(fit["metrics"]["accuracy"], 0.75, "rank 0's last report is the metric");
    assert_eq!(fit["logs"].as_array().expect("logs").len(), 2);
}

#[test]
fn a_scalar_output_of_the_wrong_type_fails_its_stage() {
    let dir = project("scalars");
    let output = run(dir.path(), &[]);
    assert_eq!(output.status.code(), Some(1));
    let record = latest_record(dir.path());
    let message = instances(&record, "emit")[0]["message"].as_str().expect("message").to_string();
    assert_eq!(message, "output `x` is declared `float`, but the process wrote \"abc\"");
    let output = run(dir.path(), &["-p", "value=2.5"]);
    assert!(output.status.success(), "{}", text(&output));
    assert_eq!(instances(&latest_record(dir.path()), "emit")[0]["outputs"]["x"]["value"], 2.5);
}

#[test]
fn the_cache_hits_on_unchanged_inputs_and_misses_on_changed_content() {
    let dir = project("cache");
    std::fs::write(dir.path().join("input.csv"), "a\nb\n").expect("write");
    let ran = || std::fs::read_to_string(dir.path().join("runs.log")).map_or(0, |t| t.lines().count());
    assert!(run(dir.path(), &[]).status.success());
    assert_eq!(ran(), 1);
    assert!(run(dir.path(), &[]).status.success());
    assert_eq!(ran(), 1, "an unchanged stage ran again");
    let record = latest_record(dir.path());
    assert_eq!(state(&record, "rows"), "cached");
    assert_eq!(instances(&record, "rows")[0]["outputs"]["n"]["value"], 2);
    std::fs::write(dir.path().join("input.csv"), "a\nb\nc\n").expect("write");
    assert!(run(dir.path(), &[]).status.success());
    assert_eq!(ran(), 2, "a changed input did not rerun the stage");
    assert_eq!(instances(&latest_record(dir.path()), "rows")[0]["outputs"]["n"]["value"], 3);
    assert!(run(dir.path(), &["--no-cache"]).status.success());
    assert_eq!(ran(), 3, "--no-cache reused a result");
}

/// `kfl run` of the `resume` fixture, once its slow middle stage has started (and written `middle.pid`).
fn run_to_the_slow_middle_stage() -> (tempfile::TempDir, std::process::Child) {
    let dir = project("resume");
    let child = kfl_command(dir.path(), &["run", "main.kfl"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn kfl run");
    wait_for(&dir.path().join("middle.pid"), Duration::from_secs(30));
    (dir, child)
}

#[test]
fn an_interrupted_run_leaves_no_process_and_resumes_where_it_stopped() {
    let (dir, mut child) = run_to_the_slow_middle_stage();
    assert!(!processes_with("kfl-resume-marker").is_empty(), "the middle stage is not running");
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(child.id() as i32), nix::sys::signal::Signal::SIGINT)
        .expect("SIGINT");
    let status = child.wait().expect("wait");
    assert_eq!(status.code(), Some(130));
    assert!(processes_with("kfl-resume-marker").is_empty(), "a stage process outlived the interrupted run");
    let record = latest_record(dir.path());
    assert_eq!(record["state"], "interrupted");
    assert_eq!(state(&record, "first"), "succeeded");
    assert_eq!(state(&record, "middle"), "interrupted");
    assert_eq!(state(&record, "last"), "pending");

    std::fs::write(dir.path().join("go"), "").expect("write");
    let run_id = record["run_id"].as_str().expect("run id").to_string();
    let output = run(dir.path(), &["--resume", &run_id, "--no-cache"]);
    assert!(output.status.success(), "{}", text(&output));
    let record = latest_record(dir.path());
    assert_eq!(record["run_id"], run_id.as_str());
    assert_eq!(state(&record, "first"), "cached");
    assert_eq!(state(&record, "middle"), "succeeded");
    assert_eq!(state(&record, "last"), "succeeded");
    let first_runs = std::fs::read_to_string(dir.path().join("first.log")).expect("first.log");
    assert_eq!(first_runs.lines().count(), 1, "resume reran a stage that had succeeded");
}

/// True once `pid` has ended (gone, or a zombie nobody reaped yet) within `limit`.
fn ends_within(pid: i32, limit: Duration) -> bool {
    let start = Instant::now();
    loop {
        let alive = std::fs::read_to_string(format!("/proc/{pid}/stat"))
            .is_ok_and(|stat| stat.rsplit_once(')').is_some_and(|(_, rest)| !rest.trim_start().starts_with('Z')));
        if !alive {
            return true;
        }
        if start.elapsed() > limit {
            return false;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn a_killed_kfl_run_takes_its_running_stage_with_it() {
    let (dir, mut child) = run_to_the_slow_middle_stage();
    let stage: i32 = std::fs::read_to_string(dir.path().join("middle.pid")).expect("pid").trim().parse().expect("pid");
    // No chance to stop anything itself: the kernel's parent-death signal must do it.
    child.kill().expect("SIGKILL");
    child.wait().expect("wait");
    assert!(ends_within(stage, Duration::from_secs(5)), "the stage process {stage} outlived a kill -9 of kfl run");
}

#[test]
fn a_run_whose_kfl_was_killed_reads_as_interrupted_and_resumes() {
    let (dir, mut child) = run_to_the_slow_middle_stage();
    child.kill().expect("SIGKILL");
    child.wait().expect("wait");
    let list = kfl(dir.path(), &["runs", "list"]);
    let listed = text(&list);
    assert!(list.status.success(), "{listed}");
    assert!(listed.contains("interrupted") && !listed.contains("running"), "{listed}");
    assert!(listed.contains("--resume"), "no resume hint: {listed}");
    let shown = text(&kfl(dir.path(), &["runs", "show", "latest"]));
    assert!(shown.contains("interrupted") && shown.contains("--resume"), "{shown}");
    let record = latest_record(dir.path());
    assert_eq!(record["state"], "running", "the record on disk is only read as interrupted, never rewritten");
    std::fs::write(dir.path().join("go"), "").expect("write");
    let run_id = record["run_id"].as_str().expect("run id").to_string();
    let output = run(dir.path(), &["--resume", &run_id]);
    assert!(output.status.success(), "{}", text(&output));
    let record = latest_record(dir.path());
    assert_eq!(record["state"], "succeeded");
    assert_eq!(state(&record, "first"), "cached");
    assert_eq!(state(&record, "last"), "succeeded");
}

#[test]
fn a_daemon_that_left_the_stage_group_with_setsid_does_not_outlive_the_stage() {
    let dir = project("setsid");
    let output = run(dir.path(), &[]);
    assert!(output.status.success(), "{}", text(&output));
    let pid: i32 = std::fs::read_to_string(dir.path().join("daemon.pid")).expect("pid").trim().parse().expect("pid");
    let ended = ends_within(pid, Duration::from_secs(3));
    if !ended {
        let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), nix::sys::signal::Signal::SIGKILL);
    }
    assert!(ended, "the setsid daemon {pid} outlived its stage");
}

#[test]
fn orphans_that_exit_while_their_stage_runs_are_reaped_at_once() {
    let dir = project("orphan");
    let output = run(dir.path(), &[]);
    assert!(output.status.success(), "{}", text(&output));
    for name in ["plain", "session"] {
        let state = std::fs::read_to_string(dir.path().join(format!("{name}.state"))).expect("state");
        assert_eq!(state.trim(), "reaped", "the {name} orphan stayed a zombie while its stage ran");
    }
}

/// A step whose env `J` is an object `depth` levels deep, and which writes `$J` to `j.json`.
fn deep_env_program(depth: usize) -> String {
    let mut object = "1".to_string();
    for _ in 0..depth {
        object = format!("{{ a = {object} }}");
    }
    format!(
        "project deep {{\n  image = \"busybox\"\n}}\n\nstep s() {{\n  run = [\"sh\", \"-c\", \"printf %s \\\"$J\\\" > j.json\"]\n  env {{ J = {object} }}\n}}\n"
    )
}

#[test]
fn a_nested_object_in_env_renders_once_as_json_at_the_deepest_accepted_depth() {
    // 254 levels inside `step { env { … } }` is the deepest the parser's 256-level bound accepts.
    const DEEPEST: usize = 254;
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("main.kfl"), deep_env_program(DEEPEST + 1)).expect("write");
    let output = kfl(dir.path(), &["check", "main.kfl"]);
    assert!(!output.status.success() && text(&output).contains("E0001"), "one level deeper is refused");

    std::fs::write(dir.path().join("main.kfl"), deep_env_program(DEEPEST)).expect("write");
    let expected = format!("{}1{}", r#"{"a":"#.repeat(DEEPEST), "}".repeat(DEEPEST));
    let output = run(dir.path(), &[]);
    assert!(output.status.success(), "{}", text(&output));
    let written = std::fs::read_to_string(dir.path().join("j.json")).expect("j.json");
    assert_eq!(written, expected, "`kfl run` renders the object once, not quoted again per level");
    let output = kfl(dir.path(), &["build", "main.kfl", "-o", "out"]);
    assert!(output.status.success(), "{}", text(&output));
    let pipeline = std::fs::read_to_string(dir.path().join("out/pipeline.yaml")).expect("pipeline.yaml");
    assert!(pipeline.contains(&format!("value: '{expected}'")), "`kfl build` renders the same JSON as `kfl run`");
}

#[test]
fn a_stage_killed_mid_write_leaves_no_partial_output() {
    let dir = project("partial");
    let child = kfl_command(dir.path(), &["run", "main.kfl"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn kfl run");
    wait_for(&dir.path().join("write.pid"), Duration::from_secs(30));
    let pid: i32 = std::fs::read_to_string(dir.path().join("write.pid")).expect("pid").trim().parse().expect("pid");
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), nix::sys::signal::Signal::SIGKILL).expect("SIGKILL");
    let output = child.wait_with_output().expect("wait");
    assert_eq!(output.status.code(), Some(1));
    let record = latest_record(dir.path());
    let write = &instances(&record, "write")[0];
    assert_eq!(write["state"], "failed");
    assert!(write["message"].as_str().expect("message").contains("SIGKILL"), "{write}");
    assert!(write["outputs"].as_object().expect("outputs").is_empty());
    let stage_dir = dir.path().join(".kfl/runs").join(record["run_id"].as_str().expect("id")).join("write");
    assert!(!stage_dir.join("outputs").exists(), "a partial output became visible");
    assert!(!stage_dir.join(".tmp").exists(), "the partial output was not cleaned up");
    let cache = dir.path().join(".kfl/cache");
    assert!(!cache.exists() || std::fs::read_dir(&cache).expect("cache").next().is_none(), "a failure was cached");
}

#[test]
fn runs_and_logs_read_the_records() {
    let dir = project("gang");
    let _ = run(dir.path(), &["-p", "fail=false"]);
    let list = kfl(dir.path(), &["runs", "list"]);
    assert!(list.status.success());
    let listed = String::from_utf8_lossy(&list.stdout).to_string();
    assert!(listed.contains("succeeded") && listed.contains("1/1 ok"), "{listed}");
    let show = kfl(dir.path(), &["runs", "show", "latest"]);
    let shown = String::from_utf8_lossy(&show.stdout).to_string();
    assert!(shown.contains("accuracy=0.7500"), "{shown}");
    let logs = kfl(dir.path(), &["logs", "latest", "fit"]);
    let logged = String::from_utf8_lossy(&logs.stdout).to_string();
    assert!(logged.contains("[rank-0] accuracy=0.75"), "{logged}");
    let missing = kfl(dir.path(), &["logs", "latest", "nope"]);
    assert_eq!(missing.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&missing.stderr).contains("has no stage `nope`"));
}

#[test]
fn a_log_keeps_its_first_and_last_bytes_and_kfl_logs_streams_any_size() {
    let dir = project("loud");
    let output = run(dir.path(), &[]);
    assert!(output.status.success(), "{}", text(&output));
    let record = latest_record(dir.path());
    assert_eq!(instances(&record, "loud")[0]["metrics"]["loss"], 0.25, "the last line's metric was not read");
    let log = dir.path().join(".kfl/runs").join(record["run_id"].as_str().expect("id")).join("loud/log");
    let keep = 8 * 1024 * 1024;
    let printed = "from-stderr\n".len() + 3_300_000 * "kfl-log-line\n".len() + "loss=0.25\nthe-end\n".len();
    let stored = std::fs::read(&log).expect("log");
    assert!(stored.len() < 2 * keep + 200, "the log holds {} bytes", stored.len());
    let marker = format!("[kfl] {} bytes of output dropped here", printed - 2 * keep);
    let at = stored.windows(marker.len()).position(|w| w == marker.as_bytes()).expect("no marker line");
    assert!(at >= keep - 1 && stored[at - 1] == b'\n', "the marker does not follow the kept head");
    assert!(stored.ends_with(b"kfl-log-line\nloss=0.25\nthe-end\n"), "the end of the output was not kept");

    // `kfl logs` copies any log in constant memory: a 512 MiB one (sparse, so it costs no disk).
    std::fs::OpenOptions::new().append(true).open(&log).expect("open").set_len(512 << 20).expect("grow the log");
    let logs = kfl_command(dir.path(), &["logs", "latest", "loud"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .expect("kfl logs");
    assert!(logs.success());
    // The largest resident set of any child this test process has waited for, in KiB.
    let peak = nix::sys::resource::getrusage(nix::sys::resource::UsageWho::RUSAGE_CHILDREN).expect("rusage").max_rss();
    assert!(peak < 160 * 1024, "a child peaked at {peak} KiB: `kfl logs` loads the log instead of streaming it");
}

#[test]
fn until_and_only_select_stages() {
    let dir = project("resume");
    std::fs::write(dir.path().join("go"), "").expect("write");
    let output = run(dir.path(), &["--until", "middle"]);
    assert!(output.status.success(), "{}", text(&output));
    let record = latest_record(dir.path());
    assert_eq!(state(&record, "middle"), "succeeded");
    assert_eq!(state(&record, "last"), "not_selected");
    let output = run(dir.path(), &["--only", "last"]);
    assert!(output.status.success(), "{}", text(&output));
    let record = latest_record(dir.path());
    assert_eq!(state(&record, "first"), "cached");
    assert_eq!(state(&record, "last"), "succeeded");
    let fresh = project("resume");
    let output = run(fresh.path(), &["--only", "last"]);
    assert_eq!(output.status.code(), Some(1));
    assert!(text(&output).contains("not selected by --only and no cached result"), "{}", text(&output));
    let output = run(fresh.path(), &["--until", "nope"]);
    assert!(text(&output).contains("no stage `nope`"));
}

fn trials(record: &Value, tune: &str) -> Vec<Value> {
    instances(record, tune)[0]["trials"].as_array().expect("trials").clone()
}

#[test]
fn a_tune_records_every_trial_with_its_reason_and_feeds_the_best_downstream() {
    let dir = project("search");
    let output = run(dir.path(), &[]);
    assert!(output.status.success(), "{}", text(&output));
    let record = latest_record(dir.path());
    let trials = trials(&record, "search");
    assert_eq!(trials.len(), 12);
    let reason = |kind: &str| -> Vec<String> {
        trials
            .iter()
            .filter(|t| t["params"]["kind"] == kind)
            .map(|t| format!("{} {}", t["outcome"].as_str().unwrap_or(""), t["message"].as_str().unwrap_or("")))
            .collect()
    };
    for line in reason("fail") {
        assert_eq!(line, "failed the process exited with 2");
    }
    for line in reason("none") {
        assert!(line.starts_with("failed the trial printed no `value=…` line"), "{line}");
    }
    for line in reason("nan") {
        assert_eq!(line, "failed `value` is not a finite number");
    }
    let completed: Vec<&Value> = trials.iter().filter(|t| t["outcome"] == "completed").collect();
    assert!(!completed.is_empty());
    let best = completed
        .iter()
        .min_by(|a, b| a["value"].as_f64().unwrap_or(f64::MAX).total_cmp(&b["value"].as_f64().unwrap_or(f64::MAX)))
        .expect("best");
    let search = &instances(&record, "search")[0];
    assert_eq!(search["metrics"]["value"], best["value"]);
    assert_eq!(search["outputs"]["x"]["value"], best["params"]["x"]);
    // The best value is the trial's best report (its last, decreasing curve), not its first.
    let curve = best["curve"].as_array().expect("curve");
    assert_eq!(curve.len(), 3);
    assert_eq!(best["value"], curve[2]);
    assert_eq!(instances(&record, "use")[0]["outputs"]["same"]["value"], true);
}

#[test]
fn an_unchanged_tune_is_served_from_the_cache_as_a_whole() {
    let dir = project("tune_cache");
    let launches = || std::fs::read_to_string(dir.path().join("launches.log")).map_or(0, |t| t.lines().count());
    let output = run(dir.path(), &[]);
    assert!(output.status.success(), "{}", text(&output));
    let first = latest_record(dir.path());
    let ran = launches();
    assert_eq!(ran, 8, "one process per trial");
    let outcomes: Vec<Value> = trials(&first, "search").iter().map(|t| t["outcome"].clone()).collect();
    assert!(outcomes.iter().any(|o| o == "failed"), "the fixture must have a trial the per-trial cache cannot keep");

    let output = run(dir.path(), &[]);
    assert!(output.status.success(), "{}", text(&output));
    assert_eq!(launches(), ran, "the second run launched trial processes");
    let second = latest_record(dir.path());
    assert_eq!(state(&second, "search"), "cached");
    let search = |record: &Value| instances(record, "search")[0].clone();
    assert_eq!(search(&second)["outputs"]["x"], search(&first)["outputs"]["x"]);
    assert_eq!(search(&second)["metrics"], search(&first)["metrics"]);
    assert_eq!(trials(&second, "search").len(), 8, "the cached tune keeps its trials");
    assert_eq!(state(&second, "use"), "cached");
    let report = dir.path().join(".kfl/runs").join(second["run_id"].as_str().expect("id")).join("search/report.html");
    assert!(report.exists(), "the cached tune has no report");

    // A changed input of the trial template is a changed tune.
    let output = run(dir.path(), &["-p", "offset=0.5"]);
    assert!(output.status.success(), "{}", text(&output));
    assert!(launches() > ran, "a changed input was served from the cache");
    assert_eq!(state(&latest_record(dir.path()), "search"), "succeeded");
}

#[test]
fn the_goal_ends_a_search_and_max_failed_aborts_one() {
    let dir = project("goal");
    let output = run(dir.path(), &[]);
    assert!(output.status.success(), "{}", text(&output));
    let record = latest_record(dir.path());
    let climbed = trials(&record, "climb");
    assert!(climbed.len() < 40, "the goal did not end the search");
    assert!(climbed.last().expect("trial")["value"].as_f64().expect("value") >= 0.5);
    assert!(instances(&record, "climb")[0]["message"].as_str().expect("message").contains("goal reached"));

    let output = run(dir.path(), &["-p", "fail=true", "--no-cache"]);
    assert_eq!(output.status.code(), Some(1), "{}", text(&output));
    let record = latest_record(dir.path());
    assert_eq!(trials(&record, "climb").len(), 3, "max_failed = 2 allows two failures, not a third");
    let message = instances(&record, "climb")[0]["message"].as_str().expect("message").to_string();
    assert!(message.contains("no trial completed") && message.contains("more than max_failed = 2"), "{message}");
}

#[test]
fn an_interrupted_tune_resumes_without_rerunning_finished_trials() {
    let dir = project("goal");
    let started = dir.path().join("started.log");
    let mut child = kfl_command(dir.path(), &["run", "main.kfl", "-p", "target=2.0", "--no-cache"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn kfl run");
    let lines = || std::fs::read_to_string(&started).map_or(0, |t| t.lines().count());
    let start = Instant::now();
    while lines() < 5 {
        assert!(start.elapsed() < Duration::from_secs(60), "the tune did not start trials");
        std::thread::sleep(Duration::from_millis(50));
    }
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(child.id() as i32), nix::sys::signal::Signal::SIGINT)
        .expect("SIGINT");
    assert_eq!(child.wait().expect("wait").code(), Some(130));
    let record = latest_record(dir.path());
    assert_eq!(state(&record, "climb"), "interrupted");
    let kept = trials(&record, "climb").iter().filter(|t| t["outcome"] == "completed").count();
    assert!(kept >= 3, "{kept} trials finished before the interruption");
    let before = lines();

    let run_id = record["run_id"].as_str().expect("run id").to_string();
    let output = run(dir.path(), &["-p", "target=2.0", "--no-cache", "--resume", &run_id]);
    assert!(output.status.success(), "{}", text(&output));
    let record = latest_record(dir.path());
    assert_eq!(trials(&record, "climb").len(), 40);
    assert_eq!(lines() - before, 40 - kept, "finished trials ran again after --resume");
}

#[test]
fn logs_follow_a_running_stage_to_its_end() {
    let dir = project("follow");
    let mut child = kfl_command(dir.path(), &["run", "main.kfl"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn kfl run");
    let runs = dir.path().join(".kfl/runs");
    let start = Instant::now();
    while std::fs::read_dir(&runs).map_or(true, |mut d| d.next().is_none()) {
        assert!(start.elapsed() < Duration::from_secs(30), "the run did not start");
        std::thread::sleep(Duration::from_millis(20));
    }
    let followed = kfl(dir.path(), &["logs", "latest", "talk", "--follow"]);
    assert!(followed.status.success(), "{}", text(&followed));
    assert_eq!(String::from_utf8_lossy(&followed.stdout), "line 1\nline 2\nline 3\n");
    assert!(child.wait().expect("wait").success());
}

/// Every nesting the parser accepts also runs: a `when`, a binding and a list constant at the deepest nesting
/// `kfl build` accepts (serde_json's limit of 128 refused such plans, and each level of a nested list was
/// quoted again, doubling the env value per level).
#[test]
fn the_deepest_accepted_nesting_runs() {
    let dir = tempfile::tempdir().expect("tempdir");
    // `step s(` and `step s() { env {` take one and two of the 256 levels.
    let program = format!(
        "project p {{\n  image = \"a\"\n}}\n\nparam flag: bool = true\n\nstep s(k: int = {}) {{\n  run = [\"sh\", \"-c\", \"echo \\\"${{k}} $x\\\" > out.txt\"]\n  when = {}flag\n  env {{ x = {}1{} }}\n}}\n",
        vec!["1"; 255].join(" + "),
        "!".repeat(254),
        "[".repeat(254),
        "]".repeat(254)
    );
    std::fs::write(dir.path().join("main.kfl"), program).expect("write");
    let output = run(dir.path(), &[]);
    assert!(output.status.success(), "{}", text(&output));
    let written = std::fs::read_to_string(dir.path().join("out.txt")).expect("the stage ran");
    assert_eq!(written.trim(), format!("255 {}\"1\"{}", "[".repeat(254), "]".repeat(254)));
    assert!(kfl(dir.path(), &["runs", "list"]).status.success());
}

#[test]
fn scheduling_properties_run_locally_and_are_listed_as_cluster_only() {
    let dir = project("scheduling");
    let output = run(dir.path(), &[]);
    assert!(output.status.success(), "{}", text(&output));
    assert_eq!(state(&latest_record(dir.path()), "hello"), "succeeded");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(stdout.contains("hello: `node_selector`, `tolerations`, `queue` apply on the cluster only"), "{stdout}");
    // The project's queue is every stage's default.
    assert!(stdout.contains("plain: `queue` applies on the cluster only"), "{stdout}");
}
