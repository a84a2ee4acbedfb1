//! RBAC for the pipeline's launcher tasks: a Role with exactly the verbs `kfl launch` uses on the kinds this project launches, bound to the service account(s) the pipeline's runs execute as.
//!
//! The tasks run as the run's service account: KFP 2.17 takes it per run (`service_account` of a v2beta1
//! `Run`, backend/api/v2beta1/run.proto; `kfp run create --service-account`); the kfp-kubernetes
//! `KubernetesExecutorConfig` has no per-task field for it. With `project.service_account` the Role is bound
//! to that account and `kfl launch retrain` (the monitor's CronJob and receiver) starts runs as it. Without
//! it the Role is bound to the accounts KFP runs as by default: `default-editor` in a Kubeflow profile
//! namespace (created by the profile controller, kubeflow/kubeflow components/profile-controller) and
//! `pipeline-runner` in standalone KFP (manifests/kustomize/base/pipeline/pipeline-runner-sa.yaml). kfl
//! creates no ServiceAccount of its own: the account also needs what KFP's own driver and executor pods
//! need (Argo's `workflowtaskresults`, the launcher ConfigMap, the object-store Secret), which depends on the
//! installation, and those defaults already have it. `default-editor` (aggregated `kubeflow-edit`) has no
//! rights on `monitoring.coreos.com`, and `pipeline-runner` none on Trainer, Katib or KServe: this Role adds
//! exactly those.

use std::collections::BTreeMap;

use k8s_openapi::api::rbac::v1::{PolicyRule, Role, RoleBinding, RoleRef, Subject};

use super::kserve;
use super::launcher::{self, LaunchedKind};
use super::staging;
use super::{Context, Manifest};
use crate::ir;

/// The kinds the project's pipeline launches, in lifecycle order.
pub fn launched_kinds(program: &ir::Program) -> Vec<&'static LaunchedKind> {
    let mut kinds = Vec::new();
    if program.stages.iter().any(|s| s.kind == ir::StageKind::Train && s.trial_of.is_none()) {
        kinds.push(&launcher::TRAINJOB);
    }
    if !program.tunes.is_empty() {
        kinds.push(&launcher::EXPERIMENT);
    }
    if !program.serves.is_empty() {
        kinds.push(&launcher::INFERENCE_SERVICE);
    }
    if !program.monitors.is_empty() {
        kinds.push(&launcher::PROMETHEUS_RULE);
    }
    kinds
}

/// The accounts KFP runs a pipeline's pods as when the run names none.
pub const DEFAULT_RUN_ACCOUNTS: &[&str] = &["default-editor", "pipeline-runner"];

/// `project.service_account`: the account runs must execute as, which `kfl launch retrain` passes.
pub fn service_account(context: &Context<'_>) -> Option<String> {
    context.program.project.as_ref().and_then(|p| p.service_account.clone())
}

/// The Role's rules: one per launched kind, then one per resource read, verbs merged per (group, resource).
pub fn rules(kinds: &[&LaunchedKind]) -> Vec<PolicyRule> {
    let mut merged: BTreeMap<(&str, &str), Vec<&str>> = BTreeMap::new();
    let mut order = Vec::new();
    let mut add = |group: &'static str, resource: &'static str, verbs: &[&'static str]| {
        let entry = merged.entry((group, resource)).or_insert_with(|| {
            order.push((group, resource));
            Vec::new()
        });
        for verb in verbs {
            if !entry.contains(verb) {
                entry.push(verb);
            }
        }
    };
    for kind in kinds {
        add(kind.group, kind.plural, kind.verbs);
    }
    for kind in kinds {
        for (group, resource, verbs) in kind.reads {
            add(group, resource, verbs);
        }
    }
    order
        .into_iter()
        .map(|key| PolicyRule {
            api_groups: Some(vec![key.0.to_string()]),
            resources: Some(vec![key.1.to_string()]),
            verbs: merged[&key].iter().map(|v| v.to_string()).collect(),
            ..PolicyRule::default()
        })
        .collect()
}

