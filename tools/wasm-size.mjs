// Prints what a browser downloads of the split WASM bundle (`./dev build` runs it): the main
// module, which every page loads, and for each page the chunks its split point needs
// (page-chunks.json) and the page's first load: the main module and the page's chunks in one
// file (page_<split point>.bin, see tools/wasm-split/src/first_load.rs). Sizes are each file
// gzipped on its own (level 9), as a server compresses them one response at a time; the
// chunks' figure one by one is what a page shown later would fetch if it had none yet.
//
// usage: node tools/wasm-size.mjs target/site/pkg
import { existsSync, readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { gzipSync } from "node:zlib";

const pkg = process.argv[2] ?? "target/site/pkg";
const gzipped = (file) => gzipSync(readFileSync(join(pkg, file)), { level: 9 }).length;
const raw = (file) => readFileSync(join(pkg, file)).length;

const main = "switchboard_bg.wasm";
const mainGzip = gzipped(main);
const chunks = readdirSync(pkg).filter((file) => /^(split|chunk)_.*\.wasm$/.test(file));
const chunksGzip = chunks.reduce((sum, file) => sum + gzipped(file), 0);
console.log(`main module: ${raw(main)} bytes raw, ${mainGzip} bytes gzipped`);
console.log(`${chunks.length} chunks: ${chunksGzip} bytes gzipped in all`);

let manifest = {};
try {
  manifest = JSON.parse(readFileSync(join(pkg, "page-chunks.json"), "utf8"));
} catch {
  process.exit(0); // not split: the main module is the whole bundle
}
const pages = Object.entries(manifest)
  .filter(([splitPoint]) => splitPoint.includes("_route_view_"))
  .map(([splitPoint, needed]) => {
    const page = splitPoint.replace(/^__/, "").replace(/_route_view_.*$/, "");
    const chunkGzip = needed.reduce((sum, chunk) => sum + gzipped(`${chunk}.wasm`), 0);
    const firstLoadFile = `page_${splitPoint}.bin`;
    const togetherGzip = needed.length === 0 ? 0 : existsSync(join(pkg, firstLoadFile)) ? gzipped(firstLoadFile) : chunkGzip;
    return { page, files: needed.length, chunkGzip, togetherGzip, firstLoad: mainGzip + togetherGzip };
  })
  .sort((a, b) => b.firstLoad - a.firstLoad);
console.log("first load of each page (main module + the page's chunks in one file), gzipped:");
for (const { page, files, chunkGzip, togetherGzip, firstLoad } of pages) {
  console.log(
    `  ${page.padEnd(16)} ${String(firstLoad).padStart(8)} bytes (${files} chunks: ${togetherGzip} bytes in one file, ${chunkGzip} one by one)`,
  );
}
