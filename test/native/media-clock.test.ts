import { describe, expect, it } from 'vitest';
import { MediaClockWatch } from '../../native/media-clock.ts';

/** Feeds fragments every `stepMs` of wall time whose media time advances by `mediaStepMs`; the first verdict that is true, as wall ms. */
function run(watch: MediaClockWatch, stepMs: number, mediaStepMs: number, untilMs: number, start = { wall: 0, media: 0 }): number | undefined {
  for (let wall = start.wall, media = start.media; wall <= untilMs; wall += stepMs, media += mediaStepMs) {
    if (watch.observe(media, wall)) return wall;
  }
  return undefined;
}

describe('MediaClockWatch', () => {
  it('says nothing for a live camera, one slower than real time, or ffmpeg catching up on a backlog', () => {
    expect(run(new MediaClockWatch(5000), 333, 333, 60_000)).toBeUndefined();
    expect(run(new MediaClockWatch(5000), 1000, 900, 60_000)).toBeUndefined(); // a clock 10% slow
    expect(run(new MediaClockWatch(5000), 10, 333, 60_000)).toBeUndefined(); // a burst
  });

  it('flags media time that stands still (timestamps clamped after they went back) within about one window', () => {
    const watch = new MediaClockWatch(5000);
    expect(run(watch, 333, 333, 10_000)).toBeUndefined();
    // From here ffmpeg clamps: one tick (1/90000 s) per frame.
    const at = run(watch, 333, 1 / 90, 30_000, { wall: 10_333, media: 10_333 });
    expect(at).toBeDefined();
    expect(at!).toBeLessThanOrEqual(10_333 + 2 * 5000);
  });

  it('starts a new window when media time goes back, and refuses nonsense settings', () => {
    const watch = new MediaClockWatch(5000);
    expect(watch.observe(10_000, 0)).toBe(false);
    expect(watch.observe(2_000, 6000)).toBe(false); // a restarted stream's times
    expect(watch.observe(2_100, 8000)).toBe(false); // inside the new window
    expect(() => new MediaClockWatch(0)).toThrow(RangeError);
    expect(() => new MediaClockWatch(1000, 1)).toThrow(RangeError);
  });
});
