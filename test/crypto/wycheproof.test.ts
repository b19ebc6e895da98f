// Wycheproof (C2SP/wycheproof testvectors_v1) through the exact libsodium build Vigil ships
// (libsodium-wrappers 0.8.4 = libsodium 1.0.22, loaded through crypto/sodium.ts). Every case runs:
// valid must pass, invalid must fail, and for "acceptable" the test pins what libsodium does, so a
// libsodium upgrade that changes behaviour fails here instead of silently changing the protocol.
//
// What libsodium does with the acceptable cases (measured, and asserted below):
// - X25519: crypto_scalarmult throws ("weak public key") exactly for the acceptable cases whose
//   shared secret is all zeros (low-order public keys, flag ZeroSharedSecret: 31 cases); every other
//   acceptable case (twist points, non-canonical public keys: 223 cases) yields Wycheproof's shared
//   secret. Vigil relies on the throw: a low-order Noise key cannot force a known shared secret.
// - XChaCha20/ChaCha20-Poly1305 and Ed25519 have no acceptable cases in this version of the files.
// Ed25519: libsodium accepts every case Wycheproof marks valid and rejects every invalid one; no
// discrepancy. Signatures of the wrong length make crypto_sign_verify_detached throw rather than
// return false; both count as rejection (crypto/identity.ts verify() maps the throw to false).
import { beforeAll, describe, expect, it } from 'vitest';
import { cryptoReady, sodium } from '../../crypto/sodium.ts';
import { fromHex, toHex } from '../../crypto/bytes.ts';
import { readVectorText, requireVectors } from '../support/vectors.ts';

beforeAll(async () => {
  await cryptoReady();
});

type Result = 'valid' | 'invalid' | 'acceptable';

interface WycheproofFile<G> {
  algorithm: string;
  numberOfTests: number;
  testGroups: G[];
}

interface AeadGroup {
  ivSize: number;
  keySize: number;
  tagSize: number;
  tests: { tcId: number; comment: string; flags: string[]; key: string; iv: string; aad: string; msg: string; ct: string; tag: string; result: Result }[];
}

interface XdhGroup {
  curve: string;
  tests: { tcId: number; comment: string; flags: string[]; public: string; private: string; shared: string; result: Result }[];
}

interface EddsaGroup {
  publicKey: { pk: string };
  tests: { tcId: number; comment: string; flags: string[]; msg: string; sig: string; result: Result }[];
}

function load<G>(name: string): WycheproofFile<G> {
  return JSON.parse(readVectorText('wycheproof', name)) as WycheproofFile<G>;
}

/** Runs fn, returning its value or the thrown error's message. */
function attempt<T>(fn: () => T): { ok: true; value: T } | { ok: false; error: string } {
  try {
    return { ok: true, value: fn() };
  } catch (e) {
    return { ok: false, error: e instanceof Error ? e.message : String(e) };
  }
}

function counter(): Record<Result, number> {
  return { valid: 0, invalid: 0, acceptable: 0 };
}

function checkTotal(file: WycheproofFile<{ tests: unknown[] }>, counts: Record<Result, number>): void {
  const total = counts.valid + counts.invalid + counts.acceptable;
  expect(total).toBeGreaterThan(0);
  expect(total).toBe(file.numberOfTests);
  console.log(`wycheproof ${file.algorithm}: ${total} cases (valid ${counts.valid}, invalid ${counts.invalid}, acceptable ${counts.acceptable})`);
}

it('runs against the libsodium build Vigil ships', () => {
  expect(sodium().sodium_version_string()).toBe('1.0.22');
});

const AEADS = [
  {
    file: 'chacha20_poly1305_test.json',
    nonceBytes: 12,
    encrypt: (m: Uint8Array, ad: Uint8Array, n: Uint8Array, k: Uint8Array) => sodium().crypto_aead_chacha20poly1305_ietf_encrypt(m, ad, null, n, k),
    decrypt: (c: Uint8Array, ad: Uint8Array, n: Uint8Array, k: Uint8Array) => sodium().crypto_aead_chacha20poly1305_ietf_decrypt(null, c, ad, n, k),
    decryptDetached: (c: Uint8Array, tag: Uint8Array, ad: Uint8Array, n: Uint8Array, k: Uint8Array) =>
      sodium().crypto_aead_chacha20poly1305_ietf_decrypt_detached(null, c, tag, ad, n, k),
    counts: { valid: 256, invalid: 69, acceptable: 0 },
  },
  {
    file: 'xchacha20_poly1305_test.json',
    nonceBytes: 24,
    encrypt: (m: Uint8Array, ad: Uint8Array, n: Uint8Array, k: Uint8Array) => sodium().crypto_aead_xchacha20poly1305_ietf_encrypt(m, ad, null, n, k),
    decrypt: (c: Uint8Array, ad: Uint8Array, n: Uint8Array, k: Uint8Array) => sodium().crypto_aead_xchacha20poly1305_ietf_decrypt(null, c, ad, n, k),
    decryptDetached: (c: Uint8Array, tag: Uint8Array, ad: Uint8Array, n: Uint8Array, k: Uint8Array) =>
      sodium().crypto_aead_xchacha20poly1305_ietf_decrypt_detached(null, c, tag, ad, n, k),
    counts: { valid: 246, invalid: 69, acceptable: 0 },
  },
] as const;

