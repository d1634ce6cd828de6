//! Signing in: `/login`, and `/setup` where the install's first owner creates their account.
//! Both post to the REST API (`/api/v1/login`, `/api/v1/setup`), which sets the session cookie,
//! then load the page the visitor wanted (`?next=`, same-site paths only).

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::components::Redirect;
use leptos_router::hooks::{use_location, use_query_map};
use serde_json::{Value, json};

use crate::api::{Viewer, Visitor, current_visitor};
use crate::rest;

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
    let visitor = Resource::new(|| (), |_| current_visitor());
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
                <p class="muted">"Forgot your password? Ask an owner of your workspace to send you a reset link."</p>
            </form>
        </main>
    }
}

#[component]
pub fn SetupPage() -> impl IntoView {
    let visitor = Resource::new(|| (), |_| current_visitor());
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
    let visitor = Resource::new(|| (), |_| current_visitor());
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
