//! `/admin` (Members): who is in the team and with which role, for everyone in it; inviting by
//! email with a role (emailed when SMTP is configured, and the link is shown to copy), pending
//! invitations with revoke, role changes and removal for those who manage the team. The last
//! owner can be neither demoted nor removed, and the page says so rather than offer it.
//!
//! The rules are the REST API's (`server::accounts`): `ManageTeam` invites, revokes, changes
//! roles and removes; only `ManageOwners` touches an owner or grants owner; nobody grants a
//! role above their own.

use calling::accounts::{Permission, Role};
use leptos::prelude::*;
use leptos_meta::Title;
use serde::{Deserialize, Serialize};

use super::{FieldError, FormReply, RoleSelect, ShownOnce, form_problem, grantable_roles, refusal_of};
use crate::api::{Visitor, current_visitor};
use crate::form_action::{FormAction, ServerForm};
use crate::format;
use crate::server_resource::ServerResource;

/// The team as the signed-in member may see it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Team {
    /// The signed-in member's user id (their own row says "you").
    pub me: String,
    pub role: Role,
    /// Whether they may invite, change roles and remove (`ManageTeam`).
    pub can_manage: bool,
    /// Whether they may touch owners (`ManageOwners`).
    pub can_manage_owners: bool,
    pub members: Vec<TeamMember>,
    /// Pending invitations, newest first; empty for those who do not manage the team.
    pub invitations: Vec<PendingInvitation>,
}

impl Team {
    fn owners(&self) -> usize {
        self.members.iter().filter(|member| member.role == Role::Owner).count()
    }
}

/// One member of the workspace.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TeamMember {
    pub user_id: String,
    pub email: String,
    pub display_name: String,
    pub role: Role,
    pub joined_at: i64,
}

#[cfg(feature = "ssr")]
impl From<calling::accounts::Member> for TeamMember {
    fn from(member: calling::accounts::Member) -> Self {
        let calling::accounts::Member { user_id, email, display_name, role, joined_at } = member;
        TeamMember { user_id, email, display_name, role, joined_at }
    }
}

/// An invitation nobody has accepted or revoked yet, still valid.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PendingInvitation {
    pub id: String,
    pub email: String,
    pub role: Role,
    pub created_at: i64,
    pub expires_at: i64,
}

/// A new invitation with its link, shown only in this reply.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewInvitation {
    pub email: String,
    pub role: Role,
    pub link: String,
    pub expires_at: i64,
    /// `None` without SMTP; else whether the email went out, or why not.
    pub emailed: Option<Result<(), String>>,
}

/// The team, and the pending invitations for those who manage it.
#[server(output = crate::json_text::JsonText)]
pub async fn load_team() -> Result<Team, ServerFnError> {
    use crate::api::ssr::*;
    use calling::accounts::{invitations, users};
    let services = services()?;
    let member = member(&services, Permission::ViewTeam).await?;
    let can_manage = member.role.allows(Permission::ManageTeam);
    let members = users::members(&services.db, &member.workspace.id).await.map_err(server_error)?;
    let members = members.into_iter().map(TeamMember::from).collect();
    let invitations = if can_manage {
        let now = services.clock.now();
        invitations::list(&services.db, &member.workspace.id)
            .await
            .map_err(server_error)?
            .into_iter()
            .filter(|i| i.accepted_at.is_none() && i.revoked_at.is_none() && i.expires_at > now)
            .map(|i| PendingInvitation {
                id: i.id,
                email: i.email,
                role: i.role,
                created_at: i.created_at,
                expires_at: i.expires_at,
            })
            .collect()
    } else {
        Vec::new()
    };
    Ok(Team {
        me: member.user_id,
        role: member.role,
        can_manage,
        can_manage_owners: member.role.allows(Permission::ManageOwners),
        members,
        invitations,
    })
}

