// HubLink watching again after a reconnect, on a manual clock: it subscribes on the new path and
// asks the hub for the stream again; while the relay refuses (the hub has not re-granted yet) it
// retries on a bounded schedule; and a newer reconnect's round ends an older one still waiting.
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { newHubIdentity, type HubIdentity } from '../../../../crypto/identity.ts';
import { cryptoReady } from '../../../../crypto/sodium.ts';
import { REWATCH_RETRY_MS } from '../../../../phone/core/link/media.ts';
import { FAILOVER_MS } from '../../../../phone/core/link/paths.ts';
import type { FakeHub } from '../fake-hub.ts';
import { CAMERA, RELAY_1, RELAY_2, linkOnNet, type LinkOnNet } from '../fake-net.ts';

let identity: HubIdentity;
beforeAll(async () => {
  await cryptoReady();
  identity = newHubIdentity();
});

const hubs: FakeHub[] = [];
afterEach(async () => {
  for (const h of hubs.splice(0)) await h.close();
});

/** A phone watching CAMERA through RELAY_1 (RELAY_2 next), on a manual clock. */
async function watching(): Promise<LinkOnNet> {
  const s = linkOnNet(identity, { relays: [RELAY_1, RELAY_2], lan: [] });
  hubs.push(s.hub);
  await s.timers.advance(0);
  await s.link.watch(CAMERA);
  expect(s.net.endpoint(RELAY_1).subscribed).toEqual([CAMERA.topic]);
  expect(watches(s)).toBe(1);
  return s;
}

function watches(s: LinkOnNet): number {
  return s.hub.commands.filter((a) => a === 'watch').length;
}

/** The relay in use drops and is back before the failover: the same path, a new connection. */
async function reconnect(s: LinkOnNet, url: string): Promise<void> {
  s.net.endpoint(url).drop();
  await s.timers.advance(0);
  s.net.endpoint(url).restore();
  await s.timers.advance(0);
}

describe('watching again after a reconnect', () => {
  it('subscribes on the next relay and asks for the stream again after a failover', async () => {
    const s = await watching();
    s.net.endpoint(RELAY_1).drop();
    await s.timers.advance(FAILOVER_MS);
    expect(s.link.pathUrl).toBe(RELAY_2);
    expect(s.net.endpoint(RELAY_2).subscribed).toEqual([CAMERA.topic]);
    expect(watches(s)).toBe(2);
  });

  it('subscribes again on the same relay when it comes back, and after an unwatch does not', async () => {
    const s = await watching();
    await reconnect(s, RELAY_1);
    expect(s.link.pathUrl).toBe(RELAY_1);
    expect(s.net.endpoint(RELAY_1).subscribed).toEqual([CAMERA.topic, CAMERA.topic]);
    expect(watches(s)).toBe(2);

    await s.link.unwatch(CAMERA);
    await reconnect(s, RELAY_1);
    expect(s.net.endpoint(RELAY_1).subscribed).toHaveLength(2);
    expect(watches(s)).toBe(2);
  });

  it('retries while the relay refuses the subscription, and the stream comes back once it is granted', async () => {
    const s = await watching();
    const relay = s.net.endpoint(RELAY_1);
    relay.refuseSubscribe = true;
    await reconnect(s, RELAY_1);
    await s.timers.advance(REWATCH_RETRY_MS[0]! + REWATCH_RETRY_MS[1]!);
    expect(relay.subscribeAttempts).toBe(1 + 3);
    expect(watches(s)).toBe(1);

    relay.refuseSubscribe = false; // the hub re-granted the phone's capability
    await s.timers.advance(REWATCH_RETRY_MS[2]!);
    expect(relay.subscribed).toEqual([CAMERA.topic, CAMERA.topic]);
    expect(watches(s)).toBe(2);
  });

  it('gives up after its last retry: the tries are bounded', async () => {
    const s = await watching();
    const relay = s.net.endpoint(RELAY_1);
    relay.refuseSubscribe = true;
    await reconnect(s, RELAY_1);
    await s.timers.advance(REWATCH_RETRY_MS.reduce((a, b) => a + b, 0) + 60_000);
    expect(relay.subscribeAttempts).toBe(1 + 1 + REWATCH_RETRY_MS.length);
    expect(watches(s)).toBe(1);
  });

  it('a newer round ends an older one still waiting to retry: the stream is asked for once', async () => {
    const s = await watching();
    const relay = s.net.endpoint(RELAY_1);
    relay.refuseSubscribe = true;
    await reconnect(s, RELAY_1); // round 1: refused, waits REWATCH_RETRY_MS[0]
    await s.timers.advance(REWATCH_RETRY_MS[0]!); // refused again, waits REWATCH_RETRY_MS[1]
    expect(relay.subscribeAttempts).toBe(1 + 2);

    await reconnect(s, RELAY_1); // round 2: refused, waits REWATCH_RETRY_MS[0]
    expect(relay.subscribeAttempts).toBe(1 + 3);
    relay.refuseSubscribe = false;
    await s.timers.advance(REWATCH_RETRY_MS[0]!); // round 2 gets through
    expect(relay.subscribed).toEqual([CAMERA.topic, CAMERA.topic]);
    expect(watches(s)).toBe(2);

    // Round 1 wakes up after this and must see that it is stale.
    await s.timers.advance(REWATCH_RETRY_MS[1]! + REWATCH_RETRY_MS[2]!);
    expect(relay.subscribeAttempts).toBe(1 + 4);
    expect(relay.subscribed).toHaveLength(2);
    expect(watches(s)).toBe(2);
  });
});
