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
//!
//! The loader is Leptos' own with its module loaders replaced (see [`first_load`]): the first
//! page's modules come in one file, which `switchboard-wasm-split first-load PKG_DIR` writes
//! once the modules are final (after `wasm-opt`).

mod first_load;

use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// The loader's name as Leptos 0.8 spells it when `hash_files` is off.
const LOADER: &str = "./__wasm_split.______________________.js";
const MANIFEST: &str = "page-chunks.json";
/// The JS glue `wasm-bindgen --out-name switchboard` writes; the loader imports it.
const MAIN_MODULE: &str = "./switchboard.js";

fn main() -> ExitCode {
    let args: Vec<PathBuf> = std::env::args_os().skip(1).map(PathBuf::from).collect();
    let done = match args.as_slice() {
        [command, pkg_dir] if command.as_os_str() == "first-load" => write_first_loads(pkg_dir)
            .map(|files| format!("wrote the first load of {files} pages into {}", pkg_dir.display())),
        [input, pkg_dir, main_out] => split(input, pkg_dir, main_out)
            .map(|chunks| format!("split {} into its main module and {chunks} chunks", input.display())),
        _ => {
            eprintln!(
                "usage: switchboard-wasm-split INPUT.wasm PKG_DIR MAIN_OUT.wasm\n       switchboard-wasm-split first-load PKG_DIR"
            );
            return ExitCode::from(2);
        }
    };
    match done {
        Ok(report) => {
            eprintln!("{report}");
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
    let manifest: first_load::Manifest = split.prefetch_map.into_iter().collect();
    std::fs::write(pkg_dir.join(MANIFEST), serde_json::to_string_pretty(&manifest)?)?;
    let loader = pkg_dir.join(LOADER);
    let generated = std::fs::read_to_string(&loader)?;
    std::fs::write(&loader, first_load::loader(&generated, &manifest)?)?;
    Ok(split.split_modules.len())
}

/// Writes each page's first-load file from the modules in `pkg_dir` and its manifest.
fn write_first_loads(pkg_dir: &Path) -> Result<usize, Box<dyn std::error::Error>> {
    let manifest: first_load::Manifest =
        serde_json::from_str(&std::fs::read_to_string(pkg_dir.join(MANIFEST))?)?;
    Ok(first_load::write_files(pkg_dir, &manifest)?)
}
