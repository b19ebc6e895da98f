// The frame envelope under attack: each threat of DESIGN.md section 3 that frames carry (T1, T4, T6,
// T7, T8, T10, T12) is performed here against the real code, next to known-answer vectors that pin
// the wire format and an independent reference implementation of docs/PROTOCOL.md section 9.
import { beforeAll, describe, expect, it, vi } from 'vitest';
import fc from 'fast-check';
import { inspect } from 'node:util';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { cryptoReady, sodium } from '../../crypto/sodium.ts';
import {
  FRAME_CLEAR_BYTES, FRAME_VERSION, FrameOpener, FrameSealer, MAX_FRAME_COUNTER, MAX_FRAME_WIRE_BYTES, frameKeyId, paddedPlaintextLength,
  sodiumFrameAead, type FrameAead, type FrameKeyParams, type FrameTrack, type FrameType,
} from '../../crypto/frame.ts';
import { encodeSframeHeader, decodeSframeHeader } from '../../crypto/sframe.ts';
import { CryptoError, type CryptoErrorCode } from '../../crypto/errors.ts';
import { concat, fromHex, toHex, u32be, u64be, utf8 } from '../../crypto/bytes.ts';
import { LABEL_FRAME_KEY, LABEL_FRAME_KID, LABEL_FRAME_SALT } from '../../crypto/labels.ts';
import { Secret } from '../../crypto/secret.ts';
import { nodeFrameAead } from '../../main/node-aead.ts';
import { TRACK_CODE, TYPE_CODE, refDerive, refNonce, refOpen, refPadme, refSeal } from './frame-reference.ts';
import { type Vector, type VectorKey, keyParams } from './generate/frame.ts';

beforeAll(async () => {
  await cryptoReady();
});

const VECTORS_FILE = fileURLToPath(new URL('./vectors/frame.json', import.meta.url));

function random(n: number): Uint8Array {
  return sodium().randombytes_buf(n);
}

function camera(cameraNumber: number, epoch: number, over: Partial<FrameKeyParams> = {}): FrameKeyParams {
  return { hubId: random(16), cameraId: random(16), cameraNumber, epoch, key: random(32), ...over };
}

const FRAME = { track: 'video', captureTime: 1_764_000_000_000, frameType: 'delta', payload: utf8('frame') } as const;

/** The error code open() throws, or 'success'. Anything that is not a CryptoError fails the test. */
function outcome(opener: FrameOpener, wire: Uint8Array): CryptoErrorCode | 'success' {
  try {
    opener.open(wire);
    return 'success';
  } catch (e) {
    if (!(e instanceof CryptoError)) throw e;
    return e.code;
  }
}

function openerWith(...keys: FrameKeyParams[]): FrameOpener {
  const opener = new FrameOpener();
  for (const k of keys) opener.addKey(k);
  return opener;
}

describe('known-answer vectors (test/crypto/vectors/frame.json)', () => {
  const file = JSON.parse(readFileSync(VECTORS_FILE, 'utf8')) as { vectors: Vector[] };

  it('covers every outcome', () => {
    const kinds = new Set(file.vectors.map((v) => v.expect));
    expect([...kinds].sort()).toEqual(['malformed', 'not-for-me', 'replayed', 'success', 'tampered', 'unsupported']);
  });

  it('derives the recorded frame keys and salts', () => {
    for (const v of file.vectors) {
      for (const k of v.keys) {
        const d = refDerive(fromHex(k.baseKey), fromHex(k.hubId), fromHex(k.cameraId), k.cameraNumber, k.epoch);
        expect(d.kid.toString(), v.name).toBe(k.kid);
        expect(frameKeyId(keyParams(k)).toString(), v.name).toBe(k.kid);
        expect(toHex(d.frameKey), v.name).toBe(k.frameKey);
        expect(toHex(d.salt), v.name).toBe(k.salt);
      }
    }
  });

  for (const v of file.vectors) {
    it(`${v.name}: ${v.expect}`, () => {
      const opener = openerWith(...v.keys.map(keyParams));
      for (const first of v.openFirst) opener.open(fromHex(first));
      const result = outcome(opener, fromHex(v.wire));
      expect(result).toBe(v.expect);
      if (v.expect !== 'success' || v.sealed === undefined) return;
      const s = v.sealed;
      const k = v.keys[s.key] as VectorKey;
      // The sealer reproduces the exact bytes, and the opener returns exactly the sealed fields.
      const wire = FrameSealer.forTesting(keyParams(k), BigInt(s.counter)).seal({
        track: s.track, captureTime: s.captureTime, frameType: s.frameType, payload: fromHex(s.plaintext),
      });
      expect(toHex(wire)).toBe(v.wire);
      const opened = openerWith(...v.keys.map(keyParams)).open(fromHex(v.wire));
      expect({ ...opened, cameraId: toHex(opened.cameraId), payload: toHex(opened.payload) }).toEqual({
        cameraId: k.cameraId, cameraNumber: k.cameraNumber, epoch: k.epoch, track: s.track, captureTime: s.captureTime,
        frameType: s.frameType, payload: s.plaintext, counter: BigInt(s.counter),
      });
      expect(toHex(fromHex(v.wire).subarray(0, s.aad.length / 2))).toBe(s.aad);
      expect(toHex(refNonce(fromHex(k.salt), BigInt(s.counter)))).toBe(s.nonce);
    });
  }
});

