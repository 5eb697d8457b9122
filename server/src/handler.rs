//! The pgwire handlers of one connection: startup (trust on loopback, database `driftdb`), and
//! the simple and extended query protocols over the connection's [`Session`].

use crate::binary::decode_param;
use crate::encode::{declared_param, encode_batch, pg_type, row_description};
use crate::interrupt::{CancelRequests, Canceller, Cancels, Interrupt};
use crate::notices::{send_changed_settings, send_notices};
use crate::sqlstate::{
    FEATURE_NOT_SUPPORTED, INVALID_BINARY_REPRESENTATION, INVALID_CATALOG_NAME,
    INVALID_SQL_STATEMENT_NAME, QUERY_CANCELED, sqlstate,
};
use async_trait::async_trait;
use bytes::Bytes;
use driftdb_sql::{
    CommandTag, CopyOut, Database, Error as SqlError, IdleTimeout, Notice, Prepared, QueryResult,
    Session, Statement, StatementResult, TransactionStatus,
};
use futures::{Sink, SinkExt, StreamExt, TryStreamExt, stream};
use pgwire::api::auth::{
    DefaultServerParameterProvider, StartupHandler, finish_authentication, protocol_negotiation,
    save_startup_parameters_to_metadata,
};
use pgwire::api::cancel::CancelHandler;
use pgwire::api::copy::{CopyHandler, send_copy_in_response};
use pgwire::api::portal::{Format, Portal};
use pgwire::api::query::{
    ExtendedQueryHandler, SimpleQueryHandler, send_execution_response, send_query_response,
    send_ready_for_query,
};
use pgwire::api::results::{CopyResponse, FieldInfo, QueryResponse, Response, Tag};
use pgwire::api::stmt::{QueryParser, StoredStatement};
use pgwire::api::store::{Entry, PortalStore};
use pgwire::api::{
    ClientInfo, ClientPortalStore, DEFAULT_NAME, METADATA_DATABASE, METADATA_USER,
    PgWireConnectionState, PgWireServerHandlers, PidSecretKeyGenerator,
    RandomPidSecretKeyGenerator, Type,
};
use pgwire::error::{ErrorInfo, PgWireError, PgWireResult};
use pgwire::messages::copy::{CopyData, CopyDone, CopyFail, CopyOutResponse};
use pgwire::messages::data::{NoData, ParameterDescription, RowDescription};
use pgwire::messages::extendedquery::{
    Describe, Execute, Parse, ParseComplete, Sync as SyncMessage, TARGET_TYPE_BYTE_STATEMENT,
};
use pgwire::messages::response::{
    EmptyQueryResponse, ReadyForQuery, TransactionStatus as PgTransactionStatus,
};
use pgwire::messages::simplequery::Query;
use pgwire::messages::{PgWireBackendMessage, PgWireFrontendMessage};
use std::fmt::Debug;
use std::sync::Arc;

/// The only database name DriftDB answers to.
pub const DATABASE_NAME: &str = "driftdb";

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

fn fatal(code: &str, message: String) -> PgWireError {
    PgWireError::UserError(Box::new(ErrorInfo::new(
        "FATAL".into(),
        code.into(),
        message,
    )))
}

/// Startup: trust authentication (the server only listens on loopback), database `driftdb`.
pub struct Startup {
    shared: Arc<Shared>,
}

fn server_parameters() -> DefaultServerParameterProvider {
    let mut parameters = DefaultServerParameterProvider::default();
    parameters.server_version = format!("15.0 (DriftDB {})", env!("CARGO_PKG_VERSION"));
    parameters.time_zone = "UTC".into();
    parameters.date_style = "ISO, MDY".into();
    parameters.interval_style = "postgres".into();
    parameters
}

