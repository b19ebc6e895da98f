// Events sealed like recordings (PROTOCOL §17): what the hub noticed on a camera, with a small
// preview picture, sealed to the current recording epoch's public key. The hub holds that public
// key only, so it can seal an event and never open one again; phones open it with the epoch's seed
// (crypto/recording.ts openEpochKey). A stolen hub shows no event picture of the past, exactly as
// it plays no past recording.
//
// Each seal (an event's first, and each re-seal as it goes on) encapsulates afresh to the epoch's
// key, so every record has its own key. The details (kind, times, zones, ...) and the preview are
// two parts under that key, each signed by the hub with the header: the details alone (a prefix of
// the whole, `briefEvent`) are what an event list carries, the picture comes when asked for. A
// phone refuses a part the hub did not sign before decapsulating anything, so whoever else knows
// the epoch's public key (every phone) cannot slip another phone an event.
import { concat, equalBytes, u32be, u64be, utf8 } from './bytes.ts';
import { CryptoError, malformed } from './errors.ts';
import { deriveKey } from './hash.ts';
import { ID_BYTES, XWING_CIPHERTEXT_BYTES, sign, verify, type HubIdentity, type HubPublicKeys } from './identity.ts';
import { LABEL_EVENT, LABEL_EVENT_KEY, LABEL_EVENT_PREVIEW } from './labels.ts';
import type { RecordingEpoch } from './recording.ts';
import type { Secret } from './secret.ts';
import { sodium } from './sodium.ts';
import { Reader, Writer } from './wire.ts';

export const EVENT_MAGIC = Uint8Array.of(0x56, 0x47, 0x45, 0x56); // "VGEV"
export const EVENT_VERSION = 1;
const KEY_BYTES = 32;
const TAG_BYTES = 16;
const SIGNATURE_BYTES = 64;
/** The largest preview picture (a small JPEG): a whole sealed event fits one session notice (§11.2). */
export const MAX_PREVIEW_BYTES = 32 * 1024;
export const MAX_KIND_BYTES = 32;
export const MAX_SOURCE_BYTES = 32;
export const MAX_ZONES = 16;
export const MAX_ZONE_NAME_BYTES = 64;
/** The plaintext is zero-padded to a multiple of this: the size tells little of the picture. */
export const EVENT_PAD_BYTES = 1024;
/** magic, version, hubId, cameraId, epoch, event id, revision, X-Wing ciphertext. */
export const EVENT_HEADER_BYTES = 4 + 1 + ID_BYTES + ID_BYTES + 4 + 8 + 4 + XWING_CIPHERTEXT_BYTES;
/** The details' fields at their bounds. */
const MAX_DETAILS_FIELDS = 2 + MAX_KIND_BYTES + 2 + MAX_SOURCE_BYTES + 8 + 1 + 8 + 2 + 1 + MAX_ZONES * (2 + MAX_ZONE_NAME_BYTES) + 16;
const padded = (n: number): number => Math.ceil(n / EVENT_PAD_BYTES) * EVENT_PAD_BYTES;
const MAX_DETAILS_BYTES = padded(MAX_DETAILS_FIELDS) + TAG_BYTES;
const MAX_PREVIEW_PART_BYTES = padded(4 + MAX_PREVIEW_BYTES) + TAG_BYTES;
/** An event's details alone (what a list carries), at most. */
export const MAX_BRIEF_EVENT_BYTES = EVENT_HEADER_BYTES + 4 + MAX_DETAILS_BYTES + SIGNATURE_BYTES;
/** The largest sealed event a reader accepts, its picture included (about 36 KiB). */
export const MAX_SEALED_EVENT_BYTES = MAX_BRIEF_EVENT_BYTES + 4 + MAX_PREVIEW_PART_BYTES + SIGNATURE_BYTES;

/** What a phone learns of an event. Times are Unix ms on the fragments' capture clock. */
export interface EventRecord {
  /** 'motion', 'tamper', 'line-crossing', 'person', ...: a phone shows one it does not know as is. */
  readonly kind: string;
  /** Which detector found it ('motion', 'onvif'). */
  readonly source: string;
  readonly start: number;
  /** Absent while the event goes on. */
  readonly end?: number;
  /** 0..1, kept to 1/10000. */
  readonly score: number;
  readonly zones: readonly string[];
  /** The recording range around the event (pre-roll, post-roll): where the timeline opens. */
  readonly recording: { readonly from: number; readonly to: number };
  /** A small JPEG at the event's peak. */
  readonly preview?: Uint8Array;
}