describe('sealing and opening', () => {
  it('uses the labels and version the spec quotes', () => {
    expect(LABEL_FRAME_KEY).toBe('vigil v2 frame key');
    expect(LABEL_FRAME_SALT).toBe('vigil v2 frame salt');
    expect(LABEL_FRAME_KID).toBe('vigil v2 frame kid');
    expect(FRAME_VERSION).toBe(2);
  });

  it('pads with Padmé: the reference formula, at most 12% more, only the top bits of a length vary', () => {
    for (let n = 0; n < 70_000; n++) if (paddedPlaintextLength(n) !== refPadme(n)) expect(paddedPlaintextLength(n), `n=${n}`).toBe(refPadme(n));
    for (const n of [2 ** 20 - 1, 2 ** 20, 2 ** 20 + 1, 16 * 1024 * 1024 + 46, 2 ** 30]) expect(paddedPlaintextLength(n)).toBe(refPadme(n));
    let worst = 1;
    for (let n = 46; n < 70_000; n++) {
      const p = paddedPlaintextLength(n);
      if (p < n || paddedPlaintextLength(p) !== p) expect({ n, p }).toBe('padded up, and a fixed point');
      worst = Math.max(worst, p / n);
    }
    expect(worst).toBeLessThanOrEqual(1.12);
    expect(paddedPlaintextLength(1046)).toBe(1088);
    expect(() => paddedPlaintextLength(2 ** 30 + 1)).toThrow(RangeError);
    expect(() => paddedPlaintextLength(-1)).toThrow(RangeError);
  });

  it('agrees with the reference implementation on random inputs', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 0x7fff_ffff }), fc.integer({ min: 0, max: 0xffff_ffff }),
        fc.bigInt({ min: 0n, max: MAX_FRAME_COUNTER }), fc.constantFrom<FrameTrack>('video', 'audio'),
        fc.constantFrom<FrameType>('init', 'keyframe', 'delta', 'audio-only'), fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER }),
        fc.uint8Array({ maxLength: 300 }),
        (cameraNumber, epoch, counter, track, frameType, captureTime, payload) => {
          const params = camera(cameraNumber, epoch);
          const wire = FrameSealer.forTesting(params, counter).seal({ track, captureTime, frameType, payload });
          const ref = refSeal({
            baseKey: params.key as Uint8Array, hubId: params.hubId, cameraId: params.cameraId, cameraNumber, epoch, counter,
            track: TRACK_CODE[track], captureTime: BigInt(captureTime), frameType: TYPE_CODE[frameType], plaintext: payload,
          });
          expect(toHex(wire)).toBe(toHex(ref.wire));
          const opened = openerWith(params).open(wire);
          expect(opened).toEqual({ cameraId: params.cameraId, cameraNumber, epoch, track, captureTime, frameType, payload, counter });
        },
      ),
      { numRuns: 300 },
    );
  });

  it('lays out header || version || suite || ciphertext of (46-byte prefix || payload || zeros) || 16-byte tag', () => {
    const p = camera(3, 7);
    const payload = random(100);
    const wire = new FrameSealer(p).seal({ ...FRAME, payload });
    const h = decodeSframeHeader(wire);
    expect(h.kid).toBe(frameKeyId(p));
    expect(h.ctr).toBe(0n);
    // 46 + 100 = 146 (8 bits): Padmé lets only the top floor(log2 7) + 2 = 4 vary, so 160 (14 bytes of padding).
    expect(wire.length).toBe(h.headerLength + FRAME_CLEAR_BYTES + 160 + 16);
    expect([...wire.subarray(h.headerLength, h.headerLength + 2)]).toEqual([2, 1]);
    const plain = refOpen(wire, p.key as Uint8Array, p.hubId, p.cameraId, 3, 7);
    expect(toHex(plain.subarray(0, 16))).toBe(toHex(p.hubId));
    expect(toHex(plain.subarray(16, 32))).toBe(toHex(p.cameraId));
    expect(plain[32]).toBe(0);
    expect(new DataView(plain.buffer, plain.byteOffset).getBigUint64(33)).toBe(BigInt(FRAME.captureTime));
    expect(plain[41]).toBe(2);
    expect(new DataView(plain.buffer, plain.byteOffset).getUint32(42)).toBe(14);
    expect(toHex(plain.subarray(46, 146))).toBe(toHex(payload));
    expect([...plain.subarray(146)]).toEqual(new Array(14).fill(0));
  });

  it('T10: nothing but the key id, counter, version, suite and padded length is in clear', () => {
    // What a relay sees of a frame: the hub id, camera id, camera number, epoch, capture time and
    // frame type appear nowhere in the bytes, and the key id is not the camera number or epoch.
    const hubId = random(16);
    const cameraId = random(16);
    const captureTime = 1_764_000_123_456;
    const a = camera(1, 7, { hubId, cameraId });
    const profile = camera(1 | 0x4000_0000, 7, { hubId, cameraId });
    const needles = [hubId, cameraId, u64be(BigInt(captureTime)), u64be(BigInt(captureTime)).subarray(2), u32be(7), u32be(1 | 0x4000_0000)];
    for (const p of [a, profile]) {
      const sealer = new FrameSealer(p);
      for (const frameType of ['init', 'keyframe', 'delta'] as const) {
        const wire = sealer.seal({ track: 'video', captureTime, frameType, payload: new Uint8Array(300) });
        const hex = toHex(wire);
        for (const n of needles) expect(hex.includes(toHex(n)), toHex(n)).toBe(false);
        const opened = openerWith(p).open(wire);
        expect(opened.captureTime).toBe(captureTime);
        expect(opened.frameType).toBe(frameType);
      }
    }
    // The two streams of one camera (its own and its h264 profile) have unrelated key ids.
    const ka = frameKeyId(a);
    const kp = frameKeyId(profile);
    expect(ka >> 32n).not.toBe(kp >> 32n);
    expect(ka & 0xffff_ffffn).not.toBe(7n);
    // Same size class, same wire length: a relay sees sizes only to Padmé's precision.
    const s = new FrameSealer(camera(2, 7));
    expect(s.seal({ ...FRAME, payload: new Uint8Array(1000) }).length).toBe(s.seal({ ...FRAME, payload: new Uint8Array(1042) }).length);
  });

  it('accepts a content key wrapped in a Secret', () => {
    const p = camera(1, 1);
    const wire = new FrameSealer(p).seal(FRAME);
    expect(openerWith({ ...p, key: new Secret(p.key as Uint8Array, 'content key') }).open(wire).payload).toEqual(FRAME.payload);
  });

  it('refuses bad parameters with RangeError, not by sealing something else', () => {
    expect(() => new FrameSealer(camera(-1, 0))).toThrow(RangeError);
    expect(() => new FrameSealer(camera(0x8000_0000, 0))).toThrow(RangeError);
    expect(() => new FrameSealer(camera(0, 2 ** 32))).toThrow(RangeError);
    expect(() => new FrameSealer(camera(0, 1.5))).toThrow(RangeError);
    expect(() => new FrameSealer(camera(0, 0, { key: random(31) }))).toThrow(RangeError);
    expect(() => new FrameSealer(camera(0, 0, { hubId: random(15) }))).toThrow(RangeError);
    expect(() => new FrameSealer(camera(0, 0, { cameraId: random(17) }))).toThrow(RangeError);
    const s = new FrameSealer(camera(0, 0));
    expect(() => s.seal({ ...FRAME, captureTime: -1 })).toThrow(RangeError);
    expect(() => s.seal({ ...FRAME, captureTime: 2 ** 53 })).toThrow(RangeError);
    expect(() => s.seal({ ...FRAME, track: 'smell' as FrameTrack })).toThrow();
    expect(s.nextCounter).toBe(0n); // nothing was sealed, nothing was spent
  });

  it('keeps an opener to one hub and a camera number to one camera', () => {
    const a = camera(1, 1);
    const opener = openerWith(a);
    expect(() => opener.addKey(camera(2, 1))).toThrow(/one hub/);
    expect(() => opener.addKey(camera(1, 2, { hubId: a.hubId }))).toThrow(/another camera/);
    // Another content key for a camera and epoch it holds (its key id differs too).
    expect(() => opener.addKey({ ...a, key: random(32) })).toThrow(/different key/);
    expect(outcome(opener, new FrameSealer(a).seal(FRAME))).toBe('success');
  });

  it('closing a sealer wipes it and stops it', () => {
    const s = new FrameSealer(camera(0, 0));
    s.close();
    expect(() => s.seal(FRAME)).toThrow(/closed/);
  });
});

