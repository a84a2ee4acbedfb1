//! `kfl models`: list, show and archive the versions in a project's model registry (local, or a Kubeflow Model
//! Registry server with `--registry URL`).

use std::path::{Path, PathBuf};

use kfl_runtime::registry::{self, ModelStore, ModelVersionRecord, RegisteredModelRecord, RegistryError};

use crate::Status;

/// Inspect and manage registered models.
///
/// The local registry is `.kfl/registry.db` in the project folder. Examples: `kfl models list`,
/// `kfl models show iris 2 --format json`, `kfl models archive iris 1 --registry http://localhost:8080`
#[derive(clap::Args, Debug)]
pub struct Args {
    #[command(subcommand)]
    action: Action,
    /// Project folder, or a .kfl file in it; the current folder by default.
    #[arg(long, global = true, value_name = "PATH", default_value = ".")]
    dir: PathBuf,
    /// Use the Kubeflow Model Registry server at URL (http://HOST:PORT) instead of the local registry;
    /// `KFL_REGISTRY_TOKEN`, when set, is sent as a bearer token.
    #[arg(long, global = true, value_name = "URL")]
    registry: Option<String>,
    #[arg(long, global = true, value_enum, default_value_t = Format::Table)]
    format: Format,
}

#[derive(clap::Subcommand, Debug)]
enum Action {
    /// Every registered model with its number of versions and the latest one.
    List,
    /// The versions of a model, or one version in detail.
    Show {
        name: String,
        #[arg(value_name = "VERSION")]
        model_version: Option<String>,
    },
    /// Mark a version ARCHIVED, so serving no longer picks it.
    Archive {
        name: String,
        #[arg(value_name = "VERSION")]
        model_version: String,
    },
}

#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
enum Format {
    Table,
    Json,
}

pub fn run(args: Args) -> Status {
    match execute(&args) {
        Ok(output) => {
            print!("{output}");
            Status::Ok
        }
        Err(err) => {
            eprintln!("error: {err}");
            if err.is_user_error() { Status::UserErrors } else { Status::Usage }
        }
    }
}

/// A `.kfl` file stands for the folder it is in, like the other commands that take a file.
fn project_dir(path: &Path) -> PathBuf {
    if path.is_file() {
        path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new(".")).to_path_buf()
    } else {
        path.to_path_buf()
    }
}

fn open(args: &Args) -> Result<Option<Box<dyn ModelStore>>, RegistryError> {
    let dir = project_dir(&args.dir);
    match &args.registry {
        Some(url) => {
            let mut client =
                registry::RestRegistry::new(url)?.with_content_store(registry::ContentStore::in_project(&dir));
            if let Some(token) = std::env::var("KFL_REGISTRY_TOKEN").ok().filter(|t| !t.is_empty()) {
                client = client.with_bearer_token(token);
            }
            Ok(Some(Box::new(client)))
        }
        // Reading must not create a registry where there is none, nor write anything (it works on a full disk).
        None if matches!(args.action, Action::List | Action::Show { .. }) => {
            Ok(registry::Registry::open_read_only(&dir)?.map(|r| Box::new(r) as Box<dyn ModelStore>))
        }
        None if !dir.join(".kfl").join("registry.db").is_file() => Ok(None),
        None => Ok(Some(Box::new(registry::Registry::open(&dir)?))),
    }
}

fn execute(args: &Args) -> Result<String, RegistryError> {
    let store = open(args)?;
    let json = args.format == Format::Json;
    match &args.action {
        Action::List => {
            let models = match &store {
                Some(store) => store.list_models()?,
                None => Vec::new(),
            };
            Ok(if json { to_json(&models)? } else { models_table(&models) })
        }
        Action::Show { name, model_version: version } => {
            let store = store.ok_or_else(|| RegistryError::ModelNotFound { model: name.clone() })?;
            match version {
                Some(version) => {
                    let record = store.version(name, Some(version))?;
                    Ok(if json { to_json(&record)? } else { version_details(&record) })
                }
                None => {
                    let versions = store.versions(name)?;
                    Ok(if json { to_json(&versions)? } else { versions_table(&versions) })
                }
            }
        }
        Action::Archive { name, model_version: version } => {
            let mut store = store.ok_or_else(|| RegistryError::ModelNotFound { model: name.clone() })?;
            let record = store.archive(name, version)?;
            Ok(if json { to_json(&record)? } else { format!("archived {} version {}\n", record.model, record.version) })
        }
    }
}

fn to_json<T: serde::Serialize + ?Sized>(value: &T) -> Result<String, RegistryError> {
    serde_json::to_string_pretty(value)
        .map(|text| text + "\n")
        .map_err(|err| RegistryError::Corrupt { what: format!("could not print as JSON: {err}") })
}

fn models_table(models: &[RegisteredModelRecord]) -> String {
    let rows = models
        .iter()
        .map(|m| {
            vec![
                m.name.clone(),
                m.state.to_string(),
                m.version_count.to_string(),
                m.latest_version.clone().unwrap_or_else(|| "-".into()),
                utc(m.update_time_ms),
            ]
        })
        .collect::<Vec<_>>();
    table(&["NAME", "STATE", "VERSIONS", "LATEST", "UPDATED"], &rows)
}

