//! Signing in and the signed-in person's account: `/login`; `/setup`, where the install's first
//! owner creates their account; `/forgot-password` and `/reset-password?token=…`; the "Your
//! account" page (change password, sign out everywhere); and the top bar's account corner with
//! the workspace switcher.
//!
//! Every form here posts to the REST API (`/api/v1/login`, `/setup`, `/password/reset`,
//! `/password/reset/confirm`, `/password`, `/session/workspace`, `/logout…`), so its rate
//! limits, CSRF rule, cookies and audit entries are the API's; after signing in the page loads
//! where the visitor wanted to go (`?next=`, same-site paths only). New passwords are checked as
//! they are typed by the policy the server applies (`calling::accounts::password_policy`).

use calling::accounts::password_policy;
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::components::Redirect;
use leptos_router::hooks::{use_location, use_query_map};
use serde_json::{Value, json};

use crate::api::{Viewer, Visitor, current_visitor};
use crate::rest;
use crate::server_resource::ServerResource;

/// The `?next=` of the current page, made safe to follow.
fn next_page() -> Memo<String> {
    let query = use_query_map();
    Memo::new(move |_| rest::safe_next(query.read().get("next")))
}

/// `data-hydrated` on the auth pages, as on the dashboard: tests wait for it before typing.
fn hydrated_flag() -> RwSignal<bool> {
    let hydrated = RwSignal::new(false);
    Effect::new(move || hydrated.set(true));
    hydrated
}

/// Posts `body` to `path` and, when the API accepts it, loads `next`; a refusal is shown.
fn submit(
    path: &'static str,
    body: Value,
    next: String,
    pending: RwSignal<bool>,
    error: RwSignal<Option<String>>,
) {
    pending.set(true);
    error.set(None);
    leptos::task::spawn_local(async move {
        match rest::post::<_, Value>(path, &body).await {
            Ok(_) => rest::go_to(&next),
            Err(refusal) => {
                error.set(Some(refusal.text()));
                pending.set(false);
            }
        }
    });
}

#[component]
pub fn LoginPage() -> impl IntoView {
    let visitor = ServerResource::new(|| (), |_| current_visitor());
    let next = next_page();
    view! {
        <Title text="Sign in" />
        <Suspense>
            {move || Suspend::new(async move {
                match visitor.await {
                    Ok(Visitor::SignedIn(_)) => view! { <Redirect path=next.get_untracked() /> }.into_any(),
                    Ok(Visitor::SignedOut { setup_needed: true }) => view! { <Redirect path="/setup" /> }.into_any(),
                    Ok(Visitor::SignedOut { .. }) => view! { <LoginForm next /> }.into_any(),
                    Err(err) => view! { <p class="error" role="alert">{crate::api::error_text(&err)}</p> }.into_any(),
                }
            })}
        </Suspense>
    }
}

#[component]
fn LoginForm(next: Memo<String>) -> impl IntoView {
    let hydrated = hydrated_flag();
    let email = RwSignal::new(String::new());
    let password = RwSignal::new(String::new());
    let pending = RwSignal::new(false);
    let error = RwSignal::new(None::<String>);
    let on_submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let body = json!({ "email": email.get_untracked(), "password": password.get_untracked() });
        submit("/api/v1/login", body, next.get_untracked(), pending, error);
    };
    view! {
        <main class="auth" data-hydrated=move || hydrated.get().to_string()>
            <form class="card auth-card" on:submit=on_submit aria-labelledby="login-heading">
                <p class="brand"><span class="brand-mark" aria-hidden="true">"◉"</span>"Switchboard"</p>
                <h1 id="login-heading">"Sign in"</h1>
                <label>
                    "Email"
                    <input type="email" name="email" autocomplete="username" required bind:value=email />
                </label>
                <label>
                    "Password"
                    <input type="password" name="password" autocomplete="current-password" required bind:value=password />
                </label>
                {move || error.get().map(|message| view! { <p class="error" role="alert">{message}</p> })}
                <button class="button" type="submit" disabled=move || pending.get()>
                    {move || if pending.get() { "Signing in…" } else { "Sign in" }}
                </button>
                <p class="muted"><a href="/forgot-password">"Forgot password?"</a></p>
            </form>
        </main>
    }
}

