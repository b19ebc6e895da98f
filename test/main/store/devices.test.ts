import { beforeAll, describe, expect, it } from 'vitest';
import { cryptoReady } from '../../../crypto/sodium.ts';
import { newDeviceIdentity, newHubIdentity, newSigningKeyPair, type HubIdentity } from '../../../crypto/identity.ts';
import { encodeCertificate, issueCertificate, type DeviceCertificate, type Role } from '../../../crypto/certificate.ts';
import { toHex } from '../../../crypto/bytes.ts';
import { open, tempDataDir } from './helpers.ts';

let hub: HubIdentity;
beforeAll(async () => {
  await cryptoReady();
  hub = newHubIdentity();
});

function certificate(role: Role = 'viewer'): DeviceCertificate {
  const d = newDeviceIdentity();
  return issueCertificate(hub, {
    deviceId: d.deviceId, signingKey: d.signing.publicKey, exchangeKey: d.exchange.publicKey, pqKey: d.pq.publicKey,
    relayKey: newSigningKeyPair('relay').publicKey,
  }, role, 1_800_000_000);
}

describe('devices', () => {
  it('enrols a phone from its certificate, keys and ids in hex', () => {
    const store = open(tempDataDir(), { now: () => 1_800_000_100 });
    const cert = certificate('owner');
    const device = store.addDevice({ name: "Ana's phone", certificate: cert });
    expect(device).toEqual({
      id: toHex(cert.deviceId), name: "Ana's phone", role: 'owner', certificate: encodeCertificate(cert),
      relayKey: toHex(cert.relayKey), exchangeKey: toHex(cert.exchangeKey), signingKey: toHex(cert.signingKey),
      pairedAt: 1_800_000_100, lastSeen: null, revokedAt: null, lastCommandSeq: -1n, scope: null,
    });
    expect(store.getDevice(cert.deviceId)).toEqual(device);
    expect(store.getDevice(device.id.toUpperCase())).toEqual(device);
    expect(store.findDeviceByExchangeKey(cert.exchangeKey)?.id).toBe(device.id);
    expect(store.findDeviceByRelayKey(toHex(cert.relayKey))?.id).toBe(device.id);
    expect(store.findDeviceByRelayKey(cert.exchangeKey)).toBeUndefined();
    expect(store.renameDevice(device.id, 'Ana').name).toBe('Ana');
  });

  it('revokes for good: finders skip revoked phones unless asked, and the id cannot be enrolled again', () => {
    const store = open(tempDataDir());
    const cert = certificate();
    const other = store.addDevice({ name: 'Other', certificate: certificate() });
    const device = store.addDevice({ name: 'Lost phone', certificate: cert });
    expect(store.revokeDevice(device.id)).toBe(true);
    expect(store.revokeDevice(device.id)).toBe(false);
    expect(store.getDevice(device.id)?.revokedAt).toEqual(expect.any(Number));
    expect(store.findDeviceByExchangeKey(cert.exchangeKey)).toBeUndefined();
    expect(store.findDeviceByRelayKey(cert.relayKey)).toBeUndefined();
    expect(store.findDeviceByExchangeKey(cert.exchangeKey, { includeRevoked: true })?.id).toBe(device.id);
    expect(store.listDevices().map((d) => d.id)).toEqual([other.id]);
    expect(store.listDevices({ includeRevoked: true })).toHaveLength(2);
    expect(() => store.addDevice({ name: 'Again', certificate: cert })).toThrow(/already enrolled or was revoked/);
  });

  it('keeps the last command sequence, only moving forward, across re-open', () => {
    const dir = tempDataDir();
    const store = open(dir);
    const device = store.addDevice({ name: 'P', certificate: certificate() });
    expect(store.lastCommandSeq(device.id)).toBe(-1n);
    expect(store.setLastCommandSeq(device.id, 0n)).toBe(true);
    expect(store.setLastCommandSeq(device.id, 5n)).toBe(true);
    expect(store.setLastCommandSeq(device.id, 5n)).toBe(false);
    expect(store.setLastCommandSeq(device.id, 3n)).toBe(false);
    store.close();
    const again = open(dir);
    expect(again.lastCommandSeq(device.id)).toBe(5n);
    expect(again.setLastCommandSeq(device.id, 0xffff_ffff_ffff_ffffn)).toBe(true);
    expect(again.lastCommandSeq(device.id)).toBe(0xffff_ffff_ffff_ffffn);
    expect(() => again.setLastCommandSeq(device.id, 1n << 64n)).toThrow(/u64/);
    expect(() => again.lastCommandSeq('00'.repeat(16))).toThrow(/no device/);
  });

  it('records when a phone was last seen', () => {
    const store = open(tempDataDir(), { now: () => 1_800_000_500 });
    const device = store.addDevice({ name: 'P', certificate: certificate() });
    expect(store.touchDevice(device.id)).toBe(true);
    expect(store.getDevice(device.id)?.lastSeen).toBe(1_800_000_500);
    expect(store.touchDevice(device.id, 1_800_000_400)).toBe(true); // an older report does not go back
    expect(store.getDevice(device.id)?.lastSeen).toBe(1_800_000_500);
    expect(store.touchDevice('ab'.repeat(16))).toBe(false);
  });
});