#[async_trait]
impl StartupHandler for Startup {
    async fn on_startup<C>(
        &self,
        client: &mut C,
        message: PgWireFrontendMessage,
    ) -> PgWireResult<()>
    where
        C: ClientInfo + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        let PgWireFrontendMessage::Startup(ref startup) = message else {
            return Ok(());
        };
        protocol_negotiation(client, startup).await?;
        save_startup_parameters_to_metadata(client, startup);
        let metadata = client.metadata();
        let user = metadata.get(METADATA_USER).cloned().unwrap_or_default();
        let database = metadata
            .get(METADATA_DATABASE)
            .cloned()
            .unwrap_or_else(|| user.clone());
        if database != DATABASE_NAME {
            return Err(fatal(
                INVALID_CATALOG_NAME,
                format!(
                    "database \"{database}\" does not exist (this server has only \"{DATABASE_NAME}\")"
                ),
            ));
        }
        if let Some(encoding) = metadata.get("client_encoding")
            && !matches!(
                encoding.trim_matches('\'').to_ascii_uppercase().as_str(),
                "UTF8" | "UTF-8" | "UNICODE"
            )
        {
            return Err(fatal(
                FEATURE_NOT_SUPPORTED,
                format!(
                    "client_encoding \"{encoding}\" is not supported (DriftDB speaks UTF8 only)"
                ),
            ));
        }
        let (pid, secret) = self.shared.pids.generate(client);
        let canceller = self.shared.cancels.register(pid, &secret);
        client.session_extensions().get_or_insert_with(|| canceller);
        client.set_pid_and_secret_key(pid, secret);
        finish_authentication(client, &server_parameters()).await
    }
}

/// The connection's session, opened by its first statement.
struct SessionSlot {
    shared: Arc<Shared>,
    session: tokio::sync::Mutex<Option<Session>>,
    /// The reported settings' values the client was last told (ParameterStatus).
    reported: std::sync::Mutex<Vec<(String, String)>>,
}

impl SessionSlot {
    /// Locks the session, opening it for the connection's user first if need be.
    async fn lock<C: ClientInfo>(&self, client: &C) -> SessionGuard<'_> {
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

    fn reported_values(&self) -> std::sync::MutexGuard<'_, Vec<(String, String)>> {
        self.reported
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The reported settings whose values changed since the client was last told, now told.
    async fn changed_settings(&self) -> Vec<(String, String)> {
        match self.session.lock().await.as_ref() {
            Some(session) => session.changed_reported_settings(&mut self.reported_values()),
            None => Vec::new(),
        }
    }

    /// The session's `statement_timeout`.
    async fn statement_timeout(&self) -> Option<std::time::Duration> {
        self.session
            .lock()
            .await
            .as_ref()
            .and_then(Session::statement_timeout)
    }

    /// Discards what an interrupted statement left behind.
    async fn abort_statement(&self) {
        if let Some(session) = self.session.lock().await.as_mut() {
            session.abort_statement();
        }
    }

    /// The ReadyForQuery status of the session's transaction.
    async fn ready_status(&self) -> PgTransactionStatus {
        match self.session.lock().await.as_ref() {
            Some(session) => ready_status(session.transaction_status()),
            None => PgTransactionStatus::Idle,
        }
    }
}

struct SessionGuard<'a>(tokio::sync::MutexGuard<'a, Option<Session>>);

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

/// The query protocols over the connection's session.
pub struct Queries {
    session: Arc<SessionSlot>,
    parser: Arc<Parser>,
    /// The names of the statements Parse stored (for `DEALLOCATE ALL`).
    statement_names: std::sync::Mutex<std::collections::BTreeSet<String>>,
}

fn error_response(e: &SqlError) -> Response {
    Response::Error(Box::new(error_info(e)))
}

fn user_error(e: &SqlError) -> PgWireError {
    PgWireError::UserError(Box::new(error_info(e)))
}

fn error_info(e: &SqlError) -> ErrorInfo {
    let mut info = ErrorInfo::new("ERROR".into(), sqlstate(e.kind).into(), e.message.clone());
    info.severity_nonlocalized = Some("ERROR".into());
    info.position = e.position.map(|position| position.to_string());
    info
}

fn command_tag(tag: &CommandTag) -> Tag {
    let pg_tag = Tag::new(tag.command);
    match (tag.command, tag.rows) {
        ("INSERT", Some(rows)) => pg_tag.with_oid(0).with_rows(rows as usize),
        (_, Some(rows)) => pg_tag.with_rows(rows as usize),
        (_, None) => pg_tag,
    }
}

