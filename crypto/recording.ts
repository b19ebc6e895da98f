// Recordings sealed so that the hub can write them and never read them back (PROTOCOL §15).
//
// A recording epoch is an X-Wing key pair the hub makes, signs (so phones know it is the hub's),
// seals the private seed of to every phone allowed to watch (as offline key updates are sealed), and
// then forgets. Each segment (a few seconds, GOP-aligned fMP4) gets a fresh 32-byte key, wrapped to
// the epoch's public key in the segment's header and erased when the segment closes. Chunks (the
// init segment and each fragment) are sealed in order under that key: the chunk index is the
// nonce, the header hash is in every chunk's AD, and a final chunk closes the segment with the
// hub's signature over a hash chain of the plaintext. So a chunk cannot be moved, reordered,
// spliced from another segment, or cut off the end without the reader noticing, and the signed
// chain is the evidence an exported clip carries.
//
// Chunks are sealed with the same ChaCha20-Poly1305 (RFC 8439) as frames, through the same seam
// (FrameAead): libsodium by default, so phones in browsers open segments; the hub's recorder passes
// node:crypto's (main/node-aead.ts), about 3x faster, the same bytes on disk. The hash chain stays
// BLAKE2b (labeledHash): the proof a clip carries is defined over it.
import { concat, equalBytes, u64be, u8, u32be, utf8 } from './bytes.ts';
import { CryptoError, malformed } from './errors.ts';
import { sodiumFrameAead, type FrameAead } from './frame.ts';
import { deriveKey, labeledHash } from './hash.ts';
import {
  ID_BYTES, XWING_CIPHERTEXT_BYTES, XWING_PUBLIC_BYTES, pqPrivateKey, sign, verify,
  type DeviceIdentity, type HubIdentity, type HubPublicKeys,
} from './identity.ts';
import {
  LABEL_RECORDING_EPOCH, LABEL_RECORDING_EPOCH_SEAL, LABEL_SEGMENT_CHAIN, LABEL_SEGMENT_HEADER, LABEL_SEGMENT_KEY, LABEL_SEGMENT_PROOF,
  PROTOCOL_VERSION,
} from './labels.ts';
import { Secret } from './secret.ts';
import { sodium } from './sodium.ts';
import { Reader, Writer } from './wire.ts';

export const SEGMENT_MAGIC = Uint8Array.of(0x56, 0x47, 0x53, 0x47); // "VGSG"
export const SEGMENT_VERSION = 1;
const KEY_BYTES = 32;
const TAG_BYTES = 16;
const HASH_BYTES = 32;
const SIGNATURE_BYTES = 64;
/** The largest chunk (one fMP4 fragment); the MP4 splitter bounds boxes at 16 MiB. */
export const MAX_CHUNK_BYTES = 16 * 1024 * 1024;
/** A segment's header: magic, version, hubId, cameraId, epoch, segment id, start, X-Wing ct, wrapped key. */
export const SEGMENT_HEADER_BYTES = 4 + 1 + ID_BYTES + ID_BYTES + 4 + 8 + 8 + XWING_CIPHERTEXT_BYTES + KEY_BYTES + TAG_BYTES;
/** Per chunk on disk: u32 length, u8 kind, u64 time, then the ciphertext (payload + tag). */
export const CHUNK_OVERHEAD_BYTES = 4 + 1 + 8 + TAG_BYTES;

export type ChunkKind = 'init' | 'media' | 'final';
const KIND_CODE: Record<ChunkKind, number> = { init: 1, media: 2, final: 3 };
const CODE_KIND = new Map<number, ChunkKind>([[1, 'init'], [2, 'media'], [3, 'final']]);

// ---------------------------------------------------------------------------------------------
// Recording epochs

/** What every phone may know of a recording epoch: signed by the hub. */
export interface RecordingEpoch {
  readonly hubId: Uint8Array;
  readonly epoch: number;
  /** Unix ms. */
  readonly createdAt: number;
  /** X-Wing public key segments' keys are wrapped to. */
  readonly publicKey: Uint8Array;
  /** Sign(hub.signing, LABEL_RECORDING_EPOCH || body). */
  readonly signature: Uint8Array;
}

