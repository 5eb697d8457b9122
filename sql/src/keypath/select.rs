//! `SELECT columns FROM t WHERE pk = constant`: one key read from the engine, no planning; and
//! `SELECT columns FROM t WHERE indexed = constant`: one index lookup, when it finds a few rows.

use crate::exec::Executor;
use crate::exec::results::{QueryResult, StatementResult};
use crate::keypath::shape::{self, PinnedIndex, PinnedKey, Table};
use crate::rewrite::colnames;
use crate::storage::scan::{read_index, read_key};
use crate::storage::schema::table_schema;
use datafusion::arrow::datatypes::{Field, Schema};
use datafusion::sql::sqlparser::ast::{
    GroupByExpr, Query, SelectFlavor, SelectItem, SelectItemQualifiedWildcardKind, SetExpr,
    Statement as Ast, WildcardAdditionalOptions,
};
use driftdb_engine::KeyRange;
use driftdb_pgtypes::error::Result;
use driftdb_pgtypes::idents::normalize;
use std::sync::Arc;

/// The most rows an index lookup reads on the statement's own thread; a lookup that finds more
/// is left to the full path, whose scan runs on a blocking thread and streams its batches.
const MOST_INDEXED_ROWS: usize = 64;

/// Runs `query` if it reads one row by its whole primary key, or a few rows through the leading
/// columns of an index, from one plain table; `None` leaves it to the full path.
pub(crate) fn point_select(exec: &Executor, statement: &Ast) -> Result<Option<StatementResult>> {
    let Ast::Query(query) = statement else {
        return Ok(None);
    };
    let Some((table, columns, lookup)) = shape_of(exec, query) else {
        return Ok(None);
    };
    let def = &table.def;
    let visible: Vec<usize> = def.visible_slots().collect();
    let projection: Vec<usize> = columns
        .iter()
        .map(|(slot, _)| visible.iter().position(|v| v == slot))
        .collect::<Option<_>>()
        .expect("the columns are visible ones");
    let full = table_schema(def);
    let fields: Vec<Field> = projection
        .iter()
        .zip(&columns)
        .map(|(&i, (_, name))| full.field(i).clone().with_name(name))
        .collect();
    // PostgreSQL's names for the columns, as the full path gives them (the parser's rewrites
    // may have aliased a column to keep its name).
    let schema = colnames::rename(
        colnames::statement_names(statement),
        Arc::new(Schema::new(fields)),
    );
    let scope = exec.scope();
    // SERIALIZABLE certifies what it read, as the full path's scan records it: the key's range,
    // or the whole table for rows found through an index (they may sit anywhere in it).
    let read = match &lookup {
        Lookup::Key(key) => key.read_range(),
        Lookup::Index(_) => KeyRange::all(),
    };
    let pending = {
        let mut guard = scope.transaction_guard();
        guard.as_mut().and_then(|txn| {
            txn.record_read(def.id, &[read]);
            txn.pending_rows(def.id)
        })
    };
    let engine = &scope.db.engine;
    let seen = (scope.snapshot(), pending.as_ref());
    let batch = match &lookup {
        Lookup::Key(key) => read_key(engine, def, &key.key, seen, &projection, schema.clone())?,
        Lookup::Index(pinned) => {
            let entries = (
                &pinned.index,
                pinned.columns.as_slice(),
                pinned.prefix.as_slice(),
            );
            let read = (projection.as_slice(), schema.clone());
            match read_index(engine, def, entries, seen, MOST_INDEXED_ROWS, read)? {
                Some(batch) => batch,
                None => return Ok(None),
            }
        }
    };
    Ok(Some(StatementResult::Query(QueryResult::from_batches(
        schema,
        vec![batch],
        "SELECT",
    ))))
}

/// How a select finds its rows.
enum Lookup {
    /// One row by its whole primary key.
    Key(PinnedKey),
    /// The rows an index's leading values pin.
    Index(PinnedIndex),
}

/// A point select: its table, its columns (storage slot and result name, each slot once) and
/// how it finds its rows.
type PointSelect = (Table, Vec<(usize, String)>, Lookup);

fn shape_of(exec: &Executor, query: &Query) -> Option<PointSelect> {
    let plain_query = crate::common::parse::plain_query(query);
    let SetExpr::Select(select) = query.body.as_ref() else {
        return None;
    };
    let plain_select = plain_query
        && select.optimizer_hints.is_empty()
        && select.distinct.is_none()
        && select.select_modifiers.is_none()
        && select.top.is_none()
        && select.exclude.is_none()
        && select.into.is_none()
        && select.lateral_views.is_empty()
        && select.prewhere.is_none()
        && select.connect_by.is_empty()
        && matches!(&select.group_by, GroupByExpr::Expressions(exprs, modifiers)
            if exprs.is_empty() && modifiers.is_empty())
        && select.cluster_by.is_empty()
        && select.distribute_by.is_empty()
        && select.sort_by.is_empty()
        && select.having.is_none()
        && select.named_window.is_empty()
        && select.qualify.is_none()
        && select.value_table_mode.is_none()
        && select.flavor == SelectFlavor::Standard;
    let [relation] = select.from.as_slice() else {
        return None;
    };
    if !plain_select {
        return None;
    }
    let table = shape::table(exec, relation)?;
    let selection = select.selection.as_ref()?;
    let lookup = match table.pinned_key(selection) {
        Some(key) => Lookup::Key(key),
        None => Lookup::Index(table.pinned_index(selection)?),
    };
    let mut columns: Vec<(usize, String)> = Vec::new();
    for item in &select.projection {
        match item {
            SelectItem::Wildcard(options) if plain_wildcard(options) => {
                columns.extend(all_columns(&table));
            }
            SelectItem::QualifiedWildcard(
                SelectItemQualifiedWildcardKind::ObjectName(name),
                options,
            ) if plain_wildcard(options) => {
                let parts: Option<Vec<_>> = name.0.iter().map(|p| p.as_ident().cloned()).collect();
                if !table.is_wildcard_qualifier(&parts?) {
                    return None;
                }
                columns.extend(all_columns(&table));
            }
            SelectItem::UnnamedExpr(expr) => {
                let slot = table.column(expr)?;
                columns.push((slot, table.def.columns[slot].name.clone()));
            }
            SelectItem::ExprWithAlias { expr, alias } => {
                columns.push((table.column(expr)?, normalize(alias)));
            }
            _ => return None,
        }
    }
    // The scan's decoder feeds each column once.
    let mut slots: Vec<usize> = columns.iter().map(|(slot, _)| *slot).collect();
    slots.sort_unstable();
    slots.dedup();
    if slots.len() != columns.len() || columns.is_empty() {
        return None;
    }
    Some((table, columns, lookup))
}

fn plain_wildcard(options: &WildcardAdditionalOptions) -> bool {
    options.opt_ilike.is_none()
        && options.opt_exclude.is_none()
        && options.opt_except.is_none()
        && options.opt_replace.is_none()
        && options.opt_rename.is_none()
        && options.opt_alias.is_none()
}

fn all_columns(table: &Table) -> Vec<(usize, String)> {
    let def = &table.def;
    def.visible_slots()
        .map(|slot| (slot, def.columns[slot].name.clone()))
        .collect()
}