fn versions_table(versions: &[ModelVersionRecord]) -> String {
    let rows = versions
        .iter()
        .map(|v| {
            vec![
                v.version.clone(),
                v.state.to_string(),
                format_of(v),
                artifact_of(v),
                utc(v.create_time_ms),
                v.lineage.run_id.clone().unwrap_or_else(|| "-".into()),
            ]
        })
        .collect::<Vec<_>>();
    table(&["VERSION", "STATE", "FORMAT", "ARTIFACT", "CREATED", "RUN"], &rows)
}

fn format_of(version: &ModelVersionRecord) -> String {
    let format = &version.artifact.format;
    match (&format.name, &format.version) {
        (Some(name), Some(v)) => format!("{name}:{v}"),
        (Some(name), None) => name.clone(),
        _ => "-".into(),
    }
}

/// A short digest when the registry holds a copy, the URI otherwise.
fn artifact_of(version: &ModelVersionRecord) -> String {
    match &version.artifact.digest {
        Some(digest) => format!("sha256:{}", digest.get(..12).unwrap_or(digest)),
        None => version.artifact.uri.clone(),
    }
}

fn version_details(v: &ModelVersionRecord) -> String {
    let mut rows: Vec<Vec<String>> = vec![
        vec!["model".into(), v.model.clone()],
        vec!["version".into(), v.version.clone()],
        vec!["state".into(), v.state.to_string()],
    ];
    if let Some(description) = &v.description {
        rows.push(vec!["description".into(), description.clone()]);
    }
    rows.push(vec!["format".into(), format_of(v)]);
    rows.push(vec!["uri".into(), v.artifact.uri.clone()]);
    if let Some(digest) = &v.artifact.digest {
        rows.push(vec!["sha256".into(), digest.clone()]);
    }
    rows.push(vec!["created".into(), utc(v.create_time_ms)]);
    rows.push(vec!["updated".into(), utc(v.update_time_ms)]);
    if let Some(run_id) = &v.lineage.run_id {
        rows.push(vec!["run".into(), run_id.clone()]);
    }
    if let Some(stage) = &v.lineage.stage {
        rows.push(vec!["stage".into(), stage.clone()]);
    }
    let sections: [(&str, Vec<(String, String)>); 4] = [
        ("label", v.labels.iter().map(|(k, x)| (k.clone(), x.clone())).collect()),
        ("param", v.params.iter().map(|(k, x)| (k.clone(), x.to_string())).collect()),
        ("metric", v.metrics.iter().map(|(k, x)| (k.clone(), x.to_string())).collect()),
        ("input", v.lineage.input_hashes.iter().map(|(k, x)| (k.clone(), x.clone())).collect()),
    ];
    for (kind, entries) in sections {
        for (key, value) in entries {
            rows.push(vec![format!("{kind} {key}"), value]);
        }
    }
    table(&[], &rows)
}

/// Columns padded to their widest cell, two spaces apart; no trailing spaces.
fn table(headers: &[&str], rows: &[Vec<String>]) -> String {
    let mut all: Vec<Vec<String>> = Vec::with_capacity(rows.len() + 1);
    if !headers.is_empty() {
        all.push(headers.iter().map(|h| h.to_string()).collect());
    }
    all.extend(rows.iter().cloned());
    let columns = all.iter().map(Vec::len).max().unwrap_or(0);
    let widths: Vec<usize> = (0..columns)
        .map(|c| all.iter().filter_map(|r| r.get(c)).map(|s| s.chars().count()).max().unwrap_or(0))
        .collect();
    let mut out = String::new();
    for row in &all {
        let mut line = String::new();
        for (c, cell) in row.iter().enumerate() {
            line.push_str(cell);
            if c + 1 < row.len() {
                line.push_str(&" ".repeat(widths[c] - cell.chars().count() + 2));
            }
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

/// `YYYY-MM-DDTHH:MM:SSZ` from milliseconds since the epoch (civil-from-days, proleptic Gregorian).
fn utc(ms: i64) -> String {
    let seconds = ms.div_euclid(1000);
    let (days, rest) = (seconds.div_euclid(86_400), seconds.rem_euclid(86_400));
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!("{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z", rest / 3600, rest % 3600 / 60, rest % 60)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utc_formats_known_instants() {
        assert_eq!(utc(0), "1970-01-01T00:00:00Z");
        assert_eq!(utc(951_782_400_000), "2000-02-29T00:00:00Z");
        assert_eq!(utc(1_700_000_000_123), "2023-11-14T22:13:20Z");
    }

    #[test]
    fn tables_align_columns_without_trailing_spaces() {
        let rows = vec![vec!["iris".to_string(), "1".to_string()], vec!["a".to_string(), "12".to_string()]];
        assert_eq!(table(&["NAME", "N"], &rows), "NAME  N\niris  1\na     12\n");
    }
}
