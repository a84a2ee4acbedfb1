//! Parzen estimators for TPE: a weighted mixture of truncated (possibly discretised) Gaussian kernels per
//! numeric dimension and smoothed one-hot kernels per categorical one, plus a prior kernel, with Optuna's
//! bandwidth rules.

use rand::Rng;

use super::gaussian;
use super::space::Dim;

#[derive(Clone, Copy, Debug)]
pub(crate) struct ParzenOptions {
    pub(crate) prior_weight: f64,
    /// One kernel index shared by all dimensions (multivariate TPE) or one per dimension.
    pub(crate) multivariate: bool,
    /// Univariate bandwidths: whether the end kernels may reach to the bounds.
    pub(crate) consider_endpoints: bool,
    /// Lower-bound bandwidths at range / min(100, kernels + 1) ("magic clip").
    pub(crate) magic_clip: bool,
}

#[derive(Debug)]
enum Kernels {
    Numeric {
        low: f64,
        high: f64,
        step: Option<f64>,
        mus: Vec<f64>,
        sigmas: Vec<f64>,
        /// `−ln(Z σ √2π)` for continuous kernels, `−ln Z` for discrete ones (Z: mass inside the bounds).
        offsets: Vec<f64>,
    },
    Categorical {
        /// Per kernel, ln of each choice's probability.
        log_probs: Vec<Vec<f64>>,
    },
}

#[derive(Debug)]
pub(crate) struct Parzen {
    dims: Vec<Kernels>,
    log_weights: Vec<f64>,
    weights: Vec<f64>,
    multivariate: bool,
}

/// Optuna's default weights: flat for the 25 most recent observations, a linear ramp for older ones.
pub(crate) fn default_weights(n: usize) -> Vec<f64> {
    if n < 25 {
        return vec![1.0; n];
    }
    let ramp = n - 25;
    let mut w: Vec<f64> = (0..ramp)
        .map(|i| {
            if ramp == 1 {
                1.0 / n as f64
            } else {
                1.0 / n as f64 + (1.0 - 1.0 / n as f64) * i as f64 / (ramp - 1) as f64
            }
        })
        .collect();
    w.extend(std::iter::repeat_n(1.0, 25));
    w
}

impl Parzen {
    /// `observations[i][d]` is observation `i` in internal coordinates, oldest first; `weights` one per observation.
    pub(crate) fn new(dims: &[Dim], observations: &[Vec<f64>], weights: &[f64], options: ParzenOptions) -> Parzen {
        let n = observations.len();
        let mut all_weights: Vec<f64> = weights.to_vec();
        all_weights.push(options.prior_weight);
        let total: f64 = all_weights.iter().sum();
        let weights: Vec<f64> = all_weights.iter().map(|w| w / total).collect();
        let log_weights = weights.iter().map(|w| w.ln()).collect();
        let kernels = dims
            .iter()
            .enumerate()
            .map(|(d, dim)| {
                let column: Vec<f64> = observations.iter().map(|o| o[d]).collect();
                match dim {
                    Dim::Numeric { low, high, step, .. } => numeric(*low, *high, *step, &column, dims.len(), options),
                    Dim::Categorical { choices } => categorical(choices.len(), &column, n, options.prior_weight),
                }
            })
            .collect();
        Parzen { dims: kernels, log_weights, weights, multivariate: options.multivariate }
    }

    /// One draw in internal coordinates (numeric values snapped to their step, categories as indices).
    pub(crate) fn sample<R: Rng>(&self, rng: &mut R) -> Vec<f64> {
        let shared = self.pick(rng);
        self.dims
            .iter()
            .map(|kernels| {
                let k = if self.multivariate { shared } else { self.pick(rng) };
                match kernels {
                    Kernels::Numeric { low, high, step, mus, sigmas, .. } => {
                        let half = step.map_or(0.0, |q| q / 2.0);
                        let t = truncated(rng, mus[k], sigmas[k], low - half, high + half);
                        match step {
                            Some(q) => (low + ((t - low) / q).round() * q).clamp(*low, *high),
                            None => t,
                        }
                    }
                    Kernels::Categorical { log_probs } => {
                        let mut u: f64 = rng.random();
                        let row = &log_probs[k];
                        for (i, lp) in row.iter().enumerate() {
                            u -= lp.exp();
                            if u < 0.0 {
                                return i as f64;
                            }
                        }
                        (row.len() - 1) as f64
                    }
                }
            })
            .collect()
    }

    fn pick<R: Rng>(&self, rng: &mut R) -> usize {
        let mut u: f64 = rng.random();
        for (k, w) in self.weights.iter().enumerate() {
            u -= w;
            if u < 0.0 {
                return k;
            }
        }
        self.weights.len() - 1
    }

