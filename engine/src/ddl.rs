//! Definition changes one at a time (CREATE/ALTER/DROP TABLE, CREATE/DROP INDEX), each its own
//! commit through [`Engine::commit_transaction`]. A SQL transaction instead collects its changes
//! in [`crate::Transaction::tables`] and commits them with its rows.

use crate::Engine;
use crate::catalog::{CatalogPoint, ColumnDef, IndexDef, TableDef};
use crate::error::{Error, Result};
use crate::ids::{IndexId, TableId};
use crate::transaction::Transaction;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::Ordering;

impl Engine {
    /// A table id no other table has or will get. Ids a transaction reserves and never commits
    /// are simply not used.
    pub fn reserve_table_id(&self) -> TableId {
        TableId(self.next_table_id.fetch_add(1, Ordering::AcqRel))
    }

    /// An index id no other index has or will get.
    pub fn reserve_index_id(&self) -> IndexId {
        IndexId(self.next_index_id.fetch_add(1, Ordering::AcqRel))
    }

    /// Commits one definition change planned at catalog version `planned_at`.
    fn redefine(&self, planned_at: u64, table: TableId, def: Option<TableDef>) -> Result<()> {
        let txn = Transaction {
            catalog_version: planned_at,
            tables: BTreeMap::from([(table, def)]),
            ..Transaction::default()
        };
        self.commit_transaction("", &txn).map(|_| ())
    }

    /// Creates a table; it is visible from the next seq on.
    pub fn create_table(
        &self,
        name: &str,
        columns: Vec<ColumnDef>,
        primary_key: Vec<usize>,
    ) -> Result<Arc<TableDef>> {
        let id = self.reserve_table_id();
        let def = TableDef {
            id,
            name: name.to_string(),
            columns,
            primary_key,
            indexes: Vec::new(),
            checks: Vec::new(),
            foreign_keys: Vec::new(),
            view: None,
        };
        self.redefine(self.catalog_version(), id, Some(def))?;
        Ok(self.state().catalog.latest_by_id(id).expect("just created"))
    }

    /// Replaces a table's definition (same id, every column slot kept) from the next seq on.
    pub fn alter_table(&self, def: TableDef) -> Result<()> {
        let planned_at = self.catalog_version();
        if self.state().catalog.latest_by_id(def.id).is_none() {
            return Err(Error::NoSuchTable(def.name));
        }
        self.redefine(planned_at, def.id, Some(def))
    }

    /// Drops the table called `name` from the next seq on; its past stays readable.
    pub fn drop_table(&self, name: &str) -> Result<()> {
        let planned_at = self.catalog_version();
        let def = self.existing_table(name)?;
        self.redefine(planned_at, def.id, None)
    }

    /// Creates an index over `columns` (slots) of `table`, filled from the rows it holds now; it
    /// is visible from the next seq on.
    pub fn create_index(
        &self,
        table: &str,
        name: &str,
        columns: Vec<usize>,
        unique: bool,
    ) -> Result<IndexDef> {
        let planned_at = self.catalog_version();
        let def = self.existing_table(table)?;
        let index = IndexDef {
            id: self.reserve_index_id(),
            name: name.to_string(),
            columns,
            unique,
            constraint: false,
        };
        let mut new_def = (*def).clone();
        new_def.indexes.push(index.clone());
        self.redefine(planned_at, def.id, Some(new_def))?;
        Ok(index)
    }

    /// Drops the index called `name` from the next seq on; reads before that still use it.
    pub fn drop_index(&self, name: &str) -> Result<()> {
        let planned_at = self.catalog_version();
        let Some((def, index)) = self.resolve_index(name, CatalogPoint::Latest) else {
            return Err(Error::NoSuchIndex(name.to_string()));
        };
        let mut new_def = (*def).clone();
        new_def.indexes.retain(|i| i.id != index.id);
        self.redefine(planned_at, def.id, Some(new_def))
    }
}
