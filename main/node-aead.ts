// The frame AEAD on node:crypto (OpenSSL's chacha20-poly1305) for the hub. The same RFC 8439
// construction as libsodium's crypto_aead_chacha20poly1305_ietf_*, so frames are byte-identical
// (test/main/node-aead.test.ts runs the frame vectors and Wycheproof through it); OpenSSL seals
// 16 KiB about 3x faster than libsodium-wrappers' WebAssembly (docs/PERFORMANCE.md). Node only:
// phones in browsers keep the libsodium default of crypto/frame.ts.
import { createCipheriv, createDecipheriv } from 'node:crypto';
import type { FrameAead } from '../crypto/frame.ts';

const KEY_BYTES = 32;
const NONCE_BYTES = 12;
const TAG_BYTES = 16;
const ALGORITHM = 'chacha20-poly1305';

/** OpenSSL takes shorter nonces (zero-padded); the IETF construction has exactly 12 bytes. */
function checkLengths(key: Uint8Array, nonce: Uint8Array): void {
  if (key.length !== KEY_BYTES) throw new RangeError(`chacha20-poly1305 key must be ${KEY_BYTES} bytes, got ${key.length}`);
  if (nonce.length !== NONCE_BYTES) throw new RangeError(`chacha20-poly1305 nonce must be ${NONCE_BYTES} bytes, got ${nonce.length}`);
}

/**
 * A plain Uint8Array of `b`'s bytes: a Buffer's slice() is a view where Uint8Array's is a copy, and
 * callers that copy with slice() must get one. The cipher's Buffers own their memory (no copy
 * then); one that shares a pooled slab is copied, so a plaintext never exposes its neighbours.
 */
function plain(b: Buffer): Uint8Array {
  if (b.byteOffset === 0 && b.buffer.byteLength === b.length) return new Uint8Array(b.buffer, 0, b.length);
  return new Uint8Array(b);
}

/**
 * ciphertext || tag of concat(...parts) into `out` (the sealer's wire buffer): the parts (prefix,
 * payload, padding) go through the cipher one after another, never joined into one array.
 */
function encryptTo(key: Uint8Array, nonce: Uint8Array, aad: Uint8Array, parts: readonly Uint8Array[], out: Uint8Array): void {
  checkLengths(key, nonce);
  let plaintextLength = 0;
  for (const part of parts) plaintextLength += part.length;
  if (out.length !== plaintextLength + TAG_BYTES) throw new RangeError(`output must be ${plaintextLength + TAG_BYTES} bytes, got ${out.length}`);
  const cipher = createCipheriv(ALGORITHM, key, nonce, { authTagLength: TAG_BYTES });
  cipher.setAAD(aad, { plaintextLength });
  let at = 0;
  for (const part of parts) {
    const ciphertext = cipher.update(part);
    out.set(ciphertext, at);
    at += ciphertext.length;
  }
  const last = cipher.final(); // empty for a stream cipher; checked so no byte is ever dropped
  out.set(last, at);
  at += last.length;
  if (at !== plaintextLength) throw new Error('chacha20-poly1305 returned a ciphertext of the wrong length');
  out.set(cipher.getAuthTag(), plaintextLength);
}

export const nodeFrameAead: FrameAead = {
  encrypt(key, nonce, aad, plaintext) {
    const out = new Uint8Array(plaintext.length + TAG_BYTES);
    encryptTo(key, nonce, aad, [plaintext], out);
    return out;
  },

  encryptTo,

  decrypt(key, nonce, aad, sealed) {
    checkLengths(key, nonce);
    if (sealed.length < TAG_BYTES) throw new RangeError(`sealed data is ${sealed.length} bytes, shorter than the tag`);
    const end = sealed.length - TAG_BYTES;
    const decipher = createDecipheriv(ALGORITHM, key, nonce, { authTagLength: TAG_BYTES });
    decipher.setAAD(aad, { plaintextLength: end });
    decipher.setAuthTag(sealed.subarray(end));
    const plaintext = decipher.update(sealed.subarray(0, end));
    // final() throws unless the tag authenticates; until then the plaintext never leaves here.
    const last = decipher.final();
    if (last.length === 0) return plain(plaintext);
    const out = new Uint8Array(plaintext.length + last.length);
    out.set(plaintext, 0);
    out.set(last, plaintext.length);
    return out;
  },
};
