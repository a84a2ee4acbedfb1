//! The tune report's charts as inline SVG drawn by hand: objective per trial with the best so far, parallel
//! coordinates of the parameters coloured by the objective, and learning curves per trial.

use std::fmt::Write;

use crate::plan::Goal;
use crate::run::record::{TrialOutcome, TrialRecord};

const WIDTH: f64 = 720.0;
const HEIGHT: f64 = 340.0;
const LEFT: f64 = 70.0;
const RIGHT: f64 = 24.0;
const TOP: f64 = 28.0;
const BOTTOM: f64 = 46.0;

/// How values map onto an axis, as a fraction of its length (0 at the start).
#[derive(Clone, Debug, PartialEq)]
pub(super) enum Scale {
    Linear {
        low: f64,
        high: f64,
    },
    /// Bounds in decades (log10).
    Log {
        low: f64,
        high: f64,
    },
    Categories(Vec<String>),
}

impl Scale {
    /// A linear scale over the finite values, widened by `pad` of the span on both sides.
    pub(super) fn linear(values: &[f64], pad: f64) -> Scale {
        let finite = values.iter().copied().filter(|v| v.is_finite());
        let Some((low, high)) = finite.fold(None, |acc: Option<(f64, f64)>, v| match acc {
            None => Some((v, v)),
            Some((l, h)) => Some((l.min(v), h.max(v))),
        }) else {
            return Scale::Linear { low: 0.0, high: 1.0 };
        };
        // One distinct value still needs a span to place it in the middle.
        let (low, high) = if high - low <= f64::EPSILON * low.abs().max(1.0) {
            let half = if low == 0.0 { 1.0 } else { low.abs() * 0.1 };
            (low - half, high + half)
        } else {
            (low, high)
        };
        let span = high - low;
        Scale::Linear { low: low - span * pad, high: high + span * pad }
    }

    /// A parameter's numeric axis: logarithmic when the values are positive and span more than two decades
    /// (how a `loguniform` range shows once sampled), linear otherwise.
    pub(super) fn numeric(values: &[f64]) -> Scale {
        let finite: Vec<f64> = values.iter().copied().filter(|v| v.is_finite()).collect();
        let low = finite.iter().copied().fold(f64::INFINITY, f64::min);
        let high = finite.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        if !finite.is_empty() && low > 0.0 && high / low > 100.0 {
            return Scale::Log { low: low.log10(), high: high.log10() };
        }
        Scale::linear(&finite, 0.0)
    }

    pub(super) fn at(&self, value: &AxisValue) -> Option<f64> {
        match (self, value) {
            (Scale::Linear { low, high }, AxisValue::Number(x)) if x.is_finite() => Some((x - low) / (high - low)),
            (Scale::Log { low, high }, AxisValue::Number(x)) if *x > 0.0 && x.is_finite() => {
                Some((x.log10() - low) / (high - low))
            }
            (Scale::Categories(names), AxisValue::Text(name)) => {
                let i = names.iter().position(|n| n == name)?;
                Some((i as f64 + 0.5) / names.len() as f64)
            }
            _ => None,
        }
    }

    /// Tick positions (fractions) and labels.
    pub(super) fn ticks(&self) -> Vec<(f64, String)> {
        match self {
            Scale::Linear { low, high } => {
                nice_ticks(*low, *high).into_iter().map(|t| ((t - low) / (high - low), number(t))).collect()
            }
            Scale::Log { low, high } => {
                let decades: Vec<i32> = (low.ceil() as i32..=high.floor() as i32).collect();
                let exponents: Vec<f64> = if decades.len() >= 2 {
                    decades.iter().map(|&d| f64::from(d)).collect()
                } else {
                    vec![*low, *high]
                };
                exponents.into_iter().map(|e| ((e - low) / (high - low), number(10f64.powf(e)))).collect()
            }
            Scale::Categories(names) => {
                names.iter().enumerate().map(|(i, n)| ((i as f64 + 0.5) / names.len() as f64, n.clone())).collect()
            }
        }
    }
}

/// A parameter value as an axis sees it.
#[derive(Clone, Debug, PartialEq)]
pub(super) enum AxisValue {
    Number(f64),
    Text(String),
}

