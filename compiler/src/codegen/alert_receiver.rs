//! A monitor's `then = retrain` rules on a cluster: the webhook receiver (a Deployment and Service running `kfl launch retrain --listen`) and the AlertmanagerConfig (monitoring.coreos.com/v1alpha1) that routes the monitor's retrain alerts to it; all AlertmanagerConfig knowledge lives here.
//!
//! For a monitor with at least one `then = retrain` rule:
//!
//! - Deployment `<monitor>-retrain-receiver`: one replica of the launcher
//!   image running `kfl launch retrain --pipeline <project> --namespace <ns>
//!   --listen 0.0.0.0:8080`, which starts a run of the pipeline for a
//!   notification holding a firing `kfl_action="retrain"` alert, at most
//!   once per cooldown (30 minutes). One replica on purpose (strategy
//!   `Recreate`): the cooldown is held in the receiver's memory, so two
//!   replicas could each start a run for the same alert. It runs as the
//!   CronJob's service account and mounts the service-account token KFP
//!   accepts in multi-user mode (audience `pipelines.kubeflow.org`) where
//!   `kfl launch retrain` reads it, as Kubeflow's `access-ml-pipeline`
//!   PodDefault would.
//! - Service of the same name, port 8080 (`http`).
//! - AlertmanagerConfig `<monitor>-retrain`: a route matching
//!   `kfl_action="retrain"` and `kfl_service="<serve>"` to a webhook
//!   receiver at `http://<receiver>.<ns>.svc.cluster.local:8080/alerts` with
//!   `sendResolved: false` (a resolved alert starts nothing). The
//!   prometheus-operator adds a `namespace="<ns>"` matcher to the route
//!   itself (its default `alertmanagerConfigMatcherStrategy`), which is why
//!   the PrometheusRule labels its alerts with the namespace (`monitoring.rs`).
//!
//! The receiver authenticates Alertmanager with a bearer token: the Secret
//! `<monitor>-retrain-receiver` (key `token`), which the user creates (a
//! compiler with deterministic output cannot make a secret; docs/SECURITY.md
//! gives the command), fills the receiver's `$KFL_ALERT_TOKEN`, and the
//! webhook sends it through `httpConfig.authorization` (type `Bearer`,
//! `credentials` a key of a Secret in the AlertmanagerConfig's namespace:
//! prometheus-operator v0.93.0 CRD `monitoring.coreos.com_alertmanagerconfigs`,
//! `receivers[].webhookConfigs[].httpConfig.authorization`). Until the Secret
//! exists the receiver's pod does not start, so it is never open.
//!
//! No NetworkPolicy is emitted: Alertmanager's namespace is not known here,
//! and its pods' labels differ between operator versions (`app: alertmanager`
//! in older `pkg/alertmanager/statefulset.go`, `app.kubernetes.io/name` in
//! newer) and can be put on any pod by whoever may create pods, so a policy
//! selecting them would suggest a boundary it does not draw. The token is the
//! control.
//!
//! Only with a project `namespace`: the webhook URL must name the Service's
//! namespace (Alertmanager runs in another one), and the operator's
//! namespace matcher needs the alerts to carry it. Without one, nothing here
//! is emitted and retrain alerts reach no receiver.
//!
//! The field names follow prometheus-operator's
//! `pkg/apis/monitoring/v1alpha1/alertmanager_config_types.go` (`Route`,
//! `Matcher`, `Receiver`, `WebhookConfig`). Not verified on a cluster.

use std::collections::BTreeMap;

use k8s_openapi::api::apps::v1::{Deployment, DeploymentSpec, DeploymentStrategy};
use k8s_openapi::api::core::v1::{
    Container, ContainerPort, EnvVar, EnvVarSource, HTTPGetAction, PodSpec, PodTemplateSpec, Probe,
    ResourceRequirements, SecretKeySelector, Service, ServicePort, ServiceSpec,
};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use serde::Serialize;

use super::launcher::ALERT_TOKEN_ENV;
use super::manifest::kubernetes_name;
use super::monitoring::{LAUNCHER_SERVICE_ACCOUNT, kfp_token_mount, kfp_token_volume, launcher_args};
use super::{Context, Manifest};
use crate::diagnostics::{Code, Diagnostic, Label};
use crate::ir::{self, RuleAction};

