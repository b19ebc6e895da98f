// A camera profile's relay topic (docs/PROTOCOL.md §10.2): the protocol's H() over the camera's id
// and the profile's name. The known answers pin the topics a running hub publishes to; the spec's
// formula is recomputed here from libsodium's BLAKE2b directly, not through crypto/hash.ts.
import { beforeAll, describe, expect, it } from 'vitest';
import { concat, fromHex, toHex, utf8 } from '../../crypto/bytes.ts';
import { LABEL_PROFILE_TOPIC } from '../../crypto/labels.ts';
import { profileTopic } from '../../crypto/profile-topic.ts';
import { cryptoReady, sodium } from '../../crypto/sodium.ts';

beforeAll(async () => {
  await cryptoReady();
});

describe('profile topic', () => {
  it('gives the known topics', () => {
    expect(profileTopic(fromHex('000102030405060708090a0b0c0d0e0f'), 'h264')).toBe('330e7cd0b120c34173c5b4ca4db8f54b');
    expect(profileTopic(fromHex('f0e1d2c3b4a5968778695a4b3c2d1e0f'), 'h264')).toBe('f385cd9ebc92166e0de6a380bfb832bc');
  });

  it('is the spec\'s formula, H(label, 16, cameraId || 0x00 || name), with the label the spec quotes', () => {
    expect(LABEL_PROFILE_TOPIC).toBe('vigil v1 profile topic');
    const cameraId = fromHex('5a'.repeat(16));
    const label = utf8('vigil v1 profile topic');
    const spec = toHex(sodium().crypto_generichash(16, concat(Uint8Array.of(label.length), label, cameraId, Uint8Array.of(0), utf8('mpeg1')), null));
    expect(profileTopic(cameraId, 'mpeg1')).toBe(spec);
  });

  it('differs per camera and per profile name', () => {
    const a = profileTopic(fromHex('00'.repeat(16)), 'h264');
    expect(profileTopic(fromHex('00'.repeat(15) + '01'), 'h264')).not.toBe(a);
    expect(profileTopic(fromHex('00'.repeat(16)), 'mpeg1')).not.toBe(a);
  });

  it('refuses a camera id that is not 16 bytes and an empty name', () => {
    expect(() => profileTopic(new Uint8Array(15), 'h264')).toThrow(RangeError);
    expect(() => profileTopic(new Uint8Array(16), '')).toThrow(RangeError);
  });
});
