import { describe, expect, it } from 'vitest';
import { open, tempDataDir } from './helpers.ts';

describe('epochs', () => {
  it('starts at 0 and counts up, logging reason and time', () => {
    let t = 1_800_000_000;
    const store = open(tempDataDir(), { now: () => t });
    expect(store.currentEpoch()).toBe(0);
    expect(store.nextEpoch('start')).toBe(1);
    t += 10;
    expect(store.nextEpoch('device-added')).toBe(2);
    expect(store.currentEpoch()).toBe(2);
    expect(store.listEpochs()).toEqual([
      { number: 2, reason: 'device-added', startedAt: 1_800_000_010 },
      { number: 1, reason: 'start', startedAt: 1_800_000_000 },
    ]);
  });

  it('is monotonic across close and re-open and never repeats', () => {
    const dir = tempDataDir();
    const seen = new Set<number>();
    let last = 0;
    for (let round = 0; round < 5; round++) {
      const store = open(dir);
      expect(store.currentEpoch()).toBe(last);
      for (const reason of ['start', 'camera-added', 'camera-removed', 'device-removed', 'daily'] as const) {
        const e = store.nextEpoch(reason);
        expect(e).toBeGreaterThan(last);
        expect(seen.has(e)).toBe(false);
        seen.add(e);
        last = e;
      }
      store.close();
    }
    expect(seen.size).toBe(25);
  });

  it('interleaves two stores on one database without handing out a number twice', () => {
    const dir = tempDataDir();
    const a = open(dir);
    const b = open(dir);
    const got: number[] = [];
    for (let i = 0; i < 20; i++) got.push((i % 2 === 0 ? a : b).nextEpoch('daily'));
    expect(got).toEqual(Array.from({ length: 20 }, (_, i) => i + 1));
    expect(a.currentEpoch()).toBe(20);
  });

  it('refuses an unknown reason', () => {
    const store = open(tempDataDir());
    expect(() => store.nextEpoch('because' as never)).toThrow(/unknown reason/);
    expect(store.currentEpoch()).toBe(0);
  });
});
