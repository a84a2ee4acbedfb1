//! `tune` blocks: the trial, the objective over its metrics, the algorithm, early stopping and the search space.

use indexmap::IndexMap;

use crate::ast::{self, Entry, ExprKind};
use crate::diagnostics::{Code, Diagnostic, Label};
use crate::ir::Ty;
use crate::ir::{Algorithm, Distribution, EarlyStop, Goal, SearchParam, Value};
use crate::resolve::{DeclKind, suggest};
use crate::source::Span;
use crate::typeck::expr::{Scope, article};
use crate::typeck::schema::{self, ArgSpec, ArgTy, EarlyStopAlgorithm, SearchAlgorithm};
use crate::typeck::{Checker, Sig};

/// The parts of a `tune` that need the trial to be understood.
pub(crate) struct TuneParts {
    pub goal: Goal,
    pub metric: String,
    pub algorithm: Algorithm,
    pub early_stop: Option<EarlyStop>,
    pub space: Vec<SearchParam>,
}

impl Checker<'_> {
    /// The trial named by `trial = NAME`, if it is a `step` or `train`.
    pub(crate) fn tune_trial(&mut self, body: &ast::Block) -> Option<String> {
        let property = body.properties().find(|p| p.key.joined() == "trial")?;
        let e = &property.value;
        let Some(path) = e.as_path().filter(|p| p.len() == 1) else {
            self.diags.push(
                Diagnostic::error(Code::TypeMismatch, "`trial` names a `train` or `step`", Label::new(e.span, "here"))
                    .with_help("write `trial = classifier`"),
            );
            return None;
        };
        let name = path[0].name.as_str();
        match self.module.decls.get(name) {
            Some(decl) if matches!(decl.kind, DeclKind::Step | DeclKind::Train) => Some(name.to_string()),
            Some(decl) => {
                let what = decl.kind.keyword();
                self.diags.push(
                    Diagnostic::error(
                        Code::TypeMismatch,
                        format!("`trial` must be a `train` or `step`, found a {what}"),
                        Label::new(e.span, format!("a {what}")),
                    )
                    .with_label(Label::new(decl.name_span, "declared here")),
                );
                None
            }
            None => {
                let candidates: Vec<&str> = self
                    .module
                    .decls
                    .iter()
                    .filter(|(_, d)| matches!(d.kind, DeclKind::Step | DeclKind::Train))
                    .map(|(n, _)| n.as_str())
                    .collect();
                self.diags.push(
                    Diagnostic::error(
                        Code::UnknownName,
                        format!("unknown trial `{name}`"),
                        Label::new(e.span, "not found"),
                    )
                    .with_optional_help(suggest::help(name, &candidates)),
                );
                None
            }
        }
    }

    pub(crate) fn tune_parts(&mut self, body: &ast::Block, trial: Option<&str>) -> TuneParts {
        let sig: Option<Sig> = trial.and_then(|t| self.sigs.get(t).cloned());
        let mut parts = TuneParts {
            goal: Goal::Maximize,
            metric: String::new(),
            algorithm: Algorithm { name: schema::DEFAULT_ALGORITHM, seed: None, settings: IndexMap::new() },
            early_stop: None,
            space: Vec::new(),
        };
        // The space first: hyperband's `resource` must be a searched parameter.
        if let Some(property) = body.properties().find(|p| p.key.joined() == "space") {
            parts.space = self.space(&property.value, sig.as_ref(), trial);
        }
        for property in body.properties() {
            match property.key.joined().as_str() {
                "objective" => {
                    if let Some((goal, metric)) = self.objective(&property.value, sig.as_ref(), trial) {
                        parts.goal = goal;
                        parts.metric = metric;
                    }
                }
                "algorithm" => {
                    if let Some(algorithm) = self.algorithm(&property.value, &parts.space) {
                        parts.algorithm = algorithm;
                    }
                }
                "early_stop" => parts.early_stop = self.early_stop(&property.value),
                _ => {}
            }
        }
        parts
    }

    fn objective(&mut self, e: &ast::Expr, sig: Option<&Sig>, trial: Option<&str>) -> Option<(Goal, String)> {
        let (name, args) = self.call_parts(e, schema::OBJECTIVES, "objective")?;
        let goal = if name == "maximize" { Goal::Maximize } else { Goal::Minimize };
        let [arg] = args else {
            self.diags.push(
                Diagnostic::error(
                    Code::InvalidArgument,
                    format!("`{name}` takes one metric"),
                    Label::new(e.span, "here"),
                )
                .with_help(format!("write `{name}(accuracy)`")),
            );
            return None;
        };
        let metric = match &arg.value.kind {
            ExprKind::Name(ident) => ident.name.to_string(),
            ExprKind::String(lit) => lit.as_plain().unwrap_or_default(),
            _ => {
                self.diags.push(
                    Diagnostic::error(
                        Code::TypeMismatch,
                        "an objective names a metric",
                        Label::new(arg.value.span, "here"),
                    )
                    .with_help(format!("write `{name}(accuracy)`")),
                );
                return None;
            }
        };
        if let Some(sig) = sig
            && !sig.metrics.iter().any(|(m, _)| *m == metric)
        {
            let names: Vec<&str> = sig.metrics.iter().map(|(m, _)| m.as_str()).collect();
            let trial = trial.unwrap_or_default();
            let help = suggest::help(&metric, &names).unwrap_or_else(|| {
                if names.is_empty() {
                    format!("declare it in `{trial}`: `metrics {{ {metric}: float }}`")
                } else {
                    format!("`{trial}` declares: {}", names.join(", "))
                }
            });
            let mut diagnostic = Diagnostic::error(
                Code::UndeclaredMetric,
                format!("the trial `{trial}` does not declare the metric `{metric}`"),
                Label::new(arg.value.span, "undeclared metric"),
            )
            .with_help(help);
            // Point at the trial only when it comes after the tune: snippets
            // render in file order, and the objective should read first.
            if let Some(decl) = self.module.decls.get(trial).filter(|d| d.name_span.start > arg.value.span.start) {
                diagnostic = diagnostic.with_label(Label::new(decl.name_span, "trial declared here"));
            }
            self.diags.push(diagnostic);
        }
        Some((goal, metric))
    }

    fn algorithm(&mut self, e: &ast::Expr, space: &[SearchParam]) -> Option<Algorithm> {
        let (name, args) = self.call_parts(e, SearchAlgorithm::NAMES, "algorithm")?;
        // `call_parts` accepted only these names.
        let algorithm = SearchAlgorithm::from_name(&name)?;
        let values = self.named_args(&name, args, algorithm.row().2, e.span, space);
        let seed = values.get("seed").and_then(Value::as_int);
        let settings = values.into_iter().filter(|(k, _)| k != "seed").collect();
        Some(Algorithm { name: algorithm, seed, settings })
    }

    fn early_stop(&mut self, e: &ast::Expr) -> Option<EarlyStop> {
        let (name, args) = self.call_parts(e, EarlyStopAlgorithm::NAMES, "early_stop")?;
        // `call_parts` accepted only these names.
        let rule = EarlyStopAlgorithm::from_name(&name)?;
        let values = self.named_args(&name, args, rule.row().2, e.span, &[]);
        Some(EarlyStop {
            name: rule,
            min_trials: values.get("min_trials").and_then(Value::as_int),
            start_step: values.get("start_step").and_then(Value::as_int),
        })
    }

    /// Named arguments of an algorithm or early-stop call.
    fn named_args(
        &mut self,
        callee: &str,
        args: &[ast::Arg],
        specs: &[ArgSpec],
        call_span: Span,
        space: &[SearchParam],
    ) -> IndexMap<String, Value> {
        let mut values: IndexMap<String, Value> = IndexMap::new();
        let all: Vec<&ArgSpec> = specs.iter().chain(std::iter::once(&schema::SEED)).collect();
        for arg in args {
            let Some(name) = &arg.name else {
                self.diags.push(
                    Diagnostic::error(
                        Code::InvalidArgument,
                        format!("`{callee}` takes named arguments"),
                        Label::new(arg.span, "positional argument"),
                    )
                    .with_help(format!(
                        "name it: {}",
                        all.iter().map(|s| format!("`{} = …`", s.name)).collect::<Vec<_>>().join(", ")
                    )),
                );
                continue;
            };
            let Some(spec) = all.iter().find(|s| s.name == name.name) else {
                let names: Vec<&str> = all.iter().map(|s| s.name).collect();
                self.diags.push(
                    Diagnostic::error(
                        Code::InvalidArgument,
                        format!("`{callee}` has no argument `{}`", name.name),
                        Label::new(name.span, "unknown argument"),
                    )
                    .with_help(
                        suggest::help(&name.name, &names)
                            .unwrap_or_else(|| format!("`{callee}` takes: {}", names.join(", "))),
                    ),
                );
                continue;
            };
            if let schema::Katib::Refused(why) = spec.katib {
                self.diags.push(
                    Diagnostic::error(
                        Code::InvalidArgument,
                        format!("`{callee}` cannot take `{}` on Kubeflow", name.name),
                        Label::new(arg.span, "not a Katib setting"),
                    )
                    .with_help(format!("remove `{}`: {why}", name.name)),
                );
                continue;
            }
            if values.contains_key(name.name.as_str()) {
                self.diags.push(
                    Diagnostic::error(
                        Code::InvalidArgument,
                        format!("`{}` is given twice", name.name),
                        Label::new(arg.span, "again here"),
                    )
                    .with_help("remove one"),
                );
                continue;
            }
            let value = match spec.ty {
                ArgTy::SearchedParam => match arg.value.as_path().filter(|p| p.len() == 1) {
                    Some(path) if space.iter().any(|p| p.name == path[0].name) => {
                        Value::String(path[0].name.to_string())
                    }
                    _ => {
                        self.diags.push(
                            Diagnostic::error(
                                Code::SearchSpaceMismatch,
                                format!("`{}` must name a searched parameter", spec.name),
                                Label::new(arg.value.span, "not in `space`"),
                            )
                            .with_help("add the parameter to `space`, e.g. `epochs = randint(1, 81)`"),
                        );
                        continue;
                    }
                },
                ArgTy::Int { min } => {
                    let (ty, value) = self.expr(&arg.value, &Scope::default(), Some(&Ty::Int));
                    self.expect_ty(arg.value.span, &Ty::Int, &ty, format_args!("`{}` is a whole number", spec.name));
                    if value.as_int().is_some_and(|n| n < min) {
                        self.out_of_range(
                            arg.value.span,
                            &format!("`{}` must be at least {min}", spec.name),
                            &format!("use a value ≥ {min}"),
                        );
                    }
                    value
                }
                ArgTy::Float | ArgTy::Fraction => {
                    let (ty, value) = self.expr(&arg.value, &Scope::default(), Some(&Ty::Float));
                    self.expect_ty(arg.value.span, &Ty::Float, &ty, format_args!("`{}` is a number", spec.name));
                    if spec.ty == ArgTy::Fraction && value.as_f64().is_some_and(|x| x <= 0.0 || x >= 1.0) {
                        self.out_of_range(
                            arg.value.span,
                            &format!("`{}` must be between 0 and 1 (exclusive)", spec.name),
                            "use a value such as 0.25",
                        );
                    }
                    value
                }
                ArgTy::Percent => {
                    let (ty, value) = self.expr(&arg.value, &Scope::default(), Some(&Ty::Percent));
                    self.expect_ty(arg.value.span, &Ty::Percent, &ty, format_args!("`{}` is a percentage", spec.name));
                    value
                }
            };
            values.insert(name.name.to_string(), value);
        }
        for spec in specs.iter().filter(|s| s.required) {
            if !values.contains_key(spec.name)
                && !args.iter().any(|a| a.name.as_ref().is_some_and(|n| n.name == spec.name))
            {
                self.diags.push(
                    Diagnostic::error(
                        Code::InvalidArgument,
                        format!("`{callee}` needs `{}`", spec.name),
                        Label::new(call_span, "here"),
                    )
                    .with_help(format!("write `{callee}({} = …)`", spec.name)),
                );
            }
        }
        values
    }

    fn space(&mut self, e: &ast::Expr, sig: Option<&Sig>, trial: Option<&str>) -> Vec<SearchParam> {
        let ExprKind::Object(block) = &e.kind else {
            self.diags.push(
                Diagnostic::error(
                    Code::TypeMismatch,
                    "`space` is a block of `PARAM = distribution(…)`",
                    Label::new(e.span, "here"),
                )
                .with_help("write `space { lr = loguniform(0.001, 0.1) }`"),
            );
            return Vec::new();
        };
        let mut params: Vec<SearchParam> = Vec::new();
        for entry in &block.entries {
            let Entry::Property(property) = entry else {
                self.diags.push(Diagnostic::error(
                    Code::NotAllowedHere,
                    "`space` holds `PARAM = distribution(…)` entries only",
                    Label::new(entry.span(), "here"),
                ));
                continue;
            };
            let name = property.key.joined();
            if params.iter().any(|p| p.name == name) {
                self.diags.push(
                    Diagnostic::error(
                        Code::DuplicateDeclaration,
                        format!("`{name}` is searched twice"),
                        Label::new(property.key.span, "again here"),
                    )
                    .with_help("give each parameter one distribution"),
                );
                continue;
            }
            let input_ty = match sig {
                Some(sig) => match sig.inputs.iter().find(|(n, _, _)| *n == name) {
                    Some((_, ty, _)) => Some(ty.clone()),
                    None => {
                        let names: Vec<&str> = sig.inputs.iter().map(|(n, _, _)| n.as_str()).collect();
                        let trial = trial.unwrap_or_default();
                        let help = suggest::help(&name, &names)
                            .unwrap_or_else(|| format!("`{trial}` has inputs: {}", names.join(", ")));
                        self.diags.push(
                            Diagnostic::error(
                                Code::SearchSpaceMismatch,
                                format!("`{name}` is not an input of the trial `{trial}`"),
                                Label::new(property.key.span, "not a trial input"),
                            )
                            .with_help(help),
                        );
                        None
                    }
                },
                None => None,
            };
            if let Some(param) = self.distribution(&name, &property.value, input_ty.as_ref()) {
                params.push(param);
            }
        }
        params
    }

    fn distribution(&mut self, name: &str, e: &ast::Expr, ty: Option<&Ty>) -> Option<SearchParam> {
        let (dist, args) = self.call_parts(e, Distribution::NAMES, "distribution")?;
        // `call_parts` accepted only these names.
        let dist = Distribution::from_name(&dist)?;
        let ty = ty.cloned().unwrap_or(Ty::Error);
        let fits = match dist {
            Distribution::Uniform | Distribution::LogUniform | Distribution::Normal | Distribution::LogNormal => {
                matches!(ty, Ty::Float | Ty::Error)
            }
            Distribution::QUniform => matches!(ty, Ty::Float | Ty::Int | Ty::Error),
            Distribution::RandInt => matches!(ty, Ty::Int | Ty::Error),
            Distribution::Choice => true,
        };
        if !fits {
            let suggestion = match ty {
                Ty::Int => "`randint(lo, hi)`, `quniform(lo, hi, q)` or `choice(…)`",
                Ty::Float => "`uniform`, `loguniform`, `normal`, `lognormal` or `quniform`",
                _ => "`choice(…)`",
            };
            self.diags.push(
                Diagnostic::error(
                    Code::SearchSpaceMismatch,
                    format!("`{dist}` does not fit `{name}`, which is {}", article(&ty)),
                    Label::new(e.span, "distribution"),
                )
                .with_help(format!("for {} use {suggestion}", article(&ty))),
            );
            return None;
        }
        let arity = match dist {
            Distribution::QUniform => Some(3),
            Distribution::Choice => None,
            _ => Some(2),
        };
        if args.iter().any(|a| a.name.is_some()) {
            self.diags.push(Diagnostic::error(
                Code::InvalidArgument,
                format!("`{dist}` takes positional arguments"),
                Label::new(e.span, "here"),
            ));
            return None;
        }
        match arity {
            Some(n) if args.len() != n => {
                self.diags.push(
                    Diagnostic::error(
                        Code::InvalidArgument,
                        format!("`{dist}` takes {n} arguments, found {}", args.len()),
                        Label::new(e.span, "here"),
                    )
                    .with_help(dist_example(dist)),
                );
                return None;
            }
            None if args.is_empty() => {
                self.diags.push(
                    Diagnostic::error(
                        Code::InvalidArgument,
                        "`choice` needs at least one value",
                        Label::new(e.span, "here"),
                    )
                    .with_help("write `choice(8, 16, 32)`"),
                );
                return None;
            }
            _ => {}
        }
        let element = match dist {
            Distribution::Choice => ty.clone(),
            Distribution::RandInt => Ty::Int,
            Distribution::QUniform if ty == Ty::Int => Ty::Int,
            _ => Ty::Float,
        };
        let mut values = Vec::new();
        for arg in args {
            let (arg_ty, value) = self.expr(&arg.value, &Scope::default(), Some(&element));
            if !(arg_ty.fits(&element) || (dist == Distribution::Choice && element.is_error())) {
                let code = if dist == Distribution::Choice { Code::SearchSpaceMismatch } else { Code::TypeMismatch };
                self.diags.push(
                    Diagnostic::error(
                        code,
                        format!("`{name}` is {}, but this value is {}", article(&element), article(&arg_ty)),
                        Label::new(arg.value.span, "does not fit"),
                    )
                    .with_help(format!("every value must be {}", article(&element))),
                );
                return None;
            }
            values.push(value);
        }
        if let (Some(lo), Some(hi)) = (values.first().and_then(Value::as_f64), values.get(1).and_then(Value::as_f64)) {
            let bounded = dist.bounded();
            if bounded && lo >= hi {
                self.out_of_range(
                    e.span,
                    &format!("`{dist}` needs lo < hi, found {lo} and {hi}"),
                    "write the lower bound first",
                );
            } else if dist == Distribution::LogUniform && lo <= 0.0 {
                self.out_of_range(
                    e.span,
                    "`loguniform` needs bounds above zero",
                    "use a positive lower bound such as 1e-4",
                );
            } else if matches!(dist, Distribution::Normal | Distribution::LogNormal) && hi <= 0.0 {
                self.out_of_range(e.span, &format!("`{dist}` needs sigma > 0"), "use a positive standard deviation");
            }
        }
        if dist == Distribution::QUniform && values.get(2).and_then(Value::as_f64).is_some_and(|q| q <= 0.0) {
            self.out_of_range(e.span, "`quniform` needs a step q > 0", "use a positive step");
        }
        Some(SearchParam { name: name.to_string(), ty, distribution: dist, args: values })
    }

    /// Range rules between `trials`, `parallel` and `max_failed`.
    /// `trials`, `parallel` and `max_failed` as written (numbers or params, resolved at build time); when all
    /// are numbers, `parallel` and `max_failed` are checked against `trials` here.
    pub(crate) fn tune_counts(&mut self, props: &crate::typeck::props::Props) -> (Value, Value, Option<Value>) {
        let trials_value = props.value("trials").cloned().unwrap_or(Value::Int(0));
        let parallel_value = props.value("parallel").cloned().unwrap_or(Value::Int(0));
        let max_failed_value = props.get("max_failed").cloned();
        let Some(trials) = trials_value.as_int() else { return (trials_value, parallel_value, max_failed_value) };
        let counts =
            [("parallel", parallel_value.as_int()), ("max_failed", max_failed_value.as_ref().and_then(Value::as_int))];
        for (name, value) in counts {
            let Some(value) = value else { continue };
            if value > trials
                && let Some((_, span)) = props.values.get(name)
            {
                self.out_of_range(
                    *span,
                    &format!("`{name} = {value}` is more than `trials = {trials}`"),
                    &format!("`{name}` is at most `trials`"),
                );
            }
        }
        (trials_value, parallel_value, max_failed_value)
    }
}

fn dist_example(dist: Distribution) -> String {
    match dist {
        Distribution::QUniform => "write `quniform(lo, hi, q)`".into(),
        Distribution::Normal | Distribution::LogNormal => format!("write `{dist}(mu, sigma)`"),
        other => format!("write `{other}(lo, hi)`"),
    }
}
