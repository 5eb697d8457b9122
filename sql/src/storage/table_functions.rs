//! DriftDB's functions: `driftdb_current_seq()`, the table functions that temporal clauses
//! are rewritten into (see [`crate::rewrite::temporal`]), and `generate_series` in FROM with
//! PostgreSQL's integer arguments.

use crate::common::engine_error::engine_error;
use crate::common::names::in_own_schema;
use crate::storage::scan::VersionWindow;
use crate::storage::scope::SessionScope;
use crate::storage::table::DriftTable;
use datafusion::arrow::datatypes::{DataType, TimeUnit};
use datafusion::catalog::{TableFunctionArgs, TableFunctionImpl, TableProvider};
use datafusion::common::ScalarValue;
use datafusion::error::Result;
use datafusion::logical_expr::{
    ColumnarValue, Expr, ScalarFunctionArgs, ScalarUDFImpl, Signature, Volatility,
};
use driftdb_engine::{CatalogPoint, Seq, TableDef};
use driftdb_pgtypes::error::{Error, ErrorKind};
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
    if !in_own_schema(qualifiers) {
        return Err(missing());
    }
    let def = scope
        .db
        .engine
        .resolve_table(name, point)
        .ok_or_else(missing)?;
    if def.view.is_some() {
        return Err(Error::unsupported(format!(
            "version queries over view \"{name}\" (read its tables FOR SYSTEM_TIME instead)"
        ))
        .into_datafusion());
    }
    Ok(def)
}

/// A temporal bound resolved to commits.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct BoundSeqs {
    /// The commit in effect at the bound.
    at: Seq,
    /// The commit in effect just before it (`None`: nothing was, the bound is seq 0 or before
    /// the first commit).
    before: Option<Seq>,
}

/// Resolves a temporal bound: `'@seq:N'` (as the rewrite spells `@seq:N`), or a time mapped to
/// the last commit at or before it. Seqs after the statement's snapshot are errors; so are
/// future times, unless `future_is_now` (a range may reach past now: it ends at the snapshot).
fn resolve_bound(scope: &SessionScope, bound: &Expr, future_is_now: bool) -> Result<BoundSeqs> {
    let snapshot = scope.snapshot();
    let future = |requested: String| {
        Error::new(
            ErrorKind::InvalidParameterValue,
            format!("{requested} is in the future (the latest commit is seq {snapshot})"),
        )
        .into_datafusion()
    };
    let value = literal(bound).ok_or_else(|| {
        Error::new(
            ErrorKind::FeatureNotSupported,
            "a temporal bound must be a constant (columns and subqueries are not allowed)",
        )
        .into_datafusion()
    })?;
    if let ScalarValue::Utf8(Some(text)) = value
        && let Some(digits) = text.strip_prefix("@seq:")
    {
        let seq = digits
            .parse::<u64>()
            .map(Seq)
            .map_err(|_| future(format!("seq {digits}")))?;
        if seq > snapshot {
            return Err(future(format!("seq {digits}")));
        }
        return Ok(BoundSeqs {
            at: seq,
            before: seq.0.checked_sub(1).map(Seq),
        });
    }
    let is_time = matches!(
        value,
        ScalarValue::TimestampNanosecond(..)
            | ScalarValue::TimestampMicrosecond(..)
            | ScalarValue::TimestampMillisecond(..)
            | ScalarValue::TimestampSecond(..)
            | ScalarValue::Date32(_)
            | ScalarValue::Utf8(_)
            | ScalarValue::Utf8View(_)
            | ScalarValue::LargeUtf8(_)
    );
    if !is_time {
        return Err(Error::new(
            ErrorKind::SyntaxError,
            format!(
                "a temporal bound must be @seq:N or a time, not {}",
                value.data_type()
            ),
        )
        .into_datafusion());
    }
    let micros = value
        .cast_to(&DataType::Timestamp(TimeUnit::Microsecond, None))
        .map_err(|e| {
            Error::new(
                ErrorKind::InvalidDatetimeFormat,
                format!("invalid timestamp for a temporal bound: {e}"),
            )
            .into_datafusion()
        })?;
    let ScalarValue::TimestampMicrosecond(Some(micros), _) = micros else {
        return Err(Error::new(
            ErrorKind::InvalidParameterValue,
            "NULL is not a point in time",
        )
        .into_datafusion());
    };
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_micros()).unwrap_or(i64::MAX));
    if future_is_now && micros > now {
        return Ok(BoundSeqs {
            at: snapshot,
            before: Some(snapshot),
        });
    }
    let engine = &scope.db.engine;
    let seq_at = |micros: i64| -> Result<Seq> {
        let seq = engine
            .seq_at_time(micros)
            .map_err(|e| engine_error(e).into_datafusion())?;
        Ok(seq.min(snapshot))
    };
    let at = seq_at(micros)?;
    let before = match micros.checked_sub(1) {
        Some(earlier) => Some(seq_at(earlier)?),
        None => None,
    };
    Ok(BoundSeqs { at, before })
}

