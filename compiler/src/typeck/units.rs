//! Number literals with unit suffixes, read by the expected type (`m` is millicores for a cpu, minutes for a duration).

use crate::ast::NumberLit;
use crate::ir::Ty;
use crate::ir::{Cpu, Duration, Quantity, Value};

pub const QUANTITY_SUFFIXES: &[(&str, f64)] = &[
    ("Ki", 1024.0),
    ("Mi", 1_048_576.0),
    ("Gi", 1_073_741_824.0),
    ("Ti", 1_099_511_627_776.0),
    ("Pi", 1_125_899_906_842_624.0),
    ("Ei", 1_152_921_504_606_846_976.0),
    ("k", 1e3),
    ("M", 1e6),
    ("G", 1e9),
    ("T", 1e12),
    ("P", 1e15),
    ("E", 1e18),
];

pub const DURATION_SUFFIXES: &[(&str, f64)] =
    &[("ms", 1.0), ("s", 1_000.0), ("m", 60_000.0), ("h", 3_600_000.0), ("d", 86_400_000.0)];

/// Why a literal was refused.
#[derive(Debug, PartialEq)]
pub enum UnitError {
    /// E0202: a unit where none fits, a missing unit, or an unknown suffix.
    WrongUnit { message: String, help: String },
    /// E0203: the number does not fit.
    OutOfRange { message: String },
}

/// Reads a literal. `expected` is the type the position wants, if known.
pub fn read_number(lit: &NumberLit, expected: Option<&Ty>) -> Result<(Ty, Value), UnitError> {
    let magnitude: f64 = lit.text.parse().unwrap_or(f64::INFINITY);
    if !magnitude.is_finite() {
        return Err(UnitError::OutOfRange { message: format!("`{}` is too large", lit.text) });
    }
    let Some(unit) = lit.unit.as_deref() else {
        return plain_number(lit, magnitude, expected);
    };
    let kind = unit_kind(unit, expected);
    match kind {
        Some(Ty::Quantity) => {
            let factor = lookup(QUANTITY_SUFFIXES, unit).unwrap_or(1.0);
            let text = format!("{}{unit}", lit.text);
            Ok((Ty::Quantity, Value::Quantity(Quantity { text, bytes: magnitude * factor })))
        }
        Some(Ty::Cpu) => Ok((Ty::Cpu, Value::Cpu(Cpu { millis: magnitude.round() as u64 }))),
        Some(Ty::Duration) => {
            let factor = lookup(DURATION_SUFFIXES, unit).unwrap_or(1.0);
            let millis = magnitude * factor;
            if millis > u64::MAX as f64 {
                return Err(UnitError::OutOfRange { message: format!("`{}{unit}` is too long", lit.text) });
            }
            Ok((Ty::Duration, Value::Duration(Duration { millis: millis.round() as u64 })))
        }
        Some(Ty::Percent) => Ok((Ty::Percent, Value::Percent(magnitude))),
        _ => Err(wrong_unit(lit, unit, expected)),
    }
}

fn plain_number(lit: &NumberLit, magnitude: f64, expected: Option<&Ty>) -> Result<(Ty, Value), UnitError> {
    match expected {
        Some(Ty::Cpu) => Ok((Ty::Cpu, Value::Cpu(Cpu { millis: (magnitude * 1000.0).round() as u64 }))),
        Some(ty @ (Ty::Quantity | Ty::Duration | Ty::Percent)) => {
            let example = match ty {
                Ty::Quantity => format!("{}Mi", lit.text),
                Ty::Duration => format!("{}s", lit.text),
                _ => format!("{}%", lit.text),
            };
            Err(UnitError::WrongUnit {
                message: format!("a {ty} needs a unit"),
                help: format!("write the unit after the number, e.g. `{example}`"),
            })
        }
        _ if lit.is_float => Ok((Ty::Float, Value::Float(magnitude))),
        _ => match lit.text.parse::<i64>() {
            Ok(n) => Ok((Ty::Int, Value::Int(n))),
            Err(_) => Err(UnitError::OutOfRange { message: format!("`{}` does not fit in 64 bits", lit.text) }),
        },
    }
}

/// Which unit type a suffix denotes, using the expected type to decide `m`.
fn unit_kind(unit: &str, expected: Option<&Ty>) -> Option<Ty> {
    let is_quantity = lookup(QUANTITY_SUFFIXES, unit).is_some();
    let is_duration = lookup(DURATION_SUFFIXES, unit).is_some();
    let is_cpu = unit == "m";
    let is_percent = unit == "%";
    match expected {
        Some(Ty::Cpu) if is_cpu => Some(Ty::Cpu),
        Some(Ty::Duration) if is_duration => Some(Ty::Duration),
        Some(Ty::Quantity) if is_quantity => Some(Ty::Quantity),
        Some(Ty::Percent) if is_percent => Some(Ty::Percent),
        Some(Ty::Cpu | Ty::Duration | Ty::Quantity | Ty::Percent) => None,
        Some(Ty::Int | Ty::Float | Ty::Bool | Ty::String) => None,
        _ if is_duration => Some(Ty::Duration),
        _ if is_quantity => Some(Ty::Quantity),
        _ if is_percent => Some(Ty::Percent),
        _ => None,
    }
}

