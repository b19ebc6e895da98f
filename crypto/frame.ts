// Vigil's frame envelope: one sealed media fragment (init segment, video fragment or audio fragment)
// on RFC 9605 SFrame. docs/PROTOCOL.md section 9 is the spec; this file follows it line by line.
//
//   wire      = sframeHeader(kid, counter) || clear || ciphertext || tag (16)
//   clear     = u8 version (2) || u8 suite (1)                 (authenticated, not encrypted)
//   plaintext = prefix || payload || zeros(padLength)          (all of it encrypted)
//   prefix    = hubId (16) || cameraId (16) || u8 track || u64 captureTime || u8 frameType
//               || u32 padLength                                (46 bytes)
//   AAD       = sframeHeader || clear;  AEAD = ChaCha20-Poly1305-IETF (RFC 8439)
//
// A relay sees the key id, the counter, the constant version and suite, and the padded length; which
// camera, which hub, when it was captured and what kind of fragment it is travel encrypted. (The
// keyframe flag a relay needs to start a slow viewer at a keyframe is in the relay's publish header,
// relay/README.md, not here.)
//
// The AEAD is injectable (FrameAead) so the hub can seal with node:crypto (OpenSSL, about 3x
// libsodium-wrappers' WebAssembly) while browsers keep libsodium. Both are the same RFC 8439
// construction, so the choice never shows on the wire; the known-answer vectors run through both.
//
// Key id: an opaque 64-bit value derived from the key, so the header says nothing about which camera
// or epoch a frame belongs to (the hub's h264 profile of a camera has a camera number one bit away
// from the camera's own; a readable kid would link the two streams). Per-key values come from the
// epoch's 32-byte content key (the SFrame "base key"), bound to hub, camera number, camera and epoch,
// so a key of camera A opens nothing of camera B, of another epoch or another hub:
//   context  = hubId || cameraId || u32be(cameraNumber) || u32be(epoch)
//   kid      = u64be⁻¹(deriveKey(baseKey, "vigil v2 frame kid", 8, context))
//   frameKey = deriveKey(baseKey, "vigil v2 frame key", 32, context)
//   salt     = deriveKey(baseKey, "vigil v2 frame salt", 12, context)
//   nonce    = salt XOR (12-byte big-endian counter)          (RFC 9605 section 4.4.3)
//
// Padding (Padmé, Nikitin et al., PETS 2019): the plaintext is padded with zeros to the length
// paddedPlaintextLength() gives, which keeps only the top few bits of a length (at most 12% more,
// 1.2-2.2% on the measured cameras at 300 ms fragments: docs/PERFORMANCE.md), so a relay sees a
// fragment's size only to within a few percent.
//
// Nonces are never random: each sealer owns a counter from 0 that only goes up, and at most one
// sealer per (frameKey, salt) may exist in a process. Counters live only in memory: the hub makes a
// fresh random content key (a new epoch) on every start, so a restarted counter never meets an old key.
import { concat, equalBytes, u32be } from './bytes.ts';
import { unreachable } from '../lib/unreachable.ts';
import { CryptoError, malformed } from './errors.ts';
import { deriveKey } from './hash.ts';
import { LABEL_FRAME_KEY, LABEL_FRAME_KID, LABEL_FRAME_SALT, LABEL_FRAME_SEALER } from './labels.ts';
import { ReplayWindow } from './replay.ts';
import { Secret } from './secret.ts';
import { decodeSframeHeader, encodeSframeHeader, SFRAME_MAX_HEADER_BYTES, SFRAME_MAX_VALUE } from './sframe.ts';
import { sodium } from './sodium.ts';

/**
 * The frame's own version (docs/PROTOCOL.md section 13). 2: metadata moved inside the AEAD, opaque
 * key ids, padding. Version 1 sent hub, camera, track, capture time and frame type in clear.
 */
