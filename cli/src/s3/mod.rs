//! The object-store client of `kfl apply`'s dataset uploads: HEAD and PUT of one object on an S3-compatible endpoint (MinIO, AWS S3, GCS's XML API), path-style, signed with AWS Signature Version 4.
//!
//! Path-style addressing (`ENDPOINT/BUCKET/KEY`) is what KFP's launcher uses for these stores
//! (`ForcePathStyle` defaults to true in `StructuredS3Params`, `backend/src/v2/objectstore/config.go`,
//! kubeflow/pipelines 2.17.0), so an endpoint that serves KFP serves kfl.

pub mod sigv4;

use std::path::Path;
use std::time::Duration;

/// A single PUT stores at most 5 GiB (AWS S3 User Guide, "Uploading objects": "With a single PUT operation, you
/// can upload a single object up to 5 GB in size"); kfl does not do multipart uploads, so a larger file is
/// refused before anything is sent.
pub const MAX_SINGLE_PUT: u64 = 5 * 1024 * 1024 * 1024;

/// A failed call: what was asked, and the server's own words (or why there was no answer).
#[derive(Debug)]
pub struct S3Error {
    pub message: String,
}

impl std::fmt::Display for S3Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

pub struct Client {
    agent: ureq::Agent,
    /// `http(s)://HOST[:PORT]`, no trailing slash.
    endpoint: String,
    /// The `Host` header as sent and signed: the endpoint's authority as written.
    host: String,
    access_key: String,
    secret_key: String,
    region: String,
}

impl Client {
    /// A client of `endpoint` (checked by `typeck::uris::endpoint_problem`) signing for `region`; `answer` bounds
    /// each call once connected, body included.
    pub fn new(endpoint: &str, region: &str, access_key: String, secret_key: String, answer: Duration) -> Client {
        let agent = crate::http_agent::agent(answer);
        let endpoint = endpoint.trim_end_matches('/').to_string();
        let host = endpoint.split_once("://").map_or(endpoint.as_str(), |(_, authority)| authority).to_string();
        Client { agent, endpoint, host, access_key, secret_key, region: region.to_string() }
    }

    /// The size of `bucket/key` if the store has it. S3 answers 403 rather than 404 for a missing key to a caller
    /// without `s3:ListBucket` (Amazon S3 API Reference, HeadObject), so 403 reads as "not known to be there":
    /// the PUT that follows says whether the key pair may write.
    pub fn head(&self, bucket: &str, key: &str) -> Result<Option<u64>, S3Error> {
        let path = format!("/{bucket}/{key}");
        let empty = sigv4::sha256_hex(b"");
        let request = self.signed(self.agent.head(&self.url(&path)), "HEAD", &path, &empty);
        let response = request.call().map_err(|err| self.unreachable("HEAD", &path, &err))?;
        match response.status().as_u16() {
            200 => {
                let size = response.headers().get("content-length").and_then(|v| v.to_str().ok()?.parse().ok());
                Ok(Some(size.unwrap_or(u64::MAX)))
            }
            403 | 404 => Ok(None),
            status => {
                // A HEAD answer has no body: the status and S3's region header are all there is to quote.
                let region = response.headers().get("x-amz-bucket-region").and_then(|v| v.to_str().ok());
                let hint = match region {
                    Some(region) => format!(" (the bucket is in region {region}: name its regional endpoint)"),
                    None => String::new(),
                };
                Err(S3Error { message: format!("HEAD {path} on {} answered {status}{hint}", self.endpoint) })
            }
        }
    }

