//! `kfl serve`: serve a file's `serve` stage locally from the registry's LIVE versions, with a live status
//! line and the file's retraining (rules, schedule) rolled out in place; `kfl serve promote|rollback|status NAME`
//! talk to a running server.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::time::Duration;

use kfl_runtime::plan::Spec;
use kfl_runtime::run::{Retraining, ServeContext, schedule_notices, serve_config};
use kfl_runtime::serving::{self, ServeEvent};

use crate::Status;

/// Serve a model locally (KServe V1/V2 endpoints, canary, autoscaling), or move a running canary.
///
/// Example: `kfl serve examples/iris/iris.kfl --port 8080`, then `kfl serve promote iris --project examples/iris`
#[derive(clap::Args, Debug)]
#[command(args_conflicts_with_subcommands = true, subcommand_negates_reqs = true)]
pub struct Args {
    #[command(subcommand)]
    action: Option<Action>,
    /// The .kfl file whose `serve` stage to run.
    #[arg(required = true)]
    file: Option<PathBuf>,
    /// Router port on 127.0.0.1 (0: any free port).
    #[arg(long, default_value_t = 8080)]
    port: u16,
    /// Which `serve` stage, when the file has several.
    #[arg(long, value_name = "NAME")]
    stage: Option<String>,
    /// Serve from a Kubeflow Model Registry server at URL instead of `.kfl/registry.db`.
    #[arg(long, value_name = "URL")]
    registry: Option<String>,
    /// Override a param: `-p NAME=VALUE` (repeatable).
    #[arg(short = 'p', long = "param", value_name = "NAME=VALUE", value_parser = super::build::parse_param)]
    params: Vec<(String, String)>,
    /// Stop after this long (`30s`, `5m`); default: Ctrl-C.
    #[arg(long, value_name = "DURATION", value_parser = super::run::parse_duration)]
    serve_for: Option<Duration>,
}

#[derive(clap::Subcommand, Debug)]
enum Action {
    /// Send all traffic to the canary (the newest LIVE version), then drain and stop the old stable version.
    Promote(Target),
    /// Send all traffic back to the stable version, then drain and stop the canary.
    Rollback(Target),
    /// Print the running server's status.
    Status(Target),
}

#[derive(clap::Args, Debug)]
struct Target {
    /// The `serve` stage's name.
    name: String,
    /// The .kfl file or its folder (default: the current folder).
    #[arg(long, value_name = "PATH", default_value = ".")]
    project: PathBuf,
    /// The server's process id, when several servers of this name run (each `kfl run --serve-for`
    /// or `kfl serve` of the project is one).
    #[arg(long)]
    pid: Option<u32>,
}

pub fn run(args: Args) -> Status {
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("error: cannot start the runtime: {e}");
            return Status::Usage;
        }
    };
    match args.action {
        Some(Action::Promote(target)) => runtime.block_on(change(&target, true)),
        Some(Action::Rollback(target)) => runtime.block_on(change(&target, false)),
        Some(Action::Status(target)) => runtime.block_on(status(&target)),
        None => match &args.file {
            Some(file) => runtime.block_on(serve(file.clone(), &args)),
            None => Status::Usage,
        },
    }
}

fn project_dir(path: &std::path::Path) -> PathBuf {
    if path.is_file() { super::run::project_of(path).0 } else { path.to_path_buf() }
}

/// The running servers `target` names: one with `--pid`, else every server of that name.
fn servers_of(target: &Target) -> Result<Vec<serving::ServerState>, String> {
    if let Some(problem) = kfl_compiler::typeck::serve_name_problem(&target.name) {
        return Err(problem);
    }
    let state_dir = project_dir(&target.project).join(".kfl").join("serving");
    match target.pid {
        Some(pid) => Ok(vec![serving::read_state(&state_dir, &target.name, Some(pid)).map_err(|e| e.to_string())?]),
        None => {
            let servers = serving::running_servers(&state_dir, &target.name).map_err(|e| e.to_string())?;
            if servers.is_empty() {
                return Err(format!("no running server {} (no state file in {})", target.name, state_dir.display()));
            }
            Ok(servers)
        }
    }
}

/// Promote or rollback; registry states stay as they are (archiving a version is `kfl models archive`).
async fn change(target: &Target, promote: bool) -> Status {
    let result = match servers_of(target) {
        Ok(servers) if servers.len() > 1 => {
            let listed: Vec<String> =
                servers.iter().map(|state| format!("pid {} at {}", state.pid, state.address)).collect();
            Err(format!(
                "{} servers named {} run ({}); pick one with --pid",
                servers.len(),
                target.name,
                listed.join(", ")
            ))
        }
        Ok(servers) => {
            let state = &servers[0];
            if promote {
                serving::request_promote(state.address, &state.token).await.map_err(|e| e.to_string())
            } else {
                serving::request_rollback(state.address, &state.token).await.map_err(|e| e.to_string())
            }
        }
        Err(e) => Err(e),
    };
    match result {
        Ok(change) => {
            println!("{}: {change}", if promote { "promoted" } else { "rolled back" });
            Status::Ok
        }
        Err(e) => {
            eprintln!("error: {e} (is `kfl serve` running for `{}`?)", target.name);
            Status::Usage
        }
    }
}

