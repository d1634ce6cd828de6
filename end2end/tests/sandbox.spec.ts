import { expect, test } from "@playwright/test";
import { openHydrated, SIGNED_OUT, signInAsOwner } from "./helpers";

// A fresh install runs on the built-in WhatsApp simulator: its number is connected, marked as
// Sandbox, and a simulated customer can call it from the overview.
test("the sandbox number rings when a simulated customer calls", async ({ page }) => {
  await openHydrated(page, "/calling");
  const numbers = page.getByRole("list", { name: "WhatsApp numbers" });
  await expect(numbers.getByText("Sandbox")).toBeVisible();

  const panel = page.getByRole("region", { name: "Sandbox: simulate an inbound call" });
  await panel.getByLabel("Caller number").fill("+44 7700 900456");
  await panel.getByLabel("Caller name").fill("Oliver Bennett");
  await panel.getByLabel("Button payload").fill("order-2048");
  await panel.getByRole("button", { name: "Ring the sandbox number" }).click();
  await expect(panel.getByRole("status")).toContainText("Ringing: wacid.");

  // The simulator sent a signed connect webhook; the server stored and applied it; the card
  // refetched after the action and the latest calls show the caller ringing.
  const latest = page.getByRole("region", { name: "Latest calls" });
  await expect(async () => {
    await page.reload();
    await expect(latest.getByText("Oliver Bennett")).toBeVisible({ timeout: 1000 });
  }).toPass({ timeout: 15_000 });
  const row = latest.getByRole("row", { name: /Oliver Bennett/ });
  await expect(row).toContainText("+447700900456");
  await expect(row).toContainText("Ringing");
  await expect(row).toContainText("Inbound");
});

test("the call history filters, pages and opens a call with its timeline", async ({ page }) => {
  await openHydrated(page, "/calling/calls");
  const filters = page.getByRole("form", { name: "Filter calls" });
  await filters.getByLabel("Search").fill("oliver");
  await filters.getByLabel("Status").selectOption("ringing");
  await filters.getByRole("button", { name: "Apply" }).click();
  await expect(page).toHaveURL(/status=ringing/);
  await expect(page).toHaveURL(/q=oliver/);
  const rows = page.locator("table.calls tbody tr");
  await expect(rows).toHaveCount(1);
  await expect(rows.first()).toContainText("Oliver Bennett");

  await filters.getByLabel("Status").selectOption("missed");
  await filters.getByRole("button", { name: "Apply" }).click();
  await expect(page.getByText("No calls yet.")).toBeVisible();

  await page.goto("/calling/calls?q=oliver");
  await page.getByRole("link", { name: /Oliver Bennett/ }).click();
  await expect(page).toHaveURL(/\/calling\/calls\/[0-9a-f-]+$/);
  await expect(page.getByRole("heading", { level: 1, name: "Oliver Bennett" })).toBeVisible();
  const details = page.getByRole("region", { name: "Call details" });
  await expect(details).toContainText("order-2048");
  await expect(details).toContainText("Inbound");
  await expect(page.locator("ol.timeline li[data-kind='connect_received']")).toContainText("WhatsApp connected the call");
});

test("analytics count today's sandbox calls and switch periods", async ({ page }) => {
  await openHydrated(page, "/calling/analytics");
  await expect(page).toHaveTitle("Analytics · Switchboard");
  const total = page.getByRole("region", { name: "Totals" }).locator("[data-stat='Calls']");
  await expect(total).not.toHaveText("0");
  const calls = await total.textContent();
  const rows = page.locator("table.daily tbody tr");
  await expect(rows).toHaveCount(7);
  // Every sandbox call of this run rang today: the newest row holds them all.
  await expect(rows.first().locator("td").nth(1)).toHaveText(calls!);
  await expect(page.getByRole("img", { name: new RegExp(`^${calls} calls over 7 days`) })).toBeVisible();

  await page.getByRole("link", { name: "Last 30 days" }).click();
  await expect(page).toHaveURL(/period=30d/);
  await expect(rows).toHaveCount(30);
  await expect(page.getByRole("link", { name: "Last 30 days" })).toHaveAttribute("aria-current", "page");
});

test("the permissions page follows a customer's grant", async ({ page, request, playwright, baseURL }) => {
  const user = "+919876543299";
  await openHydrated(page, "/calling/permissions");
  const lookup = page.getByRole("form", { name: "Look up a number" });
  await lookup.getByLabel("WhatsApp number").fill(user);
  await lookup.getByRole("button", { name: "Look up" }).click();
  await expect(page).toHaveURL(/phone=%2B919876543299/);
  await expect(page.locator("[data-field='status']")).toHaveText("No permission");
  await expect(page.locator("[data-field='call']")).toContainText("has not allowed calls");
  await expect(page.locator("[data-field='request']")).toHaveText("Can be sent");

  // The simulated customer allows calls; WhatsApp's signed webhook reaches the ledger.
  const stranger = await playwright.request.newContext({ baseURL, storageState: SIGNED_OUT });
  const anonymous = await stranger.post(`/sandbox/users/${encodeURIComponent(user)}/permission`, { data: { grant: "temporary" } });
  expect(anonymous.status(), "the scenario API is for admins only").toBe(401);
  await stranger.dispose();
  await signInAsOwner(request, baseURL!);
  const granted = await request.post(`/sandbox/users/${encodeURIComponent(user)}/permission`, {
    data: { grant: "temporary" },
    headers: { Origin: baseURL! },
  });
  expect(granted.status(), await granted.text()).toBe(200);
  await expect(async () => {
    await page.reload();
    await expect(page.locator("[data-field='status']")).toContainText("Allowed until", { timeout: 1000 });
  }).toPass({ timeout: 15_000 });
  await expect(page.locator("[data-field='call']")).toHaveText("Would go through");
  await expect(page.getByRole("region", { name: "Who allows calls" })).toContainText(user);
});

test("an unknown call id is a 404 with a way back", async ({ page }) => {
  const response = await page.goto("/calling/calls/00000000-0000-7000-8000-000000000000");
  expect(response?.status()).toBe(404);
  await expect(page.getByRole("heading", { name: "Call not found" })).toBeVisible();
  await expect(page.getByRole("link", { name: "← All calls" })).toBeVisible();
});

test("a bad caller number is refused with a clear message", async ({ page }) => {
  await openHydrated(page, "/calling");
  const panel = page.getByRole("region", { name: "Sandbox: simulate an inbound call" });
  await panel.getByLabel("Caller number").fill("12");
  await panel.getByRole("button", { name: "Ring the sandbox number" }).click();
  await expect(panel.getByRole("alert")).toHaveText(/^phone_number: "12" /);
});
