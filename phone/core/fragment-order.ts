// Which decrypted fragments of one stream may go to a decoder or a file, and when: the one rule the
// phone app's player and `vigil-phone watch` both follow. Fragments reach a phone by two paths, the
// init segment and GOP the hub sends directly when it starts watching and the camera's live topic,
// so the same picture can arrive twice and out of order; and a re-watch (a path change, a
// reconnect) makes the hub send its cached GOP again, sealed anew (new counters), though the phone
// has most of it already. A decoder must see the init segment first, then each fragment once in
// capture order, and after a loss nothing until the next keyframe (a delta whose reference is
// missing can break decoding).
import { equalBytes } from '../../crypto/bytes.ts';
import type { OpenedFrame } from '../../crypto/frame.ts';
import { decodeTimes, Fmp4TimeError, type TrackDecodeTime } from '../../lib/fmp4-time.ts';

export type OrderDecision = 'init' | 'fragment' | 'skip';

export type OrderedFrame = Pick<OpenedFrame, 'frameType' | 'epoch' | 'counter' | 'payload' | 'captureTime'>;

interface Sealed {
  readonly epoch: number;
  readonly counter: bigint;
}

/** Sealed no later than b: the same frame again (two paths) or an older one. */
function sealedNotAfter(a: Sealed, b: Sealed): boolean {
  return a.epoch < b.epoch || (a.epoch === b.epoch && a.counter <= b.counter);
}

/** The first track fragment's track and decode time, or undefined if the fragment does not say. */
function firstDecodeTime(payload: Uint8Array): TrackDecodeTime | undefined {
  try {
    return decodeTimes(payload)[0];
  } catch (e) {
    if (e instanceof Fmp4TimeError) return undefined;
    throw e;
  }
}

export class FragmentOrder {
  #init: Uint8Array | undefined;
  #lastSealed: Sealed | undefined;
  /** The last fragment let through: its capture time (hub clock) and bytes (for a tie). */
  #lastCapture = -Infinity;
  #lastPayload: Uint8Array | undefined;
  /**
   * Per track, the decode time of the last fragment let through that starts with it. One-frame
   * fragments of a camera with audio alternate video-only and audio-only fragments, whose decode
   * times are in different timescales (90 kHz, 48 kHz): a tie is only ever broken within a track.
   */
  #lastDecode = new Map<number, number>();
  #needKeyframe = true;
  skipped = 0;

  /** Whether to append this frame (`init`: a new init segment), or to leave it out. */
  accept(f: OrderedFrame): OrderDecision {
    const sealed = { epoch: f.epoch, counter: f.counter };
    if (this.#lastSealed !== undefined && sealedNotAfter(sealed, this.#lastSealed)) return this.#skip();
    if (f.frameType === 'init') {
      // Sealed later than everything before it: fragments sealed earlier are covered by the GOP
      // that follows it, so they are skipped by the order check above.
      this.#lastSealed = sealed;
      this.#needKeyframe = true;
      if (this.#init !== undefined && equalBytes(this.#init, f.payload)) return 'skip';
      this.#init = f.payload;
      // A new init segment restarts the media (a camera's new stream): nothing before it repeats.
      this.#lastCapture = -Infinity;
      this.#lastPayload = undefined;
      this.#lastDecode.clear();
      return 'init';
    }
    if (this.#init === undefined) return this.#skip();
    if (this.#isRepeat(f)) {
      // The GOP sent again runs without a gap from its keyframe: if that keyframe is one the decoder
      // has, so are the fragments after it up to the newest it has, and the next new one follows on.
      if (f.frameType === 'keyframe') this.#needKeyframe = false;
      return this.#skip();
    }
    if (this.#needKeyframe && f.frameType !== 'keyframe') return this.#skip();
    this.#needKeyframe = false;
    this.#lastSealed = sealed;
    this.#lastCapture = f.captureTime;
    this.#lastPayload = f.payload;
    const first = firstDecodeTime(f.payload);
    if (first !== undefined) this.#lastDecode.set(first.trackId, first.decodeTime);
    return 'fragment';
  }

  /**
   * A fragment already let through, sent again. The capture time (the hub's clock when ffmpeg gave
   * it the fragment) identifies it; two fragments from one read share a millisecond, so a tie is
   * broken by the media's own decode time, compared with the last one let through of the same track
   * (none yet since the init segment: it is new).
   */
  #isRepeat(f: OrderedFrame): boolean {
    if (f.captureTime !== this.#lastCapture) return f.captureTime < this.#lastCapture;
    const now = firstDecodeTime(f.payload);
    if (now === undefined) return equalBytes(f.payload, this.#lastPayload ?? new Uint8Array(0));
    const last = this.#lastDecode.get(now.trackId);
    return last !== undefined && now.decodeTime <= last;
  }

  /** A fragment was lost (tampered, dropped by the relay): wait for the next keyframe. */
  resync(): void {
    this.#needKeyframe = true;
  }

  /** The decoder was rebuilt: it needs an init segment again. */
  reset(): void {
    this.#init = undefined;
    this.#lastSealed = undefined;
    this.#lastCapture = -Infinity;
    this.#lastPayload = undefined;
    this.#lastDecode.clear();
    this.#needKeyframe = true;
  }

  get hasInit(): boolean {
    return this.#init !== undefined;
  }

  #skip(): OrderDecision {
    this.skipped++;
    return 'skip';
  }
}
