// Recordings played on the desktop app (issue 16, THREAT-MODEL T13), through the hub UI's API: a real
// hub in this process records the RTSP test camera (its frames stamped with the time they were made),
// the owner turns "Play recordings on this computer" on over the local HTTP API (the renderer's own
// HttpBridge), and a played range comes back as an MP4 that ffmpeg decodes without an error and whose
// frames are the camera's, in order, from those times. The desktop viewer opens the segments with the
// phone's own code (main/keys/desktop-playback.ts). A damaged segment is one line, as `vigil-phone
// play` says it; turned off, a play is refused before any key is unwrapped.
//
// Electron cannot run here (no display, no OS keychain in CI): the keychain is a stand-in that keeps
// its key in this process, as the desktop app's safeStorage keeps it in the OS's keychain, and the
// settings file is the one main/electron/desktop-viewer.main.ts writes, at a temporary path.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Result } from '../../../contract/hub-ui.ts';
import { cryptoReady, sodium } from '../../../crypto/sodium.ts';
import { isHubError } from '../../../main/api/errors.ts';
import { HubService } from '../../../main/api/service.ts';
import { Hub } from '../../../main/hub.ts';
import {
  DESKTOP_VIEWER_FILE, DesktopViewer, DesktopViewerError, OS_KEYCHAIN, saveRecordingsOnDesktop, type KeychainProtector,
} from '../../../main/keys/desktop-viewer.ts';
import type { SegmentRow } from '../../../main/store/recordings.ts';
import { HttpBridge } from '../../../renderer/bridge-http.ts';
import { startCamera, type StampLayout, type TestCamera } from '../../support/camera/camera.ts';
import { readStamp } from '../../support/camera/stamp.ts';

const CAMERA = 'Porch';
const SIZE = { w: 640, h: 360 };
const FPS = 15;

/** A stand-in OS keychain: its key lives in this object, never in the data directory; it counts unwraps. */
function keychain(): KeychainProtector & { unwraps: number } {
  const s = sodium();
  const key = s.crypto_secretbox_keygen();
  return {
    kind: OS_KEYCHAIN,
    unwraps: 0,
    protect(plain) {
      const nonce = s.randombytes_buf(s.crypto_secretbox_NONCEBYTES);
      return new Uint8Array([...nonce, ...s.crypto_secretbox_easy(plain, nonce, key)]);
    },
    unprotect(blob) {
      this.unwraps++;
      return s.crypto_secretbox_open_easy(blob.subarray(s.crypto_secretbox_NONCEBYTES), blob.subarray(0, s.crypto_secretbox_NONCEBYTES), key);
    },
  };
}

function value<T>(r: Result<T>): T {
  if (!r.ok) throw new Error(r.error);
  return r.value;
}

async function until(what: string, cond: () => boolean, timeoutMs: number): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

function ffmpeg(args: string[]): Promise<{ code: number | null; out: Buffer; err: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn('ffmpeg', ['-hide_banner', '-nostdin', '-v', 'error', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    let err = '';
    const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
    child.stdout.on('data', (b: Buffer) => out.push(b));
    child.stderr.on('data', (b: Buffer) => (err += b.toString()));
    child.once('error', reject);
    child.once('close', (code) => {
      clearTimeout(timer);
      resolve({ code, out: Buffer.concat(out), err });
    });
  });
}

/** Every file under a directory. */
function filesUnder(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true, recursive: true }).filter((e) => e.isFile()).map((e) => join(e.parentPath, e.name));
}

let camera: TestCamera;
let stamp: StampLayout;
let work: string;
let data: string;
let settingsPath: string;
let hub: Hub;
let kc: ReturnType<typeof keychain>;
let viewer: DesktopViewer;
let bridge: HttpBridge;
let cameraId: string;

