//! `__driftdb_single(x)`: the value of a scalar subquery's only row (NULL for no row; more than
//! one row is an error, SQLSTATE 21000), as an aggregate. DataFusion plans a correlated scalar
//! subquery only when it aggregates; psql's `\d` queries (and many others) select a plain
//! column, so such subqueries select `__driftdb_single(column)` instead (see
//! `Session::parse`). PostgreSQL's semantics are kept exactly: one row gives its value.

use crate::error::{Error, ErrorKind};
use datafusion::arrow::array::{Array, ArrayRef, AsArray};
use datafusion::arrow::datatypes::{DataType, Field, FieldRef, Int64Type};
use datafusion::common::ScalarValue;
use datafusion::error::Result;
use datafusion::logical_expr::function::{AccumulatorArgs, StateFieldsArgs};
use datafusion::logical_expr::utils::format_state_name;
use datafusion::logical_expr::{Accumulator, AggregateUDFImpl, Signature, Volatility};
use std::sync::Arc;

/// The aggregate's name.
pub const SINGLE: &str = "__driftdb_single";

#[derive(Debug, PartialEq, Eq, Hash)]
pub struct Single {
    signature: Signature,
}

impl Default for Single {
    fn default() -> Single {
        Single::new()
    }
}

impl Single {
    pub fn new() -> Single {
        Single {
            signature: Signature::any(1, Volatility::Immutable),
        }
    }
}

impl AggregateUDFImpl for Single {
    fn name(&self) -> &str {
        SINGLE
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, arg_types: &[DataType]) -> Result<DataType> {
        Ok(arg_types[0].clone())
    }

    fn accumulator(&self, args: AccumulatorArgs) -> Result<Box<dyn Accumulator>> {
        Ok(Box::new(SingleAccumulator {
            value: ScalarValue::try_from(args.return_field.data_type())?,
            rows: 0,
        }))
    }

    fn state_fields(&self, args: StateFieldsArgs) -> Result<Vec<FieldRef>> {
        Ok(vec![
            Arc::new(
                args.return_field
                    .as_ref()
                    .clone()
                    .with_name(format_state_name(args.name, "value"))
                    .with_nullable(true),
            ),
            Arc::new(Field::new(
                format_state_name(args.name, "rows"),
                DataType::Int64,
                false,
            )),
        ])
    }
}

#[derive(Debug)]
struct SingleAccumulator {
    value: ScalarValue,
    rows: i64,
}

fn too_many() -> datafusion::error::DataFusionError {
    Error::new(
        ErrorKind::CardinalityViolation,
        "more than one row returned by a subquery used as an expression",
    )
    .into_datafusion()
}

impl Accumulator for SingleAccumulator {
    fn update_batch(&mut self, values: &[ArrayRef]) -> Result<()> {
        let values = &values[0];
        for row in 0..values.len() {
            self.rows += 1;
            if self.rows > 1 {
                return Err(too_many());
            }
            self.value = ScalarValue::try_from_array(values, row)?;
        }
        Ok(())
    }

    fn evaluate(&mut self) -> Result<ScalarValue> {
        Ok(self.value.clone())
    }

    fn size(&self) -> usize {
        std::mem::size_of_val(self) + self.value.size()
    }

    fn state(&mut self) -> Result<Vec<ScalarValue>> {
        Ok(vec![
            self.value.clone(),
            ScalarValue::Int64(Some(self.rows)),
        ])
    }

    fn merge_batch(&mut self, states: &[ArrayRef]) -> Result<()> {
        let rows = states[1].as_primitive::<Int64Type>();
        for row in 0..rows.len() {
            let count = rows.value(row);
            if count == 0 {
                continue;
            }
            self.rows += count;
            if self.rows > 1 {
                return Err(too_many());
            }
            self.value = ScalarValue::try_from_array(&states[0], row)?;
        }
        Ok(())
    }
}
