// HubLink's paths on a manual clock: a LAN endpoint the hub does not answer on is left for a relay
// and held off (doubling), a relay that drops is left for the next one with the session kept, and
// the phone goes home when the LAN endpoint answers again. Real hub sessions and crypto; the relays
// and the LAN endpoint are in memory (fake-net.ts), and the test moves time.
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { newHubIdentity, type HubIdentity } from '../../../../crypto/identity.ts';
import { Envelope } from '../../../../crypto/messages.ts';
import { cryptoReady } from '../../../../crypto/sodium.ts';
import { FAILOVER_MS, LAN_HOLD_OFF_MS, LAN_PROBE_MS, LAN_SILENCE_MS, PATH_CONFIRM_MS } from '../../../../phone/core/link/paths.ts';
import type { FakeHub } from '../fake-hub.ts';
import { CAMERA, LAN, RELAY_1, RELAY_2, linkOnNet, type LinkOnNet } from '../fake-net.ts';

let identity: HubIdentity;
beforeAll(async () => {
  await cryptoReady();
  identity = newHubIdentity();
});

const hubs: FakeHub[] = [];
afterEach(async () => {
  for (const h of hubs.splice(0)) await h.close();
});

function setup(...args: Parameters<typeof linkOnNet>): LinkOnNet {
  const s = linkOnNet(...args);
  hubs.push(s.hub);
  return s;
}

describe('a LAN endpoint where the hub does not answer', () => {
  it('is left for a relay once its confirmation window passes, and not before', async () => {
    const s = setup(identity, { relays: [RELAY_1, RELAY_2], lan: [LAN] });
    // Another host at the hub's old address: it logs the phone in and drops what it sends.
    s.net.endpoint(LAN).hubThere = false;
    await s.timers.advance(0);
    expect(s.paths).toEqual([`lan ${LAN}`]);

    await s.timers.advance(PATH_CONFIRM_MS - 1);
    expect(s.link.path).toBe('lan');
    expect(s.refused).toEqual([]);

    await s.timers.advance(1);
    expect(s.refused).toEqual([{ url: LAN, why: 'the hub did not answer there', at: PATH_CONFIRM_MS }]);
    expect(s.paths).toEqual([`lan ${LAN}`, `relay ${RELAY_1}`]);
    await s.link.ready();
    expect(s.link.linkState).toBe('live');
    expect(s.link.pathUrl).toBe(RELAY_1);
    await expect(s.link.command('list-cameras')).resolves.toEqual({ action: 'list-cameras' });
  });

  it('is not probed again until its hold-off ends, and the hold-off doubles each time it fails again', async () => {
    const s = setup(identity, { relays: [RELAY_1], lan: [LAN] });
    const lan = s.net.endpoint(LAN);
    lan.hubThere = false;
    await s.timers.advance(PATH_CONFIRM_MS);
    expect(s.refused).toHaveLength(1);
    const first = s.refused[0]!.at;

    // Probes every LAN_PROBE_MS find the endpoint up, but it is held off: no client goes there.
    await s.timers.advance(first + LAN_HOLD_OFF_MS[0]! - 1 - s.timers.now());
    expect(lan.clients).toHaveLength(1);
    expect(s.link.pathUrl).toBe(RELAY_1);

    // The hold-off ends: the next probe takes the phone there, and the window leaves it again.
    await s.timers.advance(LAN_PROBE_MS + PATH_CONFIRM_MS);
    expect(s.paths.filter((p) => p === `lan ${LAN}`)).toHaveLength(2);
    expect(s.refused).toHaveLength(2);
    const second = s.refused[1]!.at;
    expect(second - first).toBeGreaterThanOrEqual(LAN_HOLD_OFF_MS[0]! + PATH_CONFIRM_MS);
    expect(second - first).toBeLessThanOrEqual(LAN_HOLD_OFF_MS[0]! + LAN_PROBE_MS + PATH_CONFIRM_MS);
    expect(s.link.pathUrl).toBe(RELAY_1);

    // Second strike: held off twice as long.
    const clients = lan.clients.length;
    await s.timers.advance(second + LAN_HOLD_OFF_MS[1]! - 1 - s.timers.now());
    expect(lan.clients).toHaveLength(clients);
    expect(s.refused).toHaveLength(2);
    await s.timers.advance(LAN_PROBE_MS + PATH_CONFIRM_MS);
    expect(s.refused).toHaveLength(3);
    expect(s.refused[2]!.at - second).toBeGreaterThanOrEqual(LAN_HOLD_OFF_MS[1]! + PATH_CONFIRM_MS);
    expect(s.link.pathUrl).toBe(RELAY_1);
  });

  it('is left when the hub falls silent there while the phone watches, and the watch moves along', async () => {
    const s = setup(identity, { relays: [RELAY_1], lan: [LAN] });
    await s.timers.advance(0);
    await s.link.ready();
    await s.link.watch(CAMERA);
    await s.timers.advance(PATH_CONFIRM_MS);
    expect(s.refused).toEqual([]);
    expect(s.link.path).toBe('lan');

    // The hub is gone from the LAN (its endpoint still logs phones in); it sends no clock notices.
    s.net.endpoint(LAN).hubThere = false;
    await s.timers.advance(LAN_SILENCE_MS + LAN_PROBE_MS);
    expect(s.refused.map((r) => r.why)).toEqual(['the hub fell silent there']);
    expect(s.link.pathUrl).toBe(RELAY_1);
    expect(s.net.endpoint(RELAY_1).subscribed).toEqual([CAMERA.topic]);
    expect(s.hub.commands.filter((a) => a === 'watch')).toHaveLength(2);
  });
});