/// Rows streamed to the client as DataFusion produces them, described by `fields`.
fn streamed(result: QueryResult, fields: Vec<FieldInfo>) -> Response {
    let fields = Arc::new(fields);
    let encoding = fields.clone();
    let tag = result.tag;
    let rows = result
        .stream
        .map(move |batch| {
            let rows = batch.map_err(|e| user_error(&SqlError::from(e)));
            match rows.and_then(|batch| encode_batch(&batch, &encoding)) {
                Ok(rows) => stream::iter(rows.into_iter().map(Ok)).boxed(),
                Err(e) => stream::iter([Err(e)]).boxed(),
            }
        })
        .flatten();
    let mut response = QueryResponse::new(fields, rows);
    response.set_command_tag(tag);
    Response::Query(response)
}

/// Rows collected before the next statement runs (for all but the last statement of a query).
async fn collected(result: QueryResult) -> Result<Response, SqlError> {
    let fields = Arc::new(row_description(&result.schema, None));
    let batches: Vec<_> = result.stream.try_collect().await?;
    let mut rows = Vec::new();
    for batch in &batches {
        rows.extend(
            encode_batch(batch, &fields)
                .map_err(|e| SqlError::new(driftdb_sql::ErrorKind::Internal, e.to_string()))?,
        );
    }
    let mut response = QueryResponse::new(fields, stream::iter(rows.into_iter().map(Ok)));
    response.set_command_tag(result.tag);
    Ok(Response::Query(response))
}

/// The ReadyForQuery status of a session's transaction.
fn ready_status(status: TransactionStatus) -> PgTransactionStatus {
    match status {
        TransactionStatus::Idle => PgTransactionStatus::Idle,
        TransactionStatus::InTransaction => PgTransactionStatus::Transaction,
        TransactionStatus::Failed => PgTransactionStatus::Error,
    }
}

impl Queries {
    /// `DEALLOCATE name` / `DEALLOCATE ALL`: drops prepared statements of the connection.
    fn deallocate<C>(&self, client: &C, name: Option<&str>) -> Response
    where
        C: ClientPortalStore,
        C::PortalStore: PortalStore,
    {
        let mut names = self
            .statement_names
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        match name {
            None => {
                for name in std::mem::take(&mut *names) {
                    client.portal_store().rm_statement(&name);
                }
                Response::Execution(Tag::new("DEALLOCATE ALL"))
            }
            Some(name) if names.remove(name) => {
                client.portal_store().rm_statement(name);
                Response::Execution(Tag::new("DEALLOCATE"))
            }
            Some(name) => Response::Error(Box::new(ErrorInfo::new(
                "ERROR".into(),
                INVALID_SQL_STATEMENT_NAME.into(),
                format!("prepared statement \"{name}\" does not exist"),
            ))),
        }
    }

