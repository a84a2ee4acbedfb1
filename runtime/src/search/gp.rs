//! Bayesian optimisation: a Gaussian process with a Matérn 5/2 kernel (one length scale per parameter, fit by
//! a coordinate search on the log marginal likelihood) and expected improvement, after a Sobol' start.
//!
//! Parameters live in the unit cube (log scales in log units; normal ones over μ ± 3σ); a categorical one is
//! one-hot with one shared length scale. Running trials count as observed at the mean ("constant liar"),
//! so parallel proposals spread out.

use rand::Rng;

use super::sobol::{MAX_DIMENSIONS, SobolSampler};
use super::space::{Dim, Space, Value};
use super::{Direction, Proposal, Sampler, Suggestion, Trial, TrialState, gaussian, random, trial_rng};

pub(crate) struct BayesianSampler {
    seed: u64,
    direction: Direction,
    initial: usize,
    sobol: Option<SobolSampler>,
}

impl BayesianSampler {
    pub(crate) fn new(space: &Space, seed: u64, direction: Direction, initial: usize) -> BayesianSampler {
        let sobol = if space.params.len() <= MAX_DIMENSIONS { SobolSampler::new(space, seed).ok() } else { None };
        BayesianSampler { seed, direction, initial, sobol }
    }
}

/// How parameters become GP inputs: the unit coordinate of numeric ones, one-hot blocks for choices.
struct Encoder {
    dims: Vec<Dim>,
    /// Per parameter: first feature and feature count.
    blocks: Vec<(usize, usize)>,
    features: usize,
}

impl Encoder {
    fn new(space: &Space) -> Encoder {
        let dims: Vec<Dim> = space.params.iter().map(|p| p.dim()).collect();
        let mut blocks = Vec::new();
        let mut features = 0;
        for d in &dims {
            let width = match d {
                Dim::Categorical { choices } => choices.len(),
                Dim::Numeric { .. } => 1,
            };
            blocks.push((features, width));
            features += width;
        }
        Encoder { dims, blocks, features }
    }

    /// Unit coordinates (one per parameter) snapped to representable values, and their features.
    fn snap(&self, unit: &[f64]) -> (Vec<Value>, Vec<f64>) {
        let values: Vec<Value> = self.dims.iter().zip(unit).map(|(d, u)| d.value_at_unit(*u)).collect();
        let features = self.features(&values).unwrap_or_else(|| vec![0.0; self.features]);
        (values, features)
    }

    fn features(&self, values: &[Value]) -> Option<Vec<f64>> {
        if values.len() != self.dims.len() {
            return None;
        }
        let mut f = vec![0.0; self.features];
        for ((d, (start, _)), v) in self.dims.iter().zip(&self.blocks).zip(values) {
            match d {
                Dim::Categorical { .. } => f[start + d.encode(v)? as usize] = 1.0,
                Dim::Numeric { .. } => f[*start] = d.to_unit(v)?,
            }
        }
        Some(f)
    }

    fn units(&self, values: &[Value]) -> Option<Vec<f64>> {
        self.dims.iter().zip(values).map(|(d, v)| d.to_unit(v)).collect()
    }
}

/// Kernel hyperparameters in log space: one length scale per parameter, signal variance, noise variance.
#[derive(Clone, Debug)]
struct Hyper {
    log_lengths: Vec<f64>,
    log_signal: f64,
    log_noise: f64,
}

const LOG_LENGTH: (f64, f64) = (-4.6, 1.6); // 0.01 .. 5 unit lengths
const LOG_SIGNAL: (f64, f64) = (-3.0, 3.0);
const LOG_NOISE: (f64, f64) = (-13.8, -0.7); // 1e-6 .. 0.5 of the standardised variance

struct Gp {
    x: Vec<Vec<f64>>,
    hyper: Hyper,
    /// Per feature: 1 / length scale.
    inv_lengths: Vec<f64>,
    chol: Vec<f64>,
    alpha: Vec<f64>,
    n: usize,
}

fn matern52(x: &[f64], y: &[f64], inv_lengths: &[f64], signal: f64) -> f64 {
    let r2: f64 = x.iter().zip(y).zip(inv_lengths).map(|((a, b), il)| ((a - b) * il).powi(2)).sum();
    let r = (5.0 * r2).sqrt();
    signal * (1.0 + r + 5.0 / 3.0 * r2) * (-r).exp()
}

