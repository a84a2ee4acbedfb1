//! Typed serde mirrors of the KFP v2 `PipelineSpec` (pipeline_spec.proto, schema 2.1.0) and the kfp-kubernetes `KubernetesExecutorConfig`, with fields in the order the KFP SDK 2.17 prints them.
//!
//! Only the fields kfl emits are modelled. Maps are sorted (`BTreeMap`, or `SmallMap` for the small ones) so
//! output is sorted like the SDK's (`json_format.MessageToDict` + `sort_keys`). The large maps (one entry per
//! task, component or executor) hold their values boxed: a B-tree node has room for eleven entries and is about
//! half full, so unboxed hundred-byte values left half of a 50 MB program's pipeline tree empty (bench/memory.sh).

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::Value as Json;

use super::small_map::{SmallMap, SmallSet};

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PipelineSpec {
    pub components: BTreeMap<String, Box<ComponentSpec>>,
    /// `default_pipeline_root` in `api/v2alpha1/pipeline_spec.proto` (kubeflow/pipelines 2.17): where the
    /// run's artifacts go when the run does not name a root; the `kfp-launcher` ConfigMap's otherwise.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub default_pipeline_root: Option<String>,
    pub deployment_spec: DeploymentSpec,
    pub pipeline_info: PipelineInfo,
    pub root: ComponentSpec,
    pub schema_version: &'static str,
    pub sdk_version: &'static str,
}

/// A JSON number in a spec: compared and hashed by its bits, so that components can be told apart by value
/// (`Builder::deduplicate`); serialised as the plain number.
#[derive(Serialize, Clone, Copy, Debug)]
#[serde(transparent)]
pub struct Number(pub f64);

impl PartialEq for Number {
    fn eq(&self, other: &Number) -> bool {
        self.0.to_bits() == other.0.to_bits()
    }
}

impl Eq for Number {}

impl std::hash::Hash for Number {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.0.to_bits().hash(state);
    }
}

#[derive(Serialize)]
pub struct PipelineInfo {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    pub name: String,
}

#[derive(Serialize, Default)]
pub struct DeploymentSpec {
    pub executors: BTreeMap<String, Box<ExecutorSpec>>,
}

#[derive(Serialize, Default, PartialEq, Eq, Hash)]
#[serde(rename_all = "camelCase")]
pub struct ComponentSpec {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dag: Option<DagSpec>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub executor_label: Option<String>,
    #[serde(skip_serializing_if = "Interface::is_empty")]
    pub input_definitions: Interface,
    #[serde(skip_serializing_if = "Interface::is_empty")]
    pub output_definitions: Interface,
}

/// `inputDefinitions` / `outputDefinitions`.
#[derive(Serialize, Default, Clone, PartialEq, Eq, Hash)]
pub struct Interface {
    #[serde(skip_serializing_if = "SmallMap::is_empty")]
    pub artifacts: SmallMap<String, ArtifactDef>,
    #[serde(skip_serializing_if = "SmallMap::is_empty")]
    pub parameters: SmallMap<String, ParameterDef>,
}

impl Interface {
    pub fn is_empty(&self) -> bool {
        self.artifacts.is_empty() && self.parameters.is_empty()
    }
}

#[derive(Serialize, Clone, PartialEq, Debug, Eq, Hash)]
#[serde(rename_all = "camelCase")]
pub struct ArtifactDef {
    pub artifact_type: ArtifactType,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub is_artifact_list: bool,
}

#[derive(Serialize, Clone, PartialEq, Debug, Eq, Hash)]
#[serde(rename_all = "camelCase")]
pub struct ArtifactType {
    pub schema_title: &'static str,
    pub schema_version: &'static str,
}

#[derive(Serialize, Clone, PartialEq, Eq, Hash)]
#[serde(rename_all = "camelCase")]
pub struct ParameterDef {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub default_value: Option<Json>,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub is_optional: bool,
    pub parameter_type: &'static str,
}

#[derive(Serialize, Default, PartialEq, Eq, Hash)]
pub struct DagSpec {
    #[serde(skip_serializing_if = "DagOutputs::is_empty")]
    pub outputs: DagOutputs,
    pub tasks: BTreeMap<String, Box<TaskSpec>>,
}

