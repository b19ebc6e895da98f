// The phone's side of recordings (phone/core/recordings.ts) against a fake hub link: keys taken only
// when the hub signed the epoch and the seed opens for this phone; a segment of an epoch with no
// key is refused and counted without asking the hub; a file that is not the segment asked for is
// refused; writeClip says what it leaves out and plays the rest.
import { beforeAll, describe, expect, it } from 'vitest';
import { concat, toBase64url, toHex } from '../../../crypto/bytes.ts';
import { hubPublicKeys, newDeviceIdentity, newHubIdentity, type DeviceIdentity, type HubIdentity } from '../../../crypto/identity.ts';
import { MAX_SEGMENTS_LISTED, type RecordingsResult, type SegmentInfo } from '../../../crypto/phone-commands.ts';
import { SEGMENT_HEADER_BYTES, encodeRecordingEpoch, newRecordingEpoch, sealEpochKey, type RecordingEpoch } from '../../../crypto/recording.ts';
import type { Secret } from '../../../crypto/secret.ts';
import { cryptoReady } from '../../../crypto/sodium.ts';
import type { PhoneProfile } from '../../../phone/core/profile.ts';
import { CommandError } from '../../../phone/core/link/api.ts';
import { PhoneRecordings, segmentsBetween, writeClip, type RecordingsLink } from '../../../phone/core/recordings.ts';
import { recordSegment } from '../../crypto/clip-fixtures.ts';

let hub: HubIdentity;
let phone: DeviceIdentity;
let profile: PhoneProfile;
const epochs: { epoch: RecordingEpoch; seed: Secret }[] = [];
const camera = new Uint8Array(16).fill(5);
const cameraId = toHex(camera);
const T0 = 1_760_000_000_000;

beforeAll(async () => {
  await cryptoReady();
  hub = newHubIdentity();
  phone = newDeviceIdentity();
  profile = { hub: hubPublicKeys(hub), device: phone } as unknown as PhoneProfile;
  for (const n of [1, 2]) epochs.push(newRecordingEpoch(hub, n, T0));
});

/** A fake hub: segments by id, the keys it hands out, and what the phone asked. */
function fakeLink(files: Map<string, Uint8Array>, infos: SegmentInfo[], keyEpochs: number[], asked: string[]): RecordingsLink {
  return {
    command: (async (action: string, args: Record<string, unknown>) => {
      asked.push(action);
      if (action === 'recording-keys') {
        return {
          // One key per answer, oldest first: the phone asks again after the newest named.
          keys: keyEpochs.filter((e) => args.since === undefined || e >= (args.since as number)).slice(0, 1).map((e) => {
            const { epoch, seed } = epochs[e - 1]!;
            return { epoch: toBase64url(encodeRecordingEpoch(epoch)), sealed: toBase64url(sealEpochKey(hub.hubId, e, seed, { deviceId: phone.deviceId, pqKey: phone.pq.publicKey })) };
          }),
        };
      }
      const r: RecordingsResult = { ranges: [], segments: infos.filter((s) => s.end > (args.from as number) && s.start < (args.to as number)), mode: 'continuous' };
      return r;
    }) as unknown as RecordingsLink['command'],
    segment: async (_camera, id) => {
      asked.push(`segment ${id}`);
      const file = files.get(id);
      if (file === undefined) throw new CommandError('no such segment (deleted)', 'no-such-segment');
      return file;
    },
  };
}

function stored(id: number, epoch: number, start: number, runTime: number, bytes?: Uint8Array): [SegmentInfo, Uint8Array] {
  const file = bytes ?? recordSegment(hub, epochs[epoch - 1]!.epoch, camera, { id: BigInt(id), start, runTime });
  return [{ id: String(id), epoch, start, end: start + 900, bytes: file.length, closed: true }, file];
}