// The hub injects node:crypto's AEAD (test/main/node-aead.test.ts runs the vectors through it);
// here, with pure stand-ins, what frame.ts does with whatever AEAD it is given.
describe('injected AEAD', () => {
  function counting(): FrameAead & { calls: number } {
    const aead = {
      calls: 0,
      encrypt: (k: Uint8Array, n: Uint8Array, a: Uint8Array, p: Uint8Array) => (aead.calls++, sodiumFrameAead.encrypt(k, n, a, p)),
      decrypt: (k: Uint8Array, n: Uint8Array, a: Uint8Array, c: Uint8Array) => (aead.calls++, sodiumFrameAead.decrypt(k, n, a, c)),
    };
    return aead;
  }

  it('seals and opens through the AEAD it is given, with the default\'s bytes', () => {
    const p = camera(5, 6);
    const aead = counting();
    const wire = FrameSealer.forTesting(p, 42n, { aead }).seal(FRAME);
    expect(aead.calls).toBe(1);
    expect(toHex(wire)).toBe(toHex(FrameSealer.forTesting(p, 42n).seal(FRAME)));
    const opener = new FrameOpener({ aead });
    opener.addKey(p);
    expect(opener.open(wire).payload).toEqual(FRAME.payload);
    expect(aead.calls).toBe(2);
  });

  it('an AEAD that offers encryptTo seals in place, with the same bytes', () => {
    const p = camera(2, 3);
    let calls = 0;
    const aead: FrameAead = {
      encrypt: () => {
        throw new Error('encryptTo is preferred');
      },
      encryptTo: (k, n, a, parts, out) => {
        calls++;
        out.set(sodiumFrameAead.encrypt(k, n, a, concat(...parts)));
      },
      decrypt: sodiumFrameAead.decrypt,
    };
    const wire = FrameSealer.forTesting(p, 7n, { aead }).seal(FRAME);
    expect(calls).toBe(1);
    expect(toHex(wire)).toBe(toHex(FrameSealer.forTesting(p, 7n).seal(FRAME)));
  });

  it('sealInto writes the same frame into a dirty buffer at an offset, every byte of it', () => {
    const p = camera(4, 9);
    const expected = FrameSealer.forTesting(p, 1_000n).seal(FRAME);
    // The hub's AEAD (node:crypto, writes in place) and the default (libsodium, copies in).
    for (const aead of [nodeFrameAead, sodiumFrameAead]) {
      const buffer = new Uint8Array(expected.length + 40).fill(0xaa);
      const wire = FrameSealer.forTesting(p, 1_000n, { aead }).sealInto(FRAME, (size) => buffer.subarray(17, 17 + size));
      expect(wire.byteOffset).toBe(17);
      expect(toHex(wire)).toBe(toHex(expected));
      expect(buffer.subarray(0, 17).every((b) => b === 0xaa) && buffer.subarray(17 + wire.length).every((b) => b === 0xaa)).toBe(true);
      expect(openerWith(p).open(wire).payload).toEqual(FRAME.payload);
    }
  });

  it('sealInto refuses room of the wrong size, and the counter stays spent', () => {
    const s = FrameSealer.forTesting(camera(1, 2), 5n);
    expect(() => s.sealInto(FRAME, (size) => new Uint8Array(size - 1))).toThrow(RangeError);
    expect(s.nextCounter).toBe(6n);
  });

  it('any failure of decrypt is \'tampered\', and a wrong-length plaintext too', () => {
    const p = camera(1, 1);
    const wire = new FrameSealer(p).seal(FRAME);
    const throwing: FrameAead = { encrypt: sodiumFrameAead.encrypt, decrypt: () => { throw new TypeError('anything'); } };
    const short: FrameAead = { encrypt: sodiumFrameAead.encrypt, decrypt: (k, n, a, c) => sodiumFrameAead.decrypt(k, n, a, c).subarray(1) };
    for (const aead of [throwing, short]) {
      const opener = new FrameOpener({ aead });
      opener.addKey(p);
      expect(outcome(opener, wire)).toBe('tampered');
      expect(outcome(opener, wire)).toBe('tampered'); // not 'replayed': a failure never moves the window
    }
  });

  it('an AEAD that returns anything but ciphertext || tag seals nothing, and the counter stays spent', () => {
    const long: FrameAead = { encrypt: (k, n, a, m) => concat(sodiumFrameAead.encrypt(k, n, a, m), Uint8Array.of(0)), decrypt: sodiumFrameAead.decrypt };
    const s = FrameSealer.forTesting(camera(1, 1), 0n, { aead: long });
    expect(() => s.seal(FRAME)).toThrow(/AEAD returned/);
    expect(s.nextCounter).toBe(1n);
  });
});

