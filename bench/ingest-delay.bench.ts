// node --import tsx bench/ingest-delay.bench.ts — how long ffmpeg holds a frame on the hub (issue 20):
// the test camera stamps each frame's creation time (wall clock ms) into its pixels before the
// encoder (test/support/camera/rtsp-camera.py, STAMP); the hub's ingest (native/ingest.ts, one
// fragment per frame, video only) pulls it over RTSP/TCP and the time each fragment is emitted is
// kept. Afterwards the fragments are decoded (ffmpeg, one picture per fragment) and each picture's
// stamp read: delay = emitted - stamp, i.e. encoder + RTSP on loopback + ffmpeg + the pipe to Node.
// A TCP proxy between ffmpeg and the camera also notes when each frame's last RTP packet reaches
// ffmpeg, which splits that delay into the camera's part and ffmpeg's ("held by ffmpeg"): each
// frame is found in ffmpeg's output by its last 12 bytes (the end of its last RTP packet's payload,
// which every container here copies as it is), so the same measure works for MP4 and for the stage
// runs. A reference run decodes the camera to raw pictures instead (no MP4 muxer); stage runs copy
// the video into NUT (a container written packet by packet, so what is left is the RTP demuxer and
// the H.264/H.265 parser) and MPEG-TS. Each ffmpeg argument variant runs against the same camera,
// one after the other, and the hub's own RTSP reader ('hub-reader': no ffmpeg; "held" is then the
// hub's own time from a frame's last packet to its fragment); then the ingest with a G.711 camera
// (audio transcoded to AAC).
//   VIGIL_BENCH_FPS (default "25,10"), VIGIL_BENCH_WINDOW_S (default 10),
//   VIGIL_BENCH_VARIANTS (default: all, comma-separated names from VARIANTS below),
//   VIGIL_BENCH_AUDIO (default "none,pcmu": the camera's audio; pcmu runs AUDIO_VARIANTS),
//   VIGIL_BENCH_CODEC (default h264; or h265), VIGIL_BENCH_REFERENCE=0 skips the reference and stage runs
import { spawn } from 'node:child_process';
import { createServer, connect, type AddressInfo, type Server } from 'node:net';
import { resolveFfmpeg, type FfmpegInfo } from '../native/ffmpeg.ts';
import { CameraIngest, INGEST_DEFAULTS, type FfmpegArgTemplates } from '../native/ingest.ts';
import { startCamera, stopAllCameras, type StampLayout } from '../test/support/camera/camera.ts';
import { readStamp } from '../test/support/camera/stamp.ts';
import { fixed, machineLine, percentile } from './lib/stats.ts';

const FPS = (process.env['VIGIL_BENCH_FPS'] ?? '25,10').split(',').map(Number);
const WINDOW_S = Number(process.env['VIGIL_BENCH_WINDOW_S'] ?? 10);
const SIZE = { w: 640, h: 360 };
/** Fragments emitted before this are not counted: ffmpeg's start-up backlog. */
const SETTLE_MS = 2_000;

/**
 * Argument variants, as overrides of INGEST_DEFAULTS.args ('now'). The others are the options one
 * would try for a low-delay ingest; none changed ffmpeg's hold here (docs/PERFORMANCE.md, "Ingest
 * delay"): kept so the next ffmpeg can be checked in one run. Not here because the ingest cannot
 * run it: `-fflags +noparse+nofillin` (no parser: every RTP packet's payload becomes a packet of
 * its own, without keyframe flag or decode time, and ffmpeg writes no usable MP4).
 */
const NOW = INGEST_DEFAULTS.args;
const HUB_READER = 'hub-reader';
const VARIANTS: Record<string, Partial<FfmpegArgTemplates>> = {
  now: {},
  /** Not ffmpeg: the hub's own RTSP reader and MP4 writer (CameraIngestOptions.reader 'auto'). */
  [HUB_READER]: {},
  'input-nobuffer': {
    rtspInput: ['-rtsp_transport', 'tcp', '-fflags', 'nobuffer', '-flags', 'low_delay', '-probesize', '32', '-analyzeduration', '0', '-i', '{url}'],
  },
  'input-no-reorder': {
    rtspInput: ['-rtsp_transport', 'tcp', '-max_delay', '0', '-reorder_queue_size', '0', '-avioflags', 'direct', '-i', '{url}'],
  },
  'flush-packets': { output: ['-flush_packets', '1', ...NOW.output] },
  'output-direct': { output: ['-avioflags', 'direct', '-flush_packets', '1', '-muxdelay', '0', '-muxpreload', '0', '-strict', 'experimental', ...NOW.output] },
  'frag-every-frame': {
    output: NOW.output.map((a) => (a === 'empty_moov+default_base_moof+frag_keyframe' ? `${a}+frag_every_frame` : a)),
  },
};

