//! The median stopping rule (`early_stop = median(min_trials, start_step)`, Katib's `medianstop`).
//!
//! A running trial at step `s ≥ start_step` is stopped when its best value so far is worse than the median
//! of the completed trials' values at step `s`, once at least `min_trials` completed trials reported at or
//! before `s`. A completed trial's "value at step s" is its last report at or before `s`, so trials that
//! report every few steps still count.

use super::{Direction, Trial, TrialState};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MedianStop {
    pub min_trials: usize,
    pub start_step: u64,
}

impl Default for MedianStop {
    /// Katib's defaults: `min_trials_required = 3`, `start_step = 4`.
    fn default() -> MedianStop {
        MedianStop { min_trials: 3, start_step: 4 }
    }
}

impl MedianStop {
    pub fn should_stop(&self, running: &Trial, history: &[Trial], direction: Direction) -> bool {
        let Some(&(step, _)) = running.curve.last() else { return false };
        if step < self.start_step {
            return false;
        }
        let Some(best) =
            running.curve.iter().filter(|(_, v)| v.is_finite()).map(|(_, v)| direction.loss(*v)).min_by(f64::total_cmp)
        else {
            return false;
        };
        let mut peers: Vec<f64> = history
            .iter()
            .filter(|t| t.state == TrialState::Completed && t.id != running.id)
            .filter_map(|t| t.curve.iter().take_while(|(s, _)| *s <= step).last().map(|(_, v)| *v))
            .filter(|v| v.is_finite())
            .map(|v| direction.loss(v))
            .collect();
        if peers.is_empty() || peers.len() < self.min_trials {
            return false;
        }
        peers.sort_by(f64::total_cmp);
        let n = peers.len();
        let median = if n % 2 == 1 { peers[n / 2] } else { 0.5 * (peers[n / 2 - 1] + peers[n / 2]) };
        best > median
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn trial(id: usize, state: TrialState, curve: &[f64]) -> Trial {
        Trial {
            id,
            params: vec![],
            state,
            value: curve.last().copied(),
            curve: curve.iter().enumerate().map(|(i, v)| (i as u64 + 1, *v)).collect(),
        }
    }

    fn completed() -> Vec<Trial> {
        // Accuracy curves (maximise). At step 3 the values are 0.5, 0.6, 0.7: median 0.6.
        vec![
            trial(0, TrialState::Completed, &[0.3, 0.4, 0.5, 0.6]),
            trial(1, TrialState::Completed, &[0.2, 0.5, 0.6, 0.7]),
            trial(2, TrialState::Completed, &[0.5, 0.6, 0.7, 0.8]),
        ]
    }

    #[test]
    fn a_trial_worse_than_the_median_is_stopped() {
        let rule = MedianStop { min_trials: 3, start_step: 2 };
        // Best so far 0.55 < median 0.6 at step 3.
        let slow = trial(9, TrialState::Running, &[0.1, 0.55, 0.5]);
        assert!(rule.should_stop(&slow, &completed(), Direction::Maximize));
        // Best so far 0.65 (reached at step 2) beats the median.
        let fast = trial(9, TrialState::Running, &[0.1, 0.65, 0.5]);
        assert!(!rule.should_stop(&fast, &completed(), Direction::Maximize));
        // Equal to the median is not worse.
        let equal = trial(9, TrialState::Running, &[0.1, 0.2, 0.6]);
        assert!(!rule.should_stop(&equal, &completed(), Direction::Maximize));
    }

    #[test]
    fn nothing_is_stopped_before_start_step_or_min_trials() {
        let slow = trial(9, TrialState::Running, &[0.0, 0.0, 0.0]);
        assert!(!MedianStop { min_trials: 3, start_step: 4 }.should_stop(&slow, &completed(), Direction::Maximize));
        assert!(!MedianStop { min_trials: 4, start_step: 1 }.should_stop(&slow, &completed(), Direction::Maximize));
        assert!(MedianStop { min_trials: 3, start_step: 3 }.should_stop(&slow, &completed(), Direction::Maximize));
        let silent = trial(9, TrialState::Running, &[]);
        assert!(!MedianStop { min_trials: 1, start_step: 1 }.should_stop(&silent, &completed(), Direction::Maximize));
    }

    #[test]
    fn only_completed_trials_set_the_median() {
        let mut history = completed();
        // Running, stopped and failed trials with poor values must not lower the bar.
        history.push(trial(3, TrialState::Running, &[0.0, 0.0, 0.0]));
        history.push(trial(4, TrialState::Stopped, &[0.0, 0.0, 0.0]));
        history.push(trial(5, TrialState::Failed, &[0.0, 0.0, 0.0]));
        let rule = MedianStop { min_trials: 3, start_step: 1 };
        let slow = trial(9, TrialState::Running, &[0.1, 0.55, 0.5]);
        assert!(rule.should_stop(&slow, &history, Direction::Maximize));
    }

    #[test]
    fn minimisation_and_an_even_number_of_peers() {
        // Losses at step 2: 1.0, 2.0, 3.0, 4.0 -> median 2.5.
        let history = vec![
            trial(0, TrialState::Completed, &[5.0, 1.0]),
            trial(1, TrialState::Completed, &[5.0, 2.0]),
            trial(2, TrialState::Completed, &[5.0, 3.0]),
            trial(3, TrialState::Completed, &[5.0, 4.0]),
        ];
        let rule = MedianStop { min_trials: 4, start_step: 1 };
        assert!(rule.should_stop(&trial(9, TrialState::Running, &[3.0, 2.6]), &history, Direction::Minimize));
        assert!(!rule.should_stop(&trial(9, TrialState::Running, &[3.0, 2.4]), &history, Direction::Minimize));
        // At step 1 every peer reported 5.0; a trial at 4.0 is better.
        assert!(!rule.should_stop(&trial(9, TrialState::Running, &[4.0]), &history, Direction::Minimize));
        assert!(rule.should_stop(&trial(9, TrialState::Running, &[6.0]), &history, Direction::Minimize));
    }

    #[test]
    fn sparse_reports_use_the_last_value_at_or_before_the_step() {
        let mut peer = trial(0, TrialState::Completed, &[]);
        peer.curve = vec![(10, 0.9), (20, 0.5)];
        let rule = MedianStop { min_trials: 1, start_step: 1 };
        let mut running = trial(9, TrialState::Running, &[]);
        running.curve = vec![(15, 0.95)];
        // At step 15 the peer's value is still 0.9 (from step 10): 0.95 is worse.
        assert!(rule.should_stop(&running, std::slice::from_ref(&peer), Direction::Minimize));
        running.curve = vec![(5, 0.95)];
        // The peer had not reported by step 5: no comparison possible.
        assert!(!rule.should_stop(&running, &[peer], Direction::Minimize));
    }
}