    /// Runs a simple query's statements: what each returns, with the notices it raised.
    async fn run_statements<C>(
        &self,
        client: &mut C,
        query: &str,
    ) -> PgWireResult<Vec<(Vec<Notice>, Response)>>
    where
        C: ClientInfo + ClientPortalStore + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
        C::PortalStore: PortalStore,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        let mut session = self.session.lock(client).await;
        let statements = match session.parse(query) {
            Ok(statements) => statements,
            Err(e) => return Ok(vec![(Vec::new(), error_response(&e))]),
        };
        if statements.is_empty() {
            return Ok(vec![(Vec::new(), Response::EmptyQuery)]);
        }
        let last = statements.len() - 1;
        let mut responses = Vec::with_capacity(statements.len());
        for (i, mut statement) in statements.into_iter().enumerate() {
            if let Some(name) = statement.deallocation() {
                responses.push((Vec::new(), self.deallocate(client, name.as_deref())));
                continue;
            }
            match self.start_copy_in(&mut session, statement) {
                Ok(Ok(response)) => {
                    // The rest of the query string waits for the data, which never comes
                    // back to it: PostgreSQL, too, ends a query string at COPY FROM STDIN.
                    responses.push((Vec::new(), response));
                    break;
                }
                Ok(Err(not_copy)) => statement = not_copy,
                Err(e) => {
                    responses.push((Vec::new(), error_response(&e)));
                    break;
                }
            }
            let response = match session.execute(statement).await {
                Ok(StatementResult::Command(tag)) => Ok(Response::Execution(command_tag(&tag))),
                Ok(StatementResult::CopyOut(copy)) => Ok(copy_out(copy)),
                Ok(StatementResult::Query(result)) if i == last => {
                    let fields = row_description(&result.schema, None);
                    Ok(streamed(result, fields))
                }
                Ok(StatementResult::Query(result)) => collected(result).await,
                Err(e) => Err(e),
            };
            let notices = session.take_notices();
            match response {
                Ok(response) => responses.push((notices, response)),
                Err(e) => {
                    // PostgreSQL stops at the first failing statement of a query string.
                    responses.push((notices, error_response(&e)));
                    break;
                }
            }
        }
        Ok(responses)
    }

    /// Runs a simple query's statements and sends what each returns.
    async fn answer<C>(&self, client: &mut C, query: &Query) -> PgWireResult<Answered>
    where
        C: ClientInfo + ClientPortalStore + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
        C::PortalStore: PortalStore,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        let answers = self.run_statements(client, &query.query).await?;
        for (notices, response) in answers {
            send_notices(client, notices).await?;
            match response {
                Response::EmptyQuery => {
                    client
                        .feed(PgWireBackendMessage::EmptyQueryResponse(
                            EmptyQueryResponse::new(),
                        ))
                        .await?
                }
                Response::Query(results) => {
                    // An error in the middle of the rows ends this query string, as an error
                    // before the first row would; anything else means the client is gone.
                    match send_query_response(client, results, true).await {
                        Err(PgWireError::UserError(error)) => {
                            client
                                .feed(PgWireBackendMessage::ErrorResponse((*error).into()))
                                .await?;
                            break;
                        }
                        other => other?,
                    }
                }
                Response::Execution(tag)
                | Response::TransactionStart(tag)
                | Response::TransactionEnd(tag) => send_execution_response(client, tag).await?,
                Response::Error(e) => {
                    client
                        .feed(PgWireBackendMessage::ErrorResponse((*e).into()))
                        .await?
                }
                Response::CopyIn(copy) => {
                    send_copy_in_response(client, copy).await?;
                    client.set_state(PgWireConnectionState::CopyInProgress(false));
                    return Ok(Answered::Copying);
                }
                Response::CopyOut(copy) => {
                    if !send_copy_out(client, copy).await? {
                        break;
                    }
                }
                Response::CopyBoth(_) => {
                    return Err(PgWireError::UserError(Box::new(ErrorInfo::new(
                        "ERROR".into(),
                        FEATURE_NOT_SUPPORTED.into(),
                        "COPY BOTH is not supported".into(),
                    ))));
                }
            }
        }
        Ok(Answered::Done)
    }

    /// If `statement` is `COPY … FROM STDIN`, starts it (its data streams into the session as
    /// it arrives) and returns the response that asks the client for the data; else hands the
    /// statement back.
    fn start_copy_in(
        &self,
        session: &mut Session,
        statement: Statement,
    ) -> Result<Result<Response, Statement>, SqlError> {
        let Some(columns) = session.start_copy_in(&statement)? else {
            return Ok(Err(statement));
        };
        Ok(Ok(Response::CopyIn(CopyResponse::new(
            0,
            columns,
            stream::empty(),
        ))))
    }
}

/// How a simple query's answer ended.
enum Answered {
    /// Every statement answered: ReadyForQuery follows.
    Done,
    /// COPY FROM STDIN is waiting for the client's data: ReadyForQuery follows the load.
    Copying,
}

/// `COPY … TO STDOUT` as a response: one CopyData per line.
fn copy_out(copy: CopyOut) -> Response {
    let data = copy.lines.map(|line| {
        line.map(|line| CopyData::new(Bytes::from(line)))
            .map_err(|e| user_error(&e))
    });
    Response::CopyOut(CopyResponse::new(0, copy.columns, data))
}

/// Sends a COPY TO's data. An error part-way ends it with an ErrorResponse (CopyFail is the
/// client's message, not the server's); returns whether it completed.
async fn send_copy_out<C>(client: &mut C, mut copy: CopyResponse) -> PgWireResult<bool>
where
    C: Sink<PgWireBackendMessage> + Unpin,
    C::Error: Debug,
    PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
{
    let formats = copy.column_formats();
    client
        .feed(PgWireBackendMessage::CopyOutResponse(CopyOutResponse::new(
            copy.format,
            copy.columns as i16,
            formats,
        )))
        .await?;
    let mut rows = 0;
    while let Some(data) = copy.data_stream().next().await {
        match data {
            Ok(data) => {
                rows += 1;
                client.feed(PgWireBackendMessage::CopyData(data)).await?;
            }
            Err(PgWireError::UserError(error)) => {
                client
                    .feed(PgWireBackendMessage::ErrorResponse((*error).into()))
                    .await?;
                return Ok(false);
            }
            Err(other) => return Err(other),
        }
    }
    client
        .feed(PgWireBackendMessage::CopyDone(CopyDone::new()))
        .await?;
    client
        .feed(PgWireBackendMessage::CommandComplete(
            Tag::new("COPY").with_rows(rows).into(),
        ))
        .await?;
    Ok(true)
}

