// The answer bridge: a WhatsApp call to the sandbox number rings in the agent's browser, is
// answered there with real WebRTC (Chromium's fake microphone ↔ the simulator's str0m peer),
// and hangs up from either side. Audio is checked on both ends: the simulator counts non-silent
// packets from the browser, and the browser's call panel shows the simulator's tone arriving.
import { APIRequestContext, expect, Page, test } from "@playwright/test";
import { openHydrated } from "./helpers";

async function scenario(request: APIRequestContext, baseURL: string, method: string, path: string, data?: unknown) {
  const response = await request.fetch(path, { method, data, headers: { Origin: baseURL } });
  expect(response.status(), await response.text()).toBe(200);
  return response.json();
}

async function ringFrom(request: APIRequestContext, baseURL: string, from: string, name: string): Promise<string> {
  const { numbers } = await scenario(request, baseURL, "GET", "/sandbox/numbers");
  const placed = await scenario(request, baseURL, "POST", "/sandbox/calls/inbound", {
    to: numbers[0].phone_number_id,
    from,
    name,
  });
  return placed.call_id;
}

function ringOf(page: Page, name: string) {
  return page.getByRole("alertdialog", { name: "Incoming WhatsApp call" }).filter({ hasText: name });
}

async function historyStatus(request: APIRequestContext, name: string) {
  const history = await (await request.get("/api/v1/app/calling/calls?limit=20")).json();
  return history.calls.find((call: any) => call.contact_name === name);
}

async function answerAndHearBothWays(page: Page, request: APIRequestContext, baseURL: string, waCallId: string, name: string) {
  const ring = ringOf(page, name);
  await ring.getByRole("button", { name: "Accept" }).click();
  const current = page.getByRole("region", { name: "Current call" });
  await expect(current).toHaveAttribute("data-phase", "live", { timeout: 20_000 });
  await expect(current).toContainText(name);
  await expect(ring).toHaveCount(0);
  await expect(async () => {
    const media = await scenario(request, baseURL, "GET", `/sandbox/calls/${waCallId}/media`);
    expect(media.rx_packets, "the simulator received the browser's audio").toBeGreaterThan(100);
    expect(media.rx_level, "…and it is not silence").toBeGreaterThan(0.01);
    expect(media.tx_packets).toBeGreaterThan(100);
    const packetsIn = Number(await current.locator("[data-audio='packets-in']").textContent());
    const levelIn = Number(await current.locator("[data-audio='level-in']").textContent());
    expect(packetsIn, "the browser received the simulator's audio").toBeGreaterThan(100);
    expect(levelIn, "…and hears the tone").toBeGreaterThan(0.1);
  }).toPass({ timeout: 25_000, intervals: [1000] });
  return current;
}

test("an inbound call rings in the browser, is answered there with audio both ways, and the agent hangs up", async ({
  page,
  request,
  baseURL,
}) => {
  await openHydrated(page, "/calling/calls");
  const waCallId = await ringFrom(request, baseURL!, "+919812345670", "Meera Iyer");
  const ring = ringOf(page, "Meera Iyer");
  await expect(ring).toBeVisible();
  await expect(ring).toContainText("+919812345670");
  await expect(ring).toContainText(/Rings for \d+:\d\d more/);
  await expect(page.locator(".bridge")).toHaveAttribute("data-ringtone", "on");

  const current = await answerAndHearBothWays(page, request, baseURL!, waCallId, "Meera Iyer");
  await expect(current.getByRole("status")).toContainText(/On call · \d+:\d\d/);

  // Mute: the caller gets no more audio from the agent; unmute: it flows again.
  const received = async () => (await scenario(request, baseURL!, "GET", `/sandbox/calls/${waCallId}/media`)).rx_packets;
  await current.getByRole("button", { name: "Mute" }).click();
  await expect(current.getByRole("button", { name: "Unmute" })).toHaveAttribute("aria-pressed", "true");
  await page.waitForTimeout(500);
  const whileMuted = await received();
  await page.waitForTimeout(1500);
  expect(await received(), "nothing reaches the caller while muted").toBeLessThanOrEqual(whileMuted + 2);
  await current.getByRole("button", { name: "Unmute" }).click();
  await expect(async () => expect(await received()).toBeGreaterThan(whileMuted + 25)).toPass({ timeout: 10_000 });

  await expect(page.locator(".bridge")).toHaveAttribute("data-ringtone", "off");
  await current.getByRole("button", { name: "Hang up" }).click();
  await expect(current.getByRole("status")).toHaveText("You hung up.");
  // The history on the page follows the call live, without a reload.
  await expect(page.getByRole("row", { name: /Meera Iyer/ })).toContainText("Completed");
  await expect(async () => {
    const call = await historyStatus(request, "Meera Iyer");
    expect(call.status).toBe("completed");
    expect(call.duration_seconds).toBeGreaterThanOrEqual(1);
  }).toPass({ timeout: 15_000 });
  await current.getByRole("button", { name: "Close" }).click();
  await expect(current).toHaveCount(0);

  // What the browser measured is kept with the call and shown on its page.
  const call = await historyStatus(request, "Meera Iyer");
  await openHydrated(page, `/calling/calls/${call.id}`);
  const quality = page.getByRole("region", { name: "Call quality" });
  await expect(quality).toBeVisible();
  expect(Number(await quality.locator("[data-quality='samples']").textContent())).toBeGreaterThanOrEqual(2);
  expect(Number(await quality.locator("[data-quality='mos']").textContent())).toBeGreaterThan(4);
  await expect(quality.locator("[data-quality='verdict']")).toHaveText("Excellent");
});

