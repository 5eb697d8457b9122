//! The versioned catalog: every table definition (with its indexes) and the seq from which it is
//! visible.
//!
//! DDL is visible from the seq of its own commit if that commit also wrote rows, otherwise from
//! the next seq to be assigned; either way that is `latest seq + 1` when the DDL is recorded.
//! Several DDL statements between two data commits share one visible-from seq, and the last one
//! wins: no read can observe the states in between. A drop is a record too, so a dropped table
//! stays readable as of any seq before the drop.
//!
//! Records are stored as framed JSON (DDL is rare and small; rows use a binary layout).

use crate::ids::{IndexId, Seq, TableId};
use crate::row::{ColumnType, ValueRef};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::sync::Arc;

/// A column of a table definition. Its position in [`TableDef::columns`] is its storage slot.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ColumnDef {
    pub name: String,
    pub ty: ColumnType,
    pub nullable: bool,
    /// Dropped columns keep their slot so older row events still decode; they are not shown.
    #[serde(default)]
    pub dropped: bool,
    /// The `DEFAULT` expression, as SQL text (the SQL layer plans it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default: Option<String>,
    /// Set for identity (and serial) columns.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub identity: Option<Identity>,
    /// What rows written before the column existed hold in it (a column added with a
    /// DEFAULT): a framed put event with one value ([`crate::row::RowEncoder`]). Without it they
    /// hold NULL.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub missing: Option<Vec<u8>>,
    /// A column no query sees: the row id that keys a table declared without a primary key.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub hidden: bool,
}

impl ColumnDef {
    /// A nullable column without a default.
    pub fn new(name: impl Into<String>, ty: ColumnType) -> ColumnDef {
        ColumnDef {
            name: name.into(),
            ty,
            nullable: true,
            dropped: false,
            default: None,
            identity: None,
            missing: None,
            hidden: false,
        }
    }

    /// The value rows that predate this column hold in it.
    pub fn missing_value(&self) -> ValueRef<'_> {
        let decoded = self.missing.as_deref().and_then(|framed| {
            let payload = crate::frame::decode(framed).ok()?;
            match crate::row::decode_event(payload).ok()? {
                crate::row::RowEvent::Put(row) => row.values().next()?.ok(),
                crate::row::RowEvent::Delete => None,
            }
        });
        decoded.unwrap_or(ValueRef::Null)
    }
}

/// An identity column: its values come from a counter ([`crate::Engine::next_identity_values`]).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Identity {
    /// `GENERATED ALWAYS`: a statement may not supply the value.
    pub always: bool,
    /// The name the counter answers to (`nextval('t_id_seq')`), PostgreSQL's `table_column_seq`.
    pub sequence: String,
    /// Declared `serial` (catalogs show a `nextval(…)` default, not an identity).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub serial: bool,
}

/// One version of a table's definition.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TableDef {
    pub id: TableId,
    pub name: String,
    pub columns: Vec<ColumnDef>,
    /// Slots of the primary-key columns, in key order.
    pub primary_key: Vec<usize>,
    /// Secondary indexes; versioned with the table, so a read as of a seq sees the indexes
    /// that existed then.
    #[serde(default)]
    pub indexes: Vec<IndexDef>,
    /// CHECK constraints; versioned with the table like everything else.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub checks: Vec<CheckDef>,
    /// FOREIGN KEY constraints this table's rows must satisfy.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub foreign_keys: Vec<ForeignKeyDef>,
    /// Set for a view: a relation that holds no rows, only a query (and no columns or key of
    /// its own). Views share the tables' namespace and are versioned like them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub view: Option<Box<ViewDef>>,
}

/// A FOREIGN KEY: the values of `columns` (when none is NULL) must be the primary key of a row
/// of `parent`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ForeignKeyDef {
    pub name: String,
    pub columns: Vec<usize>,
    pub parent: TableId,
    pub on_delete: ForeignKeyAction,
}

/// What deleting a referenced row does to the rows that reference it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum ForeignKeyAction {
    /// Refuse the delete (NO ACTION and RESTRICT; DriftDB checks both at once).
    Restrict,
    /// Delete the referencing rows too.
    Cascade,
    /// Set the referencing columns to NULL.
    SetNull,
}

/// What a view stands for: a query's SQL text, and the column names it gives the query's
/// columns (if the view names them).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ViewDef {
    pub query: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub columns: Vec<String>,
    /// The columns the view had when it was defined (named as the view names them), which
    /// catalogs list; empty for views defined before DriftDB recorded them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub output: Vec<ColumnDef>,
}

/// A CHECK constraint: a boolean SQL expression over the row's columns (the SQL layer plans it).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CheckDef {
    pub name: String,
    pub expr: String,
}

