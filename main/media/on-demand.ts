// A transcoder that runs only while someone watches its stream, plus a grace period, as go2rtc runs
// a source only while it has consumers: a phone's watch starts it; it stops once the relays have
// reported no watcher of its topic for the grace period (checked every second). The h264 and mpeg1
// profiles both run this way (profile-feed.ts, mpeg1-feed.ts).
/** No watcher for this long, and the transcoder stops. */
export const PROFILE_GRACE_MS = 10_000;
const CHECK_MS = 1000;

export interface Startable {
  readonly running: boolean;
  start(): void;
  stop(): Promise<void>;
}

export class OnDemand {
  #lastDemand = 0;
  #timer: ReturnType<typeof setInterval> | undefined;
  #starts = 0;
  #closed = false;

  constructor(
    private readonly feed: Startable,
    /** Relay watchers of the stream's topic, on every link. */
    private readonly watchers: () => number,
    private readonly graceMs = PROFILE_GRACE_MS,
  ) {}

  /** How many times it was started (for status and tests). */
  get starts(): number {
    return this.#starts;
  }

  /** A phone asked to watch: run it (if it does not yet) and hold it for the grace period. */
  demand(): void {
    if (this.#closed) return;
    this.#lastDemand = Date.now();
    if (!this.feed.running) {
      this.#starts++;
      this.feed.start();
    }
    this.#timer ??= setInterval(() => this.#check(), CHECK_MS);
    this.#timer.unref?.();
  }

  #check(): void {
    const now = Date.now();
    if (this.watchers() > 0) this.#lastDemand = now;
    else if (now - this.#lastDemand >= this.graceMs) void this.#idle();
  }

  async #idle(): Promise<void> {
    clearInterval(this.#timer);
    this.#timer = undefined;
    await this.feed.stop();
  }

  /** For good (camera removed, hub closing). */
  async close(): Promise<void> {
    this.#closed = true;
    await this.#idle();
  }
}