function epochBody(hubId: Uint8Array, epoch: number, createdAt: number, publicKey: Uint8Array): Uint8Array {
  return new Writer().u8(PROTOCOL_VERSION).fixed(hubId, ID_BYTES).u32(epoch).u64(BigInt(createdAt)).fixed(publicKey, XWING_PUBLIC_BYTES).finish();
}

/** A new recording epoch: its signed public part, and the seed of its private key (to seal to phones, then wipe). */
export function newRecordingEpoch(hub: HubIdentity, epoch: number, createdAt: number): { epoch: RecordingEpoch; seed: Secret } {
  const s = sodium();
  const seed = s.randombytes_buf(KEY_BYTES);
  const { publicKey, privateKey } = s.crypto_kem_xwing_seed_keypair(seed);
  privateKey.fill(0);
  const body = epochBody(hub.hubId, epoch, createdAt, publicKey);
  const signature = sign(hub.signing, concat(utf8(LABEL_RECORDING_EPOCH), body));
  return { epoch: { hubId: hub.hubId, epoch, createdAt, publicKey, signature }, seed: new Secret(seed, 'recording epoch seed') };
}

export function encodeRecordingEpoch(e: RecordingEpoch): Uint8Array {
  return concat(epochBody(e.hubId, e.epoch, e.createdAt, e.publicKey), e.signature);
}

/** Checks the hub's signature: a relay cannot slip a phone an epoch of its own. */
export function decodeRecordingEpoch(wire: Uint8Array, hub: HubPublicKeys): RecordingEpoch {
  const where = 'decodeRecordingEpoch';
  const r = new Reader(wire, where);
  const version = r.u8('version');
  if (version !== PROTOCOL_VERSION) throw new CryptoError('unsupported', where, `version ${version}`);
  const hubId = r.fixed(ID_BYTES, 'hubId');
  const epoch = r.u32('epoch');
  const createdAt = Number(r.u64('createdAt'));
  const publicKey = r.fixed(XWING_PUBLIC_BYTES, 'publicKey');
  const signature = r.fixed(SIGNATURE_BYTES, 'signature');
  r.end();
  if (!equalBytes(hubId, hub.hubId)) throw new CryptoError('not-for-me', where, 'another hub\'s recording epoch');
  const body = wire.subarray(0, wire.length - SIGNATURE_BYTES);
  if (!verify(hub.signingKey, concat(utf8(LABEL_RECORDING_EPOCH), body), signature)) {
    throw new CryptoError('tampered', where, 'bad hub signature');
  }
  return { hubId, epoch, createdAt, publicKey, signature };
}

// The epoch's seed sealed to one phone, as offline key updates are (PROTOCOL §7.3):
//   (ct, ss) = XWing.Encaps(recipient.pqKey)
//   k = KDF(ss, LABEL_RECORDING_EPOCH_SEAL, 32, ct || hubId || recipient || u32 epoch)
//   wire = u8 version || hubId || recipient || u32 epoch || ct || ChaCha20-Poly1305(k, 0^12, ad = the prefix, seed)
const SEALED_EPOCH_PREFIX = 1 + ID_BYTES + ID_BYTES + 4 + XWING_CIPHERTEXT_BYTES;
export const SEALED_EPOCH_KEY_BYTES = SEALED_EPOCH_PREFIX + KEY_BYTES + TAG_BYTES;

export function sealEpochKey(hubId: Uint8Array, epoch: number, seed: Secret, recipient: { deviceId: Uint8Array; pqKey: Uint8Array }): Uint8Array {
  const s = sodium();
  const { ciphertext, sharedSecret } = s.crypto_kem_xwing_enc(recipient.pqKey);
  const prefix = new Writer().u8(PROTOCOL_VERSION).fixed(hubId, ID_BYTES).fixed(recipient.deviceId, ID_BYTES).u32(epoch)
    .fixed(ciphertext, XWING_CIPHERTEXT_BYTES).finish();
  const k = deriveKey(sharedSecret, LABEL_RECORDING_EPOCH_SEAL, 32, ciphertext, hubId, recipient.deviceId, u32be(epoch));
  sharedSecret.fill(0);
  const sealed = s.crypto_aead_chacha20poly1305_ietf_encrypt(seed.expose(), prefix, null, new Uint8Array(12), k);
  k.fill(0);
  return concat(prefix, sealed);
}

