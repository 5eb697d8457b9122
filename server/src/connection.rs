//! One client connection from accept to close: DriftDB's own message loop around pgwire's
//! handlers, so that nothing one client does can take the server down or hold it forever.
//!
//! - **Panics are one error.** A panic anywhere while a message is handled fails that message
//!   with `XX000`, as any error would (an open transaction block fails with it), and is logged
//!   with the statement; the connection and every other one go on.
//! - **Connections are counted.** Past `--max-connections`, a new client is told FATAL `53300`
//!   ("sorry, too many clients already") once its startup packet arrives; cancel requests, which
//!   come on connections of their own, are still served.
//! - **Waiting is bounded.** A client that does not finish its startup within the
//!   authentication timeout is dropped; a session waiting for its client's next command longer
//!   than `idle_session_timeout` or `idle_in_transaction_session_timeout` ends with FATAL
//!   `57P05` or `25P03`, as in PostgreSQL.
//! - **A malformed message ends the connection** with FATAL `08P01`: after one, the byte stream
//!   cannot be trusted to be at a message boundary.

use crate::corked::Corked;
use crate::handler::Connection;
use crate::sqlstate::{
    IDLE_IN_TRANSACTION_SESSION_TIMEOUT, IDLE_SESSION_TIMEOUT, INTERNAL_ERROR, OUT_OF_MEMORY,
    PROTOCOL_VIOLATION, TOO_MANY_CONNECTIONS,
};
use driftdb_sql::{IdleTimeout, Prepared};
use futures::{FutureExt, SinkExt, StreamExt};
use pgwire::api::{ClientInfo, PgWireConnectionState, PgWireServerHandlers};
use pgwire::error::{ErrorInfo, PgWireError};
use pgwire::messages::{PgWireBackendMessage, PgWireFrontendMessage};
use pgwire::tokio::server::{
    MaybeTls, PgWireMessageServerCodec, negotiate_tls, process_error, process_message,
};
use std::any::Any;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;
use tokio::net::TcpStream;
use tokio_util::codec::{Framed, FramedParts};

type Socket = Framed<Corked<MaybeTls>, PgWireMessageServerCodec<Arc<Prepared>>>;

/// How many client connections are open, against the most the server takes.
#[derive(Debug)]
pub struct ConnectionCount {
    open: AtomicUsize,
    max: usize,
}

impl ConnectionCount {
    pub fn new(max: usize) -> Arc<ConnectionCount> {
        Arc::new(ConnectionCount {
            open: AtomicUsize::new(0),
            max,
        })
    }

    /// Counts a new connection for as long as the returned slot lives; the slot says whether
    /// the connection is one too many.
    pub fn open(self: &Arc<Self>) -> ConnectionSlot {
        let before = self.open.fetch_add(1, Ordering::AcqRel);
        ConnectionSlot {
            count: self.clone(),
            over_limit: before >= self.max,
        }
    }

    /// Connections open right now (counted from accept to close).
    pub fn open_now(&self) -> usize {
        self.open.load(Ordering::Acquire)
    }
}

/// One counted connection.
#[derive(Debug)]
pub struct ConnectionSlot {
    count: Arc<ConnectionCount>,
    over_limit: bool,
}

impl Drop for ConnectionSlot {
    fn drop(&mut self) {
        self.count.open.fetch_sub(1, Ordering::AcqRel);
    }
}

/// What bounds a connection's waiting.
#[derive(Clone, Copy, Debug)]
pub struct ConnectionLimits {
    /// How long a client has to finish its startup (PostgreSQL's `authentication_timeout`).
    pub authentication_timeout: Duration,
}

