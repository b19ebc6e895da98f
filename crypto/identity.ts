// Long-term identities. A hub and a phone each hold three key pairs (Ed25519 to sign, X25519 for
// Noise, X-Wing for post-quantum key transport); a phone also holds one relay key per hub, so the
// relay cannot link one phone across homes. Ids are hashes of the signing key, so they reveal
// nothing beyond the key itself and cannot be chosen to collide with another hub's.
import { labeledHash } from './hash.ts';
import { LABEL_DEVICE_ID, LABEL_HUB_ID, LABEL_LAN_ID } from './labels.ts';
import { Secret } from './secret.ts';
import { sodium } from './sodium.ts';
import { Reader, Writer } from './wire.ts';
import { malformed } from './errors.ts';

export const ID_BYTES = 16;
export const SIGN_PUBLIC_BYTES = 32;
export const SIGN_SECRET_BYTES = 64;
export const DH_BYTES = 32;
export const XWING_PUBLIC_BYTES = 1216;
export const XWING_SECRET_BYTES = 32;
export const XWING_CIPHERTEXT_BYTES = 1120;

export interface KeyPair {
  readonly publicKey: Uint8Array;
  readonly privateKey: Secret;
}

export interface Identity {
  /** Ed25519: certificates, key updates, commands, relay logins. */
  readonly signing: KeyPair;
  /** X25519: the Noise static key. */
  readonly exchange: KeyPair;
  /** X-Wing (ML-KEM-768 + X25519): post-quantum PSK for sessions and offline key updates. */
  readonly pq: KeyPair;
}

export interface HubIdentity extends Identity {
  readonly hubId: Uint8Array;
  /** Ed25519 key the hub logs in to relays with. */
  readonly relay: KeyPair;
}

export interface DeviceIdentity extends Identity {
  readonly deviceId: Uint8Array;
}

/** What a phone knows of its hub once paired. */
export interface HubPublicKeys {
  readonly hubId: Uint8Array;
  readonly signingKey: Uint8Array;
  readonly exchangeKey: Uint8Array;
  readonly pqKey: Uint8Array;
  readonly relayKey: Uint8Array;
}

export function hubIdFor(signingKey: Uint8Array): Uint8Array {
  return labeledHash(LABEL_HUB_ID, ID_BYTES, signingKey);
}

/** What the hub announces on the LAN: recognisable by its phones, linkable to nothing else. */
export function lanIdFor(hubId: Uint8Array): Uint8Array {
  return labeledHash(LABEL_LAN_ID, 8, hubId);
}

export function deviceIdFor(signingKey: Uint8Array): Uint8Array {
  return labeledHash(LABEL_DEVICE_ID, ID_BYTES, signingKey);
}

export function newSigningKeyPair(label: string): KeyPair {
  const kp = sodium().crypto_sign_keypair();
  return { publicKey: kp.publicKey, privateKey: new Secret(kp.privateKey, label) };
}

function newExchangeKeyPair(label: string): KeyPair {
  const kp = sodium().crypto_box_keypair();
  return { publicKey: kp.publicKey, privateKey: new Secret(kp.privateKey, label) };
}

/** X-Wing from a 32-byte seed, so the stored private key is just the seed. */
function pqFromSeed(seed: Uint8Array, label: string): KeyPair {
  const kp = sodium().crypto_kem_xwing_seed_keypair(seed);
  return { publicKey: kp.publicKey, privateKey: new Secret(seed, label) };
}

export function newHubIdentity(): HubIdentity {
  const signing = newSigningKeyPair('hub signing key');
  return {
    hubId: hubIdFor(signing.publicKey),
    signing,
    exchange: newExchangeKeyPair('hub exchange key'),
    pq: pqFromSeed(sodium().randombytes_buf(XWING_SECRET_BYTES), 'hub x-wing key'),
    relay: newSigningKeyPair('hub relay key'),
  };
}

export function newDeviceIdentity(): DeviceIdentity {
  const signing = newSigningKeyPair('device signing key');
  return {
    deviceId: deviceIdFor(signing.publicKey),
    signing,
    exchange: newExchangeKeyPair('device exchange key'),
    pq: pqFromSeed(sodium().randombytes_buf(XWING_SECRET_BYTES), 'device x-wing key'),
  };
}

/** The X-Wing private key libsodium wants, expanded from the stored seed. */
export function pqPrivateKey(pair: KeyPair): Uint8Array {
  return sodium().crypto_kem_xwing_seed_keypair(pair.privateKey.expose()).privateKey;
}