describe('T1 non-member', () => {
  it('an opener without the key: not-for-me', () => {
    const a = camera(1, 5);
    const wire = new FrameSealer(a).seal(FRAME);
    expect(outcome(new FrameOpener(), wire)).toBe('not-for-me');
    // A device removed at epoch 5 keeps epoch 4's key: epoch 5 frames are still not for it.
    expect(outcome(openerWith({ ...a, epoch: 4, key: random(32) }), wire)).toBe('not-for-me');
    // Another camera's key of the same hub and epoch.
    expect(outcome(openerWith({ ...a, cameraNumber: 2, cameraId: random(16), key: random(32) }), wire)).toBe('not-for-me');
  });
});

describe('T4 isolation', () => {
  it('re-labelling the kid to another camera or epoch fails', () => {
    const hubId = random(16);
    const a = camera(1, 7, { hubId });
    const b = camera(2, 7, { hubId });
    const wire = new FrameSealer(a).seal(FRAME);
    const h = decodeSframeHeader(wire);
    const relabel = (kid: bigint) => concat(encodeSframeHeader(kid, h.ctr), wire.subarray(h.headerLength));
    expect(outcome(openerWith(a, b), relabel(frameKeyId(b)))).toBe('tampered');
    // To epoch 8, whose key the receiver holds: the key does not open epoch 7's frame.
    const a8 = { ...a, epoch: 8, key: random(32) };
    expect(outcome(openerWith(a8), relabel(frameKeyId(a8)))).toBe('tampered');
    // Even when epoch 8's content key were the same bytes: derivation binds the epoch.
    expect(outcome(openerWith({ ...a, epoch: 8 }), relabel(frameKeyId({ ...a, epoch: 8 })))).toBe('tampered');
    // Changing the counter in the header.
    expect(outcome(openerWith(a), concat(encodeSframeHeader(h.kid, h.ctr + 1n), wire.subarray(h.headerLength)))).toBe('tampered');
  });

  it('changing the encrypted hub id, camera id, capture time or frame type fails', () => {
    const a = camera(1, 7);
    const wire = new FrameSealer(a).seal(FRAME);
    const c = decodeSframeHeader(wire).headerLength + FRAME_CLEAR_BYTES;
    // The prefix's fields, where they sit in the ciphertext (a stream cipher: same offsets).
    for (const [from, to] of [[c, c + 16], [c + 16, c + 32], [c + 33, c + 41], [c + 41, c + 42]] as const) {
      const forged = wire.slice();
      for (let i = from; i < to; i++) forged[i] = (forged[i] ?? 0) ^ (0x55 + i);
      expect(forged.subarray(from, to)).not.toEqual(wire.subarray(from, to));
      expect(outcome(openerWith(a), forged)).toBe('tampered');
    }
  });

  it('camera A\'s key opens nothing of camera B, nor of another hub', () => {
    const hubId = random(16);
    const a = camera(1, 7, { hubId });
    const b = camera(2, 7, { hubId });
    // A sealer holding A's content key but claiming to be camera B.
    const posing = new FrameSealer({ ...b, key: a.key }).seal(FRAME);
    expect(outcome(openerWith(b), posing)).toBe('not-for-me'); // its key id is not B's
    const ph = decodeSframeHeader(posing);
    expect(outcome(openerWith(b), concat(encodeSframeHeader(frameKeyId(b), ph.ctr), posing.subarray(ph.headerLength)))).toBe('tampered');
    // A's frames, at a receiver that was given A's key bytes for camera B.
    const wire = new FrameSealer(a).seal(FRAME);
    const h = decodeSframeHeader(wire);
    const asB = concat(encodeSframeHeader(frameKeyId({ ...b, key: a.key }), h.ctr), wire.subarray(h.headerLength));
    expect(outcome(openerWith({ ...b, key: a.key }), asB)).toBe('tampered');
    // The same key bytes, camera number and epoch under another hub: another key id, not for it.
    expect(outcome(openerWith({ ...a, hubId: random(16) }), wire)).toBe('not-for-me');
  });

  it('an authentic frame whose prefix names another hub or camera than its key is refused', () => {
    const a = camera(1, 7);
    const base = {
      baseKey: a.key as Uint8Array, hubId: a.hubId, cameraId: a.cameraId, cameraNumber: 1, epoch: 7, counter: 0n,
      track: 0, captureTime: 1n, frameType: 2, plaintext: utf8('x'),
    };
    expect(outcome(openerWith(a), refSeal(base).wire)).toBe('success');
    expect(outcome(openerWith(a), refSeal({ ...base, prefixHubId: random(16) }).wire)).toBe('tampered');
    expect(outcome(openerWith(a), refSeal({ ...base, prefixCameraId: random(16) }).wire)).toBe('tampered');
  });
});

