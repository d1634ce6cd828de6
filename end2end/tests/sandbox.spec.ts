import { expect, test } from "@playwright/test";
import { openHydrated } from "./helpers";

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

test("a bad caller number is refused with a clear message", async ({ page }) => {
  await openHydrated(page, "/calling");
  const panel = page.getByRole("region", { name: "Sandbox: simulate an inbound call" });
  await panel.getByLabel("Caller number").fill("12");
  await panel.getByRole("button", { name: "Ring the sandbox number" }).click();
  await expect(panel.getByRole("alert")).toHaveText(/^phone_number: "12" /);
});
