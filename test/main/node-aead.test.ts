// The hub's frame AEAD on node:crypto (main/node-aead.ts) must be indistinguishable on the wire from
// libsodium's, the default phones use: the frame known-answer vectors (test/crypto/vectors/frame.json)
// and Wycheproof's chacha20_poly1305 cases run through it, and frames cross between the two both ways.
import { beforeAll, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { readFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { nodeFrameAead } from '../../main/node-aead.ts';
import { cryptoReady, sodium } from '../../crypto/sodium.ts';
import {
  FRAME_CLEAR_BYTES, FrameOpener, FrameSealer, sodiumFrameAead, type FrameAead, type FrameKeyParams, type FrameTrack, type FrameType,
} from '../../crypto/frame.ts';
import { decodeSframeHeader } from '../../crypto/sframe.ts';
import { CryptoError, type CryptoErrorCode } from '../../crypto/errors.ts';
import { fromHex, toHex } from '../../crypto/bytes.ts';
import { readVectorText, requireVectors } from '../support/vectors.ts';

beforeAll(async () => {
  await cryptoReady();
});

const node = { aead: nodeFrameAead };
const libsodium = { aead: sodiumFrameAead };

function random(n: number): Uint8Array {
  return sodium().randombytes_buf(n);
}

function camera(cameraNumber: number, epoch: number): FrameKeyParams {
  return { hubId: random(16), cameraId: random(16), cameraNumber, epoch, key: random(32) };
}

function outcome(opener: FrameOpener, wire: Uint8Array): CryptoErrorCode | 'success' {
  try {
    opener.open(wire);
    return 'success';
  } catch (e) {
    if (!(e instanceof CryptoError)) throw e;
    return e.code;
  }
}

/** toHex and toEqual take seconds on a megabyte; Buffer compares it at memcpy speed. */
function same(a: Uint8Array, b: Uint8Array): boolean {
  return Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(Buffer.from(b.buffer, b.byteOffset, b.byteLength));
}

function attempt(fn: () => unknown): boolean {
  try {
    fn();
    return true;
  } catch {
    return false;
  }
}

// ---------------------------------------------------------------------------------------------
// The frame known-answer vectors, opened and re-sealed with the node AEAD.

interface VectorKey {
  hubId: string;
  cameraId: string;
  cameraNumber: number;
  epoch: number;
  baseKey: string;
}

interface Vector {
  name: string;
  keys: VectorKey[];
  openFirst: string[];
  wire: string;
  expect: string;
  sealed?: { key: number; counter: string; track: FrameTrack; captureTime: number; frameType: FrameType; plaintext: string };
}

const VECTORS_FILE = fileURLToPath(new URL('../crypto/vectors/frame.json', import.meta.url));
const vectors = (JSON.parse(readFileSync(VECTORS_FILE, 'utf8')) as { vectors: Vector[] }).vectors;

function keyParams(k: VectorKey): FrameKeyParams {
  return { hubId: fromHex(k.hubId), cameraId: fromHex(k.cameraId), cameraNumber: k.cameraNumber, epoch: k.epoch, key: fromHex(k.baseKey) };
}

describe('frame known-answer vectors through the node AEAD', () => {
  it('has vectors of every outcome to run', () => {
    expect(new Set(vectors.map((v) => v.expect)).size).toBe(6);
  });

  for (const v of vectors) {
    it(`${v.name}: ${v.expect}`, () => {
      const opener = new FrameOpener(node);
      for (const k of v.keys) opener.addKey(keyParams(k));
      for (const first of v.openFirst) opener.open(fromHex(first));
      expect(outcome(opener, fromHex(v.wire))).toBe(v.expect);
      if (v.expect !== 'success' || v.sealed === undefined) return;
      const s = v.sealed;
      const k = v.keys[s.key] as VectorKey;
      const wire = FrameSealer.forTesting(keyParams(k), BigInt(s.counter), node).seal({
        track: s.track, captureTime: s.captureTime, frameType: s.frameType, payload: fromHex(s.plaintext),
      });
      expect(toHex(wire)).toBe(v.wire);
      const fresh = new FrameOpener(node);
      for (const key of v.keys) fresh.addKey(keyParams(key));
      expect(toHex(fresh.open(wire).payload)).toBe(s.plaintext);
    });
  }
});

// ---------------------------------------------------------------------------------------------

describe('node AEAD and libsodium interoperate', () => {
  it('seal with either, open with the other, on random frames: same bytes on the wire', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 0x7fff_ffff }), fc.integer({ min: 0, max: 0xffff_ffff }), fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }),
        fc.constantFrom<FrameType>('init', 'keyframe', 'delta', 'audio-only'), fc.uint8Array({ maxLength: 2000 }),
        (cameraNumber, epoch, counter, frameType, payload) => {
          const params = camera(cameraNumber, epoch);
          const frame = { track: 'video' as const, captureTime: 1_764_000_000_000, frameType, payload };
          const byNode = FrameSealer.forTesting(params, counter, node).seal(frame);
          const bySodium = FrameSealer.forTesting(params, counter, libsodium).seal(frame);
          expect(toHex(byNode)).toBe(toHex(bySodium));
          const nodeOpener = new FrameOpener(node);
          nodeOpener.addKey(params);
          const sodiumOpener = new FrameOpener(libsodium);
          sodiumOpener.addKey(params);
          expect(sodiumOpener.open(byNode).payload).toEqual(payload);
          expect(nodeOpener.open(bySodium).payload).toEqual(payload);
        },
      ),
      { numRuns: 200 },
    );
  });

  it('a 1 MiB keyframe crosses both ways', () => {
    const params = camera(4, 9);
    // node:crypto's generator: libsodium's randombytes_buf takes seconds for 1 MiB (it was 22 s of
    // this file's 25), and what the bytes are does not matter here.
    const payload = new Uint8Array(randomBytes(1024 * 1024));
    const frame = { track: 'video' as const, captureTime: 1, frameType: 'keyframe' as const, payload };
    const sodiumOpener = new FrameOpener();
    sodiumOpener.addKey(params);
    expect(same(sodiumOpener.open(new FrameSealer(params, node).seal(frame)).payload, payload)).toBe(true);
    const nodeOpener = new FrameOpener(node);
    nodeOpener.addKey({ ...params, epoch: 10 });
    expect(same(nodeOpener.open(FrameSealer.forTesting({ ...params, epoch: 10 }, 0n).seal(frame)).payload, payload)).toBe(true);
  });

  it('every single-bit change of a node-sealed frame is refused by both openers, never opened', () => {
    const params = camera(1, 1);
    const wire = new FrameSealer(params, node).seal({ track: 'video', captureTime: 5, frameType: 'delta', payload: random(40) });
    const m = decodeSframeHeader(wire).headerLength;
    for (const options of [node, libsodium]) {
      for (let i = 0; i < wire.length; i++) {
        const bad = wire.slice();
        bad[i] = (bad[i] ?? 0) ^ 0x01;
        const opener = new FrameOpener(options);
        opener.addKey(params);
        const result = outcome(opener, bad);
        expect(result, `byte ${i}`).not.toBe('success');
        // Past the clear version and suite the only honest answer is an authentication failure.
        if (i >= m + FRAME_CLEAR_BYTES) expect(result, `byte ${i}`).toBe('tampered');
      }
    }
  });

  it('hands back plain Uint8Arrays (slice() copies), never Buffers', () => {
    const params = camera(2, 2);
    const wire = new FrameSealer(params, node).seal({ track: 'audio', captureTime: 0, frameType: 'audio-only', payload: random(100) });
    expect(Object.getPrototypeOf(wire)).toBe(Uint8Array.prototype);
    const opener = new FrameOpener(node);
    opener.addKey(params);
    expect(Object.getPrototypeOf(opener.open(wire).payload)).toBe(Uint8Array.prototype);
  });

  it('encryptTo (what the sealer uses) writes exactly what encrypt returns for the joined parts, into an output of the exact size only', () => {
    const [key, nonce, aad, msg] = [random(32), random(12), random(7), random(1000)];
    // The sealer's parts: prefix, payload, padding; split anywhere, the bytes are the same.
    const parts = [msg.subarray(0, 46), msg.subarray(46, 990), msg.subarray(990)];
    for (const split of [[msg], parts, [new Uint8Array(0), msg, new Uint8Array(0)]]) {
      const out = new Uint8Array(1016);
      nodeFrameAead.encryptTo!(key, nonce, aad, split, out);
      expect(toHex(out)).toBe(toHex(nodeFrameAead.encrypt(key, nonce, aad, msg)));
      expect(toHex(out)).toBe(toHex(sodiumFrameAead.encrypt(key, nonce, aad, msg)));
    }
    expect(attempt(() => nodeFrameAead.encryptTo!(key, nonce, aad, parts, new Uint8Array(1015)))).toBe(false);
    expect(attempt(() => nodeFrameAead.encryptTo!(key, nonce, aad, parts, new Uint8Array(1017)))).toBe(false);
  });

  it('refuses keys and nonces of the wrong length instead of padding them', () => {
    const ok = nodeFrameAead.encrypt(random(32), random(12), random(3), random(10));
    expect(ok.length).toBe(26);
    for (const [k, n] of [[31, 12], [33, 12], [32, 8], [32, 11], [32, 13], [32, 24]] as const) {
      expect(attempt(() => nodeFrameAead.encrypt(random(k), random(n), new Uint8Array(0), random(10))), `${k}/${n}`).toBe(false);
      expect(attempt(() => nodeFrameAead.decrypt(random(k), random(n), new Uint8Array(0), random(26))), `${k}/${n}`).toBe(false);
    }
    expect(attempt(() => nodeFrameAead.decrypt(random(32), random(12), new Uint8Array(0), random(15)))).toBe(false);
  });
});

