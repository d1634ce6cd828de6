//! Server functions: the browser's door to `calling::…`. Each one is thin: find the services
//! and the workspace, call the domain, map its error.

use calling::calls::CallSummary;
use calling::overview::{Overview, OverviewPeriod};
use leptos::prelude::*;
use serde::{Deserialize, Serialize};

/// What the `/calling` header card shows.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct OverviewCard {
    /// The workspace's name; `None` on a fresh install that has none yet.
    pub workspace: Option<String>,
    pub overview: Overview,
    pub latest_calls: Vec<CallSummary>,
}

/// The header card and the latest calls for the current workspace.
#[server]
pub async fn get_overview(period: OverviewPeriod) -> Result<OverviewCard, ServerFnError> {
    use self::ssr::*;
    let services = services()?;
    let now = services.clock.now();
    let Some(workspace) = current_workspace(&services).await? else {
        let since = calling::clock::start_of_utc_day(now) - (period.days() - 1) * calling::clock::DAY;
        return Ok(OverviewCard {
            workspace: None,
            overview: Overview { period, since, ..Overview::default() },
            latest_calls: Vec::new(),
        });
    };
    let overview = Overview::load(&services.db, &workspace.id, period, now).await.map_err(server_error)?;
    let latest_calls = calling::calls::recent(&services.db, &workspace.id, 5).await.map_err(server_error)?;
    Ok(OverviewCard { workspace: Some(workspace.name), overview, latest_calls })
}

/// The newest calls of the current workspace.
#[server]
pub async fn list_calls(limit: i64) -> Result<Vec<CallSummary>, ServerFnError> {
    use self::ssr::*;
    let services = services()?;
    let Some(workspace) = current_workspace(&services).await? else {
        return Ok(Vec::new());
    };
    calling::calls::recent(&services.db, &workspace.id, limit).await.map_err(server_error)
}

#[cfg(feature = "ssr")]
pub mod ssr {
    //! Server-side helpers shared by the server functions.
    use calling::Services;
    use calling::workspace::Workspace;
    use leptos::prelude::*;

    /// The services the server put in the Leptos context.
    pub fn services() -> Result<Services, ServerFnError> {
        use_context::<Services>().ok_or_else(|| ServerFnError::new("services missing from context"))
    }

    /// The workspace the request acts on.
    ///
    /// Until sign-in exists this is the install's first workspace; the accounts work replaces
    /// it with the signed-in member's current workspace.
    pub async fn current_workspace(services: &Services) -> Result<Option<Workspace>, ServerFnError> {
        calling::workspace::first(&services.db).await.map_err(server_error)
    }

    /// A domain error as the browser sees it: the public message only; internal causes are
    /// logged here and never sent.
    pub fn server_error(err: calling::Error) -> ServerFnError {
        if let calling::Error::Internal(cause) = &err {
            tracing::error!(error = %cause, "server function failed");
        }
        ServerFnError::new(err.public_message())
    }
}
