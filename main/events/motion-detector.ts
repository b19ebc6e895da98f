// A camera's detection on the hub (PROTOCOL §17.1): one ffmpeg decodes the hub's own fragmented MP4
// of the camera (the media bus's stream, written to its stdin: no second RTSP session, no camera
// password on its command line) into a few small pictures a second, and the camera's analysers
// (motion.ts, later a model) look at each. It is a bus consumer like any other: it runs whether
// or not anyone watches, and watching changes nothing for it.
//
// Bounded like the ingest (native/ingest.ts): stdin backlog capped (past it, fragments are dropped
// until the next keyframe), one picture buffer, stderr in a small ring, restarts with a stepped
// backoff, a stall watchdog, SIGTERM then SIGKILL on stop. Decoding costs the most: the decoder
// skips H.264's loop filter (-skip_loop_filter all, -flags2 fast), which motion does not need.
// The preview is a JPEG of the picture at the event's peak, made by a one-shot ffmpeg from the kept
// yuv420p frame (320 pixels wide, under MAX_PREVIEW_BYTES). `started` does not wait for it: the
// event leaves at once marked `previewFollows`, and the picture in an `updated` when it is made.
import { spawn, type ChildProcess } from 'node:child_process';
import type { FfmpegInfo } from '../../native/ffmpeg.ts';
import type { IngestFragment, IngestInit } from '../../native/ingest.ts';
import { Redactor, StderrRing } from '../../native/redact.ts';
import type { MediaStream } from '../media/media-bus.ts';
import type { DetectionSettings } from '../store/detection.ts';
import { EventTracker, type TrackerStep, type TrackerTuning } from './detect-tracker.ts';
import { motionAnalyser, type AnalyserFactory, type CameraDetector, type DecodedFrame, type DetectorSink, type FrameAnalyser } from './detector.ts';
import type { DetectedEvent } from './hub-events.ts';
import { i420Size, lumaOf } from './motion.ts';
import { zoneName } from './zones.ts';

export interface MotionDetectorTiming {
  /** Pictures analysed per second. */
  fps: number;
  /** Width of the analysed (and preview) picture; the height follows the camera's aspect. */
  width: number;
  /** Waits before restart 2, 3, ...; the last repeats. */
  backoffMs: readonly number[];
  /** Fragments go in but no picture comes out for this long: restart the decoder. */
  stallMs: number;
  /** Between SIGTERM and SIGKILL. */
  killMs: number;
  /** Running this long resets the backoff. */
  stableMs: number;
  /** At most one new preview per event this often ('updated'). */
  previewEveryMs: number;
  /** The JPEG encoder's whole run. */
  previewTimeoutMs: number;
}

export const MOTION_DETECTOR_DEFAULTS: MotionDetectorTiming = {
  fps: 5,
  width: 320,
  backoffMs: [1_000, 5_000, 10_000, 60_000],
  stallMs: 20_000,
  killMs: 2_000,
  stableMs: 30_000,
  previewEveryMs: 2_000,
  previewTimeoutMs: 5_000,
};

/** The decoder's stdin may hold this much before fragments are dropped (to the next keyframe). */
export const MAX_DECODER_BACKLOG_BYTES = 4 * 1024 * 1024;
/** A preview larger than this is made again at a lower quality, then left out. */
export const MAX_PREVIEW_BYTES = 30 * 1024;

export interface MotionDetectorOptions {
  camera: { readonly id: string; readonly name?: string };
  settings: DetectionSettings;
  ffmpeg: FfmpegInfo | undefined;
  sink: DetectorSink;
  log?: (line: string) => void;
  timing?: Partial<MotionDetectorTiming>;
  tracker?: Partial<TrackerTuning>;
  /** Default: motion only. */
  analysers?: readonly AnalyserFactory[];
}

/** The decoder's arguments: templates in one place (go2rtc's habit), `{name}` filled in. */
export const DECODER_ARGS = {
  // Decoder options before -i: one thread (the hub has other cameras), no loop filter.
  input: ['-hide_banner', '-nostdin', '-loglevel', 'error', '-threads', '1', '-skip_loop_filter', 'all', '-flags2', 'fast', '-f', 'mp4', '-i', 'pipe:0'],
  // One picture per 1/fps of the stream's time, each out as soon as it is decoded: `-r` with
  // `-fps_mode cfr` drops and repeats frames on their own timestamps (a gap in the stream is filled
  // with repeats, as the trackers' clock assumes). The fps filter did the same but held each picture
  // until the next frame after its slot had come (335 ms with one-frame fragments, up to a fragment
  // with 300 ms ones). Not select + passthrough (PROTOCOL §17.1): it gives no picture for a gap and
  // fewer than fps a second when timestamps jitter, so the clock ran slow and ticks looked lasting.
  output: ['-map', '0:v:0', '-an', '-sn', '-dn', '-vf', 'scale={width}:{height}:flags=area', '-r', '{fps}', '-fps_mode', 'cfr', '-pix_fmt', 'yuv420p', '-f', 'rawvideo', 'pipe:1'],
  preview: ['-hide_banner', '-nostdin', '-loglevel', 'error', '-f', 'rawvideo', '-pix_fmt', 'yuv420p', '-s', '{width}x{height}', '-i', 'pipe:0',
    '-frames:v', '1', '-q:v', '{q}', '-f', 'mjpeg', 'pipe:1'],
} as const;

