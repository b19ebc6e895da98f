// The hub's recorder seals segments with node:crypto (main/node-aead.ts) and phones open them with
// libsodium (crypto/recording.ts's default): the two must write the same bytes on disk. With the
// segment's randomness fixed (its key and the X-Wing encapsulation), a segment sealed through each
// is compared byte for byte; with it not fixed, each opens what the other wrote, and a flipped byte
// is found by both at the same chunk.
import { afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { concat } from '../../../crypto/bytes.ts';
import { sodiumFrameAead, type FrameAead } from '../../../crypto/frame.ts';
import { hubPublicKeys, newHubIdentity, type HubIdentity } from '../../../crypto/identity.ts';
import { SegmentWriter, newRecordingEpoch, openSegment, type RecordingEpoch } from '../../../crypto/recording.ts';
import type { Secret } from '../../../crypto/secret.ts';
import { cryptoReady, sodium } from '../../../crypto/sodium.ts';
import { nodeFrameAead } from '../../../main/node-aead.ts';

let hub: HubIdentity;
let epoch: RecordingEpoch;
let seed: Secret;
const camera = new Uint8Array(16).fill(9);
const START = 1_700_000_001_000;
// Sizes around ChaCha20's 64-byte block and Poly1305's 16-byte one, an empty fragment, and a large one.
const SIZES = [0, 1, 15, 16, 17, 63, 64, 65, 1000, 300_001];

beforeAll(async () => {
  await cryptoReady();
  hub = newHubIdentity();
  ({ epoch, seed } = newRecordingEpoch(hub, 4, START - 60_000));
});

afterEach(() => {
  vi.restoreAllMocks();
});

function payload(i: number, size: number): Uint8Array {
  return new Uint8Array(size).map((_, j) => (i * 131 + j * 7) & 0xff);
}

function sealed(aead: FrameAead, segmentId = 77n): Uint8Array {
  const w = new SegmentWriter(hub, epoch, { cameraId: camera, segmentId, start: START }, { aead });
  const parts = [w.headerBytes, w.chunk('init', START, payload(0, 700))];
  SIZES.forEach((size, i) => parts.push(w.chunk('media', START + (i + 1) * 100, payload(i + 1, size))));
  parts.push(w.close(START + (SIZES.length + 1) * 100).bytes);
  return concat(...parts);
}

/** The segment key and the X-Wing encapsulation fixed, fresh copies each time (the writer wipes them). */
function fixRandomness(): void {
  const s = sodium();
  const key = s.randombytes_buf(32);
  const enc = s.crypto_kem_xwing_enc(epoch.publicKey);
  // `as never`: the typings' overloads (string outputs) do not fit a mock of the bytes one.
  vi.spyOn(s, 'randombytes_buf').mockImplementation((() => Uint8Array.from(key)) as never);
  vi.spyOn(s, 'crypto_kem_xwing_enc').mockImplementation(
    (() => ({ ciphertext: Uint8Array.from(enc.ciphertext), sharedSecret: Uint8Array.from(enc.sharedSecret) })) as never,
  );
}

describe('segments sealed with node:crypto', () => {
  it('are the same bytes as with libsodium', () => {
    fixRandomness();
    const withSodium = sealed(sodiumFrameAead);
    // Not a writer that ignores its AEAD: every chunk (init, fragments, final) goes through OpenSSL.
    const openssl = vi.spyOn(nodeFrameAead, 'encryptTo');
    const withNode = sealed(nodeFrameAead);
    expect(openssl).toHaveBeenCalledTimes(SIZES.length + 2);
    expect(withNode.length).toBe(withSodium.length);
    expect(Buffer.from(withNode).equals(Buffer.from(withSodium))).toBe(true);
  });

  it('open with either, whichever sealed them, every chunk and the proof', () => {
    for (const [writer, reader] of [[nodeFrameAead, sodiumFrameAead], [sodiumFrameAead, nodeFrameAead]] as const) {
      const s = openSegment(sealed(writer), seed, hubPublicKeys(hub), { aead: reader });
      expect(s.damaged).toBeUndefined();
      expect(s.proof?.chunks).toBe(SIZES.length + 1);
      expect(s.chunks.map((c) => c.payload.length)).toEqual([700, ...SIZES]);
      s.chunks.forEach((c, i) => expect(Buffer.from(c.payload).equals(Buffer.from(payload(i, c.payload.length)))).toBe(true));
    }
  });

  it('a flipped byte is found at the same chunk by both', () => {
    const bytes = sealed(nodeFrameAead);
    const flipped = Uint8Array.from(bytes);
    flipped[bytes.length - 2000]! ^= 1; // inside the 300 kB fragment, chunk 10
    const bySodium = openSegment(flipped, seed, hubPublicKeys(hub));
    const byNode = openSegment(flipped, seed, hubPublicKeys(hub), { aead: nodeFrameAead });
    expect(bySodium.damaged).toMatch(/chunk 10 does not open/);
    expect(byNode.damaged).toBe(bySodium.damaged);
    expect(byNode.chunks.length).toBe(bySodium.chunks.length);
  });
});
