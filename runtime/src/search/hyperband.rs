//! Hyperband (Li et al. 2018): brackets of successive halving over the `resource` parameter.
//!
//! With `R` = (resource upper bound) / (lower bound) and `s_max = ⌊log_η R⌋`, bracket `s` starts
//! `n = ⌈(s_max+1)/(s+1) · η^s⌉` random configurations at resource `R·η^-s` (in units of the lower bound)
//! and at rung `i` keeps the best `⌊n·η^-i⌋` at `R·η^(i-s)`. Every (configuration, rung) run is one trial.
//! Brackets run from `s_max` down to 0 and start over while the trial budget allows; a bracket that does
//! not fit in what is left is skipped, and a budget below the smallest bracket runs that many
//! configurations at full resource. The schedule is fixed up front, so trial `k` is always schedule entry
//! `k`; a rung's promotions wait (`Proposal::Wait`) until every trial of the rung below has finished.

use kfl_plan::algorithms::SearchAlgorithm;

use super::random;
use super::space::{Dim, Distribution, Space, Value};
use super::{Direction, Proposal, Sampler, SamplerError, Suggestion, Trial, TrialState, trial_rng};

/// One rung of a bracket: how many configurations run, at what resource (in units of the lower bound).
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct Rung {
    pub(crate) configs: usize,
    pub(crate) resource: f64,
}

/// The brackets `s = s_max, …, 0` for a maximum resource ratio `r` (≥ 1) and `eta` (≥ 2).
pub(crate) fn brackets(r: f64, eta: usize) -> Vec<Vec<Rung>> {
    let eta_f = eta as f64;
    let mut s_max = 0u32;
    while eta_f.powi(s_max as i32 + 1) <= r * (1.0 + 1e-9) {
        s_max += 1;
    }
    (0..=s_max)
        .rev()
        .map(|s| {
            let eta_s = (eta as u128).pow(s);
            let n = ((u128::from(s_max) + 1) * eta_s).div_ceil(u128::from(s) + 1);
            (0..=s)
                .map(|i| Rung {
                    configs: (n / (eta as u128).pow(i)) as usize,
                    resource: r * eta_f.powi(i as i32 - s as i32),
                })
                .collect()
        })
        .collect()
}

#[derive(Clone, Copy, Debug)]
struct Entry {
    /// Where the bracket's first trial sits in the schedule.
    bracket_start: usize,
    rung: usize,
    slot: usize,
}

pub(crate) struct HyperbandSampler {
    seed: u64,
    direction: Direction,
    resource_index: usize,
    resource_name: String,
    resource_low: f64,
    resource_dim: Dim,
    /// Per scheduled bracket: its rungs.
    plans: Vec<(usize, Vec<Rung>)>,
    schedule: Vec<Entry>,
}

impl HyperbandSampler {
    pub(crate) fn new(
        space: &Space,
        seed: u64,
        direction: Direction,
        resource: &str,
        eta: usize,
        budget: usize,
    ) -> Result<HyperbandSampler, SamplerError> {
        if eta < 2 {
            return Err(SamplerError::SettingRange {
                algorithm: SearchAlgorithm::Hyperband,
                setting: "eta".into(),
                rule: "must be at least 2",
                got: eta.to_string(),
            });
        }
        let resource_index = space
            .params
            .iter()
            .position(|p| p.name == resource)
            .ok_or_else(|| SamplerError::ResourceNotSearched { resource: resource.to_string() })?;
        let param = &space.params[resource_index];
        let (low, high) = match param.distribution {
            Distribution::RandInt { low, high } => (low as f64, high as f64),
            Distribution::QUniform { low, high, .. }
            | Distribution::Uniform { low, high }
            | Distribution::LogUniform { low, high } => (low, high),
            _ => {
                return Err(SamplerError::ResourceDistribution { resource: resource.to_string() });
            }
        };
        if low <= 0.0 {
            return Err(SamplerError::SettingRange {
                algorithm: SearchAlgorithm::Hyperband,
                setting: format!("resource `{resource}`"),
                rule: "needs a lower bound above 0",
                got: low.to_string(),
            });
        }
        let all = brackets(high / low, eta);
        let mut plans = Vec::new();
        let mut schedule = Vec::new();
        let mut left = budget;
        let size = |b: &Vec<Rung>| b.iter().map(|r| r.configs).sum::<usize>();
        loop {
            let before = plans.len();
            for b in &all {
                if size(b) <= left {
                    left -= size(b);
                    plans.push((schedule.len(), b.clone()));
                    push_entries(&mut schedule, b);
                }
            }
            if plans.len() == before {
                break;
            }
        }
        if plans.is_empty() && left > 0 {
            let full = vec![Rung { configs: left, resource: high / low }];
            plans.push((0, full.clone()));
            push_entries(&mut schedule, &full);
        }
        Ok(HyperbandSampler {
            seed,
            direction,
            resource_index,
            resource_name: resource.to_string(),
            resource_low: low,
            resource_dim: param.dim(),
            plans,
            schedule,
        })
    }

