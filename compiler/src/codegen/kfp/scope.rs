//! Values crossing DAG boundaries: lifted out of sub-DAGs as DAG outputs (lists out of a loop, as `dsl.Collected` compiles), passed down as `pipelinechannel--…` inputs, and where each reference comes from (params, stage outputs, importers, loop items).

use super::*;

impl Builder<'_, '_> {
    pub(super) fn new_scope(&mut self, parent: usize, name: String, is_loop: bool) -> usize {
        let id = self.scopes.len();
        self.scopes[parent].tasks.insert(name.clone(), Box::new(TaskSpec::new(&name, &format!("comp-{name}"))));
        self.scopes.push(Scope { parent: Some(parent), task: name, is_loop, ..Scope::default() });
        id
    }

    /// The DAG a node's task goes in: its loop's, then a condition of its own.
    pub(super) fn scope_for(&mut self, loop_index: Option<usize>, when: Option<&Value>) -> usize {
        let mut scope = self.base;
        if let Some(index) = loop_index {
            scope = self.loop_scope(index);
        }
        if let Some(condition) = when {
            self.counter += 1;
            let name = format!("condition-{}", self.counter);
            let child = self.new_scope(scope, name.clone(), false);
            let text = self.cel(child, condition);
            if let Some(task) = self.scopes[scope].tasks.get_mut(&name) {
                task.trigger_policy = Some(TriggerPolicy { condition: Some(text), strategy: None });
            }
            scope = child;
        }
        scope
    }

    pub(super) fn loop_scope(&mut self, index: usize) -> usize {
        if let Some((scope, _)) = self.loops.get(&index) {
            return *scope;
        }
        let Some(for_loop) = self.program.loops.get(index) else { return 0 };
        self.counter += 1;
        let item_number = self.counter;
        self.counter += 1;
        let name = format!("for-loop-{}", self.counter);
        let parent = self.guarded_loops.get(&index).copied().unwrap_or(0);
        let scope = self.new_scope(parent, name.clone(), true);
        let iterable = match &for_loop.iterable {
            Value::Ref(Ref::Param { name }) => {
                self.context.params.get(name).cloned().unwrap_or(Value::List(Vec::new()))
            }
            other => other.clone(),
        };
        let (items, item_name, item_io) = match (&for_loop.iterable, constant_json(&iterable)) {
            // A param list stays overridable: iterate over the pipeline parameter.
            (Value::Ref(reference @ Ref::Param { .. }), Some(Json::Array(list)))
            | (Value::Ref(reference @ Ref::Output { .. }), Some(Json::Array(list))) => {
                let io = element_io(list.first());
                let source = self
                    .source_of(reference, scope)
                    .unwrap_or(Source::Param { name: String::new(), io: Io::Parameter("LIST") });
                let input = source.channel();
                self.reach(scope, &source);
                (Items { input_parameter: Some(input.clone()), raw: None }, format!("{input}-loop-item"), io)
            }
            (Value::Ref(reference @ Ref::Output { stage, output, .. }), _) => {
                let io = self.element_io_of_output(stage, output);
                let source = self.source_of(reference, scope);
                let input = source.as_ref().map_or_else(String::new, Source::channel);
                if let Some(source) = source {
                    self.reach(scope, &source);
                }
                (Items { input_parameter: Some(input.clone()), raw: None }, format!("{input}-loop-item"), io)
            }
            (_, Some(Json::Array(list))) => {
                let raw = format!("[{}]", list.iter().map(Json::to_string).collect::<Vec<_>>().join(", "));
                (
                    Items { input_parameter: None, raw: Some(raw) },
                    format!("{CHANNEL}loop-item-param-{item_number}"),
                    element_io(list.first()),
                )
            }
            _ => (
                Items { input_parameter: None, raw: Some("[]".into()) },
                format!("{CHANNEL}loop-item-param-{item_number}"),
                Io::Parameter("STRING"),
            ),
        };
        item_io.define(&mut self.scopes[scope].inputs, &item_name);
        if let Some(task) = self.scopes[parent].tasks.get_mut(&name) {
            task.parameter_iterator = Some(ParameterIterator { item_input: item_name.clone(), items });
        }
        self.loops.insert(index, (scope, Source::LoopItem { scope, name: item_name, io: item_io }));
        scope
    }

