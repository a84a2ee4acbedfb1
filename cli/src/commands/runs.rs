//! `kfl runs list|show` and `kfl logs`: reading the run records and logs under `.kfl/runs/`.

use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

use kfl_runtime::run::record::{self, RunRecord, RunState};

use crate::Status;

/// Past runs of a project.
#[derive(clap::Subcommand, Debug)]
pub enum RunsCommand {
    /// List runs, newest first.
    List(ProjectArg),
    /// Show one run's stages, states, times, cache hits, metrics and outputs.
    Show {
        /// A run id, a unique prefix of one, or `latest`.
        run_id: String,
        #[command(flatten)]
        project: ProjectArg,
    },
}

#[derive(clap::Args, Debug)]
pub struct ProjectArg {
    /// The .kfl file or its folder (default: the current folder).
    #[arg(long, value_name = "PATH", default_value = ".")]
    pub(crate) project: PathBuf,
    /// `text` (default) or `json`.
    #[arg(long, value_name = "FORMAT", default_value = "text")]
    pub(crate) format: String,
}

impl ProjectArg {
    pub(crate) fn dir(&self) -> PathBuf {
        if self.project.is_file() { super::run::project_of(&self.project).0 } else { self.project.clone() }
    }
}

/// Print a stage's log (all ranks of a train), optionally following it while the run goes on.
///
/// Example: `kfl logs latest classifier --project examples/iris --follow`
#[derive(clap::Args, Debug)]
pub struct LogsArgs {
    /// A run id, a unique prefix of one, or `latest`.
    run_id: String,
    /// The stage; `NAME[I]` for iteration I of a `for` stage.
    stage: String,
    /// Keep printing new lines until the stage finishes.
    #[arg(short, long)]
    follow: bool,
    #[command(flatten)]
    project: ProjectArg,
}

pub fn runs(command: RunsCommand) -> Status {
    match command {
        RunsCommand::List(project) => list(&project),
        RunsCommand::Show { run_id, project } => show(&run_id, &project),
    }
}

fn list(project: &ProjectArg) -> Status {
    let runs = record::list(&project.dir());
    if project.format == "json" {
        let records: Vec<&RunRecord> = runs.iter().filter_map(|r| r.as_ref().ok()).collect();
        println!("{}", serde_json::to_string_pretty(&records).unwrap_or_default());
        return Status::Ok;
    }
    if runs.is_empty() {
        eprintln!("no runs in {}", record::runs_dir(&project.dir()).display());
        return Status::Ok;
    }
    let mut rows = vec![["run".to_string(), "state".into(), "started".into(), "time".into(), "stages".into()]];
    let mut interrupted = None;
    for run in &runs {
        match run {
            Ok(run) => {
                let instances = run.stages.iter().flat_map(|s| &s.instances);
                let done = instances.clone().filter(|i| i.state.produced()).count();
                let total = instances.filter(|i| i.state != record::StageState::NotSelected).count();
                rows.push([
                    run.run_id.clone(),
                    run.state.label().into(),
                    run.started_at.clone(),
                    run.duration_ms.map_or("-".into(), |ms| format!("{:.1}s", ms as f64 / 1000.0)),
                    format!("{done}/{total} ok"),
                ]);
                if run.state == RunState::Interrupted {
                    interrupted.get_or_insert(run);
                }
            }
            Err(message) => eprintln!("warning: {message}"),
        }
    }
    print!("{}", table(&rows));
    if let Some(run) = interrupted {
        eprintln!("an interrupted run continues where it stopped: {}", resume_hint(run, &project.dir()));
    }
    Status::Ok
}

/// The command that continues an interrupted run.
fn resume_hint(run: &RunRecord, project_dir: &Path) -> String {
    format!("`kfl run {} --resume {}`", project_dir.join(&run.file).display(), run.run_id)
}

