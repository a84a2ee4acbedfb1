//! URIs the user writes: a dataset's URI, `project.artifacts` and `project.kfp`, each against the schemes its reader
//! takes, and container image references against the syntax the container runtime parses.

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

    /// `project.kfp` is where `kfl apply` sends the pipeline: an http(s) URL with a host, as `--kfp` must be.
    pub(super) fn check_kfp_url(&mut self, url: &str, span: Span) {
        let Some(problem) = kfp_url_problem(url) else { return };
        self.diags.push(
            Diagnostic::error(Code::OutOfRange, format!("`project.kfp` {problem}"), Label::new(span, "not a KFP URL"))
                .with_help(
                    "write the Pipelines endpoint, e.g. `\"https://kubeflow.example.com/pipeline\"` (Kubeflow's \
                     gateway) or `\"http://localhost:8080\"` (a port-forward of svc/ml-pipeline-ui)",
                ),
        );
    }

    /// `project.artifacts_endpoint`: a URL `kfl apply` can send S3 requests to.
    pub(super) fn check_artifacts_endpoint(&mut self, url: &str, span: Span) {
        let Some(problem) = endpoint_problem(url) else { return };
        self.diags.push(
            Diagnostic::error(
                Code::OutOfRange,
                format!("`project.artifacts_endpoint` {problem}"),
                Label::new(span, "not an object-store endpoint"),
            )
            .with_help(
                "write the S3-compatible endpoint as `http://HOST:PORT` or `https://HOST`, e.g. \
                 `\"http://minio-service.kubeflow:9000\"` (KFP's MinIO) or `\"https://s3.eu-west-1.amazonaws.com\"`",
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

/// What is wrong with `url` as the Kubeflow Pipelines endpoint (`project.kfp`, `kfl apply --kfp`), if anything:
/// `http://` or `https://`, a host, no query or fragment (the client appends `/apis/v2beta1/…` to it).
pub fn kfp_url_problem(url: &str) -> Option<String> {
    let Some(rest) = url.strip_prefix("https://").or_else(|| url.strip_prefix("http://")) else {
        return Some(format!("must be an http:// or https:// URL, found `{url}`"));
    };
    let host = rest.split('/').next().unwrap_or_default();
    let host = host.rsplit_once('@').map_or(host, |(_, host)| host);
    if host.is_empty() || host.starts_with(':') {
        return Some(format!("must name a host after the scheme, found `{url}`"));
    }
    if rest.contains(char::is_whitespace) {
        return Some(format!("cannot contain spaces, found `{url}`"));
    }
    if rest.contains(['?', '#']) {
        return Some(format!("cannot have a query or a fragment (the API paths are appended to it), found `{url}`"));
    }
    None
}

/// What is wrong with `url` as an object store's S3-compatible endpoint (`project.artifacts_endpoint`, `kfl apply
/// --artifacts-endpoint`), if anything: `http://` or `https://`, a host (a name, an IPv4 address or a bracketed
/// IPv6 one), an optional port, nothing after it (requests are addressed `ENDPOINT/BUCKET/KEY`, path style).
pub fn endpoint_problem(url: &str) -> Option<String> {
    let Some(rest) = url.strip_prefix("https://").or_else(|| url.strip_prefix("http://")) else {
        return Some(format!("must be an http:// or https:// URL, found `{url}`"));
    };
    let authority = rest.strip_suffix('/').unwrap_or(rest);
    if authority.contains(['/', '?', '#']) {
        return Some(format!("takes no path, query or fragment (objects go under ENDPOINT/BUCKET/), found `{url}`"));
    }
    if authority.contains('@') {
        return Some(format!("cannot carry credentials (they come from `artifacts_secret`), found `{url}`"));
    }
    let (host, port) = match authority.strip_prefix('[') {
        Some(v6) => match v6.split_once(']') {
            Some((address, after)) if address.parse::<std::net::Ipv6Addr>().is_ok() => {
                (address, after.strip_prefix(':'))
            }
            _ => return Some(format!("has a malformed IPv6 address, found `{url}`")),
        },
        None => match authority.split_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (authority, None),
        },
    };
    let label_ok = |label: &str| {
        !label.is_empty()
            && label.len() <= 63
            && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
            && !label.starts_with('-')
            && !label.ends_with('-')
    };
    if !authority.starts_with('[') && (host.is_empty() || host.len() > 253 || !host.split('.').all(label_ok)) {
        return Some(format!("must name a host (letters, digits, `-` and `.`) after the scheme, found `{url}`"));
    }
    if let Some(port) = port
        && !port.parse::<u16>().is_ok_and(|p| p > 0)
    {
        return Some(format!("has a port that is not a number in 1–65535, found `{url}`"));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::endpoint_problem;

    #[test]
    fn endpoints_are_a_scheme_a_host_and_an_optional_port() {
        for good in [
            "http://minio-service.kubeflow:9000",
            "https://s3.eu-west-1.amazonaws.com",
            "https://storage.googleapis.com/",
            "http://127.0.0.1:9000",
            "http://[::1]:9000",
        ] {
            assert_eq!(endpoint_problem(good), None, "{good}");
        }
        for bad in [
            "minio-service.kubeflow:9000",
            "s3://bucket",
            "http://",
            "http://:9000",
            "http://host:0",
            "http://host:70000",
            "http://host:port",
            "http://host/bucket",
            "http://host?x=1",
            "http://user:pass@host",
            "http://bad_host",
            "http://[zz]:1",
        ] {
            assert!(endpoint_problem(bad).is_some(), "{bad}");
        }
    }
}
