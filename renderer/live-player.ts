// A live tile: plays the hub's fMP4 fragments with Media Source Extensions. It stays near the live
// edge (a tile is a monitor, not a player), trims what it has shown, and says plainly when the
// browser cannot play the camera's codec (H.265 in chromium, for one).
import type { HubBridge, LiveHandle } from './bridge.ts';
import { LiveEdge } from '../phone/core/live-edge.ts';

/** Behind the live edge by more than this (s), the tile jumps forward. */
const MAX_LATENCY_S = 1.5;
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

  constructor(
    private readonly bridge: HubBridge,
    private readonly cameraId: string,
    private readonly onProblem: (message: string | undefined) => void,
  ) {
    this.video = document.createElement('video');
    this.video.muted = true;
    this.video.autoplay = true;
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
    this.#timer = setInterval(() => this.#keepLive(), 1000);
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
      return;
    }
    if (this.video.paused) void this.video.play().catch(() => undefined);
  }

  #keepLive(): void {
    const v = this.video;
    if (v.buffered.length === 0) return;
    const end = v.buffered.end(v.buffered.length - 1);
    // More than a fragment behind the newest media (LiveEdge), so the next one lands in time.
    if (end - v.currentTime > this.#edge.maxLag(MAX_LATENCY_S)) v.currentTime = Math.max(0, end - this.#edge.cushion);
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
    clearInterval(this.#timer);
    this.#handle?.close();
    this.#teardownMedia();
    this.video.removeAttribute('src');
    this.video.load();
  }
}