/// The commit an `AS OF` point (a constant: `'@seq:N'` or a time) stands for.
pub(crate) fn resolve_point(
    scope: &SessionScope,
    point: ScalarValue,
) -> driftdb_pgtypes::error::Result<Seq> {
    resolve_bound(scope, &Expr::Literal(point, None), false)
        .map(|bound| bound.at)
        .map_err(driftdb_pgtypes::error::Error::from)
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
        let seq = resolve_bound(&self.scope, point, false)?.at;
        let def = resolve(&self.scope, name, CatalogPoint::At(seq))?;
        Ok(Arc::new(DriftTable::as_of(self.scope.clone(), def, seq)))
    }
}

/// `__driftdb_versions(kind, [a, b,] name…)`: versions of a table, with the table's latest
/// schema (or, for a table dropped after the statement's snapshot, the schema it had then).
/// `kind` is `all`, or a range over bounds `a` and `b` ([`VersionWindow`]).
#[derive(Debug)]
pub struct VersionsFunction {
    pub scope: Arc<SessionScope>,
}

impl TableFunctionImpl for VersionsFunction {
    fn call_with_args(&self, args: TableFunctionArgs) -> Result<Arc<dyn TableProvider>> {
        let malformed = || {
            Error::new(ErrorKind::SyntaxError, "malformed FOR SYSTEM_TIME clause").into_datafusion()
        };
        let (kind, rest) = args.exprs().split_first().ok_or_else(malformed)?;
        let kind = match literal(kind) {
            Some(ScalarValue::Utf8(Some(kind))) => kind.as_str(),
            _ => return Err(malformed()),
        };
        let (window, name) = match kind {
            "all" => (VersionWindow::default(), rest),
            "between" | "from" | "contained" => {
                let [a, b, name @ ..] = rest else {
                    return Err(malformed());
                };
                let a = resolve_bound(&self.scope, a, true)?;
                let b = resolve_bound(&self.scope, b, true)?;
                let window = match kind {
                    // Valid at some point in [a, b]: began by b, ended after a.
                    "between" => VersionWindow {
                        began_by: Some(Some(b.at)),
                        ended_after: Some(a.at),
                        ..VersionWindow::default()
                    },
                    // Valid at some point in [a, b): began before b, ended after a.
                    "from" => VersionWindow {
                        began_by: Some(b.before),
                        ended_after: Some(a.at),
                        ..VersionWindow::default()
                    },
                    // Began at or after a and ended by b.
                    _ => VersionWindow {
                        began_after: a.before,
                        ended_by: Some(b.at),
                        ..VersionWindow::default()
                    },
                };
                (window, name)
            }
            _ => return Err(malformed()),
        };
        let snapshot = self.scope.snapshot();
        let def = resolve(&self.scope, name, CatalogPoint::Latest)
            .or_else(|_| resolve(&self.scope, name, CatalogPoint::At(snapshot)))?;
        Ok(Arc::new(DriftTable::versions(
            self.scope.clone(),
            def,
            snapshot,
            window,
        )))
    }
}

/// `generate_series` (and `range`) in FROM as PostgreSQL takes them: integer bounds of any
/// width (`array_upper(…)` is an `integer`), where DataFusion's take `bigint` only.
#[derive(Debug)]
pub struct WideningSeries {
    pub inner: Arc<dyn TableFunctionImpl>,
}

impl TableFunctionImpl for WideningSeries {
    fn call_with_args(&self, args: TableFunctionArgs) -> Result<Arc<dyn TableProvider>> {
        let widened = args
            .exprs()
            .iter()
            .map(|expr| match expr {
                Expr::Literal(
                    value @ (ScalarValue::Int8(_)
                    | ScalarValue::Int16(_)
                    | ScalarValue::Int32(_)
                    | ScalarValue::UInt8(_)
                    | ScalarValue::UInt16(_)
                    | ScalarValue::UInt32(_)),
                    metadata,
                ) => Ok(Expr::Literal(
                    value.cast_to(&DataType::Int64)?,
                    metadata.clone(),
                )),
                other => Ok(other.clone()),
            })
            .collect::<Result<Vec<_>>>()?;
        self.inner
            .call_with_args(TableFunctionArgs::new(&widened, args.session()))
    }
}