    pub(super) fn element_io_of_output(&self, stage: &str, output: &str) -> Io {
        let ty = self
            .program
            .stages
            .iter()
            .find(|s| s.name == stage)
            .and_then(|s| s.outputs.iter().find(|o| o.name == output));
        match ty.map(|o| &o.ty) {
            Some(Ty::List(inner)) => Io::of(inner),
            _ => Io::Parameter("STRING"),
        }
    }

    pub(super) fn is_within(&self, scope: usize, ancestor: usize) -> bool {
        let mut current = Some(scope);
        while let Some(s) = current {
            if s == ancestor {
                return true;
            }
            current = self.scopes[s].parent;
        }
        false
    }

    /// Binds `source` for a task of DAG `scope`: lifted out of the sub-DAGs it
    /// was produced in (collected into a list out of a loop), then passed down
    /// through the sub-DAGs between.
    pub(super) fn reach(&mut self, scope: usize, source: &Source) -> Bound {
        let mut source = source.clone();
        while !self.is_within(scope, source.home()) {
            match self.lift(&source) {
                Some(lifted) => source = lifted,
                None => break,
            }
        }
        self.push_down(scope, &source)
    }

    pub(super) fn lift(&mut self, source: &Source) -> Option<Source> {
        let Source::Task { scope, task, key, io } = source else { return None };
        let parent = self.scopes[*scope].parent?;
        let name = source.channel();
        let dag = &mut self.scopes[*scope];
        let lifted = if dag.is_loop { io.list() } else { io.clone() };
        match io {
            Io::Parameter(_) => {
                dag.outputs.parameters.insert(
                    name.clone(),
                    DagOutputParameter {
                        value_from_parameter: ParameterSelector {
                            output_parameter_key: key.clone(),
                            producer_subtask: task.clone(),
                        },
                    },
                );
            }
            Io::Artifact { .. } => {
                dag.outputs.artifacts.insert(
                    name.clone(),
                    DagOutputArtifact {
                        artifact_selectors: vec![ArtifactSelector {
                            output_artifact_key: key.clone(),
                            producer_subtask: task.clone(),
                        }],
                    },
                );
            }
        }
        lifted.define(&mut dag.output_definitions, &name);
        Some(Source::Task { scope: parent, task: dag.task.clone(), key: name, io: lifted })
    }

    pub(super) fn push_down(&mut self, scope: usize, source: &Source) -> Bound {
        if source.home() == scope || self.scopes[scope].parent.is_none() {
            return match source {
                Source::Param { name, .. } | Source::LoopItem { name, .. } => {
                    Bound::Parameter(ParameterBinding::ComponentInputParameter(name.clone()))
                }
                Source::Task { task, key, io: Io::Parameter(_), .. } => {
                    Bound::Parameter(ParameterBinding::TaskOutputParameter(OutputParameterRef {
                        output_parameter_key: key.clone(),
                        producer_task: task.clone(),
                    }))
                }
                Source::Task { task, key, .. } => {
                    Bound::Artifact(ArtifactBinding::TaskOutputArtifact(OutputArtifactRef {
                        output_artifact_key: key.clone(),
                        producer_task: task.clone(),
                    }))
                }
            };
        }
        let name = source.channel();
        let defined = self.scopes[scope].inputs.parameters.contains_key(&name)
            || self.scopes[scope].inputs.artifacts.contains_key(&name);
        if !defined {
            source.io().define(&mut self.scopes[scope].inputs, &name);
            if let Some(parent) = self.scopes[scope].parent {
                let bound = self.push_down(parent, source);
                let wrapper = self.scopes[scope].task.clone();
                self.bind(parent, &wrapper, &name, bound);
            }
        }
        match source.io() {
            Io::Parameter(_) => Bound::Parameter(ParameterBinding::ComponentInputParameter(name)),
            Io::Artifact { .. } => Bound::Artifact(ArtifactBinding::ComponentInputArtifact(name)),
        }
    }

