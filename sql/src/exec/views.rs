//! Views, read: a view is kept in the versioned catalog like a table (a definition with the
//! view's query and no rows; `crate::ddl::views` writes it) and expanded into derived tables
//! before a statement is planned — so a view reads its tables as they are now, and a view of views
//! works.
//!
//! A view read `AS OF` a point is the view as it was then: its definition at that point, with
//! every table it reads (and every view, in turn) read `AS OF` the same commit. A point that is
//! an expression is resolved to its commit first ([`points_to_resolve`]).

use crate::common::names::in_own_schema;
use crate::common::names::table_name;
use crate::rewrite::temporal::AS_OF_FUNCTION;
use crate::storage::scope::SessionScope;
use datafusion::sql::sqlparser::ast::{
    Expr as SqlExpr, FunctionArg, FunctionArgExpr, Query, SetExpr, Statement, TableAlias,
    TableFactor, Value, Visit, VisitMut, Visitor, VisitorMut,
};
use driftdb_engine::{CatalogPoint, Seq, ViewDef};
use driftdb_pgtypes::error::{Error, ErrorKind, Result};
use driftdb_pgtypes::idents::normalize;
use driftdb_pgtypes::idents::quoted;
use std::collections::HashMap;
use std::ops::ControlFlow;

/// How deep views may nest (a view that reaches itself would otherwise never end).
const MAX_DEPTH: usize = 64;

/// The derived table a reference to `view` (called `alias`) stands for.
fn derived_table(view: &ViewDef, alias: &str) -> Result<TableFactor> {
    let columns = if view.columns.is_empty() {
        String::new()
    } else {
        let names: Vec<String> = view.columns.iter().map(|c| quoted(c)).collect();
        format!(" ({})", names.join(", "))
    };
    parse_factor(&format!("({}) AS {}{columns}", view.query, quoted(alias)))
}

/// Parses the one table reference of `SELECT 1 FROM <from>`.
fn parse_factor(from: &str) -> Result<TableFactor> {
    let sql = format!("SELECT 1 FROM {from}");
    let internal = |e: String| Error::new(ErrorKind::Internal, format!("view query: {e}"));
    let query = crate::common::parse::parser()
        .try_with_sql(&sql)
        .and_then(|mut parser| parser.parse_query())
        .map_err(|e| internal(e.to_string()))?;
    match *query.body {
        SetExpr::Select(select) => select
            .from
            .into_iter()
            .next()
            .map(|from| from.relation)
            .ok_or_else(|| internal("no FROM".into())),
        _ => Err(internal("not a SELECT".into())),
    }
}

/// A reference `__driftdb_as_of(point, 'name'…)` (the temporal rewrite's form): its point and
/// the relation's name, if it names one in DriftDB's schema.
fn as_of_reference(factor: &TableFactor) -> Option<(&SqlExpr, String)> {
    let TableFactor::Table {
        name,
        args: Some(args),
        ..
    } = factor
    else {
        return None;
    };
    if name.to_string() != AS_OF_FUNCTION {
        return None;
    }
    let mut args = args.args.iter().map(|arg| match arg {
        FunctionArg::Unnamed(FunctionArgExpr::Expr(expr)) => Some(expr),
        _ => None,
    });
    let point = args.next()??;
    let parts: Vec<&str> = args
        .map(|arg| match arg {
            Some(SqlExpr::Value(value)) => match &value.value {
                Value::SingleQuotedString(part) => Some(part.as_str()),
                _ => None,
            },
            _ => None,
        })
        .collect::<Option<_>>()?;
    let (name, qualifiers) = parts.split_last()?;
    in_own_schema(qualifiers).then(|| (point, name.to_string()))
}

/// The seq of a point written `@seq:N`.
fn literal_seq(point: &SqlExpr) -> Option<Seq> {
    let SqlExpr::Value(value) = point else {
        return None;
    };
    let Value::SingleQuotedString(text) = &value.value else {
        return None;
    };
    text.strip_prefix("@seq:")?.parse().ok().map(Seq)
}

/// The points of `AS OF` references in `statement` that may name a view and are expressions
/// (`now() - interval '1 hour'`): each must be resolved to a commit before [`expand`].
pub fn points_to_resolve(scope: &SessionScope, statement: &Statement) -> Vec<SqlExpr> {
    let mut finder = PointsToResolve {
        scope,
        points: Vec::new(),
    };
    let _ = statement.visit(&mut finder);
    finder.points
}

struct PointsToResolve<'s> {
    scope: &'s SessionScope,
    points: Vec<SqlExpr>,
}

impl Visitor for PointsToResolve<'_> {
    type Break = ();

    fn pre_visit_table_factor(&mut self, factor: &TableFactor) -> ControlFlow<()> {
        if let Some((point, name)) = as_of_reference(factor)
            && literal_seq(point).is_none()
            && (self.scope.resolve_current(&name)).is_none_or(|def| def.view.is_some())
        {
            self.points.push(point.clone());
        }
        ControlFlow::Continue(())
    }
}

/// A reference to a relation by name (no function call): its name and its alias, if any.
fn plain_table(factor: &TableFactor) -> Option<(String, Option<TableAlias>)> {
    let TableFactor::Table {
        name,
        alias,
        args: None,
        ..
    } = factor
    else {
        return None;
    };
    let relation = table_name(name).ok()?;
    Some((relation, alias.clone()))
}

/// Reads every table and view a view's query names `AS OF @seq:N`, except names its own
/// WITH defines and names that were no relation at N (system catalogs).
struct ReadAsOf<'s> {
    scope: &'s SessionScope,
    seq: Seq,
    ctes: Vec<String>,
    error: Option<Error>,
}

