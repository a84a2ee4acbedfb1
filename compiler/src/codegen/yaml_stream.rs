//! A serde `Serializer` that writes typed structs straight to the YAML of `yaml.rs`, with no `serde_json` tree.
//!
//! The KFP pipeline of a 1,000-stage file is a few hundred kilobytes of YAML; building it as a JSON tree first,
//! then walking and freeing that tree, was a third of the pipeline's cost. The output is byte for byte what
//! `yaml::to_yaml(&serde_json::to_value(x))` gives (a test checks it on every example): the same quoting, the
//! same `{}`/`[]` for empty containers, the first key of a list item on the dash's line, and numbers printed as
//! `serde_json` prints them.

use std::fmt;

use serde::Serialize;
use serde::ser::{self, Impossible};

use super::yaml::push_text;

/// `value` as one YAML document, ending with a newline (the tests' reference for [`write_yaml`]'s text).
#[cfg(test)]
pub fn to_yaml<T: Serialize + ?Sized>(value: &T) -> Result<String, Error> {
    let mut out = Out { text: String::new(), writer: None, failed: None };
    value.serialize(Emitter { out: &mut out, slot: Slot::Root })?;
    Ok(out.text)
}

/// `value` as one YAML document written to `writer` as it is produced (the text of [`to_yaml`]): the pipeline of
/// a 50 MB program is about 0.2 GB of YAML, never held whole (bench/memory.sh).
pub fn write_yaml<T: Serialize + ?Sized>(value: &T, writer: &mut dyn std::io::Write) -> std::io::Result<()> {
    let mut out = Out { text: String::with_capacity(2 * FLUSH_AT), writer: Some(writer), failed: None };
    value.serialize(Emitter { out: &mut out, slot: Slot::Root }).map_err(std::io::Error::other)?;
    out.flush();
    out.failed.map_or(Ok(()), Err)
}

/// Text is handed to the writer in pieces of about this size.
const FLUSH_AT: usize = 64 * 1024;

/// The text being written and, when streaming, where it goes: the text is passed on after each list item or map
/// entry once it holds [`FLUSH_AT`] bytes.
struct Out<'w> {
    text: String,
    writer: Option<&'w mut dyn std::io::Write>,
    /// The writer's first error: nothing more is written after it, and [`write_yaml`] returns it.
    failed: Option<std::io::Error>,
}

impl Out<'_> {
    fn flush_if_full(&mut self) {
        if self.text.len() >= FLUSH_AT {
            self.flush();
        }
    }

    fn flush(&mut self) {
        let Some(writer) = self.writer.as_mut() else { return };
        if self.failed.is_none()
            && let Err(e) = writer.write_all(self.text.as_bytes())
        {
            self.failed = Some(e);
        }
        self.text.clear();
    }
}

impl std::ops::Deref for Out<'_> {
    type Target = String;
    fn deref(&self) -> &String {
        &self.text
    }
}

impl std::ops::DerefMut for Out<'_> {
    fn deref_mut(&mut self) -> &mut String {
        &mut self.text
    }
}

/// Where a value is written: the top of the document, after `key:` (the key at this indent), or after `-` (the
/// dash at this indent).
#[derive(Clone, Copy)]
enum Slot {
    Root,
    AfterKey(usize),
    Item(usize),
}

impl Slot {
    /// The indent of a map's keys in this slot.
    fn map_indent(self) -> usize {
        match self {
            Slot::Root => 0,
            Slot::AfterKey(indent) | Slot::Item(indent) => indent + 2,
        }
    }

    /// The indent of a sequence's dashes in this slot: not indented under a key, as kubectl and KFP print them.
    fn seq_indent(self) -> usize {
        match self {
            Slot::Root => 0,
            Slot::AfterKey(indent) => indent,
            Slot::Item(indent) => indent + 2,
        }
    }
}

