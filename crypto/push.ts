// A Web Push message (PROTOCOL §17.3): what the hub tells a phone whose app is closed that a camera
// saw something. The push service (Google, Apple, Mozilla, a UnifiedPush distributor) gets it inside
// RFC 8291's encryption, which it cannot open either, but RFC 8291 only protects against eyes on the
// way: anyone holding the subscription (the push service itself, for one) can send the phone a
// message under it. So inside that layer the message is Vigil's own: signed by the hub (only this hub
// writes it), sealed to the phone's X-Wing key as offline key updates are (only this phone reads it),
// numbered (a replay is refused), and padded to one fixed size (the push service learns that
// something was sent and when, never how big the picture was or how long the camera's name is).
// The push's payload is the wire in base64url (PUSH_TEXT_CHARS long).
//
//   body   = u8 version || hubId || recipient || u64 seq || u64 sentAt || u8 kind || cameraId(16)
//            || u64 eventStart || text16 cameraName || bytes16 thumbnail (JPEG, or empty)
//   signed = body || Ed25519(hub, LABEL_PUSH || body)
//   inner  = u16 len(signed) || signed || 0x00 padding to PUSH_INNER_BYTES
//   (ct, ss) = XWing.Encaps(recipient.pqKey)
//   k      = KDF(ss, LABEL_PUSH_SEAL, 32, ct || hubId || recipient)
//   wire   = u8 version || hubId || recipient || ct || ChaCha20-Poly1305(k, 0^12, ad = the prefix, inner)
//
// Every wire is exactly PUSH_ENVELOPE_BYTES long. A zero nonce is safe because k is fresh each time.
import { concat, equalBytes, utf8 } from './bytes.ts';
import { CryptoError, malformed } from './errors.ts';
import { deriveKey } from './hash.ts';
import {
  ID_BYTES, XWING_CIPHERTEXT_BYTES, pqPrivateKey, sign, verify,
  type DeviceIdentity, type HubIdentity, type HubPublicKeys,
} from './identity.ts';
import { LABEL_PUSH, LABEL_PUSH_SEAL, PROTOCOL_VERSION } from './labels.ts';
import { sodium } from './sodium.ts';
import { Reader, Writer } from './wire.ts';

/**
 * The size of every push message. It travels as base64url text (PUSH_TEXT_CHARS, 3926 characters:
 * text goes through every push path unchanged, UnifiedPush distributors and the DevTools protocol
 * included), and RFC 8291 adds 86 bytes of header, a delimiter and a 16-byte tag: 4029 bytes, within
 * the 4096 that push services take.
 */
export const PUSH_ENVELOPE_BYTES = 2944;
/** The push payload's length: base64url of the envelope, no padding. */
export const PUSH_TEXT_CHARS = Math.ceil((PUSH_ENVELOPE_BYTES * 4) / 3);
const TAG_BYTES = 16;
const SIGNATURE_BYTES = 64;
const PREFIX_BYTES = 1 + ID_BYTES + ID_BYTES + XWING_CIPHERTEXT_BYTES;
/** The padded plaintext inside the seal. */
export const PUSH_INNER_BYTES = PUSH_ENVELOPE_BYTES - PREFIX_BYTES - TAG_BYTES;
/** The longest camera name a push carries (UTF-8 bytes); longer names are cut at a character. */
export const MAX_PUSH_CAMERA_NAME_BYTES = 64;
const FIXED_BODY_BYTES = 1 + ID_BYTES + ID_BYTES + 8 + 8 + 1 + ID_BYTES + 8 + 2 + 2;
/** The largest thumbnail that fits beside the longest camera name. */
export const MAX_PUSH_THUMBNAIL_BYTES = PUSH_INNER_BYTES - 2 - SIGNATURE_BYTES - FIXED_BODY_BYTES - MAX_PUSH_CAMERA_NAME_BYTES;

/** The event kinds a push names (the hub's EventKind, main/events/hub-events.ts), by code. */
export const PUSH_KINDS = ['motion', 'tamper', 'line-crossing', 'person', 'vehicle', 'animal'] as const;
export type PushKind = (typeof PUSH_KINDS)[number];

export interface PushMessage {
  readonly hubId: Uint8Array;
  readonly recipient: Uint8Array;
  /** The hub's push counter: goes up by one per push, for every phone; a phone refuses one it saw. */
  readonly seq: bigint;
  /** Unix ms when the hub sent it. */
  readonly sentAt: number;
  readonly kind: PushKind;
  readonly cameraId: Uint8Array;
  readonly cameraName: string;
  /** Unix ms, on the recordings' clock: where the timeline opens. */
  readonly eventStart: number;
  /** A small JPEG, or empty when none fitted. */
  readonly thumbnail: Uint8Array;
}

/** `name` cut to at most `max` UTF-8 bytes without splitting a character. */
export function clipUtf8(name: string, max: number): string {
  let out = '';
  let bytes = 0;
  for (const ch of name) {
    const n = utf8(ch).length;
    if (bytes + n > max) break;
    out += ch;
    bytes += n;
  }
  return out;
}

