// Changing a paired phone's scope (main/phones/scope.ts changePhoneScope, PROTOCOL §16.3) on a real
// store and the hub's real roster log: the entry and the store's change are one transaction, the new
// epoch's reason says whether the phone lost something, a camera or time added starts it as for a
// phone that joined, a phone's roster view checks the entry, and what cannot be a scope is refused
// before anything changes. Key delivery is a recorder (the e2e test runs the real one).
import { beforeAll, describe, expect, it } from 'vitest';
import { cryptoReady } from '../../../crypto/sodium.ts';
import { hubPublicKeys, newDeviceIdentity, newHubIdentity, newSigningKeyPair, type HubIdentity } from '../../../crypto/identity.ts';
import { issueCertificate, type Role } from '../../../crypto/certificate.ts';
import { toHex } from '../../../crypto/bytes.ts';
import { EMPTY_ROSTER, extendRoster } from '../../../crypto/roster-log.ts';
import { HubError } from '../../../main/api/errors.ts';
import { HubRosterLog } from '../../../main/phones/roster-log.ts';
import { changePhoneScope, type ScopeChangeParts } from '../../../main/phones/scope.ts';
import type { Device, EpochReason, Store } from '../../../main/store/db.ts';
import { open, tempDataDir } from '../store/helpers.ts';

let hub: HubIdentity;
beforeAll(async () => {
  await cryptoReady();
  hub = newHubIdentity();
});

const T0 = 1_900_000_000_000;
const BY = 'the hub\'s owner (local API)';

function pair(store: Store, role: Role, name: string, cameras: string[] | null, until = 0): Device {
  const d = newDeviceIdentity();
  const certificate = issueCertificate(hub, {
    deviceId: d.deviceId, signingKey: d.signing.publicKey, exchangeKey: d.exchange.publicKey, pqKey: d.pq.publicKey,
    relayKey: newSigningKeyPair('relay').publicKey,
  }, role, 1_800_000_000);
  return store.addDevice({ name, certificate, scope: cameras === null ? null : { cameras, from: 0, until } });
}

function setup() {
  const store = open(tempDataDir());
  const front = store.addCamera({ name: 'Front door', url: 'rtsp://127.0.0.1:1/a' });
  const back = store.addCamera({ name: 'Back yard', url: 'rtsp://127.0.0.1:2/a' });
  const rosterLog = new HubRosterLog(hub, store, () => T0);
  const epochs: { reason: EpochReason; joined: boolean }[] = [];
  const granted: Device[] = [];
  const parts: ScopeChangeParts = {
    store, rosterLog, now: () => T0,
    delivery: { newEpoch: (reason, joined = false) => void epochs.push({ reason, joined }), grant: async (d) => void granted.push(d) },
  };
  const owner = pair(store, 'owner', 'Anna', null);
  rosterLog.append('added', owner, BY);
  return { store, front, back, rosterLog, epochs, granted, parts, owner };
}

/** The roster a phone arrives at from the hub's whole log, checked as phones check it. */
function phoneView(store: Store) {
  return extendRoster(EMPTY_ROSTER, store.rosterLog(0, 1000).map((r) => r.entry), hubPublicKeys(hub));
}

