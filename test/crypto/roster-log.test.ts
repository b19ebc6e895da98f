// The roster log (crypto/roster-log.ts): hash-chained, hub-signed entries a phone extends only in
// order; each way a hub or a relay could rewrite history is tried here and must be refused.
import { beforeAll, describe, expect, it } from 'vitest';
import { cryptoReady } from '../../crypto/sodium.ts';
import { hubPublicKeys, newDeviceIdentity, newHubIdentity, type HubIdentity } from '../../crypto/identity.ts';
import {
  EMPTY_ROSTER, GENESIS, NO_DEVICE, entryHash, extendRoster, openRosterEntry, rosterOf, safetyCode, signRosterEntry, type RosterChange,
} from '../../crypto/roster-log.ts';
import { rosterHash } from '../../crypto/roster.ts';
import { outcome } from './kat-support.ts';
import type { Role } from '../../crypto/certificate.ts';

let hub: HubIdentity;
const devices = Array.from({ length: 3 }, () => new Uint8Array(16));

beforeAll(async () => {
  await cryptoReady();
  hub = newHubIdentity();
  for (const d of devices) d.set(newDeviceIdentity().deviceId);
});

/** A log of entries (change, device index, role), as the hub would write it. */
function log(h: HubIdentity, changes: [RosterChange, number, Role][], at = 1000): Uint8Array[] {
  const out: Uint8Array[] = [];
  let prev: Uint8Array = GENESIS;
  changes.forEach(([change, i, role], seq) => {
    const wire = signRosterEntry(h, { seq, prev, at: at + seq, change, deviceId: devices[i]!, fingerprint: new Uint8Array(32).fill(i), name: `Phone ${i}`, role, by: 'hub owner (local API)' });
    out.push(wire);
    prev = entryHash(wire);
  });
  return out;
}

describe('the roster log', () => {
  it('a phone follows additions and removals, and the roster matches what key updates name', () => {
    const wires = log(hub, [['added', 0, 'owner'], ['added', 1, 'viewer'], ['added', 2, 'viewer'], ['removed', 1, 'viewer']]);
    const { view, entries } = extendRoster(EMPTY_ROSTER, wires, hubPublicKeys(hub));
    expect(entries.map((e) => e.change)).toEqual(['added', 'added', 'added', 'removed']);
    expect(view.length).toBe(4);
    const expected = rosterHash(9, [{ deviceId: devices[0]!, role: 'owner' }, { deviceId: devices[2]!, role: 'viewer' }]);
    expect(rosterHash(9, rosterOf(view))).toEqual(expected);
    // In two steps: the same view.
    const first = extendRoster(EMPTY_ROSTER, wires.slice(0, 2), hubPublicKeys(hub)).view;
    expect(extendRoster(first, wires.slice(2), hubPublicKeys(hub)).view.head).toEqual(view.head);
  });

  it('an entry rewritten, removed or reordered after a phone saw the log is refused', () => {
    const wires = log(hub, [['added', 0, 'owner'], ['added', 1, 'viewer'], ['added', 2, 'owner']]);
    const seen = extendRoster(EMPTY_ROSTER, wires.slice(0, 2), hubPublicKeys(hub)).view;
    // The hub rewrites history: a log where device 1 was never added, then device 2.
    const forked = log(hub, [['added', 0, 'owner'], ['added', 2, 'owner'], ['added', 1, 'viewer']]);
    expect(outcome(() => extendRoster(seen, forked.slice(2), hubPublicKeys(hub)))).toBe('tampered');
    // An entry skipped, or repeated.
    expect(outcome(() => extendRoster(EMPTY_ROSTER, [wires[0]!, wires[2]!], hubPublicKeys(hub)))).toBe('tampered');
    expect(outcome(() => extendRoster(seen, [wires[1]!], hubPublicKeys(hub)))).toBe('tampered');
  });

  it('an entry not signed by this hub, or altered, is refused', () => {
    const [wire] = log(hub, [['added', 0, 'owner']]);
    const altered = Uint8Array.from(wire!);
    altered[altered.length - 80]! ^= 1; // inside the "by" text
    expect(outcome(() => openRosterEntry(altered, hubPublicKeys(hub)))).toBe('tampered');
    const stranger = newHubIdentity();
    const [foreign] = log(stranger, [['added', 0, 'owner']]);
    expect(outcome(() => openRosterEntry(foreign!, hubPublicKeys(hub)))).toBe('not-for-me');
    // Another hub's entry relabelled with this hub's id still fails its signature.
    const relabelled = Uint8Array.from(foreign!);
    relabelled.set(hub.hubId, 1);
    expect(outcome(() => openRosterEntry(relabelled, hubPublicKeys(hub)))).toBe('tampered');
  });

  it('the safety code changes with any change of the head, and is the same for the same log', () => {
    const a = extendRoster(EMPTY_ROSTER, log(hub, [['added', 0, 'owner'], ['added', 1, 'viewer']]), hubPublicKeys(hub)).view;
    const again = extendRoster(EMPTY_ROSTER, log(hub, [['added', 0, 'owner'], ['added', 1, 'viewer']]), hubPublicKeys(hub)).view;
    const b = extendRoster(EMPTY_ROSTER, log(hub, [['added', 0, 'owner'], ['added', 1, 'owner']]), hubPublicKeys(hub)).view;
    expect(safetyCode(hub.hubId, a)).toMatch(/^\d{5}( \d{5}){5}$/);
    expect(safetyCode(hub.hubId, again)).toBe(safetyCode(hub.hubId, a));
    expect(safetyCode(hub.hubId, b)).not.toBe(safetyCode(hub.hubId, a));
  });
});

describe('a restored entry (PROTOCOL §18.4)', () => {
  it('extends the chain, changes no membership, and must name no device', () => {
    const wires = log(hub, [['added', 0, 'owner'], ['added', 1, 'viewer']]);
    const before = extendRoster(EMPTY_ROSTER, wires, hubPublicKeys(hub)).view;
    const restored = signRosterEntry(hub, {
      seq: 2, prev: before.head, at: 5000, change: 'restored', deviceId: NO_DEVICE, fingerprint: new Uint8Array(32).fill(7), name: '', role: 'owner', by: 'the printed recovery code',
    });
    const { view, entries } = extendRoster(before, [restored], hubPublicKeys(hub));
    expect(entries[0]!.change).toBe('restored');
    expect(entries[0]!.by).toBe('the printed recovery code');
    expect(view.length).toBe(3);
    expect([...view.members.keys()]).toEqual([...before.members.keys()]);
    // One naming a device would let a restore add it unseen: refused before the signature is even checked.
    const naming = signRosterEntry(hub, {
      seq: 2, prev: before.head, at: 5000, change: 'restored', deviceId: devices[2]!, fingerprint: new Uint8Array(32), name: 'x', role: 'owner', by: 'x',
    });
    expect(outcome(() => extendRoster(before, [naming], hubPublicKeys(hub)))).toBe('malformed');
  });
});
