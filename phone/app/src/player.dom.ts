// Live playback of decrypted fMP4 fragments through Media Source Extensions (ManagedMediaSource
// where MediaSource is missing, as on iPhone Safari). The player keeps near the live edge, trims
// what was played, and rebuilds itself (asking the hub for the init segment and GOP again) if the
// decoder fails. Fragments it is given are already authenticated; FragmentOrder decides which of
// them the decoder sees.
import type { OpenedFrame } from '../../../crypto/frame.ts';
import { FragmentOrder, codecLabel, isH265 } from './order.ts';
import { LiveEdge } from '../../core/live-edge.ts';

export type PlayerState = 'waiting' | 'playing' | 'unsupported' | 'error';

export interface PlayerHooks {
  onState(state: PlayerState, detail: string): void;
  /** The decoder was rebuilt: ask the hub for the init segment and GOP again. */
  onRestartNeeded(): void;
  /** The first picture was painted. */
  onFirstFrame?(): void;
}

type MediaSourceCtor = typeof MediaSource;

export function mediaSourceClass(): MediaSourceCtor | undefined {
  const w = globalThis as unknown as { MediaSource?: MediaSourceCtor; ManagedMediaSource?: MediaSourceCtor };
  return w.MediaSource ?? w.ManagedMediaSource;
}

/** Whether this browser can play the camera's stream, and if not, what to tell the user. */
export function playability(mime: string | undefined, codecs: string | undefined): { ok: true; type: string } | { ok: false; reason: string } {
  if (!mime || !codecs) return { ok: false, reason: 'The camera has not started yet.' };
  const MS = mediaSourceClass();
  if (MS === undefined) return { ok: false, reason: 'This browser has no Media Source Extensions: it cannot play live video.' };
  const type = `${mime}; codecs="${codecs}"`;
  if (MS.isTypeSupported(type)) return { ok: true, type };
  if (isH265(codecs)) {
    return { ok: false, reason: 'This browser can\'t play H.265 video, and this camera sends H.265. Watch it in a browser that plays H.265 (Safari, or Chrome on most phones), or set the camera to H.264.' };
  }
  return { ok: false, reason: `This browser can't play ${codecLabel(codecs)} (${codecs}).` };
}

/** Keep no more than this behind the play head (bounded memory on phones). */
const KEEP_BEHIND_S = 10;
/** Jump to the live edge when this far behind it (e.g. after the tab was in the background). */
const MAX_LAG_S = 2.5;
/** Queue bound while the SourceBuffer is busy: past it we drop and wait for a keyframe. */
const MAX_QUEUE = 240;
const RESTART_DELAYS_MS = [500, 2000, 5000, 10_000];

export class LivePlayer {
  readonly order = new FragmentOrder();
  appended = 0;
  readonly #edge = new LiveEdge();
  #ms: MediaSource | undefined;
  #url: string | undefined;
  #sb: SourceBuffer | undefined;
  #queue: Uint8Array[] = [];
  #timer: ReturnType<typeof setInterval> | undefined;
  #closed = false;
  #restarts = 0;
  #state: PlayerState | undefined;
  #firstFrame = false;
  #lossMark = -1;

