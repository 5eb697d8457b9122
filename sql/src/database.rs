//! The shared database handle: one engine, any number of sessions.

use crate::error::Result;
use crate::session::Session;
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
}

impl Database {
    /// Opens (or creates) the database in `path`.
    pub fn open(path: impl AsRef<Path>) -> Result<Arc<Database>> {
        let engine = Engine::open(path, EngineOptions::default())?;
        Ok(Arc::new(Database {
            engine: Arc::new(engine),
            retry_lock: tokio::sync::Mutex::new(()),
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