/**
 * Who a sealed seed is addressed to, read without opening it: the hub checks a seed an owner phone
 * shared (PROTOCOL §15.7) is the right size, for this hub, for the phone it goes to and the epoch it
 * names. Whether it opens only that phone can tell.
 */
export function sealedEpochKeyAddress(wire: Uint8Array): { hubId: Uint8Array; recipient: Uint8Array; epoch: number } {
  const where = 'sealedEpochKeyAddress';
  if (wire.length !== SEALED_EPOCH_KEY_BYTES) throw malformed(where, 'wrong length');
  const r = new Reader(wire.subarray(0, 1 + ID_BYTES + ID_BYTES + 4), where);
  const version = r.u8('version');
  if (version !== PROTOCOL_VERSION) throw new CryptoError('unsupported', where, `version ${version}`);
  return { hubId: r.fixed(ID_BYTES, 'hubId'), recipient: r.fixed(ID_BYTES, 'recipient'), epoch: r.u32('epoch') };
}

/** The epoch's seed, for this phone only. */
export function openEpochKey(wire: Uint8Array, me: DeviceIdentity, hubId: Uint8Array): { epoch: number; seed: Secret } {
  const where = 'openEpochKey';
  if (wire.length !== SEALED_EPOCH_KEY_BYTES) throw malformed(where, 'wrong length');
  const r = new Reader(wire, where);
  const version = r.u8('version');
  if (version !== PROTOCOL_VERSION) throw new CryptoError('unsupported', where, `version ${version}`);
  const from = r.fixed(ID_BYTES, 'hubId');
  const recipient = r.fixed(ID_BYTES, 'recipient');
  const epoch = r.u32('epoch');
  const ct = r.fixed(XWING_CIPHERTEXT_BYTES, 'ciphertext');
  if (!equalBytes(from, hubId) || !equalBytes(recipient, me.deviceId)) throw new CryptoError('not-for-me', where, 'addressed to another hub or phone');
  const s = sodium();
  try {
    const ss = s.crypto_kem_xwing_dec(ct, pqPrivateKey(me.pq));
    const k = deriveKey(ss, LABEL_RECORDING_EPOCH_SEAL, 32, ct, from, recipient, u32be(epoch));
    ss.fill(0);
    const seed = s.crypto_aead_chacha20poly1305_ietf_decrypt(null, r.rest(), wire.subarray(0, SEALED_EPOCH_PREFIX), new Uint8Array(12), k);
    k.fill(0);
    return { epoch, seed: new Secret(seed, 'recording epoch seed') };
  } catch (cause) {
    throw new CryptoError('tampered', where, 'cannot decrypt', { cause: cause instanceof CryptoError ? cause : undefined });
  }
}

// ---------------------------------------------------------------------------------------------
// Segments

export interface SegmentHeader {
  readonly hubId: Uint8Array;
  readonly cameraId: Uint8Array;
  readonly epoch: number;
  /** Unique per hub (the store's counter): binds chunks and the proof to this segment. */
  readonly segmentId: bigint;
  /** Unix ms of the first chunk. */
  readonly start: number;
}

/** What a closed segment's final chunk proves, signed by the hub. */
export interface SegmentProof {
  readonly header: SegmentHeader;
  readonly headerHash: Uint8Array;
  readonly end: number;
  /** Chunks before the final one. */
  readonly chunks: number;
  readonly chainHead: Uint8Array;
  readonly signature: Uint8Array;
}

function chainStart(h: SegmentHeader): Uint8Array {
  return labeledHash(LABEL_SEGMENT_CHAIN, HASH_BYTES, h.hubId, h.cameraId, u64be(h.segmentId), u64be(BigInt(h.start)));
}

function chainNext(prev: Uint8Array, time: number, kind: ChunkKind, payload: Uint8Array): Uint8Array {
  return labeledHash(LABEL_SEGMENT_CHAIN, HASH_BYTES, prev, u64be(BigInt(time)), u8(KIND_CODE[kind]), u32be(payload.length), payload);
}

