import { describe, expect, it } from 'vitest';
import {
  DEADBAND_S, FRAGMENT_PRIOR_S, JITTER_PRIOR_S, LiveEdge, MARGIN_S, MAX_RATE, MIN_JITTER_S, SEEK_BEHIND_S, START_SEEK_BEHIND_S,
  rangesOf,
} from '../../../phone/core/live-edge.ts';

/** A clock the test moves by hand (ms). */
class Clock {
  t = 10_000;
  readonly now = (): number => this.t;
}

/** Appends of `fragment` seconds, one every `fragment` seconds of the clock, from media time `from`. */
function feed(edge: LiveEdge, clock: Clock, fragment: number, count: number, from = 0): number {
  let end = from;
  for (let i = 0; i < count; i++) {
    clock.t += fragment * 1000;
    edge.observe((end += fragment), 1);
  }
  return end;
}

/** The hub's cached GOP: `seconds` of media appended in one burst (a few ms apart). */
function burst(edge: LiveEdge, clock: Clock, fragment: number, seconds: number, from = 0): number {
  let end = from;
  for (let i = 0; i < Math.round(seconds / fragment); i++) {
    clock.t += 2;
    edge.observe((end += fragment), 1);
  }
  return end;
}

const FRAME = 1 / 15;

describe('LiveEdge: what it learns', () => {
  it('starts from priors, then learns one-frame fragments and an on-time network', () => {
    const clock = new Clock();
    const edge = new LiveEdge(clock.now);
    expect(edge.cushion).toBeCloseTo(FRAGMENT_PRIOR_S + JITTER_PRIOR_S + MARGIN_S, 9);
    feed(edge, clock, FRAME, 30);
    expect(edge.fragment).toBeCloseTo(FRAME, 9);
    expect(edge.jitter).toBe(MIN_JITTER_S);
    expect(edge.cushion).toBeCloseTo(FRAME + MIN_JITTER_S + MARGIN_S, 9);
  });

  it('learns the fragment length (300 ms fragments at 15 fps are 5 frames) and forgets old ones within the window', () => {
    const clock = new Clock();
    const edge = new LiveEdge(clock.now);
    let end = feed(edge, clock, 5 * FRAME, 10);
    expect(edge.fragment).toBeCloseTo(5 * FRAME, 9);
    // The owner shortened the fragments: learnt once the long ones are 5 s old.
    end = feed(edge, clock, FRAME, 80, end);
    expect(edge.fragment).toBeCloseTo(FRAME, 9);
    expect(end).toBeGreaterThan(0);
  });

  it('learns how late fragments land, and forgets it', () => {
    const clock = new Clock();
    const edge = new LiveEdge(clock.now);
    let end = feed(edge, clock, FRAME, 30);
    // One fragment 150 ms late, the next two bunched right behind it.
    clock.t += FRAME * 1000 + 150;
    edge.observe((end += FRAME), 1);
    clock.t += 1;
    edge.observe((end += FRAME), 1);
    clock.t += 1;
    edge.observe((end += FRAME), 1);
    expect(edge.jitter).toBeCloseTo(0.15, 2);
    end = feed(edge, clock, FRAME, 90, end); // 6 s on time
    expect(edge.jitter).toBe(MIN_JITTER_S);
  });

  it('does not take the cached GOP (a burst) for jitter', () => {
    const clock = new Clock();
    const edge = new LiveEdge(clock.now);
    burst(edge, clock, FRAME, 1.5);
    expect(edge.jitter).toBe(JITTER_PRIOR_S);
    expect(edge.fragment).toBeCloseTo(FRAME, 9);
  });

  it('does not take a cached GOP that trickles in slowly (a busy link) for jitter', () => {
    const clock = new Clock();
    const edge = new LiveEdge(clock.now);
    let end = 0;
    for (let i = 0; i < 5; i++) {
      clock.t += 200; // 333 ms fragments of the GOP, 200 ms apart: faster than live, slower than a burst
      edge.observe((end += 5 * FRAME), 1);
    }
    feed(edge, clock, 5 * FRAME, 3, end);
    expect(edge.jitter).toBe(MIN_JITTER_S);
  });

  it('starts learning again after a gap, time going back, or an outage longer than jitter', () => {
    const clock = new Clock();
    const edge = new LiveEdge(clock.now);
    let end = feed(edge, clock, FRAME, 30);
    // An outage of 4 s, then the fragments it held come at once and the stream goes on.
    clock.t += 4000;
    edge.observe((end += FRAME), 1);
    end = burst(edge, clock, FRAME, 4, end);
    end = feed(edge, clock, FRAME, 5, end);
    expect(edge.jitter).toBe(MIN_JITTER_S); // not 4 s: that would hold the picture back 4 s
    // A lost fragment: the next lands in a range of its own.
    clock.t += 300;
    edge.observe((end += 0.3), 2);
    expect(edge.fragment).toBeCloseTo(FRAME, 9);
    // A restarted stream's times go back.
    clock.t += 67;
    edge.observe(1, 1);
    expect(edge.jitter).toBe(JITTER_PRIOR_S);
    edge.reset();
    expect(edge.cushion).toBeCloseTo(FRAGMENT_PRIOR_S + JITTER_PRIOR_S + MARGIN_S, 9);
  });
});