/** Seals a push message for one phone: exactly PUSH_ENVELOPE_BYTES. A thumbnail too big throws (the caller leaves it out). */
export function sealPushMessage(
  hub: HubIdentity,
  recipient: { deviceId: Uint8Array; pqKey: Uint8Array },
  m: Omit<PushMessage, 'hubId' | 'recipient'>,
): Uint8Array {
  const code = PUSH_KINDS.indexOf(m.kind);
  if (code < 0) throw new RangeError(`unknown push kind ${m.kind}`);
  if (m.thumbnail.length > MAX_PUSH_THUMBNAIL_BYTES) throw new RangeError(`thumbnail of ${m.thumbnail.length} bytes, limit ${MAX_PUSH_THUMBNAIL_BYTES}`);
  const body = new Writer().u8(PROTOCOL_VERSION).fixed(hub.hubId, ID_BYTES).fixed(recipient.deviceId, ID_BYTES)
    .u64(m.seq).u64(BigInt(m.sentAt)).u8(code + 1).fixed(m.cameraId, ID_BYTES).u64(BigInt(m.eventStart))
    .text16(clipUtf8(m.cameraName, MAX_PUSH_CAMERA_NAME_BYTES)).bytes16(m.thumbnail).finish();
  const signed = concat(body, sign(hub.signing, concat(utf8(LABEL_PUSH), body)));
  const inner = new Uint8Array(PUSH_INNER_BYTES);
  inner[0] = signed.length >> 8;
  inner[1] = signed.length & 0xff;
  inner.set(signed, 2);
  const s = sodium();
  const { ciphertext, sharedSecret } = s.crypto_kem_xwing_enc(recipient.pqKey);
  const prefix = new Writer().u8(PROTOCOL_VERSION).fixed(hub.hubId, ID_BYTES).fixed(recipient.deviceId, ID_BYTES)
    .fixed(ciphertext, XWING_CIPHERTEXT_BYTES).finish();
  const k = deriveKey(sharedSecret, LABEL_PUSH_SEAL, 32, ciphertext, hub.hubId, recipient.deviceId);
  sharedSecret.fill(0);
  const sealed = s.crypto_aead_chacha20poly1305_ietf_encrypt(inner, prefix, null, new Uint8Array(12), k);
  k.fill(0);
  return concat(prefix, sealed);
}

/**
 * Opens a push message for `me` from `hub`. Another hub's or another phone's is "not-for-me"; one
 * that does not decrypt or whose signature is not the hub's is "tampered". Replays are the caller's
 * to refuse (it keeps the sequence numbers it saw).
 */
export function openPushMessage(wire: Uint8Array, me: DeviceIdentity, hub: HubPublicKeys): PushMessage {
  const where = 'openPushMessage';
  // The size is fixed: any other length was not made by a hub (or was cut on the way).
  if (wire.length !== PUSH_ENVELOPE_BYTES) throw malformed(where, `length ${wire.length}, not ${PUSH_ENVELOPE_BYTES}`);
  const r = new Reader(wire, where);
  const version = r.u8('version');
  if (version !== PROTOCOL_VERSION) throw new CryptoError('unsupported', where, `version ${version}`);
  const hubId = r.fixed(ID_BYTES, 'hubId');
  const recipient = r.fixed(ID_BYTES, 'recipient');
  const ct = r.fixed(XWING_CIPHERTEXT_BYTES, 'ciphertext');
  if (!equalBytes(hubId, hub.hubId) || !equalBytes(recipient, me.deviceId)) throw new CryptoError('not-for-me', where, 'addressed to another hub or phone');
  const s = sodium();
  let inner: Uint8Array;
  try {
    const ss = s.crypto_kem_xwing_dec(ct, pqPrivateKey(me.pq));
    const k = deriveKey(ss, LABEL_PUSH_SEAL, 32, ct, hubId, recipient);
    ss.fill(0);
    inner = s.crypto_aead_chacha20poly1305_ietf_decrypt(null, r.rest(), wire.subarray(0, PREFIX_BYTES), new Uint8Array(12), k);
    k.fill(0);
  } catch (cause) {
    throw new CryptoError('tampered', where, 'cannot decrypt', { cause: cause instanceof CryptoError ? cause : undefined });
  }
  const length = (inner[0]! << 8) | inner[1]!;
  if (length < SIGNATURE_BYTES + FIXED_BODY_BYTES || length > inner.length - 2) throw malformed(where, 'bad inner length');
  // Padding is zeros only: one message, one encoding.
  if (inner.subarray(2 + length).some((b) => b !== 0)) throw malformed(where, 'padding is not zeros');
  const signed = inner.subarray(2, 2 + length);
  const body = signed.subarray(0, length - SIGNATURE_BYTES);
  if (!verify(hub.signingKey, concat(utf8(LABEL_PUSH), body), signed.subarray(length - SIGNATURE_BYTES))) {
    throw new CryptoError('tampered', where, 'bad hub signature');
  }
  const b = new Reader(body, where);
  if (b.u8('version') !== PROTOCOL_VERSION) throw new CryptoError('unsupported', where, 'inner version');
  // The signed copy names the same hub and phone as the outside: the seal's AD binds those too.
  if (!equalBytes(b.fixed(ID_BYTES, 'hubId'), hubId) || !equalBytes(b.fixed(ID_BYTES, 'recipient'), recipient)) {
    throw new CryptoError('not-for-me', where, 'signed for another hub or phone');
  }
  const seq = b.u64('seq');
  const sentAt = Number(b.u64('sentAt'));
  const code = b.u8('kind');
  const kind = PUSH_KINDS[code - 1];
  if (kind === undefined) throw malformed(where, `unknown kind ${code}`);
  const cameraId = b.fixed(ID_BYTES, 'cameraId');
  const eventStart = Number(b.u64('eventStart'));
  const cameraName = b.text16('cameraName', MAX_PUSH_CAMERA_NAME_BYTES);
  const thumbnail = b.bytes16('thumbnail', MAX_PUSH_THUMBNAIL_BYTES);
  b.end();
  return { hubId, recipient, seq, sentAt, kind, cameraId, cameraName, eventStart, thumbnail };
}
