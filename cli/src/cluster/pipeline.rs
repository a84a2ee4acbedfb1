//! The KFP half of `kfl apply` and `kfl status`: the compiled pipeline uploaded as a pipeline version, a run started in the project's experiment, and the newest run's state.
//!
//! Every call is KFP 2.17.0's REST API v2beta1 (`backend/api/v2beta1/{pipeline,experiment,run}.proto` and
//! `swagger/pipeline.upload.swagger.json`) through `crate::kfp`. What is kept on the cluster after a failure is
//! said in the error: the manifests are applied before KFP is contacted, the pipeline before the run.

use std::time::Duration;

use serde_json::{Value as Json, json};

use super::Failure;
use crate::kfp::{Kfp, KfpError, short_digest};

/// Where KFP is and how to reach it: what `kfl apply` and `kfl status` share.
#[derive(clap::Args, Debug)]
pub struct KfpArgs {
    /// The Kubeflow Pipelines endpoint (default: the project's `kfp`): `https://HOST/pipeline` through Kubeflow's
    /// gateway, or `http://localhost:8080` with `kubectl port-forward -n kubeflow svc/ml-pipeline-ui 8080:80`.
    #[arg(long, value_name = "URL")]
    kfp: Option<String>,
    /// A bearer token for KFP (default: `KFL_KFP_TOKEN`, else the projected token KFP's PodDefault mounts); in a
    /// Kubeflow profile, `kubectl -n PROFILE create token default-editor`, with
    /// `--audience=pipelines.kubeflow.org` when not through Kubeflow's gateway. The variable keeps it out of `ps`.
    #[arg(long, value_name = "TOKEN")]
    kfp_token: Option<String>,
    /// Seconds each KFP call may take to send and be answered once connected (connecting: 10 seconds).
    #[arg(long, value_name = "SECONDS", default_value_t = 60.0)]
    kfp_timeout: f64,
}

/// A KFP endpoint settled: the URL checked, the token found.
#[derive(Clone)]
pub struct Endpoint {
    url: String,
    token: Option<String>,
    timeout: Duration,
}

impl KfpArgs {
    /// `--kfp`, else the project's `kfp` (already checked by `kfl check`); `None` when neither is set. A bad URL is a
    /// usage error before anything is sent.
    pub fn endpoint(&self, project_kfp: Option<&str>) -> super::Result<Option<Endpoint>> {
        let Some(url) = self.kfp.as_deref().or(project_kfp) else { return Ok(None) };
        if let Some(problem) = kfl_compiler::typeck::uris::kfp_url_problem(url) {
            return Err(Failure::Usage(format!("--kfp {problem}")));
        }
        if !(self.kfp_timeout.is_finite() && self.kfp_timeout > 0.0) {
            return Err(Failure::Usage(format!(
                "--kfp-timeout must be a positive number of seconds, found {}",
                self.kfp_timeout
            )));
        }
        Ok(Some(Endpoint {
            url: url.to_string(),
            token: crate::kfp::token(self.kfp_token.as_deref()),
            timeout: Duration::from_secs_f64(self.kfp_timeout.min(1e6)),
        }))
    }
}

impl Endpoint {
    pub fn url(&self) -> &str {
        &self.url
    }

    fn client(&self) -> Kfp {
        Kfp::new(&self.url, self.token.clone(), self.timeout)
    }
}

/// What one apply sends to KFP.
pub struct Publication {
    /// The pipeline's name: the project's, as `kfl build` names the pipeline and `kfl launch retrain` finds it.
    pub pipeline: String,
    /// The profile namespace the pipeline, the experiment and the run live in.
    pub namespace: String,
    /// pipeline.yaml as `kfl build` writes it, uploaded byte for byte.
    pub spec: String,
    /// The file it was compiled from, named in descriptions.
    pub source: String,
}

/// What KFP holds after a successful apply.
pub struct Published {
    pub pipeline_id: String,
    pub version_id: String,
    pub version_name: String,
    /// `false` when the newest version already had this content and was reused.
    pub uploaded: bool,
    pub run_id: String,
    pub run_url: String,
    /// The namespace the run executes in: the project's experiment's (multi-user KFP), or `None` when KFP runs in
    /// single-user mode, where every run executes in the namespace KFP is installed in.
    pub namespace: Option<String>,
}

