// Ed25519 verification with node:crypto. Hubs and phones sign with libsodium (crypto_sign_detached),
// which makes standard RFC 8032 signatures, so node:crypto verifies them unchanged.

import { createPublicKey, verify, type KeyObject } from 'node:crypto';
import { RELAY_ID_BYTES, SIGNATURE_BYTES } from './constants.ts';

/** DER SubjectPublicKeyInfo prefix for a raw 32-byte Ed25519 key (RFC 8410). */
const ED25519_SPKI_PREFIX = Buffer.from('302a300506032b6570032100', 'hex');

/** A KeyObject for a raw Ed25519 public key, or undefined when the bytes are not one. */
export function ed25519PublicKey(raw: Uint8Array): KeyObject | undefined {
  if (raw.length !== RELAY_ID_BYTES) return undefined;
  try {
    return createPublicKey({ key: Buffer.concat([ED25519_SPKI_PREFIX, raw]), format: 'der', type: 'spki' });
  } catch {
    return undefined;
  }
}

/** True only for a valid signature; any malformed input is simply false. */
export function verifyEd25519(key: KeyObject, message: Uint8Array, signature: Uint8Array): boolean {
  if (signature.length !== SIGNATURE_BYTES) return false;
  try {
    return verify(null, message, key, signature);
  } catch {
    return false;
  }
}
