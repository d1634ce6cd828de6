import { expect, test } from "@playwright/test";
import { OWNER_STATE, openHydrated, HYDRATION_TIMEOUT } from "./helpers";

const SECTIONS = [
  { name: "Overview", path: "/calling", title: "Calling · Switchboard", heading: "Calling" },
  { name: "Calls", path: "/calling/calls", title: "Calls · Switchboard", heading: "Calls" },
  { name: "Templates", path: "/calling/templates", title: "Templates · Switchboard", heading: "Templates" },
  { name: "Settings", path: "/calling/settings", title: "Settings · Switchboard", heading: "Settings" },
  { name: "Analytics", path: "/calling/analytics", title: "Analytics · Switchboard", heading: "Analytics" },
  { name: "Permissions", path: "/calling/permissions", title: "Permissions · Switchboard", heading: "Permissions" },
];

test("the root redirects to /calling", async ({ page }) => {
  await page.goto("/");
  await expect(page).toHaveURL(/\/calling$/);
});

test("every section is a server-rendered route with its own title", async ({ page }) => {
  for (const section of SECTIONS) {
    const response = await page.request.get(section.path);
    expect(response.status(), section.path).toBe(200);
    const html = await response.text();
    expect(html, section.path).toContain(`<title>${section.title}</title>`);
    await page.goto(section.path);
    await expect(page).toHaveTitle(section.title);
    await expect(page.getByRole("heading", { level: 1, name: section.heading })).toBeVisible();
    await expect(page.getByRole("navigation", { name: "Calling sections" }).getByRole("link")).toHaveCount(6);
  }
});

test("the overview card reads real figures: a new install has no calls", async ({ page }) => {
  await openHydrated(page, "/calling");
  const card = page.getByRole("region", { name: /Today/ });
  await expect(card.locator("[data-stat='Calls']")).toHaveText("0");
  await expect(card.locator("[data-stat='Answer rate']")).toHaveText("—");
  await expect(card.locator("[data-stat='Spend']")).toHaveText("$0.00");
  await expect(card.locator("[data-stat='Wallet']")).toHaveText("$0.00");
  await expect(card.getByRole("note")).toContainText("The wallet is empty");
  await expect(page.getByText("No calls yet.")).toBeVisible();
});

test("after hydration the period switch refetches the card through a server function", async ({ page }) => {
  const errors = await openHydrated(page, "/calling");
  const week = page.getByRole("button", { name: "Last 7 days" });
  await expect(week).toHaveAttribute("aria-pressed", "false");
  const serverFn = page.waitForResponse((r) => r.url().includes("/api/get_overview") && r.status() === 200);
  await week.click();
  await serverFn;
  await expect(week).toHaveAttribute("aria-pressed", "true");
  await expect(page.getByRole("heading", { level: 2, name: /^Last 7 days · since / })).toBeVisible();
  expect(errors).toEqual([]);
});

test("navigation between sections happens in the browser after hydration", async ({ page }) => {
  await openHydrated(page, "/calling");
  await page.getByRole("navigation", { name: "Calling sections" }).getByRole("link", { name: "Calls" }).click();
  await expect(page).toHaveURL(/\/calling\/calls$/);
  await expect(page).toHaveTitle("Calls · Switchboard");
  await expect(page.getByRole("link", { name: "Calls" })).toHaveAttribute("aria-current", "page");
  // The layout survived the navigation: still hydrated, no full reload.
  await expect(page.locator("[data-hydrated='true']")).toBeVisible({ timeout: HYDRATION_TIMEOUT });
});

