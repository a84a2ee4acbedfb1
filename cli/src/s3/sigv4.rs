//! AWS Signature Version 4 for S3 requests with the signature in the `Authorization` header: the canonical request, the string to sign, the signing key and the header, as AWS documents them.
//!
//! The algorithm is "Signature Calculations for the Authorization Header: Transferring Payload in a Single
//! Chunk" (docs.aws.amazon.com/AmazonS3/latest/API/sig-v4-header-based-auth.html); the tests are that page's
//! example vectors. S3 URI-encodes each path segment once (unlike the other services, which encode twice).

use sha2::{Digest, Sha256};

/// The service name of S3 in a credential scope.
const SERVICE: &str = "s3";
const ALGORITHM: &str = "AWS4-HMAC-SHA256";

/// A key pair and the region requests are signed for.
pub struct SigningKey<'a> {
    pub access_key: &'a str,
    pub secret_key: &'a str,
    pub region: &'a str,
}

/// What is signed of one request. `host` is the `Host` header exactly as sent; `path` is the object's path
/// unencoded (`/bucket/key`); `headers` are further headers to sign (lower-case names), besides `host`,
/// `x-amz-content-sha256` and `x-amz-date`, which every request carries.
pub struct Request<'a> {
    pub method: &'a str,
    pub host: &'a str,
    pub path: &'a str,
    pub query: &'a [(&'a str, &'a str)],
    pub headers: &'a [(&'a str, &'a str)],
    /// Hex SHA-256 of the body (that of the empty string for none).
    pub payload_sha256: &'a str,
    /// `YYYYMMDDTHHMMSSZ`, also sent as `x-amz-date`.
    pub amz_date: &'a str,
}

/// The `Authorization` header's value for `request`.
pub fn authorization(key: &SigningKey, request: &Request) -> String {
    let date = &request.amz_date[..request.amz_date.len().min(8)];
    let scope = format!("{date}/{}/{SERVICE}/aws4_request", key.region);
    let mut headers: Vec<(String, String)> = vec![
        ("host".into(), request.host.trim().into()),
        ("x-amz-content-sha256".into(), request.payload_sha256.into()),
        ("x-amz-date".into(), request.amz_date.into()),
    ];
    headers.extend(request.headers.iter().map(|(name, value)| (name.to_ascii_lowercase(), canonical_value(value))));
    headers.sort();
    let signed: Vec<&str> = headers.iter().map(|(name, _)| name.as_str()).collect();
    let signed = signed.join(";");
    let canonical_headers: String = headers.iter().map(|(name, value)| format!("{name}:{value}\n")).collect();
    let mut query: Vec<(String, String)> =
        request.query.iter().map(|(k, v)| (uri_encode(k, true), uri_encode(v, true))).collect();
    query.sort();
    let query: Vec<String> = query.into_iter().map(|(k, v)| format!("{k}={v}")).collect();
    let canonical_request = format!(
        "{}\n{}\n{}\n{canonical_headers}\n{signed}\n{}",
        request.method,
        uri_encode(request.path, false),
        query.join("&"),
        request.payload_sha256
    );
    let string_to_sign =
        format!("{ALGORITHM}\n{}\n{scope}\n{}", request.amz_date, hex(&Sha256::digest(canonical_request.as_bytes())));
    let mut signing = hmac(format!("AWS4{}", key.secret_key).as_bytes(), date.as_bytes());
    for part in [key.region, SERVICE, "aws4_request"] {
        signing = hmac(&signing, part.as_bytes());
    }
    let signature = hex(&hmac(&signing, string_to_sign.as_bytes()));
    format!("{ALGORITHM} Credential={}/{scope},SignedHeaders={signed},Signature={signature}", key.access_key)
}

/// Hex SHA-256 of `bytes`.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex(&Sha256::digest(bytes))
}

pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// A header value as canonicalised: trimmed, inner runs of spaces made one.
fn canonical_value(value: &str) -> String {
    value.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// AWS's URI encoding: every byte but `A-Za-z0-9-._~` as `%XY` (upper-case hex); `/` kept in a path.
pub fn uri_encode(text: &str, encode_slash: bool) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => out.push(byte as char),
            b'/' if !encode_slash => out.push('/'),
            _ => out.push_str(&format!("%{byte:02X}")),
        }
    }
    out
}

