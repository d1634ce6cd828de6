//! Switchboard's web UI: the `/calling` dashboard (and, later, the team admin panel), rendered
//! on the server and hydrated in the browser.
//!
//! Components never touch the database: they call the server functions in [`api`], which are
//! thin wrappers over `calling::…`.

pub mod api;
pub mod bridge;
pub mod form_action;
pub mod format;
pub mod json_text;
#[cfg(feature = "ssr")]
mod page_chunks;
pub mod pages;
pub mod rest;
pub mod server_resource;

use leptos::prelude::*;
use leptos_meta::{MetaTags, Stylesheet, Title, provide_meta_context};
use leptos_router::components::{ParentRoute, Redirect, Route, Router, Routes};
use leptos_router::{Lazy, LazyRoute, SsrMode, lazy_route, path};

use crate::pages::admin::{
    AdminLayout, ApiKeysPage, AuditPage, BillingPage, MembersPage, NumbersPage, RatesPage, WorkspacePage,
};
use crate::pages::auth::{AccountPage, ForgotPasswordPage, LoginPage, ResetPasswordPage, SetupPage};
use crate::pages::calling::{
    AnalyticsPage, CallDetailPage, CallHoursPage, CallingLayout, CallsPage, CheckPage, OverviewPage,
    PermissionsPage, SettingsPage, TemplateSendPage, TemplatesPage,
};
use crate::pages::invite::InvitePage;
use crate::pages::not_found::NotFound;
#[cfg(feature = "ssr")]
pub use page_chunks::PageChunks;

/// The name the build gives the WASM, JS and CSS bundles (`/pkg/switchboard.*`).
pub const OUTPUT_NAME: &str = "switchboard";

/// The HTML document around the app (server side only).
pub fn shell(options: LeptosOptions) -> impl IntoView {
    view! {
        <!DOCTYPE html>
        <html lang="en">
            <head>
                <meta charset="utf-8" />
                <meta name="viewport" content="width=device-width, initial-scale=1" />
                <meta name="color-scheme" content="light dark" />
                <link rel="icon" href="/favicon.svg" type="image/svg+xml" />
                <AutoReload options=options.clone() />
                <HydrationScripts options />
                <MetaTags />
            </head>
            <body>
                <App />
            </body>
        </html>
    }
}

/// Declares `$route`, a route whose page lives in a WASM chunk of its own, fetched when the
/// router first needs it (or preloaded by the server-rendered page that shows it): the first
/// load carries only the layouts, the answer bridge and the current page, not every page.
/// The page component itself stays an ordinary component, rendered the same on the server.
macro_rules! lazy_page {
    ($($route:ident => $page:ident),* $(,)?) => {$(
        #[doc = concat!("The lazily loaded route of [`", stringify!($page), "`].")]
        pub struct $route;

        #[lazy_route]
        impl LazyRoute for $route {
            fn data() -> Self {
                #[cfg(feature = "ssr")]
                page_chunks::preload_chunks_of(stringify!($route));
                $route
            }

            fn view(_this: Self) -> AnyView {
                view! { <$page /> }.into_any()
            }
        }
    )*};
}

lazy_page! {
    LoginRoute => LoginPage,
    SetupRoute => SetupPage,
    ForgotPasswordRoute => ForgotPasswordPage,
    ResetPasswordRoute => ResetPasswordPage,
    OverviewRoute => OverviewPage,
    CallsRoute => CallsPage,
    CallDetailRoute => CallDetailPage,
    TemplatesRoute => TemplatesPage,
    TemplateSendRoute => TemplateSendPage,
    SettingsRoute => SettingsPage,
    CallHoursRoute => CallHoursPage,
    AnalyticsRoute => AnalyticsPage,
    PermissionsRoute => PermissionsPage,
    CheckRoute => CheckPage,
    MembersRoute => MembersPage,
    NumbersRoute => NumbersPage,
    WorkspaceRoute => WorkspacePage,
    BillingRoute => BillingPage,
    RatesRoute => RatesPage,
    ApiKeysRoute => ApiKeysPage,
    AuditRoute => AuditPage,
    AccountRoute => AccountPage,
    InviteRoute => InvitePage,
}