#[derive(Serialize, Default, PartialEq, Eq, Hash)]
pub struct DagOutputs {
    #[serde(skip_serializing_if = "SmallMap::is_empty")]
    pub artifacts: SmallMap<String, DagOutputArtifact>,
    #[serde(skip_serializing_if = "SmallMap::is_empty")]
    pub parameters: SmallMap<String, DagOutputParameter>,
}

impl DagOutputs {
    pub fn is_empty(&self) -> bool {
        self.artifacts.is_empty() && self.parameters.is_empty()
    }
}

#[derive(Serialize, PartialEq, Eq, Hash)]
#[serde(rename_all = "camelCase")]
pub struct DagOutputArtifact {
    pub artifact_selectors: Vec<ArtifactSelector>,
}

#[derive(Serialize, PartialEq, Eq, Hash)]
#[serde(rename_all = "camelCase")]
pub struct ArtifactSelector {
    pub output_artifact_key: String,
    pub producer_subtask: String,
}

#[derive(Serialize, PartialEq, Eq, Hash)]
#[serde(rename_all = "camelCase")]
pub struct DagOutputParameter {
    pub value_from_parameter: ParameterSelector,
}

#[derive(Serialize, PartialEq, Eq, Hash)]
#[serde(rename_all = "camelCase")]
pub struct ParameterSelector {
    pub output_parameter_key: String,
    pub producer_subtask: String,
}

#[derive(Serialize, PartialEq, Eq, Hash)]
#[serde(rename_all = "camelCase")]
pub struct TaskSpec {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub caching_options: Option<CachingOptions>,
    pub component_ref: ComponentRef,
    #[serde(skip_serializing_if = "SmallSet::is_empty")]
    pub dependent_tasks: SmallSet<String>,
    #[serde(skip_serializing_if = "TaskInputs::is_empty")]
    pub inputs: TaskInputs,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub parameter_iterator: Option<ParameterIterator>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retry_policy: Option<RetryPolicy>,
    pub task_info: TaskInfo,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub trigger_policy: Option<TriggerPolicy>,
}

impl TaskSpec {
    pub fn new(name: &str, component: &str) -> TaskSpec {
        TaskSpec {
            caching_options: None,
            component_ref: ComponentRef { name: component.to_string() },
            dependent_tasks: SmallSet::default(),
            inputs: TaskInputs::default(),
            parameter_iterator: None,
            retry_policy: None,
            task_info: TaskInfo { name: name.to_string() },
            trigger_policy: None,
        }
    }
}

/// `{}` turns caching off, as `set_caching_options(False)` prints it.
#[derive(Serialize, PartialEq, Eq, Hash)]
#[serde(rename_all = "camelCase")]
pub struct CachingOptions {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub enable_cache: Option<bool>,
}

#[derive(Serialize, PartialEq, Eq, Hash)]
pub struct ComponentRef {
    pub name: String,
}

#[derive(Serialize, PartialEq, Eq, Hash)]
pub struct TaskInfo {
    pub name: String,
}

#[derive(Serialize, Default, PartialEq, Eq, Hash)]
pub struct TaskInputs {
    #[serde(skip_serializing_if = "SmallMap::is_empty")]
    pub artifacts: SmallMap<String, ArtifactBinding>,
    #[serde(skip_serializing_if = "SmallMap::is_empty")]
    pub parameters: SmallMap<String, ParameterBinding>,
}

impl TaskInputs {
    pub fn is_empty(&self) -> bool {
        self.artifacts.is_empty() && self.parameters.is_empty()
    }
}

#[derive(Serialize, Clone, Debug, PartialEq, Eq, Hash)]
#[serde(rename_all = "camelCase")]
pub enum ArtifactBinding {
    ComponentInputArtifact(String),
    TaskOutputArtifact(OutputArtifactRef),
}

#[derive(Serialize, Clone, Debug, PartialEq, Eq, Hash)]
#[serde(rename_all = "camelCase")]
pub struct OutputArtifactRef {
    pub output_artifact_key: String,
    pub producer_task: String,
}

#[derive(Serialize, Clone, Debug, PartialEq, Eq, Hash)]
#[serde(rename_all = "camelCase")]
pub enum ParameterBinding {
    ComponentInputParameter(String),
    TaskOutputParameter(OutputParameterRef),
    RuntimeValue(Constant),
    /// The final status of an exit handler's DAG, for its exit task.
    TaskFinalStatus(FinalStatusRef),
}

#[derive(Serialize, Clone, Debug, PartialEq, Eq, Hash)]
#[serde(rename_all = "camelCase")]
pub struct FinalStatusRef {
    pub producer_task: String,
}

