//! The handles every entry point (REST handler, server function, CLI, background task) needs,
//! bundled so they travel as one cheap clone.

use crate::clock::Clock;
use crate::storage::Db;

/// Shared services of one running Switchboard.
#[derive(Clone, Debug)]
pub struct Services {
    pub db: Db,
    pub clock: Clock,
}

impl Services {
    pub fn new(db: Db, clock: Clock) -> Self {
        Services { db, clock }
    }
}