describe('LiveEdge: steering', () => {
  it('after the cached GOP, seeks to just behind its newest frame, inside what is buffered', () => {
    const clock = new Clock();
    const edge = new LiveEdge(clock.now);
    const end = burst(edge, clock, 5 * FRAME, 5 * FRAME * 5); // 1.67 s of the GOP cached
    const s = edge.steer({ currentTime: 0, buffered: [[0, end]] });
    expect(s.seek).toBeDefined();
    expect(s.seek!).toBeLessThan(end);
    expect(end - s.seek!).toBeLessThanOrEqual(5 * FRAME + JITTER_PRIOR_S + MARGIN_S + 1e-9);
    expect(s.rate).toBe(1);
  });

  it('starts at the newest frame, inside the newest range', () => {
    const edge = new LiveEdge(new Clock().now);
    expect(edge.newest({ currentTime: 0, buffered: [] })).toBeUndefined();
    expect(edge.newest({ currentTime: 0, buffered: [[0, 1], [3, 4.5]] })).toBeCloseTo(4.5 - MARGIN_S, 9);
    expect(edge.newest({ currentTime: 0, buffered: [[3, 3.01]] })).toBe(3);
  });

  it('plays faster in proportion when a little behind, seeks when far behind, leaves it alone near the target or ahead', () => {
    const clock = new Clock();
    const edge = new LiveEdge(clock.now);
    const end = feed(edge, clock, FRAME, 45, 0);
    const target = edge.target({ currentTime: 0, buffered: [[0, end]] })!;
    expect(target).toBeCloseTo(end - edge.cushion, 6);
    const at = (behind: number) => edge.steer({ currentTime: target - behind, buffered: [[0, end]] });
    expect(at(0)).toMatchObject({ seek: undefined, rate: 1 });
    expect(at(DEADBAND_S / 2)).toMatchObject({ seek: undefined, rate: 1 });
    expect(at(0.1).rate).toBeCloseTo(1.2, 6);
    expect(at(0.1).seek).toBeUndefined();
    expect(at(0.3)).toMatchObject({ seek: undefined, rate: MAX_RATE });
    expect(at(SEEK_BEHIND_S + 0.2).seek).toBeCloseTo(target, 6);
    expect(at(-0.05)).toMatchObject({ seek: undefined, rate: 1 });
    // A play head left in an older range (before a gap) goes to the newest one.
    const s = edge.steer({ currentTime: 1, buffered: [[0, 1.2], [2, end]] });
    expect(s.seek).toBeCloseTo(target, 6);
  });

  it('never aims past the buffered end while fragments are late, nor before the newest range', () => {
    const clock = new Clock();
    const edge = new LiveEdge(clock.now);
    const end = feed(edge, clock, FRAME, 45, 0);
    clock.t += 3000; // nothing for 3 s
    expect(edge.target({ currentTime: 0, buffered: [[0, end]] })).toBeCloseTo(end - MARGIN_S, 9);
    expect(edge.target({ currentTime: 0, buffered: [[end - 0.01, end]] })).toBeCloseTo(end - 0.01, 9);
    expect(new LiveEdge(clock.now).steer({ currentTime: 0, buffered: [] })).toMatchObject({ seek: undefined, rate: 1 });
    expect(rangesOf({ length: 2, start: (i) => [0, 2][i]!, end: (i) => [1, 3][i]! })).toEqual([[0, 1], [2, 3]]);
  });
});

/**
 * A player driven by LiveEdge as player.dom.ts drives it, against a camera and a network with the
 * given fragment length and jitter: steered after every append and every 250 ms; the play head moves
 * at its rate and stops at the buffered end (as MSE does) until more media lands. The tap lands at a
 * random moment of a 2 s GOP, so the hub's cached GOP holds 0-2 s. Returns the picture's delay behind
 * the newest media the camera has made, sampled every 10 ms after `settleS`, and how long it stalled
 * after `settleS` (and when each stall began).
 */
