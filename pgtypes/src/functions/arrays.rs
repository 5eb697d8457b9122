//! PostgreSQL's array text input (`'{1,2,NULL}'`, `'{"a b",c}'`): a text literal cast to an
//! array type, or compared with an array (`polroles = '{0}'`), is read element by element as
//! PostgreSQL reads it. Arrow's cast would take the whole text as one element.
//!
//! `array_lower` and `array_upper` give an array's bounds; `_pg_expandarray` its elements with
//! their positions (pgjdbc's key queries).
//!
//! [`PgArrayLiterals`] runs before DataFusion's type coercion, which cannot compare an array
//! with text, and replaces such literals with array literals of the other side's type.

use crate::error::{Error, ErrorKind};
use crate::functions::casts::rewrite_expressions;
use datafusion::arrow::array::{
    Array, AsArray, Int32Array, ListArray, StructArray, new_null_array,
};
use datafusion::arrow::buffer::OffsetBuffer;
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{DataType, Field, FieldRef, Fields, Int64Type};
use datafusion::common::ScalarValue;
use datafusion::common::config::ConfigOptions;
use datafusion::common::tree_node::Transformed;
use datafusion::error::Result;
use datafusion::logical_expr::{
    BinaryExpr, Cast, ColumnarValue, Expr, ExprSchemable, LogicalPlan, ScalarFunctionArgs,
    ScalarUDFImpl, Signature, Volatility,
};
use datafusion::optimizer::AnalyzerRule;
use std::sync::Arc;

/// The elements of a one-dimensional array literal (`None` for NULL), or why it is malformed.
pub fn parse_array_text(text: &str) -> Result<Vec<Option<String>>, String> {
    let malformed = |why: &str| format!("malformed array literal: \"{text}\" ({why})");
    let body = text
        .trim()
        .strip_prefix('{')
        .and_then(|rest| rest.strip_suffix('}'))
        .ok_or_else(|| malformed("Array value must start with \"{\" or dimension information."))?;
    let mut elements = Vec::new();
    if body.trim().is_empty() {
        return Ok(elements);
    }
    let mut chars = body.chars().peekable();
    loop {
        while chars.next_if(|c| c.is_whitespace()).is_some() {}
        let mut element = String::new();
        let mut quoted = false;
        match chars.peek() {
            Some('"') => {
                quoted = true;
                chars.next();
                loop {
                    match chars.next() {
                        Some('\\') => element.push(
                            chars
                                .next()
                                .ok_or_else(|| malformed("Unexpected end of input."))?,
                        ),
                        Some('"') => break,
                        Some(c) => element.push(c),
                        None => return Err(malformed("Unexpected end of input.")),
                    }
                }
                while chars.next_if(|c| c.is_whitespace()).is_some() {}
            }
            Some('{') => return Err(malformed("multidimensional arrays are not supported")),
            _ => {
                while let Some(c) = chars.next_if(|c| *c != ',') {
                    match c {
                        '\\' => element.push(
                            chars
                                .next()
                                .ok_or_else(|| malformed("Unexpected end of input."))?,
                        ),
                        '"' | '{' | '}' => return Err(malformed("Unexpected array element.")),
                        c => element.push(c),
                    }
                }
                let kept = element.trim_end().len();
                element.truncate(kept);
                if element.is_empty() {
                    return Err(malformed("Unexpected \",\" character."));
                }
            }
        }
        let is_null = !quoted && element.eq_ignore_ascii_case("null");
        elements.push((!is_null).then_some(element));
        match chars.next() {
            None => return Ok(elements),
            Some(',') => {}
            Some(_) => return Err(malformed("Unexpected array element.")),
        }
    }
}

/// The array of `element` values `text` spells.
fn array_literal(text: &str, element: &FieldRef) -> Result<ScalarValue> {
    let invalid = |message: String| {
        Error::new(ErrorKind::InvalidTextRepresentation, message).into_datafusion()
    };
    let values = parse_array_text(text)
        .map_err(invalid)?
        .into_iter()
        .map(|value| ScalarValue::Utf8(value).cast_to(element.data_type()))
        .collect::<Result<Vec<_>>>()?;
    Ok(ScalarValue::List(ScalarValue::new_list(
        &values,
        element.data_type(),
        element.is_nullable(),
    )))
}

