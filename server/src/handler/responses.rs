//! How results and errors become protocol responses: row streams, command tags, error
//! fields with their SQLSTATE, ReadyForQuery's transaction status.

use crate::encode::{encode_batch, row_description};
use crate::interrupt::Interrupt;
use crate::sqlstate::{QUERY_CANCELED, sqlstate};
use driftdb_sql::{CommandTag, Error as SqlError, QueryResult, TransactionStatus};
use futures::{StreamExt, TryStreamExt, stream};
use pgwire::api::results::{FieldInfo, QueryResponse, Response, Tag};
use pgwire::error::{ErrorInfo, PgWireError};
use pgwire::messages::response::TransactionStatus as PgTransactionStatus;
use std::sync::Arc;

pub(crate) fn error_response(e: &SqlError) -> Response {
    Response::Error(Box::new(error_info(e)))
}

pub(crate) fn user_error(e: &SqlError) -> PgWireError {
    PgWireError::UserError(Box::new(error_info(e)))
}

pub(crate) fn error_info(e: &SqlError) -> ErrorInfo {
    let mut info = ErrorInfo::new("ERROR".into(), sqlstate(e.kind).into(), e.message.clone());
    info.severity_nonlocalized = Some("ERROR".into());
    info.position = e.position.map(|position| position.to_string());
    info
}

pub(crate) fn command_tag(tag: &CommandTag) -> Tag {
    let pg_tag = Tag::new(tag.command);
    match (tag.command, tag.rows) {
        ("INSERT", Some(rows)) => pg_tag.with_oid(0).with_rows(rows as usize),
        (_, Some(rows)) => pg_tag.with_rows(rows as usize),
        (_, None) => pg_tag,
    }
}

/// Rows streamed to the client as DataFusion produces them, described by `fields`.
pub(crate) fn streamed(result: QueryResult, fields: Vec<FieldInfo>) -> Response {
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
pub(crate) async fn collected(result: QueryResult) -> Result<Response, SqlError> {
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
pub(crate) fn ready_status(status: TransactionStatus) -> PgTransactionStatus {
    match status {
        TransactionStatus::Idle => PgTransactionStatus::Idle,
        TransactionStatus::InTransaction => PgTransactionStatus::Transaction,
        TransactionStatus::Failed => PgTransactionStatus::Error,
    }
}

/// The error a client gets for an interrupted statement.
pub(crate) fn interrupted(interrupt: Interrupt) -> ErrorInfo {
    ErrorInfo::new(
        "ERROR".into(),
        QUERY_CANCELED.into(),
        interrupt.message().into(),
    )
}
