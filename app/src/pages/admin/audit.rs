//! `/admin/audit`: the workspace's audit log, newest first — when, who, what, to what, from
//! where — with a filter by action (`?action=…`, a plain GET form, so it works before the page
//! hydrates and the filtered view has its own address). `ViewAuditLog` only, as
//! `/api/v1/audit-log`.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;
use serde::{Deserialize, Serialize};

use crate::format;
use crate::server_resource::ServerResource;

/// How many of the newest entries the page reads (the REST API's page size).
#[cfg(feature = "ssr")]
const LIMIT: i64 = 200;

/// One entry, with people and keys named rather than numbered where the workspace knows them.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditRow {
    pub id: String,
    pub at: i64,
    /// The actor as stored (`user:…`, `api_key:…`, `cli`, `anonymous`).
    pub actor: String,
    /// Who that is, in words.
    pub who: String,
    pub action: String,
    pub target: Option<String>,
    /// The target in words, when it names someone or something the workspace knows.
    pub target_text: Option<String>,
    /// `key: value` pairs of the entry's details.
    pub details: String,
    pub ip: Option<String>,
}

/// The entries (filtered) and every action the unfiltered log holds, for the filter's choices.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditView {
    pub entries: Vec<AuditRow>,
    pub actions: Vec<String>,
}

/// The newest entries, only those whose action is `action` when one is given.
#[server(output = crate::json_text::JsonText)]
pub async fn list_audit_entries(action: Option<String>) -> Result<AuditView, ServerFnError> {
    use crate::api::ssr::*;
    use calling::accounts::{api_keys, audit, invitations, users};
    use std::collections::HashMap;
    let services = services()?;
    let member = member(&services, Permission::ViewAuditLog).await?;
    let workspace = &member.workspace.id;
    let entries = audit::list(&services.db, workspace, LIMIT).await.map_err(server_error)?;
    // Names for the ids the log stores: members, keys and invitations of this workspace only.
    let mut names: HashMap<String, String> = HashMap::new();
    for m in users::members(&services.db, workspace).await.map_err(server_error)? {
        names.insert(format!("user:{}", m.user_id), format!("{} <{}>", m.display_name, m.email));
    }
    for key in api_keys::list(&services.db, workspace).await.map_err(server_error)? {
        names.insert(format!("api_key:{}", key.id), format!("API key “{}” ({})", key.name, key.prefix));
    }
    for invitation in invitations::list(&services.db, workspace).await.map_err(server_error)? {
        names.insert(format!("invitation:{}", invitation.id), format!("invitation for {}", invitation.email));
    }
    let mut actions: Vec<String> = entries.iter().map(|entry| entry.action.clone()).collect();
    actions.sort();
    actions.dedup();
    let action = action.filter(|action| !action.is_empty());
    let entries = entries
        .into_iter()
        .filter(|entry| action.as_ref().is_none_or(|wanted| &entry.action == wanted))
        .map(|entry| {
            let who = match entry.actor.as_str() {
                "cli" => "Command line".to_owned(),
                "anonymous" => "Someone signed out".to_owned(),
                actor => names.get(actor).cloned().unwrap_or_else(|| actor.to_owned()),
            };
            let target_text = entry.target.as_ref().and_then(|target| names.get(target).cloned());
            AuditRow {
                id: entry.id,
                at: entry.at,
                actor: entry.actor,
                who,
                action: entry.action,
                target: entry.target,
                target_text,
                details: details_text(&entry.details),
                ip: entry.ip,
            }
        })
        .collect();
    Ok(AuditView { entries, actions })
}

/// `{"from":"agent","to":"viewer"}` → `from: agent, to: viewer`.
#[cfg(feature = "ssr")]
fn details_text(details: &serde_json::Value) -> String {
    match details {
        serde_json::Value::Object(map) => map
            .iter()
            .map(|(key, value)| match value {
                serde_json::Value::String(text) => format!("{key}: {text}"),
                other => format!("{key}: {other}"),
            })
            .collect::<Vec<_>>()
            .join(", "),
        serde_json::Value::Null => String::new(),
        other => other.to_string(),
    }
}

