// npm run bench:path — the live media path through a loopback relay, measured end to end:
//   camera (GStreamer RTSP test camera) -> hub (ffmpeg -c copy -> fMP4 -> seal) -> relay -> phone (open)
// for 1 and then 8 cameras:
//   - time to first frame: the phone asks to watch (HubLink.watch: subscribe, then the 'watch'
//     command) -> it has opened the first fragment, and -> it holds a playable start (init segment
//     and a keyframe), p50 and p99 over several trials;
//   - added latency per fragment: the hub has the fragment from ffmpeg (the frame's captureTime) ->
//     the phone opened it (Date.now() there; one machine, one wall clock), p50 and p99 over a window;
//   - CPU per camera of the hub (its Node process plus its ffmpeg processes) next to ffmpeg's own
//     remux of the same cameras run alone for the same time once the hub is gone (-c copy to
//     fragmented MP4 of the same fragment length in /dev/null), from each thread's run time in /proc
//     (nanoseconds).
// Layout: the relay and the phone run in this process; the hub runs in a child process
// (bench/lib/hub.worker.ts), so its CPU is read from /proc apart from theirs. Everything listens on
// 127.0.0.1. Every process (cameras, hub, ffmpeg) is stopped on the way out, on error and on a
// deadline too. Prints PASS/FAIL against the targets and exits 0: it is a report.
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import type { OpenedFrame } from '../crypto/frame.ts';
import { cryptoReady } from '../crypto/sodium.ts';
import { resolveFfmpeg } from '../native/ffmpeg.ts';
import { DEFAULT_FRAGMENT_MS, fragmentDurationUs } from '../native/ingest.ts';
import { hubV8Flags } from '../main/v8-flags.ts';
import { HubLink, type CameraInfo } from '../phone/core/hub-link.ts';
import { pairWithHub } from '../phone/core/pair.ts';
import { startRelay, type RelayHandle } from '../relay/server.ts';
import { startCamera, stopAllCameras, type TestCamera } from '../test/support/camera/camera.ts';
import type { WorkerRequest, WorkerStatus } from './lib/hub.worker.ts';
import { readStat, sampleTree, treeDelta } from './lib/proc.ts';
import { relayFactory } from './lib/relay-factory.ts';
import { runBench } from './lib/run.ts';
import { fixed, machineLine, median, nowMs, percentile, verdict } from './lib/stats.ts';
import { HUB_WORKER, HubWorker, sleep, waitFor } from './lib/worker-client.ts';

// VIGIL_BENCH_CAMERAS=N and VIGIL_BENCH_CAMERA=WxH@FPS:KBPS change the load (e.g. 1 camera at
// 1280x720@25:4000, a typical home camera's main stream); the defaults fit 8 cameras on 2 cores.
const CAMERAS = Number(process.env['VIGIL_BENCH_CAMERAS'] ?? 8);
const CAMERA = (() => {
  const m = /^(\d+x\d+)@(\d+):(\d+)$/.exec(process.env['VIGIL_BENCH_CAMERA'] ?? '');
  if (m === null) return { size: '640x360', fps: 15, bitrateKbps: 1000, gop: 30 } as const;
  return { size: m[1]!, fps: Number(m[2]), bitrateKbps: Number(m[3]), gop: 2 * Number(m[2]) } as const;
})();
/**
 * The hub's fragment length (VIGIL_BENCH_FRAGMENT_MS, default the hub's own default); ffmpeg alone
 * remuxes with the same length, so both sides do the same work.
 */
const FRAGMENT_MS = Number(process.env['VIGIL_BENCH_FRAGMENT_MS'] ?? DEFAULT_FRAGMENT_MS);
/** VIGIL_BENCH_SCENARIOS=all runs only the all-cameras scenario (about half the time; no 1-camera figures). */
const ONLY_ALL = process.env['VIGIL_BENCH_SCENARIOS'] === 'all';
/** TTFF trials per scenario, after one discarded warm-up trial. */
const TTFF_TRIALS = 5;
/** The latency and CPU window per scenario, and the ffmpeg baseline's. */
const WINDOW_MS = 15_000;
/** Before a window: the start burst (init + GOP) is over and ffmpeg is in its steady state. */
const SETTLE_MS = 2_000;
const FIRST_FRAME_TIMEOUT_MS = 10_000;
/**
 * Before a scenario's first window its cameras are watched, unmeasured, for this long: a hub
 * seconds old is still compiling its hot paths (V8 does that on other threads of the same process),
 * which charged the first scenario up to twice its steady-state CPU.
 */
