// Sealed events (crypto/event.ts): the hub seals to a recording epoch it cannot open; a phone with
// the epoch's seed opens it; anything altered, another hub's, another epoch's or too large is refused.
import { beforeAll, describe, expect, it } from 'vitest';
import { cryptoReady } from '../../crypto/sodium.ts';
import { hubPublicKeys, newHubIdentity, type HubIdentity } from '../../crypto/identity.ts';
import { newRecordingEpoch, type RecordingEpoch } from '../../crypto/recording.ts';
import {
  EVENT_HEADER_BYTES, EVENT_PAD_BYTES, MAX_BRIEF_EVENT_BYTES, MAX_PREVIEW_BYTES, briefEvent, MAX_SEALED_EVENT_BYTES, openEvent, readEventHeader, sealEvent, type EventRecord,
} from '../../crypto/event.ts';
import type { Secret } from '../../crypto/secret.ts';
import { outcome } from './kat-support.ts';

let hub: HubIdentity;
let epoch: RecordingEpoch;
let seed: Secret;
let later: { epoch: RecordingEpoch; seed: Secret };
const cameraId = new Uint8Array(16).fill(9);
const jpeg = Uint8Array.from([0xff, 0xd8, 0xff, 0xe0, ...new Array<number>(3000).fill(0x42), 0xff, 0xd9]);

const record: EventRecord = {
  kind: 'motion', source: 'motion', start: 1_700_000_000_000, end: 1_700_000_004_500, score: 0.8125, zones: ['door', 'path'],
  recording: { from: 1_699_999_995_000, to: 1_700_000_009_500 }, preview: jpeg,
};

beforeAll(async () => {
  await cryptoReady();
  hub = newHubIdentity();
  ({ epoch, seed } = newRecordingEpoch(hub, 4, 1_700_000_000_000));
  later = newRecordingEpoch(hub, 5, 1_700_000_100_000);
});

function seal(r: EventRecord = record, revision = 0): Uint8Array {
  return sealEvent(hub, epoch, { cameraId, eventId: 17n, revision }, r);
}