    /// `ln p(x)` for a point in internal coordinates.
    pub(crate) fn log_pdf(&self, x: &[f64]) -> f64 {
        let kernels = self.log_weights.len();
        if self.multivariate {
            let mut terms = self.log_weights.clone();
            for (kernel_set, &xd) in self.dims.iter().zip(x) {
                for (k, term) in terms.iter_mut().enumerate().take(kernels) {
                    *term += kernel_log_pdf(kernel_set, k, xd);
                }
            }
            log_sum_exp(&terms)
        } else {
            self.dims
                .iter()
                .zip(x)
                .map(|(kernel_set, &xd)| {
                    let terms: Vec<f64> =
                        (0..kernels).map(|k| self.log_weights[k] + kernel_log_pdf(kernel_set, k, xd)).collect();
                    log_sum_exp(&terms)
                })
                .sum()
        }
    }
}

fn kernel_log_pdf(kernels: &Kernels, k: usize, x: f64) -> f64 {
    match kernels {
        Kernels::Numeric { step: None, mus, sigmas, offsets, .. } => {
            let z = (x - mus[k]) / sigmas[k];
            offsets[k] - 0.5 * z * z
        }
        Kernels::Numeric { step: Some(q), mus, sigmas, offsets, .. } => {
            let a = (x - q / 2.0 - mus[k]) / sigmas[k];
            let b = (x + q / 2.0 - mus[k]) / sigmas[k];
            offsets[k] + gaussian::mass(a, b).max(f64::MIN_POSITIVE).ln()
        }
        Kernels::Categorical { log_probs } => {
            let row = &log_probs[k];
            row[(x.max(0.0) as usize).min(row.len() - 1)]
        }
    }
}

fn log_sum_exp(terms: &[f64]) -> f64 {
    let max = terms.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    if !max.is_finite() {
        return max;
    }
    max + terms.iter().map(|t| (t - max).exp()).sum::<f64>().ln()
}

/// A draw from N(mu, sigma²) restricted to [low, high] (mu lies inside, so rejection is quick).
fn truncated<R: Rng>(rng: &mut R, mu: f64, sigma: f64, low: f64, high: f64) -> f64 {
    for _ in 0..64 {
        let x = mu + sigma * gaussian::draw(rng);
        if (low..=high).contains(&x) {
            return x;
        }
    }
    // Unreachable in practice (acceptance ≥ ~1/3 per try); inverse transform keeps the law exact.
    let (a, b) = (gaussian::cdf((low - mu) / sigma), gaussian::cdf((high - mu) / sigma));
    (mu + sigma * gaussian::quantile(a + rng.random::<f64>() * (b - a))).clamp(low, high)
}

fn numeric(low: f64, high: f64, step: Option<f64>, mus: &[f64], n_params: usize, options: ParzenOptions) -> Kernels {
    let q = step.unwrap_or(0.0);
    let range = high - low + q;
    let n = mus.len();
    let mut sigmas: Vec<f64> = if options.multivariate {
        let sigma = 0.2 * (n.max(1) as f64).powf(-1.0 / (n_params as f64 + 4.0)) * range;
        vec![sigma; n]
    } else {
        univariate_sigmas(low, high, q, mus, options.consider_endpoints)
    };
    let max_sigma = range;
    let min_sigma = if options.magic_clip { range / (100.0f64).min(1.0 + (n + 1) as f64) } else { 1e-12 };
    for s in &mut sigmas {
        *s = s.clamp(min_sigma, max_sigma);
    }
    let mut mus = mus.to_vec();
    mus.push(0.5 * (low + high));
    sigmas.push(range);
    let half = q / 2.0;
    let offsets = mus
        .iter()
        .zip(&sigmas)
        .map(|(mu, sigma)| {
            let z = gaussian::mass((low - half - mu) / sigma, (high + half - mu) / sigma).max(f64::MIN_POSITIVE);
            if step.is_some() { -z.ln() } else { -z.ln() - sigma.ln() - gaussian::LN_SQRT_2PI }
        })
        .collect();
    Kernels::Numeric { low, high, step, mus, sigmas, offsets }
}

/// Each kernel's bandwidth is the larger gap to its neighbours among the observations, the prior's centre
/// and the bounds (Optuna's univariate rule).
fn univariate_sigmas(low: f64, high: f64, q: f64, mus: &[f64], consider_endpoints: bool) -> Vec<f64> {
    let mut with_prior: Vec<(f64, usize)> = mus.iter().copied().zip(0..).collect();
    with_prior.push((0.5 * (low + high), mus.len()));
    with_prior.sort_by(|a, b| a.0.total_cmp(&b.0));
    let mut points = vec![low - q / 2.0];
    points.extend(with_prior.iter().map(|p| p.0));
    points.push(high + q / 2.0);
    let m = with_prior.len();
    let mut sorted: Vec<f64> = (1..=m).map(|i| (points[i] - points[i - 1]).max(points[i + 1] - points[i])).collect();
    if !consider_endpoints && points.len() >= 4 {
        sorted[0] = points[2] - points[1];
        sorted[m - 1] = points[m] - points[m - 1];
    }
    let mut sigmas = vec![0.0; mus.len()];
    for (rank, (_, index)) in with_prior.iter().enumerate() {
        if *index < mus.len() {
            sigmas[*index] = sorted[rank];
        }
    }
    sigmas
}

