// Events end to end (issue 17) on real parts: a hub (in this process, so the test can publish on its
// events bus as a detector does), the real relay behind a wiretap, the RTSP test camera with a
// moving ball, and command-line phones. An event published on hub.events and one found by the
// hub's own motion detection reach `vigil-phone events` decrypted; `event-image` writes the JPEG
// and ffprobe decodes it; `vigil events` on the hub lists times and kinds only; the relay's bytes
// hold no JPEG, camera name, event kind or zone; a removed phone gets no later event; and after
// the hub stops nothing in its data directory opens an event.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { cryptoReady, sodium } from '../../crypto/sodium.ts';
import { hubPublicKeys, importHubIdentity } from '../../crypto/identity.ts';
import { openEvent, readEventHeader } from '../../crypto/event.ts';
import { openEpochKey } from '../../crypto/recording.ts';
import { Secret } from '../../crypto/secret.ts';
import { Hub } from '../../main/hub.ts';
import { openStore } from '../../main/store/db.ts';
import { EventIndex } from '../../main/store/events.ts';
import { RecordingIndex } from '../../main/store/recordings.ts';
import { profileFromJson } from '../../phone/core/profile.ts';
import { startCamera, stopAllCameras } from '../support/camera/camera.ts';
import { startRelayTap, type RelayTap } from '../support/relay-tap.ts';
import { VIGIL, VIGIL_PHONE, pairPhone, run, start, startRelay, stopAll, tempDir, waitUntil } from '../support/system.ts';

const CAMERA = `Gatehouse ${randomBytes(3).toString('hex')}`;
const ZONE = `zone-${randomBytes(3).toString('hex')}`;
let dir: string;
let data: string;
let tap: RelayTap;
let hub: Hub | undefined;
let cameraId: string;
let jpeg: Uint8Array;
const profiles = { owner: '', lodger: '' };
let lodgerId: string;
const lines: string[] = [];

interface EventLine { id: number; camera: string; kind: string; start: string; end: string | null; zones: string[]; preview: number | null; revision: number; score: number }

function parseLines(stdout: string): EventLine[] {
  return stdout.trim().split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as EventLine);
}

async function phoneEvents(profile: string, extra: string[] = []): Promise<{ code: number | null; events: EventLine[]; stderr: string }> {
  const r = await run(VIGIL_PHONE, ['events', '--profile', profile, '--json', ...extra], { timeoutMs: 90_000 });
  return { code: r.code, events: parseLines(r.stdout), stderr: r.stderr };
}

async function probeJpeg(file: string): Promise<void> {
  const p = await run('ffprobe', ['-v', 'error', '-show_entries', 'stream=codec_name,width,height', '-of', 'json', file]);
  expect(p.code, p.stderr).toBe(0);
  const s = (JSON.parse(p.stdout) as { streams: { codec_name: string; width: number }[] }).streams[0]!;
  expect(s.codec_name).toBe('mjpeg');
  expect(s.width).toBeGreaterThan(0);
  const decode = await run('ffmpeg', ['-v', 'error', '-i', file, '-f', 'null', '-']);
  expect(decode.code).toBe(0);
  expect(decode.stderr.trim()).toBe('');
}

beforeAll(async () => {
  await cryptoReady();
  dir = tempDir();
  data = join(dir, 'hub');
  const made = join(dir, 'made.jpg');
  const ff = await run('ffmpeg', ['-v', 'error', '-f', 'lavfi', '-i', 'testsrc=size=160x90:rate=1', '-frames:v', '1', '-q:v', '6', made]);
  expect(ff.code, ff.stderr).toBe(0);
  jpeg = new Uint8Array(readFileSync(made));
  const camera = await startCamera({ codec: 'h264', size: '640x360', fps: 10, gop: 10, extraArgs: ['--pattern', 'ball'] });
  tap = await startRelayTap();
  const relay = await startRelay('127.0.0.1:0', ['--public-host', tap.host]);
  tap.setUpstream(relay.url);
  hub = await Hub.start({ dataDir: data, relays: [tap.url], apiHost: '127.0.0.1', apiPort: 0, log: (l) => lines.push(l) });
  cameraId = hub.cameras.add({ name: CAMERA, url: camera.url }).id;
  profiles.owner = join(dir, 'owner.json');
  profiles.lodger = join(dir, 'lodger.json');
  await pairPhone(data, profiles.owner, 'Owner');
  lodgerId = (await pairPhone(data, profiles.lodger, 'Lodger', 'viewer')).deviceId;
  await waitUntil('the recording epoch after both phones', () => hub!.recordings.epochs.current !== undefined && hub!.recordings.index.hasKey(lodgerId, hub!.recordings.epochs.current.epoch), 30_000);
}, 180_000);

afterAll(async () => {
  await hub?.close();
  await tap?.close();
  await stopAll();
  await stopAllCameras();
});

