//! The shared database handle: one engine, any number of sessions.

use crate::error::Result;
use crate::session::Session;
use crate::types::PgTypePlanner;
use datafusion::common::config::Dialect;
use datafusion::execution::session_state::{SessionState, SessionStateBuilder};
use datafusion::prelude::SessionConfig;
use driftdb_engine::{Engine, EngineOptions, Seq};
use std::path::Path;
use std::sync::Arc;

/// An open DriftDB database, shared by every session.
#[derive(Debug)]
pub struct Database {
    pub(crate) engine: Arc<Engine>,
    /// Taken by an autocommit write that lost a conflict, for its retries: writes that keep
    /// colliding then take turns instead of all retrying at once.
    pub(crate) retry_lock: tokio::sync::Mutex<()>,
    /// Plans stored expressions (column defaults) outside any session.
    pub(crate) expressions: SessionState,
}

/// A planner for expressions that stand alone: PostgreSQL's dialect and types, the built-in
/// functions.
fn expression_planner() -> SessionState {
    let mut config = SessionConfig::new();
    let options = config.options_mut();
    options.sql_parser.dialect = Dialect::PostgreSQL;
    options.sql_parser.map_string_types_to_utf8view = false;
    options.sql_parser.parse_float_as_decimal = true;
    SessionStateBuilder::new()
        .with_config(config)
        .with_default_features()
        .with_type_planner(Arc::new(PgTypePlanner))
        .build()
}

impl Database {
    /// Opens (or creates) the database in `path`.
    pub fn open(path: impl AsRef<Path>) -> Result<Arc<Database>> {
        let engine = Engine::open(path, EngineOptions::default())?;
        Ok(Arc::new(Database {
            engine: Arc::new(engine),
            retry_lock: tokio::sync::Mutex::new(()),
            expressions: expression_planner(),
        }))
    }

    /// A new session for `user`.
    pub fn session(self: &Arc<Self>, user: &str) -> Session {
        Session::new(self.clone(), user)
    }

    /// The seq of the latest commit.
    pub fn latest_seq(&self) -> Seq {
        self.engine.latest_seq()
    }
}