/// Invites `email` with `role`; the reply carries the link to pass on (its only appearance).
#[server(output = crate::json_text::JsonText)]
pub async fn invite_member(email: String, role: String) -> Result<FormReply<NewInvitation>, ServerFnError> {
    use super::ssr::*;
    use crate::api::ssr::*;
    use calling::accounts::invitations;
    let services = services()?;
    let member = member(&services, Permission::ManageTeam).await?;
    let role = match parse_role(&role) {
        Ok(role) => role,
        Err(refused) => return Ok(refused),
    };
    check_may_grant(&member, role)?;
    let now = services.clock.now();
    let created =
        invitations::create(&services.db, &member.workspace.id, &email, role, &member.actor(), now).await;
    let (token, invitation) = match created {
        Ok(created) => created,
        Err(calling::Error::Validation { field, message }) => {
            return Ok(FormReply::Invalid { field, message });
        }
        Err(err @ calling::Error::Conflict { .. }) => {
            return Ok(FormReply::Invalid { field: "email".into(), message: err.public_message() });
        }
        Err(err) => return Err(server_error(err)),
    };
    let details = serde_json::json!({ "email": invitation.email, "role": role });
    record(&services, &member, "member.invited", &format!("invitation:{}", invitation.id), details).await?;
    let link = services.mailer.link(&base_url(), &format!("/invite?token={token}"));
    let delivery =
        invitations::email(&services.db, &services.mailer, &invitation, Some(&member.user_id), &link)
            .await
            .map_err(server_error)?;
    let emailed = match delivery {
        calling::accounts::mail::Delivery::Sent => Some(Ok(())),
        calling::accounts::mail::Delivery::NotConfigured => None,
        calling::accounts::mail::Delivery::Failed { message } => Some(Err(message)),
    };
    Ok(FormReply::Done(NewInvitation {
        email: invitation.email,
        role,
        link,
        expires_at: invitation.expires_at,
        emailed,
    }))
}

/// Withdraws a pending invitation: its link stops working.
#[server(output = crate::json_text::JsonText)]
pub async fn revoke_team_invitation(id: String) -> Result<(), ServerFnError> {
    use super::ssr::*;
    use crate::api::ssr::*;
    let services = services()?;
    let member = member(&services, Permission::ManageTeam).await?;
    calling::accounts::invitations::revoke(&services.db, &member.workspace.id, &id, services.clock.now())
        .await
        .map_err(server_error)?;
    record(&services, &member, "invitation.revoked", &format!("invitation:{id}"), serde_json::json!({})).await
}

/// Gives a member another role. Touching an owner takes `ManageOwners`; the last owner stays.
#[server(output = crate::json_text::JsonText)]
pub async fn change_member_role(user_id: String, role: String) -> Result<TeamMember, ServerFnError> {
    use super::ssr::*;
    use crate::api::ssr::*;
    use calling::accounts::users;
    let services = services()?;
    let member = member(&services, Permission::ManageTeam).await?;
    let role: Role = role.parse().map_err(server_error)?;
    let current = users::member(&services.db, &member.workspace.id, &user_id).await.map_err(server_error)?;
    check_may_grant(&member, role)?;
    if current.role == Role::Owner && !member.role.allows(Permission::ManageOwners) {
        return Err(forbidden(format!("a {} cannot change an owner's role", member.role)));
    }
    let changed =
        users::change_role(&services.db, &member.workspace.id, &user_id, role, services.clock.now())
            .await
            .map_err(server_error)?;
    let details = serde_json::json!({ "from": current.role, "to": role });
    record(&services, &member, "member.role_changed", &format!("user:{user_id}"), details).await?;
    Ok(changed.into())
}

/// Removes a member from the workspace (their sessions leave it too). Anyone may leave; the
/// last owner cannot be removed.
#[server(output = crate::json_text::JsonText)]
pub async fn remove_team_member(user_id: String) -> Result<TeamMember, ServerFnError> {
    use super::ssr::*;
    use crate::api::ssr::*;
    use calling::accounts::users;
    let services = services()?;
    let member = member(&services, Permission::ViewTeam).await?;
    let current = users::member(&services.db, &member.workspace.id, &user_id).await.map_err(server_error)?;
    if member.user_id != user_id {
        if !member.role.allows(Permission::ManageTeam) {
            return Err(forbidden(format!("your role ({}) does not allow this", member.role)));
        }
        if current.role == Role::Owner && !member.role.allows(Permission::ManageOwners) {
            return Err(forbidden(format!("a {} cannot remove an owner", member.role)));
        }
    }
    let removed =
        users::remove_member(&services.db, &member.workspace.id, &user_id).await.map_err(server_error)?;
    let details = serde_json::json!({ "email": current.email, "role": current.role });
    record(&services, &member, "member.removed", &format!("user:{user_id}"), details).await?;
    Ok(removed.into())
}