/// Serves one client until it leaves, its session times out, or its stream breaks.
pub async fn serve(
    tcp: TcpStream,
    connection: Arc<Connection>,
    slot: ConnectionSlot,
    limits: ConnectionLimits,
) {
    let startup_deadline = tokio::time::sleep(limits.authentication_timeout);
    tokio::pin!(startup_deadline);
    let negotiated = tokio::select! {
        () = &mut startup_deadline => return,
        negotiated = negotiate_tls::<Arc<Prepared>>(tcp, None) => negotiated,
    };
    // No socket: a client that asked for TLS directly, which this server does not offer.
    let Ok(Some(socket)) = negotiated else {
        return;
    };
    let mut socket = corked(socket);
    let mut waiting_for_command = false;
    loop {
        let next = if in_startup(&socket) {
            tokio::select! {
                () = &mut startup_deadline => return,
                next = socket.next() => next,
            }
        } else if waiting_for_command {
            match connection.idle_timeout().await {
                Some((which, timeout)) => tokio::select! {
                    () = tokio::time::sleep(timeout) => {
                        let _ = end_idle_session(&mut socket, which).await;
                        return;
                    }
                    next = socket.next() => next,
                },
                None => socket.next().await,
            }
        } else {
            socket.next().await
        };
        let message = match next {
            None => return,
            Some(Ok(message)) => bounded(message),
            Some(Err(e)) => {
                let _ = send_fatal(&mut socket, PROTOCOL_VIOLATION, malformed(e)).await;
                return;
            }
        };
        match &message {
            PgWireFrontendMessage::Terminate(_) => return,
            PgWireFrontendMessage::Startup(_) if slot.over_limit => {
                let _ = send_fatal(
                    &mut socket,
                    TOO_MANY_CONNECTIONS,
                    "sorry, too many clients already".into(),
                )
                .await;
                return;
            }
            _ => {}
        }
        let is_extended_query = match socket.state() {
            PgWireConnectionState::CopyInProgress(extended) => extended,
            _ => message.is_extended_query(),
        };
        let is_cancel_request = matches!(message, PgWireFrontendMessage::CancelRequest(_));
        let ends_command = matches!(
            message,
            PgWireFrontendMessage::Startup(_)
                | PgWireFrontendMessage::Query(_)
                | PgWireFrontendMessage::Sync(_)
                | PgWireFrontendMessage::CopyDone(_)
                | PgWireFrontendMessage::CopyFail(_)
        );
        // The extended protocol's messages answer at the next Sync or Flush, in one write.
        let holds_output = matches!(
            message,
            PgWireFrontendMessage::Parse(_)
                | PgWireFrontendMessage::Bind(_)
                | PgWireFrontendMessage::Describe(_)
                | PgWireFrontendMessage::Execute(_)
                | PgWireFrontendMessage::Close(_)
        );
        let statement = describe(&socket, &message);
        socket.get_mut().cork();
        let handled = AssertUnwindSafe(process_message(
            message,
            &mut socket,
            connection.startup_handler(),
            connection.queries(),
            connection.queries(),
            connection.queries(),
            connection.cancel_handler(),
        ))
        .catch_unwind()
        .await;
        let handled = match handled {
            Ok(handled) => handled,
            Err(panic) => {
                let message = panic_message(panic.as_ref());
                eprintln!(
                    "driftdb-server: internal error: a panic ({message}) while serving {statement}"
                );
                connection.recover_from_panic().await;
                Err(internal_error(&message))
            }
        };
        if let Err(e) = handled {
            let fatal = e.is_fatal();
            if process_error(&mut socket, e, is_extended_query)
                .await
                .is_err()
                || fatal
            {
                return;
            }
        }
        if is_cancel_request {
            return;
        }
        // A client waiting for CopyInResponse sends its data only once it has it.
        let copying = matches!(socket.state(), PgWireConnectionState::CopyInProgress(_));
        if !holds_output || copying {
            socket.get_mut().uncork();
            if socket.flush().await.is_err() {
                return;
            }
        }
        waiting_for_command =
            ends_command && matches!(socket.state(), PgWireConnectionState::ReadyForQuery);
    }
}

/// Above this, an Execute's row limit is read as "all rows" (see [`bounded`]).
const MAX_EXECUTE_ROWS: i32 = 1 << 20;

/// pgwire reserves room for an Execute's row limit before fetching (`Vec::with_capacity`), so
/// a limit of 2^31 - 1 rows would have it reserve 80 GiB, and the failed allocation aborts the
/// process. A limit above a million rows is read as no limit (as zero or a negative one is in
/// PostgreSQL): the answer differs only for a result larger than the limit, which is not
/// suspended at it.
fn bounded(message: PgWireFrontendMessage) -> PgWireFrontendMessage {
    match message {
        PgWireFrontendMessage::Execute(mut execute)
            if execute.max_rows <= 0 || execute.max_rows > MAX_EXECUTE_ROWS =>
        {
            execute.max_rows = 0;
            PgWireFrontendMessage::Execute(execute)
        }
        other => other,
    }
}

fn in_startup(socket: &Socket) -> bool {
    matches!(
        socket.state(),
        PgWireConnectionState::AwaitingStartup | PgWireConnectionState::AuthenticationInProgress
    )
}

