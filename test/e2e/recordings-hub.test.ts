// Recordings on the real hub (issue 16): `vigil record --mode continuous` on the RTSP test camera,
// segments listed by `vigil recordings --json` and by the phone commands, a phone paired later
// refused the earlier segments (T3), and after the hub stops nothing in its data directory opens
// any segment, while a phone's profile opens every one.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { cryptoReady, sodium } from '../../crypto/sodium.ts';
import { hubPublicKeys, importHubIdentity, type DeviceIdentity } from '../../crypto/identity.ts';
import {
  SEALED_EPOCH_KEY_BYTES, decodeRecordingEpoch, openEpochKey, openSegment, readSegmentHeader,
} from '../../crypto/recording.ts';
import { Secret } from '../../crypto/secret.ts';
import WebSocket from 'ws';
import Database from 'better-sqlite3';
import { RelayClient, type RelayClientOptions, type WebSocketConstructor } from '../../relay/client.ts';
import { HubLink } from '../../phone/core/hub-link.ts';
import { CommandError } from '../../phone/core/link/api.ts';
import { profileFromJson, type PhoneProfile } from '../../phone/core/profile.ts';
import { openStore } from '../../main/store/db.ts';
import { RecordingIndex } from '../../main/store/recordings.ts';
import { runningHub } from '../../main/cli/api-client.ts';
import { startCamera, stopAllCameras, type TestCamera } from '../support/camera/camera.ts';
import {
  VIGIL, addCamera, pairPhone, run, startHub, startRelay, stopAll, tempDir, waitForCameraState, waitUntil, type Running,
} from '../support/system.ts';

const CAMERA = 'Hall';
let dir: string;
let camera: TestCamera;
let hubProc: Running;
const hub = () => join(dir, 'hub');
const profiles = { early: '', late: '' };

beforeAll(async () => {
  await cryptoReady();
  dir = tempDir();
  // A keyframe every second: segments of about 4 s.
  camera = await startCamera({ codec: 'h264', size: '640x360', fps: 15, gop: 15 });
  const relay = await startRelay('127.0.0.1:0');
  hubProc = await startHub(hub(), relay.url, ['--no-lan']);
  profiles.early = join(dir, 'early.json');
  profiles.late = join(dir, 'late.json');
  await pairPhone(hub(), profiles.early, 'Early');
  await addCamera(hub(), CAMERA, camera.url);
  await waitForCameraState(hub(), CAMERA, ['live']);
}, 150_000);

afterAll(async () => {
  await stopAll();
  await stopAllCameras();
});

const relayFactory = (o: RelayClientOptions) => new RelayClient({ ...o, WebSocket: WebSocket as unknown as WebSocketConstructor });

function profileOf(path: string): PhoneProfile {
  return profileFromJson(readFileSync(path, 'utf8'));
}

/** Every file under `root`, recursively. */
function filesUnder(root: string): string[] {
  return readdirSync(root, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? filesUnder(join(root, e.name)) : [join(root, e.name)]));
}