fn show(run_id: &str, project: &ProjectArg) -> Status {
    let run = match record::find(&project.dir(), run_id).and_then(|dir| record::read(&dir)) {
        Ok(run) => run,
        Err(message) => {
            eprintln!("error: {message}");
            return Status::Usage;
        }
    };
    if project.format == "json" {
        println!("{}", serde_json::to_string_pretty(&run).unwrap_or_default());
        return Status::Ok;
    }
    println!("run {} ({}), {} — {}", run.run_id, run.file, run.state.label(), run.started_at);
    if run.state == RunState::Interrupted {
        println!("continue it with {}", resume_hint(&run, &project.dir()));
    }
    if !run.params.is_empty() {
        let params: Vec<String> = run.params.iter().map(|(k, v)| format!("{k}={v}")).collect();
        println!("params: {}", params.join(" "));
    }
    let mut rows = vec![[
        "stage".to_string(),
        "state".into(),
        "time".into(),
        "attempts".into(),
        "cached".into(),
        "metrics".into(),
        "outputs".into(),
    ]];
    let mut notes = Vec::new();
    for stage in &run.stages {
        for instance in &stage.instances {
            if instance.state == record::StageState::NotSelected {
                continue;
            }
            let name = instance.iteration.map_or(stage.name.clone(), |i| format!("{}[{i}]", stage.name));
            let outputs: Vec<String> = instance
                .outputs
                .iter()
                .map(|(k, o)| match o {
                    record::OutputRecord::Artifact { path, .. } => format!("{k}={path}"),
                    record::OutputRecord::Scalar { text, .. } => format!("{k}={text}"),
                })
                .collect();
            let metrics: Vec<String> = instance.metrics.iter().map(|(k, v)| format!("{k}={v:.4}")).collect();
            rows.push([
                name,
                instance.state.label().into(),
                instance.duration_ms.map_or("-".into(), |ms| format!("{:.1}s", ms as f64 / 1000.0)),
                instance.attempts.to_string(),
                if instance.cached { "yes".into() } else { "no".into() },
                metrics.join(" "),
                outputs.join(" "),
            ]);
            // A stage's message goes on its own line under the row: as a cell it would widen the stage
            // column to the longest message.
            notes.push(instance.message.clone());
        }
    }
    print!("{}", with_notes(&table(&rows), &notes));
    Status::Ok
}

/// The table's lines, each data row followed by its note (indented), if any; `notes[i]` belongs to
/// data row `i` (the line after the header).
fn with_notes(table: &str, notes: &[Option<String>]) -> String {
    let mut out = String::new();
    for (i, line) in table.lines().enumerate() {
        out.push_str(line);
        out.push('\n');
        if let Some(Some(note)) = i.checked_sub(1).and_then(|row| notes.get(row)) {
            out.push_str("  ");
            out.push_str(note);
            out.push('\n');
        }
    }
    out
}

