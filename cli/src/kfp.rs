//! The one client of the Kubeflow Pipelines REST API v2beta1 (`kfl apply --kfp`, `kfl status`, `kfl launch retrain`): a blocking agent whose every call is bounded, a bearer token, JSON calls and the multipart upload.
//!
//! The API is KFP 2.17.0's `backend/api/v2beta1/*.proto` (JSON field names as protojson writes them with
//! `UseProtoNames`, i.e. snake_case) and `backend/api/v2beta1/swagger/pipeline.upload.swagger.json` for the two
//! multipart endpoints, which grpc-gateway cannot express and the API server serves by hand
//! (`backend/src/apiserver/server/pipeline_upload_server.go`).

use std::time::Duration;

use kfl_compiler::codegen::launcher;

use serde_json::Value as Json;

/// A failed call: the HTTP status when the server answered, and what went wrong, naming the call.
#[derive(Debug)]
pub struct KfpError {
    pub status: Option<u16>,
    /// The `google.rpc.Code` of an error KFP's API answered (5 NOT_FOUND, 16 UNAUTHENTICATED…); `None` for an
    /// answer that is not KFP's (a proxy's page, a wrong URL) or no answer.
    pub rpc_code: Option<i64>,
    pub message: String,
}

impl std::fmt::Display for KfpError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

pub type Result<T> = std::result::Result<T, KfpError>;

/// `explicit` (a `--token`/`--kfp-token` option), else `KFL_KFP_TOKEN`, else the projected service-account token
/// KFP's PodDefault mounts in a profile's pods (read again on every call: the kubelet replaces it before it
/// expires).
pub fn token(explicit: Option<&str>) -> Option<String> {
    explicit.map(str::to_string).or_else(|| std::env::var("KFL_KFP_TOKEN").ok().filter(|t| !t.is_empty())).or_else(
        || {
            let file = std::path::Path::new(launcher::KFP_TOKEN_DIR).join(launcher::KFP_TOKEN_FILE_NAME);
            std::fs::read_to_string(file).ok().map(|t| t.trim().to_string()).filter(|t| !t.is_empty())
        },
    )
}

pub struct Kfp {
    base: String,
    agent: ureq::Agent,
    token: Option<String>,
}

impl Kfp {
    /// A client of the API at `url` (the API server, or the Pipelines UI and Kubeflow's gateway, which proxy
    /// `/apis/…` to it); `answer` bounds sending each call and receiving its answer once connected (an API server,
    /// or a proxy in front of it, that accepts and never answers). https is verified against the system's roots.
    pub fn new(url: &str, token: Option<String>, answer: Duration) -> Kfp {
        let agent = crate::http_agent::agent(answer);
        Kfp { base: url.trim_end_matches('/').to_string(), agent, token }
    }

    /// The URL the client was made for, without a trailing slash.
    pub fn base(&self) -> &str {
        &self.base
    }

    pub fn get(&self, path: &str, query: &[(&str, &str)]) -> Result<Json> {
        let mut request = self.agent.get(&self.url(path));
        for (key, value) in query {
            request = request.query(*key, *value);
        }
        if let Some(token) = &self.token {
            request = request.header("Authorization", &format!("Bearer {token}"));
        }
        self.answer("GET", path, request.call())
    }

    pub fn post(&self, path: &str, query: &[(&str, &str)], body: &Json) -> Result<Json> {
        let request = self.post_request(path, query).content_type("application/json");
        self.answer("POST", path, request.send(body.to_string().as_bytes()))
    }