/** With a G.711 camera: the ingest as it is (AAC at 48 kHz) against AAC at lower rates. */
const AUDIO_VARIANTS: Record<string, Partial<FfmpegArgTemplates>> = {
  now: {},
  'aac-8k': { audioTranscode: ['-c:a', 'aac', '-b:a', '32k'] },
  'aac-16k': { audioTranscode: ['-c:a', 'aac', '-ar', '16000', '-b:a', '32k'] },
};

/** Stage runs: the video copied into a container other than MP4 (`-f NAME`), no ingest. */
const STAGES = ['nut', 'mpegts'];

interface Emitted {
  at: number;
  data: Uint8Array;
  /** tfdt of the fragment, in `timescale` ticks. */
  decodeTime?: number;
  timescale?: number;
}

/** When each frame's last RTP packet (marker bit) passed the proxy towards ffmpeg, by RTP timestamp. */
interface RtpArrivals {
  /** Per frame in arrival order: when its last RTP packet passed, and that payload's last 12 bytes. */
  lasts: { at: number; tail: Buffer }[];
}

/**
 * A TCP proxy between ffmpeg and the camera (RTSP with RTP interleaved on the same connection):
 * it reads the camera's side, and notes when the last packet of each video frame passes to ffmpeg.
 * So "what ffmpeg holds" is measured exactly: fragment emitted - the frame's last byte handed to it.
 */
