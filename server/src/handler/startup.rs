//! Startup: the database name checked, the startup parameters applied, the server's parameters
//! reported.

use crate::handler::{Shared, fatal};
use crate::sqlstate::{FEATURE_NOT_SUPPORTED, INVALID_CATALOG_NAME};
use async_trait::async_trait;
use driftdb_sql::DATABASE_NAME;
use futures::Sink;
use pgwire::api::auth::{
    DefaultServerParameterProvider, StartupHandler, finish_authentication, protocol_negotiation,
    save_startup_parameters_to_metadata,
};
use pgwire::api::{ClientInfo, METADATA_DATABASE, METADATA_USER, PidSecretKeyGenerator};
use pgwire::error::{PgWireError, PgWireResult};
use pgwire::messages::{PgWireBackendMessage, PgWireFrontendMessage};
use std::fmt::Debug;
use std::sync::Arc;

/// Startup: trust authentication (the server only listens on loopback), database `driftdb`.
pub struct Startup {
    pub(crate) shared: Arc<Shared>,
}

pub(crate) fn server_parameters() -> DefaultServerParameterProvider {
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
