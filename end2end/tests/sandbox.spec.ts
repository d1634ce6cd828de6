import { expect, test } from "@playwright/test";
import { HYDRATION_TIMEOUT, openHydrated, SIGNED_OUT, signInAsOwner } from "./helpers";

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
  await expect(page.getByText("No calls match these filters.")).toBeVisible();

  await page.goto("/calling/calls?q=oliver");
  await page.getByRole("link", { name: /Oliver Bennett/ }).click();
  await expect(page).toHaveURL(/\/calling\/calls\/[0-9a-f-]+$/);
  await expect(page.getByRole("heading", { level: 1, name: "Oliver Bennett" })).toBeVisible();
  const details = page.getByRole("region", { name: "Call details" });
  await expect(details).toContainText("order-2048");
  await expect(details).toContainText("Inbound");
  await expect(page.locator("ol.timeline li[data-kind='connect_received']")).toContainText("WhatsApp connected the call");
});

test("the call history filters by number and dates, names the agent, and exports what it shows as CSV", async ({
  page,
}) => {
  const day = (offset: number) => new Date(Date.now() + offset * 86_400_000).toISOString().slice(0, 10);
  await openHydrated(page, "/calling/calls");
  await expect(page.locator("table.calls thead")).toContainText("Agent");
  const filters = page.getByRole("form", { name: "Filter calls" });
  // The sandbox number is the workspace's first.
  await filters.getByLabel("Number").selectOption({ index: 1 });
  await filters.getByLabel("From").fill(day(0));
  await filters.getByLabel("To").fill(day(0));
  await filters.getByLabel("Search").fill("oliver");
  await filters.getByRole("button", { name: "Apply" }).click();
  await expect(page).toHaveURL(new RegExp(`from=${day(0)}&to=${day(0)}`));
  await expect(page).toHaveURL(/number=\d+/);
  const rows = page.locator("table.calls tbody tr");
  await expect(rows).toHaveCount(1);
  await expect(rows.first()).toContainText("Oliver Bennett");
  // Nobody took it: no agent.
  await expect(rows.first().locator("td.agent")).toHaveText("—");

  // The export is exactly what the filters select.
  const href = await page.getByRole("link", { name: "Download CSV" }).getAttribute("href");
  expect(href).toContain("/api/v1/app/calling/calls.csv?");
  const csv = await page.request.get(href!);
  expect(csv.status()).toBe(200);
  expect(csv.headers()["content-type"]).toContain("text/csv");
  expect(csv.headers()["content-disposition"]).toMatch(/attachment; filename="calls-\d{4}-\d{2}-\d{2}\.csv"/);
  const lines = (await csv.text()).trim().split("\r\n");
  expect(lines[0]).toBe(
    "call_id,started_at,started_at_unix_ms,direction,status,contact_number,contact_name,business_number,phone_number_id,agent,duration_seconds,cost",
  );
  expect(lines).toHaveLength(2);
  expect(lines[1]).toContain("+447700900456,Oliver Bennett");

  // Tomorrow has no calls yet; the export then has only its header.
  await filters.getByLabel("From").fill(day(1));
  await filters.getByLabel("To").fill(day(1));
  await filters.getByRole("button", { name: "Apply" }).click();
  await expect(page.getByText("No calls match these filters.")).toBeVisible();
  const empty = await page.request.get((await page.getByRole("link", { name: "Download CSV" }).getAttribute("href"))!);
  expect((await empty.text()).trim().split("\r\n")).toHaveLength(1);
});

/** A short WAV file: 8 kHz mono 16-bit PCM, half a second of a square wave. */
function wav(): Buffer {
  const samples = 4000;
  const data = Buffer.alloc(samples * 2);
  for (let i = 0; i < samples; i++) data.writeInt16LE(Math.floor(i / 10) % 2 ? -8000 : 8000, i * 2);
  const header = Buffer.alloc(44);
  header.write("RIFF", 0);
  header.writeUInt32LE(36 + data.length, 4);
  header.write("WAVEfmt ", 8);
  header.writeUInt32LE(16, 16);
  header.writeUInt16LE(1, 20);
  header.writeUInt16LE(1, 22);
  header.writeUInt32LE(8000, 24);
  header.writeUInt32LE(16000, 28);
  header.writeUInt16LE(2, 32);
  header.writeUInt16LE(16, 34);
  header.write("data", 36);
  header.writeUInt32LE(data.length, 40);
  return Buffer.concat([header, data]);
}

