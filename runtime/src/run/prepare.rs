//! Preparing a stage instance: its inputs and `when` evaluated, its command line and environment substituted,
//! its cache key computed (artifacts by content hash), and its processes described (one, or a `train` gang).

use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use indexmap::IndexMap;

use super::cache::{self, Hashes};
use super::job::Job;
use super::process::Launch;
use super::record::{OutputRecord, RunRecord, StageState};
use super::select::Selection;
use super::stage_shape::{Gang, loop_of};
use super::{Engine, scope_of};
use crate::plan::{Container, DatasetKind, Part, Plan};
use crate::value::{EvalError, Scope, Value, eval};

/// Why a stage instance could not be prepared: which part of it (its `when`, an input, an env var, a secret, a
/// folder) and why. Nothing was started for the instance; it fails with this message and every output already
/// produced (this run's and the cache's) is kept.
#[derive(Debug)]
pub enum PrepareError {
    /// A reference in the command line has no value.
    Reference(EvalError),
    When(EvalError),
    WhenNotBool {
        found: String,
    },
    Input {
        input: String,
        source: EvalError,
    },
    InputUnbound {
        input: String,
    },
    Env {
        name: String,
        source: Box<PrepareError>,
    },
    NotAnOutput {
        name: String,
    },
    /// An artifact the cache key hashes could not be read.
    UnreadableInput {
        path: PathBuf,
        source: std::io::Error,
    },
    /// A key of a `secret` the stage uses is missing from kfl's environment.
    SecretKey {
        secret: String,
        key: String,
    },
    Volume {
        volume: String,
        path: PathBuf,
        source: std::io::Error,
    },
    CreateDir {
        path: PathBuf,
        source: std::io::Error,
    },
    Rendezvous {
        source: std::io::Error,
    },
}

impl fmt::Display for PrepareError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PrepareError::Reference(error) => error.fmt(f),
            PrepareError::When(error) => write!(f, "`when`: {error}"),
            PrepareError::WhenNotBool { found } => write!(f, "`when` gave {found}, not a bool"),
            PrepareError::Input { input, source } => write!(f, "input `{input}`: {source}"),
            PrepareError::InputUnbound { input } => write!(f, "input `{input}` has no value bound"),
            PrepareError::Env { name, source } => write!(f, "env `{name}`: {source}"),
            PrepareError::NotAnOutput { name } => write!(f, "`{name}` is not an output of this stage"),
            PrepareError::UnreadableInput { path, source } => {
                write!(f, "input {} cannot be read: {source}", path.display())
            }
            PrepareError::SecretKey { secret, key } => {
                write!(f, "secret `{secret}` needs `{key}` in kfl's environment (the cluster reads it from the Secret)")
            }
            PrepareError::Volume { volume, path, source } => {
                write!(f, "volume `{volume}`: cannot create {}: {source}", path.display())
            }
            PrepareError::CreateDir { path, source } => write!(f, "cannot create {}: {source}", path.display()),
            PrepareError::Rendezvous { source } => write!(f, "no free port for the rendezvous: {source}"),
        }
    }
}

impl std::error::Error for PrepareError {}

impl From<EvalError> for PrepareError {
    fn from(error: EvalError) -> Self {
        PrepareError::Reference(error)
    }
}

/// Where one instance's values come from: the plan, the run record, its own inputs and loop item.
pub struct InstanceScope<'a> {
    pub plan: &'a Plan,
    pub record: &'a RunRecord,
    pub index: &'a IndexMap<String, usize>,
    pub stage: usize,
    pub iteration: usize,
    pub item: Option<Value>,
    pub locals: IndexMap<String, Value>,
}

/// A recorded output as a value.
pub fn output_value(output: &OutputRecord) -> Value {
    match output {
        OutputRecord::Artifact { path, .. } => Value::Path(PathBuf::from(path)),
        OutputRecord::Scalar { ty, value, text } => json_value(ty, value, text),
    }
}

fn json_value(ty: &str, value: &serde_json::Value, text: &str) -> Value {
    match value {
        serde_json::Value::Bool(b) => Value::Bool(*b),
        serde_json::Value::Number(n) if ty == "int" => n.as_i64().map_or(Value::Str(text.into()), Value::Int),
        serde_json::Value::Number(n) => n.as_f64().map_or(Value::Str(text.into()), Value::Float),
        serde_json::Value::Array(items) => {
            let inner = ty.strip_prefix("list[").and_then(|t| t.strip_suffix(']')).unwrap_or("string");
            Value::List(items.iter().map(|item| json_value(inner, item, &item.to_string())).collect())
        }
        serde_json::Value::String(s) => Value::Str(s.clone()),
        other => Value::Str(other.to_string()),
    }
}

