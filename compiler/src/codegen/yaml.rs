//! The one YAML emitter: a JSON tree → block-style YAML that YAML 1.1 readers (Kubernetes, KFP) read back unchanged.
//!
//! Written by hand because the maintained serde YAML crates emit `yes`, `on`
//! or `y` unquoted, which Kubernetes' YAML 1.1 parser turns into booleans.
//! Keys keep their insertion order (serde_json's `preserve_order`), so
//! objects print in the order of the typed structs they came from.

use serde_json::Value;

/// One document, ending with a newline.
pub fn to_yaml(value: &Value) -> String {
    let mut out = String::new();
    match value {
        Value::Object(map) if !map.is_empty() => emit_map(map, 0, &mut out),
        Value::Array(items) if !items.is_empty() => emit_list(items, 0, &mut out),
        scalar => {
            out.push_str(&scalar_text(scalar));
            out.push('\n');
        }
    }
    out
}

fn emit_map(map: &serde_json::Map<String, Value>, indent: usize, out: &mut String) {
    for (key, value) in map {
        push_indent(out, indent);
        push_text(out, key);
        out.push(':');
        emit_value_after_key(value, indent, out);
    }
}

fn emit_value_after_key(value: &Value, indent: usize, out: &mut String) {
    match value {
        Value::Object(map) if !map.is_empty() => {
            out.push('\n');
            emit_map(map, indent + 2, out);
        }
        Value::Array(items) if !items.is_empty() => {
            out.push('\n');
            // Sequences under a key are not indented, as kubectl and KFP print them.
            emit_list(items, indent, out);
        }
        scalar => {
            out.push(' ');
            push_scalar(out, scalar);
            out.push('\n');
        }
    }
}

fn emit_list(items: &[Value], indent: usize, out: &mut String) {
    for item in items {
        push_indent(out, indent);
        out.push('-');
        match item {
            Value::Object(map) if !map.is_empty() => {
                // The first key goes on the dash's line.
                let mut first = true;
                for (key, value) in map {
                    if first {
                        out.push(' ');
                        first = false;
                    } else {
                        push_indent(out, indent + 2);
                    }
                    push_text(out, key);
                    out.push(':');
                    emit_value_after_key(value, indent + 2, out);
                }
            }
            Value::Array(inner) if !inner.is_empty() => {
                out.push('\n');
                emit_list(inner, indent + 2, out);
            }
            scalar => {
                out.push(' ');
                push_scalar(out, scalar);
                out.push('\n');
            }
        }
    }
}

fn push_indent(out: &mut String, indent: usize) {
    out.extend(std::iter::repeat_n(' ', indent));
}

fn scalar_text(value: &Value) -> String {
    let mut out = String::new();
    push_scalar(&mut out, value);
    out
}

fn push_scalar(out: &mut String, value: &Value) {
    match value {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => out.push_str(&n.to_string()),
        Value::String(s) => push_text(out, s),
        Value::Object(_) => out.push_str("{}"),
        Value::Array(_) => out.push_str("[]"),
    }
}

/// Appends `text` as a YAML scalar, quoted only when it must be (no allocation
/// for the common plain case: this runs for every key and value).
pub(super) fn push_text(out: &mut String, text: &str) {
    match plainness(text) {
        Plainness::Plain => out.push_str(text),
        Plainness::SingleQuoted => {
            out.push('\'');
            for c in text.chars() {
                if c == '\'' {
                    out.push('\'');
                }
                out.push(c);
            }
            out.push('\'');
        }
        Plainness::DoubleQuoted => out.push_str(&double_quoted(text)),
    }
}

/// Plain when a YAML 1.1 or 1.2 reader reads it back as the same string;
/// single-quoted otherwise; double-quoted when it holds control characters.
pub fn quote_if_needed(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    push_text(&mut out, text);
    out
}

enum Plainness {
    Plain,
    SingleQuoted,
    DoubleQuoted,
}

