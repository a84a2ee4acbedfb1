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
    /// Whether the outermost kernels' bandwidths may reach to the bounds.
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
        inv_sigmas: Vec<f64>,
        /// `−ln(Z σ √2π)` for continuous kernels, `−ln Z` for discrete ones (Z: mass inside the bounds).
        offsets: Vec<f64>,
    },
    /// Every observation kernel puts `ln_hit` on its observed choice and `ln_miss` on the others; the prior
    /// kernel (last) is uniform.
    Categorical { choices: usize, observed: Vec<usize>, ln_hit: f64, ln_miss: f64 },
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
                    Dim::Numeric { low, high, step, .. } => numeric(*low, *high, *step, &column, options),
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
                    Kernels::Categorical { choices, .. } => {
                        let mut u: f64 = rng.random();
                        for i in 0..*choices {
                            u -= kernels.categorical_row_probability(k, i);
                            if u < 0.0 {
                                return i as f64;
                            }
                        }
                        (choices - 1) as f64
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
        if self.multivariate {
            let mut terms = self.log_weights.clone();
            for (kernels, &xd) in self.dims.iter().zip(x) {
                kernels.add_log_pdf(xd, &mut terms);
            }
            log_sum_exp(&terms)
        } else {
            let mut terms = self.log_weights.clone();
            self.dims
                .iter()
                .zip(x)
                .map(|(kernels, &xd)| {
                    terms.copy_from_slice(&self.log_weights);
                    kernels.add_log_pdf(xd, &mut terms);
                    log_sum_exp(&terms)
                })
                .sum()
        }
    }
}

fn log_sum_exp(terms: &[f64]) -> f64 {
    let max = terms.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    if !max.is_finite() {
        return max;
    }
    // Far kernels (e^-40 below the nearest) change the sum by less than 1e-17: skip their exponentials,
    // which is most of them once hundreds of trials are in.
    let sum: f64 = terms.iter().filter(|t| **t - max > -40.0).map(|t| exp_nonpositive(t - max)).sum();
    max + sum.ln()
}

/// `e^x` for x ≤ 0 (relative error below 1e-14; 0 below about −708, where doubles turn subnormal): range reduction to `2^n e^r`, |r| ≤ ln2/2,
/// and a degree-12 Taylor polynomial. Branch-free so the mixture sums vectorise; the hot spot of TPE.
fn exp_nonpositive(x: f64) -> f64 {
    const LN2_HI: f64 = 0.693_147_180_369_123_8;
    const LN2_LO: f64 = 1.908_214_929_270_587_7e-10;
    let x = x.max(-745.0);
    // Round to nearest by the 1.5·2^52 trick: branch-free and without a libm call.
    const SHIFTER: f64 = 6_755_399_441_055_744.0;
    let n = (x * std::f64::consts::LOG2_E + SHIFTER) - SHIFTER;
    let r = x - n * LN2_HI - n * LN2_LO;
    let mut p = 1.0 / 479_001_600.0;
    for k in (1..12).rev() {
        p = p * r + 1.0 / FACTORIALS[k];
    }
    p = p * r + 1.0;
    let scale = f64::from_bits(((n as i64 + 1023).max(0) as u64) << 52);
    p * scale
}

const FACTORIALS: [f64; 12] =
    [1.0, 1.0, 2.0, 6.0, 24.0, 120.0, 720.0, 5040.0, 40320.0, 362_880.0, 3_628_800.0, 39_916_800.0];

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

fn numeric(low: f64, high: f64, step: Option<f64>, mus: &[f64], options: ParzenOptions) -> Kernels {
    let half = step.map_or(0.0, |q| q / 2.0);
    let (lo, hi) = (low - half, high + half);
    let range = hi - lo;
    let n = mus.len();
    let mut sigmas = neighbour_sigmas(lo, hi, mus, options.consider_endpoints);
    let min_sigma = if options.magic_clip { range / (100.0f64).min(1.0 + (n + 1) as f64) } else { 1e-12 };
    for s in &mut sigmas {
        *s = s.clamp(min_sigma, range);
    }
    let mut mus = mus.to_vec();
    mus.push(0.5 * (lo + hi));
    sigmas.push(range);
    let offsets = mus
        .iter()
        .zip(&sigmas)
        .map(|(mu, sigma)| {
            let z = gaussian::mass((lo - mu) / sigma, (hi - mu) / sigma).max(f64::MIN_POSITIVE);
            if step.is_some() { -z.ln() } else { -z.ln() - sigma.ln() - gaussian::LN_SQRT_2PI }
        })
        .collect();
    let inv_sigmas = sigmas.iter().map(|s| 1.0 / s).collect();
    Kernels::Numeric { low, high, step, mus, sigmas, inv_sigmas, offsets }
}

