//! The browser entry point: hydrates the server-rendered page so it becomes interactive.

/// Called by the generated JS glue once the WASM module has loaded.
#[wasm_bindgen::prelude::wasm_bindgen]
pub fn hydrate() {
    console_error_panic_hook::set_once();
    // `hydrate_lazy`, not `hydrate_body`: the current page may live in a WASM chunk that has to
    // arrive before its server-rendered HTML can be hydrated.
    leptos::mount::hydrate_lazy(app::App);
}
