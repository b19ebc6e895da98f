// Frames' reference implementation (for frame.test.ts and generate/frame.ts), written from
// docs/PROTOCOL.md section 9 rather than from crypto/frame.ts: it uses libsodium directly (detached
// AEAD, BLAKE2b) and computes Padmé with floating-point logarithms, so that the two implementations
// can only agree if both follow the spec. It also builds frames the real sealer refuses to make
// (another version, a prefix naming another camera, wrong padding) to show the opener refuses them
// even when authentic.
import { concat, toHex, u32be, u64be, utf8 } from '../../crypto/bytes.ts';
import type { FrameTrack, FrameType } from '../../crypto/frame.ts';
import { decodeSframeHeader, encodeSframeHeader } from '../../crypto/sframe.ts';
import { sodium } from '../../crypto/sodium.ts';

export interface RefInput {
  baseKey: Uint8Array;
  hubId: Uint8Array;
  cameraId: Uint8Array;
  cameraNumber: number;
  epoch: number;
  counter: bigint;
  track: number;
  captureTime: bigint;
  frameType: number;
  plaintext: Uint8Array;
  version?: number;
  suite?: number;
  prefixHubId?: Uint8Array;
  prefixCameraId?: Uint8Array;
  /** Padding bytes instead of the padding rule's. */
  padLength?: number;
  /** The prefix's padLength field, when it should not tell the truth. */
  padLengthField?: number;
  padByte?: number;
}

export function refKdf(baseKey: Uint8Array, label: string, length: number, context: Uint8Array): Uint8Array {
  const l = utf8(label);
  return sodium().crypto_generichash(length, concat(Uint8Array.of(l.length), l, context), baseKey);
}

export function refDerive(baseKey: Uint8Array, hubId: Uint8Array, cameraId: Uint8Array, cameraNumber: number, epoch: number) {
  const context = concat(hubId, cameraId, u32be(cameraNumber), u32be(epoch));
  return {
    kid: BigInt('0x' + toHex(refKdf(baseKey, 'vigil v2 frame kid', 8, context))),
    frameKey: refKdf(baseKey, 'vigil v2 frame key', 32, context),
    salt: refKdf(baseKey, 'vigil v2 frame salt', 12, context),
  };
}

export function refNonce(salt: Uint8Array, counter: bigint): Uint8Array {
  const nonce = salt.slice();
  for (let i = 0; i < 12; i++) nonce[11 - i] = (nonce[11 - i] ?? 0) ^ Number((counter >> BigInt(8 * i)) & 0xffn);
  return nonce;
}

/** Padmé as the paper writes it: E = floor(log2 L), S = floor(log2 E) + 1, clear the low E - S bits (rounding up). */
export function refPadme(length: number): number {
  if (length < 2) return length;
  const e = Math.floor(Math.log2(length));
  const s = Math.floor(Math.log2(e)) + 1;
  const step = 2 ** (e - s);
  return Math.ceil(length / step) * step;
}

export function refSeal(x: RefInput) {
  const { kid, frameKey, salt } = refDerive(x.baseKey, x.hubId, x.cameraId, x.cameraNumber, x.epoch);
  const nonce = refNonce(salt, x.counter);
  const padLength = x.padLength ?? refPadme(46 + x.plaintext.length) - 46 - x.plaintext.length;
  const prefix = concat(
    x.prefixHubId ?? x.hubId,
    x.prefixCameraId ?? x.cameraId,
    Uint8Array.of(x.track),
    u64be(x.captureTime),
    Uint8Array.of(x.frameType),
    u32be(x.padLengthField ?? padLength),
  );
  const aad = concat(encodeSframeHeader(kid, x.counter), Uint8Array.of(x.version ?? 2, x.suite ?? 1));
  const padded = concat(prefix, x.plaintext, new Uint8Array(padLength).fill(x.padByte ?? 0));
  const { ciphertext, mac } = sodium().crypto_aead_chacha20poly1305_ietf_encrypt_detached(padded, aad, null, nonce, frameKey);
  return { kid, frameKey, salt, nonce, aad, padLength, wire: concat(aad, ciphertext, mac) };
}

/** The plaintext of a frame, opened with the reference: to look at what travels encrypted. */
export function refOpen(wire: Uint8Array, baseKey: Uint8Array, hubId: Uint8Array, cameraId: Uint8Array, cameraNumber: number, epoch: number): Uint8Array {
  const h = decodeSframeHeader(wire);
  const { frameKey, salt } = refDerive(baseKey, hubId, cameraId, cameraNumber, epoch);
  const aadLength = h.headerLength + 2;
  return sodium().crypto_aead_chacha20poly1305_ietf_decrypt(null, wire.subarray(aadLength), wire.subarray(0, aadLength), refNonce(salt, h.ctr), frameKey);
}

export const TRACK_CODE: Record<FrameTrack, number> = { video: 0, audio: 1 };
export const TYPE_CODE: Record<FrameType, number> = { init: 0, keyframe: 1, delta: 2, 'audio-only': 3 };