impl Scope for InstanceScope<'_> {
    fn param(&self, name: &str) -> Option<Value> {
        self.plan.params.iter().find(|p| p.name == name).map(|p| Value::from(&p.value))
    }

    fn dataset(&self, name: &str, uri: &str) -> Value {
        match self.plan.datasets.iter().find(|d| d.name == name).map(|d| d.kind) {
            Some(DatasetKind::Local) | None => Value::Path(PathBuf::from(uri)),
            Some(_) => Value::Str(uri.to_string()),
        }
    }

    fn output(&self, stage: &str, output: &str, fan_in: bool) -> Result<Value, EvalError> {
        let &index = self.index.get(stage).ok_or_else(|| EvalError::UnknownStage { stage: stage.into() })?;
        let instances = &self.record.stages[index].instances;
        let same_loop = loop_of(&self.plan.stages[self.stage]).is_some()
            && loop_of(&self.plan.stages[self.stage]) == loop_of(&self.plan.stages[index]);
        let read = |i: usize| -> Result<Value, EvalError> {
            let instance =
                instances.get(i).ok_or_else(|| EvalError::NoIteration { stage: stage.into(), iteration: i })?;
            if !instance.state.produced() {
                return Err(EvalError::NotProduced {
                    stage: stage.into(),
                    state: instance.state.label(),
                    output: output.into(),
                });
            }
            instance
                .outputs
                .get(output)
                .map(output_value)
                .ok_or_else(|| EvalError::NoOutput { stage: stage.into(), output: output.into() })
        };
        if fan_in {
            let produced = instances.iter().enumerate().filter(|(_, i)| i.state.produced());
            return produced.map(|(i, _)| read(i)).collect::<Result<Vec<_>, _>>().map(Value::List);
        }
        read(if same_loop { self.iteration } else { 0 })
    }

    fn best(&self, tune: &str, field: &str) -> Result<Value, EvalError> {
        let &index = self.index.get(tune).ok_or_else(|| EvalError::UnknownTune { tune: tune.into() })?;
        let instance = self.record.stages[index].instances.first().filter(|i| i.state.produced());
        let instance = instance.ok_or_else(|| EvalError::NoBestTrial { tune: tune.into() })?;
        instance
            .outputs
            .get(field)
            .map(output_value)
            .ok_or_else(|| EvalError::NoBestField { tune: tune.into(), field: field.into() })
    }

    fn local(&self, name: &str) -> Result<Value, EvalError> {
        self.locals.get(name).cloned().ok_or_else(|| EvalError::LocalBeforeRun { name: name.into() })
    }

    fn loop_var(&self, name: &str) -> Result<Value, EvalError> {
        self.item.clone().ok_or_else(|| EvalError::LoopVarOutsideLoop { name: name.into() })
    }

    fn builtin(&self, name: &str) -> Result<Value, EvalError> {
        Err(EvalError::ServeOnly { name: name.into() })
    }
}

/// A command line (or env value) substituted: the text passed to the process, and the text the cache key sees
/// (artifacts by content hash, outputs by name).
pub struct Substituted {
    pub text: String,
    pub key: String,
}

/// Substitutes one part; `outputs` maps the stage's output names to the paths the process writes.
pub fn substitute(
    part: &Part,
    scope: &InstanceScope<'_>,
    outputs: &IndexMap<String, PathBuf>,
    hashes: &mut Hashes,
    project_dir: &Path,
) -> Result<Substituted, PrepareError> {
    let value = match part {
        Part::Text { text } => return Ok(Substituted { text: text.clone(), key: text.clone() }),
        Part::Output { name } => {
            let path = outputs.get(name).ok_or_else(|| PrepareError::NotAnOutput { name: name.clone() })?;
            return Ok(Substituted { text: path.display().to_string(), key: format!("<output:{name}>") });
        }
        Part::Template { parts } => {
            let mut out = Substituted { text: String::new(), key: String::new() };
            for part in parts {
                let piece = substitute(part, scope, outputs, hashes, project_dir)?;
                out.text.push_str(&piece.text);
                out.key.push_str(&piece.key);
            }
            return Ok(out);
        }
        Part::List { items } => {
            let (text, key) = list_json(items, scope, outputs, hashes, project_dir)?;
            return Ok(Substituted { text: text.to_string(), key: key.to_string() });
        }
        Part::Param { name } => scope.param(name).ok_or_else(|| EvalError::UnboundParam { name: name.clone() })?,
        Part::Dataset { name, uri } => scope.dataset(name, uri),
        Part::Input { name } => scope.local(name)?,
        Part::StageOutput { stage, output, fan_in } => scope.output(stage, output, *fan_in)?,
        Part::Best { tune, field } => scope.best(tune, field)?,
        Part::LoopVar { name } => scope.loop_var(name)?,
        Part::Builtin { name } => scope.builtin(name)?,
        Part::Expr { expr } => eval(expr, scope)?,
    };
    Ok(Substituted { text: value.text(), key: key_text(&value, hashes, project_dir)? })
}

