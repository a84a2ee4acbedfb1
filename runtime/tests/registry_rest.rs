//! `RestRegistry` against a local HTTP server that replays Model Registry answers shaped by the OpenAPI schemas
//! (`shared/schemas/openapi/model-registry.yaml`, v0.3.8): the client must send the right method, path, query and
//! body, and read the answers back into records.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};

use indexmap::IndexMap;
use kfl_runtime::registry::{
    ArtifactSource, Lineage, ModelFormat, ModelState, ModelStore, PropertyValue, Registration, RegistryError,
    RestRegistry,
};
use serde_json::{Value, json};

const API: &str = "/api/model_registry/v1alpha3";

/// One scripted exchange: what the client must send, and what the server answers.
struct Exchange {
    method: &'static str,
    target: String,
    body: Option<Value>,
    status: u16,
    answer: Value,
}

fn exchange(method: &'static str, target: &str, body: Option<Value>, status: u16, answer: Value) -> Exchange {
    Exchange { method, target: format!("{API}{target}"), body, status, answer }
}

#[derive(Debug, PartialEq)]
struct Received {
    method: String,
    target: String,
    body: Option<Value>,
    authorization: Option<String>,
}

/// Serves the scripted answers in order and records what arrived; the test compares afterwards.
fn replay(script: Vec<Exchange>) -> (String, Arc<Mutex<Vec<Received>>>, Vec<Exchange>) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let url = format!("http://{}", listener.local_addr().expect("addr"));
    let received = Arc::new(Mutex::new(Vec::new()));
    let answers: Arc<Mutex<Vec<(u16, Value)>>> =
        Arc::new(Mutex::new(script.iter().rev().map(|e| (e.status, e.answer.clone())).collect()));
    let log = Arc::clone(&received);
    std::thread::spawn(move || {
        for stream in listener.incoming().map_while(Result::ok) {
            let log = Arc::clone(&log);
            let answers = Arc::clone(&answers);
            std::thread::spawn(move || serve_connection(stream, &log, &answers));
        }
    });
    (url, received, script)
}

fn serve_connection(stream: TcpStream, log: &Mutex<Vec<Received>>, answers: &Mutex<Vec<(u16, Value)>>) {
    let Ok(write_half) = stream.try_clone() else { return };
    let mut reader = BufReader::new(stream);
    let mut writer = write_half;
    loop {
        let mut request_line = String::new();
        if reader.read_line(&mut request_line).unwrap_or(0) == 0 {
            return;
        }
        let mut parts = request_line.split_whitespace();
        let method = parts.next().unwrap_or_default().to_string();
        let target = parts.next().unwrap_or_default().to_string();
        let mut length = 0usize;
        let mut authorization = None;
        loop {
            let mut header = String::new();
            if reader.read_line(&mut header).unwrap_or(0) == 0 {
                return;
            }
            let header = header.trim_end();
            if header.is_empty() {
                break;
            }
            if let Some((name, value)) = header.split_once(':') {
                match name.to_ascii_lowercase().as_str() {
                    "content-length" => length = value.trim().parse().unwrap_or(0),
                    "authorization" => authorization = Some(value.trim().to_string()),
                    _ => {}
                }
            }
        }
        let mut body = vec![0u8; length];
        if reader.read_exact(&mut body).is_err() {
            return;
        }
        let body = if body.is_empty() { None } else { serde_json::from_slice(&body).ok() };
        log.lock().expect("log").push(Received { method, target, body, authorization });
        let (status, answer) =
            answers.lock().expect("answers").pop().unwrap_or((500, json!({"code": "test", "message": "unscripted"})));
        let text = answer.to_string();
        let reply = format!(
            "HTTP/1.1 {status} Scripted\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{text}",
            text.len()
        );
        if writer.write_all(reply.as_bytes()).is_err() {
            return;
        }
    }
}

fn assert_script_followed(received: &Mutex<Vec<Received>>, script: &[Exchange]) {
    let received = received.lock().expect("log");
    let expected: Vec<(&str, &str, Option<&Value>)> =
        script.iter().map(|e| (e.method, e.target.as_str(), e.body.as_ref())).collect();
    let actual: Vec<(&str, &str, Option<&Value>)> =
        received.iter().map(|r| (r.method.as_str(), r.target.as_str(), r.body.as_ref())).collect();
    assert_eq!(actual, expected);
}

