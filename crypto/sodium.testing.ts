// Test-only: runs shipped protocol code with the randomness it draws replaced by fixed values, so a
// known-answer vector pins the bytes the real startSession, acceptPairing or sealKeyUpdateOffline
// produce (not those of a copy written for the test). Two draws are replaced, each from a queue:
//
//   crypto_box_keypair()        -> the X25519 key pair of the next fixed private key
//                                  (Noise ephemerals, crypto/noise.ts)
//   crypto_kem_xwing_enc(pk)    -> crypto_kem_xwing_enc_deterministic(pk, next 64-byte seed)
//                                  (session PSK, offline key updates)
//
// A draw past the end of a queue throws, and so does leaving values unused: a vector can never take
// fresh randomness by accident. Refused outside a test runner; fixed ephemerals or encapsulations in
// production would reuse keys and void forward secrecy.
import { CryptoError } from './errors.ts';
import { isTestEnvironment } from './noise.ts';
import { sodium } from './sodium.ts';

export interface FixedRandomness {
  /** X25519 private keys (32 bytes), handed out in order to each crypto_box_keypair() call. */
  readonly ephemerals?: readonly Uint8Array[];
  /** X-Wing encapsulation seeds (64 bytes), handed out in order to each crypto_kem_xwing_enc() call. */
  readonly encapsulationSeeds?: readonly Uint8Array[];
}

export const XWING_ENCAPSULATION_SEED_BYTES = 64;

/** Runs `fn` (synchronously) with the fixed values; restores libsodium afterwards, even on a throw. */
export function withFixedRandomness<T>(fixed: FixedRandomness, fn: () => T): T {
  const where = 'withFixedRandomness';
  if (!isTestEnvironment()) throw new CryptoError('forbidden', where, 'fixed randomness is for tests only');
  const lib = sodium();
  const ephemerals = [...(fixed.ephemerals ?? [])];
  const seeds = [...(fixed.encapsulationSeeds ?? [])];
  for (const e of ephemerals) if (e.length !== 32) throw new RangeError('fixed ephemeral must be 32 bytes');
  for (const s of seeds) if (s.length !== XWING_ENCAPSULATION_SEED_BYTES) throw new RangeError('encapsulation seed must be 64 bytes');
  const original = { keypair: lib.crypto_box_keypair, enc: lib.crypto_kem_xwing_enc };
  const keypair = () => {
    const privateKey = ephemerals.shift();
    if (privateKey === undefined) throw new Error(`${where}: more X25519 key pairs drawn than fixed`);
    return { publicKey: lib.crypto_scalarmult_base(privateKey), privateKey: privateKey.slice(), keyType: 'x25519' as const };
  };
  const enc = (publicKey: Uint8Array) => {
    const seed = seeds.shift();
    if (seed === undefined) throw new Error(`${where}: more X-Wing encapsulations than fixed seeds`);
    return lib.crypto_kem_xwing_enc_deterministic(publicKey, seed);
  };
  Object.assign(lib, { crypto_box_keypair: keypair, crypto_kem_xwing_enc: enc });
  let result: T;
  try {
    result = fn();
  } finally {
    Object.assign(lib, { crypto_box_keypair: original.keypair, crypto_kem_xwing_enc: original.enc });
  }
  if (ephemerals.length > 0 || seeds.length > 0) {
    throw new Error(`${where}: ${ephemerals.length} ephemerals and ${seeds.length} seeds left unused`);
  }
  return result;
}
