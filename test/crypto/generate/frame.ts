// Builds the frame known-answer vectors that `npm run vectors:write` writes to
// test/crypto/vectors/frame.json; test/crypto/frame.test.ts checks the code against that file. Every
// frame the sealer makes here must equal the reference implementation's (../frame-reference.ts).
import { concat, fromHex, toHex, utf8 } from '../../../crypto/bytes.ts';
import {
  FRAME_CLEAR_BYTES, FRAME_PREFIX_BYTES, FrameSealer, MAX_FRAME_COUNTER, frameKeyId, type FrameKeyParams, type FrameTrack, type FrameType,
} from '../../../crypto/frame.ts';
import { decodeSframeHeader, encodeSframeHeader } from '../../../crypto/sframe.ts';
import { TRACK_CODE, TYPE_CODE, refDerive, refSeal } from '../frame-reference.ts';
import { same, seq } from '../kat-support.ts';

export const DESCRIPTION =
  'Vigil frame envelope known-answer vectors (docs/protocol/frame.md). Hex for bytes; kid and counter as decimal strings ' +
  '(they reach 2^64-1). For each vector: add every entry of keys to a fresh opener in order, open each openFirst wire ' +
  '(each must succeed), then open wire; the result must be expect. sealed gives the inputs that produced the frame ' +
  '(and, for success, what open must return); keys give the derived frameKey and salt, sealed the nonce and AAD.';

export type Expect = 'success' | 'tampered' | 'not-for-me' | 'replayed' | 'malformed' | 'unsupported';

export interface VectorKey {
  hubId: string;
  cameraId: string;
  cameraNumber: number;
  epoch: number;
  baseKey: string;
  kid: string;
  frameKey: string;
  salt: string;
}

export interface Vector {
  name: string;
  comment: string;
  keys: VectorKey[];
  openFirst: string[];
  wire: string;
  expect: Expect;
  /** For frames the sealer made (success, and the source of each mutation). */
  sealed?: {
    key: number;
    counter: string;
    nonce: string;
    aad: string;
    track: FrameTrack;
    captureTime: number;
    frameType: FrameType;
    padLength: number;
    plaintext: string;
  };
}

export function keyParams(k: VectorKey): FrameKeyParams {
  return { hubId: fromHex(k.hubId), cameraId: fromHex(k.cameraId), cameraNumber: k.cameraNumber, epoch: k.epoch, key: fromHex(k.baseKey) };
}

