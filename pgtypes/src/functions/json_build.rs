//! PostgreSQL's JSON functions: building (`json_build_object`, `jsonb_build_object`,
//! `json_build_array`, `jsonb_build_array`, `to_json`, `to_jsonb`, and the aggregates
//! `json_agg`, `jsonb_agg`, see [`JSON_ARRAY`]) and inspecting (`json_typeof`, `jsonb_typeof`,
//! `json_array_length`, `jsonb_array_length`).
//!
//! `json` results are written as PostgreSQL writes them (`{"a" : 1, "b" : "x"}`, `json`
//! arguments kept verbatim); `jsonb` results take jsonb's canonical form (keys unique and
//! ordered, `{"a": 1, "b": "x"}`). Numbers and booleans are bare, NULL is `null`, anything else
//! is a string of its text.

use crate::error::{Error, ErrorKind};
use crate::json::{self, Json, write_string};
use crate::types::PG_TYPE;
use datafusion::arrow::array::{Array, ArrayRef, AsArray, Int32Array, ListArray, StringArray};
use datafusion::arrow::datatypes::{DataType, Field, FieldRef};
use datafusion::common::ScalarValue;
use datafusion::error::Result;
use datafusion::logical_expr::{
    ColumnarValue, ReturnFieldArgs, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature,
    Volatility,
};
use driftdb_column_types::ColumnType;
use std::sync::Arc;

/// Whether a field holds `json` or `jsonb` text.
fn is_json_field(field: &Field) -> bool {
    field
        .metadata()
        .get(PG_TYPE)
        .is_some_and(|ty| ty == "json" || ty == "jsonb")
}

/// A field of JSON text of the given type (`json` or `jsonb`).
pub fn json_field(name: &str, jsonb: bool) -> FieldRef {
    let ty = if jsonb {
        ColumnType::Jsonb
    } else {
        ColumnType::Json
    };
    Arc::new(crate::types::field(name, ty))
}

/// JSON text that does not parse (22P02), or nests too deep (54001).
pub fn invalid(e: json::JsonError) -> datafusion::error::DataFusionError {
    e.for_type("json").into_datafusion()
}

/// `value` as `json` text: numbers and booleans bare, NULL as `null`, `json` as it is, the
/// rest as strings.
fn write_json(value: &ScalarValue, is_json: bool, out: &mut String) {
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
        ScalarValue::Decimal128(Some(v), ..) if value.data_type() == crate::numeric::QUOTIENT => {
            crate::numeric::write_quotient(*v, out)
        }
        v if v.data_type().is_numeric() => out.push_str(&v.to_string()),
        other => write_string(&other.to_string(), out),
    }
}

/// `value` as a `jsonb` value.
fn jsonb_value(value: &ScalarValue, is_json: bool) -> Result<Json> {
    Ok(match value {
        v if v.is_null() => Json::Null,
        ScalarValue::Boolean(Some(b)) => Json::Bool(*b),
        ScalarValue::Utf8(Some(text)) | ScalarValue::LargeUtf8(Some(text)) if is_json => {
            json::parse(text).map_err(invalid)?
        }
        ScalarValue::Utf8(Some(text))
        | ScalarValue::LargeUtf8(Some(text))
        | ScalarValue::Utf8View(Some(text)) => Json::String(text.clone()),
        v if v.data_type().is_numeric() => {
            let mut text = String::new();
            write_json(v, false, &mut text);
            Json::Number(text)
        }
        other => Json::String(other.to_string()),
    })
}

/// What a JSON function computes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Kind {
    BuildObject,
    BuildArray,
    To,
    TypeOf,
    ArrayLength,
}

/// One of the scalar JSON functions, for `json` or for `jsonb`.
#[derive(Debug, PartialEq, Eq, Hash)]
struct JsonFunction {
    name: &'static str,
    kind: Kind,
    jsonb: bool,
    signature: Signature,
}

