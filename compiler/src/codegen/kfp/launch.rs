//! Lifecycle tasks that run the kfl launcher image (`kfl launch trainjob|experiment|register-model|inferenceservice|monitor`): it creates the resource from its manifest, waits for it, and writes the task outputs.
//!
//! The manifest travels inline as compact JSON (`--manifest-json`), with the
//! markers of `codegen/launcher.rs` for run-time values, so a task needs
//! nothing but its own arguments on the cluster.

use super::super::manifest::Manifest;
use super::super::{katib, kserve, launcher, monitoring};
use super::*;

impl Builder<'_, '_> {
    /// `KIND --manifest-json JSON [--namespace NS]`. `None`: the manifest could not be
    /// built, which the manifests back end reports, so the build fails anyway.
    pub(super) fn launch_args(&self, kind: &str, manifest: Option<&Manifest>) -> Vec<String> {
        let mut out = vec![kind.to_string()];
        if let Some(manifest) = manifest {
            out.push(launcher::MANIFEST_FLAG.to_string());
            // serde_json prints a Value without failing; field order is the manifest's own (`preserve_order`).
            out.push(manifest.object.to_string());
        }
        if let Some(namespace) = &self.context.namespace {
            out.push("--namespace".into());
            out.push(namespace.clone());
        }
        // Which run owns the resource: a retried task adopts its own object, never an older run's.
        out.extend([launcher::RUN_ID_FLAG.to_string(), "{{$.pipeline_job_uuid}}".to_string()]);
        out
    }

    pub(super) fn tune(&mut self, tune: &ir::Tune) {
        let scope = self.scope_for(None, tune.when.as_ref());
        let task = self.add_task(&tune.name, scope);
        let mut inputs = Interface::default();
        let mut outputs = Interface::default();
        if let Some(trial) = self.program.stage(&tune.trial) {
            for input in &trial.inputs {
                if tune.space.iter().any(|p| p.name == input.name) {
                    continue;
                }
                if let Some(value) = &input.binding {
                    self.bind_value(scope, &task, &mut inputs, &input.name, &input.ty, value);
                }
            }
            // Params and other tasks' outputs the trial reads directly become
            // `--ref` inputs, as for a `train` task; the text itself is Katib's.
            let input_io: Vec<(String, Io)> = trial.inputs.iter().map(|i| (i.name.clone(), Io::of(&i.ty))).collect();
            for value in trial.run.iter().chain(trial.env.values()) {
                self.render(scope, &task, &mut inputs, &input_io, &[], value, true);
            }
        }
        let manifest = katib::launcher_manifest(self.context, tune);
        let mut launch = self.launch_args("experiment", manifest.as_ref());
        launch.extend(set_args(&inputs));
        let best: Vec<(String, Io)> = self
            .outputs
            .get(&tune.name)
            .map(|m| m.iter().map(|(k, io)| (k.clone(), io.clone())).collect())
            .unwrap_or_default();
        for (key, io) in &best {
            io.define(&mut outputs, key);
            launch.push("--best".into());
            launch.push(pair(key.trim_start_matches("best_"), &io.placeholder(key, true, true)));
        }
        // Each trial writes its artifacts under the task's output URI; the launcher then points the output at
        // the best trial's through KFP's executor output file, whose path the executor input names.
        if best.iter().any(|(_, io)| matches!(io, Io::Artifact { .. })) {
            launch.extend([launcher::EXECUTOR_INPUT_FLAG.to_string(), "{{$}}".to_string()]);
        }
        self.finish_launcher_task(&task, inputs, outputs, launch);
        self.no_cache(scope, &task);
    }

