//! The Trainer and KServe rules the checker applies to every program: what kfl would emit that the upstream webhooks or servers refuse.
//!
//! Each rule reads its fact from the back end that encodes it (the shipped
//! ClusterTrainingRuntimes in `trainer.rs`, the protocols per ServingRuntime
//! in `kserve.rs`), so the checker and the manifests cannot disagree. The
//! rules run in `crate::check` once the program has no other errors, so
//! `kfl check`, `kfl run`, `kfl build` and the language server refuse the same
//! programs.

use std::collections::HashSet;

use super::manifest::kubernetes_name;
use super::{kserve, trainer};
use crate::diagnostics::{Code, Diagnostic, Label};
use crate::ir::{self, ModelSource};

/// The refusals, in declaration order within each rule.
pub(crate) fn check(program: &ir::Program) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    training_runtimes(program, &mut out);
    torchrun_reserved_env(program, &mut out);
    serving_protocols(program, &mut out);
    claims(program, &mut out);
    runtime_patch_managers(program, &mut out);
    out.extend(super::scheduling::check(program));
    out
}

/// A `train` (a trial template too) whose framework has no ClusterTrainingRuntime in Trainer v2.3.0 must name
/// one: the TrainJob webhook refuses a `runtimeRef` to a runtime that does not exist.
fn training_runtimes(program: &ir::Program, out: &mut Vec<Diagnostic>) {
    let mut seen = HashSet::new();
    for stage in &program.stages {
        let Some(train) = &stage.train else { continue };
        if trainer::runtime_name(train).is_none() && seen.insert(stage.span) {
            out.push(trainer::runtime_required(stage));
        }
    }
}

/// The torch plugin's webhook refuses a TrainJob whose trainer env sets a variable it reserves for torchrun
/// (kubeflow/trainer v2.3.0 `pkg/runtime/framework/plugins/torch/torch.go` `Validate`,
/// `pkg/constants/constants.go` `TorchRunReservedEnvNames`): it sets them itself, as `kfl run` does.
fn torchrun_reserved_env(program: &ir::Program, out: &mut Vec<Diagnostic>) {
    let mut seen = HashSet::new();
    for stage in &program.stages {
        let Some(train) = stage.train.as_ref().filter(|t| t.framework == ir::Framework::Torch) else { continue };
        let secret_keys = stage
            .secrets
            .iter()
            .filter_map(|name| program.secrets.iter().find(|s| &s.name == name))
            .flat_map(|secret| secret.keys.iter());
        let reserved: Vec<&str> = stage
            .env
            .keys()
            .chain(secret_keys)
            .map(String::as_str)
            .filter(|name| trainer::TORCHRUN_RESERVED_ENV.contains(name))
            .collect();
        if reserved.is_empty() || trainer::runtime_name(train).is_some_and(|r| r.starts_with("torchtune-")) {
            continue;
        }
        if !seen.insert(stage.span) {
            continue;
        }
        out.push(
            Diagnostic::error(
                Code::OutOfRange,
                format!("`train {}` sets {}, which Trainer's torch plugin reserves", stage.name, reserved.join(", ")),
                Label::new(stage.span, "in this train's env or secrets"),
            )
            .with_help("remove them: the node count, ranks and rendezvous come from `nodes` and `procs_per_node`")
            .with_note(
                "kubeflow/trainer v2.3.0 refuses a TrainJob whose env sets torchrun's reserved PET_* variables \
                 (plugins/torch/torch.go, constants.TorchRunReservedEnvNames)",
            ),
        );
    }
}

/// A serve's `protocol` must be one its runtime's ServingRuntime serves: KServe picks the ServingRuntime by
/// model format *and* protocol, so `tensorflow` with `v2` selects Triton (which cannot load a SavedModel
/// directory laid out for TF Serving) and `triton`/`onnx` with `v1` selects none.
fn serving_protocols(program: &ir::Program, out: &mut Vec<Diagnostic>) {
    for serve in &program.serves {
        let Some((server, protocols)) = kserve::runtime_protocols(serve.runtime) else { continue };
        if protocols.contains(&serve.protocol) {
            continue;
        }
        let names: Vec<&str> = protocols.iter().map(|p| p.name()).collect();
        out.push(
            Diagnostic::error(
                Code::OutOfRange,
                format!(
                    "`serve {}`: KServe's `{server}` runtime does not serve protocol `{}`",
                    serve.name, serve.protocol
                ),
                Label::new(serve.span, format!("`runtime = {}` with `protocol = {}`", serve.runtime, serve.protocol)),
            )
            .with_help(format!(
                "use `protocol = {}`, or leave `protocol` out (the default is `{}`)",
                names.join("` or `protocol = "),
                protocols[0]
            ))
            .with_note(format!(
                "the ServingRuntime `{server}` of KServe v0.20.0 (config/runtimes/) lists protocolVersions {}",
                names.join(", ")
            )),
        );
    }
}