fn registered_model() -> Value {
    json!({
        "id": "1", "name": "iris", "state": "LIVE", "externalId": "", "customProperties": {},
        "createTimeSinceEpoch": "1700000000000", "lastUpdateTimeSinceEpoch": "1700000000000"
    })
}

fn string_value(text: &str) -> Value {
    json!({ "metadataType": "MetadataStringValue", "string_value": text })
}

fn model_version(id: &str, name: &str, state: &str) -> Value {
    json!({
        "id": id, "name": name, "registeredModelId": "1", "state": state, "author": "kfl",
        "description": "iris classifier",
        "customProperties": {
            "team": string_value("ml"),
            "param.max_depth": { "metadataType": "MetadataIntValue", "int_value": "4" },
            "param.lr": { "metadataType": "MetadataDoubleValue", "double_value": 0.1 },
            "metric.accuracy": { "metadataType": "MetadataDoubleValue", "double_value": 0.96 },
            "kfl.run_id": string_value("run-1"),
            "kfl.stage": string_value("register"),
            "kfl.input.data": string_value("ab")
        },
        "createTimeSinceEpoch": "1700000000100", "lastUpdateTimeSinceEpoch": "1700000000200"
    })
}

fn model_artifact(id: &str, version: &str) -> Value {
    json!({
        "artifactType": "model-artifact", "id": id, "name": format!("iris-{version}"),
        "uri": "s3://models/iris/model", "state": "LIVE",
        "modelFormatName": "sklearn", "modelFormatVersion": "1",
        "customProperties": {},
        "createTimeSinceEpoch": "1700000000100", "lastUpdateTimeSinceEpoch": "1700000000100"
    })
}

fn list(items: Vec<Value>) -> Value {
    let size = items.len();
    json!({ "items": items, "nextPageToken": "", "pageSize": 100, "size": size })
}

fn not_found() -> Value {
    json!({ "code": "404", "message": "not found" })
}

const PAGE: &str = "pageSize=100&orderBy=ID&sortOrder=ASC";

#[test]
fn register_creates_the_model_the_version_and_the_artifact() {
    let version_body = json!({
        "name": "2",
        "registeredModelId": "1",
        "state": "LIVE",
        "customProperties": {
            "team": string_value("ml"),
            "param.max_depth": { "metadataType": "MetadataIntValue", "int_value": "4" },
            "param.lr": { "metadataType": "MetadataDoubleValue", "double_value": 0.1 },
            "metric.accuracy": { "metadataType": "MetadataDoubleValue", "double_value": 0.96 },
            "kfl.run_id": string_value("run-1"),
            "kfl.stage": string_value("register"),
            "kfl.input.data": string_value("ab")
        },
        "description": "iris classifier"
    });
    let artifact_body = json!({
        "artifactType": "model-artifact", "name": "iris-2", "uri": "s3://models/iris/model",
        "modelFormatName": "sklearn", "modelFormatVersion": "1"
    });
    let script = vec![
        exchange("GET", "/registered_model?name=iris", None, 404, not_found()),
        exchange(
            "POST",
            "/registered_models",
            Some(json!({ "name": "iris", "state": "LIVE", "description": "iris classifier" })),
            201,
            registered_model(),
        ),
        exchange(
            "GET",
            &format!("/registered_models/1/versions?{PAGE}"),
            None,
            200,
            list(vec![model_version("3", "1", "LIVE")]),
        ),
        exchange("POST", "/model_versions", Some(version_body), 201, model_version("4", "2", "LIVE")),
        exchange("POST", "/model_versions/4/artifacts", Some(artifact_body), 201, model_artifact("7", "2")),
    ];
    let (url, received, script) = replay(script);
    let mut client = RestRegistry::new(&url).expect("client").with_bearer_token("t0k");
    let request = Registration {
        format: ModelFormat { name: Some("sklearn".into()), version: Some("1".into()) },
        description: Some("iris classifier".into()),
        labels: IndexMap::from([("team".to_string(), "ml".to_string())]),
        params: IndexMap::from([
            ("max_depth".to_string(), PropertyValue::Int(4)),
            ("lr".to_string(), PropertyValue::Double(0.1)),
        ]),
        metrics: IndexMap::from([("accuracy".to_string(), 0.96)]),
        lineage: Lineage {
            run_id: Some("run-1".into()),
            stage: Some("register".into()),
            input_hashes: IndexMap::from([("data".to_string(), "ab".to_string())]),
        },
        ..Registration::new("iris", ArtifactSource::Uri("s3://models/iris/model".into()))
    };
    let record = client.register(&request).expect("register");
    assert_script_followed(&received, &script);
    assert!(received.lock().expect("log").iter().all(|r| r.authorization.as_deref() == Some("Bearer t0k")));
    assert_eq!((record.id.as_str(), record.version.as_str(), record.state), ("4", "2", ModelState::Live));
    assert_eq!(record.labels, request.labels);
    assert_eq!(record.params, request.params);
    assert_eq!(record.metrics, request.metrics);
    assert_eq!(record.lineage, request.lineage);
    assert_eq!(record.artifact.uri, "s3://models/iris/model");
    assert_eq!(record.artifact.format, request.format);
    assert_eq!(record.create_time_ms, 1_700_000_000_100);
}