fn wrong_unit(lit: &NumberLit, unit: &str, expected: Option<&Ty>) -> UnitError {
    let known = lookup(QUANTITY_SUFFIXES, unit).is_some() || lookup(DURATION_SUFFIXES, unit).is_some() || unit == "%";
    let byte_unit = byte_unit(unit).filter(|_| matches!(expected, Some(Ty::Quantity) | None));
    let help = match (expected, byte_unit) {
        (_, Some((decimal, binary))) if decimal == binary => format!("write `{}{binary}`", lit.text),
        (_, Some((decimal, binary))) => format!(
            "write `{n}{decimal}` (powers of 1000) or `{n}{binary}` (powers of 1024): quantities are written as \
             Kubernetes writes them, without `B`",
            n = lit.text
        ),
        (Some(Ty::Quantity), None) => "memory and storage take `Ki Mi Gi Ti Pi Ei` or `k M G T P E`".to_string(),
        (Some(Ty::Duration), _) => "durations take `ms`, `s`, `m`, `h` or `d`".to_string(),
        (Some(Ty::Cpu), _) => "a cpu is a plain number of cores (`2`, `0.5`) or millicores (`500m`)".to_string(),
        (Some(Ty::Percent), _) => "a percentage ends in `%`".to_string(),
        (Some(ty), _) => format!("a {ty} takes no unit: write `{}`", lit.text),
        (None, None) => {
            "units are `Mi`/`Gi`… for memory, `m` for millicores, `ms`/`s`/`m`/`h`/`d` for durations, `%`".to_string()
        }
    };
    let message = match expected {
        Some(ty) if known => format!("unit `{unit}` does not fit a {ty}"),
        Some(ty) => format!("unknown unit `{unit}` for a {ty}"),
        None => format!("unknown unit `{unit}`"),
    };
    UnitError::WrongUnit { message, help }
}

/// The Kubernetes spellings of a byte unit written the common way (`GB`, `gb`, `KiB`, `MiB`): the decimal
/// and the binary suffix (the same when the unit was already binary, `GiB` → `Gi`).
fn byte_unit(unit: &str) -> Option<(String, String)> {
    let stem = unit.strip_suffix(['B', 'b'])?;
    let (prefix, binary) = match stem.strip_suffix('i') {
        Some(prefix) => (prefix, true),
        None => (stem, false),
    };
    let mut chars = prefix.chars();
    let letter = chars.next()?.to_ascii_uppercase();
    if chars.next().is_some() || !"KMGTPE".contains(letter) {
        return None;
    }
    let decimal = if letter == 'K' { "k".to_string() } else { letter.to_string() };
    let binary_suffix = format!("{letter}i");
    lookup(QUANTITY_SUFFIXES, &binary_suffix)?;
    Some(if binary { (binary_suffix.clone(), binary_suffix) } else { (decimal, binary_suffix) })
}

fn lookup(table: &[(&str, f64)], unit: &str) -> Option<f64> {
    table.iter().find(|(s, _)| *s == unit).map(|(_, f)| *f)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lit(text: &str, unit: Option<&str>) -> NumberLit {
        NumberLit {
            text: text.into(),
            is_float: text.contains(['.', 'e']),
            unit: unit.map(Into::into),
            unit_span: None,
        }
    }

    #[test]
    fn byte_units_are_given_their_kubernetes_spellings() {
        assert_eq!(byte_unit("GB"), Some(("G".into(), "Gi".into())));
        assert_eq!(byte_unit("kB"), Some(("k".into(), "Ki".into())));
        assert_eq!(byte_unit("KB"), Some(("k".into(), "Ki".into())));
        assert_eq!(byte_unit("mb"), Some(("M".into(), "Mi".into())));
        assert_eq!(byte_unit("GiB"), Some(("Gi".into(), "Gi".into())));
        assert_eq!(byte_unit("B"), None);
        assert_eq!(byte_unit("XB"), None);
        assert_eq!(byte_unit("GGB"), None);
    }

    #[test]
    fn m_is_read_by_the_expected_type() {
        assert_eq!(read_number(&lit("500", Some("m")), Some(&Ty::Cpu)).unwrap().1, Value::Cpu(Cpu { millis: 500 }));
        assert_eq!(
            read_number(&lit("30", Some("m")), Some(&Ty::Duration)).unwrap().1,
            Value::Duration(Duration { millis: 1_800_000 })
        );
    }

    #[test]
    fn missing_and_wrong_units_are_refused() {
        assert!(matches!(read_number(&lit("512", None), Some(&Ty::Quantity)), Err(UnitError::WrongUnit { .. })));
        assert!(matches!(read_number(&lit("5", Some("Gi")), Some(&Ty::Duration)), Err(UnitError::WrongUnit { .. })));
        assert!(matches!(read_number(&lit("5", Some("x")), None), Err(UnitError::WrongUnit { .. })));
        assert!(read_number(&lit("2", None), Some(&Ty::Cpu)).is_ok());
    }

    #[test]
    fn huge_literals_are_out_of_range() {
        assert!(matches!(read_number(&lit("1e999", None), None), Err(UnitError::OutOfRange { .. })));
        assert!(matches!(read_number(&lit("99999999999999999999", None), None), Err(UnitError::OutOfRange { .. })));
    }
}
