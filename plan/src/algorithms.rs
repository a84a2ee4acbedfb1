//! The search-algorithm table: each algorithm's name, its Katib `algorithmName`, its arguments (type, and the
//! Katib setting each becomes, or why Katib refuses it) and the defaults the suggestion services apply.
//!
//! One table for the checker (which arguments a `tune` may write), the runtime's search (which settings a
//! sampler takes) and the Katib back end (the `algorithmSettings` names).

use crate::closed_set::closed_set;

closed_set! {
    /// A tune's search algorithm (`algorithm = tpe(…)`), by its kfl name; [`ALGORITHMS`] gives its Katib name.
    pub enum SearchAlgorithm {
        Random = "random",
        Grid = "grid",
        Tpe = "tpe",
        Bayesian = "bayesian",
        Cmaes = "cmaes",
        Hyperband = "hyperband",
        Sobol = "sobol",
    }
}

closed_set! {
    /// A tune's early-stopping rule (`early_stop = median(…)`), by its kfl name; [`EARLY_STOP`] gives its Katib
    /// name.
    pub enum EarlyStopAlgorithm {
        Median = "median",
    }
}

/// An algorithm's row of its table: the algorithm, its Katib `algorithmName`, its optional arguments.
pub type AlgorithmRow<A> = (A, &'static str, &'static [ArgSpec]);