#[test]
fn an_explicit_version_that_exists_is_refused_before_anything_is_created() {
    let script = vec![
        exchange("GET", "/registered_model?name=iris", None, 200, registered_model()),
        exchange(
            "GET",
            &format!("/registered_models/1/versions?{PAGE}"),
            None,
            200,
            list(vec![model_version("3", "1", "LIVE")]),
        ),
    ];
    let (url, received, script) = replay(script);
    let mut client = RestRegistry::new(&url).expect("client");
    let request =
        Registration { version: Some("1".into()), ..Registration::new("iris", ArtifactSource::Uri("s3://m".into())) };
    let err = client.register(&request).expect_err("conflict");
    assert!(matches!(err, RegistryError::VersionExists { .. }), "{err}");
    assert_script_followed(&received, &script);
}

#[test]
fn listing_pages_through_models_and_versions() {
    let mut first_page = list(vec![registered_model()]);
    first_page["nextPageToken"] = json!("page-2");
    let mut wine = registered_model();
    wine["id"] = json!("2");
    wine["name"] = json!("wine");
    let script = vec![
        exchange("GET", &format!("/registered_models?{PAGE}"), None, 200, first_page),
        exchange("GET", &format!("/registered_models?{PAGE}&nextPageToken=page-2"), None, 200, list(vec![wine])),
        exchange(
            "GET",
            &format!("/registered_models/1/versions?{PAGE}"),
            None,
            200,
            list(vec![model_version("3", "1", "LIVE"), model_version("4", "2", "ARCHIVED")]),
        ),
        exchange("GET", &format!("/registered_models/2/versions?{PAGE}"), None, 200, list(vec![])),
    ];
    let (url, received, script) = replay(script);
    let client = RestRegistry::new(&format!("{url}{API}/")).expect("client");
    let models = client.list_models().expect("list");
    assert_script_followed(&received, &script);
    let summary: Vec<(&str, u64, Option<&str>)> =
        models.iter().map(|m| (m.name.as_str(), m.version_count, m.latest_version.as_deref())).collect();
    assert_eq!(summary, [("iris", 2, Some("2")), ("wine", 0, None)]);
}

#[test]
fn show_and_archive_read_the_version_with_its_artifact() {
    let mut archived = model_version("4", "2", "ARCHIVED");
    archived["lastUpdateTimeSinceEpoch"] = json!("1700000009999");
    let artifacts = format!("/model_versions/4/artifacts?{PAGE}&artifactType=model-artifact");
    let script = vec![
        exchange("GET", "/registered_model?name=iris", None, 200, registered_model()),
        exchange("GET", "/model_version?name=2&parentResourceId=1", None, 200, model_version("4", "2", "LIVE")),
        exchange("GET", &artifacts, None, 200, list(vec![model_artifact("7", "2")])),
        exchange("GET", "/registered_model?name=iris", None, 200, registered_model()),
        exchange("GET", "/model_version?name=2&parentResourceId=1", None, 200, model_version("4", "2", "LIVE")),
        exchange("PATCH", "/model_versions/4", Some(json!({ "state": "ARCHIVED" })), 200, archived),
        exchange("GET", &artifacts, None, 200, list(vec![model_artifact("7", "2")])),
        exchange("GET", "/registered_model?name=iris", None, 200, registered_model()),
        exchange("GET", "/model_version?name=9&parentResourceId=1", None, 404, not_found()),
        exchange("GET", "/registered_model?name=wine", None, 404, not_found()),
    ];
    let (url, received, script) = replay(script);
    let mut client = RestRegistry::new(&url).expect("client");
    let shown = client.version("iris", Some("2")).expect("show");
    assert_eq!((shown.version.as_str(), shown.state, shown.artifact.id.as_str()), ("2", ModelState::Live, "7"));
    let after = client.archive("iris", "2").expect("archive");
    assert_eq!((after.state, after.update_time_ms), (ModelState::Archived, 1_700_000_009_999));
    assert!(matches!(client.version("iris", Some("9")), Err(RegistryError::VersionNotFound { .. })));
    assert!(matches!(client.version("wine", None), Err(RegistryError::ModelNotFound { .. })));
    assert_script_followed(&received, &script);
}

