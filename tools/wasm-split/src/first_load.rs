//! A page's first load in one file: every module a page's split point needs, in one
//! `page_<split point>.bin`, which the loader fetches when the first page is hydrated.
//!
//! Why: the splitter gives a page up to ~180 small modules. Gzipped one by one, each starts
//! with an empty dictionary, so what they share (the same imports, the same patterns of
//! Leptos' generic code) is paid for in every file; gzipped as one response, a page's modules
//! take 14–29 % less. Later pages still fetch only the modules they miss, one file each, as
//! Leptos' loader does: most of what they need is loaded by then.
//!
//! The file is a plain container, read by the loader this module also writes:
//! `SBWM`, then per module a `u16` (little-endian) name length, the name (the module's file
//! stem) and a `u32` byte length followed by the module's bytes.

use std::collections::BTreeMap;
use std::path::Path;

/// The container's first four bytes.
const MAGIC: &[u8; 4] = b"SBWM";

/// split point → the file stems of the modules it needs (the splitter's `prefetch_map`).
pub type Manifest = BTreeMap<String, Vec<String>>;

/// The file holding the first load of `split_point`.
pub fn file_name(split_point: &str) -> String {
    format!("page_{split_point}.bin")
}

/// Puts `modules` (file stem, bytes) in one container.
pub fn encode(modules: &[(&str, &[u8])]) -> Result<Vec<u8>, String> {
    let mut out = MAGIC.to_vec();
    for (name, bytes) in modules {
        let name_len = u16::try_from(name.len()).map_err(|_| format!("module name {name:?} is too long"))?;
        let len = u32::try_from(bytes.len()).map_err(|_| format!("module {name} is over 4 GiB"))?;
        out.extend_from_slice(&name_len.to_le_bytes());
        out.extend_from_slice(name.as_bytes());
        out.extend_from_slice(&len.to_le_bytes());
        out.extend_from_slice(bytes);
    }
    Ok(out)
}

/// Reads a container back, as the loader does in the browser: the format's reference, for the
/// tests.
#[cfg(test)]
pub fn decode(bytes: &[u8]) -> Result<Vec<(String, Vec<u8>)>, String> {
    fn take<'a>(rest: &mut &'a [u8], count: usize) -> Result<&'a [u8], String> {
        if rest.len() < count {
            return Err("the file ends inside a module".into());
        }
        let (head, tail) = rest.split_at(count);
        *rest = tail;
        Ok(head)
    }
    let mut rest = bytes.strip_prefix(MAGIC).ok_or("not a first-load file")?;
    let mut modules = Vec::new();
    while !rest.is_empty() {
        let name_len = u16::from_le_bytes(take(&mut rest, 2)?.try_into().expect("two bytes")) as usize;
        let name = String::from_utf8(take(&mut rest, name_len)?.to_vec())
            .map_err(|_| "a module name is not UTF-8")?;
        let len = u32::from_le_bytes(take(&mut rest, 4)?.try_into().expect("four bytes")) as usize;
        modules.push((name, take(&mut rest, len)?.to_vec()));
    }
    Ok(modules)
}

/// Writes `page_<split point>.bin` into `pkg_dir` for every split point that needs a module,
/// from the module files there; returns how many it wrote.
pub fn write_files(pkg_dir: &Path, manifest: &Manifest) -> Result<usize, String> {
    let mut written = 0;
    for (split_point, stems) in manifest {
        if stems.is_empty() {
            continue;
        }
        let mut modules = Vec::with_capacity(stems.len());
        for stem in stems {
            let path = pkg_dir.join(format!("{stem}.wasm"));
            let bytes = std::fs::read(&path).map_err(|error| format!("{}: {error}", path.display()))?;
            modules.push((stem.as_str(), bytes));
        }
        // Smallest first: similar small modules end up side by side, within gzip's 32 KB
        // window of each other (the billing page's file is ~3 % smaller than in manifest order).
        modules.sort_by_key(|(stem, bytes)| (bytes.len(), *stem));
        let modules: Vec<(&str, &[u8])> =
            modules.iter().map(|(stem, bytes)| (*stem, bytes.as_slice())).collect();
        let path = pkg_dir.join(file_name(split_point));
        std::fs::write(&path, encode(&modules)?).map_err(|error| format!("{}: {error}", path.display()))?;
        written += 1;
    }
    Ok(written)
}

