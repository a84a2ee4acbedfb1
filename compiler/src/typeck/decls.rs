//! Each declaration kind: its body against the schema, its dependencies, and its lowered IR form.

use indexmap::IndexMap;

use crate::ast::{self, BlockKind, ItemKind, StageKind};
use crate::diagnostics::{Code, Diagnostic, Label};
use crate::ir::Ty;
use crate::ir::{self, Ref, Value, graph::EdgeKind, graph::NodeKind};
use crate::resolve::suggest;
use crate::source::Span;
use crate::typeck::Checker;
use crate::typeck::expr::{Scope, article};
use crate::typeck::patch_schema::PatchTarget;
use crate::typeck::props::{Allow, Props};
use crate::typeck::schema::{self, PropertySpec};

const STAGE_SPECS: &[&[PropertySpec]] = schema::STEP_SPECS;
const TRAIN_SPECS: &[&[PropertySpec]] = schema::TRAIN_SPECS;
const NONE: Allow = Allow { mounts: false, rules: false };

impl Checker<'_> {
    pub(super) fn item(
        &mut self,
        item: &ast::Item,
        index: usize,
        loop_index: Option<(usize, usize)>,
        program: &mut ir::Program,
    ) {
        self.pending_dependencies.clear();
        let doc = item.doc.as_ref().map(|d| d.text.clone());
        match &item.kind {
            ItemKind::Import(_) => {}
            ItemKind::Param(param) => {
                let ty = self.type_expr(&param.ty);
                self.task_status_misplaced(&ty, "param", &param.name.name, param.ty.span);
                let default = match &param.default {
                    Some(e) => {
                        let (found, value) = self.expr(e, &Scope::default(), Some(&ty));
                        self.expect_ty(
                            e.span,
                            &ty,
                            &found,
                            format_args!("the default of `{}` must be {}", param.name.name, article(&ty)),
                        );
                        if !is_constant(&value) {
                            self.diags.push(
                                Diagnostic::error(
                                    Code::TypeMismatch,
                                    "a param default must be a constant",
                                    Label::new(e.span, "depends on other declarations"),
                                )
                                .with_help("write a literal value"),
                            );
                        }
                        Some(value)
                    }
                    None => None,
                };
                program.params.push(ir::Param {
                    name: param.name.name.to_string(),
                    doc,
                    ty,
                    default,
                    read_at_run_time: false,
                    span: param.name.span,
                });
            }
            ItemKind::Block(block) => self.block_decl(block, doc, program),
            ItemKind::Stage(stage) => {
                if stage.kind == StageKind::Component {
                    return;
                }
                let loop_item = loop_index.map(|(item, _)| item);
                if let Some(mut lowered) = self.stage(stage, loop_item) {
                    lowered.loop_index = loop_index.map(|(_, l)| l);
                    lowered.doc = doc;
                    lowered.trial_of = self.trial_of.get(&lowered.name).cloned();
                    self.add_stage_node(&lowered);
                    self.push_stage(program, lowered);
                }
            }
            ItemKind::StepCall(call) => {
                let loop_item = loop_index.map(|(item, _)| item);
                if let Some(mut lowered) = self.step_call(call, loop_item) {
                    lowered.loop_index = loop_index.map(|(_, l)| l);
                    lowered.doc = doc;
                    lowered.trial_of = self.trial_of.get(&lowered.name).cloned();
                    self.add_stage_node(&lowered);
                    self.push_stage(program, lowered);
                }
            }
            ItemKind::For(block) => {
                if loop_index.is_some() {
                    self.not_allowed(block.keyword, "a nested `for`", "a `for` block", "`for` blocks do not nest");
                    return;
                }
                let (ty, iterable) = self.expr(&block.iterable, &Scope::default(), None);
                let element = match &ty {
                    Ty::Range(inner) | Ty::List(inner) => inner.as_ref().clone(),
                    Ty::Error => Ty::Error,
                    other => {
                        self.diags.push(
                            Diagnostic::error(
                                Code::TypeMismatch,
                                format!("`for` iterates a range or a list, found {}", article(other)),
                                Label::new(block.iterable.span, "here"),
                            )
                            .with_help("write `for i in 0..4 { … }` or `for x in [a, b] { … }`"),
                        );
                        Ty::Error
                    }
                };
                let loop_number = program.loops.len();
                program.loops.push(ir::Loop { var: block.var.name.to_string(), iterable, stages: Vec::new() });
                self.loop_vars.insert(index, (block.var.name.to_string(), element));
                for inner in &block.items {
                    match &inner.kind {
                        ItemKind::Stage(stage) if stage.kind != StageKind::Component => {}
                        ItemKind::StepCall(_) => {}
                        ItemKind::For(_) => {}
                        other => {
                            let what = match other {
                                ItemKind::Stage(_) => "a `component`".to_string(),
                                ItemKind::Block(b) => format!("a `{}`", b.kind.keyword()),
                                ItemKind::Param(_) => "a `param`".to_string(),
                                _ => "an `import`".to_string(),
                            };
                            let span = Span {
                                file: inner.span.file,
                                start: inner.span.start,
                                end: inner.name().map_or(inner.span.end, |n| n.span.end),
                            };
                            self.not_allowed(
                                span,
                                &what,
                                "a `for` block",
                                "a `for` block holds stages only (`step`, `train`); move this declaration out of it",
                            );
                            continue;
                        }
                    }
                    let before = program.stages.len();
                    self.item(inner, index, Some((index, loop_number)), program);
                    if let Some(stage) = program.stages.get(before) {
                        let name = stage.name.clone();
                        program.loops[loop_number].stages.push(name);
                    }
                }
            }
        }
    }

    /// Adds a lowered stage to the program. The vector grows to at most [`Checker::stage_bound`] stages: doubling
    /// would leave up to half of a large program's stages (a thousand bytes each) unused, and reserving all of
    /// them up front would hold that room beside the whole syntax tree, before any of it is freed.
    fn push_stage(&mut self, program: &mut ir::Program, stage: ir::Stage) {
        let stages = &mut program.stages;
        if stages.len() == stages.capacity() {
            let room = self.stage_bound.saturating_sub(stages.len());
            stages.reserve_exact(stages.len().max(16).min(room).max(1));
        }
        stages.push(stage);
    }

    fn add_stage_node(&mut self, stage: &ir::Stage) {
        if stage.trial_of.is_some() {
            // A trial template is not a stage of its own; its tune inherits its dependencies.
            let deps: Vec<(String, Span)> = std::mem::take(&mut self.pending_dependencies);
            self.trial_dependencies.insert(stage.name.clone(), deps);
            return;
        }
        let kind = if stage.train.is_some() { NodeKind::Train } else { NodeKind::Step };
        self.graph.add_node(&stage.name, kind, stage.span);
        self.flush_dependencies(&stage.name, &stage.after);
    }

    /// Turns the references seen in a declaration into DAG edges.
    fn flush_dependencies(&mut self, name: &str, after: &[String]) {
        let deps = std::mem::take(&mut self.pending_dependencies);
        for (from, span) in deps {
            let from = self.trial_of.get(&from).cloned().unwrap_or(from);
            let kind = if after.contains(&from) { EdgeKind::After } else { EdgeKind::Data };
            self.graph.add_edge(&from, name, kind, span);
        }
    }

    /// A `step`, `train` or `component` with a body.
    pub(super) fn stage(&mut self, stage: &ast::StageDecl, loop_item: Option<usize>) -> Option<ir::Stage> {
        let name = &stage.name.name;
        let input_count = stage.inputs.as_ref().map_or(0, Vec::len);
        let output_count = stage.outputs.as_ref().map_or(0, Vec::len);
        // Exact sizes: a vector grown by `push` starts at four elements, and most stages have one or two.
        let mut locals: Vec<(String, Ty)> = Vec::with_capacity(input_count + output_count);
        let mut inputs = Vec::with_capacity(input_count);
        let file_scope = self.file_scope(loop_item);
        let mut seen: IndexMap<String, Span> = IndexMap::new();
        let mut task_status: Vec<Span> = Vec::new();
        for input in stage.inputs.iter().flatten() {
            let ty = self.type_expr(&input.ty);
            if let Some(previous) = seen.insert(input.name.name.to_string(), input.name.span) {
                self.set_twice(&input.name.name, input.name.span, previous);
            }
            if ty == Ty::TaskStatus {
                task_status.push(input.span);
            }
            let binding = match &input.default {
                Some(e) if ty == Ty::TaskStatus => {
                    self.task_status_default(e, &file_scope, &input.name.name, name);
                    None
                }
                None if ty == Ty::TaskStatus => None,
                Some(e) => {
                    let (found, value) = self.expr(e, &file_scope, Some(&ty));
                    self.expect_ty(e.span, &ty, &found, format_args!("`{}` is {}", input.name.name, article(&ty)));
                    Some(value)
                }
                None => {
                    if stage.kind != StageKind::Component {
                        self.diags.push(
                            Diagnostic::error(
                                Code::MissingProperty,
                                format!("the input `{}` of `{name}` has no default", input.name.name),
                                Label::new(input.span, "needs `= …`"),
                            )
                            .with_help(format!(
                                "bind it: `{}: {} = VALUE` (a value, a param, or another stage's output)",
                                input.name.name, ty
                            )),
                        );
                    }
                    None
                }
            };
            locals.push((input.name.name.to_string(), ty.clone()));
            inputs.push(ir::Input { name: input.name.name.to_string(), ty, binding, span: input.span });
        }
        let mut outputs = Vec::with_capacity(output_count);
        for output in stage.outputs.iter().flatten() {
            let ty = self.type_expr(&output.ty);
            if let Some(previous) = seen.insert(output.name.name.to_string(), output.name.span) {
                self.set_twice(&output.name.name, output.name.span, previous);
            }
            self.task_status_misplaced(&ty, "output", &output.name.name, output.span);
            locals.push((output.name.name.to_string(), ty.clone()));
            outputs.push(ir::Output { name: output.name.name.to_string(), ty });
        }
        let mut scope = file_scope;
        scope.locals = locals;
        let specs = if stage.kind == StageKind::Train { TRAIN_SPECS } else { STAGE_SPECS };
        let owner = format!("`{} {name}`", stage.kind.keyword());
        let props =
            self.props(&stage.body, specs, &owner, stage.name.span, &scope, Allow { mounts: true, rules: false });
        // A `train` becomes a TrainJob (also as a Katib trial). A `step`
        // becomes a KFP task or a Katib Job trial, for which no schema is
        // embedded yet: its patches are carried unchecked.
        if stage.kind == StageKind::Train {
            self.check_patches(&props.patches, PatchTarget::TrainJob);
        }
        for (metric, _, span) in &props.fields {
            if let Some(previous) = seen.insert(metric.clone(), *span) {
                self.set_twice(metric, *span, previous);
            }
        }
        self.task_status_placement(stage, &props, &task_status);
        let written_image = props.string("image");
        // A standard-library component without an image runs the launcher image, never the project's (which need
        // not hold `kfl`).
        let launcher_image = written_image.is_none() && self.stdlib && stage.kind == StageKind::Component;
        let image = match written_image.or_else(|| self.project_image.clone()) {
            Some(image) => image,
            None if stage.kind == StageKind::Component && self.module.imported => String::new(),
            None => {
                self.diags.push(
                    Diagnostic::error(
                        Code::MissingProperty,
                        format!("{owner} has no image"),
                        Label::new(stage.name.span, "needs `image`"),
                    )
                    .with_help("set `image = \"…\"` here or in `project`"),
                );
                String::new()
            }
        };
        let mut lowered = self.lower_stage(name, stage.kind, props, image, inputs, outputs, stage.name.span);
        lowered.launcher_image = launcher_image;
        Some(lowered)
    }

    #[allow(clippy::too_many_arguments)] // one call site; the parts are what a stage is made of
    fn lower_stage(
        &mut self,
        name: &str,
        kind: StageKind,
        props: Props,
        image: String,
        inputs: Vec<ir::Input>,
        outputs: Vec<ir::Output>,
        span: Span,
    ) -> ir::Stage {
        let mut resources = self.resources(&props);
        let scheduling = self.scheduling(&props, Some(&mut resources));
        let mounts = self.mount_list(&props);
        let local = props.object("local");
        let train = (kind == StageKind::Train).then(|| ir::Train {
            // A missing or wrong `framework` was reported; `custom` stands in for it.
            framework: props
                .string("framework")
                .and_then(|f| ir::Framework::from_name(&f))
                .unwrap_or(ir::Framework::Custom),
            nodes: props.int("nodes").unwrap_or_default(),
            procs_per_node: props.int("procs_per_node"),
            runtime: props.string("runtime"),
        });
        let timeout = match props.get("timeout") {
            Some(Value::Duration(d)) => Some(*d),
            _ => None,
        };
        ir::Stage {
            name: name.to_string(),
            kind: if kind == StageKind::Train { ir::StageKind::Train } else { ir::StageKind::Step },
            doc: None,
            component: None,
            image,
            launcher_image: false,
            inputs,
            outputs,
            metrics: props.fields.iter().map(|(n, t, _)| ir::Metric { name: n.clone(), ty: t.clone() }).collect(),
            run: props.list("run").unwrap_or_default(),
            local_run: match local.get("run") {
                Some(Value::List(items)) => Some(items.clone()),
                _ => None,
            },
            env: props.object("env"),
            local_env: match local.get("env") {
                Some(Value::Object(map)) => map.clone(),
                _ => IndexMap::new(),
            },
            resources,
            retries: props.int("retries").unwrap_or_default(),
            timeout,
            cache: props.bool("cache").unwrap_or_default(),
            after: props.names("after"),
            when: props.get("when").cloned(),
            always: props.bool("always").unwrap_or_default(),
            mounts,
            secrets: props.names("secrets"),
            scheduling: Box::new(scheduling),
            patches: props.patches,
            train,
            loop_index: None,
            trial_of: None,
            span,
        }
    }

    /// `step NAME = COMPONENT(arg = value, …)`.
    fn step_call(&mut self, call: &ast::StepCall, loop_item: Option<usize>) -> Option<ir::Stage> {
        let path: Vec<&str> = call.component.iter().map(|i| i.name.as_str()).collect();
        let whole = call.component.first()?.span.to(call.component.last()?.span);
        let template = match path.as_slice() {
            [name] => match self.components.get(*name) {
                Some(t) => Some(t.clone()),
                None => {
                    let candidates: Vec<&str> = self.components.keys().map(String::as_str).collect();
                    let is_other = self.module.decls.get(*name).map(|d| d.kind);
                    let message = match is_other {
                        Some(kind) => format!("`{name}` is a {}, not a component", kind.keyword()),
                        None => format!("unknown component `{name}`"),
                    };
                    self.diags.push(
                        Diagnostic::error(Code::UnknownName, message, Label::new(whole, "not a component"))
                            .with_optional_help(suggest::help(name, &candidates)),
                    );
                    None
                }
            },
            [alias, name] => match self.module.imports.get(*alias) {
                Some((index, _)) => match self.imported_components[*index].get(*name) {
                    Some(t) => Some(t.clone()),
                    None => {
                        let module = &self.resolved.modules[*index];
                        let candidates: Vec<&str> =
                            self.imported_components[*index].keys().map(String::as_str).collect();
                        let message = if module.decls.contains_key(*name) {
                            format!(
                                "`{alias}.{name}` is not a component; only components are reachable through an import"
                            )
                        } else {
                            format!("`{alias}` has no component `{name}`")
                        };
                        self.diags.push(
                            Diagnostic::error(
                                Code::UnknownName,
                                message,
                                Label::new(call.component[1].span, "not found"),
                            )
                            .with_optional_help(suggest::help(name, &candidates)),
                        );
                        None
                    }
                },
                None => {
                    let aliases: Vec<&str> = self.module.imports.keys().map(String::as_str).collect();
                    self.diags.push(
                        Diagnostic::error(
                            Code::UnknownName,
                            format!("unknown import `{alias}`"),
                            Label::new(call.component[0].span, "not imported"),
                        )
                        .with_help(
                            suggest::help(alias, &aliases)
                                .unwrap_or_else(|| format!("import it first: `import \"{alias}.kfl\" as {alias}`")),
                        ),
                    );
                    None
                }
            },
            _ => {
                self.diags.push(Diagnostic::error(
                    Code::UnknownName,
                    "a component is `NAME` or `alias.NAME`",
                    Label::new(whole, "here"),
                ));
                None
            }
        };
        let scope = self.file_scope(loop_item);
        let Some(mut stage) = template else {
            // Still resolve the arguments: their own errors are reported, and
            // what they use does not show up as unused.
            for arg in &call.args {
                self.expr(&arg.value, &scope, None);
            }
            return None;
        };
        let mut given: IndexMap<String, Span> = IndexMap::new();
        for arg in &call.args {
            let Some(arg_name) = &arg.name else {
                self.diags.push(
                    Diagnostic::error(
                        Code::InvalidArgument,
                        "component arguments are named",
                        Label::new(arg.span, "positional argument"),
                    )
                    .with_help(format!(
                        "name it: {}",
                        stage.inputs.iter().map(|i| format!("`{} = …`", i.name)).collect::<Vec<_>>().join(", ")
                    )),
                );
                continue;
            };
            if let Some(previous) = given.insert(arg_name.name.to_string(), arg_name.span) {
                self.set_twice(&arg_name.name, arg_name.span, previous);
                continue;
            }
            let Some(input) = stage.inputs.iter_mut().find(|i| i.name == arg_name.name) else {
                let names: Vec<String> = stage.inputs.iter().map(|i| i.name.clone()).collect();
                let refs: Vec<&str> = names.iter().map(String::as_str).collect();
                self.diags.push(
                    Diagnostic::error(
                        Code::InvalidArgument,
                        format!("`{}` has no input `{}`", path.join("."), arg_name.name),
                        Label::new(arg_name.span, "unknown input"),
                    )
                    .with_help(
                        suggest::help(&arg_name.name, &refs)
                            .unwrap_or_else(|| format!("inputs are: {}", names.join(", "))),
                    ),
                );
                continue;
            };
            let ty = input.ty.clone();
            let (found, value) = self.expr(&arg.value, &scope, Some(&ty));
            self.expect_ty(arg.value.span, &ty, &found, format_args!("`{}` is {}", arg_name.name, article(&ty)));
            if let Some(input) = stage.inputs.iter_mut().find(|i| i.name == arg_name.name) {
                input.binding = Some(value);
            }
        }
        for input in &stage.inputs {
            if input.binding.is_none() && input.ty != Ty::TaskStatus {
                self.diags.push(
                    Diagnostic::error(
                        Code::MissingProperty,
                        format!("`{}` needs the input `{}`", path.join("."), input.name),
                        Label::new(call.args_span, format!("add `{} = …`", input.name)),
                    )
                    .with_help(format!(
                        "`{}` is {} without a default",
                        input.name,
                        article(&input.ty)
                    )),
                );
            }
        }
        if stage.image.is_empty() && !stage.launcher_image {
            match &self.project_image {
                Some(image) => stage.image = image.clone(),
                None => self.diags.push(
                    Diagnostic::error(
                        Code::MissingProperty,
                        format!("`{}` has no image", call.name.name),
                        Label::new(call.name.span, "needs an image"),
                    )
                    .with_help("set `image` in the component or in this file's `project`"),
                ),
            }
        }
        stage.name = call.name.name.to_string();
        stage.component = Some(path.join("."));
        stage.span = call.name.span;
        Some(stage)
    }

    /// File scope, plus the loop variable inside a `for`.
    fn file_scope(&self, loop_item: Option<usize>) -> Scope {
        Scope { loop_var: loop_item.and_then(|i| self.loop_vars.get(&i).cloned()), loop_item, ..Scope::default() }
    }

    fn block_decl(&mut self, block: &ast::BlockDecl, doc: Option<String>, program: &mut ir::Program) {
        let name = block.name.name.clone();
        let span = block.name.span;
        let owner = format!("`{} {name}`", block.kind.keyword());
        let scope = Scope::default();
        match block.kind {
            BlockKind::Project => {}
            BlockKind::Secret => {
                let props = self.props(&block.body, &[schema::SECRET], &owner, span, &scope, NONE);
                if let Some((Value::String(k8s), k8s_span)) = props.values.get("k8s") {
                    self.check_dns_label(k8s, *k8s_span, "Secret name", 253);
                }
                let keys = props
                    .list("keys")
                    .unwrap_or_default()
                    .iter()
                    .filter_map(|v| v.as_str().map(str::to_string))
                    .collect();
                program.secrets.push(ir::Secret {
                    name: name.to_string(),
                    k8s_name: props.string("k8s").unwrap_or_default(),
                    keys,
                    span,
                });
            }
            BlockKind::Volume => {
                let props = self.props(&block.body, &[schema::VOLUME], &owner, span, &scope, NONE);
                let size = match props.get("size") {
                    Some(Value::Quantity(q)) => q.clone(),
                    _ => ir::Quantity { text: String::new(), bytes: 0.0 },
                };
                program.volumes.push(ir::Volume {
                    name: name.to_string(),
                    size,
                    access: props
                        .string("access")
                        .and_then(|a| ir::AccessMode::from_name(&a))
                        .unwrap_or(schema::DEFAULT_ACCESS),
                    class: props.string("class"),
                    span,
                });
            }
            BlockKind::Dataset => {
                let props = self.props(&block.body, &[schema::DATASET], &owner, span, &scope, NONE);
                let uri = props.string("uri").unwrap_or_default();
                // A param's bound value is checked like a literal; a param without a value yet (`kfl check`
                // with no `-p`) is checked when it gets one.
                if let Some((Value::String(_), uri_span)) = props.values.get("uri") {
                    self.check_uri(&uri, *uri_span);
                }
                program.datasets.push(ir::Dataset {
                    name: name.to_string(),
                    doc,
                    uri,
                    description: props.string("description"),
                    span,
                });
            }
            BlockKind::Notebook => {
                let props = self.props(
                    &block.body,
                    schema::NOTEBOOK_SPECS,
                    &owner,
                    span,
                    &scope,
                    Allow { mounts: true, rules: false },
                );
                self.check_patches(&props.patches, PatchTarget::Notebook);
                let image = props.string("image").or_else(|| self.project_image.clone()).unwrap_or_else(|| {
                    self.diags.push(
                        Diagnostic::error(
                            Code::MissingProperty,
                            format!("{owner} has no image"),
                            Label::new(span, "needs `image`"),
                        )
                        .with_help("set `image = \"…\"` here or in `project`"),
                    );
                    String::new()
                });
                let mut resources = self.resources(&props);
                let scheduling = self.scheduling(&props, Some(&mut resources));
                let mounts = self.mount_list(&props);
                program.notebooks.push(ir::Notebook {
                    name: name.to_string(),
                    doc,
                    image,
                    resources,
                    env: props.object("env"),
                    mounts,
                    secrets: props.names("secrets"),
                    scheduling,
                    patches: props.patches,
                    span,
                });
            }
            BlockKind::Tune => self.tune_decl(block, doc, program),
            BlockKind::Model => {
                let props = self.props(&block.body, &[schema::MODEL], &owner, span, &scope, NONE);
                let source = match (props.values.get("artifact"), props.values.get("uri")) {
                    (Some((value, _)), None) => Some(ir::ModelSource::Artifact { value: value.clone() }),
                    (None, Some((Value::String(uri), _))) => Some(ir::ModelSource::Uri { uri: uri.clone() }),
                    (Some((_, a)), Some((_, u))) => {
                        self.diags.push(
                            Diagnostic::error(
                                Code::DuplicateDeclaration,
                                "a model has `artifact` or `uri`, not both",
                                Label::new(*u, "`uri` here"),
                            )
                            .with_label(Label::new(*a, "`artifact` here"))
                            .with_help("keep `artifact` for a model this pipeline trains, `uri` for an existing one"),
                        );
                        None
                    }
                    (None, _) => {
                        let reported_missing =
                            block.body.properties().any(|p| matches!(p.key.joined().as_str(), "artifact" | "uri"));
                        if !reported_missing {
                            self.diags.push(
                                Diagnostic::error(Code::MissingProperty, format!("{owner} needs `artifact` or `uri`"), Label::new(span, "no model source"))
                                    .with_help("`artifact = STAGE.OUTPUT` registers a trained model; `uri = \"gs://…\"` an existing one"),
                            );
                        }
                        None
                    }
                };
                let after = props.names("after");
                self.graph.add_node(&name, NodeKind::Model, span);
                self.flush_dependencies(&name, &after);
                if let Some(source) = source {
                    program.models.push(ir::Model {
                        name: name.to_string(),
                        doc,
                        source,
                        format: props.string("format"),
                        version: props.string("version"),
                        description: props.get("description").cloned(),
                        labels: props.object("labels"),
                        when: props.get("when").cloned(),
                        after,
                        span,
                    });
                }
            }
            BlockKind::Serve => self.serve_decl(block, doc, program),
            BlockKind::Monitor => self.monitor_decl(block, doc, program),
        }
    }

    fn tune_decl(&mut self, block: &ast::BlockDecl, doc: Option<String>, program: &mut ir::Program) {
        let name = block.name.name.clone();
        let span = block.name.span;
        let owner = format!("`tune {name}`");
        let trial = self.tune_trial(&block.body);
        if let Some(trial) = &trial {
            self.used.insert(trial.clone());
            if self.trial_of.get(trial).is_some_and(|t| *t != name) {
                let other = self.trial_of.get(trial).cloned().unwrap_or_default();
                self.diags.push(
                    Diagnostic::error(
                        Code::DuplicateDeclaration,
                        format!("`{trial}` is already the trial of `{other}`"),
                        Label::new(span, "second tune of the same trial"),
                    )
                    .with_help("a stage is the template of one tune; copy it under another name for a second search"),
                );
            }
        }
        let props = self.props(&block.body, &[schema::TUNE], &owner, span, &Scope::default(), NONE);
        self.check_patches(&props.patches, PatchTarget::Experiment);
        let parts = self.tune_parts(&block.body, trial.as_deref());
        let (trials, parallel, max_failed) = self.tune_counts(&props);
        self.katib_limits(&block.body, &parts, &props, span);
        let after = props.names("after");
        self.graph.add_node(&name, NodeKind::Tune, span);
        // The trial's own references become the tune's in `inherit_trial_dependencies`.
        self.flush_dependencies(&name, &after);
        program.tunes.push(ir::Tune {
            name: name.to_string(),
            doc,
            trial: trial.unwrap_or_default(),
            goal: parts.goal,
            metric: parts.metric,
            target: props.get("goal").cloned(),
            algorithm: parts.algorithm,
            trials,
            parallel,
            max_failed,
            early_stop: parts.early_stop,
            space: parts.space,
            after,
            when: props.get("when").cloned(),
            patches: props.patches,
            span,
        });
    }

    fn serve_decl(&mut self, block: &ast::BlockDecl, doc: Option<String>, program: &mut ir::Program) {
        let name = block.name.name.clone();
        let span = block.name.span;
        let owner = format!("`serve {name}`");
        let scope = Scope {
            builtins: schema::ServeBuiltin::ALL
                .iter()
                .map(|b| (b.name().to_string(), schema::serve_builtin_ty(*b)))
                .collect(),
            ..Scope::default()
        };
        let props =
            self.props(&block.body, schema::SERVE_SPECS, &owner, span, &scope, Allow { mounts: false, rules: false });
        self.check_patches(&props.patches, PatchTarget::InferenceService);
        let runtime = props.string("runtime").and_then(|r| ir::ServeRuntime::from_name(&r));
        if runtime == Some(ir::ServeRuntime::Custom)
            && props.get("run").is_none()
            && !block.body.properties().any(|p| p.key.joined() == "run")
        {
            self.diags.push(
                Diagnostic::error(Code::MissingProperty, format!("{owner} uses a custom runtime but has no `run`"), Label::new(span, "needs `run`"))
                    .with_help("give the predictor's command: `run = [\"python3\", \"predict.py\", \"--model\", model_dir, \"--port\", port]`"),
            );
        }
        let (min_replicas, max_replicas) = match props.get("replicas") {
            Some(Value::Range(lo, hi)) => (lo.as_int().unwrap_or(1), hi.as_int().unwrap_or(1)),
            Some(other) => (other.as_int().unwrap_or(1), other.as_int().unwrap_or(1)),
            // No `replicas`: one to start with and no upper bound (0), as KServe leaves it.
            None => (1, 0),
        };
        let autoscale = match props.get("autoscale") {
            Some(Value::Call(call)) => call
                .positional
                .first()
                .zip(ir::AutoscaleMetric::from_name(&call.name))
                .map(|(target, metric)| ir::Autoscale { metric, target: target.clone() }),
            _ => None,
        };
        let transformer = match props.get("transformer") {
            Some(Value::Object(map)) => Some(ir::Transformer {
                image: map
                    .get("image")
                    .and_then(|v| v.as_str().map(str::to_string))
                    .or_else(|| self.project_image.clone())
                    .unwrap_or_default(),
                run: match map.get("run") {
                    Some(Value::List(items)) => items.clone(),
                    _ => Vec::new(),
                },
                env: match map.get("env") {
                    Some(Value::Object(env)) => env.clone(),
                    _ => IndexMap::new(),
                },
                resources: ir::Resources::default(),
            }),
            _ => None,
        };
        let model = match props.get("model") {
            Some(Value::Ref(Ref::Model { name })) => name.clone(),
            _ => String::new(),
        };
        let local = props.object("local");
        let mut resources = self.resources(&props);
        let scheduling = self.scheduling(&props, Some(&mut resources));
        // A missing `runtime` was reported; `custom` stands in for it.
        let runtime = runtime.unwrap_or(ir::ServeRuntime::Custom);
        let protocol = props
            .string("protocol")
            .and_then(|p| ir::Protocol::from_name(&p))
            .unwrap_or_else(|| crate::codegen::kserve::default_protocol(runtime));
        self.graph.add_node(&name, NodeKind::Serve, span);
        self.flush_dependencies(&name, &[]);
        program.serves.push(ir::Serve {
            name: name.to_string(),
            doc,
            model,
            runtime,
            image: props.string("image").or_else(|| self.project_image.clone()),
            run: props.list("run"),
            local_run: match local.get("run") {
                Some(Value::List(items)) => Some(items.clone()),
                _ => None,
            },
            args: props.list("args").unwrap_or_default(),
            protocol,
            min_replicas,
            max_replicas,
            autoscale,
            canary: match props.get("canary") {
                Some(Value::Percent(p)) => Some(*p),
                _ => None,
            },
            transformer,
            env: props.object("env"),
            resources,
            scheduling,
            patches: props.patches,
            span,
        });
    }

    fn monitor_decl(&mut self, block: &ast::BlockDecl, doc: Option<String>, program: &mut ir::Program) {
        let name = block.name.name.clone();
        let span = block.name.span;
        let owner = format!("`monitor {name}`");
        let props = self.props(
            &block.body,
            &[schema::MONITOR],
            &owner,
            span,
            &Scope::default(),
            Allow { mounts: false, rules: true },
        );
        let metrics_scope = Scope {
            builtins: schema::ServingMetric::ALL
                .iter()
                .map(|m| (m.name().to_string(), schema::serving_metric_ty(*m)))
                .collect(),
            ..Scope::default()
        };
        let mut rules = Vec::new();
        let mut rule_names: IndexMap<String, Span> = IndexMap::new();
        for rule in &props.rules {
            if let Some(previous) = rule_names.insert(rule.name.name.to_string(), rule.name.span) {
                self.set_twice(&rule.name.name, rule.name.span, previous);
            }
            let rule_owner = format!("`rule {}`", rule.name.name);
            let rule_props = self.props(&rule.body, &[schema::RULE], &rule_owner, rule.name.span, &metrics_scope, NONE);
            let then = rule_props.string("then").and_then(|t| ir::RuleAction::from_name(&t));
            if let (Some(when), Some(then)) = (rule_props.get("when"), then) {
                rules.push(ir::Rule {
                    name: rule.name.name.to_string(),
                    when: when.clone(),
                    duration: match rule_props.get("for") {
                        Some(Value::Duration(d)) => Some(*d),
                        _ => None,
                    },
                    then,
                });
            }
        }
        let service = match props.get("service") {
            Some(Value::Ref(Ref::Serve { name })) => name.clone(),
            _ => String::new(),
        };
        self.graph.add_node(&name, NodeKind::Monitor, span);
        self.flush_dependencies(&name, &[]);
        program.monitors.push(ir::Monitor {
            name: name.to_string(),
            doc,
            service,
            rules,
            schedule: props.string("schedule"),
            scrape: props.string("scrape").as_deref().and_then(ir::Scrape::from_name).unwrap_or_default(),
            span,
        });
    }
}

fn is_constant(value: &Value) -> bool {
    value.refs().is_empty() && !matches!(value, Value::Expr(_))
}

impl Checker<'_> {
    /// A tune inherits the dependencies of its trial template (spec §6 "Stages").
    pub(super) fn inherit_trial_dependencies(&mut self) {
        let pairs: Vec<(String, String)> = self.tune_trials.iter().map(|(t, s)| (t.clone(), s.clone())).collect();
        for (tune, trial) in pairs {
            for (from, span) in self.trial_dependencies.get(&trial).cloned().unwrap_or_default() {
                let from = self.trial_of.get(&from).cloned().unwrap_or(from);
                self.graph.add_edge(&from, &tune, EdgeKind::Data, span);
            }
        }
    }
}
