// `./dev bench calls`: the browser benchmark (not part of the test suite). It signs in itself,
// so it needs none of the suite's projects.
import { defineConfig } from "@playwright/test";
import suite from "./playwright.config";

export default defineConfig({
  ...suite,
  testDir: "./bench",
  testMatch: /.*\.bench\.ts/,
  timeout: 30 * 60_000,
  outputDir: "bench-results",
  projects: [{ name: "bench", use: { storageState: undefined } }],
});