    fn resource_value(&self, units: f64) -> Value {
        let x = self.resource_low * units;
        let t = if matches!(self.resource_dim, Dim::Numeric { log: true, .. }) { x.ln() } else { x };
        self.resource_dim.decode(t)
    }

    /// The loss used to rank a rung: completed value, else the last report of a stopped trial; failures last.
    fn rank_loss(&self, trial: &Trial) -> f64 {
        let value = match trial.state {
            TrialState::Completed => trial.value,
            TrialState::Stopped => trial.value.or(trial.curve.last().map(|(_, v)| *v)),
            TrialState::Running | TrialState::Failed => None,
        };
        value.filter(|v| v.is_finite()).map_or(f64::INFINITY, |v| self.direction.loss(v))
    }
}

fn push_entries(schedule: &mut Vec<Entry>, bracket: &[Rung]) {
    let bracket_start = schedule.len();
    for (rung, r) in bracket.iter().enumerate() {
        for slot in 0..r.configs {
            schedule.push(Entry { bracket_start, rung, slot });
        }
    }
}

impl Sampler for HyperbandSampler {
    fn suggest(&mut self, space: &Space, history: &[Trial]) -> Proposal {
        let k = history.len();
        let Some(entry) = self.schedule.get(k).copied() else { return Proposal::Exhausted };
        let Some((_, rungs)) = self.plans.iter().find(|(start, _)| *start == entry.bracket_start) else {
            return Proposal::Exhausted;
        };
        let resource = self.resource_value(rungs[entry.rung].resource);
        let mut params = if entry.rung == 0 {
            let mut rng = trial_rng(self.seed, k, 0);
            space.params.iter().map(|p| random::draw(p, &mut rng)).collect::<Vec<_>>()
        } else {
            let below_start = entry.bracket_start + rungs[..entry.rung - 1].iter().map(|r| r.configs).sum::<usize>();
            let below = &history[below_start..below_start + rungs[entry.rung - 1].configs];
            if below.iter().any(|t| t.state == TrialState::Running) {
                return Proposal::Wait;
            }
            let mut order: Vec<&Trial> = below.iter().collect();
            // Stable sort: ties keep schedule order, so promotions are deterministic.
            order.sort_by(|a, b| self.rank_loss(a).total_cmp(&self.rank_loss(b)));
            order[entry.slot].params.clone()
        };
        params[self.resource_index] = resource.clone();
        Proposal::Trial(Suggestion { params, resource: Some((self.resource_name.clone(), resource)) })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::search::{Param, ParamType};

    #[test]
    fn brackets_match_the_paper_for_r81_eta3() {
        // Li et al. 2018, Table 1 (R = 81, η = 3): (n_i, r_i) per bracket.
        let expected: [&[(usize, f64)]; 5] = [
            &[(81, 1.0), (27, 3.0), (9, 9.0), (3, 27.0), (1, 81.0)],
            &[(34, 3.0), (11, 9.0), (3, 27.0), (1, 81.0)],
            &[(15, 9.0), (5, 27.0), (1, 81.0)],
            &[(8, 27.0), (2, 81.0)],
            &[(5, 81.0)],
        ];
        let got = brackets(81.0, 3);
        assert_eq!(got.len(), 5);
        for (b, e) in got.iter().zip(expected) {
            let pairs: Vec<(usize, f64)> = b.iter().map(|r| (r.configs, (r.resource * 1e9).round() / 1e9)).collect();
            assert_eq!(pairs, e);
        }
    }

    #[test]
    fn small_ratios_give_a_single_full_resource_bracket() {
        assert_eq!(brackets(2.0, 3), vec![vec![Rung { configs: 1, resource: 2.0 }]]);
        assert_eq!(brackets(9.0, 3).len(), 3);
    }

    fn space() -> Space {
        Space {
            params: vec![
                Param {
                    name: "x".into(),
                    ty: ParamType::Float,
                    distribution: Distribution::Uniform { low: 0.0, high: 1.0 },
                },
                Param {
                    name: "epochs".into(),
                    ty: ParamType::Int,
                    distribution: Distribution::RandInt { low: 1, high: 9 },
                },
            ],
        }
    }

    fn finish(history: &mut [Trial], from: usize) {
        for t in &mut history[from..] {
            let x = t.params[0].as_f64().expect("number");
            t.state = TrialState::Completed;
            t.value = Some((x - 0.3).abs());
        }
    }

    #[test]
    fn rungs_promote_the_best_and_wait_for_the_rung_below() {
        // R = 9, η = 3: brackets s=2 (9@1, 3@3, 1@9) = 13 trials, s=1 (5@3, 1@9) = 6, s=0 (3@9) = 3.
        let mut hb = HyperbandSampler::new(&space(), 5, Direction::Minimize, "epochs", 3, 22).expect("hyperband");
        assert_eq!(hb.schedule.len(), 22);
        let mut history: Vec<Trial> = Vec::new();
        let propose = |hb: &mut HyperbandSampler, history: &mut Vec<Trial>| match hb.suggest(&space(), history) {
            Proposal::Trial(s) => {
                history.push(Trial {
                    id: history.len(),
                    params: s.params,
                    state: TrialState::Running,
                    value: None,
                    curve: vec![],
                });
                Some(s.resource)
            }
            Proposal::Wait => None,
            Proposal::Exhausted => panic!("not exhausted yet"),
        };
        for _ in 0..9 {
            let r = propose(&mut hb, &mut history).expect("rung 0 proposes");
            assert_eq!(r, Some(("epochs".to_string(), Value::Int(1))));
        }
        assert_eq!(propose(&mut hb, &mut history), None, "rung 1 waits for rung 0");
        finish(&mut history, 0);
        let mut ranked: Vec<f64> = history.iter().map(|t| t.value.expect("value")).collect();
        ranked.sort_by(f64::total_cmp);
        for expected in &ranked[..3] {
            assert_eq!(propose(&mut hb, &mut history).expect("promotion").map(|r| r.1), Some(Value::Int(3)));
            let t = history.last().expect("trial");
            assert_eq!((t.params[0].as_f64().expect("number") - 0.3).abs(), *expected);
        }
        finish(&mut history, 9);
        assert_eq!(propose(&mut hb, &mut history).expect("top").map(|r| r.1), Some(Value::Int(9)));
        assert_eq!((history[12].params[0].as_f64().expect("number") - 0.3).abs(), ranked[0]);
        for _ in 0..5 {
            assert_eq!(propose(&mut hb, &mut history).expect("bracket 1").map(|r| r.1), Some(Value::Int(3)));
        }
        finish(&mut history, 13);
        for _ in 0..4 {
            assert_eq!(propose(&mut hb, &mut history).expect("tail").map(|r| r.1), Some(Value::Int(9)));
        }
        finish(&mut history, 18);
        assert_eq!(hb.suggest(&space(), &history), Proposal::Exhausted);
    }

    #[test]
    fn budget_decides_which_brackets_run() {
        let hb = |budget| HyperbandSampler::new(&space(), 1, Direction::Minimize, "epochs", 3, budget).expect("hb");
        // 13 + 6 + 3 fits in 22; with 10 only s=1 and s=0 fit (6 + 3), then nothing else.
        assert_eq!(hb(10).schedule.len(), 9);
        // Below the smallest bracket: that many configurations at full resource.
        assert_eq!(hb(2).schedule.len(), 2);
        assert_eq!(hb(2).plans[0].1, vec![Rung { configs: 2, resource: 9.0 }]);
        let bad = HyperbandSampler::new(&space(), 1, Direction::Minimize, "x", 3, 10);
        assert_eq!(
            bad.err().map(|e| e.to_string()).as_deref(),
            Some("hyperband: resource `x` needs a lower bound above 0, got 0")
        );
        assert!(HyperbandSampler::new(&space(), 1, Direction::Minimize, "nope", 3, 10).is_err());
    }
}
