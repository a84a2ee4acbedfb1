//! Tests of the tune report: hand-made trials of every outcome, string params, one trial, none.

use indexmap::IndexMap;
use serde_json::json;

use super::*;

fn trial(number: usize, params: &[(&str, serde_json::Value)], outcome: TrialOutcome, curve: &[f64]) -> TrialRecord {
    // As the engine records it: the best report, also for a trial that failed after reporting.
    let value = curve.iter().copied().min_by(f64::total_cmp);
    TrialRecord {
        number,
        params: params.iter().map(|(k, v)| (k.to_string(), v.clone())).collect(),
        outcome,
        value,
        curve: curve.to_vec(),
        metrics: IndexMap::new(),
        outputs: IndexMap::new(),
        cached: false,
        duration_ms: Some(1200 + number as u64),
        message: (outcome == TrialOutcome::Failed).then(|| "exit code 1 <boom>".to_string()),
        logs: Vec::new(),
    }
}

/// Five trials, given out of order: two completed, one stopped early, one failed without a value, one
/// failed after reporting; a log-spread float and a string choice.
fn mixed() -> Vec<TrialRecord> {
    vec![
        trial(2, &[("lr", json!(0.3)), ("opt", json!("sgd"))], TrialOutcome::Stopped, &[2.0, 1.9]),
        trial(0, &[("lr", json!(0.001)), ("opt", json!("adam"))], TrialOutcome::Completed, &[1.5, 0.9, 0.7]),
        trial(1, &[("lr", json!(0.02)), ("opt", json!("sgd"))], TrialOutcome::Completed, &[1.2, 0.5, 0.25]),
        trial(3, &[("lr", json!(0.05)), ("opt", json!("adam"))], TrialOutcome::Failed, &[]),
        trial(4, &[("lr", json!(0.1)), ("opt", json!("rmsprop"))], TrialOutcome::Failed, &[1.0]),
    ]
}

fn count(text: &str, needle: &str) -> usize {
    text.matches(needle).count()
}

/// The SVG parts of the page.
fn svgs(html: &str) -> Vec<&str> {
    html.split("<svg").skip(1).map(|rest| rest.split("</svg>").next().unwrap_or("")).collect()
}

/// Checks that every element is closed in order (HTML void elements aside) and that no raw `<` or `&` is
/// left unescaped in text.
fn assert_balanced(html: &str) {
    const VOID: [&str; 3] = ["meta", "br", "hr"];
    let mut open: Vec<String> = Vec::new();
    let mut rest = html;
    while let Some(start) = rest.find('<') {
        let after = &rest[start + 1..];
        let end =
            after.find('>').unwrap_or_else(|| panic!("unterminated tag near {:?}", &after[..after.len().min(40)]));
        let tag = &after[..end];
        assert!(!tag.contains('<'), "`<` inside a tag: {tag:?}");
        rest = &after[end + 1..];
        if tag.starts_with('!') {
            continue;
        }
        let name: String = tag.trim_start_matches('/').chars().take_while(|c| c.is_ascii_alphanumeric()).collect();
        assert!(!name.is_empty(), "not a tag: <{tag}>");
        if let Some(closing) = tag.strip_prefix('/') {
            let top = open.pop().unwrap_or_else(|| panic!("</{closing}> closes nothing"));
            assert_eq!(top, closing.trim(), "</{closing}> closes <{top}>");
        } else if !tag.ends_with('/') && !VOID.contains(&name.as_str()) {
            open.push(name);
        }
    }
    assert!(open.is_empty(), "left open: {open:?}");
    for entity in html.split('&').skip(1) {
        let name = entity.split(';').next().unwrap_or("");
        assert!(
            name.len() < 8 && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '#'),
            "a raw `&` before {:?}",
            &entity[..entity.len().min(20)]
        );
    }
}

