//! Interrupting a running statement: cancel requests (which arrive on a connection of their own,
//! naming the target by its pid and secret key) and `statement_timeout`.
//!
//! pgwire's own cancellation only stops a statement until its first row; here the whole
//! statement, rows included, runs as one future that an interrupt drops. Whatever the statement
//! had staged is then discarded with its transaction (an explicit one is marked failed), and the
//! client gets SQLSTATE 57014, as from PostgreSQL.

use async_trait::async_trait;
use bytes::Bytes;
use futures::future::{Either, select};
use pgwire::api::cancel::CancelHandler;
use pgwire::messages::cancel::CancelRequest;
use pgwire::messages::startup::SecretKey;
use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;
use tokio::sync::Notify;

/// What interrupted a statement.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Interrupt {
    Cancelled,
    TimedOut,
}

impl Interrupt {
    /// PostgreSQL's message for it (SQLSTATE 57014 either way).
    pub fn message(self) -> &'static str {
        match self {
            Interrupt::Cancelled => "canceling statement due to user request",
            Interrupt::TimedOut => "canceling statement due to statement timeout",
        }
    }
}

type Key = (i32, Bytes);

fn key(pid: i32, secret: &SecretKey) -> Key {
    (pid, secret.to_bytes())
}

/// Every connection that can be cancelled, by pid and secret key.
#[derive(Debug, Default)]
pub struct Cancels {
    connections: Mutex<HashMap<Key, Weak<Canceller>>>,
}

impl Cancels {
    /// Registers a connection; it stays cancellable while the returned canceller lives.
    pub fn register(self: &Arc<Self>, pid: i32, secret: &SecretKey) -> Arc<Canceller> {
        let key = key(pid, secret);
        let canceller = Arc::new(Canceller {
            notify: Notify::new(),
            key: key.clone(),
            cancels: Arc::downgrade(self),
        });
        self.lock().insert(key, Arc::downgrade(&canceller));
        canceller
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<Key, Weak<Canceller>>> {
        self.connections
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// One connection's cancel signal.
#[derive(Debug)]
pub struct Canceller {
    notify: Notify,
    key: Key,
    cancels: Weak<Cancels>,
}

impl Drop for Canceller {
    fn drop(&mut self) {
        if let Some(cancels) = self.cancels.upgrade() {
            cancels.lock().remove(&self.key);
        }
    }
}

impl Canceller {
    /// Runs `work`, unless a cancel request or `timeout` comes first (then `work` is dropped).
    /// A cancel request that arrives while no statement runs does nothing, as in PostgreSQL.
    pub async fn run<F: Future>(
        &self,
        timeout: Option<Duration>,
        work: F,
    ) -> Result<F::Output, Interrupt> {
        // Registered before the work starts, so a cancel request cannot slip in unseen.
        let mut cancelled = Box::pin(self.notify.notified());
        cancelled.as_mut().enable();
        let deadline = async {
            match timeout {
                Some(timeout) => {
                    // Unconstrained: a statement that used up the task's cooperative budget
                    // would otherwise keep the timer from ever seeing its deadline.
                    tokio::task::coop::unconstrained(tokio::time::sleep(timeout)).await;
                    Interrupt::TimedOut
                }
                None => std::future::pending().await,
            }
        };
        let interrupt = async {
            match select(cancelled, Box::pin(deadline)).await {
                Either::Left(_) => Interrupt::Cancelled,
                Either::Right((interrupt, _)) => interrupt,
            }
        };
        match select(Box::pin(interrupt), Box::pin(work)).await {
            Either::Left((interrupt, _)) => Err(interrupt),
            Either::Right((output, _)) => Ok(output),
        }
    }
}

/// Answers cancel requests by signalling the connection they name.
#[derive(Debug)]
pub struct CancelRequests {
    pub cancels: Arc<Cancels>,
}

#[async_trait]
impl CancelHandler for CancelRequests {
    async fn on_cancel_request(&self, request: CancelRequest) {
        let target = self
            .cancels
            .lock()
            .get(&key(request.pid, &request.secret_key))
            .and_then(Weak::upgrade);
        if let Some(canceller) = target {
            canceller.notify.notify_waiters();
        }
    }
}
