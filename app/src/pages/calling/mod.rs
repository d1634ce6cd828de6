//! The `/calling` dashboard: the shared layout and one module per section.

mod analytics;
mod calls;
mod check;
mod overview;
mod permissions;
pub mod settings;
pub mod templates;

pub use analytics::AnalyticsPage;
pub use calls::{CallDetailPage, CallsPage, CallsTable};
pub use check::CheckPage;
pub use overview::OverviewPage;
pub use permissions::PermissionsPage;
pub use settings::{CallHoursPage, SettingsPage};
pub use templates::{TemplateSendPage, TemplatesPage};

use leptos::prelude::*;
use leptos_router::components::{A, Outlet};

use crate::api::Viewer;
use crate::bridge::{AvailabilityToggle, Bridge, CallBridge};

/// The sections of `/calling`, in navigation order: (path, label).
pub const SECTIONS: [(&str, &str); 6] = [
    ("/calling", "Overview"),
    ("/calling/calls", "Calls"),
    ("/calling/templates", "Templates"),
    ("/calling/settings", "Settings"),
    ("/calling/analytics", "Analytics"),
    ("/calling/permissions", "Permissions"),
];

/// Header, section navigation and the current section — for signed-in members only: anyone
/// else is sent to `/login` (or `/setup` on a fresh install) and comes back here after.
///
/// `data-hydrated` flips to `true` once the WASM has taken over the page; browser tests wait
/// for it before clicking, because a click before hydration is lost.
#[component]
pub fn CallingLayout() -> impl IntoView {
    crate::pages::auth::require_sign_in(|viewer| view! { <SignedInLayout viewer /> }.into_any())
}

#[component]
fn SignedInLayout(viewer: Viewer) -> impl IntoView {
    use calling::accounts::Permission;
    Bridge::provide(
        viewer.role.allows(Permission::AnswerCalls),
        viewer.role.allows(Permission::PlaceCalls),
        viewer.user_id.clone(),
    );
    // Pages below decide which controls to show by the member's role (the server checks again).
    provide_context(viewer.clone());
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
                            // A section with pages of its own stays marked on all of them.
                            view! {
                                <A href=href exact=href == "/calling">
                                    {label}
                                </A>
                            }
                        })
                        .collect_view()}
                </nav>
                <div class="account" aria-label="Account">
                    <AvailabilityToggle />
                    <a class="quiet-link" href="/calling/check">"Audio check"</a>
                    <a class="button quiet" href="/admin">"Team"</a>
                    <crate::pages::auth::AccountMenu viewer />
                </div>
            </header>
            <main class="content" id="main">
                <Outlet />
            </main>
            <CallBridge />
        </div>
    }
}
