//! The `project` block: the file's cluster-wide settings (namespace, images, object store, KFP endpoint, run account, scheduling defaults), each checked against the rule of its reader.

use crate::ast::{self, BlockKind, ItemKind};
use crate::diagnostics::{Code, Diagnostic, Label};
use crate::ir::{self, Value};
use crate::source::Span;
use crate::typeck::Checker;
use crate::typeck::expr::Scope;
use crate::typeck::props::Allow;
use crate::typeck::schema;

impl Checker<'_> {
    /// `items`: the module's top-level declarations.
    pub(super) fn check_project(&mut self, program: &mut ir::Program, items: &[ast::Item]) {
        let project = items.iter().find_map(|item| match &item.kind {
            ItemKind::Block(block) if block.kind == BlockKind::Project => Some(block),
            _ => None,
        });
        let Some(project) = project else {
            if !self.module.imported {
                let has_stage = items.iter().any(|i| !matches!(i.kind, ItemKind::Import(_)));
                if has_stage {
                    let span = items.first().map_or(Span::default(), |i| i.span);
                    let span = Span { file: self.module.file, start: span.start, end: span.start };
                    self.diags.push(
                        Diagnostic::error(
                            Code::NotAllowedHere,
                            "a file run on its own needs a `project`",
                            Label::new(span, "no `project` in this file"),
                        )
                        .with_help("add `project NAME { image = \"…\" }`; only imported files may omit it"),
                    );
                }
            }
            return;
        };
        let props = self.props(
            &project.body,
            schema::PROJECT_SPECS,
            "`project`",
            project.name.span,
            &Scope::default(),
            Allow { mounts: false, rules: false },
        );
        if let Some(Value::String(namespace)) = props.get("namespace")
            && let Some((_, span)) = props.values.get("namespace")
        {
            self.check_dns_label(namespace, *span, "namespace", 63);
        }
        if let Some(Value::String(artifacts)) = props.get("artifacts")
            && let Some((_, span)) = props.values.get("artifacts")
        {
            self.check_artifacts(artifacts, *span);
        }
        if let Some(Value::String(endpoint)) = props.get("artifacts_endpoint")
            && let Some((_, span)) = props.values.get("artifacts_endpoint")
        {
            self.check_artifacts_endpoint(endpoint, *span);
        }
        if let Some(Value::String(image)) = props.get("launcher_image")
            && let Some((_, span)) = props.values.get("launcher_image")
        {
            self.check_image(image, *span, "launcher_image");
        }
        if let Some(Value::String(account)) = props.get("service_account")
            && let Some((_, span)) = props.values.get("service_account")
        {
            // A ServiceAccount's name is a DNS-1123 subdomain (ValidateServiceAccountName, k8s.io/kubernetes
            // pkg/apis/core/validation).
            self.check_dns_label(account, *span, "ServiceAccount name", 253);
        }
        if let Some(Value::String(kfp)) = props.get("kfp")
            && let Some((_, span)) = props.values.get("kfp")
        {
            self.check_kfp_url(kfp, *span);
        }
        if let (Some(Value::Ref(ir::Ref::Secret { name })), Some((_, span))) =
            (props.get("artifacts_secret"), props.values.get("artifacts_secret"))
        {
            self.artifacts_secret = Some((name.clone(), *span));
        }
        self.project_image = props.string("image");
        let scheduling = self.scheduling(&props, None);
        let gpu_type_label = props.string("gpu_type_label");
        if let (Some(label), Some((_, span))) = (&gpu_type_label, props.values.get("gpu_type_label"))
            && let Some(problem) = super::scheduling::label_key_problem(label)
        {
            self.out_of_range(
                *span,
                &format!("`{label}` is not a Kubernetes label key: {problem}"),
                "name the node label that holds the GPU model, e.g. `\"nvidia.com/gpu.product\"`",
            );
        }
        program.project = Some(ir::Project {
            name: project.name.name.to_string(),
            namespace: props.string("namespace"),
            image: props.string("image"),
            registry: props.string("registry"),
            labels: props.object("labels"),
            artifacts: props.string("artifacts"),
            // Filled by `resolve_artifacts_secret` once the secrets are lowered.
            artifacts_secret: None,
            artifacts_endpoint: props.string("artifacts_endpoint"),
            gpu_type_label,
            scheduling,
            launcher_image: props.string("launcher_image"),
            service_account: props.string("service_account"),
            kfp: props.string("kfp"),
        });
    }
}

impl Checker<'_> {
    /// `project.artifacts_secret` must hold a key pair the object store's clients read: resolved once every
    /// `secret` is lowered (the project is checked before them).
    pub(super) fn resolve_artifacts_secret(&mut self, program: &mut ir::Program) {
        let Some((name, span)) = self.artifacts_secret.take() else { return };
        // The name was checked to be one of this file's secrets.
        let Some(secret) = program.secrets.iter().find(|s| s.name == name) else { return };
        if let Some((access, secret_key)) = crate::codegen::staging::key_pair(&secret.keys) {
            if let Some(project) = &mut program.project {
                project.artifacts_secret = Some(ir::ArtifactsSecret {
                    secret: name,
                    k8s_name: secret.k8s_name.clone(),
                    access_key_key: access.to_string(),
                    secret_key_key: secret_key.to_string(),
                });
            }
            return;
        }
        let pairs = crate::codegen::staging::KEY_PAIRS
            .iter()
            .map(|(access, secret)| format!("`{access}` + `{secret}`"))
            .collect::<Vec<_>>()
            .join(" or ");
        let found = if secret.keys.is_empty() {
            "no `keys`".to_string()
        } else {
            secret.keys.iter().map(|k| format!("`{k}`")).collect::<Vec<_>>().join(", ")
        };
        self.diags.push(
            Diagnostic::error(
                Code::OutOfRange,
                format!("secret `{name}` holds no object-store key pair: it lists {found}"),
                Label::new(span, "no key pair in this secret"),
            )
            .with_label(Label::new(secret.span, "declared here"))
            .with_help(format!(
                "list the Secret's key pair in `keys`: {pairs} (KFP's `mlpipeline-minio-artifact` Secret has \
                 `accesskey` + `secretkey`)"
            )),
        );
    }
}
