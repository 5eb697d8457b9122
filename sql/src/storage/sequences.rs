//! `nextval('t_id_seq')`: identity columns' counters, read and advanced by the name (or the
//! OID) PostgreSQL gives their sequences.

use crate::common::engine_error::engine_error;
use crate::storage::schema::sequence_oid;
use crate::storage::scope::SessionScope;
use datafusion::arrow::array::Int64Array;
use datafusion::arrow::datatypes::DataType;
use datafusion::common::ScalarValue;
use datafusion::logical_expr::{
    ColumnarValue, ScalarFunctionArgs, ScalarUDFImpl, Signature, Volatility,
};
use driftdb_engine::TableId;
use driftdb_pgtypes::error::{Error, ErrorKind, Result};
use std::hash::{Hash, Hasher};
use std::sync::Arc;

/// `nextval('table_column_seq')`: the next value of an identity column's counter.
#[derive(Debug)]
pub struct NextVal {
    scope: Arc<SessionScope>,
    signature: Signature,
}

impl NextVal {
    pub fn new(scope: Arc<SessionScope>) -> NextVal {
        NextVal {
            scope,
            signature: Signature::exact(vec![DataType::Utf8], Volatility::Volatile),
        }
    }

    /// The table and slot of the identity column whose counter is called `name`.
    fn resolve(&self, name: &str) -> Result<(TableId, usize)> {
        // `nextval('t_id_seq'::regclass)` passes the counter's OID.
        let oid: Option<i64> = name.parse().ok();
        let name = name.strip_prefix("public.").unwrap_or(name);
        for table in self.scope.current_table_names() {
            let Some(def) = self.scope.resolve_current(&table) else {
                continue;
            };
            let found = def.columns.iter().enumerate().position(|(slot, c)| {
                !c.dropped
                    && c.identity.as_ref().is_some_and(|i| {
                        i.sequence == name || Some(sequence_oid(&def, slot)) == oid
                    })
            });
            if let Some(slot) = found {
                return Ok((def.id, slot));
            }
        }
        Err(Error::new(
            ErrorKind::UndefinedTable,
            format!("relation \"{name}\" does not exist"),
        ))
    }

    fn take(&self, name: &str, count: usize) -> Result<i64> {
        let (table, slot) = self.resolve(name)?;
        self.scope
            .db
            .engine
            .next_identity_values(table, slot, count as u64)
            .map_err(engine_error)
    }
}

impl PartialEq for NextVal {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.scope, &other.scope)
    }
}

impl Eq for NextVal {}

impl Hash for NextVal {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.name().hash(state);
    }
}

impl ScalarUDFImpl for NextVal {
    fn name(&self) -> &str {
        "nextval"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _arg_types: &[DataType]) -> datafusion::error::Result<DataType> {
        Ok(DataType::Int64)
    }

    fn invoke_with_args(
        &self,
        args: ScalarFunctionArgs,
    ) -> datafusion::error::Result<ColumnarValue> {
        let rows = args.number_rows;
        let values: Int64Array = match &args.args[0] {
            ColumnarValue::Scalar(ScalarValue::Utf8(Some(name))) => {
                let first = self.take(name, rows).map_err(Error::into_datafusion)?;
                (first..).take(rows).map(Some).collect()
            }
            ColumnarValue::Scalar(_) => (0..rows).map(|_| None).collect(),
            ColumnarValue::Array(names) => {
                let names = datafusion::arrow::array::AsArray::as_string::<i32>(names.as_ref());
                names
                    .iter()
                    .map(|name| name.map(|name| self.take(name, 1)).transpose())
                    .collect::<Result<_>>()
                    .map_err(Error::into_datafusion)?
            }
        };
        Ok(ColumnarValue::Array(Arc::new(values)))
    }
}
