//! PostgreSQL's `format(formatstr, args…)`: `%s` (the value as text, NULL as nothing), `%I`
//! (an identifier, quoted where needed), `%L` (a literal, NULL as `NULL`) and `%%`, each with an
//! optional argument position (`%2$s`), `-` flag and width (`%-10s`, `%*s`), as PostgreSQL's
//! `text_format` reads them. Metabase's sync builds its queries with it.

use crate::error::{Error, ErrorKind};
use crate::idents::{quoted_ident, quoted_literal};
use datafusion::common::ScalarValue;
use datafusion::error::Result;

fn invalid(message: impl Into<String>) -> datafusion::error::DataFusionError {
    Error::new(ErrorKind::InvalidParameterValue, message).into_datafusion()
}

/// A value as PostgreSQL's output function writes it (`t` for true, timestamps with a space).
fn as_text(value: &ScalarValue) -> Result<Option<String>> {
    if value.is_null() {
        return Ok(None);
    }
    let array = value.to_array()?;
    let options = crate::text::format_options();
    let writer = crate::text::ColumnText::new(&array, &options)?;
    let mut text = String::new();
    Ok(writer.write(0, &mut text).then_some(text))
}

/// Reads a decimal number at `at`, moving past it.
fn number(chars: &[char], at: &mut usize) -> Option<usize> {
    let start = *at;
    while chars.get(*at).is_some_and(char::is_ascii_digit) {
        *at += 1;
    }
    let digits: String = chars[start..*at].iter().collect();
    match digits.is_empty() {
        true => None,
        false => digits.parse().ok(),
    }
}

/// `format(args[0], args[1..])`; NULL when the format string is NULL.
pub fn format(args: &[ScalarValue]) -> Result<ScalarValue> {
    let Some(pattern) = args.first().map(as_text).transpose()?.flatten() else {
        return Ok(ScalarValue::Utf8(None));
    };
    let values = &args[1..];
    let too_few = || invalid("too few arguments for format()");
    let chars: Vec<char> = pattern.chars().collect();
    let mut out = String::new();
    let mut next = 0;
    let mut at = 0;
    while at < chars.len() {
        let c = chars[at];
        at += 1;
        if c != '%' {
            out.push(c);
            continue;
        }
        if chars.get(at) == Some(&'%') {
            out.push('%');
            at += 1;
            continue;
        }
        // `n$` picks argument n; a number without `$` is the width.
        let mut width: Option<usize> = None;
        let checkpoint = at;
        if let Some(n) = number(&chars, &mut at) {
            if chars.get(at) == Some(&'$') {
                at += 1;
                next = n.checked_sub(1).ok_or_else(|| {
                    invalid("format specifies argument 0, but arguments are numbered from 1")
                })?;
            } else {
                at = checkpoint;
            }
        }
        let mut left = false;
        while chars.get(at) == Some(&'-') {
            left = true;
            at += 1;
        }
        if chars.get(at) == Some(&'*') {
            at += 1;
            let checkpoint = at;
            let index = match number(&chars, &mut at) {
                Some(n) if chars.get(at) == Some(&'$') => {
                    at += 1;
                    n.checked_sub(1).ok_or_else(too_few)?
                }
                _ => {
                    at = checkpoint;
                    let index = next;
                    next += 1;
                    index
                }
            };
            let given = values.get(index).ok_or_else(too_few)?;
            let given = match given.cast_to(&datafusion::arrow::datatypes::DataType::Int64)? {
                ScalarValue::Int64(Some(n)) => n,
                _ => 0,
            };
            left |= given < 0;
            width = Some(given.unsigned_abs() as usize);
        } else if let Some(n) = number(&chars, &mut at) {
            width = Some(n);
        }
        let Some(&kind) = chars.get(at) else {
            return Err(invalid("unterminated format() type specifier"));
        };
        at += 1;
        let value = values.get(next).ok_or_else(too_few)?;
        next += 1;
        let text = match kind {
            's' => as_text(value)?.unwrap_or_default(),
            'I' => match as_text(value)? {
                Some(name) => quoted_ident(&name),
                None => {
                    return Err(Error::new(
                        ErrorKind::NullValueNotAllowed,
                        "null values cannot be formatted as an SQL identifier",
                    )
                    .into_datafusion());
                }
            },
            'L' => as_text(value)?.map_or("NULL".to_string(), |v| quoted_literal(&v)),
            other => {
                return Err(invalid(format!(
                    "unrecognized format() type specifier \"{other}\""
                )));
            }
        };
        let pad = width.unwrap_or(0).saturating_sub(text.chars().count());
        if !left {
            out.extend(std::iter::repeat_n(' ', pad));
        }
        out.push_str(&text);
        if left {
            out.extend(std::iter::repeat_n(' ', pad));
        }
    }
    Ok(ScalarValue::Utf8(Some(out)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(pattern: &str, values: Vec<ScalarValue>) -> Result<Option<String>> {
        let mut args = vec![ScalarValue::from(pattern)];
        args.extend(values);
        match format(&args)? {
            ScalarValue::Utf8(text) => Ok(text),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn formats_as_postgresql_does() {
        let t = |s: &str| ScalarValue::from(s);
        assert_eq!(
            run("%s.%I = %L", vec![t("a"), t("Mixed Case"), t("it's")]).unwrap(),
            Some("a.\"Mixed Case\" = 'it''s'".to_string())
        );
        assert_eq!(
            run("%2$s %1$s %%", vec![t("x"), t("y")]).unwrap(),
            Some("y x %".to_string())
        );
        assert_eq!(
            run("[%5s][%-5s]", vec![t("ab"), t("cd")]).unwrap(),
            Some("[   ab][cd   ]".to_string())
        );
        assert_eq!(
            run("[%*s]", vec![ScalarValue::Int32(Some(-4)), t("ab")]).unwrap(),
            Some("[ab  ]".to_string())
        );
        assert_eq!(
            run(
                "%s|%L|%s",
                vec![
                    ScalarValue::Utf8(None),
                    ScalarValue::Utf8(None),
                    ScalarValue::Boolean(Some(true))
                ]
            )
            .unwrap(),
            Some("|NULL|t".to_string())
        );
        assert_eq!(
            run("%I", vec![t("plain_name")]).unwrap(),
            Some("plain_name".to_string())
        );
        assert!(run("%s %s", vec![t("one")]).is_err());
        assert!(run("%x", vec![t("one")]).is_err());
        assert!(run("%I", vec![ScalarValue::Utf8(None)]).is_err());
        assert_eq!(
            format(&[ScalarValue::Utf8(None)]).unwrap(),
            ScalarValue::Utf8(None)
        );
    }
}
