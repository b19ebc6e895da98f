import { beforeAll, describe, expect, it } from 'vitest';
import { inspect } from 'node:util';
import { cryptoReady } from '../../crypto/sodium.ts';
import { exportDeviceIdentity, exportHubIdentity, importDeviceIdentity, importHubIdentity, newDeviceIdentity, newHubIdentity } from '../../crypto/identity.ts';
import { decodeCertificate, encodeCertificate, issueCertificate } from '../../crypto/certificate.ts';
import { CryptoError } from '../../crypto/errors.ts';
import { toBase64url, toHex } from '../../crypto/bytes.ts';

beforeAll(cryptoReady);

/** Every way a key object can end up in a log line or crash report. */
function renderings(value: unknown): string[] {
  return [inspect(value, { depth: 8 }), JSON.stringify(value), String(value), `${value}`];
}

function forms(secret: Uint8Array): string[] {
  return [toHex(secret), toBase64url(secret), Array.from(secret).join(','), Array.from(secret).join(', ')];
}

describe('secrets never show', () => {
  it('identities print no private key in any form', () => {
    const hub = newHubIdentity();
    const phone = newDeviceIdentity();
    const secrets = [hub.signing, hub.exchange, hub.pq, hub.relay, phone.signing, phone.exchange, phone.pq].map((k) => k.privateKey.expose());
    for (const shown of [...renderings(hub), ...renderings(phone)]) {
      for (const s of secrets) for (const f of forms(s)) expect(shown).not.toContain(f);
    }
    const err = new CryptoError('tampered', 'test', 'detail', { cause: hub });
    for (const s of secrets) expect(inspect(err, { depth: 8 })).not.toContain(Array.from(s).join(', '));
  });

  it('identities survive storage round trips and reject a damaged file', () => {
    const hub = newHubIdentity();
    const back = importHubIdentity(exportHubIdentity(hub));
    expect(toHex(back.hubId)).toBe(toHex(hub.hubId));
    expect(toHex(back.pq.publicKey)).toBe(toHex(hub.pq.publicKey));
    const phone = newDeviceIdentity();
    expect(toHex(importDeviceIdentity(exportDeviceIdentity(phone)).deviceId)).toBe(toHex(phone.deviceId));
    const damaged = exportHubIdentity(hub);
    damaged[40]! ^= 1; // inside the Ed25519 secret: seed and public half no longer agree
    expect(() => importHubIdentity(damaged)).toThrowError(CryptoError);
    expect(() => importHubIdentity(exportDeviceIdentity(phone))).toThrowError(CryptoError);
  });

  it('a certificate verifies only under its hub key and any changed bit breaks it', () => {
    const hub = newHubIdentity();
    const other = newHubIdentity();
    const phone = newDeviceIdentity();
    const cert = issueCertificate(hub, {
      deviceId: phone.deviceId, signingKey: phone.signing.publicKey, exchangeKey: phone.exchange.publicKey,
      pqKey: phone.pq.publicKey, relayKey: new Uint8Array(32).fill(7),
    }, 'owner', 1000);
    const bytes = encodeCertificate(cert);
    expect(decodeCertificate(bytes, hub.signing.publicKey).role).toBe('owner');
    expect(() => decodeCertificate(bytes, other.signing.publicKey)).toThrowError(expect.objectContaining({ code: 'tampered' }));
    for (let i = 0; i < bytes.length * 8; i += 13) {
      const bad = Uint8Array.from(bytes);
      bad[i >> 3]! ^= 1 << (i & 7);
      expect(() => decodeCertificate(bad, hub.signing.publicKey), `bit ${i}`).toThrowError(CryptoError);
    }
  });
});