    pub(super) fn model(&mut self, model: &ir::Model) {
        let scope = self.scope_for(None, model.when.as_ref());
        let task = self.add_task(&model.name, scope);
        let mut inputs = Interface::default();
        let mut outputs = Interface::default();
        let mut launch = vec!["register-model".to_string()];
        if let Some(registry) = self.program.project.as_ref().and_then(|p| p.registry.clone()) {
            launch.extend(["--registry".to_string(), registry]);
        }
        launch.extend(["--name".to_string(), model.registered_name().to_string()]);
        if let Some(format) = &model.format {
            launch.extend(["--format".to_string(), format.clone()]);
        }
        if let Some(version) = &model.version {
            launch.extend(["--version".to_string(), version.clone()]);
        }
        match &model.source {
            ir::ModelSource::Artifact { value } => {
                self.bind_value(scope, &task, &mut inputs, "artifact", &Ty::Model, value);
                let io = if inputs.artifacts.contains_key("artifact") {
                    Io::of(&Ty::Model)
                } else {
                    Io::Parameter("STRING")
                };
                launch.extend(["--artifact-uri".to_string(), io.placeholder("artifact", false, true)]);
            }
            ir::ModelSource::Uri { uri } => launch.extend(["--artifact-uri".to_string(), uri.clone()]),
        }
        if let Some(description) = &model.description {
            self.bind_value(scope, &task, &mut inputs, "description", &Ty::String, description);
            launch.extend([
                "--description".to_string(),
                Io::Parameter("STRING").placeholder("description", false, false),
            ]);
        }
        // A label that reads a stage's output (`"${prep.rows}"`) is a task input like the description.
        for (index, (key, value)) in model.labels.iter().enumerate() {
            let text = match scalar_text(value) {
                Some(text) => text,
                None => {
                    let input = format!("label_{index}");
                    self.bind_value(scope, &task, &mut inputs, &input, &Ty::String, value);
                    Io::Parameter("STRING").placeholder(&input, false, false)
                }
            };
            launch.extend(["--label".to_string(), pair(key, &text)]);
        }
        // Lineage: the run that produced the version and the params it ran with.
        launch.extend(["--metadata".to_string(), pair("pipeline_run", "{{$.pipeline_job_uuid}}")]);
        for param in &self.program.params {
            if !param.read_at_run_time {
                let bound = self.context.params.get(&param.name).and_then(scalar_text).unwrap_or_default();
                launch.extend(["--metadata".to_string(), pair(&format!("param.{}", param.name), &bound)]);
                continue;
            }
            let name = format!("{CHANNEL}{}", param.name);
            let source = Source::Param { name: param.name.clone(), io: Io::of(&param.ty) };
            source.io().define(&mut inputs, &name);
            let bound = self.reach(scope, &source);
            self.bind(scope, &task, &name, bound);
            launch.extend([
                "--metadata".to_string(),
                pair(&format!("param.{}", param.name), &source.io().placeholder(&name, false, false)),
            ]);
        }
        let io = Io::Parameter("STRING");
        io.define(&mut outputs, "uri");
        launch.extend(["--output-uri".to_string(), io.placeholder("uri", true, false)]);
        self.finish_launcher_task(&task, inputs, outputs, launch);
        self.no_cache(scope, &task);
    }

    pub(super) fn serve(&mut self, serve: &ir::Serve) {
        let scope = self.base;
        let task = self.add_task(&serve.name, scope);
        let mut inputs = Interface::default();
        let mut outputs = Interface::default();
        // A model the pipeline registers is served from the URI its task outputs.
        let registered = self.homes.contains_key(&serve.model);
        if registered {
            let value = Value::Ref(Ref::Model { name: serve.model.clone() });
            self.bind_value(scope, &task, &mut inputs, "storage_uri", &Ty::String, &value);
        }
        let storage = registered.then(|| launcher::input_marker("storage_uri"));
        let manifest = kserve::launcher_manifest(self.context, serve, storage);
        let mut launch = self.launch_args("inferenceservice", Some(&manifest));
        launch.extend(set_args(&inputs));
        if kserve::writes_s3_account(self.program, serve) {
            launch.extend(object_store_args(self.context));
        }
        let io = Io::Parameter("STRING");
        io.define(&mut outputs, "url");
        launch.extend(["--output-url".to_string(), io.placeholder("url", true, false)]);
        self.finish_launcher_task(&task, inputs, outputs, launch);
        self.no_cache(scope, &task);
    }