/// The Members section.
#[component]
pub fn MembersPage() -> impl IntoView {
    let invite = FormAction::<InviteMember>::new();
    let revoke = FormAction::<RevokeTeamInvitation>::new();
    let change = FormAction::<ChangeMemberRole>::new();
    let remove = FormAction::<RemoveTeamMember>::new();
    let access = ServerResource::new(|| (), |_| current_visitor());
    let team = ServerResource::new(
        move || {
            (invite.version().get(), revoke.version().get(), change.version().get(), remove.version().get())
        },
        |_| load_team(),
    );
    // Row actions live in rows the refetch replaces: the outcome of the latest one is shown
    // above the table (an effect per action, so the newest answer wins).
    let outcome = RwSignal::new(None::<Result<String, String>>);
    let report = move |result: Option<Result<String, ServerFnError>>| {
        if let Some(result) = result {
            outcome.set(Some(result.map_err(|err| crate::api::error_text(&err))));
        }
    };
    Effect::new(move || {
        report(change.value().get().map(|r| r.map(|m| format!("{} is now {}.", m.display_name, m.role))))
    });
    Effect::new(move || {
        report(
            remove
                .value()
                .get()
                .map(|r| r.map(|m| format!("{} was removed from the workspace.", m.display_name))),
        )
    });
    Effect::new(move || report(revoke.value().get().map(|r| r.map(|_| "Invitation revoked.".to_owned()))));
    let row_outcome = move || {
        outcome.get().map(|result| match result {
            Ok(message) => view! { <p class="ok" role="status">{message}</p> }.into_any(),
            Err(message) => view! { <p class="error" role="alert">{message}</p> }.into_any(),
        })
    };
    view! {
        <Title text="Team" />
        <div class="page-head">
            <h1>"Team"</h1>
        </div>
        <p class="lead">
            "Everyone who can sign in to this workspace, with what their role lets them do. Owners and admins invite people and change roles; only owners make or unmake owners."
        </p>
        <Transition fallback=|| view! { <p class="muted">"Loading the team…"</p> }>
            {move || Suspend::new(async move {
                match team.await {
                    Ok(team) => {
                        let role = team.role;
                        let read_only = (!team.can_manage).then(|| {
                            view! {
                                <p class="notice" role="note">
                                    {format!("Your role ({role}) can see the team but not change it. Ask an owner or admin to invite people or change roles.")}
                                </p>
                            }
                        });
                        view! {
                            {read_only}
                            <section class="card" aria-labelledby="members-heading">
                                <h2 id="members-heading">"Members"</h2>
                                {row_outcome}
                                <MemberTable team change remove />
                            </section>
                        }
                            .into_any()
                    }
                    Err(err) => view! { <p class="error" role="alert">{crate::api::error_text(&err)}</p> }.into_any(),
                }
            })}
        </Transition>
        // The invite form waits for the role only and is never rebuilt, so what was typed
        // survives a refused field and the new link stays shown while the lists refresh.
        <Suspense>
            {move || Suspend::new(async move {
                match access.await {
                    Ok(Visitor::SignedIn(viewer)) if viewer.role.allows(Permission::ManageTeam) => {
                        view! { <InviteForm role=viewer.role invite /> }.into_any()
                    }
                    _ => ().into_any(),
                }
            })}
        </Suspense>
        <Transition>
            {move || Suspend::new(async move {
                match team.await {
                    Ok(team) if team.can_manage => {
                        view! { <InvitationList invitations=team.invitations revoke /> }.into_any()
                    }
                    _ => ().into_any(),
                }
            })}
        </Transition>
    }
}

#[component]
fn MemberTable(
    team: Team,
    change: FormAction<ChangeMemberRole>,
    remove: FormAction<RemoveTeamMember>,
) -> impl IntoView {
    let owners = team.owners();
    let grantable = grantable_roles(team.role);
    let rows = team
        .members
        .iter()
        .map(|member| {
            let is_me = member.user_id == team.me;
            let last_owner = member.role == Role::Owner && owners == 1;
            let controls = if !team.can_manage {
                None
            } else if last_owner {
                Some(
                    view! {
                        <span class="muted last-owner">
                            "The last owner cannot be removed or demoted: make someone else owner first."
                        </span>
                    }
                    .into_any(),
                )
            } else if member.role == Role::Owner && !team.can_manage_owners {
                Some(view! { <span class="muted">"Only an owner can change an owner."</span> }.into_any())
            } else {
                Some(view! { <MemberControls member=member.clone() is_me grantable=grantable.clone() change remove /> }.into_any())
            };
            view! {
                <tr data-member=member.email.clone()>
                    <td>
                        <span class="member-name">{member.display_name.clone()}</span>
                        {is_me.then(|| view! { " " <span class="badge">"you"</span> })}
                        <span class="member-email">{member.email.clone()}</span>
                    </td>
                    <td>
                        <span class=format!("badge role role-{}", member.role.as_str())>{member.role.as_str()}</span>
                    </td>
                    <td>{format::utc_date(member.joined_at)}</td>
                    {team.can_manage.then(|| view! { <td class="member-controls">{controls}</td> })}
                </tr>
            }
        })
        .collect_view();
    view! {
        <div class="table-wrap">
            <table class="members">
                <thead>
                    <tr>
                        <th scope="col">"Member"</th>
                        <th scope="col">"Role"</th>
                        <th scope="col">"Joined"</th>
                        {team.can_manage.then(|| view! { <th scope="col">"Manage"</th> })}
                    </tr>
                </thead>
                <tbody>{rows}</tbody>
            </table>
        </div>
    }
    .into_any()
}

