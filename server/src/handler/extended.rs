//! The extended query protocol: Parse (statements prepared in the session), Describe, Bind
//! (parameters in text or binary) and Execute.

use crate::binary::decode_param;
use crate::encode::{declared_param, pg_type, row_description};
use crate::handler::Queries;
use crate::handler::copy::copy_out;
use crate::handler::responses::{command_tag, error_info, interrupted, streamed, user_error};
use crate::handler::session_slot::SessionSlot;
use crate::interrupt::Canceller;
use crate::notices::{send_changed_settings, send_notices};
use crate::sqlstate::INVALID_BINARY_REPRESENTATION;
use async_trait::async_trait;
use driftdb_sql::{Prepared, StatementResult};
use futures::{Sink, SinkExt};
use pgwire::api::portal::{Format, Portal};
use pgwire::api::query::ExtendedQueryHandler;
use pgwire::api::results::{FieldInfo, Response};
use pgwire::api::stmt::{QueryParser, StoredStatement};
use pgwire::api::store::{Entry, PortalStore};
use pgwire::api::{ClientInfo, ClientPortalStore, DEFAULT_NAME, Type};
use pgwire::error::{ErrorInfo, PgWireError, PgWireResult};
use pgwire::messages::PgWireBackendMessage;
use pgwire::messages::data::{NoData, ParameterDescription, RowDescription};
use pgwire::messages::extendedquery::{
    Describe, Execute, Parse, ParseComplete, Sync as SyncMessage, TARGET_TYPE_BYTE_STATEMENT,
};
use pgwire::messages::response::ReadyForQuery;
use std::fmt::Debug;
use std::sync::Arc;

/// Parses statements for the extended protocol, in the connection's session.
pub struct Parser {
    pub(crate) session: Arc<SessionSlot>,
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
pub(crate) fn parameter_texts(portal: &Portal<Arc<Prepared>>) -> PgWireResult<Vec<Option<String>>> {
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