/// Each kernel's bandwidth is the larger gap to its neighbours among the observations and the bounds
/// (Optuna 5's rule for both multivariate and independent TPE); without `consider_endpoints` the outermost
/// kernels ignore the bounds.
fn neighbour_sigmas(low: f64, high: f64, mus: &[f64], consider_endpoints: bool) -> Vec<f64> {
    let mut order: Vec<usize> = (0..mus.len()).collect();
    order.sort_unstable_by(|a, b| mus[*a].total_cmp(&mus[*b]).then(a.cmp(b)));
    let mut points = Vec::with_capacity(mus.len() + 2);
    points.push(low);
    points.extend(order.iter().map(|i| mus[*i]));
    points.push(high);
    let m = mus.len();
    let mut sorted: Vec<f64> = (1..=m).map(|i| (points[i] - points[i - 1]).max(points[i + 1] - points[i])).collect();
    if !consider_endpoints && points.len() >= 4 {
        sorted[0] = points[2] - points[1];
        sorted[m - 1] = points[m] - points[m - 1];
    }
    let mut sigmas = vec![0.0; m];
    for (rank, index) in order.iter().enumerate() {
        sigmas[*index] = sorted[rank];
    }
    sigmas
}

fn categorical(choices: usize, observed: &[f64], n: usize, prior_weight: f64) -> Kernels {
    // Optuna: each observation kernel is prior_weight / (n + 1) on every choice plus 1 on its own, normalised.
    let base = prior_weight / (n + 1) as f64;
    let sum = base * choices as f64 + 1.0;
    Kernels::Categorical {
        choices,
        observed: observed.iter().map(|o| (o.max(0.0) as usize).min(choices - 1)).collect(),
        ln_hit: ((base + 1.0) / sum).ln(),
        ln_miss: (base / sum).ln(),
    }
}

impl Kernels {
    /// Adds each kernel's log density at `x` to `terms` (one per kernel, the prior last).
    fn add_log_pdf(&self, x: f64, terms: &mut [f64]) {
        match self {
            Kernels::Numeric { step: None, mus, inv_sigmas, offsets, .. } => {
                // Plain indexed slices of one length: the loop LLVM vectorises (TPE's hot spot).
                let n = terms.len().min(mus.len()).min(inv_sigmas.len()).min(offsets.len());
                let (terms, mus, inv_sigmas, offsets) = (&mut terms[..n], &mus[..n], &inv_sigmas[..n], &offsets[..n]);
                #[allow(clippy::needless_range_loop)] // four slices, one index: the shape that vectorises
                for k in 0..n {
                    let z = (x - mus[k]) * inv_sigmas[k];
                    terms[k] += offsets[k] - 0.5 * z * z;
                }
            }
            Kernels::Numeric { step: Some(q), mus, sigmas, offsets, .. } => {
                for (((term, mu), sigma), offset) in terms.iter_mut().zip(mus).zip(sigmas).zip(offsets) {
                    let a = (x - q / 2.0 - mu) / sigma;
                    let b = (x + q / 2.0 - mu) / sigma;
                    *term += offset + gaussian::mass(a, b).max(f64::MIN_POSITIVE).ln();
                }
            }
            Kernels::Categorical { choices, observed, ln_hit, ln_miss } => {
                let i = (x.max(0.0) as usize).min(choices - 1);
                let (prior, rest) = terms.split_at_mut(observed.len());
                for (term, o) in prior.iter_mut().zip(observed) {
                    *term += if *o == i { ln_hit } else { ln_miss };
                }
                if let Some(p) = rest.first_mut() {
                    *p -= (*choices as f64).ln();
                }
            }
        }
    }