/// A list part as JSON arrays of its items' texts and keys. A nested list stays a nested array, as the compiler
/// renders it (`codegen/args.rs`), not the text of one: quoting each level's text again doubled it per level.
fn list_json(
    items: &[Part],
    scope: &InstanceScope<'_>,
    outputs: &IndexMap<String, PathBuf>,
    hashes: &mut Hashes,
    project_dir: &Path,
) -> Result<(serde_json::Value, serde_json::Value), PrepareError> {
    let (mut texts, mut keys) = (Vec::new(), Vec::new());
    for item in items {
        let (text, key) = match item {
            Part::List { items } => list_json(items, scope, outputs, hashes, project_dir)?,
            other => {
                let piece = substitute(other, scope, outputs, hashes, project_dir)?;
                (serde_json::Value::String(piece.text), serde_json::Value::String(piece.key))
            }
        };
        texts.push(text);
        keys.push(key);
    }
    Ok((serde_json::Value::Array(texts), serde_json::Value::Array(keys)))
}

/// The cache key's view of a value: artifacts by content, so a changed file is a changed input.
fn key_text(value: &Value, hashes: &mut Hashes, project_dir: &Path) -> Result<String, PrepareError> {
    Ok(match value {
        Value::List(_) | Value::Object(_) => key_json(value, hashes, project_dir)?.to_string(),
        other => key_scalar(other, hashes, project_dir)?,
    })
}

/// A list's or an object's key as nested arrays and objects of its items' keys (not the text of each level,
/// which doubled per level).
fn key_json(value: &Value, hashes: &mut Hashes, project_dir: &Path) -> Result<serde_json::Value, PrepareError> {
    Ok(match value {
        Value::List(items) => {
            items.iter().map(|v| key_json(v, hashes, project_dir)).collect::<Result<serde_json::Value, _>>()?
        }
        Value::Object(fields) => serde_json::Value::Object(
            fields
                .iter()
                .map(|(k, v)| Ok((k.clone(), key_json(v, hashes, project_dir)?)))
                .collect::<Result<_, PrepareError>>()?,
        ),
        other => serde_json::Value::String(key_scalar(other, hashes, project_dir)?),
    })
}

fn key_scalar(value: &Value, hashes: &mut Hashes, project_dir: &Path) -> Result<String, PrepareError> {
    Ok(match value {
        Value::Path(path) => {
            let hash = hashes
                .get(&project_dir.join(path))
                .map_err(|source| PrepareError::UnreadableInput { path: path.clone(), source })?;
            format!("sha256:{hash}")
        }
        other => other.text(),
    })
}