describe('failover between relays and back home', () => {
  it('moves to the next relay when the one in use drops, keeps its session, and goes home when the LAN endpoint answers', async () => {
    const s = setup(identity, { relays: [RELAY_1, RELAY_2], lan: [LAN] });
    const lan = s.net.endpoint(LAN);
    lan.up = false; // away from home
    await s.timers.advance(0);
    expect(s.link.path).toBe('lan');
    await s.timers.advance(FAILOVER_MS);
    await s.link.ready();
    expect(s.link.pathUrl).toBe(RELAY_1);
    expect(s.net.count(Envelope.SESSION_1)).toBe(1);

    s.net.endpoint(RELAY_1).drop();
    await s.timers.advance(0);
    expect(s.link.linkState).toBe('reconnecting');
    await s.timers.advance(FAILOVER_MS - 1);
    expect(s.link.pathUrl).toBe(RELAY_1);
    await s.timers.advance(1);
    expect(s.link.pathUrl).toBe(RELAY_2);
    expect(s.link.linkState).toBe('live');
    await expect(s.link.command('list-cameras')).resolves.toEqual({ action: 'list-cameras' });
    // Sessions are end to end: a new path needs no new handshake.
    expect(s.net.count(Envelope.SESSION_1)).toBe(1);

    // Still away: a probe finds nothing at home, and the phone stays.
    await s.timers.advance(LAN_PROBE_MS);
    expect(s.link.pathUrl).toBe(RELAY_2);

    lan.restore();
    await s.timers.advance(LAN_PROBE_MS);
    expect(s.link.path).toBe('lan');
    await s.timers.advance(PATH_CONFIRM_MS);
    expect(s.refused).toEqual([]);
    expect(s.link.path).toBe('lan');
    await expect(s.link.command('list-cameras')).resolves.toEqual({ action: 'list-cameras' });
    expect(s.net.count(Envelope.SESSION_1)).toBe(1);
    expect(s.paths).toEqual([`relay ${RELAY_1}`, `relay ${RELAY_2}`, `lan ${LAN}`]);
    expect(s.states).toEqual(['live', 'reconnecting', 'live']);
  });

  it('wraps around the candidates: from the last relay back to the first', async () => {
    const s = setup(identity, { relays: [RELAY_1, RELAY_2], lan: [] });
    await s.timers.advance(0);
    await s.link.ready();
    s.net.endpoint(RELAY_1).drop();
    await s.timers.advance(FAILOVER_MS);
    expect(s.link.pathUrl).toBe(RELAY_2);
    s.net.endpoint(RELAY_1).restore();
    s.net.endpoint(RELAY_2).drop();
    await s.timers.advance(FAILOVER_MS);
    expect(s.link.pathUrl).toBe(RELAY_1);
    await expect(s.link.command('list-cameras')).resolves.toEqual({ action: 'list-cameras' });
  });
});
