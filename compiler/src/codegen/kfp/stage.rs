//! `step` and `train` stages: tasks, their inputs and outputs, command lines with KFP placeholders, resources, and the kfp-kubernetes config (secrets, volumes, timeout).

use super::launch::set_args;
use super::*;
use crate::codegen::staging;

impl Builder<'_, '_> {
    /// Creates the task of a node in `scope` and records where it lives.
    pub(super) fn add_task(&mut self, node: &str, scope: usize) -> String {
        let name = task_name(node);
        self.scopes[scope].tasks.insert(name.clone(), Box::new(TaskSpec::new(&name, &format!("comp-{name}"))));
        self.homes.insert(node.to_string(), (scope, name.clone()));
        name
    }

    /// Binds one declared input of a task to its value; returns how the input travels.
    pub(super) fn bind_value(
        &mut self,
        scope: usize,
        task: &str,
        iface: &mut Interface,
        name: &str,
        ty: &Ty,
        value: &Value,
    ) -> Io {
        let io = Io::of(ty);
        let bound = match value {
            // No importer can fetch it (`staging::is_passed_as_text`): the task gets the URI as text, as `kfl run`
            // passes it, and the script reads the data itself.
            Value::Ref(Ref::Dataset { name: dataset })
                if staging::is_passed_as_text(&args::dataset_uri(self.program, dataset)) =>
            {
                let uri = args::dataset_uri(self.program, dataset);
                Bound::Parameter(ParameterBinding::RuntimeValue(Constant { constant: Json::String(uri) }))
            }
            Value::Ref(reference) => match self.source_of(reference, scope) {
                Some(source) => self.reach(scope, &source),
                None => {
                    Bound::Parameter(ParameterBinding::RuntimeValue(Constant { constant: Json::String(String::new()) }))
                }
            },
            Value::Template(_) => {
                let text = self.render(scope, task, iface, &[], &[], value, false);
                Bound::Parameter(ParameterBinding::RuntimeValue(Constant { constant: Json::String(text) }))
            }
            other => {
                let constant =
                    constant_json(other).unwrap_or_else(|| Json::String(scalar_text(other).unwrap_or_default()));
                Bound::Parameter(ParameterBinding::RuntimeValue(Constant { constant }))
            }
        };
        // An artifact input bound to a constant (a dataset passed as its URI) is a `STRING` parameter: KFP's
        // driver checks each input's value against its component's `parameterType` (`resolveInputs` in
        // `backend/src/v2/driver/resolve.go`, kubeflow/pipelines 2.17.0), and a string fits only `STRING`.
        let io = match (&bound, io) {
            (Bound::Parameter(_), Io::Artifact { .. }) => Io::Parameter("STRING"),
            (_, io) => io,
        };
        io.define(iface, name);
        self.bind(scope, task, name, bound);
        io
    }