impl VisitorMut for ReadAsOf<'_> {
    type Break = ();

    fn pre_visit_query(&mut self, query: &mut Query) -> ControlFlow<()> {
        if let Some(with) = &query.with {
            self.ctes
                .extend(with.cte_tables.iter().map(|cte| normalize(&cte.alias.name)));
        }
        ControlFlow::Continue(())
    }

    fn pre_visit_table_factor(&mut self, factor: &mut TableFactor) -> ControlFlow<()> {
        let Some((relation, alias)) = plain_table(factor) else {
            return ControlFlow::Continue(());
        };
        let point = CatalogPoint::At(self.seq);
        if self.ctes.contains(&relation)
            || self
                .scope
                .db
                .engine
                .resolve_table(&relation, point)
                .is_none()
        {
            return ControlFlow::Continue(());
        }
        let alias = match alias {
            Some(alias) => alias.to_string(),
            None => quoted(&relation),
        };
        let from = format!(
            "{AS_OF_FUNCTION}('@seq:{}', {}) AS {alias}",
            self.seq.0,
            driftdb_pgtypes::idents::quoted_literal(&relation)
        );
        match parse_factor(&from) {
            Ok(reference) => {
                *factor = reference;
                ControlFlow::Continue(())
            }
            Err(e) => {
                self.error = Some(e);
                ControlFlow::Break(())
            }
        }
    }
}

/// The derived table a reference to `view` read `AS OF @seq:N` stands for.
fn derived_table_as_of(
    scope: &SessionScope,
    view: &ViewDef,
    alias: &str,
    seq: Seq,
) -> Result<TableFactor> {
    let mut derived = derived_table(view, alias)?;
    let mut reader = ReadAsOf {
        scope,
        seq,
        ctes: Vec::new(),
        error: None,
    };
    let _ = VisitMut::visit(&mut derived, &mut reader);
    reader.error.map_or(Ok(derived), Err)
}

struct Expander<'s> {
    scope: &'s SessionScope,
    /// The commits of the `AS OF` points [`points_to_resolve`] found, by their SQL text.
    points: &'s HashMap<String, Seq>,
    expansions: usize,
    error: Option<Error>,
}

impl Expander<'_> {
    /// A view read `AS OF` its point, as a derived table (`None`: not a view then, left to
    /// the table function, which also reports a bad point).
    fn view_as_of(&self, factor: &TableFactor) -> Result<Option<TableFactor>> {
        let Some((point, relation)) = as_of_reference(factor) else {
            return Ok(None);
        };
        let seq = match literal_seq(point) {
            Some(seq) => seq,
            None => match self.points.get(&point.to_string()) {
                Some(seq) => *seq,
                None => return Ok(None),
            },
        };
        if seq > self.scope.snapshot() {
            return Ok(None);
        }
        let point = CatalogPoint::At(seq);
        let Some(def) = self.scope.db.engine.resolve_table(&relation, point) else {
            return Ok(None);
        };
        let Some(view) = &def.view else {
            return Ok(None);
        };
        let TableFactor::Table { alias, .. } = factor else {
            return Ok(None);
        };
        let alias = alias
            .as_ref()
            .map_or_else(|| relation.clone(), |alias| normalize(&alias.name));
        derived_table_as_of(self.scope, view, &alias, seq).map(Some)
    }
}

impl VisitorMut for Expander<'_> {
    type Break = ();

    fn pre_visit_table_factor(&mut self, factor: &mut TableFactor) -> ControlFlow<()> {
        match self.view_as_of(factor) {
            Ok(Some(derived)) => {
                self.expansions += 1;
                if self.expansions > MAX_DEPTH * 16 {
                    self.error = Some(Error::new(
                        ErrorKind::InvalidObjectDefinition,
                        "infinite recursion detected in rules for a view read AS OF",
                    ));
                    return ControlFlow::Break(());
                }
                *factor = derived;
                return ControlFlow::Continue(());
            }
            Ok(None) => {}
            Err(e) => {
                self.error = Some(e);
                return ControlFlow::Break(());
            }
        }
        let Some((relation, alias)) = plain_table(factor) else {
            return ControlFlow::Continue(());
        };
        let Some(def) = self.scope.resolve_current(&relation) else {
            return ControlFlow::Continue(());
        };
        let Some(view) = &def.view else {
            return ControlFlow::Continue(());
        };
        self.expansions += 1;
        if self.expansions > MAX_DEPTH * 16 {
            self.error = Some(Error::new(
                ErrorKind::InvalidObjectDefinition,
                format!("infinite recursion detected in rules for relation \"{relation}\""),
            ));
            return ControlFlow::Break(());
        }
        let alias_name = alias.map_or_else(|| relation.clone(), |alias| normalize(&alias.name));
        match derived_table(view, &alias_name) {
            Ok(derived) => {
                *factor = derived;
                ControlFlow::Continue(())
            }
            Err(e) => {
                self.error = Some(e);
                ControlFlow::Break(())
            }
        }
    }
}

/// Replaces every reference to a view in `statement` with the view's query (as of its point,
/// for a view read `AS OF`; `points` has the commits of points that are expressions).
pub fn expand(
    scope: &SessionScope,
    statement: &mut Statement,
    points: &HashMap<String, Seq>,
) -> Result<()> {
    let mut expander = Expander {
        scope,
        points,
        expansions: 0,
        error: None,
    };
    let _ = statement.visit(&mut expander);
    expander.error.map_or(Ok(()), Err)
}
