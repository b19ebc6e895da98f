// Live playback of decrypted fMP4 fragments through Media Source Extensions (ManagedMediaSource
// where MediaSource is missing, as on iPhone Safari). The player shows the newest frame: once the
// hub's cached GOP is appended it seeks to just behind the newest media, then LiveEdge keeps it a
// learnt cushion behind (playing up to 1.5x when it falls behind, seeking when far behind). It trims
// what was played, and rebuilds itself (asking the hub for the init segment and GOP again) if the
// decoder fails. Fragments it is given are already authenticated; FragmentOrder decides which of
// them the decoder sees.
import type { OpenedFrame } from '../../../crypto/frame.ts';
import { FragmentOrder } from '../../core/fragment-order.ts';
import { codecLabel, isH265 } from './order.ts';
import { LiveEdge, rangesOf } from '../../core/live-edge.ts';

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
/** How often the play head is steered (ms), besides after every append. */
const STEER_MS = 250;
/**
 * Before the first picture: start once no video has landed for this long (ms), so that the hub's
 * cached GOP, which comes as a burst of fragments, is all in and the first frame shown is its newest.
 */
const START_QUIET_MS = 25;
/** ...but never wait longer than this (ms) after the first video landed. */
const START_WAIT_MS = 150;
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
  /** The play head was put near the newest media and play() called: steering from now on. */
  #started = false;
  #startTimer: ReturnType<typeof setTimeout> | undefined;
  /** When the first video landed (ms, performance.now()), before the start. */
  #firstVideoAt: number | undefined;

  constructor(
    private readonly video: HTMLVideoElement,
    private readonly type: string,
    private readonly hooks: PlayerHooks,
  ) {
    video.muted = true;
    video.playsInline = true;
    // Not autoplay: playing would show the first frame appended, the keyframe at the start of the
    // hub's cached GOP; #start() seeks to its newest frame first.
    video.autoplay = false;
    // ManagedMediaSource only plays with remote playback off (Safari's rule).
    (video as HTMLVideoElement & { disableRemotePlayback: boolean }).disableRemotePlayback = true;
    video.addEventListener('error', this.#onVideoError);
    video.addEventListener('playing', this.#onPlaying);
    this.#attach();
    this.#timer = setInterval(() => this.#tick(), STEER_MS);
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
    clearTimeout(this.#startTimer);
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
          if (this.#started) this.#tick();
          else if (sb.buffered.length > 0) this.#startSoon();
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
    clearTimeout(this.#startTimer);
    this.#started = false;
    this.#firstVideoAt = undefined;
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

  /** Video has landed but nothing plays yet: start once the burst of the cached GOP is all in. */
  #startSoon(): void {
    const now = performance.now();
    this.#firstVideoAt ??= now;
    clearTimeout(this.#startTimer);
    const waited = now - this.#firstVideoAt;
    this.#startTimer = setTimeout(() => this.#start(), Math.max(0, Math.min(START_QUIET_MS, START_WAIT_MS - waited)));
  }

  #start(): void {
    const sb = this.#sb;
    if (this.#closed || this.#started || sb === undefined || sb.buffered.length === 0) return;
    const waited = performance.now() - (this.#firstVideoAt ?? 0);
    if ((sb.updating || this.#queue.length > 0) && waited < START_WAIT_MS) {
      this.#startSoon(); // more of the burst is being appended
      return;
    }
    this.#started = true;
    const target = this.#edge.newest({ currentTime: this.video.currentTime, buffered: rangesOf(sb.buffered) });
    if (target !== undefined) this.video.currentTime = target;
    this.#tick();
  }

  #tick(): void {
    const sb = this.#sb;
    const v = this.video;
    if (!this.#started || sb === undefined || sb.buffered.length === 0) return;
    // A learnt cushion behind the newest media (LiveEdge): close enough to be live, far enough that
    // the next fragment lands before the play head gets there.
    const steer = this.#edge.steer({ currentTime: v.currentTime, buffered: rangesOf(sb.buffered) });
    if (steer.seek !== undefined) v.currentTime = steer.seek;
    if (v.playbackRate !== steer.rate) v.playbackRate = steer.rate;
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
