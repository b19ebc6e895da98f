// Is what the phone shows live? A frame's capture time is authenticated (the hub's clock when the
// fragment reached it), but a relay can record frames and play them later, or hold the live stream
// back by minutes: every frame still opens. So the phone compares capture times with the hub's
// clock, which reaches it only inside the session (authenticated, in order), and bounds how far the
// two can be apart (issue 14, finding 1; docs/PROTOCOL.md §11.4).
//
// offset = hubClock − localClock, with localClock monotonic (performance.now()). A round trip —
// request sent at local t0, answer carrying hubTime H received at t1 — proves
//   H − t1 ≤ offset ≤ H − t0
// whatever the relay did: it can delay either leg but not answer before the hub did. A one-way
// message (the hub's clock notice, H received at t) proves only offset ≥ H − t, which a relay that
// delays everything from the start keeps wrong by its whole delay; so only a round trip sets the
// upper bound, and a long round trip leaves the phone unable to call anything live. For the newest
// frame of a stream, captured at C (hub clock), at local time t:
//   lag ≥ t + lo − C   (proves "not live" when large)
//   lag ≤ t + hi − C   (proves "live" when small)
// Pure: the clock is injected; phone/core/hub-link.ts feeds it, the CLI and the app ask it.

/** Older than this (upper bound): "late", a warning. See DEFAULT_NOT_LIVE_MS for the choice. */
export const DEFAULT_LATE_MS = 5_000;
/**
 * Older than this (upper bound): not live. The hub cuts fragments by frame (by default) or by time (up
 * to 2 s) or, at worst, at each keyframe: a camera's GOP is 1–4 s in practice. The newest fragment
 * is therefore at most about one GOP behind the hub's clock, plus transit and the round trip's
 * uncertainty (well under a second at home or through a nearby relay). 5 s is a 4 s GOP plus a
 * second; 10 s leaves room for a slow network and is still far below a replay or a delay that
 * could hide anything that matters.
 */
export const DEFAULT_NOT_LIVE_MS = 10_000;
/** A clock notice this late (lower bound), or one that contradicts the bounds: measure again. */
const REMEASURE_AFTER_MS = DEFAULT_LATE_MS;
/** The hub's clock counts whole milliseconds. */
const RESOLUTION_MS = 1;

export interface LivenessOptions {
  /** Monotonic milliseconds (performance.now()); a test passes its own. */
  now?: () => number;
  lateMs?: number;
  notLiveMs?: number;
}

export type LiveState =
  /** Nothing to judge yet: no round trip with the hub, or no picture since watching began. */
  | 'waiting'
  | 'live'
  /** Live, but the newest picture may be older than `lateMs`. */
  | 'late'
  | 'not-live';

export interface Liveness {
  readonly state: LiveState;
  /** Capture time of the newest picture (Unix ms, the hub's clock), if any. */
  readonly captureTime?: number;
  /** Bounds of the newest picture's age (ms) right now. */
  readonly lagAtLeastMs?: number;
  readonly lagAtMostMs?: number;
  /** Why, in words a person reads. */
  readonly reason: string;
}

export class LiveClock {
  readonly #now: () => number;
  readonly #lateMs: number;
  readonly #notLiveMs: number;
  /** Bounds on hubClock − localClock. */
  #lo = -Infinity;
  #hi = Infinity;
  /** Newest capture time per stream (camera number), and the hub's time when watching began. */
  readonly #newest = new Map<number, number>();
  readonly #since = new Map<number, number>();
  #remeasure = false;