const WARMUP_MS = 30_000;
/** A window with every camera live but nobody watching: the hub's ingest alone (no sealing, no fan-out). */
const IDLE_WINDOW_MS = 8_000;
/** The hub's children charged to it; tsx's esbuild service is a child too, and is not. */
const MEDIA_TOOLS = ['ffmpeg', 'ffprobe'] as const;
/** Everything, setup and teardown included, ends by then. */
const DEADLINE_MS = 260_000;

const TARGET_TTFF_MS = 1_000;
const TARGET_LATENCY_P99_MS = 50;
const TARGET_CPU_RATIO = 2;

// ---------------------------------------------------------------------------------------------
// Everything that must be stopped on the way out

let relay: RelayHandle | undefined;
const worker = new HubWorker<WorkerRequest>(HUB_WORKER, { closeMs: 8_000, killAfterMs: 5_000, hubArgs: true });
let link: HubLink | undefined;
const baselines = new Set<ChildProcess>();
let cleaning: Promise<void> | undefined;

function cleanup(): Promise<void> {
  cleaning ??= (async () => {
    for (const b of baselines) b.kill('SIGKILL');
    await link?.close().catch(() => undefined);
    await worker.stop();
    await stopAllCameras();
    await relay?.close().catch(() => undefined);
  })();
  return cleaning;
}

// ---------------------------------------------------------------------------------------------
// The hub worker

async function waitLive(names: readonly string[]): Promise<void> {
  let last: WorkerStatus | undefined;
  await waitFor(`cameras ${names.join(', ')} live on the hub`, 30_000, async () => {
    last = await worker.rpc<WorkerStatus>({ op: 'status' });
    return names.every((n) => last!.cameras.some((c) => c.name === n && c.state === 'live' && c.fragments > 0));
  }).catch((e: unknown) => {
    throw new Error(`${(e as Error).message}; last status: ${JSON.stringify(last?.cameras)}`);
  });
}

async function waitKeys(): Promise<void> {
  const { epoch } = await worker.rpc<WorkerStatus>({ op: 'status' });
  await waitFor(`the phone to hold epoch ${epoch}`, 10_000, () => (link?.currentEpoch ?? -1) >= epoch);
}

// ---------------------------------------------------------------------------------------------
// The phone's view

interface Watch {
  t0: number;
  firstFragment?: number;
  sawInit: boolean;
  firstPicture?: number;
  done(): void;
}

const watches = new Map<number, Watch>();
let latencyFromWall = Number.POSITIVE_INFINITY;
let latencies: number[] = [];

function onFrame(f: OpenedFrame): void {
  const wall = Date.now();
  const t = nowMs();
  const w = watches.get(f.cameraNumber);
  if (w !== undefined) {
    if (f.frameType === 'init') w.sawInit = true;
    else {
      w.firstFragment ??= t - w.t0;
      if (w.sawInit && f.frameType === 'keyframe' && w.firstPicture === undefined) {
        w.firstPicture = t - w.t0;
        w.done();
      }
    }
  }
  // Live fragments only: the GOP sent at the start of a watch was captured before it, on purpose.
  if (f.frameType !== 'init' && f.captureTime >= latencyFromWall) latencies.push(wall - f.captureTime);
}

interface TtffResult {
  fragment: number[];
  picture: number[];
  timeouts: number;
}

