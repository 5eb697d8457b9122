//! The connection's session, opened by its first statement and shared by its handlers.

use crate::handler::Shared;
use crate::handler::responses::ready_status;
use driftdb_sql::Session;
use pgwire::api::{ClientInfo, METADATA_USER};
use pgwire::messages::response::TransactionStatus as PgTransactionStatus;
use std::sync::Arc;

/// The connection's session, opened by its first statement.
pub(crate) struct SessionSlot {
    pub(crate) shared: Arc<Shared>,
    pub(crate) session: tokio::sync::Mutex<Option<Session>>,
    /// The reported settings' values the client was last told (ParameterStatus).
    pub(crate) reported: std::sync::Mutex<Vec<(String, String)>>,
}

impl SessionSlot {
    /// Locks the session, opening it for the connection's user first if need be.
    pub(crate) async fn lock<C: ClientInfo>(&self, client: &C) -> SessionGuard<'_> {
        let mut guard = self.session.lock().await;
        if guard.is_none() {
            let user = client
                .metadata()
                .get(METADATA_USER)
                .cloned()
                .unwrap_or_default();
            let mut session = self.shared.db.session(&user);
            for (name, value) in client.metadata() {
                // Startup validated what must be valid (the client encoding); a setting the
                // session refuses keeps its default, as a bad `options` setting would not.
                let _ = session.apply_startup_parameter(name, value);
            }
            // Startup told the client these (pgwire's server parameters and its own).
            session.changed_reported_settings(&mut self.reported_values());
            *guard = Some(session);
        }
        SessionGuard(guard)
    }

    pub(crate) fn reported_values(&self) -> std::sync::MutexGuard<'_, Vec<(String, String)>> {
        self.reported
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The reported settings whose values changed since the client was last told, now told.
    pub(crate) async fn changed_settings(&self) -> Vec<(String, String)> {
        match self.session.lock().await.as_ref() {
            Some(session) => session.changed_reported_settings(&mut self.reported_values()),
            None => Vec::new(),
        }
    }

    /// The session's `statement_timeout`.
    pub(crate) async fn statement_timeout(&self) -> Option<std::time::Duration> {
        self.session
            .lock()
            .await
            .as_ref()
            .and_then(Session::statement_timeout)
    }

    /// Discards what an interrupted statement left behind.
    pub(crate) async fn abort_statement(&self) {
        if let Some(session) = self.session.lock().await.as_mut() {
            session.abort_statement();
        }
    }

    /// The ReadyForQuery status of the session's transaction.
    pub(crate) async fn ready_status(&self) -> PgTransactionStatus {
        match self.session.lock().await.as_ref() {
            Some(session) => ready_status(session.transaction_status()),
            None => PgTransactionStatus::Idle,
        }
    }
}

pub(crate) struct SessionGuard<'a>(tokio::sync::MutexGuard<'a, Option<Session>>);

impl std::ops::Deref for SessionGuard<'_> {
    type Target = Session;

    fn deref(&self) -> &Session {
        self.0
            .as_ref()
            .expect("the slot holds a session once locked")
    }
}

impl std::ops::DerefMut for SessionGuard<'_> {
    fn deref_mut(&mut self) -> &mut Session {
        self.0
            .as_mut()
            .expect("the slot holds a session once locked")
    }
}
