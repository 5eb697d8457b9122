//! Values as PostgreSQL prints them in text format (`t`/`f`, `1e+15`, `Infinity`, ISO dates).
//!
//! The server sends these strings to clients, and the sqllogictest runners compare them, so the
//! in-process and over-the-wire test runs see exactly the same text.

use datafusion::arrow::array::{Array, ArrayRef, AsArray};
use datafusion::arrow::datatypes::{
    DataType, Float32Type, Float64Type, Int8Type, Int16Type, Int32Type, Int64Type, UInt8Type,
    UInt16Type, UInt32Type, UInt64Type,
};
use datafusion::arrow::error::ArrowError;
use datafusion::arrow::util::display::{ArrayFormatter, FormatOptions};
use std::fmt::Write;

/// Formats a float the way PostgreSQL does (shortest round-trip digits; exponent notation
/// below 1e-4 and from 1e15 up).
pub fn format_float(v: f64, out: &mut String) {
    if v.is_nan() {
        out.push_str("NaN");
    } else if v.is_infinite() {
        out.push_str(if v > 0.0 { "Infinity" } else { "-Infinity" });
    } else if v == 0.0 {
        out.push_str(if v.is_sign_negative() { "-0" } else { "0" });
    } else {
        let scientific = format!("{v:e}");
        let (mantissa, exponent) = scientific
            .split_once('e')
            .expect("{:e} always has an exponent");
        let exponent: i32 = exponent.parse().expect("{:e} exponents are integers");
        if (-4..15).contains(&exponent) {
            let _ = write!(out, "{v}");
        } else {
            let sign = if exponent < 0 { '-' } else { '+' };
            let _ = write!(out, "{mantissa}e{sign}{:02}", exponent.abs());
        }
    }
}

/// Writes one column's values in text format.
pub struct ColumnText<'a> {
    array: &'a ArrayRef,
    fallback: Option<ArrayFormatter<'a>>,
}

impl<'a> ColumnText<'a> {
    /// Prepares `array` for formatting; `options` must be [`format_options`].
    pub fn new(
        array: &'a ArrayRef,
        options: &'a FormatOptions<'a>,
    ) -> Result<ColumnText<'a>, ArrowError> {
        let fallback = match array.data_type() {
            DataType::Boolean
            | DataType::Int8
            | DataType::Int16
            | DataType::Int32
            | DataType::Int64
            | DataType::UInt8
            | DataType::UInt16
            | DataType::UInt32
            | DataType::UInt64
            | DataType::Float32
            | DataType::Float64
            | DataType::Utf8
            | DataType::LargeUtf8
            | DataType::Utf8View => None,
            _ => Some(ArrayFormatter::try_new(array.as_ref(), options)?),
        };
        Ok(ColumnText { array, fallback })
    }

    /// Appends the value at `row` to `text`; false (and nothing appended) for NULL.
    pub fn write(&self, row: usize, text: &mut String) -> bool {
        if self.array.is_null(row) {
            return false;
        }
        let a = self.array;
        let _ = match a.data_type() {
            DataType::Boolean => {
                text.push(if a.as_boolean().value(row) { 't' } else { 'f' });
                Ok(())
            }
            DataType::Int8 => write!(text, "{}", a.as_primitive::<Int8Type>().value(row)),
            DataType::Int16 => write!(text, "{}", a.as_primitive::<Int16Type>().value(row)),
            DataType::Int32 => write!(text, "{}", a.as_primitive::<Int32Type>().value(row)),
            DataType::Int64 => write!(text, "{}", a.as_primitive::<Int64Type>().value(row)),
            DataType::UInt8 => write!(text, "{}", a.as_primitive::<UInt8Type>().value(row)),
            DataType::UInt16 => write!(text, "{}", a.as_primitive::<UInt16Type>().value(row)),
            DataType::UInt32 => write!(text, "{}", a.as_primitive::<UInt32Type>().value(row)),
            DataType::UInt64 => write!(text, "{}", a.as_primitive::<UInt64Type>().value(row)),
            DataType::Float32 => {
                format_float(f64::from(a.as_primitive::<Float32Type>().value(row)), text);
                Ok(())
            }
            DataType::Float64 => {
                format_float(a.as_primitive::<Float64Type>().value(row), text);
                Ok(())
            }
            DataType::Utf8 => write!(text, "{}", a.as_string::<i32>().value(row)),
            DataType::LargeUtf8 => write!(text, "{}", a.as_string::<i64>().value(row)),
            DataType::Utf8View => write!(text, "{}", a.as_string_view().value(row)),
            _ => match &self.fallback {
                Some(formatter) => write!(text, "{}", formatter.value(row)),
                None => Ok(()),
            },
        };
        true
    }
}

/// Timestamps as PostgreSQL prints them (with ISO DateStyle and UTC).
pub fn format_options() -> FormatOptions<'static> {
    FormatOptions::default()
        .with_null("")
        .with_timestamp_format(Some("%Y-%m-%d %H:%M:%S%.f"))
        .with_timestamp_tz_format(Some("%Y-%m-%d %H:%M:%S%.f%:::z"))
        .with_date_format(Some("%Y-%m-%d"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn float(v: f64) -> String {
        let mut s = String::new();
        format_float(v, &mut s);
        s
    }

    #[test]
    fn floats_print_like_postgresql() {
        assert_eq!(float(1.5), "1.5");
        assert_eq!(float(0.1 + 0.2), "0.30000000000000004");
        assert_eq!(float(1e14), "100000000000000");
        assert_eq!(float(1e15), "1e+15");
        assert_eq!(float(0.0001), "0.0001");
        assert_eq!(float(0.00001), "1e-05");
        assert_eq!(float(-2.5e-300), "-2.5e-300");
        assert_eq!(float(f64::NAN), "NaN");
        assert_eq!(float(f64::NEG_INFINITY), "-Infinity");
    }
}
