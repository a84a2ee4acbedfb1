//! The standard normal distribution: density, distribution function (accurate in the tails), quantile, draws.

use rand::Rng;

pub(crate) const LN_SQRT_2PI: f64 = 0.918_938_533_204_672_8;

/// `ln φ(z)`.
pub(crate) fn log_pdf(z: f64) -> f64 {
    -0.5 * z * z - LN_SQRT_2PI
}

/// `erfc(x)` for x ≥ 0 with a relative error near machine precision: a positive series below 1 (where
/// `1 − erf` loses at most a few bits), a continued fraction above. Slow near 1; `erfc_nonneg` tabulates it.
fn erfc_reference(x: f64) -> f64 {
    if x < 1.0 {
        // erf(x) = 2/√π · e^(−x²) · Σ 2ⁿ x^(2n+1) / (1·3·…·(2n+1))
        let mut term = x;
        let mut sum = x;
        let x2 = x * x;
        let mut n = 0.0;
        while term > sum * 1e-17 {
            n += 1.0;
            term *= 2.0 * x2 / (2.0 * n + 1.0);
            sum += term;
        }
        1.0 - std::f64::consts::FRAC_2_SQRT_PI * (-x2).exp() * sum
    } else {
        continued_fraction(x)
    }
}

/// erfc(x) = e^(−x²)/√π · 1/(x + (1/2)/(x + 1/(x + (3/2)/(x + …)))), by modified Lentz; quick for large x.
fn continued_fraction(x: f64) -> f64 {
    let tiny = 1e-300;
    let mut f = x;
    let mut c = x;
    let mut d = 0.0;
    for k in 1..5000 {
        let a = k as f64 * 0.5;
        d = x + a * d;
        d = if d.abs() < tiny { tiny } else { d };
        c = x + a / c;
        c = if c.abs() < tiny { tiny } else { c };
        d = 1.0 / d;
        let delta = c * d;
        f *= delta;
        if (delta - 1.0).abs() < 1e-16 {
            break;
        }
    }
    (-x * x).exp() / (f * std::f64::consts::PI.sqrt())
}

const TABLE_STEP: f64 = 1.0 / 64.0;
const TABLE_END: f64 = 6.0;

/// erfc and e^(−x²) at x = i/64 for x ≤ 6, computed once.
fn table() -> &'static [(f64, f64)] {
    static TABLE: std::sync::OnceLock<Vec<(f64, f64)>> = std::sync::OnceLock::new();
    TABLE.get_or_init(|| {
        (0..=(TABLE_END / TABLE_STEP) as usize + 1)
            .map(|i| {
                let x = i as f64 * TABLE_STEP;
                (erfc_reference(x), (-x * x).exp())
            })
            .collect()
    })
}

/// `erfc(x)` for x ≥ 0: below 6 a Taylor step from the nearest tabulated point (the derivatives of e^(−x²)
/// are Hermite polynomials), above 6 the continued fraction, which converges fast there.
fn erfc_nonneg(x: f64) -> f64 {
    if x >= TABLE_END {
        return continued_fraction(x);
    }
    let i = (x / TABLE_STEP).round() as usize;
    let (erfc0, exp0) = table()[i];
    let x0 = i as f64 * TABLE_STEP;
    let delta = x - x0;
    // erfc(x0 + δ) = erfc(x0) − 2/√π e^(−x0²) Σ (−1)ⁿ Hₙ(x0) δ^(n+1) / (n+1)!
    let (mut h_prev, mut h) = (0.0, 1.0);
    let mut power = delta;
    let mut sum = 0.0;
    for n in 0..14 {
        let term = h * power;
        sum += if n % 2 == 0 { term } else { -term };
        let next = 2.0 * x0 * h - 2.0 * n as f64 * h_prev;
        h_prev = h;
        h = next;
        power *= delta / (n as f64 + 2.0);
    }
    erfc0 - std::f64::consts::FRAC_2_SQRT_PI * exp0 * sum
}

