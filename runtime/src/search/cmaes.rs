//! CMA-ES (Hansen's (μ/μ_w, λ) evolution strategy) in the unit cube of the space.
//!
//! Trials `gλ … gλ+λ−1` form generation `g`. The sampler state is replayed from the history on each call:
//! every generation whose trials have all finished updates the mean, step size and covariance; new trials
//! are drawn from the state after the last such generation. Failed and stopped trials rank last. Choices and
//! steps are read off the continuous coordinate (`Dim::value_at_unit`).

use kfl_plan::algorithms::SearchAlgorithm;
use rand::Rng;

use super::space::{Dim, Space};
use super::{Direction, Proposal, Sampler, SamplerError, Suggestion, Trial, TrialState, gaussian, trial_rng};

pub(crate) struct CmaEsSampler {
    seed: u64,
    direction: Direction,
    sigma0: f64,
    lambda: usize,
}

impl CmaEsSampler {
    pub(crate) fn new(
        space: &Space,
        seed: u64,
        direction: Direction,
        sigma: Option<f64>,
        population: Option<usize>,
    ) -> Result<CmaEsSampler, SamplerError> {
        let d = space.params.len();
        let lambda = population.unwrap_or(4 + (3.0 * (d as f64).ln()).floor() as usize);
        if lambda < 2 {
            return Err(SamplerError::SettingRange {
                algorithm: SearchAlgorithm::Cmaes,
                setting: "population".into(),
                rule: "must be at least 2",
                got: lambda.to_string(),
            });
        }
        // Optuna's default: a sixth of the (unit) range.
        Ok(CmaEsSampler { seed, direction, sigma0: sigma.unwrap_or(1.0 / 6.0), lambda })
    }
}

struct Strategy {
    d: usize,
    weights: Vec<f64>,
    mu_eff: f64,
    cc: f64,
    cs: f64,
    c1: f64,
    cmu: f64,
    damps: f64,
    chi_n: f64,
    mean: Vec<f64>,
    sigma: f64,
    /// Row-major d×d.
    cov: Vec<f64>,
    /// Eigenvectors (columns) and square roots of the eigenvalues of `cov`.
    basis: Vec<f64>,
    scales: Vec<f64>,
    pc: Vec<f64>,
    ps: Vec<f64>,
    generation: usize,
}

impl Strategy {
    fn new(d: usize, lambda: usize, sigma: f64) -> Strategy {
        let mu = lambda / 2;
        let raw: Vec<f64> = (0..mu.max(1)).map(|i| ((mu as f64 + 0.5).ln() - ((i + 1) as f64).ln()).max(0.0)).collect();
        let sum: f64 = raw.iter().sum();
        let weights: Vec<f64> = raw.iter().map(|w| if sum > 0.0 { w / sum } else { 1.0 / raw.len() as f64 }).collect();
        let mu_eff = 1.0 / weights.iter().map(|w| w * w).sum::<f64>();
        let df = d as f64;
        let cc = (4.0 + mu_eff / df) / (df + 4.0 + 2.0 * mu_eff / df);
        let cs = (mu_eff + 2.0) / (df + mu_eff + 5.0);
        let c1 = 2.0 / ((df + 1.3).powi(2) + mu_eff);
        let cmu = (1.0 - c1).min(2.0 * (mu_eff - 2.0 + 1.0 / mu_eff) / ((df + 2.0).powi(2) + mu_eff));
        let damps = 1.0 + 2.0 * (((mu_eff - 1.0) / (df + 1.0)).sqrt() - 1.0).max(0.0) + cs;
        let chi_n = df.sqrt() * (1.0 - 1.0 / (4.0 * df) + 1.0 / (21.0 * df * df));
        let mut identity = vec![0.0; d * d];
        for i in 0..d {
            identity[i * d + i] = 1.0;
        }
        Strategy {
            d,
            weights,
            mu_eff,
            cc,
            cs,
            c1,
            cmu,
            damps,
            chi_n,
            mean: vec![0.5; d],
            sigma,
            cov: identity.clone(),
            basis: identity,
            scales: vec![1.0; d],
            pc: vec![0.0; d],
            ps: vec![0.0; d],
            generation: 0,
        }
    }

    fn draw<R: Rng>(&self, rng: &mut R) -> Vec<f64> {
        let d = self.d;
        let mut last = vec![0.5; d];
        for _ in 0..20 {
            let z: Vec<f64> = (0..d).map(|i| self.scales[i] * gaussian::draw(rng)).collect();
            last = (0..d)
                .map(|i| self.mean[i] + self.sigma * (0..d).map(|j| self.basis[i * d + j] * z[j]).sum::<f64>())
                .collect();
            if last.iter().all(|x| (0.0..1.0).contains(x)) {
                return last;
            }
        }
        last.iter().map(|x| x.clamp(0.0, 1.0 - 1e-12)).collect()
    }

