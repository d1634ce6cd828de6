// Browser tests run Debian's Chromium (no browser download) against a server that ./dev starts
// and passes in BASE_URL. One worker: the tests share that server.
import { defineConfig } from "@playwright/test";

import { OWNER_STATE } from "./tests/helpers";

const baseURL = process.env.BASE_URL ?? "http://127.0.0.1:3000";

export default defineConfig({
  testDir: "./tests",
  // Long flows (two browser contexts, the first load compiling a 33 MB debug WASM) on a
  // shared 2-core machine can pass a minute; every expectation keeps its own 10 s bound.
  timeout: 120_000,
  expect: { timeout: 10_000 },
  fullyParallel: false,
  workers: 1,
  retries: 0,
  reporter: [["list"]],
  // Per server, like the saved sign-in: two suites on one machine must not clear each other's.
  outputDir: `test-results/${new URL(baseURL).port || "80"}`,
  use: {
    baseURL,
    trace: "retain-on-failure",
    screenshot: "only-on-failure",
    launchOptions: {
      executablePath: process.env.CHROMIUM_PATH ?? "/usr/bin/chromium",
      args: [
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        "--use-fake-ui-for-media-stream",
        "--use-fake-device-for-media-stream",
        "--allow-loopback-in-peer-connection",
        "--autoplay-policy=no-user-gesture-required",
      ],
    },
  },
  // `first-run` creates the install's owner through the real /setup page and saves the signed-in
  // browser state; every other test starts from it (tests about signing in start signed out).
  projects: [
    { name: "first-run", testMatch: /first-run\.setup\.ts/ },
    { name: "chromium", dependencies: ["first-run"], use: { storageState: OWNER_STATE } },
    // Last: screenshots of every section once the suite has filled them with data.
    {
      name: "screenshots",
      testMatch: /screenshots\.ts/,
      dependencies: ["chromium"],
      use: { storageState: OWNER_STATE },
    },
  ],
});