#[async_trait]
impl CopyHandler for Queries {
    async fn on_copy_data<C>(&self, client: &mut C, data: CopyData) -> PgWireResult<()>
    where
        C: ClientInfo + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        let loaded = {
            let mut session = self.session.lock(client).await;
            session.copy_in_data(&data.data).await
        };
        if loaded.is_err() {
            // The COPY ended; as PostgreSQL, the error goes out now and the rest of the data
            // is dropped when it comes.
            client.set_transaction_status(self.session.ready_status().await);
        }
        loaded.map_err(|e| user_error(&e))
    }

    async fn on_copy_done<C>(&self, client: &mut C, _done: CopyDone) -> PgWireResult<()>
    where
        C: ClientInfo + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        let loaded = {
            let mut session = self.session.lock(client).await;
            session.finish_copy_in().await
        };
        client.set_transaction_status(self.session.ready_status().await);
        let rows = loaded.map_err(|e| user_error(&e))?;
        client
            .send(PgWireBackendMessage::CommandComplete(
                Tag::new("COPY").with_rows(rows as usize).into(),
            ))
            .await?;
        Ok(())
    }

    async fn on_copy_fail<C>(&self, client: &mut C, fail: CopyFail) -> PgWireError
    where
        C: ClientInfo + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        if let Some(session) = self.session.session.lock().await.as_mut() {
            session.abort_copy_in();
        }
        client.set_transaction_status(self.session.ready_status().await);
        PgWireError::UserError(Box::new(ErrorInfo::new(
            "ERROR".into(),
            QUERY_CANCELED.into(),
            format!("COPY from stdin failed: {}", fail.message),
        )))
    }
}

/// The error a client gets for an interrupted statement.
fn interrupted(interrupt: Interrupt) -> ErrorInfo {
    ErrorInfo::new(
        "ERROR".into(),
        QUERY_CANCELED.into(),
        interrupt.message().into(),
    )
}

#[async_trait]
impl SimpleQueryHandler for Queries {
    /// pgwire's default derives ReadyForQuery's transaction status from the responses, which
    /// cannot say "COMMIT failed and ended the transaction" or "ROLLBACK TO left the failed
    /// state"; the session knows, so its status is what the client is told.
    async fn on_query<C>(&self, client: &mut C, query: Query) -> PgWireResult<()>
    where
        C: ClientInfo + ClientPortalStore + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
        C::PortalStore: PortalStore,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        if !matches!(client.state(), PgWireConnectionState::ReadyForQuery) {
            return Err(PgWireError::NotReadyForQuery);
        }
        client.set_state(PgWireConnectionState::QueryInProgress);
        // A simple query after extended-protocol messages without Sync commits their block.
        if let Some(session) = self.session.session.lock().await.as_mut()
            && let Err(e) = session.end_implicit_block().await
        {
            client
                .feed(PgWireBackendMessage::ErrorResponse(error_info(&e).into()))
                .await?;
        }
        let canceller = client.session_extensions().get::<Arc<Canceller>>();
        let timeout = self.session.statement_timeout().await;
        let answered = match canceller {
            Some(canceller) => canceller.run(timeout, self.answer(client, &query)).await,
            None => Ok(self.answer(client, &query).await),
        };
        match answered {
            Ok(result) => {
                if let Answered::Copying = result? {
                    return Ok(());
                }
            }
            Err(interrupt) => {
                self.session.abort_statement().await;
                client
                    .feed(PgWireBackendMessage::ErrorResponse(
                        interrupted(interrupt).into(),
                    ))
                    .await?;
            }
        }
        send_changed_settings(client, self.session.changed_settings().await).await?;
        let status = self.session.ready_status().await;
        client.set_state(PgWireConnectionState::ReadyForQuery);
        client.set_transaction_status(status);
        send_ready_for_query(client, status).await
    }

    async fn do_query<C>(&self, client: &mut C, query: &str) -> PgWireResult<Vec<Response>>
    where
        C: ClientInfo + ClientPortalStore + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
        C::PortalStore: PortalStore,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        let answers = self.run_statements(client, query).await?;
        Ok(answers.into_iter().map(|(_, response)| response).collect())
    }
}

