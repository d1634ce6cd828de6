// Screenshots of every section of the dashboard and the admin panel, at a desktop and a phone
// width, saved as test artifacts (test-results/<port>/screenshots-…/*.png). This project runs
// after the whole suite (see playwright.config.ts), so the pages show the calls, templates,
// recordings and settings the other specs made rather than empty states.
import { expect, test } from "@playwright/test";
import { openHydrated } from "./helpers";

const PAGES = [
  ["overview", "/calling"],
  ["calls", "/calling/calls"],
  ["templates", "/calling/templates"],
  ["settings", "/calling/settings"],
  ["analytics", "/calling/analytics?period=7d"],
  ["permissions", "/calling/permissions"],
  ["audio-check", "/calling/check"],
  ["admin-members", "/admin"],
  ["admin-numbers", "/admin/numbers"],
  ["admin-workspace", "/admin/workspace"],
  ["admin-api-keys", "/admin/api-keys"],
  ["admin-audit", "/admin/audit"],
  ["admin-account", "/admin/account"],
];

for (const [width, height, device] of [
  [1280, 900, "desktop"],
  [390, 844, "phone"],
] as const) {
  test(`every section at ${device} width`, async ({ page }, testInfo) => {
    await page.setViewportSize({ width, height });
    const sections: [string, string][] = [...PAGES];
    // The newest call's page, with its timeline (and the recording the sandbox spec attached).
    const calls = await (await page.request.get("/api/v1/app/calling/calls?limit=1")).json();
    if (calls.calls?.length) sections.push(["call-detail", `/calling/calls/${calls.calls[0].id}`]);
    if ((await page.request.get("/admin/billing")).status() === 200) sections.push(["admin-billing", "/admin/billing"]);
    const spills: string[] = [];
    for (const [name, path] of sections) {
      await openHydrated(page, path);
      await expect(page.locator("main")).not.toContainText("Loading");
      const file = testInfo.outputPath(`${device}-${name}.png`);
      await page.screenshot({ path: file, fullPage: true });
      await testInfo.attach(`${device}-${name}`, { path: file, contentType: "image/png" });
      // Nothing spills sideways: wide tables scroll inside their cards, not the page.
      const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
      if (overflow > 1) spills.push(`${path} (${overflow}px)`);
    }
    // Reported, not yet enforced: some tables and filter forms still widen the page at a
    // phone's width (issue #8 lists them). The list is in the report's annotations.
    if (spills.length) testInfo.annotations.push({ type: "wider than the screen", description: spills.join(", ") });
    console.log(`${device}: pages wider than the screen: ${spills.length ? spills.join(", ") : "none"}`);
  });
}
