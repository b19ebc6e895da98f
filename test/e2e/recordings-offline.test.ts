// A camera offline for a while (issue 16, PROTOCOL §15.3): the hub records the RTSP test camera,
// the camera's server goes away for about 10 s and comes back at the same address, and recording
// goes on. The timeline shows two ranges with a gap over the outage, not a broken segment: every
// segment but the one being written is closed and opens on the phone to its signed final chunk,
// and a play across the gap gives a file that ffmpeg decodes without an error.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import WebSocket from 'ws';
import type { SegmentInfo } from '../../crypto/phone-commands.ts';
import { cryptoReady } from '../../crypto/sodium.ts';
import { HubLink } from '../../phone/core/hub-link.ts';
import { profileFromJson } from '../../phone/core/profile.ts';
import { PhoneRecordings } from '../../phone/core/recordings.ts';
import { RelayClient, type RelayClientOptions, type WebSocketConstructor } from '../../relay/client.ts';
import { startCamera, stopAllCameras, type CameraOptions, type TestCamera } from '../support/camera/camera.ts';
import {
  VIGIL, VIGIL_PHONE, addCamera, pairPhone, run, startHub, startRelay, stopAll, tempDir, waitForCameraState, waitUntil,
} from '../support/system.ts';

const CAMERA = `Gate ${randomBytes(3).toString('hex')}`;
const OUTAGE_MS = 10_000;
/** The hub's ingest may hand on a last fragment as it sees the camera's connection drop. */
const FLUSH_MS = 2000;
const relayFactory = (o: RelayClientOptions) => new RelayClient({ ...o, WebSocket: WebSocket as unknown as WebSocketConstructor });
const iso = (ms: number) => new Date(ms).toISOString();

let dir: string;
let data: string;
let profile: string;
let cameraId: string;
let camera: TestCamera;
/** When the camera's server was gone (it had exited), and when it served again. */
let offlineFrom: number;
let onlineAt: number;

/** Runs `fn` with the phone's recordings over a fresh link to the hub (through the relay), closed after. */
async function onPhone<T>(fn: (recs: PhoneRecordings) => Promise<T>): Promise<T> {
  const p = profileFromJson(readFileSync(profile, 'utf8'));
  const link = new HubLink({ profile: p, relayFactory });
  const recs = new PhoneRecordings(link, p);
  try {
    await link.ready(30_000);
    return await fn(recs);
  } finally {
    recs.close();
    await link.close();
  }
}

const listed = (): Promise<readonly SegmentInfo[]> => onPhone(async (recs) => (await recs.list(cameraId, 0, Date.now() + 60_000)).segments);

async function phoneRanges(): Promise<{ start: string; end: string }[]> {
  const r = await run(VIGIL_PHONE, ['recordings', '--profile', profile, '--camera', CAMERA, '--json'], { timeoutMs: 60_000 });
  expect(r.code, r.stderr).toBe(0);
  return (JSON.parse(r.stdout.trim().split('\n').pop()!) as { ranges: { start: string; end: string }[] }).ranges;
}

beforeAll(async () => {
  await cryptoReady();
  dir = tempDir('vigil-rec-offline-');
  data = join(dir, 'hub');
  profile = join(dir, 'owner.json');
  const options: CameraOptions = { codec: 'h264', size: '640x360', fps: 15, gop: 15 };
  camera = await startCamera(options);
  const relay = await startRelay();
  await startHub(data, relay.url);
  await addCamera(data, CAMERA, camera.url);
  await pairPhone(data, profile, 'Owner');
  cameraId = String((await waitForCameraState(data, CAMERA, ['live'])).id);
  const rec = await run(VIGIL, ['record', '--data', data, '--camera', CAMERA, '--mode', 'continuous'], { timeoutMs: 30_000 });
  expect(rec.code, rec.stderr).toBe(0);
  await waitUntil('a segment closed', async () => (await listed()).some((s) => s.closed), 60_000, 1000);

  // The camera's server goes away, and comes back at the same address.
  await camera.kill();
  offlineFrom = Date.now();
  await new Promise((r) => setTimeout(r, OUTAGE_MS)); // the outage itself: the one fixed wait
  camera = await startCamera({ ...options, port: camera.port });
  onlineAt = Date.now();
  // The hub's ingest tries again on its own backoff (1, 5, 10 s): then a segment closed after it.
  await waitUntil('a segment closed after the outage', async () => (await listed()).some((s) => s.closed && s.start >= onlineAt), 60_000, 1000);
}, 180_000);

