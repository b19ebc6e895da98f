// Roster log cross-check between owner phones (PROTOCOL §16.4): one phone tells another which head
// of the hub's roster log it verified, sealed to the other phone's exchange key and signed by its
// own device key, with its hub-signed certificate inside so the receiver can check that key against
// the log it holds. The hub and the relay carry it and can read or forge none of it.
import { concat, equalBytes, utf8 } from './bytes.ts';
import { CERTIFICATE_BYTES, decodeCertificate, type DeviceCertificate } from './certificate.ts';
import { CryptoError, isCryptoError, malformed } from './errors.ts';
import { labeledHash } from './hash.ts';
import { DH_BYTES, ID_BYTES, sign, verify, type DeviceIdentity, type HubPublicKeys } from './identity.ts';
import { LABEL_CROSSCHECK, PROTOCOL_VERSION } from './labels.ts';
import { sodium } from './sodium.ts';
import { Reader, Writer } from './wire.ts';

/** The first byte of a cross-check posted to a mailbox (the envelope kind space of §11.1). */
export const CROSSCHECK_KIND = 0x18;
const HEAD_BYTES = 32;
const SIGNATURE_BYTES = 64;
const SEAL_OVERHEAD = 48; // crypto_box_seal: ephemeral X25519 key (32) + Poly1305 tag (16)
/** What is signed: version, hub, from, to, at, answer, length, head. */
export const CHECK_BYTES = 1 + ID_BYTES * 3 + 8 + 1 + 8 + HEAD_BYTES;
/** Every cross-check is exactly this long: nothing in it varies in size, so there is nothing to pad. */
export const CROSSCHECK_BYTES = 1 + CHECK_BYTES + CERTIFICATE_BYTES + SIGNATURE_BYTES + SEAL_OVERHEAD;
/** A cross-check older than this is refused (`expired`): a relay or hub that kept one learns nothing by replaying it late. */
export const MAX_CHECK_AGE_MS = 24 * 3600_000;
/** Clocks of two phones may differ by this much. */
export const MAX_CHECK_SKEW_MS = 5 * 60_000;

export interface CrossCheck {
  readonly hubId: Uint8Array;
  /** Sender and receiver device ids. */
  readonly from: Uint8Array;
  readonly to: Uint8Array;
  /** Unix ms, the sender's clock. */
  readonly at: number;
  /** The sender wants this phone's head back. */
  readonly answer: boolean;
  /** The roster log as the sender verified it: how many entries, and the hash of the last. */
  readonly length: number;
  readonly head: Uint8Array;
}

export interface OpenedCrossCheck extends CrossCheck {
  /** The sender's certificate as sent (its fingerprint is checked against the receiver's log). */
  readonly certificateBytes: Uint8Array;
  readonly certificate: DeviceCertificate;
}

/** The relay mailbox a phone reads cross-checks from: only phones that know the hub id and its device id can name it. */
export function crossCheckMailbox(hubId: Uint8Array, deviceId: Uint8Array): Uint8Array {
  return labeledHash(LABEL_CROSSCHECK, 16, utf8('mailbox'), hubId, deviceId);
}

function encodeCheck(c: CrossCheck): Uint8Array {
  return new Writer()
    .u8(PROTOCOL_VERSION)
    .fixed(c.hubId, ID_BYTES)
    .fixed(c.from, ID_BYTES)
    .fixed(c.to, ID_BYTES)
    .u64Safe(c.at)
    .u8(c.answer ? 1 : 0)
    .u64Safe(c.length)
    .fixed(c.head, HEAD_BYTES)
    .finish();
}

