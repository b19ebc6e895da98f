// crypto/push.ts: a push message opens only for its phone, from its hub, unchanged, and is always the same size.
import { beforeAll, describe, expect, it } from 'vitest';
import { cryptoReady, sodium } from '../../crypto/sodium.ts';
import { hubPublicKeys, newDeviceIdentity, newHubIdentity, type DeviceIdentity, type HubIdentity } from '../../crypto/identity.ts';
import {
  MAX_PUSH_CAMERA_NAME_BYTES, MAX_PUSH_THUMBNAIL_BYTES, PUSH_ENVELOPE_BYTES, openPushMessage, sealPushMessage,
} from '../../crypto/push.ts';
import { isCryptoError } from '../../crypto/errors.ts';
import { utf8 } from '../../crypto/bytes.ts';

let hub: HubIdentity;
let other: HubIdentity;
let phone: DeviceIdentity;
let stranger: DeviceIdentity;
const cameraId = new Uint8Array(16).fill(7);

beforeAll(async () => {
  await cryptoReady();
  hub = newHubIdentity();
  other = newHubIdentity();
  phone = newDeviceIdentity();
  stranger = newDeviceIdentity();
});

function seal(from: HubIdentity, to: DeviceIdentity, o: { name?: string; thumbnail?: Uint8Array; seq?: bigint } = {}): Uint8Array {
  return sealPushMessage(from, { deviceId: to.deviceId, pqKey: to.pq.publicKey }, {
    seq: o.seq ?? 5n, sentAt: 1_700_000_000_123, kind: 'motion', cameraId, cameraName: o.name ?? 'Front door',
    eventStart: 1_700_000_000_000, thumbnail: o.thumbnail ?? new Uint8Array(0),
  });
}

function code(f: () => unknown): string {
  try {
    f();
    return 'ok';
  } catch (e) {
    if (isCryptoError(e)) return e.code;
    throw e;
  }
}

describe('push messages', () => {
  it('opens for its phone with every field, and is the same size whatever it carries', () => {
    const jpeg = sodium().randombytes_buf(MAX_PUSH_THUMBNAIL_BYTES);
    const small = seal(hub, phone);
    const full = seal(hub, phone, { name: 'x'.repeat(300), thumbnail: jpeg, seq: 1n << 40n });
    expect(small.length).toBe(PUSH_ENVELOPE_BYTES);
    expect(full.length).toBe(PUSH_ENVELOPE_BYTES);
    const m = openPushMessage(small, phone, hubPublicKeys(hub));
    expect(m).toMatchObject({ seq: 5n, sentAt: 1_700_000_000_123, kind: 'motion', cameraName: 'Front door', eventStart: 1_700_000_000_000 });
    expect([...m.cameraId]).toEqual([...cameraId]);
    const f = openPushMessage(full, phone, hubPublicKeys(hub));
    expect(f.cameraName).toBe('x'.repeat(MAX_PUSH_CAMERA_NAME_BYTES));
    expect([...f.thumbnail]).toEqual([...jpeg]);
    expect(f.seq).toBe(1n << 40n);
  });

  it('cuts a long name at a character, never inside one', () => {
    const m = openPushMessage(seal(hub, phone, { name: 'é'.repeat(40) }), phone, hubPublicKeys(hub));
    expect(utf8(m.cameraName).length).toBeLessThanOrEqual(MAX_PUSH_CAMERA_NAME_BYTES);
    expect(m.cameraName).toBe('é'.repeat(32));
  });

  it('refuses a thumbnail too big to seal', () => {
    expect(() => seal(hub, phone, { thumbnail: new Uint8Array(MAX_PUSH_THUMBNAIL_BYTES + 1) })).toThrow(RangeError);
  });

  it('a changed byte anywhere is tampered or not-for-me; another hub, another phone, a wrong size are refused', () => {
    const wire = seal(hub, phone);
    for (const i of [0, 1, 20, 40, 600, 1200, 2000, PUSH_ENVELOPE_BYTES - 1]) {
      const bad = Uint8Array.from(wire);
      bad[i]! ^= 1;
      expect(['tampered', 'not-for-me', 'unsupported']).toContain(code(() => openPushMessage(bad, phone, hubPublicKeys(hub))));
    }
    expect(code(() => openPushMessage(seal(other, phone), phone, hubPublicKeys(hub)))).toBe('not-for-me');
    expect(code(() => openPushMessage(wire, stranger, hubPublicKeys(hub)))).toBe('not-for-me');
    expect(code(() => openPushMessage(wire.subarray(1), phone, hubPublicKeys(hub)))).toBe('malformed');
  });

  it('another hub that claims this hub\'s id cannot sign for it', () => {
    // Sealed by `other` under `hub`'s id: the seal opens (anyone can seal to a phone's public key), the signature does not.
    const forged = sealPushMessage({ ...other, hubId: hub.hubId }, { deviceId: phone.deviceId, pqKey: phone.pq.publicKey }, {
      seq: 9n, sentAt: 1, kind: 'tamper', cameraId, cameraName: 'Front door', eventStart: 1, thumbnail: new Uint8Array(0),
    });
    expect(code(() => openPushMessage(forged, phone, hubPublicKeys(hub)))).toBe('tampered');
  });
});
