//! Casts that PostgreSQL defines differently from Arrow: text to bytea decodes bytea's input
//! forms (`'\xdead'::bytea` is two bytes), where Arrow would copy the text's bytes; and text to
//! date or timestamp accepts what PostgreSQL accepts and Arrow does not: a zone after a date or
//! a timestamp without time zone (ignored, as PostgreSQL ignores it), and a zone written apart
//! or in hours only (`2026-01-02 03:04:05 +00`), as JDBC sends them.
//!
//! A cast of a `numeric` or a double to an integer type rounds first, as PostgreSQL's does
//! ([`crate::numeric::RoundForInteger`]).
//!
//! [`PgCasts`] runs after DataFusion's type coercion and replaces each such cast with a call to
//! [`ByteaIn`], so literals, INSERT values and expressions all decode alike (and constant
//! folding still applies).

use crate::error::Error;
use crate::types::column_type_of;
use crate::values::{normalize_text_column, parse_bytea_column};
use datafusion::arrow::array::{Array, AsArray};
use datafusion::arrow::array::{ArrayRef, StringArray};
use datafusion::arrow::datatypes::DataType;
use datafusion::arrow::datatypes::Field;
use datafusion::common::config::ConfigOptions;
use datafusion::common::tree_node::{Transformed, TreeNode};
use datafusion::common::{DFSchema, ScalarValue};
use datafusion::error::Result;
use datafusion::logical_expr::expr_rewriter::NamePreserver;
use datafusion::logical_expr::{
    Cast, ColumnarValue, Expr, ExprSchemable, LogicalPlan, ScalarFunctionArgs, ScalarUDF,
    ScalarUDFImpl, Signature, Volatility,
};
use datafusion::optimizer::AnalyzerRule;
use driftdb_column_types::ColumnType;
use std::sync::{Arc, LazyLock};

/// The name of [`TextIn`] (a rule that meets its call knows the cast is already checked).
const TEXT_IN: &str = "__driftdb_text_in";

/// Text an explicit cast gives a PostgreSQL type that Arrow keeps as text (`'…'::jsonb`,
/// `::json`, `::uuid`, `::varchar(n)`, `::char(n)`): checked and put in the form a stored
/// value takes (jsonb canonical, a uuid in lower case), so bad input fails with 22P02 as in
/// PostgreSQL. A cast cuts a string to its declared length, where storing a longer one fails.
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct TextIn {
    ty: ColumnType,
    signature: Signature,
}

impl TextIn {
    fn new(ty: ColumnType) -> TextIn {
        TextIn {
            ty,
            signature: Signature::exact(vec![DataType::Utf8], Volatility::Immutable),
        }
    }

    /// The column type a cast to `field` checks its text for, if any.
    fn target(field: &Field) -> Option<ColumnType> {
        if field.data_type() != &DataType::Utf8 {
            return None;
        }
        match column_type_of(field).ok()? {
            ty @ (ColumnType::Json
            | ColumnType::Jsonb
            | ColumnType::Uuid
            | ColumnType::Char(_)
            | ColumnType::Varchar(Some(_))) => Some(ty),
            _ => None,
        }
    }
}

impl ScalarUDFImpl for TextIn {
    fn name(&self) -> &str {
        TEXT_IN
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(DataType::Utf8)
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let ty = self.ty;
        crate::udf::on_arrays(&args, |arrays| {
            let cut_to = |limit: u32| -> ArrayRef {
                let cut: StringArray = arrays[0]
                    .as_string::<i32>()
                    .iter()
                    .map(|v| {
                        v.map(|v| {
                            v.char_indices()
                                .nth(limit as usize)
                                .map_or(v, |(at, _)| &v[..at])
                        })
                    })
                    .collect();
                Arc::new(cut)
            };
            match ty {
                ColumnType::Varchar(Some(limit)) => {
                    normalize_text_column(cut_to(limit), ty).map_err(Error::into_datafusion)
                }
                // Not padded: DriftDB's char(n) values compare with their padding, where
                // PostgreSQL ignores it, so a padded cast would compare and concatenate wrong.
                ColumnType::Char(limit) => Ok(cut_to(limit)),
                _ => normalize_text_column(arrays[0].clone(), ty).map_err(Error::into_datafusion),
            }
        })
    }
}