    fn categorical_row_probability(&self, k: usize, i: usize) -> f64 {
        match self {
            Kernels::Categorical { choices, observed, ln_hit, ln_miss } => match observed.get(k) {
                Some(o) if *o == i => ln_hit.exp(),
                Some(_) => ln_miss.exp(),
                None => 1.0 / *choices as f64,
            },
            Kernels::Numeric { .. } => 0.0,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::search::Value;

    const OPTIONS: ParzenOptions =
        ParzenOptions { prior_weight: 1.0, multivariate: true, consider_endpoints: false, magic_clip: true };

    /// One kernel's log density, written out independently of the batched `add_log_pdf`.
    fn kernel_log_pdf(kernels: &Kernels, k: usize, x: f64) -> f64 {
        match kernels {
            Kernels::Numeric { step: None, mus, sigmas, offsets, .. } => {
                let z = (x - mus[k]) / sigmas[k];
                offsets[k] - 0.5 * z * z
            }
            Kernels::Numeric { step: Some(q), mus, sigmas, offsets, .. } => {
                let a = (x - q / 2.0 - mus[k]) / sigmas[k];
                let b = (x + q / 2.0 - mus[k]) / sigmas[k];
                offsets[k] + (gaussian::cdf(b) - gaussian::cdf(a)).ln()
            }
            Kernels::Categorical { choices, .. } => {
                kernels.categorical_row_probability(k, (x.max(0.0) as usize).min(choices - 1)).ln()
            }
        }
    }

    fn unit() -> Dim {
        Dim::Numeric { low: 0.0, high: 1.0, step: None, log: false, int: false, outer: (0.0, 1.0) }
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
        let steps = Dim::Numeric { low: 1.0, high: 5.0, step: Some(1.0), log: false, int: true, outer: (1.0, 5.0) };
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
        let steps = Dim::Numeric { low: 0.0, high: 1.0, step: Some(0.25), log: false, int: false, outer: (0.0, 1.0) };
        let obs = vec![vec![0.2, 0.25]; 10];
        let p = Parzen::new(&[unit(), steps], &obs, &[1.0; 10], OPTIONS);
        let mut rng = crate::search::trial_rng(3, 0, 0);
        let draws: Vec<Vec<f64>> = (0..2000).map(|_| p.sample(&mut rng)).collect();
        assert!(draws.iter().all(|d| (0.0..=1.0).contains(&d[0]) && [0.0, 0.25, 0.5, 0.75, 1.0].contains(&d[1])));
        let near = draws.iter().filter(|d| (d[0] - 0.2).abs() < 0.15).count();
        assert!(near > 1200, "{near}");
    }

    #[test]
    fn fast_exponential_matches_the_library() {
        for i in 0..70_000 {
            let x = -(i as f64) * 0.01 - 0.003;
            let (fast, exact) = (exp_nonpositive(x), x.exp());
            assert!((fast - exact).abs() <= 1e-14 * exact, "{x}: {fast} vs {exact}");
        }
        assert_eq!(exp_nonpositive(0.0), 1.0);
        assert_eq!(exp_nonpositive(-1e6), 0.0);
    }

    #[test]
    fn kernels_add_what_each_kernel_gives() {
        let steps = Dim::Numeric { low: 1.0, high: 5.0, step: Some(1.0), log: false, int: true, outer: (1.0, 5.0) };
        let cats = Dim::Categorical { choices: vec![Value::Int(1), Value::Int(2), Value::Int(3)] };
        let obs = vec![vec![0.3, 2.0, 1.0], vec![0.7, 4.0, 2.0]];
        let p = Parzen::new(&[unit(), steps, cats], &obs, &[1.0; 2], OPTIONS);
        for (d, x) in [0.4, 3.0, 2.0].iter().enumerate() {
            let mut terms = vec![0.0; 3];
            p.dims[d].add_log_pdf(*x, &mut terms);
            for (k, t) in terms.iter().enumerate() {
                assert!((t - kernel_log_pdf(&p.dims[d], k, *x)).abs() < 1e-12);
            }
        }
    }

    #[test]
    fn bandwidths_are_neighbour_gaps() {
        // Sorted: [0.1, 0.3, 0.8]; bounds 0 and 1.
        let s = neighbour_sigmas(0.0, 1.0, &[0.3, 0.1, 0.8], false);
        // 0.3: max(0.2, 0.5); 0.1 (first, bound ignored): 0.3 − 0.1; 0.8 (last): 0.8 − 0.3.
        assert_eq!(s, vec![0.5, 0.19999999999999998, 0.5]);
        let e = neighbour_sigmas(0.0, 1.0, &[0.3, 0.1, 0.8], true);
        assert_eq!(e, vec![0.5, 0.19999999999999998, 0.5]);
        let one = neighbour_sigmas(0.0, 1.0, &[0.3], false);
        assert_eq!(one, vec![0.7]);
    }
}
