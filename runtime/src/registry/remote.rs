//! `RestRegistry`: a blocking client for a Kubeflow Model Registry server's REST API
//! (`/api/model_registry/v1alpha3/`, OpenAPI in `shared/schemas/openapi/model-registry.yaml`, tag v0.3.8).
//!
//! The server keeps metadata only: a `Path` artifact is copied into the project's local content store and
//! registered by its `file://` URI; uploading artifacts to object storage is not this client's job.

use std::time::Duration;

use serde_json::{Map, Value, json};

use super::content_store::ContentStore;
use super::custom_properties::{self, DIGEST};
use super::records::{
    ArtifactSource, ModelArtifactRecord, ModelFormat, ModelState, ModelVersionRecord, RegisteredModelRecord,
    Registration,
};
use super::{ModelStore, RegistryError, Result};

const API: &str = "/api/model_registry/v1alpha3";
const PAGE_SIZE: &str = "100";

#[derive(Debug)]
pub struct RestRegistry {
    base: String,
    agent: ureq::Agent,
    bearer_token: Option<String>,
    content: Option<ContentStore>,
}

#[derive(Clone, Copy)]
enum Method {
    Get,
    Post,
    Patch,
}

impl Method {
    fn as_str(self) -> &'static str {
        match self {
            Method::Get => "GET",
            Method::Post => "POST",
            Method::Patch => "PATCH",
        }
    }
}

impl RestRegistry {
    /// A client for the server at `url` (`http://host:port`, with or without the `/api/model_registry/v1alpha3`
    /// suffix).
    pub fn new(url: &str) -> Result<RestRegistry> {
        let trimmed = url.trim_end_matches('/');
        let base = trimmed.strip_suffix(API).unwrap_or(trimmed).to_string();
        if base.starts_with("https://") {
            return Err(RegistryError::Invalid {
                what: "registry URL",
                value: url.to_string(),
                reason: "this kfl is built without TLS; reach the registry over http:// (e.g. a port-forward)",
            });
        }
        if !base.starts_with("http://") || base.len() <= "http://".len() {
            return Err(RegistryError::Invalid {
                what: "registry URL",
                value: url.to_string(),
                reason: "expected http://HOST[:PORT]",
            });
        }
        // A redirect to https is verified against the system's roots: ureq's default root list is not built in,
        // and ureq panics on a TLS connection with no roots configured.
        let tls = ureq::tls::TlsConfig::builder().root_certs(ureq::tls::RootCerts::PlatformVerifier).build();
        let agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .tls_config(tls)
            // An address that drops packets, or a server that accepts and never answers, fails
            // the call instead of hanging it.
            .timeout_connect(Some(Duration::from_secs(10)))
            .timeout_recv_response(Some(Duration::from_secs(30)))
            .timeout_global(Some(Duration::from_secs(60)))
            .build()
            .new_agent();
        Ok(RestRegistry { base, agent, bearer_token: None, content: None })
    }

    /// Sends `Authorization: Bearer TOKEN` (the spec's only security scheme) with every request.
    pub fn with_bearer_token(mut self, token: impl Into<String>) -> RestRegistry {
        self.bearer_token = Some(token.into());
        self
    }

    /// Where `Path` artifacts are copied before their `file://` URI is registered.
    pub fn with_content_store(mut self, store: ContentStore) -> RestRegistry {
        self.content = Some(store);
        self
    }

