// npm run bench:events — motion start to event on an online phone (issue 17; goal p50 < 1 s).
// Real parts: the project's RTSP test camera (640x360, 15 fps) showing still SMPTE bars with its
// clock; a hub (this process) with motion detection on at the default sensitivity; the real relay;
// a paired CLI phone running `vigil-phone events --follow`. Each round the camera switches to its
// moving ball on SIGUSR1 (--usr1-pattern: the switch is a known wall time, printed by the camera),
// and the time is taken when the phone prints the event's first line; then the camera goes still
// again and the round waits for the event's end and the tracker's cooldown. Reported: p50/p90 of
// switch → phone, and of its parts switch → the event's start (what the detector saw: ingest,
// decode, the tracker's minimum duration) and hub publish → phone (preview, seal, relay, phone).
// ROUNDS (default 12) via VIGIL_BENCH_EVENTS_ROUNDS. A report: exits 0.
import { join } from 'node:path';
import { Hub } from '../main/hub.ts';
import { startCamera, stopAllCameras } from '../test/support/camera/camera.ts';
import { VIGIL, VIGIL_PHONE, pairPhone, run, start, startRelay, stopAll, tempDir, waitUntil } from '../test/support/system.ts';
import { fixed, machineLine, percentile, verdict } from './lib/stats.ts';

const ROUNDS = Number(process.env['VIGIL_BENCH_EVENTS_ROUNDS'] ?? 12);

async function main(): Promise<void> {
  console.log(machineLine());
  const dir = tempDir('vigil-bench-events-');
  const data = join(dir, 'hub');
  const camera = await startCamera({ codec: 'h264', size: '640x360', fps: 15, runSeconds: ROUNDS * 40 + 120, extraArgs: ['--pattern', 'smpte', '--motion', '0', '--usr1-pattern', 'ball'] });
  const relay = await startRelay('127.0.0.1:0');
  const published = new Map<string, number>();
  const hub = await Hub.start({ dataDir: data, relays: [relay.url], apiHost: '127.0.0.1', apiPort: 0 });
  let open = false;
  hub.events.subscribe({
    started: (key) => { published.set(key, Date.now()); open = true; },
    updated: () => undefined,
    ended: () => { open = false; },
  });
  const follow = { stop: async () => 0 as number | null };
  try {
    const cameraId = hub.cameras.add({ name: 'Bench', url: camera.url }).id;
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
    const detect: number[] = [];
    const deliver: number[] = [];
    for (let round = 0; round < ROUNDS; round++) {
      const seenLines = phone.lines().length;
      const before = published.size;
      const mark = camera.output.length;
      process.kill(camera.pid!, 'SIGUSR1');
      const m = await waitFor(() => /"event": "scene", "pattern": "ball", "ms": (\d+)/.exec(camera.output.slice(mark)), 5_000);
      const switchedMs = Number(m[1]);
      const line = await waitFor(() => phone.lines().slice(seenLines).find((l) => l.text.startsWith('{') && (JSON.parse(l.text) as { end: string | null }).end === null), 30_000);
      const ev = JSON.parse(line.text) as { start: string };
      const pub = [...published.values()][before];
      total.push(line.t - switchedMs);
      detect.push(Date.parse(ev.start) - switchedMs);
      if (pub !== undefined) deliver.push(line.t - pub);
      console.log(`round ${round + 1}: switch → phone ${line.t - switchedMs} ms (switch → event start ${Date.parse(ev.start) - switchedMs} ms, hub publish → phone ${pub !== undefined ? line.t - pub : '?'} ms)`);
      process.kill(camera.pid!, 'SIGUSR1'); // still again
      await waitUntil('the event ended', () => !open, 30_000);
      // The tracker's 10 s cooldown after the end, and a little more.
      await new Promise((r) => setTimeout(r, 11_000));
    }
    const p = (v: number[], q: number) => fixed(percentile(v, q), 0);
    console.log(`motion start → event on the phone over ${total.length} events: p50 ${p(total, 50)} ms, p90 ${p(total, 90)} ms  ${verdict(percentile(total, 50) < 1000)} (p50 < 1 s)`);
    console.log(`  switch → event start (detection): p50 ${p(detect, 50)} ms, p90 ${p(detect, 90)} ms; hub publish → phone: p50 ${p(deliver, 50)} ms, p90 ${p(deliver, 90)} ms`);
  } finally {
    await follow.stop();
    await hub.close();
    await stopAll();
    await stopAllCameras();
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
