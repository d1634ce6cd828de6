// Billing in the admin panel (/admin/billing), signed in as the install's owner: the trial that
// setup started; a manual top-up (a refused amount first) that shows in the wallet and as an
// expense line, counted once per reference; a rate edited and published as a new version (a
// price below Meta's cost refused first); the low-balance threshold set above the balance, with
// the warning on the page and on the calling overview; the expenses filtered by kind and date;
// and the CSV download honouring the filter. Afterwards the wallet is emptied again with an
// owner's adjustment (other specs expect the fresh install's empty wallet).
import { readFileSync } from "node:fs";
import { expect, test } from "@playwright/test";
import { openHydrated, OWNER_STATE } from "./helpers";

const run = Date.now().toString(36);
const reference = `TRX-${run}`;

/** `25.00 USD` → 25. */
function amountOf(text: string): number {
  return Number(text.replace(/[^0-9.-]/g, ""));
}

test.describe("billing", () => {
  test.afterAll(async ({ browser }) => {
    const baseURL = process.env.BASE_URL ?? "http://127.0.0.1:3000";
    const context = await browser.newContext({ storageState: OWNER_STATE, baseURL });
    const api = context.request;
    const billing = await (await api.get(`${baseURL}/api/v1/app/billing`)).json();
    const headers = { Origin: baseURL };
    if (billing.available > 0) {
      const emptied = await api.post(`${baseURL}/api/v1/app/billing/adjustments`, {
        data: { amount: -billing.available, reason: "e2e: back to the fresh install's empty wallet" },
        headers,
      });
      expect(emptied.status(), await emptied.text()).toBe(201);
    }
    const reset = await api.put(`${baseURL}/api/v1/app/billing/low-balance-threshold`, {
      data: { threshold: 5_000_000 },
      headers,
    });
    expect(reset.status(), await reset.text()).toBe(200);
    await context.close();
  });

  test("owner tops up, publishes a rate, sets the warning, filters and downloads expenses", async ({ page }) => {
    await openHydrated(page, "/admin/billing");
    await expect(page).toHaveTitle("Billing · Switchboard");
    await expect(page.getByRole("navigation", { name: "Team sections" }).getByRole("link", { name: "Billing" }))
      .toHaveAttribute("href", "/admin/billing");

    // Setup started the workspace's trial.
    const subscription = page.getByRole("region", { name: "Subscription" });
    await expect(subscription.locator(".subscription-plan")).toHaveText("trial");
    await expect(subscription.locator(".subscription-days")).toHaveText("14");

    // A top-up: the amount is checked, the wallet and the expenses log show it.
    const wallet = page.getByRole("region", { name: "Wallet" });
    const before = amountOf(await wallet.locator(".wallet-available").innerText());
    const topUp = page.getByRole("region", { name: "Record a top-up" });
    await topUp.getByLabel("Amount").fill("ten");
    await topUp.getByRole("button", { name: "Record top-up" }).click();
    await expect(topUp.locator("#top-up-amount-error")).toContainText("expected an amount");
    await expect(topUp.getByLabel("Amount")).toHaveAttribute("aria-invalid", "true");
    await topUp.getByLabel("Amount").fill("25");
    await topUp.getByLabel("Reference").fill(reference);
    await topUp.getByLabel("Note").fill("e2e wire");
    await topUp.getByRole("button", { name: "Record top-up" }).click();
    await expect(topUp.getByRole("status")).toContainText(`Added 25.00 USD (${reference})`);
    await expect(wallet.locator(".wallet-available")).toHaveText(`${(before + 25).toFixed(2)} USD`);
    const expenses = page.getByRole("region", { name: "Expenses" });
    const line = expenses.locator("tr[data-kind='top_up']", { hasText: `manual:${reference}` });
    await expect(line).toContainText("25.00 USD");
    await expect(line).toContainText("e2e wire");
    // The same reference again adds nothing.
    await topUp.getByLabel("Amount").fill("25");
    await topUp.getByLabel("Reference").fill(reference);
    await topUp.getByRole("button", { name: "Record top-up" }).click();
    await expect(topUp.getByRole("status")).toContainText(`${reference} was recorded before`);
    await expect(wallet.locator(".wallet-available")).toHaveText(`${(before + 25).toFixed(2)} USD`);

    // Edit a rate and publish it as a new version; a price below Meta's cost is refused. The
    // rates are the section's other page.
    await page.getByRole("navigation", { name: "Billing" }).getByRole("link", { name: "Rates" }).click();
    await expect(page).toHaveURL(/\/admin\/billing\/rates$/);
    await expect(page.getByRole("navigation", { name: "Team sections" }).getByRole("link", { name: "Billing" }))
      .toHaveAttribute("aria-current", "page");
    const rates = page.getByRole("region", { name: /^Rate card · version \d+$/ });
    const version = Number((await rates.getByRole("heading", { level: 2 }).innerText()).split("version ")[1]);
    await rates.getByText("Edit the rate card").click();
    const editor = rates.getByRole("form", { name: "Edit the rate card" });
    const defaultBillable = editor.getByLabel("Calls, any other country: billable");
    await defaultBillable.fill("0.0005");
    await editor.getByRole("button", { name: "Publish new version" }).click();
    await expect(editor.getByRole("alert")).toContainText("default_call.billable");
    await expect(defaultBillable).toHaveAttribute("aria-invalid", "true");
    await defaultBillable.fill("0.0015");
    await editor.getByLabel("Note").fill(`e2e price ${run}`);
    await editor.getByRole("button", { name: "Publish new version" }).click();
    const published = page.getByRole("region", { name: `Rate card · version ${version + 1}` });
    await expect(published).toBeVisible();
    await expect(published.locator("tr[data-rate='Calls, any other country'] .rate-billable")).toHaveText("0.0015");
    await expect(published.locator(`li[data-version='${version + 1}']`)).toContainText(`e2e price ${run}`);
    await expect(published.locator(`li[data-version='${version}']`)).toBeVisible();

    // The threshold above the balance: the wallet warns, and so does the calling overview.
    await page.getByRole("navigation", { name: "Billing" }).getByRole("link", { name: "Wallet and spending" }).click();
    const threshold = page.getByRole("region", { name: "Low-balance warning" });
    await threshold.getByLabel("Warn below (USD)").fill("100000");
    await threshold.getByRole("button", { name: "Save threshold" }).click();
    await expect(threshold.getByRole("status")).toContainText("warns below 100000.00 USD");
    await expect(wallet.getByRole("alert")).toContainText("Low balance.");
    await expect(wallet.locator(".wallet-threshold")).toHaveText("100000.00 USD");
    await page.screenshot({ path: "test-results/billing.png", fullPage: true });
    await openHydrated(page, "/calling");
    await expect(page.getByRole("note").filter({ hasText: "running low" })).toBeVisible();

    // Filter the expenses by kind and date: the address carries the filter, the CSV link too.
    await openHydrated(page, "/admin/billing");
    const today = new Date().toISOString().slice(0, 10);
    const filters = page.getByRole("form", { name: "Filter the expenses" });
    await filters.getByLabel("Kind").selectOption("call_charge");
    await filters.getByLabel("From", { exact: true }).fill(today);
    await filters.getByLabel("To", { exact: true }).fill(today);
    await filters.getByRole("button", { name: "Show" }).click();
    await expect(page).toHaveURL(/kind=call_charge/);
    await expect(page.getByRole("region", { name: "Expenses" })).toContainText("No billing lines");
    await page.getByRole("form", { name: "Filter the expenses" }).getByLabel("Kind").selectOption("top_up");
    await page.getByRole("form", { name: "Filter the expenses" }).getByRole("button", { name: "Show" }).click();
    await expect(page).toHaveURL(/kind=top_up/);
    await expect(page.locator("[data-hydrated='true']")).toBeVisible();
    const filtered = page.getByRole("region", { name: "Expenses" });
    await expect(filtered.locator("tr[data-kind='top_up']", { hasText: `manual:${reference}` })).toBeVisible();
    await expect(filtered.locator("tbody tr:not([data-kind='top_up'])")).toHaveCount(0);

    const csvLink = filtered.getByRole("link", { name: "Download CSV" });
    await expect(csvLink).toHaveAttribute("href", /expenses\.csv\?kind=top_up&from=\d+&to=\d+$/);
    const download = page.waitForEvent("download");
    await csvLink.click();
    const csv = readFileSync((await (await download).path())!, "utf8");
    const rows = csv.trim().split("\r\n");
    expect(rows[0]).toBe("at_unix_ms,kind,amount,currency,call_id,callee,message_id,top_up_id,actor_user_id,reason");
    expect(rows.length).toBeGreaterThan(1);
    expect(rows.slice(1).every((row) => row.split(",")[1] === "top_up"), csv).toBe(true);
    expect(csv).toContain(`manual:${reference}`);
  });
});
