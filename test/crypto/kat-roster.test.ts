// Known-answer vectors for the roster hash (docs/PROTOCOL.md §8): test/crypto/vectors/roster.json.
// rosterHash = H("vigil v1 roster", 32, u32(epoch) || u16(n) || sorted(deviceId || u8(role))...).
import { beforeAll, describe, expect, it } from 'vitest';
import { cryptoReady } from '../../crypto/sodium.ts';
import { concat, fromHex, toHex, u16be, u32be, u8 } from '../../crypto/bytes.ts';
import type { Role } from '../../crypto/certificate.ts';
import { labeledHash } from '../../crypto/hash.ts';
import { deviceIdentityFromSeeds } from '../../crypto/identity.testing.ts';
import { rosterHash, type RosterEntry } from '../../crypto/roster.ts';
import { CAST, WRITE_VECTORS, expectKinds, readVectors, seq, writeVectors, type Expect } from './kat-support.ts';

beforeAll(async () => {
  await cryptoReady();
});

interface Vector {
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
function refInput(epoch: number, entries: readonly { deviceId: string; role: Role }[]): Uint8Array {
  const sorted = [...entries].sort((a, b) => (a.deviceId < b.deviceId ? -1 : a.deviceId > b.deviceId ? 1 : 0));
  return concat(u32be(epoch), u16be(sorted.length), ...sorted.map((e) => concat(fromHex(e.deviceId), u8(e.role === 'owner' ? 1 : 2))));
}

const entriesOf = (v: Vector): RosterEntry[] => v.entries.map((e) => ({ deviceId: fromHex(e.deviceId), role: e.role }));

function buildVectors(): Vector[] {
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

describe('roster known-answer vectors (test/crypto/vectors/roster.json)', () => {
  it.runIf(WRITE_VECTORS)('writes the vectors from the code', () => {
    writeVectors('roster',
      'Vigil roster hash known-answer vectors, docs/PROTOCOL.md section 8. For each vector rosterHash(epoch, entries) must equal ' +
      'rosterHash; input is u32(epoch) || u16(n) || (deviceId || u8(role: 1 owner, 2 viewer)) sorted by deviceId, and rosterHash ' +
      '= BLAKE2b-256(u8(15) || "vigil v1 roster" || input). Device ids are those of CAST in test/crypto/kat-support.ts.',
      buildVectors());
  });

  const vectors = readVectors<Vector>('roster');

  it('covers success (a hash has no failure)', () => {
    expectKinds(vectors, ['success']);
  });

  it('order does not matter; epoch and roles do', () => {
    const by = new Map(vectors.map((v) => [v.name, v.rosterHash]));
    if (vectors.length === 0) return;
    expect(by.get('owner-viewer-reversed')).toBe(by.get('owner-viewer'));
    expect(by.get('owner-viewer-epoch-3')).not.toBe(by.get('owner-viewer'));
    expect(by.get('viewer-promoted')).not.toBe(by.get('owner-viewer'));
  });

  for (const v of vectors) {
    it(`${v.name}: ${v.expect}`, () => {
      expect(toHex(refInput(v.epoch, v.entries))).toBe(v.input);
      expect(toHex(labeledHash('vigil v1 roster', 32, fromHex(v.input)))).toBe(v.rosterHash);
      expect(toHex(rosterHash(v.epoch, entriesOf(v)))).toBe(v.rosterHash);
    });
  }
});
