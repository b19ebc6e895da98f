// npm run bench:recording [-- --quick] [--cameras N] [--seconds N] [--rounds N] [--taps N] [--drags N] [--timeline-minutes N] [--fragment-ms N]
// What recording costs the hub and how fast a phone sees a recorded picture (issue 16):
//   1. the timeline: an hour of one 4 Mbit/s camera recorded by the hub's own Recorder at a faster
//      clock than real (bench/lib/recording-hub.worker.ts, `backfill`), then through a real relay on
//      127.0.0.1 a phone (phone/core/recordings.ts, the app's own steps) taps at random times: list
//      the segments around the time, fetch the segment under it, open it, take its keyframe (the
//      picture's bytes, ready for the decoder; decoding is not counted). Then drags across the hour
//      as a finger would (a new position every 16 ms; while one picture is on its way only the newest
//      wish is kept, as the app does): pictures shown during a drag, how old each is, and release to
//      the last position's picture;
//   2. N cameras at 4 Mbit/s (default 32) ingested by the hub, in rounds of a window with recording
//      off (the baseline) and a window with every camera recording continuously: the hub's CPU per
//      stream (its Node process and its ffmpeg processes, threads' run time from /proc), the
//      fragments the hub ingested, handed to the recorder and written (Recorder.counts: "dropped"
//      is the difference), bytes written per byte received (segment files from the index, and the
//      whole process's disk writes from /proc/PID/io), disk MB/s.
// The load: one Node RTSP server (bench/lib/rtsp-file-server.ts) serving a pre-encoded clip
// (libx264 1080p30 4 Mbit/s CBR, 2 s GOP, a moving test pattern with noise, made once and cached in
// the OS temp directory) on N paths, looped, without encoding; each hub ffmpeg pulls one path over
// RTSP/TCP as it pulls a camera. Layout: relay and phone in this process, the hub in a child process
// (its CPU and I/O read apart), the RTSP server in another. Every process is stopped on the way out,
// on error and at a deadline. Prints PASS/FAIL against the goals and exits 0: it is a report.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import type { SegmentInfo } from '../crypto/phone-commands.ts';
import { cryptoReady } from '../crypto/sodium.ts';
import { resolveFfmpeg } from '../native/ffmpeg.ts';
import { DEFAULT_FRAGMENT_MS } from '../native/ingest.ts';
import { Coverage, segmentFor } from '../phone/app/src/timeline.ts';
import { HubLink } from '../phone/core/hub-link.ts';
import { pairWithHub } from '../phone/core/pair.ts';
import { PhoneRecordings, keyframeOf, segmentsBetween, type Keyframe, type RecordingsLink } from '../phone/core/recordings.ts';
import { startRelay, type RelayHandle } from '../relay/server.ts';
import type { BackfillResult, PartName, RecordingWorkerRequest, RecordingWorkerStatus } from './lib/recording-hub.worker.ts';
import { readStat, sampleTree, treeDelta } from './lib/proc.ts';
import { relayFactory } from './lib/relay-factory.ts';
import { runBench } from './lib/run.ts';
import { fixed, machineLine, median, nowMs, percentile, verdict } from './lib/stats.ts';
import { HubWorker, RECORDING_HUB_WORKER, sleep, waitFor as waitEvery } from './lib/worker-client.ts';

// ---- options ------------------------------------------------------------------------------------

const argv = process.argv.slice(2);
const QUICK = argv.includes('--quick');
function option(name: string, full: number, quick: number): number {
  const i = argv.indexOf(`--${name}`);
  const v = i >= 0 ? Number(argv[i + 1]) : QUICK ? quick : full;
  if (!Number.isFinite(v) || v < 0) throw new Error(`--${name} wants a number`);
  return v;
}
const CAMERAS = option('cameras', 32, 8);
/** Each measured window (recording off, then on), per round. */
const WINDOW_S = option('seconds', 45, 12);
const ROUNDS = option('rounds', 2, 1);
/** Every camera recording, unmeasured, before the first round: the hub's JIT warms up. */
const WARMUP_S = option('warmup', 30, 8);
const TAPS = option('taps', 100, 30);
const DRAGS = option('drags', 5, 3);
const TIMELINE_MIN = option('timeline-minutes', 60, 10);
/** The hub's fragment length (`vigil hub --fragment-ms`; 0: one frame per fragment). */
const FRAGMENT_MS = option('fragment-ms', DEFAULT_FRAGMENT_MS, DEFAULT_FRAGMENT_MS);
/** After switching recording on or off: every camera's next keyframe (2 s GOP) and a margin. */
const SWITCH_SETTLE_MS = 4_000;
/** A finger's drag across the timeline, and how often it moves. */
const DRAG_MS = 3_000;
const MOVE_EVERY_MS = 16;
/** The app lists this much around a time asked for (phone/app/src/timeline.dom.ts LIST_AROUND_MS). */
const LIST_AROUND_MS = 60_000;
const CLIP = { size: '1920x1080', fps: 30, kbps: 4000, gopFrames: 60, seconds: 20 };
const MEDIA_TOOLS = ['ffmpeg', 'ffprobe'] as const;
const DEADLINE_MS = QUICK ? 240_000 : 30 * 60_000;