/// An argument of a call a property gives meaning to.
#[derive(Debug)]
pub struct ArgSpec {
    pub name: &'static str,
    pub ty: ArgTy,
    pub required: bool,
    /// What the Katib suggestion service serving the algorithm calls it (`katib.rs` emits it under that name).
    pub katib: Katib,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ArgTy {
    Int {
        min: i64,
    },
    Float,
    /// A float strictly between 0 and 1.
    Fraction,
    /// A searched parameter of the trial (hyperband's `resource`).
    SearchedParam,
    Percent,
}

/// How an argument reaches Katib's suggestion service.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Katib {
    /// An `algorithmSettings` entry of this name.
    Setting(&'static str),
    /// Hyperband's resource: `resource_name` and `r_l` (the upper bound of the searched parameter).
    Resource,
    /// The service has no such setting and refuses unknown ones: the checker refuses the argument with this
    /// reason, so `kfl run` and the cluster search the same way.
    Refused(&'static str),
}

const fn arg(name: &'static str, ty: ArgTy, katib: &'static str) -> ArgSpec {
    ArgSpec { name, ty, required: false, katib: Katib::Setting(katib) }
}

const fn refused(name: &'static str, ty: ArgTy, why: &'static str) -> ArgSpec {
    ArgSpec { name, ty, required: false, katib: Katib::Refused(why) }
}

/// `seed` of every algorithm that does not list its own (`random_state` in every Katib service that has one).
pub const SEED: ArgSpec = arg("seed", ArgTy::Int { min: 0 }, "random_state");

/// Algorithms, their Katib `algorithmName`, and their optional arguments (every one accepts `seed` unless it
/// lists its own). The settings each Katib v0.19.0 suggestion service validates (it refuses any other):
/// - hyperopt (`random`, `tpe`): `pkg/suggestion/v1beta1/hyperopt/service.py` — `random_state`, and for tpe
///   `gamma` in (0, 1), `prior_weight` > 0, `n_EI_candidates` > 0;
/// - optuna (`grid`): `pkg/suggestion/v1beta1/optuna/service.py` — `random_state`;
/// - skopt (`bayesianoptimization`): `pkg/suggestion/v1beta1/skopt/service.py` — `n_initial_points`,
///   `random_state` (and estimator choices kfl does not expose);
/// - goptuna (`cmaes`, `sobol`): `pkg/suggestion/v1beta1/goptuna/converter.go` — `sigma`, `random_state`;
/// - hyperband: `pkg/suggestion/v1beta1/hyperband/service.py` — `r_l`, `resource_name`, `eta`; no seed.
pub const ALGORITHMS: &[AlgorithmRow<SearchAlgorithm>] = &[
    (SearchAlgorithm::Random, "random", &[]),
    (SearchAlgorithm::Grid, "grid", &[]),
    (
        SearchAlgorithm::Tpe,
        "tpe",
        &[
            refused(
                "startup_trials",
                ArgTy::Int { min: 1 },
                "Katib's tpe (the hyperopt service, v0.19.0) has no setting for its random start-up trials and \
                 refuses unknown settings",
            ),
            arg("candidates", ArgTy::Int { min: 1 }, "n_EI_candidates"),
            arg("gamma", ArgTy::Fraction, "gamma"),
            arg("prior_weight", ArgTy::Float, "prior_weight"),
        ],
    ),
    (
        SearchAlgorithm::Bayesian,
        "bayesianoptimization",
        &[arg("initial_points", ArgTy::Int { min: 1 }, "n_initial_points")],
    ),
    (
        SearchAlgorithm::Cmaes,
        "cmaes",
        &[
            arg("sigma", ArgTy::Float, "sigma"),
            refused(
                "population",
                ArgTy::Int { min: 2 },
                "Katib's cmaes (the goptuna service, v0.19.0) has no population setting",
            ),
        ],
    ),
    (
        SearchAlgorithm::Hyperband,
        "hyperband",
        &[
            ArgSpec { name: "resource", ty: ArgTy::SearchedParam, required: true, katib: Katib::Resource },
            arg("eta", ArgTy::Int { min: 2 }, "eta"),
            refused(
                "seed",
                ArgTy::Int { min: 0 },
                "Katib's hyperband service (v0.19.0) samples without a seed, so a seeded search could not be \
                 repeated on the cluster",
            ),
        ],
    ),
    (SearchAlgorithm::Sobol, "sobol", &[]),
];

/// Hyperband's `eta` when omitted (the hyperband service's default, `service.py`).
pub const HYPERBAND_ETA: i64 = 3;

/// Early-stopping rules, their Katib `algorithmName` and their arguments: the medianstop service of Katib
/// v0.19.0 (`pkg/earlystopping/v1beta1/medianstop/service.py`) takes `min_trials_required` and `start_step`.
pub const EARLY_STOP: &[AlgorithmRow<EarlyStopAlgorithm>] = &[(
    EarlyStopAlgorithm::Median,
    "medianstop",
    &[
        arg("min_trials", ArgTy::Int { min: 1 }, "min_trials_required"),
        arg("start_step", ArgTy::Int { min: 1 }, "start_step"),
    ],
)];

/// The row of `name`, given by its kfl name or its Katib `algorithmName` (`bayesianoptimization`).
pub fn algorithm(name: &str) -> Option<&'static AlgorithmRow<SearchAlgorithm>> {
    ALGORITHMS.iter().find(|(kfl, katib, _)| kfl.name() == name || *katib == name)
}

impl SearchAlgorithm {
    /// Its row of [`ALGORITHMS`].
    pub fn row(self) -> &'static AlgorithmRow<SearchAlgorithm> {
        let row = ALGORITHMS.iter().find(|(kfl, _, _)| *kfl == self);
        // A test checks every algorithm has its row.
        row.unwrap_or(&ALGORITHMS[0])
    }
}

impl EarlyStopAlgorithm {
    /// Its row of [`EARLY_STOP`].
    pub fn row(self) -> &'static AlgorithmRow<EarlyStopAlgorithm> {
        let row = EARLY_STOP.iter().find(|(kfl, _, _)| *kfl == self);
        // A test checks every rule has its row.
        row.unwrap_or(&EARLY_STOP[0])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_algorithm_has_one_row_in_order() {
        let algorithms: Vec<SearchAlgorithm> = ALGORITHMS.iter().map(|(a, _, _)| *a).collect();
        assert_eq!(algorithms, SearchAlgorithm::ALL);
        let rules: Vec<EarlyStopAlgorithm> = EARLY_STOP.iter().map(|(a, _, _)| *a).collect();
        assert_eq!(rules, EarlyStopAlgorithm::ALL);
        assert_eq!(algorithm("bayesianoptimization").map(|row| row.0), Some(SearchAlgorithm::Bayesian));
        assert_eq!(SearchAlgorithm::Hyperband.row().1, "hyperband");
        assert_eq!(EarlyStopAlgorithm::Median.row().1, "medianstop");
    }
}