function proofMessage(p: Omit<SegmentProof, 'signature'>): Uint8Array {
  const h = p.header;
  return concat(utf8(LABEL_SEGMENT_PROOF), new Writer().u8(PROTOCOL_VERSION).fixed(h.hubId, ID_BYTES).fixed(h.cameraId, ID_BYTES)
    .u64(h.segmentId).u64(BigInt(h.start)).u64(BigInt(p.end)).u32(p.chunks).fixed(p.chainHead, HASH_BYTES).fixed(p.headerHash, HASH_BYTES).finish());
}

/** Checks a proof's hub signature (verify-export, the phone). Does not check any plaintext. */
export function proofSigned(p: SegmentProof, hubSigningKey: Uint8Array): boolean {
  return verify(hubSigningKey, proofMessage(p), p.signature);
}

/** The chain head over these chunks: equal to the proof's only if none changed. */
export function chainOver(header: SegmentHeader, chunks: readonly { time: number; kind: ChunkKind; payload: Uint8Array }[]): Uint8Array {
  let h = chainStart(header);
  for (const c of chunks) h = chainNext(h, c.time, c.kind, c.payload);
  return h;
}

function chunkNonce(index: number): Uint8Array {
  return concat(new Uint8Array(4), u64be(BigInt(index)));
}

function chunkAd(headerHash: Uint8Array, index: number, kind: ChunkKind, time: number): Uint8Array {
  return concat(headerHash, u64be(BigInt(index)), u8(KIND_CODE[kind]), u64be(BigInt(time)));
}

export interface RecordingCryptoOptions {
  /** The AEAD segment keys are wrapped and chunks sealed with; default sodiumFrameAead. */
  readonly aead?: FrameAead;
}

/** Per chunk on disk before the ciphertext: u32 length, u8 kind, u64 time. */
const CHUNK_HEAD_BYTES = 4 + 1 + 8;
const ZERO_NONCE = new Uint8Array(12);

function encodeHeader(h: SegmentHeader, ct: Uint8Array, wrapped: Uint8Array): Uint8Array {
  return new Writer().raw(SEGMENT_MAGIC).u8(SEGMENT_VERSION).fixed(h.hubId, ID_BYTES).fixed(h.cameraId, ID_BYTES).u32(h.epoch)
    .u64(h.segmentId).u64(BigInt(h.start)).fixed(ct, XWING_CIPHERTEXT_BYTES).fixed(wrapped, KEY_BYTES + TAG_BYTES).finish();
}

/**
 * Writes one segment on the hub. Its key exists only inside this object while the segment is open
 * and is wiped by close() (or abandon()): a hub that crashes mid-segment leaves chunks nobody but a
 * phone can open, and the next segment has a new key, so no (key, nonce) is ever used twice.
 */
export class SegmentWriter {
  readonly header: SegmentHeader;
  /** The bytes that start the segment's file. */
  readonly headerBytes: Uint8Array;
  readonly #headerHash: Uint8Array;
  #key: Uint8Array | undefined;
  #index = 0;
  #chain: Uint8Array;
  readonly #aead: FrameAead;

  constructor(
    private readonly hub: HubIdentity, epoch: RecordingEpoch, header: Omit<SegmentHeader, 'hubId' | 'epoch'>,
    options: RecordingCryptoOptions = {},
  ) {
    const s = sodium();
    this.#aead = options.aead ?? sodiumFrameAead;
    this.header = { ...header, hubId: hub.hubId, epoch: epoch.epoch };
    const key = s.randombytes_buf(KEY_BYTES);
    const { ciphertext, sharedSecret } = s.crypto_kem_xwing_enc(epoch.publicKey);
    const h = this.header;
    const kw = deriveKey(sharedSecret, LABEL_SEGMENT_KEY, 32, ciphertext, h.hubId, h.cameraId, u32be(h.epoch), u64be(h.segmentId));
    sharedSecret.fill(0);
    const wrapped = this.#aead.encrypt(kw, ZERO_NONCE, new Uint8Array(0), key);
    kw.fill(0);
    this.headerBytes = encodeHeader(h, ciphertext, wrapped);
    this.#headerHash = labeledHash(LABEL_SEGMENT_HEADER, HASH_BYTES, this.headerBytes);
    this.#key = key;
    this.#chain = chainStart(h);
  }