impl AxisValue {
    pub(super) fn of(value: &serde_json::Value) -> AxisValue {
        match value {
            serde_json::Value::Number(n) => {
                n.as_f64().map_or_else(|| AxisValue::Text(n.to_string()), AxisValue::Number)
            }
            serde_json::Value::String(s) => AxisValue::Text(s.clone()),
            other => AxisValue::Text(other.to_string()),
        }
    }
}

/// About five round steps between `low` and `high`.
fn nice_ticks(low: f64, high: f64) -> Vec<f64> {
    let span = high - low;
    if !(span.is_finite() && span > 0.0) {
        return vec![low];
    }
    let raw = span / 5.0;
    let magnitude = 10f64.powf(raw.log10().floor());
    let step = magnitude
        * match raw / magnitude {
            n if n < 1.5 => 1.0,
            n if n < 3.0 => 2.0,
            n if n < 7.0 => 5.0,
            _ => 10.0,
        };
    // Bounds that are themselves multiples of the step must survive rounding (0.91 / 0.01 = 91.00000000000001).
    let first = (low / step - 1e-9).ceil() as i64;
    let last = (high / step + 1e-9).floor() as i64;
    (first..=last).map(|i| if i == 0 { 0.0 } else { i as f64 * step }).collect()
}

/// A number as the report prints it: four significant digits, exponent notation when very large or small.
pub(super) fn number(x: f64) -> String {
    if x == 0.0 {
        return "0".into();
    }
    if !x.is_finite() {
        return x.to_string();
    }
    let magnitude = x.abs().log10().floor();
    if !(-3.0..5.0).contains(&magnitude) {
        return format!("{x:.3e}");
    }
    let decimals = (3.0 - magnitude).clamp(0.0, 6.0) as usize;
    let text = format!("{x:.decimals$}");
    if text.contains('.') { text.trim_end_matches('0').trim_end_matches('.').to_string() } else { text }
}

/// Text made safe inside SVG/HTML.
pub(super) fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

pub(super) fn outcome_label(outcome: TrialOutcome) -> &'static str {
    match outcome {
        TrialOutcome::Running => "running",
        TrialOutcome::Completed => "completed",
        TrialOutcome::Stopped => "stopped",
        TrialOutcome::Failed => "failed",
        TrialOutcome::Interrupted => "interrupted",
    }
}

fn outcome_color(outcome: TrialOutcome) -> &'static str {
    match outcome {
        TrialOutcome::Completed => "#2b6cb0",
        TrialOutcome::Stopped => "#dd8a1e",
        TrialOutcome::Failed => "#c53030",
        TrialOutcome::Interrupted => "#718096",
        TrialOutcome::Running => "#6b46c1",
    }
}

/// Yellow (worst) through teal to purple (best), after viridis.
fn ramp(goodness: f64) -> String {
    const STOPS: [(f64, f64, f64); 3] = [(253.0, 231.0, 37.0), (33.0, 145.0, 140.0), (68.0, 1.0, 84.0)];
    let t = if goodness.is_finite() { goodness.clamp(0.0, 1.0) * 2.0 } else { 0.0 };
    let i = (t.floor() as usize).min(1);
    let f = t - i as f64;
    let (a, b) = (STOPS[i], STOPS[i + 1]);
    let mix = |x: f64, y: f64| (x + (y - x) * f).round() as u8;
    format!("#{:02x}{:02x}{:02x}", mix(a.0, b.0), mix(a.1, b.1), mix(a.2, b.2))
}

/// The objective's loss: lower is better whatever the goal.
pub(super) fn loss(goal: Goal, value: f64) -> f64 {
    match goal {
        Goal::Minimize => value,
        Goal::Maximize => -value,
    }
}

fn px(fraction: f64) -> f64 {
    LEFT + fraction * (WIDTH - LEFT - RIGHT)
}

fn py(fraction: f64) -> f64 {
    HEIGHT - BOTTOM - fraction * (HEIGHT - TOP - BOTTOM)
}

fn open(out: &mut String, label: &str) {
    let _ = write!(
        out,
        r#"<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {HEIGHT}" width="{WIDTH}" height="{HEIGHT}" role="img" aria-label="{}">"#,
        escape(label)
    );
}

