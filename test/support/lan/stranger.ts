// Run inside a test namespace: a stranger on the home LAN (not on the hub's roster) tries the hub's
// LAN endpoint: logs in with its own key, subscribes to a camera, messages the hub, floods it with
// connections. Prints one JSON line with what happened.
import { generateKeyPairSync, sign as edSign } from 'node:crypto';
import WebSocket from 'ws';
import { RelayClient, type WebSocketConstructor } from '../../../relay/client.ts';

const [url, hubRelayHex, topicHex] = process.argv.slice(2) as [string, string, string];
const { publicKey, privateKey } = generateKeyPairSync('ed25519');
const raw = new Uint8Array(publicKey.export({ format: 'der', type: 'spki' }).subarray(12));
const media: number[] = [];
const client = new RelayClient({
  url, publicKey: raw, sign: (m) => new Uint8Array(edSign(null, m, privateKey)),
  WebSocket: WebSocket as unknown as WebSocketConstructor, backoffMs: [60_000],
  onMedia: (m) => media.push(m.payload.length),
});
const code = (e: unknown) => (e as { code?: string }).code ?? String(e);
const result: Record<string, unknown> = {};
try {
  await client.waitReady(5000);
  result.loggedIn = true;
  const hub = Uint8Array.from(Buffer.from(hubRelayHex, 'hex'));
  const topic = Uint8Array.from(Buffer.from(topicHex, 'hex'));
  result.subscribe = await client.subscribe(hub, topic).then(() => 'ok', code);
  result.send = await client.send(hub, new Uint8Array([0x20, 1, 2, 3])).then(() => 'ok', code);
  await new Promise((r) => setTimeout(r, 1500));
  result.mediaReceived = media.length;
  // A flood of connections from one address: the endpoint's per-address limit refuses the rest.
  const sockets: WebSocket[] = [];
  let opened = 0;
  let refused = 0;
  await Promise.all(Array.from({ length: 120 }, () => new Promise<void>((resolve) => {
    const ws = new WebSocket(url);
    sockets.push(ws);
    const t = setTimeout(() => resolve(), 15_000);
    ws.on('message', () => { opened++; clearTimeout(t); resolve(); });
    ws.on('close', (c) => { if (c >= 4000) refused++; clearTimeout(t); resolve(); });
    ws.on('error', () => { clearTimeout(t); resolve(); });
  })));
  result.flood = { tried: 120, challenged: opened, refused };
  for (const ws of sockets) ws.terminate();
} catch (e) {
  result.error = code(e);
}
await client.close();
console.log(JSON.stringify(result));
process.exit(0);