/// The scalar JSON functions, to register.
pub fn functions() -> Vec<ScalarUDF> {
    let variadic = || Signature::variadic_any(Volatility::Stable);
    let one = || Signature::any(1, Volatility::Stable);
    [
        ("json_build_object", Kind::BuildObject, false, variadic()),
        ("jsonb_build_object", Kind::BuildObject, true, variadic()),
        ("json_build_array", Kind::BuildArray, false, variadic()),
        ("jsonb_build_array", Kind::BuildArray, true, variadic()),
        ("to_json", Kind::To, false, one()),
        ("to_jsonb", Kind::To, true, one()),
        ("json_typeof", Kind::TypeOf, false, one()),
        ("jsonb_typeof", Kind::TypeOf, true, one()),
        ("json_array_length", Kind::ArrayLength, false, one()),
        ("jsonb_array_length", Kind::ArrayLength, true, one()),
    ]
    .into_iter()
    .map(|(name, kind, jsonb, signature)| {
        ScalarUDF::from(JsonFunction {
            name,
            kind,
            jsonb,
            signature,
        })
    })
    .collect()
}

impl JsonFunction {
    /// One row's result from its argument values (`json_args` says which are JSON).
    fn build(&self, values: &[ScalarValue], json_args: &[bool]) -> Result<Option<String>> {
        let mut text = String::new();
        if self.kind == Kind::BuildObject && !values.len().is_multiple_of(2) {
            return Err(Error::new(
                ErrorKind::InvalidParameterValue,
                "argument list must have even number of elements",
            )
            .into_datafusion());
        }
        if self.jsonb {
            let value = match self.kind {
                Kind::BuildObject => Json::Object(
                    values
                        .chunks(2)
                        .zip(json_args.chunks(2))
                        .map(|(pair, json)| {
                            Ok((object_key(&pair[0])?, jsonb_value(&pair[1], json[1])?))
                        })
                        .collect::<Result<_>>()?,
                ),
                Kind::BuildArray => Json::Array(
                    values
                        .iter()
                        .zip(json_args)
                        .map(|(v, json)| jsonb_value(v, *json))
                        .collect::<Result<_>>()?,
                ),
                _ => {
                    if values[0].is_null() {
                        return Ok(None);
                    }
                    jsonb_value(&values[0], json_args[0])?
                }
            };
            value.into_canonical().write(&mut text);
            return Ok(Some(text));
        }
        match self.kind {
            Kind::BuildObject => {
                text.push('{');
                for (n, (pair, json)) in values.chunks(2).zip(json_args.chunks(2)).enumerate() {
                    if n > 0 {
                        text.push_str(", ");
                    }
                    write_string(&object_key(&pair[0])?, &mut text);
                    text.push_str(" : ");
                    write_json(&pair[1], json[1], &mut text);
                }
                text.push('}');
            }
            Kind::BuildArray => {
                text.push('[');
                for (n, (value, json)) in values.iter().zip(json_args).enumerate() {
                    if n > 0 {
                        text.push_str(", ");
                    }
                    write_json(value, *json, &mut text);
                }
                text.push(']');
            }
            _ => {
                if values[0].is_null() {
                    return Ok(None);
                }
                write_json(&values[0], json_args[0], &mut text);
            }
        }
        Ok(Some(text))
    }
}

/// An object key: text as it is, other values as their text; NULL is an error.
fn object_key(key: &ScalarValue) -> Result<String> {
    match key {
        k if k.is_null() => Err(Error::new(
            ErrorKind::InvalidParameterValue,
            "null value not allowed for object key",
        )
        .into_datafusion()),
        ScalarValue::Utf8(Some(k))
        | ScalarValue::LargeUtf8(Some(k))
        | ScalarValue::Utf8View(Some(k)) => Ok(k.clone()),
        other => Ok(other.to_string()),
    }
}

/// `json_typeof`: the type of a JSON document's top value.
fn type_of(document: &Json) -> &'static str {
    match document {
        Json::Null => "null",
        Json::Bool(_) => "boolean",
        Json::Number(_) => "number",
        Json::String(_) => "string",
        Json::Array(_) => "array",
        Json::Object(_) => "object",
    }
}

impl ScalarUDFImpl for JsonFunction {
    fn name(&self) -> &str {
        self.name
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(match self.kind {
            Kind::ArrayLength => DataType::Int32,
            _ => DataType::Utf8,
        })
    }

