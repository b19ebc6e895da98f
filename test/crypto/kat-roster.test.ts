// Known-answer vectors for the roster hash (docs/PROTOCOL.md §8): test/crypto/vectors/roster.json.
// rosterHash = H("vigil v1 roster", 32, u32(epoch) || u16(n) || sorted(deviceId || u8(role) [|| scope])...).
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
    // A scope is part of the roster: a guest's one more day, or the same scope on a viewer, is another hash (§16.3).
    expect(by.get('guest-widened')).not.toBe(by.get('guest-two-cameras-window'));
    expect(new Set(['guest-one-camera', 'guest-two-cameras-window', 'viewer-scoped', 'owner-viewer'].map((n) => by.get(n))).size).toBe(4);
  });

  for (const v of vectors) {
    it(`${v.name}: ${v.expect}`, () => {
      expect(toHex(refInput(v.epoch, v.entries))).toBe(v.input);
      expect(toHex(labeledHash('vigil v1 roster', 32, fromHex(v.input)))).toBe(v.rosterHash);
      expect(toHex(rosterHash(v.epoch, entriesOf(v)))).toBe(v.rosterHash);
    });
  }
});