export const FRAME_VERSION = 2;
/** Suite 1: ChaCha20-Poly1305-IETF, 32-byte key, 12-byte nonce, 16-byte tag. The only one. */
export const SUITE_CHACHA20_POLY1305 = 1;
export const FRAME_ID_BYTES = 16;
export const FRAME_BASE_KEY_BYTES = 32;
/** version || suite after the SFrame header: authenticated, in clear. */
export const FRAME_CLEAR_BYTES = 2;
/** hubId || cameraId || track || captureTime || frameType || padLength, at the start of the plaintext. */
export const FRAME_PREFIX_BYTES = 46;
export const FRAME_TAG_BYTES = 16;
const KID_BYTES = 8;
const NONCE_BYTES = 12;
const AEAD_KEY_BYTES = 32;
// Offsets in the prefix.
const P_HUB = 0;
const P_CAMERA = 16;
const P_TRACK = 32;
const P_CAPTURE_TIME = 33;
const P_FRAME_TYPE = 41;
const P_PAD_LENGTH = 42;
/** Largest payload sealed or opened: a 4K keyframe fragment is a few MB; 16 MiB bounds memory. */
export const MAX_FRAME_PAYLOAD_BYTES = 16 * 1024 * 1024;
export const MAX_CAMERA_NUMBER = 0x7fff_ffff;
export const MAX_EPOCH = 0xffff_ffff;
/** The last counter a sealer uses; after it the epoch must change. */
export const MAX_FRAME_COUNTER = SFRAME_MAX_VALUE;
/** Live keys one opener holds (one per camera); bounds memory against a runaway caller. */
export const MAX_OPENER_CAMERAS = 1024;
/** Key ids of replaced keys an opener remembers, so their frames read as 'replayed'. */
const MAX_RETIRED_KEYS = 4 * MAX_OPENER_CAMERAS;

/**
 * Padmé: `n` rounded up so that, of its E + 1 bits (E = floor(log2 n)), only the top
 * floor(log2 E) + 2 may be non-zero. At most 12% more (less as n grows); a length leaks O(log log n)
 * bits instead of O(log n). Defined for 0..2^30.
 */
export function paddedPlaintextLength(n: number): number {
  if (!Number.isSafeInteger(n) || n < 0 || n > 2 ** 30) throw new RangeError('paddedPlaintextLength: n must be an integer in 0..2^30');
  if (n < 2) return n;
  const e = 31 - Math.clz32(n); // floor(log2 n)
  const s = 32 - Math.clz32(e); // floor(log2 e) + 1
  const mask = (1 << (e - s)) - 1;
  return (n + mask) & ~mask;
}

export const MAX_FRAME_WIRE_BYTES =
  SFRAME_MAX_HEADER_BYTES + FRAME_CLEAR_BYTES + paddedPlaintextLength(FRAME_PREFIX_BYTES + MAX_FRAME_PAYLOAD_BYTES) + FRAME_TAG_BYTES;

/**
 * ChaCha20-Poly1305-IETF (RFC 8439): 32-byte key, 12-byte nonce, 16-byte tag appended to the
 * ciphertext, byte for byte what libsodium's crypto_aead_chacha20poly1305_ietf_* produce. An
 * implementation must refuse (throw) any other key or nonce length, and decrypt must throw, and
 * return nothing, unless the tag authenticates. Results must be fresh arrays the caller may keep.
 */
export interface FrameAead {
  /** Returns ciphertext || tag (plaintext.length + 16 bytes). */
  encrypt(key: Uint8Array, nonce: Uint8Array, aad: Uint8Array, plaintext: Uint8Array): Uint8Array;
  /**
   * Optional: encrypt(concat(...parts)) written into `out` (exactly the parts' total + 16 bytes),
   * so the sealer can place a frame in the wire buffer without joining prefix, payload and padding
   * into one array first. The parts are only read.
   */
  encryptTo?(key: Uint8Array, nonce: Uint8Array, aad: Uint8Array, parts: readonly Uint8Array[], out: Uint8Array): void;
  /** `sealed` is ciphertext || tag; returns the plaintext, or throws if authentication fails. */
  decrypt(key: Uint8Array, nonce: Uint8Array, aad: Uint8Array, sealed: Uint8Array): Uint8Array;
}

