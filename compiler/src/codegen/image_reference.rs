//! Container image references (`[host[:port]/]path[:tag][@digest]`): the syntax the container runtimes parse, and the launcher image's default.
//!
//! The grammar is that of github.com/distribution/reference v0.6.0 (`reference.go`'s comment and `regexp.go`),
//! which containerd and the kubelet's image pull use: a reference the checker accepts is one they parse.
//!
//! ```text
//! reference        := name [ ":" tag ] [ "@" digest ]
//! name             := [domain '/'] path-component ['/' path-component]*
//! domain           := domain-component ['.' domain-component]* [':' port-number]
//! domain-component := /([a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])/
//! path-component   := alpha-numeric [separator alpha-numeric]*
//! alpha-numeric    := /[a-z0-9]+/
//! separator        := /[_.]|__|[-]+/
//! tag              := /[\w][\w.-]{0,127}/
//! digest           := algorithm ":" /[0-9a-fA-F]{32,}/ , algorithm := /[A-Za-z][A-Za-z0-9]*([-_+.][A-Za-z][A-Za-z0-9]*)*/
//! ```
//! and the whole name is at most 255 characters (`NameTotalLengthMax`). IPv6 hosts (`[::1]:5000/x`) are not
//! accepted here: no cluster pulls the launcher from a bare IPv6 address.

/// Where the launcher image is published, without a tag.
pub const LAUNCHER_REPOSITORY: &str = "ghcr.io/kfl-dev/kfl";

/// The launcher image when neither `kfl build --launcher-image` nor `project.launcher_image` names one: the
/// repository tagged with this binary's version, so a pipeline runs `kfl launch` of the kfl that compiled it
/// (the manifest format between the two is not versioned).
pub fn default_launcher_image() -> String {
    format!("{LAUNCHER_REPOSITORY}:{}", env!("CARGO_PKG_VERSION"))
}

/// distribution/reference v0.6.0 `NameTotalLengthMax`.
const MAX_NAME: usize = 255;
/// distribution/reference v0.6.0 `tag`: one word character and at most 127 more.
const MAX_TAG: usize = 128;
/// distribution/reference v0.6.0 `digest-hex`: at least 32 hex digits.
const MIN_DIGEST_HEX: usize = 32;

/// Why `image` is not an image reference, or `None` when it is one.
pub fn problem(image: &str) -> Option<String> {
    if image.is_empty() {
        return Some("an image reference cannot be empty".to_string());
    }
    if let Some(c) = image.chars().find(|c| c.is_whitespace() || c.is_control()) {
        return Some(format!("an image reference cannot contain {c:?}"));
    }
    let (rest, digest) = match image.split_once('@') {
        Some((rest, digest)) => (rest, Some(digest)),
        None => (image, None),
    };
    if let Some(digest) = digest
        && let Some(why) = digest_problem(digest)
    {
        return Some(why);
    }
    // A `:` after the last `/` starts the tag; one before it is the registry's port.
    let last_slash = rest.rfind('/').map_or(0, |i| i + 1);
    let (name, tag) = match rest[last_slash..].find(':') {
        Some(colon) => (&rest[..last_slash + colon], Some(&rest[last_slash + colon + 1..])),
        None => (rest, None),
    };
    if let Some(tag) = tag
        && let Some(why) = tag_problem(tag)
    {
        return Some(why);
    }
    if name.len() > MAX_NAME {
        return Some(format!("the image name is {} characters long; at most {MAX_NAME} are allowed", name.len()));
    }
    name_problem(name)
}

fn name_problem(name: &str) -> Option<String> {
    let components: Vec<&str> = name.split('/').collect();
    // The first component is a registry host when more follow and it parses as one (distribution/reference
    // tries the domain first); `localhost/x` and `ghcr.io/x` alike.
    let path = match components.as_slice() {
        [first, rest @ ..] if !rest.is_empty() && domain_problem(first).is_none() => rest,
        all => all,
    };
    for component in path {
        if let Some(why) = path_component_problem(component) {
            return Some(why);
        }
    }
    None
}

fn domain_problem(domain: &str) -> Option<String> {
    let (host, port) = match domain.split_once(':') {
        Some((host, port)) => (host, Some(port)),
        None => (domain, None),
    };
    if let Some(port) = port
        && (port.is_empty() || !port.bytes().all(|b| b.is_ascii_digit()))
    {
        return Some(format!("`{port}` is not a port number"));
    }
    let component_ok = |part: &str| {
        !part.is_empty()
            && part.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
            && !part.starts_with('-')
            && !part.ends_with('-')
    };
    if host.split('.').all(component_ok) { None } else { Some(format!("`{domain}` is not a registry host")) }
}

