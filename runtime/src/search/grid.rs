//! Grid search: every combination of each parameter's grid values, first parameter slowest, each point once.
//!
//! Discrete parameters (`choice`, `randint`, `quniform`) contribute all their values. Continuous ones get
//! `n` evenly spaced values (geometric for log scales, equal-probability quantiles for normal ones), with
//! `n` the largest count whose product with the discrete part stays within the trial budget (at least 2).

use std::collections::BTreeSet;

use super::space::{Dim, Distribution, Space, Value};
use super::{Proposal, Sampler, SamplerError, Suggestion, Trial, gaussian};

pub(crate) struct GridSampler {
    axes: Vec<Vec<Value>>,
    total: u128,
}

impl GridSampler {
    pub(crate) fn new(space: &Space, budget: usize) -> Result<GridSampler, SamplerError> {
        let mut discrete: u128 = 1;
        let mut continuous = 0u32;
        for p in &space.params {
            match (&p.distribution, p.dim()) {
                (Distribution::Choice(v), _) => discrete = discrete.saturating_mul(v.len() as u128),
                (_, Dim::Numeric { low, high, step: Some(q), .. }) => {
                    discrete = discrete.saturating_mul(((high - low) / q).round() as u128 + 1)
                }
                _ => continuous += 1,
            }
        }
        let per_axis = if continuous == 0 {
            0
        } else {
            let share = (budget.max(1) as f64 / discrete as f64).max(1.0);
            let mut n = share.powf(1.0 / f64::from(continuous)).floor() as usize;
            // Floating point may land just under an exact root (27^(1/3) = 2.9999…).
            while ((n + 1) as f64).powi(continuous as i32) <= share {
                n += 1;
            }
            n.clamp(2, 10_000)
        };
        let axes: Vec<Vec<Value>> = space.params.iter().map(|p| axis(&p.distribution, p.dim(), per_axis)).collect();
        let total = axes.iter().fold(1u128, |acc, a| acc.saturating_mul(a.len() as u128));
        Ok(GridSampler { axes, total })
    }

    /// The number of grid points.
    #[cfg(test)]
    fn len(&self) -> u128 {
        self.total
    }

    fn point(&self, mut index: u128) -> Vec<Value> {
        let mut out = vec![Value::Int(0); self.axes.len()];
        for (slot, axis) in out.iter_mut().zip(&self.axes).rev() {
            let n = axis.len() as u128;
            *slot = axis[(index % n) as usize].clone();
            index /= n;
        }
        out
    }
}

fn axis(distribution: &Distribution, dim: Dim, n: usize) -> Vec<Value> {
    match (distribution, &dim) {
        (Distribution::Choice(values), _) => values.clone(),
        (_, Dim::Numeric { low, high, step: Some(q), .. }) => {
            let count = ((high - low) / q).round() as usize + 1;
            (0..count).map(|k| dim.decode(low + k as f64 * q)).collect()
        }
        (Distribution::Normal { mu, sigma } | Distribution::LogNormal { mu, sigma }, _) => {
            (0..n).map(|i| dim.decode(mu + sigma * gaussian::quantile((i as f64 + 0.5) / n as f64))).collect()
        }
        (_, Dim::Numeric { low, high, .. }) => {
            (0..n).map(|i| dim.decode(low + (high - low) * i as f64 / (n - 1) as f64)).collect()
        }
        (_, Dim::Categorical { choices }) => choices.clone(),
    }
}

fn key(values: &[Value]) -> String {
    values.iter().map(Value::text).collect::<Vec<_>>().join("\u{1f}")
}