  constructor(
    private readonly video: HTMLVideoElement,
    private readonly type: string,
    private readonly hooks: PlayerHooks,
  ) {
    video.muted = true;
    video.playsInline = true;
    video.autoplay = true;
    // ManagedMediaSource only plays with remote playback off (Safari's rule).
    (video as HTMLVideoElement & { disableRemotePlayback: boolean }).disableRemotePlayback = true;
    video.addEventListener('error', this.#onVideoError);
    video.addEventListener('playing', this.#onPlaying);
    this.#attach();
    this.#timer = setInterval(() => this.#tick(), 500);
    this.#setState('waiting', 'Waiting for video from the hub…');
  }

  /** An authenticated frame of this camera. `lossMark` rises when any fragment was lost upstream. */
  push(frame: OpenedFrame, lossMark: number): void {
    if (this.#closed) return;
    if (this.#lossMark >= 0 && lossMark !== this.#lossMark) this.order.resync();
    this.#lossMark = lossMark;
    const decision = this.order.accept(frame);
    if (decision === 'skip') return;
    if (this.#queue.length >= MAX_QUEUE) {
      // The decoder cannot keep up: drop what waits and start again at a keyframe.
      this.#queue = [];
      this.order.resync();
      return;
    }
    this.#queue.push(frame.payload);
    this.#pump();
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    clearInterval(this.#timer);
    this.video.removeEventListener('error', this.#onVideoError);
    this.video.removeEventListener('playing', this.#onPlaying);
    this.#detach();
  }

  #attach(): void {
    const MS = mediaSourceClass();
    if (MS === undefined) throw new Error('no MediaSource');
    const ms = new MS();
    this.#ms = ms;
    ms.addEventListener('sourceopen', () => {
      if (this.#ms !== ms || this.#closed) return;
      try {
        const sb = ms.addSourceBuffer(this.type);
        sb.mode = 'segments';
        sb.addEventListener('updateend', () => {
          if (this.#sb !== sb) return; // a decoder since replaced
          if (sb.buffered.length > 0) this.#edge.observe(sb.buffered.end(sb.buffered.length - 1), sb.buffered.length);
          this.#pump();
          // Until the picture shows, start playing as soon as video lands, not on the next tick.
          if (!this.#firstFrame) this.#tick();
        });
        sb.addEventListener('error', () => this.#fail('the video decoder failed'));
        this.#sb = sb;
        this.#pump();
      } catch (e) {
        this.#fail(`cannot open the decoder (${e instanceof Error ? e.message : String(e)})`);
      }
    }, { once: true });
    this.#url = URL.createObjectURL(ms);
    this.video.src = this.#url;
  }

  #detach(): void {
    this.#queue = [];
    this.#sb = undefined;
    this.#ms = undefined;
    this.video.removeAttribute('src');
    this.video.load();
    if (this.#url !== undefined) URL.revokeObjectURL(this.#url);
    this.#url = undefined;
  }

  #pump(): void {
    const sb = this.#sb;
    if (sb === undefined || sb.updating || this.#closed) return;
    const next = this.#queue.shift();
    if (next === undefined) return;
    try {
      sb.appendBuffer(next as Uint8Array<ArrayBuffer>);
      this.appended++;
    } catch (e) {
      if (e instanceof DOMException && e.name === 'QuotaExceededError') {
        // Full: free what is behind the play head and restart at a keyframe.
        this.#queue = [];
        this.order.resync();
        this.#trim(true);
        return;
      }
      this.#fail(`appending video failed (${e instanceof Error ? e.message : String(e)})`);
    }
  }

  #tick(): void {
    const sb = this.#sb;
    const v = this.video;
    if (sb === undefined || sb.buffered.length === 0) return;
    const start = sb.buffered.start(0);
    const end = sb.buffered.end(sb.buffered.length - 1);
    // Behind the newest media by more than a fragment (LiveEdge): close enough to be live, far
    // enough that the next fragment lands before the play head gets there.
    if (v.currentTime < start || end - v.currentTime > this.#edge.maxLag(MAX_LAG_S)) v.currentTime = Math.max(start, end - this.#edge.cushion);
    if (v.paused) v.play().catch(() => undefined);
    if (!this.#firstFrame && v.readyState >= 2) this.#onFirstFrame();
    this.#trim(false);
  }

  #trim(force: boolean): void {
    const sb = this.#sb;
    if (sb === undefined || sb.updating || sb.buffered.length === 0) return;
    const start = sb.buffered.start(0);
    const until = this.video.currentTime - KEEP_BEHIND_S;
    if (until > start + (force ? 0 : 5)) {
      try {
        sb.remove(start, until);
      } catch {
        // removing is an optimisation; the next tick tries again
      }
    }
  }

  #onFirstFrame(): void {
    this.#firstFrame = true;
    this.#restarts = 0;
    this.#setState('playing', 'Live');
    this.hooks.onFirstFrame?.();
  }

  readonly #onPlaying = (): void => {
    if (!this.#firstFrame && this.video.readyState >= 2) this.#onFirstFrame();
  };

  readonly #onVideoError = (): void => {
    this.#fail(`the video element failed (${this.video.error?.message || `code ${this.video.error?.code ?? '?'}`})`);
  };

  #fail(detail: string): void {
    if (this.#closed) return;
    this.#setState('error', `Video stopped: ${detail}. Restarting…`);
    this.#detach();
    this.order.reset();
    this.#edge.reset();
    this.#firstFrame = false;
    const delay = RESTART_DELAYS_MS[Math.min(this.#restarts++, RESTART_DELAYS_MS.length - 1)]!;
    setTimeout(() => {
      if (this.#closed) return;
      this.#attach();
      this.hooks.onRestartNeeded();
    }, delay);
  }

  #setState(state: PlayerState, detail: string): void {
    if (this.#state === state) return;
    this.#state = state;
    this.hooks.onState(state, detail);
  }
}