/// Parses statements for the extended protocol, in the connection's session.
pub struct Parser {
    session: Arc<SessionSlot>,
}

#[async_trait]
impl QueryParser for Parser {
    type Statement = Arc<Prepared>;

    async fn parse_sql<C>(
        &self,
        client: &C,
        sql: &str,
        types: &[Option<Type>],
    ) -> PgWireResult<Option<Arc<Prepared>>>
    where
        C: ClientInfo + Unpin + Send + Sync,
    {
        let declared: Vec<_> = types
            .iter()
            .map(|ty| ty.as_ref().and_then(declared_param))
            .collect();
        let mut session = self.session.lock(client).await;
        match session.prepare(sql, &declared).await {
            Ok(prepared) => Ok(prepared.map(Arc::new)),
            Err(e) => Err(user_error(&e)),
        }
    }

    fn get_parameter_types(&self, statement: &Arc<Prepared>) -> PgWireResult<Vec<Type>> {
        Ok(statement.params().iter().map(pg_type).collect())
    }

    fn get_result_schema(
        &self,
        statement: &Arc<Prepared>,
        formats: Option<&Format>,
    ) -> PgWireResult<Vec<FieldInfo>> {
        Ok(statement
            .columns()
            .map(|schema| row_description(schema, formats))
            .unwrap_or_default())
    }
}

/// Each parameter of `portal` in text form (binary values decoded by their type), NULL as `None`.
fn parameter_texts(portal: &Portal<Arc<Prepared>>) -> PgWireResult<Vec<Option<String>>> {
    let params = portal.statement.statement.params();
    portal
        .parameters
        .iter()
        .enumerate()
        .map(|(i, value)| {
            let Some(bytes) = value else {
                return Ok(None);
            };
            let ty = params.get(i).map_or(Type::TEXT, pg_type);
            let decoded = match portal.parameter_format.is_binary(i) {
                true => decode_param(&ty, bytes),
                false => String::from_utf8(bytes.to_vec())
                    .map_err(|_| "invalid byte sequence for encoding \"UTF8\"".to_string()),
            };
            decoded.map(Some).map_err(|message| {
                PgWireError::UserError(Box::new(ErrorInfo::new(
                    "ERROR".into(),
                    INVALID_BINARY_REPRESENTATION.into(),
                    format!("parameter ${}: {message}", i + 1),
                )))
            })
        })
        .collect()
}

#[async_trait]
impl ExtendedQueryHandler for Queries {
    type Statement = Arc<Prepared>;
    type QueryParser = Parser;

    fn query_parser(&self) -> Arc<Parser> {
        self.parser.clone()
    }