/// The loader's own part, after what it keeps of the generated one (see [`loader`]).
const LOADER_TAIL: &str = r#"
// Switchboard (tools/wasm-split/src/first_load.rs): the first page's modules come in one file,
// page_<split point>.bin; a page shown later fetches the modules it misses one by one.
const modules = new Map();
function remember(stem, instantiating) {
    modules.set(stem, instantiating);
    // A failed load is forgotten, so that the next attempt fetches the module again.
    instantiating.catch(() => {
        if (modules.get(stem) === instantiating) modules.delete(stem);
    });
    return instantiating;
}
function loadModule(stem) {
    return modules.get(stem) ?? remember(stem, WebAssembly.instantiateStreaming(
        fetch(new URL(`./${stem}.wasm`, import.meta.url)), getSharedImports()));
}
async function loadFirstLoad(splitPoint) {
    const file = `page_${splitPoint}.bin`;
    const response = await fetch(new URL(`./${file}`, import.meta.url));
    if (!response.ok) throw new Error(`${file}: HTTP ${response.status}`);
    const bytes = new Uint8Array(await response.arrayBuffer());
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    if (String.fromCharCode(...bytes.subarray(0, 4)) !== "SBWM") throw new Error(`${file}: not a first-load file`);
    const text = new TextDecoder();
    let at = 4;
    while (at < bytes.length) {
        const nameLength = view.getUint16(at, true);
        const stem = text.decode(bytes.subarray(at + 2, at + 2 + nameLength));
        at += 2 + nameLength;
        const length = view.getUint32(at, true);
        at += 4;
        if (at + length > bytes.length) throw new Error(`${file}: ends inside ${stem}`);
        const module = bytes.subarray(at, at + length);
        at += length;
        if (!modules.has(stem)) remember(stem, WebAssembly.instantiate(module, getSharedImports()));
    }
}
let firstLoad = true;
async function loadSplitPoint(splitPoint, stems) {
    const first = firstLoad && stems.length > 0 && stems.every((stem) => !modules.has(stem));
    firstLoad = false;
    if (first) {
        // Should the file fail, the modules are fetched one by one below.
        await loadFirstLoad(splitPoint).catch((error) => console.warn("Switchboard: first load:", error));
    }
    await Promise.all(stems.map(loadModule));
}
"#;

/// The export through which the main module asks for `split_point`'s modules.
fn loader_export(split_point: &str) -> String {
    format!("__wasm_split_load_{split_point}")
}

