//! `/invite?token=…`: where an invited person accepts. They choose a display name and a password
//! (or, when their email already has an account, give that account's password); the form posts
//! to the REST API (`POST /api/v1/invitations/accept`), which creates the membership, writes the
//! audit entry and sets the session cookie, and the page then loads `/calling`. An invalid, used,
//! revoked or expired link says so in plain words.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;
use serde_json::{Value, json};

use crate::rest;

/// What the page says when the link cannot be used.
const BAD_LINK: &str = "This invitation link is invalid, already used, revoked or expired. Ask whoever invited you for a new one.";

#[component]
pub fn InvitePage() -> impl IntoView {
    let query = use_query_map();
    let token = query.read_untracked().get("token").filter(|token| !token.trim().is_empty());
    view! {
        <Title text="Join your team" />
        {match token {
            Some(token) => view! { <AcceptForm token /> }.into_any(),
            None => {
                view! {
                    <main class="auth">
                        <section class="card auth-card" aria-labelledby="invite-heading">
                            <p class="brand"><span class="brand-mark" aria-hidden="true">"◉"</span>"Switchboard"</p>
                            <h1 id="invite-heading">"Join your team"</h1>
                            <p class="error" role="alert">{BAD_LINK}</p>
                            <p class="muted"><a href="/login">"Sign in"</a>" if you already have an account."</p>
                        </section>
                    </main>
                }
                    .into_any()
            }
        }}
    }
}

#[component]
fn AcceptForm(token: String) -> impl IntoView {
    let hydrated = RwSignal::new(false);
    Effect::new(move || hydrated.set(true));
    let token = StoredValue::new(token);
    let display_name = RwSignal::new(String::new());
    let password = RwSignal::new(String::new());
    let pending = RwSignal::new(false);
    let error = RwSignal::new(None::<String>);
    // A dead link cannot be fixed by retyping: the form gives way to the message.
    let dead_link = RwSignal::new(false);
    let on_submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        pending.set(true);
        error.set(None);
        let name = Some(display_name.get_untracked()).filter(|name| !name.trim().is_empty());
        let body = json!({
            "token": token.get_value(),
            "display_name": name,
            "password": password.get_untracked(),
        });
        leptos::task::spawn_local(async move {
            match rest::post::<_, Value>("/api/v1/invitations/accept", &body).await {
                Ok(_) => rest::go_to("/calling"),
                Err(refusal) => {
                    if refusal.code == "invalid_token" {
                        dead_link.set(true);
                    } else {
                        error.set(Some(refusal.text()));
                    }
                    pending.set(false);
                }
            }
        });
    };
    view! {
        <main class="auth" data-hydrated=move || hydrated.get().to_string()>
            <Show
                when=move || !dead_link.get()
                fallback=|| {
                    view! {
                        <section class="card auth-card" aria-labelledby="invite-heading">
                            <p class="brand"><span class="brand-mark" aria-hidden="true">"◉"</span>"Switchboard"</p>
                            <h1 id="invite-heading">"Join your team"</h1>
                            <p class="error" role="alert">{BAD_LINK}</p>
                            <p class="muted"><a href="/login">"Sign in"</a>" if you already have an account."</p>
                        </section>
                    }
                }
            >
                <form class="card auth-card" on:submit=on_submit aria-labelledby="invite-heading">
                    <p class="brand"><span class="brand-mark" aria-hidden="true">"◉"</span>"Switchboard"</p>
                    <h1 id="invite-heading">"Join your team"</h1>
                    <p class="muted">"You were invited to a Switchboard workspace. Choose how you appear to your teammates and a password to sign in with."</p>
                    <label>
                        "Your name"
                        <input type="text" name="display_name" autocomplete="name" maxlength="80" bind:value=display_name />
                    </label>
                    <label>
                        "Password"
                        <input type="password" name="password" autocomplete="new-password" required bind:value=password aria-describedby="invite-password-hint" />
                        <span class="hint" id="invite-password-hint">
                            "At least 12 characters. Already have an account with this email? Enter its password instead."
                        </span>
                    </label>
                    {move || error.get().map(|message| view! { <p class="error" role="alert">{message}</p> })}
                    <button class="button" type="submit" disabled=move || pending.get()>
                        {move || if pending.get() { "Joining…" } else { "Join the workspace" }}
                    </button>
                </form>
            </Show>
        </main>
    }
}