    /// Renders a command-line value. Stage inputs and outputs become
    /// placeholders; params, other stages' outputs, `TUNE.best.*` and the loop
    /// variable become extra `pipelinechannel--…` inputs of the task.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn render(
        &mut self,
        scope: usize,
        task: &str,
        iface: &mut Interface,
        inputs: &[(String, Io)],
        outputs: &[(String, Io)],
        value: &Value,
        uri: bool,
    ) -> String {
        let value = params_as_channels(value);
        let context = self.context;
        let known = &self.outputs;
        let homes = &self.homes;
        let mut extra: Vec<(String, Ref, Io)> = Vec::new();
        let mut slot = |slot: Slot<'_>| -> String {
            let (name, reference, io) = match slot {
                Slot::Input(name) => {
                    if let Some((_, io)) = outputs.iter().find(|(n, _)| n == name) {
                        return io.placeholder(name, true, uri);
                    }
                    if let Some((_, io)) = inputs.iter().find(|(n, _)| n == name) {
                        return io.placeholder(name, false, uri);
                    }
                    let Some(param) = name.strip_prefix(CHANNEL) else { return name.to_string() };
                    let Some(declared) = context.program.params.iter().find(|p| p.name == param) else {
                        return name.to_string();
                    };
                    (name.to_string(), Ref::Param { name: param.to_string() }, Io::of(&declared.ty))
                }
                Slot::StageOutput { stage, output } => {
                    let Some(io) = known.get(stage).and_then(|m| m.get(output)) else {
                        return format!("{stage}.{output}");
                    };
                    let task = homes.get(stage).map_or_else(|| task_name(stage), |(_, t)| t.clone());
                    let reference = Ref::Output { stage: stage.to_string(), output: output.to_string(), fan_in: false };
                    (format!("{CHANNEL}{task}-{output}"), reference, io.clone())
                }
                Slot::Best { tune, field } => {
                    let key = best_key(field);
                    let Some(io) = known.get(tune).and_then(|m| m.get(&key)) else {
                        return format!("{tune}.best.{field}");
                    };
                    let reference =
                        Ref::Best { tune: tune.to_string(), field: field.to_string(), what: BestField::Output };
                    (format!("{CHANNEL}{}-{key}", task_name(tune)), reference, io.clone())
                }
                Slot::LoopVar(var) => {
                    (format!("{CHANNEL}{var}"), Ref::LoopVar { name: var.to_string() }, Io::Parameter("STRING"))
                }
                Slot::Param(name) | Slot::Builtin(name) => return name.to_string(),
            };
            let placeholder = io.placeholder(&name, false, uri);
            extra.push((name, reference, io));
            placeholder
        };
        let text = args::render(context, &value, &mut slot);
        for (name, reference, io) in extra {
            if iface.parameters.contains_key(&name) || iface.artifacts.contains_key(&name) {
                continue;
            }
            let Some(source) = self.source_of(&reference, scope) else { continue };
            let io = if matches!(reference, Ref::LoopVar { .. }) { source.io().clone() } else { io };
            io.define(iface, &name);
            let bound = self.reach(scope, &source);
            self.bind(scope, task, &name, bound);
        }
        text
    }

    pub(super) fn stage(&mut self, stage: &ir::Stage) {
        let scope = self.scope_for(stage.loop_index, stage.when.as_ref());
        let task = self.add_task(&stage.name, scope);
        let mut inputs = Interface::default();
        let mut outputs = Interface::default();
        let mut input_io = Vec::new();
        for input in &stage.inputs {
            if let Some(value) = &input.binding {
                let io = self.bind_value(scope, &task, &mut inputs, &input.name, &input.ty, value);
                input_io.push((input.name.clone(), io));
            } else if input.ty == Ty::TaskStatus
                && let Some(handler) = self.exits.get(&stage.name).cloned()
            {
                // The driver reads the status of the task's first dependent task
                // (`backend/src/v2/driver/resolve.go`, 2.17.0): an exit task depends on its handler alone.
                let io = Io::of(&input.ty);
                io.define(&mut inputs, &input.name);
                let bound = ParameterBinding::TaskFinalStatus(FinalStatusRef { producer_task: handler });
                self.bind(scope, &task, &input.name, Bound::Parameter(bound));
                input_io.push((input.name.clone(), io));
            }
        }
        let output_io: Vec<(String, Io)> = self
            .outputs
            .get(&stage.name)
            .map(|m| m.iter().map(|(k, io)| (k.clone(), io.clone())).collect())
            .unwrap_or_default();
        for (name, io) in &output_io {
            io.define(&mut outputs, name);
        }
        let launcher = stage.kind == ir::StageKind::Train;
        let mut rendered: Vec<String> = Vec::new();
        for value in &stage.run {
            rendered.push(self.render(scope, &task, &mut inputs, &input_io, &output_io, value, launcher));
        }
        let mut env = Vec::new();
        for (name, value) in &stage.env {
            let value = self.render(scope, &task, &mut inputs, &input_io, &output_io, value, launcher);
            env.push(EnvVar { name: name.clone(), value });
        }
        if launcher {
            // The TrainJob runs the command; the launcher passes the bound values.
            let manifest = super::super::trainer::launcher_manifest(self.context, stage);
            let mut launch = self.launch_args("trainjob", manifest.as_ref());
            launch.extend(set_args(&inputs));
            for (name, io) in &output_io {
                // Artifacts go to their URI; metrics and other values are read back from the trainer's log.
                let flag = if matches!(io, Io::Artifact { .. }) { "--output" } else { "--metric" };
                launch.push(flag.into());
                launch.push(pair(name, &io.placeholder(name, true, true)));
            }
            self.finish_launcher_task(&task, inputs, outputs, launch);
        } else {
            let mut command = rendered;
            let args = if command.len() > 1 { command.split_off(1) } else { Vec::new() };
            let container = Container {
                args,
                command,
                env,
                image: self.context.stage_image(stage).to_string(),
                resources: resources(&stage.resources),
            };
            self.finish_task(&task, inputs, outputs, container);
        }
        let spec = self.scopes[scope].tasks.get_mut(&task);
        if let Some(spec) = spec {
            spec.caching_options = Some(CachingOptions { enable_cache: stage.cache.then_some(true) });
            if stage.retries > 0 {
                spec.retry_policy = Some(retry_policy(stage.retries));
            }
        }
        if stage.always {
            self.always(scope, &task);
        }
        if !launcher {
            self.platform_config(&task, stage);
        }
    }

    /// `always = true`: run once upstream tasks finish, whatever their state
    /// (`ignore_upstream_failure()`), on the task and any condition around it.
    pub(super) fn always(&mut self, scope: usize, task: &str) {
        let mut current = Some((scope, task.to_string()));
        while let Some((s, name)) = current {
            if let Some(spec) = self.scopes[s].tasks.get_mut(&name) {
                let policy = spec.trigger_policy.get_or_insert_with(TriggerPolicy::default);
                policy.strategy = Some("ALL_UPSTREAM_TASKS_COMPLETED");
            }
            current = match self.scopes[s].parent {
                Some(parent) if !self.scopes[s].is_loop => Some((parent, self.scopes[s].task.clone())),
                _ => None,
            };
        }
    }

    pub(super) fn platform_config(&mut self, task: &str, stage: &ir::Stage) {
        let mut config = KubernetesExecutorConfig {
            active_deadline_seconds: stage.timeout.map(|t| t.seconds()),
            ..Default::default()
        };
        for mount in &stage.mounts {
            let pvc = kubernetes_name(&mount.volume);
            config.pvc_mount.push(PvcMount {
                constant: pvc.clone(),
                mount_path: mount.path.clone(),
                pvc_name_parameter: NameParameter { runtime_value: Constant { constant: Json::String(pvc) } },
            });
        }
        for name in &stage.secrets {
            let Some(secret) = self.program.secrets.iter().find(|s| &s.name == name) else { continue };
            config.secret_as_env.push(SecretAsEnv {
                key_to_env: secret
                    .keys
                    .iter()
                    .map(|k| KeyToEnv { env_var: k.clone(), secret_key: k.clone() })
                    .collect(),
                optional: false,
                secret_name: secret.k8s_name.clone(),
                secret_name_parameter: NameParameter {
                    runtime_value: Constant { constant: Json::String(secret.k8s_name.clone()) },
                },
            });
        }
        scheduling(&mut config, &stage.scheduling);
        // A patch that does not fit was refused by the checker (`check.rs`): nothing is left to skip.
        let _ = super::pod::apply(&mut config, &stage.patches);
        if !config.is_empty() {
            self.platform.insert(format!("exec-{task}"), Box::new(config));
        }
    }

    pub(super) fn finish_task(&mut self, task: &str, inputs: Interface, outputs: Interface, container: Container) {
        self.unsealed.push(format!("comp-{task}"));
        self.components.insert(
            format!("comp-{task}"),
            Box::new(ComponentSpec {
                dag: None,
                executor_label: Some(format!("exec-{task}")),
                input_definitions: inputs,
                output_definitions: outputs,
            }),
        );
        self.executors
            .insert(format!("exec-{task}"), Box::new(ExecutorSpec { container: Some(container), importer: None }));
    }
}