for (const aead of AEADS) {
  describe.skipIf(!requireVectors(`Wycheproof ${aead.file}`, 'wycheproof', aead.file))(`Wycheproof ${aead.file}`, () => {
    it('valid cases encrypt to the expected bytes and decrypt; invalid cases never decrypt', () => {
      const file = load<AeadGroup>(aead.file);
      const counts = counter();
      for (const group of file.testGroups) {
        for (const t of group.tests) {
          counts[t.result]++;
          const id = `tcId ${t.tcId} (${t.comment}; ${t.flags.join(',')})`;
          const [key, iv, aad, msg, ct, tag] = [t.key, t.iv, t.aad, t.msg, t.ct, t.tag].map(fromHex) as [
            Uint8Array, Uint8Array, Uint8Array, Uint8Array, Uint8Array, Uint8Array,
          ];
          const sealed = new Uint8Array([...ct, ...tag]);
          const opened = attempt(() => aead.decrypt(sealed, aad, iv, key));
          const openedDetached = attempt(() => aead.decryptDetached(ct, tag, aad, iv, key));
          if (t.result === 'valid') {
            expect(toHex(aead.encrypt(msg, aad, iv, key)), id).toBe(toHex(sealed));
            expect(opened.ok && toHex(opened.value), id).toBe(toHex(msg));
            expect(openedDetached.ok && toHex(openedDetached.value), id).toBe(toHex(msg));
          } else {
            // No acceptable cases exist in these files; an invalid one must be refused either way.
            expect(t.result, id).toBe('invalid');
            expect(opened.ok, id).toBe(false);
            expect(openedDetached.ok, id).toBe(false);
            // A wrong-size nonce is refused when sealing too, never truncated or padded.
            if (iv.length !== aead.nonceBytes) expect(attempt(() => aead.encrypt(msg, aad, iv, key)).ok, id).toBe(false);
          }
        }
      }
      expect(counts).toEqual(aead.counts);
      checkTotal(file, counts);
    });
  });
}

describe.skipIf(!requireVectors('Wycheproof x25519_test.json', 'wycheproof', 'x25519_test.json'))('Wycheproof x25519_test.json', () => {
  it('valid cases agree; acceptable low-order cases throw, the other acceptable cases agree', () => {
    const file = load<XdhGroup>('x25519_test.json');
    const counts = counter();
    let refusedZero = 0;
    let acceptedAcceptable = 0;
    for (const group of file.testGroups) {
      expect(group.curve).toBe('curve25519');
      for (const t of group.tests) {
        counts[t.result]++;
        const id = `tcId ${t.tcId} (${t.comment}; ${t.flags.join(',')})`;
        const shared = attempt(() => sodium().crypto_scalarmult(fromHex(t.private), fromHex(t.public)));
        const zero = /^(00)+$/.test(t.shared);
        if (t.result === 'valid') {
          expect(shared.ok && toHex(shared.value), id).toBe(t.shared);
        } else if (t.result === 'acceptable') {
          // Recorded behaviour of libsodium 1.0.22: refuse exactly when the result would be all zeros.
          expect(zero, id).toBe(t.flags.includes('ZeroSharedSecret'));
          if (zero) {
            expect(shared.ok ? 'accepted' : shared.error, id).toBe('weak public key');
            refusedZero++;
          } else {
            expect(shared.ok && toHex(shared.value), id).toBe(t.shared);
            acceptedAcceptable++;
          }
        } else {
          expect(shared.ok, id).toBe(false);
        }
      }
    }
    expect(counts).toEqual({ valid: 264, invalid: 0, acceptable: 254 });
    expect(refusedZero).toBe(31);
    expect(acceptedAcceptable).toBe(223);
    checkTotal(file, counts);
  });
});

describe.skipIf(!requireVectors('Wycheproof ed25519_test.json', 'wycheproof', 'ed25519_test.json'))('Wycheproof ed25519_test.json', () => {
  it('libsodium verifies every valid signature and rejects every invalid one', () => {
    const file = load<EddsaGroup>('ed25519_test.json');
    const counts = counter();
    const discrepancies: string[] = [];
    let threw = 0;
    for (const group of file.testGroups) {
      const pk = fromHex(group.publicKey.pk);
      for (const t of group.tests) {
        counts[t.result]++;
        const verified = attempt(() => sodium().crypto_sign_verify_detached(fromHex(t.sig), fromHex(t.msg), pk));
        const accepted = verified.ok && verified.value === true;
        if (!verified.ok) {
          // Only for signatures that are not 64 bytes long.
          expect(verified.error).toBe('invalid signature length');
          expect(t.sig.length).not.toBe(128);
          threw++;
        }
        if (accepted !== (t.result === 'valid')) {
          discrepancies.push(`tcId ${t.tcId} ${t.result} (${t.comment}; ${t.flags.join(',')}): libsodium ${accepted ? 'accepts' : 'rejects'}`);
        }
      }
    }
    // Any entry here is a real difference between libsodium and Wycheproof; name it, do not hide it.
    expect(discrepancies).toEqual([]);
    expect(counts).toEqual({ valid: 88, invalid: 63, acceptable: 0 });
    expect(threw).toBe(12);
    checkTotal(file, counts);
  });
});