/// A serialisation error: only a type's own `Serialize` can raise one.
#[derive(Debug)]
pub struct Error(String);

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Error {}

impl ser::Error for Error {
    fn custom<T: fmt::Display>(message: T) -> Self {
        Error(message.to_string())
    }
}

struct Emitter<'o, 'w> {
    out: &'o mut Out<'w>,
    slot: Slot,
}

impl<'o, 'w> Emitter<'o, 'w> {
    fn scalar(self, text: &str, quote: bool) -> Result<(), Error> {
        if !matches!(self.slot, Slot::Root) {
            self.out.push(' ');
        }
        if quote {
            push_text(self.out, text);
        } else {
            self.out.push_str(text);
        }
        self.out.push('\n');
        Ok(())
    }

    fn map(self) -> Map<'o, 'w> {
        Map { indent: self.slot.map_indent(), slot: self.slot, out: self.out, entries: 0 }
    }

    fn seq(self) -> Seq<'o, 'w> {
        Seq { indent: self.slot.seq_indent(), slot: self.slot, out: self.out, items: 0 }
    }
}

fn push_indent(out: &mut String, indent: usize) {
    out.extend(std::iter::repeat_n(' ', indent));
}

/// A map or struct being written; nothing is written until its first entry, so an empty one becomes `{}`.
struct Map<'o, 'w> {
    out: &'o mut Out<'w>,
    slot: Slot,
    indent: usize,
    entries: usize,
}

impl Map<'_, '_> {
    fn key(&mut self, key: &str) {
        if self.entries == 0 {
            match self.slot {
                Slot::Root => {}
                Slot::AfterKey(_) => {
                    self.out.push('\n');
                    push_indent(self.out, self.indent);
                }
                // The first key goes on the dash's line.
                Slot::Item(_) => self.out.push(' '),
            }
        } else {
            push_indent(self.out, self.indent);
        }
        self.entries += 1;
        push_text(self.out, key);
        self.out.push(':');
    }

    fn value<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), Error> {
        value.serialize(Emitter { out: self.out, slot: Slot::AfterKey(self.indent) })?;
        self.out.flush_if_full();
        Ok(())
    }

    fn finish(self) -> Result<(), Error> {
        if self.entries == 0 {
            self.out.push_str(if matches!(self.slot, Slot::Root) { "{}\n" } else { " {}\n" });
        }
        Ok(())
    }
}

/// A sequence being written; an empty one becomes `[]`.
struct Seq<'o, 'w> {
    out: &'o mut Out<'w>,
    slot: Slot,
    indent: usize,
    items: usize,
}

impl Seq<'_, '_> {
    fn item<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), Error> {
        if self.items == 0 && !matches!(self.slot, Slot::Root) {
            self.out.push('\n');
        }
        self.items += 1;
        push_indent(self.out, self.indent);
        self.out.push('-');
        value.serialize(Emitter { out: self.out, slot: Slot::Item(self.indent) })?;
        self.out.flush_if_full();
        Ok(())
    }

    fn finish(self) -> Result<(), Error> {
        if self.items == 0 {
            self.out.push_str(if matches!(self.slot, Slot::Root) { "[]\n" } else { " []\n" });
        }
        Ok(())
    }
}

/// A float as `serde_json` prints it; not finite is `null`, as in a JSON tree.
fn float_text(value: f64) -> String {
    serde_json::Number::from_f64(value).map_or_else(|| "null".to_string(), |n| n.to_string())
}

impl<'o, 'w> ser::Serializer for Emitter<'o, 'w> {
    type Ok = ();
    type Error = Error;
    type SerializeSeq = Seq<'o, 'w>;
    type SerializeTuple = Seq<'o, 'w>;
    type SerializeTupleStruct = Seq<'o, 'w>;
    type SerializeTupleVariant = Variant<Seq<'o, 'w>>;
    type SerializeMap = MapWithKey<'o, 'w>;
    type SerializeStruct = Map<'o, 'w>;
    type SerializeStructVariant = Variant<Map<'o, 'w>>;

