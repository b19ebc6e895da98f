// The clock and timers a HubLink runs on. Real ones by default; a test passes a manual clock and
// moves time itself, so failover, hold-offs and time-outs are checked without waiting for them.

/** A pending timeout or interval; cancelling twice, or after it fired, does nothing. */
export interface Timer {
  cancel(): void;
}

export interface LinkTimers {
  /** Monotonic milliseconds (performance.now()): deadlines, silence and hold-offs. */
  now(): number;
  after(ms: number, fn: () => void): Timer;
  every(ms: number, fn: () => void): Timer;
}

export const realTimers: LinkTimers = {
  now: () => performance.now(),
  after(ms, fn) {
    const t = setTimeout(fn, ms);
    return { cancel: () => clearTimeout(t) };
  },
  every(ms, fn) {
    const t = setInterval(fn, ms);
    return { cancel: () => clearInterval(t) };
  },
};

/** Resolves after `ms` on these timers. */
export function sleep(timers: LinkTimers, ms: number): Promise<void> {
  return new Promise((resolve) => timers.after(ms, resolve));
}
