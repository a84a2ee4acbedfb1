//! `monitor` → PrometheusRule (monitoring.coreos.com/v1) over KServe metrics, and the retraining trigger.
//!
//! **Metrics.** KServe has no unified request metric across model servers
//! ("each model server may implement its own set of metrics", KServe's
//! Prometheus docs), so the rules read the metrics of the component that sits
//! in front of every predictor in the serve's deployment mode (see
//! `kserve.rs`):
//!
//! - `Knative` mode: Knative's queue-proxy sidecar. KServe v0.20.0 installs
//!   Knative Serving 1.21, whose queue-proxy reports OpenTelemetry metrics
//!   (the OpenCensus `revision_request_count`/`revision_request_latencies`
//!   are gone since 1.20): `kn.serving.invocation.duration`, a histogram in
//!   seconds with attribute `http.response.status_code` (knative/docs
//!   `docs/versioned/serving/observability/metrics/serving-metrics.md`; the
//!   name since knative/serving#16290, 1.20; knative.dev/serving v0.48.1 —
//!   Knative 1.21.1 — `pkg/queue/request_metric.go`). Prometheus sees
//!   `kn_serving_invocation_duration_seconds_{bucket,count}` with label
//!   `http_response_status_code`; the count is the request count. The
//!   queries select a serve's series by `k8s_namespace_name` and
//!   `kn_service_name="<serve>-predictor"`: Knative puts
//!   `k8s.namespace.name` and `kn.service.name` on the queue-proxy's
//!   OpenTelemetry resource (`pkg/queue/sharedmain/otel.go`), which the
//!   Prometheus exporter (go.opentelemetry.io/otel/exporters/prometheus
//!   v0.61.0, built without `WithResourceAsConstantLabels` by knative.dev/pkg
//!   `observability/metrics/prometheus_enabled.go`) reports on `target_info`
//!   only, so a plain scrape of the queue-proxy has them on no series: the
//!   PodMonitor of `scrape.rs` sets them on every series it scrapes (an
//!   OpenTelemetry collector turning resource attributes into labels gives
//!   the same names). Knative serves the metrics on port 9091 only with
//!   `request-metrics-protocol: prometheus` in `config-observability`
//!   (docs/TARGETS.md).
//! - `Standard` mode (no queue-proxy): Istio's standard metrics, which every
//!   Kubeflow profile namespace has (sidecar injection is on there):
//!   `istio_requests_total` (label `response_code`) and
//!   `istio_request_duration_milliseconds_bucket`, selected by
//!   `reporter="destination"`, `destination_workload_namespace` and
//!   `destination_workload="<serve>-predictor"`.
//!
//! `error_rate` is the percentage of 5xx responses, `latency_pNN` the NN-th
//! percentile in milliseconds (duration constants are compared in ms),
//! `requests_per_second` the request rate; all over a 5-minute window.
//!
//! Each rule is an alert labelled `severity` (`warning` for `alert`, `info`
//! for `retrain`), `kfl_action: alert|retrain`, `kfl_service` (underscores,
//! not `kfl.dev/…`: Prometheus before 3.0 refuses label names outside
//! `[a-zA-Z_][a-zA-Z0-9_]*`, and rule files are loaded whole) and,
//! with a project namespace, `namespace` (the sums in the queries drop the
//! series' own labels, and the AlertmanagerConfig route only takes alerts of
//! its namespace). For a monitor with a `then = retrain` rule,
//! `alert_receiver.rs` adds the Alertmanager side: a webhook receiver
//! (`kfl launch retrain --listen`, Deployment and Service) and an
//! AlertmanagerConfig routing the monitor's `kfl_action="retrain"`
//! alerts to it; the receiver starts a run at most once per cooldown.
//!
//! **Schedule.** `schedule = "cron"` → a batch/v1 CronJob
//! `<monitor>-retrain` whose container runs the launcher,
//! `kfl launch retrain --pipeline <project> --namespace <ns>`, which starts a
//! new run of the compiled `pipeline.yaml` through the KFP API. A CronJob
//! rather than a KFP recurring run, because a recurring run is not a
//! Kubernetes object (it is created through the KFP REST API, so it could not
//! be applied with `kubectl apply -k` beside the other manifests), and it
//! pins a pipeline version, whereas the CronJob always launches the pipeline
//! that was last applied. The CronJob runs as `default-editor`, the service
//! account Kubeflow creates in every profile namespace with access to KFP.

