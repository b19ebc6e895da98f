// Scopes in the roster hash and the roster log (crypto/roster.ts, crypto/roster-log.ts; PROTOCOL
// §16.3): a guest's cameras and window are part of what every phone checks, so a hub that widens a
// guest's scope (or drops it) shows every phone another roster hash; an unscoped member hashes and
// logs exactly as before scopes existed, so old logs still verify.
import { beforeAll, describe, expect, it } from 'vitest';
import { cryptoReady } from '../../crypto/sodium.ts';
import { hubPublicKeys, newDeviceIdentity, newHubIdentity, sign, type HubIdentity } from '../../crypto/identity.ts';
import { EMPTY_ROSTER, GENESIS, entryHash, extendRoster, openRosterEntry, rosterOf, signRosterEntry } from '../../crypto/roster-log.ts';
import { MAX_SCOPE_CAMERAS, SCOPED_ROLE_FLAG, checkScope, rosterHash, type Scope } from '../../crypto/roster.ts';
import { labeledHash } from '../../crypto/hash.ts';
import { LABEL_ROSTER, LABEL_ROSTER_ENTRY, PROTOCOL_VERSION } from '../../crypto/labels.ts';
import { concat, utf8 } from '../../crypto/bytes.ts';
import { compareBytes } from '../../crypto/order.ts';
import { Writer } from '../../crypto/wire.ts';
import { CryptoError } from '../../crypto/errors.ts';

let hub: HubIdentity;
const phones = Array.from({ length: 3 }, () => new Uint8Array(16));
const camA = Uint8Array.from({ length: 16 }, (_, i) => 0x10 + i);
const camB = Uint8Array.from({ length: 16 }, (_, i) => 0x80 + i);

beforeAll(async () => {
  await cryptoReady();
  hub = newHubIdentity();
  for (const p of phones) p.set(newDeviceIdentity().deviceId);
});

const guestScope: Scope = { cameras: [camA], from: 0, until: 1_900_000_000_000 };

function codeOf(e: unknown): string {
  return e instanceof CryptoError ? e.code : e instanceof RangeError ? 'range' : `other: ${String(e)}`;
}

describe('the roster hash with scopes', () => {
  it('an unscoped roster hashes as before scopes existed (deviceId || role code, nothing more)', () => {
    const members = [{ deviceId: phones[0]!, role: 'owner' as const }, { deviceId: phones[1]!, role: 'viewer' as const }];
    const sorted = [...members].sort((a, b) => compareBytes(a.deviceId, b.deviceId));
    const w = new Writer().u32(5).u16(2);
    for (const m of sorted) w.fixed(m.deviceId, 16).u8(m.role === 'owner' ? 1 : 2);
    expect(rosterHash(5, members)).toEqual(labeledHash(LABEL_ROSTER, 32, w.finish()));
  });

  it('every part of a scope changes the hash; the order cameras are given in does not', () => {
    const owner = { deviceId: phones[0]!, role: 'owner' as const };
    const h = (scope: Scope) => Buffer.from(rosterHash(3, [owner, { deviceId: phones[1]!, role: 'guest', scope }])).toString('hex');
    const base = h({ cameras: [camA, camB], from: 1000, until: 2000 });
    expect(h({ cameras: [camB, camA], from: 1000, until: 2000 })).toBe(base);
    const variants = [
      h({ cameras: [camA], from: 1000, until: 2000 }),
      h({ cameras: [camA, camB], from: 1001, until: 2000 }),
      h({ cameras: [camA, camB], from: 1000, until: 2001 }),
      h({ cameras: [camA, camB], from: 1000, until: 0 }),
      // The same scope on a viewer: another role, another hash.
      Buffer.from(rosterHash(3, [owner, { deviceId: phones[1]!, role: 'viewer', scope: { cameras: [camA, camB], from: 1000, until: 2000 } }])).toString('hex'),
    ];
    expect(new Set([base, ...variants]).size).toBe(variants.length + 1);
    // A viewer with no scope is not a viewer with one.
    const scopedViewer = rosterHash(3, [owner, { deviceId: phones[1]!, role: 'viewer', scope: guestScope }]);
    expect(scopedViewer).not.toEqual(rosterHash(3, [owner, { deviceId: phones[1]!, role: 'viewer' }]));
  });

  it('refuses what cannot be a scope: owners with one, guests without, repeated or too many cameras, a window that ends first', () => {
    const bad: [string, () => unknown][] = [
      ['owner', () => checkScope('owner', guestScope)],
      ['guest', () => checkScope('guest', undefined)],
      ['none', () => checkScope('guest', { cameras: [], from: 0, until: 0 })],
      ['twice', () => checkScope('guest', { cameras: [camA, Uint8Array.from(camA)], from: 0, until: 0 })],
      ['many', () => checkScope('guest', { cameras: Array.from({ length: MAX_SCOPE_CAMERAS + 1 }, (_, i) => new Uint8Array(16).fill(i)), from: 0, until: 0 })],
      ['short id', () => checkScope('guest', { cameras: [new Uint8Array(15)], from: 0, until: 0 })],
      ['order', () => checkScope('viewer', { cameras: [camA], from: 2000, until: 1000 })],
      ['equal', () => checkScope('viewer', { cameras: [camA], from: 2000, until: 2000 })],
      ['negative', () => checkScope('viewer', { cameras: [camA], from: -1, until: 0 })],
      ['hash', () => rosterHash(1, [{ deviceId: phones[0]!, role: 'guest' }])],
    ];
    for (const [what, f] of bad) expect(codeOf((() => { try { f(); } catch (e) { return e; } return undefined; })()), what).toBe('range');
    expect(() => checkScope('viewer', undefined)).not.toThrow();
    expect(() => checkScope('viewer', { cameras: [camA], from: 5, until: 0 })).not.toThrow();
  });
});

