// Where a live player should sit behind the newest video it holds. Media arrives a fragment at a
// time (the hub's --fragment-ms, 300 ms by default; one frame if the owner chose 0), so the newest
// buffered time moves in steps of one fragment. A play head placed closer to it than a fragment
// runs dry before the next one lands and the picture stalls, on every fragment. So the distance is
// learnt from the steps the player sees: the longest recent one plus room for network jitter.
// Pure (no DOM): the phone app's player and the desktop's live tiles both use it.

/** Room for jitter on top of a fragment; with one-frame fragments the cushion is at least this. */
export const JITTER_S = 0.2;
/** Never closer than this to the newest media. */
export const MIN_CUSHION_S = 0.3;
/** The hub's longest fragment (native/ingest.ts MAX_FRAGMENT_MS, 2 s) and a frame: longer is a gap. */
const MAX_STEP_S = 2.5;
/** How many recent steps count: a change of fragment length is learnt within a few seconds. */
const WINDOW = 16;

export class LiveEdge {
  #lastEnd: number | undefined;
  #lastRanges = 0;
  readonly #steps: number[] = [];

  /**
   * After each append: the newest buffered time (seconds) and how many buffered ranges there are.
   * A step into a new range jumped a gap (a fragment lost, the stream restarted), so it is no
   * fragment length.
   */
  observe(end: number, ranges: number): void {
    const last = this.#lastEnd;
    const sameRange = ranges === this.#lastRanges;
    this.#lastEnd = end;
    this.#lastRanges = ranges;
    if (last === undefined || !sameRange) return;
    const step = end - last;
    if (!(step > 0) || step > MAX_STEP_S) return;
    this.#steps.push(step);
    if (this.#steps.length > WINDOW) this.#steps.shift();
  }

  /** How far behind the newest media to play (seconds). */
  get cushion(): number {
    const fragment = this.#steps.length === 0 ? 0 : Math.max(...this.#steps);
    return Math.max(MIN_CUSHION_S, fragment + JITTER_S);
  }

  /** Jump forward when further behind than this: the caller's limit, but never near the cushion. */
  maxLag(limit: number): number {
    return Math.max(limit, 2 * this.cushion);
  }

  /** A new stream (decoder rebuilt, another camera): forget what was learnt. */
  reset(): void {
    this.#lastEnd = undefined;
    this.#lastRanges = 0;
    this.#steps.length = 0;
  }
}
