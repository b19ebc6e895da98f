// Supervised ingest of one camera: ffmpeg pulls RTSP over TCP (or makes a test pattern) and remuxes
// the video without transcoding into fragmented MP4 on its stdout; we split that into the init
// segment and fragments. For the hub's h264 profile, ffmpeg instead reads the hub's own fragmented
// MP4 of the camera on its stdin and transcodes it: no second connection to the camera, and no
// camera URL or password on that ffmpeg's command line. The supervisor bounds
// everything: a start time-out, a stall watchdog, a stepped backoff between restarts, SIGTERM then
// SIGKILL, and the last stderr lines (redacted) for the error a user sees. The camera password
// never leaves this file in any message.

import { spawn, type ChildProcess } from 'node:child_process';
import { EventEmitter } from 'node:events';
import { resolveFfmpeg, resolveFfprobe, FfmpegMissingError, type FfmpegInfo } from './ffmpeg.ts';
import { openChildOutput, type ChildOutput } from './child-output.ts';
import type { Fmp4Segment, Fmp4SplitterOptions } from './fmp4.ts';
import { IngestStage, type IngestFragment, type IngestInit } from './ingest-stage.ts';
import type { AccessUnit } from './access-unit.ts';
import { Fmp4Writer } from './fmp4-writer.ts';
import { H26xError } from './h26x.ts';
import { RtspError, RtspVideoReader, type RtspErrorCode } from './rtsp-client.ts';
import { Redactor, StderrRing, urlWithoutCredentials } from './redact.ts';

export type { IngestFragment, IngestInit } from './ingest-stage.ts';

export type IngestSource =
  | {
      kind: 'rtsp';
      /** rtsp://[user:password@]host[:port]/path */
      url: string;
      /** Alternative to userinfo in the URL; inserted percent-encoded. */
      username?: string;
      password?: string;
      /** 'auto' (default) probes the camera: AAC is copied, anything else is transcoded to AAC. */
      audio?: 'auto' | 'copy' | 'aac' | 'none';
    }
  | {
      kind: 'test-pattern';
      /** WIDTHxHEIGHT, default 640x360. */
      size?: string;
      fps?: number;
    }
  | {
      /** Another ingest's output, written to ffmpeg's stdin (transcoded: `video: 'h264'` only). */
      kind: 'fmp4';
      input: Fmp4Input;
    };

/** Receives a fragmented MP4 stream: its init segment, then its fragments in order. */
export interface Fmp4Sink {
  /** A second init means the stream started over (new timestamps, maybe new codecs). */
  init(data: Uint8Array): void;
  fragment(data: Uint8Array, keyframe: boolean): void;
}

/** A fragmented MP4 stream that can be joined while it runs. */
export interface Fmp4Input {
  /**
   * Delivers the current init segment (if there is one yet) and the fragments since the last
   * keyframe at once, then every new init and fragment as it comes, until the returned function is
   * called. The sink must not throw.
   */
  subscribe(sink: Fmp4Sink): () => void;
}

export type IngestStateName = 'starting' | 'live' | 'stalled' | 'backoff' | 'stopped' | 'failed';

export interface IngestState {
  state: IngestStateName;
  /** Why we are not live (redacted). */
  error?: string;
  /** 1 for the first try, counting up through restarts; back to 1 once live long enough. */
  attempt: number;
  /** In 'backoff': when the next attempt starts. */
  retryInMs?: number;
  /** In 'live': who reads the camera, the hub's own RTSP reader or ffmpeg. */
  reader?: 'hub' | 'ffmpeg';
}

export interface IngestEvents {
  init: [IngestInit];
  fragment: [IngestFragment];
  state: [IngestState];
}

export interface IngestTiming {
  /** From the start of an attempt (probe included) to the first fragment. */
  startTimeoutMs: number;
  /** Longest gap between fragments while live. */
  stallTimeoutMs: number;
  /** Waits before attempt 2, 3, …; the last step repeats. */
  backoffMs: readonly number[];
  /** Between SIGTERM and SIGKILL. */
  killTimeoutMs: number;
  /** Live this long, and the backoff starts again from its first step. */
  stableAfterMs: number;
  /** The quick stream probe before each RTSP attempt. */
  probeTimeoutMs: number;
  /** Give up ('failed') after this many attempts in a row; Infinity = never. */
  maxAttempts: number;
  /**
   * While live, the video's media time must advance by a tenth of the time passed over this long,
   * else ffmpeg is restarted (native/media-clock.ts: a camera whose timestamps went back); seen one
   * to two windows after the clock stopped. At least stallTimeoutMs.
   */
  clockWindowMs: number;
}

/**
 * ffmpeg argument templates. `{name}` is replaced by a value; an argument that is exactly a
 * placeholder becomes one argument whatever the value holds (no shell is ever involved).
 */
export interface FfmpegArgTemplates {
  global: string[];
  rtspInput: string[];
  /** An `fmp4` source, read from stdin. */
  fmp4Input: string[];
  testPatternInput: string[];
  testPatternVideo: string[];
  mapVideo: string[];
  mapAudio: string[];
  /** The first audio stream if there is one (an `fmp4` source is not probed). */
  mapAudioIfAny: string[];
  videoCopy: string[];
  /**
   * The "h264" profile: the video re-encoded for browsers without H.265 (costly: the hub runs it
   * only while someone watches it). A keyframe every 2 s of stream time whatever the camera's rate.
   */
  videoH264: string[];
  /** Added for H.265: Apple and MSE want 'hvc1' (parameter sets in the sample entry). */
  hevcTag: string[];
  audioCopy: string[];
  audioTranscode: string[];
  noAudio: string[];
  output: string[];
  /** ffprobe: codec names from the SDP only (no waiting for a keyframe). */
  ffprobe: string[];
  /** When there is no ffprobe: ffmpeg with no output prints the same stream info and exits. */
  ffmpegProbe: string[];
}

