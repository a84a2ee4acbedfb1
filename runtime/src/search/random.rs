//! Random search: each parameter drawn independently from its declared distribution.

use rand::Rng;

use super::space::{Distribution, Param, ParamType, Space, Value};
use super::{Proposal, Sampler, Suggestion, Trial, gaussian, trial_rng};

pub(crate) struct RandomSampler {
    seed: u64,
}

impl RandomSampler {
    pub(crate) fn new(seed: u64) -> RandomSampler {
        RandomSampler { seed }
    }
}

impl Sampler for RandomSampler {
    fn suggest(&mut self, space: &Space, history: &[Trial]) -> Proposal {
        let mut rng = trial_rng(self.seed, history.len(), 0);
        let params = space.params.iter().map(|p| draw(p, &mut rng)).collect();
        Proposal::Trial(Suggestion { params, resource: None })
    }
}

/// One draw from a parameter's declared distribution (normal ones unbounded).
pub(crate) fn draw<R: Rng>(param: &Param, rng: &mut R) -> Value {
    use Distribution as D;
    let float = |x: f64| {
        if param.ty == ParamType::Int { Value::Int(x.round() as i64) } else { Value::Float(x) }
    };
    match &param.distribution {
        D::Uniform { low, high } => float(low + rng.random::<f64>() * (high - low)),
        D::LogUniform { low, high } => {
            let (a, b) = (low.ln(), high.ln());
            float((a + rng.random::<f64>() * (b - a)).exp().clamp(*low, *high))
        }
        D::Normal { mu, sigma } => float(mu + sigma * gaussian::draw(rng)),
        D::LogNormal { mu, sigma } => float((mu + sigma * gaussian::draw(rng)).exp()),
        D::QUniform { .. } | D::RandInt { .. } | D::Choice(_) => param.dim().value_at_unit(rng.random::<f64>()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::search::{Distribution as D, Param};

    fn p(ty: ParamType, distribution: D) -> Param {
        Param { name: "x".into(), ty, distribution }
    }

    fn draws(param: &Param, n: usize) -> Vec<Value> {
        let space = Space { params: vec![param.clone()] };
        let mut sampler = RandomSampler::new(3);
        let mut history = Vec::new();
        for id in 0..n {
            let Proposal::Trial(s) = sampler.suggest(&space, &history) else { panic!("random always proposes") };
            history.push(Trial {
                id,
                params: s.params,
                state: crate::search::TrialState::Completed,
                value: Some(0.0),
                curve: vec![],
            });
        }
        history.into_iter().map(|t| t.params[0].clone()).collect()
    }

    fn floats(values: &[Value]) -> Vec<f64> {
        values.iter().map(|v| v.as_f64().expect("number")).collect()
    }

    #[test]
    fn uniform_stays_in_bounds_and_covers_them() {
        let xs = floats(&draws(&p(ParamType::Float, D::Uniform { low: -2.0, high: 3.0 }), 2000));
        assert!(xs.iter().all(|x| (-2.0..=3.0).contains(x)));
        assert!(xs.iter().any(|x| *x < -1.9) && xs.iter().any(|x| *x > 2.9));
        let below_half = xs.iter().filter(|x| **x < 0.5).count();
        assert!((900..1100).contains(&below_half), "{below_half}");
    }

    #[test]
    fn loguniform_is_uniform_in_the_exponent() {
        let xs = floats(&draws(&p(ParamType::Float, D::LogUniform { low: 1e-5, high: 1e-1 }), 2000));
        assert!(xs.iter().all(|x| (1e-5..=1e-1).contains(x)));
        let below_1e3 = xs.iter().filter(|x| **x < 1e-3).count();
        assert!((900..1100).contains(&below_1e3), "{below_1e3}");
    }

    #[test]
    fn normal_and_lognormal_have_their_moments() {
        let xs = floats(&draws(&p(ParamType::Float, D::Normal { mu: 5.0, sigma: 2.0 }), 4000));
        let mean = xs.iter().sum::<f64>() / xs.len() as f64;
        let sd = (xs.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / xs.len() as f64).sqrt();
        assert!((mean - 5.0).abs() < 0.15 && (sd - 2.0).abs() < 0.15, "{mean} {sd}");
        let ys = floats(&draws(&p(ParamType::Float, D::LogNormal { mu: 0.0, sigma: 1.0 }), 4000));
        assert!(ys.iter().all(|y| *y > 0.0));
        let below_one = ys.iter().filter(|y| **y < 1.0).count();
        assert!((1850..2150).contains(&below_one), "{below_one}");
    }

    #[test]
    fn quantized_and_integer_draws_hit_every_step_and_keep_their_type() {
        let qs = draws(&p(ParamType::Float, D::QUniform { low: 0.5, high: 2.0, q: 0.5 }), 400);
        for v in &qs {
            let Value::Float(x) = v else { panic!("float expected, got {v:?}") };
            assert!([0.5, 1.0, 1.5, 2.0].contains(x), "{x}");
        }
        for step in [0.5, 1.0, 1.5, 2.0] {
            assert!(qs.contains(&Value::Float(step)));
        }
        let qi = draws(&p(ParamType::Int, D::QUniform { low: 0.0, high: 10.0, q: 5.0 }), 200);
        assert!(qi.iter().all(|v| matches!(v, Value::Int(0 | 5 | 10))));
        let ri = draws(&p(ParamType::Int, D::RandInt { low: -1, high: 1 }), 300);
        for k in -1..=1 {
            assert!(ri.contains(&Value::Int(k)));
        }
        assert!(ri.iter().all(|v| matches!(v, Value::Int(-1..=1))));
    }

    #[test]
    fn choices_cover_strings_and_numbers() {
        let names = vec![Value::Str("adam".into()), Value::Str("sgd".into())];
        let cs = draws(&p(ParamType::String, D::Choice(names.clone())), 100);
        assert!(names.iter().all(|n| cs.contains(n)) && cs.iter().all(|c| names.contains(c)));
        let nums = vec![Value::Int(16), Value::Int(32)];
        let ns = draws(&p(ParamType::Int, D::Choice(nums.clone())), 100);
        assert!(nums.iter().all(|n| ns.contains(n)));
    }

    #[test]
    fn same_seed_same_trials() {
        let param = p(ParamType::Float, D::Uniform { low: 0.0, high: 1.0 });
        assert_eq!(draws(&param, 20), draws(&param, 20));
        let space = Space { params: vec![param] };
        let a = RandomSampler::new(1).suggest(&space, &[]);
        let b = RandomSampler::new(2).suggest(&space, &[]);
        assert_ne!(a, b);
    }
}
