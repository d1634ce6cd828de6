//! Pages, one module per area of the product.

pub mod admin;
pub mod auth;
pub mod calling;
pub mod invite;
pub mod not_found;

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::components::A;

/// The head of a section made of several pages (`/calling/templates` and
/// `/calling/templates/send`, …): the title, the section's lead and the links between its pages.
/// Each such page is a lazy route of its own, so it loads only its own code.
#[component]
pub fn SectionHead(
    title: &'static str,
    lead: &'static str,
    /// (path, label) of each page, in order.
    pages: &'static [(&'static str, &'static str)],
) -> impl IntoView {
    let links = pages.iter().map(|&(href, text)| view! { <A href=href exact=true>{text}</A> }).collect_view();
    view! {
        <Title text=title />
        <div class="page-head">
            <h1>{title}</h1>
        </div>
        <p class="lead">{lead}</p>
        <nav class="tabs" aria-label=title>{links}</nav>
    }
}