const GOAL_CPU_ADDED = 0.10;
const GOAL_WRITE_RATIO = 1.02;
const GOAL_TAP_P50_MS = 300;
const GOAL_TAP_P99_MS = 1_000;

const HERE = path.dirname(fileURLToPath(import.meta.url));
const FILE_SERVER = path.join(HERE, 'lib', 'rtsp-file-server.ts');

// ---- everything that must be stopped on the way out ---------------------------------------------

let relay: RelayHandle | undefined;
const worker = new HubWorker<RecordingWorkerRequest>(RECORDING_HUB_WORKER, { closeMs: 15_000, killAfterMs: 5_000, hubArgs: true });
let fileServer: ChildProcess | undefined;
let link: HubLink | undefined;
let recs: PhoneRecordings | undefined;
let cleaning: Promise<void> | undefined;

function cleanup(): Promise<void> {
  cleaning ??= (async () => {
    recs?.close();
    await link?.close().catch(() => undefined);
    await worker.stop();
    if (fileServer !== undefined && fileServer.exitCode === null && fileServer.signalCode === null) {
      const gone = once(fileServer, 'exit');
      fileServer.kill('SIGKILL');
      await gone;
    }
    await relay?.close().catch(() => undefined);
  })();
  return cleaning;
}

// ---- the hub worker -------------------------------------------------------------------------------

/** Polled every 200 ms: the checks here ask the hub worker or read /proc. */
const waitFor = (what: string, timeoutMs: number, check: () => Promise<boolean> | boolean): Promise<void> => waitEvery(what, timeoutMs, check, 200);

async function waitKeys(): Promise<void> {
  const { epoch } = await worker.rpc<RecordingWorkerStatus>({ op: 'status' });
  await waitFor(`the phone to hold epoch ${epoch}`, 20_000, () => (link?.currentEpoch ?? -1) >= epoch);
}

// ---- the clip and the RTSP server ---------------------------------------------------------------------

/** The clip as MP4 (the backfill's source) and as Annex B (the RTSP server's), made once. */
function makeClip(ffmpeg: string): { mp4: string; h264: string } {
  const base = path.join(os.tmpdir(), `vigil-recording-bench-${CLIP.size}-${CLIP.fps}-${CLIP.kbps}`);
  const mp4 = `${base}.mp4`;
  const h264 = `${base}.h264`;
  if (!existsSync(mp4)) {
    // Noise over a moving pattern so that the encoder needs the whole bitrate (CBR: nal-hrd pads the
    // rest); an access unit delimiter before every frame so that the server can tell frames apart.
    const r = spawnSync(ffmpeg, ['-hide_banner', '-loglevel', 'error', '-y', '-f', 'lavfi', '-i', `testsrc2=size=${CLIP.size}:rate=${CLIP.fps}`,
      '-t', String(CLIP.seconds), '-vf', 'noise=alls=8:allf=t', '-c:v', 'libx264', '-preset', 'veryfast', '-profile:v', 'high', '-bf', '0',
      '-g', String(CLIP.gopFrames), '-keyint_min', String(CLIP.gopFrames), '-sc_threshold', '0',
      '-b:v', `${CLIP.kbps}k`, '-maxrate', `${CLIP.kbps}k`, '-bufsize', `${CLIP.kbps}k`, '-x264-params', 'nal-hrd=cbr:aud=1', `${base}.tmp.mp4`], { stdio: 'inherit' });
    if (r.status !== 0) throw new Error('could not make the clip');
    spawnSync('mv', [`${base}.tmp.mp4`, mp4]);
  }
  if (!existsSync(h264)) {
    const r = spawnSync(ffmpeg, ['-hide_banner', '-loglevel', 'error', '-y', '-i', mp4, '-c', 'copy', '-bsf:v', 'h264_mp4toannexb', '-f', 'h264', h264], { stdio: 'inherit' });
    if (r.status !== 0) throw new Error('could not write the clip as Annex B');
  }
  return { mp4, h264 };
}