beforeAll(async () => {
  await cryptoReady();
  camera = await startCamera({ size: `${SIZE.w}x${SIZE.h}`, fps: FPS, gop: FPS, stamp: true });
  stamp = camera.info.stamp!;
  work = mkdtempSync(join(tmpdir(), 'vigil-desktop-play-'));
  data = join(work, 'hub');
  settingsPath = join(work, 'settings.json');
  writeFileSync(settingsPath, JSON.stringify({ relays: ['wss://relay.example'] }));
  hub = await Hub.start({ dataDir: data, relays: [], apiHost: '127.0.0.1', apiPort: 0 });
  kc = keychain();
  viewer = new DesktopViewer({
    dataDir: data, identity: hub.identity, protector: kc, index: hub.recordings.index,
    enrol: (c, name) => hub.enrolDesktopViewer(c, name), revoke: (id) => hub.revokeDevice(id),
    persist: (on) => saveRecordingsOnDesktop(settingsPath, on),
  });
  // What main/electron/desktop-viewer.main.ts does after Hub.start in the app.
  hub.service.attachDesktop(viewer);
  bridge = new HttpBridge(hub.apiToken, hub.apiUrl);
  cameraId = hub.cameras.add({ name: CAMERA, url: camera.url }).id;
}, 60_000);

afterAll(async () => {
  await hub?.close();
  await camera?.stop();
  if (work) rmSync(work, { recursive: true, force: true });
});

