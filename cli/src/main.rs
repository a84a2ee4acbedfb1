//! The `kfl` binary: parses arguments, does the file I/O, prints diagnostics; the compiler does the rest.

mod build_output;
mod cluster;
mod commands;
mod files;
mod http_agent;
mod kfp;
mod kserve_storage;
mod launch;
mod lsp;
mod s3;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// jemalloc, configured at build time (`.cargo/config.toml`) to back its memory with transparent huge pages:
/// a `kfl build` of 1,000 stages otherwise spends a fifth of its time in the kernel's page-fault handler.
/// Feature `jemalloc` (the `dist` builds): its C build is the largest unit of a fresh clone's first compile.
#[cfg(all(feature = "jemalloc", target_os = "linux", not(target_env = "musl")))]
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

/// kfl — one typed file for the whole ML lifecycle on Kubeflow.
#[derive(Parser, Debug)]
#[command(name = "kfl", version, about, long_about = None, propagate_version = true)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    Check(commands::check::Args),
    Build(commands::build::Args),
    Fmt(commands::fmt::Args),
    Explain(commands::explain::Args),
    Graph(commands::graph::Args),
    Run(commands::run::Args),
    Serve(commands::serve::Args),
    #[command(subcommand)]
    Runs(commands::runs::RunsCommand),
    Logs(commands::runs::LogsArgs),
    #[command(subcommand)]
    Tune(commands::tune::TuneCommand),
    Builtin(commands::builtin::Args),
    Models(commands::models::Args),
    Lsp(lsp::Args),
    /// Create a stage's resource on the cluster and wait for it (what the compiled pipeline's tasks run).
    ///
    /// Example: `kfl launch trainjob --manifest-json "$(cat trainjob.json)" --dry-run`
    #[command(subcommand)]
    Launch(launch::LaunchCommand),
    Apply(cluster::apply::Args),
    Diff(cluster::diff::Args),
    Status(cluster::status::Args),
}

/// Exit statuses: 0 fine, 1 errors in the user's files (or a failed run), 2 usage or I/O problems, 130 a run
/// interrupted by Ctrl-C.
pub enum Status {
    Ok,
    UserErrors,
    Usage,
    Interrupted,
}

impl From<Status> for ExitCode {
    fn from(status: Status) -> ExitCode {
        match status {
            Status::Ok => ExitCode::SUCCESS,
            Status::UserErrors => ExitCode::from(1),
            Status::Usage => ExitCode::from(2),
            Status::Interrupted => ExitCode::from(130),
        }
    }
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(err) => {
            let _ = err.print();
            return if err.use_stderr() { ExitCode::from(2) } else { ExitCode::SUCCESS };
        }
    };
    let status = match cli.command {
        Command::Check(args) => commands::check::run(args),
        Command::Build(args) => commands::build::run(args),
        Command::Fmt(args) => commands::fmt::run(args),
        Command::Explain(args) => commands::explain::run(args),
        Command::Graph(args) => commands::graph::run(args),
        Command::Run(args) => commands::run::run(args),
        Command::Serve(args) => commands::serve::run(args),
        Command::Runs(command) => commands::runs::runs(command),
        Command::Logs(args) => commands::runs::logs(args),
        Command::Tune(command) => commands::tune::tune(command),
        Command::Builtin(args) => commands::builtin::run(args),
        Command::Models(args) => commands::models::run(args),
        Command::Lsp(args) => lsp::run(args),
        Command::Launch(command) => launch::launch(command),
        Command::Apply(args) => cluster::apply::run(args),
        Command::Diff(args) => cluster::diff::run(args),
        Command::Status(args) => cluster::status::run(args),
    };
    status.into()
}

#[cfg(test)]
mod tests {
    /// clap checks its definitions only when a command is parsed; this parses none, so check them all here.
    #[test]
    fn every_command_line_definition_is_consistent() {
        use clap::CommandFactory;
        super::Cli::command().debug_assert();
    }
}