#[derive(Serialize, Clone, Debug, PartialEq, Eq, Hash)]
#[serde(rename_all = "camelCase")]
pub struct OutputParameterRef {
    pub output_parameter_key: String,
    pub producer_task: String,
}

#[derive(Serialize, Clone, Debug, PartialEq, Eq, Hash)]
pub struct Constant {
    pub constant: Json,
}

#[derive(Serialize, PartialEq, Eq, Hash)]
#[serde(rename_all = "camelCase")]
pub struct ParameterIterator {
    pub item_input: String,
    pub items: Items,
}

#[derive(Serialize, PartialEq, Eq, Hash)]
#[serde(rename_all = "camelCase")]
pub struct Items {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub input_parameter: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub raw: Option<String>,
}

#[derive(Serialize, PartialEq, Eq, Hash)]
#[serde(rename_all = "camelCase")]
pub struct RetryPolicy {
    pub backoff_duration: String,
    pub backoff_factor: Number,
    pub backoff_max_duration: &'static str,
    pub max_retry_count: i64,
}

#[derive(Serialize, Default, PartialEq, Eq, Hash)]
pub struct TriggerPolicy {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub condition: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub strategy: Option<&'static str>,
}

#[derive(Serialize, PartialEq, Eq, Hash)]
pub struct ExecutorSpec {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub container: Option<Container>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub importer: Option<Importer>,
}

#[derive(Serialize, PartialEq, Eq, Hash)]
pub struct Container {
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub args: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub command: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub env: Vec<EnvVar>,
    pub image: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resources: Option<Resources>,
}

#[derive(Serialize, PartialEq, Eq, Hash)]
pub struct EnvVar {
    pub name: String,
    pub value: String,
}

/// The SDK 2.17 prints both the deprecated numeric fields and the string
/// `resource*` ones the backend reads; so do we.
#[derive(Serialize, Default, PartialEq, Eq, Hash)]
#[serde(rename_all = "camelCase")]
pub struct Resources {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub accelerator: Option<Accelerator>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cpu_limit: Option<Number>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cpu_request: Option<Number>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub memory_limit: Option<Number>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub memory_request: Option<Number>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resource_cpu_limit: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resource_cpu_request: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resource_memory_limit: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resource_memory_request: Option<String>,
}

#[derive(Serialize, PartialEq, Eq, Hash)]
#[serde(rename_all = "camelCase")]
pub struct Accelerator {
    pub count: String,
    pub resource_count: String,
    pub resource_type: String,
    #[serde(rename = "type")]
    pub kind: String,
}

#[derive(Serialize, PartialEq, Eq, Hash)]
#[serde(rename_all = "camelCase")]
pub struct Importer {
    pub artifact_uri: Constant,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub metadata: Option<BTreeMap<String, String>>,
    pub type_schema: ArtifactType,
}

/// The second YAML document: `platforms.kubernetes.deploymentSpec.executors`.
#[derive(Serialize)]
pub struct PlatformSpec {
    pub platforms: Platforms,
}

