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
    /// The workspace's name.
    pub workspace: String,
    pub numbers: Vec<NumberBadge>,
    /// What the wallet can still pay for (balance minus holds), micro-units.
    pub wallet_available_micros: i64,
    /// The available money is below the workspace's low-balance threshold.
    pub low_balance: bool,
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
#[server(output = crate::json_text::JsonText)]
pub async fn get_overview(period: OverviewPeriod) -> Result<OverviewCard, ServerFnError> {
    use self::ssr::*;
    let services = services()?;
    let now = services.clock.now();
    let workspace = member(&services, Permission::ViewCalls).await?.workspace;
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
    let balance =
        calling::billing::threshold::balance(&services.db, &workspace.id).await.map_err(server_error)?;
    Ok(OverviewCard {
        workspace: workspace.name,
        numbers,
        wallet_available_micros: balance.available.get(),
        low_balance: balance.low_balance,
        overview,
        latest_calls,
    })
}

/// Sandbox only: makes the simulated WhatsApp user `from` call the sandbox number. Like the
/// scenario API, only for members who may change settings of the workspace that owns it.
#[server(output = crate::json_text::JsonText)]
pub async fn simulate_inbound_call(
    from: String,
    name: String,
    cta_payload: String,
) -> Result<String, ServerFnError> {
    use self::ssr::*;
    let services = services()?;
    let member = member(&services, Permission::ChangeSettings).await?;
    let Some(sandbox) = use_context::<simulator::Simulator>() else {
        return Err(server_error(calling::Error::Conflict {
            code: "sandbox_not_running",
            message: "The sandbox is not running: a real WhatsApp number is connected.".into(),
        }));
    };
    let caller = calling::phone::PhoneNumber::parse(&from).map_err(server_error)?;
    let business =
        sandbox.numbers().into_iter().next().ok_or_else(|| ServerFnError::new("no sandbox number"))?;
    let owned = calling::numbers::by_phone_number_id(&services.db, &business.phone_number_id)
        .await
        .map_err(server_error)?
        .is_some_and(|number| number.workspace_id == member.workspace.id);
    if !owned {
        return Err(server_error(calling::Error::NotFound { what: "sandbox number" }));
    }
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
#[server(output = crate::json_text::JsonText)]
pub async fn get_analytics(period: AnalyticsPeriod) -> Result<Analytics, ServerFnError> {
    use self::ssr::*;
    let services = services()?;
    let now = services.clock.now();
    let workspace = member(&services, Permission::ViewCalls).await?.workspace;
    Analytics::load(&services.db, &workspace.id, period, now).await.map_err(server_error)
}

/// The same for the days from `from` to `to` (`YYYY-MM-DD`, both included).
#[server(output = crate::json_text::JsonText)]
pub async fn get_analytics_between(from: String, to: String) -> Result<Analytics, ServerFnError> {
    use self::ssr::*;
    let services = services()?;
    let workspace = member(&services, Permission::ViewCalls).await?.workspace;
    Analytics::load_between(&services.db, &workspace.id, &from, &to, services.clock.now())
        .await
        .map_err(server_error)
}

/// Where a WhatsApp user stands with the workspace's (first) number: permission, quotas, and
/// whether a call or a permission request would go through now.
#[server(output = crate::json_text::JsonText)]
pub async fn lookup_permission(phone: String) -> Result<PermissionLookup, ServerFnError> {
    use self::ssr::*;
    let services = services()?;
    let workspace = member(&services, Permission::ViewCalls).await?.workspace;
    let user = calling::phone::PhoneNumber::parse(&phone).map_err(server_error)?;
    let number = first_number(&services, &workspace.id).await?;
    let limits = calling::permissions::PermissionLimits::PRODUCTION;
    calling::ledger::lookup(&services.db, &number.id, &user, services.clock.now(), &limits)
        .await
        .map_err(server_error)
}

/// Everyone the workspace's (first) number may call now.
#[server(output = crate::json_text::JsonText)]
pub async fn list_permissions() -> Result<Vec<PermissionLookup>, ServerFnError> {
    use self::ssr::*;
    let services = services()?;
    let workspace = member(&services, Permission::ViewCalls).await?.workspace;
    let Some(number) = first_number_if_any(&services, &workspace.id).await? else {
        return Ok(Vec::new());
    };
    let limits = calling::permissions::PermissionLimits::PRODUCTION;
    calling::ledger::granted(&services.db, &number.id, services.clock.now(), &limits)
        .await
        .map_err(server_error)
}

/// A page of the current workspace's call history.
#[server(input = leptos::server_fn::codec::Json, output = crate::json_text::JsonText)]
pub async fn list_calls(filter: CallFilter) -> Result<CallPage, ServerFnError> {
    use self::ssr::*;
    let services = services()?;
    let workspace = member(&services, Permission::ViewCalls).await?.workspace;
    calling::calls::list(&services.db, &workspace.id, &filter).await.map_err(server_error)
}

/// What the call history can be narrowed to: the workspace's numbers and the agents who
/// took its calls, each as `(value, label)`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CallChoices {
    /// `(phone_number_id, display number)`.
    pub numbers: Vec<(String, String)>,
    /// `(user id, name)`.
    pub agents: Vec<(String, String)>,
}

