//! PostgreSQL's set-returning JSON functions: `json[b]_array_elements`,
//! `json[b]_array_elements_text` and `json[b]_object_keys`. DataFusion has no set-returning
//! scalar functions, so each is a function returning a list, unnested into rows where the
//! query calls it (in a select list, as `generate_series` is, and in FROM; see
//! the SQL layer's rewrite of PostgreSQL spellings).

use crate::error::{Error, ErrorKind};
use crate::json::{self, Json};
use datafusion::arrow::array::{ArrayRef, AsArray, ListArray, ListBuilder, StringBuilder};
use datafusion::arrow::datatypes::{DataType, Field, FieldRef};
use datafusion::error::Result;
use datafusion::logical_expr::{
    ColumnarValue, ReturnFieldArgs, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature,
    Volatility,
};
use driftdb_column_types::ColumnType;
use std::sync::Arc;

/// What a set-returning JSON function gives for each document.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Set {
    /// The elements of an array, as `json` or `jsonb`.
    Elements { jsonb: bool },
    /// The elements of an array as text (strings unquoted, `null` as NULL).
    ElementsText,
    /// The keys of an object (a `jsonb` object's in its order).
    Keys { jsonb: bool },
}

/// The set-returning function called `name`: the list function it becomes and the name of the
/// column it gives in FROM when the query does not name it (`None`: the relation's name).
pub fn set_returning(name: &str) -> Option<(&'static str, Option<&'static str>)> {
    Some(match name {
        "json_array_elements" => ("__driftdb_json_elements", Some("value")),
        "jsonb_array_elements" => ("__driftdb_jsonb_elements", Some("value")),
        "json_array_elements_text" | "jsonb_array_elements_text" => {
            ("__driftdb_json_elements_text", Some("value"))
        }
        "json_object_keys" => ("__driftdb_json_object_keys", None),
        "jsonb_object_keys" => ("__driftdb_jsonb_object_keys", None),
        _ => return None,
    })
}

/// The list functions of [`set_returning`].
pub fn functions() -> Vec<ScalarUDF> {
    [
        ("__driftdb_json_elements", Set::Elements { jsonb: false }),
        ("__driftdb_jsonb_elements", Set::Elements { jsonb: true }),
        ("__driftdb_json_elements_text", Set::ElementsText),
        ("__driftdb_json_object_keys", Set::Keys { jsonb: false }),
        ("__driftdb_jsonb_object_keys", Set::Keys { jsonb: true }),
    ]
    .into_iter()
    .map(|(name, set)| {
        ScalarUDF::from(JsonSet {
            name,
            set,
            signature: Signature::exact(vec![DataType::Utf8], Volatility::Immutable),
        })
    })
    .collect()
}

#[derive(Debug, PartialEq, Eq, Hash)]
struct JsonSet {
    name: &'static str,
    set: Set,
    signature: Signature,
}

impl JsonSet {
    /// The field of the list's items.
    fn item(&self) -> FieldRef {
        match self.set {
            Set::Elements { jsonb } => {
                let ty = if jsonb {
                    ColumnType::Jsonb
                } else {
                    ColumnType::Json
                };
                Arc::new(crate::types::field("item", ty))
            }
            _ => Arc::new(Field::new("item", DataType::Utf8, true)),
        }
    }

    /// Appends one document's values to `out`.
    fn values(&self, document: &str, out: &mut StringBuilder) -> Result<()> {
        let document = json::parse(document).map_err(crate::functions::json_build::invalid)?;
        let invalid = |message: String| {
            Error::new(ErrorKind::InvalidParameterValue, message).into_datafusion()
        };
        let what = match &document {
            Json::Array(_) => "an array",
            Json::Object(_) => "an object",
            _ => "a scalar",
        };
        match (self.set, document) {
            (Set::Keys { jsonb }, document @ Json::Object(_)) => {
                let document = if jsonb {
                    document.into_canonical()
                } else {
                    document
                };
                if let Json::Object(members) = document {
                    for (key, _) in members {
                        out.append_value(key);
                    }
                }
            }
            (Set::Keys { jsonb }, _) => {
                let function = if jsonb { "jsonb" } else { "json" };
                return Err(invalid(format!(
                    "cannot call {function}_object_keys on {what}"
                )));
            }
            (Set::Elements { jsonb }, Json::Array(items)) => {
                let mut text = String::new();
                for item in items {
                    text.clear();
                    match jsonb {
                        true => item.into_canonical().write(&mut text),
                        false => item.write(&mut text),
                    }
                    out.append_value(&text);
                }
            }
            (Set::ElementsText, Json::Array(items)) => {
                let mut text = String::new();
                for item in items {
                    match item {
                        Json::Null => out.append_null(),
                        Json::String(s) => out.append_value(s),
                        other => {
                            text.clear();
                            other.into_canonical().write(&mut text);
                            out.append_value(&text);
                        }
                    }
                }
            }
            (_, _) => {
                return Err(invalid(format!("cannot extract elements from {what}")));
            }
        }
        Ok(())
    }
}

impl ScalarUDFImpl for JsonSet {
    fn name(&self) -> &str {
        self.name
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(DataType::List(self.item()))
    }

    fn return_field_from_args(&self, _args: ReturnFieldArgs) -> Result<FieldRef> {
        Ok(Arc::new(Field::new(
            self.name,
            DataType::List(self.item()),
            true,
        )))
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        // Always an array: a constant list would lose the metadata of its items.
        let documents = args.args[0].to_array(args.number_rows)?;
        let documents = documents.as_string::<i32>();
        let mut lists = ListBuilder::new(StringBuilder::new());
        for document in documents.iter() {
            match document {
                Some(document) => {
                    self.values(document, lists.values())?;
                    lists.append(true);
                }
                // No rows for a NULL document, as in PostgreSQL.
                None => lists.append(false),
            }
        }
        // The builder's list keeps no metadata on its items; the promised type has it.
        let (_, offsets, values, nulls) = lists.finish().into_parts();
        let list = ListArray::new(self.item(), offsets, values, nulls);
        Ok(ColumnarValue::Array(Arc::new(list) as ArrayRef))
    }
}
