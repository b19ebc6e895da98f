// The cross-check message (crypto/crosscheck.ts, PROTOCOL §16.4): sealed to one phone, signed by
// another whose certificate the hub signed; every fault is a typed error.
import { beforeAll, describe, expect, it } from 'vitest';
import { issueCertificate, encodeCertificate } from '../../../crypto/certificate.ts';
import { CROSSCHECK_BYTES, MAX_CHECK_AGE_MS, openCrossCheck, sealCrossCheck } from '../../../crypto/crosscheck.ts';
import { hubPublicKeys, newDeviceIdentity, newHubIdentity, newSigningKeyPair, type DeviceIdentity } from '../../../crypto/identity.ts';
import { cryptoReady } from '../../../crypto/sodium.ts';

function phone(hub: ReturnType<typeof newHubIdentity>, role: 'owner' | 'viewer' = 'owner'): { device: DeviceIdentity; cert: Uint8Array } {
  const device = newDeviceIdentity();
  const cert = issueCertificate(hub, {
    deviceId: device.deviceId, signingKey: device.signing.publicKey, exchangeKey: device.exchange.publicKey,
    pqKey: device.pq.publicKey, relayKey: newSigningKeyPair('relay').publicKey,
  }, role, Math.floor(Date.now() / 1000));
  return { device, cert: encodeCertificate(cert) };
}

describe('cross-check message', () => {
  let hub: ReturnType<typeof newHubIdentity>;
  let a: ReturnType<typeof phone>;
  let b: ReturnType<typeof phone>;
  const now = 1_800_000_000_000;
  const head = new Uint8Array(32).fill(7);
  beforeAll(async () => {
    await cryptoReady();
    hub = newHubIdentity();
    a = phone(hub);
    b = phone(hub);
  });
  const seal = (over: Partial<{ at: number; to: Uint8Array; hubId: Uint8Array }> = {}): Uint8Array =>
    sealCrossCheck(a.device, a.cert, b.device.exchange.publicKey, { hubId: over.hubId ?? hub.hubId, to: over.to ?? b.device.deviceId, at: over.at ?? now, answer: true, length: 3, head });

  it('opens for its receiver with what the sender verified, at a fixed size', () => {
    const sealed = seal();
    expect(sealed.length).toBe(CROSSCHECK_BYTES);
    const c = openCrossCheck(sealed, b.device, hubPublicKeys(hub), now);
    expect(c.length).toBe(3);
    expect(c.head).toEqual(head);
    expect(c.from).toEqual(a.device.deviceId);
    expect(c.answer).toBe(true);
  });

  it('a changed bit anywhere: tampered', () => {
    const sealed = seal();
    for (const i of [1, 40, 200, sealed.length - 1]) {
      const bad = sealed.slice();
      bad[i]! ^= 1;
      expect(() => openCrossCheck(bad, b.device, hubPublicKeys(hub), now)).toThrow(expect.objectContaining({ code: 'tampered' }));
    }
  });

  it('sealed to another phone: does not open (tampered); naming another phone or hub: not-for-me', () => {
    const c = phone(hub);
    expect(() => openCrossCheck(seal(), c.device, hubPublicKeys(hub), now)).toThrow(expect.objectContaining({ code: 'tampered' }));
    expect(() => openCrossCheck(seal({ to: c.device.deviceId }), b.device, hubPublicKeys(hub), now)).toThrow(expect.objectContaining({ code: 'not-for-me' }));
    expect(() => openCrossCheck(seal({ hubId: new Uint8Array(16) }), b.device, hubPublicKeys(hub), now)).toThrow(expect.objectContaining({ code: 'not-for-me' }));
  });

  it('wrong sender: another phone\'s certificate, or one another hub signed: tampered', () => {
    const c = phone(hub);
    const forged = sealCrossCheck(a.device, c.cert, b.device.exchange.publicKey, { hubId: hub.hubId, to: b.device.deviceId, at: now, answer: false, length: 3, head });
    expect(() => openCrossCheck(forged, b.device, hubPublicKeys(hub), now)).toThrow(expect.objectContaining({ code: 'tampered' }));
    const other = newHubIdentity();
    const stranger = phone(other);
    const fromStranger = sealCrossCheck(stranger.device, stranger.cert, b.device.exchange.publicKey, { hubId: hub.hubId, to: b.device.deviceId, at: now, answer: false, length: 3, head });
    expect(() => openCrossCheck(fromStranger, b.device, hubPublicKeys(hub), now)).toThrow(expect.objectContaining({ code: 'tampered' }));
  });

  it('replayed or old: replayed, expired', () => {
    const sealed = seal();
    expect(() => openCrossCheck(sealed, b.device, hubPublicKeys(hub), now, () => now)).toThrow(expect.objectContaining({ code: 'replayed' }));
    expect(openCrossCheck(sealed, b.device, hubPublicKeys(hub), now, () => now - 1).at).toBe(now);
    expect(() => openCrossCheck(seal({ at: now - MAX_CHECK_AGE_MS - 1 }), b.device, hubPublicKeys(hub), now)).toThrow(expect.objectContaining({ code: 'expired' }));
    expect(() => openCrossCheck(seal({ at: now + 3_600_000 }), b.device, hubPublicKeys(hub), now)).toThrow(expect.objectContaining({ code: 'expired' }));
  });

  it('oversized, short or another kind: malformed', () => {
    const sealed = seal();
    const longer = new Uint8Array(sealed.length + 1);
    longer.set(sealed);
    expect(() => openCrossCheck(longer, b.device, hubPublicKeys(hub), now)).toThrow(expect.objectContaining({ code: 'malformed' }));
    expect(() => openCrossCheck(sealed.subarray(0, 100), b.device, hubPublicKeys(hub), now)).toThrow(expect.objectContaining({ code: 'malformed' }));
    const kind = sealed.slice();
    kind[0] = 0x20;
    expect(() => openCrossCheck(kind, b.device, hubPublicKeys(hub), now)).toThrow(expect.objectContaining({ code: 'malformed' }));
  });
});
