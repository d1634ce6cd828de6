import { APIRequestContext, expect, Page } from "@playwright/test";

/** How long a page may take to hydrate: the first load of the debug build compiles ~30 MB of
 * WASM, which takes several seconds on a busy 2-core machine. */
export const HYDRATION_TIMEOUT = 30_000;

/** Opens `path` and waits until the WASM has hydrated the page (clicks before that are lost). */
export async function openHydrated(page: Page, path: string) {
  const errors: string[] = [];
  page.on("pageerror", (err) => errors.push(err.message));
  await page.goto(path);
  await expect(page.locator("[data-hydrated='true']"), `hydration failed: ${errors.join("; ")}`).toBeVisible({
    timeout: HYDRATION_TIMEOUT,
  });
  return errors;
}

/** The install's owner, created by first-run.setup.ts through the /setup page. */
export const OWNER = { email: "owner@example.test", password: "correct horse battery staple", display_name: "Olivia Owner" };

/** Where first-run.setup.ts saves the owner's signed-in browser state (one file per server, so
 * two suites running at once on one machine do not sign each other out). */
export const OWNER_STATE = `.auth/owner-${new URL(process.env.BASE_URL ?? "http://127.0.0.1:3000").port || "80"}.json`;

/** For tests that start signed out. */
export const SIGNED_OUT = { cookies: [], origins: [] };

/**
 * Signs `request` in as the install's owner (creating the owner on first use), so it may call
 * admin-only endpoints such as the sandbox scenario API. Cookie-authenticated writes must carry
 * the page's Origin (CSRF rule).
 */
export async function signInAsOwner(request: APIRequestContext, baseURL: string) {
  const owner = OWNER;
  const setup = await request.post("/api/v1/setup", { data: owner, headers: { Origin: baseURL } });
  if (setup.status() !== 201) {
    const login = await request.post("/api/v1/login", { data: owner, headers: { Origin: baseURL } });
    expect(login.status(), await login.text()).toBe(200);
  }
}