describe('T6 integrity: every single-bit change is rejected', () => {
  it('flips each bit of header, version, suite, ciphertext and tag', () => {
    // counter 300 makes the header three bytes, so its length fields are flipped too.
    const a = camera(1, 7);
    const wire = FrameSealer.forTesting(a, 300n).seal({ ...FRAME, payload: utf8('tiny') });
    const codes = new Map<string, number>();
    for (let bit = 0; bit < wire.length * 8; bit++) {
      const forged = wire.slice();
      forged[bit >> 3] = (forged[bit >> 3] ?? 0) ^ (0x80 >> (bit & 7));
      const code = outcome(openerWith(a), forged);
      expect(code, `bit ${bit}`).not.toBe('success');
      codes.set(code, (codes.get(code) ?? 0) + 1);
    }
    expect([...codes.values()].reduce((x, y) => x + y)).toBe(wire.length * 8);
    expect(codes.get('tampered')).toBeGreaterThan(0);
    expect(codes.get('unsupported')).toBeGreaterThan(0);
    expect(codes.get('not-for-me')).toBeGreaterThan(0);
    expect(outcome(openerWith(a), wire)).toBe('success');
  });

  it('rejects every truncation and any appended byte', () => {
    const a = camera(1, 7);
    const wire = new FrameSealer(a).seal(FRAME);
    for (let n = 0; n < wire.length; n++) expect(outcome(openerWith(a), wire.subarray(0, n)), `length ${n}`).not.toBe('success');
    expect(outcome(openerWith(a), concat(wire, Uint8Array.of(0)))).toBe('tampered');
  });
});

