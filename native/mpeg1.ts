// The hub's MPEG-1 transcoder for phones without Media Source (iOS 16 and older): node-rtsp-stream's
// Mpeg1Muxer, which spawns `ffmpeg -i URL -f mpegts -codec:v mpeg1video OPTIONS -`, given
// `url: 'pipe:0'` and fed on its standard input the hub's own fragmented MP4 of the camera (an
// Fmp4Input, as the h264 profile's transcoder is): one RTSP session per camera, and no camera URL
// or password on this ffmpeg's command line. Only the muxer file is used; the package's VideoStream
// (an unauthenticated plaintext WebSocket server on every interface) never runs (eslint.config.js).
// Its output is cut into an init segment and fragments of whole TS packets (mpegts.ts), which the
// hub seals like any other stream.
//
// Supervised like the ingest (ingest.ts): a start time-out, a stall watchdog, a stepped backoff
// between restarts, SIGTERM then SIGKILL, and the last stderr lines for the error a user sees. The
// muxer itself only spawns: everything around the process is done here, on its `stream` (the child).
import type { ChildProcess } from 'node:child_process';
import { EventEmitter } from 'node:events';
import Mpeg1Muxer from 'node-rtsp-stream/mpeg1muxer.js';
import type { FfmpegInfo } from './ffmpeg.ts';
import { INGEST_DEFAULTS, MAX_STDIN_BACKLOG_BYTES, type Fmp4Input, type IngestEvents, type IngestFragment, type IngestState, type IngestTiming } from './ingest.ts';
import { MpegTsCutter, MpegTsError } from './mpegts.ts';
import { Redactor, StderrRing } from './redact.ts';

/**
 * ffmpeg's output options after the muxer's own `-f mpegts -codec:v mpeg1video` (one value per key:
 * ffmpeg's default stream choice takes the first video and the first audio track, so no `-map`).
 * Sized for a phone screen: at most 640 pixels wide, 25 fps (MPEG-1 knows no 15 fps: a 15 fps camera's
 * frames are repeated, which costs little), 800 kbit/s, no B-frames (JSMpeg decodes I and P only), a
 * keyframe every 2 s (a new viewer waits at most that long), mono MP2 audio at 64 kbit/s, and a flush
 * after every packet so frames leave ffmpeg at once.
 */
export const MPEG1_OUTPUT: Readonly<Record<string, string>> = {
  '-loglevel': 'warning',
  '-hide_banner': '',
  '-nostats': '',
  '-vf': "scale=w='min(640,iw)':h=-2",
  '-r': '25',
  '-b:v': '800k',
  '-bf': '0',
  '-g': '50',
  '-flush_packets': '1',
  '-codec:a': 'mp2',
  '-ar': '44100',
  '-ac': '1',
  '-b:a': '64k',
};

/**
 * How much stream time one fragment gathers. JSMpeg decodes one frame per screen refresh, so a burst
 * of many frames plays fast and then waits: short fragments keep its motion even. The hub seals ten
 * fragments a second for the stream however many watch: nothing next to the transcode.
 */
export const MPEG1_FRAGMENT_MS = 100;

export const MPEG1_MIME = 'video/mp2t; codecs="mpeg1video, mp2"';
export const MPEG1_CODECS = ['mpeg1video', 'mp2'];

export interface Mpeg1Options {
  ffmpeg: FfmpegInfo;
  /** The hub's fragmented MP4 of the camera. */
  input: Fmp4Input;
  fragmentMs?: number;
  timing?: Partial<IngestTiming>;
  output?: Record<string, string>;
}

export class Mpeg1Transcoder extends EventEmitter<IngestEvents> {
  readonly timing: IngestTiming;
  readonly #output: Record<string, string>;
  readonly #stderr = new StderrRing(new Redactor([]), INGEST_DEFAULTS.stderrLines, INGEST_DEFAULTS.stderrBytes);
  #running = false;
  #generation = 0;
  #attempt = 0;
  #child: ChildProcess | undefined;
  #exited: Promise<void> | undefined;
  #attemptError: string | undefined;
  #timers = new Set<ReturnType<typeof setTimeout>>();
  #stall: ReturnType<typeof setTimeout> | undefined;
  #startTimer: ReturnType<typeof setTimeout> | undefined;
  #state: IngestState = { state: 'stopped', attempt: 0 };