const API_VERSION: &str = "monitoring.coreos.com/v1alpha1";
const KIND: &str = "AlertmanagerConfig";
/// The port the receiver listens on, and the Service's.
const PORT: i32 = 8080;
const PORT_NAME: &str = "http";
/// Where `kfl launch retrain --listen` takes notifications, and its probe.
const ALERTS_PATH: &str = "/alerts";
const HEALTH_PATH: &str = "/healthz";
const RECEIVER_SUFFIX: &str = "-retrain-receiver";
/// The key of the receiver's Secret (named like the receiver) that holds its bearer token.
const TOKEN_KEY: &str = "token";
/// The Authorization scheme Alertmanager sends the token with (the CRD's default, written out).
const AUTHORIZATION_TYPE: &str = "Bearer";
/// A Service name is a DNS-1035 label.
const MAX_SERVICE_NAME: usize = 63;
/// Alertmanager's own defaults: wait 30s to gather a group, 5m between updates of it, resend a firing group
/// every 4h (the receiver's cooldown drops repeats that come sooner).
const GROUP_WAIT: &str = "30s";
const GROUP_INTERVAL: &str = "5m";
const REPEAT_INTERVAL: &str = "4h";

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct AlertmanagerConfig {
    api_version: &'static str,
    kind: &'static str,
    metadata: ObjectMeta,
    spec: AlertmanagerConfigSpec,
}

