//! `kfl launch retrain`: start a new run of the project's pipeline (its newest version) through the KFP REST API v2beta1; what the monitor's CronJob runs, and with `--listen` what its Alertmanager webhook receiver runs (`alert_receiver.rs`).

use std::net::SocketAddr;
use std::time::Duration;

use serde_json::{Value as Json, json};

use super::{API_READ_TIMEOUT, LaunchError, Result};
use crate::kfp::{Kfp, run_display_name};

/// Where Kubeflow installs the KFP API server.
const DEFAULT_KFP_URL: &str = "http://ml-pipeline.kubeflow:8888";

#[derive(clap::Args, Debug)]
pub struct Args {
    /// The pipeline's display name (the project's name, as `kfl build` names it).
    #[arg(long, value_name = "NAME")]
    pipeline: String,
    /// The profile namespace the pipeline and the run live in.
    #[arg(long, value_name = "NAMESPACE")]
    namespace: Option<String>,
    /// Why the run starts (`schedule:MONITOR` from the CronJob), recorded in the run's description.
    #[arg(long, value_name = "TEXT", default_value = "manual", conflicts_with = "listen")]
    reason: String,
    /// The service account the started run executes as (the one `kfl build`'s Role is bound to); KFP's
    /// default for the namespace when omitted.
    #[arg(long = "service-account", value_name = "NAME")]
    service_account: Option<String>,
    /// The KFP API server (plain http inside the cluster).
    #[arg(long = "kfp-url", value_name = "URL", default_value = DEFAULT_KFP_URL)]
    kfp_url: String,
    /// A bearer token (default: `KFL_KFP_TOKEN`, else the projected token file KFP's PodDefault mounts).
    #[arg(long, value_name = "TOKEN")]
    token: Option<String>,
    /// Instead of starting one run, serve Alertmanager webhook notifications on ADDR (`POST /alerts`,
    /// `GET /healthz`): a firing alert labelled `kfl_action="retrain"` starts a run (reason
    /// `alert:ALERTNAME`). Prints `listening on ADDR` first; stops on SIGTERM or Ctrl-C.
    #[arg(long, value_name = "ADDR")]
    pub(super) listen: Option<SocketAddr>,
    /// With --listen: after starting a run, start none for this long (`30m`, `2h`); Alertmanager re-sends
    /// firing alerts, and one run covers them all.
    #[arg(long, value_name = "DURATION", default_value = "30m", value_parser = crate::commands::run::parse_duration, requires = "listen")]
    pub(super) cooldown: Duration,
}

pub async fn run(args: Args) -> Result<()> {
    if let Some(address) = args.listen {
        return super::alert_receiver::serve(args, address).await;
    }
    let run = tokio::task::spawn_blocking(move || start_run(&args, &args.reason))
        .await
        .map_err(|err| LaunchError::failed(format!("the KFP call stopped: {err}")))??;
    println!("{run}");
    Ok(())
}

/// The KFP client of this command: `--token`, else `KFL_KFP_TOKEN`, else the projected token file, read again for
/// every run (the kubelet replaces the projected token before it expires).
fn client(args: &Args) -> Kfp {
    Kfp::new(&args.kfp_url, crate::kfp::token(args.token.as_deref()), API_READ_TIMEOUT)
}

/// A failed KFP call as this command reports it.
fn failed(err: crate::kfp::KfpError) -> LaunchError {
    LaunchError::failed(err.message)
}

/// The reason of runs the Alertmanager receiver starts: `alert:NAME[,NAME…]`.
pub(super) const ALERT_REASON_PREFIX: &str = "alert:";

/// A run found in KFP: its id and when it was created.
pub(super) struct FoundRun {
    pub run_id: String,
    pub created_at: jiff::Timestamp,
}

