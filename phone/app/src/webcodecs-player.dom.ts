// Live playback through WebCodecs: each decrypted fMP4 fragment is taken apart (fmp4-demux.ts) into
// coded pictures, a VideoDecoder decodes them, and the newest decoded frame that is due is drawn on a
// canvas. No Media Source buffer sits between the network and the screen, so nothing is held that
// the player did not decide to hold:
//
//   the cached GOP    the hub sends it as a burst when watching starts; the decoder runs through it
//                     as fast as it can, nothing of it is drawn until the burst is decoded, then its
//                     newest frame is (START_QUIET_MS/START_WAIT_MS, as the MSE player);
//   from then on      a frame is due when its fragment arrived plus how far into the fragment it
//                     lies (its presentation time less the fragment's first); at each animation
//                     frame the newest due frame is drawn and every older one closed unseen. A
//                     one-frame fragment (`--fragment-ms 0`) is due as it lands: no cushion at all,
//                     a late fragment shows late and the next one on time; the frames of a 300 ms
//                     fragment are spread over the 300 ms after it lands, as they were captured.
//                     (Pacing by LiveEdge, phone/core/live-edge.ts, as the MSE player does, held
//                     frames back by the jitter it learnt: docs/PERFORMANCE.md "Glass to glass".)
//   bounded           at most MAX_HELD decoded frames wait (the oldest is closed unseen), at most
//                     MAX_DECODE_QUEUE pictures wait in the decoder: past that the decoder is reset
//                     and the stream picks up at the next keyframe (FragmentOrder.resync).
//
// Video only: a camera's sound plays through the MSE player (main.dom.ts switches to it on Unmute).
// The decoder is configured from the init segment's avcC/hvcC; if the browser refuses that
// configuration, hooks.onUnsupported lets the page fall back to the MSE player. A decoder error
// rebuilds the decoder and asks the hub for the init segment and GOP again (backoff 0.5, 2, 5, 10 s).
import type { OpenedFrame } from '../../../crypto/frame.ts';
import { FragmentOrder } from '../../core/fragment-order.ts';
import { Fmp4DemuxError, videoSamples, videoTrack, type VideoTrack } from './fmp4-demux.ts';
import type { PlayerHooks, PlayerState } from './player.dom.ts';

export interface WebCodecsHooks extends PlayerHooks {
  /** The browser cannot decode this stream's configuration: play it another way. */
  onUnsupported(reason: string): void;
}

/** Decoded frames waiting to be due, at most (each pins a decoder buffer). */
const MAX_HELD = 8;
/** Coded pictures waiting in the decoder, at most: past it the decoder is behind, skip to a keyframe. */
const MAX_DECODE_QUEUE = 90;
/** Due times kept for pictures in the decoder, at most (a safety bound: outputs remove them). */
const MAX_DUE = 1024;
/** Fragments waiting while the decoder configuration is checked, at most. */
const MAX_WAITING = 240;
/** Start once nothing has been decoded for this long (ms): the cached GOP's burst is all in. */
const START_QUIET_MS = 25;
/** ...but never wait longer than this (ms) after the first decoded frame. */
const START_WAIT_MS = 150;
const RESTART_DELAYS_MS = [500, 2000, 5000, 10_000];

/**
 * The browser's answers, kept for the page's life: asking takes a round trip to the media process
 * (tens of ms on a busy phone) on every tap otherwise. Keyed by codec string and avcC/hvcC bytes.
 */
const answers = new Map<string, Promise<boolean>>();

function supported(config: VideoDecoderConfig, key: string): Promise<boolean> {
  const VD = (globalThis as { VideoDecoder?: typeof VideoDecoder }).VideoDecoder;
  if (VD === undefined || typeof VD.isConfigSupported !== 'function') return Promise.resolve(false);
  let answer = answers.get(key);
  if (answer === undefined) {
    // A codec string it cannot parse rejects: not supported either.
    answer = VD.isConfigSupported(config).then((s) => s.supported === true, () => false);
    answers.set(key, answer);
  }
  return answer;
}

/** Whether this browser has WebCodecs and says it decodes `codec` (an RFC 6381 string). */
export function webCodecsSupports(codec: string): Promise<boolean> {
  return supported({ codec, optimizeForLatency: true }, codec);
}

export class WebCodecsPlayer {
  readonly order = new FragmentOrder();
  /** Fragments given to the decoder. */
  appended = 0;
  /** Frames drawn on the canvas. */
  presented = 0;
  /** Frames decoded and closed without being drawn (older than a newer due frame, or over MAX_HELD). */
  skippedFrames = 0;
  /** Presentation time (µs) → when (performance.now() ms) the picture is due on screen. */
  readonly #due = new Map<number, number>();
  readonly #ctx: CanvasRenderingContext2D;
  #decoder: VideoDecoder | undefined;
  #track: VideoTrack | undefined;
  /** The decoder is configured and takes chunks; before that fragments wait in #waiting. */
  #ready = false;
  #waiting: Uint8Array[] = [];
  #held: VideoFrame[] = [];
  /** Presentation time (µs) of the frame on the canvas. */
  #shown = -Infinity;
  /** The newest media end received, seconds. */
  #newestEnd = 0;
  #started = false;
  #firstOutputAt: number | undefined;
  #lastOutputAt = 0;
  #raf: number | undefined;
  #closed = false;
  #restarts = 0;
  #state: PlayerState | undefined;
  #lossMark = -1;
  /** Bumped on every rebuild: callbacks of an older decoder do nothing. */
  #generation = 0;

