// Recordings from the phone's side, on the real programs (issue 16): the hub records the RTSP test
// camera, restarts, and `vigil-phone play` writes a range from before the restart that starts at 0
// and plays; `export` + `vigil verify-export` pass, and fail on a tampered byte; a phone paired
// after the recording is refused the past (no-recording-key); a removed phone gets no key of a
// later epoch; and a wiretap on the relay finds no plaintext of any recording it carried.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import WebSocket from 'ws';
import { fromBase64url, toHex } from '../../crypto/bytes.ts';
import { cryptoReady } from '../../crypto/sodium.ts';
import { HubLink } from '../../phone/core/hub-link.ts';
import { profileFromJson } from '../../phone/core/profile.ts';
import { PhoneRecordings } from '../../phone/core/recordings.ts';
import { RelayClient, type RelayClientOptions, type WebSocketConstructor } from '../../relay/client.ts';
import { startCamera, stopAllCameras } from '../support/camera/camera.ts';
import { startRelayTap, type RelayTap } from '../support/relay-tap.ts';
import {
  VIGIL, VIGIL_PHONE, addCamera, pairPhone, run, startHub, startRelay, stopAll, tempDir, waitForCameraState, waitUntil, type Running,
} from '../support/system.ts';

const CAMERA = `Porch ${randomBytes(3).toString('hex')}`;
let dir: string;
let data: string;
let tap: RelayTap;
let relayUrl: string;
let hub: Running;
const profiles = { owner: '', removed: '', later: '' };
let removedId: string;
let hubIdHex: string;
/** The first recorded range: it began before the hub restarted. */
let before: { start: string; end: string };
let restartedAt: number;

const relayFactory = (o: RelayClientOptions) => new RelayClient({ ...o, WebSocket: WebSocket as unknown as WebSocketConstructor });

async function ranges(profile: string): Promise<{ start: string; end: string }[]> {
  const r = await run(VIGIL_PHONE, ['recordings', '--profile', profile, '--camera', CAMERA, '--json'], { timeoutMs: 60_000 });
  expect(r.code, r.stderr).toBe(0);
  const json = JSON.parse(r.stdout.trim().split('\n').pop()!) as { ranges: { start: string; end: string }[]; events: unknown[]; mode: string };
  expect(json.events).toEqual([]);
  expect(json.mode).toBe('continuous');
  return json.ranges;
}

const seconds = (r: { start: string; end: string }) => (Date.parse(r.end) - Date.parse(r.start)) / 1000;

/** ffprobe: starts at 0, at least `minSeconds` long with about 15 fps of H.264; ffmpeg decodes it without a complaint. */
async function expectPlays(file: string, minSeconds: number): Promise<void> {
  const probe = JSON.parse((await run('ffprobe', ['-v', 'error', '-count_frames', '-show_entries', 'format=start_time,duration:stream=nb_read_frames,codec_name', '-of', 'json', file])).stdout);
  expect(Number(probe.format.start_time)).toBe(0);
  expect(Number(probe.format.duration)).toBeGreaterThan(minSeconds);
  const video = probe.streams.find((s: { codec_name: string }) => s.codec_name === 'h264');
  expect(Number(video.nb_read_frames)).toBeGreaterThan(minSeconds * 15 * 0.8);
  // In the stream's own time base: the first frame of a camera run (the hub's ffmpeg starting)
  // lasts one 90 kHz tick, and in the null muxer's default 1/fps two frames would round to one.
  const decode = await run('ffmpeg', ['-v', 'error', '-i', file, '-enc_time_base', '-1', '-f', 'null', '-']);
  expect(decode.code).toBe(0);
  expect(decode.stderr.trim()).toBe('');
}

