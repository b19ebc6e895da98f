// X-Wing (ML-KEM-768 + X25519) against the published vectors of the IETF draft
// (draft-connolly-cfrg-xwing-kem, spec/test-vectors.json), read from the shared vectors folder the
// way the Wycheproof suite reads its files (test/support/vectors.ts; never copied into the repo).
// Each vector gives a 32-byte seed (the private key as Vigil stores it, docs/PROTOCOL.md §0.1), the
// public key it expands to, a 64-byte encapsulation seed, the ciphertext and the shared secret.
// They run through the exact libsodium build Vigil ships and through the code paths that use it:
// key pairs from a seed (crypto/identity.ts), encapsulation as session and offline key update call it
// (crypto_kem_xwing_enc, fixed by crypto/sodium.testing.ts), and decapsulation with the private key
// expanded from the stored seed (pqPrivateKey).
import { beforeAll, describe, expect, it } from 'vitest';
import { cryptoReady, sodium } from '../../crypto/sodium.ts';
import { fromHex, toHex } from '../../crypto/bytes.ts';
import { pqPrivateKey } from '../../crypto/identity.ts';
import { Secret } from '../../crypto/secret.ts';
import { withFixedRandomness } from '../../crypto/sodium.testing.ts';
import { readVectorText, requireVectors } from '../support/vectors.ts';

beforeAll(async () => {
  await cryptoReady();
});

interface XWingVector {
  seed: string;
  sk: string;
  pk: string;
  eseed: string;
  ct: string;
  ss: string;
}

const FILE = ['xwing', 'test-vectors.json'] as const;

describe.skipIf(!requireVectors('X-Wing draft vectors', ...FILE))('X-Wing: the draft\'s published vectors', () => {
  const vectors = requireVectors('X-Wing draft vectors', ...FILE) ? (JSON.parse(readVectorText(...FILE)) as XWingVector[]) : [];

  it('has the draft\'s three vectors, with the sizes Vigil expects', () => {
    expect(vectors).toHaveLength(3);
    for (const v of vectors) {
      expect([v.seed, v.sk, v.pk, v.eseed, v.ct, v.ss].map((h) => h.length / 2)).toEqual([32, 32, 1216, 64, 1120, 32]);
      // The draft's private key is the seed itself, as Vigil stores it.
      expect(v.sk).toBe(v.seed);
    }
  });

  for (const [i, v] of vectors.entries()) {
    describe(`vector ${i}`, () => {
      it('the seed expands to the published public key', () => {
        const kp = sodium().crypto_kem_xwing_seed_keypair(fromHex(v.seed));
        expect(toHex(kp.publicKey)).toBe(v.pk);
      });

      it('encapsulation with the published seed gives the published ciphertext and shared secret', () => {
        const direct = sodium().crypto_kem_xwing_enc_deterministic(fromHex(v.pk), fromHex(v.eseed));
        expect(toHex(direct.ciphertext)).toBe(v.ct);
        expect(toHex(direct.sharedSecret)).toBe(v.ss);
        // The call session.ts and keyupdate.ts make, with its randomness fixed to the vector's seed.
        const viaVigil = withFixedRandomness({ encapsulationSeeds: [fromHex(v.eseed)] }, () => sodium().crypto_kem_xwing_enc(fromHex(v.pk)));
        expect(toHex(viaVigil.ciphertext)).toBe(v.ct);
        expect(toHex(viaVigil.sharedSecret)).toBe(v.ss);
      });

      it('decapsulation with the key expanded from the stored seed gives the published shared secret', () => {
        const pair = { publicKey: fromHex(v.pk), privateKey: new Secret(fromHex(v.seed), 'x-wing vector key') };
        const ss = sodium().crypto_kem_xwing_dec(fromHex(v.ct), pqPrivateKey(pair));
        expect(toHex(ss)).toBe(v.ss);
      });

      it('a changed ciphertext decapsulates to an unrelated secret, without an error (implicit rejection)', () => {
        const privateKey = pqPrivateKey({ publicKey: fromHex(v.pk), privateKey: new Secret(fromHex(v.seed), 'x-wing vector key') });
        // One bit in the ML-KEM part, and one in the X25519 part (its last 32 bytes).
        for (const at of [0, 1120 - 1]) {
          const ct = fromHex(v.ct);
          ct[at] = (ct[at] ?? 0) ^ 0x01;
          const ss = sodium().crypto_kem_xwing_dec(ct, privateKey);
          expect(ss).toHaveLength(32);
          expect(toHex(ss)).not.toBe(v.ss);
        }
      });
    });
  }
});
