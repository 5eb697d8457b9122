//! Values as PostgreSQL prints them in text format (`t`/`f`, `1e+15`, `Infinity`, ISO dates,
//! `1 year 2 mons 3 days 04:05:06.5` intervals, `\x…` bytea), with DateStyle ISO and TimeZone
//! UTC.
//!
//! The server sends these strings to clients, and the sqllogictest runners compare them, so the
//! in-process and over-the-wire test runs see exactly the same text.

use crate::types::MAX_NUMERIC_PRECISION;
use datafusion::arrow::array::{Array, ArrayRef, AsArray};
use datafusion::arrow::datatypes::{
    DataType, Date32Type, Date64Type, Decimal128Type, DurationMicrosecondType,
    DurationMillisecondType, DurationNanosecondType, DurationSecondType, Float32Type, Float64Type,
    Int8Type, Int16Type, Int32Type, Int64Type, IntervalDayTimeType, IntervalMonthDayNanoType,
    IntervalUnit, IntervalYearMonthType, Time32MillisecondType, Time32SecondType,
    Time64MicrosecondType, Time64NanosecondType, TimeUnit, TimestampMicrosecondType,
    TimestampMillisecondType, TimestampNanosecondType, TimestampSecondType, UInt8Type, UInt16Type,
    UInt32Type, UInt64Type,
};
use datafusion::arrow::error::ArrowError;
use datafusion::arrow::util::display::{ArrayFormatter, FormatOptions};
use driftdb_column_types::UNCONSTRAINED_NUMERIC_SCALE;
use std::fmt::{self, Write};

/// Formats a double the way PostgreSQL does (shortest round-trip digits; exponent notation
/// below 1e-4 and from 1e15 up).
pub fn format_float(v: f64, out: &mut String) {
    format_shortest(v, 15, out)
}

/// Formats a `real` the way PostgreSQL does (exponent notation below 1e-4 and from 1e6 up).
pub fn format_real(v: f32, out: &mut String) {
    format_shortest(v, 6, out)
}

fn format_shortest<F>(v: F, exponent_from: i32, out: &mut String)
where
    F: Copy + fmt::Display + fmt::LowerExp + Into<f64>,
{
    let wide: f64 = v.into();
    if wide.is_nan() {
        out.push_str("NaN");
    } else if wide.is_infinite() {
        out.push_str(if wide > 0.0 { "Infinity" } else { "-Infinity" });
    } else if wide == 0.0 {
        out.push_str(if wide.is_sign_negative() { "-0" } else { "0" });
    } else {
        let scientific = format!("{v:e}");
        let (mantissa, exponent) = scientific
            .split_once('e')
            .expect("{:e} always has an exponent");
        let exponent: i32 = exponent.parse().expect("{:e} exponents are integers");
        if (-4..exponent_from).contains(&exponent) {
            let _ = write!(out, "{v}");
        } else {
            let sign = if exponent < 0 { '-' } else { '+' };
            let _ = write!(out, "{mantissa}e{sign}{:02}", exponent.abs());
        }
    }
}

const MICROS_PER_SECOND: i64 = 1_000_000;
const MICROS_PER_DAY: i64 = 86_400 * MICROS_PER_SECOND;

