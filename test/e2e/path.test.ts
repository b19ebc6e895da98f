// The first path, as a user runs it: a real RTSP camera (GStreamer), `vigil relay`, `vigil hub`,
// `vigil camera add`, `vigil invite`, `vigil-phone pair`, `vigil-phone watch`; the MP4 the phone
// decrypted must pass ffprobe with the camera's codecs and (nearly) every frame the camera sent.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { readFileSync, statSync } from 'node:fs';
import { hubV8Flags } from '../../main/v8-flags.ts';
import { DEFAULT_FRAGMENT_MS, fragmentDurationUs } from '../../native/ingest.ts';
import { startCamera, stopAllCameras, type TestCamera } from '../support/camera/camera.ts';
import {
  VIGIL_PHONE, addCamera, ffprobe, pairPhone, run, startHub, startRelay, stopAll, tempDir, waitForCameraState, expectNearlyEveryFrame,
} from '../support/system.ts';

const FPS = 15;
let dir: string;
let profile: string;
let cameras: TestCamera[] = [];
let hubPid: number;

beforeAll(async () => {
  dir = tempDir();
  cameras = await Promise.all([
    startCamera({ codec: 'h264', audio: 'aac', size: '640x360', fps: FPS }),
    startCamera({ codec: 'h265', audio: 'pcmu', size: '640x360', fps: FPS }),
  ]);
  const relay = await startRelay();
  hubPid = (await startHub(join(dir, 'hub'), relay.url)).child.pid!;
  await addCamera(join(dir, 'hub'), 'Front door', cameras[0]!.url);
  await addCamera(join(dir, 'hub'), 'Garage', cameras[1]!.url);
  profile = join(dir, 'phone.json');
  await pairPhone(join(dir, 'hub'), profile, 'Ana');
  await waitForCameraState(join(dir, 'hub'), 'Front door', ['live']);
  await waitForCameraState(join(dir, 'hub'), 'Garage', ['live']);
}, 120_000);

afterAll(async () => {
  await stopAll();
  await stopAllCameras();
});

async function watch(camera: string, seconds: number, out: string) {
  const r = await run(VIGIL_PHONE, ['watch', '--profile', profile, '--camera', camera, '--seconds', String(seconds), '--out', out], { timeoutMs: 60_000 });
  expect(r.code, r.stdout + r.stderr).toBe(0);
  expect(r.stdout).toMatch(/wrote \d+ fragments/);
  return r;
}


describe('camera -> hub -> relay -> phone', () => {
  it('vigil hub runs with its V8 flags (main/hub.v8-flags) and ffmpeg cuts fragments of the default length', async () => {
    const flags = hubV8Flags();
    expect(flags).toContain('--single-threaded-gc');
    // bin/vigil execs node, so the hub's pid is the node process itself.
    const argv = readFileSync(`/proc/${hubPid}/cmdline`, 'utf8').split('\0');
    for (const flag of flags) expect(argv).toContain(flag);
    const ffmpeg = await run('ps', ['-o', 'args=', '--ppid', String(hubPid)]);
    expect(ffmpeg.stdout).toContain(`-frag_duration ${fragmentDurationUs(DEFAULT_FRAGMENT_MS)} `);
  });

  it('the phone lists the cameras by their names (which travel encrypted)', async () => {
    const r = await run(VIGIL_PHONE, ['cameras', '--profile', profile, '--json'], { timeoutMs: 30_000 });
    expect(r.code, r.stderr).toBe(0);
    const names = r.stdout.trim().split('\n').map((l) => (JSON.parse(l) as { name: string }).name);
    expect(names.sort()).toEqual(['Front door', 'Garage']);
  });

  it('H.264 with AAC audio arrives as a playable MP4 with every frame', async () => {
    const out = join(dir, 'front.mp4');
    await watch('Front door', 6, out);
    const probe = await ffprobe(out);
    const video = probe.streams.find((s) => s.codec_type === 'video');
    const audio = probe.streams.find((s) => s.codec_type === 'audio');
    expect(video?.codec_name).toBe('h264');
    expect(video?.width).toBe(640);
    expect(audio?.codec_name).toBe('aac');
    await expectNearlyEveryFrame(out, FPS);
  });

  it('H.265 passes through; G.711 audio arrives transcoded to AAC', async () => {
    const out = join(dir, 'garage.mp4');
    await watch('Garage', 6, out);
    const probe = await ffprobe(out);
    expect(probe.streams.find((s) => s.codec_type === 'video')?.codec_name).toBe('hevc');
    expect(probe.streams.find((s) => s.codec_type === 'audio')?.codec_name).toBe('aac');
    await expectNearlyEveryFrame(out, FPS);
    expect(statSync(out).size).toBeGreaterThan(10_000);
  });

  it('watch exits non-zero with one clear line for a camera that does not exist', async () => {
    const r = await run(VIGIL_PHONE, ['watch', '--profile', profile, '--camera', 'Attic', '--seconds', '2', '--out', join(dir, 'x.mp4')], { timeoutMs: 30_000 });
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/no camera "Attic"/);
  });
});
