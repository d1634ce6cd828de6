//! The `/calling` dashboard: the shared layout and one module per section.

mod analytics;
mod calls;
mod overview;
mod permissions;
mod sections;

pub use analytics::AnalyticsPage;
pub use calls::{CallDetailPage, CallsPage, CallsTable};
pub use overview::OverviewPage;
pub use permissions::PermissionsPage;
pub use sections::{SettingsPage, TemplatesPage};

use leptos::prelude::*;
use leptos_router::components::{A, Outlet};

/// The sections of `/calling`, in navigation order: (path, label).
pub const SECTIONS: [(&str, &str); 6] = [
    ("/calling", "Overview"),
    ("/calling/calls", "Calls"),
    ("/calling/templates", "Templates"),
    ("/calling/settings", "Settings"),
    ("/calling/analytics", "Analytics"),
    ("/calling/permissions", "Permissions"),
];

/// Header, section navigation and the current section.
///
/// `data-hydrated` flips to `true` once the WASM has taken over the page; browser tests wait
/// for it before clicking, because a click before hydration is lost.
#[component]
pub fn CallingLayout() -> impl IntoView {
    let hydrated = RwSignal::new(false);
    Effect::new(move || hydrated.set(true));
    view! {
        <div class="app" data-hydrated=move || hydrated.get().to_string()>
            <header class="topbar">
                <a class="brand" href="/calling">
                    <span class="brand-mark" aria-hidden="true">"◉"</span>
                    "Switchboard"
                </a>
                <nav class="sections" aria-label="Calling sections">
                    {SECTIONS
                        .into_iter()
                        .map(|(href, label)| {
                            view! {
                                <A href=href exact=true>
                                    {label}
                                </A>
                            }
                        })
                        .collect_view()}
                </nav>
            </header>
            <main class="content" id="main">
                <Outlet />
            </main>
        </div>
    }
}