/// What `kfl launch inferenceservice` adds for serves that read the project's object store: reading that one
/// Secret, and server-side applying the Secret and ServiceAccount `account` (`kserve::s3_account`). An apply
/// that creates its object is authorized as `create` too, with the object's name (`PatchResource` in
/// `pkg/endpoints/handlers/patch.go`, k8s.io/apiserver v0.34.5), so both verbs are bound to that name.
pub fn object_store_rules(secret: &str, account: &str) -> Vec<PolicyRule> {
    vec![
        PolicyRule {
            api_groups: Some(vec![String::new()]),
            resources: Some(vec!["secrets".into()]),
            resource_names: Some(vec![secret.to_string()]),
            verbs: vec!["get".into()],
            ..PolicyRule::default()
        },
        PolicyRule {
            api_groups: Some(vec![String::new()]),
            resources: Some(vec!["secrets".into(), "serviceaccounts".into()]),
            resource_names: Some(vec![account.to_string()]),
            verbs: vec!["create".into(), "patch".into()],
            ..PolicyRule::default()
        },
    ]
}

pub(crate) fn manifests(context: &Context<'_>) -> Vec<Manifest> {
    let kinds = launched_kinds(context.program);
    if kinds.is_empty() {
        return Vec::new();
    }
    let accounts = match service_account(context) {
        Some(account) => vec![account],
        None => DEFAULT_RUN_ACCOUNTS.iter().map(|a| a.to_string()).collect(),
    };
    let name = format!("{}-launcher", context.project);
    let mut out = Vec::new();
    let mut rules = rules(&kinds);
    let program = context.program;
    if program.serves.iter().any(|serve| kserve::writes_s3_account(program, serve)) {
        let secret = staging::object_store(program.project.as_ref()).secret_name;
        rules.extend(object_store_rules(&secret, &kserve::s3_account(&context.project)));
    }
    let role = Role { metadata: context.metadata(&name), rules: Some(rules) };
    out.push(Manifest::from_typed("Role", &name, &role));
    let binding = RoleBinding {
        metadata: context.metadata(&name),
        role_ref: RoleRef { api_group: "rbac.authorization.k8s.io".into(), kind: "Role".into(), name: name.clone() },
        subjects: Some(
            accounts
                .into_iter()
                .map(|account| Subject {
                    kind: "ServiceAccount".into(),
                    name: account,
                    namespace: context.namespace.clone(),
                    ..Subject::default()
                })
                .collect(),
        ),
    };
    out.push(Manifest::from_typed("RoleBinding", &name, &binding));
    out
}

#[cfg(test)]
mod tests {
    use crate::codegen::{BuildOptions, Context};
    use crate::source::{MemoryLoader, Origin, SourceFile, Sources};

    /// The RBAC manifests and the retraining CronJob's args of `project` + a train, a serve and a scheduled monitor.
    fn build(project: &str) -> (Vec<(String, serde_json::Value)>, serde_json::Value) {
        let text = format!(
            "{project}\n\
             train fit -> (model: Model) {{ framework = torch, run = [\"python3\", \"fit.py\", model] }}\n\
             model clf {{ artifact = fit.model, format = \"sklearn\" }}\n\
             serve svc {{ model = clf, runtime = sklearn }}\n\
             monitor watch {{ service = svc, schedule = \"0 3 * * 1\" }}\n"
        );
        let mut sources = Sources::new();
        let main = sources.add(SourceFile::new("main.kfl", text.as_str(), Origin::User));
        let checked = crate::check(&mut sources, main, &MemoryLoader::default());
        let program = checked.program().unwrap_or_else(|| panic!("check failed: {:?}", checked.diagnostics));
        let context = Context::new(program, &BuildOptions::default());
        let rbac = super::manifests(&context).into_iter().map(|m| (m.file_name(), m.object)).collect();
        let cron = crate::codegen::monitoring::manifests(&context, &mut Vec::new())
            .into_iter()
            .find(|m| m.kind == "CronJob")
            .expect("a CronJob");
        (rbac, cron.object["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"][0]["args"].clone())
    }

