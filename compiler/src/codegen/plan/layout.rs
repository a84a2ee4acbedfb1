//! The plan's JSON layout: byte for byte serde_json's pretty printer (two spaces a level), with each line break
//! and its indent written at once.
//!
//! serde_json's `PrettyFormatter` writes an indent as one two-byte write per level; the plan of a 1,000-stage
//! file has about 200,000 keys, most of them five to ten levels deep, so those writes were a quarter of the
//! plan's cost.

use std::io::{self, Write};

use serde::Serialize;
use serde_json::ser::{Formatter, Serializer};

/// `value` as pretty JSON written to `writer`: the text `serde_json::to_string_pretty` gives.
pub fn write_pretty<T: Serialize + ?Sized, W: Write>(value: &T, writer: W) -> serde_json::Result<()> {
    value.serialize(&mut Serializer::with_formatter(writer, Pretty::default()))
}

/// A line break followed by this many levels of indent, in one slice for the usual depths.
const BREAKS: &[u8] = b"\n                                                                ";

#[derive(Default)]
struct Pretty {
    level: usize,
    has_value: bool,
}

impl Pretty {
    fn line_break<W: ?Sized + Write>(&self, writer: &mut W) -> io::Result<()> {
        let width = 1 + 2 * self.level;
        if width <= BREAKS.len() {
            return writer.write_all(&BREAKS[..width]);
        }
        writer.write_all(BREAKS)?;
        for _ in (BREAKS.len() - 1) / 2..self.level {
            writer.write_all(b"  ")?;
        }
        Ok(())
    }

    fn open<W: ?Sized + Write>(&mut self, writer: &mut W, bracket: &[u8]) -> io::Result<()> {
        self.level += 1;
        self.has_value = false;
        writer.write_all(bracket)
    }

    fn close<W: ?Sized + Write>(&mut self, writer: &mut W, bracket: &[u8]) -> io::Result<()> {
        self.level -= 1;
        if self.has_value {
            self.line_break(writer)?;
        }
        writer.write_all(bracket)
    }

    fn item<W: ?Sized + Write>(&mut self, writer: &mut W, first: bool) -> io::Result<()> {
        if !first {
            writer.write_all(b",")?;
        }
        self.line_break(writer)
    }
}

impl Formatter for Pretty {
    fn begin_array<W: ?Sized + Write>(&mut self, writer: &mut W) -> io::Result<()> {
        self.open(writer, b"[")
    }

    fn end_array<W: ?Sized + Write>(&mut self, writer: &mut W) -> io::Result<()> {
        self.close(writer, b"]")
    }

    fn begin_array_value<W: ?Sized + Write>(&mut self, writer: &mut W, first: bool) -> io::Result<()> {
        self.item(writer, first)
    }

    fn end_array_value<W: ?Sized + Write>(&mut self, _writer: &mut W) -> io::Result<()> {
        self.has_value = true;
        Ok(())
    }

    fn begin_object<W: ?Sized + Write>(&mut self, writer: &mut W) -> io::Result<()> {
        self.open(writer, b"{")
    }

    fn end_object<W: ?Sized + Write>(&mut self, writer: &mut W) -> io::Result<()> {
        self.close(writer, b"}")
    }

    fn begin_object_key<W: ?Sized + Write>(&mut self, writer: &mut W, first: bool) -> io::Result<()> {
        self.item(writer, first)
    }

    fn begin_object_value<W: ?Sized + Write>(&mut self, writer: &mut W) -> io::Result<()> {
        writer.write_all(b": ")
    }

    fn end_object_value<W: ?Sized + Write>(&mut self, _writer: &mut W) -> io::Result<()> {
        self.has_value = true;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::write_pretty;

    #[test]
    fn the_layout_is_serde_jsons_pretty_printer_at_every_depth() {
        let mut deep = json!({"leaf": [1, {"x": "y"}, [], {}]});
        for level in 0..40 {
            deep = json!({ "level": level, "inner": deep, "list": [null, "a\"b", {"z": [level]}], "empty": [] });
            if level % 7 == 0 {
                deep = json!([deep, [[]], {"k": {}}]);
            }
        }
        for value in [json!(null), json!([]), json!({}), json!([1, 2]), json!({"a": {"b": [true]}}), deep] {
            let mut text = Vec::new();
            write_pretty(&value, &mut text).unwrap();
            assert_eq!(String::from_utf8(text).unwrap(), serde_json::to_string_pretty(&value).unwrap());
        }
    }
}