test("each page's code is a WASM chunk of its own, fetched when the page is first shown", async ({ page }) => {
  const wasm: string[] = [];
  const warnings: string[] = [];
  page.on("request", (request) => {
    const path = new URL(request.url()).pathname;
    if (path.startsWith("/pkg/") && (path.endsWith(".wasm") || path.endsWith(".bin"))) wasm.push(path);
  });
  page.on("console", (message) => {
    if (message.type() === "warning" || message.type() === "error") warnings.push(message.text());
  });
  const firstLoadOf = (route: string) => wasm.filter((path) => path.includes(`/page___${route}_route_view_`));
  const chunkOf = (route: string) => wasm.some((path) => path.includes(`/split___${route}_route_view_`));
  const errors = await openHydrated(page, "/calling");
  expect(wasm).toContain("/pkg/switchboard_bg.wasm");
  // The first page's chunks come in one file, fetched once; no chunk is fetched on its own…
  expect(firstLoadOf("overview")).toHaveLength(1);
  expect(chunkOf("settings")).toBe(false);
  // …but the ring and call panels', which an agent's browser (the owner answers calls) fetches
  // once the page is up, so a ring shows at once.
  const manifest: Record<string, string[]> = await (await page.request.get("/pkg/page-chunks.json")).json();
  const [panels, panelChunks] = Object.entries(manifest).find(([name]) => name.startsWith("panels_"))!;
  await expect.poll(() => wasm).toContain(`/pkg/split_${panels}.wasm`);
  const ringCode = new Set([`/pkg/split_${panels}.wasm`, ...panelChunks.map((chunk) => `/pkg/${chunk}.wasm`)]);
  const others = wasm.filter((path) => path.endsWith(".wasm") && !ringCode.has(path));
  expect(others).toEqual(["/pkg/switchboard_bg.wasm"]);
  // The server-rendered page already names that file, so the browser fetches it alongside the
  // main module instead of after it.
  const html = await (await page.request.get("/calling")).text();
  const preloads = html.match(/<link[^>]*\/pkg\/page___overview_route_view_[^>]*>/g) ?? [];
  expect(preloads).toHaveLength(1);
  expect(preloads[0]).toContain('rel="preload"');
  expect(html).not.toContain("settings_route_view_");

  // A page shown later fetches only the chunks it misses, one by one.
  await page.getByRole("navigation", { name: "Calling sections" }).getByRole("link", { name: "Settings" }).click();
  await expect(page.getByRole("heading", { level: 1, name: "Settings" })).toBeVisible();
  expect(chunkOf("settings")).toBe(true);
  expect(firstLoadOf("settings")).toEqual([]);
  expect(errors).toEqual([]);
  expect(warnings.filter((text) => /first load|preload/i.test(text))).toEqual([]);
});

test("read-only pages are readable without JavaScript", async ({ browser }) => {
  const context = await browser.newContext({ javaScriptEnabled: false, storageState: OWNER_STATE });
  const page = await context.newPage();
  await page.goto("/calling");
  await expect(page.locator("[data-stat='Calls']")).toHaveText("0");
  await expect(page.locator("[data-hydrated='false']")).toBeVisible();
  // A section's pages are plain links too: the Call hours page comes whole from the server.
  await page.goto("/calling/settings");
  await page.getByRole("navigation", { name: "Settings" }).getByRole("link", { name: "Call hours" }).click();
  await expect(page).toHaveURL(/\/calling\/settings\/hours$/);
  await expect(page.getByRole("heading", { name: "Change call hours" })).toBeVisible();
  await expect(page.getByLabel("Time zone")).toBeVisible();
  await context.close();
});

test("unknown pages answer 404 with a way back", async ({ page }) => {
  const response = await page.goto("/calling/nope");
  expect(response?.status()).toBe(404);
  await expect(page.getByRole("heading", { name: "Page not found" })).toBeVisible();
  await expect(page.getByRole("link", { name: "Go to Calling" })).toBeVisible();
});

test("health probes answer", async ({ request }) => {
  expect((await request.get("/healthz")).status()).toBe(200);
  const ready = await request.get("/readyz");
  expect(ready.status()).toBe(200);
  expect(await ready.json()).toEqual({ status: "ready", database: "ok" });
});