#[test]
fn mixed_trials_render_every_part() {
    let html = render("search", "loss", Goal::Minimize, &mixed()).expect("renders");
    assert_balanced(&html);
    assert!(html.starts_with("<!DOCTYPE html>"));
    assert!(!html.contains("<script"), "no scripts");
    assert!(!html.contains("<link") && !html.contains(" src="), "self-contained");
    let charts = svgs(&html);
    assert_eq!(charts.len(), 3);
    // Objective: a point per valued trial (0, 1, 2 and the failed 4 that reported), a cross for trial 3.
    assert_eq!(count(charts[0], "<circle class=\"trial\""), 4);
    assert_eq!(count(charts[0], "<path class=\"novalue\""), 1);
    assert_eq!(count(charts[0], "<polyline class=\"best\""), 1);
    // Best so far: 0.7 at trial 0, then 0.25 at trial 1, held to the right edge.
    let best_line = charts[0].split("<polyline class=\"best\" points=\"").nth(1).unwrap_or("");
    assert_eq!(best_line.split('"').next().unwrap_or("").split(' ').count(), 4);
    // Parallel coordinates: a line per trial with a value, lr on a log axis, opt as categories.
    assert_eq!(count(charts[1], "<polyline class=\"trial\""), 4);
    assert!(charts[1].contains(">lr (log)</text>"), "lr spans 0.001..0.3");
    for name in ["adam", "sgd", "rmsprop"] {
        assert_eq!(count(charts[1], &format!(">{name}</text>")), 1, "{name} once as an axis label");
    }
    assert_eq!(count(charts[1], "stroke-dasharray"), 1, "the stopped trial is dashed");
    // Learning curves: polylines for the three multi-step curves, a dot for the single report.
    assert_eq!(count(charts[2], "<polyline class=\"curve\""), 3);
    assert_eq!(count(charts[2], "<circle class=\"curve\""), 1);
    // Header and table.
    assert!(html.contains("best: trial 1, loss = 0.25 with lr=0.02, opt=sgd"), "{html}");
    assert!(html.contains("<span>5 trials</span>"));
    assert!(html.contains(">2 completed<") && html.contains(">1 stopped<") && html.contains(">2 failed<"));
    assert_eq!(count(&html, "<tr class=\"best\">"), 1);
    let numbers: Vec<&str> = html.split("<td class=\"num\">").skip(1).step_by(3).map(|c| &c[..1]).collect();
    assert_eq!(numbers, ["0", "1", "2", "3", "4"], "rows sorted by number");
    assert!(html.contains("exit code 1 &lt;boom&gt;"), "messages are escaped");
    assert!(html.contains("1.2s"));
}

#[test]
fn maximize_picks_the_highest_and_output_is_deterministic() {
    let trials = mixed();
    let best = best(&trials, Goal::Maximize).map(|t| t.number);
    assert_eq!(best, Some(0), "0.7 beats 0.25 when maximizing; stopped and failed trials never win");
    let a = render("search", "acc", Goal::Maximize, &trials).expect("renders");
    let mut reversed = trials.clone();
    reversed.reverse();
    let b = render("search", "acc", Goal::Maximize, &reversed).expect("renders");
    assert_eq!(a, b, "the same trials give the same bytes whatever their order");
    assert!(a.contains("best: trial 0, acc = 0.7"));
}

#[test]
fn a_single_trial_renders() {
    let trials = vec![trial(0, &[("x", json!(3))], TrialOutcome::Completed, &[4.0])];
    let html = render("t", "y", Goal::Minimize, &trials).expect("renders");
    assert_balanced(&html);
    let charts = svgs(&html);
    assert_eq!(count(charts[0], "<circle class=\"trial\""), 1);
    assert_eq!(count(charts[1], "<polyline class=\"trial\""), 1);
    assert_eq!(count(charts[2], "<circle class=\"curve\""), 1);
    assert!(html.contains("best: trial 0, y = 4 with x=3"));
    assert!(!html.contains("NaN") && !html.contains("inf"), "one value still gets a finite scale");
}

#[test]
fn zero_trials_and_no_value_say_so() {
    let html = render("t", "y", Goal::Minimize, &[]).expect("renders");
    assert_balanced(&html);
    assert_eq!(svgs(&html).len(), 3);
    assert!(html.contains(">no trials</text>"));
    assert!(html.contains("no trial completed with a value"));
    assert!(html.contains("<span>0 trials</span>"));

    let failed = vec![
        trial(0, &[("opt", json!("a&b"))], TrialOutcome::Failed, &[]),
        trial(1, &[("opt", json!("c"))], TrialOutcome::Failed, &[]),
    ];
    let html = render("t<1>", "y", Goal::Minimize, &failed).expect("renders");
    assert_balanced(&html);
    assert_eq!(count(&html, "<path class=\"novalue\""), 2);
    assert!(html.contains(">no trial has an objective value</text>"));
    assert!(html.contains(">no trial reported y</text>"));
    assert!(html.contains("opt=a&amp;b") && html.contains("t&lt;1&gt;"));
    assert!(!html.contains("<tr class=\"best\">"));
}
