// The WhatsApp simulator holds real two-way audio calls with a real browser over loopback.
//
// Chromium plays the business (as Switchboard's answer bridge will); the simulator plays the
// WhatsApp user with its str0m peer, ICE-lite like Meta. The spec talks to the simulator's
// Graph API and scenario API directly and receives its signed webhooks on a tiny local server.
import { expect, test } from "@playwright/test";
import { ChildProcess, spawn } from "node:child_process";
import http from "node:http";
import { AddressInfo } from "node:net";

const SIM_BIN = process.env.SIM_BIN ?? "";
const TOKEN = "sandbox-access-token";
const PHONE_NUMBER_ID = "100000000000001";

type Webhook = { entry: { changes: { value: any }[] }[] };

const PAGE = `<!doctype html><html><body><audio id="remote" autoplay></audio><script>
async function gathered(pc) {
  if (pc.iceGatheringState === "complete") return;
  await new Promise((done) => {
    pc.addEventListener("icegatheringstatechange", () => pc.iceGatheringState === "complete" && done());
    setTimeout(done, 5000);
  });
}
async function peer() {
  const mic = await navigator.mediaDevices.getUserMedia({ audio: true });
  const pc = (window.pc = new RTCPeerConnection());
  pc.ontrack = (e) => { document.getElementById("remote").srcObject = e.streams[0] || new MediaStream([e.track]); };
  return { pc, mic };
}
window.answerOffer = async (offer) => {
  const { pc, mic } = await peer();
  await pc.setRemoteDescription({ type: "offer", sdp: offer });
  mic.getTracks().forEach((t) => pc.addTrack(t, mic));
  await pc.setLocalDescription(await pc.createAnswer());
  await gathered(pc);
  return pc.localDescription.sdp;
};
window.makeOffer = async () => {
  const { pc, mic } = await peer();
  mic.getTracks().forEach((t) => pc.addTrack(t, mic));
  await pc.setLocalDescription(await pc.createOffer());
  await gathered(pc);
  return pc.localDescription.sdp;
};
window.applyAnswer = (sdp) => window.pc.setRemoteDescription({ type: "answer", sdp });
window.audioStats = async () => {
  const out = { state: window.pc.connectionState, inbound: null, outbound: null };
  (await window.pc.getStats()).forEach((s) => {
    if (s.type === "inbound-rtp" && s.kind === "audio") out.inbound = { packets: s.packetsReceived, level: s.audioLevel ?? 0 };
    if (s.type === "outbound-rtp" && s.kind === "audio") out.outbound = { packets: s.packetsSent, bytes: s.bytesSent };
  });
  return out;
};
</script></body></html>`;

let sim: ChildProcess;
let server: http.Server;
let base = "";
let simBase = "";
const webhooks: Webhook[] = [];

async function freePort(): Promise<number> {
  const probe = http.createServer();
  await new Promise<void>((done) => probe.listen(0, "127.0.0.1", done));
  const { port } = probe.address() as AddressInfo;
  await new Promise((done) => probe.close(done));
  return port;
}

test.beforeAll(async () => {
  test.skip(!SIM_BIN, "SIM_BIN (the switchboard-sim binary) is not set; ./dev e2e sets it");
  server = http.createServer((req, res) => {
    let body = "";
    req.on("data", (chunk) => (body += chunk));
    req.on("end", () => {
      if (req.method === "POST") {
        webhooks.push(JSON.parse(body));
        res.end("ok");
      } else {
        res.setHeader("content-type", "text/html");
        res.end(PAGE);
      }
    });
  });
  await new Promise<void>((done) => server.listen(0, "127.0.0.1", done));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const simPort = await freePort();
  simBase = `http://127.0.0.1:${simPort}`;
  sim = spawn(SIM_BIN, ["--port", String(simPort), "--webhook-url", `${base}/webhook`, "--ice-lite"], { stdio: "inherit" });
  await expect(async () => expect((await fetch(`${simBase}/sandbox/healthz`)).status).toBe(200)).toPass({ timeout: 15_000 });
});

