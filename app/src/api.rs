//! Server functions: the browser's door to `calling::…`. Each one is thin: find the services
//! and the workspace, call the domain, map its error.

use calling::analytics::{Analytics, AnalyticsPeriod};
use calling::calls::{CallDetail, CallFilter, CallPage, CallSummary};
use calling::overview::{Overview, OverviewPeriod};
use calling::permissions::PermissionLookup;
use leptos::prelude::*;
use serde::{Deserialize, Serialize};

/// What the `/calling` header card shows.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct OverviewCard {
    /// The workspace's name; `None` on a fresh install that has none yet.
    pub workspace: Option<String>,
    pub numbers: Vec<NumberBadge>,
    /// What the wallet can still pay for (balance minus holds), micro-units; `None` before a
    /// workspace exists.
    pub wallet_available_micros: Option<i64>,
    pub overview: Overview,
    pub latest_calls: Vec<CallSummary>,
}

/// A connected WhatsApp number as the header shows it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct NumberBadge {
    pub phone_number_id: String,
    pub display: String,
    pub country: Option<String>,
    pub is_sandbox: bool,
}

impl OverviewCard {
    /// Whether the workspace runs on the built-in simulator.
    pub fn is_sandbox(&self) -> bool {
        self.numbers.iter().any(|number| number.is_sandbox)
    }
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
            numbers: Vec::new(),
            wallet_available_micros: None,
            overview: Overview { period, since, ..Overview::default() },
            latest_calls: Vec::new(),
        });
    };
    let overview = Overview::load(&services.db, &workspace.id, period, now).await.map_err(server_error)?;
    let latest_calls = calling::calls::recent(&services.db, &workspace.id, 5).await.map_err(server_error)?;
    let numbers = calling::numbers::list(&services.db, &workspace.id)
        .await
        .map_err(server_error)?
        .into_iter()
        .map(|number| NumberBadge {
            phone_number_id: number.phone_number_id,
            display: number.display_phone_number,
            country: number.country,
            is_sandbox: number.is_sandbox,
        })
        .collect();
    let wallet = calling::billing::wallet::get(&services.db, &workspace.id).await.map_err(server_error)?;
    Ok(OverviewCard {
        workspace: Some(workspace.name),
        numbers,
        wallet_available_micros: Some(wallet.available().get()),
        overview,
        latest_calls,
    })
}

/// Sandbox only: makes the simulated WhatsApp user `from` call the sandbox number.
#[server]
pub async fn simulate_inbound_call(
    from: String,
    name: String,
    cta_payload: String,
) -> Result<String, ServerFnError> {
    use self::ssr::*;
    let Some(sandbox) = use_context::<simulator::Simulator>() else {
        return Err(ServerFnError::new("The sandbox is not running: a real WhatsApp number is connected."));
    };
    let caller = calling::phone::PhoneNumber::parse(&from).map_err(server_error)?;
    let business =
        sandbox.numbers().into_iter().next().ok_or_else(|| ServerFnError::new("no sandbox number"))?;
    let optional = |value: String| Some(value.trim().to_owned()).filter(|value| !value.is_empty());
    sandbox
        .place_inbound_call(simulator::InboundCall {
            to: business.phone_number_id,
            from: caller.e164().to_owned(),
            name: optional(name),
            cta_payload: optional(cta_payload),
            deeplink_payload: None,
        })
        .map_err(|err| ServerFnError::new(err.to_string()))
}

/// Totals and the daily series of the current workspace.
#[server]
pub async fn get_analytics(period: AnalyticsPeriod) -> Result<Analytics, ServerFnError> {
    use self::ssr::*;
    let services = services()?;
    let now = services.clock.now();
    let Some(workspace) = current_workspace(&services).await? else {
        return Ok(Analytics { period, ..Analytics::default() });
    };
    Analytics::load(&services.db, &workspace.id, period, now).await.map_err(server_error)
}

/// Where a WhatsApp user stands with the workspace's (first) number: permission, quotas, and
/// whether a call or a permission request would go through now.
#[server]
pub async fn lookup_permission(phone: String) -> Result<PermissionLookup, ServerFnError> {
    use self::ssr::*;
    let services = services()?;
    let user = calling::phone::PhoneNumber::parse(&phone).map_err(server_error)?;
    let number = first_number(&services).await?;
    let limits = calling::permissions::PermissionLimits::PRODUCTION;
    calling::ledger::lookup(&services.db, &number.id, &user, services.clock.now(), &limits)
        .await
        .map_err(server_error)
}

/// Everyone the workspace's (first) number may call now.
#[server]
pub async fn list_permissions() -> Result<Vec<PermissionLookup>, ServerFnError> {
    use self::ssr::*;
    let services = services()?;
    let Ok(number) = first_number(&services).await else {
        return Ok(Vec::new());
    };
    let limits = calling::permissions::PermissionLimits::PRODUCTION;
    calling::ledger::granted(&services.db, &number.id, services.clock.now(), &limits)
        .await
        .map_err(server_error)
}

/// A page of the current workspace's call history.
#[server(input = leptos::server_fn::codec::Json)]
pub async fn list_calls(filter: CallFilter) -> Result<CallPage, ServerFnError> {
    use self::ssr::*;
    let services = services()?;
    let Some(workspace) = current_workspace(&services).await? else {
        return Ok(CallPage::default());
    };
    calling::calls::list(&services.db, &workspace.id, &filter).await.map_err(server_error)
}

/// One call with its timeline.
#[server]
pub async fn get_call(id: String) -> Result<CallDetail, ServerFnError> {
    use self::ssr::*;
    let services = services()?;
    let Some(workspace) = current_workspace(&services).await? else {
        return Err(server_error(calling::Error::NotFound { what: "call" }));
    };
    calling::calls::detail(&services.db, &workspace.id, &id).await.map_err(|err| {
        if matches!(err, calling::Error::NotFound { .. })
            && let Some(response) = use_context::<leptos_axum::ResponseOptions>()
        {
            response.set_status(http::StatusCode::NOT_FOUND);
        }
        server_error(err)
    })
}

/// What the user reads when a server function fails: the server's message without the
/// transport's "error running server function" wrapper.
pub fn error_text(err: &ServerFnError) -> String {
    match err {
        ServerFnError::ServerError(message) => message.clone(),
        other => other.to_string(),
    }
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

    /// The workspace's first connected number (the per-number picker comes with settings).
    pub async fn first_number(
        services: &Services,
    ) -> Result<calling::numbers::WhatsAppNumber, ServerFnError> {
        let workspace = current_workspace(services)
            .await?
            .ok_or_else(|| server_error(calling::Error::NotFound { what: "workspace" }))?;
        calling::numbers::list(&services.db, &workspace.id)
            .await
            .map_err(server_error)?
            .into_iter()
            .next()
            .ok_or_else(|| ServerFnError::new("Connect a WhatsApp number first."))
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
