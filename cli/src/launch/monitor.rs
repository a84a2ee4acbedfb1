//! `kfl launch monitor`: create or replace the monitor's PrometheusRule (it has no status to wait for).

use indexmap::IndexMap;

use super::Result;
use super::cluster::{self, Cluster, Created, Kind};
use super::markers::ManifestArgs;

const PROMETHEUS_RULE: Kind = kfl_compiler::codegen::launcher::PROMETHEUS_RULE;
/// Where the rule records the URL of the service it watches (the rules select it by labels; this is for people).
const SERVICE_URL_ANNOTATION: &str = "kfl.dev/service-url";

#[derive(clap::Args, Debug)]
pub struct Args {
    #[command(flatten)]
    manifest: ManifestArgs,
    /// The watched service's URL, recorded on the rule as the `kfl.dev/service-url` annotation.
    #[arg(long = "service-url", value_name = "URL")]
    service_url: Option<String>,
}

pub async fn run(args: Args) -> Result<()> {
    if !args.manifest.has_manifest() {
        eprintln!("the monitor has no rules: no PrometheusRule to create (its schedule is a CronJob in the manifests)");
        return Ok(());
    }
    let manifest = args.manifest.manifest(IndexMap::new())?;
    let cluster = if args.manifest.dry_run {
        None
    } else {
        Some(Cluster::connect(args.manifest.namespace.as_deref(), &manifest).await?)
    };
    let namespace = match &cluster {
        Some(cluster) => cluster.namespace.clone(),
        None => Cluster::namespace_offline(args.manifest.namespace.as_deref(), &manifest)?,
    };
    let mut object = cluster::prepare(PROMETHEUS_RULE, manifest, &namespace, args.manifest.run_id.as_deref())?;
    if let Some(url) = &args.service_url {
        object.metadata.annotations.get_or_insert_default().insert(SERVICE_URL_ANNOTATION.to_string(), url.clone());
    }
    let Some(cluster) = cluster else { return cluster::print(&object) };
    let name = cluster::name_of(&object);
    match cluster::create_or_replace(&cluster.api(PROMETHEUS_RULE), PROMETHEUS_RULE, &object).await? {
        Created::New => eprintln!("created PrometheusRule {}/{name}", cluster.namespace),
        Created::Adopted => eprintln!("replaced PrometheusRule {}/{name}", cluster.namespace),
    }
    Ok(())
}
