// npm run bench:events — motion start to event on an online phone (issue 17; goal p50 < 1 s).
// Real parts: an RTSP camera (bench/lib/events-camera.py: 640x360, 15 fps, H.264 from x264 as the
// project's test camera) showing still SMPTE bars with its clock, and a grey block standing on them;
// a hub (this process) with motion detection on at the default sensitivity; the real relay; a paired
// CLI phone running `vigil-phone events --follow`. Each round, at a random moment of the camera's
// frame rhythm, the block starts walking on SIGUSR1 (the camera prints the wall time at which the
// first picture with the block moved left its compositor: what a real camera's sensor would see
// first), and the time is taken when the phone
// prints the event's first line (the notice) and its first line with a picture; then the block stops
// and the round waits for the event's end and the tracker's cooldown. Motion starts in a still scene,
// as in front of a real camera: switching the whole picture (the project camera's --usr1-pattern,
// which this bench used before) is what a detector takes for a change of light, not motion.
// Reported: p50/p90 of motion start → notice on the phone, → its picture, and the notice's parts:
// motion start → the event's start (what the detector saw first: camera, ingest, decode) and hub
// publish → phone (seal, relay, phone). ROUNDS (default 12) via VIGIL_BENCH_EVENTS_ROUNDS. A report: exits 0.
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Hub } from '../main/hub.ts';
import { VIGIL, VIGIL_PHONE, pairPhone, run, start, startRelay, stopAll, tempDir, waitUntil } from '../test/support/system.ts';
import { fixed, machineLine, percentile, verdict } from './lib/stats.ts';

const ROUNDS = Number(process.env['VIGIL_BENCH_EVENTS_ROUNDS'] ?? 12);
/** The hub's fragment length (its --fragment-ms); unset: the hub's default. */
const FRAGMENT_MS = process.env['VIGIL_BENCH_FRAGMENT_MS'] === undefined ? undefined : Number(process.env['VIGIL_BENCH_FRAGMENT_MS']);
const CAMERA = join(dirname(fileURLToPath(import.meta.url)), 'lib', 'events-camera.py');

async function main(): Promise<void> {
  console.log(machineLine());
  const dir = tempDir('vigil-bench-events-');
  const data = join(dir, 'hub');
  const camProc = start('/usr/bin/python3', [CAMERA, '--size', '640x360', '--fps', '15', '--run-seconds', String(ROUNDS * 40 + 120)], { maxSeconds: ROUNDS * 40 + 150 });
  const cameraUrl = (await camProc.waitFor(/"url": "(rtsp:[^"]+)"/, 30_000))[1]!;
  const cameraPid = camProc.child.pid!;
  const relay = await startRelay('127.0.0.1:0');
  const published = new Map<string, number>();
  const hub = await Hub.start({ dataDir: data, relays: [relay.url], apiHost: '127.0.0.1', apiPort: 0, ...(FRAGMENT_MS !== undefined ? { fragmentMs: FRAGMENT_MS } : {}) });
  console.log(`hub fragments: ${FRAGMENT_MS === undefined ? 'default' : FRAGMENT_MS === 0 ? 'one frame each' : `${FRAGMENT_MS} ms`}`);
  let open = false;
  hub.events.subscribe({
    started: (key) => { published.set(key, Date.now()); open = true; },
    updated: () => undefined,
    ended: () => { open = false; },
  });
  const follow = { stop: async () => 0 as number | null };
  try {
    const cameraId = hub.cameras.add({ name: 'Bench', url: cameraUrl }).id;
    const profile = join(dir, 'phone.json');
    await pairPhone(data, profile, 'Bench phone');
    const d = await run(VIGIL, ['detect', '--data', data, '--camera', 'Bench', '--motion', 'on']);
    if (d.code !== 0) throw new Error(d.stderr);
    await waitUntil('the recording epoch', () => hub.recordings.epochs.current !== undefined, 30_000);
    const phone = start(VIGIL_PHONE, ['events', '--profile', profile, '--json', '--follow', '--seconds', String(ROUNDS * 40 + 60)], { maxSeconds: ROUNDS * 40 + 90 });
    follow.stop = () => phone.stop();
    await phone.waitFor(/following events for/, 60_000);
    // The model's warm-up (25 pictures) on the still scene.
    await waitUntil('the decoder warmed up', () => (hub.detection.detector(cameraId)?.frames ?? 0) > 40, 60_000);
    const total: number[] = [];
    const picture: number[] = [];
    const detect: number[] = [];
    const deliver: number[] = [];
    for (let round = 0; round < ROUNDS; round++) {
      // A random moment of the camera's frame and fragment rhythm: each round otherwise starts a
      // whole number of seconds after the last, at the same phase, and one phase is all it measures.
      await new Promise((r) => setTimeout(r, Math.random() * 1000));
      const seenLines = phone.lines().length;
      const before = published.size;
      const mark = camProc.output().length;
      process.kill(cameraPid, 'SIGUSR1');
      const m = await waitFor(() => /"event": "frame", "moved": true, "ms": (\d+)/.exec(camProc.output().slice(mark)), 5_000);
      const switchedMs = Number(m[1]);
      type Line = { id: number; end: string | null; start: string; preview: number | null };
      const parsed = () => phone.lines().slice(seenLines).filter((l) => l.text.startsWith('{')).map((l) => ({ t: l.t, e: JSON.parse(l.text) as Line }));
      const line = await waitFor(() => parsed().find((l) => l.e.end === null), 30_000);
      const withPicture = await waitFor(() => parsed().find((l) => l.e.id === line.e.id && l.e.preview !== null), 30_000);
      const pub = [...published.values()][before];
      total.push(line.t - switchedMs);
      picture.push(withPicture.t - switchedMs);
      detect.push(Date.parse(line.e.start) - switchedMs);
      if (pub !== undefined) deliver.push(line.t - pub);
      console.log(`round ${round + 1}: motion start → notice ${line.t - switchedMs} ms, → picture ${withPicture.t - switchedMs} ms (→ event start ${Date.parse(line.e.start) - switchedMs} ms, hub publish → phone ${pub !== undefined ? line.t - pub : '?'} ms)`);
      process.kill(cameraPid, 'SIGUSR1'); // still again
      await waitUntil('the event ended', () => !open, 30_000);
      // The tracker's 10 s cooldown after the end, and a little more.
      await new Promise((r) => setTimeout(r, 11_000));
    }
    const p = (v: number[], q: number) => fixed(percentile(v, q), 0);
    console.log(`motion start → event on the phone over ${total.length} events: p50 ${p(total, 50)} ms, p90 ${p(total, 90)} ms  ${verdict(percentile(total, 50) < 1000)} (p50 < 1 s)`);
    console.log(`  motion start → its picture on the phone: p50 ${p(picture, 50)} ms, p90 ${p(picture, 90)} ms`);
    console.log(`  motion start → event start (detection): p50 ${p(detect, 50)} ms, p90 ${p(detect, 90)} ms; hub publish → phone: p50 ${p(deliver, 50)} ms, p90 ${p(deliver, 90)} ms`);
    console.log(machineLine());
  } finally {
    await follow.stop();
    await hub.close();
    await stopAll();
  }
}

async function waitFor<T>(f: () => T | null | undefined, timeoutMs: number): Promise<T> {
  const t0 = Date.now();
  for (;;) {
    const v = f();
    if (v !== null && v !== undefined) return v;
    if (Date.now() - t0 > timeoutMs) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 10));
  }
}

await main();
