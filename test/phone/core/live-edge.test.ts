import { describe, expect, it } from 'vitest';
import { JITTER_S, LiveEdge, MIN_CUSHION_S } from '../../../phone/core/live-edge.ts';

/** Appends of `fragment` seconds each, starting at `from`. */
function feed(edge: LiveEdge, fragment: number, count: number, from = 0): number {
  let end = from;
  for (let i = 0; i < count; i++) edge.observe((end += fragment), 1);
  return end;
}

describe('LiveEdge', () => {
  it('keeps the minimum cushion for one-frame fragments', () => {
    const edge = new LiveEdge();
    expect(edge.cushion).toBe(MIN_CUSHION_S);
    feed(edge, 1 / 15, 20);
    expect(edge.cushion).toBe(MIN_CUSHION_S);
  });

  it('sits more than a fragment behind the newest media, so the play head never runs dry between fragments', () => {
    const edge = new LiveEdge();
    feed(edge, 1 / 3, 10); // 300 ms fragments at 15 fps are 5 frames, 333 ms
    expect(edge.cushion).toBeCloseTo(1 / 3 + JITTER_S, 6);
    expect(edge.cushion).toBeGreaterThan(1 / 3);
    expect(edge.maxLag(1.5)).toBe(1.5);
    feed(edge, 1.2, 4, 10);
    expect(edge.maxLag(1.5)).toBeCloseTo(2 * (1.2 + JITTER_S), 6);
  });

  it('follows the longest recent step, forgets old ones, and ignores gaps and time going back', () => {
    const edge = new LiveEdge();
    let end = feed(edge, 0.8, 3);
    end = feed(edge, 0.2, 16, end); // the owner shortened the fragments: 16 steps later it is learnt
    expect(edge.cushion).toBeCloseTo(0.2 + JITTER_S, 6);
    edge.observe(end + 30, 1); // a reconnect gap
    edge.observe(end + 29, 1); // a restarted stream's times
    expect(edge.cushion).toBeCloseTo(0.2 + JITTER_S, 6);
    // A fragment lost: the next one lands after a gap, in a range of its own; not a fragment length.
    edge.observe(end + 31.5, 2);
    expect(edge.cushion).toBeCloseTo(0.2 + JITTER_S, 6);
    edge.observe(end + 31.7, 2);
    expect(edge.cushion).toBeCloseTo(0.2 + JITTER_S, 6);
    // The longest fragment the hub makes (2 s) is still learnt.
    edge.observe(end + 33.7, 2);
    expect(edge.cushion).toBeCloseTo(2 + JITTER_S, 6);
    edge.reset();
    expect(edge.cushion).toBe(MIN_CUSHION_S);
  });
});
