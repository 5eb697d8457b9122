//! PostgreSQL's binary format: result columns encoded from Arrow arrays, and parameter values
//! decoded into their text form (which binding casts to the parameter's type).
//!
//! Times count from 2000-01-01 in binary (dates in days, timestamps and times in
//! microseconds); numerics are base-10000 digit groups with a weight, a sign and a display
//! scale; jsonb is a version byte before its text; uuid is its 16 bytes.

use bytes::{BufMut, BytesMut};
use driftdb_sql::arrow::array::{Array, ArrayRef, AsArray};
use driftdb_sql::arrow::compute::cast;
use driftdb_sql::arrow::datatypes::{
    DataType, Date32Type, Float32Type, Float64Type, Int16Type, Int32Type, Int64Type,
    IntervalMonthDayNanoType, IntervalUnit, Time64MicrosecondType, TimeUnit,
    TimestampMicrosecondType,
};
use driftdb_sql::text::{ColumnText, write_date, write_time, write_timestamp};
use pgwire::api::Type;
use std::fmt::Write;

/// Days from 1970-01-01 to 2000-01-01, PostgreSQL's epoch for binary dates.
const EPOCH_DAYS: i64 = 10_957;
/// Microseconds from 1970-01-01 to 2000-01-01.
const EPOCH_MICROS: i64 = EPOCH_DAYS * 86_400 * 1_000_000;

/// How one column's values are written in binary.
enum Encoding {
    Bool,
    Int2,
    Int4,
    Int8,
    /// An `oid`: unsigned 32 bits, held as an Int64.
    Oid,
    Float4,
    Float8,
    Date,
    Time,
    Timestamp,
    Interval,
    Bytea,
    /// The text form's bytes (text, varchar, json, and anything described as text).
    Text,
    /// A version byte, then the text form.
    Jsonb,
    /// Parsed from the text form.
    Numeric,
    Uuid,
    /// A one-dimensional array: dimensions, then each element in its own encoding.
    Array(Type),
}

/// The encoding for values described as `ty`, and the Arrow type it reads them as.
fn encoding(ty: &Type) -> (Encoding, Option<DataType>) {
    let micros = TimeUnit::Microsecond;
    match *ty {
        Type::BOOL => (Encoding::Bool, Some(DataType::Boolean)),
        Type::INT2 => (Encoding::Int2, Some(DataType::Int16)),
        Type::INT4 => (Encoding::Int4, Some(DataType::Int32)),
        Type::INT8 => (Encoding::Int8, Some(DataType::Int64)),
        Type::OID => (Encoding::Oid, Some(DataType::Int64)),
        Type::FLOAT4 => (Encoding::Float4, Some(DataType::Float32)),
        Type::FLOAT8 => (Encoding::Float8, Some(DataType::Float64)),
        Type::DATE => (Encoding::Date, Some(DataType::Date32)),
        Type::TIME => (Encoding::Time, Some(DataType::Time64(micros))),
        Type::TIMESTAMP => (Encoding::Timestamp, Some(DataType::Timestamp(micros, None))),
        Type::TIMESTAMPTZ => (
            Encoding::Timestamp,
            Some(DataType::Timestamp(micros, Some("+00:00".into()))),
        ),
        Type::INTERVAL => (
            Encoding::Interval,
            Some(DataType::Interval(IntervalUnit::MonthDayNano)),
        ),
        Type::BYTEA => (Encoding::Bytea, Some(DataType::Binary)),
        Type::NUMERIC => (Encoding::Numeric, None),
        Type::UUID => (Encoding::Uuid, None),
        Type::JSONB => (Encoding::Jsonb, None),
        _ => match crate::encode::array_element(ty) {
            Some(element) => (Encoding::Array(element), None),
            None => (Encoding::Text, None),
        },
    }
}

/// Writes one column's values in binary format.
pub struct ColumnBinary<'a> {
    encoding: Encoding,
    /// The values as the Arrow type the encoding reads.
    array: ArrayRef,
    /// The text form, for encodings built from it.
    text: Option<ColumnText<'a>>,
    /// For an array: its elements' writer.
    elements: Option<Box<ColumnBinary<'a>>>,
}