    /// Sets a task input; reading another task's output makes it a dependency.
    pub(super) fn bind(&mut self, scope: usize, task: &str, input: &str, bound: Bound) {
        let Some(task) = self.scopes[scope].tasks.get_mut(task) else { return };
        match bound {
            Bound::Parameter(binding) => {
                if let ParameterBinding::TaskOutputParameter(r) = &binding {
                    task.dependent_tasks.insert(r.producer_task.clone());
                }
                task.inputs.parameters.insert(input.to_string(), binding);
            }
            Bound::Artifact(binding) => {
                if let ArtifactBinding::TaskOutputArtifact(r) = &binding {
                    task.dependent_tasks.insert(r.producer_task.clone());
                }
                task.inputs.artifacts.insert(input.to_string(), binding);
            }
        }
    }

    /// Where a reference's value comes from, seen from DAG `scope`.
    pub(super) fn source_of(&mut self, reference: &Ref, scope: usize) -> Option<Source> {
        match reference {
            Ref::Param { name } => {
                let param = self.program.params.iter().find(|p| &p.name == name)?;
                Some(Source::Param { name: name.clone(), io: Io::of(&param.ty) })
            }
            Ref::Dataset { name } => {
                let (scope, task) = self.importer(name);
                Some(Source::Task { scope, task, key: "artifact".into(), io: Io::of(&Ty::Dataset) })
            }
            Ref::Output { stage, output, .. } => self.output_source(stage, output),
            Ref::Best { tune, field, .. } => self.output_source(tune, &best_key(field)),
            Ref::Model { name } => self.output_source(name, "uri"),
            Ref::Serve { name } => self.output_source(name, "url"),
            Ref::LoopVar { name } => {
                let index =
                    self.program.loops.iter().enumerate().filter(|(_, l)| &l.var == name).map(|(i, _)| i).find(
                        |i| self.loops.get(i).is_some_and(|(loop_scope, _)| self.is_within(scope, *loop_scope)),
                    )?;
                self.loops.get(&index).map(|(_, item)| item.clone())
            }
            _ => None,
        }
    }

    pub(super) fn output_source(&self, node: &str, key: &str) -> Option<Source> {
        let (scope, task) = self.homes.get(node)?;
        let io = self.outputs.get(node)?.get(key)?.clone();
        Some(Source::Task { scope: *scope, task: task.clone(), key: key.to_string(), io })
    }

    /// A `dsl.importer` task for a dataset, once, in the DAG the node being compiled starts from.
    pub(super) fn importer(&mut self, dataset: &str) -> (usize, String) {
        if let Some(found) = self.importers.get(dataset) {
            return found.clone();
        }
        let scope = self.base;
        let name = format!("import-{}", task_name(dataset));
        let uri = match self.context.staged.get(dataset) {
            Some(staged) => staged.clone(),
            None => args::dataset_uri(self.program, dataset),
        };
        let schema = ArtifactType { schema_title: "system.Dataset", schema_version: ARTIFACT_SCHEMA_VERSION };
        let mut task = TaskSpec::new(&name, &format!("comp-{name}"));
        task.caching_options = Some(CachingOptions { enable_cache: Some(true) });
        task.inputs
            .parameters
            .insert("uri".into(), ParameterBinding::RuntimeValue(Constant { constant: Json::String(uri.clone()) }));
        self.scopes[scope].tasks.insert(name.clone(), Box::new(task));
        let mut component = ComponentSpec { executor_label: Some(format!("exec-{name}")), ..ComponentSpec::default() };
        Io::Parameter("STRING").define(&mut component.input_definitions, "uri");
        Io::of(&Ty::Dataset).define(&mut component.output_definitions, "artifact");
        self.unsealed.push(format!("comp-{name}"));
        self.components.insert(format!("comp-{name}"), Box::new(component));
        let metadata = self
            .program
            .datasets
            .iter()
            .find(|d| d.name == dataset)
            .and_then(|d| d.description.clone().or_else(|| d.doc.clone()))
            .map(|text| BTreeMap::from([("description".to_string(), text)]));
        self.executors.insert(
            format!("exec-{name}"),
            Box::new(ExecutorSpec {
                container: None,
                importer: Some(Importer {
                    artifact_uri: Constant { constant: Json::String(uri) },
                    metadata,
                    type_schema: schema,
                }),
            }),
        );
        self.importers.insert(dataset.to_string(), (scope, name.clone()));
        (scope, name)
    }
}
