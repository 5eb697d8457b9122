//! DataFusion's view of the engine's catalog: one catalog `driftdb`, one schema `public`.
//!
//! Tables are looked up in the engine's versioned catalog on every statement, so DDL from any
//! session is visible at once and nothing is ever registered; the session's own uncommitted
//! definitions come first ([`crate::transaction`]). Unqualified table references read the
//! latest schema at the statement's snapshot seq.

use crate::database::Database;
use crate::error::Error;
use crate::system::{COMMITS_TABLE, CommitsTable};
use crate::table::DriftTable;
use crate::transaction::Transaction;
use async_trait::async_trait;
use datafusion::catalog::{CatalogProvider, SchemaProvider, TableProvider};
use datafusion::error::Result;
use driftdb_engine::Seq;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

/// The catalog name clients see (`current_database()`).
pub const CATALOG_NAME: &str = "driftdb";
/// The one schema.
pub const SCHEMA_NAME: &str = "public";

/// What every provider and function of one session shares: the database, the user, the seq
/// the session's current statement reads at (fixed when the statement starts) and the open
/// transaction.
#[derive(Debug)]
pub struct SessionScope {
    pub db: Arc<Database>,
    pub user: String,
    snapshot: AtomicU64,
    pub(crate) transaction: Mutex<Option<Transaction>>,
}

impl SessionScope {
    pub fn new(db: Arc<Database>, user: &str) -> SessionScope {
        SessionScope {
            db,
            user: user.to_string(),
            snapshot: AtomicU64::new(0),
            transaction: Mutex::new(None),
        }
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

/// The `driftdb` catalog.
#[derive(Debug)]
pub struct DriftCatalog {
    schema: Arc<DriftSchema>,
}

impl DriftCatalog {
    pub fn new(scope: Arc<SessionScope>) -> DriftCatalog {
        DriftCatalog {
            schema: Arc::new(DriftSchema { scope }),
        }
    }
}

impl CatalogProvider for DriftCatalog {
    fn schema_names(&self) -> Vec<String> {
        vec![SCHEMA_NAME.to_string()]
    }

    fn schema(&self, name: &str) -> Option<Arc<dyn SchemaProvider>> {
        (name == SCHEMA_NAME).then(|| self.schema.clone() as Arc<dyn SchemaProvider>)
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
            None => None,
        })
    }

    fn table_exist(&self, name: &str) -> bool {
        name == COMMITS_TABLE || self.scope.resolve_current(name).is_some()
    }
}