#[test]
fn server_errors_carry_the_status_and_the_message() {
    let script = vec![exchange(
        "GET",
        "/registered_model?name=iris",
        None,
        503,
        json!({ "code": "unavailable", "message": "database is down" }),
    )];
    let (url, _, _) = replay(script);
    let client = RestRegistry::new(&url).expect("client");
    let err = client.version("iris", None).expect_err("503");
    assert!(matches!(err, RegistryError::Server { status: 503, .. }), "{err}");
    assert!(err.to_string().contains("database is down"), "{err}");
}

#[test]
fn a_failed_artifact_creation_archives_the_half_made_version() {
    let script = vec![
        exchange("GET", "/registered_model?name=iris", None, 200, registered_model()),
        exchange("GET", &format!("/registered_models/1/versions?{PAGE}"), None, 200, list(vec![])),
        exchange("POST", "/model_versions", None, 201, model_version("4", "1", "LIVE")),
        exchange("POST", "/model_versions/4/artifacts", None, 500, json!({ "code": "500", "message": "boom" })),
        exchange(
            "PATCH",
            "/model_versions/4",
            Some(json!({ "state": "ARCHIVED" })),
            200,
            model_version("4", "1", "ARCHIVED"),
        ),
    ];
    let (url, received, _) = replay(script);
    let mut client = RestRegistry::new(&url).expect("client");
    let err = client.register(&Registration::new("iris", ArtifactSource::Uri("s3://m".into()))).expect_err("500");
    assert!(err.to_string().contains("boom"), "{err}");
    let received = received.lock().expect("log");
    let last = received.last().expect("requests");
    assert_eq!(
        (last.method.as_str(), last.target.as_str()),
        ("PATCH", "/api/model_registry/v1alpha3/model_versions/4")
    );
    assert_eq!(last.body, Some(json!({ "state": "ARCHIVED" })));
}

/// Every path the client calls and every field name it sends must exist in the OpenAPI document, so a typo
/// (`registeredModelID`) cannot hide behind a replay server that accepts anything.
#[test]
fn paths_and_field_names_exist_in_the_openapi_document() {
    let spec_path =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/schemas/openapi/model-registry.yaml");
    let Ok(spec) = std::fs::read_to_string(&spec_path) else {
        eprintln!("skipped: {} is not beside this clone", spec_path.display());
        return;
    };
    for path in [
        "/registered_model:",
        "/registered_models:",
        "/registered_models/{registeredmodelId}/versions\":",
        "/model_version:",
        "/model_versions:",
        "\"/api/model_registry/v1alpha3/model_versions/{modelversionId}\":",
        "/model_versions/{modelversionId}/artifacts\":",
    ] {
        assert!(spec.contains(path), "path {path} is not in the spec");
    }
    for field in [
        "name",
        "state",
        "description",
        "registeredModelId",
        "customProperties",
        "artifactType",
        "uri",
        "modelFormatName",
        "modelFormatVersion",
        "metadataType",
        "string_value",
        "int_value",
        "double_value",
        "bool_value",
        "nextPageToken",
        "pageSize",
        "orderBy",
        "sortOrder",
        "parentResourceId",
        "createTimeSinceEpoch",
        "lastUpdateTimeSinceEpoch",
        "items",
    ] {
        let declared = spec.lines().any(|line| {
            let trimmed = line.trim();
            trimmed == format!("{field}:")
                || trimmed == format!("- name: {field}")
                || trimmed == format!("name: {field}")
        });
        assert!(declared, "field {field} is not declared in the spec");
    }
    assert!(spec.contains("model-artifact: \"#/components/schemas/ModelArtifact\""));
    for value in ["MetadataStringValue", "MetadataIntValue", "MetadataDoubleValue", "MetadataBoolValue"] {
        assert!(spec.contains(&format!("default: {value}")), "{value}");
    }
}