impl<'a> ColumnBinary<'a> {
    /// Prepares `array` to be written as values of type `ty`.
    pub fn new(
        array: &'a ArrayRef,
        ty: &Type,
        options: &'a driftdb_sql::arrow::util::display::FormatOptions<'a>,
    ) -> Result<ColumnBinary<'a>, String> {
        let (encoding, arrow_type) = encoding(ty);
        if let Encoding::Array(element) = &encoding {
            let DataType::List(_) = array.data_type() else {
                return Err(format!(
                    "cannot send a {} column as {ty}",
                    array.data_type()
                ));
            };
            let values = array.as_list::<i32>().values();
            let elements = ColumnBinary::new(values, element, options)?;
            return Ok(ColumnBinary {
                encoding,
                array: array.clone(),
                text: None,
                elements: Some(Box::new(elements)),
            });
        }
        let (array, text) = match arrow_type {
            Some(wanted) if wanted == *array.data_type() => (array.clone(), None),
            Some(wanted) => {
                let converted = cast(array, &wanted).map_err(|e| {
                    format!("cannot send a {} column as {}: {e}", array.data_type(), ty)
                })?;
                (converted, None)
            }
            None => (
                array.clone(),
                Some(ColumnText::new(array, options).map_err(|e| e.to_string())?),
            ),
        };
        Ok(ColumnBinary {
            encoding,
            array,
            text,
            elements: None,
        })
    }

    /// Appends row `row`'s value (length, then bytes; length -1 for NULL) to `out`.
    pub fn write(&self, row: usize, out: &mut BytesMut, scratch: &mut String) {
        // A NULL-typed column has no validity buffer: every value is NULL all the same.
        if self.array.is_null(row) || self.array.data_type().is_null() {
            out.put_i32(-1);
            return;
        }
        let start = out.len();
        out.put_i32(0);
        let array = &self.array;
        match &self.encoding {
            Encoding::Array(element) => {
                let offsets = array.as_list::<i32>().value_offsets();
                let (first, end) = (offsets[row] as usize, offsets[row + 1] as usize);
                let values = array.as_list::<i32>().values();
                let has_nulls =
                    values.data_type().is_null() || (first..end).any(|i| values.is_null(i));
                out.put_i32(i32::from(end > first));
                out.put_i32(i32::from(has_nulls));
                out.put_u32(element.oid());
                if end > first {
                    out.put_i32((end - first) as i32);
                    out.put_i32(1);
                }
                if let Some(elements) = &self.elements {
                    for index in first..end {
                        elements.write(index, out, scratch);
                    }
                }
            }
            Encoding::Bool => out.put_u8(u8::from(array.as_boolean().value(row))),
            Encoding::Int2 => out.put_i16(array.as_primitive::<Int16Type>().value(row)),
            Encoding::Int4 => out.put_i32(array.as_primitive::<Int32Type>().value(row)),
            Encoding::Int8 => out.put_i64(array.as_primitive::<Int64Type>().value(row)),
            Encoding::Oid => out.put_u32(array.as_primitive::<Int64Type>().value(row) as u32),
            Encoding::Float4 => out.put_f32(array.as_primitive::<Float32Type>().value(row)),
            Encoding::Float8 => out.put_f64(array.as_primitive::<Float64Type>().value(row)),
            Encoding::Date => {
                let days = i64::from(array.as_primitive::<Date32Type>().value(row));
                out.put_i32((days - EPOCH_DAYS) as i32);
            }
            Encoding::Time => out.put_i64(array.as_primitive::<Time64MicrosecondType>().value(row)),
            Encoding::Timestamp => {
                let micros = array.as_primitive::<TimestampMicrosecondType>().value(row);
                out.put_i64(micros.saturating_sub(EPOCH_MICROS));
            }
            Encoding::Interval => {
                let value = array.as_primitive::<IntervalMonthDayNanoType>().value(row);
                out.put_i64(value.nanoseconds / 1000);
                out.put_i32(value.days);
                out.put_i32(value.months);
            }
            Encoding::Bytea => out.put_slice(array.as_binary::<i32>().value(row)),
            Encoding::Text | Encoding::Jsonb | Encoding::Numeric | Encoding::Uuid => {
                scratch.clear();
                if let Some(text) = &self.text {
                    text.write(row, scratch);
                }
                match &self.encoding {
                    Encoding::Jsonb => {
                        out.put_u8(1);
                        out.put_slice(scratch.as_bytes());
                    }
                    Encoding::Numeric => write_numeric(scratch, out),
                    Encoding::Uuid => write_uuid(scratch, out),
                    _ => out.put_slice(scratch.as_bytes()),
                }
            }
        }
        let length = (out.len() - start - 4) as i32;
        out[start..start + 4].copy_from_slice(&length.to_be_bytes());
    }
}