/** One entry signed as the hub would, from its fields (the body is built here, byte by byte, when `raw` is given). */
function entry(seq: number, prev: Uint8Array, fields: { change: 'added' | 'removed'; device: number; role: 'owner' | 'viewer' | 'guest'; scope?: Scope }): Uint8Array {
  return signRosterEntry(hub, {
    seq, prev, at: 1000 + seq, change: fields.change, deviceId: phones[fields.device]!, fingerprint: new Uint8Array(32).fill(fields.device),
    name: `Phone ${fields.device}`, role: fields.role, by: 'the hub\'s owner (local API)', ...(fields.scope ? { scope: fields.scope } : {}),
  });
}

/** The body of an 'added' entry written by hand, with whatever role byte and scope bytes a forger likes, signed by the hub. */
function handMade(roleByte: number, scopeBytes: Uint8Array): Uint8Array {
  const body = new Writer().u8(PROTOCOL_VERSION).fixed(hub.hubId, 16).u64(0n).fixed(GENESIS, 32).u64(1000n).u8(1).fixed(phones[1]!, 16)
    .fixed(new Uint8Array(32), 32).bytes16(utf8('Guest')).u8(roleByte).raw(scopeBytes).bytes16(utf8('x')).finish();
  return concat(body, sign(hub.signing, concat(utf8(LABEL_ROSTER_ENTRY), body)));
}