/// `bytea_in(text)`: bytea's text input.
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct ByteaIn {
    signature: Signature,
}

impl ByteaIn {
    fn new() -> ByteaIn {
        ByteaIn {
            signature: Signature::exact(vec![DataType::Utf8], Volatility::Immutable),
        }
    }
}

impl ScalarUDFImpl for ByteaIn {
    fn name(&self) -> &str {
        "bytea_in"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(DataType::Binary)
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let [text] = args.args.as_slice() else {
            unreachable!("the signature takes one argument");
        };
        let array = text.to_array(args.number_rows)?;
        let decoded =
            parse_bytea_column(array.as_string::<i32>()).map_err(Error::into_datafusion)?;
        Ok(match text {
            ColumnarValue::Scalar(_) if decoded.len() == 1 => ColumnarValue::Scalar(
                datafusion::common::ScalarValue::try_from_array(&decoded, 0)?,
            ),
            _ => ColumnarValue::Array(decoded),
        })
    }
}

static BYTEA_IN: LazyLock<Arc<ScalarUDF>> =
    LazyLock::new(|| Arc::new(ScalarUDF::new_from_impl(ByteaIn::new())));

/// Splits a trailing zone (`+00`, `-05:30`, `Z`, `UTC`, written apart or not) off a time's text.
fn split_zone(text: &str) -> (&str, Option<&str>) {
    let trimmed = text.trim_end();
    for zone in ["UTC", "Z"] {
        if let Some(rest) = trimmed.strip_suffix(zone)
            && rest.ends_with(|c: char| c.is_ascii_digit() || c == ' ')
        {
            return (rest.trim_end(), Some("+00:00"));
        }
    }
    let Some(sign) = trimmed.rfind(['+', '-']) else {
        return (trimmed, None);
    };
    let (rest, zone) = trimmed.split_at(sign);
    let digits: String = zone[1..].chars().filter(|c| *c != ':').collect();
    // A date's own hyphens are not zones: a zone follows a time (`…:ss`, or a space).
    let after_time = rest.contains(':') || rest.ends_with(' ');
    if !after_time
        || digits.is_empty()
        || digits.len() > 4
        || !digits.bytes().all(|b| b.is_ascii_digit())
    {
        return (trimmed, None);
    }
    (rest.trim_end(), Some(zone))
}

/// The text Arrow needs to read `text` as `target` the way PostgreSQL reads it, if it differs.
pub fn time_input(text: &str, target: &DataType) -> Option<String> {
    let (time, zone) = split_zone(text);
    match target {
        // A date ignores a time of day and a zone after it.
        DataType::Date32 => {
            let date = time.split([' ', 'T']).next()?;
            (date.len() != text.len()).then(|| date.to_string())
        }
        // A timestamp without time zone ignores the zone.
        DataType::Timestamp(_, None) => zone.map(|_| time.to_string()),
        DataType::Timestamp(_, Some(_)) => {
            let zone = zone?;
            let (sign, digits) = zone.split_at(1);
            let digits: String = digits.chars().filter(|c| *c != ':').collect();
            let (hours, minutes) = match digits.len() {
                1 | 2 => (digits.as_str(), "00"),
                _ => digits.split_at(digits.len() - 2),
            };
            Some(format!("{time}{sign}{hours:0>2}:{minutes}"))
        }
        _ => None,
    }
}

/// Rewrites text-to-bytea casts into [`ByteaIn`] calls.
#[derive(Debug, Default)]
pub struct PgCasts;

/// Rewrites every expression of `plan` (subqueries included) bottom-up with `rewrite`, which
/// gets the schema the expression reads (a node's input's; a node without one input, such as
/// VALUES, types its expressions against its own). Output names stay what they were, so
/// `SELECT '\x00'::bytea` keeps its column name.
pub fn rewrite_expressions(
    plan: LogicalPlan,
    rewrite: impl Fn(Expr, &DFSchema) -> Result<Transformed<Expr>>,
) -> Result<LogicalPlan> {
    plan.transform_up_with_subqueries(|node| {
        let input_schema = match node.inputs().as_slice() {
            [input] => input.schema().clone(),
            _ => node.schema().clone(),
        };
        let names = NamePreserver::new(&node);
        node.map_expressions(|expr| {
            let name = names.save(&expr);
            let rewritten = expr.transform_up(|expr| rewrite(expr, &input_schema))?;
            Ok(rewritten.update_data(|expr| name.restore(expr)))
        })
    })
    .map(|t| t.data)
}

