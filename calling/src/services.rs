//! The handles every entry point (REST handler, server function, CLI, background task) needs,
//! bundled so they travel as one cheap clone.

use crate::Result;
use crate::accounts::mail::Mailer;
use crate::bus::EventBus;
use crate::clock::Clock;
use crate::graph::GraphTarget;
use crate::numbers::{self, WhatsAppNumber};
use crate::secrets::SecretKey;
use crate::storage::Db;

/// Shared services of one running Switchboard.
#[derive(Clone, Debug)]
pub struct Services {
    pub db: Db,
    pub clock: Clock,
    /// Live notices to browsers, across replicas.
    pub bus: EventBus,
    /// Seals and opens stored credentials.
    pub secret_key: SecretKey,
    /// Sends invitations and password reset links (when SMTP is configured).
    pub mailer: Mailer,
}

impl Services {
    /// Where Graph API requests for `number` go, with its access token unsealed.
    pub async fn graph_target(&self, number: &WhatsAppNumber) -> Result<GraphTarget> {
        let credentials = numbers::credentials(&self.db, &self.secret_key, &number.id).await?;
        Ok(GraphTarget::for_number(number, &credentials))
    }
}
