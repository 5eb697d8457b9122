//! DataFusion's view of the engine's catalog: one catalog `driftdb`, one schema `public`.
//!
//! Tables are looked up in the engine's versioned catalog on every statement, so DDL from any
//! session is visible at once and nothing is ever registered; the session's own uncommitted
//! definitions come first ([`crate::storage::transaction`]). Unqualified table references read the
//! latest schema at the statement's snapshot seq.

use crate::common::names::SCHEMA_NAME;
use crate::pgcompat::information_schema::{INFORMATION_SCHEMA, InformationSchema};
use crate::pgcompat::objects::PG_CATALOG;
use crate::pgcompat::pg_catalog::{self, PgCatalogSchema};
use crate::storage::scope::SessionScope;
use crate::storage::system::{COMMITS_TABLE, CommitsTable};
use crate::storage::table::DriftTable;
use async_trait::async_trait;
use datafusion::catalog::{CatalogProvider, SchemaProvider, TableProvider};
use datafusion::error::Result;
use driftdb_pgtypes::error::Error;
use std::sync::Arc;

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
            None => pg_catalog::table(&self.scope, name)?,
        })
    }

    fn table_exist(&self, name: &str) -> bool {
        name == COMMITS_TABLE
            || self.scope.resolve_current(name).is_some()
            || pg_catalog::is_catalog(name)
    }
}
