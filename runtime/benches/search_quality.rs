//! Search-quality benchmark: regret of our samplers on the anchors' objectives, TPE suggestion overhead, and
//! median early stopping on the learning-curve objective (definitions: shared/anchors/OBJECTIVES.md).
//!
//! `cargo bench -p kfl-runtime --bench search_quality [-- --seeds 50 --only quality|overhead|early
//! --algorithms tpe,random --tpe candidates=48,gamma=0.15 --problems mixed --first-seed 50]`

use std::time::Instant;

use kfl_runtime::search::{
    Direction, Distribution, MedianStop, Param, ParamType, Proposal, SettingValue, Space, Trial, TrialState, Value,
    sampler,
};

const PI: f64 = std::f64::consts::PI;

fn branin(x1: f64, x2: f64) -> f64 {
    let a = 1.0;
    let b = 5.1 / (4.0 * PI * PI);
    let c = 5.0 / PI;
    let r = 6.0;
    let s = 10.0;
    let t = 1.0 / (8.0 * PI);
    a * (x2 - b * x1 * x1 + c * x1 - r).powi(2) + s * (1.0 - t) * x1.cos() + s
}

const H6_ALPHA: [f64; 4] = [1.0, 1.2, 3.0, 3.2];
const H6_A: [[f64; 6]; 4] = [
    [10.0, 3.0, 17.0, 3.5, 1.7, 8.0],
    [0.05, 10.0, 17.0, 0.1, 8.0, 14.0],
    [3.0, 3.5, 1.7, 10.0, 17.0, 8.0],
    [17.0, 8.0, 0.05, 10.0, 0.1, 14.0],
];
const H6_P: [[f64; 6]; 4] = [
    [1312.0, 1696.0, 5569.0, 124.0, 8283.0, 5886.0],
    [2329.0, 4135.0, 8307.0, 3736.0, 1004.0, 9991.0],
    [2348.0, 1451.0, 3522.0, 2883.0, 3047.0, 6650.0],
    [4047.0, 8828.0, 8732.0, 5743.0, 1091.0, 381.0],
];

fn hartmann6(x: &[f64]) -> f64 {
    let mut total = 0.0;
    for i in 0..4 {
        let mut inner = 0.0;
        for j in 0..6 {
            inner += H6_A[i][j] * (x[j] - H6_P[i][j] * 1e-4).powi(2);
        }
        total += H6_ALPHA[i] * (-inner).exp();
    }
    -total
}

fn mixed(lr: f64, batch: f64, dropout: f64) -> f64 {
    let u = lr.log10();
    let b = batch.log2();
    let d = u - (-3.5 + 0.25 * (b - 4.0));
    0.1 + 0.25 * d * d + 0.05 * (1.0 - (2.0 * PI * d).cos()) + 0.05 * (b - 6.0).powi(2) + 2.0 * (dropout - 0.2).powi(2)
}

fn lc_loss(lr: f64, dropout: f64, e: f64) -> f64 {
    let u = lr.log10();
    let fin = 0.1 + 0.1 * (u + 2.0).powi(2) + 0.5 * (dropout - 0.2).powi(2);
    let tau = 1.0 + 3.0 / (100.0 * lr).sqrt();
    fin + (2.5 - fin) * (-e / tau).exp() + 0.01 * (3.0 * e + 7.0 * u + 11.0 * dropout).sin()
}

/// The check values of objectives.json, so a transcription error cannot go unnoticed.
fn check_objectives() {
    let checks = [
        (branin(-PI, 12.275), 0.397_887_357_729_738_16),
        (branin(0.0, 0.0), 55.602_112_642_270_264),
        (branin(10.0, 15.0), 145.872_190_879_395_56),
        (hartmann6(&[0.20169, 0.150011, 0.476874, 0.275332, 0.311652, 0.6573]), -3.322_368_011_391_339),
        (hartmann6(&[0.5; 6]), -0.505_314_991_702_233_3),
        (hartmann6(&[0.0; 6]), -0.005_089_112_883_664_44),
        (mixed(1e-3, 64.0, 0.2), 0.1),
        (mixed(1e-2, 16.0, 0.0), 1.0425),
        (mixed(1e-5, 256.0, 0.5), 2.1425),
        (lc_loss(1e-2, 0.2, 50.0), 0.099_708_221_732_348_15),
        (lc_loss(1e-4, 0.0, 1.0), 2.438_471_738_245_920_7),
        (lc_loss(1.0, 0.5, 10.0), 0.537_801_925_563_516_8),
    ];
    for (i, (got, want)) in checks.iter().enumerate() {
        assert!((got - want).abs() <= 1e-12 * want.abs().max(1.0), "objective check {i}: {got} != {want}");
    }
}