use std::collections::BTreeMap;

use k8s_openapi::api::batch::v1::{CronJob, CronJobSpec, JobSpec, JobTemplateSpec};
use k8s_openapi::api::core::v1::{
    Container, PodSpec, PodTemplateSpec, ProjectedVolumeSource, ServiceAccountTokenProjection, Volume, VolumeMount,
    VolumeProjection,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use serde::Serialize;

use super::manifest::{format_float, kubernetes_name, scalar_text};
use super::{Context, Manifest};
use super::{alert_receiver, kserve, scrape};
use crate::diagnostics::{Code, Diagnostic, Label};
use crate::ir::{self, BinaryOpName, Expr, Ref, RuleAction, ServingMetric, UnaryOpName, Value};

const API_VERSION: &str = "monitoring.coreos.com/v1";
const KIND: &str = "PrometheusRule";
/// CronJob names get an 11-character suffix on their Jobs.
const MAX_CRONJOB_NAME: usize = 52;
/// The service account pipeline runs are started as (Kubeflow's, in every profile namespace).
pub(super) const LAUNCHER_SERVICE_ACCOUNT: &str = "default-editor";
const WINDOW: &str = "5m";
/// The labels Knative-mode queries select a serve's queue-proxy series by (module doc, "Metrics"); the
/// PodMonitor of `scrape.rs` sets them.
pub(super) const KNATIVE_NAMESPACE_LABEL: &str = "k8s_namespace_name";
pub(super) const KNATIVE_SERVICE_LABEL: &str = "kn_service_name";
/// The audience and lifetime of the projected KFP token mounted into every launcher that starts runs (the
/// CronJob's and the alert receiver's) at `launcher::KFP_TOKEN_DIR`.
const KFP_TOKEN_AUDIENCE: &str = "pipelines.kubeflow.org";
const KFP_TOKEN_SECONDS: i64 = 7200;

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct PrometheusRule {
    api_version: &'static str,
    kind: &'static str,
    metadata: ObjectMeta,
    spec: RuleSpec,
}

#[derive(Serialize)]
struct RuleSpec {
    groups: Vec<RuleGroup>,
}

#[derive(Serialize)]
struct RuleGroup {
    name: String,
    rules: Vec<AlertRule>,
}

#[derive(Serialize)]
struct AlertRule {
    alert: String,
    expr: String,
    #[serde(rename = "for", skip_serializing_if = "Option::is_none")]
    for_: Option<String>,
    labels: BTreeMap<String, String>,
    annotations: BTreeMap<String, String>,
}

pub(crate) fn manifests(context: &Context<'_>, diagnostics: &mut Vec<Diagnostic>) -> Vec<Manifest> {
    let mut out = Vec::new();
    for monitor in &context.program.monitors {
        let serve = context.program.serves.iter().find(|s| s.name == monitor.service);
        if !monitor.rules.is_empty() {
            out.push(prometheus_rule(context, monitor, serve, diagnostics));
        }
        if let Some(schedule) = &monitor.schedule {
            out.push(cron_job(context, monitor, schedule, diagnostics));
        }
        out.extend(alert_receiver::manifests(context, monitor, diagnostics));
    }
    out.extend(scrape::manifests(context));
    out
}

/// The PrometheusRule a pipeline task passes to `kfl launch monitor`; `None`
/// for a monitor without rules.
pub(crate) fn launcher_manifest(context: &Context<'_>, monitor: &ir::Monitor) -> Option<Manifest> {
    let serve = context.program.serves.iter().find(|s| s.name == monitor.service);
    (!monitor.rules.is_empty()).then(|| prometheus_rule(context, monitor, serve, &mut Vec::new()))
}

/// Where the serve's request metrics come from.
struct Source {
    standard: bool,
    selector: String,
}

impl Source {
    fn new(context: &Context<'_>, monitor: &ir::Monitor, serve: Option<&ir::Serve>) -> Source {
        let workload = kserve::predictor_name(&monitor.service);
        let standard = serve.is_some_and(kserve::is_standard);
        let mut labels = Vec::new();
        if standard {
            labels.push("reporter=\"destination\"".to_string());
            if let Some(ns) = &context.namespace {
                labels.push(format!("destination_workload_namespace=\"{ns}\""));
            }
            labels.push(format!("destination_workload=\"{workload}\""));
        } else {
            if let Some(ns) = &context.namespace {
                labels.push(format!("{KNATIVE_NAMESPACE_LABEL}=\"{ns}\""));
            }
            labels.push(format!("{KNATIVE_SERVICE_LABEL}=\"{workload}\""));
        }
        Source { standard, selector: labels.join(",") }
    }

    fn requests(&self, extra: Option<&str>) -> String {
        let metric =
            if self.standard { "istio_requests_total" } else { "kn_serving_invocation_duration_seconds_count" };
        let selector = match extra {
            Some(extra) => format!("{},{extra}", self.selector),
            None => self.selector.clone(),
        };
        format!("sum(rate({metric}{{{selector}}}[{WINDOW}]))")
    }

    /// The PromQL of a serving metric.
    fn metric(&self, name: &str) -> Option<String> {
        let errors = if self.standard { "response_code=~\"5..\"" } else { "http_response_status_code=~\"5..\"" };
        // Durations are compared in milliseconds: Istio's histogram is in ms, Knative's in seconds.
        let (latency, to_millis) = if self.standard {
            ("istio_request_duration_milliseconds_bucket", "")
        } else {
            ("kn_serving_invocation_duration_seconds_bucket", "1000 * ")
        };
        let quantile = |q: &str| {
            format!("{to_millis}histogram_quantile({q}, sum by (le) (rate({latency}{{{}}}[{WINDOW}])))", self.selector)
        };
        Some(match ServingMetric::from_name(name)? {
            ServingMetric::ErrorRate => {
                format!("(100 * {} / {})", self.requests(Some(errors)), self.requests(None))
            }
            ServingMetric::RequestsPerSecond => self.requests(None),
            ServingMetric::LatencyP50 => quantile("0.50"),
            ServingMetric::LatencyP95 => quantile("0.95"),
            ServingMetric::LatencyP99 => quantile("0.99"),
        })
    }
}

/// A rule condition as PromQL; `Err` names what cannot be expressed.
fn promql(context: &Context<'_>, source: &Source, value: &Value, negate: bool) -> Result<String, String> {
    let constant = |text: String| if negate { Err("`!` of a constant".to_string()) } else { Ok(text) };
    match value {
        Value::Ref(Ref::Builtin { name }) => {
            let metric = source.metric(name).ok_or_else(|| format!("serving metric `{name}`"))?;
            if negate { Ok(format!("({metric}) == 0")) } else { Ok(metric) }
        }
        Value::Ref(Ref::Param { name }) => match context.params.get(name) {
            Some(value) => promql(context, source, value, negate),
            None => Err(format!("param `{name}`")),
        },
        Value::Int(n) => constant(n.to_string()),
        Value::Float(x) | Value::Percent(x) => constant(format_float(*x)),
        Value::Duration(d) => constant(d.millis.to_string()),
        Value::Expr(expr) => match expr.as_ref() {
            Expr::Unary { op: UnaryOpName::Not, operand } => promql(context, source, operand, !negate),
            Expr::Unary { op: UnaryOpName::Neg, operand } => {
                Ok(format!("-({})", promql(context, source, operand, negate)?))
            }
            Expr::Binary { op, lhs, rhs } => {
                let (op, negate_sides) = match (op, negate) {
                    (BinaryOpName::And, false) | (BinaryOpName::Or, true) => ("and", negate),
                    (BinaryOpName::Or, false) | (BinaryOpName::And, true) => ("or", negate),
                    (BinaryOpName::Gt, n) => (if n { "<=" } else { ">" }, false),
                    (BinaryOpName::Ge, n) => (if n { "<" } else { ">=" }, false),
                    (BinaryOpName::Lt, n) => (if n { ">=" } else { "<" }, false),
                    (BinaryOpName::Le, n) => (if n { ">" } else { "<=" }, false),
                    (BinaryOpName::Eq, n) => (if n { "!=" } else { "==" }, false),
                    (BinaryOpName::Ne, n) => (if n { "==" } else { "!=" }, false),
                    (BinaryOpName::Add, false) => ("+", false),
                    (BinaryOpName::Sub, false) => ("-", false),
                    (BinaryOpName::Mul, false) => ("*", false),
                    (BinaryOpName::Div, false) => ("/", false),
                    (other, _) => return Err(format!("operator `{other:?}`")),
                };
                let lhs = promql(context, source, lhs, negate_sides)?;
                let rhs = promql(context, source, rhs, negate_sides)?;
                if matches!(op, "and" | "or") {
                    Ok(format!("({lhs}) {op} ({rhs})"))
                } else {
                    Ok(format!("{lhs} {op} {rhs}"))
                }
            }
            Expr::If { .. } => Err("`if … then … else`".to_string()),
        },
        Value::Bool(_) | Value::String(_) | Value::Enum(_) => {
            Err(scalar_text(value).map_or_else(|| "a constant".to_string(), |t| format!("constant `{t}`")))
        }
        _ => Err("this expression".to_string()),
    }
}

/// `iris_watch` + `slow_requests` → `IrisWatchSlowRequests` (alert names are Prometheus metric names).
fn alert_name(monitor: &str, rule: &str) -> String {
    format!("{monitor}_{rule}")
        .split(['_', '-'])
        .filter(|w| !w.is_empty())
        .map(|w| {
            let mut chars = w.chars();
            chars.next().map(|c| c.to_ascii_uppercase().to_string() + chars.as_str()).unwrap_or_default()
        })
        .collect()
}

fn prometheus_rule(
    context: &Context<'_>,
    monitor: &ir::Monitor,
    serve: Option<&ir::Serve>,
    diagnostics: &mut Vec<Diagnostic>,
) -> Manifest {
    let source = Source::new(context, monitor, serve);
    let service = kubernetes_name(&monitor.service);
    let mut rules = Vec::new();
    for rule in &monitor.rules {
        let expr = match promql(context, &source, &rule.when, false) {
            Ok(expr) => expr,
            Err(what) => {
                diagnostics.push(
                    Diagnostic::error(
                        Code::InvalidArgument,
                        format!("rule `{}`: {what} cannot be turned into a Prometheus query", rule.name),
                        Label::new(monitor.span, "in this monitor"),
                    )
                    .with_help(
                        "compare serving metrics (error_rate, latency_p95, …) with constants, joined by && and ||",
                    ),
                );
                String::new()
            }
        };
        let mut labels = BTreeMap::new();
        let severity = match rule.then {
            RuleAction::Retrain => "info",
            RuleAction::Alert => "warning",
        };
        labels.insert("severity".to_string(), severity.to_string());
        labels.insert("kfl_action".to_string(), rule.then.to_string());
        labels.insert("kfl_service".to_string(), service.clone());
        if let Some(ns) = &context.namespace {
            labels.insert("namespace".to_string(), ns.clone());
        }
        let mut annotations = BTreeMap::new();
        annotations.insert(
            "summary".to_string(),
            format!("{}: rule `{}` of monitor `{}` fired", service, rule.name, monitor.name),
        );
        if let Some(doc) = &monitor.doc {
            annotations.insert("description".to_string(), doc.trim().to_string());
        }
        rules.push(AlertRule {
            alert: alert_name(&monitor.name, &rule.name),
            expr,
            for_: rule.duration.map(super::manifest::format_duration),
            labels,
            annotations,
        });
    }
    let object = PrometheusRule {
        api_version: API_VERSION,
        kind: KIND,
        metadata: context.metadata(&monitor.name),
        spec: RuleSpec { groups: vec![RuleGroup { name: kubernetes_name(&monitor.name), rules }] },
    };
    Manifest::from_typed(KIND, &monitor.name, &object)
}

/// `launch retrain --pipeline <project> [--namespace <ns>]`: how the CronJob and the alert receiver start runs.
pub(super) fn launcher_args(context: &Context<'_>) -> Vec<String> {
    let mut args = vec!["launch".to_string(), "retrain".to_string(), "--pipeline".to_string(), context.project.clone()];
    if let Some(ns) = &context.namespace {
        args.extend(["--namespace".to_string(), ns.clone()]);
    }
    // The runs it starts execute as the account the compiled Role is bound to (`rbac.rs`).
    if let Some(account) = super::rbac::service_account(context) {
        args.extend([super::launcher::SERVICE_ACCOUNT_FLAG.to_string(), account]);
    }
    args
}

fn cron_job(
    context: &Context<'_>,
    monitor: &ir::Monitor,
    schedule: &str,
    diagnostics: &mut Vec<Diagnostic>,
) -> Manifest {
    let name = format!("{}-retrain", kubernetes_name(&monitor.name));
    if name.len() > MAX_CRONJOB_NAME {
        diagnostics.push(
            Diagnostic::error(
                Code::InvalidKubernetesName,
                format!("CronJob name `{name}` is longer than {MAX_CRONJOB_NAME} characters"),
                Label::new(monitor.span, "the monitor's retraining CronJob is named after it"),
            )
            .with_help(format!(
                "shorten the monitor's name to at most {} characters",
                MAX_CRONJOB_NAME - "-retrain".len()
            )),
        );
    }
    let mut args = launcher_args(context);
    args.extend(["--reason".to_string(), format!("schedule:{}", kubernetes_name(&monitor.name))]);
    let container = Container {
        name: "launcher".to_string(),
        image: Some(context.launcher_image.clone()),
        command: Some(vec!["kfl".to_string()]),
        args: Some(args),
        volume_mounts: Some(vec![kfp_token_mount()]),
        ..Container::default()
    };
    let mut object = CronJob {
        metadata: context.metadata(&name),
        spec: Some(CronJobSpec {
            schedule: schedule.to_string(),
            time_zone: Some("Etc/UTC".to_string()),
            concurrency_policy: Some("Forbid".to_string()),
            job_template: JobTemplateSpec {
                metadata: None,
                spec: Some(JobSpec {
                    backoff_limit: Some(1),
                    template: PodTemplateSpec {
                        metadata: Some(ObjectMeta { labels: Some(context.labels.clone()), ..ObjectMeta::default() }),
                        spec: Some(PodSpec {
                            restart_policy: Some("Never".to_string()),
                            service_account_name: Some(LAUNCHER_SERVICE_ACCOUNT.to_string()),
                            containers: vec![container],
                            volumes: Some(vec![kfp_token_volume()]),
                            ..PodSpec::default()
                        }),
                    },
                    ..JobSpec::default()
                }),
            },
            ..CronJobSpec::default()
        }),
        ..CronJob::default()
    };
    if let Some(pod) =
        object.spec.as_mut().and_then(|spec| spec.job_template.spec.as_mut()).and_then(|job| job.template.spec.as_mut())
    {
        super::scheduling::apply_launcher(context.program, pod);
    }
    Manifest::from_typed("CronJob", &name, &object)
}

/// The KFP token's mount in a launcher container.
pub(super) fn kfp_token_mount() -> VolumeMount {
    VolumeMount {
        name: "kfp-token".to_string(),
        mount_path: super::launcher::KFP_TOKEN_DIR.to_string(),
        read_only: Some(true),
        ..VolumeMount::default()
    }
}

/// The KFP token as a projected service-account token with KFP's audience.
pub(super) fn kfp_token_volume() -> Volume {
    Volume {
        name: "kfp-token".to_string(),
        projected: Some(ProjectedVolumeSource {
            sources: Some(vec![VolumeProjection {
                service_account_token: Some(ServiceAccountTokenProjection {
                    audience: Some(KFP_TOKEN_AUDIENCE.to_string()),
                    expiration_seconds: Some(KFP_TOKEN_SECONDS),
                    path: super::launcher::KFP_TOKEN_FILE_NAME.to_string(),
                }),
                ..VolumeProjection::default()
            }]),
            ..ProjectedVolumeSource::default()
        }),
        ..Volume::default()
    }
}

#[cfg(test)]
mod tests {
    use crate::codegen::core::tests::{build_text, file};

    const SERVE: &str = "project p { namespace = \"ml\", image = \"python:3.12\" }\n\
        step fit -> (model: Model) { run = [\"python3\", \"fit.py\", model] }\n\
        model clf { artifact = fit.model, format = \"sklearn\" }\n";

    #[test]
    fn knative_rules_use_queue_proxy_metrics_and_schedule_is_a_cronjob() {
        let output = build_text(&format!(
            "{SERVE}serve svc {{ model = clf, runtime = sklearn, autoscale = concurrency(4) }}\n\
             monitor watch {{\n  service = svc\n  rule errors {{ when = error_rate > 5%, for = 5m, then = alert }}\n  rule slow {{ when = latency_p95 > 250ms || requests_per_second < 1, for = 10m, then = retrain }}\n  schedule = \"0 3 * * 1\"\n}}\n"
        ));
        let rule = file(&output, "prometheusrule-watch.yaml");
        assert!(rule.contains("apiVersion: monitoring.coreos.com/v1"), "{rule}");
        assert!(rule.contains("alert: WatchErrors"), "{rule}");
        // Knative 1.21's queue-proxy metrics (OpenTelemetry names), seconds turned into milliseconds.
        assert!(rule.contains("kn_serving_invocation_duration_seconds_count{k8s_namespace_name=\"ml\",kn_service_name=\"svc-predictor\",http_response_status_code=~\"5..\"}"), "{rule}");
        assert!(
            rule.contains(
                "1000 * histogram_quantile(0.95, sum by (le) (rate(kn_serving_invocation_duration_seconds_bucket{"
            ),
            "{rule}"
        );
        assert!(!rule.contains("revision_request"), "{rule}");
        assert!(rule.contains("> 250"), "{rule}");
        assert!(rule.contains("for: 10m"), "{rule}");
        assert!(rule.contains("kfl_action: retrain"), "{rule}");
        assert!(rule.contains("severity: warning"), "{rule}");
        let cron = file(&output, "cronjob-watch-retrain.yaml");
        assert!(cron.contains("schedule: 0 3 * * 1") || cron.contains("schedule: '0 3 * * 1'"), "{cron}");
        assert!(cron.contains("- retrain"), "{cron}");
        assert!(cron.contains("restartPolicy: Never"), "{cron}");
        // In multi-user Kubeflow the KFP API wants the projected token the launcher reads.
        assert!(cron.contains("mountPath: /var/run/secrets/kubeflow/pipelines"), "{cron}");
        assert!(cron.contains("audience: pipelines.kubeflow.org"), "{cron}");
    }

    #[test]
    fn standard_rules_use_istio_metrics() {
        let output = build_text(&format!(
            "{SERVE}serve svc {{ model = clf, runtime = sklearn, replicas = 1..3, autoscale = cpu(70%) }}\n\
             monitor watch {{\n  service = svc\n  rule slow {{ when = !(latency_p99 <= 1s), for = 1m, then = alert }}\n}}\n"
        ));
        let rule = file(&output, "prometheusrule-watch.yaml");
        // Standard mode has no Knative (no queue-proxy): Istio's metrics, in milliseconds already.
        assert!(rule.contains("istio_request_duration_milliseconds_bucket{reporter=\"destination\""), "{rule}");
        assert!(!rule.contains("kn_serving") && !rule.contains("1000 * "), "{rule}");
        assert!(rule.contains("> 1000"), "{rule}");
        assert!(!output.files.iter().any(|(p, _)| p.contains("cronjob")), "no schedule, no CronJob");
    }
}
