//! `/admin`: the team admin panel — members and invitations, WhatsApp numbers, the workspace's
//! profile, billing, API keys, the audit log, and the signed-in person's own account — for signed-in
//! members. Everyone in the workspace may open it and see the team; the controls appear
//! only for roles the permission matrix allows, and every server function here checks the role
//! again, with the same rules and audit entries as the REST API (`server::accounts`).

mod api_keys;
mod audit;
mod billing;
mod members;
mod numbers;
mod workspace;

pub use api_keys::ApiKeysPage;
pub use audit::AuditPage;
pub use billing::{BillingPage, RatesPage};
pub use members::MembersPage;
pub use numbers::NumbersPage;
pub use workspace::WorkspacePage;

use calling::accounts::{Permission, Role};
use leptos::prelude::*;
use leptos_router::components::{A, Outlet};

pub use crate::api::FormReply;
use crate::api::Viewer;
use crate::form_action::FormAction;

pub mod server_fns {
    //! The panel's server functions, in one place for the server's integration tests.
    pub use super::api_keys::{CreateAdminApiKey, ListAdminApiKeys, RevokeAdminApiKey};
    pub use super::audit::ListAuditEntries;
    pub use super::billing::{
        ListExpenses, LoadBilling, LoadRateCards, PublishRateCard, RecordTopUp, SetLowBalanceThreshold,
        UpdateSubscription,
    };
    pub use super::members::{
        ChangeMemberRole, InviteMember, LoadTeam, RemoveTeamMember, RevokeTeamInvitation,
    };
    pub use super::numbers::{ConnectAdminNumber, ListAdminNumbers, TestAdminNumber, UpdateAdminNumber};
    pub use super::workspace::{LoadWorkspaceProfile, RenameWorkspace};
}

/// The roles a member holding `role` may hand out (to an invitation, a member or an API key),
/// most powerful first — the choices of the panel's role pickers.
pub fn grantable_roles(role: Role) -> Vec<Role> {
    Role::ALL.into_iter().filter(|other| role.may_grant(*other)).collect()
}

/// What a role is for, in the words of the role pickers.
pub fn role_hint(role: Role) -> &'static str {
    match role {
        Role::Owner => "everything, including making and removing owners",
        Role::Admin => "runs the workspace: team, settings, templates, API keys, billing",
        Role::Agent => "answers and places calls, sends templates",
        Role::Viewer => "reads calls, settings, team and spending",
    }
}

/// A `<select name=…>` of roles, `selected` chosen.
#[component]
pub fn RoleSelect(
    name: &'static str,
    id: String,
    roles: Vec<Role>,
    selected: Role,
    #[prop(optional, into)] described_by: Option<String>,
) -> impl IntoView {
    view! {
        <select name=name id=id aria-describedby=described_by>
            {roles
                .into_iter()
                .map(|role| {
                    view! {
                        <option value=role.as_str() selected=role == selected title=role_hint(role)>
                            {role.as_str()}
                        </option>
                    }
                })
                .collect_view()}
        </select>
    }
}

/// The sections of `/admin`, in navigation order: (path, label, the permission that opens it).
const SECTIONS: [(&str, &str, Permission); 7] = [
    ("/admin", "Members", Permission::ViewTeam),
    ("/admin/numbers", "WhatsApp numbers", Permission::ViewSettings),
    ("/admin/workspace", "Workspace", Permission::ViewTeam),
    ("/admin/billing", "Billing", Permission::SeeBilling),
    ("/admin/api-keys", "API keys", Permission::ManageApiKeys),
    ("/admin/audit", "Audit log", Permission::ViewAuditLog),
    ("/admin/account", "Your account", Permission::ViewCalls),
];

/// The panel's frame, for signed-in members only: anyone else is sent to `/login` (or `/setup`
/// on a fresh install) and comes back here after.
#[component]
pub fn AdminLayout() -> impl IntoView {
    crate::pages::auth::require_sign_in(|viewer| view! { <AdminFrame viewer /> }.into_any())
}

#[component]
fn AdminFrame(viewer: Viewer) -> impl IntoView {
    // `data-hydrated` flips once the WASM has taken over; browser tests wait for it.
    let hydrated = RwSignal::new(false);
    Effect::new(move || hydrated.set(true));
    let role = viewer.role;
    view! {
        <div class="app admin" data-hydrated=move || hydrated.get().to_string()>
            <header class="topbar">
                <a class="brand" href="/calling">
                    <span class="brand-mark" aria-hidden="true">"◉"</span>
                    "Switchboard"
                </a>
                <nav class="sections" aria-label="Team sections">
                    <a href="/calling" class="back-to-calling">"← Calling"</a>
                    {SECTIONS
                        .into_iter()
                        .filter(|(_, _, permission)| role.allows(*permission))
                        // A section with pages of its own stays marked on all of them.
                        .map(|(href, label, _)| view! { <A href=href exact=href == "/admin">{label}</A> })
                        .collect_view()}
                </nav>
                <div class="account" aria-label="Account">
                    <crate::pages::auth::AccountMenu viewer />
                </div>
            </header>
            <main class="content" id="main">
                <Outlet />
            </main>
        </div>
    }
}

/// The message of the last reply's refusal when it names `field`.
fn refusal_of<T>(value: &Option<Result<FormReply<T>, ServerFnError>>, field: &str) -> Option<String> {
    match value {
        Some(Ok(FormReply::Invalid { field: refused, message })) if refused == field => Some(message.clone()),
        _ => None,
    }
}