function fill(t: readonly string[], vars: Record<string, string>): string[] {
  return t.map((a) => a.replace(/\{(\w+)\}/g, (m, k: string) => vars[k] ?? m));
}

/** The analysed picture's size for a camera of width x height: `width` wide, even height. */
export function pictureSize(width: number | undefined, height: number | undefined, target: number): { width: number; height: number } {
  if (!width || !height || width < 16 || height < 16) return { width: target, height: Math.round((target * 9) / 16 / 2) * 2 };
  const w = Math.min(target, width - (width % 2));
  return { width: w, height: Math.max(16, Math.round((w * height) / width / 2) * 2) };
}

interface Tracked {
  analyser: FrameAnalyser;
  tracker: EventTracker;
  key: string | undefined;
  /** The ongoing event's start on the wall clock, fixed when it started. */
  startWallMs: number | undefined;
  preview: Uint8Array | undefined;
  lastPreviewMs: number;
}

export class MotionDetector implements CameraDetector {
  readonly source = 'decoder';
  readonly timing: MotionDetectorTiming;
  readonly #o: MotionDetectorOptions;
  readonly #stderr = new StderrRing(new Redactor([]), 20, 4096);
  #settings: DetectionSettings;
  #stream: MediaStream | undefined;
  #running = true;
  #child: ChildProcess | undefined;
  #childExit: Promise<void> | undefined;
  #generation = 0;
  #attempt = 0;
  #timers = new Set<ReturnType<typeof setTimeout>>();
  #size = { width: 0, height: 0 };
  #frame: Uint8Array | undefined;
  #filled = 0;
  #lastFrameAt = 0;
  #lastFedAt = 0;
  /**
   * The trackers' clock: the stream's own time, one picture interval (1000 / fps: the decoder's fps
   * filter gives pictures at that rate of the stream's time, repeating one across a gap) per
   * picture, never when a picture happened to arrive. A busy hub gets its pictures unevenly (a
   * decoder behind, then catching up at two or three times real time); timed by arrival, two ticks
   * of a clock overlay a second apart in the stream looked like motion that lasted, and a still
   * scene made events. Across a decoder restart the clock moves on by the wall time that passed.
   */
  #clockMs = 0;
  /** Wall time minus the trackers' clock at the last picture: turns an event's times into wall times. */
  #wallOffsetMs: number | undefined;
  #lastPictureWall = 0;
  /** The next picture is a new decoder's first. */
  #resumed = false;
  #tracked: Tracked[] = [];
  #emitting: Promise<void> = Promise.resolve();
  #feeding: { inited: boolean; decodable: boolean } = { inited: false, decodable: false };
  /** Pictures analysed, decoder starts: for status and tests. */
  frames = 0;
  starts = 0;

  constructor(opts: MotionDetectorOptions) {
    this.#o = opts;
    this.#settings = opts.settings;
    this.timing = { ...MOTION_DETECTOR_DEFAULTS, ...opts.timing };
    if (!(this.timing.fps > 0 && this.timing.fps <= 30) || !(this.timing.width >= 32 && this.timing.width <= 640)) throw new RangeError('fps 0..30 and width 32..640');
  }

  get running(): boolean {
    return this.#child !== undefined;
  }

  /** The decoder's process id while it runs (bench: its CPU from /proc). */
  get pid(): number | undefined {
    return this.#child?.pid;
  }

  /** Starts on a stream of the media bus: its current init and GOP now, then what comes. */
  join(stream: MediaStream): void {
    this.#stream = stream;
    if (stream.init !== undefined) this.#restart(stream.init, stream.gop);
  }