  constructor(options: LivenessOptions = {}) {
    this.#now = options.now ?? (() => performance.now());
    this.#lateMs = options.lateMs ?? DEFAULT_LATE_MS;
    this.#notLiveMs = options.notLiveMs ?? DEFAULT_NOT_LIVE_MS;
    if (!(this.#lateMs > 0 && this.#notLiveMs >= this.#lateMs)) throw new RangeError('LiveClock: need 0 < lateMs <= notLiveMs');
  }

  now(): number {
    return this.#now();
  }

  /** Whether a fresh round trip is wanted (the hub's clock stepped, or its notices come late). */
  get remeasure(): boolean {
    return this.#remeasure;
  }

  /** The hub's clock stepped forward: no upper bound until a round trip (nothing can be live). */
  get stepped(): boolean {
    return this.#hi === Infinity && Number.isFinite(this.#lo);
  }

  /**
   * The hub answered a request sent at local `sentAt` (taken before sending) with `hubTime`; call it
   * when the answer arrives. `stream` started being watched then.
   */
  answered(sentAt: number, hubTime: number, stream?: number): void {
    if (!Number.isFinite(hubTime) || !Number.isFinite(sentAt)) return;
    const lo = hubTime - this.#now();
    const hi = hubTime - sentAt;
    if (lo > this.#hi + RESOLUTION_MS || hi < this.#lo - RESOLUTION_MS) {
      // Disjoint from what we knew: the hub's clock was set (each round trip holds the truth).
      this.#lo = lo;
      this.#hi = hi;
    } else {
      this.#lo = Math.max(this.#lo, lo);
      this.#hi = Math.min(this.#hi, hi);
    }
    this.#remeasure = false;
    if (stream !== undefined) this.#since.set(stream, hubTime);
  }

  /** The hub's clock notice (inside the session): a lower bound, and a check on the upper one. */
  notice(hubTime: number): void {
    if (!Number.isFinite(hubTime)) return;
    const lo = hubTime - this.#now();
    if (lo > this.#hi + RESOLUTION_MS) {
      // Impossible unless the hub's clock jumped forward: the upper bound is gone until we measure.
      this.#lo = lo;
      this.#hi = Infinity;
      this.#remeasure = true;
      return;
    }
    this.#lo = Math.max(this.#lo, lo);
    // How late this notice is at least. The relay may be holding session traffic back, or the
    // hub's clock went back: a round trip tells them apart (a long one, or disjoint bounds).
    if (this.#lo - lo > REMEASURE_AFTER_MS) this.#remeasure = true;
  }

  /** An authenticated frame of `stream` captured at `captureTime` (the hub's clock). */
  frame(stream: number, captureTime: number): void {
    if (!Number.isFinite(captureTime)) return;
    const newest = this.#newest.get(stream);
    if (newest === undefined || captureTime > newest) this.#newest.set(stream, captureTime);
  }

  /** Forgets a stream (no longer watched). */
  forget(stream: number): void {
    this.#newest.delete(stream);
    this.#since.delete(stream);
  }

  /** How live `stream` is now. */
  liveness(stream: number): Liveness {
    if (!Number.isFinite(this.#lo)) return { state: 'waiting', reason: 'no answer from the hub yet' };
    const t = this.#now();
    const newest = this.#newest.get(stream);
    if (newest === undefined) {
      const since = this.#since.get(stream);
      if (since !== undefined && t + this.#lo - since > this.#notLiveMs) {
        return { state: 'not-live', reason: `no picture for at least ${seconds(t + this.#lo - since)} since watching began` };
      }
      return { state: 'waiting', reason: 'no picture yet' };
    }
    const atLeast = Math.max(0, t + this.#lo - newest);
    const atMost = t + this.#hi - newest;
    const base = { captureTime: newest, lagAtLeastMs: atLeast, lagAtMostMs: atMost };
    if (atLeast > this.#notLiveMs) {
      return { ...base, state: 'not-live', reason: `the newest picture is at least ${seconds(atLeast)} old` };
    }
    if (!(atMost <= this.#notLiveMs)) {
      const width = this.#hi - this.#lo;
      return {
        ...base, state: 'not-live',
        reason: Number.isFinite(width)
          ? `cannot confirm it is live: the hub's answer took ${seconds(width)}, so the newest picture may be ${seconds(atMost)} old`
          : 'cannot confirm it is live: the hub\'s clock changed; checking again',
      };
    }
    if (atMost > this.#lateMs) return { ...base, state: 'late', reason: `the newest picture may be ${seconds(atMost)} old` };
    return { ...base, state: 'live', reason: `the newest picture is at most ${seconds(atMost)} old` };
  }
}

function seconds(ms: number): string {
  return ms < 10_000 ? `${(ms / 1000).toFixed(1)} s` : `${Math.round(ms / 1000)} s`;
}
