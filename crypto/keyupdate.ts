// Key updates: the hub hands a phone the content keys of one epoch, one per camera. Signed by the hub
// and bound to hub, epoch, roster hash and recipient, so a key update delivered to the wrong phone
// (the Eufy case) is "not for me", and one forged or altered by the relay is "tampered". It travels
// inside a Noise session, or, for a phone that is offline, encrypted to its X-Wing key, because a
// relay that keeps every byte must not learn keys when quantum computers arrive.
import { concat, equalBytes, utf8 } from './bytes.ts';
import { CryptoError, malformed } from './errors.ts';
import { deriveKey } from './hash.ts';
import {
  ID_BYTES, XWING_CIPHERTEXT_BYTES, pqPrivateKey, sign, verify,
  type DeviceIdentity, type HubIdentity, type HubPublicKeys,
} from './identity.ts';
import { LABEL_KEY_UPDATE, LABEL_KEY_UPDATE_OFFLINE, PROTOCOL_VERSION } from './labels.ts';
import { Secret } from './secret.ts';
import { sodium } from './sodium.ts';
import { Reader, Writer } from './wire.ts';

export const CONTENT_KEY_BYTES = 32;
export const MAX_CAMERAS_PER_UPDATE = 256;

export interface CameraKey {
  readonly cameraId: Uint8Array;
  /** Small number the hub assigns to the camera; it is the high half of the SFrame key id. */
  readonly cameraNumber: number;
  readonly key: Secret;
}

export interface KeyUpdate {
  readonly version: number;
  readonly hubId: Uint8Array;
  readonly epoch: number;
  readonly rosterHash: Uint8Array;
  readonly recipient: Uint8Array;
  /** Unix milliseconds. */
  readonly issuedAt: number;
  readonly cameras: readonly CameraKey[];
}

/** A fresh random content key: one per camera per epoch. */
export function newContentKey(): Secret {
  return new Secret(sodium().randombytes_buf(CONTENT_KEY_BYTES), 'content key');
}

function body(u: KeyUpdate): Uint8Array {
  if (u.cameras.length > MAX_CAMERAS_PER_UPDATE) throw new RangeError('too many cameras in one key update');
  const w = new Writer()
    .u8(u.version)
    .fixed(u.hubId, ID_BYTES)
    .u32(u.epoch)
    .fixed(u.rosterHash, 32)
    .fixed(u.recipient, ID_BYTES)
    .u64(BigInt(u.issuedAt))
    .u16(u.cameras.length);
  for (const c of u.cameras) w.fixed(c.cameraId, ID_BYTES).u32(c.cameraNumber).fixed(c.key.expose(), CONTENT_KEY_BYTES);
  return w.finish();
}

/** signed = body || Ed25519(hub, LABEL_KEY_UPDATE || body) */
export function signKeyUpdate(hub: HubIdentity, update: Omit<KeyUpdate, 'version' | 'hubId'>): Uint8Array {
  const b = body({ ...update, version: PROTOCOL_VERSION, hubId: hub.hubId });
  return concat(b, sign(hub.signing, concat(utf8(LABEL_KEY_UPDATE), b)));
}

/**
 * Verifies a signed key update for `me` from `hub`. Another hub's or another recipient's update is
 * "not-for-me"; a bad signature is "tampered".
 */