fn float(name: &str, distribution: Distribution) -> Param {
    Param { name: name.to_string(), ty: ParamType::Float, distribution }
}

struct Problem {
    name: &'static str,
    space: Space,
    optimum: f64,
    f: fn(&[f64]) -> f64,
}

fn problems() -> Vec<Problem> {
    let unit = |i: usize| float(&format!("x{i}"), Distribution::Uniform { low: 0.0, high: 1.0 });
    vec![
        Problem {
            name: "branin",
            space: Space {
                params: vec![
                    float("x1", Distribution::Uniform { low: -5.0, high: 10.0 }),
                    float("x2", Distribution::Uniform { low: 0.0, high: 15.0 }),
                ],
            },
            optimum: 0.397887,
            f: |x| branin(x[0], x[1]),
        },
        Problem {
            name: "hartmann6",
            space: Space { params: (0..6).map(unit).collect() },
            optimum: -3.32237,
            f: hartmann6,
        },
        Problem {
            name: "mixed",
            space: Space {
                params: vec![
                    float("lr", Distribution::LogUniform { low: 1e-5, high: 1e-1 }),
                    Param {
                        name: "batch".into(),
                        ty: ParamType::Int,
                        distribution: Distribution::Choice([16, 32, 64, 128, 256].map(Value::Int).to_vec()),
                    },
                    float("dropout", Distribution::Uniform { low: 0.0, high: 0.5 }),
                ],
            },
            optimum: 0.1,
            f: |x| mixed(x[0], x[1], x[2]),
        },
    ]
}

fn numbers(params: &[Value]) -> Vec<f64> {
    params.iter().map(|v| v.as_f64().unwrap_or(f64::NAN)).collect()
}

struct Algorithm {
    label: &'static str,
    name: &'static str,
    settings: Vec<(String, SettingValue)>,
}

fn algorithms() -> Vec<Algorithm> {
    let plain = |label, name| Algorithm { label, name, settings: vec![] };
    vec![
        plain("tpe", "tpe"),
        Algorithm {
            label: "tpe_indep",
            name: "tpe",
            settings: vec![("multivariate".to_string(), SettingValue::Bool(false))],
        },
        Algorithm {
            label: "tpe_random_start",
            name: "tpe",
            settings: vec![
                ("sobol_startup".to_string(), SettingValue::Bool(false)),
                ("categorical_refine".to_string(), SettingValue::Bool(false)),
            ],
        },
        plain("bayesian", "bayesian"),
        plain("cmaes", "cmaes"),
        plain("sobol", "sobol"),
        plain("random", "random"),
    ]
}

/// Runs one study to `budget` trials and returns the best value after each trial.
fn study(problem: &Problem, algorithm: &Algorithm, seed: u64, budget: usize) -> Vec<f64> {
    let mut s = sampler(algorithm.name, Some(seed), &algorithm.settings, &problem.space, Direction::Minimize, budget)
        .unwrap_or_else(|e| panic!("{}: {e}", algorithm.label));
    let mut history: Vec<Trial> = Vec::with_capacity(budget);
    let mut best = f64::INFINITY;
    let mut trace = Vec::with_capacity(budget);
    for id in 0..budget {
        let Proposal::Trial(sug) = s.suggest(&problem.space, &history) else { break };
        let value = (problem.f)(&numbers(&sug.params));
        best = best.min(value);
        trace.push(best);
        history.push(Trial { id, params: sug.params, state: TrialState::Completed, value: Some(value), curve: vec![] });
    }
    trace
}

