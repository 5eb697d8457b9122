//! PostgreSQL's JSON operators over json and jsonb text: `->`, `->>`, `#>`, `#>>`, `@>` and `?`.
//!
//! [`JsonPlanner`] turns the operators into calls of the functions here when the left side is
//! text (json and jsonb values are text with their type in the field metadata); each function
//! parses its document with [`crate::json`]. Extracted values print in jsonb's form.

use crate::json::{self, Json};
use crate::types::PG_TYPE;
use datafusion::arrow::array::{Array, ArrayRef, AsArray, BooleanBuilder, StringBuilder};
use datafusion::arrow::datatypes::{DataType, Field, FieldRef};
use datafusion::common::{DFSchema, ScalarValue};
use datafusion::error::Result;
use datafusion::logical_expr::planner::{ExprPlanner, PlannerResult, RawBinaryExpr};
use datafusion::logical_expr::{
    ColumnarValue, Expr, ExprSchemable, ReturnFieldArgs, ScalarFunctionArgs, ScalarUDF,
    ScalarUDFImpl, Signature, Volatility,
};
use datafusion::sql::sqlparser::ast::BinaryOperator;
use std::sync::{Arc, LazyLock};

/// What a JSON function does with its document and second argument.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
enum Op {
    /// `->`: the member or element, as JSON.
    Get,
    /// `->>`: the member or element, as text.
    GetText,
    /// `#>`: the value at a path, as JSON.
    Path,
    /// `#>>`: the value at a path, as text.
    PathText,
    /// `@>`: whether the left document contains the right one.
    Contains,
    /// `?`: whether the key (or string element) exists at the top level.
    HasKey,
}

#[derive(Debug, PartialEq, Eq, Hash)]
struct JsonFunction {
    op: Op,
    signature: Signature,
}

fn function(op: Op) -> Arc<ScalarUDF> {
    Arc::new(ScalarUDF::new_from_impl(JsonFunction {
        op,
        signature: Signature::any(2, Volatility::Immutable),
    }))
}

static FUNCTIONS: LazyLock<[(Op, Arc<ScalarUDF>); 6]> = LazyLock::new(|| {
    [
        Op::Get,
        Op::GetText,
        Op::Path,
        Op::PathText,
        Op::Contains,
        Op::HasKey,
    ]
    .map(|op| (op, function(op)))
});

fn udf(op: Op) -> Arc<ScalarUDF> {
    FUNCTIONS
        .iter()
        .find(|(o, _)| *o == op)
        .map(|(_, f)| f.clone())
        .expect("every op has a function")
}

/// The member named `key` of an object, or the element at `index` of an array (negative
/// indexes count from the end).
fn step<'j>(value: &'j Json, key: &ScalarValue) -> Option<&'j Json> {
    match (value, key) {
        (Json::Object(members), ScalarValue::Utf8(Some(k)) | ScalarValue::Utf8View(Some(k))) => {
            members
                .iter()
                .rev()
                .find(|(name, _)| name == k)
                .map(|(_, v)| v)
        }
        (Json::Array(items), key) => {
            let index = match key {
                ScalarValue::Int64(Some(i)) => *i,
                ScalarValue::Int32(Some(i)) => i64::from(*i),
                ScalarValue::Utf8(Some(s)) => s.parse().ok()?,
                _ => return None,
            };
            let len = items.len() as i64;
            let index = if index < 0 { len + index } else { index };
            usize::try_from(index).ok().and_then(|i| items.get(i))
        }
        _ => None,
    }
}

/// A path given as a text array literal: `{a,b,0}`.
fn path_steps(path: &str) -> Option<Vec<ScalarValue>> {
    let inner = path.trim().strip_prefix('{')?.strip_suffix('}')?;
    if inner.trim().is_empty() {
        return Some(Vec::new());
    }
    Some(
        inner
            .split(',')
            .map(|s| ScalarValue::Utf8(Some(s.trim().trim_matches('"').to_string())))
            .collect(),
    )
}