/** The part of a sealed event anyone may read: whose, which camera, which epoch's key opens it. */
export interface EventHeader {
  readonly hubId: Uint8Array;
  readonly cameraId: Uint8Array;
  readonly epoch: number;
  /** The hub's event id (its store's counter): never reused. */
  readonly eventId: bigint;
  /** 0 for the first seal, one more at each re-seal: a phone keeps the highest. */
  readonly revision: number;
}

export interface OpenedEvent {
  readonly header: EventHeader;
  readonly record: EventRecord;
}

const KIND_TEXT = /^[a-z][a-z0-9-]*$/;

function checkRecord(r: EventRecord, where: string, fail: (where: string, detail: string) => Error): void {
  const bad = (detail: string): never => {
    throw fail(where, detail);
  };
  if (!KIND_TEXT.test(r.kind) || utf8(r.kind).length > MAX_KIND_BYTES) bad('kind must be a short lower-case word');
  if (utf8(r.source).length > MAX_SOURCE_BYTES) bad('source too long');
  for (const t of [r.start, r.recording.from, r.recording.to, ...(r.end !== undefined ? [r.end] : [])]) {
    if (!Number.isSafeInteger(t) || t < 0) bad('times must be Unix ms');
  }
  if (r.end !== undefined && r.end < r.start) bad('end before start');
  if (r.recording.to < r.recording.from) bad('recording range ends before it starts');
  if (!(r.score >= 0 && r.score <= 1)) bad('score must be 0..1');
  if (r.zones.length > MAX_ZONES) bad(`more than ${MAX_ZONES} zones`);
  for (const z of r.zones) if (utf8(z).length > MAX_ZONE_NAME_BYTES) bad('zone name too long');
  if (r.preview !== undefined && r.preview.length > MAX_PREVIEW_BYTES) bad(`preview larger than ${MAX_PREVIEW_BYTES} bytes`);
}

function pad(fields: Uint8Array): Uint8Array {
  return concat(fields, new Uint8Array(padded(fields.length) - fields.length));
}

/** Canonical padding: only the zeros that reach the next multiple, no more, no other byte. */
function checkPad(plain: Uint8Array, rest: Uint8Array, where: string): void {
  if (rest.length >= EVENT_PAD_BYTES || plain.length % EVENT_PAD_BYTES !== 0 || rest.some((b) => b !== 0)) throw malformed(where, 'padding');
}

function encodeDetails(r: EventRecord): Uint8Array {
  const w = new Writer().text16(r.kind).text16(r.source).u64(BigInt(r.start)).u8(r.end !== undefined ? 1 : 0).u64(BigInt(r.end ?? 0))
    .u16(Math.round(r.score * 10_000)).u8(r.zones.length);
  for (const z of r.zones) w.text16(z);
  return pad(w.u64(BigInt(r.recording.from)).u64(BigInt(r.recording.to)).finish());
}

function decodeDetails(plain: Uint8Array, where: string): EventRecord {
  const r = new Reader(plain, where);
  const kind = r.text16('kind', MAX_KIND_BYTES);
  const source = r.text16('source', MAX_SOURCE_BYTES);
  const start = Number(r.u64('start'));
  const ended = r.u8('ended');
  const end = Number(r.u64('end'));
  if (ended > 1 || (ended === 0 && end !== 0)) throw malformed(where, 'end flag');
  const score = r.u16('score');
  if (score > 10_000) throw malformed(where, 'score above 1');
  const zoneCount = r.u8('zones');
  if (zoneCount > MAX_ZONES) throw malformed(where, 'too many zones');
  const zones: string[] = [];
  for (let i = 0; i < zoneCount; i++) zones.push(r.text16('zone', MAX_ZONE_NAME_BYTES));
  const from = Number(r.u64('recording from'));
  const to = Number(r.u64('recording to'));
  checkPad(plain, r.rest(), where);
  const record: EventRecord = { kind, source, start, ...(ended === 1 ? { end } : {}), score: score / 10_000, zones, recording: { from, to } };
  checkRecord(record, where, malformed);
  return record;
}

function decodePreview(plain: Uint8Array, where: string): Uint8Array {
  const r = new Reader(plain, where);
  const preview = r.bytes32('preview', MAX_PREVIEW_BYTES);
  checkPad(plain, r.rest(), where);
  return preview;
}

