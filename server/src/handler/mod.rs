//! The pgwire handlers of one connection: startup (trust on loopback, database `driftdb`), and
//! the simple and extended query protocols over the connection's [`Session`].

mod copy;
mod extended;
mod responses;
mod session_slot;
mod simple;
mod startup;

use crate::handler::extended::Parser;
use crate::handler::session_slot::SessionSlot;
use crate::handler::startup::Startup;
use crate::interrupt::{CancelRequests, Cancels};
use driftdb_sql::{Database, IdleTimeout, Session};
use pgwire::api::auth::StartupHandler;
use pgwire::api::cancel::CancelHandler;
use pgwire::api::copy::CopyHandler;
use pgwire::api::query::{ExtendedQueryHandler, SimpleQueryHandler};
use pgwire::api::{PgWireServerHandlers, RandomPidSecretKeyGenerator};
use pgwire::error::{ErrorInfo, PgWireError};
use std::sync::Arc;

/// What every connection shares.
pub struct Shared {
    pub db: Arc<Database>,
    pub pids: RandomPidSecretKeyGenerator,
    /// The connections cancel requests can reach.
    pub cancels: Arc<Cancels>,
}

/// The handlers of one connection.
pub struct Connection {
    startup: Arc<Startup>,
    queries: Arc<Queries>,
    cancels: Arc<CancelRequests>,
}

impl Connection {
    pub fn new(shared: Arc<Shared>) -> Connection {
        let session = Arc::new(SessionSlot {
            shared: shared.clone(),
            session: tokio::sync::Mutex::new(None),
            reported: std::sync::Mutex::new(Vec::new()),
        });
        Connection {
            cancels: Arc::new(CancelRequests {
                cancels: shared.cancels.clone(),
            }),
            startup: Arc::new(Startup { shared }),
            queries: Arc::new(Queries {
                parser: Arc::new(Parser {
                    session: session.clone(),
                }),
                session,
                statement_names: Default::default(),
            }),
        }
    }
}

impl Connection {
    /// The query protocols (simple, extended, COPY) of this connection.
    pub fn queries(&self) -> Arc<Queries> {
        self.queries.clone()
    }

    /// How long the session may wait for its client's next command, if not forever.
    pub async fn idle_timeout(&self) -> Option<(IdleTimeout, std::time::Duration)> {
        self.queries
            .session
            .session
            .lock()
            .await
            .as_ref()
            .and_then(Session::idle_timeout)
    }

    /// After a panic while serving a message: whatever the statement had staged is discarded
    /// as for an interrupted statement (an explicit transaction block fails), and a COPY
    /// waiting for data is forgotten.
    pub async fn recover_from_panic(&self) {
        self.queries.session.abort_statement().await;
    }
}

impl PgWireServerHandlers for Connection {
    fn simple_query_handler(&self) -> Arc<impl SimpleQueryHandler> {
        self.queries.clone()
    }

    fn extended_query_handler(&self) -> Arc<impl ExtendedQueryHandler> {
        self.queries.clone()
    }

    fn copy_handler(&self) -> Arc<impl CopyHandler> {
        self.queries.clone()
    }

    fn startup_handler(&self) -> Arc<impl StartupHandler> {
        self.startup.clone()
    }

    fn cancel_handler(&self) -> Arc<impl CancelHandler> {
        self.cancels.clone()
    }
}

pub(crate) fn fatal(code: &str, message: String) -> PgWireError {
    PgWireError::UserError(Box::new(ErrorInfo::new(
        "FATAL".into(),
        code.into(),
        message,
    )))
}

/// The query protocols over the connection's session.
pub struct Queries {
    session: Arc<SessionSlot>,
    parser: Arc<Parser>,
    /// The names of the statements Parse stored (for `DEALLOCATE ALL`).
    statement_names: std::sync::Mutex<std::collections::BTreeSet<String>>,
}
