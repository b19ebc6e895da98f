// Recording files tampered with on the hub's disk (issue 16, PROTOCOL §15.2): the hub records the
// RTSP test camera, stops, and someone with its disk flips a byte inside a chunk of one segment,
// cuts another in the middle of its last fragment, and swaps the files of two more. After the hub
// starts again, `vigil-phone play` over all of them says, one line per damaged segment, what is
// wrong ('altered', 'cut short', 'not the segment the index names'), and writes an MP4 of the rest
// that ffmpeg decodes without an error: the altered and the cut segment play to their last whole
// chunk before the damage, the swapped ones not at all, and what is missing is a gap in the file's
// time, not a splice. `export` takes only the untouched signed segments, and verify-export passes
// it. A segment file removed while the hub runs is missing, and the rest still plays. (verify-export
// failing on an altered clip: test/main/cli/verify-export.test.ts.)
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readFileSync, renameSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import WebSocket from 'ws';
import type { SegmentInfo } from '../../crypto/phone-commands.ts';
import { SEGMENT_HEADER_BYTES } from '../../crypto/recording.ts';
import { cryptoReady } from '../../crypto/sodium.ts';
import { HubLink } from '../../phone/core/hub-link.ts';
import { profileFromJson } from '../../phone/core/profile.ts';
import { PhoneRecordings } from '../../phone/core/recordings.ts';
import { RelayClient, type RelayClientOptions, type WebSocketConstructor } from '../../relay/client.ts';
import { startCamera, stopAllCameras } from '../support/camera/camera.ts';
import {
  VIGIL, VIGIL_PHONE, addCamera, pairPhone, run, startHub, startRelay, stopAll, tempDir, waitForCameraState, waitUntil, type Running,
} from '../support/system.ts';

const CAMERA = `Yard ${randomBytes(3).toString('hex')}`;
const relayFactory = (o: RelayClientOptions) => new RelayClient({ ...o, WebSocket: WebSocket as unknown as WebSocketConstructor });
const iso = (ms: number) => new Date(ms).toISOString();

let dir: string;
let data: string;
let hub: Running;
let profile: string;
let cameraId: string;
/** Five closed segments in time order: [flipped, cut, swapped, swapped, intact]. */
let seg: SegmentInfo[];
/** The time of the chunk the byte was flipped in, and of the chunk cut in half. */
let flippedAt: number;
let cutAt: number;
/** The time of the last whole fragment before each damage: what plays of those segments ends with it. */
let flippedPlaysTo: number;
let cutPlaysTo: number;

/** Where each whole chunk of a segment file lies, with its kind (1 init, 2 media, 3 final) and its time (both in the clear). */
function chunksOf(file: Buffer): { at: number; end: number; kind: number; time: number }[] {
  const out = [];
  for (let at = SEGMENT_HEADER_BYTES; at + 13 <= file.length;) {
    const end = at + 13 + file.readUInt32BE(at);
    if (end > file.length) break;
    out.push({ at, end, kind: file[at + 4]!, time: Number(file.readBigUInt64BE(at + 5)) });
    at = end;
  }
  return out;
}

const fileOf = (s: SegmentInfo) => join(data, 'recordings', cameraId, `${s.id}.vseg`);

/** The camera's segments as the hub's index lists them to the phone. */
async function listed(): Promise<readonly SegmentInfo[]> {
  const p = profileFromJson(readFileSync(profile, 'utf8'));
  const link = new HubLink({ profile: p, relayFactory });
  const recs = new PhoneRecordings(link, p);
  try {
    await link.ready(30_000);
    return (await recs.list(cameraId, 0, Date.now() + 60_000)).segments;
  } finally {
    recs.close();
    await link.close();
  }
}

/** Video packets of a file: decode time and duration, seconds. */
async function packets(file: string): Promise<{ dts: number; duration: number }[]> {
  const r = await run('ffprobe', ['-v', 'error', '-select_streams', 'v', '-show_entries', 'packet=dts_time,duration_time', '-of', 'csv=p=0', file]);
  expect(r.code, r.stderr).toBe(0);
  return r.stdout.trim().split('\n').map((l) => l.split(',').map(Number)).map(([dts, duration]) => ({ dts: dts!, duration: duration! }));
}

