// A wiretap between clients and the relay: a WebSocket proxy that forwards every message both ways
// and keeps a copy. Tests use it as "a full capture of relay traffic" (what a malicious relay keeps
// forever) and check that it holds nothing useful. Start the relay with `--public-host` naming the
// tap, since clients sign the host they connect to.
import { WebSocketServer, WebSocket, type RawData } from 'ws';
import type { AddressInfo } from 'node:net';
import { decodeServerMessage, encodeMessage, type ServerMessage } from '../../relay/codec.ts';

/**
 * Plays a relay that holds back, drops, swaps or keeps what it hands a client: sees each message the
 * relay sends, decoded, with the relay id (hex) the client logged in as, and sends what it wants with
 * `deliver` (nothing: dropped).
 */
export type TapHook = (m: ServerMessage, raw: Buffer, clientRelayIdHex: string | undefined, deliver: (b: Buffer) => void) => void;

export interface RelayTap {
  readonly url: string;
  readonly host: string;
  /** Every message seen, both directions, in order. */
  readonly captured: Buffer[];
  setUpstream(url: string): void;
  /**
   * Plays a relay that forwards what it should not: hands the client logged in as `toRelayId`
   * (hex) a direct message claiming to come from `from`.
   */
  injectMessage(toRelayIdHex: string, from: Uint8Array, payload: Uint8Array): void;
  /** From now on, what the relay sends clients goes through `hook` (undefined: forwarded again). */
  setHook(hook: TapHook | undefined): void;
  close(): Promise<void>;
}

function toBuffer(data: RawData): Buffer {
  if (Buffer.isBuffer(data)) return data;
  if (Array.isArray(data)) return Buffer.concat(data);
  return Buffer.from(data);
}

export async function startRelayTap(): Promise<RelayTap> {
  const wss = new WebSocketServer({ host: '127.0.0.1', port: 0, maxPayload: 8 * 1024 * 1024 });
  await new Promise<void>((r) => wss.once('listening', () => r()));
  const port = (wss.address() as AddressInfo).port;
  const captured: Buffer[] = [];
  let upstream = '';
  const byRelayId = new Map<string, WebSocket>();
  let hook: TapHook | undefined;
  wss.on('connection', (client, req) => {
    let relayIdHex: string | undefined;
    const server = new WebSocket(upstream + (req.url?.replace(/^\/v1/, '') ?? ''));
    const pending: Buffer[] = [];
    server.on('open', () => {
      for (const m of pending.splice(0)) server.send(m);
    });
    client.on('message', (data) => {
      const b = toBuffer(data);
      captured.push(b);
      if (server.readyState === WebSocket.OPEN) server.send(b);
      else pending.push(b);
    });
    server.on('message', (data) => {
      const b = toBuffer(data);
      captured.push(b);
      let m: ServerMessage | undefined;
      try {
        m = decodeServerMessage(new Uint8Array(b));
        if (m.type === 'ready') {
          relayIdHex = Buffer.from(m.relayId).toString('hex');
          byRelayId.set(relayIdHex, client);
        }
      } catch {
        // not ours to judge
      }
      const deliver = (x: Buffer): void => {
        if (client.readyState === WebSocket.OPEN) client.send(x);
      };
      if (hook !== undefined && m !== undefined) hook(m, b, relayIdHex, deliver);
      else deliver(b);
    });
    const closeBoth = () => {
      client.terminate();
      server.terminate();
    };
    client.on('close', closeBoth);
    server.on('close', closeBoth);
    client.on('error', closeBoth);
    server.on('error', closeBoth);
  });
  return {
    url: `ws://127.0.0.1:${port}/v1`,
    host: `127.0.0.1:${port}`,
    captured,
    setUpstream(url) {
      upstream = url;
    },
    setHook(h) {
      hook = h;
    },
    injectMessage(toRelayIdHex, from, payload) {
      const client = byRelayId.get(toRelayIdHex);
      if (client === undefined) throw new Error(`no client logged in as ${toRelayIdHex.slice(0, 8)}`);
      client.send(encodeMessage({ type: 'message', from, payload }));
    },
    close: () => new Promise<void>((r) => {
      for (const c of wss.clients) c.terminate();
      wss.close(() => r());
    }),
  };
}
