//! `/admin/api-keys`: the workspace's API keys for the REST API and the CLI — create one with a
//! name and a role (the key is shown once, to copy), see each key's prefix, role and last use,
//! revoke after confirming. `ManageApiKeys` only, as `/api/v1/api-keys`; a key never gets a role
//! above its creator's.

use calling::accounts::{Permission, Role};
use leptos::prelude::*;
use leptos_meta::Title;
use serde::{Deserialize, Serialize};

use super::members::Confirm;
use super::{
    FieldError, FormReply, RoleSelect, ShownOnce, action_error, form_problem, grantable_roles, refusal_of,
};
use crate::api::{Visitor, current_visitor};
use crate::form_action::{FormAction, ServerForm};
use crate::format;
use crate::server_resource::ServerResource;

/// A key as the list shows it (never its secret).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyRow {
    pub id: String,
    pub name: String,
    pub role: Role,
    /// `sb_live_<prefix>`, enough to recognise a key.
    pub prefix: String,
    pub created_at: i64,
    pub last_used_at: Option<i64>,
    pub revoked_at: Option<i64>,
}

/// The keys and the signed-in member's role (which decides the roles a new key may get).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyList {
    pub role: Role,
    pub keys: Vec<KeyRow>,
}

/// A new key, in full: this reply is the only time it exists outside the caller's hands.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CreatedKey {
    pub key: String,
    pub row: KeyRow,
}

#[cfg(feature = "ssr")]
impl From<calling::accounts::api_keys::ApiKey> for KeyRow {
    fn from(key: calling::accounts::api_keys::ApiKey) -> Self {
        KeyRow {
            id: key.id,
            name: key.name,
            role: key.role,
            prefix: key.prefix,
            created_at: key.created_at,
            last_used_at: key.last_used_at,
            revoked_at: key.revoked_at,
        }
    }
}

/// The workspace's keys, newest first, revoked ones included.
#[server(output = crate::json_text::JsonText)]
pub async fn list_admin_api_keys() -> Result<KeyList, ServerFnError> {
    use crate::api::ssr::*;
    let services = services()?;
    let member = member(&services, Permission::ManageApiKeys).await?;
    let keys =
        calling::accounts::api_keys::list(&services.db, &member.workspace.id).await.map_err(server_error)?;
    Ok(KeyList { role: member.role, keys: keys.into_iter().map(KeyRow::from).collect() })
}

/// Creates a key named `name` acting as `role`.
#[server(output = crate::json_text::JsonText)]
pub async fn create_admin_api_key(
    name: String,
    role: String,
) -> Result<FormReply<CreatedKey>, ServerFnError> {
    use super::ssr::*;
    use crate::api::ssr::*;
    let services = services()?;
    let member = member(&services, Permission::ManageApiKeys).await?;
    let role = match parse_role(&role) {
        Ok(role) => role,
        Err(refused) => return Ok(refused),
    };
    check_may_grant(&member, role)?;
    let now = services.clock.now();
    let created = calling::accounts::api_keys::create(
        &services.db,
        &member.workspace.id,
        &name,
        role,
        &member.actor(),
        now,
    )
    .await;
    let (key, api_key) = match created {
        Ok(created) => created,
        Err(calling::Error::Validation { field, message }) => {
            return Ok(FormReply::Invalid { field, message });
        }
        Err(err) => return Err(server_error(err)),
    };
    let details = serde_json::json!({ "name": api_key.name, "role": role, "prefix": api_key.prefix });
    record(&services, &member, "api_key.created", &format!("api_key:{}", api_key.id), details).await?;
    Ok(FormReply::Done(CreatedKey { key, row: api_key.into() }))
}

/// Revokes a key at once: requests with it are refused from now on.
#[server(output = crate::json_text::JsonText)]
pub async fn revoke_admin_api_key(id: String) -> Result<KeyRow, ServerFnError> {
    use super::ssr::*;
    use crate::api::ssr::*;
    let services = services()?;
    let member = member(&services, Permission::ManageApiKeys).await?;
    let key =
        calling::accounts::api_keys::revoke(&services.db, &member.workspace.id, &id, services.clock.now())
            .await
            .map_err(server_error)?;
    record(&services, &member, "api_key.revoked", &format!("api_key:{id}"), serde_json::json!({})).await?;
    Ok(key.into())
}

/// The API keys section.
#[component]
pub fn ApiKeysPage() -> impl IntoView {
    let create = FormAction::<CreateAdminApiKey>::new();
    let revoke = FormAction::<RevokeAdminApiKey>::new();
    let access = ServerResource::new(|| (), |_| current_visitor());
    let keys = ServerResource::new(
        move || (create.version().get(), revoke.version().get()),
        |_| list_admin_api_keys(),
    );
    let row_outcome = move || {
        if let Some(message) = action_error(&revoke) {
            return Some(view! { <p class="error" role="alert">{message}</p> }.into_any());
        }
        revoke.value().with(|value| match value {
            Some(Ok(key)) => Some(
                view! { <p class="ok" role="status">{format!("Revoked {}: requests with it are refused now.", key.name)}</p> }
                    .into_any(),
            ),
            _ => None,
        })
    };
    view! {
        <Title text="API keys" />
        <div class="page-head">
            <h1>"API keys"</h1>
        </div>
        <p class="lead">
            "Keys let scripts and integrations use the REST API as this workspace: send "
            <code>"Authorization: Bearer <key>"</code>
            ". Each key acts with the role it was given; revoke a key the moment it may have leaked."
        </p>
        // The form waits for the role only and is never rebuilt, so a refused name stays typed.
        <Suspense>
            {move || Suspend::new(async move {
                match access.await {
                    Ok(Visitor::SignedIn(viewer)) if viewer.role.allows(Permission::ManageApiKeys) => {
                        view! { <CreateKeyForm role=viewer.role create /> }.into_any()
                    }
                    _ => ().into_any(),
                }
            })}
        </Suspense>
        <section class="card" aria-labelledby="keys-heading">
            <h2 id="keys-heading">"Keys"</h2>
            {row_outcome}
            <Transition fallback=|| view! { <p class="muted">"Loading keys…"</p> }>
                {move || Suspend::new(async move {
                    match keys.await {
                        Ok(list) if list.keys.is_empty() => {
                            view! { <p class="empty">"No API keys yet. Create one above."</p> }.into_any()
                        }
                        Ok(list) => view! { <KeyTable keys=list.keys revoke /> }.into_any(),
                        Err(err) => view! { <p class="error" role="alert">{crate::api::error_text(&err)}</p> }.into_any(),
                    }
                })}
            </Transition>
        </section>
    }
}

