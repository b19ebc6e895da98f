// Keeps a live player on the newest frame. Media arrives a fragment at a time (the hub's
// --fragment-ms: one frame by default, up to 2 s), so the newest buffered time moves in steps,
// and each step lands a little early or late (network, decryption, a busy tab). The play head has to
// stay behind the newest media by just enough that the next fragment lands before it gets there:
//
//   on time          the newest media time advances with the clock: at wall time t the newest
//                    media would be `t + onTime`, where onTime is the largest (end - arrival time)
//                    seen lately (an arrival can be late, never early);
//   cushion          one fragment (the longest recent step) + jitter (how much later than the
//                    earliest arrival before it a fragment has landed lately; a burst such as the
//                    cached GOP, however slowly it trickles in, is never late) + a small margin;
//   target           t + onTime - cushion, never past the buffered end, never before the start of
//                    the newest buffered range.
//
// A player starts at the newest frame (newest()), not at the target: the picture then waits there
// for the next fragment, which is as fresh as it can be. From then on steer() compares the play head with the target: far behind (the cached GOP just appended, a tab
// that was in the background, a long stall) it seeks (the decoder runs from the keyframe without
// presenting what lies before the target), a little behind it plays faster (playbackRate 1.0-1.5, in
// proportion), otherwise at 1.0. Ahead of the target it does nothing: the picture waits at the
// buffered end for the next fragment, which restores the cushion.
//
// Pure (no DOM, the clock injected): the phone app's player (phone/app/src/player.dom.ts) and the
// desktop's live tiles (renderer/live-player.ts) both use it.

/** Added to the cushion: the decoder needs the frame a little before it is due. */
export const MARGIN_S = 0.03;
/** Jitter assumed before any fragment has arrived on its own (the cached GOP arrives at once). */
export const JITTER_PRIOR_S = 0.1;
/** Jitter is never taken as less than this. */
export const MIN_JITTER_S = 0.02;
/** Fragment length assumed before any step was seen. */
export const FRAGMENT_PRIOR_S = 0.3;
/** Further behind the target than this, seek instead of speeding up. */
export const SEEK_BEHIND_S = 0.5;
/** Until a fragment has arrived on its own (the cached GOP just appended): seek when this far behind. */
export const START_SEEK_BEHIND_S = 0.1;
/** Behind the target by less than this: play at 1.0 (no hunting around the target). */
export const DEADBAND_S = 0.03;
/** playbackRate = 1 + GAIN * seconds behind, at most MAX_RATE. */
export const GAIN = 2;
export const MAX_RATE = 1.5;
/** A fragment later than this (a long stall, a tab in the background) starts the learning again. */
export const MAX_JITTER_S = 1;
/** The hub's longest fragment (native/ingest.ts MAX_FRAGMENT_MS, 2 s) and a frame: longer is a gap. */
const MAX_STEP_S = 2.5;
/** How long (ms) what was seen counts: a change of fragment length or network is learnt this fast. */
const WINDOW_MS = 5000;

/** What the player looks like now: the play head and the buffered ranges [start, end] in order. */
export interface PlayerView {
  currentTime: number;
  buffered: ReadonlyArray<readonly [number, number]>;
}

/** What to do: seek (to this time) or not, and the playback rate to set. */
export interface Steer {
  seek: number | undefined;
  rate: number;
  /** Seconds the play head is behind the target (negative: ahead). */
  behind: number;
}

interface Arrival {
  /** Wall time of the append, ms. */
  at: number;
  /** Newest buffered time minus wall time, s: larger means earlier. */
  offset: number;
  /**
   * How much later than the earliest arrival before it (s, >= 0). Measured against earlier arrivals
   * only, so a burst (the cached GOP, however slowly it trickles in) is never late: its offsets rise.
   */
  late: number;
  /** The fragment came on its own (not right behind another): live media is flowing. */
  alone: boolean;
}

export class LiveEdge {
  readonly #now: () => number;
  #lastEnd: number | undefined;
  #lastRanges = 0;
  #lastAt: number | undefined;
  readonly #steps: Array<{ at: number; step: number }> = [];
  #arrivals: Arrival[] = [];

  /** `now`: a clock in milliseconds (performance.now in a page). */
  constructor(now: () => number = () => performance.now()) {
    this.#now = now;
  }