/// A secondary index over some of a table's columns. Its entries live in the indexes family
/// ([`crate::index`]).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct IndexDef {
    pub id: IndexId,
    pub name: String,
    /// Slots of the indexed columns, in key order.
    pub columns: Vec<usize>,
    /// No two live rows may hold the same values (rows with a NULL among them never clash, as
    /// in PostgreSQL).
    #[serde(default)]
    pub unique: bool,
    /// Made by a UNIQUE constraint (in CREATE TABLE or ADD CONSTRAINT) rather than by CREATE
    /// UNIQUE INDEX: catalogs list it among the table's constraints too.
    #[serde(default)]
    pub constraint: bool,
}

impl TableDef {
    /// The slots of the columns a reader sees, in order.
    pub fn visible_slots(&self) -> impl Iterator<Item = usize> + '_ {
        self.columns
            .iter()
            .enumerate()
            .filter(|(_, c)| !c.dropped && !c.hidden)
            .map(|(slot, _)| slot)
    }

    /// The slots of the hidden columns (a row id), in order.
    pub fn hidden_slots(&self) -> impl Iterator<Item = usize> + '_ {
        self.columns
            .iter()
            .enumerate()
            .filter(|(_, c)| !c.dropped && c.hidden)
            .map(|(slot, _)| slot)
    }

    /// The slot of the visible column called `name`.
    pub fn slot_of(&self, name: &str) -> Option<usize> {
        self.columns
            .iter()
            .position(|c| !c.dropped && !c.hidden && c.name == name)
    }

    /// The name of the primary-key constraint, as PostgreSQL would name it.
    pub fn primary_key_name(&self) -> String {
        format!("{}_pkey", self.name)
    }
}

/// What a catalog record says about a table from its visible-from seq on.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum CatalogRecord {
    Table(TableDef),
    Dropped,
}

/// Which catalog state a lookup sees.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CatalogPoint {
    /// Everything recorded so far, including DDL that becomes visible at the next seq.
    Latest,
    /// The state right after commit `Seq`.
    At(Seq),
}

/// One table's definitions: `(visible from, definition or None once dropped)`, ascending.
type History = Vec<(Seq, Option<Arc<TableDef>>)>;

/// Every table's history of definitions, in memory.
#[derive(Debug, Default)]
pub struct Catalog {
    tables: BTreeMap<TableId, History>,
}

impl Catalog {
    /// Records a definition (or a drop) visible from `visible_from`, replacing one recorded for
    /// the same seq.
    pub fn apply(&mut self, table: TableId, visible_from: Seq, record: CatalogRecord) {
        let def = match record {
            CatalogRecord::Table(def) => Some(Arc::new(def)),
            CatalogRecord::Dropped => None,
        };
        let history = self.tables.entry(table).or_default();
        match history.binary_search_by_key(&visible_from, |(seq, _)| *seq) {
            Ok(i) => history[i].1 = def,
            Err(i) => history.insert(i, (visible_from, def)),
        }
    }

    /// The definition of `table` at `point`, if it existed then.
    fn def_at(
        history: &[(Seq, Option<Arc<TableDef>>)],
        point: CatalogPoint,
    ) -> Option<&Arc<TableDef>> {
        let entry = match point {
            CatalogPoint::Latest => history.last(),
            CatalogPoint::At(seq) => history.iter().rev().find(|(from, _)| *from <= seq),
        };
        entry.and_then(|(_, def)| def.as_ref())
    }

    /// The table called `name` at `point`.
    ///
    /// As of a seq before the table was created, a table created later reads as its first
    /// definition (and, having no rows that old, as empty): the past of a table is empty, not an
    /// error. A table dropped before `point` is not found.
    pub fn resolve(&self, name: &str, point: CatalogPoint) -> Option<Arc<TableDef>> {
        let existing = self
            .tables
            .values()
            .filter_map(|history| Self::def_at(history, point))
            .find(|def| def.name == name);
        if let Some(def) = existing {
            return Some(def.clone());
        }
        let CatalogPoint::At(seq) = point else {
            return None;
        };
        self.tables
            .values()
            .filter_map(|history| history.first())
            .filter(|(from, def)| *from > seq && def.as_ref().is_some_and(|d| d.name == name))
            .min_by_key(|(from, _)| *from)
            .and_then(|(_, def)| def.clone())
    }

    /// The names of the tables that exist at `point`, sorted.
    pub fn table_names(&self, point: CatalogPoint) -> Vec<String> {
        let mut names: Vec<String> = self
            .tables
            .values()
            .filter_map(|history| Self::def_at(history, point))
            .map(|def| def.name.clone())
            .collect();
        names.sort();
        names
    }

    /// The largest index id ever used.
    pub fn max_index_id(&self) -> Option<IndexId> {
        self.tables
            .values()
            .flatten()
            .filter_map(|(_, def)| def.as_ref())
            .flat_map(|def| def.indexes.iter().map(|i| i.id))
            .max()
    }

