// Guests and scoped viewers on the hub (main/phones/scope.ts, PROTOCOL §16.3), on a real store: the
// scope an invite is made with reaches the device row and its key updates; commands outside it are
// refused with typed codes, counted and audited; the window timer removes a guest at `until` (also
// when it passed while the hub was off) and opens a new epoch at `from`. A fake clock drives time.
import { beforeAll, describe, expect, it } from 'vitest';
import { cryptoReady } from '../../../crypto/sodium.ts';
import { hubPublicKeys, newDeviceIdentity, newHubIdentity, newSigningKeyPair, type HubIdentity } from '../../../crypto/identity.ts';
import { issueCertificate, type DeviceCertificate, type Role } from '../../../crypto/certificate.ts';
import { openKeyUpdate } from '../../../crypto/keyupdate.ts';
import { CommandRefused } from '../../../crypto/phone-commands.ts';
import type { Action, Command } from '../../../crypto/command.ts';
import { EpochKeys } from '../../../main/epoch-keys.ts';
import { HubError } from '../../../main/api/errors.ts';
import {
  AccessWindows, ScopeGate, capabilityExpiry, mayHoldRecordings, resolveAccess, rosterScope, visibleCameras, windowState,
} from '../../../main/phones/scope.ts';
import type { Device, DeviceScope } from '../../../main/store/db.ts';
import { open, tempDataDir } from '../store/helpers.ts';

let hub: HubIdentity;
beforeAll(async () => {
  await cryptoReady();
  hub = newHubIdentity();
});

function certificate(role: Role): { cert: DeviceCertificate; id: Uint8Array } {
  const d = newDeviceIdentity();
  const cert = issueCertificate(hub, {
    deviceId: d.deviceId, signingKey: d.signing.publicKey, exchangeKey: d.exchange.publicKey, pqKey: d.pq.publicKey,
    relayKey: newSigningKeyPair('relay').publicKey,
  }, role, 1_800_000_000);
  return { cert, id: d.deviceId };
}

function codeOf(e: unknown): string {
  return e instanceof CommandRefused || e instanceof HubError ? e.code : `not typed: ${String(e)}`;
}

async function refusal(p: Promise<unknown>): Promise<string | undefined> {
  try {
    await p;
  } catch (e) {
    return codeOf(e);
  }
  return undefined;
}

const T0 = 1_900_000_000_000;

describe('a scope: window, keys, capability, recordings', () => {
  const scope: DeviceScope = { cameras: ['a'.repeat(32)], from: T0 + 10_000, until: T0 + 20_000 };

  it('no keys before `from` or from `until` on; its cameras only in between', () => {
    expect([T0, T0 + 10_000, T0 + 19_999, T0 + 20_000].map((t) => windowState(scope, t))).toEqual(['before', 'open', 'open', 'ended']);
    expect(visibleCameras({ scope }, T0)).toEqual(new Set());
    expect(visibleCameras({ scope }, T0 + 15_000)).toEqual(new Set(['a'.repeat(32)]));
    expect(visibleCameras({ scope }, T0 + 20_000)).toEqual(new Set());
    expect(visibleCameras({ scope: null }, T0)).toBeUndefined();
    // A device the store does not know gets nothing.
    expect(visibleCameras(undefined, T0)).toEqual(new Set());
  });

  it('the relay capability ends at `until` at the latest, and none is given after it', () => {
    const week = 7 * 24 * 3600;
    expect(capabilityExpiry({ scope: null }, T0, week)).toBe(T0 / 1000 + week);
    expect(capabilityExpiry({ scope }, T0, week)).toBe((T0 + 20_000) / 1000);
    expect(capabilityExpiry({ scope: { ...scope, until: 0 } }, T0, week)).toBe(T0 / 1000 + week);
    expect(capabilityExpiry({ scope }, T0 + 20_000, week)).toBeUndefined();
  });

  it('recording epochs go to unscoped viewers and owners only', () => {
    expect(mayHoldRecordings({ role: 'owner', scope: null })).toBe(true);
    expect(mayHoldRecordings({ role: 'viewer', scope: null })).toBe(true);
    expect(mayHoldRecordings({ role: 'viewer', scope })).toBe(false);
    expect(mayHoldRecordings({ role: 'guest', scope })).toBe(false);
  });

  it('a key update for a scoped phone holds only its cameras\' keys, and names the roster with its scope', () => {
    const keys = new EpochKeys(hub, () => T0);
    const camA = 'a'.repeat(32);
    const camB = 'b'.repeat(32);
    const guest = certificate('guest');
    const s: DeviceScope = { cameras: [camA], from: 0, until: T0 + 60_000 };
    keys.begin(4, [{ id: camA, number: 1 }, { id: camB, number: 2 }, { id: camA, number: 3 }], [{ deviceId: guest.id, role: 'guest', scope: rosterScope(s)! }]);
    const only = openKeyUpdate(keys.keyUpdateFor(guest.id, visibleCameras({ scope: s }, T0)), hubPublicKeys(hub), guest.id);
    // Camera A's own stream and its profile (same camera id, another number); nothing of B.
    expect(only.cameras.map((c) => c.cameraNumber).sort()).toEqual([1, 3]);
    const none = openKeyUpdate(keys.keyUpdateFor(guest.id, visibleCameras({ scope: s }, T0 + 60_000)), hubPublicKeys(hub), guest.id);
    expect(none.cameras).toEqual([]);
    expect(openKeyUpdate(keys.keyUpdateFor(guest.id), hubPublicKeys(hub), guest.id).cameras).toHaveLength(3);
  });
});

