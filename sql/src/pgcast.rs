//! Casts that PostgreSQL defines differently from Arrow: text to bytea decodes bytea's input
//! forms (`'\xdead'::bytea` is two bytes), where Arrow would copy the text's bytes.
//!
//! [`PgCasts`] runs after DataFusion's type coercion and replaces each such cast with a call to
//! [`ByteaIn`], so literals, INSERT values and expressions all decode alike (and constant
//! folding still applies).

use crate::error::Error;
use crate::values::parse_bytea_column;
use datafusion::arrow::array::{Array, AsArray};
use datafusion::arrow::datatypes::DataType;
use datafusion::common::config::ConfigOptions;
use datafusion::common::tree_node::{Transformed, TreeNode};
use datafusion::error::Result;
use datafusion::logical_expr::expr_rewriter::NamePreserver;
use datafusion::logical_expr::{
    Cast, ColumnarValue, Expr, ExprSchemable, LogicalPlan, ScalarFunctionArgs, ScalarUDF,
    ScalarUDFImpl, Signature, Volatility,
};
use datafusion::optimizer::AnalyzerRule;
use std::sync::{Arc, LazyLock};

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

/// Rewrites text-to-bytea casts into [`ByteaIn`] calls.
#[derive(Debug, Default)]
pub struct PgCasts;

impl AnalyzerRule for PgCasts {
    fn analyze(&self, plan: LogicalPlan, _config: &ConfigOptions) -> Result<LogicalPlan> {
        plan.transform_up_with_subqueries(|node| {
            let schema = node.schema().clone();
            // A node without inputs (VALUES) types its expressions against an empty schema.
            let input_schema = match node.inputs().as_slice() {
                [input] => input.schema().clone(),
                _ => schema,
            };
            // Output names stay those of the casts (`SELECT '\x00'::bytea` keeps its column name).
            let names = NamePreserver::new(&node);
            node.map_expressions(|expr| {
                let name = names.save(&expr);
                let rewritten = expr.transform_up(|expr| match expr {
                    Expr::Cast(Cast { expr: inner, field })
                        if field.data_type() == &DataType::Binary
                            && inner
                                .get_type(&input_schema)
                                .is_ok_and(|t| t == DataType::Utf8) =>
                    {
                        Ok(Transformed::yes(BYTEA_IN.call(vec![*inner])))
                    }
                    other => Ok(Transformed::no(other)),
                })?;
                Ok(rewritten.update_data(|expr| name.restore(expr)))
            })
        })
        .map(|t| t.data)
    }

    fn name(&self) -> &str {
        "driftdb_pg_casts"
    }
}