function encodeHeader(h: EventHeader, ct: Uint8Array): Uint8Array {
  return new Writer().raw(EVENT_MAGIC).u8(EVENT_VERSION).fixed(h.hubId, ID_BYTES).fixed(h.cameraId, ID_BYTES).u32(h.epoch)
    .u64(h.eventId).u32(h.revision).fixed(ct, XWING_CIPHERTEXT_BYTES).finish();
}

function recordKey(ss: Uint8Array, ct: Uint8Array, h: EventHeader): Uint8Array {
  return deriveKey(ss, LABEL_EVENT_KEY, KEY_BYTES, ct, h.hubId, h.cameraId, u32be(h.epoch), u64be(h.eventId), u32be(h.revision));
}

const DETAILS_NONCE = new Uint8Array(12);
const PREVIEW_NONCE = Uint8Array.of(0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1);

function signedPart(label: string, header: Uint8Array, part: Uint8Array): Uint8Array {
  return concat(utf8(label), header, u32be(part.length), part);
}

/**
 * Seals an event to a recording epoch (the hub has its public key only):
 *   (ct, ss) = XWing.Encaps(epoch.pk)
 *   k        = KDF(ss, LABEL_EVENT_KEY, 32, ct || hubId || cameraId || u32 epoch || u64 id || u32 revision)
 *   header   = "VGEV" || u8 1 || hubId || cameraId || u32 epoch || u64 id || u32 revision || ct
 *   d        = AEAD(k, 0^12, ad = header, pad(details));  p = AEAD(k, 0^11 || 1, ad = header, pad(u32 len || jpeg))
 *   brief    = header || u32 len(d) || d || Sign(hub, LABEL_EVENT || header || u32 len(d) || d)
 *   wire     = brief [ || u32 len(p) || p || Sign(hub, LABEL_EVENT_PREVIEW || header || u32 len(p) || p) ]   (with a preview)
 * Throws RangeError for a record out of bounds (the hub's own bug, or a detector's oversize picture).
 */
export function sealEvent(hub: HubIdentity, epoch: RecordingEpoch, e: { cameraId: Uint8Array; eventId: bigint; revision: number }, record: EventRecord): Uint8Array {
  checkRecord(record, 'sealEvent', (where, detail) => new RangeError(`${where}: ${detail}`));
  if (e.cameraId.length !== ID_BYTES) throw new RangeError('sealEvent: camera id must be 16 bytes');
  if (!(Number.isInteger(e.revision) && e.revision >= 0 && e.revision <= 0xffff_ffff)) throw new RangeError('sealEvent: revision must be a u32');
  if (!equalBytes(epoch.hubId, hub.hubId)) throw new RangeError('sealEvent: another hub\'s epoch');
  const s = sodium();
  const header: EventHeader = { hubId: hub.hubId, cameraId: e.cameraId, epoch: epoch.epoch, eventId: e.eventId, revision: e.revision };
  const { ciphertext, sharedSecret } = s.crypto_kem_xwing_enc(epoch.publicKey);
  const k = recordKey(sharedSecret, ciphertext, header);
  sharedSecret.fill(0);
  const headerBytes = encodeHeader(header, ciphertext);
  const parts: Uint8Array[] = [headerBytes];
  const seal = (label: string, nonce: Uint8Array, plain: Uint8Array): void => {
    const part = s.crypto_aead_chacha20poly1305_ietf_encrypt(plain, headerBytes, null, nonce, k);
    plain.fill(0);
    parts.push(u32be(part.length), part, sign(hub.signing, signedPart(label, headerBytes, part)));
  };
  try {
    seal(LABEL_EVENT, DETAILS_NONCE, encodeDetails(record));
    if (record.preview !== undefined && record.preview.length > 0) seal(LABEL_EVENT_PREVIEW, PREVIEW_NONCE, pad(new Writer().bytes32(record.preview).finish()));
  } finally {
    k.fill(0);
  }
  return concat(...parts);
}

/** The parts' places in a sealed event (lengths checked, nothing opened). */
function layout(wire: Uint8Array, where: string): { details: Uint8Array; detailsSig: Uint8Array; briefEnd: number; preview?: { part: Uint8Array; sig: Uint8Array } } {
  const r = new Reader(wire.subarray(EVENT_HEADER_BYTES), where);
  const details = r.bytes32('details', MAX_DETAILS_BYTES);
  const detailsSig = r.fixed(SIGNATURE_BYTES, 'signature');
  const briefEnd = wire.length - r.rest().length;
  if (briefEnd === wire.length) return { details, detailsSig, briefEnd };
  const r2 = new Reader(wire.subarray(briefEnd), where);
  const part = r2.bytes32('preview', MAX_PREVIEW_PART_BYTES);
  const sig = r2.fixed(SIGNATURE_BYTES, 'signature');
  r2.end();
  return { details, detailsSig, briefEnd, preview: { part, sig } };
}

