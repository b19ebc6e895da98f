// A live tile: plays the hub's fMP4 fragments with Media Source Extensions. It shows the newest
// frame (a tile is a monitor, not a player): it starts at the newest frame of the hub's cached GOP,
// then LiveEdge keeps the play head a learnt cushion behind the newest media, playing up to 1.5x
// when behind and seeking when far behind. It trims what it has shown, and says plainly when the
// browser cannot play the camera's codec (H.265 in chromium, for one).
import type { HubBridge, LiveHandle } from './bridge.ts';
import { LiveEdge, rangesOf } from '../phone/core/live-edge.ts';

/** How often the play head is steered (ms), besides after every append. */
const STEER_MS = 250;
/** Start once no video landed for this long (ms): the cached GOP's burst is in, show its newest frame. */
const START_QUIET_MS = 25;
/** ...but at most this long (ms) after the first video landed. */
const START_WAIT_MS = 150;
/** Keeps this much (s) behind the playhead; older media is removed. */
const KEEP_BEHIND_S = 8;
/** Queued bytes beyond this are dropped until the next init: a stalled decoder must not grow memory. */
const MAX_QUEUE_BYTES = 8 * 1024 * 1024;

export class LivePlayer {
  readonly video: HTMLVideoElement;
  #handle: LiveHandle | undefined;
  #ms: MediaSource | undefined;
  #sb: SourceBuffer | undefined;
  #objectUrl: string | undefined;
  #queue: Uint8Array[] = [];
  #queued = 0;
  #closed = false;
  #timer: ReturnType<typeof setInterval> | undefined;
  readonly #edge = new LiveEdge();
  /** Playing from near the newest media; until then nothing is shown (not the GOP's first frame). */
  #started = false;
  #startTimer: ReturnType<typeof setTimeout> | undefined;
  #firstVideoAt: number | undefined;

  constructor(
    private readonly bridge: HubBridge,
    private readonly cameraId: string,
    private readonly onProblem: (message: string | undefined) => void,
  ) {
    this.video = document.createElement('video');
    this.video.muted = true;
    // #start() seeks to the newest frame before anything plays (autoplay would show the oldest).
    this.video.autoplay = false;
    this.video.playsInline = true;
    this.video.disablePictureInPicture = true;
  }

  start(): void {
    this.#handle = this.bridge.openLive(this.cameraId, {
      onInit: (mime) => this.#reset(mime),
      onData: (chunk) => this.#enqueue(chunk),
      onEnd: (error) => {
        if (!this.#closed) this.onProblem(error ?? 'the live view ended');
      },
    });
    this.#timer = setInterval(() => this.#keepLive(), STEER_MS);
  }

  #reset(mime: string): void {
    this.#teardownMedia();
    if (typeof MediaSource === 'undefined' || !MediaSource.isTypeSupported(mime)) {
      const codec = /codecs="([^"]*)"/.exec(mime)?.[1] ?? mime;
      this.onProblem(`this window cannot play ${codec}${/hvc1|hev1/.test(codec) ? ' (H.265)' : ''}; phones that support it still can`);
      return;
    }
    this.onProblem(undefined);
    const ms = new MediaSource();
    this.#ms = ms;
    this.#objectUrl = URL.createObjectURL(ms);
    this.video.src = this.#objectUrl;
    ms.addEventListener('sourceopen', () => {
      if (this.#ms !== ms) return;
      try {
        const sb = ms.addSourceBuffer(mime);
        sb.mode = 'segments';
        sb.addEventListener('updateend', () => {
          if (this.#sb !== sb) return; // a decoder since replaced
          if (sb.buffered.length > 0) this.#edge.observe(sb.buffered.end(sb.buffered.length - 1), sb.buffered.length);
          this.#pump();
          if (this.#started) this.#keepLive();
          else if (sb.buffered.length > 0) {
            const now = performance.now();
            this.#firstVideoAt ??= now;
            clearTimeout(this.#startTimer);
            const wait = Math.max(0, Math.min(START_QUIET_MS, START_WAIT_MS - (now - this.#firstVideoAt)));
            this.#startTimer = setTimeout(() => this.#start(sb), wait);
          }
        });
        sb.addEventListener('error', () => this.onProblem('the video decoder rejected a fragment'));
        this.#sb = sb;
        this.#pump();
      } catch (e) {
        this.onProblem(`cannot play this stream: ${e instanceof Error ? e.message : String(e)}`);
      }
    }, { once: true });
  }

  #enqueue(chunk: Uint8Array): void {
    if (this.#ms === undefined) return;
    if (this.#queued + chunk.length > MAX_QUEUE_BYTES) return;
    this.#queue.push(chunk);
    this.#queued += chunk.length;
    this.#pump();
  }

  #pump(): void {
    const sb = this.#sb;
    if (sb === undefined || sb.updating || this.#ms?.readyState !== 'open') return;
    const next = this.#queue.shift();
    if (next === undefined) return;
    this.#queued -= next.length;
    try {
      sb.appendBuffer(next as Uint8Array<ArrayBuffer>);
    } catch (e) {
      if (e instanceof DOMException && e.name === 'QuotaExceededError') this.#trim(true);
      else this.onProblem(`cannot play this stream: ${e instanceof Error ? e.message : String(e)}`);
    }
  }

  #start(sb: SourceBuffer): void {
    if (this.#closed || this.#started || this.#sb !== sb || sb.buffered.length === 0) return;
    this.#started = true;
    const newest = this.#edge.newest({ currentTime: this.video.currentTime, buffered: rangesOf(sb.buffered) });
    if (newest !== undefined) this.video.currentTime = newest;
    this.#keepLive();
  }

  #keepLive(): void {
    const v = this.video;
    if (!this.#started || v.buffered.length === 0) return;
    // A learnt cushion behind the newest media (LiveEdge), so the next fragment lands in time.
    const steer = this.#edge.steer({ currentTime: v.currentTime, buffered: rangesOf(v.buffered) });
    if (steer.seek !== undefined) v.currentTime = steer.seek;
    if (v.playbackRate !== steer.rate) v.playbackRate = steer.rate;
    if (v.paused) void v.play().catch(() => undefined);
    this.#trim(false);
  }

  #trim(force: boolean): void {
    const sb = this.#sb;
    if (sb === undefined || sb.updating || sb.buffered.length === 0) return;
    const start = sb.buffered.start(0);
    const keepFrom = this.video.currentTime - (force ? 1 : KEEP_BEHIND_S);
    if (keepFrom - start > 1) sb.remove(start, keepFrom);
  }

  #teardownMedia(): void {
    clearTimeout(this.#startTimer);
    this.#started = false;
    this.#firstVideoAt = undefined;
    this.#edge.reset();
    this.#queue = [];
    this.#queued = 0;
    this.#sb = undefined;
    if (this.#ms?.readyState === 'open') {
      try {
        this.#ms.endOfStream();
      } catch {
        // already ended or detached: nothing left to end
      }
    }
    this.#ms = undefined;
    if (this.#objectUrl !== undefined) URL.revokeObjectURL(this.#objectUrl);
    this.#objectUrl = undefined;
  }

  close(): void {
    this.#closed = true;
    clearTimeout(this.#startTimer);
    clearInterval(this.#timer);
    this.#handle?.close();
    this.#teardownMedia();
    this.video.removeAttribute('src');
    this.video.load();
  }
}
