// Known-answer vectors for the roster hash (docs/PROTOCOL.md §8): test/crypto/vectors/roster.json.
// rosterHash = H("vigil v1 roster", 32, u32(epoch) || u16(n) || sorted(deviceId || u8(role))...).
import { beforeAll, describe, expect, it } from 'vitest';
import { cryptoReady } from '../../crypto/sodium.ts';
import { fromHex, toHex } from '../../crypto/bytes.ts';
import { labeledHash } from '../../crypto/hash.ts';
import { rosterHash } from '../../crypto/roster.ts';
import { expectKinds, readVectors } from './kat-support.ts';
import { type Vector, refInput, entriesOf } from './generate/roster.ts';

beforeAll(async () => {
  await cryptoReady();
});

describe('roster known-answer vectors (test/crypto/vectors/roster.json)', () => {
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