test("a call's recording is attached on its page, refused when it is not audio, and plays", async ({ page }) => {
  await page.goto("/calling/calls?q=oliver");
  await page.getByRole("link", { name: /Oliver Bennett/ }).first().click();
  await expect(page.locator("[data-hydrated='true']")).toBeVisible({ timeout: HYDRATION_TIMEOUT });
  const card = page.getByRole("region", { name: "Recording" });
  await expect(card).toContainText("No recording is attached to this call.");
  const form = card.getByRole("form", { name: "Attach a recording" });

  // A text file named .mp3 is refused for what it is, with the limits.
  await form.getByLabel("Attach a recording").setInputFiles({ name: "notes.mp3", mimeType: "audio/mpeg", buffer: Buffer.from("meeting notes") });
  await form.getByRole("button", { name: "Upload" }).click();
  await expect(card.getByRole("alert")).toContainText("neither MP3 nor WAV");
  await expect(card.getByRole("alert")).toContainText("up to 25 MB");

  await form.getByLabel("Attach a recording").setInputFiles({ name: "pbx-call.wav", mimeType: "audio/wav", buffer: wav() });
  await form.getByRole("button", { name: "Upload" }).click();
  await expect(card.getByRole("status")).toContainText("The recording is attached.");
  await expect(card).toContainText("pbx-call.wav · WAV · 7.9 KB");
  // The browser's own player reads it: half a second of audio.
  const player = card.locator("audio[data-recording='player']");
  await expect.poll(() => player.evaluate((audio: HTMLAudioElement) => audio.duration)).toBeCloseTo(0.5, 1);
  const download = await page.request.get((await card.getByRole("link", { name: "Download" }).getAttribute("href"))!);
  expect(download.headers()["content-disposition"]).toBe('attachment; filename="pbx-call.wav"');
  expect((await download.body()).length).toBe(wav().length);
  await expect(form.getByLabel("Replace the recording")).toBeVisible();
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

  // The heatmap puts them all in today's weekday (UTC), and matches the API.
  const heatmap = page.getByRole("region", { name: "When calls come" }).locator("table.heatmap");
  const weekday = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"][new Date().getUTCDay()];
  const cells = heatmap.locator(`tr[data-weekday='${weekday}'] td.heat`);
  await expect(cells).toHaveCount(24);
  const readCounts = () => cells.evaluateAll((tds) => tds.map((td) => Number(td.getAttribute("data-count"))));
  // A call still ringing from an earlier test can reach the page live (the card refetches):
  // wait for the heatmap to hold what the totals say.
  await expect.poll(async () => (await readCounts()).reduce((a, b) => a + b, 0)).toBe(Number(calls));
  const counts = await readCounts();
  const api = await (await page.request.get("/api/v1/app/calling/analytics?period=7d")).json();
  const mondayFirst = (new Date().getUTCDay() + 6) % 7;
  expect(api.analytics.hour_of_week[mondayFirst]).toEqual(counts);
  await expect(heatmap.locator("td.heat-4")).not.toHaveCount(0);
  // Nobody took a sandbox call in the browser here (the answer bridge has its own spec).
  const agents = page.getByRole("region", { name: "Agents" });
  await expect(agents.locator("table.agents tbody tr")).toHaveCount(api.analytics.agents.length);

  await page.getByRole("link", { name: "Last 30 days" }).click();
  await expect(page).toHaveURL(/period=30d/);
  await expect(rows).toHaveCount(30);
  await expect(page.getByRole("link", { name: "Last 30 days" })).toHaveAttribute("aria-current", "page");

  // A custom range: yesterday and today, both included.
  const day = (offset: number) => new Date(Date.now() + offset * 86_400_000).toISOString().slice(0, 10);
  const range = page.getByRole("form", { name: "Custom range" });
  await range.getByLabel("From").fill(day(-1));
  await range.getByLabel("To").fill(day(0));
  await range.getByRole("button", { name: "Show range" }).click();
  await expect(page).toHaveURL(new RegExp(`from=${day(-1)}&to=${day(0)}`));
  await expect(rows).toHaveCount(2);
  await expect(page.locator("[data-range]")).toHaveText(`${day(-1)} to ${day(0)} (UTC)`);
  await expect(total).toHaveText(calls!);
  // Backwards is refused in words.
  await page.goto(`/calling/analytics?from=${day(0)}&to=${day(-1)}`);
  await expect(page.getByRole("alert")).toContainText("to: is before from");
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
