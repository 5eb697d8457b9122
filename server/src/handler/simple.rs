//! The simple query protocol: a query's statements run in one implicit block, each answered in
//! turn; `DEALLOCATE` and `COPY … FROM STDIN` are started here.

use crate::encode::row_description;
use crate::handler::Queries;
use crate::handler::copy::{copy_out, send_copy_out};
use crate::handler::responses::{
    collected, command_tag, error_info, error_response, interrupted, streamed,
};
use crate::interrupt::Canceller;
use crate::notices::{send_changed_settings, send_notices};
use crate::sqlstate::{FEATURE_NOT_SUPPORTED, INVALID_SQL_STATEMENT_NAME};
use async_trait::async_trait;
use driftdb_sql::{Error as SqlError, Notice, Session, Statement, StatementResult};
use futures::{Sink, SinkExt, stream};
use pgwire::api::copy::send_copy_in_response;
use pgwire::api::query::{
    SimpleQueryHandler, send_execution_response, send_query_response, send_ready_for_query,
};
use pgwire::api::results::{CopyResponse, Response, Tag};
use pgwire::api::store::PortalStore;
use pgwire::api::{ClientInfo, ClientPortalStore, PgWireConnectionState};
use pgwire::error::{ErrorInfo, PgWireError, PgWireResult};
use pgwire::messages::PgWireBackendMessage;
use pgwire::messages::response::EmptyQueryResponse;
use pgwire::messages::simplequery::Query;
use std::fmt::Debug;
use std::sync::Arc;

impl Queries {
    /// `DEALLOCATE name` / `DEALLOCATE ALL`: drops prepared statements of the connection.
    pub(crate) fn deallocate<C>(&self, client: &C, name: Option<&str>) -> Response
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
    pub(crate) async fn run_statements<C>(
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
    pub(crate) async fn answer<C>(&self, client: &mut C, query: &Query) -> PgWireResult<Answered>
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
    pub(crate) fn start_copy_in(
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
pub(crate) enum Answered {
    /// Every statement answered: ReadyForQuery follows.
    Done,
    /// COPY FROM STDIN is waiting for the client's data: ReadyForQuery follows the load.
    Copying,
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