fn mean_median(xs: &mut [f64]) -> (f64, f64) {
    xs.sort_by(f64::total_cmp);
    let n = xs.len();
    let mean = xs.iter().sum::<f64>() / n as f64;
    let median = if n % 2 == 1 { xs[n / 2] } else { 0.5 * (xs[n / 2 - 1] + xs[n / 2]) };
    (mean, median)
}

fn fmt(x: f64) -> String {
    if x == 0.0 {
        "0".to_string()
    } else if x.abs() >= 0.1 {
        format!("{x:.3}")
    } else {
        format!("{x:.3e}")
    }
}

/// `key=value,…` settings added to the `tpe` row (for trying settings without editing the bench).
fn parse_settings(text: &str) -> Vec<(String, SettingValue)> {
    text.split(',')
        .filter_map(|kv| kv.split_once('='))
        .map(|(k, v)| {
            let value = if let Ok(i) = v.parse::<i64>() {
                SettingValue::Int(i)
            } else if let Ok(f) = v.parse::<f64>() {
                SettingValue::Float(f)
            } else if let Ok(b) = v.parse::<bool>() {
                SettingValue::Bool(b)
            } else {
                SettingValue::Str(v.to_string())
            };
            (k.to_string(), value)
        })
        .collect()
}

/// Which studies the quality table runs: seeds `first_seed..first_seed + seeds`, the named problems (all if None).
struct Selection<'a> {
    seeds: u64,
    first_seed: u64,
    problems: Option<&'a str>,
}

fn quality(selection: &Selection, filter: Option<&str>, tpe_settings: Option<&str>) {
    let (seeds, first_seed) = (selection.seeds, selection.first_seed);
    let budgets = [20usize, 50, 100];
    let mut algorithms: Vec<Algorithm> =
        algorithms().into_iter().filter(|a| filter.is_none_or(|f| f.split(',').any(|x| x == a.label))).collect();
    if let Some(extra) = tpe_settings {
        for a in algorithms.iter_mut().filter(|a| a.label == "tpe") {
            a.settings.extend(parse_settings(extra));
        }
    }
    println!("\n### Regret (mean / median over {seeds} seeds; seeds {first_seed}..{})\n", first_seed + seeds);
    print!("| problem | budget |");
    for a in &algorithms {
        print!(" {} |", a.label);
    }
    println!();
    println!("|---|---|{}", "---|".repeat(algorithms.len()));
    let chosen = |name: &str| selection.problems.is_none_or(|p| p.split(',').any(|x| x == name));
    for problem in problems().into_iter().filter(|p| chosen(p.name)) {
        let started = Instant::now();
        // regrets[algorithm][budget] over seeds; a study's prefix is the shorter study (no sampler here uses the budget).
        let mut regrets = vec![vec![Vec::new(); budgets.len()]; algorithms.len()];
        for (ai, a) in algorithms.iter().enumerate() {
            for seed in first_seed..first_seed + seeds {
                let trace = study(&problem, a, seed, 100);
                for (bi, b) in budgets.iter().enumerate() {
                    regrets[ai][bi].push(trace[b - 1] - problem.optimum);
                }
            }
        }
        for (bi, b) in budgets.iter().enumerate() {
            print!("| {} | {b} |", problem.name);
            for r in &mut regrets {
                let (mean, median) = mean_median(&mut r[bi]);
                print!(" {} / {} |", fmt(mean), fmt(median));
            }
            println!();
        }
        eprintln!("{}: {:.1} s", problem.name, started.elapsed().as_secs_f64());
    }
}

/// CPU time of this thread in seconds (Linux `schedstat`), so a loaded machine does not inflate the figures.
fn thread_cpu() -> f64 {
    std::fs::read_to_string("/proc/thread-self/schedstat")
        .ok()
        .and_then(|s| s.split_whitespace().next().and_then(|n| n.parse::<f64>().ok()))
        .map_or(f64::NAN, |ns| ns * 1e-9)
}

