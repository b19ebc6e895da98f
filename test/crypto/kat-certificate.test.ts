// Known-answer vectors for device certificates (docs/PROTOCOL.md §4): test/crypto/vectors/certificate.json.
// Ed25519 signatures are deterministic and every key comes from a seed, so a good certificate must be
// reproduced byte for byte by issueCertificate, and every changed one refused with its `expect` code.
import { beforeAll, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { cryptoReady } from '../../crypto/sodium.ts';
import { concat, fromHex, toHex } from '../../crypto/bytes.ts';
import { CERTIFICATE_BYTES, decodeCertificate, encodeCertificate, issueCertificate } from '../../crypto/certificate.ts';
import { hubIdentityFromSeeds } from '../../crypto/identity.testing.ts';
import { expectKinds, hubSeedsFrom, outcome, readVectors } from './kat-support.ts';
import { type Vector, fields } from './generate/certificate.ts';

beforeAll(async () => {
  await cryptoReady();
});

const vectors = readVectors<Vector>('certificate');

describe('certificate known-answer vectors (test/crypto/vectors/certificate.json)', () => {
  it('covers success, tampered, malformed and unsupported', () => {
    expectKinds(vectors, ['success', 'tampered', 'malformed', 'unsupported']);
  });

  for (const v of vectors) {
    it(`${v.name}: ${v.expect}`, () => {
      expect(outcome(() => decodeCertificate(fromHex(v.certificate), fromHex(v.hubSigningKey)))).toBe(v.expect);
      if (v.expect !== 'success' || v.fields === undefined || v.hubSeeds === undefined) return;
      const cert = decodeCertificate(fromHex(v.certificate), fromHex(v.hubSigningKey));
      expect(fields(cert)).toEqual(v.fields);
      const hub = hubIdentityFromSeeds(hubSeedsFrom(v.hubSeeds));
      expect(toHex(hub.signing.publicKey)).toBe(v.hubSigningKey);
      const f = v.fields;
      const again = issueCertificate(hub, {
        deviceId: fromHex(f.deviceId), signingKey: fromHex(f.signingKey), exchangeKey: fromHex(f.exchangeKey), pqKey: fromHex(f.pqKey), relayKey: fromHex(f.relayKey),
      }, f.role, f.issuedAt);
      expect(toHex(encodeCertificate(again))).toBe(v.certificate);
    });
  }
});

describe('decodeCertificate on hostile input', () => {
  it('any bytes, and any mutation of a good certificate, give a certificate or a CryptoError, quickly', () => {
    const good = vectors.find((v) => v.expect === 'success');
    if (good === undefined) return;
    const cert = fromHex(good.certificate);
    const key = fromHex(good.hubSigningKey);
    const mutated = fc.tuple(
      fc.array(fc.tuple(fc.nat(cert.length - 1), fc.integer({ min: 1, max: 255 })), { minLength: 1, maxLength: 4 }), fc.nat(cert.length + 2),
    ).map(([edits, cut]) => {
      const b = cut > cert.length ? concat(cert, new Uint8Array(cut - cert.length)) : cert.slice(0, cut);
      for (const [i, x] of edits) if (i < b.length) b[i] = (b[i] ?? 0) ^ x;
      return b;
    });
    const sized = fc.uint8Array({ minLength: CERTIFICATE_BYTES, maxLength: CERTIFICATE_BYTES });
    const started = performance.now();
    fc.assert(fc.property(fc.oneof(fc.uint8Array({ maxLength: 2000 }), sized, mutated), (bytes) => {
      const code = outcome(() => decodeCertificate(bytes, key));
      expect(['malformed', 'unsupported', 'tampered', ...(toHex(bytes) === good.certificate ? ['success'] : [])]).toContain(code);
    }), { numRuns: 2000 });
    expect(performance.now() - started).toBeLessThan(15_000);
  });
});