/** libsodium-wrappers (WebAssembly): runs everywhere, including browsers. The default. */
export const sodiumFrameAead: FrameAead = {
  encrypt: (key, nonce, aad, plaintext) => sodium().crypto_aead_chacha20poly1305_ietf_encrypt(plaintext, aad, null, nonce, key),
  decrypt: (key, nonce, aad, sealed) => sodium().crypto_aead_chacha20poly1305_ietf_decrypt(null, sealed, aad, nonce, key),
};

export interface FrameCryptoOptions {
  /** The frame AEAD; default sodiumFrameAead. */
  readonly aead?: FrameAead;
}

export type FrameTrack = 'video' | 'audio';
export type FrameType = 'init' | 'keyframe' | 'delta' | 'audio-only';

function trackCode(track: FrameTrack): number {
  switch (track) {
    case 'video':
      return 0;
    case 'audio':
      return 1;
    default:
      return unreachable(track);
  }
}
const TRACKS: readonly FrameTrack[] = ['video', 'audio'];

function frameTypeCode(type: FrameType): number {
  switch (type) {
    case 'init':
      return 0;
    case 'keyframe':
      return 1;
    case 'delta':
      return 2;
    case 'audio-only':
      return 3;
    default:
      return unreachable(type);
  }
}
const FRAME_TYPES: readonly FrameType[] = ['init', 'keyframe', 'delta', 'audio-only'];

function checkCameraNumber(n: number): void {
  if (!Number.isInteger(n) || n < 0 || n > MAX_CAMERA_NUMBER) throw new RangeError('cameraNumber must be an integer in 0..2^31-1');
}
function checkEpoch(n: number): void {
  if (!Number.isInteger(n) || n < 0 || n > MAX_EPOCH) throw new RangeError('epoch must be an integer in 0..2^32-1');
}
function checkId(id: Uint8Array, name: string): void {
  if (!(id instanceof Uint8Array) || id.length !== FRAME_ID_BYTES) throw new RangeError(`${name} must be ${FRAME_ID_BYTES} bytes`);
}

export interface FrameKeyParams {
  readonly hubId: Uint8Array;
  readonly cameraId: Uint8Array;
  readonly cameraNumber: number;
  readonly epoch: number;
  /** The epoch's 32-byte content key for this camera. Not kept: only derived keys are. */
  readonly key: Uint8Array | Secret;
}

interface DerivedKey {
  readonly hubId: Uint8Array;
  readonly cameraId: Uint8Array;
  readonly cameraNumber: number;
  readonly epoch: number;
  readonly kid: bigint;
  readonly aeadKey: Uint8Array;
  readonly salt: Uint8Array;
}

function bigEndian(bytes: Uint8Array): bigint {
  let v = 0n;
  for (const b of bytes) v = (v << 8n) | BigInt(b);
  return v;
}

function derive(params: FrameKeyParams): DerivedKey {
  checkId(params.hubId, 'hubId');
  checkId(params.cameraId, 'cameraId');
  checkCameraNumber(params.cameraNumber);
  checkEpoch(params.epoch);
  const baseKey = params.key instanceof Secret ? params.key.expose() : params.key;
  if (!(baseKey instanceof Uint8Array) || baseKey.length !== FRAME_BASE_KEY_BYTES) {
    throw new RangeError(`frame base key must be ${FRAME_BASE_KEY_BYTES} bytes`);
  }
  const context = concat(params.hubId, params.cameraId, u32be(params.cameraNumber), u32be(params.epoch));
  return {
    hubId: new Uint8Array(params.hubId),
    cameraId: new Uint8Array(params.cameraId),
    cameraNumber: params.cameraNumber,
    epoch: params.epoch,
    kid: bigEndian(deriveKey(baseKey, LABEL_FRAME_KID, KID_BYTES, context)),
    aeadKey: deriveKey(baseKey, LABEL_FRAME_KEY, AEAD_KEY_BYTES, context),
    salt: deriveKey(baseKey, LABEL_FRAME_SALT, NONCE_BYTES, context),
  };
}

