// A sliding replay window (as in IPsec and WireGuard): accepts each counter at most once and refuses
// counters that fell behind the window. Check with `wouldAccept` before decrypting is wasted work;
// `commit` only after the message authenticated, so a forger cannot move the window.

export const DEFAULT_REPLAY_WINDOW = 1024n;

export class ReplayWindow {
  private highest = -1n;
  private readonly seen = new Set<bigint>();

  constructor(private readonly size: bigint = DEFAULT_REPLAY_WINDOW) {
    if (size < 1n || size > 1n << 16n) throw new RangeError('replay window size must be 1..65536');
  }

  wouldAccept(counter: bigint): boolean {
    if (counter > this.highest) return true;
    if (this.highest - counter >= this.size) return false;
    return !this.seen.has(counter);
  }

  /** Records an authenticated counter; returns false if it was a replay. */
  commit(counter: bigint): boolean {
    if (!this.wouldAccept(counter)) return false;
    if (counter > this.highest) {
      this.highest = counter;
      // Forget counters that slid out of the window; they are refused by the bound check now.
      for (const c of this.seen) if (this.highest - c >= this.size) this.seen.delete(c);
    }
    this.seen.add(counter);
    return true;
  }

  get latest(): bigint {
    return this.highest;
  }
}
