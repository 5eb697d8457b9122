//! The pgwire handlers of one connection: startup (trust on loopback, database `driftdb`) and
//! the simple query protocol over a [`Session`].

use crate::encode::{encode_batch, row_description};
use crate::sqlstate::{INVALID_CATALOG_NAME, sqlstate};
use async_trait::async_trait;
use driftdb_sql::{CommandTag, Database, Error as SqlError, QueryResult, Session, StatementResult};
use futures::{Sink, StreamExt, TryStreamExt, stream};
use pgwire::api::auth::{
    DefaultServerParameterProvider, StartupHandler, finish_authentication, protocol_negotiation,
    save_startup_parameters_to_metadata,
};
use pgwire::api::query::SimpleQueryHandler;
use pgwire::api::results::{QueryResponse, Response, Tag};
use pgwire::api::store::PortalStore;
use pgwire::api::{
    ClientInfo, ClientPortalStore, METADATA_DATABASE, METADATA_USER, PgWireServerHandlers,
    PidSecretKeyGenerator, RandomPidSecretKeyGenerator,
};
use pgwire::error::{ErrorInfo, PgWireError, PgWireResult};
use pgwire::messages::{PgWireBackendMessage, PgWireFrontendMessage};
use std::fmt::Debug;
use std::sync::Arc;

/// The only database name DriftDB answers to.
pub const DATABASE_NAME: &str = "driftdb";

/// What every connection shares.
pub struct Shared {
    pub db: Arc<Database>,
    pub pids: RandomPidSecretKeyGenerator,
}

/// The handlers of one connection.
pub struct Connection {
    startup: Arc<Startup>,
    queries: Arc<Queries>,
}

impl Connection {
    pub fn new(shared: Arc<Shared>) -> Connection {
        Connection {
            startup: Arc::new(Startup {
                shared: shared.clone(),
            }),
            queries: Arc::new(Queries {
                shared,
                session: tokio::sync::Mutex::new(None),
            }),
        }
    }
}

impl PgWireServerHandlers for Connection {
    fn simple_query_handler(&self) -> Arc<impl SimpleQueryHandler> {
        self.queries.clone()
    }

    fn startup_handler(&self) -> Arc<impl StartupHandler> {
        self.startup.clone()
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
        let (pid, secret) = self.shared.pids.generate(client);
        client.set_pid_and_secret_key(pid, secret);
        finish_authentication(client, &server_parameters()).await
    }
}

/// The simple query protocol over the connection's session.
pub struct Queries {
    shared: Arc<Shared>,
    session: tokio::sync::Mutex<Option<Session>>,
}

fn error_response(e: &SqlError) -> Response {
    Response::Error(Box::new(error_info(e)))
}

fn error_info(e: &SqlError) -> ErrorInfo {
    ErrorInfo::new("ERROR".into(), sqlstate(e.kind).into(), e.message.clone())
}

fn command_tag(tag: &CommandTag) -> Tag {
    let pg_tag = Tag::new(tag.command);
    match (tag.command, tag.rows) {
        ("INSERT", Some(rows)) => pg_tag.with_oid(0).with_rows(rows as usize),
        (_, Some(rows)) => pg_tag.with_rows(rows as usize),
        (_, None) => pg_tag,
    }
}

/// Rows streamed to the client as DataFusion produces them.
fn streamed(result: QueryResult) -> Response {
    let fields = Arc::new(row_description(&result.schema));
    let rows = result
        .stream
        .map(|batch| {
            let rows =
                batch.map_err(|e| PgWireError::UserError(Box::new(error_info(&SqlError::from(e)))));
            match rows.and_then(|batch| encode_batch(&batch)) {
                Ok(rows) => stream::iter(rows.into_iter().map(Ok)).boxed(),
                Err(e) => stream::iter([Err(e)]).boxed(),
            }
        })
        .flatten();
    Response::Query(QueryResponse::new(fields, rows))
}

/// Rows collected before the next statement runs (for all but the last statement of a query).
async fn collected(result: QueryResult) -> Result<Response, SqlError> {
    let fields = Arc::new(row_description(&result.schema));
    let batches: Vec<_> = result.stream.try_collect().await?;
    let mut rows = Vec::new();
    for batch in &batches {
        rows.extend(
            encode_batch(batch)
                .map_err(|e| SqlError::new(driftdb_sql::ErrorKind::Internal, e.to_string()))?,
        );
    }
    Ok(Response::Query(QueryResponse::new(
        fields,
        stream::iter(rows.into_iter().map(Ok)),
    )))
}

#[async_trait]
impl SimpleQueryHandler for Queries {
    async fn do_query<C>(&self, client: &mut C, query: &str) -> PgWireResult<Vec<Response>>
    where
        C: ClientInfo + ClientPortalStore + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
        C::PortalStore: PortalStore,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        let mut guard = self.session.lock().await;
        let session = guard.get_or_insert_with(|| {
            let user = client
                .metadata()
                .get(METADATA_USER)
                .cloned()
                .unwrap_or_default();
            self.shared.db.session(&user)
        });
        let statements = match session.parse(query) {
            Ok(statements) => statements,
            Err(e) => return Ok(vec![error_response(&e)]),
        };
        if statements.is_empty() {
            return Ok(vec![Response::EmptyQuery]);
        }
        let last = statements.len() - 1;
        let mut responses = Vec::with_capacity(statements.len());
        for (i, statement) in statements.into_iter().enumerate() {
            let response = match session.execute(statement).await {
                Ok(StatementResult::Command(tag)) => Ok(Response::Execution(command_tag(&tag))),
                Ok(StatementResult::Query(result)) if i == last => Ok(streamed(result)),
                Ok(StatementResult::Query(result)) => collected(result).await,
                Err(e) => Err(e),
            };
            match response {
                Ok(response) => responses.push(response),
                Err(e) => {
                    // PostgreSQL stops at the first failing statement of a query string.
                    responses.push(error_response(&e));
                    break;
                }
            }
        }
        Ok(responses)
    }
}
