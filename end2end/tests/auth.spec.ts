// Signing in and out of the dashboard.
import { expect, test } from "@playwright/test";
import { OWNER, SIGNED_OUT, HYDRATION_TIMEOUT } from "./helpers";

test.describe("signed out", () => {
  test.use({ storageState: SIGNED_OUT });

  test("the dashboard asks for sign-in and returns to the page that was asked for", async ({ page }) => {
    const response = await page.request.get("/calling/analytics", { maxRedirects: 0, headers: { Accept: "text/html" } });
    expect(response.status()).toBe(302);
    expect(response.headers()["location"]).toBe("/login?next=/calling/analytics");

    await page.goto("/calling/calls?status=missed");
    await expect(page).toHaveURL(/\/login\?next=/);
    await expect(page.locator("[data-hydrated='true']")).toBeVisible({ timeout: HYDRATION_TIMEOUT });
    await page.getByLabel("Email").fill(OWNER.email);
    await page.getByLabel("Password").fill("not the password at all");
    await page.getByRole("button", { name: "Sign in" }).click();
    await expect(page.getByRole("alert")).toContainText(/email or password/i);

    await page.getByLabel("Password").fill(OWNER.password);
    await page.getByRole("button", { name: "Sign in" }).click();
    await expect(page).toHaveURL(/\/calling\/calls\?status=missed$/);
    await expect(page.getByRole("heading", { level: 1, name: "Calls" })).toBeVisible();
    // Signing in loaded the page afresh; its buttons work once it has hydrated.
    await expect(page.locator("[data-hydrated='true']")).toBeVisible({ timeout: HYDRATION_TIMEOUT });

    // Signing out ends this session: the dashboard asks for sign-in again.
    await page.getByRole("button", { name: "Sign out" }).click();
    await expect(page).toHaveURL(/\/login$/);
    await page.goto("/calling");
    await expect(page).toHaveURL(/\/login\?next=\/calling$/);
  });

  test("a crafted next= never leaves the site", async ({ page }) => {
    await page.goto("/login?next=https://evil.example/");
    await expect(page.locator("[data-hydrated='true']")).toBeVisible({ timeout: HYDRATION_TIMEOUT });
    await page.getByLabel("Email").fill(OWNER.email);
    await page.getByLabel("Password").fill(OWNER.password);
    await page.getByRole("button", { name: "Sign in" }).click();
    await expect(page).toHaveURL(/127\.0\.0\.1:\d+\/calling$/);
  });
});