async function rtspProxy(cameraPort: number): Promise<{ server: Server; port: number; arrivals: RtpArrivals }> {
  const arrivals: RtpArrivals = { lasts: [] };
  const server = createServer((client) => {
    const upstream = connect(cameraPort, '127.0.0.1');
    client.pipe(upstream);
    let buf: Buffer = Buffer.alloc(0);
    upstream.on('data', (chunk: Buffer) => {
      const at = wallMs();
      buf = buf.length === 0 ? chunk : Buffer.concat([buf, chunk]);
      for (;;) {
        if (buf.length === 0) break;
        if (buf[0] === 0x24) { // '$' channel u8, length u16, RTP packet
          if (buf.length < 4) break;
          const len = buf.readUInt16BE(2);
          if (buf.length < 4 + len) break;
          const channel = buf[1]!;
          const rtp = buf.subarray(4, 4 + len);
          if (channel === 0 && rtp.length >= 24 && (rtp[1]! & 0x80) !== 0) arrivals.lasts.push({ at, tail: Buffer.from(rtp.subarray(rtp.length - 12)) });
          buf = buf.subarray(4 + len);
        } else { // an RTSP response: headers, then Content-Length bytes
          const end = buf.indexOf('\r\n\r\n');
          if (end < 0) break;
          const m = /content-length:\s*(\d+)/i.exec(buf.subarray(0, end).toString('latin1'));
          const total = end + 4 + (m ? Number(m[1]) : 0);
          if (buf.length < total) break;
          buf = buf.subarray(total);
        }
      }
      client.write(chunk);
    });
    const close = () => {
      client.destroy();
      upstream.destroy();
    };
    client.on('close', close).on('error', close);
    upstream.on('close', close).on('error', close);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { server, port: (server.address() as AddressInfo).port, arrivals };
}

/** Bytes as they left ffmpeg: the whole output, and per chunk its end offset and when it came. */
interface Output {
  bytes: Buffer;
  ends: number[];
  at: number[];
}

function output(chunks: readonly { at: number; data: Uint8Array }[]): Output {
  const ends: number[] = [];
  let total = 0;
  for (const c of chunks) ends.push(total += c.data.length);
  return { bytes: Buffer.concat(chunks.map((c) => c.data)), ends, at: chunks.map((c) => c.at) };
}

/**
 * ffmpeg's hold per frame, for any container that copies a frame's bytes as they are: when the
 * output chunk holding the frame's last 12 bytes left ffmpeg - when its last RTP packet reached
 * ffmpeg. Frames whose tail is not found (before the first keyframe; split by a TS packet header)
 * are left out; only frames that arrived at or after `from` are counted.
 */
function heldByBytes(out: Output, arrivals: RtpArrivals, from: number): number[] {
  const held: number[] = [];
  let cursor = 0;
  let chunk = 0;
  for (const { at, tail } of arrivals.lasts) {
    const pos = out.bytes.indexOf(tail, cursor);
    if (pos < 0) continue;
    cursor = pos + 1;
    while (chunk < out.ends.length - 1 && out.ends[chunk]! < pos + tail.length) chunk++;
    if (at >= from) held.push(out.at[chunk]! - at);
  }
  return held;
}

/** A stage run: ffmpeg copies the video into `format` on its stdout; the chunks with their times. */
async function stage(ffmpeg: FfmpegInfo, url: string, format: string, seconds: number): Promise<{ chunks: { at: number; data: Uint8Array }[]; firstAt: number }> {
  const child = spawn(ffmpeg.path, [...NOW.global, ...NOW.rtspInput.map((a) => (a === '{url}' ? url : a)),
    '-map', '0:v:0', '-c:v', 'copy', '-an', '-flush_packets', '1', '-f', format, 'pipe:1'], { stdio: ['ignore', 'pipe', 'ignore'] });
  const chunks: { at: number; data: Uint8Array }[] = [];
  child.stdout.on('data', (data: Buffer) => chunks.push({ at: wallMs(), data }));
  const deadline = Date.now() + 20_000 + seconds * 1000;
  while ((chunks.length === 0 || wallMs() < chunks[0]!.at + SETTLE_MS + seconds * 1000) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  child.kill('SIGKILL');
  return { chunks, firstAt: chunks[0]?.at ?? Infinity };
}

function heldLine(held: readonly number[], fps: number): string {
  if (held.length < 10) return 'held by the reader: could not find the frames in its output';
  const h = (q: number) => fixed(percentile(held, q), 0);
  return `held by the reader, ffmpeg or the hub's (frame's bytes out - its last RTP packet in): p50 ${h(50)} ms, p90 ${h(90)}, max ${fixed(Math.max(...held), 0)} ` +
    `(${fixed(percentile(held, 50) * fps / 1000, 2)} frame intervals, ${held.length} frames)`;
}

function wallMs(): number {
  return performance.timeOrigin + performance.now();
}

/** The ingest's fragments for `seconds` after it is live, with the time each was emitted. */
async function capture(ffmpeg: FfmpegInfo, url: string, args: Partial<FfmpegArgTemplates>, seconds: number, audio: 'none' | 'auto', reader: 'auto' | 'ffmpeg'): Promise<{ init: Uint8Array; fragments: Emitted[] }> {
  const ingest = new CameraIngest({ source: { kind: 'rtsp', url, audio }, ffmpeg, fragmentMs: 0, args, reader });
  let init: Uint8Array | undefined;
  const fragments: Emitted[] = [];
  let firstAt = 0;
  ingest.on('init', (i) => {
    init = i.data;
  });
  ingest.on('fragment', (f) => {
    const at = wallMs();
    firstAt ||= at;
    fragments.push({ at, data: f.data, ...(f.decodeTime !== undefined ? { decodeTime: f.decodeTime } : {}), ...(f.timescale !== undefined ? { timescale: f.timescale } : {}) });
  });
  ingest.start();
  try {
    const deadline = Date.now() + 20_000;
    while (firstAt === 0 || wallMs() < firstAt + SETTLE_MS + seconds * 1000) {
      if (Date.now() > deadline + seconds * 1000) throw new Error(`no fragments: ${JSON.stringify(ingest.state)}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  } finally {
    await ingest.stop();
  }
  if (init === undefined) throw new Error('no init segment');
  return { init, fragments };
}

/** Decodes init + fragments to grey pictures, one per video sample, in order. */
async function decode(ffmpeg: FfmpegInfo, init: Uint8Array, fragments: readonly Emitted[]): Promise<Uint8Array[]> {
  const child = spawn(ffmpeg.path, ['-hide_banner', '-nostdin', '-loglevel', 'fatal', '-f', 'mp4', '-i', 'pipe:0',
    '-map', '0:v:0', '-fps_mode', 'passthrough', '-f', 'rawvideo', '-pix_fmt', 'gray', 'pipe:1'], { stdio: ['pipe', 'pipe', 'inherit'] });
  const chunks: Buffer[] = [];
  child.stdout.on('data', (c: Buffer) => chunks.push(c));
  const done = new Promise<void>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code) => (code === 0 ? resolve() : reject(new Error(`ffmpeg decode exited ${code}`))));
  });
  child.stdin.write(init);
  for (const f of fragments) child.stdin.write(f.data);
  child.stdin.end();
  await done;
  const all = Buffer.concat(chunks);
  const size = SIZE.w * SIZE.h;
  const out: Uint8Array[] = [];
  for (let o = 0; o + size <= all.length; o += size) out.push(all.subarray(o, o + size));
  return out;
}

/**
 * A reference without the MP4 muxer: ffmpeg decodes the camera to raw pictures (one decoder thread,
 * low_delay) and each picture's arrival here is kept. Its delay is the camera's, RTSP's and the H.264
 * parser's (which sees a frame's end only when the next frame begins); what the ingest adds above it
 * is the muxer's and the pipe's.
 */
async function decodedDirect(ffmpeg: FfmpegInfo, url: string, layout: StampLayout, seconds: number): Promise<number[]> {
  const child = spawn(ffmpeg.path, ['-hide_banner', '-nostdin', '-loglevel', 'error', '-rtsp_transport', 'tcp', '-fflags', 'nobuffer', '-flags', 'low_delay',
    '-threads', '1', '-i', url, '-map', '0:v:0', '-fps_mode', 'passthrough', '-f', 'rawvideo', '-pix_fmt', 'gray', 'pipe:1'], { stdio: ['ignore', 'pipe', 'inherit'] });
  const size = SIZE.w * SIZE.h;
  let pending: Buffer = Buffer.alloc(0);
  const delays: number[] = [];
  let firstAt = 0;
  child.stdout.on('data', (c: Buffer) => {
    const at = wallMs();
    pending = pending.length === 0 ? c : Buffer.concat([pending, c]);
    while (pending.length >= size) {
      const picture = pending.subarray(0, size);
      pending = pending.subarray(size);
      firstAt ||= at;
      if (at < firstAt + SETTLE_MS) continue;
      const stamp = readStamp(picture, SIZE.w, layout);
      if (stamp !== undefined) delays.push(at - stamp);
    }
  });
  const deadline = Date.now() + 20_000 + seconds * 1000;
  while ((firstAt === 0 || wallMs() < firstAt + SETTLE_MS + seconds * 1000) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  child.kill('SIGKILL');
  return delays;
}

async function main(): Promise<void> {
  console.log('vigil bench:ingest-delay');
  console.log(machineLine());
  const ffmpeg = await resolveFfmpeg();
  const names = (process.env['VIGIL_BENCH_VARIANTS']?.split(',') ?? Object.keys(VARIANTS));
  const audios = (process.env['VIGIL_BENCH_AUDIO'] ?? 'none,pcmu').split(',') as ('none' | 'pcmu')[];
  const codec = (process.env['VIGIL_BENCH_CODEC'] ?? 'h264') as 'h264' | 'h265';
  const reference = process.env['VIGIL_BENCH_REFERENCE'] !== '0';
  console.log(`ffmpeg: ${ffmpeg.path} ${ffmpeg.version}; camera ${codec} ${SIZE.w}x${SIZE.h}, 2 s GOP, stamped; one fragment per frame; ` +
    `${WINDOW_S} s per variant after ${SETTLE_MS / 1000} s; delay = fragment emitted by the ingest - frame created (ms)`);
  console.log(`now = INGEST_DEFAULTS.args: rtspInput ${NOW.rtspInput.join(' ')}; audioTranscode ${NOW.audioTranscode.join(' ')}; output ${NOW.output.join(' ')}`);
  try {
    for (const audio of audios) {
      for (const fps of FPS) {
        const variants = audio === 'none' ? Object.fromEntries(names.map((n) => [n, VARIANTS[n]])) : AUDIO_VARIANTS;
        const runs = Object.keys(variants).length + (reference && audio === 'none' ? 1 + STAGES.length : 0);
        // The stamping camera has no audio (its PCMU pipeline answers PLAY with 503): the audio runs
        // measure the hold only.
        const camera = await startCamera({ codec, audio, size: `${SIZE.w}x${SIZE.h}`, fps, gop: 2 * fps, stamp: audio === 'none', runSeconds: 30 + runs * (WINDOW_S + 15) });
        const layout = camera.info.stamp;
        if (layout === null && audio === 'none') throw new Error('the camera did not stamp');
        const label = `${fps} fps (frame interval ${fixed(1000 / fps, 0)} ms)${audio === 'none' ? '' : `, ${audio} audio`}`;
        if (reference && audio === 'none') {
          const delays = await decodedDirect(ffmpeg, camera.url, layout!, WINDOW_S);
          const p = (q: number) => fixed(percentile(delays, q), 0);
          console.log(`  ${label}, reference (ffmpeg decoding to raw pictures, no muxer): ${delays.length} frames, delay p50 ${p(50)} ms, p90 ${p(90)}, ` +
            `min ${fixed(Math.min(...delays), 0)}, max ${fixed(Math.max(...delays), 0)}; p50 in frame intervals ${fixed(percentile(delays, 50) * fps / 1000, 2)}`);
          for (const format of STAGES) {
            const proxy = await rtspProxy(camera.info.port);
            const { chunks, firstAt } = await stage(ffmpeg, camera.url.replace(`:${camera.info.port}/`, `:${proxy.port}/`), format, WINDOW_S);
            proxy.server.close();
            console.log(`  ${label}, stage: video copied into ${format} (no MP4 muxer): ${heldLine(heldByBytes(output(chunks), proxy.arrivals, firstAt + SETTLE_MS), fps)}`);
          }
        }
        for (const [name, args] of Object.entries(variants)) {
          if (args === undefined) throw new Error(`no variant ${name} (have ${Object.keys(VARIANTS).join(', ')})`);
          const proxy = await rtspProxy(camera.info.port);
          const { init, fragments } = await capture(ffmpeg, camera.url.replace(`:${camera.info.port}/`, `:${proxy.port}/`), args, WINDOW_S, audio === 'none' ? 'none' : 'auto', name === HUB_READER ? 'auto' : 'ffmpeg');
          proxy.server.close();
          const from = fragments[0]!.at + SETTLE_MS;
          const held = heldLine(heldByBytes(output([{ at: fragments[0]!.at, data: init }, ...fragments]), proxy.arrivals, from), fps);
          if (audio !== 'none') {
            console.log(`  ${label}, ${name}: ${held}`);
            continue;
          }
          const pictures = await decode(ffmpeg, init, fragments);
          const counted = fragments.filter((f) => f.at >= from);
          if (pictures.length !== fragments.length) {
            console.log(`  ${label}, ${name}: ${fragments.length} fragments but ${pictures.length} pictures: not one frame per fragment, no stamps read; ${held}`);
            continue;
          }
          const delays: number[] = [];
          let unreadable = 0;
          for (let i = fragments.length - counted.length; i < fragments.length; i++) {
            const stamp = readStamp(pictures[i]!, SIZE.w, layout!);
            if (stamp === undefined) unreadable++;
            else delays.push(fragments[i]!.at - stamp);
          }
          const p = (q: number) => fixed(percentile(delays, q), 0);
          console.log(`  ${label}, ${name}: ${delays.length} frames, delay p50 ${p(50)} ms, p90 ${p(90)}, ` +
            `min ${fixed(Math.min(...delays), 0)}, max ${fixed(Math.max(...delays), 0)}; p50 in frame intervals ${fixed(percentile(delays, 50) * fps / 1000, 2)}` +
            `${unreadable ? `; ${unreadable} stamps unreadable` : ''}; ${held}`);
        }
        await camera.stop();
      }
    }
  } finally {
    await stopAllCameras();
  }
}

main().catch((e: unknown) => {
  console.error(`bench:ingest-delay failed: ${e instanceof Error ? e.stack : String(e)}`);
  process.exitCode = 1;
}).finally(() => process.exit());
