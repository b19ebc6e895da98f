// A camera profile's relay topic (docs/PROTOCOL.md §10.2). The known answers were computed by the
// hub's code before the derivation moved into crypto/: the topics a running hub publishes to must
// not move.
import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { fromHex } from '../../crypto/bytes.ts';
import { LABEL_PROFILE_TOPIC } from '../../crypto/labels.ts';
import { profileTopic, type Sha256 } from '../../crypto/profile-topic.ts';

const sha256: Sha256 = (m) => createHash('sha256').update(m).digest();

describe('profile topic', () => {
  it('gives the known topics', () => {
    expect(profileTopic(fromHex('000102030405060708090a0b0c0d0e0f'), 'h264', sha256)).toBe('e999c08eadec65b2d96193de5c05fddd');
    expect(profileTopic(fromHex('f0e1d2c3b4a5968778695a4b3c2d1e0f'), 'h264', sha256)).toBe('ebafcf324b22dac31f8475c07dcb35c5');
  });

  it('is the spec\'s formula, with the label the spec quotes', () => {
    expect(LABEL_PROFILE_TOPIC).toBe('vigil v1 profile topic');
    const cameraId = fromHex('5a'.repeat(16));
    const spec = createHash('sha256')
      .update('vigil v1 profile topic').update(Uint8Array.of(0)).update(cameraId).update(Uint8Array.of(0)).update('h264')
      .digest('hex').slice(0, 32);
    expect(profileTopic(cameraId, 'h264', sha256)).toBe(spec);
  });

  it('differs per camera and per profile name', () => {
    const a = profileTopic(fromHex('00'.repeat(16)), 'h264', sha256);
    expect(profileTopic(fromHex('00'.repeat(15) + '01'), 'h264', sha256)).not.toBe(a);
    expect(profileTopic(fromHex('00'.repeat(16)), 'h265', sha256)).not.toBe(a);
  });

  it('refuses a camera id that is not 16 bytes, an empty name and a hash that is not SHA-256 sized', () => {
    expect(() => profileTopic(new Uint8Array(15), 'h264', sha256)).toThrow(RangeError);
    expect(() => profileTopic(new Uint8Array(16), '', sha256)).toThrow(RangeError);
    expect(() => profileTopic(new Uint8Array(16), 'h264', () => new Uint8Array(16))).toThrow(RangeError);
  });
});