    fn return_field_from_args(&self, _args: ReturnFieldArgs) -> Result<FieldRef> {
        Ok(match self.kind {
            Kind::TypeOf => Arc::new(Field::new(self.name, DataType::Utf8, true)),
            Kind::ArrayLength => Arc::new(Field::new(self.name, DataType::Int32, true)),
            _ => json_field(self.name, self.jsonb),
        })
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let rows = args.number_rows;
        let json_args: Vec<bool> = args.arg_fields.iter().map(|f| is_json_field(f)).collect();
        let arrays = ColumnarValue::values_to_arrays(&args.args)?;
        let value_at = |array: &ArrayRef, row: usize| {
            ScalarValue::try_from_array(array, if array.len() == 1 { 0 } else { row })
        };
        let result: ArrayRef = match self.kind {
            Kind::TypeOf | Kind::ArrayLength => {
                let documents = datafusion::arrow::compute::cast(&arrays[0], &DataType::Utf8)?;
                let documents = documents.as_string::<i32>();
                let parsed = (0..documents.len()).map(|row| {
                    (!documents.is_null(row))
                        .then(|| json::parse(documents.value(row)).map_err(invalid))
                        .transpose()
                });
                match self.kind {
                    Kind::TypeOf => Arc::new(
                        parsed
                            .map(|document| Ok(document?.map(|d| type_of(&d))))
                            .collect::<Result<StringArray>>()?,
                    ),
                    _ => Arc::new(
                        parsed
                            .map(|document| match document? {
                                None => Ok(None),
                                Some(Json::Array(items)) => Ok(Some(items.len() as i32)),
                                Some(Json::Object(_)) => Err(Error::new(
                                    ErrorKind::InvalidParameterValue,
                                    "cannot get array length of a non-array",
                                )
                                .into_datafusion()),
                                Some(_) => Err(Error::new(
                                    ErrorKind::InvalidParameterValue,
                                    "cannot get array length of a scalar",
                                )
                                .into_datafusion()),
                            })
                            .collect::<Result<Int32Array>>()?,
                    ),
                }
            }
            _ => {
                let built = (0..rows)
                    .map(|row| {
                        let values = arrays
                            .iter()
                            .map(|array| value_at(array, row))
                            .collect::<Result<Vec<_>>>()?;
                        self.build(&values, &json_args)
                    })
                    .collect::<Result<StringArray>>()?;
                Arc::new(built)
            }
        };
        Ok(ColumnarValue::Array(result))
    }
}

/// The function `json_agg(x …)` is rewritten around: `__driftdb_json_array(array_agg(to_json(x)
/// …))` (and `jsonb_agg` with `to_jsonb`), so DataFusion's `array_agg` does the ordering,
/// DISTINCT, FILTER and windows.
pub const JSON_ARRAY: &str = "__driftdb_json_array";
/// `jsonb_agg`'s counterpart of [`JSON_ARRAY`].
pub const JSONB_ARRAY: &str = "__driftdb_jsonb_array";

/// Joins a list of JSON texts into a JSON array (`[1, "x", null]`); a NULL list (no rows) is
/// NULL.
#[derive(Debug, PartialEq, Eq, Hash)]
struct JsonArray {
    name: &'static str,
    jsonb: bool,
    signature: Signature,
}

/// The functions that finish `json_agg` and `jsonb_agg`, to register.
pub fn aggregate_finishers() -> Vec<ScalarUDF> {
    [(JSON_ARRAY, false), (JSONB_ARRAY, true)]
        .into_iter()
        .map(|(name, jsonb)| {
            ScalarUDF::from(JsonArray {
                name,
                jsonb,
                signature: Signature::any(1, Volatility::Immutable),
            })
        })
        .collect()
}

impl ScalarUDFImpl for JsonArray {
    fn name(&self) -> &str {
        self.name
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(DataType::Utf8)
    }

    fn return_field_from_args(&self, _args: ReturnFieldArgs) -> Result<FieldRef> {
        Ok(json_field(self.name, self.jsonb))
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        crate::udf::on_arrays(&args, |arrays| {
            let lists: &ListArray = arrays[0].as_list::<i32>();
            let mut text = String::new();
            let arrays = (0..lists.len())
                .map(|row| {
                    if lists.is_null(row) {
                        return None;
                    }
                    let elements = lists.value(row);
                    let elements = elements.as_string::<i32>();
                    text.clear();
                    text.push('[');
                    for i in 0..elements.len() {
                        if i > 0 {
                            text.push_str(", ");
                        }
                        match elements.is_null(i) {
                            true => text.push_str("null"),
                            false => text.push_str(elements.value(i)),
                        }
                    }
                    text.push(']');
                    Some(text.clone())
                })
                .collect::<StringArray>();
            Ok(Arc::new(arrays) as ArrayRef)
        })
    }
}