/// Describes the processes; `is_train` adds the distributed environment even for a single rank.
#[allow(clippy::too_many_arguments)]
pub fn launches(
    gang: &Gang,
    is_train: bool,
    argv: &[String],
    env: &[(String, String)],
    project_dir: &Path,
    log_dir: &Path,
    metrics: &[String],
    timeout: Option<Duration>,
    kill_grace: Duration,
    log_keep: u64,
) -> Result<Vec<Launch>, PrepareError> {
    let base = |log: PathBuf, env: Vec<(String, String)>, metrics: Vec<String>| Launch {
        argv: argv.to_vec(),
        env,
        cwd: project_dir.to_path_buf(),
        log,
        metrics,
        timeout,
        kill_grace,
        log_keep,
    };
    if !is_train {
        return Ok(vec![base(log_dir.join("log"), env.to_vec(), metrics.to_vec())]);
    }
    let port = free_port().map_err(|source| PrepareError::Rendezvous { source })?;
    let world = gang.size();
    let mut out = Vec::new();
    for rank in 0..world {
        let (node, local) = (rank / gang.procs_per_node, rank % gang.procs_per_node);
        let mut vars = env.to_vec();
        let pairs = [
            ("WORLD_SIZE", world.to_string()),
            ("RANK", rank.to_string()),
            ("LOCAL_RANK", local.to_string()),
            ("NODE_RANK", node.to_string()),
            ("LOCAL_WORLD_SIZE", gang.procs_per_node.to_string()),
            ("GROUP_RANK", node.to_string()),
            ("MASTER_ADDR", "127.0.0.1".to_string()),
            ("MASTER_PORT", port.to_string()),
            ("PET_NNODES", gang.nodes.to_string()),
            ("PET_NPROC_PER_NODE", gang.procs_per_node.to_string()),
            ("PET_NODE_RANK", node.to_string()),
            ("PET_MASTER_ADDR", "127.0.0.1".to_string()),
            ("PET_MASTER_PORT", port.to_string()),
        ];
        vars.extend(pairs.into_iter().map(|(k, v)| (k.to_string(), v)));
        // Only rank 0 reports metrics, as Katib reads the primary replica.
        let rank_metrics = if rank == 0 { metrics.to_vec() } else { Vec::new() };
        out.push(base(log_dir.join(format!("rank-{rank}.log")), vars, rank_metrics));
    }
    Ok(out)
}

fn free_port() -> std::io::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

/// `kfl` as a command's program is this very binary, so `kfl builtin …` steps run without a PATH lookup.
pub fn resolve_program(argv: &mut [String], kfl_exe: &Path) {
    if let Some(first) = argv.first_mut().filter(|first| *first == "kfl") {
        *first = kfl_exe.display().to_string();
    }
}

pub(super) enum Prepared {
    Job(Box<Job>),
    /// Decided without running: skipped by `when`, or failed (e.g. no cached result under `--only`).
    Settled(StageState, String),
    /// Outputs and metrics reused from the cache or the run being resumed.
    Reused(Box<Reuse>),
}

pub(super) struct Reuse {
    pub outputs: IndexMap<String, OutputRecord>,
    pub metrics: IndexMap<String, f64>,
    /// Every report of each metric, when the cache kept them (tune trials need the objective's curve).
    pub curves: IndexMap<String, Vec<f64>>,
    pub message: String,
}

/// A tune trial: the trial template run with searched values in place of some inputs, in its own folder.
pub(super) struct TrialSpec {
    pub overrides: IndexMap<String, Value>,
    /// `.kfl/runs/<id>/<tune>/trial-<n>`.
    pub dir: PathBuf,
    pub tune: usize,
    pub number: usize,
}

