import { beforeAll, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { inspect } from 'node:util';
import { cryptoReady, sodium } from '../../crypto/sodium.ts';
import { hubPublicKeys, newDeviceIdentity, newHubIdentity, type DeviceIdentity, type HubIdentity } from '../../crypto/identity.ts';
import {
  newContentKey, openKeyUpdate, openKeyUpdateOffline, sealKeyUpdateOffline, signKeyUpdate, type CameraKey,
} from '../../crypto/keyupdate.ts';
import { rosterHash } from '../../crypto/roster.ts';
import { isCryptoError } from '../../crypto/errors.ts';
import { toHex } from '../../crypto/bytes.ts';

let hubA: HubIdentity;
let hubB: HubIdentity;
let phone: DeviceIdentity;
let stranger: DeviceIdentity;
let cameras: CameraKey[];

beforeAll(async () => {
  await cryptoReady();
  hubA = newHubIdentity();
  hubB = newHubIdentity();
  phone = newDeviceIdentity();
  stranger = newDeviceIdentity();
  cameras = [1, 2].map((n) => ({ cameraId: sodium().randombytes_buf(16), cameraNumber: n, key: newContentKey() }));
});

function update(hub: HubIdentity, recipient: DeviceIdentity, epoch = 7) {
  return signKeyUpdate(hub, {
    epoch,
    rosterHash: rosterHash(epoch, [{ deviceId: recipient.deviceId, role: 'viewer' }]),
    recipient: recipient.deviceId,
    issuedAt: 1_700_000_000_000,
    cameras,
  });
}

describe('key update', () => {
  it('opens for its recipient with every camera key', () => {
    const u = openKeyUpdate(update(hubA, phone), hubPublicKeys(hubA), phone.deviceId);
    expect(u.epoch).toBe(7);
    expect(u.cameras.map((c) => toHex(c.key.expose()))).toEqual(cameras.map((c) => toHex(c.key.expose())));
  });

  it('T5: delivered to another phone, it is not for me', () => {
    expect(() => openKeyUpdate(update(hubA, phone), hubPublicKeys(hubA), stranger.deviceId)).toThrowError(
      expect.objectContaining({ code: 'not-for-me' }),
    );
  });

  it('T5: hub A\'s update handed to a phone of hub B is not for me', () => {
    expect(() => openKeyUpdate(update(hubA, phone), hubPublicKeys(hubB), phone.deviceId)).toThrowError(
      expect.objectContaining({ code: 'not-for-me' }),
    );
  });

  it('T6: a flipped bit anywhere is rejected', () => {
    const signed = update(hubA, phone);
    for (let i = 0; i < signed.length * 8; i += 7) {
      const bad = Uint8Array.from(signed);
      bad[i >> 3]! ^= 1 << (i & 7);
      let opened = false;
      try {
        openKeyUpdate(bad, hubPublicKeys(hubA), phone.deviceId);
        opened = true;
      } catch (e) {
        expect(isCryptoError(e)).toBe(true);
      }
      expect(opened, `bit ${i}`).toBe(false);
    }
  });

  it('a key update signed by another hub key but claiming hub A is tampered', () => {
    const forged = signKeyUpdate({ ...hubB, hubId: hubA.hubId }, {
      epoch: 8, rosterHash: new Uint8Array(32), recipient: phone.deviceId, issuedAt: 0, cameras,
    });
    expect(() => openKeyUpdate(forged, hubPublicKeys(hubA), phone.deviceId)).toThrowError(
      expect.objectContaining({ code: 'tampered' }),
    );
  });

  it('offline delivery with X-Wing opens only for its recipient', () => {
    const wire = sealKeyUpdateOffline(hubA.hubId, { deviceId: phone.deviceId, pqKey: phone.pq.publicKey }, update(hubA, phone));
    expect(openKeyUpdateOffline(wire, phone, hubPublicKeys(hubA)).epoch).toBe(7);
    // The relay re-addresses it to the stranger: the header no longer matches the sealed AD.
    const readdressed = Uint8Array.from(wire);
    readdressed.set(stranger.deviceId, 17);
    expect(() => openKeyUpdateOffline(readdressed, stranger, hubPublicKeys(hubA))).toThrowError(
      expect.objectContaining({ code: 'tampered' }),
    );
    expect(() => openKeyUpdateOffline(wire, stranger, hubPublicKeys(hubA))).toThrowError(
      expect.objectContaining({ code: 'not-for-me' }),
    );
    const flipped = Uint8Array.from(wire);
    flipped[100]! ^= 0x40; // inside the X-Wing ciphertext
    expect(() => openKeyUpdateOffline(flipped, phone, hubPublicKeys(hubA))).toThrowError(
      expect.objectContaining({ code: 'tampered' }),
    );
  });

  it('the wire form holds no content key in the clear', () => {
    const wire = sealKeyUpdateOffline(hubA.hubId, { deviceId: phone.deviceId, pqKey: phone.pq.publicKey }, update(hubA, phone));
    for (const c of cameras) expect(toHex(wire)).not.toContain(toHex(c.key.expose()));
    expect(inspect(openKeyUpdate(update(hubA, phone), hubPublicKeys(hubA), phone.deviceId), { depth: 6 })).not.toContain(
      Array.from(cameras[0]!.key.expose()).join(', '),
    );
  });

  it('rosters with the same members in any order hash the same; a changed role does not', () => {
    const a = { deviceId: phone.deviceId, role: 'owner' as const };
    const b = { deviceId: stranger.deviceId, role: 'viewer' as const };
    expect(toHex(rosterHash(3, [a, b]))).toBe(toHex(rosterHash(3, [b, a])));
    expect(toHex(rosterHash(3, [a, b]))).not.toBe(toHex(rosterHash(3, [a, { ...b, role: 'owner' }])));
    expect(toHex(rosterHash(3, [a, b]))).not.toBe(toHex(rosterHash(4, [a, b])));
  });

  it('any bytes give a key update or a CryptoError', () => {
    const pub = hubPublicKeys(hubA);
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 1400 }), (bytes) => {
        for (const f of [() => openKeyUpdate(bytes, pub, phone.deviceId), () => openKeyUpdateOffline(bytes, phone, pub)]) {
          try {
            f();
          } catch (e) {
            if (!isCryptoError(e)) throw e;
          }
        }
      }),
      { numRuns: 500 },
    );
  });
});
