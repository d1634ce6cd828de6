// Interop check (manual, not part of cargo test): switchboard-sim's str0m user peer against
// Debian's headless Chromium playing the business, in both call directions.
// Usage: cargo build -p simulator --bin switchboard-sim && node simulator/interop/chromium.js [lite|full]
// (SIM_BIN=path to the binary, PLAYWRIGHT_CORE=path to playwright-core; end2end/ installs it).
// Prints the simulator's media counters and the browser's getStats for each call.
const http = require('http');
const { spawn } = require('child_process');
const { chromium } = require(process.env.PLAYWRIGHT_CORE || require('path').join(__dirname, '../../end2end/node_modules/playwright-core'));
const SIM_PORT = 4711, HOOK_PORT = 4712, TOKEN = 'sandbox-access-token', PID = '100000000000001';
const hooks = [];
const page_html = `<!doctype html><html><body><audio id=a autoplay></audio><script>
window.pc = null;
async function gather(pc){ if (pc.iceGatheringState==='complete') return; await new Promise(r=>{ pc.addEventListener('icegatheringstatechange',()=>{ if(pc.iceGatheringState==='complete') r(); }); setTimeout(r, 5000); }); }
window.answerOffer = async (offer) => {
  const s = await navigator.mediaDevices.getUserMedia({audio:true});
  const pc = window.pc = new RTCPeerConnection();
  pc.ontrack = e => { document.getElementById('a').srcObject = e.streams[0] || new MediaStream([e.track]); };
  await pc.setRemoteDescription({type:'offer', sdp: offer});
  s.getTracks().forEach(t => pc.addTrack(t, s));
  await pc.setLocalDescription(await pc.createAnswer());
  await gather(pc); return pc.localDescription.sdp; };
window.makeOffer = async () => {
  const s = await navigator.mediaDevices.getUserMedia({audio:true});
  const pc = window.pc = new RTCPeerConnection();
  pc.ontrack = e => { document.getElementById('a').srcObject = e.streams[0] || new MediaStream([e.track]); };
  s.getTracks().forEach(t => pc.addTrack(t, s));
  await pc.setLocalDescription(await pc.createOffer());
  await gather(pc); return pc.localDescription.sdp; };
window.applyAnswer = async (sdp) => { await window.pc.setRemoteDescription({type:'answer', sdp}); };
window.stats = async () => { const r = await window.pc.getStats(); const o = {state: window.pc.connectionState}; r.forEach(s => { if (s.type==='inbound-rtp' && s.kind==='audio') o.in = {packets:s.packetsReceived, level:s.audioLevel, samples:s.totalSamplesReceived}; if (s.type==='outbound-rtp' && s.kind==='audio') o.out = {packets:s.packetsSent, bytes:s.bytesSent}; }); return o; };
</script></body></html>`;
const srv = http.createServer((req, res) => {
  let body = ''; req.on('data', d => body += d); req.on('end', () => {
    if (req.method === 'POST' && req.url === '/webhook') { hooks.push(JSON.parse(body)); res.end('ok'); return; }
    res.setHeader('content-type', 'text/html'); res.end(page_html); });
});
const sleep = ms => new Promise(r => setTimeout(r, ms));
async function waitHook(pred) { for (let i = 0; i < 200; i++) { for (const h of hooks) for (const e of h.entry) for (const c of e.changes) { const x = pred(c.value); if (x) return x; } await sleep(50); } throw new Error('no webhook'); }
const graph = (body) => fetch(`http://127.0.0.1:${SIM_PORT}/v23.0/${PID}/calls`, {method:'POST', headers:{authorization:`Bearer ${TOKEN}`, 'content-type':'application/json'}, body: JSON.stringify(body)}).then(async r => [r.status, await r.json()]);
const sb = (method, path, body) => fetch(`http://127.0.0.1:${SIM_PORT}${path}`, {method, headers:{'content-type':'application/json'}, body: body && JSON.stringify(body)}).then(r => r.json());
(async () => {
  srv.listen(HOOK_PORT, '127.0.0.1');
  const mode = process.argv[2] || 'lite';
  const sim = spawn(process.env.SIM_BIN || 'target/debug/switchboard-sim', ['--port', String(SIM_PORT), '--webhook-url', `http://127.0.0.1:${HOOK_PORT}/webhook`].concat(mode === 'full' ? ['--full-ice'] : []), {stdio: 'inherit'});
  await sleep(1500);
  const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', headless: true, args: ['--headless','--no-sandbox','--disable-gpu','--use-fake-ui-for-media-stream','--use-fake-device-for-media-stream','--allow-loopback-in-peer-connection','--autoplay-policy=no-user-gesture-required'] });
  try {
    const page = await browser.newPage(); await page.goto(`http://127.0.0.1:${HOOK_PORT}/`);
    // UIC
    const { call_id } = await sb('POST', '/sandbox/calls/inbound', { to: PID, from: '+919876543210', name: 'Ravi' });
    const offer = await waitHook(v => v.calls && v.calls[0].id === call_id && v.calls[0].event === 'connect' && v.calls[0].session.sdp);
    const answer = await page.evaluate(o => window.answerOffer(o), offer);
    const session = { sdp_type: 'answer', sdp: answer };
    console.log('UIC pre_accept', JSON.stringify(await graph({ messaging_product: 'whatsapp', call_id, action: 'pre_accept', session })));
    console.log('UIC accept', JSON.stringify(await graph({ messaging_product: 'whatsapp', call_id, action: 'accept', session })));
    await sleep(4000);
    console.log('UIC sim media', JSON.stringify(await sb('GET', `/sandbox/calls/${call_id}/media`)));
    console.log('UIC browser', JSON.stringify(await page.evaluate(() => window.stats())));
    console.log('UIC terminate', JSON.stringify(await graph({ messaging_product: 'whatsapp', call_id, action: 'terminate' })));
    // BIC
    await sb('POST', '/sandbox/users/919876543211/permission', { grant: 'permanent' });
    await sb('PUT', '/sandbox/users/919876543211/behaviour', { on_call: 'answer', after_seconds: 1 });
    const page2 = await browser.newPage(); await page2.goto(`http://127.0.0.1:${HOOK_PORT}/`);
    const boffer = await page2.evaluate(() => window.makeOffer());
    const [st, r] = await graph({ messaging_product: 'whatsapp', to: '919876543211', action: 'connect', session: { sdp_type: 'offer', sdp: boffer } });
    console.log('BIC connect', st, JSON.stringify(r));
    const bid = r.calls[0].id;
    const banswer = await waitHook(v => v.calls && v.calls[0].id === bid && v.calls[0].event === 'connect' && v.calls[0].session.sdp);
    await page2.evaluate(a => window.applyAnswer(a), banswer);
    await sleep(4500);
    console.log('BIC sim media', JSON.stringify(await sb('GET', `/sandbox/calls/${bid}/media`)));
    console.log('BIC browser', JSON.stringify(await page2.evaluate(() => window.stats())));
    await sb('POST', `/sandbox/calls/${bid}/hangup`);
    await sleep(300);
    const term = await waitHook(v => v.calls && v.calls[0].id === bid && v.calls[0].event === 'terminate' && v.calls[0]);
    console.log('BIC terminate', JSON.stringify(term));
  } finally { await browser.close(); sim.kill(); srv.close(); }
})().catch(e => { console.error(e); process.exit(1); });