/// In-place lower Cholesky factor of a row-major n×n matrix; false when not positive definite.
fn cholesky(a: &mut [f64], n: usize) -> bool {
    for j in 0..n {
        let mut d = a[j * n + j];
        for k in 0..j {
            d -= a[j * n + k] * a[j * n + k];
        }
        if d <= 0.0 || !d.is_finite() {
            return false;
        }
        let d = d.sqrt();
        a[j * n + j] = d;
        for i in j + 1..n {
            let mut s = a[i * n + j];
            for k in 0..j {
                s -= a[i * n + k] * a[j * n + k];
            }
            a[i * n + j] = s / d;
        }
        for k in j + 1..n {
            a[j * n + k] = 0.0;
        }
    }
    true
}

/// Solves L v = b in place.
fn forward(l: &[f64], n: usize, b: &mut [f64]) {
    for i in 0..n {
        let mut s = b[i];
        for k in 0..i {
            s -= l[i * n + k] * b[k];
        }
        b[i] = s / l[i * n + i];
    }
}

/// Solves Lᵀ v = b in place.
fn backward(l: &[f64], n: usize, b: &mut [f64]) {
    for i in (0..n).rev() {
        let mut s = b[i];
        for k in i + 1..n {
            s -= l[k * n + i] * b[k];
        }
        b[i] = s / l[i * n + i];
    }
}

impl Gp {
    /// Fits the GP with given hyperparameters; returns it with its log marginal likelihood.
    fn fit(encoder: &Encoder, x: &[Vec<f64>], y: &[f64], hyper: &Hyper) -> Option<(Gp, f64)> {
        let n = x.len();
        let mut inv_lengths = vec![0.0; encoder.features];
        for ((start, width), ll) in encoder.blocks.iter().zip(&hyper.log_lengths) {
            // One-hot blocks differ by √2 between categories; scale so a length of 1 means "as far as a unit".
            let scale = if *width > 1 { std::f64::consts::FRAC_1_SQRT_2 } else { 1.0 };
            for il in &mut inv_lengths[*start..start + width] {
                *il = scale / ll.exp();
            }
        }
        let signal = hyper.log_signal.exp();
        let noise = hyper.log_noise.exp();
        let mut k = vec![0.0; n * n];
        for i in 0..n {
            for j in 0..=i {
                let v = matern52(&x[i], &x[j], &inv_lengths, signal);
                k[i * n + j] = v;
                k[j * n + i] = v;
            }
            k[i * n + i] += noise + 1e-9 * signal;
        }
        if !cholesky(&mut k, n) {
            return None;
        }
        let mut alpha = y.to_vec();
        forward(&k, n, &mut alpha);
        let fit_term: f64 = alpha.iter().map(|a| a * a).sum();
        backward(&k, n, &mut alpha);
        let log_det: f64 = (0..n).map(|i| k[i * n + i].ln()).sum();
        let lml = -0.5 * fit_term - log_det - 0.5 * n as f64 * (2.0 * std::f64::consts::PI).ln();
        let gp = Gp { x: x.to_vec(), hyper: hyper.clone(), inv_lengths, chol: k, alpha, n };
        Some((gp, lml))
    }

    /// Posterior mean and standard deviation of the latent function at `z`.
    fn predict(&self, z: &[f64], scratch: &mut Vec<f64>) -> (f64, f64) {
        let signal = self.hyper.log_signal.exp();
        scratch.clear();
        scratch.extend(self.x.iter().map(|xi| matern52(xi, z, &self.inv_lengths, signal)));
        let mean: f64 = scratch.iter().zip(&self.alpha).map(|(k, a)| k * a).sum();
        forward(&self.chol, self.n, scratch);
        let var = signal - scratch.iter().map(|v| v * v).sum::<f64>();
        (mean, var.max(1e-12).sqrt())
    }
}

/// Maximises the log marginal likelihood by coordinate search in log space, halving the step.
fn fit_hyper(encoder: &Encoder, x: &[Vec<f64>], y: &[f64]) -> Option<Gp> {
    let start =
        Hyper { log_lengths: vec![(0.3f64).ln(); encoder.dims.len()], log_signal: 0.0, log_noise: (1e-3f64).ln() };
    let (mut best, mut best_lml) = Gp::fit(encoder, x, y, &start)
        .or_else(|| Gp::fit(encoder, x, y, &Hyper { log_noise: LOG_NOISE.1, ..start.clone() }))?;
    let coordinates = encoder.dims.len() + 2;
    for step in [1.0, 0.5, 0.25] {
        for _round in 0..3 {
            let mut improved = false;
            for c in 0..coordinates {
                for sign in [1.0, -1.0] {
                    let mut h = best.hyper.clone();
                    let (value, (lo, hi)) = match c {
                        c if c < encoder.dims.len() => (&mut h.log_lengths[c], LOG_LENGTH),
                        c if c == encoder.dims.len() => (&mut h.log_signal, LOG_SIGNAL),
                        _ => (&mut h.log_noise, LOG_NOISE),
                    };
                    let moved = (*value + sign * step).clamp(lo, hi);
                    if moved == *value {
                        continue;
                    }
                    *value = moved;
                    if let Some((gp, lml)) = Gp::fit(encoder, x, y, &h)
                        && lml > best_lml + 1e-9
                    {
                        best = gp;
                        best_lml = lml;
                        improved = true;
                        break;
                    }
                }
            }
            if !improved {
                break;
            }
        }
    }
    Some(best)
}