#[component]
pub fn SetupPage() -> impl IntoView {
    let visitor = ServerResource::new(|| (), |_| current_visitor());
    view! {
        <Title text="Set up Switchboard" />
        <Suspense>
            {move || Suspend::new(async move {
                match visitor.await {
                    Ok(Visitor::SignedOut { setup_needed: true }) => view! { <SetupForm /> }.into_any(),
                    Ok(Visitor::SignedIn(_)) => view! { <Redirect path="/calling" /> }.into_any(),
                    Ok(Visitor::SignedOut { .. }) => view! { <Redirect path="/login" /> }.into_any(),
                    Err(err) => view! { <p class="error" role="alert">{crate::api::error_text(&err)}</p> }.into_any(),
                }
            })}
        </Suspense>
    }
}

#[component]
fn SetupForm() -> impl IntoView {
    let hydrated = hydrated_flag();
    let display_name = RwSignal::new(String::new());
    let email = RwSignal::new(String::new());
    let password = RwSignal::new(String::new());
    let workspace = RwSignal::new(String::new());
    let pending = RwSignal::new(false);
    let error = RwSignal::new(None::<String>);
    let on_submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let workspace_name = Some(workspace.get_untracked()).filter(|name| !name.trim().is_empty());
        let body = json!({
            "display_name": display_name.get_untracked(),
            "email": email.get_untracked(),
            "password": password.get_untracked(),
            "workspace_name": workspace_name,
        });
        submit("/api/v1/setup", body, "/calling".to_owned(), pending, error);
    };
    view! {
        <main class="auth" data-hydrated=move || hydrated.get().to_string()>
            <form class="card auth-card" on:submit=on_submit aria-labelledby="setup-heading">
                <p class="brand"><span class="brand-mark" aria-hidden="true">"◉"</span>"Switchboard"</p>
                <h1 id="setup-heading">"Set up Switchboard"</h1>
                <p class="muted">"Create the owner account. You can invite your team once you are in."</p>
                <label>
                    "Your name"
                    <input type="text" name="display_name" autocomplete="name" required bind:value=display_name />
                </label>
                <label>
                    "Email"
                    <input type="email" name="email" autocomplete="username" required bind:value=email />
                </label>
                <label>
                    "Password"
                    <input type="password" name="password" autocomplete="new-password" required bind:value=password />
                    <span class="hint">"At least 12 characters."</span>
                </label>
                <label>
                    "Workspace name"
                    <input type="text" name="workspace_name" placeholder="My workspace" bind:value=workspace />
                </label>
                {move || error.get().map(|message| view! { <p class="error" role="alert">{message}</p> })}
                <button class="button" type="submit" disabled=move || pending.get()>
                    {move || if pending.get() { "Creating…" } else { "Create the owner account" }}
                </button>
            </form>
        </main>
    }
}

/// Renders `signed_in` for a signed-in member; sends anyone else to `/login` (or `/setup` on a
/// fresh install), from where they come back to the page they asked for. Every members-only
/// layout goes through here.
pub fn require_sign_in(
    signed_in: impl Fn(Viewer) -> AnyView + Copy + Send + Sync + 'static,
) -> impl IntoView {
    let visitor = ServerResource::new(|| (), |_| current_visitor());
    let location = use_location();
    view! {
        <Suspense>
            {move || Suspend::new(async move {
                match visitor.await {
                    Ok(Visitor::SignedIn(viewer)) => signed_in(viewer),
                    Ok(Visitor::SignedOut { setup_needed: true }) => view! { <Redirect path="/setup" /> }.into_any(),
                    Ok(Visitor::SignedOut { .. }) => {
                        // `search` comes without its "?".
                        let (path, search) = (location.pathname.get_untracked(), location.search.get_untracked());
                        let here = if search.is_empty() { path } else { format!("{path}?{search}") };
                        view! { <Redirect path=format!("/login?next={}", encode_query_value(&here)) /> }.into_any()
                    }
                    Err(err) => view! { <p class="error" role="alert">{crate::api::error_text(&err)}</p> }.into_any(),
                }
            })}
        </Suspense>
    }
}