fn categorical(choices: usize, observed: &[f64], n: usize, prior_weight: f64) -> Kernels {
    let kernels = n + 1;
    let base = prior_weight / kernels as f64;
    let mut log_probs = Vec::with_capacity(kernels);
    for k in 0..kernels {
        let mut row = vec![base; choices];
        if k < n {
            row[(observed[k].max(0.0) as usize).min(choices - 1)] += 1.0;
        }
        let sum: f64 = row.iter().sum();
        log_probs.push(row.iter().map(|p| (p / sum).ln()).collect());
    }
    Kernels::Categorical { log_probs }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::search::Value;

    const OPTIONS: ParzenOptions =
        ParzenOptions { prior_weight: 1.0, multivariate: true, consider_endpoints: false, magic_clip: true };

    fn unit() -> Dim {
        Dim::Numeric { low: 0.0, high: 1.0, step: None, log: false, int: false }
    }

    #[test]
    fn weights_ramp_only_beyond_25_observations() {
        assert_eq!(default_weights(3), vec![1.0; 3]);
        let w = default_weights(30);
        assert_eq!(w.len(), 30);
        assert!((w[0] - 1.0 / 30.0).abs() < 1e-15 && (w[4] - 1.0).abs() < 1e-15);
        assert!(w.windows(2).all(|p| p[0] <= p[1]) && w[5..].iter().all(|x| *x == 1.0));
    }

    #[test]
    fn density_integrates_to_one_inside_the_bounds() {
        let obs = vec![vec![0.1], vec![0.15], vec![0.9]];
        for multivariate in [true, false] {
            let p = Parzen::new(&[unit()], &obs, &[1.0; 3], ParzenOptions { multivariate, ..OPTIONS });
            let n = 20_000;
            let integral: f64 = (0..n).map(|i| p.log_pdf(&[(i as f64 + 0.5) / n as f64]).exp()).sum::<f64>() / n as f64;
            assert!((integral - 1.0).abs() < 1e-6, "{integral}");
            assert!(p.log_pdf(&[0.12]) > p.log_pdf(&[0.5]));
        }
    }

    #[test]
    fn discrete_and_categorical_masses_sum_to_one() {
        let steps = Dim::Numeric { low: 1.0, high: 5.0, step: Some(1.0), log: false, int: true };
        let cats = Dim::Categorical { choices: vec![Value::Int(1), Value::Int(2), Value::Int(3)] };
        let obs = vec![vec![2.0, 0.0], vec![2.0, 2.0], vec![5.0, 0.0]];
        let p = Parzen::new(&[steps, cats], &obs, &[1.0; 3], OPTIONS);
        let mut total = 0.0;
        for a in 1..=5 {
            for c in 0..3 {
                total += p.log_pdf(&[f64::from(a), f64::from(c)]).exp();
            }
        }
        assert!((total - 1.0).abs() < 1e-9, "{total}");
    }

    #[test]
    fn samples_stay_in_bounds_snap_to_steps_and_follow_the_observations() {
        let steps = Dim::Numeric { low: 0.0, high: 1.0, step: Some(0.25), log: false, int: false };
        let obs = vec![vec![0.2, 0.25]; 10];
        let p = Parzen::new(&[unit(), steps], &obs, &[1.0; 10], OPTIONS);
        let mut rng = crate::search::trial_rng(3, 0, 0);
        let draws: Vec<Vec<f64>> = (0..2000).map(|_| p.sample(&mut rng)).collect();
        assert!(draws.iter().all(|d| (0.0..=1.0).contains(&d[0]) && [0.0, 0.25, 0.5, 0.75, 1.0].contains(&d[1])));
        let near = draws.iter().filter(|d| (d[0] - 0.2).abs() < 0.15).count();
        assert!(near > 1200, "{near}");
    }

    #[test]
    fn univariate_bandwidths_are_neighbour_gaps() {
        // Sorted with the prior centre 0.5: [0.1, 0.3, 0.5]; endpoints 0 and 1.
        let s = univariate_sigmas(0.0, 1.0, 0.0, &[0.3, 0.1], false);
        // 0.3: max(0.3-0.1, 0.5-0.3) = 0.2; 0.1 (first, endpoints ignored): 0.3 - 0.1 = 0.2.
        assert!((s[0] - 0.2).abs() < 1e-12 && (s[1] - 0.2).abs() < 1e-12, "{s:?}");
        let e = univariate_sigmas(0.0, 1.0, 0.0, &[0.3, 0.1], true);
        assert!((e[1] - 0.2).abs() < 1e-12 && (e[0] - 0.2).abs() < 1e-12, "{e:?}");
    }
}
