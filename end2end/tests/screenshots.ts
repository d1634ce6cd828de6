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
  ["templates-send", "/calling/templates/send"],
  ["settings", "/calling/settings"],
  ["settings-hours", "/calling/settings/hours"],
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
    if ((await page.request.get("/admin/billing")).status() === 200) {
      sections.push(["admin-billing", "/admin/billing"], ["admin-billing-rates", "/admin/billing/rates"]);
    }
    const spills: string[] = [];
    for (const [name, path] of sections) {
      await openHydrated(page, path);
      await expect(page.locator("main")).not.toContainText("Loading");
      const file = testInfo.outputPath(`${device}-${name}.png`);
      await page.screenshot({ path: file, fullPage: true });
      await testInfo.attach(`${device}-${name}`, { path: file, contentType: "image/png" });
      // Nothing spills sideways: wide tables scroll inside their cards, not the page; a spill
      // names the elements that reach past the edge.
      const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
      if (overflow > 1) spills.push(`${path} (${overflow}px: ${await widestElements(page)})`);
    }
    expect(spills, "pages wider than the screen, with what spills").toEqual([]);
  });
}

/** The innermost elements that reach past the right edge of the screen, outside any element
 * that scrolls sideways on its own: what to fix when a page is wider than a phone. */
async function widestElements(page: import("@playwright/test").Page): Promise<string> {
  return page.evaluate(() => {
    const width = window.innerWidth;
    const scrollsItself = (el: Element) => {
      // An absolutely positioned element escapes the clipping of unpositioned ancestors.
      if (["absolute", "fixed"].includes(getComputedStyle(el).position)) return false;
      for (let at: Element | null = el.parentElement; at; at = at.parentElement) {
        const overflowX = getComputedStyle(at).overflowX;
        if (overflowX === "auto" || overflowX === "scroll" || overflowX === "hidden") return true;
      }
      return false;
    };
    const describe = (el: Element) =>
      el.tagName.toLowerCase() + (el.id ? `#${el.id}` : "") + [...el.classList].map((c) => `.${c}`).join("");
    const spilling = [...document.querySelectorAll("body *")].filter(
      (el) => el.getBoundingClientRect().right > width + 1 && !scrollsItself(el),
    );
    const innermost = spilling.filter((el) => !spilling.some((other) => other !== el && el.contains(other)));
    return innermost
      .slice(0, 4)
      .map((el) => {
        const chain = [];
        for (let at: Element | null = el; at && at !== document.body && chain.length < 4; at = at.parentElement) chain.unshift(describe(at));
        return `${chain.join(" > ")} (right ${Math.round(el.getBoundingClientRect().right)})`;
      })
      .join("; ");
  });
}
