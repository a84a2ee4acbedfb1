; KFL highlights.
;
; Patterns are written to be disjoint where they can be, so that "first match
; wins" (tree-sitter CLI, Helix) and "last match wins" (Neovim) agree.

; ---------------------------------------------------------------- comments

(doc_comment) @comment.documentation
(line_comment) @comment
(block_comment) @comment

; ---------------------------------------------------------------- keywords
; Declaration keywords (contextual: only where a declaration starts).

"import" @keyword.import
"as" @keyword.import

[
  "project"
  "param"
  "secret"
  "volume"
  "dataset"
  "notebook"
  "model"
  "serve"
  "monitor"
] @keyword.type

[
  "component"
  "step"
  "train"
  "tune"
] @keyword.function

[
  "for"
  "in"
] @keyword.repeat

[
  "rule"
  "mount"
  "at"
] @keyword

; Reserved words.
[
  "if"
  "then"
  "else"
] @keyword.conditional

[
  "true"
  "false"
] @boolean

; ---------------------------------------------------------------- declarations

(project_declaration name: (identifier) @module)
(param_declaration name: (identifier) @constant)
(secret_declaration name: (identifier) @type.definition)
(volume_declaration name: (identifier) @type.definition)
(dataset_declaration name: (identifier) @type.definition)
(notebook_declaration name: (identifier) @type.definition)
(model_declaration name: (identifier) @type.definition)
(serve_declaration name: (identifier) @type.definition)
(monitor_declaration name: (identifier) @type.definition)
(component_declaration name: (identifier) @function)
(step_declaration name: (identifier) @function)
(train_declaration name: (identifier) @function)
(tune_declaration name: (identifier) @function)
(rule_statement name: (identifier) @label)
(mount_statement volume: (identifier) @variable)
(for_declaration variable: (identifier) @variable)

(import_declaration alias: (identifier) @module)
(module_path (identifier) @module)

(parameter name: (identifier) @variable.parameter)

; ---------------------------------------------------------------- types

(type_identifier) @type.builtin

; ---------------------------------------------------------------- properties

(property key: (key (identifier) @property))
(property key: (key (string) @property))
(field_declaration name: (key (identifier) @variable.member))
(field_declaration name: (key (string) @variable.member))
(named_argument name: (identifier) @variable.parameter)
(member_expression property: (identifier) @variable.member)

; ---------------------------------------------------------------- calls

; objectives, search algorithms, early stopping, distributions, autoscaling
(call_expression
  function: (identifier) @function.builtin
  (#any-of? @function.builtin
    "maximize" "minimize"
    "random" "grid" "tpe" "bayesian" "cmaes" "hyperband" "sobol"
    "median"
    "uniform" "loguniform" "normal" "lognormal" "quniform" "randint" "choice"
    "concurrency" "rps" "cpu" "memory"))

(call_expression
  function: (identifier) @function.call
  (#not-any-of? @function.call
    "maximize" "minimize"
    "random" "grid" "tpe" "bayesian" "cmaes" "hyperband" "sobol"
    "median"
    "uniform" "loguniform" "normal" "lognormal" "quniform" "randint" "choice"
    "concurrency" "rps" "cpu" "memory"))

(call_expression
  function: (member_expression property: (identifier) @function.call))

; ---------------------------------------------------------------- values

; enum values a property fixes: framework, access, runtime, protocol, then, procs_per_node
(property
  value: (identifier) @constant.builtin
  (#any-of? @constant.builtin
    "torch" "deepspeed" "jax" "tensorflow" "mpi" "mlx" "xgboost" "custom"
    "read_write_once" "read_only_many" "read_write_many" "read_write_once_pod"
    "sklearn" "lightgbm" "pytorch" "onnx" "triton" "huggingface"
    "v1" "v2"
    "alert" "retrain"
    "auto"))

; names the language puts in scope: serve built-ins and monitor metrics
((identifier) @variable.builtin
  (#any-of? @variable.builtin
    "model_dir" "port"
    "error_rate" "latency_p50" "latency_p95" "latency_p99" "requests_per_second"))

(integer) @number
(float) @number.float
(unit) @type

(string) @string
(raw_string) @string
(escape_sequence) @string.escape

(interpolation (identifier) @variable)
(interpolation (member_expression object: (identifier) @variable))

(interpolation
  "${" @punctuation.special
  "}" @punctuation.special)

; ---------------------------------------------------------------- operators and punctuation

[
  "="
  "->"
  ".."
  "||"
  "&&"
  "=="
  "!="
  "<"
  "<="
  ">"
  ">="
  "+"
  "-"
  "*"
  "/"
  "!"
] @operator

[
  "("
  ")"
  "["
  "]"
  "{"
  "}"
] @punctuation.bracket

[
  ","
  "."
  ":"
] @punctuation.delimiter