    /// `uploadfile` as a `multipart/form-data` POST (`pipelines/upload`, `pipelines/upload_version`). The API
    /// server reads the file by its name's extension (`ReadPipelineFile`: `.yaml`/`.yml` as it is), and stores
    /// exactly the bytes sent.
    pub fn upload(&self, path: &str, query: &[(&str, &str)], file_name: &str, content: &[u8]) -> Result<Json> {
        // A boundary that cannot occur in the content: its own digest (RFC 2046 §5.1.1 asks only that).
        let boundary = format!("kfl-{}", short_digest(content));
        let mut body = format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"uploadfile\"; filename=\"{file_name}\"\r\n\
             Content-Type: application/x-yaml\r\n\r\n"
        )
        .into_bytes();
        body.extend_from_slice(content);
        body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
        let request = self.post_request(path, query).content_type(&format!("multipart/form-data; boundary={boundary}"));
        self.answer("POST", path, request.send(&body[..]))
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    fn post_request(&self, path: &str, query: &[(&str, &str)]) -> ureq::RequestBuilder<ureq::typestate::WithBody> {
        let mut request = self.agent.post(&self.url(path));
        for (key, value) in query {
            request = request.query(*key, *value);
        }
        if let Some(token) = &self.token {
            request = request.header("Authorization", &format!("Bearer {token}"));
        }
        request
    }

    fn answer(
        &self,
        method: &str,
        path: &str,
        response: std::result::Result<ureq::http::Response<ureq::Body>, ureq::Error>,
    ) -> Result<Json> {
        let call = format!("KFP API {method} {}", self.url(path));
        let failed =
            |status: Option<u16>, what: String| KfpError { status, rpc_code: None, message: format!("{call}: {what}") };
        let mut response = response.map_err(|err| failed(None, stopped(&err)))?;
        let status = response.status().as_u16();
        let text = response.body_mut().read_to_string().map_err(|err| failed(Some(status), stopped(&err)))?;
        if !(200..300).contains(&status) {
            let (message, rpc_code) = server_message(&text);
            let hint = match (status, rpc_code) {
                (401 | 403, _) => {
                    " (the bearer token is missing, expired or not allowed in this namespace: --kfp-token or KFL_KFP_TOKEN)"
                }
                (404, None) => {
                    " (not an answer of KFP's API: is the URL the Pipelines endpoint? Through Kubeflow's gateway it \
                     ends in /pipeline)"
                }
                _ => "",
            };
            let mut error = failed(Some(status), format!("status {status}: {message}{hint}"));
            error.rpc_code = rpc_code;
            return Err(error);
        }
        if text.trim().is_empty() {
            // `google.protobuf.Empty` answers are `{}`; some proxies send nothing at all.
            return Ok(Json::Object(Default::default()));
        }
        serde_json::from_str(&text).map_err(|err| failed(Some(status), format!("the answer is not JSON ({err})")))
    }
}

/// What ureq says, with a timeout named as one.
fn stopped(err: &ureq::Error) -> String {
    match err {
        ureq::Error::Timeout(which) => format!("no answer in time ({which} timed out)"),
        other => other.to_string(),
    }
}

/// The message of an error answer and its `google.rpc.Code`: grpc-gateway's `google.rpc.Status` (`code`,
/// `message`), the upload endpoints' `{error_message, error_details}` (`pipeline_upload_server.go`
/// `writeErrorToResponse`, no code), else the text itself on one line (a proxy's HTML page).
fn server_message(text: &str) -> (String, Option<i64>) {
    let json: Option<Json> = serde_json::from_str(text).ok();
    let field = |key: &str| json.as_ref().and_then(|j| j.get(key)).and_then(Json::as_str).map(str::to_string);
    let code = json.as_ref().and_then(|j| j.get("code")).and_then(Json::as_i64);
    let message = field("message")
        .or_else(|| field("error_message"))
        .unwrap_or_else(|| text.split_whitespace().collect::<Vec<_>>().join(" "));
    const LIMIT: usize = 300;
    let message = match message.char_indices().nth(LIMIT) {
        Some((cut, _)) => format!("{}…", &message[..cut]),
        None => message,
    };
    (message, code)
}

/// A run's display name: the pipeline, and why the run started (`apply`, `schedule:MONITOR`, `alert:NAMES`);
/// `kfl launch retrain --listen` finds the runs alerts started by it.
pub fn run_display_name(pipeline: &str, reason: &str) -> String {
    format!("{pipeline} ({reason})")
}

/// The first 16 hex digits of the content's SHA-256.
pub fn short_digest(content: &[u8]) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(content).iter().take(8).map(|byte| format!("{byte:02x}")).collect()
}