/// A chart with nothing to draw says why instead.
fn empty(label: &str, why: &str) -> String {
    let mut out = String::new();
    open(&mut out, label);
    let _ = write!(
        out,
        r#"<text class="empty" x="{}" y="{}" text-anchor="middle">{}</text></svg>"#,
        WIDTH / 2.0,
        HEIGHT / 2.0,
        escape(why)
    );
    out
}

/// Gridlines and tick labels of both axes, and their titles.
fn axes(out: &mut String, x: &Scale, y: &Scale, x_title: &str, y_title: &str, whole_x: bool) {
    for (f, label) in y.ticks() {
        let yy = py(f);
        let _ = write!(
            out,
            r#"<line class="grid" x1="{LEFT}" y1="{yy:.1}" x2="{:.1}" y2="{yy:.1}"/><text class="tick" x="{:.1}" y="{:.1}" text-anchor="end">{}</text>"#,
            WIDTH - RIGHT,
            LEFT - 6.0,
            yy + 4.0,
            escape(&label)
        );
    }
    for (f, label) in x.ticks() {
        if whole_x && label.contains(['.', 'e']) {
            continue;
        }
        let xx = px(f);
        let _ = write!(
            out,
            r#"<line class="tickmark" x1="{xx:.1}" y1="{0:.1}" x2="{xx:.1}" y2="{1:.1}"/><text class="tick" x="{xx:.1}" y="{2:.1}" text-anchor="middle">{3}</text>"#,
            HEIGHT - BOTTOM,
            HEIGHT - BOTTOM + 5.0,
            HEIGHT - BOTTOM + 18.0,
            escape(&label)
        );
    }
    let _ = write!(
        out,
        r#"<line class="axis" x1="{LEFT}" y1="{0:.1}" x2="{1:.1}" y2="{0:.1}"/><line class="axis" x1="{LEFT}" y1="{TOP}" x2="{LEFT}" y2="{0:.1}"/>"#,
        HEIGHT - BOTTOM,
        WIDTH - RIGHT
    );
    let _ = write!(
        out,
        r#"<text class="title" x="{:.1}" y="{:.1}" text-anchor="middle">{}</text><text class="title" x="14" y="{:.1}" text-anchor="middle" transform="rotate(-90 14 {:.1})">{}</text>"#,
        px(0.5),
        HEIGHT - 8.0,
        escape(x_title),
        py(0.5),
        py(0.5),
        escape(y_title)
    );
}

/// Coloured swatches naming the outcomes drawn.
fn legend(out: &mut String, outcomes: &[TrialOutcome]) {
    let mut x = WIDTH - RIGHT;
    for outcome in outcomes.iter().rev() {
        let label = outcome_label(*outcome);
        x -= 14.0 + label.len() as f64 * 7.0;
        let _ = write!(
            out,
            r#"<rect class="swatch" x="{x:.1}" y="6" width="10" height="10" fill="{}"/><text class="legend" x="{:.1}" y="15">{label}</text>"#,
            outcome_color(*outcome),
            x + 13.0
        );
    }
}

fn present(trials: &[&TrialRecord], wanted: &[TrialOutcome]) -> Vec<TrialOutcome> {
    wanted.iter().copied().filter(|o| trials.iter().any(|t| t.outcome == *o)).collect()
}

const ALL_OUTCOMES: [TrialOutcome; 5] = [
    TrialOutcome::Completed,
    TrialOutcome::Stopped,
    TrialOutcome::Failed,
    TrialOutcome::Interrupted,
    TrialOutcome::Running,
];