  constructor(private readonly opts: Mpeg1Options) {
    super();
    this.timing = { ...INGEST_DEFAULTS.timing, ...opts.timing };
    this.#output = { ...MPEG1_OUTPUT, ...opts.output };
  }

  get state(): IngestState {
    return { ...this.#state };
  }

  /** The ffmpeg process of the current attempt (for tests). */
  get pid(): number | undefined {
    return this.#child?.pid;
  }

  start(): void {
    if (this.#running) return;
    this.#running = true;
    this.#attempt = 0;
    this.#launch();
  }

  /** Stops and waits until its ffmpeg is gone. Idempotent. */
  async stop(): Promise<void> {
    const was = this.#running;
    this.#running = false;
    this.#generation++;
    this.#clearTimers();
    await this.#kill();
    if (was) this.#setState({ state: 'stopped', attempt: 0 });
  }

  #launch(): void {
    const gen = ++this.#generation;
    this.#attempt++;
    this.#attemptError = undefined;
    this.#setState({ state: 'starting', attempt: this.#attempt });
    const cutter = new MpegTsCutter(this.opts.fragmentMs ?? MPEG1_FRAGMENT_MS);
    const muxer = new Mpeg1Muxer({ url: 'pipe:0', ffmpegPath: this.opts.ffmpeg.path, ffmpegOptions: this.#output });
    const child = muxer.stream;
    this.#child = child;
    this.#exited = new Promise((done) => child.once('close', () => done()));
    // A spawn failure (ffmpeg gone) arrives as 'error'; unhandled it would crash the hub.
    child.once('error', (err) => {
      this.#attemptError ??= `cannot run ffmpeg for the mpeg1 profile: ${err.message}`;
      // Never spawned: no 'close' may follow.
      if (child.pid === undefined) this.#afterAttempt(gen, this.#attemptError);
    });
    child.stderr?.on('error', () => undefined);
    child.stdout?.on('error', () => undefined);
    muxer.on('ffmpegStderr', (d) => this.#stderr.push(d.toString('utf8')));
    muxer.on('mpeg1data', (chunk) => {
      if (gen !== this.#generation) return;
      let segments;
      try {
        segments = cutter.push(chunk);
      } catch (err) {
        this.#attemptError ??= `ffmpeg's MPEG-TS output is not valid (${err instanceof MpegTsError ? err.code : 'error'})`;
        void this.#kill();
        return;
      }
      for (const seg of segments) {
        if (gen !== this.#generation) return;
        if (seg.type === 'init') {
          this.emit('init', { data: seg.data, codecs: MPEG1_CODECS, mime: MPEG1_MIME, tracks: [] });
          continue;
        }
        this.#live(gen);
        const frag: IngestFragment = { data: seg.data, keyframe: seg.keyframe, captureTime: Date.now(), trackIds: [] };
        this.emit('fragment', frag);
      }
    });
    child.once('close', (code, signal) => {
      if (this.#child === child) this.#child = undefined;
      if (gen !== this.#generation) return;
      const how = signal ? `was killed by ${signal}` : `exited with code ${code}`;
      const tail = this.#stderr.tail(3);
      this.#afterAttempt(gen, this.#attemptError ?? `the mpeg1 transcoder's ffmpeg ${how}${tail.length ? `: ${tail.join(' | ')}` : ''}`);
    });
    this.#startTimer = this.#timer(this.timing.startTimeoutMs, () => {
      if (gen !== this.#generation) return;
      this.#attemptError = `the mpeg1 transcoder made no video within ${this.timing.startTimeoutMs / 1000} s`;
      void this.#kill();
    });
    this.#feed(gen, child);
  }

  /** The hub's fMP4 into ffmpeg's stdin, as the ingest feeds its h264 transcoder (ingest.ts). */
  #feed(gen: number, child: ChildProcess): void {
    const stdin = child.stdin;
    if (stdin === null) return;
    stdin.on('error', () => undefined); // EPIPE once ffmpeg is gone: its 'close' moves us on
    let inited = false;
    let decodable = false;
    const unsubscribe = this.opts.input.subscribe({
      init: (data) => {
        if (gen !== this.#generation) return;
        if (inited) {
          // ffmpeg cannot take a second init segment mid-stream: a fresh ffmpeg, no failure.
          this.#restart(gen);
          return;
        }
        inited = true;
        stdin.write(data);
      },
      fragment: (data, keyframe) => {
        if (gen !== this.#generation || !inited) return;
        // A transcoder slower than the camera: drop until the next keyframe rather than grow.
        if (keyframe) decodable = stdin.writableLength + data.length <= MAX_STDIN_BACKLOG_BYTES;
        else if (decodable && stdin.writableLength + data.length > MAX_STDIN_BACKLOG_BYTES) decodable = false;
        if (decodable) stdin.write(data);
      },
    });
    child.once('close', unsubscribe);
  }

  #restart(gen: number): void {
    if (gen !== this.#generation || !this.#running) return;
    this.#generation++;
    this.#clearTimers();
    const next = this.#generation;
    void this.#kill().then(() => {
      if (next !== this.#generation || !this.#running) return;
      this.#attempt = 0;
      this.#launch();
    });
  }

  #live(gen: number): void {
    if (this.#startTimer !== undefined) {
      this.#clearTimer(this.#startTimer);
      this.#startTimer = undefined;
    }
    if (this.#state.state !== 'live') {
      this.#setState({ state: 'live', attempt: this.#attempt });
      this.#timer(this.timing.stableAfterMs, () => {
        this.#attempt = 0;
      });
    }
    if (this.#stall !== undefined && this.#timers.has(this.#stall)) {
      this.#stall.refresh();
      return;
    }
    this.#stall = this.#timer(this.timing.stallTimeoutMs, () => {
      if (gen !== this.#generation) return;
      this.#attemptError = `no video from the mpeg1 transcoder for ${this.timing.stallTimeoutMs / 1000} s`;
      this.#setState({ state: 'stalled', error: this.#attemptError, attempt: this.#attempt });
      void this.#kill();
    });
  }

  #afterAttempt(gen: number, error: string): void {
    if (gen !== this.#generation || !this.#running) return;
    this.#generation++;
    this.#clearTimers();
    if (this.#attempt >= this.timing.maxAttempts) {
      this.#running = false;
      this.#setState({ state: 'failed', error: `${error} (gave up after ${this.#attempt} attempts)`, attempt: this.#attempt });
      return;
    }
    const steps = this.timing.backoffMs;
    const delay = steps[Math.min(Math.max(this.#attempt - 1, 0), steps.length - 1)] ?? 0;
    this.#setState({ state: 'backoff', error, attempt: this.#attempt, retryInMs: delay });
    const next = this.#generation;
    this.#timer(delay, () => {
      if (next === this.#generation && this.#running) this.#launch();
    });
  }

  async #kill(): Promise<void> {
    const child = this.#child;
    const exited = this.#exited;
    if (child === undefined || exited === undefined) return;
    if (child.exitCode === null && child.signalCode === null && child.pid !== undefined) {
      child.kill('SIGTERM');
      const t = setTimeout(() => child.kill('SIGKILL'), this.timing.killTimeoutMs);
      await exited;
      clearTimeout(t);
    } else if (child.pid !== undefined) {
      await exited;
    }
    if (this.#child === child) this.#child = undefined;
  }

  #setState(s: IngestState): void {
    this.#state = s;
    this.emit('state', { ...s });
  }

  #timer(ms: number, fn: () => void): ReturnType<typeof setTimeout> {
    const t = setTimeout(() => {
      this.#timers.delete(t);
      fn();
    }, ms);
    this.#timers.add(t);
    return t;
  }

  #clearTimer(t: ReturnType<typeof setTimeout>): void {
    clearTimeout(t);
    this.#timers.delete(t);
  }

  #clearTimers(): void {
    for (const t of this.#timers) clearTimeout(t);
    this.#timers.clear();
    this.#startTimer = this.#stall = undefined;
  }
}