describe('the roster log with scopes', () => {
  it('a guest\'s added and removed entries carry its scope; phones arrive at the hub\'s roster hash', () => {
    const e0 = entry(0, GENESIS, { change: 'added', device: 0, role: 'owner' });
    const e1 = entry(1, entryHash(e0), { change: 'added', device: 1, role: 'guest', scope: guestScope });
    const e2 = entry(2, entryHash(e1), { change: 'added', device: 2, role: 'viewer', scope: { cameras: [camB, camA], from: 5, until: 0 } });
    const { view, entries } = extendRoster(EMPTY_ROSTER, [e0, e1, e2], hubPublicKeys(hub));
    expect(entries[0]!.scope).toBeUndefined();
    expect(entries[1]!.scope).toEqual({ cameras: [camA], from: 0, until: guestScope.until });
    // Stored in one order: ascending camera ids.
    expect(entries[2]!.scope!.cameras).toEqual([camA, camB]);
    const hubSide = rosterHash(7, [
      { deviceId: phones[0]!, role: 'owner' },
      { deviceId: phones[1]!, role: 'guest', scope: guestScope },
      { deviceId: phones[2]!, role: 'viewer', scope: { cameras: [camA, camB], from: 5, until: 0 } },
    ]);
    expect(rosterHash(7, rosterOf(view))).toEqual(hubSide);
    // A hub that hands out keys for the guest with a wider scope than the log says: another hash.
    const widened = rosterHash(7, [
      { deviceId: phones[0]!, role: 'owner' },
      { deviceId: phones[1]!, role: 'guest', scope: { ...guestScope, cameras: [camA, camB] } },
      { deviceId: phones[2]!, role: 'viewer', scope: { cameras: [camA, camB], from: 5, until: 0 } },
    ]);
    expect(rosterHash(7, rosterOf(view))).not.toEqual(widened);

    const e3 = entry(3, entryHash(e2), { change: 'removed', device: 1, role: 'guest', scope: guestScope });
    const after = extendRoster(view, [e3], hubPublicKeys(hub));
    expect(after.entries[0]!.scope).toEqual(guestScope);
    expect([...after.view.members.keys()]).not.toContain(Buffer.from(phones[1]!).toString('hex'));
  });

  it('an entry without a scope is the same bytes as before scopes (old logs keep verifying)', () => {
    const e = entry(0, GENESIS, { change: 'added', device: 0, role: 'viewer' });
    // Role byte 2, no flag, straight on to `by`.
    const nameEnd = 1 + 16 + 8 + 32 + 8 + 1 + 16 + 32 + 2 + utf8('Phone 0').length;
    expect(e[nameEnd]).toBe(2);
    expect(openRosterEntry(e, hubPublicKeys(hub)).scope).toBeUndefined();
  });

  it('a scope changed on the way is a bad signature; hub-signed nonsense is malformed', () => {
    const e = entry(0, GENESIS, { change: 'added', device: 1, role: 'guest', scope: guestScope });
    const nameEnd = 1 + 16 + 8 + 32 + 8 + 1 + 16 + 32 + 2 + utf8('Phone 1').length;
    expect(e[nameEnd]).toBe(3 | SCOPED_ROLE_FLAG);
    // The relay (or a hub's cache) swaps camera A for another: the signature no longer holds.
    const swapped = Uint8Array.from(e);
    swapped[nameEnd + 2] = swapped[nameEnd + 2]! ^ 0x01;
    expect(codeOf((() => { try { openRosterEntry(swapped, hubPublicKeys(hub)); } catch (x) { return x; } return undefined; })())).toBe('tampered');

    const scope = (cameras: Uint8Array[], from: bigint, until: bigint): Uint8Array => {
      const w = new Writer().u8(cameras.length);
      for (const c of cameras) w.fixed(c, 16);
      return w.u64(from).u64(until).finish();
    };
    const cases: [string, Uint8Array][] = [
      ['a guest without a scope', handMade(3, new Uint8Array(0))],
      ['an owner with a scope', handMade(1 | SCOPED_ROLE_FLAG, scope([camA], 0n, 0n))],
      ['cameras out of order', handMade(3 | SCOPED_ROLE_FLAG, scope([camB, camA], 0n, 0n))],
      ['a camera twice', handMade(3 | SCOPED_ROLE_FLAG, scope([camA, camA], 0n, 0n))],
      ['no camera', handMade(3 | SCOPED_ROLE_FLAG, scope([], 0n, 0n))],
      ['ends before it begins', handMade(3 | SCOPED_ROLE_FLAG, scope([camA], 2000n, 1000n))],
      ['a time past any date', handMade(3 | SCOPED_ROLE_FLAG, scope([camA], 0n, 1n << 60n))],
    ];
    for (const [what, wire] of cases) {
      expect(codeOf((() => { try { openRosterEntry(wire, hubPublicKeys(hub)); } catch (x) { return x; } return undefined; })()), what).toBe('malformed');
    }
    // The same hand-made encoding of a good scope opens: the cases above fail for their one fault.
    expect(openRosterEntry(handMade(3 | SCOPED_ROLE_FLAG, scope([camA, camB], 0n, 5000n)), hubPublicKeys(hub)).scope!.cameras).toEqual([camA, camB]);
  });

  it('the hub cannot sign a scope on an entry that states no role', () => {
    expect(() => signRosterEntry(hub, {
      seq: 0, prev: GENESIS, at: 1, change: 'restored', deviceId: new Uint8Array(16), fingerprint: new Uint8Array(32), name: 'x', role: 'owner',
      by: 'x', scope: guestScope,
    })).toThrow(RangeError);
  });
});
