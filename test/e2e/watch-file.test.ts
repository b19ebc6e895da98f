// `vigil-phone watch` writes a file a player takes as it is: its timeline starts at 0 (the hub's
// fragments carry ffmpeg's decode times, which count from when the hub started the camera), and a
// re-watch (here a relay restart: the phone reconnects and the hub sends its cached GOP again,
// sealed anew) does not write the frames it already has a second time. It says how far behind live
// the picture is. Real camera, relay, hub and phone; ffprobe judges the file.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { startCamera, stopAllCameras } from '../support/camera/camera.ts';
import {
  VIGIL_PHONE, addCamera, pairPhone, run, start, startHub, startRelay, stopAll, tempDir, waitForCameraState, waitUntil, videoFrameTimes,
} from '../support/system.ts';

const FPS = 15;
let dir: string;
let profile: string;
let relay: Awaited<ReturnType<typeof startRelay>>;
/** When the camera with a short GOP went live on the hub (its ffmpeg's decode times count from about then). */
let yardLiveAt = 0;

beforeAll(async () => {
  dir = tempDir();
  // A keyframe a minute: the GOP the hub sends again after the reconnect overlaps what the phone
  // already wrote (with a short GOP the outage could outlast it, and nothing would repeat).
  const camera = await startCamera({ codec: 'h264', audio: 'aac', size: '640x360', fps: FPS, gop: FPS * 60 });
  // A keyframe every 2 s: a watch begins at a GOP far from the start of the hub's ffmpeg.
  const yard = await startCamera({ codec: 'h264', audio: 'aac', size: '640x360', fps: FPS, gop: FPS * 2 });
  relay = await startRelay();
  await startHub(join(dir, 'hub'), relay.url);
  // The phone first: the hub sends a GOP only to phones that were on the roster when it began (T3).
  profile = join(dir, 'phone.json');
  await pairPhone(join(dir, 'hub'), profile, 'Ana');
  await addCamera(join(dir, 'hub'), 'Porch', camera.url);
  await addCamera(join(dir, 'hub'), 'Yard', yard.url);
  await waitForCameraState(join(dir, 'hub'), 'Porch', ['live']);
  await waitForCameraState(join(dir, 'hub'), 'Yard', ['live']);
  yardLiveAt = Date.now();
}, 120_000);

afterAll(async () => {
  await stopAll();
  await stopAllCameras();
});

/** start_time of the file and of each stream, in seconds. */
async function startTimes(file: string): Promise<{ format: number; streams: number[] }> {
  const r = await run('ffprobe', ['-v', 'error', '-show_entries', 'format=start_time:stream=start_time', '-of', 'json', file]);
  expect(r.code, r.stderr).toBe(0);
  const j = JSON.parse(r.stdout) as { format: { start_time: string }; streams: { start_time: string }[] };
  return { format: Number(j.format.start_time), streams: j.streams.map((s) => Number(s.start_time)) };
}

describe('vigil-phone watch', () => {
  it('starts its file at 0 however long the hub has had the camera', async () => {
    // The hub's decode times for this camera must be well past 0 for the test to mean anything.
    await waitUntil('the camera to have run 12 s on the hub', () => Date.now() - yardLiveAt > 12_000, 30_000);
    const out = join(dir, 'yard.mp4');
    const r = await run(VIGIL_PHONE, ['watch', '--profile', profile, '--camera', 'Yard', '--seconds', '4', '--out', out, '--path', 'relay'], { timeoutMs: 60_000 });
    expect(r.code, r.stdout + r.stderr).toBe(0);
    const { format, streams } = await startTimes(out);
    expect(format, r.stdout + r.stderr).toBeLessThan(0.1);
    for (const s of streams) expect(s).toBeLessThan(0.2);
    const times = await videoFrameTimes(out);
    expect(Math.max(...times)).toBeLessThan(4 + 3); // 4 s of watching and at most a GOP before it
  }, 90_000);

  it('writes a file that starts at 0, each frame once across a reconnect, and says how far behind live it is', async () => {
    const out = join(dir, 'porch.mp4');
    const watch = start(VIGIL_PHONE, ['watch', '--profile', profile, '--camera', 'Porch', '--seconds', '16', '--out', out, '--path', 'relay'], { maxSeconds: 90 });
    const exited = new Promise<number | null>((r) => watch.child.once('exit', (code) => r(code)));
    await watch.waitFor(/video: live, [\d.]+–[\d.]+ s behind live/, 30_000);
    // The relay restarts on the same port: hub and phone reconnect, the phone watches again.
    await relay.proc.stop();
    relay = await startRelay(`127.0.0.1:${relay.port}`);
    await watch.waitFor(/path: through relay[\s\S]*path: through relay/, 30_000);
    const code = await exited;
    const output = watch.output();
    expect(code, output).toBe(0);
    const left = Number(/left out: (\d+)/.exec(output)?.[1]);
    expect(left, output).toBeGreaterThan(0); // the GOP sent again was there, and was left out

    const { format, streams } = await startTimes(out);
    expect(format, output).toBeLessThan(0.1);
    for (const s of streams) expect(s).toBeLessThan(0.2);
    const times = await videoFrameTimes(out);
    expect(times.length, `${output}\n${times.join(" ")}`).toBeGreaterThan(FPS * 5);
    const repeated = times.filter((t, i) => times.indexOf(t) !== i);
    expect(repeated, 'frames written twice').toEqual([]);
    const sorted = [...times].sort((a, b) => a - b);
    expect(times, 'frames in order').toEqual(sorted);
    // The file covers the GOP the watch began with (up to a minute here) and the 16 s of watching.
    expect(Math.max(...times)).toBeLessThan(60 + 16);
  }, 120_000);
});