/// `pvc://NAME/…` (a dataset's or a model's URI) must name a declared `volume`: kfl creates the claims of
/// its volumes and no other, and KServe's storage initializer and the pods fail on a claim that is missing.
fn claims(program: &ir::Program, out: &mut Vec<Diagnostic>) {
    let uris = program.datasets.iter().map(|d| (format!("dataset `{}`", d.name), d.uri.as_str(), d.span)).chain(
        program.models.iter().filter_map(|m| match &m.source {
            ModelSource::Uri { uri } => Some((format!("model `{}`", m.name), uri.as_str(), m.span)),
            ModelSource::Artifact { .. } => None,
        }),
    );
    for (owner, uri, span) in uris {
        let Some(claim) = uri.strip_prefix("pvc://").map(|rest| rest.split('/').next().unwrap_or_default()) else {
            continue;
        };
        if program.volumes.iter().any(|v| v.name == claim || kubernetes_name(&v.name) == claim) {
            continue;
        }
        let declared: Vec<&str> = program.volumes.iter().map(|v| v.name.as_str()).collect();
        // The claim of `volume a_b` is `a-b`: suggest the declaration's spelling.
        let volume = claim.replace('-', "_");
        out.push(
            Diagnostic::error(
                Code::UnknownName,
                format!("{owner} reads `pvc://{claim}/…`, but no `volume {volume}` is declared"),
                Label::new(span, "names an undeclared volume"),
            )
            .with_help(if declared.is_empty() {
                format!("declare it: `volume {volume} {{ size = 10Gi }}`")
            } else {
                format!("declare `volume {volume} {{ … }}`, or use one of: {}", declared.join(", "))
            })
            .with_note("`pvc://VOLUME/path` reads from a volume of the program; kfl creates its claim"),
        );
    }
}

/// Each entry of a user's `k8s { spec.runtimePatches = [...] }` on a train needs a `manager` that is a
/// domain-prefixed path (`acme.io/foo`): kubeflow/trainer v2.3.0 `pkg/runtime/framework/plugins/jobset/jobset.go`
/// `Validate` calls apimachinery's `validation.IsDomainPrefixedPath` on it and refuses the TrainJob otherwise.
fn runtime_patch_managers(program: &ir::Program, out: &mut Vec<Diagnostic>) {
    for stage in program.stages.iter().filter(|s| s.train.is_some()) {
        for patch in stage.patches.iter().filter(|p| p.path == ["spec", "runtimePatches"]) {
            let ir::Value::List(entries) = &patch.value else { continue };
            for entry in entries {
                let ir::Value::Object(fields) = entry else { continue };
                let manager = match fields.get("manager") {
                    Some(ir::Value::String(m)) => m.as_str(),
                    _ => "",
                };
                if is_domain_prefixed_path(manager) {
                    continue;
                }
                out.push(
                    Diagnostic::error(
                        Code::OutOfRange,
                        format!("runtime patch manager `{manager}` is not a domain-prefixed path"),
                        Label::new(patch.span, "Trainer's webhook refuses this TrainJob"),
                    )
                    .with_help("name the patch's owner like `example.com/my-team` (a DNS name, `/`, a path)")
                    .with_note(
                        "kubeflow/trainer v2.3.0 validates spec.runtimePatches[].manager with \
                         IsDomainPrefixedPath (plugins/jobset/jobset.go)",
                    ),
                );
            }
        }
    }
}

/// apimachinery's `IsDomainPrefixedPath` (k8s.io/apimachinery v0.36.2, the version Trainer v2.3.0 builds with,
/// `pkg/util/validation/validation.go`): a DNS-1123 subdomain (at most 253 characters, dot-separated labels of
/// lowercase letters, digits and `-`, starting and ending alphanumeric), `/`, and a non-empty path of
/// `[A-Za-z0-9/-._~%!$&'()*+,;=:]`.
fn is_domain_prefixed_path(value: &str) -> bool {
    let Some((host, path)) = value.split_once('/') else { return false };
    let label_ok = |label: &str| {
        !label.is_empty()
            && label.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
            && !label.starts_with('-')
            && !label.ends_with('-')
    };
    let host_ok = !host.is_empty() && host.len() <= 253 && host.split('.').all(label_ok);
    let path_ok =
        !path.is_empty() && path.bytes().all(|b| b.is_ascii_alphanumeric() || b"/-._~%!$&'()*+,;=:".contains(&b));
    host_ok && path_ok
}

#[cfg(test)]
mod tests {
    use super::is_domain_prefixed_path;

    #[test]
    fn domain_prefixed_paths_as_apimachinery_accepts_them() {
        for ok in ["acme.io/foo", "kfl.dev/compiler", "a/b/c", "example.com/my-team"] {
            assert!(is_domain_prefixed_path(ok), "{ok}");
        }
        for bad in ["kfl", "", "/foo", "acme.io/", "Acme.io/foo", "-a.io/x", "a..b/x", "acme.io/f oo"] {
            assert!(!is_domain_prefixed_path(bad), "{bad}");
        }
    }
}