    /// Stores the file at `source` (`size` bytes, SHA-256 `sha256`) as `bucket/key`, streamed; the store checks
    /// the body against `x-amz-content-sha256`, so a file changed since it was hashed is refused, not stored.
    pub fn put_file(&self, bucket: &str, key: &str, source: &Path, sha256: &str) -> Result<(), S3Error> {
        let path = format!("/{bucket}/{key}");
        let file = std::fs::File::open(source)
            .map_err(|err| S3Error { message: format!("cannot read {}: {err}", source.display()) })?;
        let request = self.signed(self.agent.put(&self.url(&path)), "PUT", &path, sha256);
        let mut response = request.send(file).map_err(|err| self.unreachable("PUT", &path, &err))?;
        let status = response.status().as_u16();
        if (200..300).contains(&status) {
            return Ok(());
        }
        let body = response.body_mut().with_config().limit(64 * 1024).read_to_string().unwrap_or_default();
        Err(S3Error { message: format!("PUT {path} answered {status}: {}", error_text(&body)) })
    }

    fn url(&self, path: &str) -> String {
        // The path is signed unencoded and sent encoded the same way (AWS's rules keep `/` and unreserved bytes).
        format!("{}{}", self.endpoint, sigv4::uri_encode(path, false))
    }

    fn signed<B>(
        &self,
        request: ureq::RequestBuilder<B>,
        method: &str,
        path: &str,
        sha256: &str,
    ) -> ureq::RequestBuilder<B> {
        let amz_date = jiff::Timestamp::now().strftime("%Y%m%dT%H%M%SZ").to_string();
        let key =
            sigv4::SigningKey { access_key: &self.access_key, secret_key: &self.secret_key, region: &self.region };
        let signed = sigv4::Request {
            method,
            host: &self.host,
            path,
            query: &[],
            headers: &[],
            payload_sha256: sha256,
            amz_date: &amz_date,
        };
        let authorization = sigv4::authorization(&key, &signed);
        request
            .header("Host", &self.host)
            .header("x-amz-date", &amz_date)
            .header("x-amz-content-sha256", sha256)
            .header("Authorization", &authorization)
    }

    fn unreachable(&self, method: &str, path: &str, err: &ureq::Error) -> S3Error {
        S3Error { message: format!("{method} {path}: {} did not answer: {err}", self.endpoint) }
    }
}

/// Hex SHA-256 of a file's content, read in 64 KiB pieces: the `x-amz-content-sha256` of its PUT.
pub fn sha256_file(path: &Path) -> std::io::Result<String> {
    use sha2::Digest;
    use std::io::Read;
    let mut file = std::fs::File::open(path)?;
    let mut hasher = sha2::Sha256::new();
    let mut buffer = vec![0; 64 * 1024];
    loop {
        let n = file.read(&mut buffer)?;
        if n == 0 {
            return Ok(sigv4::hex(&hasher.finalize()));
        }
        hasher.update(&buffer[..n]);
    }
}

/// The `Code` and `Message` of an S3 error document (`<Error><Code>…</Code><Message>…</Message></Error>`), or the
/// body as it is (cut) when it is not one.
fn error_text(body: &str) -> String {
    let element = |name: &str| {
        let start = body.find(&format!("<{name}>"))? + name.len() + 2;
        let end = body[start..].find(&format!("</{name}>"))? + start;
        Some(body[start..end].trim().to_string())
    };
    match (element("Code"), element("Message")) {
        (Some(code), Some(message)) => format!("{code}: {message}"),
        (Some(code), None) => code,
        _ => {
            let text: String = body.trim().chars().take(300).collect();
            if text.is_empty() { "(no body)".into() } else { text }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::error_text;

    #[test]
    fn s3_error_documents_are_quoted_by_code_and_message() {
        let body = "<?xml version=\"1.0\"?>\n<Error><Code>SignatureDoesNotMatch</Code><Message>The request \
                    signature we calculated does not match</Message><RequestId>1</RequestId></Error>";
        assert_eq!(error_text(body), "SignatureDoesNotMatch: The request signature we calculated does not match");
        assert_eq!(error_text("<html>proxy</html>"), "<html>proxy</html>");
        assert_eq!(error_text(""), "(no body)");
    }
}