/// The runtime config of a run: every root input parameter of the pipeline with the value it was compiled with
/// (its `defaultValue`, which `kfl build` sets from the param's default or `-p`), so the run carries the bound
/// values explicitly rather than relying on the stored spec's defaults.
pub fn runtime_parameters(spec: &str) -> serde_json::Map<String, Json> {
    // pipeline.yaml is the pipeline spec, then (when there is one) the Kubernetes platform spec, as two documents.
    let first = spec.split("\n---\n").next().unwrap_or_default();
    let parsed: Json = serde_saphyr::from_str(first).unwrap_or_default();
    parsed
        .pointer("/root/inputDefinitions/parameters")
        .and_then(Json::as_object)
        .into_iter()
        .flatten()
        .filter_map(|(name, definition)| Some((name.clone(), definition.get("defaultValue")?.clone())))
        .collect()
}

/// The version name of a spec: when it was uploaded (to the millisecond; `attempt` tells apart two uploads in
/// the same millisecond), then its content digest, which tells a later apply whether the newest version already
/// holds the same content. Version names are unique in a pipeline (the upload answers 409,
/// `pipeline_upload_server.go` 2.17.0), and one content may come back after another.
fn version_name(pipeline: &str, digest: &str, attempt: usize) -> String {
    let now = jiff::Timestamp::now();
    let at = now.strftime("%Y%m%d-%H%M%S");
    let millisecond = now.subsec_millisecond();
    let again = if attempt == 0 { String::new() } else { format!("-{attempt}") };
    format!("{pipeline}-{at}{millisecond:03}{again}-{digest}")
}

/// How many names an upload tries when the name is taken.
const VERSION_NAME_ATTEMPTS: usize = 3;

/// Uploads the pipeline (a new version unless the newest has the same content) and starts a run. Blocking. The
/// error says what was kept.
pub fn publish(endpoint: &Endpoint, publication: &Publication) -> std::result::Result<Published, String> {
    let kfp = endpoint.client();
    let name = &publication.pipeline;
    let namespace = publication.namespace.as_str();
    let kept_nothing = "the manifests were applied; nothing was uploaded to KFP and no run was created";
    let fail = |err: KfpError, kept: &str| format!("{err}\n  kept: {kept}");
    let pipeline_id = match find_pipeline(&kfp, name, namespace).map_err(|err| fail(err, kept_nothing))? {
        Some(id) => id,
        None => create_pipeline(&kfp, publication).map_err(|err| fail(err, kept_nothing))?,
    };
    let digest = short_digest(publication.spec.as_bytes());
    let kept_pipeline = format!(
        "the manifests were applied and pipeline `{name}` ({pipeline_id}) exists; no version was uploaded and no run \
         was created"
    );
    let newest = newest_version(&kfp, &pipeline_id).map_err(|err| fail(err, &kept_pipeline))?;
    let (version_id, version_name, uploaded) = match newest {
        Some((id, version)) if version.ends_with(&format!("-{digest}")) => (id, version, false),
        _ => {
            let description = format!("kfl apply of {}", publication.source);
            let mut attempt = 0;
            loop {
                let version = version_name(name, &digest, attempt);
                let query = [
                    ("pipelineid", pipeline_id.as_str()),
                    ("name", version.as_str()),
                    ("display_name", version.as_str()),
                    ("description", description.as_str()),
                ];
                let path = "/apis/v2beta1/pipelines/upload_version";
                match kfp.upload(path, &query, "pipeline.yaml", publication.spec.as_bytes()) {
                    Ok(answer) => {
                        let id = text(&answer, "pipeline_version_id").ok_or_else(|| {
                            format!("KFP accepted version `{version}` of pipeline `{name}` but returned no id")
                        })?;
                        break (id, version, true);
                    }
                    Err(err) if err.status == Some(409) && attempt + 1 < VERSION_NAME_ATTEMPTS => attempt += 1,
                    Err(err) => return Err(fail(err, &kept_pipeline)),
                }
            }
        }
    };
    let kept_version = format!(
        "the manifests were applied and pipeline `{name}` version `{version_name}` ({version_id}) is in KFP; no run \
         was created"
    );
    let (experiment, placed) = project_experiment(&kfp, publication).map_err(|err| fail(err, &kept_version))?;
    // The run executes in its experiment's namespace (`CreateRun` takes the run's namespace from its experiment and
    // falls back to KFP's own POD_NAMESPACE when that is empty; single-user mode empties every experiment's,
    // `ReplaceNamespace`: backend/src/apiserver/resource/resource_manager.go, 2.17.0). Launcher tasks create the
    // project's objects in the project's namespace and refuse to run anywhere else, so a run that would execute in
    // another profile's namespace is not started.
    let executes_in = match placed.as_str() {
        "" => None,
        found if found == namespace => Some(found.to_string()),
        found => {
            return Err(format!(
                "KFP put the project's experiment `{name}` in namespace `{found}`, not `{namespace}`: a run there \
                 could not create the project's objects; no run was created\n  kept: {kept_version}"
            ));
        }
    };
    let body = json!({
        "display_name": crate::kfp::run_display_name(name, "apply"),
        "description": format!("started by `kfl apply {}`", publication.source),
        "experiment_id": experiment,
        "pipeline_version_reference": { "pipeline_id": pipeline_id, "pipeline_version_id": version_id },
        "runtime_config": { "parameters": runtime_parameters(&publication.spec) },
    });
    let run = kfp.post("/apis/v2beta1/runs", &[], &body).map_err(|err| fail(err, &kept_version))?;
    let run_id = text(&run, "run_id").ok_or_else(|| {
        format!("KFP accepted the run of pipeline `{name}` but returned no run_id\n  kept: {kept_version}")
    })?;
    // The Pipelines UI routes run details under its hash router (`frontend/src/components/Router.tsx`
    // RUN_DETAILS, 2.17.0); the UI serves the API too, so the URL that reached the API shows the run.
    let run_url = format!("{}/#/runs/details/{run_id}", kfp.base());
    Ok(Published { pipeline_id, version_id, version_name, uploaded, run_id, run_url, namespace: executes_in })
}

