// node --import tsx bench/ingest.bench.ts — what the hub's Node process spends receiving fragments from ffmpeg, alone:
// N GStreamer RTSP test cameras, one CameraFeed (main/media/camera-feed.ts: CameraIngest -> fMP4
// splitter -> GOP cache) each, in this process, nothing sealed or sent. Reports this process's CPU
// (getrusage: all its threads; ffmpeg and the cameras are other processes) per fragment and per
// camera over a window. The part of bench:path's "hub ÷ ffmpeg" that is ingest, measured where a
// profiler can see it: `node --cpu-prof --import tsx bench/ingest.bench.ts`.
//   VIGIL_BENCH_CAMERAS (default 4), VIGIL_BENCH_WINDOW_S (default 12), VIGIL_BENCH_RUNS (default 3)
import { readdirSync, readFileSync } from 'node:fs';
import { resolveFfmpeg } from '../native/ffmpeg.ts';
import { CameraFeed } from '../main/media/camera-feed.ts';
import { startCamera, stopAllCameras } from '../test/support/camera/camera.ts';
import { fixed, machineLine, median, nowMs } from './lib/stats.ts';

const CAMERAS = Number(process.env['VIGIL_BENCH_CAMERAS'] ?? 4);
const WINDOW_S = Number(process.env['VIGIL_BENCH_WINDOW_S'] ?? 12);
const RUNS = Number(process.env['VIGIL_BENCH_RUNS'] ?? 3);
const CAMERA = { size: '640x360', fps: 15, bitrateKbps: 1000, gop: 30 } as const;
// Long enough for the JIT: the first windows after a start cost up to twice the later ones.
const SETTLE_MS = 20_000;

/** CPU ticks of each thread of this process by name (Linux /proc), to see which thread pays. */
function threadTicks(): Map<string, number> {
  const out = new Map<string, number>();
  try {
    for (const tid of readdirSync('/proc/self/task')) {
      const text = readFileSync(`/proc/self/task/${tid}/stat`, 'utf8');
      const close = text.lastIndexOf(')');
      const name = text.slice(text.indexOf('(') + 1, close).replace(/\d+$/, '#');
      const f = text.slice(close + 2).split(' ');
      out.set(name, (out.get(name) ?? 0) + Number(f[11]) + Number(f[12]));
    }
  } catch {
    // not Linux: no breakdown
  }
  return out;
}

/** Minor page faults of this process so far (Linux /proc): fresh memory touched for the first time. */
function minorFaults(): number {
  try {
    const text = readFileSync('/proc/self/stat', 'utf8');
    return Number(text.slice(text.lastIndexOf(')') + 2).split(' ')[7]);
  } catch {
    return NaN;
  }
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function main(): Promise<void> {
  console.log('vigil bench:ingest');
  console.log(machineLine());
  const ffmpeg = await resolveFfmpeg();
  console.log(`ffmpeg: ${ffmpeg.path} ${ffmpeg.version}; ${CAMERAS} cameras H.264 ${CAMERA.size} at ${CAMERA.fps} fps, ${CAMERA.bitrateKbps} kbit/s; ` +
    `${RUNS} windows of ${WINDOW_S} s after ${SETTLE_MS / 1000} s to settle`);
  const cams = await Promise.all(Array.from({ length: CAMERAS }, () => startCamera({
    size: CAMERA.size, fps: CAMERA.fps, gop: CAMERA.gop, runSeconds: 30 + RUNS * (WINDOW_S + 1),
    extraArgs: ['--bitrate', String(CAMERA.bitrateKbps)],
  })));
  let fragments = 0;
  let bytes = 0;
  const feeds = cams.map((c, i) => new CameraFeed(i + 1, { kind: 'rtsp', url: c.url, audio: 'none' }, ffmpeg, {
    onInit: () => undefined,
    onFragment: (f) => {
      fragments++;
      bytes += f.data.length;
    },
    onState: () => undefined,
  }));
  try {
    for (const f of feeds) f.start();
    const deadline = Date.now() + 30_000;
    while (feeds.some((f) => f.state.state !== 'live' || f.fragments === 0)) {
      if (Date.now() > deadline) throw new Error(`cameras not live: ${feeds.map((f) => JSON.stringify(f.state)).join(', ')}`);
      await sleep(100);
    }
    await sleep(SETTLE_MS);
    const perFragment: number[] = [];
    const perCamera: number[] = [];
    for (let run = 0; run < RUNS; run++) {
      const f0 = fragments;
      const b0 = bytes;
      const th0 = threadTicks();
      const pf0 = minorFaults();
      const c0 = process.cpuUsage();
      const t0 = nowMs();
      await sleep(WINDOW_S * 1000);
      const c = process.cpuUsage(c0);
      const th = [...threadTicks()].map(([name, t]) => [name, t - (th0.get(name) ?? 0)] as const).filter(([, t]) => t > 0);
      const seconds = (nowMs() - t0) / 1000;
      const cpu = (c.user + c.system) / 1e6;
      const n = fragments - f0;
      const faults = (minorFaults() - pf0) / n;
      perFragment.push((cpu / n) * 1e6);
      perCamera.push((cpu / seconds / CAMERAS) * 100);
      console.log(`  window ${run + 1}: ${n} fragments (${fixed(n / seconds / CAMERAS, 1)}/s per camera, ${fixed((bytes - b0) / n / 1024, 1)} KiB each), ` +
        `CPU ${fixed(cpu * 1000, 0)} ms (user ${fixed(c.user / 1000, 0)}, system ${fixed(c.system / 1000, 0)}): ` +
        `${fixed((cpu / n) * 1e6, 0)} µs per fragment, ${fixed(faults, 1)} page faults per fragment, ${fixed((cpu / seconds / CAMERAS) * 100, 2)}% of a core per camera; ` +
        `threads (10 ms ticks): ${th.map(([name, t]) => `${name} ${t}`).join(', ')}`);
    }
    console.log(`median: ${fixed(median(perFragment), 0)} µs CPU per fragment, ${fixed(median(perCamera), 2)}% of one core per camera ` +
      `(load average ${(await import('node:os')).loadavg().map((l) => fixed(l, 1)).join(' ')})`);
  } finally {
    await Promise.all(feeds.map((f) => f.stop()));
    await stopAllCameras();
  }
}

main().catch((e: unknown) => {
  console.error(`bench:ingest failed: ${e instanceof Error ? e.stack : String(e)}`);
  process.exitCode = 1;
}).finally(() => process.exit());