    /// One request; returns the status and the parsed JSON body (`Null` when empty). Error statuses other than
    /// 404 become `RegistryError::Server`; 404 is left to the caller, which knows what was missing.
    fn call(&self, method: Method, path: &str, query: &[(&str, &str)], body: Option<&Value>) -> Result<(u16, Value)> {
        let url = format!("{}{API}{path}", self.base);
        let http_error = |message: String| RegistryError::Http { method: method.as_str(), url: url.clone(), message };
        let response = match method {
            Method::Get => {
                let mut request = self.agent.get(&url);
                for (key, value) in query {
                    request = request.query(*key, *value);
                }
                if let Some(token) = &self.bearer_token {
                    request = request.header("Authorization", format!("Bearer {token}"));
                }
                request.call()
            }
            Method::Post | Method::Patch => {
                let mut request = match method {
                    Method::Post => self.agent.post(&url),
                    _ => self.agent.patch(&url),
                };
                for (key, value) in query {
                    request = request.query(*key, *value);
                }
                if let Some(token) = &self.bearer_token {
                    request = request.header("Authorization", format!("Bearer {token}"));
                }
                let text = body.map(Value::to_string).unwrap_or_else(|| "{}".to_string());
                request.content_type("application/json").send(text.as_bytes())
            }
        };
        let mut response = response.map_err(|err| http_error(err.to_string()))?;
        let status = response.status().as_u16();
        let text = response.body_mut().read_to_string().map_err(|err| http_error(err.to_string()))?;
        let value = if text.trim().is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).map_err(|err| http_error(format!("answer is not JSON ({err}): {text}")))?
        };
        if (200..300).contains(&status) || status == 404 {
            return Ok((status, value));
        }
        let message = value.get("message").and_then(Value::as_str).map(str::to_string).unwrap_or(text);
        Err(RegistryError::Server { method: method.as_str(), url, status, message })
    }

    /// A call that must succeed; a 404 is reported as `not_found`.
    fn expect(
        &self,
        method: Method,
        path: &str,
        query: &[(&str, &str)],
        body: Option<&Value>,
        not_found: impl FnOnce() -> RegistryError,
    ) -> Result<Value> {
        match self.call(method, path, query, body)? {
            (404, _) => Err(not_found()),
            (_, value) => Ok(value),
        }
    }

    /// Every item of a paged list endpoint, following `nextPageToken`.
    fn list_all(
        &self,
        path: &str,
        extra: &[(&str, &str)],
        not_found: impl Fn() -> RegistryError,
    ) -> Result<Vec<Value>> {
        let mut items = Vec::new();
        let mut token = String::new();
        loop {
            let mut query = vec![("pageSize", PAGE_SIZE), ("orderBy", "ID"), ("sortOrder", "ASC")];
            query.extend_from_slice(extra);
            if !token.is_empty() {
                query.push(("nextPageToken", token.as_str()));
            }
            let page = self.expect(Method::Get, path, &query, None, &not_found)?;
            let page_items = page.get("items").and_then(Value::as_array).cloned().unwrap_or_default();
            let next = page.get("nextPageToken").and_then(Value::as_str).unwrap_or_default().to_string();
            let done = page_items.is_empty() || next.is_empty() || next == token;
            items.extend(page_items);
            if done {
                return Ok(items);
            }
            token = next;
        }
    }

    fn find_model(&self, model: &str) -> Result<Option<Value>> {
        match self.call(Method::Get, "/registered_model", &[("name", model)], None)? {
            (404, _) => Ok(None),
            (_, value) => Ok(Some(value)),
        }
    }

    fn model_id(&self, model: &str) -> Result<String> {
        let found = self.find_model(model)?.ok_or_else(|| RegistryError::ModelNotFound { model: model.to_string() })?;
        id_of(&found, "registered model")
    }

    fn version_json(&self, model: &str, model_id: &str, version: &str) -> Result<Value> {
        let not_found = || RegistryError::VersionNotFound { model: model.to_string(), version: version.to_string() };
        self.expect(
            Method::Get,
            "/model_version",
            &[("name", version), ("parentResourceId", model_id)],
            None,
            not_found,
        )
    }

    fn version_list(&self, model: &str, model_id: &str) -> Result<Vec<Value>> {
        let path = format!("/registered_models/{model_id}/versions");
        self.list_all(&path, &[], || RegistryError::ModelNotFound { model: model.to_string() })
    }

    /// A version's ModelArtifact, combined with the version into a record.
    fn record(&self, model: &str, version: &Value) -> Result<ModelVersionRecord> {
        let version_id = id_of(version, "model version")?;
        let path = format!("/model_versions/{version_id}/artifacts");
        let artifacts = self.list_all(&path, &[("artifactType", "model-artifact")], || RegistryError::Corrupt {
            what: format!("model version {version_id} vanished while being read"),
        })?;
        let artifact = artifacts.into_iter().next().ok_or_else(|| RegistryError::Corrupt {
            what: format!("model `{model}` version {version_id} has no model artifact on the server"),
        })?;
        version_record(model, version, &artifact)
    }
}