/// The last reply's refusal when it names none of `fields`, or its error.
fn form_problem<T>(value: &Option<Result<FormReply<T>, ServerFnError>>, fields: &[&str]) -> Option<String> {
    match value {
        Some(Ok(FormReply::Invalid { field, message })) if !fields.contains(&field.as_str()) => {
            Some(format!("{field}: {message}"))
        }
        Some(Err(err)) => Some(crate::api::error_text(err)),
        _ => None,
    }
}

/// The error of an action's last run, if it failed.
fn action_error<S>(action: &FormAction<S>) -> Option<String> {
    action.failure().map(|err| crate::api::error_text(&err))
}

/// The message under a field; always present (empty when fine) so `aria-describedby` always
/// points somewhere.
#[component]
fn FieldError(id: &'static str, message: Signal<Option<String>>) -> impl IntoView {
    view! {
        <span class="field-error" id=id>
            {move || message.get()}
        </span>
    }
}

/// A secret shown once (an invitation link, an API key): read-only, selected on focus, with a
/// Copy button that uses the clipboard when the browser allows it.
#[component]
fn ShownOnce(id: &'static str, label: String, value: String, hint: &'static str) -> impl IntoView {
    let copied = RwSignal::new(None::<bool>);
    let text = StoredValue::new(value.clone());
    let input = NodeRef::<leptos::html::Input>::new();
    let copy = move |_| {
        copied.set(Some(copy_to_clipboard(&text.get_value())));
    };
    view! {
        <div class="shown-once" role="status">
            <label for=id>{label}</label>
            <div class="shown-once-row">
                <input
                    id=id
                    type="text"
                    readonly
                    value=value
                    node_ref=input
                    on:focus=move |_| {
                        if let Some(input) = input.get_untracked() {
                            input.select();
                        }
                    }
                />
                <button class="button" type="button" on:click=copy>"Copy"</button>
            </div>
            <p class="hint">
                {hint}
                {move || match copied.get() {
                    Some(true) => " Copied to the clipboard.",
                    Some(false) => " This browser did not allow copying: select the text and copy it.",
                    None => "",
                }}
            </p>
        </div>
    }
}

/// Asks the browser to put `text` on the clipboard; whether the request could be made.
fn copy_to_clipboard(text: &str) -> bool {
    #[cfg(feature = "hydrate")]
    {
        use js_sys::{Function, Reflect};
        use wasm_bindgen::{JsCast, JsValue};
        // `navigator.clipboard` through reflection: web-sys's Clipboard binding is not enabled.
        let navigator = window().navigator();
        let Ok(clipboard) = Reflect::get(&navigator, &JsValue::from_str("clipboard")) else { return false };
        if clipboard.is_undefined() {
            return false;
        }
        let write = Reflect::get(&clipboard, &JsValue::from_str("writeText"))
            .ok()
            .and_then(|write| write.dyn_into::<Function>().ok());
        write.is_some_and(|write| write.call1(&clipboard, &JsValue::from_str(text)).is_ok())
    }
    #[cfg(not(feature = "hydrate"))]
    {
        let _ = text;
        false
    }
}

#[cfg(feature = "ssr")]
mod ssr {
    //! What the panel's server functions share: the REST API's granting rule, audit entries
    //! worded as the REST API words them, links to this install, and role parsing.
    use calling::Services;
    use calling::accounts::Role;
    use leptos::prelude::*;
    use serde_json::Value;

    use super::FormReply;
    use crate::api::ssr::{Member, server_error};

    /// "Not allowed" (403), in plain words.
    pub fn forbidden(message: String) -> ServerFnError {
        server_error(calling::Error::forbidden(message))
    }

    /// Owners only hand out owner; nobody hands out more than they hold.
    pub fn check_may_grant(member: &Member, role: Role) -> Result<(), ServerFnError> {
        if member.role.may_grant(role) {
            Ok(())
        } else {
            Err(forbidden(format!("a {} cannot grant the {role} role", member.role)))
        }
    }

    /// A role as a form sends it, or the refusal naming the `role` field.
    pub fn parse_role<T>(raw: &str) -> Result<Role, FormReply<T>> {
        raw.parse::<Role>().map_err(|err| match err {
            calling::Error::Validation { field, message } => FormReply::Invalid { field, message },
            other => FormReply::Invalid { field: "role".into(), message: other.public_message() },
        })
    }

    /// Appends the audit entry the REST API writes for the same change.
    pub async fn record(
        services: &Services,
        member: &Member,
        action: &str,
        target: &str,
        details: Value,
    ) -> Result<(), ServerFnError> {
        crate::api::ssr::record_audit(services, member, action, Some(target), details)
            .await
            .map_err(server_error)
    }

    /// `http(s)://host` as the browser addressed this install, for the links the panel hands
    /// out (the same rule as the REST API's).
    pub fn base_url() -> String {
        let parts = use_context::<http::request::Parts>();
        let header = |name: &str| {
            parts
                .as_ref()
                .and_then(|parts| parts.headers.get(name))
                .and_then(|value| value.to_str().ok())
                .map(str::to_owned)
        };
        let host =
            header("x-forwarded-host").or_else(|| header("host")).unwrap_or_else(|| "localhost".into());
        let proto = header("x-forwarded-proto").unwrap_or_else(|| "http".into());
        format!("{proto}://{host}")
    }
}