export const INGEST_DEFAULTS: { timing: IngestTiming; args: FfmpegArgTemplates; stderrLines: number; stderrBytes: number } = {
  timing: {
    startTimeoutMs: 15_000,
    stallTimeoutMs: 6_000,
    backoffMs: [1_000, 5_000, 10_000, 60_000],
    killTimeoutMs: 3_000,
    stableAfterMs: 30_000,
    probeTimeoutMs: 8_000,
    maxAttempts: Infinity,
    clockWindowMs: 8_000,
  },
  args: {
    global: ['-hide_banner', '-nostdin', '-loglevel', 'warning'],
    // No `-timeout`: in ffmpeg 4.x (the npm binary) it means "listen for a connection" for RTSP.
    // The stall watchdog covers a silent camera instead.
    rtspInput: ['-rtsp_transport', 'tcp', '-i', '{url}'],
    // Its init segment comes first and carries every codec parameter: no need to wait for more.
    fmp4Input: ['-f', 'mp4', '-i', 'pipe:0'],
    testPatternInput: ['-re', '-f', 'lavfi', '-i', 'testsrc2=size={size}:rate={fps}'],
    testPatternVideo: ['-c:v', 'libx264', '-preset', 'ultrafast', '-tune', 'zerolatency', '-pix_fmt', 'yuv420p', '-g', '{gop}'],
    mapVideo: ['-map', '0:v:0'],
    mapAudio: ['-map', '0:a:0'],
    mapAudioIfAny: ['-map', '0:a:0?'],
    videoCopy: ['-c:v', 'copy'],
    // force_key_frames instead of -g: the SDP probe does not tell the frame rate, and a 2 s GOP
    // bounds how long a new viewer waits for its first picture.
    videoH264: ['-c:v', 'libx264', '-preset', 'veryfast', '-tune', 'zerolatency', '-pix_fmt', 'yuv420p',
      '-force_key_frames', 'expr:gte(t,n_forced*2)'],
    hevcTag: ['-tag:v', 'hvc1'],
    audioCopy: ['-c:a', 'copy'],
    // 48 kHz whatever the camera's rate: ffmpeg's AAC encoder holds about two 1024-sample frames,
    // 256 ms at G.711's 8 kHz, and the muxer holds every video frame until the audio has caught up,
    // so 8 kHz audio held the video about 280 ms more (25 fps); at 48 kHz, nothing more than a camera
    // without audio (docs/PERFORMANCE.md, "Ingest delay"). It costs ffmpeg about 1% of a
    // core more per G.711 camera. 32 kbit/s suits speech-band camera audio.
    audioTranscode: ['-c:a', 'aac', '-ar', '48000', '-b:a', '32k'],
    noAudio: ['-an'],
    // frag_duration: ffmpeg cuts a fragment before the first packet at least {fragmentUs} after the
    // fragment's start (1 µs: before every video packet, one fragment per frame), and frag_keyframe
    // before every keyframe, so a keyframe always starts a fragment. A frame waits in ffmpeg until
    // its fragment is cut: at most the fragment's duration plus one frame interval. Not
    // frag_every_frame: with an audio track, ffmpeg 5.1 then writes negative durations and loses
    // half the video frames.
    // max_interleave_delta: ffmpeg holds video until the audio track catches up, by default for up
    // to 10 s, longer than the stall watchdog; 0.5 s bounds that for a camera whose audio goes quiet.
    // (50 ms would smooth G.711 cameras' 128 ms bursts, but makes ffmpeg 5.1 write negative durations.)
    output: ['-dn', '-sn', '-max_interleave_delta', '500000', '-f', 'mp4', '-movflags', 'empty_moov+default_base_moof+frag_keyframe', '-frag_duration', '{fragmentUs}', 'pipe:1'],
    ffprobe: ['-v', 'error', '-rtsp_transport', 'tcp', '-analyzeduration', '0', '-probesize', '32',
      '-show_entries', 'stream=index,codec_type,codec_name', '-of', 'json', '{url}'],
    ffmpegProbe: ['-hide_banner', '-nostdin', '-rtsp_transport', 'tcp', '-analyzeduration', '0', '-probesize', '32', '-i', '{url}'],
  },
  stderrLines: 50,
  stderrBytes: 8 * 1024,
};

export interface CameraIngestOptions {
  source: IngestSource;
  /** Resolved ffmpeg (or a path); default: resolveFfmpeg() on first start. */
  ffmpeg?: FfmpegInfo | string;
  /** ffprobe path; null = probe with ffmpeg itself; default: resolveFfprobe() next to ffmpeg, else ffmpeg. */
  ffprobe?: string | null;
  timing?: Partial<IngestTiming>;
  args?: Partial<FfmpegArgTemplates>;
  splitter?: Fmp4SplitterOptions;
  /** Name for messages, e.g. the camera's name. */
  label?: string;
  /** 'copy' (default) remuxes the camera's video; 'h264' transcodes it (RTSP sources only). */
  video?: 'copy' | 'h264';
  /**
   * How much video ffmpeg gathers into one fragment, in ms (default DEFAULT_FRAGMENT_MS); 0 = one
   * fragment per frame. The trade: the hub wakes, reads, seals and sends once per fragment, so
   * longer fragments cost less CPU per camera, and a frame waits longer before it leaves the hub.
   */
  fragmentMs?: number;
  /**
   * Who reads an RTSP camera. 'auto' (default): the hub's own reader when it can (H.264 or H.265
   * video copied at one frame per fragment, no audio kept), else ffmpeg. 'ffmpeg': always ffmpeg.
   */
  reader?: 'auto' | 'ffmpeg';
}