/// HMAC-SHA256 (RFC 2104 with SHA-256's 64-byte block).
fn hmac(key: &[u8], message: &[u8]) -> Vec<u8> {
    const BLOCK: usize = 64;
    let mut block = [0u8; BLOCK];
    if key.len() > BLOCK {
        block[..32].copy_from_slice(&Sha256::digest(key));
    } else {
        block[..key.len()].copy_from_slice(key);
    }
    let pad = |byte: u8| block.iter().map(|b| b ^ byte).collect::<Vec<u8>>();
    let inner = Sha256::new().chain_update(pad(0x36)).chain_update(message).finalize();
    Sha256::new().chain_update(pad(0x5c)).chain_update(inner).finalize().to_vec()
}

#[cfg(test)]
mod tests {
    use super::*;

    // The example credentials, bucket and time of AWS's page (sig-v4-header-based-auth.html).
    const KEY: SigningKey = SigningKey {
        access_key: "AKIAIOSFODNN7EXAMPLE",
        secret_key: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
        region: "us-east-1",
    };
    const HOST: &str = "examplebucket.s3.amazonaws.com";
    const DATE: &str = "20130524T000000Z";
    const EMPTY: &str = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

    fn signature(header: &str) -> &str {
        header.rsplit_once("Signature=").map(|(_, s)| s).unwrap_or_default()
    }

    #[test]
    fn aws_example_get_object() {
        let request = Request {
            method: "GET",
            host: HOST,
            path: "/test.txt",
            query: &[],
            headers: &[("range", "bytes=0-9")],
            payload_sha256: EMPTY,
            amz_date: DATE,
        };
        assert_eq!(
            authorization(&KEY, &request),
            "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request,\
             SignedHeaders=host;range;x-amz-content-sha256;x-amz-date,\
             Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41"
        );
    }

    #[test]
    fn aws_example_put_object() {
        let body = b"Welcome to Amazon S3.";
        let payload = sha256_hex(body);
        assert_eq!(payload, "44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072");
        let request = Request {
            method: "PUT",
            host: HOST,
            path: "/test$file.text",
            query: &[],
            headers: &[("date", "Fri, 24 May 2013 00:00:00 GMT"), ("x-amz-storage-class", "REDUCED_REDUNDANCY")],
            payload_sha256: &payload,
            amz_date: DATE,
        };
        assert_eq!(
            signature(&authorization(&KEY, &request)),
            "98ad721746da40c64f1a55b78f14c238d841ea1380cd77a1b5971af0ece108bd"
        );
    }

    #[test]
    fn aws_example_get_bucket_lifecycle_and_list_objects() {
        let lifecycle = Request {
            method: "GET",
            host: HOST,
            path: "/",
            query: &[("lifecycle", "")],
            headers: &[],
            payload_sha256: EMPTY,
            amz_date: DATE,
        };
        assert_eq!(
            signature(&authorization(&KEY, &lifecycle)),
            "fea454ca298b7da1c68078a5d1bdbfbbe0d65c699e0f91ac7a200a0136783543"
        );
        let list = Request {
            method: "GET",
            host: HOST,
            path: "/",
            query: &[("prefix", "J"), ("max-keys", "2")],
            headers: &[],
            payload_sha256: EMPTY,
            amz_date: DATE,
        };
        assert_eq!(
            signature(&authorization(&KEY, &list)),
            "34b48302e7b5fa45bde8084f4b7868a86f0a534bc59db6670ed5711ef69dc6f7"
        );
    }

    #[test]
    fn hmac_matches_rfc_4231_case_2() {
        // RFC 4231 §4.3: key "Jefe", data "what do ya want for nothing?".
        assert_eq!(
            hex(&hmac(b"Jefe", b"what do ya want for nothing?")),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
        // §4.7: a key longer than the block is hashed first.
        assert_eq!(
            hex(&hmac(&[0xaa; 131], b"Test Using Larger Than Block-Size Key - Hash Key First")),
            "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54"
        );
    }

    #[test]
    fn paths_keep_slashes_and_encode_the_rest() {
        assert_eq!(uri_encode("/b/datasets/ab/my file+1.csv", false), "/b/datasets/ab/my%20file%2B1.csv");
        assert_eq!(uri_encode("a/b", true), "a%2Fb");
        assert_eq!(uri_encode("é", false), "%C3%A9");
    }
}
