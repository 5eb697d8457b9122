//! `json_build_object(key, value, …)`: a JSON object from alternating keys and values, written
//! as PostgreSQL writes it (`{"a" : 1, "b" : "x"}`), typed `json`.

use crate::error::{Error, ErrorKind};
use crate::json::write_string;
use crate::types::PG_TYPE;
use datafusion::arrow::array::ArrayRef;
use datafusion::arrow::datatypes::{DataType, Field, FieldRef};
use datafusion::common::ScalarValue;
use datafusion::error::Result;
use datafusion::logical_expr::{
    ColumnarValue, ReturnFieldArgs, ScalarFunctionArgs, ScalarUDFImpl, Signature, Volatility,
};
use std::sync::Arc;

/// `json_build_object`.
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct JsonBuildObject {
    signature: Signature,
}

impl JsonBuildObject {
    pub fn new() -> JsonBuildObject {
        JsonBuildObject {
            signature: Signature::variadic_any(Volatility::Stable),
        }
    }
}

/// `value` as a JSON value: numbers and booleans bare, NULL as `null`, `json` as it is, the
/// rest as strings.
fn write_value(value: &ScalarValue, is_json: bool, out: &mut String) {
    if value.is_null() {
        out.push_str("null");
        return;
    }
    match value {
        ScalarValue::Boolean(Some(b)) => out.push_str(if *b { "true" } else { "false" }),
        ScalarValue::Utf8(Some(text)) | ScalarValue::LargeUtf8(Some(text)) if is_json => {
            out.push_str(text)
        }
        ScalarValue::Utf8(Some(text))
        | ScalarValue::LargeUtf8(Some(text))
        | ScalarValue::Utf8View(Some(text)) => write_string(text, out),
        v if v.data_type().is_numeric() => out.push_str(&v.to_string()),
        other => write_string(&other.to_string(), out),
    }
}

impl ScalarUDFImpl for JsonBuildObject {
    fn name(&self) -> &str {
        "json_build_object"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(DataType::Utf8)
    }

    fn return_field_from_args(&self, _args: ReturnFieldArgs) -> Result<FieldRef> {
        let field = Field::new(self.name(), DataType::Utf8, true)
            .with_metadata([(PG_TYPE.to_string(), "json".to_string())].into());
        Ok(Arc::new(field))
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        if !args.args.len().is_multiple_of(2) {
            return Err(Error::new(
                ErrorKind::InvalidParameterValue,
                "argument list must have even number of elements",
            )
            .into_datafusion());
        }
        let json_values: Vec<bool> = args
            .arg_fields
            .iter()
            .map(|field| {
                field
                    .metadata()
                    .get(PG_TYPE)
                    .is_some_and(|ty| ty == "json" || ty == "jsonb")
            })
            .collect();
        let mut objects = Vec::with_capacity(args.number_rows);
        let mut text = String::new();
        for row in 0..args.number_rows {
            text.clear();
            text.push('{');
            for (pair, chunk) in args.args.chunks(2).enumerate() {
                let value_at = |arg: &ColumnarValue| match arg {
                    ColumnarValue::Scalar(value) => Ok(value.clone()),
                    ColumnarValue::Array(array) => ScalarValue::try_from_array(array, row),
                };
                let key = value_at(&chunk[0])?;
                if key.is_null() {
                    return Err(Error::new(
                        ErrorKind::InvalidParameterValue,
                        "null value not allowed for object key",
                    )
                    .into_datafusion());
                }
                if pair > 0 {
                    text.push_str(", ");
                }
                let key = match key {
                    ScalarValue::Utf8(Some(k)) | ScalarValue::LargeUtf8(Some(k)) => k,
                    other => other.to_string(),
                };
                write_string(&key, &mut text);
                text.push_str(" : ");
                write_value(&value_at(&chunk[1])?, json_values[2 * pair + 1], &mut text);
            }
            text.push('}');
            objects.push(Some(text.clone()));
        }
        let array: ArrayRef = Arc::new(datafusion::arrow::array::StringArray::from(objects));
        Ok(ColumnarValue::Array(array))
    }
}
