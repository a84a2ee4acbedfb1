//! `kfl run`: compile a file to its plan and execute it on this machine through kfl-runtime.

mod progress;

use std::path::{Path, PathBuf};
use std::time::Duration;

use kfl_compiler::codegen::{self, BuildOptions};
use kfl_compiler::diagnostics::render;
use kfl_runtime::run::record::RunState;
use kfl_runtime::run::{self, RunOptions};

use crate::Status;

/// Run a .kfl file locally: every stage as a process, training as a gang of processes.
///
/// Example: `kfl run examples/iris/iris.kfl --until classifier`
#[derive(clap::Args, Debug)]
pub struct Args {
    file: PathBuf,
    /// Override a param: `-p NAME=VALUE` (repeatable).
    #[arg(short = 'p', long = "param", value_name = "NAME=VALUE", value_parser = super::build::parse_param)]
    params: Vec<(String, String)>,
    /// Stage instances running at once (default: the number of cores).
    #[arg(long, value_name = "N")]
    jobs: Option<usize>,
    /// Run every stage even when an unchanged earlier result exists.
    #[arg(long)]
    no_cache: bool,
    /// Run only these stages (repeatable); what they need must already be cached.
    #[arg(long, value_name = "STAGE", num_args = 1..)]
    only: Vec<String>,
    /// Run this stage and everything it depends on, nothing after it.
    #[arg(long, value_name = "STAGE", conflicts_with = "only")]
    until: Option<String>,
    /// Continue an interrupted or failed run: only stages that did not succeed run again.
    #[arg(long, value_name = "RUN_ID")]
    resume: Option<String>,
    /// Stop `serve` stages this long after they answer their smoke test (`30s`, `5m`); default: Ctrl-C.
    #[arg(long, value_name = "DURATION", value_parser = parse_duration, conflicts_with = "no_serve")]
    serve_for: Option<Duration>,
    /// Skip `serve` stages (and the monitors watching them).
    #[arg(long)]
    no_serve: bool,
    /// Bytes kept at each end of a stage process's log (`512Ki`, `8Mi`, `1Gi`); the middle is dropped and a
    /// marker line says how much. Default: 8Mi.
    #[arg(long, value_name = "SIZE", value_parser = parse_size)]
    log_keep: Option<u64>,
    /// Register and serve through a Kubeflow Model Registry server at URL instead of `.kfl/registry.db`.
    #[arg(long, value_name = "URL")]
    registry: Option<String>,
    /// Use the file's `project.registry` URL as the registry (see --registry).
    #[arg(long, conflicts_with = "registry")]
    remote_registry: bool,
}

/// `500ms`, `30s`, `5m`, `2h`, or a number of seconds.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let split = text.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let value: f64 = number.parse().map_err(|_| format!("`{text}` is not a duration (e.g. 30s, 5m)"))?;
    let seconds = match unit {
        "" | "s" => value,
        "ms" => value / 1000.0,
        "m" => value * 60.0,
        "h" => value * 3600.0,
        _ => return Err(format!("`{text}`: the unit must be ms, s, m or h")),
    };
    Duration::try_from_secs_f64(seconds).map_err(|_| format!("`{text}` is not a duration"))
}

/// A byte count with an optional Kubernetes quantity suffix (`Ki`, `Mi`, `Gi`, `k`, `M`, …), as in the language.
pub fn parse_size(text: &str) -> Result<u64, String> {
    let text = text.trim();
    let split = text.find(|c: char| !c.is_ascii_digit()).unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let value: u64 = number.parse().map_err(|_| format!("`{text}` is not a size (e.g. 8Mi, 512Ki)"))?;
    let scale = match unit {
        "" => 1.0,
        unit => kfl_compiler::typeck::units::QUANTITY_SUFFIXES
            .iter()
            .find(|(suffix, _)| *suffix == unit)
            .map(|(_, scale)| *scale)
            .ok_or_else(|| format!("`{text}`: the unit must be one of Ki, Mi, Gi, k, M, G (or none, for bytes)"))?,
    };
    let bytes = value as f64 * scale;
    if bytes >= u64::MAX as f64 {
        return Err(format!("`{text}` is too large"));
    }
    Ok(bytes as u64)
}

