// Which decrypted fragments reach the decoder or the file: init first, then capture order across the
// two paths (GOP sent directly, live topic), each fragment once (the GOP sent again on a re-watch),
// and after a loss nothing until the next keyframe.
import { beforeAll, describe, expect, it } from 'vitest';
import { cryptoReady } from '../../../crypto/sodium.ts';
import { FragmentOrder } from '../../../phone/core/fragment-order.ts';
import { codecLabel, isH265 } from '../../../phone/app/src/order.ts';
import type { FrameType } from '../../../crypto/frame.ts';
import { fragment } from './fmp4-boxes.ts';

/** A frame sealed with `counter`; captured at `counter` ms unless said (live frames: in order). */
const f = (frameType: FrameType, epoch: number, counter: number, payload: Uint8Array = Uint8Array.of(1), captureTime = counter) =>
  ({ frameType, epoch, counter: BigInt(counter), payload, captureTime });

beforeAll(() => cryptoReady());

describe('FragmentOrder', () => {
  it('skips everything before the init segment', () => {
    const o = new FragmentOrder();
    expect(o.accept(f('keyframe', 1, 3))).toBe('skip');
    expect(o.accept(f('init', 1, 10))).toBe('init');
    expect(o.accept(f('keyframe', 1, 11))).toBe('fragment');
    expect(o.accept(f('delta', 1, 12))).toBe('fragment');
  });

  it('drops live frames sealed before the GOP, and repeats', () => {
    const o = new FragmentOrder();
    o.accept(f('init', 1, 10));
    expect(o.accept(f('delta', 1, 9))).toBe('skip'); // live, sealed before the init: the GOP covers it
    expect(o.accept(f('keyframe', 1, 11))).toBe('fragment');
    expect(o.accept(f('keyframe', 1, 11))).toBe('skip');
    expect(o.accept(f('delta', 1, 13))).toBe('fragment');
    expect(o.accept(f('delta', 1, 12))).toBe('skip');
  });

  it('orders by epoch first: counters restart in a new epoch', () => {
    const o = new FragmentOrder();
    o.accept(f('init', 1, 10));
    o.accept(f('keyframe', 1, 11));
    expect(o.accept(f('delta', 2, 0, Uint8Array.of(1), 12))).toBe('fragment');
    expect(o.accept(f('delta', 1, 500))).toBe('skip');
  });

  it('waits for a keyframe first and after a loss', () => {
    const o = new FragmentOrder();
    o.accept(f('init', 1, 0));
    expect(o.accept(f('delta', 1, 1))).toBe('skip');
    expect(o.accept(f('keyframe', 1, 2))).toBe('fragment');
    o.resync();
    expect(o.accept(f('delta', 1, 4))).toBe('skip');
    expect(o.accept(f('keyframe', 1, 5))).toBe('fragment');
    expect(o.accept(f('delta', 1, 6))).toBe('fragment');
  });

  it('writes the GOP sent again on a re-watch once: new counters, same capture times', () => {
    const o = new FragmentOrder();
    expect(o.accept(f('init', 1, 10, Uint8Array.of(7), 1000))).toBe('init');
    // The cached GOP and live fragments: captured at 100..140.
    expect(o.accept(f('keyframe', 1, 11, Uint8Array.of(1), 100))).toBe('fragment');
    for (let i = 1; i <= 4; i++) expect(o.accept(f('delta', 1, 11 + i, Uint8Array.of(1), 100 + 10 * i))).toBe('fragment');
    // A re-watch: the same init, then the same GOP sealed anew, then what the phone has not seen.
    expect(o.accept(f('init', 1, 30, Uint8Array.of(7), 2000))).toBe('skip');
    expect(o.accept(f('keyframe', 1, 31, Uint8Array.of(1), 100))).toBe('skip');
    for (let i = 1; i <= 4; i++) expect(o.accept(f('delta', 1, 31 + i, Uint8Array.of(1), 100 + 10 * i))).toBe('skip');
    // Follows on from the repeated GOP without a gap: no keyframe needed.
    expect(o.accept(f('delta', 1, 36, Uint8Array.of(1), 150))).toBe('fragment');
    expect(o.accept(f('delta', 1, 37, Uint8Array.of(1), 160))).toBe('fragment');
  });

  it('takes the part of a GOP sent again that it lost, and a new GOP after a longer gap', () => {
    const o = new FragmentOrder();
    o.accept(f('init', 1, 10, Uint8Array.of(7), 1000));
    o.accept(f('keyframe', 1, 11, Uint8Array.of(1), 100));
    o.accept(f('delta', 1, 12, Uint8Array.of(1), 110));
    o.resync(); // 120 was lost
    expect(o.accept(f('delta', 1, 14, Uint8Array.of(1), 130))).toBe('skip');
    o.accept(f('init', 1, 20, Uint8Array.of(7), 2000));
    expect(o.accept(f('keyframe', 1, 21, Uint8Array.of(1), 100))).toBe('skip');
    expect(o.accept(f('delta', 1, 22, Uint8Array.of(1), 110))).toBe('skip');
    expect(o.accept(f('delta', 1, 23, Uint8Array.of(1), 120))).toBe('fragment');
    expect(o.accept(f('delta', 1, 24, Uint8Array.of(1), 130))).toBe('fragment');
    // Away for longer than a GOP: the GOP sent now is new from its keyframe.
    o.accept(f('init', 1, 40, Uint8Array.of(7), 5000));
    expect(o.accept(f('delta', 1, 41, Uint8Array.of(1), 300))).toBe('skip');
    expect(o.accept(f('keyframe', 1, 42, Uint8Array.of(1), 400))).toBe('fragment');
  });

  it('tells two fragments captured in the same millisecond apart by their decode time', () => {
    const o = new FragmentOrder();
    o.accept(f('init', 1, 10, Uint8Array.of(7), 1000));
    expect(o.accept(f('keyframe', 1, 11, fragment([[1, 9000]]), 100))).toBe('fragment');
    expect(o.accept(f('delta', 1, 12, fragment([[1, 15000]]), 100))).toBe('fragment');
    o.accept(f('init', 1, 20, Uint8Array.of(7), 2000));
    expect(o.accept(f('keyframe', 1, 21, fragment([[1, 9000]]), 100))).toBe('skip');
    expect(o.accept(f('delta', 1, 22, fragment([[1, 15000]]), 100))).toBe('skip');
    expect(o.accept(f('delta', 1, 23, fragment([[1, 21000]]), 100))).toBe('fragment');
  });

  it('one-frame fragments of a camera with audio: a video and an audio fragment of one read are both new, each once', () => {
    // Video-only and audio-only fragments alternate; their decode times are in different timescales
    // (90 kHz and 48 kHz), so the audio's number is smaller than the video's it was read with.
    const o = new FragmentOrder();
    o.accept(f('init', 1, 10, Uint8Array.of(7), 1000));
    expect(o.accept(f('keyframe', 1, 11, fragment([[1, 90_000]]), 100))).toBe('fragment');
    expect(o.accept(f('delta', 1, 12, fragment([[2, 48_000]]), 100))).toBe('fragment');
    expect(o.accept(f('delta', 1, 13, fragment([[1, 96_000]]), 100))).toBe('fragment');
    expect(o.accept(f('delta', 1, 14, fragment([[2, 49_024]]), 101))).toBe('fragment');
    // The GOP sent again (new counters, the same capture times): none of it twice; then new media.
    o.accept(f('init', 1, 20, Uint8Array.of(7), 2000));
    expect(o.accept(f('keyframe', 1, 21, fragment([[1, 90_000]]), 100))).toBe('skip');
    expect(o.accept(f('delta', 1, 22, fragment([[2, 48_000]]), 100))).toBe('skip');
    expect(o.accept(f('delta', 1, 23, fragment([[1, 96_000]]), 100))).toBe('skip');
    expect(o.accept(f('delta', 1, 24, fragment([[2, 49_024]]), 101))).toBe('skip');
    expect(o.accept(f('delta', 1, 25, fragment([[1, 102_000]]), 101))).toBe('fragment');
    expect(o.accept(f('delta', 1, 26, fragment([[2, 50_048]]), 101))).toBe('fragment');
  });

  it('starts afresh after a new init segment (a camera restarted: capture times go on, media times restart)', () => {
    const o = new FragmentOrder();
    o.accept(f('init', 1, 10, Uint8Array.of(7), 1000));
    o.accept(f('keyframe', 1, 11, Uint8Array.of(1), 900));
    expect(o.accept(f('init', 1, 12, Uint8Array.of(8), 1000))).toBe('init');
    expect(o.accept(f('keyframe', 1, 13, Uint8Array.of(1), 800))).toBe('fragment'); // e.g. the hub's clock stepped back
  });

  it('appends a repeated init segment once, a different one again', () => {
    const o = new FragmentOrder();
    expect(o.accept(f('init', 1, 0, Uint8Array.of(1, 2)))).toBe('init');
    o.accept(f('keyframe', 1, 1));
    expect(o.accept(f('init', 1, 5, Uint8Array.of(1, 2)))).toBe('skip');
    expect(o.accept(f('delta', 1, 6))).toBe('skip'); // after any init: a keyframe first
    expect(o.accept(f('init', 1, 7, Uint8Array.of(3)))).toBe('init');
    o.reset();
    expect(o.hasInit).toBe(false);
    expect(o.accept(f('init', 1, 7, Uint8Array.of(3)))).toBe('init');
  });
});

describe('codec names', () => {
  it('names what the user sees', () => {
    expect(codecLabel('avc1.42E01E,mp4a.40.2')).toBe('H.264 + AAC');
    expect(codecLabel('hvc1.1.6.L93.B0')).toBe('H.265');
    expect(codecLabel(undefined)).toBe('unknown');
    expect(isH265('avc1.42E01E, hev1.1.6.L93.B0')).toBe(true);
    expect(isH265('avc1.42E01E')).toBe(false);
  });
});
