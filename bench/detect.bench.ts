// npm run bench:detect — motion detection's cost and quiet (issue 17), per camera:
//   - CPU of detection per camera: the decoder's ffmpeg (from /proc, nanoseconds) plus this Node
//     process (the analysis, feeding fragments, reading pictures), over a window, as a share of one
//     core, for a 1080p30 main stream (4 Mbit/s, High profile, 2 s GOP, as a camera sends it) and for
//     a 640x360 15 fps substream; goals < 8 % and < 2 %;
//   - the same for a camera whose ONVIF substream the hub decodes (main/events/substream.ts): the
//     substream's own RTSP ingest (ffmpeg remux, from /proc) plus its decoder plus Node, with the
//     project's RTSP test camera serving a 640x360 15 fps substream of a still scene with its clock
//     (the camera not counted); the goal for a 1080p camera with a substream is < 2 %;
//   - events over a static scene with a ticking clock (a seconds clock and a frame counter drawn
//     into SMPTE bars): goal 0 in 10 minutes (`-- --long`; the default window is 60 s).
// The "camera" is a clip made once with libx264 (cached in the OS temp directory) and streamed by
// ffmpeg -re -stream_loop -1 -c copy into fragmented MP4, split as the hub's ingest splits it and
// handed to the hub's MotionDetector as the media bus would: what is measured is the hub's code.
// The streaming ffmpeg is not counted. Every process is stopped on the way out. Prints PASS/FAIL
// against the goals and exits 0: it is a report.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { resolveFfmpeg } from '../native/ffmpeg.ts';
import { Fmp4Splitter } from '../native/fmp4.ts';
import type { IngestFragment, IngestInit } from '../native/ingest.ts';
import type { MediaStream } from '../main/media/media-bus.ts';
import type { DetectedEvent } from '../main/events/hub-events.ts';
import { MotionDetector } from '../main/events/motion-detector.ts';
import { childrenOf, readStat } from './lib/proc.ts';
import { CameraFeed } from '../main/media/camera-feed.ts';
import { startCamera, stopAllCameras } from '../test/support/camera/camera.ts';
import { fixed, machineLine, verdict } from './lib/stats.ts';

const LONG = process.argv.includes('--long');
const WINDOW_S = LONG ? 600 : Number(process.env['VIGIL_BENCH_DETECT_S'] ?? 60);
const SETTLE_S = 8; // the decoder's start, the model's warm-up

interface Stream { name: string; size: string; fps: number; kbps: number; goal: number }
const STREAMS: Stream[] = [
  { name: '1080p30 main stream', size: '1920x1080', fps: 30, kbps: 4000, goal: 0.08 },
  { name: '640x360 15 fps substream', size: '640x360', fps: 15, kbps: 600, goal: 0.02 },
];

function clip(ffmpeg: string, s: Stream): string {
  const file = path.join(os.tmpdir(), `vigil-detect-bench-${s.size}-${s.fps}-${s.kbps}.mp4`);
  if (existsSync(file)) return file;
  const h = Number(s.size.split('x')[1]);
  const font = Math.round(h / 30);
  const text = `drawtext=text='%{localtime\\:%H\\\\\\:%M\\\\\\:%S}':fontsize=${font}:x=10:y=10:fontcolor=white:box=1:boxcolor=black,` +
    `drawtext=text='%{n}':fontsize=${font}:x=w-tw-10:y=h-th-10:fontcolor=white:box=1:boxcolor=black`;
  const r = spawnSync(ffmpeg, ['-hide_banner', '-loglevel', 'error', '-y', '-f', 'lavfi', '-i', `smptehdbars=size=${s.size}:rate=${s.fps}`, '-t', '60', '-vf', text,
    '-c:v', 'libx264', '-preset', 'veryfast', '-profile:v', 'high', '-bf', '0', '-g', String(2 * s.fps), '-b:v', `${s.kbps}k`, '-maxrate', `${s.kbps}k`, '-bufsize', `${2 * s.kbps}k`, file], { stdio: 'inherit' });
  if (r.status !== 0) throw new Error(`could not make the clip ${file}`);
  return file;
}

async function measure(ffmpeg: string, s: Stream): Promise<{ cpu: number; decoder: number; node: number; events: number; frames: number }> {
  const file = clip(ffmpeg, s);
  const src = spawn(ffmpeg, ['-hide_banner', '-loglevel', 'error', '-re', '-stream_loop', '-1', '-i', file, '-c', 'copy', '-f', 'mp4',
    '-movflags', 'empty_moov+default_base_moof+frag_keyframe', '-frag_duration', '300000', 'pipe:1'], { stdio: ['ignore', 'pipe', 'inherit'] });
  const events: DetectedEvent[] = [];
  let init: IngestInit | undefined;
  const gop: IngestFragment[] = [];
  const stream: MediaStream = { cameraId: 'bench', number: 1, topic: 'bench', kind: 'camera', get init() { return init; }, get gop() { return gop; } };
  const detector = new MotionDetector({
    camera: { id: 'bench' }, settings: { cameraId: 'bench', motion: true, sensitivity: 5, masks: [], zones: [] }, ffmpeg: { tool: 'ffmpeg', path: ffmpeg, version: '', source: 'path', skipped: [] },
    sink: { started: (_k, e) => events.push(e), updated: () => undefined, ended: () => undefined },
  });
  const splitter = new Fmp4Splitter();
  src.stdout.on('data', (chunk: Buffer) => {
    for (const seg of splitter.push(chunk)) {
      if (seg.type === 'init') {
        init = { data: seg.data, codecs: seg.codecs, mime: seg.mime, tracks: seg.tracks, ...(seg.width ? { width: seg.width } : {}), ...(seg.height ? { height: seg.height } : {}) };
        detector.join(stream);
      } else {
        const f: IngestFragment = { data: seg.data, keyframe: seg.keyframe, captureTime: Date.now(), trackIds: seg.trackIds };
        if (f.keyframe) gop.length = 0;
        gop.push(f);
        detector.fragment(f);
      }
    }
  });
  try {
    await new Promise((r) => setTimeout(r, SETTLE_S * 1000));
    const pid = detector.pid;
    if (pid === undefined) throw new Error(`${s.name}: the decoder is not running\n${detector.stderrText()}`);
    const d0 = readStat(pid)!.cpu;
    const n0 = process.cpuUsage();
    const f0 = detector.frames;
    const e0 = events.length;
    const t0 = performance.now();
    await new Promise((r) => setTimeout(r, WINDOW_S * 1000));
    const wall = (performance.now() - t0) / 1000;
    const d1 = readStat(pid)?.cpu ?? d0;
    const n = process.cpuUsage(n0);
    const decoder = (d1 - d0) / wall;
    const node = (n.user + n.system) / 1e6 / wall;
    return { cpu: decoder + node, decoder, node, events: events.length - e0, frames: detector.frames - f0 };
  } finally {
    src.kill('SIGKILL');
    await detector.stop();
  }
}

