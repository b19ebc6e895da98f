// Which decrypted fragments may go into the video decoder, and when. Pure (no DOM), so it is tested
// in Node. Fragments reach the phone by two paths, the init segment and GOP sent directly when it
// starts watching and the camera's live topic, so the same picture can arrive twice and out of
// order; a decoder must see the init segment first, then fragments in capture order, and after a
// loss nothing until the next keyframe (a delta whose reference is missing can break decoding).
import { equalBytes } from '../../../crypto/bytes.ts';
import type { OpenedFrame } from '../../../crypto/frame.ts';

export type OrderDecision = 'init' | 'fragment' | 'skip';

interface Position {
  readonly epoch: number;
  readonly counter: bigint;
}

function notAfter(a: Position, b: Position): boolean {
  return a.epoch < b.epoch || (a.epoch === b.epoch && a.counter <= b.counter);
}

export class FragmentOrder {
  #init: Uint8Array | undefined;
  #last: Position | undefined;
  #needKeyframe = true;
  skipped = 0;

  /** Whether to append this frame (`init`: a new init segment), or to leave it out. */
  accept(f: Pick<OpenedFrame, 'frameType' | 'epoch' | 'counter' | 'payload'>): OrderDecision {
    const at = { epoch: f.epoch, counter: f.counter };
    if (this.#last !== undefined && notAfter(at, this.#last)) return this.#skip();
    if (f.frameType === 'init') {
      // Sealed later than everything before it: fragments sealed earlier are covered by the GOP
      // that follows it, so they are skipped by the order check above.
      this.#last = at;
      this.#needKeyframe = true;
      if (this.#init !== undefined && equalBytes(this.#init, f.payload)) return 'skip';
      this.#init = f.payload;
      return 'init';
    }
    if (this.#init === undefined) return this.#skip();
    if (this.#needKeyframe && f.frameType !== 'keyframe') return this.#skip();
    this.#needKeyframe = false;
    this.#last = at;
    return 'fragment';
  }

  /** A fragment was lost (tampered, dropped by the relay): wait for the next keyframe. */
  resync(): void {
    this.#needKeyframe = true;
  }

  /** The decoder was rebuilt: it needs an init segment again. */
  reset(): void {
    this.#init = undefined;
    this.#last = undefined;
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

/** A readable codec name for the camera list and the live view. */
export function codecLabel(codecs: string | undefined): string {
  if (!codecs) return 'unknown';
  const names = codecs.split(',').map((c) => c.trim().toLowerCase()).map((c) => {
    if (c.startsWith('avc1') || c.startsWith('avc3')) return 'H.264';
    if (c.startsWith('hvc1') || c.startsWith('hev1')) return 'H.265';
    if (c.startsWith('mp4a')) return 'AAC';
    if (c.startsWith('av01')) return 'AV1';
    if (c.startsWith('vp09')) return 'VP9';
    if (c === 'opus') return 'Opus';
    return c;
  });
  return names.join(' + ');
}

/** The video codec alone ('H.265' for 'hvc1…,mp4a…'), for "H.265 → H.264". */
export function videoCodecLabel(codecs: string | undefined): string {
  const video = codecs?.split(',').map((c) => c.trim()).find((c) => !/^(mp4a|opus)/i.test(c));
  return codecLabel(video);
}

export function isH265(codecs: string | undefined): boolean {
  return codecs !== undefined && /(^|,)\s*(hvc1|hev1)/i.test(codecs);
}