fn text(json: &Json, key: &str) -> Option<String> {
    json.get(key).and_then(Json::as_str).filter(|s| !s.is_empty()).map(str::to_string)
}

/// The pipeline's id by its name in the namespace (`GetPipelineByName`), `None` when there is none (404 with
/// grpc-gateway's NOT_FOUND status).
fn find_pipeline(kfp: &Kfp, name: &str, namespace: &str) -> crate::kfp::Result<Option<String>> {
    match kfp.get(&format!("/apis/v2beta1/pipelines/names/{name}"), &[("namespace", namespace)]) {
        Ok(pipeline) => Ok(text(&pipeline, "pipeline_id")),
        // KFP's NOT_FOUND only: a 404 page from something else means the URL is wrong, not the pipeline missing.
        Err(err) if err.status == Some(404) && err.rpc_code == Some(5) => Ok(None),
        Err(err) => Err(err),
    }
}

/// Creates the pipeline without a version (`CreatePipeline`); the version is uploaded next, named like every
/// later one.
fn create_pipeline(kfp: &Kfp, publication: &Publication) -> crate::kfp::Result<String> {
    let body = json!({
        "name": publication.pipeline,
        "display_name": publication.pipeline,
        "description": format!("kfl project {} ({})", publication.pipeline, publication.source),
        "namespace": publication.namespace,
    });
    let pipeline = kfp.post("/apis/v2beta1/pipelines", &[], &body)?;
    created_id(&pipeline, "pipeline_id", &format!("pipeline `{}`", publication.pipeline))
}

/// The id field `key` of what KFP answered it created (`what`): an answer without it is an error.
fn created_id(answer: &Json, key: &str, what: &str) -> crate::kfp::Result<String> {
    text(answer, key).ok_or_else(|| KfpError {
        status: None,
        rpc_code: None,
        message: format!("KFP created {what} but returned no {key}"),
    })
}

/// The newest version of the pipeline: its id and name.
fn newest_version(kfp: &Kfp, pipeline_id: &str) -> crate::kfp::Result<Option<(String, String)>> {
    let versions = kfp.get(
        &format!("/apis/v2beta1/pipelines/{pipeline_id}/versions"),
        &[("page_size", "1"), ("sort_by", "created_at desc")],
    )?;
    let Some(newest) = versions.pointer("/pipeline_versions/0") else { return Ok(None) };
    Ok(text(newest, "pipeline_version_id").zip(text(newest, "name")))
}