export function buildVectors(): Vector[] {
  const hubId = seq(16, 0x10);
  const hubB = seq(16, 0x90);
  const cam = (n: number, epoch: number, keySeed: number, cameraSeed = 0x20 + n, hub = hubId): VectorKey => {
    const k = { hubId: hub, cameraId: seq(16, cameraSeed), cameraNumber: n, epoch, key: seq(32, keySeed) };
    const d = refDerive(k.key, k.hubId, k.cameraId, n, epoch);
    same(frameKeyId({ hubId: k.hubId, cameraId: k.cameraId, cameraNumber: n, epoch, key: k.key }), d.kid, 'kid');
    return {
      hubId: toHex(k.hubId), cameraId: toHex(k.cameraId), cameraNumber: n, epoch, baseKey: toHex(k.key),
      kid: d.kid.toString(), frameKey: toHex(d.frameKey), salt: toHex(d.salt),
    };
  };
  const seal = (keys: VectorKey[], key: number, counter: bigint, track: FrameTrack, captureTime: number, frameType: FrameType, plaintext: Uint8Array) => {
    const k = keys[key] as VectorKey;
    const wire = FrameSealer.forTesting(keyParams(k), counter).seal({ track, captureTime, frameType, payload: plaintext });
    const ref = refSeal({
      baseKey: fromHex(k.baseKey), hubId: fromHex(k.hubId), cameraId: fromHex(k.cameraId), cameraNumber: k.cameraNumber, epoch: k.epoch,
      counter, track: TRACK_CODE[track], captureTime: BigInt(captureTime), frameType: TYPE_CODE[frameType], plaintext,
    });
    same(toHex(wire), toHex(ref.wire), 'sealed frame');
    return {
      wire: toHex(wire),
      sealed: { key, counter: counter.toString(), nonce: toHex(ref.nonce), aad: toHex(ref.aad), track, captureTime, frameType, padLength: ref.padLength, plaintext: toHex(plaintext) },
    };
  };
  const flip = (hex: string, byte: number, bit = 0): string => {
    const b = fromHex(hex);
    const i = byte < 0 ? b.length + byte : byte;
    b[i] = (b[i] ?? 0) ^ (1 << bit);
    return toHex(b);
  };
  const v: Vector[] = [];
  const add = (name: string, comment: string, keys: VectorKey[], expectCode: Expect, wire: string, sealed?: Vector['sealed'], openFirst: string[] = []) =>
    v.push({ name, comment, keys, openFirst, wire, expect: expectCode, ...(sealed ? { sealed } : {}) });

  const k0 = [cam(0, 0, 0x40)];
  const s0 = seal(k0, 0, 0n, 'video', 1_764_000_000_000, 'keyframe', utf8('vigil keyframe'));
  add('counter-0', 'camera 0, epoch 0, counter 0 (counter in the config byte); 60-byte plaintext, no padding', k0, 'success', s0.wire, s0.sealed);

  const k1 = [cam(3, 7, 0x60)];
  const s1 = seal(k1, 0, 1n, 'audio', 1_764_000_000_040, 'audio-only', new Uint8Array(0));
  add('empty-audio', 'camera 3, epoch 7, counter 1, audio track, empty payload', k1, 'success', s1.wire, s1.sealed);

  const k2 = [cam(1, 1, 0x80)];
  const s2 = seal(k2, 0, 300n, 'video', 1_764_000_001_000, 'delta', seq(64, 0));
  const w2 = fromHex(s2.wire);
  const m2 = decodeSframeHeader(w2).headerLength; // config, 8-byte kid, 012c
  const c2 = m2 + FRAME_CLEAR_BYTES; // where the ciphertext of the prefix starts
  add('delta-300', 'camera 1, epoch 1, counter 300 (two counter bytes); 110-byte plaintext padded by 2', k2, 'success', s2.wire, s2.sealed);

  const k3 = [cam(0x7fff_ffff, 0xffff_ffff, 0xa0)];
  const s3 = seal(k3, 0, MAX_FRAME_COUNTER, 'video', 0, 'init', utf8('ftyp...moov'));
  add('largest-numbers', 'largest camera number and epoch, counter 2^64-1: a 17-byte header', k3, 'success', s3.wire, s3.sealed);

  const k5 = [cam(2, 3, 0xb0)];
  const s5 = seal(k5, 0, 9n, 'video', 1_764_000_003_000, 'keyframe', seq(1000, 7));
  add('padded-1000', 'a 1000-byte payload: 1046-byte plaintext padded by 42 to 1088 (Padmé: multiples of 64)', k5, 'success', s5.wire, s5.sealed);

  add('tag-bit', 's0 with the last bit of the tag flipped', k0, 'tampered', flip(s0.wire, -1, 7), s0.sealed);
  add('ciphertext-bit', 's2 with one bit of its payload\'s ciphertext flipped', k2, 'tampered', flip(s2.wire, c2 + FRAME_PREFIX_BYTES + 5, 3), s2.sealed);
  add('capture-time-changed', 's2 with the low bit of the encrypted captureTime flipped', k2, 'tampered', flip(s2.wire, c2 + 40), s2.sealed);
  add('hub-id-changed', 's2 with the first byte of the encrypted hub id changed', k2, 'tampered', flip(s2.wire, c2), s2.sealed);
  add('camera-id-changed', 's2 with the first byte of the encrypted camera id changed', k2, 'tampered', flip(s2.wire, c2 + 16), s2.sealed);
  add('padding-changed', 's2 with the encrypted padding length changed', k2, 'tampered', flip(s2.wire, c2 + 45, 1), s2.sealed);
  add('counter-changed', 's2 with the last counter byte changed', k2, 'tampered', flip(s2.wire, m2 - 1), s2.sealed);

  // Camera 1 at epoch 1 relabelled with the key id of camera 2 at epoch 1, whose key the receiver holds.
  const kB = [k2[0] as VectorKey, cam(2, 1, 0xc0)];
  const relabelled = toHex(concat(encodeSframeHeader(BigInt((kB[1] as VectorKey).kid), 300n), w2.subarray(m2)));
  add('kid-relabelled', 's2 re-labelled to camera 2\'s key id (same epoch); the receiver holds camera 2\'s key', kB, 'tampered', relabelled, s2.sealed);

  // The same content key bytes under another hub id: another key id, so not this receiver's.
  const kOtherHub = [cam(1, 1, 0x80, 0x21, hubB)];
  add('other-hub', 's2 at a receiver given the same base key, camera number and epoch, but another hub id', kOtherHub, 'not-for-me', s2.wire, s2.sealed);

  add('not-for-me', 's2 at a receiver that holds only camera 3\'s key', k1, 'not-for-me', s2.wire, s2.sealed);
  add('replayed', 's2 delivered twice', k2, 'replayed', s2.wire, s2.sealed, [s2.wire]);

  const k4 = [cam(1, 1, 0x80)];
  const late = seal(k4, 0, 2000n, 'video', 1_764_000_002_000, 'delta', seq(8, 1));
  add('too-old-counter', 's2 (counter 300) after counter 2000 opened: behind the 1024-frame window', k2, 'replayed', s2.wire, s2.sealed, [late.wire]);
  add('counter-2000', 'camera 1, epoch 1, counter 2000', k4, 'success', late.wire, late.sealed);

  const kNext = [k2[0] as VectorKey, cam(1, 2, 0xe0)];
  add('old-epoch', 's2 (epoch 1) after the receiver was given epoch 2 of the same camera', kNext, 'replayed', s2.wire, s2.sealed);

  add('version-1', 's2 with the version byte set to 1 (not decrypted)', k2, 'unsupported', toHex(concat(w2.subarray(0, m2), Uint8Array.of(1), w2.subarray(m2 + 1))), s2.sealed);
  add('suite-2', 's2 with the suite byte set to 2 (not decrypted)', k2, 'unsupported', toHex(concat(w2.subarray(0, m2 + 1), Uint8Array.of(2), w2.subarray(m2 + 2))), s2.sealed);

  const kr = k2[0] as VectorKey;
  const refBase = { baseKey: fromHex(kr.baseKey), hubId: fromHex(kr.hubId), cameraId: fromHex(kr.cameraId), cameraNumber: 1, epoch: 1, counter: 5n, track: 0, captureTime: 1n, frameType: 2, plaintext: utf8('x') };
  add('authentic-version-3', 'sealed with the right key but version 3: refused, never decrypted as version 2', k2, 'unsupported', toHex(refSeal({ ...refBase, version: 3 }).wire));
  add('authentic-wrong-camera', 'sealed with camera 1\'s key, prefix naming another camera id: authentic but tampered', k2, 'tampered', toHex(refSeal({ ...refBase, prefixCameraId: seq(16, 0x55) }).wire));
  add('authentic-wrong-hub', 'sealed with camera 1\'s key, prefix naming another hub id: authentic but tampered', k2, 'tampered', toHex(refSeal({ ...refBase, prefixHubId: seq(16, 0x66) }).wire));
  add('authentic-unknown-frame-type', 'sealed with the right key, frame type 4', k2, 'malformed', toHex(refSeal({ ...refBase, frameType: 4 }).wire));
  add('authentic-short-padding', 'sealed with the right key, a 2-byte payload (48-byte plaintext, which the rule leaves as it is) with 1 byte of padding', k2, 'malformed', toHex(refSeal({ ...refBase, plaintext: utf8('xy'), padLength: 1 }).wire));
  add('authentic-extra-padding', 'sealed with the right key, 8 bytes of padding more than the rule gives', k2, 'malformed', toHex(refSeal({ ...refBase, padLength: 9 }).wire));
  add('authentic-padding-not-zero', 'sealed with the right key, padding of the right length made of 0x01 bytes', k2, 'malformed', toHex(refSeal({ ...refBase, padByte: 1 }).wire));
  add('authentic-padding-too-long', 'sealed with the right key, padding length larger than the plaintext', k2, 'malformed', toHex(refSeal({ ...refBase, padLengthField: 0xffff_ffff }).wire));

  add('truncated', 's2 cut after header, version, suite, prefix and 15 bytes: shorter than any frame', k2, 'malformed', toHex(w2.subarray(0, c2 + FRAME_PREFIX_BYTES + 15)));
  add('empty', 'no bytes', k2, 'malformed', '');
  add('non-minimal-header', 's2 with counter 300 spelled in 3 bytes (00 01 2c) instead of 2', k2, 'malformed',
    toHex(concat(Uint8Array.of((w2[0] as number) + 1), w2.subarray(1, m2 - 2), Uint8Array.of(0), w2.subarray(m2 - 2))));
  return v;
}