describe('recordings on the phone', () => {
  it('takes keys the hub signed and sealed to this phone, and refuses others', async () => {
    const asked: string[] = [];
    const recs = new PhoneRecordings(fakeLink(new Map(), [], [1], asked), profile);
    await recs.refreshKeys();
    expect([recs.keys.has(1), recs.keys.has(2), recs.refusedKeys]).toEqual([true, false, []]);
    // A forged epoch (another hub's key), and a seed sealed to another phone.
    const stranger = newRecordingEpoch(newHubIdentity(), 5, T0);
    const other = newDeviceIdentity();
    const r = recs.keys.take([
      { epoch: toBase64url(encodeRecordingEpoch(stranger.epoch)), sealed: toBase64url(sealEpochKey(hub.hubId, 5, stranger.seed, { deviceId: phone.deviceId, pqKey: phone.pq.publicKey })) },
      { epoch: toBase64url(encodeRecordingEpoch(epochs[1]!.epoch)), sealed: toBase64url(sealEpochKey(hub.hubId, 2, epochs[1]!.seed, { deviceId: other.deviceId, pqKey: other.pq.publicKey })) },
    ]);
    expect(r.taken).toBe(0);
    expect(r.refused).toEqual([expect.stringMatching(/without the hub's signature/), expect.stringMatching(/epoch 2: its key does not open for this phone/)]);
    // Asked again, only newer epochs are asked for.
    await recs.refreshKeys();
    recs.close();
    expect(recs.keys.size).toBe(0);
  });

  it('asks for keys again after the newest the hub named, until it names none', async () => {
    const asked: string[] = [];
    const recs = new PhoneRecordings(fakeLink(new Map(), [], [1, 2], asked), profile);
    await recs.refreshKeys();
    expect([recs.keys.has(1), recs.keys.has(2)]).toEqual([true, true]);
    expect(asked.filter((a) => a === 'recording-keys').length).toBe(3);
  });

  it('refuses and counts a segment of an epoch it has no key of, without asking the hub for it', async () => {
    const [a, fa] = stored(1, 1, T0, 0);
    const [b, fb] = stored(2, 2, T0 + 900, 0.9);
    const asked: string[] = [];
    const recs = new PhoneRecordings(fakeLink(new Map([['1', fa], ['2', fb]]), [a, b], [1], asked), profile);
    await recs.refreshKeys();
    const got = await recs.fetch(cameraId, b);
    expect(got).toMatchObject({ ok: false, code: 'no-recording-key' });
    expect(recs.counters.noKey).toBe(1);
    expect(asked).not.toContain('segment 2');
    expect((await recs.fetch(cameraId, a)).ok).toBe(true);
  });

  it('refuses a file that is not the segment asked for (the hub\'s index is not trusted)', async () => {
    const [a] = stored(1, 1, T0, 0);
    const [, fb] = stored(2, 1, T0 + 900, 0.9);
    const recs = new PhoneRecordings(fakeLink(new Map([['1', fb]]), [a], [1], []), profile);
    await recs.refreshKeys();
    expect(await recs.fetch(cameraId, a)).toMatchObject({ ok: false, code: 'not-this-segment' });
    expect(recs.counters.refused).toBe(1);
  });

  it('writeClip plays what it can and says, one line each, what it leaves out', async () => {
    const segs = [stored(1, 1, T0, 0), stored(2, 2, T0 + 900, 0.9), stored(3, 1, T0 + 1800, 1.8), stored(4, 1, T0 + 2700, 2.7)];
    const broken = Uint8Array.from(segs[2]![1]);
    broken[SEGMENT_HEADER_BYTES - 1] = broken[SEGMENT_HEADER_BYTES - 1]! ^ 0xff; // the wrapped segment key: nothing opens
    segs[2]![1] = broken;
    const recs = new PhoneRecordings(fakeLink(new Map(segs.map(([i, f]) => [i.id, f])), segs.map(([i]) => i), [1], []), profile);
    await recs.refreshKeys();
    const lines: string[] = [];
    const parts: Uint8Array[] = [];
    const out = await writeClip(recs, cameraId, T0, T0 + 4000, { evidence: false, write: (b) => parts.push(b), say: (l) => lines.push(l) });
    expect(out).toMatchObject({ segments: 2, left: 2, start: T0 });
    expect(concat(...parts).length).toBe(out.bytes);
    expect(lines).toEqual([
      expect.stringMatching(/^segment 2 \(.*\): this phone holds no key of recording epoch 2.*; left out$/),
      expect.stringMatching(/^segment 3 \(.*\): altered: it does not open.*; left out$/),
    ]);
  });

  it('writeClip goes on past a segment missing, altered, cut or swapped on the hub\'s disk, one line each', async () => {
    const segs = Array.from({ length: 7 }, (_, i) => stored(i + 1, 1, T0 + i * 900, i * 0.9));
    const file = (i: number) => segs[i]![1];
    const chunkStarts = (bytes: Uint8Array) => {
      const at: number[] = [];
      for (let off = SEGMENT_HEADER_BYTES; off + 13 <= bytes.length; off += 13 + new DataView(bytes.buffer, bytes.byteOffset + off).getUint32(0)) at.push(off);
      return at;
    };
    const files = new Map(segs.map(([i, f]) => [i.id, f]));
    files.delete('2'); // gone from the hub's disk (or deleted by retention after it was listed)
    const altered = Uint8Array.from(file(2));
    altered[chunkStarts(altered)[2]! + 20]! ^= 1; // inside the second fragment
    files.set('3', altered);
    files.set('4', file(3).subarray(0, chunkStarts(file(3)).at(-1))); // the final chunk cut off
    files.set('5', file(5));
    files.set('6', file(4)); // 5 and 6 swapped
    const recs = new PhoneRecordings(fakeLink(files, segs.map(([i]) => i), [1], []), profile);
    await recs.refreshKeys();
    const lines: string[] = [];
    const out = await writeClip(recs, cameraId, T0, T0 + 7 * 900, { evidence: false, write: () => undefined, say: (l) => lines.push(l) });
    expect(out).toMatchObject({ segments: 4, left: 3, partial: 2, start: T0 });
    expect(lines).toEqual([
      expect.stringMatching(/^segment 2 \(.* to .*\): missing: the hub has no file of it now .*; left out$/),
      expect.stringMatching(/^segment 3 \(.*\): altered: chunk 2 does not open .*; played up to its fragment at .*, the rest of it left out$/),
      expect.stringMatching(/^segment 4 \(.*\): cut short: its file ends before its final chunk, though the hub lists it as closed; played up to its fragment at .*, the rest of it left out$/),
      expect.stringMatching(/^segment 5 \(.*\): not the segment the index names: its file is segment 6 \(.*\); left out$/),
      expect.stringMatching(/^segment 6 \(.*\): not the segment the index names: its file is segment 5 \(.*\); left out$/),
    ]);
    expect(recs.counters).toEqual({ noKey: 0, damaged: 2, refused: 3 });
    // For an export, the altered and the cut segment are left out whole, with the same reasons.
    lines.length = 0;
    const exported = await writeClip(recs, cameraId, T0, T0 + 7 * 900, { evidence: true, write: () => undefined, say: (l) => lines.push(l) });
    expect(exported).toMatchObject({ segments: 2, left: 5, partial: 0 });
    expect(lines.filter((l) => / (altered|cut short): .*; left out$/.test(l)).length).toBe(2);
  });

  it('asks for the next page until the hub lists nothing new', async () => {
    const infos = Array.from({ length: MAX_SEGMENTS_LISTED + 5 }, (_, i): SegmentInfo => ({ id: String(i + 1), epoch: 1, start: T0 + i * 1000, end: T0 + i * 1000 + 1000, bytes: 1, closed: true }));
    let calls = 0;
    const link = fakeLink(new Map(), [], [], []);
    const recs = new PhoneRecordings({
      ...link,
      command: (async (_a: string, args: { from: number; to: number }) => {
        calls++;
        return { ranges: [], segments: infos.filter((s) => s.end > args.from && s.start < args.to).slice(0, MAX_SEGMENTS_LISTED), mode: 'continuous' };
      }) as unknown as RecordingsLink['command'],
    }, profile);
    const all = await segmentsBetween(recs, cameraId, T0, T0 + 10_000_000);
    expect(all.length).toBe(MAX_SEGMENTS_LISTED + 5);
    expect(calls).toBe(3); // the third brings nothing new
  });
});