/** The key id frames sealed with these parameters carry (opaque: derived from the content key). */
export function frameKeyId(params: FrameKeyParams): bigint {
  const k = derive(params);
  k.aeadKey.fill(0);
  k.salt.fill(0);
  return k.kid;
}

/** nonce = salt XOR u96be(counter); the counter fills the low 8 bytes. */
function nonceFor(salt: Uint8Array, counter: bigint): Uint8Array {
  const nonce = salt.slice();
  const view = new DataView(nonce.buffer);
  view.setUint32(4, view.getUint32(4) ^ Number(counter >> 32n));
  view.setUint32(8, view.getUint32(8) ^ Number(counter & 0xffff_ffffn));
  return nonce;
}

/** Zeros for padding, shared and only ever read; grown to the largest padding asked for. */
let zeros = new Uint8Array(4096);
function zeroBytes(n: number): Uint8Array {
  if (zeros.length < n) zeros = new Uint8Array(n);
  return zeros.subarray(0, n);
}

const INSPECT = Symbol.for('nodejs.util.inspect.custom');

// One-way fingerprints of every (frameKey, salt) a sealer was made for in this process. A second
// sealer for the same key would restart its counter at 0 and reuse nonces, so it is refused.
const sealedKeys = new Set<string>();
/** Set only inside FrameSealer.forTesting, which is refused outside tests. */
let testingSealer = false;

function fingerprint(k: DerivedKey): string {
  const fp = deriveKey(k.aeadKey, LABEL_FRAME_SEALER, 16, k.salt);
  let hex = '';
  for (const b of fp) hex += b.toString(16).padStart(2, '0');
  return hex;
}

export interface FrameToSeal {
  readonly track: FrameTrack;
  /** Capture time in Unix milliseconds (0..2^53-1). */
  readonly captureTime: number;
  readonly frameType: FrameType;
  readonly payload: Uint8Array;
}

/**
 * Seals the frames of one camera in one epoch. Owns the only counter for its key: starts at 0, goes
 * up by one per frame, and refuses to seal once MAX_FRAME_COUNTER was used (start a new epoch).
 * Only one sealer per key may exist in a process; the hub's fresh key per start covers restarts.
 */
export class FrameSealer {
  readonly #key: DerivedKey;
  readonly #aead: FrameAead;
  /** The plaintext prefix, rewritten for every frame: hubId || cameraId stay, the rest changes. */
  readonly #prefix: Uint8Array;
  readonly #prefixView: DataView;
  /** The prefix of its errors; camera and epoch are fixed for a sealer, so made once, not per frame. */
  readonly #where: string;
  #next: bigint;
  #closed = false;