fn id_of(value: &Value, what: &str) -> Result<String> {
    value
        .get("id")
        .and_then(Value::as_str)
        .map(str::to_string)
        .ok_or_else(|| RegistryError::Corrupt { what: format!("{what} without an id: {value}") })
}

fn text(value: &Value, key: &str) -> Option<String> {
    value.get(key).and_then(Value::as_str).map(str::to_string)
}

/// `createTimeSinceEpoch` and friends are int64 carried as strings.
fn millis(value: &Value, key: &str) -> i64 {
    value.get(key).and_then(Value::as_str).and_then(|t| t.parse().ok()).unwrap_or(0)
}

fn state_of(value: &Value) -> Result<ModelState> {
    match value.get("state").and_then(Value::as_str) {
        // The schema's default.
        None => Ok(ModelState::Live),
        Some(text) => {
            ModelState::parse(text).ok_or_else(|| RegistryError::Corrupt { what: format!("unknown state `{text}`") })
        }
    }
}

fn properties(value: &Value) -> Map<String, Value> {
    value.get("customProperties").and_then(Value::as_object).cloned().unwrap_or_default()
}

pub(crate) fn version_record(model: &str, version: &Value, artifact: &Value) -> Result<ModelVersionRecord> {
    let decoded = custom_properties::decode_version(&properties(version))?;
    let uri = text(artifact, "uri").unwrap_or_default();
    let digest = properties(artifact)
        .get(DIGEST)
        .map(|value| custom_properties::parse_metadata_value(DIGEST, value).map(|v| v.to_string()))
        .transpose()?;
    Ok(ModelVersionRecord {
        id: id_of(version, "model version")?,
        model: model.to_string(),
        version: text(version, "name")
            .ok_or_else(|| RegistryError::Corrupt { what: format!("version without a name: {version}") })?,
        state: state_of(version)?,
        description: text(version, "description"),
        labels: decoded.labels,
        params: decoded.params,
        metrics: decoded.metrics,
        lineage: decoded.lineage,
        artifact: ModelArtifactRecord {
            id: id_of(artifact, "model artifact")?,
            path: uri.strip_prefix("file://").map(std::path::PathBuf::from),
            uri,
            digest,
            format: ModelFormat {
                name: text(artifact, "modelFormatName"),
                version: text(artifact, "modelFormatVersion"),
            },
        },
        create_time_ms: millis(version, "createTimeSinceEpoch"),
        update_time_ms: millis(version, "lastUpdateTimeSinceEpoch"),
    })
}

impl ModelStore for RestRegistry {
    fn register(&mut self, request: &Registration) -> Result<ModelVersionRecord> {
        super::validate(request)?;
        let (uri, digest) = match &request.artifact {
            ArtifactSource::Uri(uri) => (uri.clone(), None),
            ArtifactSource::Path(path) => {
                let store = self.content.as_ref().ok_or_else(|| RegistryError::Invalid {
                    what: "artifact",
                    value: path.display().to_string(),
                    reason: "a remote registry records URIs; this client has no local store to copy the file into",
                })?;
                let stored = store.put(path)?;
                let absolute = std::path::absolute(&stored.path).unwrap_or(stored.path);
                (format!("file://{}", absolute.display()), Some(stored.digest))
            }
        };
        let model_id = match self.find_model(&request.model)? {
            Some(found) => id_of(&found, "registered model")?,
            None => {
                let mut body = json!({ "name": request.model, "state": "LIVE" });
                if let Some(description) = &request.description {
                    body["description"] = json!(description);
                }
                let created = self.expect(Method::Post, "/registered_models", &[], Some(&body), || {
                    RegistryError::ModelNotFound { model: request.model.clone() }
                })?;
                id_of(&created, "registered model")?
            }
        };
        let existing = self.version_list(&request.model, &model_id)?;
        let names: Vec<String> = existing.iter().filter_map(|v| text(v, "name")).collect();
        let version = match &request.version {
            Some(version) if names.contains(version) => {
                return Err(RegistryError::VersionExists { model: request.model.clone(), version: version.clone() });
            }
            Some(version) => version.clone(),
            None => super::next_version(names.iter().map(String::as_str)),
        };
        let mut body = json!({
            "name": version,
            "registeredModelId": model_id,
            "state": "LIVE",
            "customProperties": custom_properties::encode_version(
                &request.labels, &request.params, &request.metrics, &request.lineage),
        });
        if let Some(description) = &request.description {
            body["description"] = json!(description);
        }
        let model_missing = || RegistryError::ModelNotFound { model: request.model.clone() };
        let created = self.expect(Method::Post, "/model_versions", &[], Some(&body), model_missing)?;
        let version_id = id_of(&created, "model version")?;
        let mut artifact = json!({
            "artifactType": "model-artifact",
            "name": format!("{}-{version}", request.model),
            "uri": uri,
        });
        if let Some(name) = &request.format.name {
            artifact["modelFormatName"] = json!(name);
        }
        if let Some(format_version) = &request.format.version {
            artifact["modelFormatVersion"] = json!(format_version);
        }
        if let Some(digest) = &digest {
            artifact["customProperties"] = json!({ DIGEST: custom_properties::string_value(digest) });
        }
        let path = format!("/model_versions/{version_id}/artifacts");
        let stored = self.expect(Method::Post, &path, &[], Some(&artifact), || RegistryError::VersionNotFound {
            model: request.model.clone(),
            version: version.clone(),
        });
        match stored {
            Ok(stored) => version_record(&request.model, &created, &stored),
            Err(err) => {
                // The server has no transactions: archive the half-made version so serving never picks it up.
                let archive = json!({ "state": "ARCHIVED" });
                let _ = self.call(Method::Patch, &format!("/model_versions/{version_id}"), &[], Some(&archive));
                Err(err)
            }
        }
    }