async function ttffTrial(cameras: readonly CameraInfo[], into: TtffResult | undefined): Promise<void> {
  const waits = cameras.map((c) => {
    let done!: () => void;
    const arrived = new Promise<void>((r) => (done = r));
    const w: Watch = { t0: nowMs(), sawInit: false, done };
    watches.set(c.number, w);
    const watched = link!.watch(c);
    return { w, all: Promise.all([watched, Promise.race([arrived, sleep(FIRST_FRAME_TIMEOUT_MS)])]) };
  });
  await Promise.all(waits.map((x) => x.all));
  for (const { w } of waits) {
    if (into === undefined) continue;
    if (w.firstPicture === undefined) into.timeouts++;
    into.fragment.push(w.firstFragment ?? Number.POSITIVE_INFINITY);
    into.picture.push(w.firstPicture ?? Number.POSITIVE_INFINITY);
  }
  watches.clear();
  await Promise.all(cameras.map((c) => link!.unwatch(c)));
  await sleep(400); // let in-flight fragments of this trial drain before the next one
}

interface ScenarioResult {
  cameras: number;
  /** Hub Node process CPU seconds per second with the cameras live and unwatched. */
  idleSelf: number;
  ttff: TtffResult;
  latency: number[];
  produced: number;
  hubSelf: number;
  hubFfmpeg: number;
  childNames: string[];
  benchSelf: number;
  seconds: number;
  /** Read and write system calls of the hub process over the window (/proc/PID/io syscr, syscw). */
  syscalls: { reads: number; writes: number } | undefined;
}

/** syscr and syscw of a process (all its threads), or undefined where /proc/PID/io is not readable. */
function syscalls(pid: number): { reads: number; writes: number } | undefined {
  try {
    const io = readFileSync(`/proc/${pid}/io`, 'utf8');
    const get = (key: string): number => Number(new RegExp(`^${key}: (\\d+)$`, 'm').exec(io)?.[1] ?? NaN);
    return { reads: get('syscr'), writes: get('syscw') };
  } catch {
    return undefined;
  }
}

async function scenario(cameras: readonly CameraInfo[]): Promise<ScenarioResult> {
  await waitKeys();
  const pid = worker.pid;
  await Promise.all(cameras.map((c) => link!.watch(c)));
  await sleep(WARMUP_MS);
  await Promise.all(cameras.map((c) => link!.unwatch(c)));
  await sleep(SETTLE_MS);
  const idleA = sampleTree(pid, MEDIA_TOOLS);
  const idleStart = nowMs();
  await sleep(IDLE_WINDOW_MS);
  const idleSelf = treeDelta(idleA, sampleTree(pid, MEDIA_TOOLS)).self / ((nowMs() - idleStart) / 1000);

  const ttff: TtffResult = { fragment: [], picture: [], timeouts: 0 };
  await ttffTrial(cameras, undefined); // warm-up: JIT, first subscription, first GOP
  for (let i = 0; i < TTFF_TRIALS; i++) await ttffTrial(cameras, ttff);

  await Promise.all(cameras.map((c) => link!.watch(c)));
  await sleep(SETTLE_MS);
  const before = await worker.rpc<WorkerStatus>({ op: 'status' });
  latencies = [];
  latencyFromWall = Date.now();
  const a = sampleTree(pid, MEDIA_TOOLS);
  const ioA = syscalls(pid);
  const benchA = process.cpuUsage();
  const start = nowMs();
  await sleep(WINDOW_MS);
  const b = sampleTree(pid, MEDIA_TOOLS);
  const ioB = syscalls(pid);
  const seconds = (nowMs() - start) / 1000;
  const bench = process.cpuUsage(benchA);
  latencyFromWall = Number.POSITIVE_INFINITY;
  const after = await worker.rpc<WorkerStatus>({ op: 'status' });
  const latency = latencies;
  await Promise.all(cameras.map((c) => link!.unwatch(c)));
  const numbers = new Set(cameras.map((c) => c.number));
  const fragments = (s: WorkerStatus): number => s.cameras.filter((c) => numbers.has(c.number)).reduce((n, c) => n + c.fragments, 0);
  const d = treeDelta(a, b);
  return {
    cameras: cameras.length, idleSelf, ttff, latency, produced: fragments(after) - fragments(before),
    hubSelf: d.self, hubFfmpeg: d.children, childNames: d.childNames, benchSelf: (bench.user + bench.system) / 1e6, seconds,
    syscalls: ioA && ioB ? { reads: ioB.reads - ioA.reads, writes: ioB.writes - ioA.writes } : undefined,
  };
}

