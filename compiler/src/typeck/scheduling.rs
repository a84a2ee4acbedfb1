//! Scheduling and credential properties (`node_selector`, `tolerations`, `gpu_type`, `gpu_resource`, `queue`, `priority_class`, `service_account`, `image_pull_*`): their Kubernetes syntax, and the project's defaults.
//!
//! Label keys and values, names and resource names follow k8s.io/apimachinery v0.34
//! `pkg/util/validation/validation.go` (`IsQualifiedName`, `IsValidLabelValue`,
//! `IsDNS1123Subdomain`); the rules between a toleration's fields follow
//! k8s.io/kubernetes v1.34 `pkg/apis/core/validation/validation.go` (`ValidateTolerations`), and an extended
//! resource name `pkg/apis/core/helper/helpers.go` (`IsExtendedResourceName`: domain-prefixed, not in the
//! `kubernetes.io` domain, and not `requests.`-prefixed).

use indexmap::IndexMap;

use crate::ast::{self, Entry, ExprKind};
use crate::diagnostics::{Code, Diagnostic, Label};
use crate::ir::{self, Call, Resources, Scheduling, Toleration, Value, Written};
use crate::source::Span;
use crate::typeck::expr::Scope;
use crate::typeck::props::Props;
use crate::typeck::schema::{self, EnumSet};
use crate::typeck::{Checker, Ty};

/// `IsQualifiedName`'s name part: at most 63 characters, alphanumeric at both ends, `-`, `_`, `.` inside.
const MAX_LABEL: usize = 63;
/// `IsDNS1123Subdomain`: at most 253 characters.
const MAX_SUBDOMAIN: usize = 253;

fn qualified_name_part(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= MAX_LABEL
        && name.starts_with(|c: char| c.is_ascii_alphanumeric())
        && name.ends_with(|c: char| c.is_ascii_alphanumeric())
        && name.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
}

/// `IsDNS1123Subdomain`: lower-case alphanumerics, `-` and `.`, alphanumeric at both ends of each dot part.
pub(crate) fn dns_subdomain(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= MAX_SUBDOMAIN
        && name.split('.').all(|part| {
            !part.is_empty()
                && part.starts_with(|c: char| c.is_ascii_lowercase() || c.is_ascii_digit())
                && part.ends_with(|c: char| c.is_ascii_lowercase() || c.is_ascii_digit())
                && part.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        })
}

/// Why `key` is not a label key (`IsQualifiedName`): an optional DNS subdomain prefix and `/`, then a name.
pub(crate) fn label_key_problem(key: &str) -> Option<String> {
    let (prefix, name) = match key.split_once('/') {
        Some((prefix, name)) => (Some(prefix), name),
        None => (None, key),
    };
    if let Some(prefix) = prefix
        && !dns_subdomain(prefix)
    {
        return Some(format!("its prefix `{prefix}` is not a DNS subdomain (lower case, digits, `-`, `.`)"));
    }
    if !qualified_name_part(name) {
        return Some(format!(
            "`{name}` must be 1 to {MAX_LABEL} letters, digits, `-`, `_` or `.`, starting and ending with a letter \
             or digit"
        ));
    }
    None
}

/// `IsValidLabelValue`: empty, or a name part.
pub(crate) fn label_value_ok(value: &str) -> bool {
    value.is_empty() || qualified_name_part(value)
}

/// `IsExtendedResourceName`: a qualified name with a domain prefix outside `kubernetes.io`, not `requests.…`.
fn extended_resource_problem(name: &str) -> Option<String> {
    let Some((prefix, _)) = name.split_once('/') else {
        return Some("an extended resource name has a domain prefix, e.g. `amd.com/gpu`".into());
    };
    if prefix == "kubernetes.io" || prefix.ends_with(".kubernetes.io") {
        return Some("the `kubernetes.io` domain is reserved for Kubernetes' own resources".into());
    }
    if name.starts_with("requests.") {
        return Some("a resource name cannot start with `requests.`".into());
    }
    label_key_problem(name)
}