    fn serialize_bool(self, v: bool) -> Result<(), Error> {
        self.scalar(if v { "true" } else { "false" }, false)
    }
    fn serialize_i8(self, v: i8) -> Result<(), Error> {
        self.serialize_i64(i64::from(v))
    }
    fn serialize_i16(self, v: i16) -> Result<(), Error> {
        self.serialize_i64(i64::from(v))
    }
    fn serialize_i32(self, v: i32) -> Result<(), Error> {
        self.serialize_i64(i64::from(v))
    }
    fn serialize_i64(self, v: i64) -> Result<(), Error> {
        self.scalar(&v.to_string(), false)
    }
    fn serialize_i128(self, v: i128) -> Result<(), Error> {
        self.scalar(&v.to_string(), false)
    }
    fn serialize_u8(self, v: u8) -> Result<(), Error> {
        self.serialize_u64(u64::from(v))
    }
    fn serialize_u16(self, v: u16) -> Result<(), Error> {
        self.serialize_u64(u64::from(v))
    }
    fn serialize_u32(self, v: u32) -> Result<(), Error> {
        self.serialize_u64(u64::from(v))
    }
    fn serialize_u64(self, v: u64) -> Result<(), Error> {
        self.scalar(&v.to_string(), false)
    }
    fn serialize_u128(self, v: u128) -> Result<(), Error> {
        self.scalar(&v.to_string(), false)
    }
    fn serialize_f32(self, v: f32) -> Result<(), Error> {
        self.serialize_f64(f64::from(v))
    }
    fn serialize_f64(self, v: f64) -> Result<(), Error> {
        self.scalar(&float_text(v), false)
    }
    fn serialize_char(self, v: char) -> Result<(), Error> {
        self.scalar(v.encode_utf8(&mut [0; 4]), true)
    }
    fn serialize_str(self, v: &str) -> Result<(), Error> {
        self.scalar(v, true)
    }
    fn serialize_bytes(self, v: &[u8]) -> Result<(), Error> {
        // As serde_json: a list of numbers.
        let mut seq = self.seq();
        for byte in v {
            seq.item(byte)?;
        }
        seq.finish()
    }
    fn serialize_none(self) -> Result<(), Error> {
        self.scalar("null", false)
    }
    fn serialize_some<T: Serialize + ?Sized>(self, value: &T) -> Result<(), Error> {
        value.serialize(self)
    }
    fn serialize_unit(self) -> Result<(), Error> {
        self.scalar("null", false)
    }
    fn serialize_unit_struct(self, _name: &'static str) -> Result<(), Error> {
        self.serialize_unit()
    }
    fn serialize_unit_variant(self, _name: &'static str, _index: u32, variant: &'static str) -> Result<(), Error> {
        self.serialize_str(variant)
    }
    fn serialize_newtype_struct<T: Serialize + ?Sized>(self, _name: &'static str, value: &T) -> Result<(), Error> {
        value.serialize(self)
    }
    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
        value: &T,
    ) -> Result<(), Error> {
        let mut map = self.map();
        map.key(variant);
        map.value(value)?;
        map.finish()
    }
    fn serialize_seq(self, _len: Option<usize>) -> Result<Seq<'o, 'w>, Error> {
        Ok(self.seq())
    }
    fn serialize_tuple(self, _len: usize) -> Result<Seq<'o, 'w>, Error> {
        Ok(self.seq())
    }
    fn serialize_tuple_struct(self, _name: &'static str, _len: usize) -> Result<Seq<'o, 'w>, Error> {
        Ok(self.seq())
    }
    fn serialize_tuple_variant(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
        _len: usize,
    ) -> Result<Variant<Seq<'o, 'w>>, Error> {
        let mut outer = self.map();
        outer.key(variant);
        let inner = Seq { indent: outer.indent, slot: Slot::AfterKey(outer.indent), out: outer.out, items: 0 };
        Ok(Variant(inner))
    }
    fn serialize_map(self, _len: Option<usize>) -> Result<MapWithKey<'o, 'w>, Error> {
        Ok(MapWithKey { map: self.map(), key: String::new() })
    }
    fn serialize_struct(self, _name: &'static str, _len: usize) -> Result<Map<'o, 'w>, Error> {
        Ok(self.map())
    }
    fn serialize_struct_variant(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
        _len: usize,
    ) -> Result<Variant<Map<'o, 'w>>, Error> {
        let mut outer = self.map();
        outer.key(variant);
        let indent = outer.indent;
        let inner = Map { indent: indent + 2, slot: Slot::AfterKey(indent), out: outer.out, entries: 0 };
        Ok(Variant(inner))
    }
}