fn as_text(value: &Json) -> Option<String> {
    match value {
        Json::Null => None,
        Json::String(s) => Some(s.clone()),
        other => {
            let mut out = String::new();
            other.write(&mut out);
            Some(out)
        }
    }
}

fn as_json(value: &Json) -> String {
    let mut out = String::new();
    value.write(&mut out);
    out
}

fn numbers_equal(a: &str, b: &str) -> bool {
    a == b || matches!((a.parse::<f64>(), b.parse::<f64>()), (Ok(x), Ok(y)) if x == y)
}

/// jsonb containment: objects by member, arrays by element (any order), scalars by value.
fn contains(left: &Json, right: &Json) -> bool {
    match (left, right) {
        (Json::Object(have), Json::Object(want)) => want.iter().all(|(key, w)| {
            have.iter()
                .rev()
                .find(|(k, _)| k == key)
                .is_some_and(|(_, h)| contains(h, w))
        }),
        (Json::Array(have), Json::Array(want)) => {
            want.iter().all(|w| have.iter().any(|h| contains(h, w)))
        }
        // A top-level array contains a bare scalar it holds.
        (Json::Array(have), scalar) if !matches!(scalar, Json::Object(_)) => {
            have.iter().any(|h| contains(h, scalar))
        }
        (Json::Number(a), Json::Number(b)) => numbers_equal(a, b),
        (a, b) => a == b,
    }
}

impl ScalarUDFImpl for JsonFunction {
    fn name(&self) -> &str {
        match self.op {
            Op::Get => "json_get",
            Op::GetText => "json_get_text",
            Op::Path => "json_get_path",
            Op::PathText => "json_get_path_text",
            Op::Contains => "jsonb_contains",
            Op::HasKey => "jsonb_has_key",
        }
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _args: &[DataType]) -> Result<DataType> {
        Ok(match self.op {
            Op::Contains | Op::HasKey => DataType::Boolean,
            _ => DataType::Utf8,
        })
    }

    /// `->` and `#>` give JSON of the document's type (`json` or `jsonb`; `jsonb` for text).
    fn return_field_from_args(&self, args: ReturnFieldArgs) -> Result<FieldRef> {
        if !matches!(self.op, Op::Get | Op::Path) {
            return Ok(Arc::new(Field::new(
                self.name(),
                self.return_type(&[])?,
                true,
            )));
        }
        let json = args.arg_fields[0]
            .metadata()
            .get(PG_TYPE)
            .is_some_and(|ty| ty == "json");
        Ok(crate::functions::json_build::json_field(self.name(), !json))
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let rows = args.number_rows;
        let documents = args.args[0].to_array(rows)?;
        let documents = datafusion::arrow::compute::cast(&documents, &DataType::Utf8)?;
        let documents = documents.as_string::<i32>();
        let keys: ArrayRef = args.args[1].to_array(rows)?;
        // Each row's document and key, or `None` where either is NULL.
        let inputs = (0..rows).map(|row| -> Result<Option<(Json, ScalarValue)>> {
            if documents.is_null(row) || keys.is_null(row) {
                return Ok(None);
            }
            let document =
                json::parse(documents.value(row)).map_err(crate::functions::json_build::invalid)?;
            Ok(Some((document, ScalarValue::try_from_array(&keys, row)?)))
        });
        let result: ArrayRef = match self.op {
            Op::Contains | Op::HasKey => {
                let mut out = BooleanBuilder::with_capacity(rows);
                for input in inputs {
                    let found = match input? {
                        None => None,
                        Some((document, key)) => Some(self.test(&document, key)?),
                    };
                    out.append_option(found);
                }
                Arc::new(out.finish())
            }
            _ => {
                let mut out = StringBuilder::with_capacity(rows, rows * 8);
                for input in inputs {
                    let text = match input? {
                        None => None,
                        Some((document, key)) => self.extract(&document, key),
                    };
                    out.append_option(text);
                }
                Arc::new(out.finish())
            }
        };
        Ok(ColumnarValue::Array(result))
    }
}