describe('T7 replay', () => {
  it('refuses a repeated frame, accepts reordering inside the window, refuses frames behind it', () => {
    const a = camera(1, 7);
    const sealer = new FrameSealer(a);
    const wires = Array.from({ length: 1100 }, () => sealer.seal(FRAME));
    const opener = openerWith(a);
    expect(outcome(opener, wires[5] as Uint8Array)).toBe('success');
    expect(outcome(opener, wires[5] as Uint8Array)).toBe('replayed');
    expect(outcome(opener, wires[3] as Uint8Array)).toBe('success'); // late but inside the window
    expect(outcome(opener, wires[1099] as Uint8Array)).toBe('success');
    expect(outcome(opener, wires[4] as Uint8Array)).toBe('replayed'); // 1095 behind: outside 1024
    expect(outcome(opener, wires[1099] as Uint8Array)).toBe('replayed');
  });

  it('a forged frame cannot move the window', () => {
    const a = camera(1, 7);
    const wire0 = new FrameSealer(a).seal(FRAME);
    const h = decodeSframeHeader(wire0);
    const opener = openerWith(a);
    const forgedHigh = concat(encodeSframeHeader(h.kid, 1n << 40n), wire0.subarray(h.headerLength));
    expect(outcome(opener, forgedHigh)).toBe('tampered');
    expect(outcome(opener, wire0)).toBe('success');
  });

  it('never shows an old epoch as live once a newer one is known', () => {
    const hubId = random(16);
    const cameraId = random(16);
    const e7 = camera(1, 7, { hubId, cameraId });
    const e8 = camera(1, 8, { hubId, cameraId });
    const s7 = new FrameSealer(e7);
    const s8 = new FrameSealer(e8);
    const opener = openerWith(e7);
    expect(outcome(opener, s7.seal(FRAME))).toBe('success');
    opener.addKey(e8);
    expect(outcome(opener, s7.seal(FRAME))).toBe('replayed');
    expect(outcome(opener, s8.seal(FRAME))).toBe('success');
    // Giving the old key again does not bring the old epoch back.
    opener.addKey(e7);
    expect(outcome(opener, s7.seal(FRAME))).toBe('replayed');
    opener.removeKeysBefore(9);
    expect(outcome(opener, s7.seal(FRAME))).toBe('replayed');
    expect(outcome(opener, s8.seal(FRAME))).toBe('not-for-me');
    // Other cameras are not affected by camera 1's epochs.
    const other = camera(2, 3, { hubId });
    opener.addKey(other);
    expect(outcome(opener, new FrameSealer(other).seal(FRAME))).toBe('success');
  });

  it('a repeated key update keeps the replay window', () => {
    const a = camera(1, 7);
    const wire = new FrameSealer(a).seal(FRAME);
    const opener = openerWith(a);
    opener.open(wire);
    opener.addKey({ ...a });
    expect(outcome(opener, wire)).toBe('replayed');
  });
});

