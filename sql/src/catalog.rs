//! DataFusion's view of the engine's catalog: one catalog `driftdb`, one schema `public`.
//!
//! Tables are looked up in the engine's versioned catalog on every statement, so DDL from any
//! session is visible at once and nothing is ever registered; the session's own uncommitted
//! definitions come first ([`crate::transaction`]). Unqualified table references read the
//! latest schema at the statement's snapshot seq.

use crate::database::Database;
use crate::infoschema::{INFORMATION_SCHEMA, InformationSchema};
use crate::pgcatalog::{self, PG_CATALOG, PgCatalogSchema};
use crate::settings::Settings;
use crate::system::{COMMITS_TABLE, CommitsTable};
use crate::table::DriftTable;
use crate::transaction::Transaction;
use async_trait::async_trait;
use datafusion::catalog::{CatalogProvider, SchemaProvider, TableProvider};
use datafusion::error::Result;
use driftdb_engine::{Seq, TableId};
use driftdb_pgtypes::error::Error;
use driftdb_pgtypes::error::Notice;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

/// The catalog name clients see (`current_database()`).
pub const CATALOG_NAME: &str = "driftdb";
/// The one schema.
pub const SCHEMA_NAME: &str = "public";

/// Whether the qualifiers of a table name (none, a schema, or a catalog and a schema) name
/// DriftDB's own schema.
pub fn in_own_schema(qualifiers: &[&str]) -> bool {
    match qualifiers {
        [] => true,
        [schema] => *schema == SCHEMA_NAME,
        [catalog, schema] => *catalog == CATALOG_NAME && *schema == SCHEMA_NAME,
        _ => false,
    }
}

/// What every provider and function of one session shares: the database, the user, the seq
/// the session's current statement reads at (fixed when the statement starts) and the open
/// transaction.
#[derive(Debug)]
pub struct SessionScope {
    pub db: Arc<Database>,
    pub user: String,
    snapshot: AtomicU64,
    pub(crate) transaction: Mutex<Option<Transaction>>,
    /// The table (id + 1; 0 for none) whose hidden row id the current UPDATE or DELETE reads.
    exposed: AtomicU64,
    /// Run-time settings (SET, SHOW, `current_setting()`).
    settings: Mutex<Settings>,
    /// What the statement running now has to tell the client besides its result.
    notices: Mutex<Vec<Notice>>,
}

impl SessionScope {
    pub fn new(db: Arc<Database>, user: &str) -> SessionScope {
        SessionScope {
            db,
            user: user.to_string(),
            snapshot: AtomicU64::new(0),
            transaction: Mutex::new(None),
            exposed: AtomicU64::new(0),
            settings: Mutex::new(Settings::default()),
            notices: Mutex::new(Vec::new()),
        }
    }

    /// Tells the client something the statement did not fail over (PostgreSQL's NOTICE or
    /// WARNING), sent before the statement's result.
    pub(crate) fn notice(&self, notice: Notice) {
        self.notices
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .push(notice);
    }

    /// The notices raised since the last call.
    pub(crate) fn take_notices(&self) -> Vec<Notice> {
        std::mem::take(
            &mut *self
                .notices
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner()),
        )
    }

    /// The session's run-time settings.
    pub fn settings(&self) -> MutexGuard<'_, Settings> {
        self.settings
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Shows `table`'s hidden row id to reads while the guard lives (UPDATE and DELETE find
    /// the rows they change by it).
    pub(crate) fn expose_hidden(&self, table: TableId) -> ExposedHidden<'_> {
        let previous = self.exposed.swap(table.0 + 1, Ordering::AcqRel);
        ExposedHidden {
            scope: self,
            previous,
        }
    }

    /// Whether reads of `table` show its hidden row id now.
    pub(crate) fn exposes_hidden(&self, table: TableId) -> bool {
        self.exposed.load(Ordering::Acquire) == table.0 + 1
    }

    /// Pins the seq the next statement reads at.
    pub fn set_snapshot(&self, seq: Seq) {
        self.snapshot.store(seq.0, Ordering::Release);
    }

    /// The seq the current statement reads at.
    pub fn snapshot(&self) -> Seq {
        Seq(self.snapshot.load(Ordering::Acquire))
    }
}

/// Hides the row id again (or shows the one shown before) when dropped.
pub(crate) struct ExposedHidden<'s> {
    scope: &'s SessionScope,
    previous: u64,
}

impl Drop for ExposedHidden<'_> {
    fn drop(&mut self) {
        self.scope.exposed.store(self.previous, Ordering::Release);
    }
}

/// The `driftdb` catalog: `public`, `pg_catalog` and `information_schema`.
#[derive(Debug)]
pub struct DriftCatalog {
    schema: Arc<DriftSchema>,
    pg_catalog: Arc<PgCatalogSchema>,
    information_schema: Arc<InformationSchema>,
}

impl DriftCatalog {
    pub fn new(scope: Arc<SessionScope>) -> DriftCatalog {
        DriftCatalog {
            pg_catalog: Arc::new(PgCatalogSchema {
                scope: scope.clone(),
            }),
            information_schema: Arc::new(InformationSchema {
                scope: scope.clone(),
            }),
            schema: Arc::new(DriftSchema { scope }),
        }
    }
}

impl CatalogProvider for DriftCatalog {
    fn schema_names(&self) -> Vec<String> {
        vec![
            SCHEMA_NAME.to_string(),
            PG_CATALOG.to_string(),
            INFORMATION_SCHEMA.to_string(),
        ]
    }

    fn schema(&self, name: &str) -> Option<Arc<dyn SchemaProvider>> {
        match name {
            SCHEMA_NAME => Some(self.schema.clone() as Arc<dyn SchemaProvider>),
            PG_CATALOG => Some(self.pg_catalog.clone() as Arc<dyn SchemaProvider>),
            INFORMATION_SCHEMA => Some(self.information_schema.clone() as Arc<dyn SchemaProvider>),
            _ => None,
        }
    }
}

/// The `public` schema: every table that exists now.
#[derive(Debug)]
pub struct DriftSchema {
    scope: Arc<SessionScope>,
}

#[async_trait]
impl SchemaProvider for DriftSchema {
    fn table_names(&self) -> Vec<String> {
        self.scope.current_table_names()
    }

    async fn table(&self, name: &str) -> Result<Option<Arc<dyn TableProvider>>> {
        Ok(match self.scope.resolve_current(name) {
            // Views are expanded before planning; a view reached here is written to.
            Some(def) if def.view.is_some() => None,
            Some(def) => Some(Arc::new(
                DriftTable::current(self.scope.clone(), def).map_err(Error::into_datafusion)?,
            ) as _),
            None if name == COMMITS_TABLE => {
                Some(Arc::new(CommitsTable::new(self.scope.clone())) as _)
            }
            // `pg_catalog` comes first in PostgreSQL's search path; here only where no table
            // of the name exists.
            None => pgcatalog::table(&self.scope, name)?,
        })
    }

    fn table_exist(&self, name: &str) -> bool {
        name == COMMITS_TABLE
            || self.scope.resolve_current(name).is_some()
            || pgcatalog::is_catalog(name)
    }
}
