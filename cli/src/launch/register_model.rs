//! `kfl launch register-model`: register the trained artifact as a version in the Kubeflow Model Registry (REST, the runtime's client) and write the storage URI serving reads.

use kfl_runtime::registry::{
    ArtifactSource, ModelFormat, ModelStore, ModelVersionRecord, PropertyValue, Registration, RegistryError,
    RestRegistry,
};

use super::markers::pairs;
use super::{LaunchError, Result, outputs};

/// The metadata key carrying the pipeline run's id (lineage).
const RUN_KEY: &str = "pipeline_run";
/// Metadata keys `param.NAME` carry the run's params.
const PARAM_PREFIX: &str = "param.";

#[derive(clap::Args, Debug)]
pub struct Args {
    /// The Model Registry's REST endpoint (`project.registry`); without it nothing is registered and the artifact's
    /// own URI is the output.
    #[arg(long, value_name = "URL")]
    registry: Option<String>,
    /// The registered model's name.
    #[arg(long, value_name = "NAME")]
    name: String,
    /// The model format (`modelFormatName`).
    #[arg(long, value_name = "FORMAT")]
    format: Option<String>,
    /// The version name (default: the registry's next number).
    #[arg(long, value_name = "VERSION")]
    version: Option<String>,
    /// Where the artifact is (recorded as the ModelArtifact's URI).
    #[arg(long = "artifact-uri", value_name = "URI")]
    artifact_uri: String,
    #[arg(long, value_name = "TEXT")]
    description: Option<String>,
    /// `KEY=VALUE` labels of the version.
    #[arg(long = "label", value_name = "KEY=VALUE")]
    labels: Vec<String>,
    /// `pipeline_run=ID` (lineage) and `param.NAME=VALUE` (the run's params).
    #[arg(long = "metadata", value_name = "KEY=VALUE")]
    metadata: Vec<String>,
    /// FILE to write the version's storage URI to (`model-registry://NAME/VERSION`, what KServe reads).
    #[arg(long = "output-uri", value_name = "FILE")]
    output_uri: Option<String>,
    /// Print the registration request, and contact nothing.
    #[arg(long)]
    dry_run: bool,
    /// A bearer token for the registry (default: the `KFL_REGISTRY_TOKEN` environment variable).
    #[arg(long, value_name = "TOKEN")]
    token: Option<String>,
}

pub async fn run(args: Args) -> Result<()> {
    let request = registration(&args)?;
    if args.dry_run {
        // Our own plain structs: serialising them cannot fail.
        println!("{}", serde_json::to_string_pretty(&request).unwrap_or_default());
        return Ok(());
    }
    let Some(url) = args.registry.clone() else {
        eprintln!(
            "no model registry configured (project.registry): `{}` is served from {}",
            args.name, args.artifact_uri
        );
        if let Some(file) = &args.output_uri {
            outputs::write(file, &args.artifact_uri)?;
        }
        return Ok(());
    };
    let token = args.token.clone().or_else(|| std::env::var("KFL_REGISTRY_TOKEN").ok().filter(|t| !t.is_empty()));
    let version = tokio::task::spawn_blocking(move || register(&url, token, &request))
        .await
        .map_err(|err| LaunchError::failed(format!("the registry call stopped: {err}")))??;
    let uri = format!("model-registry://{}/{}", version.model, version.version);
    eprintln!("registered {} version {} ({uri})", version.model, version.version);
    if let Some(file) = &args.output_uri {
        outputs::write(file, &uri)?;
    }
    Ok(())
}

fn registration(args: &Args) -> Result<Registration> {
    let mut request = Registration::new(args.name.clone(), ArtifactSource::Uri(args.artifact_uri.clone()));
    request.version = args.version.clone();
    request.format = ModelFormat { name: args.format.clone(), version: None };
    request.description = args.description.clone().filter(|d| !d.is_empty());
    request.labels = pairs("--label", &args.labels)?;
    for (key, value) in pairs("--metadata", &args.metadata)? {
        if key == RUN_KEY {
            request.lineage.run_id = Some(value);
        } else if let Some(param) = key.strip_prefix(PARAM_PREFIX) {
            request.params.insert(param.to_string(), property(&value));
        } else {
            return Err(LaunchError::usage(format!(
                "`--metadata {key}=…`: expected `{RUN_KEY}=ID` or `{PARAM_PREFIX}NAME=VALUE`"
            )));
        }
    }
    Ok(request)
}

/// A param's text as the most specific registry value (KFP passes every value as text).
fn property(text: &str) -> PropertyValue {
    if let Ok(n) = text.parse::<i64>() {
        PropertyValue::Int(n)
    } else if let Some(x) = text.parse::<f64>().ok().filter(|x| x.is_finite()) {
        PropertyValue::Double(x)
    } else if let Ok(b) = text.parse::<bool>() {
        PropertyValue::Bool(b)
    } else {
        PropertyValue::String(text.to_string())
    }
}

/// Registers the version, or finds the one this run registered before (a retried task).
fn register(url: &str, token: Option<String>, request: &Registration) -> Result<ModelVersionRecord> {
    let failed = |err: RegistryError| LaunchError::failed(format!("model registry at {url}: {err}"));
    let mut registry = RestRegistry::new(url).map_err(failed)?;
    if let Some(token) = token {
        registry = registry.with_bearer_token(token);
    }
    if let Some(existing) = registered_by_this_run(&registry, request).map_err(failed)? {
        eprintln!("version {} was registered by this run before; adopting it", existing.version);
        return Ok(existing);
    }
    registry.register(request).map_err(failed)
}

fn registered_by_this_run(
    registry: &RestRegistry,
    request: &Registration,
) -> Result<Option<ModelVersionRecord>, RegistryError> {
    let Some(run) = &request.lineage.run_id else { return Ok(None) };
    let versions = match registry.versions(&request.model) {
        Ok(versions) => versions,
        Err(RegistryError::ModelNotFound { .. } | RegistryError::NoVersions { .. }) => return Ok(None),
        Err(err) => return Err(err),
    };
    let uri = match &request.artifact {
        ArtifactSource::Uri(uri) => uri.as_str(),
        ArtifactSource::Path(_) => return Ok(None),
    };
    Ok(versions.into_iter().find(|v| {
        v.lineage.run_id.as_deref() == Some(run.as_str())
            && v.artifact.uri == uri
            && request.version.as_ref().is_none_or(|wanted| *wanted == v.version)
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn params_keep_their_kind() {
        assert_eq!(property("30"), PropertyValue::Int(30));
        assert_eq!(property("0.2"), PropertyValue::Double(0.2));
        assert_eq!(property("true"), PropertyValue::Bool(true));
        assert_eq!(property("abc"), PropertyValue::String("abc".into()));
    }
}