/** Seals a cross-check from `me` to the phone whose (log-checked) exchange key is `toExchangeKey`. */
export function sealCrossCheck(me: DeviceIdentity, myCertificate: Uint8Array, toExchangeKey: Uint8Array, c: Omit<CrossCheck, 'from'>): Uint8Array {
  if (myCertificate.length !== CERTIFICATE_BYTES || toExchangeKey.length !== DH_BYTES) throw new RangeError('sealCrossCheck: wrong key length');
  if (!Number.isSafeInteger(c.length) || c.length < 1) throw new RangeError('sealCrossCheck: a verified log has at least one entry');
  const check = encodeCheck({ ...c, from: me.deviceId });
  const signature = sign(me.signing, concat(utf8(LABEL_CROSSCHECK), check));
  return concat(Uint8Array.of(CROSSCHECK_KIND), sodium().crypto_box_seal(concat(check, myCertificate, signature), toExchangeKey));
}

/**
 * Opens a cross-check sent to `me`, in order: exact length and kind (`malformed`), the seal
 * (`tampered`), version (`unsupported`), hub and receiver (`not-for-me`), the certificate (signed by
 * the hub, naming the sender), the sender's signature (`tampered`), its time (`expired` when older
 * than a day or from the future) and, with `lastAt` (the newest time taken from that sender),
 * `replayed` unless it is newer.
 */
export function openCrossCheck(payload: Uint8Array, me: DeviceIdentity, hub: HubPublicKeys, now: number, lastAt?: (from: Uint8Array) => number | undefined): OpenedCrossCheck {
  const where = 'openCrossCheck';
  if (payload.length !== CROSSCHECK_BYTES) throw malformed(where, `${payload.length} bytes, not ${CROSSCHECK_BYTES}`);
  if (payload[0] !== CROSSCHECK_KIND) throw malformed(where, 'not a cross-check');
  let plain: Uint8Array;
  try {
    plain = sodium().crypto_box_seal_open(payload.subarray(1), me.exchange.publicKey, me.exchange.privateKey.expose());
  } catch (e) {
    throw new CryptoError('tampered', where, 'does not open with this phone\'s key', { cause: e });
  }
  const r = new Reader(plain, where);
  const version = r.u8('version');
  if (version !== PROTOCOL_VERSION) throw new CryptoError('unsupported', where, `version ${version}`);
  const hubId = r.fixed(ID_BYTES, 'hubId');
  const from = r.fixed(ID_BYTES, 'from');
  const to = r.fixed(ID_BYTES, 'to');
  const at = r.u64Safe('at');
  const answer = r.u8('answer');
  const length = r.u64Safe('length');
  const head = r.fixed(HEAD_BYTES, 'head');
  const certificateBytes = r.fixed(CERTIFICATE_BYTES, 'certificate');
  const signature = r.fixed(SIGNATURE_BYTES, 'signature');
  r.end();
  if (answer > 1) throw malformed(where, 'answer flag');
  if (length < 1) throw malformed(where, 'an empty log');
  if (!equalBytes(hubId, hub.hubId)) throw new CryptoError('not-for-me', where, 'another hub\'s log');
  if (!equalBytes(to, me.deviceId)) throw new CryptoError('not-for-me', where, 'sent to another phone');
  let certificate: DeviceCertificate;
  try {
    certificate = decodeCertificate(certificateBytes, hub.signingKey);
  } catch (e) {
    throw new CryptoError(isCryptoError(e, 'malformed') ? 'malformed' : 'tampered', where, 'the sender\'s certificate is not the hub\'s', { cause: e });
  }
  if (!equalBytes(certificate.deviceId, from)) throw new CryptoError('tampered', where, 'the certificate is another phone\'s');
  if (!verify(certificate.signingKey, concat(utf8(LABEL_CROSSCHECK), plain.subarray(0, CHECK_BYTES)), signature)) {
    throw new CryptoError('tampered', where, 'bad signature of the sending phone');
  }
  if (at < now - MAX_CHECK_AGE_MS) throw new CryptoError('expired', where, 'older than a day');
  if (at > now + MAX_CHECK_SKEW_MS) throw new CryptoError('expired', where, 'from the future');
  const last = lastAt?.(from);
  if (last !== undefined && at <= last) throw new CryptoError('replayed', where, 'not newer than the last one from this phone');
  return { hubId, from, to, at, answer: answer === 1, length, head, certificateBytes, certificate };
}
