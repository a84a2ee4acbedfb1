//! URIs the user writes: a dataset's URI and `project.artifacts`, each against the schemes its reader takes, and
//! container image references against the syntax the container runtime parses.

use crate::diagnostics::{Code, Diagnostic, Label};
use crate::source::Span;

use super::Checker;

impl Checker<'_> {
    /// `project.artifacts` is where KFP's launcher writes and reads artifacts, so it takes the launcher's schemes
    /// and names a bucket.
    pub(super) fn check_artifacts(&mut self, artifacts: &str, span: Span) {
        let schemes = crate::codegen::DOWNLOADABLE_SCHEMES;
        let bucket = schemes.iter().find_map(|scheme| artifacts.strip_prefix(scheme));
        let problem = match bucket {
            None => format!("`project.artifacts` must be an object-store prefix, found `{artifacts}`"),
            Some(rest) if rest.split('/').next().is_none_or(str::is_empty) => {
                format!("`project.artifacts` must name a bucket after the scheme, found `{artifacts}`")
            }
            Some(_) => return,
        };
        self.diags.push(
            Diagnostic::error(Code::OutOfRange, problem, Label::new(span, "not an object-store prefix"))
                .with_help(format!(
                    "write a bucket and an optional path under {}, e.g. `\"minio://mlpipeline/kfl\"` (KFP's own \
                     MinIO bucket)",
                    schemes.iter().map(|s| format!("`{s}`")).collect::<Vec<_>>().join(", ")
                ))
                .with_note(
                    "KFP's launcher reads and writes artifacts under s3://, gs:// and minio:// only \
                     (backend/src/v2/objectstore/config.go, kubeflow/pipelines 2.17)",
                ),
        );
    }

    /// An image reference the kubelet could not pull by: refused here rather than as a pod stuck in
    /// `InvalidImageName` on the cluster.
    pub(super) fn check_image(&mut self, image: &str, span: Span, property: &str) {
        let Some(problem) = crate::codegen::image_reference::problem(image) else { return };
        self.diags.push(
            Diagnostic::error(
                Code::OutOfRange,
                format!("`{property}` is not a container image reference: {problem}"),
                Label::new(span, "not an image reference"),
            )
            .with_help(
                "write `[REGISTRY/]REPOSITORY[:TAG][@DIGEST]` with a lowercase repository, e.g. \
                 `\"registry.example.com/ml/kfl:1.0\"`",
            )
            .with_note(
                "the syntax of github.com/distribution/reference v0.6.0 (reference.go), which the kubelet pulls by",
            ),
        );
    }

    pub(super) fn check_uri(&mut self, uri: &str, span: Span) {
        if let Some((scheme, rest)) = uri.split_once("://") {
            let known = ["s3", "gs", "hf", "pvc", "http", "https"];
            if !known.contains(&scheme) {
                self.diags.push(
                    Diagnostic::error(
                        Code::OutOfRange,
                        format!("unsupported URI scheme `{scheme}://`"),
                        Label::new(span, "here"),
                    )
                    .with_help("use a relative path, or `s3://`, `gs://`, `hf://`, `pvc://VOLUME/path`, `http(s)://`"),
                );
            } else if rest.is_empty() {
                self.diags.push(Diagnostic::error(
                    Code::OutOfRange,
                    format!("`{scheme}://` needs a location"),
                    Label::new(span, "empty location"),
                ));
            }
        } else if uri.is_empty() {
            self.diags.push(
                Diagnostic::error(Code::OutOfRange, "a dataset URI cannot be empty", Label::new(span, "here"))
                    .with_help("write a relative path such as `\"data/train.csv\"`"),
            );
        }
    }
}