  get chunks(): number {
    return this.#index;
  }

  #seal(kind: ChunkKind, time: number, payload: Uint8Array): Uint8Array {
    const key = this.#key;
    if (key === undefined) throw new Error('segment closed');
    if (payload.length > MAX_CHUNK_BYTES) throw new RangeError('chunk too large');
    const index = this.#index++;
    const ad = chunkAd(this.#headerHash, index, kind, time);
    const head = new Writer().u32(payload.length + TAG_BYTES).u8(KIND_CODE[kind]).u64(BigInt(time)).finish();
    if (this.#aead.encryptTo === undefined) return concat(head, this.#aead.encrypt(key, chunkNonce(index), ad, payload));
    // Sealed in place after the chunk head: a fragment of a few hundred kB is not copied again.
    const out = new Uint8Array(CHUNK_HEAD_BYTES + payload.length + TAG_BYTES);
    out.set(head, 0);
    this.#aead.encryptTo(key, chunkNonce(index), ad, [payload], out.subarray(CHUNK_HEAD_BYTES));
    return out;
  }

  /** One chunk (the init segment first, then fragments) as the bytes to append to the file. */
  chunk(kind: 'init' | 'media', time: number, payload: Uint8Array): Uint8Array {
    const out = this.#seal(kind, time, payload);
    this.#chain = chainNext(this.#chain, time, kind, payload);
    return out;
  }

  /** The final chunk: the hub's signature over the chain. Wipes the key. */
  close(end: number): { bytes: Uint8Array; proof: SegmentProof } {
    const unsigned = { header: this.header, headerHash: this.#headerHash, end, chunks: this.#index, chainHead: this.#chain };
    const signature = sign(this.hub.signing, proofMessage(unsigned));
    const proof = { ...unsigned, signature };
    const bytes = this.#seal('final', end, concat(u64be(BigInt(end)), signature));
    this.abandon();
    return { bytes, proof };
  }

  /** Wipes the key without a final chunk (disk full, the hub stopping hard). */
  abandon(): void {
    this.#key?.fill(0);
    this.#key = undefined;
  }
}

export interface OpenedChunk {
  readonly index: number;
  readonly kind: 'init' | 'media';
  readonly time: number;
  readonly payload: Uint8Array;
}

export interface OpenedSegment {
  readonly header: SegmentHeader;
  readonly chunks: OpenedChunk[];
  /** Set when the final chunk opened and its signature and chain check out. */
  readonly proof?: SegmentProof;
  /** Why reading stopped early (a damaged or missing chunk), if it did: what came before is good. */
  readonly damaged?: string;
  /**
   * With `damaged`: `cut` if the file ends inside a chunk (cut short), `altered` for anything else
   * (a chunk that does not open, a bad chunk head, a bad final chunk, bytes after it).
   */
  readonly damage?: 'cut' | 'altered';
  /** No final chunk: the hub stopped while writing it (readable up to its last complete chunk). */
  readonly truncated: boolean;
}

/** Reads the header alone (which epoch's key the segment needs). */
export function readSegmentHeader(bytes: Uint8Array): SegmentHeader {
  const where = 'readSegmentHeader';
  if (bytes.length < SEGMENT_HEADER_BYTES) throw malformed(where, 'shorter than a segment header');
  const r = new Reader(bytes.subarray(0, SEGMENT_HEADER_BYTES), where);
  if (!equalBytes(r.fixed(4, 'magic'), SEGMENT_MAGIC)) throw malformed(where, 'not a Vigil segment');
  const version = r.u8('version');
  if (version !== SEGMENT_VERSION) throw new CryptoError('unsupported', where, `segment version ${version}`);
  return { hubId: r.fixed(ID_BYTES, 'hubId'), cameraId: r.fixed(ID_BYTES, 'cameraId'), epoch: r.u32('epoch'), segmentId: r.u64('segmentId'), start: Number(r.u64('start')) };
}

/**
 * Opens a segment with its epoch's seed (held by phones, and by the desktop viewer where the owner
 * turned it on). Chunks are returned up to the first that does not open; a closed segment's proof
 * is checked against the hub's key and the chain.
 */
export function openSegment(bytes: Uint8Array, seed: Secret, hub: HubPublicKeys, options: RecordingCryptoOptions = {}): OpenedSegment {
  const where = 'openSegment';
  const aead = options.aead ?? sodiumFrameAead;
  const header = readSegmentHeader(bytes);
  if (!equalBytes(header.hubId, hub.hubId)) throw new CryptoError('not-for-me', where, 'another hub\'s segment');
  const s = sodium();
  const headerBytes = bytes.subarray(0, SEGMENT_HEADER_BYTES);
  const ct = headerBytes.subarray(SEGMENT_HEADER_BYTES - KEY_BYTES - TAG_BYTES - XWING_CIPHERTEXT_BYTES, SEGMENT_HEADER_BYTES - KEY_BYTES - TAG_BYTES);
  const wrapped = headerBytes.subarray(SEGMENT_HEADER_BYTES - KEY_BYTES - TAG_BYTES);
  let key: Uint8Array;
  try {
    const { privateKey } = s.crypto_kem_xwing_seed_keypair(seed.expose());
    const ss = s.crypto_kem_xwing_dec(ct, privateKey);
    privateKey.fill(0);
    const kw = deriveKey(ss, LABEL_SEGMENT_KEY, 32, ct, header.hubId, header.cameraId, u32be(header.epoch), u64be(header.segmentId));
    ss.fill(0);
    key = aead.decrypt(kw, ZERO_NONCE, new Uint8Array(0), wrapped);
    kw.fill(0);
  } catch (cause) {
    throw new CryptoError('tampered', where, 'the segment key does not open with this epoch key', { cause: cause instanceof CryptoError ? cause : undefined });
  }
  const headerHash = labeledHash(LABEL_SEGMENT_HEADER, HASH_BYTES, headerBytes);
  const chunks: OpenedChunk[] = [];
  let chain = chainStart(header);
  let offset = SEGMENT_HEADER_BYTES;
  let damaged: string | undefined;
  let cut = false;
  let proof: SegmentProof | undefined;
  try {
    for (let index = 0; offset < bytes.length; index++) {
      if (bytes.length - offset < CHUNK_OVERHEAD_BYTES) {
        damaged = `chunk ${index} is cut short`;
        cut = true;
        break;
      }
      const r = new Reader(bytes.subarray(offset, offset + 13), where);
      const length = r.u32('length');
      const kind = CODE_KIND.get(r.u8('kind'));
      const time = Number(r.u64('time'));
      if (kind === undefined || length < TAG_BYTES || length > MAX_CHUNK_BYTES + TAG_BYTES) {
        damaged = `chunk ${index} has a bad header`;
        break;
      }
      if (bytes.length - offset - 13 < length) {
        damaged = `chunk ${index} is cut short`;
        cut = true;
        break;
      }
      let payload: Uint8Array;
      try {
        payload = aead.decrypt(key, chunkNonce(index), chunkAd(headerHash, index, kind, time), bytes.subarray(offset + 13, offset + 13 + length));
      } catch {
        damaged = `chunk ${index} does not open (altered, moved or from another segment)`;
        break;
      }
      offset += 13 + length;
      if (kind === 'final') {
        const end = Number(new Reader(payload.subarray(0, 8), where).u64('end'));
        const candidate = { header, headerHash, end, chunks: index, chainHead: chain, signature: payload.subarray(8) };
        if (payload.length !== 8 + SIGNATURE_BYTES || end !== time || !proofSigned(candidate, hub.signingKey)) damaged = 'the final chunk\'s signature does not check';
        else proof = candidate;
        if (offset !== bytes.length) damaged ??= 'bytes after the final chunk';
        break;
      }
      chunks.push({ index, kind, time, payload });
      chain = chainNext(chain, time, kind, payload);
    }
  } finally {
    key.fill(0);
  }
  return {
    header, chunks, ...(proof ? { proof } : {}),
    ...(damaged !== undefined ? { damaged, damage: cut ? 'cut' as const : 'altered' as const } : {}),
    truncated: proof === undefined && damaged === undefined,
  };
}
