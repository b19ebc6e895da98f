// The hub's relay links send everything one event-loop turn produced, for every camera, in one
// write per relay: the socket is corked on the turn's first send and uncorked after the turn's I/O.
// Real relay server and client over loopback; the writes are counted on the hub's TCP socket.
import { Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { newHubIdentity } from '../../crypto/identity.ts';
import { cryptoReady } from '../../crypto/sodium.ts';
import { HubLinks, type Link } from '../../main/hub-links.ts';
import { RelayClientError } from '../../relay/client.ts';
import { startRelay, type RelayHandle } from '../../relay/server.ts';

let relay: RelayHandle;
let links: HubLinks;
let link: Link;

beforeAll(async () => {
  await cryptoReady();
  relay = await startRelay({ host: '127.0.0.1', port: 0 });
  links = new HubLinks(newHubIdentity(), { onMessage: () => undefined, onMailboxMessage: () => undefined, onReady: () => undefined, onState: () => undefined });
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
});