impl Engine<'_> {
    pub(super) fn prepare(
        &mut self,
        s: usize,
        i: usize,
        container: &Container,
        trial: Option<&TrialSpec>,
    ) -> Result<Prepared, PrepareError> {
        let stage = &self.plan.stages[s];
        let locals = self.locals(s, i, container, trial.map(|t| &t.overrides))?;
        let scope = scope_of(self.plan, &self.record, &self.index, s, i, Some(locals));
        if let Some(when) = &container.when {
            match eval(when, &scope).map_err(PrepareError::When)? {
                Value::Bool(true) => {}
                Value::Bool(false) => return Ok(Prepared::Settled(StageState::Skipped, "`when` is false".into())),
                other => return Err(PrepareError::WhenNotBool { found: other.text() }),
            }
        }
        let instance_dir = match (trial, self.record.stages[s].instances[i].iteration) {
            (Some(trial), _) => trial.dir.clone(),
            (None, Some(iteration)) => self.run_dir.join(&stage.name).join(iteration.to_string()),
            (None, None) => self.run_dir.join(&stage.name),
        };
        let tmp_dir = instance_dir.join(".tmp");
        let outputs_dir = instance_dir.join("outputs");
        let output_paths: IndexMap<String, PathBuf> =
            container.outputs.iter().map(|o| (o.name.clone(), tmp_dir.join(&o.name))).collect();
        let project_dir = self.opts.project_dir.clone();
        let Command { mut argv, mut env, key } =
            command(container, &scope, &output_paths, &mut self.hashes, &project_dir)?;
        for secret in &container.secrets {
            let keys = self.plan.secrets.iter().find(|x| &x.name == secret).map(|x| x.keys.clone()).unwrap_or_default();
            for key in keys {
                let value = std::env::var(&key)
                    .map_err(|_| PrepareError::SecretKey { secret: secret.clone(), key: key.clone() })?;
                env.push((key, value));
            }
        }
        for mount in &container.mounts {
            let dir = self.opts.project_dir.join(".kfl").join("volumes").join(&mount.volume);
            std::fs::create_dir_all(&dir).map_err(|source| PrepareError::Volume {
                volume: mount.volume.clone(),
                path: dir.clone(),
                source,
            })?;
            let name = format!("KFL_VOLUME_{}", mount.volume.to_uppercase());
            env.push((name, dir.display().to_string()));
        }
        env.push(("KFL_RUN_ID".into(), self.record.run_id.clone()));
        env.push(("KFL_STAGE".into(), stage.name.clone()));
        resolve_program(&mut argv, &self.opts.kfl_exe);
        let gang = Gang::of(container);
        if let Some(reused) = self.reuse(s, i, &key, container, &instance_dir, trial.is_none()) {
            return Ok(Prepared::Reused(Box::new(reused)));
        }
        if self.selection[s] == Selection::CacheOnly {
            return Ok(Prepared::Settled(
                StageState::Failed,
                "not selected by --only and no cached result; run it first (without --only)".into(),
            ));
        }
        let log_dir = project_dir.join(&instance_dir);
        std::fs::create_dir_all(&log_dir)
            .map_err(|source| PrepareError::CreateDir { path: log_dir.clone(), source })?;
        let metrics: Vec<String> = container.metrics.iter().map(|m| m.name.clone()).collect();
        let launches = launches(
            &gang,
            container.train.is_some(),
            &argv,
            &env,
            &project_dir,
            &log_dir,
            &metrics,
            container.timeout_seconds.map(Duration::from_secs),
            self.opts.kill_grace,
            self.opts.log_keep,
        )?;
        Ok(Prepared::Job(Box::new(Job {
            stage: s,
            iteration: i,
            name: stage.name.clone(),
            launches,
            project_dir,
            tmp_dir,
            outputs_dir,
            outputs: container.outputs.clone(),
            retries: u32::try_from(container.retries.max(0)).unwrap_or(0),
            retry_base: self.opts.retry_base,
            cache_key: (container.cache && !self.opts.no_cache).then_some(key),
            trial: trial.map(|t| (t.tune, t.number)),
        })))
    }

    /// Outputs from the run being resumed (same key, files still there) or from the cache.
    /// Outputs from the run being resumed (same key, files still there; not for trials, which the tune
    /// resumes itself) or from the cache, linked into `instance_dir/outputs`.
    fn reuse(
        &mut self,
        s: usize,
        i: usize,
        key: &str,
        container: &Container,
        instance_dir: &Path,
        from_previous: bool,
    ) -> Option<Reuse> {
        let iteration = self.record.stages[s].instances[i].iteration;
        if let Some(previous) = self.previous.as_ref().filter(|_| from_previous) {
            let before = previous.stage(&self.plan.stages[s].name).and_then(|st| st.instances.get(i));
            if let Some(before) = before.filter(|b| b.state.produced() && b.cache_key.as_deref() == Some(key)) {
                let present = before.outputs.values().all(|o| match o {
                    OutputRecord::Artifact { path, .. } => self.opts.project_dir.join(path).exists(),
                    OutputRecord::Scalar { .. } => true,
                });
                if present && before.iteration == iteration {
                    self.record.stages[s].instances[i].cache_key = Some(key.to_string());
                    let (outputs, metrics) = (before.outputs.clone(), before.metrics.clone());
                    let message = "kept from the run being resumed".to_string();
                    return Some(Reuse { outputs, metrics, curves: IndexMap::new(), message });
                }
            }
        }
        if self.opts.no_cache || !container.cache {
            return None;
        }
        let (entry, files) = cache::lookup(&self.opts.project_dir, key)?;
        let stage = &self.plan.stages[s];
        let outputs = self.adopt(entry.outputs, &files, instance_dir)?;
        self.record.stages[s].instances[i].cache_key = Some(key.to_string());
        let origin =
            if entry.stage == stage.name { String::new() } else { format!("reused the result of `{}`", entry.stage) };
        Some(Reuse { outputs, metrics: entry.metrics, curves: entry.curves, message: origin })
    }

    /// A cache entry's outputs made this instance's: artifacts linked from the entry's `files` into
    /// `instance_dir/outputs`, with their known hashes. `None` when a file cannot be linked.
    pub(super) fn adopt(
        &mut self,
        cached: IndexMap<String, OutputRecord>,
        files: &Path,
        instance_dir: &Path,
    ) -> Option<IndexMap<String, OutputRecord>> {
        let outputs_rel = instance_dir.join("outputs");
        let outputs_abs = self.opts.project_dir.join(&outputs_rel);
        let _ = std::fs::remove_dir_all(&outputs_abs);
        let mut outputs = IndexMap::new();
        for (name, output) in cached {
            let output = match output {
                OutputRecord::Artifact { sha256, .. } => {
                    cache::link_tree(&files.join(&name), &outputs_abs.join(&name)).ok()?;
                    let path = outputs_rel.join(&name);
                    self.hashes.remember(&self.opts.project_dir.join(&path), &sha256);
                    OutputRecord::Artifact { path: path.display().to_string(), sha256 }
                }
                scalar => scalar,
            };
            outputs.insert(name, output);
        }
        Some(outputs)
    }

    /// An instance's inputs: a trial's searched values where `overrides` has them, else each input's binding.
    fn locals(
        &self,
        s: usize,
        i: usize,
        container: &Container,
        overrides: Option<&IndexMap<String, Value>>,
    ) -> Result<IndexMap<String, Value>, PrepareError> {
        let scope = self.scope(s, i, None);
        let mut locals = IndexMap::new();
        for input in &container.inputs {
            if let Some(value) = overrides.and_then(|o| o.get(&input.name)) {
                locals.insert(input.name.clone(), value.clone());
                continue;
            }
            if input.ty == crate::plan::TASK_STATUS {
                let task = input.status_of.as_deref().unwrap_or(&self.plan.stages[s].name);
                let status = super::final_status::final_status(self.plan, &self.record, &self.index, s, task);
                locals.insert(input.name.clone(), Value::Str(status));
                continue;
            }
            let binding =
                input.binding.as_ref().ok_or_else(|| PrepareError::InputUnbound { input: input.name.clone() })?;
            let value =
                eval(binding, &scope).map_err(|source| PrepareError::Input { input: input.name.clone(), source })?;
            locals.insert(input.name.clone(), value);
        }
        Ok(locals)
    }

    /// The cache key of a trial template with its `searched` inputs left open: what every trial of a tune
    /// shares (image, command, environment, the other inputs by content). An error when a searched value is
    /// needed to compute it (an expression over it), so such a tune is not cached as a whole.
    pub(super) fn template_key(
        &mut self,
        s: usize,
        container: &Container,
        searched: &[String],
    ) -> Result<String, PrepareError> {
        let open: IndexMap<String, Value> =
            searched.iter().map(|name| (name.clone(), Value::Str(format!("<searched:{name}>")))).collect();
        let locals = self.locals(s, 0, container, Some(&open))?;
        let scope = scope_of(self.plan, &self.record, &self.index, s, 0, Some(locals));
        let output_paths = container.outputs.iter().map(|o| (o.name.clone(), PathBuf::from(&o.name))).collect();
        Ok(command(container, &scope, &output_paths, &mut self.hashes, &self.opts.project_dir)?.key)
    }
}

