//! `/admin/workspace`: the workspace's profile — its name, which the team sees in the top bar,
//! the workspace switcher and the emails Switchboard sends. Everyone in the workspace reads it;
//! owners and admins (`ChangeSettings`) rename it, audited as `workspace.updated` like the REST
//! API's `PUT /api/v1/workspace`.

use calling::accounts::Role;
use leptos::prelude::*;
use leptos_meta::Title;
use serde::{Deserialize, Serialize};

use super::{FieldError, FormReply, form_problem, refusal_of};
use crate::form_action::{FormAction, ServerForm};
use crate::format;
use crate::server_resource::ServerResource;

/// The profile as the signed-in member sees it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct WorkspaceProfile {
    pub id: String,
    pub name: String,
    pub created_at: i64,
    pub role: Role,
    /// Whether they may rename it (`ChangeSettings`).
    pub can_change: bool,
}

/// The current workspace's profile.
#[server(output = crate::json_text::JsonText)]
pub async fn load_workspace_profile() -> Result<WorkspaceProfile, ServerFnError> {
    use crate::api::ssr::*;
    let services = services()?;
    let member = member(&services, Permission::ViewTeam).await?;
    Ok(WorkspaceProfile {
        id: member.workspace.id,
        name: member.workspace.name,
        created_at: member.workspace.created_at,
        role: member.role,
        can_change: member.role.allows(Permission::ChangeSettings),
    })
}

/// Renames the current workspace; the reply is the name as stored (trimmed).
#[server(output = crate::json_text::JsonText)]
pub async fn rename_workspace(name: String) -> Result<FormReply<String>, ServerFnError> {
    use super::ssr::record;
    use crate::api::ssr::*;
    let services = services()?;
    let member = member(&services, Permission::ChangeSettings).await?;
    let (workspace, before) =
        match calling::workspace::rename(&services.db, &member.workspace.id, &name).await {
            Ok(renamed) => renamed,
            Err(calling::Error::Validation { field, message }) => {
                return Ok(FormReply::Invalid { field, message });
            }
            Err(err) => return Err(server_error(err)),
        };
    if before != workspace.name {
        let details = serde_json::json!({ "name": { "from": before, "to": workspace.name } });
        record(&services, &member, "workspace.updated", &format!("workspace:{}", workspace.id), details)
            .await?;
    }
    Ok(FormReply::Done(workspace.name))
}

/// The Workspace section.
#[component]
pub fn WorkspacePage() -> impl IntoView {
    let rename = FormAction::<RenameWorkspace>::new();
    let profile = ServerResource::new(|| (), |_| load_workspace_profile());
    view! {
        <Title text="Workspace" />
        <div class="page-head">
            <h1>"Workspace"</h1>
        </div>
        <Suspense fallback=|| view! { <p class="muted">"Loading the workspace…"</p> }>
            {move || Suspend::new(async move {
                match profile.await {
                    Ok(profile) => view! { <ProfileCard profile rename /> }.into_any(),
                    Err(err) => view! { <p class="error" role="alert">{crate::api::error_text(&err)}</p> }.into_any(),
                }
            })}
        </Suspense>
    }
}

#[component]
fn ProfileCard(profile: WorkspaceProfile, rename: FormAction<RenameWorkspace>) -> impl IntoView {
    let value = rename.value();
    let name_error = Signal::derive(move || value.with(|v| refusal_of(v, "name")));
    let problem = move || {
        value
            .with(|v| form_problem(v, &["name"]))
            .map(|message| view! { <p class="error" role="alert">{message}</p> })
    };
    let saved = move || {
        value.with(|v| match v {
            Some(Ok(FormReply::Done(name))) => Some(view! {
                <p class="ok" role="status">
                    {format!("Saved. The workspace is now called {name}; the team sees the new name on their next page load.")}
                </p>
            }),
            _ => None,
        })
    };
    let name = profile.name.clone();
    let editor = if profile.can_change {
        view! {
            <ServerForm action=rename attr:class="admin-form">
                <div class="field">
                    <label for="workspace-name">"Name"</label>
                    <input
                        id="workspace-name"
                        type="text"
                        name="name"
                        required
                        maxlength="80"
                        value=name
                        autocomplete="organization"
                        aria-describedby="workspace-name-error"
                        aria-invalid=move || name_error.get().is_some().to_string()
                    />
                    <FieldError id="workspace-name-error" message=name_error />
                </div>
                <button class="button" type="submit" disabled=move || rename.pending().get()>
                    {move || if rename.pending().get() { "Saving…" } else { "Save" }}
                </button>
            </ServerForm>
            {problem}
            {saved}
        }
        .into_any()
    } else {
        view! {
            <p class="notice" role="note">
                {format!("Your role ({}) can see the workspace's profile but not change it.", profile.role)}
            </p>
        }
        .into_any()
    };
    view! {
        <section class="card" aria-labelledby="profile-heading">
            <h2 id="profile-heading">"Profile"</h2>
            <dl class="facts">
                <dt>"Name"</dt>
                <dd class="workspace-name">{profile.name.clone()}</dd>
                <dt>"Created"</dt>
                <dd>{format::utc_timestamp(profile.created_at)}</dd>
                <dt>"Workspace id"</dt>
                <dd><code>{profile.id.clone()}</code></dd>
            </dl>
            {editor}
        </section>
    }
}