// ---------------------------------------------------------------------------------------------
// ffmpeg alone

let ffmpegPath = 'ffmpeg';

/** ffmpeg alone on `urls` for one window, CPU seconds over it. */
async function baseline(urls: readonly string[]): Promise<{ cpu: number; seconds: number }> {
  const alone = startAlone(urls);
  try {
    await sleep(SETTLE_MS + 1_000); // connect, SETUP/PLAY, first keyframe
    const a = alone.cpu();
    const start = nowMs();
    await sleep(WINDOW_MS);
    const cpu = alone.cpu() - a;
    const seconds = (nowMs() - start) / 1000;
    alone.check();
    return { cpu, seconds };
  } finally {
    await alone.stop();
  }
}

/** The same remux as the hub's ffmpeg (same fragment length), written to /dev/null, one per camera. */
function startAlone(urls: readonly string[]): { cpu(): number; check(): void; stop(): Promise<void> } {
  const procs = urls.map((url) => {
    const p = spawn(ffmpegPath, [
      '-hide_banner', '-nostdin', '-loglevel', 'error', '-rtsp_transport', 'tcp', '-i', url, '-c', 'copy',
      '-f', 'mp4', '-movflags', 'empty_moov+default_base_moof+frag_keyframe', '-frag_duration', fragmentDurationUs(FRAGMENT_MS), '-y', '/dev/null',
    ], { stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    p.stderr?.setEncoding('utf8');
    p.stderr?.on('data', (s: string) => {
      err = (err + s).slice(-2000);
    });
    p.once('exit', () => baselines.delete(p));
    baselines.add(p);
    return { p, err: () => err };
  });
  return {
    // Only these ffmpeg processes: neither this process nor the hub is part of the baseline.
    cpu: () => procs.reduce((sum, { p }) => sum + (readStat(p.pid!)?.cpu ?? Number.NaN), 0),
    check: () => {
      for (const { p, err } of procs) {
        if (p.exitCode !== null || p.signalCode !== null) throw new Error(`baseline ffmpeg exited early: ${err()}`);
      }
    },
    stop: async () => {
      for (const { p } of procs) {
        const gone = p.exitCode !== null || p.signalCode !== null ? Promise.resolve() : once(p, 'exit');
        p.kill('SIGKILL');
        await gone;
      }
    },
  };
}

// ---------------------------------------------------------------------------------------------

function ms(v: number): string {
  return Number.isFinite(v) ? `${fixed(v, 0)} ms` : 'timeout';
}

function report(r: ScenarioResult, base: { cpu: number; seconds: number }): boolean {
  const n = r.cameras;
  const pic99 = percentile(r.ttff.picture, 99);
  const lat99 = percentile(r.latency, 99);
  const hubPerStream = (r.hubSelf + r.hubFfmpeg) / r.seconds / n;
  const basePerStream = base.cpu / base.seconds / n;
  const ratio = hubPerStream / basePerStream;
  console.log(`${n} camera${n === 1 ? '' : 's'}:`);
  console.log(`  time to first frame (${r.ttff.fragment.length} samples: ${TTFF_TRIALS} trials x ${n} camera${n === 1 ? '' : 's'}; p99 = max at this count)`);
  console.log(`    first fragment opened      p50 ${ms(median(r.ttff.fragment))}  p99 ${ms(percentile(r.ttff.fragment, 99))}`);
  console.log(`    init + keyframe opened     p50 ${ms(median(r.ttff.picture))}  p99 ${ms(pic99)}  ` +
    `target < ${TARGET_TTFF_MS} ms: ${verdict(pic99 < TARGET_TTFF_MS)}${r.ttff.timeouts ? ` (${r.ttff.timeouts} timed out)` : ''}`);
  console.log(`  added latency, hub has fragment -> phone opened it (${r.latency.length} fragments opened of ${r.produced} the hub got in ${fixed(r.seconds, 1)} s)`);
  console.log(`    p50 ${fixed(median(r.latency), 0)} ms  p99 ${fixed(lat99, 0)} ms  max ${fixed(Math.max(...r.latency), 0)} ms  ` +
    `target p99 < ${TARGET_LATENCY_P99_MS} ms: ${verdict(lat99 < TARGET_LATENCY_P99_MS)}`);
  console.log(`  CPU per camera, % of one core (${r.childNames.join('+') || 'no'} children; threads' run time from /proc schedstat)`);
  console.log(`    hub Node process ${fixed((r.hubSelf / r.seconds / n) * 100, 2)}%  + its ffmpeg ${fixed((r.hubFfmpeg / r.seconds / n) * 100, 2)}%` +
    `  = ${fixed(hubPerStream * 100, 2)}%`);
  console.log(`    (hub Node process with the cameras live but unwatched, ingest only: ${fixed((r.idleSelf / n) * 100, 2)}%)`);
  console.log(`    ffmpeg remux alone (${n} process${n === 1 ? '' : 'es'}, ${fixed(base.seconds, 1)} s) ${fixed(basePerStream * 100, 2)}%`);
  console.log(`    hub / ffmpeg alone = ${fixed(ratio, 2)}x  target <= ${TARGET_CPU_RATIO}x: ${verdict(ratio <= TARGET_CPU_RATIO)}`);
  console.log(`    (relay + phone, this process: ${fixed((r.benchSelf / r.seconds) * 100, 1)}% of one core in all; not charged to the hub)`);
  if (r.syscalls !== undefined && r.produced > 0) {
    console.log(`  hub Node process system calls per fragment (/proc/PID/io): ${fixed(r.syscalls.reads / r.produced, 2)} reads, ` +
      `${fixed(r.syscalls.writes / r.produced, 2)} writes (${r.syscalls.writes} writes for ${r.produced} fragments)`);
  }
  return pic99 < TARGET_TTFF_MS && lat99 < TARGET_LATENCY_P99_MS && ratio <= TARGET_CPU_RATIO;
}

async function main(): Promise<void> {
  const startedAt = nowMs();
  await cryptoReady();
  console.log('vigil bench:path');
  console.log(machineLine());
  const ffmpeg = await resolveFfmpeg();
  ffmpegPath = ffmpeg.path;
  console.log(`ffmpeg: ${ffmpeg.path} ${ffmpeg.version}`);
  console.log(`cameras: ${CAMERAS} GStreamer RTSP test cameras (test/support/camera), one process each, H.264 ${CAMERA.size} at ${CAMERA.fps} fps, ` +
    `${CAMERA.bitrateKbps} kbit/s, keyframe every ${CAMERA.gop} frames; the hub pulls each over RTSP/TCP with its own ffmpeg`);
  console.log(`RTSP reader: ${process.env['VIGIL_BENCH_READER'] === 'ffmpeg' ? 'ffmpeg (VIGIL_BENCH_READER=ffmpeg)' : 'auto (the hub\'s own where it can; VIGIL_BENCH_READER=ffmpeg for ffmpeg)'}`);
  console.log(FRAGMENT_MS === 0
    ? 'fragments: one per video frame (hub --fragment-ms 0), in the hub and in ffmpeg alone'
    : `fragments: ${FRAGMENT_MS} ms of video each (hub --fragment-ms ${FRAGMENT_MS}), in the hub and in ffmpeg alone; a frame waits in ffmpeg ` +
      `up to ${FRAGMENT_MS} ms + one frame interval before its fragment is cut, which "added latency" below does not include`);
  console.log(`layout: relay + phone (HubLink) in this process, hub (main/hub.ts) in a child process with the hub's V8 flags (${hubV8Flags().join(' ')}); all on 127.0.0.1`);
  console.log(`method: every scenario first watches its cameras for ${WARMUP_MS / 1000} s, unmeasured (the hub's JIT warm-up); ${TTFF_TRIALS} watch/unwatch trials after a warm-up; then a ${WINDOW_MS / 1000} s window watching every camera ` +
    `(latency of live fragments; CPU from /proc schedstat of the hub process and its ffmpeg children), ` +
    `before it an ${IDLE_WINDOW_MS / 1000} s window unwatched; then ffmpeg alone, same cameras, same window length, once the hub is gone`);
  console.log('');

  relay = await startRelay({ host: '127.0.0.1', port: 0 });
  const cams: TestCamera[] = await Promise.all(Array.from({ length: CAMERAS }, () => startCamera({
    size: CAMERA.size, fps: CAMERA.fps, gop: CAMERA.gop, runSeconds: DEADLINE_MS / 1000 + 10,
    extraArgs: ['--bitrate', String(CAMERA.bitrateKbps)],
  })));
  await worker.start([relay.url, String(FRAGMENT_MS)]);

  // Pair one phone, as the owner would: invite, the phone's code shows up on the hub, approve.
  const invite = await worker.rpc<{ id: string; link: string }>({ op: 'invite' });
  const approved = worker.rpc<string>({ op: 'approve', invite: invite.id, timeoutMs: 20_000 }, 25_000);
  const profile = await pairWithHub({ link: invite.link, name: 'bench phone', relayFactory, timeoutMs: 20_000 });
  await approved;
  link = new HubLink({ profile, relayFactory, onFrame, commandTimeoutMs: 10_000, path: 'relay' });
  await link.ready(20_000);

  await worker.rpc({ op: 'add-camera', name: 'cam1', url: cams[0]!.url });
  await waitLive(['cam1']);
  // A new camera is a new epoch, and the hub ends every session at one (PROTOCOL 6.6): ask once the
  // phone has handshaken again and holds the new keys, or the request dies with the old session.
  await waitKeys();
  let list = await link.listCameras();
  const one = ONLY_ALL ? undefined : await scenario(list.filter((c) => c.name === 'cam1'));

  // The same camera watched straight from the hub's LAN endpoint (issue 8), same process layout.
  const lanUrl = await worker.rpc<string | null>({ op: 'lan-url' });
  let oneLan: ScenarioResult | undefined;
  if (lanUrl !== null && !ONLY_ALL) {
    await link.close();
    link = new HubLink({ profile, relayFactory, onFrame, commandTimeoutMs: 10_000, path: 'lan', lanUrls: [lanUrl] });
    await link.ready(20_000);
    oneLan = await scenario((await link.listCameras()).filter((c) => c.name === 'cam1'));
    await link.close();
    link = new HubLink({ profile, relayFactory, onFrame, commandTimeoutMs: 10_000, path: 'relay' });
    await link.ready(20_000);
  }

  const names = cams.map((_, i) => `cam${i + 1}`);
  for (let i = 1; i < cams.length; i++) await worker.rpc({ op: 'add-camera', name: names[i]!, url: cams[i]!.url });
  await waitLive(names);
  await waitKeys();
  list = await link.listCameras();
  const all = await scenario(list.filter((c) => names.includes(c.name)));

  await link.close();
  link = undefined;
  await worker.stop();
  // ffmpeg alone only once the hub is gone: a second client of a test camera (GStreamer's shared
  // media) restarts the stream's timestamps for the first, which would stall the hub's fragments.
  const base1 = one === undefined ? undefined : await baseline([cams[0]!.url]);
  const base8 = await baseline(cams.map((c) => c.url));

  console.log('');
  const pass1 = one === undefined || base1 === undefined ? true : report(one, base1);
  if (oneLan !== undefined && one !== undefined && base1 !== undefined) {
    console.log('');
    console.log(`the same camera from the hub's LAN endpoint (${lanUrl}), not through the relay:`);
    report(oneLan, base1);
    console.log(`  LAN vs relay: time to first frame p50 ${ms(median(oneLan.ttff.picture))} vs ${ms(median(one.ttff.picture))}; ` +
      `added latency p50 ${ms(median(oneLan.latency))} vs ${ms(median(one.latency))}, p99 ${ms(percentile(oneLan.latency, 99))} vs ${ms(percentile(one.latency, 99))}`);
  }
  console.log('');
  const pass8 = report(all, base8);
  console.log('');
  console.log(`overall: ${verdict(pass1 && pass8)}; done in ${fixed((nowMs() - startedAt) / 1000, 1)} s`);
}

runBench('bench:path', DEADLINE_MS, main, cleanup);