test("when the caller hangs up, the agent's call ends too", async ({ page, request, baseURL }) => {
  await openHydrated(page, "/calling");
  const waCallId = await ringFrom(request, baseURL!, "+919812345671", "Kabir Das");
  await expect(ringOf(page, "Kabir Das")).toBeVisible();
  const current = await answerAndHearBothWays(page, request, baseURL!, waCallId, "Kabir Das");
  await scenario(request, baseURL!, "POST", `/sandbox/calls/${waCallId}/hangup`);
  await expect(current).toHaveAttribute("data-phase", "ended", { timeout: 15_000 });
  await expect(current.getByRole("status")).toHaveText("The call has ended.");
  await expect(async () => expect((await historyStatus(request, "Kabir Das")).status).toBe("completed")).toPass({
    timeout: 15_000,
  });
});

test("a rejected call stops ringing and is recorded as rejected", async ({ page, request, baseURL }) => {
  await openHydrated(page, "/calling");
  await ringFrom(request, baseURL!, "+919812345672", "Zoya Khan");
  const ring = ringOf(page, "Zoya Khan");
  await expect(ring).toBeVisible();
  await ring.getByRole("button", { name: "Reject" }).click();
  await expect(ring).toHaveCount(0);
  await expect(async () => expect((await historyStatus(request, "Zoya Khan")).status).toBe("rejected")).toPass({
    timeout: 15_000,
  });
});

test("'Not me' stops the ring in this browser only; the call keeps ringing for the team", async ({
  page,
  request,
  baseURL,
}) => {
  await openHydrated(page, "/calling");
  await ringFrom(request, baseURL!, "+919812345674", "Tara Sen");
  const ring = ringOf(page, "Tara Sen");
  await ring.getByRole("button", { name: "Not me" }).click();
  await expect(ring).toHaveCount(0);
  await expect(page.locator(".bridge")).toHaveAttribute("data-ringtone", "off");
  const incoming = await (await request.get("/api/v1/app/calling/incoming")).json();
  const call = incoming.calls.find((c: any) => c.contact_name === "Tara Sen");
  expect(call, "still ringing for the rest of the team").toBeTruthy();
  // Someone else declines it; nothing comes back here.
  const rejected = await request.post(`/api/v1/app/calling/calls/${call.call_id}/reject`, { headers: { Origin: baseURL! } });
  expect(rejected.status()).toBe(200);
  await expect(ringOf(page, "Tara Sen")).toHaveCount(0);
});

test("a ring survives a page reload", async ({ page, request, baseURL }) => {
  await openHydrated(page, "/calling/analytics");
  await ringFrom(request, baseURL!, "+919812345673", "Ishaan Roy");
  await expect(ringOf(page, "Ishaan Roy")).toBeVisible();
  await page.reload();
  await expect(ringOf(page, "Ishaan Roy")).toBeVisible();
  await ringOf(page, "Ishaan Roy").getByRole("button", { name: "Reject" }).click();
  await expect(ringOf(page, "Ishaan Roy")).toHaveCount(0);
});