    /// Parse, remembering the statement's name for `DEALLOCATE ALL`.
    async fn on_parse<C>(&self, client: &mut C, message: Parse) -> PgWireResult<()>
    where
        C: ClientInfo + ClientPortalStore + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
        C::PortalStore: PortalStore<Statement = Self::Statement>,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        let name = message.name.clone().unwrap_or_default();
        match StoredStatement::parse(client, &message, self.parser.clone()).await? {
            Some(statement) => client.portal_store().put_statement(Arc::new(statement)),
            None => client.portal_store().put_empty_statement(&name),
        }
        if !name.is_empty() {
            self.statement_names
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner())
                .insert(name);
        }
        client
            .send(PgWireBackendMessage::ParseComplete(ParseComplete::new()))
            .await?;
        Ok(())
    }

    /// Describe of a statement: pgwire would answer a statement that has parameters but no
    /// result columns with an empty RowDescription, which JDBC reads as a result set; it is
    /// NoData, as from PostgreSQL.
    async fn on_describe<C>(&self, client: &mut C, message: Describe) -> PgWireResult<()>
    where
        C: ClientInfo + ClientPortalStore + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
        C::PortalStore: PortalStore<Statement = Self::Statement>,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        let name = message.name.as_deref().unwrap_or(DEFAULT_NAME);
        let statement = match message.target_type {
            TARGET_TYPE_BYTE_STATEMENT => match client.portal_store().get_statement(name) {
                Some(Entry::Value(statement)) => statement,
                _ => return self._on_describe(client, message).await,
            },
            _ => return self._on_describe(client, message).await,
        };
        let described = self.do_describe_statement(client, &statement).await?;
        let types = described.parameters.iter().map(Type::oid).collect();
        client
            .feed(PgWireBackendMessage::ParameterDescription(
                ParameterDescription::new(types),
            ))
            .await?;
        let columns = match described.fields.is_empty() {
            true => PgWireBackendMessage::NoData(NoData::new()),
            false => PgWireBackendMessage::RowDescription(RowDescription::new(
                described.fields.iter().map(Into::into).collect(),
            )),
        };
        client.send(columns).await?;
        Ok(())
    }

    /// ReadyForQuery carries the session's own transaction status (see `on_query`).
    async fn on_sync<C>(&self, client: &mut C, _message: SyncMessage) -> PgWireResult<()>
    where
        C: ClientInfo + ClientPortalStore + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
        C::PortalStore: PortalStore<Statement = Self::Statement>,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        client.portal_store().rm_portal(DEFAULT_NAME);
        // Sync commits the implicit block; a failed commit is reported before ReadyForQuery.
        let committed = match self.session.session.lock().await.as_mut() {
            Some(session) => session.end_implicit_block().await,
            None => Ok(()),
        };
        if let Err(e) = committed {
            client
                .send(PgWireBackendMessage::ErrorResponse(error_info(&e).into()))
                .await?;
        }
        // As PostgreSQL, reports the settings the statements changed just before ReadyForQuery.
        send_changed_settings(client, self.session.changed_settings().await).await?;
        let status = self.session.ready_status().await;
        client.set_transaction_status(status);
        client
            .send(PgWireBackendMessage::ReadyForQuery(ReadyForQuery::new(
                status,
            )))
            .await?;
        client.flush().await?;
        Ok(())
    }

    /// Execute runs interruptibly, like a simple query (see `on_query`).
    async fn on_execute<C>(&self, client: &mut C, message: Execute) -> PgWireResult<()>
    where
        C: ClientInfo + ClientPortalStore + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
        C::PortalStore: PortalStore<Statement = Self::Statement>,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        let Some(canceller) = client.session_extensions().get::<Arc<Canceller>>() else {
            return self._on_execute(client, message).await;
        };
        let timeout = self.session.statement_timeout().await;
        match canceller
            .run(timeout, self._on_execute(client, message))
            .await
        {
            Ok(result) => result,
            Err(interrupt) => {
                self.session.abort_statement().await;
                Err(PgWireError::UserError(Box::new(interrupted(interrupt))))
            }
        }
    }

    async fn do_query<C>(
        &self,
        client: &mut C,
        portal: &Portal<Arc<Prepared>>,
        _max_rows: usize,
    ) -> PgWireResult<Response>
    where
        C: ClientInfo + ClientPortalStore + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
        C::PortalStore: PortalStore<Statement = Self::Statement>,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        let prepared = &portal.statement.statement;
        let statement = prepared
            .bind(&parameter_texts(portal)?)
            .map_err(|e| user_error(&e))?;
        let mut session = self.session.lock(client).await;
        // The statements up to Sync form one implicit transaction, as in PostgreSQL.
        session.begin_implicit_block();
        // Errors are returned, not sent as responses, so that pgwire skips to the next Sync.
        let statement = match self
            .start_copy_in(&mut session, statement)
            .map_err(|e| user_error(&e))?
        {
            Ok(copy_in) => return Ok(copy_in),
            Err(statement) => statement,
        };
        let executed = session.execute(statement).await;
        send_notices(client, session.take_notices()).await?;
        match executed.map_err(|e| user_error(&e))? {
            StatementResult::Command(tag) => Ok(Response::Execution(command_tag(&tag))),
            StatementResult::CopyOut(copy) => Ok(copy_out(copy)),
            StatementResult::Query(result) => {
                let schema = prepared.columns().unwrap_or(&result.schema);
                let fields = row_description(schema, Some(&portal.result_column_format));
                Ok(streamed(result, fields))
            }
        }
    }
}