/** The substream path as the hub runs it: CameraFeed (RTSP ingest, remux) → MotionDetector. */
async function measureSubstream(ffmpeg: string): Promise<{ cpu: number; ingest: number; decoder: number; node: number; events: number; frames: number }> {
  const cam = await startCamera({ size: '640x360', fps: 15, codec: 'h264', runSeconds: WINDOW_S + SETTLE_S + 60, extraArgs: ['--pattern', 'smpte', '--motion', '0'] });
  const events: DetectedEvent[] = [];
  const info = { tool: 'ffmpeg' as const, path: ffmpeg, version: '', source: 'path' as const, skipped: [] };
  const detector = new MotionDetector({
    camera: { id: 'bench' }, settings: { cameraId: 'bench', motion: true, sensitivity: 5, masks: [], zones: [] }, ffmpeg: info,
    sink: { started: (_k, e) => events.push(e), updated: () => undefined, ended: () => undefined },
  });
  const feed: CameraFeed = new CameraFeed(0, { kind: 'rtsp', url: cam.url, audio: 'none' }, info, {
    onInit: () => detector.join(stream), onFragment: (f) => detector.fragment(f), onState: () => undefined,
  });
  const stream: MediaStream = { cameraId: 'bench', number: 0, topic: '', kind: 'camera', get init() { return feed.init; }, get gop() { return feed.gop; } };
  feed.start();
  try {
    await new Promise((r) => setTimeout(r, SETTLE_S * 1000));
    const pid = detector.pid;
    const ingestPid = childrenOf(process.pid).find((c) => c.pid !== pid && /ffmpeg/.test(c.comm))?.pid;
    if (pid === undefined || ingestPid === undefined) throw new Error(`substream: the decoder or the ingest is not running\n${detector.stderrText()}`);
    const d0 = readStat(pid)!.cpu;
    const i0 = readStat(ingestPid)!.cpu;
    const n0 = process.cpuUsage();
    const f0 = detector.frames;
    const e0 = events.length;
    const t0 = performance.now();
    await new Promise((r) => setTimeout(r, WINDOW_S * 1000));
    const wall = (performance.now() - t0) / 1000;
    const decoder = ((readStat(pid)?.cpu ?? d0) - d0) / wall;
    const ingest = ((readStat(ingestPid)?.cpu ?? i0) - i0) / wall;
    const n = process.cpuUsage(n0);
    const node = (n.user + n.system) / 1e6 / wall;
    return { cpu: ingest + decoder + node, ingest, decoder, node, events: events.length - e0, frames: detector.frames - f0 };
  } finally {
    await Promise.all([feed.stop(), detector.stop()]);
    await stopAllCameras();
  }
}

async function main(): Promise<void> {
  const ffmpeg = (await resolveFfmpeg()).path;
  console.log(machineLine());
  console.log(`window ${WINDOW_S} s per stream after ${SETTLE_S} s of start-up${LONG ? '' : ' (-- --long: 10 minutes)'}; static SMPTE bars with a seconds clock and a frame counter`);
  // VIGIL_BENCH_DETECT_ONLY=substream: the substream row alone.
  for (const s of process.env['VIGIL_BENCH_DETECT_ONLY'] === 'substream' ? [] : STREAMS) {
    const r = await measure(ffmpeg, s);
    console.log(`${s.name}: detection ${fixed(r.cpu * 100, 2)} % of a core (decoder ${fixed(r.decoder * 100, 2)} %, Node ${fixed(r.node * 100, 2)} %), ` +
      `${r.frames} pictures analysed, ${r.events} events in ${WINDOW_S} s  ` +
      `CPU ${verdict(r.cpu < s.goal)} (< ${s.goal * 100} %), quiet ${verdict(r.events === 0)}`);
  }
  const r = await measureSubstream(ffmpeg);
  console.log(`1080p camera via its 640x360 15 fps ONVIF substream (RTSP ingest + decode): detection ${fixed(r.cpu * 100, 2)} % of a core ` +
    `(substream ingest ${fixed(r.ingest * 100, 2)} %, decoder ${fixed(r.decoder * 100, 2)} %, Node ${fixed(r.node * 100, 2)} %), ` +
    `${r.frames} pictures analysed, ${r.events} events in ${WINDOW_S} s  CPU ${verdict(r.cpu < 0.02)} (< 2 %), quiet ${verdict(r.events === 0)}`);
}

await main();