interface ServerStats { playing: number; connections: number; sessions: number; frames: number; bytes: number; dropped: number }
let serverLines: ((o: Record<string, unknown>) => void)[] = [];

async function startFileServer(h264: string): Promise<{ port: number; kbps: number }> {
  const p = spawn(process.execPath, ['--import', 'tsx', FILE_SERVER, h264, String(CLIP.fps), String(Math.ceil(DEADLINE_MS / 1000) + 30)], { stdio: ['pipe', 'pipe', 'inherit'] });
  fileServer = p;
  createInterface({ input: p.stdout! }).on('line', (line) => {
    let o: Record<string, unknown>;
    try {
      o = JSON.parse(line) as Record<string, unknown>;
    } catch {
      return;
    }
    const waiting = serverLines;
    serverLines = [];
    for (const w of waiting) w(o);
  });
  const ready = await Promise.race([
    new Promise<Record<string, unknown>>((r) => serverLines.push(r)),
    sleep(30_000).then(() => {
      throw new Error('the RTSP file server did not start within 30 s');
    }),
  ]);
  return { port: Number(ready['port']), kbps: Number(ready['kbps']) };
}

async function serverStats(): Promise<ServerStats> {
  const got = new Promise<Record<string, unknown>>((r) => serverLines.push(r));
  fileServer!.stdin!.write('stats\n');
  return (await Promise.race([got, sleep(5_000).then(() => ({}))])) as unknown as ServerStats;
}

/** Waits (at most 180 s) until the page cache holds under 64 MB not yet written to the disk; seconds waited. */
async function writtenOut(): Promise<number> {
  const t0 = nowMs();
  const dirty = (): number => Number(/^Dirty:\s+(\d+) kB$/m.exec(readFileSync('/proc/meminfo', 'utf8'))?.[1] ?? 0) * 1024;
  await waitFor('dirty pages written out', 180_000, () => dirty() < 64e6).catch(() => undefined);
  return (nowMs() - t0) / 1000;
}

// ---- part 1: the timeline ----------------------------------------------------------------------------

/** The phone link as PhoneRecordings uses it, with the time of each segment transfer noted. */
function timedLink(l: HubLink, transfers: number[]): RecordingsLink {
  return {
    command: ((action: 'recordings' | 'recording-keys', args: never) => l.command(action, args)) as RecordingsLink['command'],
    segment: async (cameraId, id) => {
      const t = nowMs();
      const bytes = await l.segment(cameraId, id);
      transfers.push(nowMs() - t);
      return bytes;
    },
  };
}

interface Tap { total: number; list: number; transfer: number; open: number; bytes: number; keyframeBytes: number }

async function tap(r: PhoneRecordings, transfers: number[], cameraId: string, at: number): Promise<Tap | undefined> {
  const t = Math.round(at); // the hub takes whole ms
  const t0 = nowMs();
  // A first tap: nothing listed or cached yet (the app lists LIST_AROUND_MS around the time).
  const listed = await segmentsBetween(r, cameraId, t - LIST_AROUND_MS, t + LIST_AROUND_MS);
  const seg = segmentFor(listed, t);
  const t1 = nowMs();
  if (seg === undefined) return undefined;
  const n = transfers.length;
  const got = await r.fetch(cameraId, seg);
  const kf = got.ok ? keyframeOf(seg.id, got.segment) : undefined;
  const t2 = nowMs();
  if (kf === undefined) throw new Error(`no picture in segment ${seg.id}: ${got.ok ? 'no keyframe' : got.why}`);
  const transfer = transfers[n] ?? Number.NaN;
  return {
    total: t2 - t0, list: t1 - t0, transfer, open: t2 - t1 - transfer,
    bytes: got.ok ? got.segment.chunks.reduce((s, c) => s + c.payload.length, 0) : 0, keyframeBytes: kf.init.length + kf.fragment.length,
  };
}