/// A numeric's text form (`-12.3400`, `NaN`) in binary.
fn write_numeric(text: &str, out: &mut BytesMut) {
    if text == "NaN" {
        out.put_slice(&[0, 0, 0, 0, 0xC0, 0, 0, 0]);
        return;
    }
    let (negative, unsigned) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text),
    };
    let (integer, fraction) = unsigned.split_once('.').unwrap_or((unsigned, ""));
    let integer = integer.trim_start_matches('0');
    let mut digits = "0".repeat((4 - integer.len() % 4) % 4);
    digits.push_str(integer);
    let integer_groups = digits.len() / 4;
    digits.push_str(fraction);
    digits.push_str(&"0".repeat((4 - fraction.len() % 4) % 4));
    let mut groups: Vec<i16> = digits
        .as_bytes()
        .chunks(4)
        .map(|chunk| {
            chunk
                .iter()
                .fold(0i16, |value, digit| value * 10 + i16::from(digit - b'0'))
        })
        .collect();
    let mut weight = integer_groups as i16 - 1;
    let leading = groups.iter().take_while(|g| **g == 0).count();
    groups.drain(..leading);
    weight -= leading as i16;
    while groups.last() == Some(&0) {
        groups.pop();
    }
    if groups.is_empty() {
        weight = 0;
    }
    out.put_i16(groups.len() as i16);
    out.put_i16(weight);
    out.put_u16(if negative && !groups.is_empty() {
        0x4000
    } else {
        0
    });
    out.put_u16(fraction.len() as u16);
    for group in groups {
        out.put_i16(group);
    }
}

/// A uuid's text form (with or without hyphens) as its 16 bytes.
fn write_uuid(text: &str, out: &mut BytesMut) {
    let hex: Vec<u8> = text.bytes().filter(|b| *b != b'-').collect();
    for pair in hex.chunks(2) {
        let byte = std::str::from_utf8(pair)
            .ok()
            .and_then(|s| u8::from_str_radix(s, 16).ok())
            .unwrap_or(0);
        out.put_u8(byte);
    }
}

fn fixed<const N: usize>(bytes: &[u8], ty: &Type) -> Result<[u8; N], String> {
    bytes.try_into().map_err(|_| {
        format!(
            "incorrect binary data format in bind parameter: {} bytes for type {}",
            bytes.len(),
            ty
        )
    })
}

/// The text form of a parameter sent in binary as type `ty`.
pub fn decode_param(ty: &Type, bytes: &[u8]) -> Result<String, String> {
    let mut text = String::new();
    match *ty {
        Type::BOOL => text.push_str(if fixed::<1>(bytes, ty)?[0] != 0 {
            "true"
        } else {
            "false"
        }),
        Type::INT2 => text = i16::from_be_bytes(fixed(bytes, ty)?).to_string(),
        Type::INT4 => text = i32::from_be_bytes(fixed(bytes, ty)?).to_string(),
        Type::INT8 => text = i64::from_be_bytes(fixed(bytes, ty)?).to_string(),
        Type::OID => text = u32::from_be_bytes(fixed(bytes, ty)?).to_string(),
        Type::FLOAT4 => text = float_text(f64::from(f32::from_be_bytes(fixed(bytes, ty)?))),
        Type::FLOAT8 => text = float_text(f64::from_be_bytes(fixed(bytes, ty)?)),
        Type::DATE => {
            let days = i32::from_be_bytes(fixed(bytes, ty)?);
            write_date(i64::from(days) + EPOCH_DAYS, &mut text);
        }
        Type::TIME => write_time(i64::from_be_bytes(fixed(bytes, ty)?), &mut text),
        Type::TIMESTAMP | Type::TIMESTAMPTZ => {
            let micros = i64::from_be_bytes(fixed(bytes, ty)?);
            write_timestamp(
                micros.saturating_add(EPOCH_MICROS),
                *ty == Type::TIMESTAMPTZ,
                &mut text,
            );
        }
        Type::INTERVAL => {
            let value: [u8; 16] = fixed(bytes, ty)?;
            let micros = i64::from_be_bytes(value[..8].try_into().expect("8 bytes"));
            let days = i32::from_be_bytes(value[8..12].try_into().expect("4 bytes"));
            let months = i32::from_be_bytes(value[12..].try_into().expect("4 bytes"));
            let _ = write!(text, "{months} mons {days} days {micros} microseconds");
        }
        Type::BYTEA => driftdb_sql::text::write_bytea(bytes, &mut text),
        Type::UUID => {
            let value: [u8; 16] = fixed(bytes, ty)?;
            for (i, byte) in value.iter().enumerate() {
                if matches!(i, 4 | 6 | 8 | 10) {
                    text.push('-');
                }
                let _ = write!(text, "{byte:02x}");
            }
        }
        Type::NUMERIC => text = numeric_text(bytes)?,
        Type::JSONB => match bytes.split_first() {
            Some((1, json)) => text = utf8(json)?,
            _ => return Err("unsupported jsonb version number".into()),
        },
        _ => text = utf8(bytes)?,
    }
    Ok(text)
}