impl ser::SerializeSeq for Seq<'_, '_> {
    type Ok = ();
    type Error = Error;
    fn serialize_element<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), Error> {
        self.item(value)
    }
    fn end(self) -> Result<(), Error> {
        self.finish()
    }
}

impl ser::SerializeTuple for Seq<'_, '_> {
    type Ok = ();
    type Error = Error;
    fn serialize_element<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), Error> {
        self.item(value)
    }
    fn end(self) -> Result<(), Error> {
        self.finish()
    }
}

impl ser::SerializeTupleStruct for Seq<'_, '_> {
    type Ok = ();
    type Error = Error;
    fn serialize_field<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), Error> {
        self.item(value)
    }
    fn end(self) -> Result<(), Error> {
        self.finish()
    }
}

impl ser::SerializeStruct for Map<'_, '_> {
    type Ok = ();
    type Error = Error;
    fn serialize_field<T: Serialize + ?Sized>(&mut self, key: &'static str, value: &T) -> Result<(), Error> {
        self.key(key);
        self.value(value)
    }
    fn end(self) -> Result<(), Error> {
        self.finish()
    }
}

/// A map whose keys may be any scalar, written as their text (as `serde_json` turns them into object keys).
struct MapWithKey<'o, 'w> {
    map: Map<'o, 'w>,
    key: String,
}

impl ser::SerializeMap for MapWithKey<'_, '_> {
    type Ok = ();
    type Error = Error;
    fn serialize_key<T: Serialize + ?Sized>(&mut self, key: &T) -> Result<(), Error> {
        self.key = key.serialize(KeyText)?;
        Ok(())
    }
    fn serialize_value<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), Error> {
        self.map.key(&self.key);
        self.map.value(value)
    }
    fn end(self) -> Result<(), Error> {
        self.map.finish()
    }
}

/// `variant:` then the variant's fields or elements one level in.
struct Variant<T>(T);

impl ser::SerializeTupleVariant for Variant<Seq<'_, '_>> {
    type Ok = ();
    type Error = Error;
    fn serialize_field<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), Error> {
        self.0.item(value)
    }
    fn end(self) -> Result<(), Error> {
        self.0.finish()
    }
}

impl ser::SerializeStructVariant for Variant<Map<'_, '_>> {
    type Ok = ();
    type Error = Error;
    fn serialize_field<T: Serialize + ?Sized>(&mut self, key: &'static str, value: &T) -> Result<(), Error> {
        self.0.key(key);
        self.0.value(value)
    }
    fn end(self) -> Result<(), Error> {
        self.0.finish()
    }
}

/// A map key's text.
struct KeyText;

impl ser::Serializer for KeyText {
    type Ok = String;
    type Error = Error;
    type SerializeSeq = Impossible<String, Error>;
    type SerializeTuple = Impossible<String, Error>;
    type SerializeTupleStruct = Impossible<String, Error>;
    type SerializeTupleVariant = Impossible<String, Error>;
    type SerializeMap = Impossible<String, Error>;
    type SerializeStruct = Impossible<String, Error>;
    type SerializeStructVariant = Impossible<String, Error>;