describe('sealed events', () => {
  it('opens with the epoch\'s seed to exactly what was sealed', () => {
    const wire = seal();
    const opened = openEvent(wire, { epoch: 4, seed }, hubPublicKeys(hub));
    expect(opened.header).toMatchObject({ epoch: 4, eventId: 17n, revision: 0 });
    expect(Buffer.from(opened.header.cameraId).equals(Buffer.from(cameraId))).toBe(true);
    expect({ ...opened.record, preview: undefined }).toEqual({ ...record, preview: undefined });
    expect(Buffer.from(opened.record.preview!).equals(Buffer.from(jpeg))).toBe(true);
    // Ongoing (no end), no picture, no zones.
    const ongoing = { kind: 'tamper', source: 'onvif', start: 5, score: 0, zones: [], recording: { from: 0, to: 10 } };
    expect(openEvent(seal(ongoing, 3), { epoch: 4, seed }, hubPublicKeys(hub)).record).toEqual(ongoing);
  });

  it('holds nothing of the record in clear, and its size says little of the picture', () => {
    const wire = seal();
    const text = Buffer.from(wire);
    expect(text.includes(Buffer.from('motion'))).toBe(false);
    expect(text.includes(Buffer.from('door'))).toBe(false);
    expect(text.includes(Buffer.from([0xff, 0xd8, 0xff]))).toBe(false);
    const a = seal({ ...record, preview: jpeg.subarray(0, 1500) }).length;
    const b = seal({ ...record, preview: jpeg.subarray(0, 1800) }).length;
    expect(a).toBe(b);
    const brief = briefEvent(seal());
    expect((brief.length - EVENT_HEADER_BYTES - 4 - 16 - 64) % EVENT_PAD_BYTES).toBe(0);
    // Each seal is its own encapsulation: two seals of one record share no ciphertext.
    expect(Buffer.from(seal()).subarray(0, EVENT_HEADER_BYTES).equals(Buffer.from(seal()).subarray(0, EVENT_HEADER_BYTES))).toBe(false);
  });

  it('its brief (details, no picture) is a prefix that opens alone; a picture from another seal does not fit', () => {
    const wire = seal();
    const brief = briefEvent(wire);
    expect(brief.length).toBeLessThan(3000);
    expect(brief.length).toBeLessThanOrEqual(MAX_BRIEF_EVENT_BYTES);
    expect(Buffer.from(wire).subarray(0, brief.length).equals(Buffer.from(brief))).toBe(true);
    const opened = openEvent(brief, { epoch: 4, seed }, hubPublicKeys(hub));
    expect(opened.record.preview).toBeUndefined();
    expect(opened.record.zones).toEqual(['door', 'path']);
    expect(briefEvent(brief).length).toBe(brief.length);
    // Another seal's picture put after this brief: its signature names the other header.
    const other = seal({ ...record, preview: jpeg.subarray(0, 100) });
    const spliced = new Uint8Array([...brief, ...other.subarray(briefEvent(other).length)]);
    expect(outcome(() => openEvent(spliced, { epoch: 4, seed }, hubPublicKeys(hub)))).toBe('tampered');
  });

  it('refuses any changed byte: header, body or signature', () => {
    const wire = seal();
    for (const at of [5, 30, 40, 48, EVENT_HEADER_BYTES - 1, EVENT_HEADER_BYTES + 10, wire.length - 80, wire.length - 1]) {
      const bad = Uint8Array.from(wire);
      bad[at]! ^= 1;
      expect(outcome(() => openEvent(bad, { epoch: 4, seed }, hubPublicKeys(hub))), `byte ${at}`).not.toBe('success');
    }
    // The hub id changed: another hub's (not-for-me), never opened.
    const other = Uint8Array.from(wire);
    other[6]! ^= 1;
    expect(outcome(() => openEvent(other, { epoch: 4, seed }, hubPublicKeys(hub)))).toBe('not-for-me');
    const body = Uint8Array.from(wire);
    body[EVENT_HEADER_BYTES + 10]! ^= 1;
    expect(outcome(() => openEvent(body, { epoch: 4, seed }, hubPublicKeys(hub)))).toBe('tampered');
    expect(outcome(() => openEvent(wire.subarray(0, wire.length - 1), { epoch: 4, seed }, hubPublicKeys(hub)))).not.toBe('success');
  });

  it('another hub\'s event, or one signed by another hub, is refused', () => {
    const stranger = newHubIdentity();
    expect(outcome(() => openEvent(seal(), { epoch: 4, seed }, hubPublicKeys(stranger)))).toBe('not-for-me');
    // Someone who knows the epoch's public key (any phone) seals with its own key under our hub id.
    const forged = sealEvent({ ...stranger, hubId: hub.hubId }, epoch, { cameraId, eventId: 17n, revision: 1 }, record);
    expect(outcome(() => openEvent(forged, { epoch: 4, seed }, hubPublicKeys(hub)))).toBe('tampered');
  });

  it('another epoch\'s seed does not open it', () => {
    const wire = seal();
    expect(outcome(() => openEvent(wire, { epoch: 5, seed: later.seed }, hubPublicKeys(hub)))).toBe('not-for-me');
    // A seed claimed for the right epoch number that is not its seed.
    expect(outcome(() => openEvent(wire, { epoch: 4, seed: later.seed }, hubPublicKeys(hub)))).toBe('tampered');
  });

  it('is bounded: an oversize picture is not sealed, an oversize record not read', () => {
    expect(() => seal({ ...record, preview: new Uint8Array(MAX_PREVIEW_BYTES + 1) })).toThrow(RangeError);
    expect(() => seal({ ...record, zones: new Array<string>(17).fill('z') })).toThrow(RangeError);
    expect(() => seal({ ...record, kind: 'Motion!' })).toThrow(RangeError);
    expect(() => seal({ ...record, score: 1.5 })).toThrow(RangeError);
    expect(() => seal({ ...record, end: record.start - 1 })).toThrow(RangeError);
    const biggest = seal({ ...record, preview: new Uint8Array(MAX_PREVIEW_BYTES).fill(1), zones: new Array<string>(16).fill('z'.repeat(64)) });
    expect(biggest.length).toBeLessThanOrEqual(MAX_SEALED_EVENT_BYTES);
    expect(openEvent(biggest, { epoch: 4, seed }, hubPublicKeys(hub)).record.preview!.length).toBe(MAX_PREVIEW_BYTES);
    expect(outcome(() => readEventHeader(new Uint8Array(MAX_SEALED_EVENT_BYTES + 1)))).toBe('malformed');
    expect(outcome(() => readEventHeader(new Uint8Array(100)))).toBe('malformed');
    const version = seal();
    version[4] = 2;
    expect(outcome(() => readEventHeader(version))).toBe('unsupported');
  });
});