async function callFromTheBrowser(page: Page, to: string) {
  await openHydrated(page, "/calling");
  const form = page.getByRole("form", { name: "Place a call" });
  await form.getByLabel("WhatsApp number").fill(to);
  await form.getByRole("button", { name: "Call" }).click();
  return page.getByRole("region", { name: "Current call" });
}

async function waCallIdOf(request: APIRequestContext, contact: string): Promise<string> {
  const history = await (await request.get("/api/v1/app/calling/calls?limit=20&direction=business_initiated")).json();
  const call = history.calls.find((c: any) => c.contact_number === contact);
  expect(call, `an outbound call to ${contact} in the history`).toBeTruthy();
  const detail = await (await request.get(`/api/v1/app/calling/calls/${call.id}`)).json();
  return detail.wa_call_id;
}

test("an outbound call placed from the browser is answered by the customer with audio both ways", async ({
  page,
  request,
  baseURL,
}) => {
  const user = "+919812345680";
  const digits = user.slice(1);
  await scenario(request, baseURL!, "POST", `/sandbox/users/${digits}/permission`, { grant: "permanent" });
  await scenario(request, baseURL!, "PUT", `/sandbox/users/${digits}/behaviour`, { on_call: "answer", after_seconds: 1 });
  const current = await callFromTheBrowser(page, user);
  await expect(page.locator("[data-preview='allowed']")).toHaveText("Allowed: the call would go through.");
  await expect(current).toHaveAttribute("data-phase", "live", { timeout: 20_000 });
  const waCallId = await waCallIdOf(request, user);
  await expect(async () => {
    const media = await scenario(request, baseURL!, "GET", `/sandbox/calls/${waCallId}/media`);
    expect(media.rx_packets, "the customer received the agent's audio").toBeGreaterThan(100);
    expect(media.rx_level, "…and it is not silence").toBeGreaterThan(0.01);
    expect(Number(await current.locator("[data-audio='packets-in']").textContent())).toBeGreaterThan(100);
    expect(Number(await current.locator("[data-audio='level-in']").textContent())).toBeGreaterThan(0.1);
  }).toPass({ timeout: 25_000, intervals: [1000] });
  await current.getByRole("button", { name: "Hang up" }).click();
  await expect(current.getByRole("status")).toHaveText("You hung up.");
  await expect(async () => {
    const history = await (await request.get("/api/v1/app/calling/calls?limit=20&direction=business_initiated")).json();
    expect(history.calls.find((c: any) => c.contact_number === user).status).toBe("completed");
  }).toPass({ timeout: 15_000 });
});

test("a call requested through the API (as the CLI does) is dialled from the browser with audio both ways", async ({
  page,
  request,
  baseURL,
}) => {
  const user = "+919812345684";
  const digits = user.slice(1);
  await scenario(request, baseURL!, "POST", `/sandbox/users/${digits}/permission`, { grant: "permanent" });
  await scenario(request, baseURL!, "PUT", `/sandbox/users/${digits}/behaviour`, { on_call: "answer", after_seconds: 1 });
  await openHydrated(page, "/calling");
  // The permission reaches the ledger by WhatsApp's webhook: until then the request is refused.
  await expect(async () => {
    const requested = await request.post("/api/v1/app/calling/initiate", { data: { to: user }, headers: { Origin: baseURL! } });
    expect(requested.status(), await requested.text()).toBe(201);
    expect((await requested.json()).state).toBe("waiting_for_agent");
  }).toPass({ timeout: 15_000, intervals: [500] });
  const waiting = page.getByRole("dialog", { name: "Call to dial" }).filter({ hasText: user });
  await expect(waiting).toBeVisible({ timeout: 15_000 });
  await waiting.getByRole("button", { name: "Dial" }).click();
  const current = page.getByRole("region", { name: "Current call" });
  await expect(current).toHaveAttribute("data-phase", "live", { timeout: 20_000 });
  await expect(waiting).toHaveCount(0);
  const waCallId = await waCallIdOf(request, user);
  await expect(async () => {
    const media = await scenario(request, baseURL!, "GET", `/sandbox/calls/${waCallId}/media`);
    expect(media.rx_packets, "the customer received the agent's audio").toBeGreaterThan(100);
    expect(media.rx_level, "…and it is not silence").toBeGreaterThan(0.01);
    expect(Number(await current.locator("[data-audio='packets-in']").textContent())).toBeGreaterThan(100);
  }).toPass({ timeout: 25_000, intervals: [1000] });
  await current.getByRole("button", { name: "Hang up" }).click();
  await expect(current.getByRole("status")).toHaveText("You hung up.");
});