/// The element field of a list type.
fn list_element(ty: &DataType) -> Option<&FieldRef> {
    match ty {
        DataType::List(element) | DataType::LargeList(element) => Some(element),
        _ => None,
    }
}

/// A text literal's text.
fn text_literal(expr: &Expr) -> Option<&str> {
    match expr {
        Expr::Literal(ScalarValue::Utf8(Some(text)), _) => Some(text),
        _ => None,
    }
}

/// Reads text literals cast to, or compared with, arrays as PostgreSQL array literals.
#[derive(Debug, Default)]
pub struct PgArrayLiterals;

impl AnalyzerRule for PgArrayLiterals {
    fn analyze(&self, plan: LogicalPlan, _config: &ConfigOptions) -> Result<LogicalPlan> {
        rewrite_expressions(plan, |expr, input_schema| match expr {
            Expr::Cast(Cast { expr: inner, field })
                if text_literal(&inner).is_some() && list_element(field.data_type()).is_some() =>
            {
                let text = text_literal(&inner).expect("matched a text literal");
                let element = list_element(field.data_type()).expect("matched a list");
                Ok(Transformed::yes(Expr::Literal(
                    array_literal(text, element)?,
                    None,
                )))
            }
            Expr::BinaryExpr(BinaryExpr { left, op, right })
                if text_literal(&left).is_some() || text_literal(&right).is_some() =>
            {
                let other = if text_literal(&left).is_some() {
                    &right
                } else {
                    &left
                };
                let element = other
                    .get_type(input_schema)
                    .ok()
                    .and_then(|ty| list_element(&ty).cloned());
                let Some(element) = element else {
                    return Ok(Transformed::no(Expr::BinaryExpr(BinaryExpr {
                        left,
                        op,
                        right,
                    })));
                };
                let parse = |side: Box<Expr>| -> Result<Box<Expr>> {
                    Ok(match text_literal(&side) {
                        Some(text) => Box::new(Expr::Literal(array_literal(text, &element)?, None)),
                        None => side,
                    })
                };
                Ok(Transformed::yes(Expr::BinaryExpr(BinaryExpr {
                    left: parse(left)?,
                    op,
                    right: parse(right)?,
                })))
            }
            other => Ok(Transformed::no(other)),
        })
    }