/// A step's scheduling properties in its executor config: what the checker refused
/// (`codegen/scheduling.rs`: priority class, service account) is not here.
pub(super) fn scheduling(config: &mut KubernetesExecutorConfig, scheduling: &ir::Scheduling) {
    use crate::codegen::scheduling as pod;
    if let Some(labels) = pod::node_selector(scheduling) {
        config.node_selector.get_or_insert_with(NodeSelector::default).labels.extend(labels);
    }
    for toleration in pod::tolerations(scheduling).unwrap_or_default() {
        config.tolerations.push(Toleration {
            effect: toleration.effect.unwrap_or_default(),
            key: toleration.key.unwrap_or_default(),
            operator: toleration.operator.unwrap_or_default(),
            toleration_seconds: toleration.toleration_seconds,
            value: toleration.value.unwrap_or_default(),
        });
    }
    for name in &scheduling.image_pull_secrets {
        config.image_pull_secret.push(ImagePullSecret {
            secret_name: name.clone(),
            secret_name_parameter: NameParameter { runtime_value: Constant { constant: Json::String(name.clone()) } },
        });
    }
    config.image_pull_policy = pod::pull_policy(scheduling);
    let queue = pod::queue_labels(scheduling);
    if !queue.is_empty() {
        config.pod_metadata.get_or_insert_with(PodMetadata::default).labels.extend(queue);
    }
}

