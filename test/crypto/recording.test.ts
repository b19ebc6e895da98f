// Sealed recordings (crypto/recording.ts): the hub writes segments it cannot read back; a phone
// holding the epoch's seed opens them; every alteration an attacker with the disk can make is caught.
import { beforeAll, describe, expect, it } from 'vitest';
import { cryptoReady } from '../../crypto/sodium.ts';
import { hubPublicKeys, newDeviceIdentity, newHubIdentity, type DeviceIdentity, type HubIdentity } from '../../crypto/identity.ts';
import {
  SEGMENT_HEADER_BYTES, SegmentWriter, chainOver, decodeRecordingEpoch, encodeRecordingEpoch, newRecordingEpoch, openEpochKey, openSegment,
  proofSigned, readSegmentHeader, sealEpochKey, type RecordingEpoch,
} from '../../crypto/recording.ts';
import { concat } from '../../crypto/bytes.ts';
import { outcome } from './kat-support.ts';
import type { Secret } from '../../crypto/secret.ts';

let hub: HubIdentity;
let phone: DeviceIdentity;
let other: DeviceIdentity;
let epoch: RecordingEpoch;
let seed: Secret;
const camera = new Uint8Array(16).fill(7);

beforeAll(async () => {
  await cryptoReady();
  hub = newHubIdentity();
  phone = newDeviceIdentity();
  other = newDeviceIdentity();
  ({ epoch, seed } = newRecordingEpoch(hub, 3, 1_700_000_000_000));
});

function payload(i: number, size = 3000): Uint8Array {
  return new Uint8Array(size).map((_, j) => (i * 31 + j) & 0xff);
}

/** A closed segment of an init chunk and `n` fragments, as the file's bytes. */
function segment(id: bigint, n = 4, close = true, start = 1_700_000_001_000): { bytes: Uint8Array; writer: SegmentWriter } {
  const w = new SegmentWriter(hub, epoch, { cameraId: camera, segmentId: id, start });
  const parts = [w.headerBytes, w.chunk('init', start, payload(0, 700))];
  for (let i = 1; i <= n; i++) parts.push(w.chunk('media', start + i * 300, payload(i)));
  if (close) parts.push(w.close(start + (n + 1) * 300).bytes);
  return { bytes: concat(...parts), writer: w };
}

describe('recording epochs', () => {
  it('the seed opens only for the phone it was sealed to', () => {
    const sealed = sealEpochKey(hub.hubId, epoch.epoch, seed, { deviceId: phone.deviceId, pqKey: phone.pq.publicKey });
    const opened = openEpochKey(sealed, phone, hub.hubId);
    expect(opened.epoch).toBe(3);
    expect(Buffer.from(opened.seed.expose()).equals(Buffer.from(seed.expose()))).toBe(true);
    expect(outcome(() => openEpochKey(sealed, other, hub.hubId))).toBe('not-for-me');
    // Another phone that rewrites the recipient to itself still cannot open it.
    const readdressed = Uint8Array.from(sealed);
    readdressed.set(other.deviceId, 17);
    expect(outcome(() => openEpochKey(readdressed, other, hub.hubId))).toBe('tampered');
    const flipped = Uint8Array.from(sealed);
    flipped[flipped.length - 1]! ^= 1;
    expect(outcome(() => openEpochKey(flipped, phone, hub.hubId))).toBe('tampered');
  });

  it('an epoch is the hub\'s: a forged or another hub\'s public key is refused', () => {
    const wire = encodeRecordingEpoch(epoch);
    expect(decodeRecordingEpoch(wire, hubPublicKeys(hub)).epoch).toBe(3);
    const forged = Uint8Array.from(wire);
    forged[40]! ^= 1; // inside the public key
    expect(outcome(() => decodeRecordingEpoch(forged, hubPublicKeys(hub)))).toBe('tampered');
    const stranger = newHubIdentity();
    expect(outcome(() => decodeRecordingEpoch(encodeRecordingEpoch(newRecordingEpoch(stranger, 3, 0).epoch), hubPublicKeys(hub)))).toBe('not-for-me');
  });
});