describe('events on phones', () => {
  let published: number;

  it('an event published on the bus reaches a following phone decrypted, at once, and then its end', async () => {
    const follow = start(VIGIL_PHONE, ['events', '--profile', profiles.owner, '--json', '--follow', '--seconds', '40'], { maxSeconds: 120 });
    try {
      await follow.waitFor(/following events for 40 s/, 60_000);
      await followed(follow);
    } finally {
      await follow.stop();
    }
  }, 150_000);

  async function followed(follow: ReturnType<typeof start>): Promise<void> {
    const before = hub!.eventStore.sealer.counters.notices;
    const startMs = Date.now();
    hub!.events.started('test:1', { cameraId, kind: 'tamper', source: 'test', startMs, score: 0.5, zones: [ZONE], preview: jpeg });
    const m = await follow.waitFor(/\{"id":(\d+),[^\n]*"kind":"tamper"[^\n]*\n/, 30_000);
    published = Number(m[1]);
    const first = JSON.parse(m[0]) as EventLine;
    expect(first).toMatchObject({ camera: CAMERA, kind: 'tamper', zones: [ZONE], end: null, preview: jpeg.length, score: 0.5 });
    expect(Date.parse(first.start)).toBe(startMs);
    expect(hub!.eventStore.sealer.counters.notices).toBeGreaterThan(before);
    hub!.events.ended('test:1', { cameraId, kind: 'tamper', source: 'test', startMs, endMs: startMs + 3000, score: 0.75, zones: [ZONE] });
    const ended = await follow.waitFor(new RegExp(`\\{"id":${published},[^\\n]*"end":"[^"]+"[^\\n]*\\n`), 30_000);
    const last = JSON.parse(ended[0]) as EventLine;
    expect(Date.parse(last.end!)).toBe(startMs + 3000);
    expect(last.score).toBe(0.75);
    expect(last.preview).toBe(jpeg.length); // the picture is kept when a later report has none
    expect(last.revision).toBeGreaterThan(first.revision);
  }

  it('vigil-phone events lists it; event-image writes the JPEG, which decodes; vigil events shows times and kinds only', async () => {
    const listed = await phoneEvents(profiles.owner, ['--camera', CAMERA]);
    expect(listed.code, listed.stderr).toBe(0);
    const e = listed.events.find((x) => x.id === published)!;
    expect(e).toMatchObject({ kind: 'tamper', camera: CAMERA, zones: [ZONE], preview: null }); // a list carries no picture
    const out = join(dir, 'event.jpg');
    const r = await run(VIGIL_PHONE, ['event-image', '--profile', profiles.owner, '--event', String(published), '--out', out], { timeoutMs: 60_000 });
    expect(r.code, r.stderr).toBe(0);
    expect(Buffer.from(readFileSync(out)).equals(Buffer.from(jpeg))).toBe(true);
    await probeJpeg(out);
    const hubSide = await run(VIGIL, ['events', '--data', data, '--camera', CAMERA, '--json']);
    expect(hubSide.code, hubSide.stderr).toBe(0);
    const row = parseLines(hubSide.stdout).find((x) => x.id === published)!;
    expect(row).toEqual({ id: published, camera: CAMERA, cameraId, kind: 'tamper', start: e.start, end: e.end, sealed: true });
    expect(hubSide.stdout).not.toContain(ZONE);
  }, 150_000);

  it('the hub\'s own motion detection on the moving ball makes an event with a picture the phone opens', async () => {
    const d = await run(VIGIL, ['detect', '--data', data, '--camera', CAMERA, '--motion', 'on']);
    expect(d.code, d.stderr).toBe(0);
    const index = new EventIndex(hub!.store);
    await waitUntil('a motion event', () => index.list({ cameraId, limit: 100 }).some((x) => x.kind === 'motion'), 90_000, 500);
    const motion = index.list({ cameraId, limit: 100 }).find((x) => x.kind === 'motion')!;
    const listed = await phoneEvents(profiles.owner);
    expect(listed.code, listed.stderr).toBe(0);
    expect(listed.events.find((x) => x.id === motion.id)).toMatchObject({ kind: 'motion', camera: CAMERA });
    const out = join(dir, 'motion.jpg');
    const r = await run(VIGIL_PHONE, ['event-image', '--profile', profiles.owner, '--event', String(motion.id), '--out', out], { timeoutMs: 60_000 });
    expect(r.code, r.stderr).toBe(0);
    await probeJpeg(out);
    const off = await run(VIGIL, ['detect', '--data', data, '--camera', CAMERA, '--motion', 'off']);
    expect(off.code, off.stderr).toBe(0);
  }, 180_000);

  it('a removed phone gets no later event: no notice, not listed, its picture refused', async () => {
    const before = await phoneEvents(profiles.lodger);
    expect(before.code, before.stderr).toBe(0);
    expect(before.events.some((x) => x.id === published)).toBe(true);
    expect(await hub!.revokeDevice(lodgerId)).toBe(true);
    const startMs = Date.now();
    hub!.events.started('test:2', { cameraId, kind: 'line-crossing', source: 'test', startMs, score: 0.9, zones: [ZONE], preview: jpeg });
    hub!.events.ended('test:2', { cameraId, kind: 'line-crossing', source: 'test', startMs, endMs: startMs + 1000, score: 0.9, zones: [ZONE] });
    const index = new EventIndex(hub!.store);
    const later = index.list({ cameraId, limit: 1000 }).find((x) => x.kind === 'line-crossing')!;
    expect(later.epoch).not.toBeNull();
    expect(hub!.recordings.index.hasKey(lodgerId, later.epoch!)).toBe(false);
    expect(index.listFor(lodgerId, { limit: 1000 }).map((x) => x.id)).not.toContain(later.id);
    const owner = await phoneEvents(profiles.owner);
    expect(owner.events.some((x) => x.id === later.id && x.kind === 'line-crossing')).toBe(true);
    const lodger = await phoneEvents(profiles.lodger);
    expect(lodger.code).not.toBe(0);
    expect(lodger.events.some((x) => x.id === later.id)).toBe(false);
    const image = await run(VIGIL_PHONE, ['event-image', '--profile', profiles.lodger, '--event', String(later.id), '--out', join(dir, 'lodger.jpg')], { timeoutMs: 60_000 });
    expect(image.code).not.toBe(0);
  }, 180_000);

  it('the relay carried no JPEG, camera name, event kind or zone in clear', () => {
    const all = Buffer.concat(tap.captured);
    expect(all.length).toBeGreaterThan(100_000);
    // Any JPEG ffmpeg writes (the test's and the hub's previews) opens with SOI and a JFIF APP0
    // segment: 11 bytes, which megabytes of ciphertext hold by chance with odds of about 2^-65. (The
    // 3-byte SOI marker alone turns up in a few megabytes of random bytes a third of the time.)
    expect(Buffer.from(jpeg.subarray(0, 11)).toString('latin1')).toBe('\xff\xd8\xff\xe0\x00\x10JFIF\x00');
    expect(all.includes(Buffer.from(jpeg.subarray(0, 11)))).toBe(false);
    expect(all.includes(Buffer.from(jpeg.subarray(100, 164)))).toBe(false);
    for (const text of [CAMERA, ZONE, 'tamper', 'line-crossing', 'motion']) expect(all.includes(Buffer.from(text)), text).toBe(false);
  });

  it('after the hub stops, nothing in its data directory opens an event; the owner\'s profile opens them all', async () => {
    await hub!.close();
    hub = undefined;
    const files: string[] = [];
    const walk = (d: string): void => {
      for (const f of readdirSync(d)) {
        const p = join(d, f);
        if (statSync(p).isDirectory()) walk(p);
        else files.push(p);
      }
    };
    walk(data);
    const store = openStore(data);
    let rows;
    let identity;
    let sealedKeys;
    try {
      identity = importHubIdentity(store.getHubIdentity()!);
      rows = new EventIndex(store).listSealed({ limit: 10_000 }).filter((r) => r.sealed !== null);
      sealedKeys = new RecordingIndex(store).allSealedKeys();
    } finally {
      store.close();
    }
    expect(rows.length).toBeGreaterThanOrEqual(3);
    // No picture, zone or kind detail in clear anywhere on disk (the kind is a column: only there).
    for (const f of files) {
      const bytes = readFileSync(f);
      expect(bytes.includes(Buffer.from(jpeg.subarray(100, 164))), f).toBe(false);
      expect(bytes.includes(Buffer.from(ZONE)), f).toBe(false);
    }
    const candidates: Uint8Array[] = [];
    for (const pair of [identity.signing, identity.exchange, identity.pq, identity.relay]) {
      const secret = pair.privateKey.expose();
      for (let i = 0; i + 32 <= secret.length; i += 32) candidates.push(secret.subarray(i, i + 32));
    }
    for (const f of files) {
      const bytes = readFileSync(f);
      for (let i = 0; i + 32 <= bytes.length; i += 32) candidates.push(bytes.subarray(i, i + 32));
    }
    candidates.push(sodium().randombytes_buf(32));
    const keys = hubPublicKeys(identity);
    const sample = rows.find((r) => r.kind === 'tamper')!;
    const epoch = readEventHeader(sample.sealed!).epoch;
    const opened = candidates.filter((c) => {
      try {
        openEvent(sample.sealed!, { epoch, seed: new Secret(Uint8Array.from(c), 'candidate') }, keys);
        return true;
      } catch {
        return false;
      }
    });
    expect(opened.length, `${candidates.length} candidates tried`).toBe(0);
    // The owner's profile opens every event with its sealed seeds.
    const phone = profileFromJson(readFileSync(profiles.owner, 'utf8'));
    const ownerId = Buffer.from(phone.device.deviceId).toString('hex');
    for (const r of rows) {
      const k = sealedKeys.find((s) => s.deviceId === ownerId && s.epoch === r.epoch)!;
      const seed = openEpochKey(k.sealed, phone.device, phone.hub.hubId);
      const e = openEvent(r.sealed!, seed, phone.hub);
      expect(e.record.kind).toBe(r.kind);
      expect(e.record.start).toBe(r.startMs);
    }
  }, 240_000);
});