beforeAll(async () => {
  await cryptoReady();
  dir = tempDir();
  data = join(dir, 'hub');
  const camera = await startCamera({ codec: 'h264', size: '640x360', fps: 15, gop: 15 });
  tap = await startRelayTap();
  const relay = await startRelay('127.0.0.1:0', ['--public-host', tap.host]);
  tap.setUpstream(relay.url);
  relayUrl = tap.url;
  hub = await startHub(data, relayUrl);
  await addCamera(data, CAMERA, camera.url);
  profiles.owner = join(dir, 'owner.json');
  profiles.removed = join(dir, 'removed.json');
  profiles.later = join(dir, 'later.json');
  await pairPhone(data, profiles.owner, 'Owner');
  removedId = (await pairPhone(data, profiles.removed, 'Lodger', 'viewer')).deviceId;
  hubIdHex = toHex(fromBase64url((JSON.parse(readFileSync(profiles.owner, 'utf8')) as { hub: { hubId: string } }).hub.hubId));
  await waitForCameraState(data, CAMERA, ['live']);
  const rec = await run(VIGIL, ['record', '--data', data, '--camera', CAMERA, '--mode', 'continuous', '--keep-days', '2'], { timeoutMs: 30_000 });
  expect(rec.code, rec.stderr).toBe(0);
  // At least 9 s recorded (segments of about 4 s), then the hub restarts: what was being written closes.
  await waitUntil('9 s recorded', async () => {
    const r = await ranges(profiles.owner);
    return r.length > 0 && seconds(r[0]!) >= 9;
  }, 90_000, 1000);
  restartedAt = Date.now();
  await hub.stop();
  hub = await startHub(data, relayUrl);
  await waitForCameraState(data, CAMERA, ['live']);
  before = (await ranges(profiles.owner))[0]!;
}, 240_000);

afterAll(async () => {
  await tap?.close();
  await stopAll();
  await stopAllCameras();
});

