// Notices a camera whose timestamps went back. ffmpeg then clamps every timestamp to the last one
// plus a tick until the camera's clock catches up with where it was, which lasts as long as the
// stream had run: frames keep arriving (or, with time-cut fragments, a GOP at a time) but their
// media time stands still, so a viewer sees nothing move and the stall watchdog sees nothing wrong.
// Over a window of wall time, media time must advance by at least a fraction of it; a live camera
// advances by all of it (or more, while ffmpeg works through a backlog). A stuck clock is seen
// between one and two windows after it stopped.

export class MediaClockWatch {
  #from: { wallMs: number; mediaMs: number } | undefined;

  constructor(
    /** Wall time over which the media clock is compared. */
    private readonly windowMs: number,
    /** Below this many media ms per wall ms the clock counts as stuck. */
    private readonly minRate = 0.1,
  ) {
    if (!(windowMs > 0) || !(minRate > 0 && minRate < 1)) throw new RangeError('MediaClockWatch: windowMs > 0 and 0 < minRate < 1');
  }

  /**
   * After each video fragment: its media time and a monotonic clock (ms, performance.now(): the
   * wall clock may jump when NTP sets it after boot, and a monotonic one stands still while the
   * machine sleeps). True when the media clock is stuck.
   */
  observe(mediaMs: number, wallMs: number): boolean {
    const from = this.#from;
    // Time going back as such is ffmpeg's to clamp (it never reaches us); start a new window.
    // Pauses between fragments are the stall watchdog's: the ingest keeps this window no shorter
    // than the stall timeout, so a pause that does not stall cannot make a window look stuck.
    if (from === undefined || mediaMs < from.mediaMs) {
      this.#from = { wallMs, mediaMs };
      return false;
    }
    const wall = wallMs - from.wallMs;
    if (wall < this.windowMs) return false;
    this.#from = { wallMs, mediaMs };
    return mediaMs - from.mediaMs < wall * this.minRate;
  }
}