describe('recordings played on this computer', () => {
  let segments: SegmentRow[];

  it('the owner turns it on through the API: the viewer is enrolled, the choice kept in settings.json', async () => {
    expect(value(await bridge.desktopRecordings())).toEqual({ available: true, enabled: false });
    expect(value(await bridge.setDesktopRecordings(true))).toEqual({ available: true, enabled: true });
    expect(JSON.parse(readFileSync(settingsPath, 'utf8'))).toEqual({ relays: ['wss://relay.example'], recordingsOnDesktop: true });
    expect(existsSync(join(data, DESKTOP_VIEWER_FILE))).toBe(true);
    const device = hub.store.listDevices().find((d) => d.name.startsWith('Desktop app'));
    expect(device?.role).toBe('viewer');
    // Recording starts after it is on: every segment from now on is of an epoch sealed to it.
    const epoch = hub.recordings.index.epochs().at(-1)!.number;
    expect(hub.recordings.index.hasKey(device!.id, epoch)).toBe(true);
    value(await bridge.setRecording(CAMERA, 'continuous'));
  });

  it('plays a range: an MP4 that ffmpeg decodes without an error, of the camera\'s frames from those times, given once', async () => {
    const closed = () => hub.recordings.index.segmentsIn(cameraId, 0, Date.now() + 60_000, 100).filter((s) => s.closed);
    await until('three closed segments', () => closed().length >= 3, 90_000);
    segments = closed().slice(0, 3);
    const from = segments[0]!.startMs;
    const to = segments[2]!.endMs;
    const clip = value(await bridge.playRecording(CAMERA, from, (to - from) / 1000));
    expect(clip).toMatchObject({ mime: 'video/mp4', segments: 3, partial: 0, left: 0, lines: [], start: from });
    const bytes = value(await bridge.recordingClip(clip.clip));
    expect(bytes.length).toBe(clip.bytes);
    expect((await bridge.recordingClip(clip.clip)).ok).toBe(false); // once

    // Nothing decrypted on the hub's disk: no piece of the MP4 in any file of the data directory.
    const piece = Buffer.from(bytes.subarray(bytes.length >> 1, (bytes.length >> 1) + 64));
    for (const f of filesUnder(data)) expect(readFileSync(f).includes(piece), f).toBe(false);

    const file = join(work, 'played.mp4');
    writeFileSync(file, bytes);
    // In the stream's own time base (as test/e2e/recordings-phone.test.ts): the null muxer's default
    // 1/fps would round the first frame of a camera run (one 90 kHz tick long) onto the next.
    const check = await ffmpeg(['-i', file, '-enc_time_base', '-1', '-f', 'null', '-']);
    expect(check.err).toBe('');
    expect(check.code).toBe(0);
    const grey = await ffmpeg(['-i', file, '-map', '0:v:0', '-fps_mode', 'passthrough', '-f', 'rawvideo', '-pix_fmt', 'gray', 'pipe:1']);
    expect(grey.code).toBe(0);
    const frame = SIZE.w * SIZE.h;
    const frames = grey.out.length / frame;
    expect(Number.isInteger(frames)).toBe(true);
    const stamps: number[] = [];
    for (let i = 0; i < frames; i++) {
      const t = readStamp(grey.out.subarray(i * frame, (i + 1) * frame), SIZE.w, stamp);
      if (t !== undefined) stamps.push(t);
    }
    // Frames of the whole range (the camera's rate may sag on a busy machine), nearly every one with
    // its stamp, in the order made, made when those segments were recorded (a frame reaches the hub
    // a little after it is made).
    expect(frames).toBeGreaterThanOrEqual(Math.floor((to - from) / 1000 * FPS * 0.5));
    expect(stamps.length).toBeGreaterThanOrEqual(Math.floor(frames * 0.9));
    for (let i = 1; i < stamps.length; i++) expect(stamps[i]!).toBeGreaterThan(stamps[i - 1]!);
    expect(stamps[0]!).toBeGreaterThan(from - 5000);
    expect(stamps[0]!).toBeLessThanOrEqual(from);
    expect(stamps.at(-1)!).toBeLessThanOrEqual(to);
    expect(stamps.at(-1)! - stamps[0]!).toBeGreaterThan(to - from - 3000);
  }, 150_000);

  it('says a damaged segment in one line, as vigil-phone play does, and plays the rest', async () => {
    const middle = segments[1]!;
    const path = join(data, middle.path);
    const bytes = readFileSync(path);
    bytes[Math.floor(bytes.length * 0.6)]! ^= 0x01;
    writeFileSync(path, bytes);
    const clip = value(await bridge.playRecording(cameraId, segments[0]!.startMs, (segments[2]!.endMs - segments[0]!.startMs) / 1000));
    expect(clip).toMatchObject({ segments: 3, partial: 1, left: 0 });
    expect(clip.lines).toHaveLength(1);
    expect(clip.lines[0]).toMatch(new RegExp(`^segment ${middle.id} \\(.+ to .+\\): altered: .*played up to its fragment at`));
    const file = join(work, 'damaged.mp4');
    writeFileSync(file, value(await bridge.recordingClip(clip.clip)));
    const check = await ffmpeg(['-i', file, '-enc_time_base', '-1', '-f', 'null', '-']);
    expect(check.err).toBe('');
  }, 60_000);

  it('turned off: refused with a typed error before any key is unwrapped, the viewer removed, the choice kept', async () => {
    expect(value(await bridge.setDesktopRecordings(false))).toEqual({ available: true, enabled: false });
    expect(JSON.parse(readFileSync(settingsPath, 'utf8'))).toEqual({ relays: ['wss://relay.example'], recordingsOnDesktop: false });
    expect(existsSync(join(data, DESKTOP_VIEWER_FILE))).toBe(false);
    expect(hub.store.listDevices({ includeRevoked: true }).find((d) => d.name.startsWith('Desktop app'))?.revokedAt).not.toBeNull();
    const unwraps = kc.unwraps;
    const from = segments[0]!.startMs;
    const refused = await bridge.playRecording(CAMERA, from, 8);
    expect(refused).toEqual({ ok: false, error: expect.stringMatching(/turn on "Play recordings on this computer" first/) });
    const typed = await hub.service.playRecording(CAMERA, from, 8).then(() => 'played', (e: unknown) => (isHubError(e, 'conflict') ? e.cause : e));
    expect(typed).toBeInstanceOf(DesktopViewerError);
    expect((typed as DesktopViewerError).code).toBe('not-enabled');
    expect(kc.unwraps).toBe(unwraps);
  });

  it('a hub without the desktop app (headless) says why not, and refuses', async () => {
    const headless = new HubService(hub);
    const state = await headless.desktopRecordings();
    expect(state).toMatchObject({ available: false, enabled: false, why: expect.stringMatching(/^No OS keychain .*recordings play on your phones\.$/) });
    await expect(headless.playRecording(CAMERA, Date.now() - 10_000, 5)).rejects.toSatisfy((e: unknown) => isHubError(e, 'conflict'));
    await expect(headless.setDesktopRecordings(true)).rejects.toSatisfy((e: unknown) => isHubError(e, 'conflict'));
    expect(statSync(data).isDirectory()).toBe(true);
  });
});