impl Checker<'_> {
    /// `node_selector { key = "value" }`: each key a label key, each value a label value.
    pub(crate) fn labels_shape(&mut self, e: &ast::Expr, scope: &Scope, name: &str) -> Option<Value> {
        let ExprKind::Object(block) = &e.kind else {
            let (ty, _) = self.expr(e, scope, None);
            self.mismatch(e.span, &Ty::Object, &ty, format_args!("`{name}` is a block: `{name} {{ pool = \"gpu\" }}`"));
            return None;
        };
        let mut out = IndexMap::new();
        let mut seen: IndexMap<String, Span> = IndexMap::new();
        for entry in &block.entries {
            let Entry::Property(property) = entry else {
                self.diags.push(
                    Diagnostic::error(
                        Code::NotAllowedHere,
                        format!("only `KEY = \"value\"` entries are allowed in `{name}`"),
                        Label::new(entry.span(), "here"),
                    )
                    .with_help("write `pool = \"gpu\"`"),
                );
                continue;
            };
            let key = property.key.joined();
            if let Some(previous) = seen.insert(key.clone(), property.key.span) {
                self.set_twice(&key, property.key.span, previous);
                continue;
            }
            if let Some(problem) = label_key_problem(&key) {
                self.out_of_range(
                    property.key.span,
                    &format!("`{key}` is not a Kubernetes label key: {problem}"),
                    "write a label key such as `pool` or `node.kubernetes.io/instance-type` (quote keys with `/`)",
                );
            }
            let (ty, value) = self.expr(&property.value, scope, Some(&Ty::String));
            self.expect_ty(property.value.span, &Ty::String, &ty, format_args!("a label value is a string"));
            if let Value::String(text) = &value {
                self.label_value(text, property.value.span, &format!("`{key}`"));
            }
            out.insert(key, value);
        }
        Some(Value::Object(out))
    }

    /// E0203 when `text` is not a label value.
    fn label_value(&mut self, text: &str, span: Span, what: &str) {
        if !label_value_ok(text) {
            self.out_of_range(
                span,
                &format!("`{text}` is not a Kubernetes label value (for {what})"),
                "at most 63 letters, digits, `-`, `_` or `.`, starting and ending with a letter or digit",
            );
        }
    }

    /// `[toleration(key = …, operator = …, value = …, effect = …, evict_after = …)]`.
    pub(crate) fn tolerations_shape(&mut self, e: &ast::Expr, scope: &Scope, name: &str) -> Option<Value> {
        let ExprKind::List(items) = &e.kind else {
            let (ty, _) = self.expr(e, scope, None);
            self.mismatch(
                e.span,
                &Ty::List(Box::new(Ty::Object)),
                &ty,
                format_args!("`{name}` is a list: `[toleration(key = \"gpu\", operator = exists)]`"),
            );
            return None;
        };
        let mut out = Vec::with_capacity(items.len());
        for item in items {
            let Some((_, args)) = self.call_parts(item, &["toleration"], "toleration") else { continue };
            if let Some(call) = self.toleration(item.span, args, scope) {
                out.push(Value::Call(Box::new(call)));
            }
        }
        Some(Value::List(out))
    }

    fn toleration(&mut self, span: Span, args: &[ast::Arg], scope: &Scope) -> Option<Call> {
        let mut call = Call { name: "toleration".into(), args: IndexMap::new(), positional: Vec::new() };
        let mut spans: IndexMap<&str, Span> = IndexMap::new();
        let names: Vec<&str> = schema::TOLERATION_ARGS.iter().map(|(n, _)| *n).collect();
        for arg in args {
            let Some(arg_name) = &arg.name else {
                self.diags.push(
                    Diagnostic::error(
                        Code::InvalidArgument,
                        "`toleration` arguments are named",
                        Label::new(arg.span, "positional argument"),
                    )
                    .with_help("write `toleration(key = \"gpu\", operator = exists, effect = no_schedule)`"),
                );
                continue;
            };
            let Some(known) = names.iter().find(|n| **n == arg_name.name.as_str()) else {
                self.diags.push(
                    Diagnostic::error(
                        Code::InvalidArgument,
                        format!("`toleration` has no argument `{}`", arg_name.name),
                        Label::new(arg_name.span, "unknown argument"),
                    )
                    .with_help(
                        crate::resolve::suggest::help(&arg_name.name, &names)
                            .unwrap_or_else(|| format!("arguments are: {}", names.join(", "))),
                    ),
                );
                continue;
            };
            if let Some(previous) = spans.insert(known, arg_name.span) {
                self.set_twice(known, arg_name.span, previous);
                continue;
            }
            let value = match *known {
                "operator" => self.enum_value(&arg.value, EnumSet::TolerationOperator, known),
                "effect" => self.enum_value(&arg.value, EnumSet::TaintEffect, known),
                "evict_after" => {
                    let (ty, value) = self.expr(&arg.value, scope, Some(&Ty::Duration));
                    self.expect_ty(arg.value.span, &Ty::Duration, &ty, format_args!("`evict_after` is a duration"));
                    Some(value)
                }
                _ => {
                    let (ty, value) = self.expr(&arg.value, scope, Some(&Ty::String));
                    self.expect_ty(arg.value.span, &Ty::String, &ty, format_args!("`{known}` is a string"));
                    if let Value::String(text) = &value {
                        if *known == "key" {
                            if let Some(problem) = label_key_problem(text) {
                                self.out_of_range(
                                    arg.value.span,
                                    &format!("`{text}` is not a taint key: {problem}"),
                                    "a taint key is a label key, e.g. `nvidia.com/gpu`",
                                );
                            }
                        } else {
                            self.label_value(text, arg.value.span, "a toleration");
                        }
                    }
                    Some(value)
                }
            };
            if let Some(value) = value {
                call.args.insert(known.to_string(), value);
            }
        }
        // ValidateTolerations (kubernetes v1.34): `Exists` takes no value; an empty key needs `Exists`;
        // `tolerationSeconds` only with `NoExecute`.
        let exists = matches!(call.args.get("operator"), Some(Value::Enum(op)) if op == "exists");
        let at = |name: &str| spans.get(name).copied().unwrap_or(span);
        if exists && call.args.contains_key("value") {
            self.out_of_range(
                at("value"),
                "a toleration with `operator = exists` takes no `value`",
                "remove `value`, or use `operator = equal`",
            );
        }
        if !exists && !call.args.contains_key("key") {
            self.out_of_range(
                span,
                "a toleration without `key` must use `operator = exists` (it then tolerates every taint)",
                "add `key = \"…\"`, or write `operator = exists`",
            );
        }
        if call.args.contains_key("evict_after")
            && !matches!(call.args.get("effect"), Some(Value::Enum(effect)) if effect == "no_execute")
        {
            self.out_of_range(
                at("evict_after"),
                "`evict_after` applies only to `effect = no_execute`",
                "add `effect = no_execute`, or remove `evict_after`",
            );
        }
        Some(call)
    }

    /// The scheduling properties of one body, validated; `gpu_resource` goes into `resources`. `gpu` is the
    /// body's own GPU count (`None` for the project, whose `gpu_type`/`gpu_resource` are defaults).
    pub(crate) fn scheduling(&mut self, props: &Props, resources: Option<&mut Resources>) -> Scheduling {
        let mut out = Scheduling::default();
        // The project's `service_account` is the pipeline runs' account (`decls.rs`), not a default of the
        // declarations' pods: only a declaration's own `service_account` is read here.
        let project = resources.is_none();
        let identity = if project { &[][..] } else { schema::POD_IDENTITY };
        for spec in schema::SCHEDULING.iter().chain(identity) {
            if let Some((_, span)) = props.values.get(spec.name) {
                out.written.insert(spec.name, Written { span: *span, inherited: false });
            }
        }
        let span_of = |name: &str| props.values.get(name).map(|(_, s)| *s).unwrap_or_default();
        if let Some(Value::Object(map)) = props.get("node_selector") {
            out.node_selector =
                map.iter().filter_map(|(k, v)| v.as_str().map(|v| (k.clone(), v.to_string()))).collect();
        }
        out.tolerations = props.list("tolerations").unwrap_or_default().iter().filter_map(toleration).collect();
        out.gpu_type = props.string("gpu_type");
        if let Some(gpu_type) = &out.gpu_type {
            self.label_value(gpu_type, span_of("gpu_type"), "`gpu_type`, a node label value");
        }
        out.queue = props.string("queue");
        if let Some(queue) = &out.queue {
            self.label_value(queue, span_of("queue"), "the label `kueue.x-k8s.io/queue-name`");
        }
        let names = [
            ("priority_class", &mut out.priority_class, "PriorityClass name"),
            ("service_account", &mut out.service_account, "ServiceAccount name"),
        ];
        for (name, slot, what) in names {
            if project && name == "service_account" {
                continue;
            }
            *slot = props.string(name);
            if let Some(value) = slot.as_deref() {
                self.subdomain(value, span_of(name), what);
            }
        }
        for value in props.list("image_pull_secrets").unwrap_or_default() {
            if let Value::String(secret) = value {
                self.subdomain(&secret, span_of("image_pull_secrets"), "Secret name");
                out.image_pull_secrets.push(secret);
            }
        }
        out.image_pull_policy = match props.get("image_pull_policy") {
            Some(Value::Enum(policy)) => Some(policy.clone()),
            _ => None,
        };
        let gpu_resource = props.string("gpu_resource");
        if let Some(name) = &gpu_resource
            && let Some(problem) = extended_resource_problem(name)
        {
            self.out_of_range(
                span_of("gpu_resource"),
                &format!("`{name}` is not an extended resource name: {problem}"),
                "name the device plugin's resource, e.g. `\"amd.com/gpu\"` or `\"nvidia.com/gpu\"`",
            );
        }
        if let Some(resources) = resources {
            let no_gpu = resources.gpu.is_none_or(|g| g == 0);
            for name in ["gpu_type", "gpu_resource"] {
                if no_gpu && props.values.contains_key(name) {
                    self.diags.push(
                        Diagnostic::error(
                            Code::MissingProperty,
                            format!("`{name}` says which GPUs, but no `gpu` count asks for any"),
                            Label::new(span_of(name), "needs `gpu`"),
                        )
                        .with_help("add `gpu = 1` (or in `resources`), or remove this line"),
                    );
                }
            }
            resources.gpu_resource = gpu_resource;
        } else if gpu_resource.is_some() {
            out.written.shift_remove("gpu_resource");
            self.project_gpu_resource = gpu_resource;
        }
        out
    }

    fn subdomain(&mut self, value: &str, span: Span, what: &str) {
        if !dns_subdomain(value) {
            self.diags.push(
                Diagnostic::error(
                    Code::InvalidKubernetesName,
                    format!("`{value}` is not a valid {what}"),
                    Label::new(span, "invalid Kubernetes name"),
                )
                .with_help(format!(
                    "a DNS subdomain: lower-case letters, digits, `-` and `.`, at most {MAX_SUBDOMAIN} characters"
                )),
            );
        }
    }

    /// The project's scheduling defaults into every stage, notebook and serve that does not set them (a
    /// `gpu_type` and `gpu_resource` only where `gpu` asks for GPUs), then `gpu_type` into `node_selector`.
    pub(crate) fn apply_project_scheduling(&mut self, program: &mut ir::Program) {
        let Some(project) = &program.project else { return };
        let defaults = project.scheduling.clone();
        let label = project.gpu_type_label.clone().unwrap_or_else(|| schema::GPU_TYPE_LABEL.to_string());
        let gpu_resource = self.project_gpu_resource.clone();
        let targets = program
            .stages
            .iter_mut()
            .map(|s| (&mut *s.scheduling, &mut s.resources, None))
            .chain(program.notebooks.iter_mut().map(|n| (&mut n.scheduling, &mut n.resources, None)))
            .chain(program.serves.iter_mut().map(|s| {
                let transformer = s.transformer.as_mut().map(|t| &mut t.resources);
                (&mut s.scheduling, &mut s.resources, transformer)
            }));
        let mut problems = Vec::new();
        for (scheduling, resources, transformer) in targets {
            let gpus = resources.gpu.is_some_and(|g| g > 0);
            inherit(scheduling, &defaults, gpus);
            if gpus && resources.gpu_resource.is_none() {
                resources.gpu_resource = gpu_resource.clone();
            }
            if let Some(transformer) = transformer
                && transformer.gpu.is_some_and(|g| g > 0)
                && transformer.gpu_resource.is_none()
            {
                transformer.gpu_resource = resources.gpu_resource.clone().or_else(|| gpu_resource.clone());
            }
            if let Some(gpu_type) = scheduling.gpu_type.clone() {
                match scheduling.node_selector.get(&label) {
                    Some(other) if *other != gpu_type => {
                        let at = |name: &str| scheduling.written.get(name).map(|w| w.span).unwrap_or_default();
                        problems.push((at("gpu_type"), at("node_selector"), label.clone(), other.clone()));
                    }
                    _ => {
                        scheduling.node_selector.insert(label.clone(), gpu_type);
                        scheduling.gpu_label = Some(label.clone());
                    }
                }
            }
        }
        for (gpu_type, selector, label, other) in problems {
            self.diags.push(
                Diagnostic::error(
                    Code::DuplicateDeclaration,
                    format!("`gpu_type` selects on `{label}`, which `node_selector` already sets to `{other}`"),
                    Label::new(gpu_type, "selects a different GPU"),
                )
                .with_label(Label::new(selector, "set here"))
                .with_help("keep one of the two"),
            );
        }
    }
}

