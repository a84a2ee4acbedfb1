//! Diagnostic codes: the stable number, the kebab-case name and the `kfl explain` text of each.

/// Every diagnostic code. The numbers are the language spec's (§5) plus
/// those the project added (E0106, E0107); they never change meaning.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Code {
    SyntaxError,
    UnknownName,
    DuplicateDeclaration,
    UnknownProperty,
    MissingProperty,
    ImportFailed,
    NotAllowedHere,
    InvalidArgument,
    TypeMismatch,
    WrongUnit,
    OutOfRange,
    DependencyCycle,
    SearchSpaceMismatch,
    UndeclaredMetric,
    UnknownOutput,
    InvalidKubernetesName,
    PatchDoesNotFit,
    UnusedDeclaration,
    ClusterOnly,
    DefaultArtifacts,
}

/// What `kfl explain CODE` prints: a paragraph, a failing example, the fix.
#[derive(Debug)]
pub struct Explanation {
    pub summary: &'static str,
    pub details: &'static str,
    pub example: &'static str,
    pub fix: &'static str,
}

impl Code {
    pub const ALL: &'static [Code] = &[
        Code::SyntaxError,
        Code::UnknownName,
        Code::DuplicateDeclaration,
        Code::UnknownProperty,
        Code::MissingProperty,
        Code::ImportFailed,
        Code::NotAllowedHere,
        Code::InvalidArgument,
        Code::TypeMismatch,
        Code::WrongUnit,
        Code::OutOfRange,
        Code::DependencyCycle,
        Code::SearchSpaceMismatch,
        Code::UndeclaredMetric,
        Code::UnknownOutput,
        Code::InvalidKubernetesName,
        Code::PatchDoesNotFit,
        Code::UnusedDeclaration,
        Code::ClusterOnly,
        Code::DefaultArtifacts,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Code::SyntaxError => "E0001",
            Code::UnknownName => "E0101",
            Code::DuplicateDeclaration => "E0102",
            Code::UnknownProperty => "E0103",
            Code::MissingProperty => "E0104",
            Code::ImportFailed => "E0105",
            Code::NotAllowedHere => "E0106",
            Code::InvalidArgument => "E0107",
            Code::TypeMismatch => "E0201",
            Code::WrongUnit => "E0202",
            Code::OutOfRange => "E0203",
            Code::DependencyCycle => "E0301",
            Code::SearchSpaceMismatch => "E0302",
            Code::UndeclaredMetric => "E0303",
            Code::UnknownOutput => "E0304",
            Code::InvalidKubernetesName => "E0401",
            Code::PatchDoesNotFit => "E0402",
            Code::UnusedDeclaration => "W0001",
            Code::ClusterOnly => "W0402",
            Code::DefaultArtifacts => "W0403",
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Code::SyntaxError => "syntax-error",
            Code::UnknownName => "unknown-name",
            Code::DuplicateDeclaration => "duplicate-declaration",
            Code::UnknownProperty => "unknown-property",
            Code::MissingProperty => "missing-property",
            Code::ImportFailed => "import-failed",
            Code::NotAllowedHere => "not-allowed-here",
            Code::InvalidArgument => "invalid-argument",
            Code::TypeMismatch => "type-mismatch",
            Code::WrongUnit => "wrong-unit",
            Code::OutOfRange => "out-of-range",
            Code::DependencyCycle => "dependency-cycle",
            Code::SearchSpaceMismatch => "search-space-mismatch",
            Code::UndeclaredMetric => "undeclared-metric",
            Code::UnknownOutput => "unknown-output",
            Code::InvalidKubernetesName => "invalid-kubernetes-name",
            Code::PatchDoesNotFit => "patch-does-not-fit",
            Code::UnusedDeclaration => "unused-declaration",
            Code::ClusterOnly => "cluster-only",
            Code::DefaultArtifacts => "default-artifacts",
        }
    }

    /// Looks a code up by number (`E0101`, case-insensitive) or name.
    pub fn parse(text: &str) -> Option<Code> {
        Code::ALL.iter().copied().find(|c| c.as_str().eq_ignore_ascii_case(text) || c.name() == text)
    }

    pub fn explanation(self) -> Explanation {
        match self {
            Code::SyntaxError => Explanation {
                summary: "syntax error",
                details: "The parser could not read the file at this point. kfl reports every \
                    declaration that fails to parse and carries on with the next one, so one \
                    typo does not hide the rest of the file. Common causes: a missing `}`, two \
                    entries on one line without a comma, an unknown escape in a string, or a \
                    reserved word (`true`, `false`, `if`, `then`, `else`) used as a name. \
                    Brackets, strings, `-`/`!` and `if`s may nest 256 levels deep; a \
                    declaration nested deeper is reported and not parsed.",
                example: "step prepare {\n  run = [\"python3\" \"prep.py\"]\n}",
                fix: "Separate list items with commas: `run = [\"python3\", \"prep.py\"]`.",
            },
            Code::UnknownName => Explanation {
                summary: "unknown name or reference",
                details: "A reference names nothing in scope. Inside a stage body, names \
                    resolve to the stage's inputs and outputs, then built-ins, then the file. \
                    Through an import only components are reachable. The message suggests the \
                    closest existing name.",
                example: "dataset raw { uri = \"data/iris.csv\" }\nstep prepare(src: Dataset = rwa) { run = [\"prep\", src] }",
                fix: "Use the declared name: `src: Dataset = raw`.",
            },
            Code::DuplicateDeclaration => Explanation {
                summary: "duplicate declaration",
                details: "Names are unique in a file, and a name is used once among one \
                    stage's inputs, outputs and metrics. A property is set once per block, \
                    including `cpu`/`memory`/`gpu` set both directly and inside `resources`. \
                    A file has at most one `project`.",
                example: "param epochs: int = 3\nparam epochs: int = 5",
                fix: "Rename or remove one of the two declarations.",
            },
            Code::UnknownProperty => Explanation {
                summary: "unknown property",
                details: "Each declaration kind accepts a fixed set of properties (see \
                    docs/LANGUAGE.md). A property outside that set is rejected, with the \
                    closest valid name suggested. Free-form objects (`env`, `labels`, `k8s`) \
                    accept any key.",
                example: "train fit() -> (model: Model) {\n  framwork = torch\n  run = [\"python3\", \"fit.py\"]\n}",
                fix: "Use the property's real name: `framework = torch`.",
            },
            Code::MissingProperty => Explanation {
                summary: "missing required property",
                details: "A required property is not set: `run` for steps, trains and \
                    components; `framework` for `train`; `trial` and `objective` for `tune`; \
                    exactly one of `artifact`/`uri` for `model`; `model` and `runtime` for \
                    `serve`; `uri` for `dataset`; `size` for `volume`; `k8s` for `secret`; \
                    `service` for `monitor`; `when` and `then` for a `rule`. Stages also need \
                    an `image`, their own or the project's. A step or train input needs a \
                    default, and a component call must bind every input without one.",
                example: "dataset raw {}",
                fix: "Add the property: `dataset raw { uri = \"data/raw.csv\" }`.",
            },
            Code::ImportFailed => Explanation {
                summary: "import not found or import cycle",
                details: "An `import \"path.kfl\"` is resolved relative to the importing \
                    file; `import std.NAME` names a module of the embedded standard library. \
                    The file must exist, parse, and not import itself through a chain. \
                    `kfl build` reports it too for a local dataset file it cannot read to \
                    stage under `project.artifacts`.",
                example: "import \"lib/comon.kfl\" as common",
                fix: "Fix the path (`lib/common.kfl`) or break the cycle by moving shared \
                    components into a third file.",
            },
            Code::NotAllowedHere => Explanation {
                summary: "declaration or statement not allowed here",
                details: "Some forms are only valid in certain places: a `for` block holds \
                    stages only (`step`, `train`) and does not nest; `mount` stands in stages \
                    and notebooks; `rule` stands in `monitor`; `metrics { … }` declares fields \
                    only in stages; `project` may be omitted only in an imported file.",
                example: "for i in 0..3 {\n  param seed: int = i\n}",
                fix: "Move the declaration out of the `for` block.",
            },
            Code::InvalidArgument => Explanation {
                summary: "invalid call or argument",
                details: "A call names a function that does not exist in this position \
                    (objective, algorithm, distribution, autoscale, early-stop), or passes an \
                    argument it does not take, or misses one it requires, or passes it twice.",
                example: "tune t {\n  trial = fit\n  objective = maximize(accuracy)\n  algorithm = tpe(sed = 1)\n}",
                fix: "Use the argument's real name: `tpe(seed = 1)`.",
            },
            Code::TypeMismatch => Explanation {
                summary: "type mismatch",
                details: "A value does not have the type its position expects. `int` widens \
                    to `float`; nothing else converts implicitly. `+` does not join strings \
                    (use `${…}`), `when` must be a `bool`, `serve.model` must name a `model` \
                    declaration (not a `Model` artifact), and enums accept only their values.",
                example: "step s(n: int = \"three\") { run = [\"echo\", n] }",
                fix: "Give a value of the declared type: `n: int = 3`.",
            },
            Code::WrongUnit => Explanation {
                summary: "wrong or missing unit",
                details: "Quantities, durations and percentages carry units: memory `Mi Gi Ti \
                    …`, durations `ms s m h d`, percent `%`; cpu takes `m` or a plain number. \
                    A suffix that does not fit the expected type, or a bare number where a \
                    unit is required, is rejected.",
                example: "step s { run = [\"true\"]\n  memory = 512\n  timeout = 30 }",
                fix: "Add the unit: `memory = 512Mi`, `timeout = 30m`. Bytes are written as \
                    Kubernetes writes them: `4G` or `4Gi`, not `4GB`.",
            },
            Code::OutOfRange => Explanation {
                summary: "value out of range",
                details: "The value has the right type but is outside what the property \
                    allows: `nodes` and `trials` are at least 1, `canary` is a percentage in \
                    0..100, `replicas = lo..hi` needs 0 ≤ lo ≤ hi, `parallel` and `max_failed` \
                    are at most `trials`, and literals must fit 64 bits.",
                example: "serve s { model = m\n  runtime = sklearn\n  canary = 120% }",
                fix: "Use a value in range: `canary = 20%`.",
            },
            Code::DependencyCycle => Explanation {
                summary: "dependency cycle",
                details: "Stages depend on each other through data references and `after`; \
                    these must form a DAG. The message names every stage on the cycle and points at \
                    one edge whose removal breaks it: a reference to a stage declared further \
                    down, the one that closed the cycle when stages are declared in data order.",
                example: "step a(x: int = b.y) -> (y: int) { run = [\"a\", x, y] }\nstep b(x: int = a.y) -> (y: int) { run = [\"b\", x, y] }",
                fix: "Remove one of the references, or split a stage in two.",
            },
            Code::SearchSpaceMismatch => Explanation {
                summary: "search-space parameter does not fit the trial",
                details: "Every key of a `tune`'s `space` must be an input of the trial, and \
                    its distribution must fit the input's type: `uniform`, `loguniform`, \
                    `normal`, `lognormal` for floats; `quniform` for floats or ints; `randint` \
                    for ints; `choice` values of the input's type. `hyperband(resource = …)` \
                    must name a searched parameter.",
                example: "tune t {\n  trial = fit\n  objective = maximize(accuracy)\n  space { hidden = uniform(8, 64) }\n}",
                fix: "Use a distribution for the input's type, e.g. `hidden = randint(8, 64)` for an int.",
            },
            Code::UndeclaredMetric => Explanation {
                summary: "objective metric not declared by the trial",
                details: "A `tune` objective (or a `NAME.best.METRIC` reference) names a \
                    metric the trial stage does not declare in its `metrics { … }` block.",
                example: "tune t {\n  trial = fit\n  objective = maximize(acuracy)\n}",
                fix: "Use a declared metric, or declare it in the trial: `metrics { accuracy: float }`.",
            },
            Code::UnknownOutput => Explanation {
                summary: "stage output not declared",
                details: "A reference `STAGE.OUTPUT` names an output the stage does not \
                    declare in its `-> (…)` list (for a `tune`, `NAME.best.X` must be an \
                    output, input or metric of the trial).",
                example: "step a -> (out: Dataset) { run = [\"a\", out] }\nstep b(x: Dataset = a.result) { run = [\"b\", x] }",
                fix: "Use a declared output (`a.out`) or add it to the stage's outputs.",
            },
            Code::InvalidKubernetesName => Explanation {
                summary: "name not valid for Kubernetes",
                details: "Declaration names become Kubernetes names (`_` becomes `-`). They \
                    must be lower case without a leading or trailing `_`, start with a letter \
                    where the target requires it, and fit the target's length: 40 for a \
                    `tune` (Katib Experiment), 52 for a monitor with a schedule (CronJob), 63 \
                    otherwise.",
                example: "tune a_very_long_hyperparameter_search_for_the_classifier { … }",
                fix: "Choose a shorter name: `tune search { … }`.",
            },
            Code::PatchDoesNotFit => Explanation {
                summary: "`k8s` patch does not fit the target's schema",
                details: "A `k8s { … }` block is merged into the generated manifest. Its \
                    paths and values must fit the schema of the target kind, and it can only \
                    stand in declarations that generate a Kubernetes object.",
                example: "train t {\n  framework = torch\n  run = [\"t\"]\n  k8s { spec.numNode = 2 }\n}",
                fix: "Use a path that exists in the target's schema: `spec.trainer.numNodes`.",
            },
            Code::UnusedDeclaration => Explanation {
                summary: "unused declaration",
                details: "A `param`, `dataset`, `volume` or `secret` that nothing refers to \
                    (or a `component` in a file with a `project`, which is therefore never \
                    instantiated). Warnings do not fail `kfl check` unless `--deny warnings` \
                    is given.",
                example: "param seed: int = 1\nproject p { image = \"python:3.12\" }",
                fix: "Use it, or remove it.",
            },
            Code::ClusterOnly => Explanation {
                summary: "runs locally, cannot run on the cluster",
                details: "The program is valid and `kfl run` runs it, but what `kfl build` would \
                    emit for the cluster cannot work there as the upstream code behaves: a list of \
                    artifacts collected from a `for` block, of which KFP's launcher gives a command \
                    only the first, or an `always` stage KFP cannot make an exit handler (in a `for`, \
                    under `when`, or overlapping another one). `kfl check`, `kfl run` and the \
                    language server report it as a warning; `kfl build` reports it as an error and \
                    writes nothing.",
                example: "step train_fold(k: int) -> (model: Model) { run = [\"train\", k, model] }\n\
                    for k in 0..4 { step fold = train_fold(k = k) }\n\
                    step pick(models: list[Model] = fold.model) { run = [\"pick\", models] }",
                fix: "Collect parameters (a `list[float]` of scores) out of the `for` block, or merge \
                    the artifacts inside it.",
            },
            Code::DefaultArtifacts => Explanation {
                summary: "local dataset staged for KFP's default bucket",
                details: "A dataset with a local path reaches a Kubeflow Pipelines task only from \
                    object storage, so `kfl build` stages the file content-addressed in its output's \
                    `stage/` folder and prints the command that uploads it; the pipeline imports it \
                    from there. Without `project.artifacts` the files are staged for \
                    `minio://mlpipeline/kfl`, beside KFP's own default pipeline root \
                    (`minio://mlpipeline/v2/artifacts`), and the pipeline leaves its root to KFP's \
                    configured default. This warns that the data will land in the shared bucket of \
                    the KFP installation. `kfl run` reads the file as written either way.",
                example: "project p { image = \"python:3.12\" }\ndataset raw { uri = \"data/iris.csv\" }",
                fix: "Choose where data and artifacts go: `artifacts = \"s3://ml-team/kfl\"` in `project`.",
            },
        }
    }
}

impl std::fmt::Display for Code {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}
