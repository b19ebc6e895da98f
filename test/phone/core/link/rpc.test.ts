// HubLink's commands on a manual clock: a command the hub does not answer times out at
// commandTimeoutMs (not before), and REHANDSHAKE_AFTER_TIMEOUTS of them in a row (not fewer, and
// not with an answer between) make the phone take its session for lost and handshake again.
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { newHubIdentity, type HubIdentity } from '../../../../crypto/identity.ts';
import { Envelope } from '../../../../crypto/messages.ts';
import { cryptoReady } from '../../../../crypto/sodium.ts';
import { REHANDSHAKE_AFTER_TIMEOUTS } from '../../../../phone/core/link/session.ts';
import type { FakeHub } from '../fake-hub.ts';
import { RELAY_1, drain, linkOnNet, type LinkOnNet } from '../fake-net.ts';

const TIMEOUT_MS = 5_000;

let identity: HubIdentity;
beforeAll(async () => {
  await cryptoReady();
  identity = newHubIdentity();
});

const hubs: FakeHub[] = [];
afterEach(async () => {
  for (const h of hubs.splice(0)) await h.close();
});

async function live(): Promise<LinkOnNet> {
  const s = linkOnNet(identity, { relays: [RELAY_1], lan: [] }, { commandTimeoutMs: TIMEOUT_MS });
  hubs.push(s.hub);
  await s.timers.advance(0);
  await s.link.ready();
  await expect(s.link.command('list-cameras')).resolves.toEqual({ action: 'list-cameras' });
  expect(s.net.count(Envelope.SESSION_1)).toBe(1);
  return s;
}

/** A command the relay loses on its way to the hub: it times out on the manual clock. */
async function unanswered(s: LinkOnNet): Promise<void> {
  const relay = s.net.endpoint(RELAY_1);
  relay.dropToHub = (kind) => kind === Envelope.SESSION_DATA;
  const timedOut = expect(s.link.command('list-cameras')).rejects.toThrow('list-cameras: the hub did not answer in time');
  await drain();
  await s.timers.advance(TIMEOUT_MS);
  await timedOut;
  relay.dropToHub = () => false;
}

describe('commands the hub does not answer', () => {
  it('time out at commandTimeoutMs, not before', async () => {
    const s = await live();
    s.net.endpoint(RELAY_1).dropToHub = (kind) => kind === Envelope.SESSION_DATA;
    let settled = false;
    const result = s.link.command('list-cameras').finally(() => (settled = true));
    result.catch(() => undefined);
    await drain();
    await s.timers.advance(TIMEOUT_MS - 1);
    expect(settled).toBe(false);
    await s.timers.advance(1);
    await expect(result).rejects.toThrow(/did not answer in time/);
  });

  it(`make the phone handshake again after ${REHANDSHAKE_AFTER_TIMEOUTS} in a row, and it is served in the new session`, async () => {
    const s = await live();
    for (let i = 1; i < REHANDSHAKE_AFTER_TIMEOUTS; i++) {
      await unanswered(s);
      expect(s.net.count(Envelope.SESSION_1)).toBe(1);
    }
    await unanswered(s);
    await drain();
    expect(s.net.count(Envelope.SESSION_1)).toBe(2);
    await expect(s.link.command('list-cameras')).resolves.toEqual({ action: 'list-cameras' });
    expect(s.link.linkState).toBe('live');
  });

  it('do not count across an answer: the count starts again when the hub answers one', async () => {
    const s = await live();
    for (let round = 0; round < 3; round++) {
      for (let i = 1; i < REHANDSHAKE_AFTER_TIMEOUTS; i++) await unanswered(s);
      await expect(s.link.command('list-cameras')).resolves.toEqual({ action: 'list-cameras' });
    }
    expect(s.net.count(Envelope.SESSION_1)).toBe(1);
  });

  it('that were never sent (the relay is down) do not count', async () => {
    const s = await live();
    s.net.endpoint(RELAY_1).drop();
    await s.timers.advance(0);
    for (let i = 0; i < REHANDSHAKE_AFTER_TIMEOUTS + 1; i++) await expect(s.link.command('list-cameras')).rejects.toThrow(/not-connected/);
    s.net.endpoint(RELAY_1).restore();
    await s.timers.advance(0);
    expect(s.net.count(Envelope.SESSION_1)).toBe(1);
    await expect(s.link.command('list-cameras')).resolves.toEqual({ action: 'list-cameras' });
  });
});