#[derive(Serialize)]
struct AlertmanagerConfigSpec {
    route: Route,
    receivers: Vec<Receiver>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Route {
    receiver: String,
    matchers: Vec<Matcher>,
    group_wait: &'static str,
    group_interval: &'static str,
    repeat_interval: &'static str,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Matcher {
    name: &'static str,
    value: String,
    match_type: &'static str,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Receiver {
    name: String,
    webhook_configs: Vec<WebhookConfig>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct WebhookConfig {
    url: String,
    send_resolved: bool,
    http_config: HttpConfig,
}

#[derive(Serialize)]
struct HttpConfig {
    authorization: Authorization,
}

#[derive(Serialize)]
struct Authorization {
    #[serde(rename = "type")]
    kind: &'static str,
    credentials: SecretKey,
}

#[derive(Serialize)]
struct SecretKey {
    name: String,
    key: &'static str,
}

/// The receiver's Deployment and Service and the AlertmanagerConfig of a monitor with a `then = retrain` rule;
/// nothing without a project namespace (see the module doc).
pub(super) fn manifests(
    context: &Context<'_>,
    monitor: &ir::Monitor,
    diagnostics: &mut Vec<Diagnostic>,
) -> Vec<Manifest> {
    let Some(namespace) = &context.namespace else { return Vec::new() };
    if !monitor.rules.iter().any(|rule| rule.then == RuleAction::Retrain) {
        return Vec::new();
    }
    let name = format!("{}{RECEIVER_SUFFIX}", kubernetes_name(&monitor.name));
    if name.len() > MAX_SERVICE_NAME {
        diagnostics.push(
            Diagnostic::error(
                Code::InvalidKubernetesName,
                format!("Service name `{name}` is longer than {MAX_SERVICE_NAME} characters"),
                Label::new(monitor.span, "the monitor's retrain receiver is named after it"),
            )
            .with_help(format!(
                "shorten the monitor's name to at most {} characters",
                MAX_SERVICE_NAME - RECEIVER_SUFFIX.len()
            )),
        );
    }
    let mut selector = BTreeMap::new();
    selector.insert("app.kubernetes.io/name".to_string(), name.clone());
    selector.insert("app.kubernetes.io/component".to_string(), "retrain-receiver".to_string());
    vec![
        deployment(context, &name, &selector),
        service(context, &name, &selector),
        alertmanager_config(context, monitor, &name, namespace),
    ]
}

fn deployment(context: &Context<'_>, name: &str, selector: &BTreeMap<String, String>) -> Manifest {
    let mut args = launcher_args(context);
    args.extend(["--listen".to_string(), format!("0.0.0.0:{PORT}")]);
    let probe = |initial_delay: i32| Probe {
        http_get: Some(HTTPGetAction {
            path: Some(HEALTH_PATH.to_string()),
            port: IntOrString::String(PORT_NAME.to_string()),
            ..HTTPGetAction::default()
        }),
        initial_delay_seconds: Some(initial_delay),
        period_seconds: Some(10),
        ..Probe::default()
    };
    let quantity = |text: &str| Quantity(text.to_string());
    let container = Container {
        name: "receiver".to_string(),
        image: Some(context.launcher_image.clone()),
        command: Some(vec!["kfl".to_string()]),
        args: Some(args),
        ports: Some(vec![ContainerPort {
            name: Some(PORT_NAME.to_string()),
            container_port: PORT,
            ..ContainerPort::default()
        }]),
        readiness_probe: Some(probe(1)),
        liveness_probe: Some(probe(10)),
        resources: Some(ResourceRequirements {
            requests: Some([("cpu".to_string(), quantity("10m")), ("memory".to_string(), quantity("32Mi"))].into()),
            limits: Some([("memory".to_string(), quantity("128Mi"))].into()),
            ..ResourceRequirements::default()
        }),
        volume_mounts: Some(vec![kfp_token_mount()]),
        env: Some(vec![EnvVar {
            name: ALERT_TOKEN_ENV.to_string(),
            value_from: Some(EnvVarSource {
                secret_key_ref: Some(SecretKeySelector {
                    name: name.to_string(),
                    key: TOKEN_KEY.to_string(),
                    optional: Some(false),
                }),
                ..EnvVarSource::default()
            }),
            ..EnvVar::default()
        }]),
        ..Container::default()
    };
    let mut pod_labels = context.labels.clone();
    pod_labels.extend(selector.clone());
    let mut object = Deployment {
        metadata: context.metadata(name),
        spec: Some(DeploymentSpec {
            replicas: Some(1),
            selector: LabelSelector { match_labels: Some(selector.clone()), ..LabelSelector::default() },
            strategy: Some(DeploymentStrategy { type_: Some("Recreate".to_string()), ..DeploymentStrategy::default() }),
            template: PodTemplateSpec {
                metadata: Some(ObjectMeta { labels: Some(pod_labels), ..ObjectMeta::default() }),
                spec: Some(PodSpec {
                    service_account_name: Some(LAUNCHER_SERVICE_ACCOUNT.to_string()),
                    containers: vec![container],
                    volumes: Some(vec![kfp_token_volume()]),
                    ..PodSpec::default()
                }),
            },
            ..DeploymentSpec::default()
        }),
        ..Deployment::default()
    };
    if let Some(pod) = object.spec.as_mut().and_then(|spec| spec.template.spec.as_mut()) {
        super::scheduling::apply_launcher(context.program, pod);
    }
    Manifest::from_typed("Deployment", name, &object)
}

fn service(context: &Context<'_>, name: &str, selector: &BTreeMap<String, String>) -> Manifest {
    let object = Service {
        metadata: context.metadata(name),
        spec: Some(ServiceSpec {
            selector: Some(selector.clone()),
            ports: Some(vec![ServicePort {
                name: Some(PORT_NAME.to_string()),
                port: PORT,
                target_port: Some(IntOrString::String(PORT_NAME.to_string())),
                ..ServicePort::default()
            }]),
            ..ServiceSpec::default()
        }),
        ..Service::default()
    };
    Manifest::from_typed("Service", name, &object)
}

fn alertmanager_config(context: &Context<'_>, monitor: &ir::Monitor, receiver: &str, namespace: &str) -> Manifest {
    let name = format!("{}-retrain", kubernetes_name(&monitor.name));
    let matcher = |name: &'static str, value: String| Matcher { name, value, match_type: "=" };
    let object = AlertmanagerConfig {
        api_version: API_VERSION,
        kind: KIND,
        metadata: context.metadata(&name),
        spec: AlertmanagerConfigSpec {
            route: Route {
                receiver: receiver.to_string(),
                matchers: vec![
                    matcher("kfl_action", RuleAction::Retrain.to_string()),
                    matcher("kfl_service", kubernetes_name(&monitor.service)),
                ],
                group_wait: GROUP_WAIT,
                group_interval: GROUP_INTERVAL,
                repeat_interval: REPEAT_INTERVAL,
            },
            receivers: vec![Receiver {
                name: receiver.to_string(),
                webhook_configs: vec![WebhookConfig {
                    url: format!("http://{receiver}.{namespace}.svc.cluster.local:{PORT}{ALERTS_PATH}"),
                    send_resolved: false,
                    http_config: HttpConfig {
                        authorization: Authorization {
                            kind: AUTHORIZATION_TYPE,
                            credentials: SecretKey { name: receiver.to_string(), key: TOKEN_KEY },
                        },
                    },
                }],
            }],
        },
    };
    Manifest::from_typed(KIND, &name, &object)
}

#[cfg(test)]
mod tests {
    use crate::codegen::core::tests::{build_text, try_build_text};
    use crate::codegen::{BuildOptions, Context};
    use crate::source::{MemoryLoader, Origin, SourceFile, Sources};

    const PROGRAM: &str = "project p { namespace = \"ml\", image = \"python:3.12\" }\n\
        step fit -> (model: Model) { run = [\"python3\", \"fit.py\", model] }\n\
        model clf { artifact = fit.model, format = \"sklearn\" }\n\
        serve svc { model = clf, runtime = sklearn }\n";

    /// The monitoring manifests of `text` as JSON objects, by file name.
    fn objects(text: &str) -> Vec<(String, serde_json::Value)> {
        let mut sources = Sources::new();
        let main = sources.add(SourceFile::new("main.kfl", text, Origin::User));
        let checked = crate::check(&mut sources, main, &MemoryLoader::default());
        let program = checked.program().unwrap_or_else(|| panic!("check failed: {:?}", checked.diagnostics));
        let context = Context::new(program, &BuildOptions::default());
        let manifests = crate::codegen::monitoring::manifests(&context, &mut Vec::new());
        manifests.into_iter().map(|m| (m.file_name(), m.object)).collect()
    }

    fn object<'o>(objects: &'o [(String, serde_json::Value)], file: &str) -> &'o serde_json::Value {
        objects.iter().find(|(name, _)| name == file).map(|(_, v)| v).unwrap_or_else(|| panic!("no {file}"))
    }