test("an outbound call the customer declines ends with a clear message", async ({ page, request, baseURL }) => {
  const user = "+919812345681";
  const digits = user.slice(1);
  await scenario(request, baseURL!, "POST", `/sandbox/users/${digits}/permission`, { grant: "permanent" });
  await scenario(request, baseURL!, "PUT", `/sandbox/users/${digits}/behaviour`, { on_call: "reject", after_seconds: 1 });
  const current = await callFromTheBrowser(page, user);
  await expect(current.getByRole("status")).toHaveText("The customer declined the call.", { timeout: 20_000 });
  await expect(current).toHaveAttribute("data-phase", "ended");
});

test("a call to someone who has not allowed calls is refused before it reaches WhatsApp", async ({
  page,
  request,
  baseURL,
}) => {
  const before = (await scenario(request, baseURL!, "GET", "/sandbox/calls")).calls.length;
  // The form says so as soon as the number is entered, before anyone clicks Call.
  await openHydrated(page, "/calling");
  const form = page.getByRole("form", { name: "Place a call" });
  await form.getByLabel("WhatsApp number").fill("+919812345682");
  await form.getByLabel("WhatsApp number").blur();
  await expect(page.locator("[data-preview='refused']")).toContainText("has not allowed calls");
  const current = await callFromTheBrowser(page, "+919812345682");
  await expect(current).toHaveAttribute("data-phase", "ended", { timeout: 15_000 });
  await expect(current.getByRole("status")).toContainText("has not allowed calls");
  expect((await scenario(request, baseURL!, "GET", "/sandbox/calls")).calls.length, "nothing reached WhatsApp").toBe(before);
});

test("an agent who is away is not rung until they are available again", async ({ page, request, baseURL }) => {
  await openHydrated(page, "/calling");
  const toggle = page.getByLabel("Account").getByRole("button", { name: "Available" });
  await toggle.click();
  const away = page.getByLabel("Account").getByRole("button", { name: "Away" });
  await expect(away).toHaveAttribute("aria-pressed", "false");
  await expect(async () => {
    const presence = await (await request.get("/api/v1/app/presence")).json();
    expect(presence.agents.find((a: any) => a.display_name === "Olivia Owner").presence).toBe("away");
  }).toPass({ timeout: 10_000 });

  await ringFrom(request, baseURL!, "+919812345690", "Nina Patel");
  await page.waitForTimeout(2_000);
  await expect(ringOf(page, "Nina Patel")).toHaveCount(0);
  await expect(page.locator(".bridge")).toHaveAttribute("data-ringtone", "off");

  await away.click();
  await expect(ringOf(page, "Nina Patel")).toBeVisible();
  await expect(page.locator(".bridge")).toHaveAttribute("data-ringtone", "on");
  await ringOf(page, "Nina Patel").getByRole("button", { name: "Reject" }).click();
  await expect(ringOf(page, "Nina Patel")).toHaveCount(0);
});

test("the audio check hears the microphone, plays a tone and finds a network path", async ({ page }) => {
  await openHydrated(page, "/calling");
  await page.getByLabel("Account").getByRole("link", { name: "Audio check" }).click();
  await expect(page).toHaveURL(/\/calling\/check$/);
  const mic = page.getByRole("region", { name: "Microphone" });
  await mic.getByRole("button", { name: "Test the microphone" }).click();
  await expect(mic.getByRole("status")).toHaveText("Your microphone is heard.", { timeout: 10_000 });
  const speakers = page.getByRole("region", { name: "Speakers" });
  await speakers.getByRole("button", { name: "Play a test tone" }).click();
  await expect(speakers.getByRole("status")).toHaveText("Tone played.");
  const connection = page.getByRole("region", { name: "Connection" });
  await connection.getByRole("button", { name: "Test the connection" }).click();
  await expect(connection.locator("[data-check='candidates']")).toHaveAttribute("data-kinds", /host/, { timeout: 10_000 });
});
