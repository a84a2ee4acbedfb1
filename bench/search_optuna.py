"""Optuna side of the search-quality benchmark: the same objectives and budgets as
runtime/benches/search_quality.rs, printed as the same markdown table.

    python3 -m venv bench/.venv-optuna && bench/.venv-optuna/bin/pip install optuna==5.0.0
    bench/.venv-optuna/bin/python bench/search_optuna.py [SEEDS]

Objectives come from ../shared/anchors/objectives.py (beside the clone), so both sides use one definition.
"""
import os
import statistics
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "shared", "anchors"))

import objectives as obj  # noqa: E402
import optuna  # noqa: E402

optuna.logging.set_verbosity(optuna.logging.WARNING)


def branin(trial):
    return obj.branin(trial.suggest_float("x1", -5.0, 10.0), trial.suggest_float("x2", 0.0, 15.0))


def hartmann6(trial):
    return obj.hartmann6([trial.suggest_float(f"x{j}", 0.0, 1.0) for j in range(6)])


def mixed(trial):
    lr = trial.suggest_float("lr", 1e-5, 1e-1, log=True)
    batch = trial.suggest_categorical("batch", obj.MIXED_BATCHES)
    dropout = trial.suggest_float("dropout", 0.0, 0.5)
    return obj.mixed(lr, batch, dropout)


PROBLEMS = [("branin", branin, obj.BRANIN_OPT), ("hartmann6", hartmann6, obj.HARTMANN6_OPT),
            ("mixed", mixed, obj.MIXED_OPT)]
SAMPLERS = [
    ("optuna tpe", lambda seed: optuna.samplers.TPESampler(seed=seed)),
    ("optuna tpe_indep", lambda seed: optuna.samplers.TPESampler(seed=seed, multivariate=False)),
    ("optuna random", lambda seed: optuna.samplers.RandomSampler(seed=seed)),
]
BUDGETS = [20, 50, 100]


def fmt(x):
    if x == 0:
        return "0"
    return f"{x:.3f}" if abs(x) >= 0.1 else f"{x:.3e}"


def main():
    seeds = int(sys.argv[1]) if len(sys.argv) > 1 else 20
    print(f"\n### Optuna {optuna.__version__} regret (mean / median over {seeds} seeds)\n")
    print("| problem | budget | " + " | ".join(name for name, _ in SAMPLERS) + " |")
    print("|---|---|" + "---|" * len(SAMPLERS))
    for pname, f, opt in PROBLEMS:
        started = time.time()
        rows = {b: [] for b in BUDGETS}
        for _, make in SAMPLERS:
            regrets = {b: [] for b in BUDGETS}
            for seed in range(seeds):
                study = optuna.create_study(sampler=make(seed))
                study.optimize(f, n_trials=max(BUDGETS))
                values = [t.value for t in study.trials]
                for b in BUDGETS:
                    regrets[b].append(min(values[:b]) - opt)
            for b in BUDGETS:
                r = regrets[b]
                rows[b].append(f"{fmt(statistics.mean(r))} / {fmt(statistics.median(r))}")
        for b in BUDGETS:
            print(f"| {pname} | {b} | " + " | ".join(rows[b]) + " |")
        print(f"{pname}: {time.time() - started:.1f} s", file=sys.stderr)


if __name__ == "__main__":
    main()