describe('recordings on the hub', () => {
  let cameraId = '';
  let lateSegmentsFrom = 0;

  it('vigil record --mode continuous: segments appear in vigil recordings --json', async () => {
    const r = await run(VIGIL, ['record', '--data', hub(), '--camera', CAMERA, '--mode', 'continuous', '--keep-days', '3']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/"Hall": continuous, recordings kept 3 days/);
    const api = (await runningHub(hub()))!;
    await waitUntil('three recorded segments', async () => ((await api.call('recordings')).find((c) => c.name === CAMERA)?.segments ?? 0) >= 3, 60_000, 500);
    const list = await run(VIGIL, ['recordings', '--data', hub(), '--json']);
    expect(list.code, list.stderr).toBe(0);
    const hall = list.stdout.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>).find((c) => c.camera === CAMERA)!;
    expect(hall).toMatchObject({ mode: 'continuous', keepDays: 3, recording: true });
    expect(hall.segments as number).toBeGreaterThanOrEqual(3);
    expect(hall.bytes as number).toBeGreaterThan(10_000);
    expect(Date.parse(hall.newest as string)).toBeGreaterThan(Date.parse(hall.oldest as string));
    cameraId = hall.id as string;
    // `events` says what it records.
    const events = await run(VIGIL, ['record', '--data', hub(), '--camera', CAMERA, '--mode', 'events']);
    expect(events.stdout).toMatch(/events mode records from up to 5 s before each event to 10 s after it ends/);
    expect((await run(VIGIL, ['record', '--data', hub(), '--camera', CAMERA, '--mode', 'continuous'])).code).toBe(0);
  }, 90_000);

  it('phones: the index, a segment\'s ciphertext, and a phone paired later refused the earlier ones (T3)', async () => {
    const early = new HubLink({ profile: profileOf(profiles.early), relayFactory });
    try {
      const keys = await early.command('recording-keys', {});
      expect(keys.keys.length).toBeGreaterThan(0);
      const listed = await early.command('recordings', { camera: cameraId });
      expect(listed.mode).toBe('continuous');
      expect(listed.segments.length).toBeGreaterThanOrEqual(3);
      expect(listed.ranges.length).toBeGreaterThanOrEqual(1);
      const first = listed.segments[0]!;
      const got = await early.command('segment', { camera: cameraId, id: first.id });
      const file = join(hub(), 'recordings', cameraId, `${first.id}.vseg`);
      expect(got.bytes).toBe(statSync(file).size);
      expect(got.chunks).toBe(Math.ceil(got.bytes / (36 * 1024)));
      await expect(early.command('segment', { camera: cameraId, id: '999999999' })).rejects.toMatchObject({ code: 'no-such-segment' });

      // A phone paired now holds no key of the segments recorded before it (a new epoch began).
      await pairPhone(hub(), profiles.late, 'Late', 'viewer');
      lateSegmentsFrom = Date.now();
      const late = new HubLink({ profile: profileOf(profiles.late), relayFactory });
      try {
        const refused = await late.command('segment', { camera: cameraId, id: first.id }).catch((e: unknown) => e);
        expect(refused).toBeInstanceOf(CommandError);
        expect((refused as CommandError).code).toBe('no-recording-key');
        const lateKeys = await late.command('recording-keys', {});
        const earliest = Math.min(...lateKeys.keys.map((k) => decodeRecordingEpoch(Buffer.from(k.epoch, 'base64url'), profileOf(profiles.late).hub).epoch));
        expect(earliest).toBeGreaterThan(first.epoch);
      } finally {
        await late.close();
      }
      const audit = await (await runningHub(hub()))!.call('audit', 50);
      expect(audit.some((a) => a.action === 'command-refused' && a.detail.reason === 'no-recording-key')).toBe(true);
    } finally {
      await early.close();
    }
    // Recording goes on in the late phone's epoch.
    const api = (await runningHub(hub()))!;
    await waitUntil('a segment after the late phone', async () => {
      const r = (await api.call('recordings')).find((c) => c.name === CAMERA);
      return (r?.newest ?? 0) > lateSegmentsFrom + 4000;
    }, 60_000, 500);
  }, 120_000);

  it('after the hub stops, nothing in its data directory opens any segment; a phone\'s profile opens them all', async () => {
    expect(await hubProc.stop()).toBe(0);
    const files = filesUnder(hub());
    const segments = files.filter((f) => f.endsWith('.vseg'));
    expect(segments.length).toBeGreaterThanOrEqual(4);

    const store = openStore(hub());
    let hubIdentity;
    let sealed;
    let epochs;
    try {
      const index = new RecordingIndex(store);
      // The store holds sealed seeds and public, signed epochs: nothing else of the epochs' keys.
      hubIdentity = importHubIdentity(store.getHubIdentity()!);
      sealed = index.allSealedKeys();
      epochs = index.epochs();
      for (const e of epochs) expect(decodeRecordingEpoch(e.epoch, hubPublicKeys(hubIdentity)).epoch).toBe(e.number);
      for (const k of sealed) expect(k.sealed.length).toBe(SEALED_EPOCH_KEY_BYTES);
      const rows = index.allSegments();
      expect(rows.map((r) => join(hub(), r.path)).sort()).toEqual(segments.sort());
      for (const r of rows) expect(statSync(join(hub(), r.path)).size, r.path).toBe(r.bytes);
      expect(rows.every((r) => r.closed)).toBe(true); // the hub closed every segment as it stopped
    } finally {
      store.close();
    }
    const db = new Database(join(hub(), 'hub.db'), { readonly: true });
    try {
      const columns = db.prepare<[], { sql: string }>("SELECT sql FROM sqlite_schema WHERE name IN ('recording_epochs', 'recording_keys', 'segments')").all();
      expect(columns.length).toBe(3);
      expect(columns.map((c) => c.sql).join('\n')).not.toMatch(/seed|private|secret/i);
    } finally {
      db.close();
    }

    // Every key material the data directory holds, and every 32-byte window of its other files.
    const candidates: Uint8Array[] = [];
    for (const pair of [hubIdentity.signing, hubIdentity.exchange, hubIdentity.pq, hubIdentity.relay]) {
      const secret = pair.privateKey.expose();
      for (let i = 0; i + 32 <= secret.length; i += 32) candidates.push(secret.subarray(i, i + 32));
    }
    for (const f of files.filter((x) => !x.endsWith('.vseg'))) {
      const bytes = readFileSync(f);
      for (let i = 0; i + 32 <= bytes.length; i += 32) candidates.push(bytes.subarray(i, i + 32));
    }
    candidates.push(sodium().randombytes_buf(32));
    const hubKeys = hubPublicKeys(hubIdentity);
    const sample = readFileSync(segments[0]!);
    const opened = candidates.filter((c) => {
      try {
        openSegment(sample, new Secret(Uint8Array.from(c), 'candidate'), hubKeys);
        return true;
      } catch {
        return false;
      }
    });
    expect(opened.length, `${candidates.length} candidates tried`).toBe(0);
    // The hub's own X-Wing key, posing as the addressed phone, opens no sealed seed either.
    const posing = (deviceId: Uint8Array): DeviceIdentity => ({ deviceId, signing: hubIdentity.signing, exchange: hubIdentity.exchange, pq: hubIdentity.pq });
    for (const k of sealed) {
      expect(() => openEpochKey(k.sealed, posing(Buffer.from(k.deviceId, 'hex')), hubIdentity.hubId)).toThrow();
    }

    // The early phone opens every segment with its own sealed seeds.
    const phone = profileOf(profiles.early);
    const phoneId = Buffer.from(phone.device.deviceId).toString('hex');
    const seeds = new Map<number, Secret>();
    for (const k of sealed.filter((s) => s.deviceId === phoneId)) seeds.set(k.epoch, openEpochKey(k.sealed, phone.device, phone.hub.hubId).seed);
    for (const path of segments) {
      const bytes = readFileSync(path);
      const header = readSegmentHeader(bytes);
      const seed = seeds.get(header.epoch);
      expect(seed, `${relative(hub(), path)}: a key of epoch ${header.epoch}`).toBeDefined();
      const s = openSegment(bytes, seed!, phone.hub);
      expect(s.damaged, relative(hub(), path)).toBeUndefined();
      expect(s.proof, relative(hub(), path)).toBeDefined();
      expect(s.chunks[0]!.kind).toBe('init');
      expect(s.chunks.length).toBeGreaterThanOrEqual(2); // a segment cut by a new epoch may hold one fragment
      // fMP4 in clear only on the phone: an ftyp box in the init chunk, a moof in each fragment.
      expect(Buffer.from(s.chunks[0]!.payload).includes('ftyp')).toBe(true);
      expect(Buffer.from(s.chunks[1]!.payload).includes('moof')).toBe(true);
      expect(bytes.includes('moof')).toBe(false);
    }
    // The late phone opens only what was recorded after it was paired.
    const late = profileOf(profiles.late);
    const lateId = Buffer.from(late.device.deviceId).toString('hex');
    const lateEpochs = new Set(sealed.filter((s) => s.deviceId === lateId).map((s) => s.epoch));
    const lateOpens = segments.filter((p) => lateEpochs.has(readSegmentHeader(readFileSync(p)).epoch));
    expect(lateOpens.length).toBeGreaterThan(0);
    expect(lateOpens.length).toBeLessThan(segments.length);
  }, 120_000);
});