/// The exponential backoff `kfl run` applies (`ir::RETRY_BACKOFF_*`), as the SDK prints `set_retry`
/// (`sdk/python/kfp/dsl/structures.py` `RetryPolicy.to_proto`, 2.17.0: durations in whole seconds, the
/// 3600s default limit); the Argo compiler hands the three to Argo's retry backoff in seconds
/// (`backend/src/v2/compiler/argocompiler/container.go`, 2.17.0), which waits `duration × factor^n` before
/// retry n+1 and stops retrying once `maxDuration` has passed.
pub(super) fn retry_policy(retries: i64) -> RetryPolicy {
    RetryPolicy {
        backoff_duration: format!("{}s", ir::RETRY_BACKOFF_SECONDS),
        backoff_factor: Number(ir::RETRY_BACKOFF_FACTOR),
        backoff_max_duration: RETRY_MAX_DURATION,
        max_retry_count: retries,
    }
}

/// Container resources as the SDK 2.17 prints them: numeric cores and GB,
/// the `resource*` strings as written, and the accelerator (`resourceType` is the resource name the driver
/// puts in the limits: kubeflow/pipelines 2.17.0 `backend/src/v2/driver/driver.go`).
pub(super) fn resources(resources: &ir::Resources) -> Option<Resources> {
    let mut out = Resources::default();
    if let Some((request, limit)) = &resources.cpu {
        out.cpu_request = Some(Number(request.millis as f64 / 1000.0));
        out.cpu_limit = Some(Number(limit.millis as f64 / 1000.0));
        out.resource_cpu_request = Some(request.to_kubernetes());
        out.resource_cpu_limit = Some(limit.to_kubernetes());
    }
    if let Some((request, limit)) = &resources.memory {
        out.memory_request = Some(Number(request.bytes / 1e9));
        out.memory_limit = Some(Number(limit.bytes / 1e9));
        out.resource_memory_request = Some(request.text.clone());
        out.resource_memory_limit = Some(limit.text.clone());
    }
    if let Some(gpu) = resources.gpu.filter(|g| *g > 0) {
        out.accelerator = Some(Accelerator {
            count: gpu.to_string(),
            resource_count: gpu.to_string(),
            resource_type: resources.gpu_resource().into(),
            kind: resources.gpu_resource().into(),
        });
    }
    let empty = out.accelerator.is_none() && out.cpu_limit.is_none() && out.memory_limit.is_none();
    (!empty).then_some(out)
}

/// A param read directly in a command line becomes an input of the task
/// (`pipelinechannel--NAME`), so the run can override it.
pub(super) fn params_as_channels(value: &Value) -> Value {
    args::params_as_channels(value, CHANNEL)
}