export function openKeyUpdate(signed: Uint8Array, hub: HubPublicKeys, me: Uint8Array): KeyUpdate {
  const where = 'openKeyUpdate';
  if (signed.length < 64 + 1) throw malformed(where, 'too short');
  const b = signed.subarray(0, signed.length - 64);
  const signature = signed.subarray(signed.length - 64);
  const r = new Reader(b, where);
  const version = r.u8('version');
  if (version !== PROTOCOL_VERSION) throw new CryptoError('unsupported', where, `version ${version}`);
  const hubId = r.fixed(ID_BYTES, 'hubId');
  const epoch = r.u32('epoch');
  const rosterHash = r.fixed(32, 'rosterHash');
  const recipient = r.fixed(ID_BYTES, 'recipient');
  const issuedAt = Number(r.u64('issuedAt'));
  const count = r.u16('count');
  if (count > MAX_CAMERAS_PER_UPDATE) throw malformed(where, `${count} cameras, limit ${MAX_CAMERAS_PER_UPDATE}`);
  if (!equalBytes(hubId, hub.hubId)) throw new CryptoError('not-for-me', where, 'another hub');
  if (!equalBytes(recipient, me)) throw new CryptoError('not-for-me', `${where}(epoch=${epoch})`, 'another recipient');
  if (!verify(hub.signingKey, concat(utf8(LABEL_KEY_UPDATE), b), signature)) {
    throw new CryptoError('tampered', `${where}(epoch=${epoch})`, 'bad hub signature');
  }
  const cameras: CameraKey[] = [];
  for (let i = 0; i < count; i++) {
    const cameraId = r.fixed(ID_BYTES, 'cameraId');
    const cameraNumber = r.u32('cameraNumber');
    if (cameraNumber >= 0x80000000) throw malformed(where, 'camera number out of range');
    cameras.push({ cameraId, cameraNumber, key: new Secret(r.fixed(CONTENT_KEY_BYTES, 'key'), 'content key') });
  }
  r.end();
  return { version, hubId, epoch, rosterHash, recipient, issuedAt, cameras };
}

// Offline delivery: X-Wing to the phone's post-quantum key, then one AEAD under a key used once.
//   (ct, ss) = XWing.Encaps(recipient.pqKey)
//   k = KDF(ss, LABEL_KEY_UPDATE_OFFLINE, 32, ct || hubId || recipient)
//   wire = u8 version || hubId || recipient || ct || ChaCha20-Poly1305(k, nonce = 0^12, ad = the prefix, signed)
// A zero nonce is safe because k is fresh for every message.
const OFFLINE_PREFIX = 1 + ID_BYTES + ID_BYTES + XWING_CIPHERTEXT_BYTES;

export function sealKeyUpdateOffline(hubId: Uint8Array, recipient: { deviceId: Uint8Array; pqKey: Uint8Array }, signed: Uint8Array): Uint8Array {
  const s = sodium();
  const { ciphertext, sharedSecret } = s.crypto_kem_xwing_enc(recipient.pqKey);
  const prefix = new Writer().u8(PROTOCOL_VERSION).fixed(hubId, ID_BYTES).fixed(recipient.deviceId, ID_BYTES)
    .fixed(ciphertext, XWING_CIPHERTEXT_BYTES).finish();
  const k = deriveKey(sharedSecret, LABEL_KEY_UPDATE_OFFLINE, 32, ciphertext, hubId, recipient.deviceId);
  sharedSecret.fill(0);
  const sealed = s.crypto_aead_chacha20poly1305_ietf_encrypt(signed, prefix, null, new Uint8Array(12), k);
  k.fill(0);
  return concat(prefix, sealed);
}

export function openKeyUpdateOffline(wire: Uint8Array, me: DeviceIdentity, hub: HubPublicKeys): KeyUpdate {
  const where = 'openKeyUpdateOffline';
  if (wire.length < OFFLINE_PREFIX + 16) throw malformed(where, 'too short');
  const r = new Reader(wire, where);
  const version = r.u8('version');
  if (version !== PROTOCOL_VERSION) throw new CryptoError('unsupported', where, `version ${version}`);
  const hubId = r.fixed(ID_BYTES, 'hubId');
  const recipient = r.fixed(ID_BYTES, 'recipient');
  const ct = r.fixed(XWING_CIPHERTEXT_BYTES, 'ciphertext');
  if (!equalBytes(hubId, hub.hubId) || !equalBytes(recipient, me.deviceId)) {
    throw new CryptoError('not-for-me', where, 'addressed to another hub or phone');
  }
  const s = sodium();
  let signed: Uint8Array;
  try {
    const ss = s.crypto_kem_xwing_dec(ct, pqPrivateKey(me.pq));
    const k = deriveKey(ss, LABEL_KEY_UPDATE_OFFLINE, 32, ct, hubId, recipient);
    signed = s.crypto_aead_chacha20poly1305_ietf_decrypt(null, r.rest(), wire.subarray(0, OFFLINE_PREFIX), new Uint8Array(12), k);
  } catch (cause) {
    throw new CryptoError('tampered', where, 'cannot decrypt', { cause: cause instanceof CryptoError ? cause : undefined });
  }
  return openKeyUpdate(signed, hub, me.deviceId);
}
