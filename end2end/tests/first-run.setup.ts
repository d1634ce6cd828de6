// The first visitor of a fresh install creates the owner account through /setup and lands on
// the dashboard signed in; the browser state is saved for every other test (OWNER_STATE).
import { expect, test as setup } from "@playwright/test";
import { OWNER, OWNER_STATE, HYDRATION_TIMEOUT } from "./helpers";

setup("a fresh install sends its first visitor to create the owner account", async ({ page }) => {
  const errors: string[] = [];
  page.on("pageerror", (err) => errors.push(err.message));
  await page.goto("/calling/calls");
  await expect(page).toHaveURL(/\/setup$/);
  await expect(page.locator("[data-hydrated='true']"), errors.join("; ")).toBeVisible({ timeout: HYDRATION_TIMEOUT });
  await expect(page).toHaveTitle("Set up Switchboard · Switchboard");

  // The server's password rules apply, with a message that says what to fix; nothing is created.
  await page.getByLabel("Your name").fill(OWNER.display_name);
  await page.getByLabel("Email").fill(OWNER.email);
  await page.getByLabel("Password").fill("too short");
  await page.getByLabel("Workspace name").fill("Acme Support");
  await page.getByRole("button", { name: "Create the owner account" }).click();
  await expect(page.getByRole("alert")).toContainText("at least 12 characters");
  await expect(page).toHaveURL(/\/setup$/);

  await page.getByLabel("Password").fill(OWNER.password);
  await page.getByRole("button", { name: "Create the owner account" }).click();
  await expect(page).toHaveURL(/\/calling$/);
  const account = page.getByLabel("Account");
  await expect(account).toContainText(OWNER.display_name);
  await expect(account).toContainText("Acme Support · owner");

  // Setup is a one-time door: afterwards it leads to the dashboard (or to sign-in).
  await page.goto("/setup");
  await expect(page).toHaveURL(/\/calling$/);
  await page.context().storageState({ path: OWNER_STATE });
});