/// The whole application: routes and the shared layout.
#[component]
pub fn App() -> impl IntoView {
    provide_meta_context();
    view! {
        <Stylesheet id="switchboard" href="/pkg/switchboard.css" />
        <Title formatter=|section: String| format!("{section} · Switchboard") />
        <Router>
            <Routes fallback=NotFound>
                <Route path=path!("/") view=|| view! { <Redirect path="/calling" /> } />
                <Route path=path!("/login") view={Lazy::<LoginRoute>::new()} ssr=SsrMode::Async />
                <Route path=path!("/setup") view={Lazy::<SetupRoute>::new()} ssr=SsrMode::Async />
                <Route path=path!("/forgot-password") view={Lazy::<ForgotPasswordRoute>::new()} />
                // The link the REST API mails (or logs in sandbox mode) for a password reset.
                <Route path=path!("/reset-password") view={Lazy::<ResetPasswordRoute>::new()} />
                // Async SSR: the first response already holds the figures, so the read-only
                // pages work without JavaScript and titles land in <head>.
                <ParentRoute path=path!("/calling") view=CallingLayout ssr=SsrMode::Async>
                    <Route path=path!("") view={Lazy::<OverviewRoute>::new()} ssr=SsrMode::Async />
                    <Route path=path!("calls") view={Lazy::<CallsRoute>::new()} ssr=SsrMode::Async />
                    <Route path=path!("calls/:id") view={Lazy::<CallDetailRoute>::new()} ssr=SsrMode::Async />
                    <Route path=path!("templates") view={Lazy::<TemplatesRoute>::new()} ssr=SsrMode::Async />
                    <Route path=path!("templates/send") view={Lazy::<TemplateSendRoute>::new()} ssr=SsrMode::Async />
                    <Route path=path!("settings") view={Lazy::<SettingsRoute>::new()} ssr=SsrMode::Async />
                    <Route path=path!("settings/hours") view={Lazy::<CallHoursRoute>::new()} ssr=SsrMode::Async />
                    <Route path=path!("analytics") view={Lazy::<AnalyticsRoute>::new()} ssr=SsrMode::Async />
                    <Route path=path!("permissions") view={Lazy::<PermissionsRoute>::new()} ssr=SsrMode::Async />
                    <Route path=path!("check") view={Lazy::<CheckRoute>::new()} ssr=SsrMode::Async />
                </ParentRoute>
                <ParentRoute path=path!("/admin") view=AdminLayout ssr=SsrMode::Async>
                    <Route path=path!("") view={Lazy::<MembersRoute>::new()} ssr=SsrMode::Async />
                    <Route path=path!("numbers") view={Lazy::<NumbersRoute>::new()} ssr=SsrMode::Async />
                    <Route path=path!("workspace") view={Lazy::<WorkspaceRoute>::new()} ssr=SsrMode::Async />
                    <Route path=path!("billing") view={Lazy::<BillingRoute>::new()} ssr=SsrMode::Async />
                    <Route path=path!("billing/rates") view={Lazy::<RatesRoute>::new()} ssr=SsrMode::Async />
                    <Route path=path!("api-keys") view={Lazy::<ApiKeysRoute>::new()} ssr=SsrMode::Async />
                    <Route path=path!("audit") view={Lazy::<AuditRoute>::new()} ssr=SsrMode::Async />
                    <Route path=path!("account") view={Lazy::<AccountRoute>::new()} ssr=SsrMode::Async />
                </ParentRoute>
                // `/accept-invitation` is the link the REST API (`POST /api/v1/invitations`) hands out.
                <Route path=path!("/invite") view={Lazy::<InviteRoute>::new()} />
                <Route path=path!("/accept-invitation") view={Lazy::<InviteRoute>::new()} />
            </Routes>
        </Router>
    }
}