/// Percent-encodes a path for a query value (no JS needed, so it works during SSR).
fn encode_query_value(raw: &str) -> String {
    raw.bytes()
        .map(|byte| match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' | b'/' => {
                (byte as char).to_string()
            }
            other => format!("%{other:02X}"),
        })
        .collect()
}

/// Signs out through the REST API and leaves for `/login`, whatever the answer (an expired
/// session is signed out already). `pending` shows while it runs.
pub fn sign_out(pending: RwSignal<bool>) {
    pending.set(true);
    leptos::task::spawn_local(async move {
        let _ = rest::post::<_, Value>("/api/v1/logout", &json!({})).await;
        rest::go_to("/login");
    });
}

/// The card every signed-out page sits in: the brand, a heading, then `children`.
#[component]
fn AuthCard(heading_id: &'static str, heading: &'static str, children: Children) -> impl IntoView {
    view! {
        <p class="brand"><span class="brand-mark" aria-hidden="true">"◉"</span>"Switchboard"</p>
        <h1 id=heading_id>{heading}</h1>
        {children()}
    }
}

/// The neutral answer to a reset request: the same whether or not the email has an account.
const RESET_REQUESTED: &str = "If an account uses this email, a link to choose a new password is on its way. \
                               It works once, for an hour. Nothing arrived? Check the spam folder, or ask an owner of your workspace.";

/// `/forgot-password`: asks for the email and always gives the same answer (the REST endpoint
/// is rate-limited per email and per address, and says so when the limit is hit).
#[component]
pub fn ForgotPasswordPage() -> impl IntoView {
    let hydrated = hydrated_flag();
    let email = RwSignal::new(String::new());
    let pending = RwSignal::new(false);
    let error = RwSignal::new(None::<String>);
    let sent = RwSignal::new(false);
    let on_submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        pending.set(true);
        error.set(None);
        let body = json!({ "email": email.get_untracked() });
        leptos::task::spawn_local(async move {
            match rest::post::<_, Value>("/api/v1/password/reset", &body).await {
                Ok(_) => sent.set(true),
                Err(refusal) => error.set(Some(refusal.text())),
            }
            pending.set(false);
        });
    };
    view! {
        <Title text="Forgot password" />
        <main class="auth" data-hydrated=move || hydrated.get().to_string()>
            <form class="card auth-card" on:submit=on_submit aria-labelledby="forgot-heading">
                <AuthCard heading_id="forgot-heading" heading="Forgot your password?">
                    <p class="muted">"Give the email you sign in with, and we will send it a link to choose a new password."</p>
                    <label>
                        "Email"
                        <input type="email" name="email" autocomplete="username" required bind:value=email />
                    </label>
                    {move || error.get().map(|message| view! { <p class="error" role="alert">{message}</p> })}
                    {move || sent.get().then(|| view! { <p class="ok" role="status">{RESET_REQUESTED}</p> })}
                    <button class="button" type="submit" disabled=move || pending.get()>
                        {move || if pending.get() { "Sending…" } else { "Send the reset link" }}
                    </button>
                    <p class="muted"><a href="/login">"Back to sign in"</a></p>
                </AuthCard>
            </form>
        </main>
    }
}

/// What the reset page says when its link cannot be used.
const DEAD_RESET_LINK: &str = "This reset link is invalid, already used or expired. Ask for a new one.";