test.afterAll(async () => {
  sim?.kill();
  await new Promise((done) => (server ? server.close(done) : done(undefined)));
});

async function graph(body: object): Promise<[number, any]> {
  const reply = await fetch(`${simBase}/v23.0/${PHONE_NUMBER_ID}/calls`, {
    method: "POST",
    headers: { authorization: `Bearer ${TOKEN}`, "content-type": "application/json" },
    body: JSON.stringify({ messaging_product: "whatsapp", ...body }),
  });
  return [reply.status, await reply.json()];
}

async function scenario(method: string, path: string, body?: object): Promise<any> {
  const reply = await fetch(`${simBase}${path}`, {
    method,
    headers: { "content-type": "application/json" },
    body: body && JSON.stringify(body),
  });
  return reply.json();
}

async function callWebhook(callId: string, event: string): Promise<any> {
  let found: any;
  await expect(async () => {
    found = webhooks
      .flatMap((w) => w.entry.flatMap((e) => e.changes.flatMap((c) => c.value.calls ?? [])))
      .find((call: any) => call.id === callId && call.event === event);
    expect(found).toBeTruthy();
  }).toPass({ timeout: 15_000 });
  return found;
}

async function expectTwoWayAudio(page: any, callId: string) {
  await expect(async () => {
    const media = await scenario("GET", `/sandbox/calls/${callId}/media`);
    const browser = await page.evaluate(() => (window as any).audioStats());
    expect(browser.state).toBe("connected");
    expect(media.rx_packets, "simulator received the browser's audio").toBeGreaterThan(100);
    expect(media.rx_level, "…and it is not silence").toBeGreaterThan(0.01);
    expect(media.tx_packets).toBeGreaterThan(100);
    expect(browser.inbound.packets, "browser received the simulator's audio").toBeGreaterThan(100);
    expect(browser.inbound.level, "…and hears the tone").toBeGreaterThan(0.1);
  }).toPass({ timeout: 20_000, intervals: [500] });
}

test("an inbound call answered in the browser carries audio both ways", async ({ page }) => {
  await page.goto(base);
  const { call_id } = await scenario("POST", "/sandbox/calls/inbound", { to: PHONE_NUMBER_ID, from: "+919876543210", name: "Ravi" });
  const connect = await callWebhook(call_id, "connect");
  expect(connect.session.sdp_type).toBe("offer");
  const answer = await page.evaluate((offer: string) => (window as any).answerOffer(offer), connect.session.sdp);
  const session = { sdp_type: "answer", sdp: answer };
  expect(await graph({ call_id, action: "pre_accept", session })).toEqual([200, { messaging_product: "whatsapp", success: true }]);
  expect(await graph({ call_id, action: "accept", session })).toEqual([200, { messaging_product: "whatsapp", success: true }]);
  await expectTwoWayAudio(page, call_id);
  expect((await graph({ call_id, action: "terminate" }))[0]).toBe(200);
  const terminate = await callWebhook(call_id, "terminate");
  expect(terminate.status).toBe("COMPLETED");
  expect(typeof terminate.duration).toBe("number");
});

test("an outbound call placed from the browser carries audio both ways", async ({ page }) => {
  await page.goto(base);
  const user = "919876543211";
  await scenario("POST", `/sandbox/users/${user}/permission`, { grant: "permanent" });
  await scenario("PUT", `/sandbox/users/${user}/behaviour`, { on_call: "answer", after_seconds: 1 });
  const offer = await page.evaluate(() => (window as any).makeOffer());
  const [status, placed] = await graph({ to: user, action: "connect", session: { sdp_type: "offer", sdp: offer } });
  expect(status).toBe(200);
  const callId = placed.calls[0].id;
  const connect = await callWebhook(callId, "connect");
  expect(connect.session.sdp_type).toBe("answer");
  await page.evaluate((sdp: string) => (window as any).applyAnswer(sdp), connect.session.sdp);
  await expectTwoWayAudio(page, callId);
  await scenario("POST", `/sandbox/calls/${callId}/hangup`);
  const terminate = await callWebhook(callId, "terminate");
  expect(terminate.status).toBe("COMPLETED");
});