impl Sampler for GridSampler {
    fn suggest(&mut self, _space: &Space, history: &[Trial]) -> Proposal {
        // Every trial, running or failed, has taken its point: a grid point runs once.
        let used: BTreeSet<String> = history.iter().map(|t| key(&t.params)).collect();
        let mut index = 0u128;
        while index < self.total {
            let point = self.point(index);
            if !used.contains(&key(&point)) {
                return Proposal::Trial(Suggestion { params: point, resource: None });
            }
            index += 1;
        }
        Proposal::Exhausted
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::search::{Param, ParamType, TrialState};

    fn p(name: &str, ty: ParamType, distribution: Distribution) -> Param {
        Param { name: name.into(), ty, distribution }
    }

    fn run_out(space: &Space, budget: usize) -> Vec<Vec<Value>> {
        let mut grid = GridSampler::new(space, budget).expect("grid");
        let mut history: Vec<Trial> = Vec::new();
        loop {
            match grid.suggest(space, &history) {
                Proposal::Trial(s) => history.push(Trial {
                    id: history.len(),
                    params: s.params,
                    // Alternate states: running and failed points must not come back either.
                    state: [TrialState::Running, TrialState::Completed, TrialState::Failed][history.len() % 3],
                    value: None,
                    curve: vec![],
                }),
                Proposal::Exhausted => break,
                Proposal::Wait => panic!("grid never waits"),
            }
            assert!(history.len() < 10_000, "grid does not end");
        }
        history.into_iter().map(|t| t.params).collect()
    }

    #[test]
    fn discrete_grid_is_complete_and_has_no_repeats() {
        let space = Space {
            params: vec![
                p(
                    "opt",
                    ParamType::String,
                    Distribution::Choice(vec![Value::Str("adam".into()), Value::Str("sgd".into())]),
                ),
                p("layers", ParamType::Int, Distribution::RandInt { low: 1, high: 3 }),
                p("drop", ParamType::Float, Distribution::QUniform { low: 0.0, high: 0.5, q: 0.25 }),
            ],
        };
        let points = run_out(&space, 5);
        assert_eq!(points.len(), 2 * 3 * 3);
        let keys: BTreeSet<String> = points.iter().map(|p| key(p)).collect();
        assert_eq!(keys.len(), points.len());
        assert_eq!(points[0], vec![Value::Str("adam".into()), Value::Int(1), Value::Float(0.0)]);
        assert_eq!(points[1], vec![Value::Str("adam".into()), Value::Int(1), Value::Float(0.25)]);
        assert_eq!(points[17], vec![Value::Str("sgd".into()), Value::Int(3), Value::Float(0.5)]);
    }

    #[test]
    fn continuous_axes_share_the_budget() {
        let space = Space {
            params: vec![
                p("a", ParamType::Float, Distribution::Uniform { low: 0.0, high: 1.0 }),
                p("lr", ParamType::Float, Distribution::LogUniform { low: 1e-4, high: 1.0 }),
                p("b", ParamType::Int, Distribution::Choice(vec![Value::Int(16), Value::Int(32)])),
            ],
        };
        // 50 trials over 2 choices leave 25 = 5 × 5 for the two continuous axes.
        let grid = GridSampler::new(&space, 50).expect("grid");
        assert_eq!(grid.len(), 50);
        assert_eq!(grid.axes[0], [0.0, 0.25, 0.5, 0.75, 1.0].map(Value::Float).to_vec());
        let lrs: Vec<f64> = grid.axes[1].iter().map(|v| v.as_f64().expect("number")).collect();
        for (x, e) in lrs.iter().zip([1e-4, 1e-3, 1e-2, 1e-1, 1.0]) {
            assert!((x / e - 1.0).abs() < 1e-12, "{x} vs {e}");
        }
        assert_eq!(run_out(&space, 50).len(), 50);
        // A tiny budget still gives each continuous axis its two ends.
        assert_eq!(GridSampler::new(&space, 1).expect("grid").len(), 2 * 2 * 2);
    }

    #[test]
    fn normal_axes_use_equal_probability_quantiles() {
        let space = Space { params: vec![p("w", ParamType::Float, Distribution::Normal { mu: 1.0, sigma: 2.0 })] };
        let grid = GridSampler::new(&space, 4).expect("grid");
        let xs: Vec<f64> = grid.axes[0].iter().map(|v| v.as_f64().expect("number")).collect();
        assert_eq!(xs.len(), 4);
        assert!((xs[0] + xs[3] - 2.0).abs() < 1e-9 && (xs[1] + xs[2] - 2.0).abs() < 1e-9);
        assert!((xs[3] - (1.0 + 2.0 * 1.150_349_380_376_008)).abs() < 1e-6, "{xs:?}");
    }
}