describe('recordings on the phone', () => {
  it('lists ranges in ISO 8601; plays a range from before the restart to an MP4 that starts at 0 and plays', async () => {
    expect(before.start).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    const out = join(dir, 'play.mp4');
    const r = await run(VIGIL_PHONE, ['play', '--profile', profiles.owner, '--camera', CAMERA, '--from', before.start, '--seconds', '8', '--out', out], { timeoutMs: 90_000 });
    expect(r.code, r.stderr).toBe(0);
    // All of it recorded before the restart.
    const [, , end] = /wrote .*play\.mp4: (\d+) segments of .* to (\S+),/.exec(r.stdout) ?? [];
    expect(Date.parse(end!)).toBeLessThan(restartedAt);
    await expectPlays(out, 6);
  }, 120_000);

  it('plays a range across the restart as one file from 0, in order', async () => {
    let newest = 0;
    await waitUntil('6 s recorded after the restart', async () => {
      newest = Date.parse((await ranges(profiles.owner)).at(-1)!.end);
      return newest > restartedAt + 6000;
    }, 60_000, 1000);
    const out = join(dir, 'across.mp4');
    const from = restartedAt - 8000;
    const r = await run(VIGIL_PHONE, ['play', '--profile', profiles.owner, '--camera', CAMERA, '--from', new Date(from).toISOString(), '--seconds', String(Math.ceil((newest - from) / 1000)), '--out', out], { timeoutMs: 90_000 });
    expect(r.code, r.stderr).toBe(0);
    const [, , , end] = /wrote .*across\.mp4: (\d+) segments of .*, (\S+) to (\S+),/.exec(r.stdout) ?? [];
    expect(r.stdout).not.toContain('the file ends');
    expect(Date.parse(end!), r.stdout).toBeGreaterThan(restartedAt);
    await expectPlays(out, 8);
    // Frames in order, and each keyframe (where a fragment run may start: the restart) only once
    // the frame before it ended. (The first frame of a camera run lasts one 90 kHz tick, so
    // the frame after it follows that closely.)
    const packets = (await run('ffprobe', ['-v', 'error', '-select_streams', 'v', '-show_entries', 'packet=dts_time,duration_time,flags', '-of', 'csv=p=0', out])).stdout
      .trim().split('\n').map((l) => l.split(','));
    for (let i = 1; i < packets.length; i++) {
      const [dts, , flags] = [Number(packets[i]![0]), Number(packets[i]![1]), packets[i]![2]!];
      const [prev, prevDuration] = [Number(packets[i - 1]![0]), Number(packets[i - 1]![1])];
      expect(dts, `packet ${i}`).toBeGreaterThan(prev);
      if (flags.startsWith('K')) expect(dts, `keyframe ${i}`).toBeGreaterThanOrEqual(prev + prevDuration - 1e-5);
    }
  }, 120_000);

  it('exports a clip that verify-export passes, and fails once a byte of it is changed', async () => {
    const clip = join(dir, 'clip.mp4');
    const r = await run(VIGIL_PHONE, ['export', '--profile', profiles.owner, '--camera', CAMERA, '--from', before.start, '--seconds', '8', '--out', clip], { timeoutMs: 90_000 });
    expect(r.code, r.stderr).toBe(0);
    expect(existsSync(`${clip}.proof`)).toBe(true);
    const ok = await run(VIGIL, ['verify-export', clip, '--hub', hubIdHex], { timeoutMs: 30_000 });
    expect(ok.code, ok.stderr).toBe(0);
    expect(ok.stdout).toContain(`hub ${hubIdHex}`);
    expect(ok.stdout).toContain(`"${CAMERA}", a name the proof does not sign`);
    expect(ok.stdout).toMatch(/^from \d{4}-.*Z to \d{4}-.*Z \(hub clock\), \d+ segments$/m);
    const tampered = join(dir, 'tampered.mp4');
    const bytes = readFileSync(clip);
    bytes[Math.floor(bytes.length * 0.6)]! ^= 0x04;
    writeFileSync(tampered, bytes);
    writeFileSync(`${tampered}.proof`, readFileSync(`${clip}.proof`));
    const bad = await run(VIGIL, ['verify-export', tampered], { timeoutMs: 30_000 });
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/ALTERED: segment \d+ \(.*\): its video or chunk times differ/);
  }, 120_000);

  it('a phone paired after the recording is refused its past: no-recording-key', async () => {
    await pairPhone(data, profiles.later, 'Newcomer');
    const out = join(dir, 'later.mp4');
    const r = await run(VIGIL_PHONE, ['play', '--profile', profiles.later, '--camera', CAMERA, '--from', before.start, '--seconds', '8', '--out', out], { timeoutMs: 90_000 });
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain('no-recording-key');
    expect(r.stderr).toMatch(/this phone holds no key of recording epoch \d+/);
    expect(existsSync(out)).toBe(false);
  }, 120_000);

  it('a removed phone gets no key of an epoch after its removal', async () => {
    const load = (p: string) => profileFromJson(readFileSync(p, 'utf8'));
    const owner = new HubLink({ profile: load(profiles.owner), relayFactory });
    const lodger = new HubLink({ profile: load(profiles.removed), relayFactory });
    const ownerRecs = new PhoneRecordings(owner, load(profiles.owner));
    const lodgerRecs = new PhoneRecordings(lodger, load(profiles.removed));
    try {
      await lodgerRecs.refreshKeys();
      const held = lodgerRecs.keys.newest;
      expect(held).toBeDefined();
      const r = await run(VIGIL, ['devices', 'revoke', '--data', data, removedId], { timeoutMs: 30_000 });
      expect(r.code, r.stderr).toBe(0);
      // A removal starts a new recording epoch, sealed to the phones still on the roster.
      await waitUntil('the owner to hold a recording epoch newer than the removed phone\'s', async () => {
        await ownerRecs.refreshKeys();
        return (ownerRecs.keys.newest ?? 0) > held!;
      }, 30_000, 500);
      const after = await lodgerRecs.refreshKeys().then(() => 'answered', (e: Error) => `refused: ${e.message}`);
      expect(lodgerRecs.keys.newest, after).toBe(held);
    } finally {
      ownerRecs.close();
      lodgerRecs.close();
      await owner.close();
      await lodger.close();
    }
  }, 90_000);

  it('the relay carried no plaintext of a recording', async () => {
    const mp4 = readFileSync(join(dir, 'play.mp4'));
    // The decrypted file holds these (so the search works); the relay's bytes hold none of them.
    const moof = mp4.indexOf('moof');
    const mdat = mp4.indexOf('mdat', moof);
    expect(moof).toBeGreaterThan(0);
    const media = mp4.subarray(mdat + 200, mdat + 264); // 64 bytes of coded picture
    const capture = Buffer.concat(tap.captured);
    expect(capture.length).toBeGreaterThan(mp4.length / 2); // the segments did go through it
    for (const needle of ['ftyp', 'moov', 'moof', 'mdat', 'avcC']) {
      expect(mp4.includes(needle), needle).toBe(true);
      expect(capture.includes(needle), needle).toBe(false);
    }
    expect(capture.includes(media)).toBe(false);
    expect(capture.includes(CAMERA)).toBe(false);
  });
});
