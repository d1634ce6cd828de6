//! Server side of the per-page WASM chunks: which chunks each page needs, and the
//! `<link rel="preload">`s that let a server-rendered page fetch them alongside the main module.

use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::sync::{Arc, Mutex};

use leptos::prelude::*;
use leptos_meta::Link;

/// Which WASM chunks each page needs: the splitter's `pkg/page-chunks.json` (split point →
/// chunks; see tools/wasm-split), read once by the server and provided to every page render.
#[derive(Clone, Debug, Default)]
pub struct PageChunks {
    by_split_point: Arc<HashMap<String, Vec<String>>>,
    /// The split points one page render has linked already: the router makes a route's data
    /// more than once per render, and each link belongs in `<head>` once.
    linked: Arc<Mutex<HashSet<String>>>,
}

impl PageChunks {
    /// The manifest under `site_root`; empty when there is none (a build without split points).
    pub fn read(site_root: &str) -> Self {
        let path = Path::new(site_root).join("pkg/page-chunks.json");
        let manifest = std::fs::read_to_string(path).ok().and_then(|text| serde_json::from_str(&text).ok());
        Self { by_split_point: Arc::new(manifest.unwrap_or_default()), linked: Default::default() }
    }

    /// The same manifest, for one more page render.
    pub fn for_one_render(&self) -> Self {
        Self { by_split_point: self.by_split_point.clone(), linked: Default::default() }
    }
}

/// Server side: puts a `<link rel="preload">` for the chunks of `route`'s page (all in one file,
/// `page_<split point>.bin`) into the page's `<head>`, so the browser fetches them alongside the
/// main module rather than after it.
///
/// Leptos would add them itself from a manifest named `__wasm_split_manifest.json`, but only
/// once the lazy view has run, which under async rendering sometimes came after `<head>` was
/// settled (a third of page loads here). Links from `leptos_meta` are collected from the whole
/// page before `<head>` is written. The split point is found by the name Leptos gives the view of
/// `#[lazy_route] impl LazyRoute for OverviewRoute`: `__overview_route_view_<hash>`.
pub(crate) fn preload_chunks_of(route: &str) {
    let Some(page_chunks) = use_context::<PageChunks>() else {
        return;
    };
    let view = split_point_prefix(route);
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
    // The loader fetches the first page's chunks in one file (tools/wasm-split/src/first_load.rs).
    if !chunks.is_empty() {
        let _ = view! {
            <Link rel="preload" href=format!("/pkg/page_{split_point}.bin") as_="fetch" crossorigin=nonce.clone() />
        }
        .to_html();
    }
    let _ = view! {
        <Link rel="modulepreload" href="/pkg/__wasm_split.______________________.js" crossorigin=nonce />
    }
    .to_html();
}

/// `ApiKeysRoute` → `__api_keys_route_view_`: the split point of the route's lazy view, up to
/// the hash Leptos appends.
fn split_point_prefix(route: &str) -> String {
    let mut view = String::from("__");
    for (index, letter) in route.chars().enumerate() {
        if letter.is_uppercase() && index > 0 {
            view.push('_');
        }
        view.extend(letter.to_lowercase());
    }
    view.push_str("_view_");
    view
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_route_finds_its_split_point_by_leptos_name() {
        assert_eq!(split_point_prefix("OverviewRoute"), "__overview_route_view_");
        assert_eq!(split_point_prefix("ApiKeysRoute"), "__api_keys_route_view_");
    }
}
