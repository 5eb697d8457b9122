//! Values entering a column take their type's form, as PostgreSQL's input functions give it:
//! `char(n)` padded, `varchar(n)` checked, uuids canonical, json checked, jsonb canonical,
//! bytea decoded from its text forms (`\x…` hex or the escape form).

use crate::error::{Error, ErrorKind, Result};
use crate::json;
use datafusion::arrow::array::{
    Array, ArrayRef, AsArray, BinaryBuilder, StringArray, StringBuilder,
};
use driftdb_column_types::ColumnType;
use std::sync::Arc;

fn invalid(type_name: &str, value: &str) -> Error {
    Error::new(
        ErrorKind::InvalidTextRepresentation,
        format!("invalid input syntax for type {type_name}: \"{value}\""),
    )
}

/// `value` within `limit` characters: trailing spaces past the limit are cut, as PostgreSQL
/// does; any other excess is an error naming `type_name`.
fn within_length<'v>(value: &'v str, limit: u32, type_name: &str) -> Result<&'v str> {
    let limit = limit as usize;
    match value.char_indices().nth(limit) {
        None => Ok(value),
        Some((cut, _)) if value[cut..].bytes().all(|b| b == b' ') => Ok(&value[..cut]),
        Some(_) => Err(Error::new(
            ErrorKind::StringDataRightTruncation,
            format!("value too long for type {type_name}({limit})"),
        )),
    }
}

/// The canonical form of a uuid: 32 hex digits, lower case, grouped 8-4-4-4-12. Accepts what
/// PostgreSQL accepts: optional braces, and hyphens after any group of four digits.
pub fn canonical_uuid(text: &str) -> Result<String> {
    let inner = text
        .strip_prefix('{')
        .and_then(|t| t.strip_suffix('}'))
        .unwrap_or(text);
    let mut digits = String::with_capacity(32);
    for (i, c) in inner.char_indices() {
        match c {
            '0'..='9' | 'a'..='f' | 'A'..='F' => digits.push(c.to_ascii_lowercase()),
            '-' if i > 0 && digits.len().is_multiple_of(4) && !inner[..i].ends_with('-') => {}
            _ => return Err(invalid("uuid", text)),
        }
    }
    if digits.len() != 32 || inner.ends_with('-') {
        return Err(invalid("uuid", text));
    }
    Ok(format!(
        "{}-{}-{}-{}-{}",
        &digits[..8],
        &digits[8..12],
        &digits[12..16],
        &digits[16..20],
        &digits[20..]
    ))
}

/// Decodes bytea input: `\x` followed by hex digit pairs (whitespace between pairs allowed), or
/// the escape form (`\\` for a backslash, `\ooo` octal, anything else as is).
pub fn parse_bytea(text: &str) -> Result<Vec<u8>> {
    let bytes = text.as_bytes();
    if let Some(hex) = text.strip_prefix("\\x") {
        let mut out = Vec::with_capacity(hex.len() / 2);
        let hex_error = |message: String| Error::new(ErrorKind::InvalidParameterValue, message);
        let digit = |c: char| {
            c.to_digit(16)
                .ok_or_else(|| hex_error(format!("invalid hexadecimal digit: \"{c}\"")))
        };
        let mut digits = hex.chars().filter(|c| !c.is_ascii_whitespace());
        while let Some(high) = digits.next() {
            let high = digit(high)?;
            let low = digits.next().ok_or_else(|| {
                hex_error("invalid hexadecimal data: odd number of digits".into())
            })?;
            out.push((high * 16 + digit(low)?) as u8);
        }
        return Ok(out);
    }
    let mut out = Vec::with_capacity(bytes.len());
    let mut at = 0;
    while at < bytes.len() {
        if bytes[at] != b'\\' {
            out.push(bytes[at]);
            at += 1;
        } else if bytes.get(at + 1) == Some(&b'\\') {
            out.push(b'\\');
            at += 2;
        } else {
            let octal = bytes
                .get(at + 1..at + 4)
                .filter(|d| d[0] <= b'3' && d.iter().all(|b| (b'0'..=b'7').contains(b)))
                .ok_or_else(|| invalid("bytea", text))?;
            out.push(octal.iter().fold(0u8, |n, d| n * 8 + (d - b'0')));
            at += 4;
        }
    }
    Ok(out)
}