describe('invites with a role and scope, in the store', () => {
  it('resolves camera names, refuses what cannot be a scope, and the device row keeps it', () => {
    const store = open(tempDataDir());
    const front = store.addCamera({ name: 'Front door', url: 'rtsp://10.0.0.1/a' });
    store.addCamera({ name: 'Back yard', url: 'rtsp://10.0.0.2/a' });
    const now = T0;
    const bad: [string, () => unknown][] = [
      ['owner with cameras', () => resolveAccess(store, { role: 'owner', cameras: ['Front door'] }, now)],
      ['guest without cameras', () => resolveAccess(store, { role: 'guest' }, now)],
      ['window without cameras', () => resolveAccess(store, { role: 'viewer', until: now + 1000 }, now)],
      ['unknown camera', () => resolveAccess(store, { role: 'guest', cameras: ['Garage'] }, now)],
      ['twice', () => resolveAccess(store, { role: 'guest', cameras: ['Front door', 'front door'] }, now)],
      ['past', () => resolveAccess(store, { role: 'guest', cameras: ['Front door'], until: now - 1 }, now)],
      ['order', () => resolveAccess(store, { role: 'guest', cameras: ['Front door'], from: now + 5000, until: now + 4000 }, now)],
    ];
    for (const [what, f] of bad) {
      let code: string | undefined;
      try {
        f();
      } catch (e) {
        code = codeOf(e);
      }
      expect(code, what).toBe('bad-argument');
    }
    const granted = resolveAccess(store, { role: 'guest', cameras: ['front door'], until: now + 60_000 }, now);
    expect(granted).toEqual({ role: 'guest', scope: { cameras: [front.id], from: 0, until: now + 60_000 } });
    expect(resolveAccess(store, { role: 'viewer' }, now)).toEqual({ role: 'viewer', scope: null });

    const inviteId = new Uint8Array(16).fill(7);
    store.addInvite({ inviteId, secret: new Uint8Array(32).fill(1), expiresAt: 2_000_000_000, ...granted });
    const invite = store.getInvite(inviteId)!;
    expect(invite.role).toBe('guest');
    expect(invite.scope).toEqual(granted.scope);

    const { cert } = certificate('guest');
    // A guest without a scope, or an owner with one, is not stored.
    expect(() => store.addDevice({ name: 'G', certificate: cert })).toThrow(/scope/);
    expect(() => store.addDevice({ name: 'O', certificate: certificate('owner').cert, scope: granted.scope })).toThrow(/scope/);
    const device = store.addDevice({ name: 'Guest', certificate: cert, scope: granted.scope });
    expect(device.role).toBe('guest');
    expect(store.getDevice(device.id)!.scope).toEqual(granted.scope);
    expect(store.addDevice({ name: 'Anna', certificate: certificate('owner').cert }).scope).toBeNull();
  });
});

function command(action: Action, args: unknown): Command {
  return { version: 2, hubId: hub.hubId, deviceId: new Uint8Array(16), seq: 1n, issuedAt: T0, action, args };
}

