import { expect, Page } from "@playwright/test";

/** Opens `path` and waits until the WASM has hydrated the page (clicks before that are lost). */
export async function openHydrated(page: Page, path: string) {
  const errors: string[] = [];
  page.on("pageerror", (err) => errors.push(err.message));
  await page.goto(path);
  await expect(page.locator("[data-hydrated='true']"), `hydration failed: ${errors.join("; ")}`).toBeVisible();
  return errors;
}