    /// One generation's update from its members, best first (at least one).
    fn update(&mut self, ranked: &[Vec<f64>]) {
        let d = self.d;
        let ys: Vec<Vec<f64>> = ranked
            .iter()
            .take(self.weights.len())
            .map(|x| x.iter().zip(&self.mean).map(|(xi, m)| (xi - m) / self.sigma).collect())
            .collect();
        let total: f64 = self.weights[..ys.len()].iter().sum();
        let w: Vec<f64> = self.weights[..ys.len()].iter().map(|wi| wi / total).collect();
        let mut y_w = vec![0.0; d];
        for (y, wi) in ys.iter().zip(&w) {
            for i in 0..d {
                y_w[i] += wi * y[i];
            }
        }
        for (m, y) in self.mean.iter_mut().zip(&y_w) {
            *m += self.sigma * y;
        }
        // C^(-1/2) y_w = B D^-1 Bᵀ y_w
        let bt_y: Vec<f64> =
            (0..d).map(|j| (0..d).map(|i| self.basis[i * d + j] * y_w[i]).sum::<f64>() / self.scales[j]).collect();
        let c_inv_sqrt_y: Vec<f64> = (0..d).map(|i| (0..d).map(|j| self.basis[i * d + j] * bt_y[j]).sum()).collect();
        let ps_gain = (self.cs * (2.0 - self.cs) * self.mu_eff).sqrt();
        for (p, c) in self.ps.iter_mut().zip(&c_inv_sqrt_y) {
            *p = (1.0 - self.cs) * *p + ps_gain * c;
        }
        self.generation += 1;
        let ps_norm = self.ps.iter().map(|p| p * p).sum::<f64>().sqrt();
        let decay = 1.0 - (1.0 - self.cs).powi(2 * self.generation as i32);
        let hsig = ps_norm / decay.max(1e-300).sqrt() / self.chi_n < 1.4 + 2.0 / (d as f64 + 1.0);
        let pc_gain = if hsig { (self.cc * (2.0 - self.cc) * self.mu_eff).sqrt() } else { 0.0 };
        for (p, y) in self.pc.iter_mut().zip(&y_w) {
            *p = (1.0 - self.cc) * *p + pc_gain * y;
        }
        let missing = if hsig { 0.0 } else { self.c1 * self.cc * (2.0 - self.cc) };
        for i in 0..d {
            for j in 0..d {
                let rank_mu: f64 = ys.iter().zip(&w).map(|(y, wi)| wi * y[i] * y[j]).sum();
                let c = &mut self.cov[i * d + j];
                *c = (1.0 - self.c1 - self.cmu + missing) * *c + self.c1 * self.pc[i] * self.pc[j] + self.cmu * rank_mu;
            }
        }
        self.sigma = (self.sigma * ((self.cs / self.damps) * (ps_norm / self.chi_n - 1.0)).exp()).clamp(1e-10, 1.0);
        let (values, vectors) = jacobi_eigen(&self.cov, d);
        self.scales = values.iter().map(|v| v.max(1e-20).sqrt()).collect();
        self.basis = vectors;
    }
}

/// Eigenvalues and eigenvectors (columns, row-major) of a symmetric matrix by cyclic Jacobi rotations.
fn jacobi_eigen(a: &[f64], n: usize) -> (Vec<f64>, Vec<f64>) {
    let mut a = a.to_vec();
    let mut v = vec![0.0; n * n];
    for i in 0..n {
        v[i * n + i] = 1.0;
    }
    for _sweep in 0..100 {
        let off: f64 = (0..n)
            .flat_map(|i| (0..n).filter(move |j| *j != i).map(move |j| (i, j)))
            .map(|(i, j)| a[i * n + j].powi(2))
            .sum();
        if off < 1e-30 {
            break;
        }
        for p in 0..n {
            for q in p + 1..n {
                let apq = a[p * n + q];
                if apq.abs() < 1e-300 {
                    continue;
                }
                let theta = (a[q * n + q] - a[p * n + p]) / (2.0 * apq);
                let t = theta.signum() / (theta.abs() + (theta * theta + 1.0).sqrt());
                let t = if theta == 0.0 { 1.0 } else { t };
                let c = 1.0 / (t * t + 1.0).sqrt();
                let s = t * c;
                for k in 0..n {
                    let akp = a[k * n + p];
                    let akq = a[k * n + q];
                    a[k * n + p] = c * akp - s * akq;
                    a[k * n + q] = s * akp + c * akq;
                }
                for k in 0..n {
                    let apk = a[p * n + k];
                    let aqk = a[q * n + k];
                    a[p * n + k] = c * apk - s * aqk;
                    a[q * n + k] = s * apk + c * aqk;
                }
                for k in 0..n {
                    let vkp = v[k * n + p];
                    let vkq = v[k * n + q];
                    v[k * n + p] = c * vkp - s * vkq;
                    v[k * n + q] = s * vkp + c * vkq;
                }
            }
        }
    }
    ((0..n).map(|i| a[i * n + i]).collect(), v)
}

