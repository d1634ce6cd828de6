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
use leptos_router::{Lazy, LazyRoute, SsrMode, lazy_route, path};

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
                preload_chunks_of(stringify!($route));
                $route
            }

            fn view(_this: Self) -> AnyView {
                view! { <$page /> }.into_any()
            }
        }
    )*};
}

/// Which WASM chunks each page needs: the splitter's `pkg/page-chunks.json` (split point →
/// chunks; see tools/wasm-split), read once by the server and provided to every page render.
#[cfg(feature = "ssr")]
#[derive(Clone, Debug, Default)]
pub struct PageChunks {
    by_split_point: std::sync::Arc<std::collections::HashMap<String, Vec<String>>>,
    /// The split points one page render has linked already: the router makes a route's data
    /// more than once per render, and each link belongs in `<head>` once.
    linked: std::sync::Arc<std::sync::Mutex<std::collections::HashSet<String>>>,
}

#[cfg(feature = "ssr")]
impl PageChunks {
    /// The manifest under `site_root`; empty when there is none (a build without split points).
    pub fn read(site_root: &str) -> Self {
        let path = std::path::Path::new(site_root).join("pkg/page-chunks.json");
        let manifest = std::fs::read_to_string(path).ok().and_then(|text| serde_json::from_str(&text).ok());
        Self { by_split_point: std::sync::Arc::new(manifest.unwrap_or_default()), linked: Default::default() }
    }

    /// The same manifest, for one more page render.
    pub fn for_one_render(&self) -> Self {
        Self { by_split_point: self.by_split_point.clone(), linked: Default::default() }
    }
}

/// Server side: puts `<link rel="preload">`s for the chunks of `route`'s page into the page's
/// `<head>`, so the browser fetches them alongside the main module rather than after it.
///
/// Leptos would add them itself from a manifest named `__wasm_split_manifest.json`, but only
/// once the lazy view has run, which under async rendering sometimes came after `<head>` was
/// settled (a third of page loads here). Links from `leptos_meta` are collected from the whole
/// page before `<head>` is written. The split point is found by the name Leptos gives the view of
/// `#[lazy_route] impl LazyRoute for OverviewRoute`: `__overview_route_view_<hash>`.
#[cfg(feature = "ssr")]
fn preload_chunks_of(route: &str) {
    use leptos_meta::Link;

    let Some(page_chunks) = use_context::<PageChunks>() else {
        return;
    };
    let mut view = String::from("__");
    for (index, letter) in route.chars().enumerate() {
        if letter.is_uppercase() && index > 0 {
            view.push('_');
        }
        view.extend(letter.to_lowercase());
    }
    view.push_str("_view_");
    let Some((split_point, chunks)) =
        page_chunks.by_split_point.iter().find(|(split_point, _)| split_point.starts_with(&view))
    else {
        return;
    };
    let first_time =
        page_chunks.linked.lock().map(|mut linked| linked.insert(split_point.clone())).unwrap_or(false);
    if !first_time {
        return;
    }
    // As Leptos writes them (the nonce doubles as `crossorigin`, which then means anonymous).
    let nonce = leptos::nonce::use_nonce().map(|nonce| nonce.to_string()).unwrap_or_default();
    for chunk in chunks {
        let _ = view! {
            <Link rel="preload" href=format!("/pkg/{chunk}.wasm") as_="fetch" type_="application/wasm"
                crossorigin=nonce.clone() />
        }
        .to_html();
    }
    let _ = view! {
        <Link rel="modulepreload" href="/pkg/__wasm_split.______________________.js" crossorigin=nonce />
    }
    .to_html();
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
    SettingsRoute => SettingsPage,
    AnalyticsRoute => AnalyticsPage,
    PermissionsRoute => PermissionsPage,
    CheckRoute => CheckPage,
    MembersRoute => MembersPage,
    NumbersRoute => NumbersPage,
    WorkspaceRoute => WorkspacePage,
    BillingRoute => BillingPage,
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
                    <Route path=path!("settings") view={Lazy::<SettingsRoute>::new()} ssr=SsrMode::Async />
                    <Route path=path!("analytics") view={Lazy::<AnalyticsRoute>::new()} ssr=SsrMode::Async />
                    <Route path=path!("permissions") view={Lazy::<PermissionsRoute>::new()} ssr=SsrMode::Async />
                    <Route path=path!("check") view={Lazy::<CheckRoute>::new()} ssr=SsrMode::Async />
                </ParentRoute>
                <ParentRoute path=path!("/admin") view=AdminLayout ssr=SsrMode::Async>
                    <Route path=path!("") view={Lazy::<MembersRoute>::new()} ssr=SsrMode::Async />
                    <Route path=path!("numbers") view={Lazy::<NumbersRoute>::new()} ssr=SsrMode::Async />
                    <Route path=path!("workspace") view={Lazy::<WorkspaceRoute>::new()} ssr=SsrMode::Async />
                    <Route path=path!("billing") view={Lazy::<BillingRoute>::new()} ssr=SsrMode::Async />
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