describe('T8 nonces', () => {
  it('10,000 frames: counters strictly increase and every (key, nonce) pair is distinct', () => {
    const hubId = random(16);
    const baseKey = random(32);
    // Two cameras and two epochs from the same content key bytes: four frame keys.
    const params = [camera(1, 7, { hubId, key: baseKey }), camera(2, 7, { hubId, key: baseKey }), camera(1, 8, { hubId, key: baseKey })];
    params.push({ ...(params[0] as FrameKeyParams), epoch: 9 });
    const pairs = new Set<string>();
    let total = 0;
    for (const p of params) {
      const sealer = new FrameSealer(p);
      const { frameKey, salt } = refDerive(baseKey, p.hubId, p.cameraId, p.cameraNumber, p.epoch);
      let last = -1n;
      for (let i = 0; i < 2500; i++) {
        const { ctr } = decodeSframeHeader(sealer.seal({ ...FRAME, payload: new Uint8Array(0) }));
        expect(ctr).toBe(last + 1n);
        last = ctr;
        pairs.add(toHex(frameKey) + toHex(refNonce(salt, ctr)));
        total++;
      }
    }
    expect(total).toBe(10_000);
    expect(pairs.size).toBe(10_000);
  });

  it('a second sealer for the same key is refused (its counter would restart at 0)', () => {
    const a = camera(1, 7);
    new FrameSealer(a).seal(FRAME);
    expect(() => new FrameSealer({ ...a, key: (a.key as Uint8Array).slice() })).toThrow(/already exists/);
    // The same content key for another camera or epoch is a different frame key: allowed.
    expect(() => new FrameSealer({ ...a, epoch: 8 })).not.toThrow();
  });

  it('refuses to pass counter 2^64-1', () => {
    const sealer = FrameSealer.forTesting(camera(1, 7), MAX_FRAME_COUNTER - 1n);
    sealer.seal(FRAME);
    expect(decodeSframeHeader(sealer.seal(FRAME)).ctr).toBe(MAX_FRAME_COUNTER);
    expect(() => sealer.seal(FRAME)).toThrow(/exhausted/);
    expect(() => sealer.seal(FRAME)).toThrow(/exhausted/);
  });

  it('the counter-setting test hook is refused outside tests', () => {
    vi.stubEnv('VITEST', '');
    try {
      expect(() => FrameSealer.forTesting(camera(1, 7), 5n)).toThrow(/tests only/);
    } finally {
      vi.unstubAllEnvs();
    }
  });
});