export function hubPublicKeys(hub: HubIdentity): HubPublicKeys {
  return {
    hubId: hub.hubId,
    signingKey: hub.signing.publicKey,
    exchangeKey: hub.exchange.publicKey,
    pqKey: hub.pq.publicKey,
    relayKey: hub.relay.publicKey,
  };
}

// Storage encodings. These hold private keys: the hub stores them encrypted at rest and the phone
// in a 0600 profile file or IndexedDB; they never travel.
const HUB_SECRET_TAG = 0x48; // 'H'
const DEVICE_SECRET_TAG = 0x44; // 'D'

export function exportHubIdentity(hub: HubIdentity): Uint8Array {
  return new Writer()
    .u8(HUB_SECRET_TAG)
    .fixed(hub.signing.privateKey.expose(), SIGN_SECRET_BYTES)
    .fixed(hub.exchange.privateKey.expose(), DH_BYTES)
    .fixed(hub.pq.privateKey.expose(), XWING_SECRET_BYTES)
    .fixed(hub.relay.privateKey.expose(), SIGN_SECRET_BYTES)
    .finish();
}

export function importHubIdentity(bytes: Uint8Array): HubIdentity {
  const r = new Reader(bytes, 'importHubIdentity');
  if (r.u8('tag') !== HUB_SECRET_TAG) throw malformed('importHubIdentity', 'not a hub identity');
  const signing = signingFromSecret(r.fixed(SIGN_SECRET_BYTES, 'signing'), 'hub signing key');
  const exchange = exchangeFromSecret(r.fixed(DH_BYTES, 'exchange'), 'hub exchange key');
  const pq = pqFromSeed(r.fixed(XWING_SECRET_BYTES, 'pq'), 'hub x-wing key');
  const relay = signingFromSecret(r.fixed(SIGN_SECRET_BYTES, 'relay'), 'hub relay key');
  r.end();
  return { hubId: hubIdFor(signing.publicKey), signing, exchange, pq, relay };
}

export function exportDeviceIdentity(device: DeviceIdentity): Uint8Array {
  return new Writer()
    .u8(DEVICE_SECRET_TAG)
    .fixed(device.signing.privateKey.expose(), SIGN_SECRET_BYTES)
    .fixed(device.exchange.privateKey.expose(), DH_BYTES)
    .fixed(device.pq.privateKey.expose(), XWING_SECRET_BYTES)
    .finish();
}

export function importDeviceIdentity(bytes: Uint8Array): DeviceIdentity {
  const r = new Reader(bytes, 'importDeviceIdentity');
  if (r.u8('tag') !== DEVICE_SECRET_TAG) throw malformed('importDeviceIdentity', 'not a device identity');
  const signing = signingFromSecret(r.fixed(SIGN_SECRET_BYTES, 'signing'), 'device signing key');
  const exchange = exchangeFromSecret(r.fixed(DH_BYTES, 'exchange'), 'device exchange key');
  const pq = pqFromSeed(r.fixed(XWING_SECRET_BYTES, 'pq'), 'device x-wing key');
  r.end();
  return { deviceId: deviceIdFor(signing.publicKey), signing, exchange, pq };
}

export function signingFromSecret(secret: Uint8Array, label: string): KeyPair {
  // An Ed25519 secret key in libsodium is seed || public key; re-derive to reject a mismatched pair.
  const kp = sodium().crypto_sign_seed_keypair(secret.slice(0, 32));
  if (!sodium().memcmp(kp.privateKey, secret)) throw malformed('signingFromSecret', 'inconsistent Ed25519 key');
  return { publicKey: kp.publicKey, privateKey: new Secret(kp.privateKey, label) };
}

function exchangeFromSecret(secret: Uint8Array, label: string): KeyPair {
  return { publicKey: sodium().crypto_scalarmult_base(secret), privateKey: new Secret(secret, label) };
}

export function sign(pair: KeyPair, message: Uint8Array): Uint8Array {
  return sodium().crypto_sign_detached(message, pair.privateKey.expose());
}

/** Ed25519 verification; false on any bad input rather than a throw. */
export function verify(publicKey: Uint8Array, message: Uint8Array, signature: Uint8Array): boolean {
  if (publicKey.length !== SIGN_PUBLIC_BYTES || signature.length !== 64) return false;
  try {
    return sodium().crypto_sign_verify_detached(signature, message, publicKey);
  } catch {
    return false;
  }
}