fn overhead() {
    println!("\n### Suggestion overhead (ms per trial; CPU time of the thread, wall clock in brackets)\n");
    println!("| problem | sampler | mean over a 1000-trial study | at 1000 completed trials |");
    println!("|---|---|---|---|");
    for problem in problems() {
        for a in algorithms().into_iter().filter(|a| matches!(a.label, "tpe" | "tpe_indep" | "random")) {
            let mut s =
                sampler(a.name, Some(0), &a.settings, &problem.space, Direction::Minimize, 1000).expect("sampler");
            let mut history: Vec<Trial> = Vec::with_capacity(1001);
            let (mut spent, mut spent_cpu) = (0.0, 0.0);
            for id in 0..1000 {
                let (t, c) = (Instant::now(), thread_cpu());
                let Proposal::Trial(sug) = s.suggest(&problem.space, &history) else { break };
                spent += t.elapsed().as_secs_f64();
                spent_cpu += thread_cpu() - c;
                let value = (problem.f)(&numbers(&sug.params));
                history.push(Trial {
                    id,
                    params: sug.params,
                    state: TrialState::Completed,
                    value: Some(value),
                    curve: vec![],
                });
            }
            let reps = 50;
            let (t, c) = (Instant::now(), thread_cpu());
            for _ in 0..reps {
                std::hint::black_box(s.suggest(&problem.space, &history));
            }
            let at_1000 = t.elapsed().as_secs_f64() / f64::from(reps);
            let at_1000_cpu = (thread_cpu() - c) / f64::from(reps);
            println!(
                "| {} | {} | {:.3} ({:.3}) | {:.3} ({:.3}) |",
                problem.name,
                a.label,
                spent_cpu,
                spent,
                at_1000_cpu * 1e3,
                at_1000 * 1e3
            );
        }
    }
}

/// The GP's cost grows as n³: measured over 100-trial studies, not 1,000.
fn gp_overhead() {
    println!("\n### GP (`bayesian`) suggestion cost over a 100-trial study (ms per suggestion, CPU (wall))\n");
    println!("| problem | mean over trials 1..100 | trials 91..100 |");
    println!("|---|---|---|");
    for problem in problems() {
        let mut s = sampler("bayesian", Some(0), &[], &problem.space, Direction::Minimize, 100).expect("sampler");
        let mut history: Vec<Trial> = Vec::with_capacity(100);
        let (mut all, mut all_cpu, mut last, mut last_cpu) = (0.0, 0.0, 0.0, 0.0);
        for id in 0..100 {
            let (t, c) = (Instant::now(), thread_cpu());
            let Proposal::Trial(sug) = s.suggest(&problem.space, &history) else { break };
            let (wall, cpu) = (t.elapsed().as_secs_f64(), thread_cpu() - c);
            all += wall;
            all_cpu += cpu;
            if id >= 90 {
                last += wall;
                last_cpu += cpu;
            }
            let value = (problem.f)(&numbers(&sug.params));
            history.push(Trial {
                id,
                params: sug.params,
                state: TrialState::Completed,
                value: Some(value),
                curve: vec![],
            });
        }
        println!(
            "| {} | {:.1} ({:.1}) | {:.1} ({:.1}) |",
            problem.name,
            all_cpu * 10.0,
            all * 10.0,
            last_cpu * 100.0,
            last * 100.0
        );
    }
}