describe('changing a phone\'s scope', () => {
  it('widening a viewer: one role-changed entry with the new scope, a device-added epoch begun as for a joiner, a new capability', async () => {
    const s = setup();
    const v = pair(s.store, 'viewer', 'Neighbour', [s.front.id]);
    s.rosterLog.append('added', v, BY);
    const { device, changed } = await changePhoneScope(s.parts, v.id, { cameras: ['Front door', s.back.id] }, BY);
    expect(changed).toBe(true);
    expect(device.scope?.cameras).toEqual([s.front.id, s.back.id]);
    expect(s.store.getDevice(v.id)?.scope?.cameras).toEqual([s.front.id, s.back.id]);
    expect(s.epochs).toEqual([{ reason: 'device-added', joined: true }]);
    expect(s.granted.map((d) => d.id)).toEqual([v.id]);
    const { view, entries } = phoneView(s.store);
    expect(entries.at(-1)).toMatchObject({ change: 'role-changed', role: 'viewer', name: 'Neighbour', by: BY });
    expect(entries.at(-1)!.scope!.cameras.map(toHex).sort()).toEqual([s.front.id, s.back.id].sort());
    expect(view.members.get(v.id)?.scope?.cameras.map(toHex).sort()).toEqual([s.front.id, s.back.id].sort());
    expect(s.store.listAudit({ limit: 5 }).find((a) => a.action === 'scope-changed')?.detail).toMatchObject({ device: v.id, cameras: [s.front.id, s.back.id] });
  });

  it('narrowing: a device-removed epoch (not as for a joiner); to every camera: an entry without a scope, and unscoped in the phone\'s view', async () => {
    const s = setup();
    const v = pair(s.store, 'viewer', 'Neighbour', [s.front.id, s.back.id]);
    s.rosterLog.append('added', v, BY);
    await changePhoneScope(s.parts, v.id, { cameras: [s.front.id] }, BY);
    expect(s.epochs).toEqual([{ reason: 'device-removed', joined: false }]);
    await changePhoneScope(s.parts, v.id, { cameras: [] }, BY);
    expect(s.store.getDevice(v.id)?.scope).toBeNull();
    // It gained the back camera and recordings: as a joiner.
    expect(s.epochs[1]).toEqual({ reason: 'device-added', joined: true });
    const { view } = phoneView(s.store);
    expect(view.members.get(v.id)).toMatchObject({ role: 'viewer' });
    expect(view.members.get(v.id)?.scope).toBeUndefined();
    // And back to one camera: it loses recordings too, so a new recording epoch without it.
    await changePhoneScope(s.parts, v.id, { cameras: [s.back.id] }, BY);
    expect(s.epochs[2]).toEqual({ reason: 'device-removed', joined: false });
  });

  it('keeps times not given; a later end counts as gained; an unchanged scope changes nothing', async () => {
    const s = setup();
    const g = pair(s.store, 'guest', 'Visitor', [s.front.id], T0 + 3600_000);
    s.rosterLog.append('added', g, BY);
    const length = s.rosterLog.length();
    expect((await changePhoneScope(s.parts, g.id, { cameras: ['Front door'] }, BY)).changed).toBe(false);
    expect(s.rosterLog.length()).toBe(length);
    expect(s.epochs).toEqual([]);
    await changePhoneScope(s.parts, g.id, { cameras: [s.front.id, s.back.id] }, BY);
    expect(s.store.getDevice(g.id)?.scope).toEqual({ cameras: [s.front.id, s.back.id], from: 0, until: T0 + 3600_000 });
    await changePhoneScope(s.parts, g.id, { cameras: [s.front.id, s.back.id], until: T0 + 7200_000 }, BY);
    expect(s.epochs.at(-1)).toEqual({ reason: 'device-added', joined: true });
    expect(s.store.getDevice(g.id)?.scope?.until).toBe(T0 + 7200_000);
  });

  it('refuses an owner, a guest without cameras, an unknown camera, an end in the past, a removed phone: nothing changes', async () => {
    const s = setup();
    const g = pair(s.store, 'guest', 'Visitor', [s.front.id]);
    s.rosterLog.append('added', g, BY);
    const gone = pair(s.store, 'viewer', 'Old', [s.front.id]);
    s.store.revokeDevice(gone.id);
    const length = s.rosterLog.length();
    const code = async (id: string, change: Parameters<typeof changePhoneScope>[2]) => {
      try {
        await changePhoneScope(s.parts, id, change, BY);
      } catch (e) {
        return e instanceof HubError ? `${e.code}: ${e.message}` : `not typed: ${String(e)}`;
      }
      return 'changed';
    };
    expect(await code(s.owner.id, { cameras: ['Front door'] })).toMatch(/^bad-argument: an owner sees every camera/);
    expect(await code(g.id, { cameras: [] })).toMatch(/^bad-argument: a guest needs --camera/);
    expect(await code(g.id, { cameras: ['Attic'] })).toMatch(/^bad-argument: no camera "Attic"/);
    expect(await code(g.id, { cameras: ['Front door'], until: T0 - 1 })).toMatch(/^bad-argument: --until is in the past/);
    expect(await code(gone.id, { cameras: ['Front door'] })).toMatch(/^not-found/);
    expect(await code('c'.repeat(32), { cameras: ['Front door'] })).toMatch(/^not-found/);
    expect(s.rosterLog.length()).toBe(length);
    expect(s.epochs).toEqual([]);
    expect(s.store.getDevice(g.id)?.scope?.cameras).toEqual([s.front.id]);
  });

  it('the store\'s change and the log entry are one transaction: an entry that cannot be appended leaves the scope as it was', async () => {
    const s = setup();
    const v = pair(s.store, 'viewer', 'Neighbour', [s.front.id]);
    s.rosterLog.append('added', v, BY);
    const failing: ScopeChangeParts = { ...s.parts, rosterLog: { append: () => { throw new Error('disk full'); } } };
    await expect(changePhoneScope(failing, v.id, { cameras: [s.front.id, s.back.id] }, BY)).rejects.toThrow(/disk full/);
    expect(s.store.getDevice(v.id)?.scope?.cameras).toEqual([s.front.id]);
    expect(s.epochs).toEqual([]);
  });
});