/// The problem with a new password and its repetition, by the server's policy; `None` when
/// both are fine or nothing is typed yet.
fn new_password_problem(password: &str, repeated: &str) -> Option<String> {
    if password.is_empty() {
        return None;
    }
    if let Err(err) = password_policy::check_policy(password) {
        return Some(err.to_string().replace("password: ", "The password "));
    }
    (!repeated.is_empty() && repeated != password).then(|| "The two passwords differ.".to_owned())
}

/// A new password typed twice, with the rules shown and checked as you type.
#[component]
fn NewPasswordFields(
    password: RwSignal<String>,
    repeated: RwSignal<String>,
    /// A refusal from the server about the new password.
    refused: RwSignal<Option<String>>,
) -> impl IntoView {
    let problem = move || refused.get().or_else(|| new_password_problem(&password.get(), &repeated.get()));
    view! {
        <label>
            "New password"
            <input
                type="password"
                name="new_password"
                autocomplete="new-password"
                required
                bind:value=password
                aria-describedby="new-password-rules new-password-error"
                aria-invalid=move || problem().is_some().to_string()
            />
            <span class="hint" id="new-password-rules">{password_policy::rules_text()}</span>
        </label>
        <label>
            "Repeat the new password"
            <input type="password" name="repeat_password" autocomplete="new-password" required bind:value=repeated />
        </label>
        <span class="field-error" id="new-password-error">{problem}</span>
    }
}

/// `/reset-password?token=…`: the link from the reset email (or the sandbox log). A new
/// password twice; success ends every session and sends the person to sign in.
#[component]
pub fn ResetPasswordPage() -> impl IntoView {
    let hydrated = hydrated_flag();
    let query = use_query_map();
    let token = query.read_untracked().get("token").filter(|token| !token.trim().is_empty());
    let dead_link = RwSignal::new(token.is_none());
    let token = StoredValue::new(token.unwrap_or_default());
    let password = RwSignal::new(String::new());
    let repeated = RwSignal::new(String::new());
    let refused = RwSignal::new(None::<String>);
    let error = RwSignal::new(None::<String>);
    let pending = RwSignal::new(false);
    let done = RwSignal::new(false);
    Effect::new(move || {
        // A retyped password replaces the server's last word on the old one.
        password.track();
        refused.set(None);
    });
    let on_submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let (new_password, again) = (password.get_untracked(), repeated.get_untracked());
        if new_password != again {
            error.set(Some("The two passwords differ.".into()));
            return;
        }
        pending.set(true);
        error.set(None);
        let body = json!({ "token": token.get_value(), "new_password": new_password });
        leptos::task::spawn_local(async move {
            match rest::post::<_, Value>("/api/v1/password/reset/confirm", &body).await {
                Ok(_) => done.set(true),
                Err(refusal) if refusal.code == "invalid_token" => dead_link.set(true),
                Err(refusal) if refusal.field.is_some() => refused.set(Some(refusal.text())),
                Err(refusal) => error.set(Some(refusal.text())),
            }
            pending.set(false);
        });
    };
    view! {
        <Title text="Choose a new password" />
        <main class="auth" data-hydrated=move || hydrated.get().to_string()>
            {move || {
                if done.get() {
                    view! {
                        <section class="card auth-card" aria-labelledby="reset-heading">
                            <AuthCard heading_id="reset-heading" heading="Password changed">
                                <p class="ok" role="status">"Your new password is set, and every session of your account was signed out."</p>
                                <a class="button" href="/login">"Sign in"</a>
                            </AuthCard>
                        </section>
                    }
                        .into_any()
                } else if dead_link.get() {
                    view! {
                        <section class="card auth-card" aria-labelledby="reset-heading">
                            <AuthCard heading_id="reset-heading" heading="Choose a new password">
                                <p class="error" role="alert">{DEAD_RESET_LINK}</p>
                                <p class="muted"><a href="/forgot-password">"Send me a new link"</a></p>
                            </AuthCard>
                        </section>
                    }
                        .into_any()
                } else {
                    view! {
                        <form class="card auth-card" on:submit=on_submit aria-labelledby="reset-heading">
                            <AuthCard heading_id="reset-heading" heading="Choose a new password">
                                <NewPasswordFields password repeated refused />
                                {move || error.get().map(|message| view! { <p class="error" role="alert">{message}</p> })}
                                <button class="button" type="submit" disabled=move || pending.get()>
                                    {move || if pending.get() { "Saving…" } else { "Set the new password" }}
                                </button>
                            </AuthCard>
                        </form>
                    }
                        .into_any()
                }
            }}
        </main>
    }
}

