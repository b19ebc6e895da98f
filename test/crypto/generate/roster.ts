// Builds the roster known-answer vectors that `npm run vectors:write` writes to
// test/crypto/vectors/roster.json; test/crypto/kat-roster.test.ts checks the code against that file.
import { concat, fromHex, toHex, u16be, u32be, u8 } from '../../../crypto/bytes.ts';
import type { Role } from '../../../crypto/certificate.ts';
import { deviceIdentityFromSeeds } from '../../../crypto/identity.testing.ts';
import { rosterHash, type RosterEntry } from '../../../crypto/roster.ts';
import { CAST, seq, type Expect } from '../kat-support.ts';

export const DESCRIPTION =
  'Vigil roster hash known-answer vectors, docs/PROTOCOL.md section 8. For each vector rosterHash(epoch, entries) must equal ' +
  'rosterHash; input is u32(epoch) || u16(n) || (deviceId || u8(role: 1 owner, 2 viewer)) sorted by deviceId, and rosterHash ' +
  '= BLAKE2b-256(u8(15) || "vigil v1 roster" || input). Device ids are those of CAST in test/crypto/kat-support.ts.';

export interface Vector {
  name: string;
  comment: string;
  expect: Expect;
  epoch: number;
  /** In the order given to rosterHash (not necessarily sorted). */
  entries: { deviceId: string; role: Role }[];
  /** The bytes hashed after the label, as the spec writes them (sorted by deviceId). */
  input: string;
  rosterHash: string;
}

/** From the spec, not from roster.ts: sort by deviceId bytes, role 1 owner / 2 viewer. */
export function refInput(epoch: number, entries: readonly { deviceId: string; role: Role }[]): Uint8Array {
  const sorted = [...entries].sort((a, b) => (a.deviceId < b.deviceId ? -1 : a.deviceId > b.deviceId ? 1 : 0));
  return concat(u32be(epoch), u16be(sorted.length), ...sorted.map((e) => concat(fromHex(e.deviceId), u8(e.role === 'owner' ? 1 : 2))));
}

export const entriesOf = (v: Vector): RosterEntry[] => v.entries.map((e) => ({ deviceId: fromHex(e.deviceId), role: e.role }));

export function buildVectors(): Vector[] {
  const id = (s: typeof CAST.owner) => toHex(deviceIdentityFromSeeds(s).deviceId);
  const [owner, viewer, revoked, stranger] = [id(CAST.owner), id(CAST.viewer), id(CAST.revoked), id(CAST.stranger)];
  const v: Vector[] = [];
  const add = (name: string, comment: string, epoch: number, entries: { deviceId: string; role: Role }[]) => {
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
  return v;
}