// ---------------------------------------------------------------------------------------------
// Wycheproof chacha20_poly1305 (C2SP testvectors_v1), as test/crypto/wycheproof.test.ts runs it
// through libsodium.

interface AeadFile {
  numberOfTests: number;
  testGroups: { tests: { tcId: number; comment: string; flags: string[]; key: string; iv: string; aad: string; msg: string; ct: string; tag: string; result: string }[] }[];
}

function runWycheproof(aead: FrameAead): Record<string, number> {
  const file = JSON.parse(readVectorText('wycheproof', 'chacha20_poly1305_test.json')) as AeadFile;
  const counts: Record<string, number> = { valid: 0, invalid: 0, acceptable: 0 };
  for (const group of file.testGroups) {
    for (const t of group.tests) {
      counts[t.result] = (counts[t.result] ?? 0) + 1;
      const id = `tcId ${t.tcId} (${t.comment}; ${t.flags.join(',')})`;
      const [key, iv, aad, msg, ct, tag] = [t.key, t.iv, t.aad, t.msg, t.ct, t.tag].map(fromHex) as [
        Uint8Array, Uint8Array, Uint8Array, Uint8Array, Uint8Array, Uint8Array,
      ];
      const sealed = new Uint8Array([...ct, ...tag]);
      let opened: Uint8Array | undefined;
      try {
        opened = aead.decrypt(key, iv, aad, sealed);
      } catch {
        opened = undefined;
      }
      if (t.result === 'valid') {
        expect(toHex(aead.encrypt(key, iv, aad, msg)), id).toBe(toHex(sealed));
        expect(opened && toHex(opened), id).toBe(toHex(msg));
      } else {
        expect(t.result, id).toBe('invalid');
        expect(opened, id).toBeUndefined();
        if (iv.length !== 12) expect(attempt(() => aead.encrypt(key, iv, aad, msg)), id).toBe(false);
      }
    }
  }
  expect(counts['valid']! + counts['invalid']! + counts['acceptable']!).toBe(file.numberOfTests);
  return counts;
}

describe.skipIf(!requireVectors('Wycheproof chacha20_poly1305_test.json (node AEAD)', 'wycheproof', 'chacha20_poly1305_test.json'))(
  'Wycheproof chacha20_poly1305_test.json',
  () => {
    it('through the node AEAD: valid cases give the expected bytes, invalid ones never decrypt', () => {
      expect(runWycheproof(nodeFrameAead)).toEqual({ valid: 256, invalid: 69, acceptable: 0 });
    });
    it('through the libsodium default, by the same FrameAead interface', () => {
      expect(runWycheproof(sodiumFrameAead)).toEqual({ valid: 256, invalid: 69, acceptable: 0 });
    });
  },
);