/// The loader for `manifest`: the splitter's `generated` loader up to its module loaders (it
/// keeps the shared imports and the callback the main module expects), then loaders that
/// fetch the first page's modules in one file and later pages' missing modules one by one.
/// The main module imports the same exports as from the generated loader; a generated loader
/// that does not export exactly the manifest's split points is refused.
pub fn loader(generated: &str, manifest: &Manifest) -> Result<String, String> {
    let export_prefix = "export const __wasm_split_load_";
    let exports = generated.matches(export_prefix).count();
    if exports != manifest.len() {
        return Err(format!(
            "the loader exports {exports} split points, the manifest names {}",
            manifest.len()
        ));
    }
    if let Some(missing) = manifest
        .keys()
        .find(|split_point| !generated.contains(&format!("export const {} =", loader_export(split_point))))
    {
        return Err(format!("the loader does not export split point {missing}"));
    }
    let header_end = ["\n/* ", "\nconst __chunk_", "\nexport const "]
        .iter()
        .filter_map(|marker| generated.find(marker))
        .min()
        .unwrap_or(generated.len());
    let header = &generated[..header_end];
    for needed in ["function getSharedImports()", "function wrapAsyncCb("] {
        if !header.contains(needed) {
            return Err(format!("the generated loader has no `{needed}` before its module loaders"));
        }
    }
    let mut js = String::from(header);
    js.push('\n');
    js.push_str(LOADER_TAIL);
    for (split_point, stems) in manifest {
        let stems = serde_json::to_string(stems).map_err(|error| error.to_string())?;
        let split_point_js = serde_json::to_string(split_point).map_err(|error| error.to_string())?;
        js.push_str(&format!(
            "export const {} = wrapAsyncCb(() => loadSplitPoint({split_point_js}, {stems}));\n",
            loader_export(split_point)
        ));
    }
    Ok(js)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_container_holds_its_modules_in_order() {
        let modules: [(&str, &[u8]); 3] =
            [("chunk_1", b"\0asm one"), ("split___login_route_view_1", b""), ("chunk_22", &[7; 300])];
        let bytes = encode(&modules).unwrap();
        assert_eq!(&bytes[..4], b"SBWM");
        assert_eq!(&bytes[4..6], &7u16.to_le_bytes());
        assert_eq!(&bytes[6..13], b"chunk_1");
        assert_eq!(&bytes[13..17], &8u32.to_le_bytes());
        let back = decode(&bytes).unwrap();
        let back: Vec<(&str, &[u8])> =
            back.iter().map(|(name, bytes)| (name.as_str(), bytes.as_slice())).collect();
        assert_eq!(back, modules);
    }

    #[test]
    fn a_damaged_container_is_refused() {
        let bytes = encode(&[("chunk_1", b"\0asm one")]).unwrap();
        assert_eq!(decode(&bytes[..bytes.len() - 1]).unwrap_err(), "the file ends inside a module");
        assert_eq!(decode(b"\0asm").unwrap_err(), "not a first-load file");
        assert_eq!(decode(b"SBWM").unwrap(), vec![]);
    }

    const GENERATED: &str = r#"import { initSync } from "./switchboard.js";

let sharedImports = undefined;
function getSharedImports() {
    return sharedImports;
}
function wrapAsyncCb(callee) {
    return async (callbackIndex, callbackData) => { await callee(); };
}
function makeLoad(fetcher, deps) {
    return () => fetcher();
}
/* __a_route_view_1, __b_route_view_1 */
const __chunk_2 = makeLoad(() => {
    const src = fetch(new URL("./chunk_2.wasm", import.meta.url));
}
, []);
export const __wasm_split_load___b_route_view_1 = wrapAsyncCb(makeLoad(() => async (_imp) => ({}), [__chunk_2]));
export const __wasm_split_load___a_route_view_1 = wrapAsyncCb(makeLoad(() => {
    const src = fetch(new URL("./split___a_route_view_1.wasm", import.meta.url));
}
, [__chunk_2]));
"#;

    fn manifest(entries: &[(&str, &[&str])]) -> Manifest {
        entries
            .iter()
            .map(|(split, stems)| (split.to_string(), stems.iter().map(|stem| stem.to_string()).collect()))
            .collect()
    }

    #[test]
    fn the_loader_keeps_the_shared_imports_and_exports_every_split_point() {
        let manifest = manifest(&[
            ("__a_route_view_1", &["chunk_2", "split___a_route_view_1"]),
            ("__b_route_view_1", &["chunk_2"]),
        ]);
        let js = loader(GENERATED, &manifest).unwrap();
        assert!(js.starts_with("import { initSync } from \"./switchboard.js\";"));
        assert!(js.contains("function getSharedImports()"));
        assert!(!js.contains("const __chunk_2"), "the generated module loaders are dropped");
        assert!(js.contains(
            "export const __wasm_split_load___a_route_view_1 = wrapAsyncCb(() => loadSplitPoint(\"__a_route_view_1\", [\"chunk_2\",\"split___a_route_view_1\"]));\n"
        ));
        assert!(js.contains(
            "export const __wasm_split_load___b_route_view_1 = wrapAsyncCb(() => loadSplitPoint(\"__b_route_view_1\", [\"chunk_2\"]));\n"
        ));
    }

    #[test]
    fn a_loader_that_does_not_match_the_manifest_is_refused() {
        let fewer = manifest(&[("__a_route_view_1", &["split___a_route_view_1"])]);
        assert_eq!(
            loader(GENERATED, &fewer).unwrap_err(),
            "the loader exports 2 split points, the manifest names 1"
        );
        let other = manifest(&[("__a_route_view_1", &[]), ("__c_route_view_1", &[])]);
        assert_eq!(
            loader(GENERATED, &other).unwrap_err(),
            "the loader does not export split point __c_route_view_1"
        );
    }

    #[test]
    fn first_load_files_hold_each_split_points_modules() {
        let dir = std::env::temp_dir().join(format!("first-load-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("chunk_2.wasm"), b"two").unwrap();
        std::fs::write(dir.join("chunk_3.wasm"), b"three").unwrap();
        std::fs::write(dir.join("split___a_route_view_1.wasm"), b"a").unwrap();
        let manifest = manifest(&[
            ("__a_route_view_1", &["chunk_3", "chunk_2", "split___a_route_view_1"]),
            ("__empty_route_view_1", &[]),
        ]);
        assert_eq!(write_files(&dir, &manifest).unwrap(), 1);
        let written = decode(&std::fs::read(dir.join("page___a_route_view_1.bin")).unwrap()).unwrap();
        let names: Vec<&str> = written.iter().map(|(name, _)| name.as_str()).collect();
        assert_eq!(names, ["split___a_route_view_1", "chunk_2", "chunk_3"], "smallest first");
        assert_eq!(written[2].1, b"three");
        assert!(!dir.join("page___empty_route_view_1.bin").exists());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
