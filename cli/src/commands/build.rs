//! `kfl build`: compile a file to Kubernetes manifests, a KFP pipeline and the execution plan, written atomically into a folder kfl owns.

use std::path::PathBuf;

use kfl_compiler::codegen;
use kfl_compiler::diagnostics::render;
use kfl_compiler::ir::bind::BindOptions;

use crate::{Status, build_output};

/// Compile a .kfl file to manifests/, kustomization.yaml, pipeline.yaml and plan.json.
///
/// Example: `kfl build examples/iris/iris.kfl -o build/iris -p epochs=50`
#[derive(clap::Args, Debug)]
pub struct Args {
    file: PathBuf,
    /// Output folder: new, empty, or an earlier kfl build (marked by its `.kfl-build` stamp); replaced
    /// only when the build succeeds, and only the files kfl wrote are ever deleted.
    #[arg(short, long, value_name = "DIR")]
    output: PathBuf,
    /// Override a param: `-p NAME=VALUE` (repeatable).
    #[arg(short = 'p', long = "param", value_name = "NAME=VALUE", value_parser = parse_param)]
    params: Vec<(String, String)>,
    /// The image with the `kfl` binary that launcher tasks, the retraining CronJob and the retrain receiver run;
    /// wins over `project.launcher_image` (default: ghcr.io/kfl-dev/kfl:VERSION of this kfl).
    #[arg(long, value_name = "IMAGE", value_parser = parse_launcher_image)]
    launcher_image: Option<String>,
}

/// `--launcher-image`: refused before anything is compiled when the kubelet could not pull by it.
pub fn parse_launcher_image(text: &str) -> Result<String, String> {
    match codegen::image_reference::problem(text) {
        None => Ok(text.to_string()),
        Some(problem) => Err(format!("not a container image reference: {problem}")),
    }
}

pub fn parse_param(text: &str) -> Result<(String, String), String> {
    let (name, value) = text.split_once('=').ok_or_else(|| format!("expected NAME=VALUE, found `{text}`"))?;
    Ok((name.trim().to_string(), value.to_string()))
}

pub fn run(args: Args) -> Status {
    let bind = BindOptions { params: args.params, require_all: true };
    let (sources, mut checked) = match super::check_one_for(&args.file, &bind, true) {
        Ok(checked) => checked,
        Err(status) => return status,
    };
    // The syntax trees are not needed past the checker: they are freed on a helper thread while the back ends
    // run, so a large build's peak does not hold them beside its outputs (bench/memory.sh).
    let modules = std::mem::take(&mut checked.modules);
    let _ = std::thread::Builder::new().spawn(move || drop(modules));
    let Some(program) = checked.program() else { return Status::UserErrors };
    let base = args.file.parent().unwrap_or(std::path::Path::new("."));
    let staged = match super::stage::stage(program, base) {
        Ok(staged) => staged,
        Err(diagnostics) => {
            eprintln!("{}", render::render_all(&sources, &diagnostics, super::text_style()));
            return Status::UserErrors;
        }
    };
    let prepared = match codegen::prepare(
        program,
        &codegen::BuildOptions { launcher_image: args.launcher_image, ..staged.options() },
    ) {
        Ok(prepared) => prepared,
        Err(diagnostics) => {
            eprintln!("{}", render::render_all(&sources, &diagnostics, super::text_style()));
            return Status::UserErrors;
        }
    };
    // The files are produced into the output folder one at a time (`Prepared::write`): a large build never
    // holds them all (bench/memory.sh).
    let produce = |sink: &mut dyn codegen::Sink| prepared.write(sink);
    let status = match build_output::write(&args.output, &args.file, &staged.copies, produce) {
        Ok(written) => {
            for note in written.notes {
                eprintln!("note: {note}");
            }
            eprintln!("wrote {} files to {}", written.files, args.output.display());
            if !staged.copies.is_empty() {
                let stage_dir = args.output.join(codegen::staging::STAGE_DIR);
                eprintln!(
                    "staged {} local dataset file(s) in {}; `kfl apply` uploads them, or upload them yourself before \
                     a run:\n  {}",
                    staged.copies.len(),
                    stage_dir.display(),
                    super::stage::upload_command(&stage_dir, &codegen::staging::object_store(program.project.as_ref()))
                );
            }
            for (name, source) in &staged.absent {
                let uri = program.datasets.iter().find(|d| &d.name == name).map_or("", |d| d.uri.as_str());
                let path = codegen::staging::unhashed_path(name, uri);
                eprintln!(
                    "warning: dataset `{name}`: {} does not exist, so nothing was staged for it; the pipeline \
                     imports {}: put the data there before a run",
                    source.display(),
                    codegen::staging::under_root(program, &path)
                );
            }
            Status::Ok
        }
        Err(message) => {
            eprintln!("error: {message}; {} was left as it was", args.output.display());
            Status::Usage
        }
    };
    // The process ends here: freeing the syntax trees, the program and the outputs node by node would only
    // cost time (as in `kfl check`; about 5 % of a 1,000-stage build).
    std::mem::forget((checked, sources));
    status
}