/// The civil date `days` after 1970-01-01 (proleptic Gregorian; H. Hinnant's algorithm).
fn civil_date(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

/// `YYYY-MM-DD`, with ` BC` for years before 1 as PostgreSQL writes them.
pub fn write_date(days: i64, out: &mut String) {
    let (year, month, day) = civil_date(days);
    if year > 0 {
        let _ = write!(out, "{year:04}-{month:02}-{day:02}");
    } else {
        let _ = write!(out, "{:04}-{month:02}-{day:02} BC", 1 - year);
    }
}

/// Seconds with the fraction's trailing zeros dropped (`06`, `06.5`).
fn write_seconds(micros: i64, out: &mut String) {
    let _ = write!(out, "{:02}", micros / MICROS_PER_SECOND);
    let fraction = micros % MICROS_PER_SECOND;
    if fraction != 0 {
        let digits = format!("{fraction:06}");
        out.push('.');
        out.push_str(digits.trim_end_matches('0'));
    }
}

/// `HH:MM:SS[.ffffff]` for a time of day (or an interval's time part) in microseconds.
pub fn write_time(micros: i64, out: &mut String) {
    let micros = micros.unsigned_abs() as i64;
    let _ = write!(
        out,
        "{:02}:{:02}:",
        micros / (3600 * MICROS_PER_SECOND),
        micros / (60 * MICROS_PER_SECOND) % 60
    );
    write_seconds(micros % (60 * MICROS_PER_SECOND), out);
}

/// A timestamp in microseconds since 1970-01-01 00:00 (UTC, for timestamptz, with `+00`).
pub fn write_timestamp(micros: i64, with_zone: bool, out: &mut String) {
    let days = micros.div_euclid(MICROS_PER_DAY);
    let (year, month, day) = civil_date(days);
    let bc = year <= 0;
    let _ = write!(
        out,
        "{:04}-{month:02}-{day:02} ",
        if bc { 1 - year } else { year }
    );
    write_time(micros.rem_euclid(MICROS_PER_DAY), out);
    if with_zone {
        out.push_str("+00");
    }
    if bc {
        out.push_str(" BC");
    }
}

/// An interval in PostgreSQL's default style: `1 year 2 mons -3 days +04:05:06.5`.
pub fn write_interval(months: i32, days: i32, micros: i64, out: &mut String) {
    let start = out.len();
    let mut negative_before = false;
    let mut part = |value: i64, unit: &str, out: &mut String| {
        if value == 0 {
            return;
        }
        if out.len() > start {
            out.push(' ');
        }
        if negative_before && value > 0 {
            out.push('+');
        }
        let plural = if value == 1 { "" } else { "s" };
        let _ = write!(out, "{value} {unit}{plural}");
        negative_before = value < 0;
    };
    part(i64::from(months / 12), "year", out);
    part(i64::from(months % 12), "mon", out);
    part(i64::from(days), "day", out);
    if out.len() == start || micros != 0 {
        if out.len() > start {
            out.push(' ');
        }
        if micros < 0 {
            out.push('-');
        } else if negative_before {
            out.push('+');
        }
        write_time(micros, out);
    }
}

/// bytea's hex output form.
pub fn write_bytea(bytes: &[u8], out: &mut String) {
    out.push_str("\\x");
    for b in bytes {
        let _ = write!(out, "{b:02x}");
    }
}

fn to_micros(value: i64, unit: TimeUnit) -> i64 {
    match unit {
        TimeUnit::Second => value.saturating_mul(MICROS_PER_SECOND),
        TimeUnit::Millisecond => value.saturating_mul(1000),
        TimeUnit::Microsecond => value,
        TimeUnit::Nanosecond => value.div_euclid(1000),
    }
}

/// The Arrow type an unconstrained `numeric` reads as: its zeros after the point are not
/// significant, so they are not printed.
fn is_unconstrained_numeric(ty: &DataType) -> bool {
    *ty == DataType::Decimal128(MAX_NUMERIC_PRECISION, UNCONSTRAINED_NUMERIC_SCALE as i8)
}

/// Writes one column's values in text format.
pub struct ColumnText<'a> {
    array: &'a ArrayRef,
    fallback: Option<ArrayFormatter<'a>>,
    /// For an array: its elements' writer.
    elements: Option<Box<ColumnText<'a>>>,
    /// An array written as `int2vector`/`oidvector` are (`1 2`), not as `{1,2}`.
    vector: bool,
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
            | DataType::Utf8View
            | DataType::Date32
            | DataType::Date64
            | DataType::Time32(_)
            | DataType::Time64(_)
            | DataType::Timestamp(..)
            | DataType::Interval(_)
            | DataType::Duration(_)
            | DataType::Binary
            | DataType::LargeBinary
            | DataType::BinaryView
            | DataType::List(_) => None,
            _ => Some(ArrayFormatter::try_new(array.as_ref(), options)?),
        };
        let elements = match array.data_type() {
            DataType::List(_) => Some(Box::new(ColumnText::new(
                array.as_list::<i32>().values(),
                options,
            )?)),
            _ => None,
        };
        Ok(ColumnText {
            array,
            fallback,
            elements,
            vector: false,
        })
    }

    /// Writes arrays as `int2vector` and `oidvector` print: elements apart, no braces.
    pub fn as_vector(mut self) -> Self {
        self.vector = true;
        self
    }

    /// An array as PostgreSQL prints it: `{1,NULL,"a b"}`, elements quoted where needed.
    fn write_array(&self, elements: &ColumnText<'_>, row: usize, text: &mut String) {
        let range = self.array.as_list::<i32>().value_offsets();
        let (start, end) = (range[row] as usize, range[row + 1] as usize);
        if !self.vector {
            text.push('{');
        }
        let mut element = String::new();
        for (n, index) in (start..end).enumerate() {
            if n > 0 {
                text.push(if self.vector { ' ' } else { ',' });
            }
            element.clear();
            if !elements.write(index, &mut element) {
                text.push_str("NULL");
                continue;
            }
            let quoted = !elements.array.data_type().is_numeric()
                && (element.is_empty()
                    || element.eq_ignore_ascii_case("null")
                    || element
                        .chars()
                        .any(|c| matches!(c, '{' | '}' | ',' | '"' | '\\') || c.is_whitespace()));
            if quoted {
                text.push('"');
                for c in element.chars() {
                    if matches!(c, '"' | '\\') {
                        text.push('\\');
                    }
                    text.push(c);
                }
                text.push('"');
            } else {
                text.push_str(&element);
            }
        }
        if !self.vector {
            text.push('}');
        }
    }

    /// Appends the value at `row` to `text`; false (and nothing appended) for NULL.
    pub fn write(&self, row: usize, text: &mut String) -> bool {
        // A NULL-typed column (`SELECT NULL AS r` in a CTE) has no validity buffer.
        if self.array.is_null(row) || self.array.data_type().is_null() {
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
                format_real(a.as_primitive::<Float32Type>().value(row), text);
                Ok(())
            }
            DataType::Float64 => {
                format_float(a.as_primitive::<Float64Type>().value(row), text);
                Ok(())
            }
            DataType::Utf8 => write!(text, "{}", a.as_string::<i32>().value(row)),
            DataType::LargeUtf8 => write!(text, "{}", a.as_string::<i64>().value(row)),
            DataType::Utf8View => write!(text, "{}", a.as_string_view().value(row)),
            DataType::Date32 => {
                write_date(i64::from(a.as_primitive::<Date32Type>().value(row)), text);
                Ok(())
            }
            DataType::Date64 => {
                let millis = a.as_primitive::<Date64Type>().value(row);
                write_date(millis.div_euclid(86_400_000), text);
                Ok(())
            }
            DataType::Time32(unit) => {
                let value = match unit {
                    TimeUnit::Second => i64::from(a.as_primitive::<Time32SecondType>().value(row)),
                    _ => i64::from(a.as_primitive::<Time32MillisecondType>().value(row)),
                };
                write_time(to_micros(value, *unit), text);
                Ok(())
            }
            DataType::Time64(unit) => {
                let value = match unit {
                    TimeUnit::Nanosecond => a.as_primitive::<Time64NanosecondType>().value(row),
                    _ => a.as_primitive::<Time64MicrosecondType>().value(row),
                };
                write_time(to_micros(value, *unit), text);
                Ok(())
            }
            DataType::Timestamp(unit, zone) => {
                let value = match unit {
                    TimeUnit::Second => a.as_primitive::<TimestampSecondType>().value(row),
                    TimeUnit::Millisecond => {
                        a.as_primitive::<TimestampMillisecondType>().value(row)
                    }
                    TimeUnit::Microsecond => {
                        a.as_primitive::<TimestampMicrosecondType>().value(row)
                    }
                    TimeUnit::Nanosecond => a.as_primitive::<TimestampNanosecondType>().value(row),
                };
                write_timestamp(to_micros(value, *unit), zone.is_some(), text);
                Ok(())
            }
            DataType::Interval(IntervalUnit::MonthDayNano) => {
                let v = a.as_primitive::<IntervalMonthDayNanoType>().value(row);
                write_interval(v.months, v.days, v.nanoseconds / 1000, text);
                Ok(())
            }
            DataType::Interval(IntervalUnit::DayTime) => {
                let v = a.as_primitive::<IntervalDayTimeType>().value(row);
                write_interval(0, v.days, i64::from(v.milliseconds) * 1000, text);
                Ok(())
            }
            DataType::Interval(IntervalUnit::YearMonth) => {
                let months = a.as_primitive::<IntervalYearMonthType>().value(row);
                write_interval(months, 0, 0, text);
                Ok(())
            }
            DataType::Duration(unit) => {
                let value = match unit {
                    TimeUnit::Second => a.as_primitive::<DurationSecondType>().value(row),
                    TimeUnit::Millisecond => a.as_primitive::<DurationMillisecondType>().value(row),
                    TimeUnit::Microsecond => a.as_primitive::<DurationMicrosecondType>().value(row),
                    TimeUnit::Nanosecond => a.as_primitive::<DurationNanosecondType>().value(row),
                };
                // PostgreSQL's timestamp difference: whole days, then the time.
                let micros = to_micros(value, *unit);
                let days = micros / MICROS_PER_DAY;
                write_interval(0, days as i32, micros % MICROS_PER_DAY, text);
                Ok(())
            }
            DataType::Binary => {
                write_bytea(a.as_binary::<i32>().value(row), text);
                Ok(())
            }
            DataType::LargeBinary => {
                write_bytea(a.as_binary::<i64>().value(row), text);
                Ok(())
            }
            DataType::BinaryView => {
                write_bytea(a.as_binary_view().value(row), text);
                Ok(())
            }
            DataType::List(_) => {
                if let Some(elements) = &self.elements {
                    self.write_array(elements, row, text);
                }
                Ok(())
            }
            ty if *ty == crate::numeric::QUOTIENT => {
                let value = a.as_primitive::<Decimal128Type>().value(row);
                crate::numeric::write_quotient(value, text);
                Ok(())
            }
            ty => match &self.fallback {
                Some(formatter) => {
                    let start = text.len();
                    let written = write!(text, "{}", formatter.value(row));
                    if is_unconstrained_numeric(ty) && text[start..].contains('.') {
                        let kept = text.trim_end_matches('0').trim_end_matches('.').len();
                        text.truncate(kept);
                    }
                    written
                }
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
        let mut real = String::new();
        for v in [1e6f32, 100000.0, 1234567.0, 1.2345678, 1e-5] {
            format_real(v, &mut real);
            real.push('|');
        }
        assert_eq!(real, "1e+06|100000|1.234567e+06|1.2345678|1e-05|");
    }

    fn with(f: impl FnOnce(&mut String)) -> String {
        let mut s = String::new();
        f(&mut s);
        s
    }

    #[test]
    fn dates_and_times_print_like_postgresql() {
        assert_eq!(with(|s| write_date(0, s)), "1970-01-01");
        assert_eq!(with(|s| write_date(19_782, s)), "2024-02-29");
        assert_eq!(with(|s| write_date(-719_163, s)), "0001-12-31 BC");
        let noon = 12 * 3_600_000_000 + 500_000;
        assert_eq!(
            with(|s| write_timestamp(19_737 * MICROS_PER_DAY + noon, true, s)),
            "2024-01-15 12:00:00.5+00"
        );
        assert_eq!(
            with(|s| write_timestamp(-1, false, s)),
            "1969-12-31 23:59:59.999999"
        );
        assert_eq!(with(|s| write_time(45_296_789_000, s)), "12:34:56.789");
    }

    #[test]
    fn intervals_print_like_postgresql() {
        let hours = |h: i64| h * 3_600_000_000;
        let cases = [
            (
                (14, 3, hours(4) + 306_500_000),
                "1 year 2 mons 3 days 04:05:06.5",
            ),
            ((0, -1, hours(2)), "-1 days +02:00:00"),
            ((0, 0, 0), "00:00:00"),
            ((0, 0, -hours(3)), "-03:00:00"),
            ((1, -1, 0), "1 mon -1 days"),
            ((0, 0, hours(36)), "36:00:00"),
            ((1, 15, 0), "1 mon 15 days"),
            ((-13, 0, 0), "-1 years -1 mons"),
        ];
        for ((months, days, micros), expected) in cases {
            assert_eq!(with(|s| write_interval(months, days, micros, s)), expected);
        }
    }
}
