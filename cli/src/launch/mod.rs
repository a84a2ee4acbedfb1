//! `kfl launch`: what the compiled pipeline's lifecycle tasks run in the launcher image; one module per subcommand.
//!
//! Each subcommand creates one resource from the manifest the task carries
//! inline (`--manifest-json`, with the markers of
//! `kfl_compiler::codegen::launcher` filled from `--set`/`--ref`/`--output`),
//! waits for it to finish, and writes the task's outputs to the files KFP
//! gives. A TrainJob or Experiment gets a name unique to the run (`run_objects.rs`), so a second run never
//! meets the first's; a retried task adopts the object its run created before; an object
//! of the same name left by another run is an error, never silently reused.
//! Exit status: 0 done, 1 the resource failed or timed out (the message says
//! which condition and what was left on the cluster) or an API call failed,
//! 2 bad arguments, a bad manifest or no cluster configuration (nothing was
//! sent).

mod alert_receiver;
mod cluster;
mod experiment;
mod inferenceservice;
mod markers;
mod monitor;
mod outputs;
mod register_model;
mod retrain;
mod run_objects;
mod s3_credentials;
mod trainjob;

use std::time::Duration;

/// The API resource of a kind the launcher creates, for `kfl status`, which reads what runs created.
pub(crate) use cluster::resource as api_resource;

use clap::Subcommand;

use crate::Status;

/// Creates a pipeline stage's resource on the cluster and waits for it (what pipeline tasks run).
#[derive(Subcommand, Debug)]
pub enum LaunchCommand {
    /// Create a Trainer TrainJob, wait for Complete or Failed, write its metrics and outputs.
    ///
    /// Example: `kfl launch trainjob --manifest-json "$(cat trainjob.json)" --set epochs=3 --dry-run`
    Trainjob(trainjob::Args),
    /// Create a Katib Experiment, wait for Succeeded or Failed, write the best trial's values.
    ///
    /// Example: `kfl launch experiment --manifest-json "$(cat experiment.json)" --namespace ml --dry-run`
    Experiment(experiment::Args),
    /// Create or replace a KServe InferenceService, wait for Ready, write its URL.
    ///
    /// Example: `kfl launch inferenceservice --manifest-json "$(cat isvc.json)" --set storage_uri=s3://m/1 --dry-run`
    Inferenceservice(inferenceservice::Args),
    /// Register a model version in the Kubeflow Model Registry, write its storage URI.
    ///
    /// Example: `kfl launch register-model --name iris --artifact-uri s3://models/iris/3 --dry-run`
    // `--version` is the model version here, not kfl's.
    #[command(disable_version_flag = true)]
    RegisterModel(register_model::Args),
    /// Create or replace a monitor's PrometheusRule.
    ///
    /// Example: `kfl launch monitor --manifest-json "$(cat rule.json)" --dry-run`
    Monitor(monitor::Args),
    /// Start a new run of the project's pipeline through the KFP API, or with --listen serve Alertmanager's webhook.
    ///
    /// Example: `kfl launch retrain --pipeline iris --namespace ml --reason schedule:drift`
    ///
    /// Example: `kfl launch retrain --pipeline iris --namespace ml --listen 0.0.0.0:8080 --cooldown 30m`
    Retrain(retrain::Args),
}

/// Why a launch stopped.
#[derive(Debug)]
pub enum LaunchError {
    /// Bad arguments, an unreadable manifest, no cluster configuration.
    Usage(String),
    /// The resource failed, timed out, or the API refused it.
    Failed(String),
}

impl LaunchError {
    fn failed(message: impl Into<String>) -> LaunchError {
        LaunchError::Failed(message.into())
    }

    fn usage(message: impl Into<String>) -> LaunchError {
        LaunchError::Usage(message.into())
    }

    fn message(&self) -> &str {
        match self {
            LaunchError::Usage(message) | LaunchError::Failed(message) => message,
        }
    }
}