interface Drag { shown: number; ages: number[]; release: number; moves: number }

/** A finger dragging from `a` to `b` over DRAG_MS, as the app's scrub handles it. */
async function drag(r: PhoneRecordings, cameraId: string, a: number, b: number): Promise<Drag> {
  const listedSpans = new Coverage();
  const segments = new Map<string, SegmentInfo>();
  let sorted: SegmentInfo[] = [];
  const keyframes = new Map<string, Keyframe>();
  let wanted: { t: number; at: number } | undefined;
  let busy: Promise<void> | undefined;
  const ages: number[] = [];
  let lastShownFor: { t: number; at: number } | undefined;
  let lastShownAt = 0;

  const show = async (t: number): Promise<void> => {
    for (const gap of listedSpans.missing({ start: Math.floor(t - LIST_AROUND_MS), end: Math.ceil(t + LIST_AROUND_MS) })) {
      for (const s of await segmentsBetween(r, cameraId, gap.start, gap.end)) segments.set(s.id, s);
      listedSpans.add(gap);
      sorted = [...segments.values()].sort((x, y) => x.start - y.start);
    }
    const seg = segmentFor(sorted, t);
    if (seg === undefined) return;
    let kf = keyframes.get(seg.id);
    if (kf === undefined) {
      const got = await r.fetch(cameraId, seg);
      kf = got.ok ? keyframeOf(seg.id, got.segment) : undefined;
      if (kf !== undefined) keyframes.set(seg.id, kf);
    }
  };
  const want = (t: number): { t: number; at: number } => {
    const wish = { t: Math.round(t), at: nowMs() };
    wanted = wish;
    busy ??= (async () => {
      while (wanted !== undefined) {
        const w = wanted;
        wanted = undefined;
        await show(w.t);
        ages.push(nowMs() - w.at);
        lastShownFor = w;
        lastShownAt = nowMs();
      }
      busy = undefined;
    })();
    return wish;
  };

  const start = nowMs();
  let moves = 0;
  let finalWish: { t: number; at: number } | undefined;
  await new Promise<void>((resolve) => {
    const timer = setInterval(() => {
      const f = Math.min(1, (nowMs() - start) / DRAG_MS);
      const wish = want(a + (b - a) * f);
      moves++;
      if (f >= 1) {
        finalWish = wish;
        clearInterval(timer);
        resolve();
      }
    }, MOVE_EVERY_MS);
  });
  const releaseAt = nowMs();
  await waitFor('the last picture of a drag', 60_000, () => busy === undefined);
  const release = lastShownFor === finalWish || finalWish === undefined ? lastShownAt - releaseAt : Number.NaN;
  return { shown: ages.length, ages, release: Math.max(0, release), moves };
}

// ---- part 2: N cameras, recording off and on ------------------------------------------------------------

interface Io { readBytes: number; writeBytes: number; wchar: number }
function procIo(pid: number): Io | undefined {
  try {
    const io = readFileSync(`/proc/${pid}/io`, 'utf8');
    const get = (key: string): number => Number(new RegExp(`^${key}: (\\d+)$`, 'm').exec(io)?.[1] ?? NaN);
    return { readBytes: get('read_bytes'), writeBytes: get('write_bytes'), wchar: get('wchar') };
  } catch {
    return undefined;
  }
}

interface Window {
  recording: boolean;
  seconds: number;
  node: number;
  ffmpeg: number;
  /** Fragments and bytes the hub's ingest handed on, over every camera. */
  ingested: number;
  ingestedBytes: number;
  /** Recorder.counts deltas. */
  toRecord: number;
  toRecordBytes: number;
  written: number;
  segmentBytes: number;
  io: Io | undefined;
  notLive: string[];
  diskFull: number;
  served: ServerStats;
  /** CPU seconds of the RTSP server process (the load, not the hub). */
  serverCpu: number;
  loopDelay: { p99: number; max: number };
  parts: RecordingWorkerStatus['parts'];
}

