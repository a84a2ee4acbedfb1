//! `monitor { scrape = pod_monitor }` → a PodMonitor (monitoring.coreos.com/v1) that has Prometheus scrape the metrics the PrometheusRule queries.
//!
//! One PodMonitor per watched serve (several monitors of one serve share it:
//! two would scrape each pod twice and double every request rate), named
//! after the predictor (`<serve>-predictor`), in the project's namespace,
//! selecting the predictor pods by the labels KServe gives them in both
//! deployment modes ([`kserve::predictor_pod_labels`]). What it scrapes is
//! the component `monitoring.rs` queries in the serve's mode:
//!
//! - `Knative` mode: the queue-proxy container's port `http-usermetric`
//!   (9091) at `/metrics`. knative.dev/serving v0.48.1 (Knative 1.21.1, what
//!   KServe v0.20.0's `hack/setup/quick-install` installs and its go.mod
//!   requires): `pkg/reconciler/revision/resources/queue.go` declares the
//!   port (`v1.UserQueueMetricsPortName`, `networking.UserQueueMetricsPort`
//!   in `pkg/networking/constants.go`), and `pkg/queue/sharedmain/otel.go`
//!   serves the request metrics there when `config-observability` says
//!   `request-metrics-protocol: prometheus` (knative.dev/pkg
//!   `observability/metrics/prometheus/server.go`: `GET /metrics`). Two
//!   relabelings copy the pod's namespace and its `serving.knative.dev/service`
//!   label (the Knative Service, `<serve>-predictor`, which Knative also
//!   passes to the queue-proxy as `SERVING_SERVICE`) onto every series as
//!   the labels the queries select by, which the exporter does not put there
//!   (`monitoring.rs`, "Metrics").
//! - `Standard` mode: the Istio sidecar's Envoy port `http-envoy-prom`
//!   (15090) at `/stats/prometheus`, declared on the `istio-proxy` container
//!   by istio/istio's injection template
//!   (`manifests/charts/istio-control/istio-discovery/files/injection-template.yaml`;
//!   the same name and number in every release's injected pods seen, 1.4 to
//!   1.24; KServe v0.20.0's quick install sets up Istio 1.27.1), the
//!   Envoy-only endpoint of Istio's docs (`docs/tasks/observability/metrics/
//!   secure-metrics`: workload metrics on 15020, merged, or 15090, Envoy's
//!   own, at `/stats/prometheus`). Istio's standard metrics carry the
//!   `destination_workload*` labels themselves.
//!
//! **A PodMonitor, not a ServiceMonitor**: in Standard mode no Service has
//! port 15090 (KServe's predictor Service exposes the model server's port
//! only), and in Knative mode only Knative's internal `<revision>-private`
//! Services carry `http-usermetric`, one per revision; a PodMonitor reaches
//! the named container port of the predictor pods in both modes, whatever
//! the revision.

use std::collections::BTreeSet;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta};
use serde::Serialize;

use super::manifest::kubernetes_name;
use super::monitoring::{KNATIVE_NAMESPACE_LABEL, KNATIVE_SERVICE_LABEL};
use super::{Context, Manifest, kserve};
use crate::ir::Scrape;

const API_VERSION: &str = "monitoring.coreos.com/v1";
const KIND: &str = "PodMonitor";

/// Knative's queue-proxy user-metrics port and path (module doc).
const QUEUE_PROXY_METRICS_PORT: &str = "http-usermetric";
const QUEUE_PROXY_METRICS_PATH: &str = "/metrics";
/// Istio's Envoy stats port and path (module doc).
const ENVOY_METRICS_PORT: &str = "http-envoy-prom";
const ENVOY_METRICS_PATH: &str = "/stats/prometheus";
/// The Knative Service label on revision pods (knative.dev/serving v0.48.1 `pkg/apis/serving/register.go`
/// `ServiceLabelKey`) and the namespace, as Prometheus's Kubernetes pod discovery names them.
const KNATIVE_SERVICE_POD_LABEL: &str = "__meta_kubernetes_pod_label_serving_knative_dev_service";
const POD_NAMESPACE: &str = "__meta_kubernetes_namespace";

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct PodMonitor {
    api_version: &'static str,
    kind: &'static str,
    metadata: ObjectMeta,
    spec: PodMonitorSpec,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct PodMonitorSpec {
    selector: LabelSelector,
    pod_metrics_endpoints: Vec<PodMetricsEndpoint>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct PodMetricsEndpoint {
    port: &'static str,
    path: &'static str,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    relabelings: Vec<Relabeling>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Relabeling {
    action: &'static str,
    source_labels: Vec<&'static str>,
    target_label: &'static str,
}

/// The PodMonitors the program's monitors ask for, one per serve, in the order of the first monitor asking.
pub(super) fn manifests(context: &Context<'_>) -> Vec<Manifest> {
    let mut seen = BTreeSet::new();
    let mut out = Vec::new();
    for monitor in &context.program.monitors {
        if monitor.scrape != Scrape::PodMonitor || !seen.insert(monitor.service.as_str()) {
            continue;
        }
        // A checked program's monitor always names a serve; without one, the queries' own fallback (Knative).
        let standard = context.program.serves.iter().any(|s| s.name == monitor.service && kserve::is_standard(s));
        out.push(pod_monitor(context, &monitor.service, standard));
    }
    out
}

fn pod_monitor(context: &Context<'_>, serve: &str, standard: bool) -> Manifest {
    let endpoint = if standard {
        PodMetricsEndpoint { port: ENVOY_METRICS_PORT, path: ENVOY_METRICS_PATH, relabelings: Vec::new() }
    } else {
        let copy = |source, target| Relabeling { action: "replace", source_labels: vec![source], target_label: target };
        PodMetricsEndpoint {
            port: QUEUE_PROXY_METRICS_PORT,
            path: QUEUE_PROXY_METRICS_PATH,
            relabelings: vec![
                copy(POD_NAMESPACE, KNATIVE_NAMESPACE_LABEL),
                copy(KNATIVE_SERVICE_POD_LABEL, KNATIVE_SERVICE_LABEL),
            ],
        }
    };
    let name = kserve::predictor_name(serve);
    let object = PodMonitor {
        api_version: API_VERSION,
        kind: KIND,
        metadata: context.metadata(&name),
        spec: PodMonitorSpec {
            selector: LabelSelector {
                match_labels: Some(kserve::predictor_pod_labels(&kubernetes_name(serve))),
                ..LabelSelector::default()
            },
            pod_metrics_endpoints: vec![endpoint],
        },
    };
    Manifest::from_typed(KIND, &name, &object)
}