/// A text column decoded as bytea input.
pub fn parse_bytea_column(array: &StringArray) -> Result<ArrayRef> {
    let mut out = BinaryBuilder::with_capacity(array.len(), array.value_data().len());
    for value in array.iter() {
        match value {
            Some(text) => out.append_value(parse_bytea(text)?),
            None => out.append_null(),
        }
    }
    Ok(Arc::new(out.finish()))
}

/// `array` (already cast to `ty`'s Arrow type) with every text-like value in `ty`'s form.
pub fn normalize_text_column(array: ArrayRef, ty: ColumnType) -> Result<ArrayRef> {
    let normalize: &dyn Fn(&str, &mut String) -> Result<()> = match ty {
        ColumnType::Varchar(Some(limit)) => &move |v: &str, out: &mut String| {
            out.push_str(within_length(v, limit, "character varying")?);
            Ok(())
        },
        ColumnType::Char(limit) => &move |v: &str, out: &mut String| {
            let v = within_length(v, limit, "character")?;
            out.push_str(v);
            let pad = (limit as usize).saturating_sub(v.chars().count());
            out.extend(std::iter::repeat_n(' ', pad));
            Ok(())
        },
        ColumnType::Uuid => &|v: &str, out: &mut String| {
            out.push_str(&canonical_uuid(v)?);
            Ok(())
        },
        ColumnType::Json => &|v: &str, out: &mut String| {
            json::parse(v).map_err(|e| json_error("json", e))?;
            out.push_str(v);
            Ok(())
        },
        ColumnType::Jsonb => &|v: &str, out: &mut String| {
            out.push_str(&json::canonical(v).map_err(|e| json_error("jsonb", e))?);
            Ok(())
        },
        _ => return Ok(array),
    };
    let strings = array.as_string::<i32>();
    let mut out = StringBuilder::with_capacity(strings.len(), strings.value_data().len());
    let mut value = String::new();
    for text in strings.iter() {
        match text {
            Some(text) => {
                value.clear();
                normalize(text, &mut value)?;
                out.append_value(&value);
            }
            None => out.append_null(),
        }
    }
    Ok(Arc::new(out.finish()))
}

fn json_error(type_name: &str, e: json::JsonError) -> Error {
    e.for_type(type_name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uuids_take_their_canonical_form() {
        let canonical = "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11";
        for input in [
            "A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A11",
            "{a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11}",
            "a0eebc999c0b4ef8bb6d6bb9bd380a11",
            "a0ee-bc99-9c0b-4ef8-bb6d-6bb9-bd38-0a11",
        ] {
            assert_eq!(canonical_uuid(input).unwrap(), canonical, "{input}");
        }
        for input in [
            "",
            "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a1",
            "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11-",
            "-a0eebc999c0b4ef8bb6d6bb9bd380a11",
            "a0eebc99--9c0b-4ef8-bb6d-6bb9bd380a11",
            "g0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11",
        ] {
            assert!(canonical_uuid(input).is_err(), "{input:?} accepted");
        }
    }

    #[test]
    fn bytea_reads_hex_and_escape_forms() {
        assert_eq!(parse_bytea("\\xDEad be").unwrap(), [0xde, 0xad, 0xbe]);
        assert_eq!(parse_bytea("a\\\\b\\001").unwrap(), b"a\\b\x01");
        for bad in ["\\x1", "\\xzz", "\\9", "\\40"] {
            assert!(parse_bytea(bad).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn lengths_are_checked_in_characters() {
        assert_eq!(within_length("héllo", 5, "t").unwrap(), "héllo");
        assert_eq!(within_length("ab   ", 2, "t").unwrap(), "ab");
        assert_eq!(
            within_length("abc", 2, "character varying")
                .unwrap_err()
                .kind,
            ErrorKind::StringDataRightTruncation
        );
    }
}