async function expectDecodes(file: string): Promise<void> {
  // In the stream's own time base (see recordings-phone.test.ts): the null muxer's default 1/fps rounds.
  const decode = await run('ffmpeg', ['-v', 'error', '-i', file, '-enc_time_base', '-1', '-f', 'null', '-'], { timeoutMs: 60_000 });
  expect(decode.code).toBe(0);
  expect(decode.stderr.trim()).toBe('');
}

beforeAll(async () => {
  await cryptoReady();
  dir = tempDir('vigil-rec-tamper-');
  data = join(dir, 'hub');
  profile = join(dir, 'owner.json');
  // A keyframe every second: each segment of about 4 s holds about 4 fragments.
  const camera = await startCamera({ codec: 'h264', size: '640x360', fps: 15, gop: 15 });
  const relay = await startRelay();
  hub = await startHub(data, relay.url);
  await addCamera(data, CAMERA, camera.url);
  await pairPhone(data, profile, 'Owner');
  cameraId = String((await waitForCameraState(data, CAMERA, ['live'])).id);
  const rec = await run(VIGIL, ['record', '--data', data, '--camera', CAMERA, '--mode', 'continuous'], { timeoutMs: 30_000 });
  expect(rec.code, rec.stderr).toBe(0);
  let closed: readonly SegmentInfo[] = [];
  await waitUntil('five segments recorded and closed', async () => {
    closed = (await listed()).filter((s) => s.closed);
    return closed.length >= 5;
  }, 90_000, 1000);
  await hub.stop();
  seg = closed.slice(0, 5);

  // The hub is down; someone has its disk.
  for (const s of seg) expect(chunksOf(readFileSync(fileOf(s))).filter((c) => c.kind === 2).length, `segment ${s.id}`).toBeGreaterThanOrEqual(3);
  // 1. A byte flipped inside the second fragment of seg[0].
  const flipped = readFileSync(fileOf(seg[0]!));
  const second = chunksOf(flipped)[2]!;
  flipped[Math.floor((second.at + 13 + second.end) / 2)]! ^= 0x10;
  writeFileSync(fileOf(seg[0]!), flipped);
  flippedAt = second.time;
  flippedPlaysTo = chunksOf(flipped)[1]!.time;
  // 2. seg[1] cut in the middle of its last fragment (its final chunk goes with it).
  const cutFile = readFileSync(fileOf(seg[1]!));
  const media = chunksOf(cutFile).filter((c) => c.kind === 2);
  const last = media.at(-1)!;
  cutPlaysTo = media.at(-2)!.time;
  truncateSync(fileOf(seg[1]!), Math.floor((last.at + last.end) / 2));
  cutAt = last.time;
  // 3. The files of seg[2] and seg[3] swapped.
  renameSync(fileOf(seg[2]!), `${fileOf(seg[2]!)}.tmp`);
  renameSync(fileOf(seg[3]!), fileOf(seg[2]!));
  renameSync(`${fileOf(seg[2]!)}.tmp`, fileOf(seg[3]!));

  hub = await startHub(data, relay.url);
}, 180_000);

afterAll(async () => {
  await stopAll();
  await stopAllCameras();
});