/// A member's role picker and Remove (with its confirmation); no Remove on one's own row —
/// leaving is not something to do by accident from a list.
#[component]
fn MemberControls(
    member: TeamMember,
    is_me: bool,
    grantable: Vec<Role>,
    change: FormAction<ChangeMemberRole>,
    remove: FormAction<RemoveTeamMember>,
) -> impl IntoView {
    let select_id = format!("role-{}", member.user_id);
    let label = format!("Role of {}", member.display_name);
    let user_id = StoredValue::new(member.user_id.clone());
    let question = format!(
        "Remove {} ({})? They lose access to this workspace at once.",
        member.display_name, member.email
    );
    let remove_control = (!is_me).then(|| {
        view! {
            <Confirm
                label="Remove"
                group_label=format!("Confirm removing {}", member.display_name)
                question
                confirm="Remove from workspace"
                pending=remove.pending().into()
                on_confirm=Callback::new(move |_| {
                    remove.dispatch_fields(&[("user_id", &user_id.get_value())]);
                })
            />
        }
    });
    view! {
        <div class="actions">
            <ServerForm action=change attr:class="row-action role-change">
                <input type="hidden" name="user_id" value=member.user_id.clone() />
                <label class="visually-hidden" for=select_id.clone()>{label}</label>
                <RoleSelect name="role" id=select_id roles=grantable selected=member.role />
                <button class="button quiet" type="submit" disabled=move || change.pending().get()>
                    "Change role"
                </button>
            </ServerForm>
            {remove_control}
        </div>
    }
    .into_any()
}

/// A destructive button that first asks: the second step says what happens and acts for real;
/// Cancel (or Escape) steps back.
#[component]
pub(super) fn Confirm(
    label: &'static str,
    group_label: String,
    question: String,
    confirm: &'static str,
    pending: Signal<bool>,
    on_confirm: Callback<()>,
) -> impl IntoView {
    let confirming = RwSignal::new(false);
    let confirm_button = NodeRef::<leptos::html::Button>::new();
    let open_button = NodeRef::<leptos::html::Button>::new();
    // Keyboard users land on the choice they just opened, and back on the button after.
    let open = move |_| {
        confirming.set(true);
        request_animation_frame(move || {
            if let Some(button) = confirm_button.get_untracked() {
                let _ = button.focus();
            }
        });
    };
    let step_back = move || {
        confirming.set(false);
        request_animation_frame(move || {
            if let Some(button) = open_button.get_untracked() {
                let _ = button.focus();
            }
        });
    };
    view! {
        <Show
            when=move || confirming.get()
            fallback=move || {
                view! {
                    <button class="button quiet" type="button" node_ref=open_button on:click=open>
                        {label}
                    </button>
                }
            }
        >
            <div
                class="confirm"
                role="group"
                aria-label=group_label.clone()
                on:keydown=move |ev| {
                    if ev.key() == "Escape" {
                        step_back();
                    }
                }
            >
                <span>{question.clone()}</span>
                <button
                    class="button danger"
                    type="button"
                    node_ref=confirm_button
                    disabled=move || pending.get()
                    on:click=move |_| on_confirm.run(())
                >
                    {confirm}
                </button>
                <button class="button quiet" type="button" on:click=move |_| step_back()>
                    "Cancel"
                </button>
            </div>
        </Show>
    }
    .into_any()
}