    fn name(&self) -> &str {
        "driftdb_pg_array_literals"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn elements(text: &str) -> Vec<Option<&str>> {
        parse_array_text(text)
            .unwrap()
            .leak()
            .iter()
            .map(|e| e.as_deref())
            .collect()
    }

    #[test]
    fn array_literals_read_as_postgresql_reads_them() {
        assert_eq!(elements("{}"), Vec::<Option<&str>>::new());
        assert_eq!(elements("{0}"), [Some("0")]);
        assert_eq!(
            elements("{ a , b c ,NULL,\"NULL\"}"),
            [Some("a"), Some("b c"), None, Some("NULL")]
        );
        assert_eq!(
            elements(r#"{"x,\"y\"",z\,w}"#),
            [Some("x,\"y\""), Some("z,w")]
        );
        assert!(parse_array_text("1,2").is_err());
        assert!(parse_array_text("{1,,2}").is_err());
        assert!(parse_array_text("{{1},{2}}").is_err());
    }
}

/// `array_lower(array, dimension)` and `array_upper(array, dimension)`: DriftDB's arrays have
/// one dimension, numbered from 1, so the bounds are 1 and the length (NULL for an empty
/// array or another dimension).
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct ArrayBound {
    upper: bool,
    signature: Signature,
}

impl ArrayBound {
    pub fn new(upper: bool) -> ArrayBound {
        ArrayBound {
            upper,
            signature: Signature::any(2, Volatility::Immutable),
        }
    }
}

impl ScalarUDFImpl for ArrayBound {
    fn name(&self) -> &str {
        if self.upper {
            "array_upper"
        } else {
            "array_lower"
        }
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(DataType::Int32)
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let arrays = ColumnarValue::values_to_arrays(&args.args)?;
        let dimensions = cast(&arrays[1], &DataType::Int64)?;
        let dimensions = dimensions.as_primitive::<Int64Type>();
        let lists = match arrays[0].data_type() {
            DataType::List(_) => arrays[0].as_list::<i32>(),
            DataType::Null => {
                return Ok(ColumnarValue::Array(new_null_array(
                    &DataType::Int32,
                    args.number_rows,
                )));
            }
            other => {
                return Err(Error::new(
                    ErrorKind::UndefinedFunction,
                    format!("function {}({other}, integer) does not exist", self.name()),
                )
                .into_datafusion());
            }
        };
        let bounds: Int32Array = (0..args.number_rows)
            .map(|row| {
                if lists.is_null(row) || dimensions.is_null(row) || dimensions.value(row) != 1 {
                    return None;
                }
                let length = lists.value_length(row);
                (length > 0).then_some(if self.upper { length } else { 1 })
            })
            .collect();
        Ok(ColumnarValue::Array(Arc::new(bounds)))
    }
}

/// `information_schema._pg_expandarray(array)`'s elements as records: [`ExpandArray`] gives
/// the list of `(x, n)` records (element, 1-based position) that `unnest` turns into rows, as
/// PostgreSQL's set-returning function returns them.
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct ExpandArray {
    signature: Signature,
}

/// [`ExpandArray`]'s name, which the SQL layer's rewrite of PostgreSQL spellings calls.
pub const EXPAND_ARRAY: &str = "__driftdb_expandarray";

impl Default for ExpandArray {
    fn default() -> ExpandArray {
        ExpandArray::new()
    }
}

impl ExpandArray {
    pub fn new() -> ExpandArray {
        ExpandArray {
            signature: Signature::any(1, Volatility::Immutable),
        }
    }

    fn record_fields(element: &DataType) -> Fields {
        Fields::from(vec![
            Field::new("x", element.clone(), true),
            Field::new("n", DataType::Int32, false),
        ])
    }
}

impl ScalarUDFImpl for ExpandArray {
    fn name(&self) -> &str {
        EXPAND_ARRAY
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, arg_types: &[DataType]) -> Result<DataType> {
        let element = list_element(&arg_types[0]).map_or(DataType::Null, |f| f.data_type().clone());
        Ok(DataType::new_list(
            DataType::Struct(Self::record_fields(&element)),
            true,
        ))
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let arrays = ColumnarValue::values_to_arrays(&args.args)?;
        let DataType::List(_) = arrays[0].data_type() else {
            return Err(Error::new(
                ErrorKind::UndefinedFunction,
                format!(
                    "function _pg_expandarray({}) does not exist",
                    arrays[0].data_type()
                ),
            )
            .into_datafusion());
        };
        let lists = arrays[0].as_list::<i32>();
        let offsets = lists.value_offsets();
        let positions: Int32Array = (0..lists.len())
            .flat_map(|row| {
                let length = offsets[row + 1] - offsets[row];
                1..=length
            })
            .map(Some)
            .collect();
        let element = lists.values().data_type().clone();
        // Positions count from the first element of each list, so values and offsets must
        // start at the same place.
        let start = offsets[0] as usize;
        let end = offsets[lists.len()] as usize;
        let values = lists.values().slice(start, end - start);
        let records = StructArray::try_new(
            Self::record_fields(&element),
            vec![values, Arc::new(positions)],
            None,
        )?;
        let rebased = OffsetBuffer::new(
            offsets
                .iter()
                .map(|offset| offset - offsets[0])
                .collect::<Vec<i32>>()
                .into(),
        );
        let list = ListArray::try_new(
            Arc::new(Field::new_list_field(
                DataType::Struct(Self::record_fields(&element)),
                true,
            )),
            rebased,
            Arc::new(records),
            lists.nulls().cloned(),
        )?;
        Ok(ColumnarValue::Array(Arc::new(list)))
    }
}