  /**
   * After each append: the newest buffered time (seconds) and how many buffered ranges there are.
   * A step into a new range jumped a gap (a fragment lost, the stream restarted), and time going
   * back is a new stream: neither is a fragment length, and what was learnt of the arrivals no
   * longer holds.
   */
  observe(end: number, ranges: number): void {
    const at = this.#now();
    const last = this.#lastEnd;
    const lastAt = this.#lastAt;
    const sameRange = ranges === this.#lastRanges;
    this.#lastEnd = end;
    this.#lastRanges = ranges;
    this.#lastAt = at;
    this.#forget(at);
    const step = last === undefined ? Number.NaN : end - last;
    if (last === undefined || !sameRange || !(step >= 0) || step > MAX_STEP_S) {
      // A new stream or a gap: start learning the arrivals again (from the next append).
      this.#arrivals = [{ at, offset: end - at / 1000, late: 0, alone: false }];
      return;
    }
    if (step === 0) return; // nothing new (an append of the init segment, a re-append)
    this.#steps.push({ at, step });
    // A fragment that came less than half its length after the one before came in a burst (the
    // cached GOP, or fragments bunched behind a late one).
    const alone = lastAt !== undefined && (at - lastAt) / 1000 >= step / 2;
    const offset = end - at / 1000;
    const late = Math.max(0, this.#onTime() - offset);
    if (late > MAX_JITTER_S) {
      // Not jitter but an outage: learning it would hold the picture back for the whole window.
      this.#arrivals = [{ at, offset, late: 0, alone: false }];
      return;
    }
    this.#arrivals.push({ at, offset, late, alone });
  }

  /** The longest recent fragment (seconds), or the prior before one was seen. */
  get fragment(): number {
    return this.#steps.length === 0 ? FRAGMENT_PRIOR_S : Math.max(...this.#steps.map((s) => s.step));
  }

  /** How much later than on time fragments have landed lately (seconds). */
  get jitter(): number {
    if (!this.#arrivals.some((a) => a.alone)) return JITTER_PRIOR_S;
    return Math.max(MIN_JITTER_S, ...this.#arrivals.map((a) => a.late));
  }

  /** How far behind the newest media (as it would be now, on time) to play, seconds. */
  get cushion(): number {
    return this.fragment + this.jitter + MARGIN_S;
  }

  /** Where the play head should be now (seconds of media), or undefined before any media. */
  target(view: PlayerView): number | undefined {
    const range = view.buffered.at(-1);
    if (range === undefined || this.#arrivals.length === 0) return undefined;
    const live = this.#onTime() + this.#now() / 1000;
    return Math.max(range[0], Math.min(live - this.cushion, range[1] - MARGIN_S));
  }

  /**
   * Where to start playing: the newest frame. Further ahead than the target; the picture waits
   * there for the next fragment, and the cushion grows from what actually arrives.
   */
  newest(view: PlayerView): number | undefined {
    const range = view.buffered.at(-1);
    return range === undefined ? undefined : Math.max(range[0], range[1] - MARGIN_S);
  }

  /** What the player should do now (call after each append and a few times a second). */
  steer(view: PlayerView): Steer {
    const target = this.target(view);
    if (target === undefined) return { seek: undefined, rate: 1, behind: 0 };
    const behind = target - view.currentTime;
    const start = view.buffered.at(-1)![0];
    const settled = this.#arrivals.some((a) => a.alone);
    if (view.currentTime < start || behind > (settled ? SEEK_BEHIND_S : START_SEEK_BEHIND_S)) {
      return { seek: target, rate: 1, behind };
    }
    if (behind > DEADBAND_S) return { seek: undefined, rate: Math.min(MAX_RATE, 1 + GAIN * behind), behind };
    return { seek: undefined, rate: 1, behind };
  }

  /** A new stream (decoder rebuilt, another camera): forget what was learnt. */
  reset(): void {
    this.#lastEnd = undefined;
    this.#lastRanges = 0;
    this.#lastAt = undefined;
    this.#steps.length = 0;
    this.#arrivals = [];
  }

  /** The largest (newest buffered time - arrival time) seen lately: an arrival on time. */
  #onTime(): number {
    return Math.max(...this.#arrivals.map((a) => a.offset));
  }

  #forget(now: number): void {
    while (this.#steps.length > 0 && now - this.#steps[0]!.at > WINDOW_MS) this.#steps.shift();
    // Keep the newest arrival whatever its age: it still says where on time is.
    while (this.#arrivals.length > 1 && now - this.#arrivals[0]!.at > WINDOW_MS) this.#arrivals.shift();
  }
}

/** A SourceBuffer's or video's TimeRanges as pairs, for steer(). */
export function rangesOf(buffered: { length: number; start(i: number): number; end(i: number): number }): Array<[number, number]> {
  const out: Array<[number, number]> = [];
  for (let i = 0; i < buffered.length; i++) out.push([buffered.start(i), buffered.end(i)]);
  return out;
}