/// `project`'s values into a declaration's unset ones (a target without the field ignores an inherited one:
/// `codegen/scheduling.rs`).
fn inherit(scheduling: &mut Scheduling, defaults: &Scheduling, gpus: bool) {
    let mut take = |name: &'static str, unset: bool| {
        if unset && let Some(written) = defaults.written.get(name) {
            scheduling.written.insert(name, Written { span: written.span, inherited: true });
            return true;
        }
        false
    };
    if take("node_selector", scheduling.node_selector.is_empty()) {
        scheduling.node_selector = defaults.node_selector.clone();
    }
    if take("tolerations", scheduling.tolerations.is_empty()) {
        scheduling.tolerations = defaults.tolerations.clone();
    }
    if take("gpu_type", gpus && scheduling.gpu_type.is_none()) {
        scheduling.gpu_type = defaults.gpu_type.clone();
    }
    if take("queue", scheduling.queue.is_none()) {
        scheduling.queue = defaults.queue.clone();
    }
    if take("priority_class", scheduling.priority_class.is_none()) {
        scheduling.priority_class = defaults.priority_class.clone();
    }
    if take("image_pull_secrets", scheduling.image_pull_secrets.is_empty()) {
        scheduling.image_pull_secrets = defaults.image_pull_secrets.clone();
    }
    if take("image_pull_policy", scheduling.image_pull_policy.is_none()) {
        scheduling.image_pull_policy = defaults.image_pull_policy.clone();
    }
}

