// A WebSocket proxy between clients and the relay that plays a hostile relay on command: it can flip
// one byte in the next media frame it forwards to a phone, and inject a frame sealed by a stranger
// hub as if the relay had misrouted it. Start the relay with `--public-host` naming the proxy, since
// clients sign the host they connect to.
import { WebSocketServer, WebSocket, type RawData } from 'ws';
import type { AddressInfo } from 'node:net';
import { decodeServerMessage, encodeMessage } from '../../../relay/codec.ts';

export interface MediaProxy {
  readonly url: string;
  readonly port: number;
  setUpstream(url: string): void;
  /** Flip a byte in the ciphertext of the next media frame forwarded to a client. */
  tamperNext(): Promise<void>;
  /** Send every client that receives media this payload, as a media frame of the last topic seen. */
  injectMedia(payload: Uint8Array): number;
  close(): Promise<void>;
}

function bytes(data: RawData): Uint8Array {
  if (Buffer.isBuffer(data)) return new Uint8Array(data);
  if (Array.isArray(data)) return new Uint8Array(Buffer.concat(data));
  return new Uint8Array(data);
}

const MEDIA = 0x46;

export async function startMediaProxy(): Promise<MediaProxy> {
  const wss = new WebSocketServer({ host: '127.0.0.1', port: 0, maxPayload: 8 * 1024 * 1024 });
  await new Promise<void>((r) => wss.once('listening', () => r()));
  const port = (wss.address() as AddressInfo).port;
  let upstream = '';
  let tamper: (() => void) | undefined;
  let last: { hubRelayId: Uint8Array; topicId: Uint8Array } | undefined;
  const viewers = new Set<WebSocket>();
  wss.on('connection', (client, req) => {
    const server = new WebSocket(upstream + (req.url?.replace(/^\/v1/, '') ?? ''));
    const early: Uint8Array[] = [];
    client.on('message', (d) => {
      if (server.readyState === WebSocket.OPEN) server.send(bytes(d));
      else early.push(bytes(d));
    });
    server.on('open', () => {
      for (const m of early.splice(0)) server.send(m);
    });
    server.on('message', (d) => {
      let m = bytes(d);
      if (m[1] === MEDIA) {
        viewers.add(client);
        const decoded = decodeServerMessage(m);
        if (decoded.type === 'media') {
          last = { hubRelayId: decoded.hubRelayId, topicId: decoded.topicId };
          if (tamper !== undefined) {
            const payload = decoded.payload.slice();
            payload[payload.length - 20]! ^= 0x01; // inside the ciphertext
            m = encodeMessage({ ...decoded, payload });
            const done = tamper;
            tamper = undefined;
            done();
          }
        }
      }
      if (client.readyState === WebSocket.OPEN) client.send(m);
    });
    const end = () => {
      viewers.delete(client);
      client.close();
      server.close();
    };
    client.on('close', end);
    server.on('close', end);
    client.on('error', end);
    server.on('error', end);
  });
  return {
    url: `ws://127.0.0.1:${port}/v1`,
    port,
    setUpstream(url) {
      upstream = url;
    },
    tamperNext() {
      return new Promise<void>((r) => {
        tamper = r;
      });
    },
    injectMedia(payload) {
      if (last === undefined) throw new Error('no media seen yet');
      const frame = encodeMessage({ type: 'media', hubRelayId: last.hubRelayId, topicId: last.topicId, flags: 0, dropped: 0, payload });
      let n = 0;
      for (const v of viewers) {
        if (v.readyState === WebSocket.OPEN) {
          v.send(frame);
          n++;
        }
      }
      return n;
    },
    async close() {
      for (const c of wss.clients) c.terminate();
      await new Promise<void>((r) => wss.close(() => r()));
    },
  };
}