#[component]
fn CreateKeyForm(role: Role, create: FormAction<CreateAdminApiKey>) -> impl IntoView {
    let value = create.value();
    let name_error = Signal::derive(move || value.with(|v| refusal_of(v, "name")));
    let role_error = Signal::derive(move || value.with(|v| refusal_of(v, "role")));
    let problem = move || {
        value
            .with(|v| form_problem(v, &["name", "role"]))
            .map(|message| view! { <p class="error" role="alert">{message}</p> })
    };
    let created = move || {
        value.with(|v| match v {
            Some(Ok(FormReply::Done(created))) => Some(created.clone()),
            _ => None,
        })
    };
    let form = NodeRef::<leptos::html::Form>::new();
    Effect::new(move || {
        if created().is_some()
            && let Some(form) = form.get_untracked()
        {
            form.reset();
        }
    });
    view! {
        <section class="card" aria-labelledby="new-key-heading">
            <h2 id="new-key-heading">"Create a key"</h2>
            <ServerForm action=create node_ref=form attr:class="admin-form">
                <div class="field">
                    <label for="key-name">"Name"</label>
                    <input
                        id="key-name"
                        type="text"
                        name="name"
                        required
                        maxlength="80"
                        placeholder="CRM integration"
                        autocomplete="off"
                        aria-describedby="key-name-error"
                        aria-invalid=move || name_error.get().is_some().to_string()
                    />
                    <FieldError id="key-name-error" message=name_error />
                </div>
                <div class="field">
                    <label for="key-role">"Role"</label>
                    <RoleSelect
                        name="role"
                        id="key-role".to_owned()
                        roles=grantable_roles(role)
                        selected=Role::Viewer
                        described_by="key-role-error"
                    />
                    <FieldError id="key-role-error" message=role_error />
                </div>
                <button class="button" type="submit" disabled=move || create.pending().get()>
                    {move || if create.pending().get() { "Creating…" } else { "Create key" }}
                </button>
            </ServerForm>
            {problem}
            {move || {
                created()
                    .map(|created| {
                        view! {
                            <ShownOnce
                                id="new-api-key"
                                label=format!("New key “{}” ({})", created.row.name, created.row.role)
                                value=created.key
                                hint="Copy it now and keep it somewhere safe: it will not be shown again."
                            />
                        }
                    })
            }}
        </section>
    }
    .into_any()
}

#[component]
fn KeyTable(keys: Vec<KeyRow>, revoke: FormAction<RevokeAdminApiKey>) -> impl IntoView {
    let rows = keys
        .into_iter()
        .map(|key| {
            let status = match key.revoked_at {
                Some(at) => view! { <span class="badge revoked">"Revoked " {format::utc_timestamp(at)}</span> }.into_any(),
                None => view! { <span class="badge active">"Active"</span> }.into_any(),
            };
            let action = key.revoked_at.is_none().then(|| {
                let id = StoredValue::new(key.id.clone());
                view! {
                    <Confirm
                        label="Revoke"
                        group_label=format!("Confirm revoking {}", key.name)
                        question=format!("Revoke {} ({})? Anything using it stops working at once.", key.name, key.prefix)
                        confirm="Revoke key"
                        pending=revoke.pending().into()
                        on_confirm=Callback::new(move |_| {
                            revoke.dispatch_fields(&[("id", &id.get_value())]);
                        })
                    />
                }
            });
            view! {
                <tr data-key=key.name.clone()>
                    <td class="key-name">{key.name.clone()}</td>
                    <td><code>{key.prefix.clone()} "_…"</code></td>
                    <td><span class=format!("badge role role-{}", key.role.as_str())>{key.role.as_str()}</span></td>
                    <td>{format::utc_timestamp(key.created_at)}</td>
                    <td>{key.last_used_at.map(format::utc_timestamp).unwrap_or_else(|| "Never".to_owned())}</td>
                    <td>{status}</td>
                    <td>{action}</td>
                </tr>
            }
        })
        .collect_view();
    view! {
        <div class="table-wrap">
            <table class="api-keys">
                <thead>
                    <tr>
                        <th scope="col">"Name"</th>
                        <th scope="col">"Key"</th>
                        <th scope="col">"Role"</th>
                        <th scope="col">"Created"</th>
                        <th scope="col">"Last used"</th>
                        <th scope="col">"Status"</th>
                        <th scope="col"><span class="visually-hidden">"Actions"</span></th>
                    </tr>
                </thead>
                <tbody>{rows}</tbody>
            </table>
        </div>
    }
    .into_any()
}