    #[test]
    fn a_retrain_rule_gets_a_receiver_and_an_alertmanager_route() {
        let text = format!(
            "{PROGRAM}monitor watch {{\n  service = svc\n  rule slow {{ when = latency_p95 > 250ms, for = 10m, then = retrain }}\n}}\n"
        );
        let objects = objects(&text);
        let deployment = object(&objects, "deployment-watch-retrain-receiver.yaml");
        assert_eq!(deployment["metadata"]["namespace"], "ml");
        assert_eq!(deployment["metadata"]["labels"]["app.kubernetes.io/part-of"], "p");
        assert_eq!(deployment["spec"]["replicas"], 1);
        assert_eq!(deployment["spec"]["strategy"]["type"], "Recreate");
        let selector = &deployment["spec"]["selector"]["matchLabels"];
        assert_eq!(selector["app.kubernetes.io/name"], "watch-retrain-receiver");
        let pod = &deployment["spec"]["template"];
        assert_eq!(pod["metadata"]["labels"]["app.kubernetes.io/name"], "watch-retrain-receiver");
        assert_eq!(pod["spec"]["serviceAccountName"], "default-editor");
        let container = &pod["spec"]["containers"][0];
        assert_eq!(container["image"], crate::codegen::image_reference::default_launcher_image());
        assert_eq!(
            container["args"],
            serde_json::json!([
                "launch",
                "retrain",
                "--pipeline",
                "p",
                "--namespace",
                "ml",
                "--listen",
                "0.0.0.0:8080"
            ])
        );
        assert_eq!(container["readinessProbe"]["httpGet"]["path"], "/healthz");
        assert_eq!(container["livenessProbe"]["httpGet"]["port"], "http");
        assert_eq!(container["ports"][0]["containerPort"], 8080);
        assert_eq!(container["resources"]["requests"]["cpu"], "10m");
        assert_eq!(container["volumeMounts"][0]["mountPath"], "/var/run/secrets/kubeflow/pipelines");
        let token = &pod["spec"]["volumes"][0]["projected"]["sources"][0]["serviceAccountToken"];
        assert_eq!(token["audience"], "pipelines.kubeflow.org");
        assert_eq!(token["path"], "token");

        let service = object(&objects, "service-watch-retrain-receiver.yaml");
        assert_eq!(service["metadata"]["namespace"], "ml");
        assert_eq!(service["spec"]["selector"], deployment["spec"]["selector"]["matchLabels"]);
        assert_eq!(service["spec"]["ports"][0]["port"], 8080);
        assert_eq!(service["spec"]["ports"][0]["targetPort"], "http");

        let config = object(&objects, "alertmanagerconfig-watch-retrain.yaml");
        assert_eq!(config["apiVersion"], "monitoring.coreos.com/v1alpha1");
        assert_eq!(config["kind"], "AlertmanagerConfig");
        assert_eq!(config["metadata"]["namespace"], "ml");
        let route = &config["spec"]["route"];
        assert_eq!(route["receiver"], "watch-retrain-receiver");
        assert_eq!(
            route["matchers"],
            serde_json::json!([
                {"name": "kfl_action", "value": "retrain", "matchType": "="},
                {"name": "kfl_service", "value": "svc", "matchType": "="},
            ])
        );
        assert_eq!(route["repeatInterval"], "4h");
        let receiver = &config["spec"]["receivers"][0];
        assert_eq!(receiver["name"], "watch-retrain-receiver");
        assert_eq!(
            receiver["webhookConfigs"],
            serde_json::json!([{
                "url": "http://watch-retrain-receiver.ml.svc.cluster.local:8080/alerts",
                "sendResolved": false,
                "httpConfig": {"authorization": {"type": "Bearer", "credentials": {"name": "watch-retrain-receiver", "key": "token"}}},
            }])
        );
        // The receiver reads the same Secret key the webhook sends.
        assert_eq!(
            container["env"],
            serde_json::json!([{
                "name": "KFL_ALERT_TOKEN",
                "valueFrom": {"secretKeyRef": {"name": "watch-retrain-receiver", "key": "token", "optional": false}},
            }])
        );
        let output = build_text(&text);
        let kustomization =
            output.files.iter().find(|(p, _)| p == "kustomization.yaml").expect("kustomization").1.clone();
        for listed in [
            "manifests/deployment-watch-retrain-receiver.yaml",
            "manifests/service-watch-retrain-receiver.yaml",
            "manifests/alertmanagerconfig-watch-retrain.yaml",
        ] {
            assert!(kustomization.contains(listed), "{listed} not in:\n{kustomization}");
        }
        // The operator's namespace matcher needs the alerts to carry the namespace.
        let rule = object(&objects, "prometheusrule-watch.yaml");
        assert_eq!(rule["spec"]["groups"][0]["rules"][0]["labels"]["namespace"], "ml");
    }