describe('T12 downgrade', () => {
  it('a changed version or suite byte is unsupported, refused before decrypting', () => {
    const a = camera(1, 7);
    const wire = new FrameSealer(a).seal(FRAME);
    const m = decodeSframeHeader(wire).headerLength;
    for (const [offset, values] of [[m, [0, 1, 3, 255]], [m + 1, [0, 2, 255]]] as const) {
      for (const value of values) {
        const forged = wire.slice();
        forged[offset] = value;
        expect(outcome(openerWith(a), forged)).toBe('unsupported');
      }
    }
  });

  it('an authentic frame of another version is refused, not read as version 2', () => {
    const a = camera(1, 7);
    const base = {
      baseKey: a.key as Uint8Array, hubId: a.hubId, cameraId: a.cameraId, cameraNumber: 1, epoch: 7, counter: 0n,
      track: 0, captureTime: 1n, frameType: 2, plaintext: utf8('x'),
    };
    expect(outcome(openerWith(a), refSeal({ ...base, version: 1 }).wire)).toBe('unsupported');
    expect(outcome(openerWith(a), refSeal({ ...base, version: 3 }).wire)).toBe('unsupported');
    expect(outcome(openerWith(a), refSeal({ ...base, suite: 0 }).wire)).toBe('unsupported');
  });
});

describe('key material stays private', () => {
  it('no key bytes in inspect, JSON, String or error messages', () => {
    const a = camera(1, 7);
    const base = a.key as Uint8Array;
    const { frameKey, salt } = refDerive(base, a.hubId, a.cameraId, 1, 7);
    const secrets = [toHex(base), toHex(frameKey), toHex(salt)];
    const sealer = new FrameSealer(a);
    const opener = openerWith(a);
    const wire = sealer.seal(FRAME);
    const texts = [inspect(sealer, { showHidden: true, depth: 10 }), inspect(opener, { showHidden: true, depth: 10 }),
      JSON.stringify({ sealer, opener }), String(sealer), String(opener)];
    const forged = wire.slice();
    forged[forged.length - 1] = (forged[forged.length - 1] ?? 0) ^ 1;
    for (const w of [forged, wire, wire, new Uint8Array(3), concat(encodeSframeHeader(99n, 0n), wire.subarray(2))]) {
      try {
        opener.open(w);
      } catch (e) {
        texts.push(String(e), inspect(e, { showHidden: true, depth: 10 }), JSON.stringify(e));
      }
    }
    for (const t of texts) {
      for (const s of secrets) {
        expect(t).not.toContain(s);
        expect(t).not.toContain(s.slice(0, 16));
      }
    }
    expect(texts.join('\n')).toContain('camera=1');
  });
});

describe('hostile input', () => {
  it('open() on arbitrary bytes throws only CryptoError, quickly', () => {
    const a = camera(0, 0);
    const opener = openerWith(a);
    // Bounded work per input: no input may take a slow path. The per-call bound is loose because a
    // GC pause on a loaded machine takes tens of milliseconds; the total catches a general slowdown.
    const started = performance.now();
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), (bytes) => {
        const start = performance.now();
        expect(['malformed', 'not-for-me', 'tampered', 'unsupported', 'replayed']).toContain(outcome(opener, bytes));
        expect(performance.now() - start).toBeLessThan(1000);
      }),
      { numRuns: 5000 },
    );
    expect(performance.now() - started).toBeLessThan(10_000);
  });

  it('open() on mutations of a valid frame throws only CryptoError', () => {
    const a = camera(1, 7);
    const wire = FrameSealer.forTesting(a, 1000n).seal(FRAME);
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.nat(wire.length - 1), fc.integer({ min: 1, max: 255 })), { minLength: 1, maxLength: 4 }),
        fc.nat(wire.length),
        (edits, cut) => {
          const forged = wire.slice(0, Math.max(cut, 1));
          for (const [i, x] of edits) if (i < forged.length) forged[i] = (forged[i] ?? 0) ^ x;
          const changed = forged.length !== wire.length || forged.some((b, i) => b !== wire[i]);
          const code = outcome(openerWith(a), forged);
          if (changed) expect(code).not.toBe('success');
        },
      ),
      { numRuns: 3000 },
    );
  });

  it('refuses a frame larger than the payload limit without decrypting', () => {
    const huge = new Uint8Array(MAX_FRAME_WIRE_BYTES + 1);
    expect(outcome(new FrameOpener(), huge)).toBe('malformed');
  });
});

// Throughput is measured in bench/crypto.bench.ts (npm run bench:crypto), never in a timed test.