impl JsonFunction {
    /// `@>` or `?` for one document.
    fn test(&self, document: &Json, key: ScalarValue) -> Result<bool> {
        Ok(match self.op {
            Op::Contains => {
                let ScalarValue::Utf8(Some(text)) = key.cast_to(&DataType::Utf8)? else {
                    unreachable!("a non-null value casts to non-null text")
                };
                contains(
                    document,
                    &json::parse(&text).map_err(crate::functions::json_build::invalid)?,
                )
            }
            _ => {
                let key = key.to_string();
                match document {
                    Json::Object(members) => members.iter().any(|(k, _)| *k == key),
                    Json::Array(items) => items.iter().any(|i| *i == Json::String(key.clone())),
                    Json::String(s) => *s == key,
                    _ => false,
                }
            }
        })
    }

    /// `->`, `->>`, `#>` or `#>>` for one document.
    fn extract(&self, document: &Json, key: ScalarValue) -> Option<String> {
        let steps = match self.op {
            Op::Path | Op::PathText => match &key {
                ScalarValue::Utf8(Some(path)) => path_steps(path)?,
                _ => return None,
            },
            _ => vec![key],
        };
        let found = steps
            .iter()
            .try_fold(document, |value, key| step(value, key))?;
        match self.op {
            Op::GetText | Op::PathText => as_text(found),
            _ => Some(as_json(found)),
        }
    }
}

/// Plans the JSON operators when their left side is text (json, jsonb or a text literal).
#[derive(Debug, Default)]
pub struct JsonPlanner;

impl ExprPlanner for JsonPlanner {
    fn plan_binary_op(
        &self,
        expr: RawBinaryExpr,
        schema: &DFSchema,
    ) -> Result<PlannerResult<RawBinaryExpr>> {
        let op = match expr.op {
            BinaryOperator::Arrow => Op::Get,
            BinaryOperator::LongArrow => Op::GetText,
            BinaryOperator::HashArrow => Op::Path,
            BinaryOperator::HashLongArrow => Op::PathText,
            BinaryOperator::AtArrow => Op::Contains,
            BinaryOperator::Question => Op::HasKey,
            _ => return Ok(PlannerResult::Original(expr)),
        };
        let is_text = matches!(
            expr.left.get_type(schema)?,
            DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View
        );
        if !is_text {
            return Ok(PlannerResult::Original(expr));
        }
        Ok(PlannerResult::Planned(Expr::ScalarFunction(
            datafusion::logical_expr::expr::ScalarFunction::new_udf(
                udf(op),
                vec![expr.left, expr.right],
            ),
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn doc(text: &str) -> Json {
        json::parse(text).unwrap()
    }

    #[test]
    fn containment_follows_jsonb_rules() {
        let d = doc(r#"{"a": 1, "b": [1, 2, {"c": 3}], "d": {"e": "x"}}"#);
        assert!(contains(&d, &doc(r#"{"a": 1.0}"#)));
        assert!(contains(&d, &doc(r#"{"b": [2, {"c": 3}]}"#)));
        assert!(contains(&d, &doc(r#"{"d": {}}"#)));
        assert!(!contains(&d, &doc(r#"{"a": 2}"#)));
        assert!(!contains(&d, &doc(r#"{"z": null}"#)));
        assert!(contains(&doc("[1, 2, 3]"), &doc("2")));
        assert!(!contains(&doc("[1, 2, 3]"), &doc("[4]")));
    }

    #[test]
    fn paths_step_through_objects_and_arrays() {
        let d = doc(r#"{"a": [10, {"b": "x"}]}"#);
        let steps = path_steps("{a,1,b}").unwrap();
        let found = steps.iter().try_fold(&d, |v, k| step(v, k));
        assert_eq!(found, Some(&Json::String("x".into())));
        assert_eq!(
            step(&doc("[1, 2, 3]"), &ScalarValue::Int64(Some(-1))),
            Some(&doc("3"))
        );
        assert_eq!(step(&doc("[1]"), &ScalarValue::Int64(Some(5))), None);
    }
}