/// The project's experiment in the namespace (named after the project), created when missing: in multi-user
/// mode a run needs one (`GetValidExperimentNamespacePair`, `backend/src/apiserver/resource/resource_manager.go`,
/// 2.17.0), it decides the namespace the run executes in, and it gathers the project's runs in the UI. Its id and
/// the namespace KFP gave it (empty in single-user mode).
fn project_experiment(kfp: &Kfp, publication: &Publication) -> crate::kfp::Result<(String, String)> {
    let filter = equals_filter("display_name", &publication.pipeline);
    let query = [("namespace", publication.namespace.as_str()), ("filter", filter.as_str()), ("page_size", "1")];
    let found = kfp.get("/apis/v2beta1/experiments", &query)?;
    let placed = |experiment: &Json| text(experiment, "namespace").unwrap_or_default();
    if let Some(experiment) = found.pointer("/experiments/0")
        && let Some(id) = text(experiment, "experiment_id")
    {
        return Ok((id, placed(experiment)));
    }
    let body = json!({
        "display_name": publication.pipeline,
        "description": format!("runs of the kfl project {}", publication.pipeline),
        "namespace": publication.namespace,
    });
    let created = kfp.post("/apis/v2beta1/experiments", &[], &body)?;
    let id = created_id(&created, "experiment_id", &format!("experiment `{}`", publication.pipeline))?;
    Ok((id, placed(&created)))
}

/// A list filter (`backend/api/v2beta1/filter.proto`, JSON-serialized) of one `key == value` predicate.
fn equals_filter(key: &str, value: &str) -> String {
    json!({ "predicates": [{ "key": key, "operation": "EQUALS", "string_value": value }] }).to_string()
}

/// The newest run of the project's pipeline, for `kfl status`: its state, id, creation time and URL.
pub struct LatestRun {
    pub state: String,
    pub detail: String,
}

/// How many runs `kfl status` reads, newest first, looking for one of the pipeline: runs cannot be listed by
/// pipeline (the run list's filter keys, `runAPIToModelFieldMap` in `backend/src/apiserver/model/run.go`, 2.17.0,
/// have no pipeline), so they are listed in the namespace and matched by their pipeline reference.
const RUNS_SCANNED: usize = 500;
const RUNS_PAGE: usize = 100;

/// The pipeline's newest run in the namespace, or a state saying there is no pipeline or no run of it among the
/// newest runs. Blocking.
pub fn latest_run(endpoint: &Endpoint, pipeline: &str, namespace: &str) -> std::result::Result<LatestRun, String> {
    let kfp = endpoint.client();
    let Some(pipeline_id) = find_pipeline(&kfp, pipeline, namespace).map_err(|err| err.to_string())? else {
        return Ok(LatestRun { state: "not uploaded".into(), detail: format!("no pipeline `{pipeline}` in KFP") });
    };
    let page_size = RUNS_PAGE.to_string();
    let mut token = String::new();
    let mut scanned = 0;
    while scanned < RUNS_SCANNED {
        let mut query = vec![("namespace", namespace), ("sort_by", "created_at desc"), ("page_size", &page_size)];
        if !token.is_empty() {
            query.push(("page_token", &token));
        }
        let page = kfp.get("/apis/v2beta1/runs", &query).map_err(|err| err.to_string())?;
        let runs = page.get("runs").and_then(Json::as_array).cloned().unwrap_or_default();
        scanned += runs.len();
        let ours = runs.iter().find(|run| {
            run.pointer("/pipeline_version_reference/pipeline_id").and_then(Json::as_str) == Some(&pipeline_id)
        });
        if let Some(run) = ours {
            let id = text(run, "run_id").unwrap_or_default();
            let state = text(run, "state").unwrap_or_else(|| "RUNTIME_STATE_UNSPECIFIED".into());
            let created = text(run, "created_at").unwrap_or_default();
            let error = run.pointer("/error/message").and_then(Json::as_str).filter(|m| !m.is_empty());
            let mut detail = format!("{id} created {created} {}/#/runs/details/{id}", kfp.base());
            if let Some(error) = error {
                detail = format!("{detail}: {error}");
            }
            return Ok(LatestRun { state, detail });
        }
        token = text(&page, "next_page_token").unwrap_or_default();
        if token.is_empty() || runs.is_empty() {
            break;
        }
    }
    let among = if scanned >= RUNS_SCANNED { format!(" among the newest {scanned}") } else { String::new() };
    Ok(LatestRun { state: "no run".into(), detail: format!("no run of pipeline `{pipeline}`{among}") })
}