#[derive(Serialize)]
pub struct Platforms {
    pub kubernetes: KubernetesPlatform,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct KubernetesPlatform {
    pub deployment_spec: KubernetesDeploymentSpec,
}

#[derive(Serialize)]
pub struct KubernetesDeploymentSpec {
    pub executors: BTreeMap<String, Box<KubernetesExecutorConfig>>,
}

/// `kubernetes_platform/proto/kubernetes_executor_config.proto` (kubeflow/pipelines 2.17.0).
#[derive(Serialize, Default, PartialEq, Eq, Hash)]
#[serde(rename_all = "camelCase")]
pub struct KubernetesExecutorConfig {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub active_deadline_seconds: Option<u64>,
    /// `Always`, `Never` or `IfNotPresent`, set on the task's main container by the driver.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub image_pull_policy: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub config_map_as_env: Vec<ConfigMapAsEnv>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub config_map_as_volume: Vec<ConfigMapAsVolume>,
    /// Env vars filled from the task pod's own fields (downward API `fieldRef`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub field_path_as_env: Vec<FieldPathAsEnv>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub image_pull_secret: Vec<ImagePullSecret>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub node_affinity: Vec<NodeAffinityTerm>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub node_selector: Option<NodeSelector>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pod_metadata: Option<PodMetadata>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub pvc_mount: Vec<PvcMount>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub secret_as_env: Vec<SecretAsEnv>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub secret_as_volume: Vec<SecretAsVolume>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub security_context: Option<SecurityContext>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub tolerations: Vec<Toleration>,
}

impl KubernetesExecutorConfig {
    pub fn is_empty(&self) -> bool {
        self == &KubernetesExecutorConfig::default()
    }
}

#[derive(Serialize, PartialEq, Eq, Hash)]
#[serde(rename_all = "camelCase")]
pub struct FieldPathAsEnv {
    pub name: String,
    pub field_path: String,
}

#[derive(Serialize, PartialEq, Eq, Hash)]
#[serde(rename_all = "camelCase")]
pub struct ImagePullSecret {
    /// Deprecated in the proto, still printed by `kubernetes.set_image_pull_secrets` beside the parameter.
    pub secret_name: String,
    pub secret_name_parameter: NameParameter,
}

#[derive(Serialize, Default, PartialEq, Eq, Hash)]
#[serde(rename_all = "camelCase")]
pub struct NodeAffinityTerm {
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub match_expressions: Vec<SelectorRequirement>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub match_fields: Vec<SelectorRequirement>,
    /// Set: a preferred term of this weight; unset: a required term.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub weight: Option<i64>,
}

#[derive(Serialize, PartialEq, Eq, Hash)]
pub struct SelectorRequirement {
    pub key: String,
    pub operator: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub values: Vec<String>,
}

#[derive(Serialize, Default, PartialEq, Eq, Hash)]
pub struct NodeSelector {
    pub labels: BTreeMap<String, String>,
}

#[derive(Serialize, Default, PartialEq, Eq, Hash)]
pub struct PodMetadata {
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
}

#[derive(Serialize, Default, PartialEq, Eq, Hash)]
#[serde(rename_all = "camelCase")]
pub struct SecurityContext {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub run_as_group: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub run_as_non_root: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub run_as_user: Option<i64>,
}

#[derive(Serialize, Default, PartialEq, Eq, Hash)]
#[serde(rename_all = "camelCase")]
pub struct Toleration {
    #[serde(skip_serializing_if = "String::is_empty")]
    pub effect: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub key: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub operator: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub toleration_seconds: Option<i64>,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub value: String,
}

#[derive(Serialize, PartialEq, Eq, Hash)]
#[serde(rename_all = "camelCase")]
pub struct PvcMount {
    pub constant: String,
    pub mount_path: String,
    pub pvc_name_parameter: NameParameter,
}

#[derive(Serialize, PartialEq, Eq, Hash)]
#[serde(rename_all = "camelCase")]
pub struct NameParameter {
    pub runtime_value: Constant,
}

#[derive(Serialize, PartialEq, Eq, Hash)]
#[serde(rename_all = "camelCase")]
pub struct SecretAsEnv {
    pub key_to_env: Vec<KeyToEnv>,
    pub optional: bool,
    pub secret_name: String,
    pub secret_name_parameter: NameParameter,
}

#[derive(Serialize, PartialEq, Eq, Hash)]
#[serde(rename_all = "camelCase")]
pub struct KeyToEnv {
    pub env_var: String,
    pub secret_key: String,
}

#[derive(Serialize, PartialEq, Eq, Hash)]
#[serde(rename_all = "camelCase")]
pub struct SecretAsVolume {
    pub mount_path: String,
    pub optional: bool,
    pub secret_name: String,
    pub secret_name_parameter: NameParameter,
}

#[derive(Serialize, PartialEq, Eq, Hash)]
#[serde(rename_all = "camelCase")]
pub struct ConfigMapAsVolume {
    pub config_map_name: String,
    pub config_map_name_parameter: NameParameter,
    pub mount_path: String,
    pub optional: bool,
}

#[derive(Serialize, PartialEq, Eq, Hash)]
#[serde(rename_all = "camelCase")]
pub struct ConfigMapAsEnv {
    pub config_map_name: String,
    pub config_map_name_parameter: NameParameter,
    pub key_to_env: Vec<ConfigMapKeyToEnv>,
    pub optional: bool,
}

#[derive(Serialize, PartialEq, Eq, Hash)]
#[serde(rename_all = "camelCase")]
pub struct ConfigMapKeyToEnv {
    pub config_map_key: String,
    pub env_var: String,
}
