//! What every scalar function here shares: computing over its arguments as arrays, folding a
//! call of constants to a constant.

use datafusion::arrow::array::ArrayRef;
use datafusion::common::ScalarValue;
use datafusion::error::Result;
use datafusion::logical_expr::{ColumnarValue, ScalarFunctionArgs};

/// Runs `compute` over a call's arguments as arrays. A call of constants gives a constant,
/// so an immutable function of literals still folds at planning time.
pub fn on_arrays(
    args: &ScalarFunctionArgs,
    compute: impl FnOnce(&[ArrayRef]) -> Result<ArrayRef>,
) -> Result<ColumnarValue> {
    let constant = args
        .args
        .iter()
        .all(|arg| matches!(arg, ColumnarValue::Scalar(_)));
    let result = compute(&ColumnarValue::values_to_arrays(&args.args)?)?;
    Ok(match constant && result.len() == 1 {
        true => ColumnarValue::Scalar(ScalarValue::try_from_array(&result, 0)?),
        false => ColumnarValue::Array(result),
    })
}