    fn list_models(&self) -> Result<Vec<RegisteredModelRecord>> {
        let models = self.list_all("/registered_models", &[], || RegistryError::Corrupt {
            what: "the server has no registered_models endpoint".to_string(),
        })?;
        let mut records = Vec::with_capacity(models.len());
        for model in models {
            let id = id_of(&model, "registered model")?;
            let name = text(&model, "name").unwrap_or_default();
            let versions = self.version_list(&name, &id)?;
            records.push(RegisteredModelRecord {
                description: text(&model, "description"),
                state: state_of(&model)?,
                version_count: versions.len() as u64,
                latest_version: versions.last().and_then(|v| text(v, "name")),
                create_time_ms: millis(&model, "createTimeSinceEpoch"),
                update_time_ms: millis(&model, "lastUpdateTimeSinceEpoch"),
                id,
                name,
            });
        }
        records.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(records)
    }

    fn versions(&self, model: &str) -> Result<Vec<ModelVersionRecord>> {
        let model_id = self.model_id(model)?;
        self.version_list(model, &model_id)?.iter().map(|version| self.record(model, version)).collect()
    }

    fn version(&self, model: &str, version: Option<&str>) -> Result<ModelVersionRecord> {
        let model_id = self.model_id(model)?;
        let found = match version {
            Some(version) => self.version_json(model, &model_id, version)?,
            None => self
                .version_list(model, &model_id)?
                .pop()
                .ok_or_else(|| RegistryError::NoVersions { model: model.to_string() })?,
        };
        self.record(model, &found)
    }

    fn set_state(&mut self, model: &str, version: &str, state: ModelState) -> Result<ModelVersionRecord> {
        let model_id = self.model_id(model)?;
        let found = self.version_json(model, &model_id, version)?;
        let version_id = id_of(&found, "model version")?;
        let body = json!({ "state": state.as_str() });
        let not_found = || RegistryError::VersionNotFound { model: model.to_string(), version: version.to_string() };
        let updated =
            self.expect(Method::Patch, &format!("/model_versions/{version_id}"), &[], Some(&body), not_found)?;
        self.record(model, &updated)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_are_checked_and_the_api_suffix_is_optional() {
        let plain = RestRegistry::new("http://localhost:8080/").expect("plain");
        let suffixed = RestRegistry::new("http://localhost:8080/api/model_registry/v1alpha3").expect("suffixed");
        assert_eq!(plain.base, "http://localhost:8080");
        assert_eq!(suffixed.base, plain.base);
        assert!(matches!(RestRegistry::new("https://x"), Err(RegistryError::Invalid { .. })));
        assert!(matches!(RestRegistry::new("localhost:8080"), Err(RegistryError::Invalid { .. })));
    }
}