    /// The table and index called `index_name` at `point`.
    pub fn resolve_index(
        &self,
        index_name: &str,
        point: CatalogPoint,
    ) -> Option<(Arc<TableDef>, IndexDef)> {
        self.tables
            .values()
            .filter_map(|history| Self::def_at(history, point))
            .find_map(|def| {
                let index = def.indexes.iter().find(|i| i.name == index_name)?;
                Some((def.clone(), index.clone()))
            })
    }

    /// The largest table id ever used.
    pub fn max_table_id(&self) -> Option<TableId> {
        self.tables.keys().next_back().copied()
    }

    /// The latest definition of a table by id, if it has not been dropped.
    pub fn latest_by_id(&self, table: TableId) -> Option<Arc<TableDef>> {
        self.tables
            .get(&table)
            .and_then(|h| Self::def_at(h, CatalogPoint::Latest))
            .cloned()
    }

    /// Every table that exists now.
    pub fn latest_tables(&self) -> impl Iterator<Item = &Arc<TableDef>> {
        self.tables
            .values()
            .filter_map(|history| Self::def_at(history, CatalogPoint::Latest))
    }

    /// Whether `table` was ever defined (ids are never reused, not even after a drop).
    pub fn knows(&self, table: TableId) -> bool {
        self.tables.contains_key(&table)
    }

    /// The most recent definition a table ever had (also for dropped tables).
    pub fn last_definition(&self, table: TableId) -> Option<Arc<TableDef>> {
        self.tables
            .get(&table)?
            .iter()
            .rev()
            .find_map(|(_, def)| def.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn def(id: u64, name: &str, columns: &[&str]) -> CatalogRecord {
        CatalogRecord::Table(TableDef {
            id: TableId(id),
            name: name.into(),
            columns: columns
                .iter()
                .map(|c| ColumnDef::new(*c, ColumnType::Int32))
                .collect(),
            primary_key: vec![0],
            indexes: Vec::new(),
            checks: Vec::new(),
            foreign_keys: Vec::new(),
            view: None,
        })
    }

    fn width(catalog: &Catalog, name: &str, point: CatalogPoint) -> Option<usize> {
        catalog.resolve(name, point).map(|d| d.columns.len())
    }

    #[test]
    fn each_seq_sees_the_definition_visible_then() {
        let mut c = Catalog::default();
        c.apply(TableId(1), Seq(1), def(1, "t", &["a"]));
        c.apply(TableId(1), Seq(4), def(1, "t", &["a", "b"]));
        assert_eq!(width(&c, "t", CatalogPoint::At(Seq(3))), Some(1));
        assert_eq!(width(&c, "t", CatalogPoint::At(Seq(4))), Some(2));
        assert_eq!(width(&c, "t", CatalogPoint::Latest), Some(2));
    }

    #[test]
    fn a_table_reads_as_its_first_definition_before_it_was_created() {
        let mut c = Catalog::default();
        c.apply(TableId(1), Seq(3), def(1, "t", &["a"]));
        assert_eq!(width(&c, "t", CatalogPoint::At(Seq(0))), Some(1));
        assert_eq!(width(&c, "nope", CatalogPoint::At(Seq(0))), None);
    }

    #[test]
    fn a_dropped_table_is_gone_now_but_not_in_the_past() {
        let mut c = Catalog::default();
        c.apply(TableId(1), Seq(1), def(1, "t", &["a"]));
        c.apply(TableId(1), Seq(5), CatalogRecord::Dropped);
        assert_eq!(width(&c, "t", CatalogPoint::Latest), None);
        assert_eq!(width(&c, "t", CatalogPoint::At(Seq(5))), None);
        assert_eq!(width(&c, "t", CatalogPoint::At(Seq(4))), Some(1));
        assert_eq!(c.table_names(CatalogPoint::At(Seq(4))), ["t"]);
        assert!(c.table_names(CatalogPoint::Latest).is_empty());
    }

    #[test]
    fn ddl_between_two_commits_keeps_only_the_last_state() {
        let mut c = Catalog::default();
        c.apply(TableId(1), Seq(2), def(1, "t", &["a"]));
        c.apply(TableId(1), Seq(2), def(1, "t", &["a", "b", "c"]));
        assert_eq!(width(&c, "t", CatalogPoint::At(Seq(2))), Some(3));
    }

    #[test]
    fn a_reused_name_resolves_to_the_table_alive_at_each_point() {
        let mut c = Catalog::default();
        c.apply(TableId(1), Seq(1), def(1, "t", &["a"]));
        c.apply(TableId(1), Seq(3), CatalogRecord::Dropped);
        c.apply(TableId(2), Seq(3), def(2, "t", &["x", "y"]));
        assert_eq!(
            c.resolve("t", CatalogPoint::At(Seq(2))).unwrap().id,
            TableId(1)
        );
        assert_eq!(
            c.resolve("t", CatalogPoint::At(Seq(3))).unwrap().id,
            TableId(2)
        );
        assert_eq!(c.resolve("t", CatalogPoint::Latest).unwrap().id, TableId(2));
    }
}