#[server(output = crate::json_text::JsonText)]
pub async fn call_filter_choices() -> Result<CallChoices, ServerFnError> {
    use self::ssr::*;
    let services = services()?;
    let workspace = member(&services, Permission::ViewCalls).await?.workspace;
    let numbers = calling::numbers::list(&services.db, &workspace.id)
        .await
        .map_err(server_error)?
        .into_iter()
        .map(|number| (number.phone_number_id, number.display_phone_number))
        .collect();
    let agents = calling::calls::agents(&services.db, &workspace.id).await.map_err(server_error)?;
    Ok(CallChoices { numbers, agents })
}

/// One call with its timeline.
#[server(output = crate::json_text::JsonText)]
pub async fn get_call(id: String) -> Result<CallDetail, ServerFnError> {
    use self::ssr::*;
    let services = services()?;
    let workspace = member(&services, Permission::ViewCalls).await?.workspace;
    calling::calls::detail(&services.db, &workspace.id, &id).await.map_err(server_error)
}

/// The signed-in member as the page header shows them.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Viewer {
    /// Their user id (a call may ring for them first: see `calling::answering::Routing`).
    pub user_id: String,
    pub display_name: String,
    pub email: String,
    pub workspace: String,
    pub workspace_id: String,
    pub role: calling::accounts::Role,
    /// Every workspace they belong to, oldest membership first: the top bar's switcher.
    pub workspaces: Vec<WorkspaceChoice>,
}

/// One of the signed-in person's workspaces.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct WorkspaceChoice {
    pub id: String,
    pub name: String,
    pub role: calling::accounts::Role,
}

/// Where the visitor stands: signed in (as whom), or not — and then whether the install still
/// needs its first owner, which sends them to `/setup` rather than `/login`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Visitor {
    SignedIn(Viewer),
    SignedOut { setup_needed: bool },
}

/// Who is looking at the page.
#[server(output = crate::json_text::JsonText)]
pub async fn current_visitor() -> Result<Visitor, ServerFnError> {
    use self::ssr::*;
    let services = services()?;
    let Some(signed_in) = signed_in() else {
        let setup_needed = calling::accounts::setup_needed(&services.db).await.map_err(server_error)?;
        return Ok(Visitor::SignedOut { setup_needed });
    };
    let member = member(&services, Permission::ViewCalls).await?;
    let workspaces = calling::accounts::users::memberships(&services.db, &signed_in.user.id)
        .await
        .map_err(server_error)?
        .into_iter()
        .map(|m| WorkspaceChoice { id: m.workspace_id, name: m.workspace_name, role: m.role })
        .collect();
    Ok(Visitor::SignedIn(Viewer {
        user_id: signed_in.user.id,
        display_name: signed_in.user.display_name,
        email: signed_in.user.email,
        workspace: member.workspace.name,
        workspace_id: member.workspace.id,
        role: member.role,
        workspaces,
    }))
}

