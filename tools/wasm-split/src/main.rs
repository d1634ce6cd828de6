//! `switchboard-wasm-split INPUT.wasm PKG_DIR MAIN_OUT.wasm`: cuts the browser bundle at the
//! split points Leptos' `#[lazy_route]` leaves in it (one per page), so the first load carries
//! the layouts, the answer bridge and the current page only.
//!
//! It does what `cargo leptos --split` does: the chunks, the loader
//! `__wasm_split.______________________.js` (the name Leptos expects when file hashing is off;
//! the underscores stand for a hash we do not use) and `page-chunks.json` (which chunks each
//! split point needs) go into `PKG_DIR`; the main module goes to `MAIN_OUT.wasm`, for
//! `wasm-bindgen` to process as before. The input must be linked with `--emit-relocs`
//! (`.cargo/config.toml`).
//!
//! The manifest is not named `__wasm_split_manifest.json`, as cargo-leptos names it: from that
//! name Leptos writes its own preload links, and only when a page's lazy view has run before
//! `<head>` is settled, which under async rendering is a race. The app writes them from
//! `page-chunks.json` instead (`app::PageChunks`), for every page.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// The loader's name as Leptos 0.8 spells it when `hash_files` is off.
const LOADER: &str = "./__wasm_split.______________________.js";
const MANIFEST: &str = "page-chunks.json";
/// The JS glue `wasm-bindgen --out-name switchboard` writes; the loader imports it.
const MAIN_MODULE: &str = "./switchboard.js";

fn main() -> ExitCode {
    let args: Vec<PathBuf> = std::env::args_os().skip(1).map(PathBuf::from).collect();
    let [input, pkg_dir, main_out] = args.as_slice() else {
        eprintln!("usage: switchboard-wasm-split INPUT.wasm PKG_DIR MAIN_OUT.wasm");
        return ExitCode::from(2);
    };
    match split(input, pkg_dir, main_out) {
        Ok(chunks) => {
            eprintln!("split {} into its main module and {chunks} chunks", input.display());
            ExitCode::SUCCESS
        }
        Err(error) => {
            eprintln!("switchboard-wasm-split: {error:#}");
            ExitCode::FAILURE
        }
    }
}

fn split(input: &Path, pkg_dir: &Path, main_out: &Path) -> Result<usize, Box<dyn std::error::Error>> {
    let input_wasm = std::fs::read(input)?;
    std::fs::create_dir_all(pkg_dir)?;
    let mut options = wasm_split_cli_support::Options::new(&input_wasm);
    options.output_dir = pkg_dir;
    options.main_out_path = main_out;
    options.link_name = LOADER;
    options.main_module = MAIN_MODULE;
    let split = wasm_split_cli_support::transform(options).map_err(|e| format!("{e:?}"))?;
    std::fs::write(pkg_dir.join(MANIFEST), serde_json::to_string_pretty(&split.prefetch_map)?)?;
    Ok(split.split_modules.len())
}
