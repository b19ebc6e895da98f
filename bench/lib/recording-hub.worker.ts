// The hub of bench/recording.bench.ts, in a process of its own so that its CPU (and that of the
// ffmpeg processes it starts) and its disk writes are read from /proc apart from the relay's and the
// phone's. Driven over the fork IPC channel (bench/lib/worker-serve.ts): one request, one answer. It
// exits when the channel closes, so a crashed bench leaves no hub behind (Hub.close stops every ffmpeg).
//
// `backfill` records a stretch of the past in seconds instead of an hour: the clip's fragments (cut
// by ffmpeg -c copy into fragmented MP4 as the hub's ingest cuts a camera's stream) handed to the
// hub's own Recorder as the media bus hands them, with capture times stepping by each fragment's
// length from `fromMs`: the real SegmentWriter, index and files, at a faster clock than real.
import { spawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import path from 'node:path';
import { SegmentWriter } from '../../crypto/recording.ts';
import { Hub } from '../../main/hub.ts';
import type { MediaStream } from '../../main/media/media-bus.ts';
import { realSegmentFiles } from '../../main/recording/segment-files.ts';
import type { RecordingMode } from '../../main/store/recordings.ts';
import { resolveFfmpeg } from '../../native/ffmpeg.ts';
import { Fmp4Splitter } from '../../native/fmp4.ts';
import { fragmentDurationUs, type IngestInit } from '../../native/ingest.ts';
import { HubLog, closeOnce, runWorker, serve, workerArgs, type CommonRequest, type OwnRequest } from './worker-serve.ts';

export type RecordingWorkerRequest =
  | CommonRequest
  | { id: number; op: 'set-mode'; cameras: string[]; mode: RecordingMode }
  | { id: number; op: 'status' }
  | { id: number; op: 'backfill'; camera: string; clip: string; fromMs: number; toMs: number };

export interface RecordingWorkerStatus {
  epoch: number;
  cameras: { name: string; id: string; number: number; state: string; error?: string; fragments: number; bytes: number }[];
  /**
   * Recorder.counts, and the bytes appended to segment files so far (Recorder.totalBytes: counted
   * at each append; the index's total moves only when a segment opens and closes).
   */
  recorder: { fragments: number; fragmentBytes: number; written: number; segmentBytes: number; diskFullEvents: number };
  /** The hub's event loop since the previous status (ms): a stall here stalls every camera. */
  loopDelay: { p99: number; max: number };
  /** Wall time on the hub's event loop in parts of the recording path since the previous status (ms). */
  parts: Record<PartName, { calls: number; ms: number; max: number }>;
}

export const PART_NAMES = ['recorder', 'seal', 'append', 'index-open', 'index-update'] as const;
export type PartName = (typeof PART_NAMES)[number];
const parts = Object.fromEntries(PART_NAMES.map((n) => [n, { calls: 0, ms: 0, max: 0 }])) as RecordingWorkerStatus['parts'];

/**
 * Wraps `obj[key]` to add its wall time to `parts[name]`: the bench's instrument, not the hub's
 * (a performance.now() pair per call). Wall time, so a write or a commit waiting on the disk shows.
 */
function timed<K extends string>(obj: Record<K, unknown>, key: K, name: PartName): void {
  const orig = obj[key] as (...a: unknown[]) => unknown;
  obj[key] = function (this: unknown, ...a: unknown[]): unknown {
    const t = performance.now();
    try {
      return orig.apply(this, a);
    } finally {
      const d = performance.now() - t;
      const p = parts[name];
      p.calls++;
      p.ms += d;
      if (d > p.max) p.max = d;
    }
  };
}

export interface BackfillResult {
  fragments: number;
  bytes: number;
  segments: number;
  wallMs: number;
  firstMs: number;
  lastMs: number;
}

const log = new HubLog(60);

interface ClipFragments {
  init: IngestInit;
  fragments: { data: Uint8Array; keyframe: boolean; ms: number }[];
}

/** The clip cut into fragmented MP4 by ffmpeg -c copy, with each fragment's length from its tfdt. */
async function clipFragments(clip: string, fragmentMs: number): Promise<ClipFragments> {
  const ffmpeg = (await resolveFfmpeg()).path;
  const p = spawn(ffmpeg, ['-hide_banner', '-nostdin', '-loglevel', 'error', '-i', clip, '-map', '0:v:0', '-c', 'copy', '-f', 'mp4',
    '-movflags', 'empty_moov+default_base_moof+frag_keyframe', '-frag_duration', fragmentDurationUs(fragmentMs), 'pipe:1'], { stdio: ['ignore', 'pipe', 'pipe'] });
  const splitter = new Fmp4Splitter();
  let init: IngestInit | undefined;
  const raw: { data: Uint8Array; keyframe: boolean; t: number }[] = [];
  let timescale = 90000;
  p.stdout.on('data', (chunk: Buffer) => {
    for (const seg of splitter.push(chunk)) {
      if (seg.type === 'init') {
        init = { data: seg.data, codecs: seg.codecs, mime: seg.mime, tracks: seg.tracks };
      } else {
        timescale = seg.timescale ?? timescale;
        raw.push({ data: seg.data, keyframe: seg.keyframe, t: seg.decodeTime ?? 0 });
      }
    }
  });
  let err = '';
  p.stderr.on('data', (d: Buffer) => (err = (err + d.toString()).slice(-2000)));
  const code = await new Promise<number | null>((r) => p.once('close', r));
  if (code !== 0 || init === undefined || raw.length < 2) throw new Error(`cutting ${clip} into fragments failed (${code}): ${err}`);
  const step = ((raw[raw.length - 1]!.t - raw[0]!.t) / (raw.length - 1) / timescale) * 1000;
  return {
    init,
    fragments: raw.map((f, i) => ({ data: f.data, keyframe: f.keyframe, ms: i + 1 < raw.length ? ((raw[i + 1]!.t - f.t) / timescale) * 1000 : step })),
  };
}

async function main(): Promise<void> {
  const { relay, fragmentMs } = workerArgs('bench/recording.bench.ts');
  const loop = monitorEventLoopDelay({ resolution: 10 });
  loop.enable();
  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'vigil-bench-recording-'));
  const hub = await Hub.start({ dataDir, relays: [relay], log: log.keep, fragmentMs });
  // The media bus calls the recorder's own `fragment` (an own property wins over the class's).
  timed(hub.recordings.recorder as unknown as Record<'fragment', unknown>, 'fragment', 'recorder');
  timed(SegmentWriter.prototype as unknown as Record<'chunk', unknown>, 'chunk', 'seal');
  timed(realSegmentFiles as unknown as Record<'append', unknown>, 'append', 'append');
  timed(hub.recordings.index as unknown as Record<'openSegment', unknown>, 'openSegment', 'index-open');
  timed(hub.recordings.index as unknown as Record<'updateSegment', unknown>, 'updateSegment', 'index-update');
  const close = closeOnce(hub, dataDir);

  const camera = (name: string) => {
    const c = hub.cameras.status().find((x) => x.name === name);
    if (c === undefined) throw new Error(`no camera ${name}`);
    return c;
  };

  const handle = async (req: OwnRequest<RecordingWorkerRequest>): Promise<unknown> => {
    switch (req.op) {
      case 'set-mode':
        for (const name of req.cameras) hub.recordings.set(name, req.mode);
        return true;
      case 'status': {
        const rec = hub.recordings.recorder;
        const status: RecordingWorkerStatus = {
          epoch: hub.keys.epoch,
          cameras: hub.cameras.status().map((c) => ({
            name: c.name, id: c.id, number: c.number, state: c.state, ...(c.error ? { error: c.error } : {}), fragments: c.fragments, bytes: c.bytes,
          })),
          recorder: { ...rec.counts, segmentBytes: rec.totalBytes, diskFullEvents: rec.diskFullEvents },
          loopDelay: { p99: loop.percentile(99) / 1e6, max: loop.max / 1e6 },
          parts: structuredClone(parts),
        };
        loop.reset();
        for (const p of Object.values(parts)) Object.assign(p, { calls: 0, ms: 0, max: 0 });
        return status;
      }
      case 'backfill': {
        const c = camera(req.camera);
        const clip = await clipFragments(req.clip, fragmentMs);
        const rec = hub.recordings.recorder;
        const stream: MediaStream = { cameraId: c.id, number: c.number, topic: c.topic, kind: 'camera', init: clip.init, gop: [] };
        rec.init(stream, clip.init);
        const started = performance.now();
        const before = hub.recordings.index.totalBytes();
        let t = req.fromMs;
        let n = 0;
        let bytes = 0;
        let last = t;
        while (t < req.toMs) {
          const f = clip.fragments[n % clip.fragments.length]!;
          rec.fragment(stream, { data: f.data, keyframe: f.keyframe, captureTime: Math.round(t), trackIds: [1] });
          last = t;
          t += f.ms;
          n++;
          bytes += f.data.length;
          // Let the hub's links breathe between segments' worth of writes.
          if (n % 32 === 0) await new Promise((r) => setImmediate(r));
        }
        // The segment being written ends where the stretch ends (the next fragment starts a gap).
        rec.ended(stream);
        const info = hub.recordings.list().find((r) => r.cameraId === c.id);
        const result: BackfillResult = {
          fragments: n, bytes, segments: info?.segments ?? -1,
          wallMs: performance.now() - started, firstMs: req.fromMs, lastMs: last,
        };
        log.keep(`backfill: ${n} fragments, ${hub.recordings.index.totalBytes() - before} bytes in segments`);
        return result;
      }
    }
  };

  serve(hub, handle, log, close);
}

runWorker('recording hub worker', main, log);