pub type Result<T, E = LaunchError> = std::result::Result<T, E>;

/// Time to open a connection to the Kubernetes API server, KFP's API or the object store (`http_agent`).
pub(crate) const API_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// Time an opened call may wait for the answer (an API server that accepts and never answers).
pub(crate) const API_READ_TIMEOUT: Duration = Duration::from_secs(60);

/// How long past `--timeout` the whole command may run, so the wait loop's own message (which
/// names the object it left) comes first when the API answers.
const TIMEOUT_GRACE: Duration = Duration::from_secs(1);

/// How often and how long to wait.
#[derive(clap::Args, Debug, Clone)]
pub struct WaitArgs {
    /// Seconds between two reads of the resource's status.
    #[arg(long, default_value_t = 10.0, value_name = "SECONDS")]
    poll_interval: f64,
    /// Give up after this many seconds (default: the manifest's own deadline plus ten minutes, else no limit).
    #[arg(long, value_name = "SECONDS")]
    timeout: Option<f64>,
}

impl WaitArgs {
    /// `--timeout`, which bounds the whole command, API calls included.
    fn overall(&self) -> Option<Duration> {
        self.timeout.map(|seconds| Duration::from_secs_f64(seconds.clamp(0.0, 1e9)))
    }

    fn interval(&self) -> Duration {
        Duration::from_secs_f64(self.poll_interval.clamp(0.01, 3600.0))
    }

    /// The limit to wait: `--timeout`, else the manifest's deadline (seconds) with a margin for scheduling.
    fn limit(&self, manifest_deadline: Option<u64>) -> Option<Duration> {
        match (self.timeout, manifest_deadline) {
            (Some(_), _) => self.overall(),
            (None, Some(deadline)) => Some(Duration::from_secs(deadline.saturating_add(600))),
            (None, None) => None,
        }
    }
}

pub fn launch(command: LaunchCommand) -> Status {
    let runtime = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(err) => {
            eprintln!("error: cannot start the launcher's event loop: {err}");
            return Status::Usage;
        }
    };
    let (name, limit) = match &command {
        LaunchCommand::Trainjob(args) => ("trainjob", args.wait.overall()),
        LaunchCommand::Experiment(args) => ("experiment", args.wait.overall()),
        LaunchCommand::Inferenceservice(args) => ("inferenceservice", args.wait.overall()),
        LaunchCommand::RegisterModel(_) => ("register-model", None),
        LaunchCommand::Monitor(_) => ("monitor", None),
        LaunchCommand::Retrain(_) => ("retrain", None),
    };
    let command = async {
        match command {
            LaunchCommand::Trainjob(args) => trainjob::run(args).await,
            LaunchCommand::Experiment(args) => experiment::run(args).await,
            LaunchCommand::Inferenceservice(args) => inferenceservice::run(args).await,
            LaunchCommand::RegisterModel(args) => register_model::run(args).await,
            LaunchCommand::Monitor(args) => monitor::run(args).await,
            LaunchCommand::Retrain(args) => retrain::run(args).await,
        }
    };
    // The wait loop checks the limit between polls and says which object was left running; this
    // bound, a moment later, also ends a call the API server never answers.
    let result = runtime.block_on(async {
        match limit {
            Some(limit) => tokio::time::timeout(limit + TIMEOUT_GRACE, command).await.unwrap_or_else(|_| {
                Err(LaunchError::failed(format!(
                    "kfl launch {name} did not finish within {}s (--timeout): the cluster's API did not answer in \
                     time; whatever it had created was left on the cluster",
                    limit.as_secs_f64()
                )))
            }),
            None => command.await,
        }
    });
    match result {
        Ok(()) => Status::Ok,
        Err(LaunchError::Usage(message)) => {
            eprintln!("error: {message}");
            Status::Usage
        }
        Err(LaunchError::Failed(message)) => {
            eprintln!("error: {message}");
            Status::UserErrors
        }
    }
}