describe('the scope gate', () => {
  it('refuses another camera (existing or not, alike), a time outside the window and what is not live, counted and audited', async () => {
    const store = open(tempDataDir());
    const front = store.addCamera({ name: 'Front door', url: 'rtsp://10.0.0.1/a' });
    const back = store.addCamera({ name: 'Back yard', url: 'rtsp://10.0.0.2/a' });
    let now = T0 + 15_000;
    const gate = new ScopeGate(store, () => now);
    const ran: string[] = [];
    const handle = gate.wrap(async (c) => {
      ran.push(c.action);
      if (c.action === 'list-cameras') return [{ id: front.id, name: 'Front door' }, { id: back.id, name: 'Back yard' }];
      return { ok: true };
    });
    const scope: DeviceScope = { cameras: [front.id], from: T0 + 10_000, until: T0 + 20_000 };
    const guest = { id: 'c'.repeat(32), role: 'guest', scope } as unknown as Device;
    const owner = { id: 'd'.repeat(32), role: 'owner', scope: null } as unknown as Device;

    expect(await handle(command('watch', { camera: 'Front door' }), guest)).toEqual({ ok: true });
    expect(await handle(command('watch', { camera: front.id }), guest)).toEqual({ ok: true });
    expect(await handle(command('list-cameras', null), guest)).toEqual([{ id: front.id, name: 'Front door' }]);
    expect(await handle(command('roster-log', { since: 0 }), guest)).toEqual({ ok: true });
    const before = ran.length;
    expect(await refusal(handle(command('watch', { camera: 'Back yard' }), guest))).toBe('not-in-scope');
    expect(await refusal(handle(command('snapshot', { camera: back.id }), guest))).toBe('not-in-scope');
    expect(await refusal(handle(command('watch', { camera: 'No such camera' }), guest))).toBe('not-in-scope');
    expect(await refusal(handle(command('watch', {}), guest))).toBe('not-in-scope');
    for (const action of ['recordings', 'segment', 'recording-keys', 'events', 'event-image', 'push-subscribe', 'share-history', 'backup'] as const) {
      expect(await refusal(handle(command(action, { camera: front.id }), guest)), action).toBe('live-only');
    }
    // None of the refused commands reached a handler.
    expect(ran.length).toBe(before);
    now = T0 + 20_000;
    expect(await refusal(handle(command('watch', { camera: front.id }), guest))).toBe('outside-window');
    expect(await handle(command('list-cameras', null), guest)).toEqual([]);
    now = T0;
    expect(await refusal(handle(command('watch', { camera: front.id }), guest))).toBe('outside-window');
    expect(gate.counters).toEqual({ notInScope: 4, outsideWindow: 2, liveOnly: 8 });
    const audit = store.listAudit({ limit: 100 }).filter((a) => a.action === 'command-refused' && a.actor === guest.id);
    expect(audit).toHaveLength(14);
    expect(audit.map((a) => (a.detail as { reason?: string }).reason)).toContain('not-in-scope');
    // Unscoped phones pass straight through.
    expect(await handle(command('watch', { camera: back.id }), owner)).toEqual({ ok: true });
    expect(await handle(command('list-cameras', null), owner)).toHaveLength(2);
  });
});

describe('the window timer', () => {
  it('removes a guest whose window ended (also one that ended while the hub was off), once; a `from` opens a new epoch', async () => {
    const store = open(tempDataDir());
    const cam = store.addCamera({ name: 'Front door', url: 'rtsp://10.0.0.1/a' });
    let now = T0;
    store.addDevice({ name: 'Later', certificate: certificate('guest').cert, scope: { cameras: [cam.id], from: T0 + 5_000, until: T0 + 9_000 } });
    const gone = store.addDevice({ name: 'Gone', certificate: certificate('guest').cert, scope: { cameras: [cam.id], from: 0, until: T0 - 1 } });
    store.addDevice({ name: 'Anna', certificate: certificate('owner').cert });
    const ended: string[] = [];
    const opened: string[] = [];
    const windows = new AccessWindows({
      store, now: () => now, log: () => undefined,
      opened: (d) => opened.push(d.name),
      ended: async (d) => {
        ended.push(d.name);
        store.revokeDevice(d.id);
      },
    });
    windows.start();
    try {
      await Promise.resolve();
      expect(ended).toEqual(['Gone']);
      expect(store.getDevice(gone.id)!.revokedAt).not.toBeNull();
      now = T0 + 5_000;
      windows.check();
      expect(opened).toEqual(['Later']);
      windows.check();
      expect(opened).toEqual(['Later']);
      now = T0 + 9_000;
      windows.check();
      await Promise.resolve();
      expect(ended).toEqual(['Gone', 'Later']);
      windows.check();
      expect(ended).toEqual(['Gone', 'Later']);
      expect(store.listDevices().map((d) => d.name)).toEqual(['Anna']);
    } finally {
      windows.stop();
    }
  });
});