/// Φ(z).
pub(crate) fn cdf(z: f64) -> f64 {
    let x = z * std::f64::consts::FRAC_1_SQRT_2;
    if x >= 0.0 { 1.0 - 0.5 * erfc_nonneg(x) } else { 0.5 * erfc_nonneg(-x) }
}

/// Φ(b) − Φ(a) for a ≤ b, computed on the side where it does not cancel.
pub(crate) fn mass(a: f64, b: f64) -> f64 {
    let s = std::f64::consts::FRAC_1_SQRT_2;
    let tail = |z: f64| 0.5 * erfc_nonneg(z * s);
    if a >= 0.0 {
        tail(a) - tail(b)
    } else if b <= 0.0 {
        tail(-b) - tail(-a)
    } else {
        // Next to 1, a tail beyond 8.5 standard deviations (below 1e-17) is nothing: skip the work.
        let far = |z: f64| if z > 8.5 { 0.0 } else { tail(z) };
        1.0 - far(-a) - far(b)
    }
}

/// Φ⁻¹(p) by bisection on `cdf` (only used a few times per proposal).
pub(crate) fn quantile(p: f64) -> f64 {
    let p = p.clamp(1e-300, 1.0 - 1e-16);
    let (mut lo, mut hi) = (-40.0, 40.0);
    for _ in 0..100 {
        let mid = 0.5 * (lo + hi);
        if cdf(mid) < p {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    0.5 * (lo + hi)
}

/// One standard normal draw (Box–Muller; a fixed algorithm so seeds reproduce).
pub(crate) fn draw<R: Rng>(rng: &mut R) -> f64 {
    let u1: f64 = 1.0 - rng.random::<f64>();
    let u2: f64 = rng.random::<f64>();
    (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn distribution_function_matches_known_values() {
        assert!((cdf(0.0) - 0.5).abs() < 1e-16);
        assert!((cdf(1.0) - 0.841_344_746_068_542_9).abs() < 1e-15);
        assert!((cdf(-2.5) / 0.006_209_665_325_776_139 - 1.0).abs() < 1e-12);
        assert!((cdf(3.0) - 0.998_650_101_968_369_9).abs() < 1e-15);
        // Deep tail, relative accuracy.
        let t = cdf(-10.0);
        assert!((t / 7.619_853_024_160_593e-24 - 1.0).abs() < 1e-12, "{t}");
        assert!((mass(9.0, 10.0) / (cdf(-9.0) - cdf(-10.0)) - 1.0).abs() < 1e-12);
        assert!((mass(-1.0, 1.0) - 0.682_689_492_137_085_9).abs() < 1e-15);
    }

    #[test]
    fn tabulated_erfc_matches_the_reference() {
        for i in 0..6000 {
            let x = i as f64 * 0.001 + 0.000_37;
            let (fast, slow) = (erfc_nonneg(x), erfc_reference(x));
            assert!((fast / slow - 1.0).abs() < 1e-12, "{x}: {fast} vs {slow}");
        }
    }

    #[test]
    fn quantile_inverts_the_distribution_function() {
        for p in [1e-10, 0.01, 0.3, 0.5, 0.9, 0.999] {
            assert!((cdf(quantile(p)) / p - 1.0).abs() < 1e-9, "{p}");
        }
    }

    #[test]
    fn draws_have_unit_variance() {
        let mut rng = crate::search::trial_rng(1, 0, 0);
        let xs: Vec<f64> = (0..20_000).map(|_| draw(&mut rng)).collect();
        let mean = xs.iter().sum::<f64>() / xs.len() as f64;
        let var = xs.iter().map(|x| (x - mean) * (x - mean)).sum::<f64>() / xs.len() as f64;
        assert!(mean.abs() < 0.03 && (var - 1.0).abs() < 0.05, "{mean} {var}");
    }
}