/** The clear header of a sealed event (which epoch's seed opens it). Checks only its shape. */
export function readEventHeader(wire: Uint8Array): EventHeader {
  const where = 'readEventHeader';
  if (wire.length < EVENT_HEADER_BYTES + 4 + TAG_BYTES + SIGNATURE_BYTES) throw malformed(where, 'shorter than a sealed event');
  if (wire.length > MAX_SEALED_EVENT_BYTES) throw malformed(where, 'larger than any sealed event');
  const r = new Reader(wire.subarray(0, EVENT_HEADER_BYTES), where);
  if (!equalBytes(r.fixed(4, 'magic'), EVENT_MAGIC)) throw malformed(where, 'not a Vigil event');
  const version = r.u8('version');
  if (version !== EVENT_VERSION) throw new CryptoError('unsupported', where, `event version ${version}`);
  return { hubId: r.fixed(ID_BYTES, 'hubId'), cameraId: r.fixed(ID_BYTES, 'cameraId'), epoch: r.u32('epoch'), eventId: r.u64('eventId'), revision: r.u32('revision') };
}

/** The details alone (no picture): a prefix of the sealed event, still signed. Needs no key (the hub lists with it). */
export function briefEvent(wire: Uint8Array): Uint8Array {
  readEventHeader(wire);
  return wire.subarray(0, layout(wire, 'briefEvent').briefEnd);
}

/**
 * Opens a sealed event, or its brief, with its epoch's seed (phones only). MUST-checks, in order:
 * size and shape (`malformed`, `unsupported`), this hub (`not-for-me`), the hub's signature on each
 * part (`tampered`), the epoch the seed belongs to (`not-for-me`), then decapsulation and the AEAD
 * (`tampered`). The record has a preview only when the wire carried one.
 */
export function openEvent(wire: Uint8Array, key: { epoch: number; seed: Secret }, hub: HubPublicKeys): OpenedEvent {
  const header = readEventHeader(wire);
  const where = `openEvent(event=${header.eventId}, epoch=${header.epoch})`;
  if (!equalBytes(header.hubId, hub.hubId)) throw new CryptoError('not-for-me', where, 'another hub\'s event');
  const headerBytes = wire.subarray(0, EVENT_HEADER_BYTES);
  const parts = layout(wire, where);
  if (!verify(hub.signingKey, signedPart(LABEL_EVENT, headerBytes, parts.details), parts.detailsSig)) throw new CryptoError('tampered', where, 'bad hub signature');
  if (parts.preview && !verify(hub.signingKey, signedPart(LABEL_EVENT_PREVIEW, headerBytes, parts.preview.part), parts.preview.sig)) {
    throw new CryptoError('tampered', where, 'bad hub signature on the preview');
  }
  if (header.epoch !== key.epoch) throw new CryptoError('not-for-me', where, `sealed to epoch ${header.epoch}, not ${key.epoch}`);
  const s = sodium();
  const ct = headerBytes.subarray(EVENT_HEADER_BYTES - XWING_CIPHERTEXT_BYTES);
  let details: Uint8Array;
  let preview: Uint8Array | undefined;
  let k: Uint8Array | undefined;
  try {
    const { privateKey } = s.crypto_kem_xwing_seed_keypair(key.seed.expose());
    const ss = s.crypto_kem_xwing_dec(ct, privateKey);
    privateKey.fill(0);
    k = recordKey(ss, ct, header);
    ss.fill(0);
    details = s.crypto_aead_chacha20poly1305_ietf_decrypt(null, parts.details, headerBytes, DETAILS_NONCE, k);
    if (parts.preview) preview = s.crypto_aead_chacha20poly1305_ietf_decrypt(null, parts.preview.part, headerBytes, PREVIEW_NONCE, k);
  } catch (cause) {
    throw new CryptoError('tampered', where, 'does not open with this epoch key', { cause: cause instanceof CryptoError ? cause : undefined });
  } finally {
    k?.fill(0);
  }
  const record = decodeDetails(details, where);
  const picture = preview !== undefined ? decodePreview(preview, where) : undefined;
  return { header, record: picture !== undefined ? { ...record, preview: picture } : record };
}