describe('segments', () => {
  it('open with the epoch seed, in order, with the hub\'s signed proof', () => {
    const { bytes } = segment(10n);
    const s = openSegment(bytes, seed, hubPublicKeys(hub));
    expect(s.chunks.map((c) => c.kind)).toEqual(['init', 'media', 'media', 'media', 'media']);
    expect(Buffer.from(s.chunks[2]!.payload).equals(Buffer.from(payload(2)))).toBe(true);
    expect(s.truncated).toBe(false);
    expect(s.damaged).toBeUndefined();
    expect(s.proof).toBeDefined();
    expect(proofSigned(s.proof!, hub.signing.publicKey)).toBe(true);
    expect(chainOver(s.header, s.chunks)).toEqual(s.proof!.chainHead);
  });

  it('the hub cannot read back what it wrote: the writer forgets the key, and no other seed opens it', () => {
    const { bytes, writer } = segment(11n);
    expect(() => writer.chunk('media', 0, payload(9))).toThrow(/closed/);
    const { seed: otherSeed } = newRecordingEpoch(hub, 3, 0);
    expect(outcome(() => openSegment(bytes, otherSeed, hubPublicKeys(hub)))).toBe('tampered');
  });

  it('a segment the hub stopped writing opens to its last complete chunk, marked truncated', () => {
    const { bytes } = segment(12n, 4, false);
    const cut = bytes.subarray(0, bytes.length - 100); // the last chunk half written
    const s = openSegment(cut, seed, hubPublicKeys(hub));
    expect(s.chunks.length).toBe(4);
    expect(s.proof).toBeUndefined();
    expect(s.damaged).toMatch(/cut short/);
    expect(s.damage).toBe('cut');
    const whole = openSegment(bytes, seed, hubPublicKeys(hub));
    expect(whole.truncated).toBe(true);
    expect(whole.chunks.length).toBe(5);
  });

  it('a flipped byte stops reading at that chunk; the chunks before it still play', () => {
    const { bytes } = segment(13n);
    const firstMedia = SEGMENT_HEADER_BYTES + 13 + 700 + 16;
    const flipped = Uint8Array.from(bytes);
    flipped[firstMedia + 13 + 3000 + 16 + 20]! ^= 0x40; // inside the second fragment
    const s = openSegment(flipped, seed, hubPublicKeys(hub));
    expect(s.chunks.map((c) => c.index)).toEqual([0, 1]);
    expect(s.damaged).toMatch(/chunk 2 does not open/);
    expect(s.damage).toBe('altered');
    expect(s.proof).toBeUndefined();
  });

  it('cutting off the final chunk or the last fragments leaves no proof', () => {
    const { bytes } = segment(14n);
    const finalLength = 13 + 8 + 64 + 16;
    const s = openSegment(bytes.subarray(0, bytes.length - finalLength), seed, hubPublicKeys(hub));
    expect(s.proof).toBeUndefined();
    expect(s.truncated).toBe(true);
  });

  it('chunks cannot be reordered, nor taken from another segment, nor its time changed', () => {
    const a = segment(15n).bytes;
    const b = segment(16n).bytes;
    const chunkAt = (bytes: Uint8Array, n: number) => {
      let off = SEGMENT_HEADER_BYTES;
      for (let i = 0; i < n; i++) off += 13 + new DataView(bytes.buffer, bytes.byteOffset + off).getUint32(0);
      return [off, off + 13 + new DataView(bytes.buffer, bytes.byteOffset + off).getUint32(0)] as const;
    };
    const [s1, e1] = chunkAt(a, 1);
    const [s2, e2] = chunkAt(a, 2);
    const swapped = concat(a.subarray(0, s1), a.subarray(s2, e2), a.subarray(s1, e1), a.subarray(e2));
    expect(openSegment(swapped, seed, hubPublicKeys(hub)).damaged).toMatch(/chunk 1 does not open/);
    const [bs, be] = chunkAt(b, 1);
    const spliced = concat(a.subarray(0, s1), b.subarray(bs, be), a.subarray(e1));
    expect(openSegment(spliced, seed, hubPublicKeys(hub)).damaged).toMatch(/chunk 1 does not open/);
    const retimed = Uint8Array.from(a);
    retimed[s1 + 12]! ^= 1; // the chunk's time, in the clear but authenticated
    expect(openSegment(retimed, seed, hubPublicKeys(hub)).damaged).toMatch(/chunk 1 does not open/);
  });

  it('the header names the segment; a header from another hub is not for this phone', () => {
    const { bytes } = segment(17n);
    expect(readSegmentHeader(bytes)).toMatchObject({ segmentId: 17n, epoch: 3 });
    expect(outcome(() => openSegment(bytes, seed, hubPublicKeys(newHubIdentity())))).toBe('not-for-me');
    expect(outcome(() => readSegmentHeader(new Uint8Array(40)))).toBe('malformed');
  });

  it('a file renamed to another segment\'s name cannot be passed off as it: its header cannot be rewritten to name that segment', () => {
    // Two segments swapped on disk: the file's header still names its own segment (a reader
    // compares that with the segment it asked for, phone/core/recordings.ts). Rewriting the
    // header's segment id, camera or epoch changes the segment key's derivation, and any other
    // header byte (its start) every chunk's AD: nothing opens either way.
    const { bytes } = segment(19n);
    const fields: [string, number, number][] = [['cameraId', 4 + 1 + 16, 16], ['epoch', 4 + 1 + 32, 4], ['segmentId', 4 + 1 + 32 + 4, 8], ['start', 4 + 1 + 32 + 4 + 8, 8]];
    for (const [name, at, length] of fields) {
      const rewritten = Uint8Array.from(bytes);
      rewritten[at + length - 1]! ^= 1;
      if (name === 'start') {
        const s = openSegment(rewritten, seed, hubPublicKeys(hub));
        expect([s.chunks.length, s.damage, s.damaged], name).toEqual([0, 'altered', expect.stringMatching(/chunk 0 does not open/)]);
      } else {
        expect(outcome(() => openSegment(rewritten, seed, hubPublicKeys(hub))), name).toBe('tampered');
      }
    }
    expect(readSegmentHeader(Uint8Array.from(bytes)).segmentId).toBe(19n);
  });

  it('a proof does not verify over altered plaintext or under another hub\'s key', () => {
    const s = openSegment(segment(18n).bytes, seed, hubPublicKeys(hub));
    const altered = s.chunks.map((c, i) => (i === 3 ? { ...c, payload: payload(99) } : c));
    expect(chainOver(s.header, altered)).not.toEqual(s.proof!.chainHead);
    expect(proofSigned({ ...s.proof!, end: s.proof!.end + 1 }, hub.signing.publicKey)).toBe(false);
    expect(proofSigned(s.proof!, newHubIdentity().signing.publicKey)).toBe(false);
  });
});