    #[test]
    fn alert_only_monitors_and_projects_without_namespace_get_no_receiver() {
        let alert_only = build_text(&format!(
            "{PROGRAM}monitor watch {{\n  service = svc\n  rule slow {{ when = latency_p95 > 250ms, then = alert }}\n}}\n"
        ));
        let no_namespace = build_text(
            &format!(
                "{PROGRAM}monitor watch {{\n  service = svc\n  rule slow {{ when = latency_p95 > 250ms, then = retrain }}\n}}\n"
            )
            .replace("namespace = \"ml\", ", ""),
        );
        for output in [alert_only, no_namespace] {
            let names: Vec<&String> = output.files.iter().map(|(p, _)| p).collect();
            assert!(names.iter().any(|p| p.contains("prometheusrule-watch")), "{names:?}");
            assert!(!names.iter().any(|p| p.contains("receiver") || p.contains("alertmanagerconfig")), "{names:?}");
        }
    }

    #[test]
    fn a_monitor_name_too_long_for_the_receiver_service_is_an_error() {
        let long = "w".repeat(47);
        let errors = try_build_text(&format!(
            "{PROGRAM}monitor {long} {{\n  service = svc\n  rule slow {{ when = latency_p95 > 250ms, then = retrain }}\n}}\n"
        ))
        .expect_err("a 64-character Service name");
        assert!(errors.iter().any(|e| e.contains("longer than 63 characters")), "{errors:?}");
        let fits = "w".repeat(46);
        build_text(&format!(
            "{PROGRAM}monitor {fits} {{\n  service = svc\n  rule slow {{ when = latency_p95 > 250ms, then = retrain }}\n}}\n"
        ));
    }
}