/// A form's answer once the server took it: done, or refused for one field. A refused field is
/// an answer rather than an error so the page can put the message next to that field.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum FormReply<T> {
    Done(T),
    Invalid { field: String, message: String },
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
    //! Server-side helpers shared by the server functions: the services, the signed-in member
    //! and error mapping.
    use calling::Services;
    use calling::accounts::sessions::SignedIn;
    pub use calling::accounts::{Permission, Role};
    use calling::workspace::Workspace;
    use leptos::prelude::*;

    /// The services the server put in the Leptos context.
    pub fn services() -> Result<Services, ServerFnError> {
        use_context::<Services>().ok_or_else(|| ServerFnError::new("services missing from context"))
    }

    /// The signed-in person behind this request, as the server's session middleware
    /// (`server::auth::attach_session`) resolved it from the session cookie.
    pub fn signed_in() -> Option<SignedIn> {
        use_context::<http::request::Parts>()?.extensions.get::<SignedIn>().cloned()
    }

    /// A member acting on their current workspace.
    #[derive(Clone, Debug)]
    pub struct Member {
        pub user_id: String,
        pub workspace: Workspace,
        pub role: Role,
    }

    impl Member {
        /// How the audit log (and other records of who did what) names a member acting from
        /// a page: as the REST API names a signed-in user.
        pub fn actor(&self) -> String {
            format!("user:{}", self.user_id)
        }
    }

    /// The address of the client behind this request, as the server saw it
    /// (`server::auth::attach_session` puts it in the request).
    pub fn client_ip() -> Option<String> {
        use_context::<http::request::Parts>()?
            .extensions
            .get::<calling::accounts::audit::ClientIp>()
            .map(|ip| ip.0.clone())
    }

    /// Appends the audit entry the REST API writes for the same change, with the client's
    /// address.
    pub async fn record_audit(
        services: &Services,
        member: &Member,
        action: &str,
        target: Option<&str>,
        details: serde_json::Value,
    ) -> calling::Result<()> {
        let ip = client_ip();
        let entry = calling::accounts::audit::NewEntry {
            workspace_id: Some(&member.workspace.id),
            actor: &member.actor(),
            action,
            target,
            details,
            ip: ip.as_deref(),
        };
        calling::accounts::audit::record(&services.db, entry, services.clock.now()).await
    }

    /// The signed-in member, when their role in their current workspace allows `permission`;
    /// "sign in" (401) or "not allowed" (403) otherwise — the same rules as the REST API.
    pub async fn member(services: &Services, permission: Permission) -> Result<Member, ServerFnError> {
        let signed_in = signed_in()
            .ok_or_else(|| server_error(calling::Error::unauthenticated("sign in to continue")))?;
        let (Some(workspace_id), Some(role)) = (signed_in.session.workspace_id, signed_in.role) else {
            return Err(server_error(calling::Error::forbidden(
                "you are not a member of this workspace; switch to one of yours",
            )));
        };
        if !role.allows(permission) {
            return Err(server_error(calling::Error::forbidden(format!(
                "your role ({role}) does not allow this"
            ))));
        }
        let workspace =
            calling::accounts::workspace(&services.db, &workspace_id).await.map_err(server_error)?;
        Ok(Member { user_id: signed_in.user.id, workspace, role })
    }

    /// The workspace's first connected number (the per-number picker comes with settings).
    pub async fn first_number(
        services: &Services,
        workspace_id: &str,
    ) -> Result<calling::numbers::WhatsAppNumber, ServerFnError> {
        first_number_if_any(services, workspace_id)
            .await?
            .ok_or_else(|| server_error(calling::Error::NotFound { what: "connected WhatsApp number" }))
    }

    /// The workspace's first connected number, if it has one (no error status is set when not).
    pub async fn first_number_if_any(
        services: &Services,
        workspace_id: &str,
    ) -> Result<Option<calling::numbers::WhatsAppNumber>, ServerFnError> {
        Ok(calling::numbers::list(&services.db, workspace_id).await.map_err(server_error)?.into_iter().next())
    }

    /// A domain error as the browser sees it: the public message only, with the HTTP status
    /// the REST API would give it; internal causes are logged here and never sent.
    pub fn server_error(err: calling::Error) -> ServerFnError {
        if let calling::Error::Internal(cause) = &err {
            tracing::error!(error = %cause, "server function failed");
        }
        if let Some(response) = use_context::<leptos_axum::ResponseOptions>() {
            response.set_status(
                http::StatusCode::from_u16(err.http_status())
                    .unwrap_or(http::StatusCode::INTERNAL_SERVER_ERROR),
            );
        }
        ServerFnError::new(err.public_message())
    }
}
