//! Pages, one module per area of the product.

pub mod admin;
pub mod auth;
pub mod calling;
pub mod invite;
pub mod not_found;

use leptos::prelude::*;
use leptos_router::components::A;

/// The links between a section's pages (`/calling/templates` and `/calling/templates/send`, …).
/// Each such page is a lazy route of its own, so it loads only its own code.
#[component]
pub fn SubPages(label: &'static str, pages: &'static [(&'static str, &'static str)]) -> impl IntoView {
    let links = pages.iter().map(|&(href, text)| view! { <A href=href exact=true>{text}</A> }).collect_view();
    view! { <nav class="tabs" aria-label=label>{links}</nav> }
}