afterAll(async () => {
  await stopAll();
  await stopAllCameras();
});

describe('a camera offline for a while', () => {
  it('the timeline shows two ranges with a gap over the outage', async () => {
    const ranges = (await phoneRanges()).map((r) => ({ start: Date.parse(r.start), end: Date.parse(r.end) }));
    expect(ranges.length, JSON.stringify(ranges)).toBe(2);
    const [before, after] = ranges as [{ start: number; end: number }, { start: number; end: number }];
    // A fragment's time is when it reached the hub: none before the camera was back, and none after
    // it was gone but the one ffmpeg may flush as the connection drops (FLUSH_MS).
    expect(before.end).toBeLessThanOrEqual(offlineFrom + FLUSH_MS);
    expect(after.start).toBeGreaterThanOrEqual(onlineAt);
    expect(after.start - before.end).toBeGreaterThanOrEqual(OUTAGE_MS - FLUSH_MS);
    // The hub's own view agrees: its recordings span both.
    const hub = await run(VIGIL, ['recordings', '--data', data, '--json'], { timeoutMs: 30_000 });
    expect(hub.code, hub.stderr).toBe(0);
    const mine = hub.stdout.trim().split('\n').map((l) => JSON.parse(l) as { camera: string; oldest: string; newest: string; mode: string })
      .find((c) => c.camera === CAMERA)!;
    expect(mine.mode).toBe('continuous');
    expect(Date.parse(mine.oldest)).toBeLessThanOrEqual(before.start);
    expect(Date.parse(mine.newest)).toBeGreaterThanOrEqual(after.start);
  }, 60_000);

  it('no broken segment: every one but the one being written is closed and opens to its signed final chunk', async () => {
    const checked = await onPhone(async (recs) => {
      await recs.refreshKeys();
      const segments = (await recs.list(cameraId, 0, Date.now() + 60_000)).segments;
      const problems: string[] = [];
      for (const [i, info] of segments.entries()) {
        const newest = i === segments.length - 1;
        if (!info.closed) {
          if (!newest) problems.push(`segment ${info.id} (${iso(info.start)}) is not closed`);
          continue;
        }
        const got = await recs.fetch(cameraId, info);
        if (!got.ok) problems.push(`segment ${info.id}: ${got.why}`);
        else if (got.segment.proof === undefined || got.segment.damaged !== undefined) problems.push(`segment ${info.id}: ${got.segment.damaged ?? 'no final chunk'}`);
        else if (got.segment.chunks.length < 2) problems.push(`segment ${info.id}: no fragment`);
      }
      return { problems, segments };
    });
    expect(checked.problems).toEqual([]);
    // The outage is between two segments, not inside one.
    for (const s of checked.segments) expect(s.start >= onlineAt || s.end <= offlineFrom + FLUSH_MS, `segment ${s.id} ${iso(s.start)} to ${iso(s.end)}`).toBe(true);
  }, 90_000);

  it('a play across the gap gives a file that ffmpeg decodes without an error', async () => {
    const segments = await listed();
    const from = segments[0]!.start;
    const to = segments.filter((s) => s.closed).at(-1)!.end;
    const out = join(dir, 'across.mp4');
    const r = await run(VIGIL_PHONE, ['play', '--profile', profile, '--camera', CAMERA, '--from', iso(from), '--seconds', String((to - from) / 1000), '--out', out], { timeoutMs: 90_000 });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).not.toContain('not all of it');
    expect(r.stdout).not.toContain('the file ends');
    const [, first, last] = /wrote .*: \d+ segments of .*, (\S+) to (\S+),/.exec(r.stdout) ?? [];
    expect(Date.parse(first!)).toBeLessThan(offlineFrom);
    expect(Date.parse(last!)).toBeGreaterThan(onlineAt);
    const decode = await run('ffmpeg', ['-v', 'error', '-i', out, '-enc_time_base', '-1', '-f', 'null', '-'], { timeoutMs: 60_000 });
    expect(decode.code).toBe(0);
    expect(decode.stderr.trim()).toBe('');
  }, 120_000);
});