fn utf8(bytes: &[u8]) -> Result<String, String> {
    String::from_utf8(bytes.to_vec())
        .map_err(|_| "invalid byte sequence for encoding \"UTF8\"".into())
}

fn float_text(value: f64) -> String {
    match value {
        v if v.is_nan() => "NaN".into(),
        v if v == f64::INFINITY => "Infinity".into(),
        v if v == f64::NEG_INFINITY => "-Infinity".into(),
        v => v.to_string(),
    }
}

/// A binary numeric as text.
fn numeric_text(bytes: &[u8]) -> Result<String, String> {
    let bad = || "invalid binary numeric".to_string();
    let word = |i: usize| -> Result<i16, String> {
        bytes
            .get(i * 2..i * 2 + 2)
            .map(|b| i16::from_be_bytes([b[0], b[1]]))
            .ok_or_else(bad)
    };
    let count = usize::try_from(word(0)?).map_err(|_| bad())?;
    let weight = i64::from(word(1)?);
    let sign = word(2)? as u16;
    let scale = usize::try_from(word(3)?).map_err(|_| bad())?;
    if bytes.len() != 8 + 2 * count {
        return Err(bad());
    }
    match sign {
        0xC000 => return Ok("NaN".into()),
        0xD000 => return Ok("Infinity".into()),
        0xF000 => return Ok("-Infinity".into()),
        _ => {}
    }
    let digits: Vec<i16> = (0..count).map(|i| word(4 + i)).collect::<Result<_, _>>()?;
    // The digit group for 10000^exponent.
    let group = |exponent: i64| -> i16 {
        usize::try_from(weight - exponent)
            .ok()
            .and_then(|index| digits.get(index).copied())
            .unwrap_or(0)
    };
    let mut text = String::new();
    if sign == 0x4000 {
        text.push('-');
    }
    if weight < 0 {
        text.push('0');
    } else {
        let _ = write!(text, "{}", group(weight));
        for exponent in (0..weight).rev() {
            let _ = write!(text, "{:04}", group(exponent));
        }
    }
    if scale > 0 {
        let mut fraction = String::new();
        let mut exponent = -1;
        while fraction.len() < scale {
            let _ = write!(fraction, "{:04}", group(exponent));
            exponent -= 1;
        }
        fraction.truncate(scale);
        text.push('.');
        text.push_str(&fraction);
    }
    Ok(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn numeric_roundtrip(text: &str) -> String {
        let mut out = BytesMut::new();
        write_numeric(text, &mut out);
        numeric_text(&out).unwrap()
    }

    #[test]
    fn numerics_survive_binary() {
        for text in [
            "0",
            "1",
            "-1",
            "12345.6789",
            "0.0001",
            "-0.5",
            "100000000",
            "1.10",
            "0.00",
            "NaN",
            "9999.99990",
        ] {
            assert_eq!(numeric_roundtrip(text), text);
        }
    }

    #[test]
    fn numeric_digit_groups_match_postgresql() {
        // 12345.678: groups 1, 2345, 6780; weight 1; display scale 3.
        let mut out = BytesMut::new();
        write_numeric("12345.678", &mut out);
        assert_eq!(
            out.as_ref(),
            &[0, 3, 0, 1, 0, 0, 0, 3, 0, 1, 0x09, 0x29, 0x1A, 0x7C]
        );
    }

    #[test]
    fn binary_params_decode_to_text() {
        assert_eq!(
            decode_param(&Type::INT4, &42i32.to_be_bytes()).unwrap(),
            "42"
        );
        assert_eq!(
            decode_param(&Type::DATE, &0i32.to_be_bytes()).unwrap(),
            "2000-01-01"
        );
        assert_eq!(
            decode_param(&Type::TIMESTAMPTZ, &1_500_000i64.to_be_bytes()).unwrap(),
            "2000-01-01 00:00:01.5+00"
        );
        assert!(decode_param(&Type::INT8, &[1, 2]).is_err());
        assert_eq!(
            decode_param(&Type::UUID, &[0xab; 16]).unwrap(),
            "abababab-abab-abab-abab-abababababab"
        );
    }
}