fn expected_improvement(mean: f64, sd: f64, best: f64) -> f64 {
    let xi = 0.01;
    let z = (best - mean - xi) / sd;
    sd * (z * gaussian::cdf(z) + gaussian::log_pdf(z).exp())
}

impl Sampler for BayesianSampler {
    fn suggest(&mut self, space: &Space, history: &[Trial]) -> Proposal {
        let index = history.len();
        let mut rng = trial_rng(self.seed, index, 0);
        let encoder = Encoder::new(space);
        let mut x = Vec::new();
        let mut losses = Vec::new();
        let mut pending = Vec::new();
        let mut units = Vec::new();
        for t in history {
            let Some(f) = encoder.features(&t.params) else { continue };
            if let Some(loss) = t.completed_loss(self.direction) {
                units.push((loss, encoder.units(&t.params).unwrap_or_default()));
                x.push(f);
                losses.push(loss);
            } else if t.state == TrialState::Running {
                pending.push(f);
            }
        }
        if index < self.initial || losses.len() < 2 {
            let params = match &self.sobol {
                Some(s) => {
                    s.unit_point(index as u64).iter().zip(&encoder.dims).map(|(u, d)| d.value_at_unit(*u)).collect()
                }
                None => space.params.iter().map(|p| random::draw(p, &mut rng)).collect(),
            };
            return Proposal::Trial(Suggestion { params, resource: None });
        }
        // Standardise the losses; pending trials join at the mean.
        let mean = losses.iter().sum::<f64>() / losses.len() as f64;
        let sd = (losses.iter().map(|l| (l - mean).powi(2)).sum::<f64>() / losses.len() as f64).sqrt().max(1e-12);
        let mut y: Vec<f64> = losses.iter().map(|l| (l - mean) / sd).collect();
        let best = y.iter().copied().fold(f64::INFINITY, f64::min);
        x.extend(pending);
        y.resize(x.len(), 0.0);
        let Some(gp) = fit_hyper(&encoder, &x, &y) else {
            let params = space.params.iter().map(|p| random::draw(p, &mut rng)).collect();
            return Proposal::Trial(Suggestion { params, resource: None });
        };
        units.sort_by(|a, b| a.0.total_cmp(&b.0));
        let d = encoder.dims.len();
        let mut candidates: Vec<Vec<f64>> = (0..1500).map(|_| (0..d).map(|_| rng.random::<f64>()).collect()).collect();
        for (_, centre) in units.iter().take(5) {
            for scale in [0.15, 0.05, 0.01] {
                for _ in 0..100 {
                    candidates.push(perturb(centre, scale, &encoder, &mut rng));
                }
            }
        }
        let mut scratch = Vec::new();
        let mut score = |unit: &[f64]| {
            let (_, f) = encoder.snap(unit);
            let (m, s) = gp.predict(&f, &mut scratch);
            expected_improvement(m, s, best)
        };
        let mut top: Option<(f64, Vec<f64>)> = None;
        for c in candidates {
            let ei = score(&c);
            if top.as_ref().is_none_or(|(e, _)| ei > *e) {
                top = Some((ei, c));
            }
        }
        let Some((mut top_ei, mut top_unit)) = top else { return Proposal::Exhausted };
        // Local refinement around the winner.
        for scale in [0.02, 0.005, 0.001] {
            for _ in 0..100 {
                let c = perturb(&top_unit, scale, &encoder, &mut rng);
                let ei = score(&c);
                if ei > top_ei {
                    top_ei = ei;
                    top_unit = c;
                }
            }
        }
        let (params, _) = encoder.snap(&top_unit);
        Proposal::Trial(Suggestion { params, resource: None })
    }
}

