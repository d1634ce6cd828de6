//! The sections whose data arrives with later work: each is a real route with its title and
//! says plainly what it will hold, so the navigation is complete from day one.

use leptos::prelude::*;
use leptos_meta::Title;

#[component]
fn Section(title: &'static str, lead: &'static str, empty: &'static str) -> impl IntoView {
    view! {
        <Title text=title />
        <div class="page-head">
            <h1>{title}</h1>
        </div>
        <p class="lead">{lead}</p>
        <section class="card">
            <p class="empty">{empty}</p>
        </section>
    }
}

#[component]
pub fn SettingsPage() -> impl IntoView {
    view! {
        <Section
            title="Settings"
            lead="Per number: whether calling is on, when the call icon shows, your business hours and callback permission."
            empty="No WhatsApp number connected yet."
        />
    }
}