/**
 * 0: one fragment per frame. Read by the hub's own RTSP reader (H.264/H.265 without audio kept), a
 * frame leaves the ingest when its last packet arrives, for 1.15x ffmpeg's bare remux at 8 watched
 * cameras; read by ffmpeg, after ffmpeg's two-frame hold, and the hub's Node process is then woken
 * once per frame on top of ffmpeg's work (2.4x). Glass to glass in the phone app p50 ~146 ms with
 * the hub's reader, ~287 ms with ffmpeg, ~565 ms with ffmpeg at 300 ms fragments
 * (docs/PERFORMANCE.md). A camera nobody watches is read paced (every 250 ms with all the others,
 * native/paced-sockets.ts). `vigil hub --fragment-ms` trades CPU for delay through ffmpeg's
 * time-cut fragments.
 */
export const DEFAULT_FRAGMENT_MS = 0;
/** Longer fragments would hold frames back for longer than a live view can stand. */
export const MAX_FRAGMENT_MS = 2_000;

/** Whether `ms` is a fragment length the ingest takes: a whole number 0..MAX_FRAGMENT_MS. */
export function isFragmentMs(ms: number): boolean {
  return Number.isInteger(ms) && ms >= 0 && ms <= MAX_FRAGMENT_MS;
}

/** ffmpeg's -frag_duration (µs) for a fragment length in ms: 0 is 1 µs (a cut before every frame). */
export function fragmentDurationUs(fragmentMs: number): string {
  return String(Math.max(1, Math.round(fragmentMs * 1000)));
}

let sharedFfmpeg: Promise<FfmpegInfo> | undefined;

/** resolveFfmpeg() once per process for every camera; a failure is not cached (the user may fix it). */
function defaultFfmpeg(): Promise<FfmpegInfo> {
  sharedFfmpeg ??= resolveFfmpeg().catch((err: unknown) => {
    sharedFfmpeg = undefined;
    throw err;
  });
  return sharedFfmpeg;
}

/**
 * How much of an `fmp4` source may wait for ffmpeg's stdin (a transcoder slower than the camera):
 * past it, fragments are dropped until the next keyframe, so memory stays bounded.
 */
export const MAX_STDIN_BACKLOG_BYTES = 8 * 1024 * 1024;

/** Audio codecs that go into MP4 for browsers as they are. */
const MP4_AUDIO = new Set(['aac']);

interface ProbeResult {
  video?: string;
  audio?: string;
}

/** Thrown only for misuse; everything at run time is reported through 'state'. */
export class IngestError extends Error {
  override readonly name = 'IngestError';
  constructor(
    readonly code: 'bad-options',
    message: string,
  ) {
    super(`${code}: ${message}`);
  }
}

export class CameraIngest extends EventEmitter<IngestEvents> {
  readonly timing: IngestTiming;
  readonly args: FfmpegArgTemplates;
  readonly fragmentMs: number;
  private readonly source: IngestSource;
  private readonly inputUrl: string;
  private readonly redactor: Redactor;
  private readonly stderr: StderrRing;
  private readonly label: string;

  private ffmpeg: FfmpegInfo | undefined;
  private ffprobePath: string | null | undefined;
  private running = false;
  private generation = 0;
  private attempt = 0;
  private current: IngestState = { state: 'stopped', attempt: 0 };
  private child: ChildProcess | undefined;
  private childExit: Promise<void> | undefined;
  private probeChild: ChildProcess | undefined;
  private probeExit: Promise<void> | undefined;
  private launching: Promise<void> | undefined;
  private attemptError: string | undefined;
  private timers = new Set<ReturnType<typeof setTimeout>>();
  private startTimer: ReturnType<typeof setTimeout> | undefined;
  private stallTimer: ReturnType<typeof setTimeout> | undefined;
  private output: ChildOutput | undefined;
  /** Pictures the hub's reader received and wrote in its current attempt (the start time-out looks). */
  private ownCounts = { units: 0, pictures: 0 };
  /** Ends the hub's own reader's DESCRIBE (stop(), the start time-out), as killing the probe ends ffprobe. */
  private asking: AbortController | undefined;
  /** Why this camera is read by ffmpeg after the hub's own reader tried it; kept until stop(). */
  private ownReaderRefused: string | undefined;
  /** The hub's own RTSP reader of this attempt, when it reads the camera instead of ffmpeg. */
  private reader: RtspVideoReader | undefined;
  private paced = false;

