// The hub's relay links send everything one event-loop turn produced, for every camera, in one
// write per relay: the relay socket is corked on the turn's first send and uncorked after the turn's
// I/O. Real relay server and clients over loopback; the writes are counted on
// the hub's TCP socket, and a watching device checks every frame arrives whole.
import { Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { newHubIdentity, sign } from '../../crypto/identity.ts';
import { cryptoReady } from '../../crypto/sodium.ts';
import { HubLinks, type Link } from '../../main/hub-links.ts';
import WebSocket from 'ws';
import { RelayClient, RelayClientError, type MediaMessage, type WebSocketConstructor } from '../../relay/client.ts';
import { RIGHT_WATCH, signCapability } from '../../relay/codec.ts';
import { startRelay, type RelayHandle } from '../../relay/server.ts';

let relay: RelayHandle;
let links: HubLinks;
let link: Link;
let hub: ReturnType<typeof newHubIdentity>;

beforeAll(async () => {
  await cryptoReady();
  relay = await startRelay({ host: '127.0.0.1', port: 0 });
  hub = newHubIdentity();
  links = new HubLinks(hub, { onMessage: () => undefined, onMailboxMessage: () => undefined, onReady: () => undefined, onState: () => undefined });
  link = links.add('relay', relay.url);
  await link.client.waitReady(10_000);
});

afterAll(async () => {
  await links?.close();
  await relay?.close();
});

/** Counts the writes handed to the kernel by sockets connected to the relay's port (the hub's side). */
function countWrites(port: number): { writes: () => number; restore: () => void } {
  const proto = Socket.prototype as unknown as Record<'_write' | '_writev', (this: Socket, ...args: unknown[]) => unknown>;
  const original = { _write: proto._write, _writev: proto._writev };
  let n = 0;
  for (const name of ['_write', '_writev'] as const) {
    proto[name] = function (this: Socket, ...args: unknown[]) {
      if (this.remotePort === port) n++;
      return original[name].apply(this, args);
    };
  }
  return { writes: () => n, restore: () => Object.assign(proto, original) };
}

describe('HubLinks', () => {
  it('sends the messages of one turn in one write per relay, each intact', async () => {
    const spy = countWrites(relay.port);
    try {
      // Eight sends in one turn, as eight cameras' fragments read in one turn would be published.
      const sent = Array.from({ length: 8 }, (_, i) => link.send(new Uint8Array(32).fill(i + 1), new Uint8Array(1000 + i).fill(i)));
      expect(spy.writes()).toBe(0); // held until the turn ends
      const results = await Promise.allSettled(sent);
      expect(spy.writes()).toBe(1);
      // The relay parsed every one and answered each (no phone has that id: refused, not lost).
      for (const r of results) {
        expect(r.status).toBe('rejected');
        const e = (r as PromiseRejectedResult).reason as RelayClientError;
        expect(e).toBeInstanceOf(RelayClientError);
        expect(['timeout', 'disconnected', 'closed']).not.toContain(e.code);
      }
      // The next turn's message goes out on its own.
      await Promise.allSettled([link.send(new Uint8Array(32).fill(9), new Uint8Array(10))]);
      expect(spy.writes()).toBe(2);
    } finally {
      spy.restore();
    }
  });

  it('batched messages of every length arrive intact: short, 16-bit and 64-bit frame lengths, at a watcher', async () => {
    const device = newHubIdentity().relay; // any Ed25519 key pair will do for a watching device
    const got: MediaMessage[] = [];
    let arrived: () => void = () => undefined;
    const watcher = new RelayClient({
      url: relay.url, publicKey: device.publicKey, sign: (m) => sign(device, m),
      WebSocket: WebSocket as unknown as WebSocketConstructor,
      onMedia: (m) => {
        got.push(m);
        arrived();
      },
    });
    try {
      await watcher.waitReady(10_000);
      await links.grant(signCapability({ hubRelayId: hub.relay.publicKey, deviceRelayId: device.publicKey, rights: RIGHT_WATCH, expiresAt: Math.floor(Date.now() / 1000) + 600 }, (m) => sign(hub.relay, m)));
      const topic = 'ab'.repeat(16);
      await watcher.subscribe(hub.relay.publicKey, Uint8Array.from(Buffer.from(topic, 'hex')));
      const deadline = Date.now() + 10_000;
      while (links.watchers(topic) === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
      expect(links.watchers(topic)).toBe(1);
      // Payload lengths around the frame's length encodings (the publish header adds a few bytes),
      // one turn, then the same again in the next turn (the turn buffer is used again).
      const sizes = [0, 1, 47, 48, 100, 125, 126, 1000, 65_000, 65_536, 70_000, 300_000];
      const payloads = [...sizes, ...sizes].map((n, i) => Uint8Array.from({ length: n }, (_, j) => (j * 7 + i) & 0xff));
      const spy = countWrites(relay.port);
      try {
        const all = new Promise<void>((resolve) => {
          arrived = () => {
            if (got.length === payloads.length) resolve();
          };
        });
        for (const p of payloads.slice(0, sizes.length)) links.publish(topic, 0, p);
        await new Promise((r) => setImmediate(r));
        for (const p of payloads.slice(sizes.length)) links.publish(topic, 0, p);
        await all;
        expect(spy.writes()).toBe(2);
      } finally {
        spy.restore();
      }
      expect(got.map((m) => m.payload.length)).toEqual(payloads.map((p) => p.length));
      got.forEach((m, i) => expect(Buffer.from(m.payload).equals(Buffer.from(payloads[i]!))).toBe(true));
    } finally {
      await watcher.close();
    }
  });
});
