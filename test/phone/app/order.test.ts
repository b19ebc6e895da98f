// Which decrypted fragments reach the decoder: init first, then capture order across the two paths
// (GOP sent directly, live topic), and after a loss nothing until the next keyframe.
import { beforeAll, describe, expect, it } from 'vitest';
import { cryptoReady } from '../../../crypto/sodium.ts';
import { FragmentOrder, codecLabel, isH265 } from '../../../phone/app/src/order.ts';
import type { FrameType } from '../../../crypto/frame.ts';

const f = (frameType: FrameType, epoch: number, counter: number, payload = Uint8Array.of(1)) => ({ frameType, epoch, counter: BigInt(counter), payload });

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
    expect(o.accept(f('delta', 2, 0))).toBe('fragment');
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