/// What an action means, for the common ones; others show their code only.
fn action_words(action: &str) -> Option<&'static str> {
    Some(match action {
        "member.invited" => "Invited someone",
        "invitation.accepted" => "Accepted an invitation",
        "invitation.revoked" => "Revoked an invitation",
        "member.role_changed" => "Changed a member's role",
        "member.removed" => "Removed a member",
        "api_key.created" => "Created an API key",
        "api_key.revoked" => "Revoked an API key",
        "template.created" => "Created a template",
        "template.deleted" => "Deleted a template",
        "template.default_set" => "Set a default template",
        "password.changed" => "Changed their password",
        "password.reset" => "Reset their password",
        "install.setup" => "Set up Switchboard as its first owner",
        "billing.top_up" => "Recorded a top-up",
        "billing.adjustment" => "Adjusted the wallet",
        "billing.rate_card_published" => "Published a rate card",
        "billing.subscription_updated" => "Changed the subscription",
        "billing.low_balance_threshold_updated" => "Changed the low-balance warning",
        _ => return None,
    })
}

/// The Audit log section.
#[component]
pub fn AuditPage() -> impl IntoView {
    let query = use_query_map();
    let action = Memo::new(move |_| query.read().get("action").filter(|action| !action.is_empty()));
    let log = ServerResource::new(move || action.get(), list_audit_entries);
    view! {
        <Title text="Audit log" />
        <div class="page-head">
            <h1>"Audit log"</h1>
        </div>
        <p class="lead">
            "Who did what in this workspace, and when: invitations, role changes, removals, API keys, templates and more. Entries are never changed or deleted."
        </p>
        <section class="card" aria-labelledby="audit-heading">
            <h2 id="audit-heading" class="visually-hidden">"Entries"</h2>
            <Transition fallback=|| view! { <p class="muted">"Loading the audit log…"</p> }>
                {move || Suspend::new(async move {
                    match log.await {
                        Ok(view) => view! { <AuditFilter actions=view.actions selected=action.get_untracked() /> <AuditTable entries=view.entries /> }.into_any(),
                        Err(err) => view! { <p class="error" role="alert">{crate::api::error_text(&err)}</p> }.into_any(),
                    }
                })}
            </Transition>
        </section>
    }
}

#[component]
fn AuditFilter(actions: Vec<String>, selected: Option<String>) -> impl IntoView {
    let options = actions
        .into_iter()
        .map(|action| {
            let label = match action_words(&action) {
                Some(words) => format!("{words} ({action})"),
                None => action.clone(),
            };
            let is_selected = selected.as_deref() == Some(action.as_str());
            view! { <option value=action selected=is_selected>{label}</option> }
        })
        .collect_view();
    view! {
        // A plain GET form: the filtered view is a full page with its own address.
        <form method="get" action="/admin/audit" class="inline-form filters" aria-label="Filter the audit log">
            <label>
                "Action"
                <select name="action">
                    <option value="" selected=selected.is_none()>"All actions"</option>
                    {options}
                </select>
            </label>
            <button class="button quiet" type="submit">"Show"</button>
        </form>
    }
    .into_any()
}

#[component]
fn AuditTable(entries: Vec<AuditRow>) -> impl IntoView {
    if entries.is_empty() {
        return view! { <p class="empty">"No entries."</p> }.into_any();
    }
    let rows = entries
        .into_iter()
        .map(|entry| {
            let words = action_words(&entry.action);
            let target = match (&entry.target_text, &entry.target) {
                (Some(text), Some(raw)) => view! { <span title=raw.clone()>{text.clone()}</span> }.into_any(),
                (None, Some(raw)) => view! { <code>{raw.clone()}</code> }.into_any(),
                _ => view! { <span class="muted">"—"</span> }.into_any(),
            };
            view! {
                <tr data-action=entry.action.clone()>
                    <td><time>{format::utc_timestamp(entry.at)}</time></td>
                    <td title=entry.actor.clone()>{entry.who.clone()}</td>
                    <td>
                        {words.map(|words| view! { <span class="audit-words">{words}</span> })}
                        <code class="audit-action">{entry.action.clone()}</code>
                    </td>
                    <td>
                        {target}
                        {(!entry.details.is_empty()).then(|| view! { <span class="audit-details">{entry.details.clone()}</span> })}
                    </td>
                    <td>{entry.ip.clone().unwrap_or_else(|| "—".to_owned())}</td>
                </tr>
            }
        })
        .collect_view();
    view! {
        <div class="table-wrap">
            <table class="audit">
                <thead>
                    <tr>
                        <th scope="col">"When"</th>
                        <th scope="col">"Who"</th>
                        <th scope="col">"Action"</th>
                        <th scope="col">"Target"</th>
                        <th scope="col">"IP"</th>
                    </tr>
                </thead>
                <tbody>{rows}</tbody>
            </table>
        </div>
    }
    .into_any()
}
