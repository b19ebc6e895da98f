// BLAKE2b with domain separation: every hash and derivation in Vigil names its purpose first.
import { concat, utf8 } from './bytes.ts';
import { sodium } from './sodium.ts';

/** H(label, parts) = BLAKE2b-len( u8(len(label)) || label || parts... ), unkeyed. */
export function labeledHash(label: string, length: number, ...parts: Uint8Array[]): Uint8Array {
  const l = utf8(label);
  return sodium().crypto_generichash(length, concat(Uint8Array.of(l.length), l, ...parts), null);
}

/** KDF(key, label, parts) = BLAKE2b-len keyed with `key` over u8(len(label)) || label || parts... */
export function deriveKey(key: Uint8Array, label: string, length: number, ...parts: Uint8Array[]): Uint8Array {
  const l = utf8(label);
  return sodium().crypto_generichash(length, concat(Uint8Array.of(l.length), l, ...parts), key);
}