    #[test]
    fn the_role_covers_the_launched_kinds_and_binds_the_runs_account() {
        let (rbac, args) = build("project shop { namespace = \"ml\", image = \"python:3.12\" }");
        let files: Vec<&str> = rbac.iter().map(|(f, _)| f.as_str()).collect();
        assert_eq!(files, ["role-shop-launcher.yaml", "rolebinding-shop-launcher.yaml"]);
        let resources: Vec<&str> =
            rbac[0].1["rules"].as_array().unwrap().iter().map(|r| r["resources"][0].as_str().unwrap()).collect();
        assert_eq!(
            resources,
            ["trainjobs", "inferenceservices", "prometheusrules", "pods", "pods/log", "secrets", "secrets"]
        );
        // The serve reads KFP's object store: the launcher reads its Secret and writes KServe's s3 form.
        assert_eq!(
            rbac[0].1["rules"][5],
            serde_json::json!({"apiGroups": [""], "resourceNames": ["mlpipeline-minio-artifact"], "resources": ["secrets"], "verbs": ["get"]})
        );
        assert_eq!(
            rbac[0].1["rules"][6],
            serde_json::json!({"apiGroups": [""], "resourceNames": ["shop-kserve-s3"], "resources": ["secrets", "serviceaccounts"], "verbs": ["create", "patch"]})
        );
        let subjects: Vec<&str> =
            rbac[1].1["subjects"].as_array().unwrap().iter().map(|s| s["name"].as_str().unwrap()).collect();
        assert_eq!(subjects, super::DEFAULT_RUN_ACCOUNTS);
        assert!(!args.to_string().contains("--service-account"), "runs keep KFP's default account: {args}");

        let (rbac, args) =
            build("project shop { namespace = \"ml\", image = \"python:3.12\", service_account = \"ml-runs\" }");
        assert_eq!(
            rbac[1].1["subjects"],
            serde_json::json!([{"kind": "ServiceAccount", "name": "ml-runs", "namespace": "ml"}])
        );
        let args: Vec<&str> = args.as_array().unwrap().iter().filter_map(|a| a.as_str()).collect();
        assert!(args.windows(2).any(|w| w == ["--service-account", "ml-runs"]), "{args:?}");
    }

    #[test]
    fn serves_of_models_on_s3_or_in_a_registry_read_no_object_store_secret() {
        for project in [
            "project shop { image = \"python:3.12\" }\nmodel clf { uri = \"s3://models/clf\", format = \"sklearn\" }",
            "project shop { image = \"python:3.12\", registry = \"http://mr:8080\" }\nmodel clf { uri = \"minio://m/clf\", format = \"sklearn\" }",
        ] {
            let text = format!("{project}\nserve svc {{ model = clf, runtime = sklearn }}\n");
            let mut sources = Sources::new();
            let main = sources.add(SourceFile::new("main.kfl", text.as_str(), Origin::User));
            let checked = crate::check(&mut sources, main, &MemoryLoader::default());
            let program = checked.program().expect("checks");
            let rbac = super::manifests(&Context::new(program, &BuildOptions::default()));
            assert!(!rbac[0].object.to_string().contains("secrets"), "{text}: {}", rbac[0].object);
        }
    }

    #[test]
    fn a_project_that_launches_nothing_gets_no_rbac() {
        let mut sources = Sources::new();
        let text = "project p { image = \"python:3.12\" }\nstep s { run = [\"s\"] }\n";
        let main = sources.add(SourceFile::new("main.kfl", text, Origin::User));
        let checked = crate::check(&mut sources, main, &MemoryLoader::default());
        let program = checked.program().expect("checks");
        assert!(super::manifests(&Context::new(program, &BuildOptions::default())).is_empty());
    }
}