/// A Gaussian step in the unit cube (clamped); a categorical parameter switches at random one time in five.
fn perturb<R: Rng>(centre: &[f64], scale: f64, encoder: &Encoder, rng: &mut R) -> Vec<f64> {
    centre
        .iter()
        .zip(&encoder.dims)
        .map(|(c, d)| match d {
            Dim::Categorical { .. } => {
                if rng.random::<f64>() < 0.2 {
                    rng.random::<f64>()
                } else {
                    *c
                }
            }
            Dim::Numeric { .. } => (c + scale * gaussian::draw(rng)).clamp(0.0, 1.0 - 1e-12),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::search::{Distribution, Param, ParamType};

    #[test]
    fn cholesky_solves_a_known_system() {
        let mut a = vec![4.0, 2.0, 2.0, 3.0];
        assert!(cholesky(&mut a, 2));
        assert_eq!(a, vec![2.0, 0.0, 1.0, 2.0f64.sqrt()]);
        let mut b = vec![2.0, 1.0];
        forward(&a, 2, &mut b);
        backward(&a, 2, &mut b);
        // [[4, 2], [2, 3]] x = [2, 1] → x = [0.5, 0].
        assert!((b[0] - 0.5).abs() < 1e-15 && b[1].abs() < 1e-15);
        assert!(!cholesky(&mut [1.0, 2.0, 2.0, 1.0], 2));
    }

    #[test]
    fn matern_kernel_values() {
        assert_eq!(matern52(&[0.3], &[0.3], &[1.0], 2.0), 2.0);
        // r = √5 · 1: (1 + √5 + 5/3) e^(−√5).
        let expected = (1.0 + 5f64.sqrt() + 5.0 / 3.0) * (-(5f64.sqrt())).exp();
        assert!((matern52(&[0.0], &[1.0], &[1.0], 1.0) - expected).abs() < 1e-15);
    }

    fn space() -> Space {
        Space {
            params: vec![
                Param {
                    name: "a".into(),
                    ty: ParamType::Float,
                    distribution: Distribution::Uniform { low: 0.0, high: 1.0 },
                },
                Param {
                    name: "b".into(),
                    ty: ParamType::Float,
                    distribution: Distribution::Uniform { low: 0.0, high: 1.0 },
                },
            ],
        }
    }

    #[test]
    fn the_posterior_interpolates_a_smooth_function() {
        let encoder = Encoder::new(&space());
        let x: Vec<Vec<f64>> = (0..25).map(|i| vec![f64::from(i % 5) / 4.0, f64::from(i / 5) / 4.0]).collect();
        let y: Vec<f64> = x.iter().map(|p| (3.0 * p[0]).sin() + p[1] * p[1] - 0.5).collect();
        let gp = fit_hyper(&encoder, &x, &y).expect("fit");
        let mut scratch = Vec::new();
        let (m, _) = gp.predict(&[0.6, 0.4], &mut scratch);
        let truth = (1.8f64).sin() + 0.16 - 0.5;
        assert!((m - truth).abs() < 0.05, "{m} vs {truth}");
        let (_, s_between) = gp.predict(&[0.375, 0.625], &mut scratch);
        let (_, s_at) = gp.predict(&x[7], &mut scratch);
        let (_, s_outside) = gp.predict(&[1.5, 1.5], &mut scratch);
        assert!(s_at < s_between && s_between < s_outside, "{s_at} {s_between} {s_outside}");
    }

    #[test]
    fn bayesian_optimisation_finds_a_quadratic_minimum() {
        let space = space();
        let mut sampler = BayesianSampler::new(&space, 3, Direction::Maximize, 6);
        let mut history: Vec<Trial> = Vec::new();
        for id in 0..25 {
            let Proposal::Trial(s) = sampler.suggest(&space, &history) else { panic!("always proposes") };
            let a = s.params[0].as_f64().expect("a");
            let b = s.params[1].as_f64().expect("b");
            let value = -((a - 0.7).powi(2) + (b - 0.2).powi(2));
            history.push(Trial {
                id,
                params: s.params,
                state: TrialState::Completed,
                value: Some(value),
                curve: vec![],
            });
        }
        let best = history.iter().filter_map(|t| t.value).fold(f64::NEG_INFINITY, f64::max);
        assert!(best > -1e-3, "{best}");
        let again = {
            let mut s = BayesianSampler::new(&space, 3, Direction::Maximize, 6);
            s.suggest(&space, &history[..12])
        };
        assert_eq!(again, BayesianSampler::new(&space, 3, Direction::Maximize, 6).suggest(&space, &history[..12]));
    }
}
