// Builds the roster known-answer vectors that `npm run vectors:write` writes to
// test/crypto/vectors/roster.json; test/crypto/kat-roster.test.ts checks the code against that file.
import { concat, fromHex, toHex, u16be, u32be, u64be, u8 } from '../../../crypto/bytes.ts';
import type { Role } from '../../../crypto/certificate.ts';
import { deviceIdentityFromSeeds } from '../../../crypto/identity.testing.ts';
import { rosterHash, type RosterEntry } from '../../../crypto/roster.ts';
import { CAST, seq, type Expect } from '../kat-support.ts';

export const DESCRIPTION =
  'Vigil roster hash known-answer vectors, docs/PROTOCOL.md section 8. For each vector rosterHash(epoch, entries) must equal ' +
  'rosterHash; input is u32(epoch) || u16(n) || (deviceId || u8(role: 1 owner, 2 viewer, 3 guest) [|| scope]) sorted by deviceId, ' +
  'where a member with a scope sets the role byte\'s high bit (0x80) and scope = u8(k) || k camera ids ascending || u64(from_ms) || ' +
  'u64(until_ms) (section 16.3), and rosterHash = BLAKE2b-256(u8(15) || "vigil v1 roster" || input). Device ids are those of CAST ' +
  'in test/crypto/kat-support.ts.';

/** A member's scope in the vectors: camera ids in hex (any order given), times in Unix ms (0: none). */
export interface VectorScope {
  cameras: string[];
  from: number;
  until: number;
}

export interface Vector {
  name: string;
  comment: string;
  expect: Expect;
  epoch: number;
  /** In the order given to rosterHash (not necessarily sorted). */
  entries: { deviceId: string; role: Role; scope?: VectorScope }[];
  /** The bytes hashed after the label, as the spec writes them (sorted by deviceId). */
  input: string;
  rosterHash: string;
}

const byHex = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

/** From the spec, not from roster.ts: sort by deviceId bytes, role 1 owner / 2 viewer / 3 guest, | 0x80 and the scope when scoped. */
export function refInput(epoch: number, entries: readonly { deviceId: string; role: Role; scope?: VectorScope }[]): Uint8Array {
  const sorted = [...entries].sort((a, b) => byHex(a.deviceId, b.deviceId));
  const code = { owner: 1, viewer: 2, guest: 3 } as const;
  return concat(u32be(epoch), u16be(sorted.length), ...sorted.map((e) => e.scope === undefined
    ? concat(fromHex(e.deviceId), u8(code[e.role]))
    : concat(fromHex(e.deviceId), u8(code[e.role] | 0x80), u8(e.scope.cameras.length), ...[...e.scope.cameras].sort(byHex).map(fromHex),
      u64be(BigInt(e.scope.from)), u64be(BigInt(e.scope.until)))));
}

export const entriesOf = (v: Vector): RosterEntry[] => v.entries.map((e) => ({
  deviceId: fromHex(e.deviceId), role: e.role,
  ...(e.scope ? { scope: { cameras: e.scope.cameras.map(fromHex), from: e.scope.from, until: e.scope.until } } : {}),
}));

export function buildVectors(): Vector[] {
  const id = (s: typeof CAST.owner) => toHex(deviceIdentityFromSeeds(s).deviceId);
  const [owner, viewer, revoked, stranger] = [id(CAST.owner), id(CAST.viewer), id(CAST.revoked), id(CAST.stranger)];
  const v: Vector[] = [];
  const add = (name: string, comment: string, epoch: number, entries: { deviceId: string; role: Role; scope?: VectorScope }[]) => {
    const hash = toHex(rosterHash(epoch, entriesOf({ entries } as Vector)));
    v.push({ name, comment, expect: 'success', epoch, entries, input: toHex(refInput(epoch, entries)), rosterHash: hash });
  };
  add('empty', 'no devices, epoch 0', 0, []);
  add('owner', 'the owner alone, epoch 1', 1, [{ deviceId: owner, role: 'owner' }]);
  add('owner-viewer', 'owner and a viewer, epoch 2', 2, [{ deviceId: owner, role: 'owner' }, { deviceId: viewer, role: 'viewer' }]);
  add('owner-viewer-reversed', 'the same roster given in the other order: the same hash', 2, [{ deviceId: viewer, role: 'viewer' }, { deviceId: owner, role: 'owner' }]);
  add('owner-viewer-epoch-3', 'the same roster at the next epoch: another hash', 3, [{ deviceId: owner, role: 'owner' }, { deviceId: viewer, role: 'viewer' }]);
  add('viewer-promoted', 'the viewer made an owner: another hash', 2, [{ deviceId: owner, role: 'owner' }, { deviceId: viewer, role: 'owner' }]);
  add('four', 'four devices, largest epoch 2^32-1', 0xffff_ffff, [
    { deviceId: stranger, role: 'viewer' }, { deviceId: revoked, role: 'owner' }, { deviceId: viewer, role: 'viewer' }, { deviceId: owner, role: 'owner' },
  ]);
  add('close-ids', 'ids that differ only in their last byte sort by it', 9, [
    { deviceId: toHex(seq(16, 0x31)).slice(0, 30) + 'ff', role: 'viewer' }, { deviceId: toHex(seq(16, 0x31)).slice(0, 30) + '00', role: 'owner' },
  ]);
  const front = toHex(seq(16, 0xa0));
  const back = toHex(seq(16, 0x10));
  const guest = (scope: VectorScope) => [{ deviceId: owner, role: 'owner' as Role }, { deviceId: viewer, role: 'guest' as Role, scope }];
  add('guest-one-camera', 'a guest for one camera until 2030-01-01', 4, guest({ cameras: [front], from: 0, until: 1_893_456_000_000 }));
  add('guest-two-cameras-window', 'a guest for two cameras (given out of order: sorted) in a window', 4,
    guest({ cameras: [front, back], from: 1_893_452_400_000, until: 1_893_456_000_000 }));
  add('guest-widened', 'the same guest with one more day: another hash', 4, guest({ cameras: [front, back], from: 1_893_452_400_000, until: 1_893_542_400_000 }));
  add('viewer-scoped', 'a viewer limited to one camera, no end', 4, [{ deviceId: owner, role: 'owner' }, { deviceId: viewer, role: 'viewer', scope: { cameras: [back], from: 0, until: 0 } }]);
  return v;
}
