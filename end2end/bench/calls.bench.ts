// Calls rung and answered in the browser, one after another, against a release server with the
// sandbox simulator: how long from the simulated customer dialling to the ring showing, from
// clicking Accept to WhatsApp's 200 for `accept`, and from there to the first audio packet the
// simulated customer receives. Results as a Markdown table in BENCH_OUT.
import { expect, test } from "@playwright/test";
import * as fs from "fs";

const CALLS = Number(process.env.BENCH_CALLS ?? 50);
/** Calls before the measured ones, so the figures are the steady state rather than the first
 * call's one-off costs (the browser compiling the bridge's code paths, the server's pools). */
const WARM_UP = 3;
/** What the table's heading says about the run, e.g. "simulator in full-ICE mode". */
const LABEL = process.env.BENCH_LABEL ?? "";

function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))];
}

test("calls rung and answered in the browser", async ({ page, baseURL }) => {
  const origin = { Origin: baseURL! };
  const owner = { email: "bench@example.test", password: "bench-password-long", display_name: "Bench Agent" };
  const setup = await page.request.post("/api/v1/setup", { data: owner, headers: origin });
  if (setup.status() !== 201) {
    expect((await page.request.post("/api/v1/login", { data: owner, headers: origin })).status()).toBe(200);
  }
  await page.goto("/calling");
  await expect(page.locator("[data-hydrated='true']")).toBeVisible();
  // The moment each ring card appears, by the browser's clock (the same clock as this process).
  await page.evaluate(() => {
    const seen: Record<string, number> = {};
    (window as any).__rings = seen;
    new MutationObserver(() => {
      document.querySelectorAll(".ring[data-call-id]").forEach((card) => {
        const id = card.getAttribute("data-call-id")!;
        if (!(id in seen)) seen[id] = Date.now();
      });
    }).observe(document.body, { childList: true, subtree: true });
  });
  const { numbers } = await (await page.request.get("/sandbox/numbers")).json();
  const ring: number[] = [];
  const accept: number[] = [];
  const firstAudio: number[] = [];
  for (let i = 0; i < WARM_UP + CALLS; i++) {
    const measured = i >= WARM_UP;
    const name = `Bench caller ${String(i).padStart(3, "0")}`;
    const dialled = Date.now();
    const placed = await page.request.post("/sandbox/calls/inbound", {
      data: { to: numbers[0].phone_number_id, from: `+9198100${String(i).padStart(5, "0")}`, name },
      headers: origin,
    });
    expect(placed.status(), await placed.text()).toBe(200);
    const waCallId = (await placed.json()).call_id;
    const card = page.locator(".ring", { hasText: name });
    await card.waitFor();
    const callId = (await card.getAttribute("data-call-id"))!;
    const rang = (await page.evaluate((id) => (window as any).__rings[id], callId)) - dialled;
    if (measured) ring.push(rang);

    const accepted = page.waitForResponse((r) => r.url().endsWith(`/calls/${callId}/accept`));
    const clicked = Date.now();
    await card.getByRole("button", { name: "Accept" }).click();
    expect((await accepted).status()).toBe(200);
    const acceptedAt = Date.now();
    if (measured) accept.push(acceptedAt - clicked);
    for (;;) {
      const media = await (await page.request.get(`/sandbox/calls/${waCallId}/media`)).json();
      if (media.rx_packets > 0) {
        if (measured) firstAudio.push(Date.now() - acceptedAt);
        break;
      }
      expect(Date.now() - acceptedAt, "first audio packet").toBeLessThan(10_000);
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    const current = page.getByRole("region", { name: "Current call" });
    await current.getByRole("button", { name: "Hang up" }).click();
    await current.getByRole("button", { name: "Close" }).click();
    // One call at a time: the next customer dials once this call's teardown (the simulator's
    // and the browser's WebRTC sessions, the call's last events) is over, as between two real
    // calls, rather than into it.
    await page.waitForTimeout(500);
  }
  const row = (label: string, values: number[], target: string) =>
    `| ${label} | ${percentile(values, 50)} | ${percentile(values, 99)} | ${Math.max(...values)} | ${target} |`;
  const table = [
    `${LABEL ? `${LABEL}: ` : ""}${CALLS} calls, one at a time, after ${WARM_UP} warm-up calls (ms):`,
    "",
    "| measure | p50 | p99 | max | target |",
    "|---|---:|---:|---:|---|",
    row("customer dials → ring shown in the browser", ring, "p99 < 50"),
    row("Accept clicked → `accept` 200 (mic, answer, ICE gathering, pre-accept, ICE connect, accept)", accept, "< 500"),
    row("`accept` 200 → first audio packet at the customer", firstAudio, "—"),
    "",
  ].join("\n");
  console.log(table);
  if (process.env.BENCH_OUT) fs.appendFileSync(process.env.BENCH_OUT, table + "\n");
});