/// The newest run an Alertmanager alert started for the pipeline (by display name, as
/// `start_run` names them), so a restarted receiver, or a second one, keeps the cooldown. Blocking.
pub(super) fn newest_alert_run(args: &Args) -> Result<Option<FoundRun>> {
    let kfp = client(args);
    let prefix = run_display_name(&args.pipeline, ALERT_REASON_PREFIX);
    // The display name ends in `(alert:NAMES)`; the prefix up to `alert:` matches it anywhere.
    let prefix = prefix.trim_end_matches(')');
    let filter = json!({ "predicates": [
        { "key": "display_name", "operation": "IS_SUBSTRING", "string_value": prefix }
    ]})
    .to_string();
    let mut query = vec![("filter", filter.as_str()), ("page_size", "1"), ("sort_by", "created_at desc")];
    if let Some(ns) = &args.namespace {
        query.push(("namespace", ns.as_str()));
    }
    let runs = kfp.get("/apis/v2beta1/runs", &query).map_err(failed)?;
    let Some(run) = runs.pointer("/runs/0") else { return Ok(None) };
    let run_id = run.get("run_id").and_then(Json::as_str).unwrap_or_default().to_string();
    let created_at = run.get("created_at").and_then(Json::as_str).unwrap_or_default();
    match created_at.parse::<jiff::Timestamp>() {
        Ok(created_at) => Ok(Some(FoundRun { run_id, created_at })),
        Err(err) => {
            // Never retraining again would be worse than one run too many.
            eprintln!(
                "KFP run {run_id}: unreadable created_at {created_at:?} ({err}); the cooldown counts from this receiver's own runs"
            );
            Ok(None)
        }
    }
}

/// Starts a run of the pipeline's newest version, `reason` in its name and description; its run id. Blocking.
pub(super) fn start_run(args: &Args, reason: &str) -> Result<String> {
    let kfp = client(args);
    let filter = json!({ "predicates": [
        { "key": "display_name", "operation": "EQUALS", "string_value": args.pipeline }
    ]})
    .to_string();
    let mut query = vec![("filter", filter.as_str())];
    if let Some(ns) = &args.namespace {
        query.push(("namespace", ns.as_str()));
    }
    let pipelines = kfp.get("/apis/v2beta1/pipelines", &query).map_err(failed)?;
    let Some(pipeline_id) = pipelines.pointer("/pipelines/0/pipeline_id").and_then(Json::as_str) else {
        return Err(LaunchError::failed(format!(
            "no pipeline named `{}` in KFP{}; upload the built pipeline.yaml first; no run was started",
            args.pipeline,
            args.namespace.as_ref().map(|ns| format!(" (namespace `{ns}`)")).unwrap_or_default()
        )));
    };
    let versions = kfp
        .get(
            &format!("/apis/v2beta1/pipelines/{pipeline_id}/versions"),
            &[("page_size", "1"), ("sort_by", "created_at desc")],
        )
        .map_err(failed)?;
    let Some(version_id) = versions.pointer("/pipeline_versions/0/pipeline_version_id").and_then(Json::as_str) else {
        return Err(LaunchError::failed(format!(
            "pipeline `{}` ({pipeline_id}) has no version; no run was started",
            args.pipeline
        )));
    };
    let mut body = json!({
        "display_name": run_display_name(&args.pipeline, reason),
        "description": format!("started by `kfl launch retrain`: {reason}"),
        "pipeline_version_reference": { "pipeline_id": pipeline_id, "pipeline_version_id": version_id },
    });
    if let Some(account) = &args.service_account {
        // `Run.service_account` (backend/api/v2beta1/run.proto, kubeflow/pipelines 2.17).
        body["service_account"] = json!(account);
    }
    let run = kfp.post("/apis/v2beta1/runs", &[], &body).map_err(failed)?;
    let run_id = run.get("run_id").and_then(Json::as_str).unwrap_or_default();
    if run_id.is_empty() {
        return Err(LaunchError::failed("KFP accepted the run but returned no run_id"));
    }
    eprintln!("started run {run_id} of pipeline `{}` version {version_id}", args.pipeline);
    Ok(run_id.to_string())
}
