//! DriftDB's functions: `driftdb_current_seq()` and the table functions that temporal clauses
//! are rewritten into (see [`crate::temporal`]).

use crate::catalog::{CATALOG_NAME, SCHEMA_NAME, SessionScope};
use crate::error::{Error, ErrorKind};
use crate::table::DriftTable;
use datafusion::arrow::datatypes::{DataType, TimeUnit};
use datafusion::catalog::{TableFunctionArgs, TableFunctionImpl, TableProvider};
use datafusion::common::ScalarValue;
use datafusion::error::Result;
use datafusion::logical_expr::{
    ColumnarValue, Expr, ScalarFunctionArgs, ScalarUDFImpl, Signature, Volatility,
};
use driftdb_engine::{CatalogPoint, Seq, TableDef};
use std::hash::{Hash, Hasher};
use std::sync::Arc;

/// `driftdb_current_seq()`: the seq the current statement reads at.
#[derive(Debug)]
pub struct CurrentSeq {
    scope: Arc<SessionScope>,
    signature: Signature,
}

impl CurrentSeq {
    pub fn new(scope: Arc<SessionScope>) -> CurrentSeq {
        CurrentSeq {
            scope,
            signature: Signature::nullary(Volatility::Volatile),
        }
    }
}

impl PartialEq for CurrentSeq {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.scope, &other.scope)
    }
}

impl Eq for CurrentSeq {}

impl Hash for CurrentSeq {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.name().hash(state);
    }
}

impl ScalarUDFImpl for CurrentSeq {
    fn name(&self) -> &str {
        "driftdb_current_seq"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(DataType::Int64)
    }

    fn invoke_with_args(&self, _args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        Ok(ColumnarValue::Scalar(ScalarValue::Int64(Some(
            self.scope.snapshot().0 as i64,
        ))))
    }
}

fn literal(expr: &Expr) -> Option<&ScalarValue> {
    match expr {
        Expr::Literal(value, _) => Some(value),
        _ => None,
    }
}

/// The table named by the string arguments (`'t'`, `'public', 't'` or `'driftdb', 'public', 't'`),
/// as it was at `point`.
fn resolve(scope: &SessionScope, parts: &[Expr], point: CatalogPoint) -> Result<Arc<TableDef>> {
    let parts: Vec<&str> = parts
        .iter()
        .map(|e| match literal(e) {
            Some(ScalarValue::Utf8(Some(s))) => Ok(s.as_str()),
            _ => Err(Error::new(
                ErrorKind::SyntaxError,
                "a temporal table reference needs a table name",
            )
            .into_datafusion()),
        })
        .collect::<Result<_>>()?;
    let (name, qualifiers) = parts.split_last().ok_or_else(|| {
        Error::new(
            ErrorKind::SyntaxError,
            "a temporal table reference needs a table name",
        )
        .into_datafusion()
    })?;
    let qualified_elsewhere = match qualifiers {
        [] => false,
        [schema] => *schema != SCHEMA_NAME,
        [catalog, schema] => *catalog != CATALOG_NAME || *schema != SCHEMA_NAME,
        _ => true,
    };
    let missing = || {
        let when = match point {
            CatalogPoint::At(seq) => format!(" as of seq {seq}"),
            CatalogPoint::Latest => String::new(),
        };
        Error::new(
            ErrorKind::UndefinedTable,
            format!("relation \"{}\" does not exist{when}", parts.join(".")),
        )
        .into_datafusion()
    };
    if qualified_elsewhere {
        return Err(missing());
    }
    scope
        .db
        .engine
        .resolve_table(name, point)
        .ok_or_else(missing)
}

/// Resolves the point argument of `__driftdb_as_of`: a seq, or a timestamp mapped to the last
/// commit at or before it. Points after the statement's snapshot are errors.
fn resolve_point(scope: &SessionScope, point: &Expr) -> Result<Seq> {
    let snapshot = scope.snapshot();
    let future = |requested: String| {
        Error::new(
            ErrorKind::InvalidParameterValue,
            format!("{requested} is in the future (the latest commit is seq {snapshot})"),
        )
        .into_datafusion()
    };
    match literal(point) {
        Some(ScalarValue::Int64(Some(n))) => {
            let seq = Seq(u64::try_from(*n).map_err(|_| future(format!("seq {n}")))?);
            if seq > snapshot {
                return Err(future(format!("seq {n}")));
            }
            Ok(seq)
        }
        Some(value @ ScalarValue::TimestampNanosecond(..))
        | Some(value @ ScalarValue::TimestampMicrosecond(..))
        | Some(value @ ScalarValue::TimestampMillisecond(..))
        | Some(value @ ScalarValue::TimestampSecond(..))
        | Some(value @ ScalarValue::Utf8(_)) => {
            let micros = value
                .cast_to(&DataType::Timestamp(TimeUnit::Microsecond, None))
                .map_err(|e| {
                    Error::new(
                        ErrorKind::InvalidDatetimeFormat,
                        format!("invalid timestamp for AS OF: {e}"),
                    )
                    .into_datafusion()
                })?;
            let ScalarValue::TimestampMicrosecond(Some(micros), _) = micros else {
                return Err(Error::new(
                    ErrorKind::InvalidParameterValue,
                    "AS OF NULL is not a point in time",
                )
                .into_datafusion());
            };
            let seq = scope
                .db
                .engine
                .seq_at_time(micros)
                .map_err(|e| Error::from(e).into_datafusion())?;
            Ok(seq.min(snapshot))
        }
        _ => Err(Error::new(
            ErrorKind::SyntaxError,
            "AS OF expects @seq:N or a timestamp",
        )
        .into_datafusion()),
    }
}

/// `__driftdb_as_of(point, name…)`: a table as of a seq or a time, with the schema it had then.
#[derive(Debug)]
pub struct AsOfFunction {
    pub scope: Arc<SessionScope>,
}

impl TableFunctionImpl for AsOfFunction {
    fn call_with_args(&self, args: TableFunctionArgs) -> Result<Arc<dyn TableProvider>> {
        let (point, name) = args.exprs().split_first().ok_or_else(|| {
            Error::new(ErrorKind::SyntaxError, "AS OF needs a point in time").into_datafusion()
        })?;
        let seq = resolve_point(&self.scope, point)?;
        let def = resolve(&self.scope, name, CatalogPoint::At(seq))?;
        Ok(Arc::new(DriftTable::as_of(self.scope.clone(), def, seq)))
    }
}

/// `__driftdb_versions(name…)`: every version of a table, with the table's latest schema (or,
/// for a table dropped after the statement's snapshot, the schema it had then).
#[derive(Debug)]
pub struct VersionsFunction {
    pub scope: Arc<SessionScope>,
}

impl TableFunctionImpl for VersionsFunction {
    fn call_with_args(&self, args: TableFunctionArgs) -> Result<Arc<dyn TableProvider>> {
        let snapshot = self.scope.snapshot();
        let def = resolve(&self.scope, args.exprs(), CatalogPoint::Latest)
            .or_else(|_| resolve(&self.scope, args.exprs(), CatalogPoint::At(snapshot)))?;
        Ok(Arc::new(DriftTable::versions(
            self.scope.clone(),
            def,
            snapshot,
        )))
    }
}