/// The stages and serves with properties only a cluster applies, and those properties' names.
pub type ClusterOnly = Vec<(String, Vec<&'static str>)>;

/// Checks a file and compiles its plan (diagnostics printed); the plan's text, its parsed form, and what in
/// it only a cluster applies.
pub fn compile_plan(
    file: &Path,
    params: &[(String, String)],
) -> Result<(String, kfl_runtime::plan::Plan, ClusterOnly), Status> {
    let bind = kfl_compiler::ir::bind::BindOptions { params: params.to_vec(), require_all: true };
    let (sources, checked) = super::check_one(file, &bind)?;
    let Some(program) = checked.program() else { return Err(Status::UserErrors) };
    let plan_text = match codegen::build_plan(program, &BuildOptions::default()) {
        Ok(plan) => plan,
        Err(diagnostics) => {
            eprintln!("{}", render::render_all(&sources, &diagnostics, super::text_style()));
            return Err(Status::UserErrors);
        }
    };
    let cluster_only = codegen::cluster_only_properties(program);
    match kfl_runtime::plan::parse(&plan_text) {
        Ok(plan) => Ok((plan_text, plan, cluster_only)),
        Err(message) => {
            eprintln!("error: {message}");
            Err(Status::Usage)
        }
    }
}

pub fn run(args: Args) -> Status {
    let (plan_text, plan, cluster_only) = match compile_plan(&args.file, &args.params) {
        Ok(compiled) => compiled,
        Err(status) => return status,
    };
    let (project_dir, file) = project_of(&args.file);
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let options = RunOptions {
        project_dir,
        file,
        jobs: args.jobs.unwrap_or(cores).max(1),
        no_cache: args.no_cache,
        only: args.only,
        until: args.until,
        resume: args.resume,
        kfl_exe: std::env::current_exe().unwrap_or_else(|_| PathBuf::from("kfl")),
        retry_base: Duration::from_millis(
            std::env::var("KFL_RETRY_BASE_MS")
                .ok()
                .and_then(|v| v.parse().ok())
                .unwrap_or(kfl_compiler::ir::RETRY_BACKOFF_SECONDS * 1000),
        ),
        kill_grace: Duration::from_secs(3),
        log_keep: args.log_keep.unwrap_or(run::capped_log::DEFAULT_KEEP),
        registry: match (args.registry, args.remote_registry) {
            (Some(url), _) => Some(url),
            (None, true) => match plan.project.registry.clone() {
                Some(url) => Some(url),
                None => {
                    eprintln!("error: --remote-registry needs `registry = \"URL\"` in the file's `project`");
                    return Status::Usage;
                }
            },
            (None, false) => None,
        },
        params: args.params.clone(),
        serve: match (args.no_serve, args.serve_for) {
            (true, _) => run::ServeMode::Skip,
            (false, Some(limit)) => run::ServeMode::For(limit),
            (false, None) => run::ServeMode::UntilInterrupted,
        },
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("error: cannot start the runtime: {e}");
            return Status::Usage;
        }
    };
    let mut observer = progress::Progress::new();
    let outcome = runtime.block_on(run::run(&plan, &plan_text, options, &mut observer, interrupted()));
    observer.close();
    match outcome {
        Ok(outcome) => {
            progress::summary(&outcome.record);
            progress::cluster_only(&cluster_only);
            let run_id = &outcome.record.run_id;
            match outcome.record.state {
                RunState::Succeeded => Status::Ok,
                RunState::Interrupted => {
                    eprintln!(
                        "run {run_id} interrupted; continue it with `kfl run {} --resume {run_id}`",
                        args.file.display()
                    );
                    Status::Interrupted
                }
                RunState::Stopped => {
                    eprintln!("run {run_id} stopped at a stage kfl run cannot execute locally yet (see above)");
                    Status::UserErrors
                }
                RunState::Failed | RunState::Running => {
                    eprintln!(
                        "run {run_id} failed; logs: `kfl logs {run_id} STAGE --project {}`, retry the rest: `kfl run {} --resume {run_id}`",
                        args.file.display(),
                        args.file.display()
                    );
                    Status::UserErrors
                }
            }
        }
        Err(message) => {
            eprintln!("error: {message}");
            Status::UserErrors
        }
    }
}

/// The `.kfl` file's folder (where stages run) and the file's name within it.
pub fn project_of(file: &Path) -> (PathBuf, String) {
    let dir = file.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let dir = std::fs::canonicalize(dir).unwrap_or_else(|_| dir.to_path_buf());
    let name = file.file_name().map_or_else(String::new, |n| n.to_string_lossy().into_owned());
    (dir, name)
}

/// Completes on Ctrl-C or SIGTERM.
pub(crate) async fn interrupted() {
    use tokio::signal::unix::{SignalKind, signal};
    let terminate = async {
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                term.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        () = terminate => {}
    }
}
