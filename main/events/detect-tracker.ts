// From per-frame findings to events (PROTOCOL §17.1): a minimum duration before an event starts, an
// end once nothing moved for a while, a cooldown before the next one, and a longest event. Pure: the
// caller gives the time. Any frame detector (motion now, a model that finds people later) feeds one
// of these; what it found is a `moving` flag, a score and the zones touched.

export interface Finding {
  readonly moving: boolean;
  /** 0..1. */
  readonly score: number;
  readonly zones: readonly number[];
}

export interface TrackerTuning {
  /** Motion must hold this long (with gaps under gapMs) before an event starts. */
  readonly minDurationMs: number;
  /** A pause longer than this before the start resets the count. */
  readonly gapMs: number;
  /** The event ends once nothing moved for this long. */
  readonly endAfterMs: number;
  /** After an event ends, motion starts no new one for this long. */
  readonly cooldownMs: number;
  /** An event that goes on this long ends anyway (a tree in the wind): the next starts after the cooldown. */
  readonly maxEventMs: number;
  /** An 'updated' (a better picture) needs a score this many times the last peak's. */
  readonly betterPeak: number;
}

/**
 * minDurationMs 0: motion (motion.ts) already counts a cell only when its change continues motion
 * from the pictures before (from a neighbouring cell, or from itself in both), which a clock's tick
 * or a compression blip does not; three pictures anywhere (400 ms, before 2026-12-03) added 200 ms to
 * every event's notice. A model detector that needs more passes its own.
 */
export const TRACKER_DEFAULTS: TrackerTuning = {
  minDurationMs: 0,
  gapMs: 500,
  endAfterMs: 3_000,
  cooldownMs: 10_000,
  maxEventMs: 5 * 60_000,
  betterPeak: 1.25,
};

export type TrackerStep =
  | { readonly type: 'started'; readonly startMs: number; readonly score: number; readonly zones: readonly number[] }
  | { readonly type: 'updated'; readonly startMs: number; readonly score: number; readonly zones: readonly number[] }
  | { readonly type: 'ended'; readonly startMs: number; readonly endMs: number; readonly score: number; readonly zones: readonly number[] };

export class EventTracker {
  readonly tuning: TrackerTuning;
  #candidateSince: number | undefined;
  #lastMoving = -Infinity;
  #event: { startMs: number; lastMotionMs: number; peak: number; zones: Set<number> } | undefined;
  #cooldownUntil = -Infinity;

  constructor(tuning: Partial<TrackerTuning> = {}) {
    this.tuning = { ...TRACKER_DEFAULTS, ...tuning };
  }

  get active(): boolean {
    return this.#event !== undefined;
  }

  /** One frame's finding at `timeMs`; returns what happened (at most one step). */
  observe(timeMs: number, f: Finding): TrackerStep | undefined {
    const t = this.tuning;
    const ev = this.#event;
    if (ev !== undefined) {
      if (f.moving) {
        ev.lastMotionMs = timeMs;
        for (const z of f.zones) ev.zones.add(z);
      }
      if (timeMs - ev.lastMotionMs >= t.endAfterMs || timeMs - ev.startMs >= t.maxEventMs) return this.#end(timeMs);
      if (f.moving && f.score > ev.peak * t.betterPeak) {
        ev.peak = f.score;
        return { type: 'updated', startMs: ev.startMs, score: f.score, zones: [...ev.zones].sort((a, b) => a - b) };
      }
      return undefined;
    }
    if (timeMs < this.#cooldownUntil) return undefined;
    if (!f.moving) {
      if (timeMs - this.#lastMoving > t.gapMs) this.#candidateSince = undefined;
      return undefined;
    }
    this.#lastMoving = timeMs;
    this.#candidateSince ??= timeMs;
    if (timeMs - this.#candidateSince < t.minDurationMs) return undefined;
    const startMs = this.#candidateSince;
    this.#candidateSince = undefined;
    this.#event = { startMs, lastMotionMs: timeMs, peak: f.score, zones: new Set(f.zones) };
    return { type: 'started', startMs, score: f.score, zones: [...f.zones].sort((a, b) => a - b) };
  }

  /** Ends an ongoing event now (the detector stops). */
  flush(timeMs: number): TrackerStep | undefined {
    return this.#event === undefined ? undefined : this.#end(timeMs);
  }

  #end(timeMs: number): TrackerStep {
    const ev = this.#event!;
    this.#event = undefined;
    this.#candidateSince = undefined;
    this.#cooldownUntil = timeMs + this.tuning.cooldownMs;
    return { type: 'ended', startMs: ev.startMs, endMs: Math.max(ev.startMs, ev.lastMotionMs), score: ev.peak, zones: [...ev.zones].sort((a, b) => a - b) };
  }
}
