//! What a statement tells the client besides its result: a NoticeResponse for each of
//! PostgreSQL's NOTICEs and WARNINGs it raised (`table "t" does not exist, skipping`), and a
//! ParameterStatus for each reported setting (`TimeZone`, `application_name`, …) it changed.

use crate::sqlstate::{SUCCESSFUL_COMPLETION, sqlstate};
use driftdb_sql::Notice;
use futures::{Sink, SinkExt};
use pgwire::error::{ErrorInfo, PgWireError, PgWireResult};
use pgwire::messages::PgWireBackendMessage;
use pgwire::messages::response::NoticeResponse;
use pgwire::messages::startup::ParameterStatus;

/// Queues a NoticeResponse for each notice (sent with what follows).
pub async fn send_notices<C>(client: &mut C, notices: Vec<Notice>) -> PgWireResult<()>
where
    C: Sink<PgWireBackendMessage> + Unpin,
    PgWireError: From<C::Error>,
{
    for notice in notices {
        let code = notice.kind.map_or(SUCCESSFUL_COMPLETION, sqlstate);
        let severity = notice.severity();
        let mut info = ErrorInfo::new(severity.into(), code.into(), notice.message);
        info.severity_nonlocalized = Some(severity.into());
        client
            .feed(PgWireBackendMessage::NoticeResponse(NoticeResponse::from(
                info,
            )))
            .await?;
    }
    Ok(())
}

/// Queues a ParameterStatus for each (setting, value).
pub async fn send_changed_settings<C>(
    client: &mut C,
    changed: Vec<(String, String)>,
) -> PgWireResult<()>
where
    C: Sink<PgWireBackendMessage> + Unpin,
    PgWireError: From<C::Error>,
{
    for (name, value) in changed {
        client
            .feed(PgWireBackendMessage::ParameterStatus(ParameterStatus::new(
                name, value,
            )))
            .await?;
    }
    Ok(())
}