/// Invite by email with a role; the link appears below once the invitation exists. Built once
/// (never refetched) so what was typed survives a refused field.
#[component]
fn InviteForm(role: Role, invite: FormAction<InviteMember>) -> impl IntoView {
    let value = invite.value();
    let email_error = Signal::derive(move || value.with(|v| refusal_of(v, "email")));
    let role_error = Signal::derive(move || value.with(|v| refusal_of(v, "role")));
    let problem = move || {
        value
            .with(|v| form_problem(v, &["email", "role"]))
            .map(|message| view! { <p class="error" role="alert">{message}</p> })
    };
    let created = move || {
        value.with(|v| match v {
            Some(Ok(FormReply::Done(invitation))) => Some(invitation.clone()),
            _ => None,
        })
    };
    let form = NodeRef::<leptos::html::Form>::new();
    // Empty the email once the invitation exists, ready for the next one.
    Effect::new(move || {
        if created().is_some()
            && let Some(form) = form.get_untracked()
        {
            form.reset();
        }
    });
    view! {
        <section class="card" aria-labelledby="invite-heading">
            <h2 id="invite-heading">"Invite someone"</h2>
            <p class="muted">
                "The invitation is emailed when this install has email set up; either way you get the link to pass on yourself. It works once and expires after 7 days."
            </p>
            <ServerForm action=invite node_ref=form attr:class="admin-form">
                <div class="field">
                    <label for="invite-email">"Email"</label>
                    <input
                        id="invite-email"
                        type="email"
                        name="email"
                        required
                        autocomplete="off"
                        aria-describedby="invite-email-error"
                        aria-invalid=move || email_error.get().is_some().to_string()
                    />
                    <FieldError id="invite-email-error" message=email_error />
                </div>
                <div class="field">
                    <label for="invite-role">"Role"</label>
                    <RoleSelect
                        name="role"
                        id="invite-role".to_owned()
                        roles=grantable_roles(role)
                        selected=Role::Agent
                        described_by="invite-role-error"
                    />
                    <FieldError id="invite-role-error" message=role_error />
                </div>
                <button class="button" type="submit" disabled=move || invite.pending().get()>
                    {move || if invite.pending().get() { "Inviting…" } else { "Create invitation" }}
                </button>
            </ServerForm>
            {problem}
            {move || {
                created()
                    .map(|invitation| {
                        let label = format!("Invitation link for {} ({})", invitation.email, invitation.role);
                        let emailed = match &invitation.emailed {
                            Some(Ok(())) => Some(view! { <p class="ok" role="status">{format!("Emailed to {}.", invitation.email)}</p> }.into_any()),
                            Some(Err(why)) => Some(view! { <p class="error" role="alert">{format!("The email could not be sent ({why}); pass the link on yourself.")}</p> }.into_any()),
                            None => None,
                        };
                        view! {
                            {emailed}
                            <ShownOnce
                                id="invitation-link"
                                label
                                value=invitation.link
                                hint="Send this link to them; it is shown only now. Revoke the invitation below if it goes to the wrong person."
                            />
                        }
                    })
            }}
        </section>
    }
    .into_any()
}

#[component]
fn InvitationList(
    invitations: Vec<PendingInvitation>,
    revoke: FormAction<RevokeTeamInvitation>,
) -> impl IntoView {
    let body = if invitations.is_empty() {
        view! { <p class="empty">"No pending invitations."</p> }.into_any()
    } else {
        let rows = invitations
            .into_iter()
            .map(|invitation| {
                let id = StoredValue::new(invitation.id.clone());
                view! {
                    <tr data-invitation=invitation.email.clone()>
                        <td>{invitation.email.clone()}</td>
                        <td><span class="badge role">{invitation.role.as_str()}</span></td>
                        <td>{format::utc_timestamp(invitation.created_at)}</td>
                        <td>{format::utc_timestamp(invitation.expires_at)}</td>
                        <td>
                            <Confirm
                                label="Revoke"
                                group_label=format!("Confirm revoking the invitation for {}", invitation.email)
                                question=format!("Revoke the invitation for {}? Its link stops working.", invitation.email)
                                confirm="Revoke invitation"
                                pending=revoke.pending().into()
                                on_confirm=Callback::new(move |_| {
                                    revoke.dispatch_fields(&[("id", &id.get_value())]);
                                })
                            />
                        </td>
                    </tr>
                }
            })
            .collect_view();
        view! {
            <div class="table-wrap">
                <table class="invitations">
                    <thead>
                        <tr>
                            <th scope="col">"Email"</th>
                            <th scope="col">"Role"</th>
                            <th scope="col">"Invited"</th>
                            <th scope="col">"Expires"</th>
                            <th scope="col"><span class="visually-hidden">"Actions"</span></th>
                        </tr>
                    </thead>
                    <tbody>{rows}</tbody>
                </table>
            </div>
        }
        .into_any()
    };
    view! {
        <section class="card" aria-labelledby="invitations-heading">
            <h2 id="invitations-heading">"Pending invitations"</h2>
            {body}
        </section>
    }
    .into_any()
}