    pub(super) fn monitor(&mut self, monitor: &ir::Monitor) {
        let scope = self.base;
        let task = self.add_task(&monitor.name, scope);
        let mut inputs = Interface::default();
        let manifest = monitoring::launcher_manifest(self.context, monitor);
        let mut launch = self.launch_args("monitor", manifest.as_ref());
        if self.homes.contains_key(&monitor.service) {
            let value = Value::Ref(Ref::Serve { name: monitor.service.clone() });
            self.bind_value(scope, &task, &mut inputs, "service_url", &Ty::String, &value);
            launch.extend([
                "--service-url".to_string(),
                Io::Parameter("STRING").placeholder("service_url", false, false),
            ]);
        }
        self.finish_launcher_task(&task, inputs, Interface::default(), launch);
        self.no_cache(scope, &task);
    }

    /// Launcher tasks create cluster resources: never served from cache.
    pub(super) fn no_cache(&mut self, scope: usize, task: &str) {
        if let Some(spec) = self.scopes[scope].tasks.get_mut(task) {
            spec.caching_options = Some(CachingOptions { enable_cache: None });
        }
    }
}

/// The flags that let `kfl launch inferenceservice` give KServe the credentials of the project's object store
/// (`kserve::writes_s3_account` holds, so the store has a Secret).
fn object_store_args(context: &Context<'_>) -> Vec<String> {
    let store = super::super::staging::object_store(context.program.project.as_ref());
    vec![
        launcher::S3_SECRET_FLAG.to_string(),
        store.secret_name.clone(),
        launcher::S3_SECRET_KEYS_FLAG.to_string(),
        format!("{}:{}", store.access_key_key, store.secret_key_key),
        launcher::S3_ENDPOINT_FLAG.to_string(),
        store.url(),
        launcher::S3_REGION_FLAG.to_string(),
        store.region,
        launcher::S3_ACCOUNT_FLAG.to_string(),
        kserve::s3_account(&context.project),
    ]
}

impl Builder<'_, '_> {
    /// A task running `kfl launch ARGS` in the build's launcher image, its pod told its own namespace (which
    /// `kfl launch` checks against the project's before creating anything) and placed and pulled by the project's
    /// scheduling as a launcher pod takes it (`scheduling::launcher`; kfp-kubernetes has no priority class).
    pub(super) fn finish_launcher_task(
        &mut self,
        task: &str,
        inputs: Interface,
        outputs: Interface,
        args: Vec<String>,
    ) {
        let container = Container {
            args,
            command: vec!["kfl".into(), "launch".into()],
            env: Vec::new(),
            image: self.context.launcher_image.clone(),
            resources: None,
        };
        self.finish_task(task, inputs, outputs, container);
        let mut config = KubernetesExecutorConfig {
            field_path_as_env: vec![FieldPathAsEnv {
                name: launcher::POD_NAMESPACE_ENV.to_string(),
                field_path: launcher::POD_NAMESPACE_FIELD.to_string(),
            }],
            ..Default::default()
        };
        super::stage::scheduling(&mut config, &crate::codegen::scheduling::launcher(self.program));
        self.platform.insert(format!("exec-{task}"), Box::new(config));
    }
}

/// The launcher's view of a task's inputs (remote URIs for artifacts):
/// `--set NAME=VALUE` for a declared input, `--ref NAME=VALUE` for a param
/// or another stage's output read directly in the command (`pipelinechannel--NAME`).
pub(super) fn set_args(inputs: &Interface) -> Vec<String> {
    let mut out = Vec::new();
    let artifacts = inputs
        .artifacts
        .iter()
        .map(|(name, def)| (name, Io::Artifact { title: def.artifact_type.schema_title, list: def.is_artifact_list }));
    let parameters = inputs.parameters.iter().map(|(name, def)| (name, Io::Parameter(def.parameter_type)));
    for (name, io) in artifacts.chain(parameters) {
        let (flag, key) = match name.strip_prefix(CHANNEL) {
            Some(rest) => ("--ref", rest),
            None => ("--set", name.as_str()),
        };
        out.push(flag.to_string());
        out.push(pair(key, &io.placeholder(name, false, true)));
    }
    out
}
