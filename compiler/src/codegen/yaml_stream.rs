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

/// `value` as one YAML document, ending with a newline.
pub fn to_yaml<T: Serialize + ?Sized>(value: &T) -> Result<String, Error> {
    let mut out = String::new();
    value.serialize(Emitter { out: &mut out, slot: Slot::Root })?;
    Ok(out)
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

struct Emitter<'o> {
    out: &'o mut String,
    slot: Slot,
}

impl<'o> Emitter<'o> {
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

    fn map(self) -> Map<'o> {
        Map { indent: self.slot.map_indent(), slot: self.slot, out: self.out, entries: 0 }
    }

    fn seq(self) -> Seq<'o> {
        Seq { indent: self.slot.seq_indent(), slot: self.slot, out: self.out, items: 0 }
    }
}

fn push_indent(out: &mut String, indent: usize) {
    out.extend(std::iter::repeat_n(' ', indent));
}

/// A map or struct being written; nothing is written until its first entry, so an empty one becomes `{}`.
struct Map<'o> {
    out: &'o mut String,
    slot: Slot,
    indent: usize,
    entries: usize,
}

impl Map<'_> {
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
        value.serialize(Emitter { out: self.out, slot: Slot::AfterKey(self.indent) })
    }

    fn finish(self) -> Result<(), Error> {
        if self.entries == 0 {
            self.out.push_str(if matches!(self.slot, Slot::Root) { "{}\n" } else { " {}\n" });
        }
        Ok(())
    }
}

/// A sequence being written; an empty one becomes `[]`.
struct Seq<'o> {
    out: &'o mut String,
    slot: Slot,
    indent: usize,
    items: usize,
}

impl Seq<'_> {
    fn item<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), Error> {
        if self.items == 0 && !matches!(self.slot, Slot::Root) {
            self.out.push('\n');
        }
        self.items += 1;
        push_indent(self.out, self.indent);
        self.out.push('-');
        value.serialize(Emitter { out: self.out, slot: Slot::Item(self.indent) })
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

impl<'o> ser::Serializer for Emitter<'o> {
    type Ok = ();
    type Error = Error;
    type SerializeSeq = Seq<'o>;
    type SerializeTuple = Seq<'o>;
    type SerializeTupleStruct = Seq<'o>;
    type SerializeTupleVariant = Variant<Seq<'o>>;
    type SerializeMap = MapWithKey<'o>;
    type SerializeStruct = Map<'o>;
    type SerializeStructVariant = Variant<Map<'o>>;

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
    fn serialize_seq(self, _len: Option<usize>) -> Result<Seq<'o>, Error> {
        Ok(self.seq())
    }
    fn serialize_tuple(self, _len: usize) -> Result<Seq<'o>, Error> {
        Ok(self.seq())
    }
    fn serialize_tuple_struct(self, _name: &'static str, _len: usize) -> Result<Seq<'o>, Error> {
        Ok(self.seq())
    }
    fn serialize_tuple_variant(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
        _len: usize,
    ) -> Result<Variant<Seq<'o>>, Error> {
        let mut outer = self.map();
        outer.key(variant);
        let inner = Seq { indent: outer.indent, slot: Slot::AfterKey(outer.indent), out: outer.out, items: 0 };
        Ok(Variant(inner))
    }
    fn serialize_map(self, _len: Option<usize>) -> Result<MapWithKey<'o>, Error> {
        Ok(MapWithKey { map: self.map(), key: String::new() })
    }
    fn serialize_struct(self, _name: &'static str, _len: usize) -> Result<Map<'o>, Error> {
        Ok(self.map())
    }
    fn serialize_struct_variant(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
        _len: usize,
    ) -> Result<Variant<Map<'o>>, Error> {
        let mut outer = self.map();
        outer.key(variant);
        let indent = outer.indent;
        let inner = Map { indent: indent + 2, slot: Slot::AfterKey(indent), out: outer.out, entries: 0 };
        Ok(Variant(inner))
    }
}

impl ser::SerializeSeq for Seq<'_> {
    type Ok = ();
    type Error = Error;
    fn serialize_element<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), Error> {
        self.item(value)
    }
    fn end(self) -> Result<(), Error> {
        self.finish()
    }
}

impl ser::SerializeTuple for Seq<'_> {
    type Ok = ();
    type Error = Error;
    fn serialize_element<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), Error> {
        self.item(value)
    }
    fn end(self) -> Result<(), Error> {
        self.finish()
    }
}

impl ser::SerializeTupleStruct for Seq<'_> {
    type Ok = ();
    type Error = Error;
    fn serialize_field<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), Error> {
        self.item(value)
    }
    fn end(self) -> Result<(), Error> {
        self.finish()
    }
}

impl ser::SerializeStruct for Map<'_> {
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
struct MapWithKey<'o> {
    map: Map<'o>,
    key: String,
}

impl ser::SerializeMap for MapWithKey<'_> {
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

impl ser::SerializeTupleVariant for Variant<Seq<'_>> {
    type Ok = ();
    type Error = Error;
    fn serialize_field<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), Error> {
        self.0.item(value)
    }
    fn end(self) -> Result<(), Error> {
        self.0.finish()
    }
}

impl ser::SerializeStructVariant for Variant<Map<'_>> {
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
}