    fn serialize_bool(self, v: bool) -> Result<String, Error> {
        Ok(v.to_string())
    }
    fn serialize_i8(self, v: i8) -> Result<String, Error> {
        Ok(v.to_string())
    }
    fn serialize_i16(self, v: i16) -> Result<String, Error> {
        Ok(v.to_string())
    }
    fn serialize_i32(self, v: i32) -> Result<String, Error> {
        Ok(v.to_string())
    }
    fn serialize_i64(self, v: i64) -> Result<String, Error> {
        Ok(v.to_string())
    }
    fn serialize_u8(self, v: u8) -> Result<String, Error> {
        Ok(v.to_string())
    }
    fn serialize_u16(self, v: u16) -> Result<String, Error> {
        Ok(v.to_string())
    }
    fn serialize_u32(self, v: u32) -> Result<String, Error> {
        Ok(v.to_string())
    }
    fn serialize_u64(self, v: u64) -> Result<String, Error> {
        Ok(v.to_string())
    }
    fn serialize_f32(self, v: f32) -> Result<String, Error> {
        Ok(float_text(f64::from(v)))
    }
    fn serialize_f64(self, v: f64) -> Result<String, Error> {
        Ok(float_text(v))
    }
    fn serialize_char(self, v: char) -> Result<String, Error> {
        Ok(v.to_string())
    }
    fn serialize_str(self, v: &str) -> Result<String, Error> {
        Ok(v.to_string())
    }
    fn serialize_bytes(self, _v: &[u8]) -> Result<String, Error> {
        Err(ser::Error::custom("a map key must be a string or a number"))
    }
    fn serialize_none(self) -> Result<String, Error> {
        Err(ser::Error::custom("a map key must be a string or a number"))
    }
    fn serialize_some<T: Serialize + ?Sized>(self, value: &T) -> Result<String, Error> {
        value.serialize(self)
    }
    fn serialize_unit(self) -> Result<String, Error> {
        Err(ser::Error::custom("a map key must be a string or a number"))
    }
    fn serialize_unit_struct(self, _name: &'static str) -> Result<String, Error> {
        self.serialize_unit()
    }
    fn serialize_unit_variant(self, _name: &'static str, _index: u32, variant: &'static str) -> Result<String, Error> {
        Ok(variant.to_string())
    }
    fn serialize_newtype_struct<T: Serialize + ?Sized>(self, _name: &'static str, value: &T) -> Result<String, Error> {
        value.serialize(self)
    }
    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _name: &'static str,
        _index: u32,
        _variant: &'static str,
        _value: &T,
    ) -> Result<String, Error> {
        Err(ser::Error::custom("a map key must be a string or a number"))
    }
    fn serialize_seq(self, _len: Option<usize>) -> Result<Self::SerializeSeq, Error> {
        Err(ser::Error::custom("a map key must be a string or a number"))
    }
    fn serialize_tuple(self, _len: usize) -> Result<Self::SerializeTuple, Error> {
        Err(ser::Error::custom("a map key must be a string or a number"))
    }
    fn serialize_tuple_struct(self, _name: &'static str, _len: usize) -> Result<Self::SerializeTupleStruct, Error> {
        Err(ser::Error::custom("a map key must be a string or a number"))
    }
    fn serialize_tuple_variant(
        self,
        _name: &'static str,
        _index: u32,
        _variant: &'static str,
        _len: usize,
    ) -> Result<Self::SerializeTupleVariant, Error> {
        Err(ser::Error::custom("a map key must be a string or a number"))
    }
    fn serialize_map(self, _len: Option<usize>) -> Result<Self::SerializeMap, Error> {
        Err(ser::Error::custom("a map key must be a string or a number"))
    }
    fn serialize_struct(self, _name: &'static str, _len: usize) -> Result<Self::SerializeStruct, Error> {
        Err(ser::Error::custom("a map key must be a string or a number"))
    }
    fn serialize_struct_variant(
        self,
        _name: &'static str,
        _index: u32,
        _variant: &'static str,
        _len: usize,
    ) -> Result<Self::SerializeStructVariant, Error> {
        Err(ser::Error::custom("a map key must be a string or a number"))
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    /// The tree path and the direct path agree, on every shape the emitter knows.
    #[test]
    fn writes_what_the_tree_emitter_writes() {
        #[derive(Serialize)]
        #[serde(rename_all = "camelCase")]
        struct Doc {
            api_version: &'static str,
            empty: std::collections::BTreeMap<String, i64>,
            none: Vec<i64>,
            nothing: Option<i64>,
            #[serde(skip_serializing_if = "Option::is_none")]
            skipped: Option<i64>,
            items: Vec<serde_json::Value>,
            nested: Vec<Vec<&'static str>>,
            numbers: (i64, u64, f64, f64, f64),
            traps: [&'static str; 5],
            by_number: std::collections::BTreeMap<i64, &'static str>,
            kind: Kind,
        }
        #[derive(Serialize)]
        enum Kind {
            Pair(i64, i64),
        }
        let doc = Doc {
            api_version: "v1",
            empty: Default::default(),
            none: Vec::new(),
            nothing: None,
            skipped: None,
            items: vec![json!({"name": "a", "value": {"x": [1, {}]}}), json!({}), json!([]), json!("s")],
            nested: vec![vec!["a", "b"], vec![]],
            numbers: (-3, 7, 1.0, 0.5, 1e-7),
            traps: ["yes", "1.5", "", "a: b", "x\ny"],
            by_number: [(2, "two")].into_iter().collect(),
            kind: Kind::Pair(1, 2),
        };
        let direct = to_yaml(&doc).unwrap();
        let via_tree = super::super::yaml::to_yaml(&serde_json::to_value(&doc).unwrap());
        assert_eq!(direct, via_tree);
        assert!(direct.contains("- name: a\n  value:\n    x:\n    - 1\n    - {}\n"), "{direct}");
        for root in [json!({}), json!([]), json!("x"), json!(1)] {
            assert_eq!(to_yaml(&root).unwrap(), super::super::yaml::to_yaml(&root));
        }
    }

    /// Streamed in pieces, the text is the same, whatever piece boundaries fall inside; a writer's error is
    /// returned and nothing more is written after it.
    #[test]
    fn streams_the_same_text_and_reports_the_writers_error() {
        let tasks: Vec<serde_json::Value> = (0..3000)
            .map(|i| json!({"name": format!("task-{i}"), "inputs": {"k": i, "list": [i, {"x": "yes"}]}, "e": []}))
            .collect();
        let doc = json!({"components": tasks, "root": {"dag": {}}});
        let whole = to_yaml(&doc).unwrap();
        assert!(whole.len() > 3 * FLUSH_AT, "the document spans several pieces");
        let mut streamed = Vec::new();
        write_yaml(&doc, &mut streamed).unwrap();
        assert_eq!(String::from_utf8(streamed).unwrap(), whole);

        /// Takes `room` bytes, then fails.
        struct Full {
            room: usize,
            taken: usize,
        }
        impl std::io::Write for Full {
            fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
                if self.taken + bytes.len() > self.room {
                    return Err(std::io::Error::other("disk full"));
                }
                self.taken += bytes.len();
                Ok(bytes.len())
            }
            fn flush(&mut self) -> std::io::Result<()> {
                Ok(())
            }
        }
        let mut full = Full { room: FLUSH_AT * 2, taken: 0 };
        let error = write_yaml(&doc, &mut full).expect_err("the writer fails");
        assert_eq!(error.to_string(), "disk full");
        assert!(full.taken <= FLUSH_AT * 2);
    }
}