/// The objective of each trial (a point coloured by its outcome; trials without a value as a cross on the
/// axis) and the best completed value so far as a step line.
pub(super) fn objective(trials: &[&TrialRecord], metric: &str, goal: Goal) -> String {
    let label = format!("{metric} per trial");
    if trials.is_empty() {
        return empty(&label, "no trials");
    }
    let valued: Vec<f64> = trials.iter().filter_map(|t| t.value).filter(|v| v.is_finite()).collect();
    let last = trials.iter().map(|t| t.number).max().unwrap_or(0) as f64;
    let x = Scale::Linear { low: -0.5, high: last + 0.5 };
    let y = Scale::linear(&valued, 0.08);
    let mut out = String::new();
    open(&mut out, &label);
    axes(&mut out, &x, &y, "trial", metric, true);
    let mut best: Option<f64> = None;
    let mut steps = Vec::new();
    for trial in trials {
        let at = |v: f64| (px(x.at(&AxisValue::Number(trial.number as f64)).unwrap_or(0.0)), v);
        if trial.outcome == TrialOutcome::Completed
            && let Some(v) = trial.value.filter(|v| v.is_finite())
            && best.is_none_or(|b| loss(goal, v) < loss(goal, b))
        {
            if let Some(b) = best {
                steps.push(at(b));
            }
            best = Some(v);
            steps.push(at(v));
        }
    }
    if let Some(b) = best {
        steps.push((px(1.0), b));
        let points: Vec<String> = steps
            .iter()
            .map(|(xx, v)| format!("{xx:.1},{:.1}", py(y.at(&AxisValue::Number(*v)).unwrap_or(0.0))))
            .collect();
        let _ = write!(out, r#"<polyline class="best" points="{}"/>"#, points.join(" "));
    }
    for trial in trials {
        let xx = px(x.at(&AxisValue::Number(trial.number as f64)).unwrap_or(0.0));
        let tip = format!(
            "trial {}: {}{}",
            trial.number,
            outcome_label(trial.outcome),
            trial.value.map(|v| format!(", {metric} = {}", number(v))).unwrap_or_default()
        );
        match trial.value.filter(|v| v.is_finite()) {
            Some(v) => {
                let yy = py(y.at(&AxisValue::Number(v)).unwrap_or(0.0));
                let _ = write!(
                    out,
                    r#"<circle class="trial" cx="{xx:.1}" cy="{yy:.1}" r="4.5" fill="{}"><title>{}</title></circle>"#,
                    outcome_color(trial.outcome),
                    escape(&tip)
                );
            }
            None => {
                let yy = HEIGHT - BOTTOM;
                let _ = write!(
                    out,
                    r#"<path class="novalue" d="M{:.1},{:.1}L{:.1},{:.1}M{:.1},{:.1}L{:.1},{:.1}" stroke="{}"><title>{}</title></path>"#,
                    xx - 4.0,
                    yy - 4.0,
                    xx + 4.0,
                    yy + 4.0,
                    xx - 4.0,
                    yy + 4.0,
                    xx + 4.0,
                    yy - 4.0,
                    outcome_color(trial.outcome),
                    escape(&tip)
                );
            }
        }
    }
    legend(&mut out, &present(trials, &ALL_OUTCOMES));
    out.push_str("</svg>");
    out
}

/// One vertical axis per parameter and one for the objective; a line per trial with a value, coloured from
/// yellow (worst) to purple (best) and drawn best last so it stays on top. Stopped trials are dashed.
pub(super) fn parallel(trials: &[&TrialRecord], metric: &str, goal: Goal) -> String {
    let label = "parameters and objective";
    let drawn: Vec<&TrialRecord> = trials.iter().copied().filter(|t| t.value.is_some_and(f64::is_finite)).collect();
    if drawn.is_empty() {
        return empty(label, "no trial has an objective value");
    }
    let mut names: Vec<&str> = Vec::new();
    for trial in &drawn {
        for name in trial.params.keys() {
            if !names.contains(&name.as_str()) {
                names.push(name);
            }
        }
    }
    let mut scales: Vec<Scale> = names
        .iter()
        .map(|name| {
            let values: Vec<AxisValue> = drawn.iter().filter_map(|t| t.params.get(*name)).map(AxisValue::of).collect();
            let numbers: Option<Vec<f64>> =
                values.iter().map(|v| if let AxisValue::Number(x) = v { Some(*x) } else { None }).collect();
            match numbers {
                Some(numbers) => Scale::numeric(&numbers),
                None => {
                    let mut texts: Vec<String> = values
                        .iter()
                        .map(|v| match v {
                            AxisValue::Text(s) => s.clone(),
                            AxisValue::Number(x) => number(*x),
                        })
                        .collect();
                    texts.sort();
                    texts.dedup();
                    Scale::Categories(texts)
                }
            }
        })
        .collect();
    let objectives: Vec<f64> = drawn.iter().filter_map(|t| t.value).collect();
    scales.push(Scale::linear(&objectives, 0.0));
    let mut titles: Vec<String> = names.iter().map(|n| n.to_string()).collect();
    titles.push(metric.to_string());
    // The last axis sits in from the edge so its title and tick labels fit.
    let span = (WIDTH - LEFT - RIGHT - 40.0) / (WIDTH - LEFT - RIGHT);
    let axis_x = |i: usize| if titles.len() == 1 { px(0.5) } else { px(span * i as f64 / (titles.len() - 1) as f64) };
    let mut out = String::new();
    open(&mut out, label);
    let losses: Vec<f64> = objectives.iter().map(|v| loss(goal, *v)).collect();
    let (worst, best) = losses.iter().fold((f64::NEG_INFINITY, f64::INFINITY), |(w, b), l| (w.max(*l), b.min(*l)));
    let mut order: Vec<usize> = (0..drawn.len()).collect();
    order.sort_by(|a, b| losses[*b].total_cmp(&losses[*a]).then(drawn[*a].number.cmp(&drawn[*b].number)));
    for i in order {
        let trial = drawn[i];
        let goodness = if worst > best { (worst - losses[i]) / (worst - best) } else { 1.0 };
        let mut points = Vec::new();
        for (a, scale) in scales.iter().enumerate() {
            let value = match names.get(a) {
                Some(name) => trial.params.get(*name).map(AxisValue::of).map(|v| match (scale, v) {
                    (Scale::Categories(_), AxisValue::Number(x)) => AxisValue::Text(number(x)),
                    (_, v) => v,
                }),
                None => trial.value.map(AxisValue::Number),
            };
            if let Some(f) = value.and_then(|v| scale.at(&v)) {
                points.push(format!("{:.1},{:.1}", axis_x(a), py(f)));
            }
        }
        let params: Vec<String> =
            trial.params.iter().map(|(k, v)| format!("{k}={}", AxisValue::text(&AxisValue::of(v)))).collect();
        let dash = if trial.outcome == TrialOutcome::Stopped { r#" stroke-dasharray="5 3""# } else { "" };
        let _ = write!(
            out,
            r#"<polyline class="trial" points="{}" stroke="{}"{dash}><title>{}</title></polyline>"#,
            points.join(" "),
            ramp(goodness),
            escape(&format!(
                "trial {} ({}): {} → {metric} = {}",
                trial.number,
                outcome_label(trial.outcome),
                params.join(", "),
                number(trial.value.unwrap_or(f64::NAN))
            ))
        );
    }
    for (a, (scale, title)) in scales.iter().zip(&titles).enumerate() {
        let xx = axis_x(a);
        let kind = match scale {
            Scale::Log { .. } => " (log)",
            _ => "",
        };
        let _ = write!(
            out,
            r#"<line class="axis" x1="{xx:.1}" y1="{TOP}" x2="{xx:.1}" y2="{:.1}"/><text class="title" x="{xx:.1}" y="{:.1}" text-anchor="middle">{}{kind}</text>"#,
            HEIGHT - BOTTOM,
            TOP - 10.0,
            escape(title)
        );
        for (f, tick) in scale.ticks() {
            let _ = write!(
                out,
                r#"<text class="tick" x="{:.1}" y="{:.1}" text-anchor="end">{}</text>"#,
                xx - 4.0,
                py(f) + 4.0,
                escape(&tick)
            );
        }
    }
    let _ = write!(
        out,
        r#"<text class="legend" x="{LEFT}" y="{:.1}">line colour: {} from yellow (worst) to purple (best); dashed: stopped early</text>"#,
        HEIGHT - 12.0,
        escape(metric)
    );
    out.push_str("</svg>");
    out
}

impl AxisValue {
    pub(super) fn text(&self) -> String {
        match self {
            AxisValue::Number(x) => number(*x),
            AxisValue::Text(s) => s.clone(),
        }
    }
}

/// Every report of the objective per step, one line per trial coloured by its outcome, so trials stopped
/// early can be compared with the ones that ran to the end.
pub(super) fn curves(trials: &[&TrialRecord], metric: &str) -> String {
    let label = format!("{metric} per step");
    let drawn: Vec<&TrialRecord> = trials.iter().copied().filter(|t| t.curve.iter().any(|v| v.is_finite())).collect();
    if drawn.is_empty() {
        return empty(&label, &format!("no trial reported {metric}"));
    }
    let steps = drawn.iter().map(|t| t.curve.len()).max().unwrap_or(1) as f64;
    let x = if steps > 1.0 { Scale::Linear { low: 1.0, high: steps } } else { Scale::linear(&[1.0], 0.0) };
    let values: Vec<f64> = drawn.iter().flat_map(|t| t.curve.iter().copied()).collect();
    let y = Scale::linear(&values, 0.05);
    let mut out = String::new();
    open(&mut out, &label);
    axes(&mut out, &x, &y, "step", metric, true);
    for trial in &drawn {
        let points: Vec<String> = trial
            .curve
            .iter()
            .enumerate()
            .filter_map(|(i, v)| {
                let fx = x.at(&AxisValue::Number(i as f64 + 1.0))?;
                let fy = y.at(&AxisValue::Number(*v))?;
                Some(format!("{:.1},{:.1}", px(fx), py(fy)))
            })
            .collect();
        let tip = format!("trial {} ({}), {} steps", trial.number, outcome_label(trial.outcome), trial.curve.len());
        let color = outcome_color(trial.outcome);
        if let [point] = points.as_slice() {
            let (cx, cy) = point.split_once(',').unwrap_or(("0", "0"));
            let _ = write!(
                out,
                r#"<circle class="curve" cx="{cx}" cy="{cy}" r="3" fill="{color}"><title>{}</title></circle>"#,
                escape(&tip)
            );
        } else {
            let _ = write!(
                out,
                r#"<polyline class="curve" points="{}" stroke="{color}"><title>{}</title></polyline>"#,
                points.join(" "),
                escape(&tip)
            );
        }
    }
    legend(&mut out, &present(&drawn, &ALL_OUTCOMES));
    out.push_str("</svg>");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_print_with_four_significant_digits() {
        assert_eq!(number(0.0), "0");
        assert_eq!(number(0.912345), "0.9123");
        assert_eq!(number(12.5), "12.5");
        assert_eq!(number(3.0), "3");
        assert_eq!(number(-1234.56), "-1235");
        assert_eq!(number(0.0001234), "1.234e-4");
        assert_eq!(number(123456.0), "1.235e5");
    }

    #[test]
    fn wide_positive_ranges_get_a_log_axis() {
        assert_eq!(Scale::numeric(&[0.001, 0.5, 0.02]), Scale::Log { low: -3.0, high: 0.5f64.log10() });
        assert!(matches!(Scale::numeric(&[0.1, 0.5]), Scale::Linear { .. }));
        assert!(matches!(Scale::numeric(&[-1.0, 500.0]), Scale::Linear { .. }));
        let log = Scale::numeric(&[0.001, 0.5]);
        let labels: Vec<String> = log.ticks().into_iter().map(|(_, l)| l).collect();
        assert_eq!(labels, ["0.001", "0.01", "0.1"]);
        let at = log.at(&AxisValue::Number(0.01)).unwrap_or(-1.0);
        assert!((at - 1.0 / (3.0 + 0.5f64.log10())).abs() < 1e-9, "{at}");
    }

    #[test]
    fn one_value_sits_mid_axis_and_ticks_are_round() {
        let scale = Scale::linear(&[2.0], 0.0);
        let at = scale.at(&AxisValue::Number(2.0)).unwrap_or(-1.0);
        assert!((at - 0.5).abs() < 1e-9, "{at}");
        let labels = |low, high| nice_ticks(low, high).into_iter().map(number).collect::<Vec<_>>();
        assert_eq!(labels(0.0, 1.0), ["0", "0.2", "0.4", "0.6", "0.8", "1"]);
        assert_eq!(labels(-3.0, 17.0), ["0", "5", "10", "15"]);
        assert_eq!(labels(0.91, 0.97), ["0.91", "0.92", "0.93", "0.94", "0.95", "0.96", "0.97"]);
    }

    #[test]
    fn categories_and_colours() {
        let scale = Scale::Categories(vec!["adam".into(), "sgd".into()]);
        assert_eq!(scale.at(&AxisValue::Text("sgd".into())), Some(0.75));
        assert_eq!(scale.at(&AxisValue::Text("rmsprop".into())), None);
        assert_eq!(ramp(0.0), "#fde725");
        assert_eq!(ramp(1.0), "#440154");
        assert_eq!(escape(r#"<a & "b">"#), "&lt;a &amp; &quot;b&quot;&gt;");
    }
}