impl AnalyzerRule for PgCasts {
    fn analyze(&self, plan: LogicalPlan, _config: &ConfigOptions) -> Result<LogicalPlan> {
        rewrite_expressions(plan, |expr, input_schema| match expr {
            Expr::Cast(Cast { expr: inner, field })
                if matches!(inner.as_ref(), Expr::Literal(ScalarValue::Utf8(Some(_)), _))
                    && matches!(
                        field.data_type(),
                        DataType::Date32 | DataType::Timestamp(..)
                    ) =>
            {
                let Expr::Literal(ScalarValue::Utf8(Some(text)), metadata) = *inner else {
                    unreachable!("matched a text literal");
                };
                let text = time_input(&text, field.data_type()).unwrap_or(text);
                Ok(Transformed::yes(Expr::Cast(Cast {
                    expr: Box::new(Expr::Literal(ScalarValue::Utf8(Some(text)), metadata)),
                    field,
                })))
            }
            Expr::Cast(Cast { expr: inner, field })
                if !matches!(inner.as_ref(), Expr::ScalarFunction(call)
                        if call.func.name() == TEXT_IN)
                    && let Some(ty) = TextIn::target(&field) =>
            {
                let text = Expr::Cast(Cast::new(inner, DataType::Utf8));
                let checked = ScalarUDF::from(TextIn::new(ty)).call(vec![text]);
                Ok(Transformed::yes(Expr::Cast(Cast {
                    expr: Box::new(checked),
                    field,
                })))
            }
            Expr::Cast(Cast { expr: inner, field })
                if field.data_type() == &DataType::Binary
                    && inner
                        .get_type(input_schema)
                        .is_ok_and(|t| t == DataType::Utf8) =>
            {
                Ok(Transformed::yes(BYTEA_IN.call(vec![*inner])))
            }
            Expr::Cast(Cast { expr: inner, field })
                if !matches!(inner.as_ref(), Expr::ScalarFunction(call)
                        if call.func.name() == crate::numeric::ROUND_FOR_INTEGER.name())
                    && inner.get_type(input_schema).is_ok_and(|from| {
                        crate::numeric::rounds_to_integer(&from, field.data_type())
                    }) =>
            {
                let rounded = crate::numeric::ROUND_FOR_INTEGER.call(vec![*inner]);
                Ok(Transformed::yes(Expr::Cast(Cast {
                    expr: Box::new(rounded),
                    field,
                })))
            }
            other => Ok(Transformed::no(other)),
        })
    }

    fn name(&self) -> &str {
        "driftdb_pg_casts"
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::arrow::datatypes::TimeUnit;

    #[test]
    fn times_read_as_postgresql_reads_them() {
        let date = DataType::Date32;
        let plain = DataType::Timestamp(TimeUnit::Microsecond, None);
        let zoned = DataType::Timestamp(TimeUnit::Microsecond, Some("+00:00".into()));
        assert_eq!(
            time_input("2026-01-02 +00", &date).as_deref(),
            Some("2026-01-02")
        );
        assert_eq!(time_input("2026-01-02", &date), None);
        assert_eq!(
            time_input("2026-02-03 04:05:06.789 +00", &plain).as_deref(),
            Some("2026-02-03 04:05:06.789")
        );
        assert_eq!(time_input("2026-02-03 04:05:06", &plain), None);
        assert_eq!(
            time_input("2026-02-03 04:05:06+00", &zoned).as_deref(),
            Some("2026-02-03 04:05:06+00:00")
        );
        assert_eq!(
            time_input("2026-02-03 04:05:06 -0530", &zoned).as_deref(),
            Some("2026-02-03 04:05:06-05:30")
        );
        assert_eq!(time_input("2026-02-03", &zoned), None);
    }
}