async function window(names: readonly string[], recording: boolean): Promise<Window> {
  await worker.rpc({ op: 'set-mode', cameras: [...names], mode: recording ? 'continuous' : 'off' });
  await sleep(SWITCH_SETTLE_MS);
  const pid = worker.pid;
  const s0 = await worker.rpc<RecordingWorkerStatus>({ op: 'status' });
  const v0 = await serverStats();
  const a = sampleTree(pid, MEDIA_TOOLS);
  const io0 = procIo(pid);
  const c0 = readStat(fileServer!.pid!)?.cpu ?? Number.NaN;
  const t0 = nowMs();
  await sleep(WINDOW_S * 1000);
  const b = sampleTree(pid, MEDIA_TOOLS);
  const io1 = procIo(pid);
  const c1 = readStat(fileServer!.pid!)?.cpu ?? Number.NaN;
  const seconds = (nowMs() - t0) / 1000;
  const s1 = await worker.rpc<RecordingWorkerStatus>({ op: 'status' });
  const v1 = await serverStats();
  const d = treeDelta(a, b);
  const mine = (s: RecordingWorkerStatus) => s.cameras.filter((c) => names.includes(c.name));
  const sum = (s: RecordingWorkerStatus, k: 'fragments' | 'bytes') => mine(s).reduce((n, c) => n + c[k], 0);
  return {
    recording, seconds, node: d.self, ffmpeg: d.children,
    ingested: sum(s1, 'fragments') - sum(s0, 'fragments'), ingestedBytes: sum(s1, 'bytes') - sum(s0, 'bytes'),
    toRecord: s1.recorder.fragments - s0.recorder.fragments, toRecordBytes: s1.recorder.fragmentBytes - s0.recorder.fragmentBytes,
    written: s1.recorder.written - s0.recorder.written, segmentBytes: s1.recorder.segmentBytes - s0.recorder.segmentBytes,
    io: io0 && io1 ? { readBytes: io1.readBytes - io0.readBytes, writeBytes: io1.writeBytes - io0.writeBytes, wchar: io1.wchar - io0.wchar } : undefined,
    notLive: [...new Set([...mine(s0), ...mine(s1)].filter((c) => c.state !== 'live').map((c) => `${c.name}: ${c.state}${c.error ? ` (${c.error.slice(0, 80)})` : ''}`))],
    diskFull: s1.recorder.diskFullEvents - s0.recorder.diskFullEvents,
    served: { ...v1, frames: v1.frames - v0.frames, bytes: v1.bytes - v0.bytes, dropped: v1.dropped - v0.dropped },
    serverCpu: c1 - c0,
    loopDelay: s1.loopDelay,
    parts: s1.parts,
  };
}

// ---- report -----------------------------------------------------------------------------------------

const ms = (v: number): string => (Number.isFinite(v) ? `${fixed(v, 0)} ms` : 'n/a');
const pct = (v: number): string => `${fixed(v * 100, 2)}%`;
const mb = (v: number): string => `${fixed(v / 1e6, 1)} MB`;