  constructor(params: FrameKeyParams, options: FrameCryptoOptions = {}) {
    this.#aead = options.aead ?? sodiumFrameAead;
    this.#key = derive(params);
    if (!testingSealer) {
      const fp = fingerprint(this.#key);
      if (sealedKeys.has(fp)) {
        throw new Error(`FrameSealer(camera=${params.cameraNumber}, epoch=${params.epoch}): a sealer for this key already exists; counters would repeat`);
      }
      sealedKeys.add(fp);
    }
    this.#prefix = new Uint8Array(FRAME_PREFIX_BYTES);
    this.#prefix.set(this.#key.hubId, P_HUB);
    this.#prefix.set(this.#key.cameraId, P_CAMERA);
    this.#prefixView = new DataView(this.#prefix.buffer);
    this.#where = `sealFrame(camera=${this.#key.cameraNumber}, epoch=${this.#key.epoch})`;
    this.#next = 0n;
  }

  /** Test hook: a sealer whose counter starts at `first`, outside the registry. Refused outside tests. */
  static forTesting(params: FrameKeyParams, first: bigint, options: FrameCryptoOptions = {}): FrameSealer {
    if (!inTests()) throw new Error('FrameSealer.forTesting is available in tests only');
    if (first < 0n || first > MAX_FRAME_COUNTER) throw new RangeError('counter must be in 0..2^64-1');
    testingSealer = true;
    try {
      const sealer = new FrameSealer(params, options);
      sealer.#next = first;
      return sealer;
    } finally {
      testingSealer = false;
    }
  }

  get kid(): bigint {
    return this.#key.kid;
  }
  get cameraNumber(): number {
    return this.#key.cameraNumber;
  }
  get epoch(): number {
    return this.#key.epoch;
  }
  /** The counter the next frame will carry. */
  get nextCounter(): bigint {
    return this.#next;
  }

  seal(frame: FrameToSeal): Uint8Array {
    return this.sealInto(frame, (size) => new Uint8Array(size));
  }

  /**
   * seal() into memory the caller provides: `room(size)` returns exactly `size` bytes for the frame
   * (e.g. part of a send buffer reused for every fragment), and every one of them is written. Returns
   * that view.
   */
  sealInto(frame: FrameToSeal, room: (size: number) => Uint8Array): Uint8Array {
    const where = this.#where;
    if (this.#closed) throw new Error(`${where}: sealer is closed`);
    const track = trackCode(frame.track);
    const frameType = frameTypeCode(frame.frameType);
    if (!Number.isSafeInteger(frame.captureTime) || frame.captureTime < 0) throw new RangeError(`${where}: captureTime must be a safe non-negative integer`);
    if (!(frame.payload instanceof Uint8Array)) throw new TypeError(`${where}: payload must be a Uint8Array`);
    if (frame.payload.length > MAX_FRAME_PAYLOAD_BYTES) throw new RangeError(`${where}: payload over ${MAX_FRAME_PAYLOAD_BYTES} bytes`);
    const counter = this.#next;
    if (counter > MAX_FRAME_COUNTER) throw new Error(`${where}: frame counter exhausted; start a new epoch`);
    // Advance before encrypting: whatever happens next, this counter is never used again.
    this.#next = counter + 1n;

    const header = encodeSframeHeader(this.#key.kid, counter);
    const aadLength = header.length + FRAME_CLEAR_BYTES;
    const plaintextLength = paddedPlaintextLength(FRAME_PREFIX_BYTES + frame.payload.length);
    const padLength = plaintextLength - FRAME_PREFIX_BYTES - frame.payload.length;
    const sealedLength = plaintextLength + FRAME_TAG_BYTES;
    // One buffer for the whole frame: the AAD is written in place and, where the AEAD can, so is
    // the ciphertext (encryptTo), sparing a fragment-sized array and copy per frame.
    const wire = room(aadLength + sealedLength);
    if (wire.length !== aadLength + sealedLength) throw new RangeError(`${where}: room for ${wire.length} bytes, need ${aadLength + sealedLength}`);
    wire.set(header, 0);
    wire[header.length] = FRAME_VERSION;
    wire[header.length + 1] = SUITE_CHACHA20_POLY1305;
    const aad = wire.subarray(0, aadLength);

    const p = this.#prefixView;
    p.setUint8(P_TRACK, track);
    p.setBigUint64(P_CAPTURE_TIME, BigInt(frame.captureTime));
    p.setUint8(P_FRAME_TYPE, frameType);
    p.setUint32(P_PAD_LENGTH, padLength);
    const parts = padLength === 0 ? [this.#prefix, frame.payload] : [this.#prefix, frame.payload, zeroBytes(padLength)];

    const nonce = nonceFor(this.#key.salt, counter);
    if (this.#aead.encryptTo !== undefined) {
      this.#aead.encryptTo(this.#key.aeadKey, nonce, aad, parts, wire.subarray(aadLength));
      return wire;
    }
    const sealed = this.#aead.encrypt(this.#key.aeadKey, nonce, aad, concat(...parts));
    // An injected AEAD that returns anything but ciphertext || tag would put garbage on the wire.
    if (sealed.length !== sealedLength) throw new Error(`${where}: AEAD returned ${sealed.length} bytes for ${plaintextLength}`);
    wire.set(sealed, aadLength);
    return wire;
  }

  /** Wipes the derived key; the sealer (and its key, via the registry) cannot be used again. */
  close(): void {
    this.#closed = true;
    this.#key.aeadKey.fill(0);
    this.#key.salt.fill(0);
  }

  toString(): string {
    return `FrameSealer(camera=${this.#key.cameraNumber}, epoch=${this.#key.epoch}, next=${this.#next})`;
  }
  toJSON(): string {
    return this.toString();
  }
  [INSPECT](): string {
    return this.toString();
  }
}

export interface OpenedFrame {
  readonly cameraId: Uint8Array;
  readonly cameraNumber: number;
  readonly epoch: number;
  readonly track: FrameTrack;
  readonly captureTime: number;
  readonly frameType: FrameType;
  readonly payload: Uint8Array;
  readonly counter: bigint;
}

interface LiveKey extends DerivedKey {
  readonly window: ReplayWindow;
}

/**
 * Opens the frames of one hub. Holds one live key per camera: the newest epoch it was given. Frames
 * of an older epoch of a camera are refused as 'replayed' (an old epoch is never shown as live), and
 * adding a newer epoch forgets and wipes the older key. Each live key has its own replay window.
 */
export class FrameOpener {
  readonly #aead: FrameAead;
  #hubId: Uint8Array | undefined;
  /** kid -> live key. */
  readonly #keys = new Map<bigint, LiveKey>();
  /** cameraNumber -> kid of its live key. */
  readonly #liveKid = new Map<number, bigint>();
  /** cameraNumber -> newest epoch given; kept after keys are removed so old frames stay refused. */
  readonly #latestEpoch = new Map<number, number>();
  /** cameraNumber -> cameraId, pinned by the first key: the hub never renumbers a camera. */
  readonly #cameraIds = new Map<number, Uint8Array>();
  /** kid -> camera and epoch of keys given and since replaced or removed (oldest first, bounded). */
  readonly #retired = new Map<bigint, { cameraNumber: number; epoch: number }>();

  constructor(options: FrameCryptoOptions = {}) {
    this.#aead = options.aead ?? sodiumFrameAead;
  }

  addKey(params: FrameKeyParams): void {
    const k = derive(params);
    const where = `FrameOpener.addKey(camera=${k.cameraNumber}, epoch=${k.epoch})`;
    const wipe = () => {
      k.aeadKey.fill(0);
      k.salt.fill(0);
    };
    if (this.#hubId !== undefined && !equalBytes(this.#hubId, k.hubId)) {
      wipe();
      throw new Error(`${where}: an opener serves one hub`);
    }
    const pinned = this.#cameraIds.get(k.cameraNumber);
    if (pinned !== undefined && !equalBytes(pinned, k.cameraId)) {
      wipe();
      throw new Error(`${where}: camera number already names another camera`);
    }
    const existing = this.#keys.get(k.kid);
    if (existing !== undefined) {
      const same = equalBytes(existing.aeadKey, k.aeadKey) && existing.cameraNumber === k.cameraNumber && existing.epoch === k.epoch;
      wipe();
      if (!same) throw new Error(`${where}: a different key for this key id`);
      return; // the same key again (a repeated key update): keep its replay window
    }
    const latest = this.#latestEpoch.get(k.cameraNumber);
    const live = this.#liveKid.get(k.cameraNumber);
    if (latest !== undefined && k.epoch < latest) {
      // Older than live: never shown. Remembered, so its frames read as 'replayed'.
      this.#retire(k.kid, k);
      wipe();
      return;
    }
    if (latest === k.epoch && live !== undefined) {
      // The live key of this epoch has another key id: it is another content key.
      wipe();
      throw new Error(`${where}: a different key for this camera and epoch`);
    }
    if (latest === undefined && this.#cameraIds.size >= MAX_OPENER_CAMERAS) {
      wipe();
      throw new RangeError(`${where}: over ${MAX_OPENER_CAMERAS} cameras`);
    }
    if (live !== undefined) this.#dropKey(live);
    this.#hubId ??= k.hubId;
    this.#cameraIds.set(k.cameraNumber, k.cameraId);
    this.#latestEpoch.set(k.cameraNumber, k.epoch);
    this.#liveKid.set(k.cameraNumber, k.kid);
    this.#retired.delete(k.kid);
    this.#keys.set(k.kid, { ...k, window: new ReplayWindow() });
  }

  /** Forgets (and wipes) every key of an epoch before `epoch`, e.g. after a removal. */
  removeKeysBefore(epoch: number): void {
    checkEpoch(epoch);
    for (const [kid, k] of this.#keys) if (k.epoch < epoch) this.#dropKey(kid);
  }

  #dropKey(kid: bigint): void {
    const k = this.#keys.get(kid);
    if (k === undefined) return;
    k.aeadKey.fill(0);
    k.salt.fill(0);
    this.#keys.delete(kid);
    if (this.#liveKid.get(k.cameraNumber) === kid) this.#liveKid.delete(k.cameraNumber);
    this.#retire(kid, k);
  }

  #retire(kid: bigint, k: { cameraNumber: number; epoch: number }): void {
    this.#retired.delete(kid);
    this.#retired.set(kid, { cameraNumber: k.cameraNumber, epoch: k.epoch });
    if (this.#retired.size > MAX_RETIRED_KEYS) {
      const oldest = this.#retired.keys().next();
      if (oldest.done !== true) this.#retired.delete(oldest.value);
    }
  }

  /**
   * Authenticates and opens one frame. Throws CryptoError: 'malformed' (does not parse, or an
   * authentic prefix that does not), 'unsupported' (version or suite), 'replayed' (older epoch,
   * repeated or too-old counter), 'not-for-me' (no key for this kid), 'tampered' (authentication
   * failed, or hub or camera differ from the key's). Nothing from the wire is acted on before it
   * authenticates, except to refuse.
   */
  open(wire: Uint8Array): OpenedFrame {
    if (!(wire instanceof Uint8Array)) throw malformed('openFrame', 'not bytes');
    if (wire.length > MAX_FRAME_WIRE_BYTES) throw malformed('openFrame', `over ${MAX_FRAME_WIRE_BYTES} bytes`);
    const header = decodeSframeHeader(wire);
    let where = `openFrame(counter=${header.ctr})`;
    const m = header.headerLength;
    const aadLength = m + FRAME_CLEAR_BYTES;
    if (wire.length < aadLength + FRAME_PREFIX_BYTES + FRAME_TAG_BYTES) {
      throw malformed(where, `${wire.length} bytes is shorter than header, version, suite, prefix and tag`);
    }
    const version = wire[m] as number;
    if (version !== FRAME_VERSION) throw new CryptoError('unsupported', where, `frame version ${version}`);
    const suite = wire[m + 1] as number;
    if (suite !== SUITE_CHACHA20_POLY1305) throw new CryptoError('unsupported', where, `frame suite ${suite}`);

    const key = this.#keys.get(header.kid);
    if (key === undefined) {
      const old = this.#retired.get(header.kid);
      const latest = old === undefined ? undefined : this.#latestEpoch.get(old.cameraNumber);
      if (old !== undefined && latest !== undefined && old.epoch < latest) {
        throw new CryptoError('replayed', `openFrame(camera=${old.cameraNumber}, epoch=${old.epoch}, counter=${header.ctr})`, `epoch is older than the live epoch ${latest}`);
      }
      throw new CryptoError('not-for-me', where, 'no key for this key id');
    }
    where = `openFrame(camera=${key.cameraNumber}, epoch=${key.epoch}, counter=${header.ctr})`;
    // Cheap refusal before decrypting; the window moves only after authentication (commit below).
    if (!key.window.wouldAccept(header.ctr)) throw new CryptoError('replayed', where, 'counter seen before or behind the window');

    let plaintext: Uint8Array;
    try {
      plaintext = this.#aead.decrypt(key.aeadKey, nonceFor(key.salt, header.ctr), wire.subarray(0, aadLength), wire.subarray(aadLength));
    } catch {
      throw new CryptoError('tampered', where, 'authentication failed');
    }
    // Checked, not trusted: an injected AEAD must return exactly the ciphertext's length.
    if (plaintext.length !== wire.length - aadLength - FRAME_TAG_BYTES) throw new CryptoError('tampered', where, 'AEAD returned a plaintext of the wrong length');
    // Authentic from a holder of this key; it must also name the hub and camera the key is for.
    if (!equalBytes(plaintext.subarray(P_HUB, P_HUB + FRAME_ID_BYTES), key.hubId)) throw new CryptoError('tampered', where, 'hub id differs from the key\'s');
    if (!equalBytes(plaintext.subarray(P_CAMERA, P_CAMERA + FRAME_ID_BYTES), key.cameraId)) throw new CryptoError('tampered', where, 'camera id differs from the key\'s');
    const view = new DataView(plaintext.buffer, plaintext.byteOffset, FRAME_PREFIX_BYTES);
    const track = TRACKS[view.getUint8(P_TRACK)];
    if (track === undefined) throw malformed(where, `unknown track ${view.getUint8(P_TRACK)}`);
    const captureTime = view.getBigUint64(P_CAPTURE_TIME);
    if (captureTime > BigInt(Number.MAX_SAFE_INTEGER)) throw malformed(where, 'captureTime over 2^53-1');
    const frameType = FRAME_TYPES[view.getUint8(P_FRAME_TYPE)];
    if (frameType === undefined) throw malformed(where, `unknown frame type ${view.getUint8(P_FRAME_TYPE)}`);
    // One payload, one encoding: the padding is exactly what the rule gives, and zeros.
    const padLength = view.getUint32(P_PAD_LENGTH);
    const payloadLength = plaintext.length - FRAME_PREFIX_BYTES - padLength;
    if (payloadLength < 0 || payloadLength > MAX_FRAME_PAYLOAD_BYTES) throw malformed(where, `padding of ${padLength} bytes does not fit`);
    if (paddedPlaintextLength(FRAME_PREFIX_BYTES + payloadLength) !== plaintext.length) throw malformed(where, `padding of ${padLength} bytes is not the padding rule's`);
    for (let i = plaintext.length - padLength; i < plaintext.length; i++) {
      if (plaintext[i] !== 0) throw malformed(where, 'padding is not zeros');
    }
    if (!key.window.commit(header.ctr)) throw new CryptoError('replayed', where, 'counter seen before');
    return {
      cameraId: key.cameraId.slice(),
      cameraNumber: key.cameraNumber,
      epoch: key.epoch,
      track,
      captureTime: Number(captureTime),
      frameType,
      payload: plaintext.subarray(FRAME_PREFIX_BYTES, FRAME_PREFIX_BYTES + payloadLength),
      counter: header.ctr,
    };
  }

  toString(): string {
    return `FrameOpener(keys=${this.#keys.size})`;
  }
  toJSON(): string {
    return this.toString();
  }
  [INSPECT](): string {
    return this.toString();
  }
}

/** True under vitest only; crypto/ has no other notion of environment (and none in browsers). */
function inTests(): boolean {
  const env = (globalThis as { process?: { env?: Record<string, string | undefined> } }).process?.env;
  return env?.['VITEST'] === 'true';
}