fn double_quoted(text: &str) -> String {
    let mut out = String::from("\"");
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c if c.is_control() => out.push_str(&format!("\\u{:04X}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// Words YAML 1.1 reads as booleans or null, and `=`, its "value" key type (PyYAML's safe loader refuses a plain
/// `=`; AlertmanagerConfig matchers have `matchType: "="`).
const SPECIAL_WORDS: &[&str] = &[
    "y", "Y", "yes", "Yes", "YES", "n", "N", "no", "No", "NO", "true", "True", "TRUE", "false", "False", "FALSE", "on",
    "On", "ON", "off", "Off", "OFF", "null", "Null", "NULL", "~", "", "=",
];

/// One pass over the bytes decides how a string must be written.
fn plainness(text: &str) -> Plainness {
    let bytes = text.as_bytes();
    let (Some(&first), Some(&last)) = (bytes.first(), bytes.last()) else { return Plainness::SingleQuoted };
    let mut plain = !matches!(
        first,
        b'-' | b'?'
            | b':'
            | b','
            | b'['
            | b']'
            | b'{'
            | b'}'
            | b'#'
            | b'&'
            | b'*'
            | b'!'
            | b'|'
            | b'>'
            | b'\''
            | b'"'
            | b'%'
            | b'@'
            | b'`'
            | b' '
    ) && last != b' '
        && last != b':';
    // Anything that might read as a number (`1e3`, `0x1F`, `1_000`), a date
    // (`2024-01-01`), a sexagesimal (`1:20`) or a special float. `5Gi` and
    // `500m` stay plain: their letters rule out every numeric form.
    let mut numeric_looking = first.is_ascii_digit() || first == b'.' || first == b'+';
    let mut previous = 0u8;
    for (index, &b) in bytes.iter().enumerate() {
        if b < 0x20 || b == 0x7f {
            return Plainness::DoubleQuoted;
        }
        if b == 0xC2 && bytes.get(index + 1).is_some_and(|n| (0x80..=0x9F).contains(n)) {
            // U+0080–U+009F, the C1 control characters.
            return Plainness::DoubleQuoted;
        }
        if (b == b' ' && previous == b':') || (b == b'#' && previous == b' ') {
            plain = false;
        }
        if numeric_looking && !(b.is_ascii_hexdigit() || b"+-._:xXoObB".contains(&b)) {
            numeric_looking = false;
        }
        previous = b;
    }
    if numeric_looking && bytes.len() > usize::from(first == b'.' || first == b'+') {
        plain = false;
    }
    if bytes.len() <= 5 && SPECIAL_WORDS.contains(&text) {
        plain = false;
    }
    if first == b'.' && [".inf", ".nan", ".Inf", ".NaN", ".INF", ".NAN"].iter().any(|p| text.starts_with(p)) {
        plain = false;
    }
    if plain { Plainness::Plain } else { Plainness::SingleQuoted }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn yaml11_traps_are_quoted() {
        for trap in [
            "yes",
            "on",
            "y",
            "NO",
            "0123",
            "1e3",
            "1.5",
            "null",
            "~",
            "",
            "=",
            "2024-01-01",
            "+1",
            ".5",
            "- x",
            "a: b",
            "x #y",
        ] {
            let text = quote_if_needed(trap);
            assert!(text.starts_with('\'') || text.starts_with('"'), "{trap:?} must be quoted, got {text}");
        }
        for plain in ["python3", "ghcr.io/acme/iris:1.0", "app.kubernetes.io/name", "500m", "5Gi", "a b"] {
            assert_eq!(quote_if_needed(plain), plain);
        }
        assert_eq!(quote_if_needed("--lr"), "'--lr'");
    }

    #[test]
    fn nested_documents_read_like_kubectl_output() {
        let value = json!({
            "apiVersion": "v1",
            "kind": "PersistentVolumeClaim",
            "metadata": { "name": "w", "labels": { "app": "x" } },
            "spec": { "accessModes": ["ReadWriteOnce"], "resources": { "requests": { "storage": "5Gi" } } },
            "list": [{ "name": "a", "value": "1" }, { "name": "b" }],
            "empty": {},
            "none": []
        });
        let expected = "\
apiVersion: v1
kind: PersistentVolumeClaim
metadata:
  name: w
  labels:
    app: x
spec:
  accessModes:
  - ReadWriteOnce
  resources:
    requests:
      storage: 5Gi
list:
- name: a
  value: '1'
- name: b
empty: {}
none: []
";
        assert_eq!(to_yaml(&value), expected);
    }

    #[test]
    fn control_characters_are_escaped() {
        assert_eq!(quote_if_needed("a\nb"), "\"a\\nb\"");
    }
}
