// Known-answer vectors for key updates (docs/PROTOCOL.md §7): test/crypto/vectors/keyupdate.json.
// Two forms: `signed` (what travels inside a session, §7.1-7.2) and `offline` (the X-Wing envelope
// for a phone without a session, §7.3). Signatures are deterministic and the offline envelope's
// encapsulation is fixed by a seed (crypto/sodium.testing.ts), so the real signKeyUpdate and
// sealKeyUpdateOffline must reproduce every good entry byte for byte.
import { beforeAll, describe, expect, it } from 'vitest';
import { cryptoReady, sodium } from '../../crypto/sodium.ts';
import { fromHex, toHex } from '../../crypto/bytes.ts';
import { deviceIdentityFromSeeds, hubIdentityFromSeeds } from '../../crypto/identity.testing.ts';
import { sealKeyUpdateOffline, signKeyUpdate } from '../../crypto/keyupdate.ts';
import { Secret } from '../../crypto/secret.ts';
import { withFixedRandomness } from '../../crypto/sodium.testing.ts';
import { deviceSeedsFrom, expectKinds, hubSeedsFrom, outcome, readVectors } from './kat-support.ts';
import { type Vector, fields, open } from './generate/keyupdate.ts';

beforeAll(async () => {
  await cryptoReady();
});

describe('key update known-answer vectors (test/crypto/vectors/keyupdate.json)', () => {
  const vectors = readVectors<Vector>('keyupdate');

  it('covers success, not-for-me, tampered, malformed and unsupported, in both forms', () => {
    expectKinds(vectors, ['success', 'not-for-me', 'tampered', 'malformed', 'unsupported']);
    expectKinds(vectors.filter((v) => v.form === 'offline'), ['success', 'not-for-me', 'tampered', 'malformed', 'unsupported']);
  });

  for (const v of vectors) {
    it(`${v.form} ${v.name}: ${v.expect}`, () => {
      expect(outcome(() => open(v))).toBe(v.expect);
      if (v.expect !== 'success' || v.hubSeeds === undefined || v.update === undefined) return;
      expect(fields(open(v))).toEqual(v.update);
      const hub = hubIdentityFromSeeds(hubSeedsFrom(v.hubSeeds));
      const u = v.update;
      const signed = toHex(signKeyUpdate(hub, {
        epoch: u.epoch, rosterHash: fromHex(u.rosterHash), recipient: fromHex(u.recipient), issuedAt: u.issuedAt,
        cameras: u.cameras.map((c) => ({ cameraId: fromHex(c.cameraId), cameraNumber: c.cameraNumber, key: new Secret(fromHex(c.key), 'content key') })),
      }));
      if (v.form === 'signed') {
        expect(signed).toBe(v.wire);
        return;
      }
      expect(signed).toBe(v.signed);
      const phone = deviceIdentityFromSeeds(deviceSeedsFrom(v.recipientSeeds ?? { signing: '', exchange: '', pq: '' }));
      const seed = fromHex(v.encapsulationSeed ?? '');
      const wire = withFixedRandomness({ encapsulationSeeds: [seed] }, () =>
        sealKeyUpdateOffline(hub.hubId, { deviceId: phone.deviceId, pqKey: phone.pq.publicKey }, fromHex(signed)));
      expect(toHex(wire)).toBe(v.wire);
      const kem = sodium().crypto_kem_xwing_enc_deterministic(phone.pq.publicKey, seed);
      expect(toHex(kem.ciphertext)).toBe(v.kem?.ciphertext);
      expect(v.wire.slice(2 * 33, 2 * (33 + 1120))).toBe(v.kem?.ciphertext);
      expect(toHex(sodium().crypto_kem_xwing_dec(kem.ciphertext, sodium().crypto_kem_xwing_seed_keypair(fromHex(v.recipientSeeds?.pq ?? '')).privateKey))).toBe(v.kem?.sharedSecret);
    });
  }
});