  constructor(
    private readonly canvas: HTMLCanvasElement,
    private readonly hooks: WebCodecsHooks,
  ) {
    const ctx = canvas.getContext('2d', { alpha: false });
    if (ctx === null) throw new Error('no 2D canvas');
    this.#ctx = ctx;
    this.#setState('waiting', 'Waiting for video from the hub…');
  }

  /** Seconds between the newest media received and the frame on screen (for the liveness badge). */
  get heldBack(): number {
    return this.#started ? Math.max(0, this.#newestEnd - this.#shown / 1e6) : 0;
  }

  /** An authenticated frame of this camera. `lossMark` rises when any fragment was lost upstream. */
  push(frame: OpenedFrame, lossMark: number): void {
    if (this.#closed) return;
    if (this.#lossMark >= 0 && lossMark !== this.#lossMark) this.order.resync();
    this.#lossMark = lossMark;
    const decision = this.order.accept(frame);
    if (decision === 'skip') return;
    if (decision === 'init') {
      this.#configure(frame.payload);
      return;
    }
    if (!this.#ready) {
      if (this.#waiting.length >= MAX_WAITING) {
        this.#waiting = [];
        this.order.resync();
        return;
      }
      this.#waiting.push(frame.payload);
      return;
    }
    this.#decode(frame.payload);
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#teardown();
  }

  #configure(init: Uint8Array): void {
    let track: VideoTrack;
    try {
      track = videoTrack(init);
    } catch (e) {
      this.#fail(`the camera's init segment cannot be read (${e instanceof Error ? e.message : String(e)})`);
      return;
    }
    this.#teardown();
    const generation = ++this.#generation;
    this.#track = track;
    const config: VideoDecoderConfig = {
      codec: track.codec,
      description: track.description as Uint8Array<ArrayBuffer>,
      codedWidth: track.width,
      codedHeight: track.height,
      optimizeForLatency: true,
    };
    const key = `${track.codec} ${Array.from(track.description, (b) => b.toString(16).padStart(2, '0')).join('')}`;
    supported(config, key).then((ok) => {
      if (generation !== this.#generation || this.#closed) return;
      if (!ok) {
        this.#unsupported(`this browser's WebCodecs cannot decode ${track.codec}`);
        return;
      }
      const decoder = new VideoDecoder({
        output: (f) => this.#onOutput(f, generation),
        error: (e) => {
          if (generation !== this.#generation) return;
          if (e.name === 'NotSupportedError') this.#unsupported(`the decoder refused ${track.codec} (${e.message})`);
          else this.#fail(`the video decoder failed (${e.message})`);
        },
      });
      decoder.configure(config);
      this.#decoder = decoder;
      this.#ready = true;
      const waiting = this.#waiting;
      this.#waiting = [];
      for (const w of waiting) this.#decode(w);
    }).catch((e: unknown) => {
      // configure() throws on a configuration it cannot take.
      if (generation === this.#generation) this.#unsupported(`the decoder configuration was refused (${e instanceof Error ? e.message : String(e)})`);
    });
  }

  #decode(fragment: Uint8Array): void {
    const decoder = this.#decoder;
    const track = this.#track;
    if (decoder === undefined || track === undefined || decoder.state !== 'configured') return;
    let samples;
    try {
      samples = videoSamples(fragment, track);
    } catch (e) {
      if (!(e instanceof Fmp4DemuxError)) throw e;
      this.order.resync(); // a fragment the decoder cannot have: start again at a keyframe
      return;
    }
    if (samples.length === 0) return;
    if (decoder.decodeQueueSize + samples.length > MAX_DECODE_QUEUE) {
      // The decoder cannot keep up (a slow phone, a tab in the background): drop what it holds and
      // pick up at the next keyframe.
      this.#resetDecoder();
      if (!samples[0]!.key) return;
    }
    if (samples[0]!.timestamp / 1e6 < this.#newestEnd - 2.5) {
      // Time went back (a camera's new stream): nothing before counts.
      this.#newestEnd = 0;
      this.#shown = -Infinity;
    }
    const arrived = performance.now();
    const first = Math.min(...samples.map((s) => s.timestamp));
    if (this.#due.size + samples.length > MAX_DUE) this.#due.clear();
    let end = this.#newestEnd;
    for (const s of samples) {
      this.#due.set(s.timestamp, arrived + (s.timestamp - first) / 1000);
      decoder.decode(new EncodedVideoChunk({ type: s.key ? 'key' : 'delta', timestamp: s.timestamp, duration: s.duration, data: s.data }));
      end = Math.max(end, (s.timestamp + s.duration) / 1e6);
    }
    this.#newestEnd = end;
    this.appended++;
  }

  #resetDecoder(): void {
    const decoder = this.#decoder;
    if (decoder === undefined || this.#track === undefined) return;
    this.order.resync();
    for (const f of this.#held) f.close();
    this.skippedFrames += this.#held.length;
    this.#held = [];
    this.#due.clear();
    decoder.reset(); // drops queued chunks and pending outputs
    decoder.configure({ codec: this.#track.codec, description: this.#track.description as Uint8Array<ArrayBuffer>, optimizeForLatency: true });
  }

  #onOutput(frame: VideoFrame, generation: number): void {
    if (generation !== this.#generation || this.#closed || frame.timestamp <= this.#shown) {
      if (generation === this.#generation) this.#closeUnseen(frame);
      else frame.close();
      return;
    }
    const now = performance.now();
    // Due as the decoder hands it over if its due time was lost (never later than now).
    if (!this.#due.has(frame.timestamp)) this.#due.set(frame.timestamp, now);
    this.#firstOutputAt ??= now;
    this.#lastOutputAt = now;
    // Decoders output in presentation order; keep it sorted anyway (a few frames at most).
    let i = this.#held.length;
    while (i > 0 && this.#held[i - 1]!.timestamp > frame.timestamp) i--;
    this.#held.splice(i, 0, frame);
    while (this.#held.length > MAX_HELD) this.#closeUnseen(this.#held.shift()!);
    this.#schedule();
  }

  #schedule(): void {
    if (this.#raf === undefined && !this.#closed) this.#raf = requestAnimationFrame((t) => this.#paint(t));
  }

  #paint(frameTime: number): void {
    this.#raf = undefined;
    if (this.#closed || this.#held.length === 0) return;
    let pick: number;
    if (!this.#started) {
      // The cached GOP: wait until its burst is decoded, then show its newest frame.
      const now = performance.now();
      const busy = (this.#decoder?.decodeQueueSize ?? 0) > 0 || now - this.#lastOutputAt < START_QUIET_MS;
      if (busy && now - (this.#firstOutputAt ?? now) < START_WAIT_MS) {
        this.#schedule();
        return;
      }
      pick = this.#held.length - 1;
      this.#started = true;
    } else {
      const now = performance.now();
      pick = -1;
      for (let i = 0; i < this.#held.length; i++) if (this.#due.get(this.#held[i]!.timestamp)! <= now) pick = i;
      if (pick < 0) {
        this.#schedule(); // nothing due yet: look again next animation frame
        return;
      }
    }
    for (let i = 0; i < pick; i++) this.#closeUnseen(this.#held[i]!);
    const frame = this.#held[pick]!;
    this.#held = this.#held.slice(pick + 1);
    this.#draw(frame, frameTime);
    if (this.#held.length > 0) this.#schedule();
  }

  #draw(frame: VideoFrame, frameTime: number): void {
    const w = frame.displayWidth;
    const h = frame.displayHeight;
    if (this.canvas.width !== w || this.canvas.height !== h) {
      this.canvas.width = w;
      this.canvas.height = h;
    }
    this.#ctx.drawImage(frame, 0, 0, w, h);
    this.#shown = frame.timestamp;
    this.#due.delete(frame.timestamp);
    frame.close();
    this.presented++;
    if (this.presented === 1) {
      this.#restarts = 0;
      this.#setState('playing', 'Live');
      this.hooks.onFirstFrame?.();
    }
    // For measurements (bench/lib/glass-page.ts): which animation frame put this picture up.
    this.canvas.dispatchEvent(new CustomEvent('present', { detail: { frameTime, timestamp: this.#shown } }));
  }

  #closeUnseen(frame: VideoFrame): void {
    this.#due.delete(frame.timestamp);
    frame.close();
    this.skippedFrames++;
  }

  /** Everything of the current decoder closed: held frames, the decoder, the animation frame. */
  #teardown(): void {
    this.#generation++;
    if (this.#raf !== undefined) cancelAnimationFrame(this.#raf);
    this.#raf = undefined;
    for (const f of this.#held) f.close();
    this.#held = [];
    this.#waiting = [];
    this.#ready = false;
    if (this.#decoder !== undefined && this.#decoder.state !== 'closed') this.#decoder.close();
    this.#decoder = undefined;
    this.#track = undefined;
    this.#started = false;
    this.#firstOutputAt = undefined;
    this.#shown = -Infinity;
    this.#newestEnd = 0;
    this.#due.clear();
  }

  #unsupported(reason: string): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#teardown();
    this.hooks.onUnsupported(reason);
  }

  #fail(detail: string): void {
    if (this.#closed) return;
    this.#setState('error', `Video stopped: ${detail}. Restarting…`);
    this.#teardown();
    this.order.reset();
    this.presented = 0;
    const delay = RESTART_DELAYS_MS[Math.min(this.#restarts++, RESTART_DELAYS_MS.length - 1)]!;
    setTimeout(() => {
      if (this.#closed) return;
      this.hooks.onRestartNeeded();
    }, delay);
  }

  #setState(state: PlayerState, detail: string): void {
    if (this.#state === state) return;
    this.#state = state;
    this.hooks.onState(state, detail);
  }
}