/// A container's command line and environment substituted, and its cache key.
struct Command {
    argv: Vec<String>,
    env: Vec<(String, String)>,
    /// Everything that determines the outputs, with artifacts by content and outputs by name (their paths
    /// change from run to run).
    key: String,
}

fn command(
    container: &Container,
    scope: &InstanceScope<'_>,
    output_paths: &IndexMap<String, PathBuf>,
    hashes: &mut Hashes,
    project_dir: &Path,
) -> Result<Command, PrepareError> {
    let mut argv = Vec::new();
    let mut key_argv = Vec::new();
    for part in &container.command {
        let Substituted { text, key } = substitute(part, scope, output_paths, hashes, project_dir)?;
        argv.push(text);
        key_argv.push(key);
    }
    let mut env = Vec::new();
    let mut key_env = Vec::new();
    for (name, part) in container.env.iter().chain(&container.local_env) {
        let Substituted { text, key } = substitute(part, scope, output_paths, hashes, project_dir)
            .map_err(|source| PrepareError::Env { name: name.clone(), source: Box::new(source) })?;
        env.retain(|(k, _): &(String, String)| k != name);
        env.push((name.clone(), text));
        key_env.push((name.clone(), key));
    }
    let gang = Gang::of(container);
    let key = cache::key(&serde_json::json!({
        "image": container.image,
        "argv": key_argv,
        "env": key_env,
        "outputs": container.outputs.iter().map(|o| (&o.name, &o.ty)).collect::<Vec<_>>(),
        "gang": [gang.nodes, gang.procs_per_node],
    }));
    Ok(Command { argv, env, key })
}