impl Sampler for CmaEsSampler {
    fn suggest(&mut self, space: &Space, history: &[Trial]) -> Proposal {
        let dims: Vec<Dim> = space.params.iter().map(|p| p.dim()).collect();
        let mut strategy = Strategy::new(dims.len(), self.lambda, self.sigma0);
        for generation in history.chunks(self.lambda) {
            if generation.len() < self.lambda || generation.iter().any(|t| t.state == TrialState::Running) {
                break;
            }
            let mut members: Vec<(f64, Vec<f64>)> = generation
                .iter()
                .filter_map(|t| {
                    let x: Option<Vec<f64>> = dims.iter().zip(&t.params).map(|(d, v)| d.to_unit(v)).collect();
                    let loss = t.completed_loss(self.direction).unwrap_or(f64::INFINITY);
                    Some((loss, x.filter(|x| x.len() == dims.len())?))
                })
                .collect();
            if !members.iter().any(|(l, _)| l.is_finite()) {
                continue;
            }
            members.sort_by(|a, b| a.0.total_cmp(&b.0));
            let ranked: Vec<Vec<f64>> = members.into_iter().map(|(_, x)| x).collect();
            strategy.update(&ranked);
        }
        let mut rng = trial_rng(self.seed, history.len(), 0);
        let x = strategy.draw(&mut rng);
        let params = dims.iter().zip(x).map(|(d, u)| d.value_at_unit(u)).collect();
        Proposal::Trial(Suggestion { params, resource: None })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::search::{Distribution, Param, ParamType, Value};

    #[test]
    fn jacobi_finds_eigenpairs() {
        let a = [2.0, 1.0, 0.0, 1.0, 2.0, 0.0, 0.0, 0.0, 5.0];
        let (values, vectors) = jacobi_eigen(&a, 3);
        let mut sorted = values.clone();
        sorted.sort_by(f64::total_cmp);
        for (got, want) in sorted.iter().zip([1.0, 3.0, 5.0]) {
            assert!((got - want).abs() < 1e-12, "{values:?}");
        }
        for (k, lambda) in values.iter().enumerate() {
            for i in 0..3 {
                let av: f64 = (0..3).map(|j| a[i * 3 + j] * vectors[j * 3 + k]).sum();
                assert!((av - lambda * vectors[i * 3 + k]).abs() < 1e-12);
            }
        }
    }

    fn space(d: usize) -> Space {
        Space {
            params: (0..d)
                .map(|i| Param {
                    name: format!("x{i}"),
                    ty: ParamType::Float,
                    distribution: Distribution::Uniform { low: -1.0, high: 1.0 },
                })
                .collect(),
        }
    }

    fn sphere(params: &[Value]) -> f64 {
        params.iter().map(|v| (v.as_f64().expect("x") - 0.3).powi(2)).sum()
    }

    #[test]
    fn converges_on_a_sphere_and_reproduces() {
        let space = space(4);
        let run = |seed| {
            let mut cma = CmaEsSampler::new(&space, seed, Direction::Minimize, None, None).expect("cmaes");
            let mut history: Vec<Trial> = Vec::new();
            for id in 0..400 {
                let Proposal::Trial(s) = cma.suggest(&space, &history) else { panic!("always proposes") };
                let value = sphere(&s.params);
                history.push(Trial {
                    id,
                    params: s.params,
                    state: TrialState::Completed,
                    value: Some(value),
                    curve: vec![],
                });
            }
            history
        };
        let history = run(1);
        let best = history.iter().filter_map(|t| t.value).fold(f64::INFINITY, f64::min);
        assert!(best < 1e-4, "{best}");
        assert_eq!(history[..50], run(1)[..50]);
        assert!(history.iter().all(|t| t.params.iter().all(|v| (-1.0..=1.0).contains(&v.as_f64().expect("x")))));
    }

    #[test]
    fn an_unfinished_generation_keeps_the_old_distribution() {
        let space = space(2);
        let mut cma = CmaEsSampler::new(&space, 2, Direction::Minimize, None, Some(4)).expect("cmaes");
        let mut history: Vec<Trial> = Vec::new();
        for id in 0..4 {
            let Proposal::Trial(s) = cma.suggest(&space, &history) else { panic!("always proposes") };
            history.push(Trial { id, params: s.params, state: TrialState::Running, value: None, curve: vec![] });
        }
        let before = cma.suggest(&space, &history);
        for t in &mut history {
            t.state = TrialState::Completed;
            t.value = Some(sphere(&t.params));
        }
        assert_ne!(before, cma.suggest(&space, &history), "a finished generation moves the distribution");
        assert!(CmaEsSampler::new(&space, 2, Direction::Minimize, None, Some(1)).is_err());
    }
}