/// `/admin/account`: the signed-in person's own account — change the password (other sessions
/// end), sign out everywhere.
#[component]
pub fn AccountPage() -> impl IntoView {
    view! {
        <Title text="Your account" />
        <div class="page-head">
            <h1>"Your account"</h1>
        </div>
        <ChangePasswordForm />
        <SignOutEverywhere />
    }
}

#[component]
fn ChangePasswordForm() -> impl IntoView {
    let current = RwSignal::new(String::new());
    let password = RwSignal::new(String::new());
    let repeated = RwSignal::new(String::new());
    let current_refused = RwSignal::new(None::<String>);
    let refused = RwSignal::new(None::<String>);
    let outcome = RwSignal::new(None::<Result<String, String>>);
    let pending = RwSignal::new(false);
    Effect::new(move || {
        password.track();
        refused.set(None);
    });
    Effect::new(move || {
        current.track();
        current_refused.set(None);
    });
    let on_submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let (new_password, again) = (password.get_untracked(), repeated.get_untracked());
        if new_password != again {
            outcome.set(Some(Err("The two passwords differ.".into())));
            return;
        }
        pending.set(true);
        outcome.set(None);
        let body = json!({ "current_password": current.get_untracked(), "new_password": new_password });
        leptos::task::spawn_local(async move {
            match rest::post::<_, Value>("/api/v1/password", &body).await {
                Ok(_) => {
                    for field in [current, password, repeated] {
                        field.set(String::new());
                    }
                    outcome.set(Some(Ok(
                        "Password changed. Your other sessions were signed out; this one stays.".into(),
                    )));
                }
                Err(refusal) => match refusal.field.as_deref() {
                    Some("current_password") => current_refused.set(Some(refusal.text())),
                    Some(_) => refused.set(Some(refusal.text())),
                    None => outcome.set(Some(Err(refusal.text()))),
                },
            }
            pending.set(false);
        });
    };
    view! {
        <section class="card" aria-labelledby="password-heading">
            <h2 id="password-heading">"Change your password"</h2>
            <form class="admin-form stacked" on:submit=on_submit>
                <label>
                    "Current password"
                    <input
                        type="password"
                        name="current_password"
                        autocomplete="current-password"
                        required
                        bind:value=current
                        aria-describedby="current-password-error"
                        aria-invalid=move || current_refused.get().is_some().to_string()
                    />
                </label>
                <span class="field-error" id="current-password-error">{move || current_refused.get()}</span>
                <NewPasswordFields password repeated refused />
                <button class="button" type="submit" disabled=move || pending.get()>
                    {move || if pending.get() { "Saving…" } else { "Change password" }}
                </button>
            </form>
            {move || {
                outcome.get().map(|result| match result {
                    Ok(message) => view! { <p class="ok" role="status">{message}</p> }.into_any(),
                    Err(message) => view! { <p class="error" role="alert">{message}</p> }.into_any(),
                })
            }}
        </section>
    }
}

#[component]
fn SignOutEverywhere() -> impl IntoView {
    let pending = RwSignal::new(false);
    let sign_out_everywhere = move |_| {
        pending.set(true);
        leptos::task::spawn_local(async move {
            let _ = rest::post::<_, Value>("/api/v1/logout-everywhere", &json!({})).await;
            rest::go_to("/login");
        });
    };
    view! {
        <section class="card" aria-labelledby="sessions-heading">
            <h2 id="sessions-heading">"Sessions"</h2>
            <p class="muted">"Lost a laptop or signed in on a shared computer? End every session of your account, this one included."</p>
            <button class="button quiet" type="button" on:click=sign_out_everywhere disabled=move || pending.get()>
                "Sign out everywhere"
            </button>
        </section>
    }
}