pub fn logs(args: LogsArgs) -> Status {
    let dir = args.project.dir();
    let run_dir = match record::find(&dir, &args.run_id) {
        Ok(run_dir) => run_dir,
        Err(message) => {
            eprintln!("error: {message}");
            return Status::Usage;
        }
    };
    let (stage, iteration) = match args.stage.split_once('[') {
        Some((name, rest)) => match rest.trim_end_matches(']').parse::<usize>() {
            Ok(i) => (name.to_string(), Some(i)),
            Err(_) => {
                eprintln!("error: `{}`: write an iteration as NAME[I], e.g. cv[2]", args.stage);
                return Status::Usage;
            }
        },
        None => (args.stage.clone(), None),
    };
    // Following a stage that has not started yet waits for it, as long as the run goes on.
    let files = loop {
        match log_files(&run_dir, &stage, iteration) {
            Ok(files) => break files,
            Err(_) if args.follow && !stage_finished(&run_dir, &stage, iteration) => {
                std::thread::sleep(Duration::from_millis(200));
            }
            Err(message) => {
                eprintln!("error: {message}");
                return Status::Usage;
            }
        }
    };
    // Each file is copied in fixed-size chunks from where the last pass stopped: memory stays constant whatever
    // the log's size.
    let prefixed = files.len() > 1;
    let mut readers: Vec<LogReader> = files
        .into_iter()
        .map(|path| {
            let rank = path.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
            LogReader { path, prefix: prefixed.then(|| format!("[{rank}] ")), offset: 0, partial: Vec::new() }
        })
        .collect();
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    loop {
        // Read the state before the files, so nothing written after the last pass is missed.
        let last = !args.follow || stage_finished(&run_dir, &stage, iteration);
        for reader in &mut readers {
            if let Err(e) = reader.copy_new(&mut out, last) {
                // stdout closed (`kfl logs … | head`): nothing more to do.
                if e.kind() == std::io::ErrorKind::BrokenPipe {
                    return Status::Ok;
                }
            }
        }
        let _ = out.flush();
        if last {
            return Status::Ok;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// One log file being printed: how far it was read and, for a gang's ranks, the line started but not ended.
struct LogReader {
    path: PathBuf,
    /// `[rank-N] ` before each line when several ranks are printed together.
    prefix: Option<String>,
    offset: u64,
    partial: Vec<u8>,
}

/// A rank's line longer than this is printed in pieces, so a line without end cannot grow memory.
const MAX_HELD_LINE: usize = 64 * 1024;

impl LogReader {
    /// Copies what was appended since the last call; `last` prints a final line that has no newline.
    fn copy_new(&mut self, out: &mut impl Write, last: bool) -> std::io::Result<()> {
        if let Ok(mut file) = std::fs::File::open(&self.path) {
            file.seek(SeekFrom::Start(self.offset))?;
            let mut chunk = vec![0u8; 64 * 1024];
            loop {
                let n = file.read(&mut chunk)?;
                if n == 0 {
                    break;
                }
                self.offset += n as u64;
                match &self.prefix {
                    None => out.write_all(&chunk[..n])?,
                    Some(prefix) => {
                        let mut rest = &chunk[..n];
                        while let Some(end) = rest.iter().position(|&b| b == b'\n') {
                            out.write_all(prefix.as_bytes())?;
                            out.write_all(&self.partial)?;
                            out.write_all(&rest[..=end])?;
                            self.partial.clear();
                            rest = &rest[end + 1..];
                        }
                        self.partial.extend_from_slice(rest);
                        if self.partial.len() > MAX_HELD_LINE {
                            out.write_all(prefix.as_bytes())?;
                            out.write_all(&self.partial)?;
                            out.write_all(b"\n")?;
                            self.partial = Vec::new();
                        }
                    }
                }
            }
        }
        if last && !self.partial.is_empty() {
            out.write_all(self.prefix.as_deref().unwrap_or_default().as_bytes())?;
            out.write_all(&self.partial)?;
            out.write_all(b"\n")?;
            self.partial = Vec::new();
        }
        Ok(())
    }
}

fn log_files(run_dir: &Path, stage: &str, iteration: Option<usize>) -> Result<Vec<PathBuf>, String> {
    let run = record::read(run_dir).map_err(|e| e.to_string())?;
    let record = run.stage(stage).ok_or_else(|| {
        let names: Vec<&str> = run.stages.iter().map(|s| s.name.as_str()).collect();
        format!("run {} has no stage `{stage}`; its stages: {}", run.run_id, names.join(", "))
    })?;
    let instance = record
        .instances
        .iter()
        .find(|i| i.iteration == iteration)
        .ok_or_else(|| format!("`{stage}` has no such iteration in run {}", run.run_id))?;
    if instance.logs.is_empty() {
        return Err(format!("`{stage}` has no logs in run {} (it {})", run.run_id, instance.state.label()));
    }
    Ok(instance.logs.iter().map(|l| run_dir.join(l)).collect())
}

fn stage_finished(run_dir: &Path, stage: &str, iteration: Option<usize>) -> bool {
    let Ok(run) = record::read(run_dir) else { return true };
    if run.state != RunState::Running {
        return true;
    }
    // A stage whose instances do not exist yet (waiting on its loop's items) has not finished.
    run.stage(stage).is_none_or(|s| {
        !s.instances.is_empty()
            && s.instances.iter().find(|i| i.iteration == iteration).is_none_or(|i| i.state.is_done())
    })
}

/// Rows as left-aligned columns two spaces apart.
pub(crate) fn table<R: AsRef<[String]>>(rows: &[R]) -> String {
    let columns = rows.iter().map(|r| r.as_ref().len()).max().unwrap_or(0);
    let widths: Vec<usize> = (0..columns)
        .map(|c| rows.iter().filter_map(|r| r.as_ref().get(c)).map(|cell| cell.chars().count()).max().unwrap_or(0))
        .collect();
    let mut out = String::new();
    for row in rows {
        let cells: Vec<String> = row.as_ref().iter().zip(&widths).map(|(cell, w)| format!("{cell:<w$}")).collect();
        out.push_str(cells.join("  ").trim_end());
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::{table, with_notes};

    #[test]
    fn a_long_stage_message_goes_under_its_row_and_leaves_the_columns_sized_to_their_cells() {
        let rows = vec![
            ["stage".to_string(), "state".into()],
            ["prepare".to_string(), "failed".into()],
            ["train".to_string(), "skipped".into()],
        ];
        let message = "the process exited with 1; its last line: Traceback (most recent call last): x".repeat(2);
        let out = with_notes(&table(&rows), &[Some(message.clone()), None]);
        assert_eq!(out, format!("stage    state\nprepare  failed\n  {message}\ntrain    skipped\n"));
    }
}