/// A checked `toleration(…)` call as the IR's `Toleration`.
fn toleration(value: &Value) -> Option<Toleration> {
    let Value::Call(call) = value else { return None };
    let text = |name: &str| call.args.get(name).and_then(Value::as_str).map(str::to_string);
    let enumerated = |name: &str| match call.args.get(name) {
        Some(Value::Enum(v)) => Some(v.clone()),
        _ => None,
    };
    Some(Toleration {
        key: text("key"),
        operator: enumerated("operator").unwrap_or_else(|| "equal".into()),
        value: text("value"),
        effect: enumerated("effect"),
        evict_after: match call.args.get("evict_after") {
            Some(Value::Duration(d)) => Some(*d),
            _ => None,
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn label_keys_follow_is_qualified_name() {
        for ok in ["pool", "node.kubernetes.io/instance-type", "a_b.c-d", "x/Y", &"a".repeat(63)] {
            assert_eq!(label_key_problem(ok), None, "{ok}");
        }
        let long_prefix = format!("{}/pool", "a".repeat(254));
        for bad in ["", "-pool", "pool-", "Example.COM/pool", "/pool", "a/", &"a".repeat(64), &long_prefix, "a b"] {
            assert!(label_key_problem(bad).is_some(), "{bad}");
        }
    }

    #[test]
    fn label_values_may_be_empty_and_are_at_most_63() {
        assert!(label_value_ok(""));
        assert!(label_value_ok("NVIDIA-A100-SXM4-80GB"));
        assert!(label_value_ok(&"v".repeat(63)));
        assert!(!label_value_ok(&"v".repeat(64)));
        assert!(!label_value_ok("us east"));
        assert!(!label_value_ok("_x"));
    }

    #[test]
    fn extended_resources_need_a_domain_outside_kubernetes_io() {
        assert_eq!(extended_resource_problem("amd.com/gpu"), None);
        assert_eq!(extended_resource_problem("nvidia.com/gpu"), None);
        for bad in ["gpu", "kubernetes.io/gpu", "node.kubernetes.io/gpu", "requests.amd.com/gpu", "AMD.com/gpu"] {
            assert!(extended_resource_problem(bad).is_some(), "{bad}");
        }
    }

    #[test]
    fn subdomains_are_lower_case_dot_separated_labels() {
        assert!(dns_subdomain("registry-creds"));
        assert!(dns_subdomain("a.b-c.d"));
        for bad in ["", "Bad", "a..b", "-a", "a-", "a_b", &"a".repeat(254)] {
            assert!(!dns_subdomain(bad), "{bad}");
        }
    }
}