/// What a message asks, for the log: its SQL where it carries or names some.
fn describe(socket: &Socket, message: &PgWireFrontendMessage) -> String {
    use pgwire::api::ClientPortalStore;
    use pgwire::api::store::{Entry, PortalStore};
    match message {
        PgWireFrontendMessage::Query(query) => format!("query {:?}", query.query),
        PgWireFrontendMessage::Parse(parse) => format!("Parse of {:?}", parse.query),
        PgWireFrontendMessage::Execute(execute) => {
            let name = execute.name.as_deref().unwrap_or_default();
            match socket.portal_store().get_portal(name) {
                Some(Entry::Value(portal)) => {
                    format!("Execute of {:?}", portal.statement.statement.sql())
                }
                _ => format!("Execute of portal {name:?}"),
            }
        }
        other => format!("a {} message", message_name(other)),
    }
}

fn message_name(message: &PgWireFrontendMessage) -> &'static str {
    match message {
        PgWireFrontendMessage::SslNegotiation(_) => "SSL negotiation",
        PgWireFrontendMessage::Startup(_) => "Startup",
        PgWireFrontendMessage::CancelRequest(_) => "CancelRequest",
        PgWireFrontendMessage::PasswordMessageFamily(_) => "password",
        PgWireFrontendMessage::Query(_) => "Query",
        PgWireFrontendMessage::Parse(_) => "Parse",
        PgWireFrontendMessage::Close(_) => "Close",
        PgWireFrontendMessage::Bind(_) => "Bind",
        PgWireFrontendMessage::Describe(_) => "Describe",
        PgWireFrontendMessage::Execute(_) => "Execute",
        PgWireFrontendMessage::PortalSuspended(_) => "PortalSuspended",
        PgWireFrontendMessage::Flush(_) => "Flush",
        PgWireFrontendMessage::Sync(_) => "Sync",
        PgWireFrontendMessage::Terminate(_) => "Terminate",
        PgWireFrontendMessage::CopyData(_) => "CopyData",
        PgWireFrontendMessage::CopyFail(_) => "CopyFail",
        PgWireFrontendMessage::CopyDone(_) => "CopyDone",
    }
}

/// The text a panic carried.
fn panic_message(panic: &(dyn Any + Send)) -> String {
    panic
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "no message".into())
}

/// The error a client gets for a statement that panicked. Arrow panics when one batch of
/// values outgrows its 32-bit offsets (2 GB of text in one column of one batch): that is a
/// statement asking for more memory than a batch can hold, so it is reported as out of memory.
fn internal_error(message: &str) -> PgWireError {
    let (code, text) = if message.contains("offset overflow") {
        (
            OUT_OF_MEMORY,
            format!("out of memory: a batch of values outgrew 2 GB ({message})"),
        )
    } else {
        (INTERNAL_ERROR, format!("internal error: {message}"))
    };
    PgWireError::UserError(Box::new(ErrorInfo::new("ERROR".into(), code.into(), text)))
}

/// The FATAL error for a message that could not be decoded.
fn malformed(e: PgWireError) -> String {
    format!("invalid frontend message: {e}")
}

/// `socket` with its output held between the end of one command and the next
/// ([`crate::corked`]).
fn corked(socket: Framed<MaybeTls, PgWireMessageServerCodec<Arc<Prepared>>>) -> Socket {
    let parts = socket.into_parts();
    let mut corked = FramedParts::new(Corked::new(parts.io), parts.codec);
    corked.read_buf = parts.read_buf;
    corked.write_buf = parts.write_buf;
    Framed::from_parts(corked)
}

async fn send_fatal(socket: &mut Socket, code: &str, message: String) -> std::io::Result<()> {
    socket.get_mut().uncork();
    let error = ErrorInfo::new("FATAL".into(), code.into(), message);
    socket
        .send(PgWireBackendMessage::ErrorResponse(error.into()))
        .await
        .map_err(std::io::Error::other)?;
    socket.close().await.map_err(std::io::Error::other)
}

/// PostgreSQL's FATAL for a session idle past its timeout.
async fn end_idle_session(socket: &mut Socket, which: IdleTimeout) -> std::io::Result<()> {
    let (code, message) = match which {
        IdleTimeout::Session => (
            IDLE_SESSION_TIMEOUT,
            "terminating connection due to idle-session timeout",
        ),
        IdleTimeout::InTransaction => (
            IDLE_IN_TRANSACTION_SESSION_TIMEOUT,
            "terminating connection due to idle-in-transaction timeout",
        ),
    };
    send_fatal(socket, code, message.into()).await
}