describe('recordings tampered with on disk', () => {
  it('play names each damaged segment and why, and writes the rest: the damaged parts a gap, decoded without an error', async () => {
    const from = seg[0]!.start;
    const seconds = (seg[4]!.end - from) / 1000;
    const out = join(dir, 'play.mp4');
    const r = await run(VIGIL_PHONE, ['play', '--profile', profile, '--camera', CAMERA, '--from', iso(from), '--seconds', String(seconds), '--out', out], { timeoutMs: 90_000 });
    expect(r.code, r.stderr).toBe(0);
    const lines = r.stderr.trim().split('\n').filter((l) => l.includes(' segment '));
    const about = (s: SegmentInfo) => lines.filter((l) => l.startsWith(`"${CAMERA}": segment ${s.id} (`));
    expect(about(seg[4]!), r.stderr).toEqual([]);
    // One line each, naming the camera, the segment's time and what is wrong.
    expect(about(seg[0]!), r.stderr).toEqual([expect.stringMatching(new RegExp(
      `^"${CAMERA}": segment ${seg[0]!.id} \\(${iso(seg[0]!.start)} to .*\\): altered: chunk 2 does not open.*; played up to its fragment at ${iso(flippedPlaysTo)}, the rest of it left out$`))]);
    expect(about(seg[1]!), r.stderr).toEqual([expect.stringMatching(new RegExp(
      `^"${CAMERA}": segment ${seg[1]!.id} \\(${iso(seg[1]!.start)} to .*\\): cut short: chunk \\d+ is cut short; played up to its fragment at ${iso(cutPlaysTo)}, the rest of it left out$`))]);
    for (const [s, other] of [[seg[2]!, seg[3]!], [seg[3]!, seg[2]!]] as const) {
      expect(about(s), r.stderr).toEqual([expect.stringMatching(new RegExp(
        `^"${CAMERA}": segment ${s.id} \\(${iso(s.start)} to .*\\): not the segment the index names: its file is segment ${other.id} \\(${iso(other.start)}\\); left out$`))]);
    }
    expect(r.stdout).toMatch(new RegExp(`wrote .*play\\.mp4: 3 segments of "${CAMERA}", ${iso(seg[0]!.start)} to ${iso(seg[4]!.end)},`));
    expect(r.stdout).toContain('2 segments in part (damaged: the fragments before the damage are in), 2 left out');

    await expectDecodes(out);
    // What is missing is a gap in the file's time where it was recorded: from the flipped
    // fragment to the cut segment, and from the cut fragment past the swapped ones. Decode
    // times follow the camera's clock and chunk times the hub's: they agree to a fragment.
    const p = await packets(out);
    expect(p[0]!.dts).toBe(0);
    const gaps: [number, number][] = [];
    for (let i = 1; i < p.length; i++) {
      const ended = p[i - 1]!.dts + p[i - 1]!.duration;
      if (p[i]!.dts - ended > 0.5) gaps.push([ended, p[i]!.dts]);
    }
    const at = (ms: number) => (ms - from) / 1000;
    expect(gaps.length, JSON.stringify(gaps)).toBe(2);
    const expected = [[at(flippedAt), at(seg[1]!.start)], [at(cutAt), at(seg[4]!.start)]];
    for (const [i, [start, end]] of expected.entries()) {
      expect(Math.abs(gaps[i]![0] - start!), `gap ${i} starts (${JSON.stringify(gaps)} vs ${JSON.stringify(expected)})`).toBeLessThan(1.2);
      expect(Math.abs(gaps[i]![1] - end!), `gap ${i} ends (${JSON.stringify(gaps)} vs ${JSON.stringify(expected)})`).toBeLessThan(1.2);
    }
  }, 120_000);

  it('export takes only the untouched segments the hub signed, and verify-export passes it', async () => {
    const from = seg[0]!.start;
    const clip = join(dir, 'clip.mp4');
    const r = await run(VIGIL_PHONE, ['export', '--profile', profile, '--camera', CAMERA, '--from', iso(from), '--seconds', String((seg[4]!.end - from) / 1000), '--out', clip], { timeoutMs: 90_000 });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(new RegExp(`exported to .*: 1 segments of "${CAMERA}", ${iso(seg[4]!.start)} to ${iso(seg[4]!.end)},`));
    for (const s of seg.slice(0, 4)) expect(r.stderr).toMatch(new RegExp(`segment ${s.id} \\(.*\\): (altered|cut short|not the segment the index names): .*; left out`));
    const ok = await run(VIGIL, ['verify-export', clip], { timeoutMs: 30_000 });
    expect(ok.code, ok.stderr).toBe(0);
    expect(ok.stdout).toMatch(/, 1 segments?$/m);
    await expectDecodes(clip);
  }, 120_000);

  it('a segment file removed while the hub runs (as retention may, between list and fetch) is missing, and the rest still plays', async () => {
    rmSync(fileOf(seg[1]!));
    const from = seg[0]!.start;
    const out = join(dir, 'missing.mp4');
    const r = await run(VIGIL_PHONE, ['play', '--profile', profile, '--camera', CAMERA, '--from', iso(from), '--seconds', String((seg[4]!.end - from) / 1000), '--out', out], { timeoutMs: 90_000 });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(new RegExp(`^"${CAMERA}": segment ${seg[1]!.id} \\(.*\\): missing: the hub has no file of it now .*; left out$`, 'm'));
    expect(r.stdout).toMatch(new RegExp(`wrote .*missing\\.mp4: 2 segments of "${CAMERA}", ${iso(seg[0]!.start)} to ${iso(seg[4]!.end)},`));
    await expectDecodes(out);
  }, 120_000);
});