/// The status of every running server of the name (or the one `--pid` names).
async fn status(target: &Target) -> Status {
    let servers = match servers_of(target) {
        Ok(servers) => servers,
        Err(e) => {
            eprintln!("error: {e} (is `kfl serve` running for `{}`?)", target.name);
            return Status::Usage;
        }
    };
    let several = servers.len() > 1;
    let mut status = Status::Ok;
    for state in &servers {
        match serving::request_status(state.address, &state.token).await {
            Ok(snapshot) if several => println!("pid {} at {}: {snapshot}", state.pid, state.address),
            Ok(snapshot) => println!("{snapshot}"),
            Err(e) => {
                eprintln!("error: server {} (pid {}): {e}", target.name, state.pid);
                status = Status::Usage;
            }
        }
    }
    status
}

async fn serve(file: PathBuf, args: &Args) -> Status {
    let (_, plan, _) = match super::run::compile_plan(&file, &args.params) {
        Ok(compiled) => compiled,
        Err(status) => return status,
    };
    let serves: Vec<&str> =
        plan.stages.iter().filter(|s| matches!(s.spec, Spec::Serve(_))).map(|s| s.name.as_str()).collect();
    let name = match (&args.stage, serves.as_slice()) {
        (Some(name), _) => name.clone(),
        (None, [one]) => (*one).to_string(),
        (None, []) => {
            eprintln!("error: {} has no `serve` stage", file.display());
            return Status::UserErrors;
        }
        (None, many) => {
            eprintln!(
                "error: {} has several serve stages ({}); pick one with --stage",
                file.display(),
                many.join(", ")
            );
            return Status::Usage;
        }
    };
    let (project_dir, file_name) = super::run::project_of(&file);
    let context = ServeContext {
        project_dir,
        file: file_name,
        kfl_exe: std::env::current_exe().unwrap_or_else(|_| PathBuf::from("kfl")),
        registry: args.registry.clone(),
        params: args.params.clone(),
        port: args.port,
    };
    let mut config = match serve_config(&plan, &name, &context) {
        Ok(config) => config,
        Err(e) => {
            eprintln!("error: {e}");
            return Status::UserErrors;
        }
    };
    let model_path = match config.protocol {
        serving::Protocol::V1 => format!("/v1/models/{}:predict", config.model_name),
        serving::Protocol::V2 => format!("/v2/models/{}/infer", config.model_name),
    };
    let retraining = Retraining::attach(&plan, &name, &context, &mut config);
    let (events_tx, mut events_rx) = tokio::sync::mpsc::channel::<ServeEvent>(512);
    let server = match serving::start(config, events_tx).await {
        Ok(server) => server,
        Err(e) => {
            eprintln!("error: cannot serve `{name}`: {e}");
            return Status::Usage;
        }
    };
    let handle = server.handle();
    eprintln!("serving `{name}` at http://{}{model_path}; Ctrl-C stops", handle.address());
    for line in schedule_notices(&plan, &name) {
        eprintln!("{line}");
    }
    let live = std::io::stderr().is_terminal();
    let bar = live.then(|| {
        let bar = indicatif::ProgressBar::new_spinner();
        bar.enable_steady_tick(Duration::from_millis(250));
        bar
    });
    let (notices_tx, mut notices_rx) = tokio::sync::mpsc::unbounded_channel();
    let watcher = tokio::spawn(retraining.run(handle.clone(), notices_tx));
    let printer = {
        let bar = bar.clone();
        tokio::spawn(async move {
            loop {
                let line = tokio::select! {
                    Some(event) = events_rx.recv() => match event.describe() {
                        Some(line) => line,
                        None => continue,
                    },
                    Some(notice) = notices_rx.recv() => notice.to_string(),
                    else => break,
                };
                match &bar {
                    Some(bar) => bar.println(line),
                    None => eprintln!("{line}"),
                }
            }
        })
    };
    let ticker = {
        let (handle, bar) = (handle.clone(), bar.clone());
        tokio::spawn(async move {
            let mut tick = 0u64;
            loop {
                tokio::time::sleep(Duration::from_secs(1)).await;
                tick += 1;
                match &bar {
                    Some(bar) => bar.set_message(handle.status().to_string()),
                    // Without a terminal, a status line every 30 seconds.
                    None if tick.is_multiple_of(30) => eprintln!("{}", handle.status()),
                    None => {}
                }
            }
        })
    };
    let limit = args.serve_for;
    let shutdown = async move {
        let ctrl_c = async {
            let _ = tokio::signal::ctrl_c().await;
        };
        match limit {
            Some(limit) => {
                tokio::select! {
                    () = tokio::time::sleep(limit) => {}
                    () = ctrl_c => {}
                }
            }
            None => ctrl_c.await,
        }
    };
    let report = server.run_until(shutdown).await;
    watcher.abort();
    ticker.abort();
    printer.abort();
    if let Some(bar) = bar {
        bar.finish_and_clear();
    }
    match report {
        Ok(report) => {
            eprintln!("stopped `{name}`: {}", report.final_status);
            Status::Ok
        }
        Err(e) => {
            eprintln!("error: serving `{name}` failed: {e}");
            Status::UserErrors
        }
    }
}