  constructor(private readonly options: CameraIngestOptions) {
    super();
    this.timing = { ...INGEST_DEFAULTS.timing, ...options.timing };
    this.args = { ...INGEST_DEFAULTS.args, ...options.args };
    this.source = options.source;
    const src = options.source;
    this.label = options.label ?? (src.kind === 'rtsp' ? urlWithoutCredentials(src.url) : src.kind === 'fmp4' ? 'the hub\'s stream' : 'test pattern');
    const t = this.timing;
    for (const [k, v] of Object.entries(t)) {
      if (k === 'backoffMs') continue;
      if (typeof v !== 'number' || !(v > 0)) throw new IngestError('bad-options', `timing.${k} must be > 0`);
    }
    if (t.clockWindowMs < t.stallTimeoutMs) {
      // Shorter, a pause between fragments that does not stall could look like a stuck clock.
      throw new IngestError('bad-options', 'timing.clockWindowMs must be >= timing.stallTimeoutMs');
    }
    if (t.backoffMs.length === 0 || t.backoffMs.some((ms) => !(ms >= 0) || !Number.isFinite(ms))) {
      throw new IngestError('bad-options', 'timing.backoffMs needs at least one finite step >= 0');
    }
    if (options.source.kind === 'rtsp') {
      this.inputUrl = withCredentials(options.source.url, options.source.username, options.source.password);
      if (!/^rtsps?:\/\//i.test(this.inputUrl)) throw new IngestError('bad-options', `not an rtsp:// URL: ${urlWithoutCredentials(options.source.url)}`);
      this.redactor = Redactor.forUrl(this.inputUrl, options.source.password ? [options.source.password] : []);
    } else if (options.source.kind === 'fmp4') {
      if (typeof options.source.input?.subscribe !== 'function') throw new IngestError('bad-options', 'an fmp4 source needs an input to subscribe to');
      if (options.video !== 'h264') throw new IngestError('bad-options', 'an fmp4 source is only transcoded (video: \'h264\')');
      this.inputUrl = '';
      this.redactor = new Redactor([]);
    } else {
      const size = options.source.size ?? '640x360';
      const fps = options.source.fps ?? 15;
      if (!/^\d{2,5}x\d{2,5}$/.test(size)) throw new IngestError('bad-options', `size must look like 640x360, got ${size}`);
      if (!Number.isInteger(fps) || fps < 1 || fps > 120) throw new IngestError('bad-options', `fps must be 1..120, got ${fps}`);
      this.inputUrl = '';
      this.redactor = new Redactor([]);
    }
    this.fragmentMs = options.fragmentMs ?? DEFAULT_FRAGMENT_MS;
    if (!isFragmentMs(this.fragmentMs)) {
      throw new IngestError('bad-options', `fragmentMs must be an integer 0..${MAX_FRAGMENT_MS}, got ${String(options.fragmentMs)}`);
    }
    if (options.video !== undefined && options.video !== 'copy' && options.video !== 'h264') throw new IngestError('bad-options', `video must be 'copy' or 'h264'`);
    if (options.video === 'h264' && options.source.kind === 'test-pattern') throw new IngestError('bad-options', 'the test pattern is H.264 already: it is not transcoded');
    this.stderr = new StderrRing(this.redactor, INGEST_DEFAULTS.stderrLines, INGEST_DEFAULTS.stderrBytes);
    if (typeof options.ffmpeg === 'string') this.ffmpeg = { tool: 'ffmpeg', path: options.ffmpeg, version: 'unknown', source: 'env', skipped: [] };
    else this.ffmpeg = options.ffmpeg;
    this.ffprobePath = options.ffprobe;
  }

  get state(): IngestState {
    return { ...this.current };
  }

  /** The last stderr lines of ffmpeg (redacted), for diagnostics. */
  stderrText(): string {
    return this.stderr.text();
  }

  /**
   * Paced: ffmpeg's output is read with every other paced ingest's every PACE_MS
   * (native/child-output.ts), for a stream nobody needs at once; not paced (the default): as it
   * comes. Holds across restarts.
   */
  pace(on: boolean): void {
    this.paced = on;
    this.output?.pace(on);
    this.reader?.pace(on);
  }

  /** Start (or restart after 'failed'). No-op while running. */
  start(): void {
    if (this.running) return;
    this.running = true;
    this.attempt = 0;
    this.ownReaderRefused = undefined; // the camera's settings may have changed since
    this.relaunch();
  }

  /** Stop and wait until no process of ours is left. Idempotent. */
  async stop(): Promise<void> {
    const wasRunning = this.running;
    this.running = false;
    this.generation++;
    this.clearTimers();
    this.probeChild?.kill('SIGKILL');
    this.asking?.abort();
    // An attempt of the hub's reader may be in SETUP or PLAY (up to their time-outs): end it now.
    void this.closeReader();
    // An attempt may be between awaits (resolving ffmpeg runs `ffmpeg -version`): let it see the
    // new generation and return before we look for processes to kill.
    await this.launching;
    this.probeChild?.kill('SIGKILL');
    await Promise.all([this.killChild(), this.probeExit]);
    if (wasRunning || this.current.state !== 'stopped') this.setState({ state: 'stopped', attempt: this.attempt });
  }

  // -------------------------------------------------------------------------------------------

  private relaunch(): void {
    const p = this.launch();
    this.launching = p;
    void p.finally(() => {
      if (this.launching === p) this.launching = undefined;
    });
  }

  private async launch(): Promise<void> {
    const gen = ++this.generation;
    this.attempt++;
    this.attemptError = undefined;
    this.stderr.clear();
    this.setState({ state: 'starting', attempt: this.attempt });
    this.startTimer = this.timer(this.timing.startTimeoutMs, () => {
      this.attemptError = `no video from ${this.label} within ${this.timing.startTimeoutMs / 1000} s${this.stderrHint()}`;
      if (this.reader !== undefined && this.ownCounts.units > 0 && this.ownCounts.pictures === 0) {
        // Pictures came, none the writer could start with (no IDR, e.g. a camera that refreshes
        // by slices; parameter sets that never come): ffmpeg from the next attempt on.
        this.ownReaderRefused = 'the hub\'s reader found no picture to start with (no keyframe or parameter sets)';
        this.attemptError = `no picture to start with from ${this.label} within ${this.timing.startTimeoutMs / 1000} s; ffmpeg reads it from now on`;
      }
      this.probeChild?.kill('SIGKILL');
      this.asking?.abort();
      void this.killChild();
      // If the attempt was still probing or asking the camera, there is no child or reader whose
      // end would move us on.
      if (!this.child && !this.reader) this.afterAttempt(gen, this.attemptError);
    });

    if (this.wantsOwnReader()) {
      const handled = await this.launchOwnReader(gen);
      if (handled || gen !== this.generation) return;
    }

    let args: string[];
    try {
      this.ffmpeg ??= await defaultFfmpeg();
      if (gen !== this.generation) return;
      args = await this.buildArgs(gen);
    } catch (err) {
      if (gen !== this.generation) return;
      if (err instanceof FfmpegMissingError) {
        this.fail(err.message);
        return;
      }
      this.afterAttempt(gen, this.redactor.redact((err as Error).message));
      return;
    }
    if (gen !== this.generation) return;

    const input = this.source.kind === 'fmp4' ? this.source.input : undefined;
    const output = await openChildOutput({ stdin: input ? 'pipe' : 'ignore' });
    if (gen !== this.generation) {
      output.close();
      return;
    }
    let child: ChildProcess;
    try {
      child = spawn(this.ffmpeg.path, args, { stdio: output.stdio, windowsHide: true });
    } catch (err) {
      output.close();
      this.afterAttempt(gen, `cannot run ffmpeg: ${(err as Error).message}`);
      return;
    }
    this.child = child;
    this.childExit = new Promise((resolve) => child.once('close', () => resolve()));
    child.once('error', (err) => {
      this.attemptError ??= `cannot run ffmpeg (${this.ffmpeg?.path ?? '?'}): ${err.message}`;
    });
    // A pipe error ends in 'close' like everything else; unhandled it would crash the hub.
    child.stderr?.on('error', () => undefined);
    child.stderr?.setEncoding('utf8');
    child.stderr?.on('data', (d: string) => this.stderr.push(d));
    const stage = this.stage(gen, 'ffmpeg', (why) => {
      this.attemptError ??= why;
      void this.killChild();
    });
    output.attach(child, (chunk) => stage.push(chunk));
    this.output = output;
    output.pace(this.paced);
    child.once('close', (code, signal) => {
      if (this.child === child) this.child = undefined;
      if (this.output === output) this.output = undefined;
      if (gen !== this.generation) return;
      const why = this.attemptError ?? this.exitMessage(code, signal);
      this.afterAttempt(gen, why);
    });
    if (input !== undefined) this.feedStdin(gen, child, input);
  }

  /**
   * The hub's own reader (native/rtsp-client.ts, native/fmp4-writer.ts) instead of ffmpeg: for an
   * RTSP camera whose video is copied at one frame per fragment. It hands each frame on when its
   * last packet arrives (ffmpeg holds two), and costs the hub one wake-up per frame instead of
   * ffmpeg's work plus that wake-up (docs/PERFORMANCE.md, "The hub's own RTSP reader").
   */
  private wantsOwnReader(): boolean {
    return this.source.kind === 'rtsp' && /^rtsp:\/\//i.test(this.inputUrl) && this.options.video !== 'h264' && this.fragmentMs === 0 &&
      (this.options.reader ?? 'auto') === 'auto' && this.ownReaderRefused === undefined;
  }

  /**
   * One attempt with the hub's own reader. False when the camera needs ffmpeg after all (video it
   * does not read, or audio to keep): the attempt then goes on with ffmpeg. True when the attempt
   * is under way or over (its end moves the supervisor on, as ffmpeg's exit does).
   */
  private async launchOwnReader(gen: number): Promise<boolean> {
    const src = this.source as Extract<IngestSource, { kind: 'rtsp' }>;
    let writer: Fmp4Writer | undefined;
    let reader: RtspVideoReader | undefined;
    const end = (why: string): void => {
      this.attemptError ??= why;
      void this.closeReader();
    };
    const stage = this.stage(gen, 'the hub\'s RTSP reader', end);
    let lastTime: number | undefined;
    const counts = { units: 0, pictures: 0 }; // of this attempt
    this.ownCounts = counts;
    const onAccessUnit = (au: AccessUnit): void => {
      if (gen !== this.generation || writer === undefined) return;
      counts.units++;
      // RTP carries presentation times. A camera that sends B-frames sends them out of order, which
      // the writer cannot express (it writes decode order without composition offsets): ffmpeg
      // reads such a camera from the next attempt on. A clock that steps back further is the
      // writer's to clamp and the media clock watch's to notice, as with ffmpeg.
      if (lastTime !== undefined && au.time < lastTime && lastTime - au.time < REORDER_WINDOW_TICKS) {
        this.ownReaderRefused = 'its frames come out of order (B-frames)';
        end(`${this.label} sends frames out of order (B-frames): ffmpeg reads it from now on`);
        return;
      }
      lastTime = au.time;
      let segments: Fmp4Segment[];
      try {
        segments = writer.push(au);
      } catch (err) {
        const code = err instanceof H26xError ? err.code : 'error';
        this.ownReaderRefused = `its video cannot be written as MP4 by the hub (${code})`;
        end(`the video from ${this.label} cannot be written as MP4 (${code}): ${(err as Error).message}; ffmpeg reads it from now on`);
        return;
      }
      if (segments.length > 0) counts.pictures++;
      stage.segments(segments);
    };
    const onClose = (err?: RtspError): void => {
      if (reader === undefined || this.reader !== reader) return;
      this.reader = undefined;
      // The camera answers in a way the hub's reader does not follow (SETUP or PLAY refused, an
      // answer it cannot parse) before any picture came: ffmpeg may, from the next attempt on.
      if (err !== undefined && counts.pictures === 0 && FFMPEG_MAY_READ.has(err.code)) this.ownReaderRefused = `the hub's reader failed on it (${err.code})`;
      this.afterAttempt(gen, this.attemptError ?? (err ? err.message : `${this.label} closed the connection`));
    };
    const asking = new AbortController();
    this.asking = asking;
    try {
      reader = await RtspVideoReader.describe({
        url: this.inputUrl, timeoutMs: this.timing.probeTimeoutMs, signal: asking.signal, maxAccessUnitBytes: MAX_PICTURE_BYTES, onAccessUnit, onClose,
      });
    } catch (err) {
      if (gen !== this.generation) return true;
      if (err instanceof RtspError && FFMPEG_MAY_READ.has(err.code)) {
        // Not an answer the hub's reader follows: ffmpeg asks the camera in this same attempt.
        this.ownReaderRefused = `the hub's reader failed on it (${err.code})`;
        return false;
      }
      this.afterAttempt(gen, this.redactor.redact(`cannot open ${this.label}: ${(err as Error).message}`));
      return true;
    } finally {
      if (this.asking === asking) this.asking = undefined;
    }
    if (gen !== this.generation) {
      await reader.close();
      return true;
    }
    const keepsAudio = reader.info.audio !== undefined && (src.audio ?? 'auto') !== 'none';
    if (reader.codec === undefined || keepsAudio) {
      // ffmpeg reads this camera: it asks the camera again, a few milliseconds.
      await reader.close();
      return false;
    }
    // The first frame's duration, until two frames give the interval: the SDP's frame rate, else
    // 10 fps. Media Source takes a step of more than twice the last duration for a gap and drops
    // frames to the next keyframe, so a guess too short for a slow camera costs a GOP; one too long
    // only overlaps the next frame, which starts at its own time.
    const framerate = reader.info.video?.framerate;
    const defaultFrameTicks = framerate !== undefined && framerate >= 1 && framerate <= 240 ? Math.round(90_000 / framerate) : 9_000;
    try {
      writer = new Fmp4Writer({ codec: reader.codec, parameterSets: reader.info.video?.parameterSets ?? [], defaultFrameTicks, maxFrameBytes: MAX_FRAME_BYTES });
    } catch {
      // The SDP's parameter sets do not parse: cameras repeat them in the stream before keyframes.
      writer = new Fmp4Writer({ codec: reader.codec, defaultFrameTicks, maxFrameBytes: MAX_FRAME_BYTES });
    }
    this.reader = reader;
    reader.pace(this.paced);
    try {
      await reader.play();
    } catch (err) {
      if (this.reader === reader) {
        this.reader = undefined;
        await reader.close();
        if (gen === this.generation) this.afterAttempt(gen, this.redactor.redact(`cannot play ${this.label}: ${(err as Error).message}`));
      }
    }
    return true;
  }

  /** Ends the reader's connection; its close moves the supervisor on. */
  private async closeReader(): Promise<void> {
    await this.reader?.close();
  }

  /** What turns this attempt's fragmented MP4 into init and fragment events. */
  private stage(gen: number, producer: string, end: (why: string) => void): IngestStage {
    const stageOptions: ConstructorParameters<typeof IngestStage>[1] = { clockWindowMs: this.timing.clockWindowMs, producer, label: this.label };
    if (this.options.splitter !== undefined) stageOptions.splitter = this.options.splitter;
    return new IngestStage(
      {
        current: () => gen === this.generation,
        init: (init) => this.emit('init', init),
        alive: () => this.onFragment(gen),
        fragment: (fragment) => this.emit('fragment', fragment),
        end,
      },
      stageOptions,
    );
  }

  /** Writes an `fmp4` source into ffmpeg's stdin for as long as this attempt's ffmpeg runs. */
  private feedStdin(gen: number, child: ChildProcess, input: Fmp4Input): void {
    const stdin = child.stdin;
    if (stdin === null) return;
    // EPIPE once ffmpeg is gone: its 'close' moves the supervisor on.
    stdin.on('error', () => undefined);
    let inited = false;
    let decodable = false; // a fragment can be decoded only after a keyframe
    const unsubscribe = input.subscribe({
      init: (data) => {
        if (gen !== this.generation) return;
        if (inited) {
          // ffmpeg cannot take a second init segment mid-stream: start a new one on the new stream.
          this.restartForNewInput(gen);
          return;
        }
        inited = true;
        stdin.write(data);
      },
      fragment: (data, keyframe) => {
        if (gen !== this.generation || !inited) return;
        if (keyframe) decodable = stdin.writableLength + data.length <= MAX_STDIN_BACKLOG_BYTES;
        else if (decodable && stdin.writableLength + data.length > MAX_STDIN_BACKLOG_BYTES) decodable = false;
        if (decodable) stdin.write(data);
      },
    });
    child.once('close', unsubscribe);
  }

  /** The input started over (the camera's own ingest restarted): a fresh ffmpeg, no failure. */
  private restartForNewInput(gen: number): void {
    if (gen !== this.generation || !this.running) return;
    this.generation++; // late events of the old ffmpeg are ignored from here on
    this.clearTimers();
    const next = this.generation;
    void this.killChild().then(() => {
      if (next !== this.generation || !this.running) return;
      this.attempt = 0;
      this.relaunch();
    });
  }

  private onFragment(gen: number): void {
    if (this.startTimer) {
      this.clearTimer(this.startTimer);
      this.startTimer = undefined;
    }
    if (this.current.state !== 'live') {
      this.setState({ state: 'live', attempt: this.attempt, reader: this.reader ? 'hub' : 'ffmpeg' });
      this.timer(this.timing.stableAfterMs, () => {
        this.attempt = 0; // the next failure starts the backoff from its first step again
      });
    }
    // Once per frame: re-arm the stall timer in place (Timeout#refresh), not a new timer per fragment.
    if (this.stallTimer !== undefined && this.timers.has(this.stallTimer)) {
      this.stallTimer.refresh();
      return;
    }
    this.stallTimer = this.timer(this.timing.stallTimeoutMs, () => {
      if (gen !== this.generation) return;
      this.attemptError = `no video from ${this.label} for ${this.timing.stallTimeoutMs / 1000} s${this.stderrHint()}`;
      this.setState({ state: 'stalled', error: this.attemptError, attempt: this.attempt });
      void this.killChild();
    });
  }

  /** An attempt ended (process exited, probe failed or start timed out): back off or give up. */
  private afterAttempt(gen: number, error: string): void {
    if (gen !== this.generation || !this.running) return;
    this.generation++; // late events of this attempt are ignored from here on
    this.clearTimers();
    const safe = this.redactor.redact(error);
    if (isPermanent(safe)) {
      this.fail(safe);
      return;
    }
    if (this.attempt >= this.timing.maxAttempts) {
      this.fail(`${safe} (gave up after ${this.attempt} attempts)`);
      return;
    }
    const steps = this.timing.backoffMs;
    const delay = steps[Math.min(Math.max(this.attempt - 1, 0), steps.length - 1)] ?? 0;
    this.setState({ state: 'backoff', error: safe, attempt: this.attempt, retryInMs: delay });
    const next = this.generation;
    this.timer(delay, () => {
      if (next === this.generation && this.running) this.relaunch();
    });
  }

  private fail(error: string): void {
    this.running = false;
    this.generation++;
    this.clearTimers();
    void this.killChild();
    this.setState({ state: 'failed', error: this.redactor.redact(error), attempt: this.attempt });
  }

  private async buildArgs(gen: number): Promise<string[]> {
    const a = this.args;
    const src = this.source;
    if (src.kind === 'test-pattern') {
      const fps = src.fps ?? 15;
      const vars = { size: src.size ?? '640x360', fps: String(fps), gop: String(2 * fps), fragmentUs: fragmentDurationUs(this.fragmentMs) };
      return [
        ...fill(a.global, vars), ...fill(a.testPatternInput, vars), ...fill(a.mapVideo, vars),
        ...fill(a.testPatternVideo, vars), ...fill(a.noAudio, vars), ...fill(a.output, vars),
      ];
    }
    const vars = { url: this.inputUrl, fragmentUs: fragmentDurationUs(this.fragmentMs) };
    if (src.kind === 'fmp4') {
      // The hub's own stream: its audio, if any, is AAC already.
      return [
        ...fill(a.global, vars), ...fill(a.fmp4Input, vars), ...fill(a.mapVideo, vars), ...fill(a.mapAudioIfAny, vars),
        ...fill(a.videoH264, vars), ...fill(a.audioCopy, vars), ...fill(a.output, vars),
      ];
    }
    const mode = src.audio ?? 'auto';
    const probe = await this.probe(gen);
    if (!probe.video) throw new Error(`${this.label} offers no video stream`);
    const out = [...fill(a.global, vars), ...fill(a.rtspInput, vars), ...fill(a.mapVideo, vars)];
    const wantAudio = mode !== 'none' && probe.audio !== undefined;
    if (wantAudio) out.push(...fill(a.mapAudio, vars));
    if (this.options.video === 'h264') out.push(...fill(a.videoH264, vars));
    else {
      out.push(...fill(a.videoCopy, vars));
      if (probe.video === 'hevc') out.push(...fill(a.hevcTag, vars));
    }
    if (!wantAudio) out.push(...fill(a.noAudio, vars));
    else if (mode === 'copy' || (mode === 'auto' && MP4_AUDIO.has(probe.audio ?? ''))) out.push(...fill(a.audioCopy, vars));
    else out.push(...fill(a.audioTranscode, vars));
    out.push(...fill(a.output, vars));
    return out;
  }

  /**
   * Which codecs the camera sends, from its SDP (analyzeduration 0: no waiting for a keyframe; about
   * 0.5 s here). Done before each attempt because ffmpeg must be told up front whether to copy or
   * transcode the audio, and a camera's settings may change between reconnects.
   */
  private async probe(gen: number): Promise<ProbeResult> {
    if (this.ffprobePath === undefined) {
      try {
        this.ffprobePath = (await resolveFfprobe(this.ffmpeg)).path;
      } catch {
        this.ffprobePath = null; // the npm ffmpeg comes without ffprobe: ffmpeg can probe too
      }
    }
    if (gen !== this.generation) return {};
    const useFfprobe = this.ffprobePath !== null;
    const file = useFfprobe ? this.ffprobePath! : this.ffmpeg!.path;
    const args = fill(useFfprobe ? this.args.ffprobe : this.args.ffmpegProbe, { url: this.inputUrl });
    const { code, stdout, stderr } = await this.runProbe(file, args);
    if (gen !== this.generation) return {};
    const ring = new StderrRing(this.redactor, 10, 2048);
    ring.push(stderr);
    const tail = ring.tail(3).join(' | ');
    if (useFfprobe) {
      if (code !== 0) throw new Error(`cannot open ${this.label}: ${tail || `ffprobe exited with code ${code}`}`);
      let streams: Array<{ codec_type?: string; codec_name?: string }> = [];
      try {
        streams = (JSON.parse(stdout) as { streams?: typeof streams }).streams ?? [];
      } catch {
        throw new Error(`ffprobe printed no stream list for ${this.label}`);
      }
      const result: ProbeResult = {};
      const v = streams.find((s) => s.codec_type === 'video')?.codec_name;
      const au = streams.find((s) => s.codec_type === 'audio')?.codec_name;
      if (v) result.video = v;
      if (au) result.audio = au;
      return result;
    }
    // ffmpeg without an output exits with 1 even when the input opened; the Stream lines tell.
    const result: ProbeResult = {};
    for (const m of stderr.matchAll(/Stream #\d+:\d+[^:]*: (Video|Audio): ([a-z0-9_]+)/g)) {
      if (m[1] === 'Video') result.video ??= m[2];
      else result.audio ??= m[2];
    }
    if (!result.video && !result.audio) throw new Error(`cannot open ${this.label}: ${tail}`);
    return result;
  }

  private runProbe(file: string, args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
    return new Promise((resolve) => {
      const child = spawn(file, args, { stdio: ['ignore', 'pipe', 'pipe'], windowsHide: true });
      this.probeChild = child;
      this.probeExit = new Promise((done) => child.once('close', () => done()));
      let stdout = '';
      let stderr = '';
      const cap = 64 * 1024;
      child.stdout?.setEncoding('utf8');
      child.stderr?.setEncoding('utf8');
      child.stdout?.on('data', (d: string) => {
        if (stdout.length < cap) stdout += d;
      });
      child.stderr?.on('data', (d: string) => {
        stderr = (stderr + d).slice(-cap);
      });
      const t = this.timer(this.timing.probeTimeoutMs, () => {
        stderr += `\nno answer within ${this.timing.probeTimeoutMs / 1000} s`;
        child.kill('SIGKILL');
      });
      child.once('error', (err) => {
        stderr += `\n${err.message}`;
      });
      child.once('close', (code) => {
        this.clearTimer(t);
        if (this.probeChild === child) this.probeChild = undefined;
        resolve({ code, stdout, stderr });
      });
    });
  }

  /**
   * Ends the attempt's process or reader: SIGTERM, then SIGKILL after killTimeoutMs; resolves when
   * the process is gone and the reader closed.
   */
  private async killChild(): Promise<void> {
    await this.closeReader();
    const child = this.child;
    const exited = this.childExit;
    if (!child || !exited) return;
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      const t = setTimeout(() => child.kill('SIGKILL'), this.timing.killTimeoutMs);
      await exited;
      clearTimeout(t);
    } else {
      await exited;
    }
    if (this.child === child) this.child = undefined;
  }

  private exitMessage(code: number | null, signal: NodeJS.Signals | null): string {
    const how = signal ? `was killed by ${signal}` : `exited with code ${code}`;
    return `ffmpeg ${how} for ${this.label}${this.stderrHint()}`;
  }

  private stderrHint(): string {
    const tail = this.stderr.tail(3);
    return tail.length ? `: ${tail.join(' | ')}` : '';
  }

  private setState(s: IngestState): void {
    const safe: IngestState = { ...s };
    if (safe.error !== undefined) safe.error = this.redactor.redact(safe.error);
    this.current = safe;
    this.emit('state', { ...safe });
  }

  private timer(ms: number, fn: () => void): ReturnType<typeof setTimeout> {
    const t = setTimeout(() => {
      this.timers.delete(t);
      fn();
    }, ms);
    this.timers.add(t);
    return t;
  }

  private clearTimer(t: ReturnType<typeof setTimeout>): void {
    clearTimeout(t);
    this.timers.delete(t);
  }

  private clearTimers(): void {
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    this.startTimer = this.stallTimer = undefined;
  }
}

/**
 * Failures a retry cannot fix. A wrong password in particular: many cameras lock the account after a
 * few failed logins, so hammering them with retries would lock the owner out.
 */
function isPermanent(message: string): boolean {
  return /\b401\b|Unauthorized|authorization failed|\b403\b|Forbidden/i.test(message);
}

/**
 * The hub's reader's failures after which ffmpeg gets the camera: answers it does not follow. Not
 * the camera being unreachable, silent, or refusing the password: ffmpeg would fare no better.
 */
const FFMPEG_MAY_READ: ReadonlySet<RtspErrorCode> = new Set(['protocol', 'status', 'sdp', 'unsupported', 'state', 'too-large']);

/**
 * The largest picture the hub's reader takes (larger ones are counted and dropped), and what the
 * writer may make of it (4 bytes more per NAL unit, at most 4,096 of them): both under the
 * splitter's 16 MiB box limit, so a picture the reader takes never ends the attempt downstream.
 */
const MAX_PICTURE_BYTES = 15 * 1024 * 1024;
const MAX_FRAME_BYTES = MAX_PICTURE_BYTES + 64 * 1024;

/** A frame that comes this little before the one before it was reordered (B-frames), not a clock step: 1 s at 90 kHz. */
const REORDER_WINDOW_TICKS = 90_000;

function fill(template: readonly string[], vars: Record<string, string>): string[] {
  return template.map((arg) => arg.replace(/\{([a-zA-Z]+)\}/g, (m, name: string) => vars[name] ?? m));
}

function withCredentials(url: string, username?: string, password?: string): string {
  if (username === undefined && password === undefined) return url;
  try {
    const u = new URL(url);
    if (username !== undefined) u.username = encodeURIComponent(username);
    if (password !== undefined) u.password = encodeURIComponent(password);
    return u.toString();
  } catch {
    return url;
  }
}
