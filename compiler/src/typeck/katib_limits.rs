//! The limits the Katib suggestion service serving a `tune`'s algorithm puts on the whole experiment (Katib
//! v0.19.0): refused by `kfl check`, so `kfl run` and the cluster accept the same searches.

use crate::ast;
use crate::diagnostics::{Code, Diagnostic, Label};
use crate::ir::Ty;
use crate::ir::{Distribution, SearchParam, Value};
use crate::source::Span;
use crate::typeck::props::Props;
use crate::typeck::schema::SearchAlgorithm;
use crate::typeck::tune::TuneParts;
use crate::typeck::{Checker, schema};

impl Checker<'_> {
    /// `trials`/`parallel` against the algorithm and its space, once both are numbers (bound params included).
    pub(crate) fn katib_limits(&mut self, body: &ast::Block, parts: &TuneParts, props: &Props, tune_span: Span) {
        let algorithm_span =
            body.properties().find(|p| p.key.joined() == "algorithm").map_or(tune_span, |p| p.value.span);
        let span_of = |name: &str| props.values.get(name).map_or(algorithm_span, |(_, span)| *span);
        let trials = props.value("trials").and_then(Value::as_int);
        let parallel = props.value("parallel").and_then(Value::as_int);
        match parts.algorithm.name {
            // optuna `service.py` `_validate_grid_setting`: "Max Trial Count > all possible search combinations",
            // and a float parameter without a step cannot be enumerated (`search_space.py`).
            SearchAlgorithm::Grid => {
                let mut combinations: i64 = 1;
                for param in &parts.space {
                    match grid_points(param) {
                        Some(points) => combinations = combinations.saturating_mul(points),
                        None => {
                            self.diags.push(
                                Diagnostic::error(
                                    Code::SearchSpaceMismatch,
                                    format!("`grid()` cannot enumerate `{} = {}(…)`", param.name, param.distribution),
                                    Label::new(algorithm_span, "grid search"),
                                )
                                .with_help(
                                    "give every searched parameter finite values: `choice(…)`, `randint(lo, hi)` or \
                                     `quniform(lo, hi, step)` (Katib's grid service refuses a float range without a step)",
                                ),
                            );
                            return;
                        }
                    }
                }
                if let Some(trials) = trials
                    && trials > combinations
                {
                    self.diags.push(
                        Diagnostic::error(
                            Code::OutOfRange,
                            format!(
                                "`trials = {trials}` is more than the {combinations} combinations `grid()` can try"
                            ),
                            Label::new(span_of("trials"), format!("{combinations} combinations")),
                        )
                        .with_help(format!(
                            "set `trials = {combinations}` (Katib's grid service refuses more trials than combinations)"
                        )),
                    );
                }
            }
            // hyperband `service.py` `ValidateAlgorithmSettings`: parallelTrialCount ≥ eta^floor(log(r_l)/log(eta)),
            // r_l being the resource's upper bound.
            SearchAlgorithm::Hyperband => {
                let eta = parts.algorithm.settings.get("eta").and_then(Value::as_int).unwrap_or(schema::HYPERBAND_ETA);
                let resource = parts.algorithm.settings.get("resource").and_then(Value::as_str);
                let Some(r_l) = parts.space.iter().find(|p| Some(p.name.as_str()) == resource).and_then(upper_bound)
                else {
                    return;
                };
                if r_l <= 0.0 || eta < 2 {
                    return;
                }
                // As the service computes it, in floating point.
                let s_max = (r_l.ln() / (eta as f64).ln()) as i32;
                let needed = (eta as f64).powi(s_max).ceil() as i64;
                if let Some(parallel) = parallel
                    && parallel < needed
                {
                    self.diags.push(
                        Diagnostic::error(
                            Code::OutOfRange,
                            format!(
                                "`hyperband` with `eta = {eta}` over a resource up to {r_l} runs {needed} trials at once; \
                                 `parallel = {parallel}` is fewer"
                            ),
                            Label::new(span_of("parallel"), format!("at least {needed}")),
                        )
                        .with_help(format!(
                            "set `parallel = {needed}` (and `trials` no more), or lower the resource's upper bound; \
                             Katib's hyperband service refuses fewer"
                        )),
                    );
                } else if let Some(trials) = trials
                    && trials > parallel.unwrap_or(trials)
                {
                    // Only the first bracket completes on Katib: the experiment controller asks for
                    // min(parallelTrialCount, maxTrialCount - completed) trials at a time, the hyperband service
                    // answers a later request from its child bracket with ceil(n/eta) of them (`service.py`
                    // `_make_child_bracket`), and the suggestion client fails a reply that is not the count it
                    // asked for ("The response contains unexpected trials",
                    // pkg/controller.v1beta1/suggestion/suggestionclient/suggestionclient.go), every reconcile.
                    let parallel = parallel.unwrap_or(trials);
                    self.diags.push(
                        Diagnostic::error(
                            Code::OutOfRange,
                            format!(
                                "`trials = {trials}` is more than `hyperband`'s first bracket of {parallel} trials, \
                                 the only one Katib runs to the end"
                            ),
                            Label::new(span_of("trials"), format!("at most {parallel}")),
                        )
                        .with_help(format!(
                            "set `trials = {parallel}`: Katib v0.19.0's hyperband service answers the request after its \
                             first bracket with fewer trials than asked, which Katib's suggestion client refuses (\"The \
                             response contains unexpected trials\"), so the search would never end"
                        )),
                    );
                }
            }
            // goptuna `service.go` `ValidateAlgorithmSettings`: "CMA-ES only supports two or more dimensional
            // continuous search space".
            SearchAlgorithm::Cmaes => {
                let numeric = parts.space.iter().filter(|p| p.distribution != Distribution::Choice).count();
                if numeric < 2 && !parts.space.is_empty() {
                    self.diags.push(
                        Diagnostic::error(
                            Code::SearchSpaceMismatch,
                            format!("`cmaes()` needs at least two numeric searched parameters, found {numeric}"),
                            Label::new(algorithm_span, "CMA-ES"),
                        )
                        .with_help("search a second numeric parameter, or use `tpe()` or `bayesian()`"),
                    );
                }
            }
            // No limit on the whole search is known for these services.
            SearchAlgorithm::Random | SearchAlgorithm::Tpe | SearchAlgorithm::Bayesian | SearchAlgorithm::Sobol => {}
        }
    }
}

/// How many values grid search tries for a parameter (Katib's `convert_to_combinations`: integers step 1
/// unless given, floats only with a step, categories each); `None` when it cannot enumerate it.
fn grid_points(param: &SearchParam) -> Option<i64> {
    let arg = |i: usize| param.args.get(i).and_then(Value::as_f64);
    match param.distribution {
        Distribution::Choice => Some(param.args.len() as i64),
        Distribution::QUniform => {
            let (lo, hi, step) = (arg(0)?, arg(1)?, arg(2)?);
            (step > 0.0 && hi >= lo).then(|| ((hi - lo) / step + 1e-9).floor() as i64 + 1)
        }
        _ if param.ty == Ty::Int => {
            let (lo, hi) = (arg(0)?, arg(1)?);
            (hi >= lo).then(|| (hi - lo) as i64 + 1)
        }
        _ => None,
    }
}

/// The largest value a numeric parameter takes (`r_l` for hyperband's resource).
fn upper_bound(param: &SearchParam) -> Option<f64> {
    if param.distribution.bounded() { param.args.get(1).and_then(Value::as_f64) } else { None }
}