  /** The bus's init: the stream started over (a new ffmpeg; it cannot take a second init). */
  init(stream: MediaStream, init: IngestInit): void {
    this.#stream = stream;
    if (this.#running) this.#restart(init, []);
  }

  fragment(f: IngestFragment): void {
    const child = this.#child;
    if (child === undefined || !this.#feeding.inited) return;
    const stdin = child.stdin;
    if (stdin === null || stdin.destroyed) return;
    const fd = this.#feeding;
    if (f.keyframe) fd.decodable = stdin.writableLength + f.data.length <= MAX_DECODER_BACKLOG_BYTES;
    else if (fd.decodable && stdin.writableLength + f.data.length > MAX_DECODER_BACKLOG_BYTES) fd.decodable = false;
    if (!fd.decodable) return;
    stdin.write(f.data);
    this.#lastFedAt = performance.now();
  }

  /** New settings: the analysers start over (an ongoing event ends first). */
  configure(settings: DetectionSettings): void {
    this.#settings = settings;
    this.#endAll();
    this.#tracked = [];
  }

  async stop(): Promise<void> {
    this.#running = false;
    this.#generation++;
    for (const t of this.#timers) clearTimeout(t);
    this.#timers.clear();
    await this.#kill();
    this.#endAll();
    await this.#emitting;
  }

  /** The decoder's last stderr lines (nothing secret: it only ever reads stdin). */
  stderrText(): string {
    return this.#stderr.text();
  }

  // ---------------------------------------------------------------------------------------------

  #restart(init: IngestInit, gop: readonly IngestFragment[]): void {
    const gen = ++this.#generation;
    void this.#kill().then(() => {
      if (gen === this.#generation && this.#running) this.#spawn(gen, init, gop);
    });
  }

  #spawn(gen: number, init: IngestInit, gop: readonly IngestFragment[]): void {
    const ffmpeg = this.#o.ffmpeg;
    if (ffmpeg === undefined) {
      this.#o.log?.(`camera ${this.#o.camera.id.slice(0, 8)}: no ffmpeg, no motion detection`);
      return;
    }
    const size = pictureSize(init.width, init.height, this.timing.width);
    if (size.width !== this.#size.width || size.height !== this.#size.height) {
      this.#endAll();
      this.#size = size;
      this.#frame = new Uint8Array(i420Size(size.width, size.height));
      this.#tracked = [];
    }
    this.#filled = 0;
    this.#resumed = true;
    if (gop.length > 0 && this.#tracked.length > 0) {
      // The new decoder goes through the cached GOP again: pictures older than ones already
      // analysed. Fresh analysers learn the scene on them (their warm-up) rather than seeing the
      // past replayed as a burst of change.
      this.#endAll();
      this.#tracked = [];
    }
    const vars = { fps: String(this.timing.fps), width: String(size.width), height: String(size.height) };
    const args = [...DECODER_ARGS.input, ...fill(DECODER_ARGS.output, vars)];
    let child: ChildProcess;
    try {
      child = spawn(ffmpeg.path, args, { stdio: ['pipe', 'pipe', 'pipe'], windowsHide: true });
    } catch (e) {
      this.#afterExit(gen, `cannot run ffmpeg: ${(e as Error).message}`);
      return;
    }
    this.starts++;
    this.#child = child;
    this.#childExit = new Promise((resolve) => child.once('close', () => resolve()));
    this.#stderr.clear();
    child.once('error', () => undefined);
    child.stdin?.on('error', () => undefined); // EPIPE once ffmpeg is gone: 'close' moves us on
    child.stdout?.on('error', () => undefined);
    child.stderr?.on('error', () => undefined);
    child.stderr?.setEncoding('utf8');
    child.stderr?.on('data', (d: string) => this.#stderr.push(d));
    child.stdout?.on('data', (chunk: Buffer) => {
      if (gen === this.#generation) this.#onData(chunk);
    });
    child.once('close', (code, signal) => {
      if (this.#child === child) this.#child = undefined;
      if (gen !== this.#generation || !this.#running) return;
      const tail = this.#stderr.tail(2).join(' | ');
      this.#afterExit(gen, `decoder ${signal ? `killed by ${signal}` : `exited with code ${code}`}${tail ? `: ${tail}` : ''}`);
    });
    this.#feeding = { inited: true, decodable: false };
    child.stdin?.write(init.data);
    for (const f of gop) this.fragment(f);
    this.#lastFrameAt = performance.now();
    // A stall is fragments going in and no picture coming out (a camera that sends nothing is the
    // ingest's to notice: its restart brings a new init here).
    const check = (): void => {
      if (gen !== this.#generation) return;
      const now = performance.now();
      if (now - this.#lastFrameAt >= this.timing.stallMs && now - this.#lastFedAt < this.timing.stallMs / 2) {
        this.#o.log?.(`camera ${this.#o.camera.id.slice(0, 8)}: motion decoder gave no picture for ${this.timing.stallMs / 1000} s; restarting it`);
        void this.#kill();
        return;
      }
      this.#timer(this.timing.stallMs / 4, check);
    };
    this.#timer(this.timing.stallMs, check);
    this.#timer(this.timing.stableMs, () => {
      if (gen === this.#generation) this.#attempt = 0;
    });
  }

  #afterExit(gen: number, why: string): void {
    if (gen !== this.#generation || !this.#running) return;
    const steps = this.timing.backoffMs;
    const delay = steps[Math.min(this.#attempt, steps.length - 1)] ?? 1_000;
    this.#attempt++;
    this.#o.log?.(`camera ${this.#o.camera.id.slice(0, 8)}: ${why}; motion decoder restarts in ${delay / 1000} s`);
    this.#timer(delay, () => {
      const s = this.#stream;
      if (gen === this.#generation && this.#running && s?.init !== undefined) this.#restart(s.init, s.gop);
    });
  }

  #onData(chunk: Uint8Array): void {
    const frame = this.#frame;
    if (frame === undefined) return;
    let at = 0;
    while (at < chunk.length) {
      const take = Math.min(frame.length - this.#filled, chunk.length - at);
      frame.set(chunk.subarray(at, at + take), this.#filled);
      this.#filled += take;
      at += take;
      if (this.#filled === frame.length) {
        this.#filled = 0;
        this.#lastFrameAt = performance.now();
        this.#analyse(frame);
      }
    }
  }

  #analyse(i420: Uint8Array): void {
    const { width, height } = this.#size;
    if (this.#tracked.length === 0) {
      const settings = { sensitivity: this.#settings.sensitivity, zones: this.#settings.zones, masks: this.#settings.masks };
      this.#tracked = (this.#o.analysers ?? [motionAnalyser]).map((make) => ({
        analyser: make(width, height, settings), tracker: new EventTracker(this.#o.tracker), key: undefined, startWallMs: undefined, preview: undefined, lastPreviewMs: 0,
      }));
    }
    this.frames++;
    const wall = Date.now();
    const interval = 1000 / this.timing.fps;
    // After a pause (a decoder restart, a stream that stopped) the clock moves on by the wall time.
    if (this.#wallOffsetMs !== undefined) this.#clockMs += this.#resumed ? Math.max(interval, wall - this.#lastPictureWall) : interval;
    this.#resumed = false;
    this.#wallOffsetMs = wall - this.#clockMs;
    this.#lastPictureWall = wall;
    const frame: DecodedFrame = { gray: lumaOf(i420, width, height), i420, timeMs: this.#clockMs };
    for (const t of this.#tracked) {
      const finding = t.analyser.analyse(frame);
      const step = t.tracker.observe(frame.timeMs, finding);
      if (step !== undefined) this.#step(t, step, i420);
    }
  }

  /** A tracker's step as an event, its times on the wall clock (the start as fixed when it started). */
  #event(t: Tracked, step: TrackerStep, startWallMs: number, preview: Uint8Array | undefined): DetectedEvent {
    return {
      cameraId: this.#o.camera.id, kind: t.analyser.kind, source: t.analyser.source, startMs: startWallMs,
      ...(step.type === 'ended' ? { endMs: Math.max(startWallMs, Math.round(step.endMs + (this.#wallOffsetMs ?? 0))) } : {}),
      score: Math.round(step.score * 1000) / 1000, zones: step.zones.map(zoneName),
      ...(preview !== undefined ? { preview } : {}),
    };
  }

  #step(t: Tracked, step: TrackerStep, i420: Uint8Array): void {
    const sink = this.#o.sink;
    if (step.type === 'started') {
      const startWallMs = (t.startWallMs = Math.round(step.startMs + (this.#wallOffsetMs ?? 0)));
      const key = (t.key = `${t.analyser.source}:${this.#o.camera.id}:${startWallMs}`);
      t.lastPreviewMs = Date.now();
      // The event leaves now and its picture when made (an `updated` of the same key): a one-shot
      // encoder takes 0.1-0.4 s to start on a busy hub, which an online phone's notice need not wait.
      const jpeg = this.#jpeg(i420);
      const follows = jpeg !== undefined;
      this.#queue(async () => {
        sink.started(key, { ...this.#event(t, step, startWallMs, undefined), ...(follows ? { previewFollows: true } : {}) });
      });
      if (jpeg !== undefined) {
        this.#queue(async () => {
          t.preview = await jpeg;
          // Sent even without a picture: whoever waits for it (Web Push) learns there will be none.
          sink.updated(key, this.#event(t, step, startWallMs, t.preview));
        });
      }
    } else if (step.type === 'updated') {
      const key = t.key;
      const startWallMs = t.startWallMs;
      const now = Date.now();
      if (key === undefined || startWallMs === undefined || now - t.lastPreviewMs < this.timing.previewEveryMs) return;
      t.lastPreviewMs = now;
      const jpeg = this.#jpeg(i420);
      if (jpeg === undefined) return;
      this.#queue(async () => {
        const p = await jpeg;
        if (p !== undefined) t.preview = p;
        sink.updated(key, this.#event(t, step, startWallMs, t.preview));
      });
    } else {
      const key = t.key;
      const startWallMs = t.startWallMs;
      t.key = undefined;
      t.startWallMs = undefined;
      if (key === undefined || startWallMs === undefined) return;
      const event = this.#event(t, step, startWallMs, undefined);
      this.#queue(async () => {
        sink.ended(key, { ...event, ...(t.preview !== undefined ? { preview: t.preview } : {}) });
        t.preview = undefined;
      });
    }
  }

  /** Ends every ongoing event (settings changed, size changed, a decoder restart, stopping). */
  #endAll(): void {
    for (const t of this.#tracked) {
      const step = t.tracker.flush(this.#clockMs);
      if (step !== undefined) this.#step(t, step, new Uint8Array(0));
    }
  }

  /** Steps leave in order (an `updated` with a picture after the encoder); a sink that throws is the bus's to report. */
  #queue(f: () => Promise<void>): void {
    this.#emitting = this.#emitting.then(f).catch((e: unknown) => this.#o.log?.(`event publish failed: ${e instanceof Error ? e.message : String(e)}`));
  }

  /**
   * A JPEG of the picture (copied now): resolves to undefined if none fits MAX_PREVIEW_BYTES in
   * time; undefined at once when there is nothing to make one with.
   */
  #jpeg(i420: Uint8Array): Promise<Uint8Array | undefined> | undefined {
    const ffmpeg = this.#o.ffmpeg;
    if (ffmpeg === undefined || i420.length === 0) return undefined;
    const copy = i420.slice();
    const { width, height } = this.#size;
    return (async () => {
      for (const q of ['5', '12']) {
        const out = await encodeJpeg(ffmpeg.path, fill(DECODER_ARGS.preview, { width: String(width), height: String(height), q }), copy, this.timing.previewTimeoutMs);
        if (out !== undefined && out.length <= MAX_PREVIEW_BYTES) return out;
      }
      return undefined;
    })();
  }

  async #kill(): Promise<void> {
    const child = this.#child;
    const exited = this.#childExit;
    if (child === undefined || exited === undefined) return;
    if (child.exitCode === null && child.signalCode === null) {
      child.stdin?.destroy();
      child.kill('SIGTERM');
      const t = setTimeout(() => child.kill('SIGKILL'), this.timing.killMs);
      await exited;
      clearTimeout(t);
    } else await exited;
    if (this.#child === child) this.#child = undefined;
  }

  #timer(ms: number, f: () => void): ReturnType<typeof setTimeout> {
    const t = setTimeout(() => {
      this.#timers.delete(t);
      f();
    }, ms);
    this.#timers.add(t);
    return t;
  }
}

/** One picture through a one-shot ffmpeg: bounded in time and output size. */
function encodeJpeg(file: string, args: string[], frame: Uint8Array, timeoutMs: number): Promise<Uint8Array | undefined> {
  return new Promise((resolve) => {
    let child: ChildProcess;
    try {
      child = spawn(file, args, { stdio: ['pipe', 'pipe', 'ignore'], windowsHide: true });
    } catch {
      resolve(undefined);
      return;
    }
    const parts: Buffer[] = [];
    let bytes = 0;
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.once('error', () => undefined);
    child.stdin?.on('error', () => undefined);
    child.stdout?.on('error', () => undefined);
    child.stdout?.on('data', (d: Buffer) => {
      bytes += d.length;
      if (bytes > 2 * MAX_PREVIEW_BYTES) child.kill('SIGKILL');
      else parts.push(d);
    });
    child.once('close', (code) => {
      clearTimeout(timer);
      const out = Buffer.concat(parts);
      // A JPEG starts with SOI (FF D8) and ends with EOI (FF D9).
      const ok = code === 0 && bytes <= 2 * MAX_PREVIEW_BYTES && out.length > 4 && out[0] === 0xff && out[1] === 0xd8 && out[out.length - 2] === 0xff && out[out.length - 1] === 0xd9;
      resolve(ok ? new Uint8Array(out) : undefined);
    });
    child.stdin?.end(frame);
  });
}
