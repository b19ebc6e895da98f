// The recorder on a fake bus stream and a real store in a temp directory: segments cut at keyframes,
// the index true to the files, crash recovery of a half-written file, retention by days, quota and
// free space, a full disk mid-segment, and recording epochs sealed only to the phones on the roster.
import { beforeAll, describe, expect, it } from 'vitest';
import { appendFileSync, existsSync, readFileSync, readdirSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { cryptoReady, sodium } from '../../../crypto/sodium.ts';
import { hubPublicKeys, newDeviceIdentity, newHubIdentity, type DeviceIdentity, type HubIdentity } from '../../../crypto/identity.ts';
import { issueCertificate } from '../../../crypto/certificate.ts';
import {
  encodeRecordingEpoch, newRecordingEpoch, openEpochKey, openSegment, type RecordingEpoch,
} from '../../../crypto/recording.ts';
import type { Secret } from '../../../crypto/secret.ts';
import type { IngestFragment, IngestInit } from '../../../native/ingest.ts';
import type { MediaStream } from '../../../main/media/media-bus.ts';
import { POST_ROLL_MS, PRE_ROLL_MS, Recorder, SEGMENT_MS, STALE_MS } from '../../../main/recording/recorder.ts';
import { EventBus, type DetectedEvent } from '../../../main/events/hub-events.ts';
import { RecordingEpochs } from '../../../main/recording/epochs.ts';
import { DAY_MS, ENOSPC_RELEASE_BYTES, type DiskSpace } from '../../../main/recording/retention.ts';
import { realSegmentFiles, type SegmentFileSystem } from '../../../main/recording/segment-files.ts';
import { RecordingIndex } from '../../../main/store/recordings.ts';
import type { Store } from '../../../main/store/db.ts';
import { open, tempDataDir } from '../store/helpers.ts';

let hub: HubIdentity;
const T0 = 1_800_000_000_000;

beforeAll(async () => {
  await cryptoReady();
  hub = newHubIdentity();
});

interface Rig {
  dir: string;
  store: Store;
  index: RecordingIndex;
  cameraId: string;
  stream: MediaStream;
  recorder: Recorder;
  epochs: { current: RecordingEpoch | undefined; onChange(l: (e: RecordingEpoch) => void): () => void; next(): void };
  seeds: Map<number, Secret>;
  clock: { t: number };
  logs: string[];
}

const INIT: IngestInit = { data: new Uint8Array(200).fill(1), codecs: ['avc1.42e01e'], mime: 'video/mp4', tracks: [] };

function fragment(i: number, at: number, keyframe: boolean, size = 1000): IngestFragment {
  return { data: new Uint8Array(size).map((_, j) => (i * 7 + j) & 0xff), keyframe, captureTime: at, trackIds: [1] };
}

/** A store, one camera recording continuously, an epoch source whose seeds the test keeps. */
function rig(opts: { quotaBytes?: number; disk?: (dir: string) => DiskSpace; files?: SegmentFileSystem; dir?: string; mode?: 'continuous' | 'events' | 'off' } = {}): Rig {
  const dir = opts.dir ?? tempDataDir();
  const store = open(dir);
  const index = new RecordingIndex(store);
  const camera = store.listCameras()[0] ?? store.addCamera({ name: 'porch', url: 'test-pattern:', kind: 'test-pattern' });
  index.setSettings(camera.id, opts.mode ?? 'continuous');
  const seeds = new Map<number, Secret>();
  const listeners = new Set<(e: RecordingEpoch) => void>();
  const clock = { t: T0 };
  const epochs: Rig['epochs'] = {
    current: undefined,
    onChange: (l) => {
      listeners.add(l);
      return () => listeners.delete(l);
    },
    next() {
      const n = index.nextEpochNumber();
      const made = newRecordingEpoch(hub, n, clock.t);
      index.saveEpoch({ number: n, createdAtMs: clock.t, epoch: encodeRecordingEpoch(made.epoch) }, []);
      seeds.set(n, made.seed);
      this.current = made.epoch;
      for (const l of listeners) l(made.epoch);
    },
  };
  epochs.next();
  const logs: string[] = [];
  const recorder = new Recorder({
    dataDir: dir, identity: hub, index, epochs, now: () => clock.t, log: (l) => logs.push(l),
    disk: opts.disk ?? (() => ({ free: 100 * 1024 ** 3, total: 200 * 1024 ** 3 })),
    ...(opts.quotaBytes !== undefined ? { quotaBytes: opts.quotaBytes } : {}),
    ...(opts.files ? { files: opts.files } : {}),
  });
  const stream: MediaStream = { cameraId: camera.id, number: camera.number, topic: camera.topic, kind: 'camera', init: INIT, gop: [] };
  return { dir, store, index, cameraId: camera.id, stream, recorder, epochs, seeds, clock, logs };
}

/** `seconds` of video from `from`: a fragment every 500 ms, a keyframe every 2 s. */
function feed(r: Rig, from: number, seconds: number, size = 1000): number {
  let t = from;
  for (let i = 0; i < seconds * 2; i++, t += 500) {
    r.clock.t = t;
    r.recorder.fragment(r.stream, fragment(i, t, i % 4 === 0, size));
  }
  return t;
}

/** Every row against its file: size, and what a phone holding the seed reads in it. */
function checkIndex(r: Rig, openId?: number): void {
  const rows = r.index.allSegments();
  const files = readdirSync(join(r.dir, 'recordings', r.cameraId)).sort();
  expect(files).toEqual(rows.map((row) => `${row.id}.vseg`).sort());
  for (const row of rows) {
    const bytes = readFileSync(join(r.dir, row.path));
    // The row of the segment being written is updated when it closes; its file only grows meanwhile.
    if (row.id === openId) expect(bytes.length).toBeGreaterThanOrEqual(row.bytes);
    else expect(bytes.length, `segment ${row.id} size`).toBe(row.bytes);
    const s = openSegment(bytes, r.seeds.get(row.epoch)!, hubPublicKeys(hub));
    expect(s.damaged, `segment ${row.id}`).toBeUndefined();
    expect(s.proof !== undefined, `segment ${row.id} closed`).toBe(row.closed);
    expect(s.chunks[0]!.kind).toBe('init');
    expect(s.header.start).toBe(row.startMs);
    if (row.id !== openId) expect(s.chunks[s.chunks.length - 1]!.time).toBeLessThanOrEqual(row.endMs);
    if (s.proof) expect(s.proof.end).toBe(row.endMs);
  }
}

describe('recorder', () => {
  it('cuts segments at the first keyframe after 4 s, each starting with the init segment and a keyframe; the index is true to the files', () => {
    const r = rig();
    r.recorder.start({ timers: false });
    r.recorder.init(r.stream, INIT);
    r.recorder.fragment(r.stream, fragment(99, T0 - 500, false)); // no segment starts without a keyframe
    expect(r.index.allSegments()).toEqual([]);
    const end = feed(r, T0, 21);
    const rows = r.index.allSegments();
    // Keyframes every 2 s: segments of 4 s; the last still open.
    expect(rows.map((s) => [s.startMs - T0, s.endMs - T0, s.closed])).toEqual([
      [0, 4000, true], [4000, 8000, true], [8000, 12000, true], [12000, 16000, true], [16000, 20000, true], [20000, 20000, false],
    ]);
    for (const row of rows.filter((s) => s.closed)) {
      const s = openSegment(readFileSync(join(r.dir, row.path)), r.seeds.get(1)!, hubPublicKeys(hub));
      expect(s.chunks.map((c) => c.kind)).toEqual(['init', ...Array<string>(8).fill('media')]);
      expect(Buffer.from(s.chunks[0]!.payload).equals(Buffer.from(INIT.data))).toBe(true);
      expect(s.chunks[1]!.time).toBe(row.startMs);
      expect(s.chunks[1]!.payload).toEqual(fragment((row.startMs - T0) / 500, row.startMs, true).data);
      expect(row.endMs - row.startMs).toBeGreaterThanOrEqual(SEGMENT_MS);
    }
    r.recorder.stop();
    const last = r.index.allSegments().at(-1)!;
    expect(last.closed).toBe(true);
    expect(last.endMs).toBe(end - 500);
    checkIndex(r);
    expect(statSync(join(r.dir, 'recordings')).mode & 0o777).toBe(0o700);
    expect(statSync(join(r.dir, last.path)).mode & 0o777).toBe(0o600);
  });

  it('records only the camera\'s own stream, only in continuous mode (events mode without an event records nothing)', () => {
    const r = rig({ mode: 'events' });
    r.recorder.start({ timers: false });
    feed(r, T0, 6);
    expect(r.index.allSegments()).toEqual([]);
    expect(r.recorder.status(r.cameraId).mode).toBe('events');
    r.index.setSettings(r.cameraId, 'continuous');
    r.recorder.settingsChanged(r.cameraId);
    const profile: MediaStream = { ...r.stream, kind: 'h264', number: r.stream.number | 0x40000000 };
    r.recorder.fragment(profile, fragment(0, T0 + 10_000, true));
    expect(r.index.allSegments()).toEqual([]);
    feed(r, T0 + 10_000, 3);
    expect(r.recorder.status(r.cameraId).recording).toBe(true);
    r.index.setSettings(r.cameraId, 'off');
    r.recorder.settingsChanged(r.cameraId);
    expect(r.recorder.status(r.cameraId).recording).toBe(false);
    feed(r, T0 + 20_000, 6);
    expect(r.index.allSegments().length).toBe(1);
    checkIndex(r);
  });

  it('events mode: from the keyframe of the pre-roll before an event to the post-roll after it ends, through the events bus', () => {
    const r = rig({ mode: 'events' });
    const bus = new EventBus((e) => {
      throw e;
    });
    bus.subscribe(r.recorder.events);
    r.recorder.start({ timers: false });
    let t = feed(r, T0, 20); // no event: nothing recorded, a pre-roll kept
    expect(r.index.allSegments()).toEqual([]);
    const event: DetectedEvent = { cameraId: r.cameraId, kind: 'motion', source: 'test', startMs: t, score: 0.9, zones: [] };
    bus.started('motion-1', event);
    t = feed(r, t, 3);
    bus.ended('motion-1', { ...event, endMs: t });
    const endedAt = t;
    t = feed(r, t, 20);
    r.recorder.stop();
    const rows = r.index.allSegments();
    expect(rows.length).toBeGreaterThanOrEqual(2);
    checkIndex(r);
    // Starts at a keyframe at most PRE_ROLL_MS (plus one GOP of 2 s) before the event, and on its keyframe.
    const first = rows[0]!.startMs;
    expect(event.startMs - first).toBeGreaterThanOrEqual(PRE_ROLL_MS);
    expect(event.startMs - first).toBeLessThanOrEqual(PRE_ROLL_MS + 2000);
    expect((first - T0) % 2000).toBe(0);
    // Ends POST_ROLL_MS after the event ended, not later; every segment contiguous.
    const last = Math.max(...rows.map((x) => x.endMs));
    expect(last).toBeGreaterThanOrEqual(endedAt + POST_ROLL_MS - 500);
    expect(last).toBeLessThanOrEqual(endedAt + POST_ROLL_MS);
    for (let i = 1; i < rows.length; i++) expect(rows[i]!.startMs).toBe(rows[i - 1]!.endMs);
    expect(t - last).toBeGreaterThan(5000); // nothing recorded after the post-roll
  });

  it('events mode: a second event in the post-roll goes on in the same recording; an unknown event changes nothing', () => {
    const r = rig({ mode: 'events' });
    r.recorder.start({ timers: false });
    let t = feed(r, T0, 8);
    const ev = (key: string, startMs: number): DetectedEvent => ({ cameraId: r.cameraId, kind: 'motion', source: 'test', startMs, score: 1, zones: [] });
    r.recorder.events.started!('a', ev('a', t));
    t = feed(r, t, 2);
    r.recorder.events.ended!('a', { ...ev('a', t - 2000), endMs: t });
    t = feed(r, t, 6);
    r.recorder.events.started!('b', ev('b', t)); // within a's post-roll
    t = feed(r, t, 2);
    r.recorder.events.ended!('b', { ...ev('b', t - 2000), endMs: t });
    t = feed(r, t, 14);
    const rows = r.index.allSegments();
    for (let i = 1; i < rows.length; i++) expect(rows[i]!.startMs).toBe(rows[i - 1]!.endMs); // one run, no gap
    expect(r.recorder.status(r.cameraId).recording).toBe(false);
    // Unknown keys and other cameras' events change nothing.
    r.recorder.events.ended!('nope', { ...ev('nope', t), endMs: t });
    feed(r, t, 2);
    expect(r.index.allSegments().length).toBe(rows.length);
    checkIndex(r);
  });

  it('closes at a new init (camera restart), a new epoch, a silent camera, and when the stream ends; times never go back', () => {
    const r = rig();
    r.recorder.start({ timers: false });
    let t = feed(r, T0, 3);
    r.recorder.init(r.stream, INIT); // the camera restarted
    expect(r.index.allSegments().map((s) => s.closed)).toEqual([true]);
    t = feed(r, t, 3);
    r.epochs.next();
    expect(r.index.allSegments().map((s) => [s.closed, s.epoch])).toEqual([[true, 1], [true, 1]]);
    t = feed(r, t, 1); // epoch 2 from the next keyframe
    expect(r.index.allSegments().at(-1)!.epoch).toBe(2);
    r.clock.t = t + STALE_MS;
    r.recorder.tick();
    expect(r.index.allSegments().every((s) => s.closed)).toBe(true);
    // The clock steps back an hour: the timeline stays ordered, nothing is overwritten.
    feed(r, t - 3600_000, 3);
    const rows = r.index.allSegments();
    for (let i = 1; i < rows.length; i++) expect(rows[i]!.startMs).toBeGreaterThanOrEqual(rows[i - 1]!.endMs);
    r.recorder.ended(r.stream);
    expect(r.index.allSegments().every((s) => s.closed)).toBe(true);
    checkIndex(r);
  });

  it('after a crash, a half-written segment is cut to its last whole chunk and kept unclosed; strays and orphan rows go', () => {
    const r = rig();
    r.recorder.start({ timers: false });
    feed(r, T0, 9); // two closed segments and one open
    const rows = r.index.allSegments();
    const open = rows.at(-1)!;
    expect(open.closed).toBe(false);
    // The hub dies mid-write: half a chunk at the end of the open file, its row not updated.
    const path = join(r.dir, open.path);
    const whole = statSync(path).size;
    appendFileSync(path, new Uint8Array(600).fill(9).map((v, i) => (i < 4 ? [0, 0, 0x10, 0][i]! : v)));
    writeFileSync(join(r.dir, 'recordings', r.cameraId, '999.vseg'), 'stray');
    r.index.updateSegment(rows[0]!.id, { endMs: rows[0]!.endMs, bytes: rows[0]!.bytes, closed: true });
    const gone = join(r.dir, rows[1]!.path);
    unlinkSync(gone);
    // A new hub on the same directory (the old process's file descriptors are simply dropped).
    const again = new Recorder({ dataDir: r.dir, identity: hub, index: r.index, epochs: r.epochs, now: () => r.clock.t, disk: () => ({ free: 1e12, total: 2e12 }) });
    const report = again.start({ timers: false });
    expect(report).toEqual({ kept: 1, closed: 0, rowsRemoved: 1, filesRemoved: 1 });
    const after = r.index.allSegments();
    expect(after.map((s) => s.id)).toEqual([rows[0]!.id, open.id]);
    const kept = after[1]!;
    expect(kept.closed).toBe(false);
    expect(kept.bytes).toBe(whole);
    expect(statSync(path).size).toBe(whole);
    const s = openSegment(readFileSync(path), r.seeds.get(1)!, hubPublicKeys(hub));
    expect(s.truncated).toBe(true);
    expect(s.damaged).toBeUndefined();
    expect(kept.endMs).toBe(s.chunks.at(-1)!.time);
    expect(existsSync(join(r.dir, 'recordings', r.cameraId, '999.vseg'))).toBe(false);
    // New segments get new ids, never one used before.
    r.recorder = again;
    feed(r, T0 + 60_000, 5);
    expect(Math.min(...r.index.allSegments().slice(2).map((x) => x.id))).toBeGreaterThan(open.id);
    again.stop();
    checkIndex(r);
  });

  it('deletes by keep days, then the oldest over the quota, then for free space, never the open segment', () => {
    let free = 100 * 1024 ** 3;
    const r = rig({ disk: () => ({ free, total: 200 * 1024 ** 3 }) });
    r.index.setSettings(r.cameraId, 'continuous', 2);
    r.recorder.start({ timers: false });
    const quiet = (t: number) => {
      r.clock.t = t + STALE_MS;
      r.recorder.tick();
    };
    quiet(feed(r, T0, 4));
    quiet(feed(r, T0 + DAY_MS, 4));
    feed(r, T0 + 3 * DAY_MS - 10_000, 4);
    expect(r.index.allSegments().map((s) => s.closed)).toEqual([true, true, false]);
    r.clock.t = T0 + 3 * DAY_MS;
    expect(r.recorder.enforceRetention()).toBe(1); // the first ended more than 2 days ago
    expect(r.index.allSegments().map((s) => Math.floor((s.startMs - T0) / DAY_MS))).toEqual([1, 2]);
    // Free space below the floor (1 GiB here): the oldest goes, the one being written stays.
    free = 1024 ** 3 - 10;
    expect(r.recorder.enforceRetention()).toBe(1);
    expect(r.index.allSegments().length).toBe(1);
    expect(r.recorder.enforceRetention()).toBe(0);
    checkIndex(r, r.index.allSegments()[0]!.id);
  });

  it('keeps the hub-wide quota across cameras, oldest first', () => {
    const r = rig({ quotaBytes: 60_000 });
    const other = r.store.addCamera({ name: 'yard', url: 'test-pattern:', kind: 'test-pattern' });
    r.index.setSettings(other.id, 'continuous');
    const yard: MediaStream = { ...r.stream, cameraId: other.id, number: other.number };
    r.recorder.start({ timers: false });
    for (let i = 0; i < 8; i++) {
      const t = T0 + i * 5000;
      r.clock.t = t;
      const s = i % 2 === 0 ? r.stream : yard;
      for (let k = 0; k < 9; k++) r.recorder.fragment(s, fragment(k, t + k * 500, k % 8 === 0, 3000));
    }
    r.recorder.stop();
    expect(r.recorder.totalBytes).toBe(r.index.totalBytes());
    expect(r.index.totalBytes()).toBeLessThanOrEqual(60_000);
    const left = r.index.allSegments();
    expect(left.length).toBeGreaterThan(0);
    // What is left is the newest: nothing older than a kept one was deleted... except the oldest ones.
    const starts = left.map((s) => s.startMs).sort((a, b) => a - b);
    expect(starts[0]).toBeGreaterThan(T0);
  });

  it('disk full mid-segment: the segment closes cleanly, the oldest go, recording goes on, the index stays true', () => {
    let fullAt = Infinity;
    let written = 0;
    const files: SegmentFileSystem = {
      ...realSegmentFiles,
      append(fd, bytes) {
        if (written + bytes.length > fullAt) {
          // Half of it reaches the disk, like a real short write before ENOSPC.
          realSegmentFiles.append(fd, bytes.subarray(0, bytes.length >> 1));
          fullAt = Infinity;
          throw Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' });
        }
        written += bytes.length;
        realSegmentFiles.append(fd, bytes);
      },
    };
    const r = rig({ files });
    r.recorder.start({ timers: false });
    let t = feed(r, T0, 12.5, 5000); // three closed segments, one open
    const before = r.index.allSegments();
    expect(before.length).toBe(4);
    fullAt = written + 7000; // the next fragment but one fails
    t = feed(r, t, 1, 5000);
    expect(r.recorder.diskFullEvents).toBe(1);
    const after = r.index.allSegments();
    // The oldest segment went (ENOSPC frees more than one segment's bytes: all closed ones here).
    expect(ENOSPC_RELEASE_BYTES).toBeGreaterThan(before[0]!.bytes);
    expect(after.some((s) => s.id === before[0]!.id)).toBe(false);
    const failed = after.find((s) => s.id === before[3]!.id)!;
    // Cut back to its last whole chunk, its key wiped: readable to there, marked unclosed.
    expect(failed.closed).toBe(false);
    expect(openSegment(readFileSync(join(r.dir, failed.path)), r.seeds.get(1)!, hubPublicKeys(hub)).truncated).toBe(true);
    feed(r, t, 5, 5000);
    expect(r.index.allSegments().filter((s) => s.id > before[3]!.id).length).toBeGreaterThan(0);
    r.recorder.stop();
    checkIndex(r);
  });
});

describe('recording epochs', () => {
  it('seals each epoch to the phones on the roster only: a later phone gets no earlier epoch, a removed one no later', () => {
    const dir = tempDataDir();
    const store = open(dir);
    const index = new RecordingIndex(store);
    const pair = (d: DeviceIdentity, name: string) => store.addDevice({
      name, certificate: issueCertificate(hub, {
        deviceId: d.deviceId, signingKey: d.signing.publicKey, exchangeKey: d.exchange.publicKey, pqKey: d.pq.publicKey,
        relayKey: sodium().randombytes_buf(32),
      }, 'owner', 1_800_000_000),
    });
    const a = newDeviceIdentity();
    const b = newDeviceIdentity();
    const da = pair(a, 'a');
    const epochs = new RecordingEpochs({ identity: hub, index, devices: () => store.listDevices() });
    const e1 = epochs.rotate('start');
    const db = pair(b, 'b');
    const e2 = epochs.rotate('device-added');
    store.revokeDevice(da.id);
    const e3 = epochs.rotate('device-removed');
    expect([e1.epoch, e2.epoch, e3.epoch]).toEqual([1, 2, 3]);
    const held = (id: string) => index.keysFor(id, 0, 100).map((k) => k.epoch.number);
    expect(held(da.id)).toEqual([1, 2]);
    expect(held(db.id)).toEqual([2, 3]);
    expect(index.hasKey(db.id, 1)).toBe(false);
    // Each sealed copy opens for its phone only, to the seed of the epoch's public key.
    for (const k of index.keysFor(db.id, 0, 100)) {
      const { seed, epoch } = openEpochKey(k.sealed, b, hub.hubId);
      expect(epoch).toBe(k.epoch.number);
      const pk = sodium().crypto_kem_xwing_seed_keypair(seed.expose()).publicKey;
      expect(encodeRecordingEpoch({ ...e2, publicKey: pk }).length).toBe(k.epoch.epoch.length);
      expect(Buffer.from(k.epoch.epoch).includes(Buffer.from(pk))).toBe(true);
    }
    expect(() => openEpochKey(index.keysFor(da.id, 0, 1)[0]!.sealed, b, hub.hubId)).toThrow();
  });
});