async function main(): Promise<void> {
  const startedAt = nowMs();
  await cryptoReady();
  console.log(`vigil bench:recording${QUICK ? ' --quick' : ''}`);
  console.log(machineLine());
  const ffmpeg = await resolveFfmpeg();
  console.log(`ffmpeg: ${ffmpeg.path} ${ffmpeg.version}`);
  const clip = makeClip(ffmpeg.path);
  relay = await startRelay({ host: '127.0.0.1', port: 0 });
  const server = await startFileServer(clip.h264);
  console.log(`load: one RTSP server process (bench/lib/rtsp-file-server.ts) serving a pre-encoded clip, no encoder: libx264 ${CLIP.size} at ${CLIP.fps} fps, ` +
    `High, CBR ${CLIP.kbps} kbit/s (measured ${server.kbps} kbit/s), keyframe every ${CLIP.gopFrames / CLIP.fps} s, a ${CLIP.seconds} s moving pattern with noise, looped; ` +
    `each camera is a path of it, pulled by the hub's own ffmpeg over RTSP/TCP; ${FRAGMENT_MS === 0 ? 'one frame per fragment' : `fragments of ${FRAGMENT_MS} ms`}${FRAGMENT_MS === DEFAULT_FRAGMENT_MS ? ' (the hub\'s default)' : ''}`);
  console.log('layout: relay + phone in this process; hub (main/hub.ts) in a child process with the hub\'s V8 flags; the RTSP server in another; all on 127.0.0.1');
  console.log('');

  await worker.start([relay.url, String(FRAGMENT_MS)]);
  const invite = await worker.rpc<{ id: string; link: string }>({ op: 'invite' });
  const approved = worker.rpc<string>({ op: 'approve', invite: invite.id, timeoutMs: 20_000 }, 25_000);
  const profile = await pairWithHub({ link: invite.link, name: 'bench phone', relayFactory, timeoutMs: 20_000 });
  await approved;
  link = new HubLink({ profile, relayFactory, commandTimeoutMs: 30_000, path: 'relay' });
  await link.ready(20_000);

  // ---- 1. the timeline
  // A camera that is never reached (nothing listens on port 9): only the backfill records it.
  await worker.rpc({ op: 'add-camera', name: 'timeline', url: 'rtsp://127.0.0.1:9/offline' });
  await worker.rpc({ op: 'set-mode', cameras: ['timeline'], mode: 'continuous' });
  await waitKeys();
  const cameraId = (await worker.rpc<RecordingWorkerStatus>({ op: 'status' })).cameras.find((c) => c.name === 'timeline')!.id;
  const to = Date.now() - 60_000;
  const from = to - TIMELINE_MIN * 60_000;
  const filled = await worker.rpc<BackfillResult>({ op: 'backfill', camera: 'timeline', clip: clip.mp4, fromMs: from, toMs: to }, 600_000);
  console.log(`timeline: ${TIMELINE_MIN} min of one camera (the clip above) recorded by the hub's Recorder at a faster clock than real in ${fixed(filled.wallMs / 1000, 1)} s: ` +
    `${filled.fragments} fragments, ${mb(filled.bytes)}, ${filled.segments} segments`);
  console.log(`  the kernel writing the backfill out to the disk took ${fixed(await writtenOut(), 1)} s more; the taps start after it`);
  const transfers: number[] = [];
  recs = new PhoneRecordings(timedLink(link, transfers), profile);
  await recs.refreshKeys();
  const taps: Tap[] = [];
  await tap(recs, transfers, cameraId, from + (to - from) / 2); // warm-up: JIT on both sides
  for (let i = 0; i < TAPS; i++) {
    const got = await tap(recs, transfers, cameraId, from + Math.random() * (to - from));
    if (got !== undefined) taps.push(got);
  }
  const drags: Drag[] = [];
  for (let i = 0; i < DRAGS; i++) {
    const [a, b] = i % 2 === 0 ? [from + 5_000, to - 5_000] : [to - 5_000, from + 5_000];
    drags.push(await drag(recs, cameraId, a, b));
  }
  const totals = taps.map((t) => t.total);
  const p50 = median(totals);
  const p99 = percentile(totals, 99);
  console.log(`  tap on the timeline -> the picture's segment opened and its keyframe taken (${taps.length} taps at random times over ${TIMELINE_MIN} min, nothing cached; through the relay)`);
  console.log(`    p50 ${ms(p50)}  p99 ${ms(p99)}  max ${ms(Math.max(...totals))}  goal p50 < ${GOAL_TAP_P50_MS} ms: ${verdict(p50 < GOAL_TAP_P50_MS)}, p99 < ${GOAL_TAP_P99_MS} ms: ${verdict(p99 < GOAL_TAP_P99_MS)}`);
  console.log(`    where the time goes (p50): list around the time ${ms(median(taps.map((t) => t.list)))}, segment transfer ${ms(median(taps.map((t) => t.transfer)))} ` +
    `(${mb(median(taps.map((t) => t.bytes)))} a segment, of which the picture needs its init and first fragment: ${mb(median(taps.map((t) => t.keyframeBytes)))}), ` +
    `open (verify + decrypt every chunk) ${ms(median(taps.map((t) => t.open)))}`);
  const ages = drags.flatMap((d) => d.ages);
  const span = Math.abs((to - 5_000) - (from + 5_000)) / 60_000;
  console.log(`  drag across ${fixed(span, 0)} min in ${DRAG_MS / 1000} s (a move every ${MOVE_EVERY_MS} ms, newest wish kept, no keyframes fetched ahead), ${drags.length} drags:`);
  console.log(`    pictures shown per drag ${drags.map((d) => d.shown).join(', ')} (of ${median(drags.map((d) => d.moves))} moves); ` +
    `age of each picture (finger there -> picture ready) p50 ${ms(median(ages))} p99 ${ms(percentile(ages, 99))}`);
  console.log(`    release -> the last position's picture: ${drags.map((d) => ms(d.release)).join(', ')}`);
  recs.close();
  recs = undefined;
  console.log('');

  // ---- 2. N cameras
  await writtenOut();
  const names = Array.from({ length: CAMERAS }, (_, i) => `cam${i + 1}`);
  for (const n of names) await worker.rpc({ op: 'add-camera', name: n, url: `rtsp://127.0.0.1:${server.port}/${n}` });
  await waitFor(`${CAMERAS} cameras live on the hub`, 120_000, async () => {
    const s = await worker.rpc<RecordingWorkerStatus>({ op: 'status' });
    return names.every((n) => s.cameras.some((c) => c.name === n && c.state === 'live' && c.fragments > 0));
  });
  await worker.rpc({ op: 'set-mode', cameras: names, mode: 'continuous' });
  await sleep(WARMUP_S * 1000);
  const windows: Window[] = [];
  for (let r = 0; r < ROUNDS; r++) {
    // Alternate which goes first, so that a drift in the machine's load falls on both.
    const order = r % 2 === 0 ? [false, true] : [true, false];
    for (const on of order) windows.push(await window(names, on));
  }
  await worker.rpc({ op: 'set-mode', cameras: names, mode: 'off' });

  const offs = windows.filter((w) => !w.recording);
  const ons = windows.filter((w) => w.recording);
  // CPU per 4 Mbit/s actually ingested: a window in which cameras stalled (a loaded machine) ingested
  // less and would look cheaper per camera.
  const streams = (ws: Window[]) => ws.reduce((s, w) => s + (w.ingestedBytes * 8) / 4e6, 0); // stream-seconds at 4 Mbit/s
  const per = (ws: Window[], k: 'node' | 'ffmpeg') => ws.reduce((s, w) => s + w[k], 0) / streams(ws);
  const offNode = per(offs, 'node');
  const offFf = per(offs, 'ffmpeg');
  const onNode = per(ons, 'node');
  const onFf = per(ons, 'ffmpeg');
  const added = (onNode + onFf) / (offNode + offFf) - 1;
  const sumOn = (k: keyof Pick<Window, 'ingested' | 'ingestedBytes' | 'toRecord' | 'toRecordBytes' | 'written' | 'segmentBytes'>) => ons.reduce((s, w) => s + w[k], 0);
  const onSeconds = ons.reduce((s, w) => s + w.seconds, 0);
  const offSeconds = offs.reduce((s, w) => s + w.seconds, 0);
  const dropped = sumOn('toRecord') - sumOn('written');
  const notHanded = sumOn('ingested') - sumOn('toRecord');
  const ratio = sumOn('segmentBytes') / sumOn('toRecordBytes');
  const ioOn = ons.every((w) => w.io !== undefined) ? ons.reduce((s, w) => s + w.io!.writeBytes, 0) : Number.NaN;
  const ioOff = offs.every((w) => w.io !== undefined) ? offs.reduce((s, w) => s + w.io!.writeBytes, 0) : Number.NaN;
  // One frame per fragment (0) at the clip's frame rate.
  const expected = (w: Window) => (CAMERAS * w.seconds * 1000) / (FRAGMENT_MS === 0 ? 1000 / CLIP.fps : FRAGMENT_MS);
  const stalled = windows.filter((w) => w.ingested < 0.95 * expected(w) || w.notLive.length > 0 || w.served.dropped > 0);
  const noneDropped = dropped === 0 && notHanded === 0 && !stalled.some((w) => w.recording);

  console.log(`${CAMERAS} cameras, ${ROUNDS} round${ROUNDS === 1 ? '' : 's'} of a ${WINDOW_S} s window with recording off and one with every camera recording continuously ` +
    `(after ${WARMUP_S} s of recording unmeasured, and ${SWITCH_SETTLE_MS / 1000} s after each switch):`);
  for (const w of windows) {
    const mbits = (w.ingestedBytes * 8) / w.seconds / 1e6;
    console.log(`  ${w.recording ? 'on ' : 'off'} ${fixed(w.seconds, 1)} s: ${fixed(mbits, 1)} Mbit/s ingested (${fixed((100 * w.ingested) / expected(w), 0)}% of the fragments due); ` +
      `hub Node ${pct(w.node / w.seconds)} + ffmpeg ${pct(w.ffmpeg / w.seconds)} of one core; the hub's event loop delay p99 ${ms(w.loopDelay.p99)}, max ${ms(w.loopDelay.max)}; ` +
      `${w.ingested} fragments ingested, ${w.toRecord} to record, ${w.written} written; ${mb(w.segmentBytes)} to segments, ` +
      `${w.io ? mb(w.io.writeBytes) : 'n/a'} disk writes by the hub process` +
      `${w.notLive.length ? `; ${w.notLive.length} cameras not live at an end of the window, e.g. ${w.notLive.slice(0, 2).join('; ')}` : ''}` +
      `${w.diskFull ? `; ${w.diskFull} disk-full` : ''}${w.served.dropped ? `; the RTSP server dropped ${w.served.dropped} clients that stopped reading (16 MB queued)` : ''}`);
  }
  for (const w of ons) {
    const part = (n: PartName) => `${fixed(w.parts[n].ms / w.seconds, 1)} ms/s (${w.parts[n].calls} calls, max ${fixed(w.parts[n].max, 0)} ms)`;
    console.log(`  recording's wall time on the hub's event loop (${fixed(w.seconds, 0)} s window): recorder ${part('recorder')}; of it sealing + hash chain ${part('seal')}, ` +
      `file appends ${part('append')}, index row of a new segment (a durable commit) ${part('index-open')}, index updates ${part('index-update')}`);
  }
  if (stalled.length > 0) console.log(`  ${stalled.length} window${stalled.length === 1 ? '' : 's'} with cameras stalled or restarting: CPU below is per 4 Mbit/s actually ingested`);
  console.log(`  all ${CAMERAS}: hub ${pct(ons.reduce((s, w) => s + w.node + w.ffmpeg, 0) / onSeconds)} of one core recording, ` +
    `${pct(offs.reduce((s, w) => s + w.node + w.ffmpeg, 0) / offSeconds)} not; the RTSP server (the load, not the hub) ` +
    `${pct(windows.reduce((s, w) => s + w.serverCpu, 0) / windows.reduce((s, w) => s + w.seconds, 0))}`);
  console.log(`  hub CPU per 4 Mbit/s stream, % of one core: off ${pct(offNode + offFf)} (Node ${pct(offNode)}, ffmpeg ${pct(offFf)}), ` +
    `on ${pct(onNode + onFf)} (Node ${pct(onNode)}, ffmpeg ${pct(onFf)})`);
  console.log(`    recording adds ${fixed(added * 100, 1)}% (${pct(onNode + onFf - offNode - offFf)} of a core per stream; the Node process alone +${fixed((onNode / offNode - 1) * 100, 1)}%)  ` +
    `goal < ${GOAL_CPU_ADDED * 100}%: ${verdict(added < GOAL_CPU_ADDED)}`);
  console.log(`  bytes written per byte received: ${fixed(ratio, 4)} (appended to segment files ${mb(sumOn('segmentBytes'))} / fragments to record ${mb(sumOn('toRecordBytes'))})  ` +
    `goal <= ${GOAL_WRITE_RATIO}: ${verdict(ratio <= GOAL_WRITE_RATIO)}`);
  console.log(`    the hub process's own disk writes (/proc/PID/io write_bytes, SQLite included): ${fixed(ioOn / sumOn('toRecordBytes'), 4)} per byte; ` +
    `${fixed(ioOn / onSeconds / 1e6, 1)} MB/s recording, ${fixed(ioOff / offSeconds / 1e6, 2)} MB/s not recording`);
  console.log(`  fragments: ${sumOn('ingested')} ingested, ${sumOn('toRecord')} handed to the recorder, ${sumOn('written')} written: ` +
    `${dropped} dropped by the recorder, ${notHanded} not handed to it  no fragment dropped: ${verdict(noneDropped)}` +
    `${stalled.some((w) => w.recording) ? ' (but cameras stalled upstream of the recorder: see above)' : ''}`);
  console.log('');
  console.log(`overall: ${verdict(p50 < GOAL_TAP_P50_MS && p99 < GOAL_TAP_P99_MS && added < GOAL_CPU_ADDED && ratio <= GOAL_WRITE_RATIO && noneDropped)}; ` +
    `done in ${fixed((nowMs() - startedAt) / 1000, 1)} s`);
}

runBench('bench:recording', DEADLINE_MS, main, cleanup);
