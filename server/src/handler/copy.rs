//! COPY: `COPY … TO STDOUT` sent as CopyData lines, `COPY … FROM STDIN` received into the
//! session.

use crate::handler::Queries;
use crate::handler::responses::user_error;
use crate::sqlstate::QUERY_CANCELED;
use async_trait::async_trait;
use bytes::Bytes;
use driftdb_sql::CopyOut;
use futures::{Sink, SinkExt, StreamExt};
use pgwire::api::ClientInfo;
use pgwire::api::copy::CopyHandler;
use pgwire::api::results::{CopyResponse, Response, Tag};
use pgwire::error::{ErrorInfo, PgWireError, PgWireResult};
use pgwire::messages::PgWireBackendMessage;
use pgwire::messages::copy::{CopyData, CopyDone, CopyFail, CopyOutResponse};
use std::fmt::Debug;

/// `COPY … TO STDOUT` as a response: one CopyData per line.
pub(crate) fn copy_out(copy: CopyOut) -> Response {
    let data = copy.lines.map(|line| {
        line.map(|line| CopyData::new(Bytes::from(line)))
            .map_err(|e| user_error(&e))
    });
    Response::CopyOut(CopyResponse::new(0, copy.columns, data))
}

/// Sends a COPY TO's data. An error part-way ends it with an ErrorResponse (CopyFail is the
/// client's message, not the server's); returns whether it completed.
pub(crate) async fn send_copy_out<C>(client: &mut C, mut copy: CopyResponse) -> PgWireResult<bool>
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
