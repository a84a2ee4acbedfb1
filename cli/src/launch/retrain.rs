//! `kfl launch retrain`: start a new run of the project's pipeline (its newest version) through the KFP REST API v2beta1; what the monitor's CronJob runs, and with `--listen` what its Alertmanager webhook receiver runs (`alert_receiver.rs`).

use std::net::SocketAddr;
use std::time::Duration;

use kfl_compiler::codegen::launcher;
use serde_json::{Value as Json, json};

use super::{API_CONNECT_TIMEOUT, API_READ_TIMEOUT, LaunchError, Result};

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

/// `--token`, else `KFL_KFP_TOKEN`, else the projected token file, read again for every run (the kubelet
/// replaces the projected token before it expires).
fn token(args: &Args) -> Option<String> {
    args.token.clone().or_else(|| std::env::var("KFL_KFP_TOKEN").ok().filter(|t| !t.is_empty())).or_else(|| {
        let file = std::path::Path::new(launcher::KFP_TOKEN_DIR).join(launcher::KFP_TOKEN_FILE_NAME);
        std::fs::read_to_string(file).ok().map(|t| t.trim().into())
    })
}

struct Kfp<'a> {
    base: String,
    agent: ureq::Agent,
    token: Option<&'a str>,
}

impl<'a> Kfp<'a> {
    fn new(args: &Args, token: Option<&'a str>) -> Self {
        let base = args.kfp_url.trim_end_matches('/').to_string();
        let agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_connect(Some(API_CONNECT_TIMEOUT))
            .timeout_recv_response(Some(API_READ_TIMEOUT))
            .timeout_recv_body(Some(API_READ_TIMEOUT))
            .build()
            .new_agent();
        Kfp { base, agent, token }
    }

    fn call(&self, method: &str, path: &str, query: &[(&str, &str)], body: Option<&Json>) -> Result<Json> {
        let url = format!("{}{path}", self.base);
        let auth = self.token.map(|t| format!("Bearer {t}"));
        let response = if method == "POST" {
            let mut request = self.agent.post(&url);
            if let Some(auth) = &auth {
                request = request.header("Authorization", auth);
            }
            let text = body.map(Json::to_string).unwrap_or_else(|| "{}".into());
            request.content_type("application/json").send(text.as_bytes())
        } else {
            let mut request = self.agent.get(&url);
            for (key, value) in query {
                request = request.query(*key, *value);
            }
            if let Some(auth) = &auth {
                request = request.header("Authorization", auth);
            }
            request.call()
        };
        let failed = |what: String| LaunchError::failed(format!("KFP API {method} {url}: {what}"));
        let mut response = response.map_err(|err| failed(err.to_string()))?;
        let status = response.status().as_u16();
        let text = response.body_mut().read_to_string().map_err(|err| failed(err.to_string()))?;
        if !(200..300).contains(&status) {
            return Err(failed(format!("status {status}: {}", text.trim())));
        }
        serde_json::from_str(&text).map_err(|err| failed(format!("answer is not JSON ({err})")))
    }
}

/// The reason of runs the Alertmanager receiver starts: `alert:NAME[,NAME…]`.
pub(super) const ALERT_REASON_PREFIX: &str = "alert:";

/// A run's display name: the pipeline, and why the run started.
fn run_display_name(pipeline: &str, reason: &str) -> String {
    format!("{pipeline} ({reason})")
}

/// A run found in KFP: its id and when it was created.
pub(super) struct FoundRun {
    pub run_id: String,
    pub created_at: jiff::Timestamp,
}

/// The newest run an Alertmanager alert started for the pipeline (by display name, as
/// `start_run` names them), so a restarted receiver, or a second one, keeps the cooldown. Blocking.
pub(super) fn newest_alert_run(args: &Args) -> Result<Option<FoundRun>> {
    let token = token(args);
    let kfp = Kfp::new(args, token.as_deref());
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
    let runs = kfp.call("GET", "/apis/v2beta1/runs", &query, None)?;
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
    let token = token(args);
    let kfp = Kfp::new(args, token.as_deref());
    let filter = json!({ "predicates": [
        { "key": "display_name", "operation": "EQUALS", "string_value": args.pipeline }
    ]})
    .to_string();
    let mut query = vec![("filter", filter.as_str())];
    if let Some(ns) = &args.namespace {
        query.push(("namespace", ns.as_str()));
    }
    let pipelines = kfp.call("GET", "/apis/v2beta1/pipelines", &query, None)?;
    let Some(pipeline_id) = pipelines.pointer("/pipelines/0/pipeline_id").and_then(Json::as_str) else {
        return Err(LaunchError::failed(format!(
            "no pipeline named `{}` in KFP{}; upload the built pipeline.yaml first; no run was started",
            args.pipeline,
            args.namespace.as_ref().map(|ns| format!(" (namespace `{ns}`)")).unwrap_or_default()
        )));
    };
    let versions = kfp.call(
        "GET",
        &format!("/apis/v2beta1/pipelines/{pipeline_id}/versions"),
        &[("page_size", "1"), ("sort_by", "created_at desc")],
        None,
    )?;
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
    let run = kfp.call("POST", "/apis/v2beta1/runs", &[], Some(&body))?;
    let run_id = run.get("run_id").and_then(Json::as_str).unwrap_or_default();
    if run_id.is_empty() {
        return Err(LaunchError::failed("KFP accepted the run but returned no run_id"));
    }
    eprintln!("started run {run_id} of pipeline `{}` version {version_id}", args.pipeline);
    Ok(run_id.to_string())
}