/// The top bar's account corner on every signed-in page: who is signed in, in which workspace
/// and role — a switcher when they belong to several — their account page, and sign out.
#[component]
pub fn AccountMenu(viewer: Viewer) -> impl IntoView {
    let signing_out = RwSignal::new(false);
    let switching = RwSignal::new(false);
    let error = RwSignal::new(None::<String>);
    let location = use_location();
    let role = viewer.role;
    let where_ = if viewer.workspaces.len() > 1 {
        let current = viewer.workspace_id.clone();
        let on_change = move |ev: leptos::ev::Event| {
            let workspace_id = event_target_value(&ev);
            let here = section_of(&location.pathname.get_untracked());
            switch_workspace(workspace_id, here, switching, error);
        };
        let options = viewer
            .workspaces
            .into_iter()
            .map(|choice| {
                let selected = choice.id == current;
                view! { <option value=choice.id selected=selected>{format!("{} · {}", choice.name, choice.role)}</option> }
            })
            .collect_view();
        view! {
            <select
                class="who-workspace workspace-switcher"
                name="workspace"
                aria-label="Switch workspace"
                on:change=on_change
                disabled=move || switching.get()
            >
                {options}
            </select>
        }
        .into_any()
    } else {
        view! { <span class="who-workspace">{viewer.workspace} " · " {role.to_string()}</span> }.into_any()
    };
    view! {
        <span class="who">
            <span class="who-name">{viewer.display_name}</span>
            {where_}
            {move || error.get().map(|message| view! { <span class="field-error" role="alert">{message}</span> })}
        </span>
        <a class="quiet-link" href="/admin/account">"Your account"</a>
        <button class="button quiet" type="button" on:click=move |_| sign_out(signing_out) disabled=move || signing_out.get()>
            "Sign out"
        </button>
    }
}

/// The section a path belongs to (`/calling/calls/ID` → `/calling/calls`): after a switch the
/// page reloads there, since an id of the old workspace means nothing in the new one.
fn section_of(path: &str) -> String {
    let section: Vec<&str> = path.split('/').filter(|part| !part.is_empty()).take(2).collect();
    if section.is_empty() { "/calling".to_owned() } else { format!("/{}", section.join("/")) }
}

/// Moves this session to another of the person's workspaces (`POST /api/v1/session/workspace`)
/// and reloads `then` acting in it.
fn switch_workspace(
    workspace_id: String,
    then: String,
    pending: RwSignal<bool>,
    error: RwSignal<Option<String>>,
) {
    pending.set(true);
    error.set(None);
    leptos::task::spawn_local(async move {
        match rest::post::<_, Value>("/api/v1/session/workspace", &json!({ "workspace_id": workspace_id }))
            .await
        {
            Ok(_) => rest::go_to(&then),
            Err(refusal) => {
                error.set(Some(refusal.text()));
                pending.set(false);
            }
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_switch_reloads_the_section_not_an_id_of_the_old_workspace() {
        assert_eq!(section_of("/calling/calls/0190-abc"), "/calling/calls");
        assert_eq!(section_of("/admin"), "/admin");
        assert_eq!(section_of("/admin/api-keys"), "/admin/api-keys");
        assert_eq!(section_of("/"), "/calling");
    }

    #[test]
    fn new_passwords_are_checked_as_typed() {
        assert_eq!(new_password_problem("", ""), None);
        assert!(new_password_problem("short", "").unwrap().contains("at least 12 characters"));
        assert!(new_password_problem("password1234", "").unwrap().contains("too common"));
        assert_eq!(
            new_password_problem("violet-harbour-42", "violet"),
            Some("The two passwords differ.".into())
        );
        assert_eq!(new_password_problem("violet-harbour-42", "violet-harbour-42"), None);
    }
}
