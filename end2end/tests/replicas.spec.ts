// Two replicas of the server on one PostgreSQL database (./dev starts them beside the main
// suite's server and passes REPLICA_A_URL and REPLICA_B_URL). Replica A runs the sandbox, so
// WhatsApp's signed webhooks reach A only; the agent's browser is signed in to replica B. The
// call must ring on B through PostgreSQL's LISTEN/NOTIFY bus, be answered there with audio both
// ways (B sends pre_accept/accept to WhatsApp), and end completed in the history B shows.
import { APIRequestContext, expect, test } from "@playwright/test";
import { OWNER, SIGNED_OUT, openHydrated } from "./helpers";

const A = process.env.REPLICA_A_URL ?? "";
const B = process.env.REPLICA_B_URL ?? "";

async function ok(request: APIRequestContext, origin: string, method: string, path: string, data?: unknown) {
  const response = await request.fetch(`${origin}${path}`, { method, data, headers: { Origin: origin } });
  expect(response.status(), `${method} ${origin}${path}: ${await response.text()}`).toBe(200);
  return response.json();
}

test.use({ storageState: SIGNED_OUT });

test("a webhook taken by replica A rings the agent on replica B, who answers with audio both ways", async ({
  browser,
  playwright,
}) => {
  test.skip(!A || !B, "REPLICA_A_URL and REPLICA_B_URL are not set; ./dev e2e sets them");

  // The replicas' own install: its owner is created on A and signs in on B (one database).
  const onA = await playwright.request.newContext();
  const setup = await onA.post(`${A}/api/v1/setup`, { data: OWNER, headers: { Origin: A } });
  if (setup.status() !== 201) await ok(onA, A, "POST", "/api/v1/login", OWNER);
  const context = await browser.newContext({ baseURL: B, storageState: SIGNED_OUT });
  const page = await context.newPage();
  await ok(page.request, B, "POST", "/api/v1/login", OWNER);
  await openHydrated(page, "/calling");

  // The simulated customer calls the sandbox number; its webhook goes to A.
  const { numbers } = await ok(onA, A, "GET", "/sandbox/numbers");
  const placed = await ok(onA, A, "POST", "/sandbox/calls/inbound", {
    to: numbers[0].phone_number_id,
    from: "+919812345699",
    name: "Replica Caller",
  });
  const ring = page.getByRole("alertdialog", { name: "Incoming WhatsApp call" }).filter({ hasText: "Replica Caller" });
  await expect(ring).toBeVisible();
  await ring.getByRole("button", { name: "Accept" }).click();

  const current = page.getByRole("region", { name: "Current call" });
  await expect(current).toHaveAttribute("data-phase", "live", { timeout: 20_000 });
  await expect(async () => {
    const media = await ok(onA, A, "GET", `/sandbox/calls/${placed.call_id}/media`);
    expect(media.rx_packets, "WhatsApp's side received the browser's audio").toBeGreaterThan(100);
    expect(media.rx_level, "…and it is not silence").toBeGreaterThan(0.01);
    expect(Number(await current.locator("[data-audio='packets-in']").textContent()), "the browser hears WhatsApp").toBeGreaterThan(100);
  }).toPass({ timeout: 25_000, intervals: [1000] });

  await current.getByRole("button", { name: "Hang up" }).click();
  await expect(current.getByRole("status")).toHaveText("You hung up.");
  // Both replicas read the same history.
  for (const [request, origin] of [
    [page.request, B],
    [onA, A],
  ] as const) {
    await expect(async () => {
      const history = await ok(request, origin, "GET", "/api/v1/app/calling/calls?limit=5");
      const call = history.calls.find((c: any) => c.contact_name === "Replica Caller");
      expect(call?.status, origin).toBe("completed");
    }).toPass({ timeout: 15_000 });
  }
  await context.close();
  await onA.dispose();
});
