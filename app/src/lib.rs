//! Switchboard's web UI: the `/calling` dashboard (and, later, the team admin panel), rendered
//! on the server and hydrated in the browser.
//!
//! Components never touch the database: they call the server functions in [`api`], which are
//! thin wrappers over `calling::…`.

pub mod api;
pub mod bridge;
pub mod format;
pub mod pages;
pub mod rest;

use leptos::prelude::*;
use leptos_meta::{MetaTags, Stylesheet, Title, provide_meta_context};
use leptos_router::components::{ParentRoute, Redirect, Route, Router, Routes};
use leptos_router::{SsrMode, path};

use crate::pages::admin::{
    AdminLayout, ApiKeysPage, AuditPage, BillingPage, MembersPage, NumbersPage, WorkspacePage,
};
use crate::pages::auth::{AccountPage, ForgotPasswordPage, LoginPage, ResetPasswordPage, SetupPage};
use crate::pages::calling::{
    AnalyticsPage, CallDetailPage, CallingLayout, CallsPage, CheckPage, OverviewPage, PermissionsPage,
    SettingsPage, TemplatesPage,
};
use crate::pages::invite::InvitePage;
use crate::pages::not_found::NotFound;

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
                <Route path=path!("/login") view=LoginPage ssr=SsrMode::Async />
                <Route path=path!("/setup") view=SetupPage ssr=SsrMode::Async />
                <Route path=path!("/forgot-password") view=ForgotPasswordPage />
                // The link the REST API mails (or logs in sandbox mode) for a password reset.
                <Route path=path!("/reset-password") view=ResetPasswordPage />
                // Async SSR: the first response already holds the figures, so the read-only
                // pages work without JavaScript and titles land in <head>.
                <ParentRoute path=path!("/calling") view=CallingLayout ssr=SsrMode::Async>
                    <Route path=path!("") view=OverviewPage ssr=SsrMode::Async />
                    <Route path=path!("calls") view=CallsPage ssr=SsrMode::Async />
                    <Route path=path!("calls/:id") view=CallDetailPage ssr=SsrMode::Async />
                    <Route path=path!("templates") view=TemplatesPage ssr=SsrMode::Async />
                    <Route path=path!("settings") view=SettingsPage ssr=SsrMode::Async />
                    <Route path=path!("analytics") view=AnalyticsPage ssr=SsrMode::Async />
                    <Route path=path!("permissions") view=PermissionsPage ssr=SsrMode::Async />
                    <Route path=path!("check") view=CheckPage ssr=SsrMode::Async />
                </ParentRoute>
                <ParentRoute path=path!("/admin") view=AdminLayout ssr=SsrMode::Async>
                    <Route path=path!("") view=MembersPage ssr=SsrMode::Async />
                    <Route path=path!("numbers") view=NumbersPage ssr=SsrMode::Async />
                    <Route path=path!("workspace") view=WorkspacePage ssr=SsrMode::Async />
                    <Route path=path!("billing") view=BillingPage ssr=SsrMode::Async />
                    <Route path=path!("api-keys") view=ApiKeysPage ssr=SsrMode::Async />
                    <Route path=path!("audit") view=AuditPage ssr=SsrMode::Async />
                    <Route path=path!("account") view=AccountPage ssr=SsrMode::Async />
                </ParentRoute>
                // `/accept-invitation` is the link the REST API (`POST /api/v1/invitations`) hands out.
                <Route path=path!("/invite") view=InvitePage />
                <Route path=path!("/accept-invitation") view=InvitePage />
            </Routes>
        </Router>
    }
}