function simulate(opts: { fragment: number; jitter: number; seconds: number; seed: number; settleS: number }) {
  let seed = opts.seed;
  const random = (): number => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
  const clock = new Clock();
  const edge = new LiveEdge(clock.now);
  const t0 = clock.t;
  const cached = Math.floor((random() * 2) / opts.fragment) * opts.fragment + opts.fragment;
  let end = 0;
  const sent: number[] = []; // wall ms at which each later fragment lands
  let current = 0;
  let rate = 1;
  const delays: number[] = [];
  let stalledMs = 0;
  const stallAt: number[] = [];
  let stalled = false;
  // Media time m is made at wall time t0 + (m - cached) s; fragment k (ending at cached + k*F) is
  // complete then and lands after a random network delay in [0, jitter].
  const steer = (): void => {
    const s = edge.steer({ currentTime: current, buffered: [[0, end]] });
    if (s.seek !== undefined) current = s.seek;
    rate = s.rate;
  };
  // The cached GOP lands at once.
  for (let m = opts.fragment; m <= cached + 1e-9; m += opts.fragment) {
    clock.t += 1;
    end = m;
    edge.observe(end, 1);
  }
  steer();
  const firstDelay = cached - current;
  for (let k = 1; k * opts.fragment <= opts.seconds + 1; k++) sent.push(t0 + k * opts.fragment * 1000 + random() * opts.jitter * 1000);
  sent.sort((a, b) => a - b);
  let next = 0;
  let tick = clock.t;
  for (let t = clock.t; t < t0 + opts.seconds * 1000; t += 1) {
    clock.t = t;
    const made = cached + (t - t0) / 1000; // newest media the camera has made
    if (current < end) {
      current = Math.min(end, current + (rate * 1) / 1000);
      stalled = false;
    } else {
      if (!stalled) stallAt.push(Math.round(t - t0));
      stalled = true;
      if (t - t0 >= opts.settleS * 1000) stalledMs++;
    }
    while (next < sent.length && sent[next]! <= t) {
      next++;
      end += opts.fragment;
      edge.observe(end, 1);
      steer();
    }
    if (t - tick >= 250) {
      tick = t;
      steer();
    }
    if (t - t0 >= opts.settleS * 1000 && (t - t0) % 10 === 0) delays.push(made - current);
  }
  return { firstDelay, delays, stalledMs, cached, stallAt };
}

describe('LiveEdge driving a player (simulated)', () => {
  for (const [name, fragment, jitter] of [['one-frame fragments', FRAME, 0.03], ['300 ms fragments', 5 * FRAME, 0.05]] as const) {
    it(`${name}: shows the newest media at once, wherever in the GOP the tap lands, and stays close to it`, () => {
      for (let seed = 1; seed <= 10; seed++) {
        const r = simulate({ fragment, jitter, seconds: 12, seed, settleS: 1 });
        // The first frame shown is within a cushion of the newest the hub had, not the GOP's keyframe.
        // (Within START_SEEK_BEHIND_S of that target it does not seek.)
        expect(r.firstDelay, `seed ${seed}, cached ${r.cached.toFixed(2)} s`).toBeLessThanOrEqual(fragment + JITTER_PRIOR_S + MARGIN_S + START_SEEK_BEHIND_S + 1e-6);
        const worst = Math.max(...r.delays);
        const mean = r.delays.reduce((a, b) => a + b, 0) / r.delays.length;
        // The picture is behind what the camera made by at most a fragment (waiting to be cut), the
        // jitter, the cushion and a little settling; on average much less.
        expect(worst, `seed ${seed}`).toBeLessThan(2 * fragment + 2 * jitter + 2 * MARGIN_S + 0.1);
        expect(mean, `seed ${seed}`).toBeLessThan(1.5 * fragment + jitter + MARGIN_S + 0.05);
        // It may stop at the buffered end when a fragment is later than any seen so far, briefly.
        expect(r.stalledMs, `seed ${seed}, stalls at ${r.stallAt.join(', ')} ms`).toBeLessThan(0.01 * 12_000);
      }
    });
  }

  it('catches up after the tab was slow (the play head left 3 s behind)', () => {
    const clock = new Clock();
    const edge = new LiveEdge(clock.now);
    const end = feed(edge, clock, FRAME, 120);
    const s = edge.steer({ currentTime: end - 3, buffered: [[end - 10, end]] });
    expect(s.seek).toBeGreaterThan(end - edge.cushion - 0.01);
  });
});