/// One learning-curve study: returns (epochs run, best final loss among completed trials).
fn lc_study(algorithm: &Algorithm, rule: Option<MedianStop>, seed: u64, trials: usize) -> (u64, f64) {
    let max_epochs = 50u64;
    let hyperband = algorithm.name == "hyperband";
    let mut params = vec![
        float("lr", Distribution::LogUniform { low: 1e-4, high: 1.0 }),
        float("dropout", Distribution::Uniform { low: 0.0, high: 0.5 }),
    ];
    if hyperband {
        params.push(Param {
            name: "epochs".into(),
            ty: ParamType::Int,
            distribution: Distribution::RandInt { low: 1, high: 50 },
        });
    }
    let space = Space { params };
    let mut s =
        sampler(algorithm.name, Some(seed), &algorithm.settings, &space, Direction::Minimize, trials).expect("sampler");
    let mut history: Vec<Trial> = Vec::new();
    let mut epochs = 0;
    let mut best = f64::INFINITY;
    for id in 0..trials {
        let Proposal::Trial(sug) = s.suggest(&space, &history) else { break };
        let x = numbers(&sug.params);
        let horizon = if hyperband { x[2] as u64 } else { max_epochs };
        let mut trial = Trial { id, params: sug.params, state: TrialState::Running, value: None, curve: vec![] };
        for e in 1..=horizon {
            let loss = lc_loss(x[0], x[1], e as f64);
            trial.curve.push((e, loss));
            epochs += 1;
            if e < horizon && rule.is_some_and(|r| r.should_stop(&trial, &history, Direction::Minimize)) {
                trial.state = TrialState::Stopped;
                break;
            }
        }
        if trial.state == TrialState::Running {
            trial.state = TrialState::Completed;
            let last = trial.curve.last().map(|c| c.1);
            trial.value = last;
            if horizon == max_epochs {
                best = best.min(last.unwrap_or(f64::INFINITY));
            }
        }
        history.push(trial);
    }
    (epochs, best)
}

fn early_stopping() {
    let (trials, seeds) = (50usize, 10u64);
    println!("\n### Early stopping (learning-curve objective, {trials} trials, {seeds} seeds)\n");
    println!("| sampler | rule | epochs saved | best value (mean) |");
    println!("|---|---|---|---|");
    let random = Algorithm { label: "random", name: "random", settings: vec![] };
    let tpe = Algorithm { label: "tpe", name: "tpe", settings: vec![] };
    let hyperband = Algorithm {
        label: "hyperband",
        name: "hyperband",
        settings: vec![
            ("resource".to_string(), SettingValue::Str("epochs".into())),
            ("eta".to_string(), SettingValue::Int(3)),
        ],
    };
    let rules: [(&str, Option<MedianStop>); 4] = [
        ("none", None),
        ("median(5, 1)", Some(MedianStop { min_trials: 5, start_step: 1 })),
        ("median(5, 10)", Some(MedianStop { min_trials: 5, start_step: 10 })),
        ("median(5, 20)", Some(MedianStop { min_trials: 5, start_step: 20 })),
    ];
    let full = (trials as u64 * 50) as f64;
    for a in [&random, &tpe] {
        for (label, rule) in &rules {
            let runs: Vec<(u64, f64)> = (0..seeds).map(|seed| lc_study(a, *rule, seed, trials)).collect();
            let saved = 1.0 - runs.iter().map(|r| r.0 as f64).sum::<f64>() / (full * seeds as f64);
            let best = runs.iter().map(|r| r.1).sum::<f64>() / seeds as f64;
            println!("| {} | {label} | {:.1}% | {:.4} |", a.label, saved * 100.0, best);
        }
    }
    let runs: Vec<(u64, f64)> = (0..seeds).map(|seed| lc_study(&hyperband, None, seed, trials)).collect();
    let saved = 1.0 - runs.iter().map(|r| r.0 as f64).sum::<f64>() / (full * seeds as f64);
    let best = runs.iter().map(|r| r.1).sum::<f64>() / seeds as f64;
    println!("| hyperband (random configs, eta 3) | — | {:.1}% | {:.4} |", saved * 100.0, best);
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let value = |flag: &str| args.iter().position(|a| a == flag).and_then(|i| args.get(i + 1)).cloned();
    let seeds = value("--seeds").and_then(|s| s.parse().ok()).unwrap_or(20u64);
    let only = value("--only");
    check_objectives();
    let wanted = |part: &str| only.as_deref().is_none_or(|o| o == part);
    if wanted("quality") {
        let first_seed = value("--first-seed").and_then(|s| s.parse().ok()).unwrap_or(0u64);
        let problems = value("--problems");
        let selection = Selection { seeds, first_seed, problems: problems.as_deref() };
        quality(&selection, value("--algorithms").as_deref(), value("--tpe").as_deref());
    }
    if wanted("overhead") {
        overhead();
        gp_overhead();
    }
    if wanted("early") {
        early_stopping();
    }
}