fn path_component_problem(component: &str) -> Option<String> {
    let lower_alnum = |b: u8| b.is_ascii_lowercase() || b.is_ascii_digit();
    if component.is_empty() {
        return Some("an image name has an empty path component (`//`, or a leading or trailing `/`)".to_string());
    }
    if component.bytes().any(|b| b.is_ascii_uppercase()) {
        return Some(format!("`{component}`: an image's repository path must be lowercase"));
    }
    let bytes = component.as_bytes();
    if !lower_alnum(bytes[0]) || !lower_alnum(bytes[bytes.len() - 1]) {
        return Some(format!("`{component}`: a path component starts and ends with a letter or digit"));
    }
    // Separators between alphanumeric runs: one `.`, one or two `_`, or any number of `-`.
    let mut run = String::new();
    for &b in bytes {
        if lower_alnum(b) {
            if !separator_ok(&run) {
                return Some(format!("`{component}`: `{run}` is not a separator (one `.`, one or two `_`, or `-`s)"));
            }
            run.clear();
        } else if matches!(b, b'.' | b'_' | b'-') {
            run.push(b as char);
        } else {
            return Some(format!("`{component}`: `{}` is not allowed in an image's repository path", b as char));
        }
    }
    None
}

fn separator_ok(run: &str) -> bool {
    matches!(run, "" | "." | "_" | "__") || run.bytes().all(|b| b == b'-')
}

fn tag_problem(tag: &str) -> Option<String> {
    let word = |b: u8| b.is_ascii_alphanumeric() || b == b'_';
    match tag.as_bytes() {
        [] => Some("the tag after `:` is empty".to_string()),
        _ if tag.len() > MAX_TAG => Some(format!("the tag is {} characters long; at most {MAX_TAG}", tag.len())),
        [first, ..] if !word(*first) => Some(format!("the tag `{tag}` must start with a letter, digit or `_`")),
        bytes if !bytes.iter().all(|&b| word(b) || b == b'.' || b == b'-') => {
            Some(format!("the tag `{tag}` may hold only letters, digits, `_`, `.` and `-`"))
        }
        _ => None,
    }
}

fn digest_problem(digest: &str) -> Option<String> {
    let Some((algorithm, hex)) = digest.split_once(':') else {
        return Some(format!("the digest `{digest}` must be ALGORITHM:HEX, e.g. `sha256:…`"));
    };
    let algorithm_ok = algorithm.split(['-', '_', '+', '.']).all(|part| {
        part.as_bytes().first().is_some_and(u8::is_ascii_alphabetic) && part.bytes().all(|b| b.is_ascii_alphanumeric())
    });
    if !algorithm_ok {
        return Some(format!("`{algorithm}` is not a digest algorithm"));
    }
    if hex.len() < MIN_DIGEST_HEX || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Some(format!("the digest must be at least {MIN_DIGEST_HEX} hex digits after `{algorithm}:`"));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_what_distribution_reference_parses() {
        for image in [
            "kfl",
            "ubuntu:24.04",
            "library/ubuntu",
            "ghcr.io/kfl-dev/kfl:0.1.0",
            "localhost:5000/team/kfl:dev_1",
            "registry.example.com/a/b/c/d",
            "my__org/my.name/x--y",
            "Quay.IO/kfl/kfl",
            "kfl@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
            "ghcr.io/kfl-dev/kfl:1.2@sha256:0123456789abcdef0123456789abcdef",
            "127.0.0.1:5000/kfl",
        ] {
            assert_eq!(problem(image), None, "{image}");
        }
        assert_eq!(problem(&default_launcher_image()), None);
    }

    #[test]
    fn refuses_what_it_does_not() {
        for image in [
            "",
            "ghcr.io/kfl-dev/KFL:1",
            "kfl:",
            "kfl:-x",
            "kfl:a b",
            "ghcr.io//kfl",
            "kfl/",
            "-kfl",
            "kfl.",
            "a___b",
            "a..b",
            "kfl@sha256:abc",
            "kfl@:0123456789abcdef0123456789abcdef",
            "host:port/kfl",
            "kfl:1:2",
            "kfl!",
            &format!("kfl:{}", "a".repeat(129)),
            &format!("{}/kfl", "a".repeat(260)),
        ] {
            assert!(problem(image).is_some(), "{image} accepted");
        }
    }
}
