// The motion model and the event tracker on synthetic frames: a moving block is motion, a static
// scene with a ticking clock (digits redrawn every second, a running-time counter redrawn every frame)
// is not, nor is sensor noise or a change of light; a mask hides motion, zones are named.
import { describe, expect, it } from 'vitest';
import { MotionModel, sensitivityParams, type GrayFrame, type MotionSettings } from '../../../main/events/motion.ts';
import { EventTracker, type TrackerStep } from '../../../main/events/detect-tracker.ts';
import { checkRect, parseRect, rectsFromJson, rectsToJson, ZoneError } from '../../../main/events/zones.ts';

const W = 320;
const H = 180;
const FPS = 5;

/** A deterministic pseudo-random source (xorshift), so a failure replays. */
function rng(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    return (s >>> 0) / 2 ** 32;
  };
}

/** A textured static scene: gradients and a few bars, like a test card. */
function scene(): Uint8Array {
  const f = new Uint8Array(W * H);
  for (let y = 0; y < H; y++) for (let x = 0; x < W; x++) f[y * W + x] = (40 + ((x * 3 + y) % 160) + (Math.floor(x / 40) % 2) * 30) & 0xff;
  return f;
}

function fill(f: Uint8Array, x0: number, y0: number, w: number, h: number, v: number | ((x: number, y: number) => number)): void {
  for (let y = Math.max(0, y0); y < Math.min(H, y0 + h); y++) for (let x = Math.max(0, x0); x < Math.min(W, x0 + w); x++) f[y * W + x] = typeof v === 'number' ? v : v(x, y);
}

/** Glyph-like strokes of a digit: a 5x7 pattern from the digit's value, scaled by `px`. */
function digit(f: Uint8Array, x0: number, y0: number, d: number, px: number): void {
  const bits = [0x7b6f, 0x2492, 0x73e7, 0x73cf, 0x5bc9, 0x79cf, 0x79ef, 0x7249, 0x7bef, 0x7bcf][d % 10]!; // 3x5 font
  for (let r = 0; r < 5; r++) for (let c = 0; c < 3; c++) fill(f, x0 + c * px, y0 + r * px, px, px, (bits >> (14 - (r * 3 + c))) & 1 ? 235 : 16);
}

/** A camera's overlay: a clock with seconds (top left) and a running time counting tenths (bottom right). */
function overlay(f: Uint8Array, frameNo: number): void {
  const s = Math.floor(frameNo / FPS);
  fill(f, 2, 2, 110, 14, 16); // shaded background
  const hhmmss = [1, 2, 3, 4, Math.floor(s / 10) % 6, s % 10];
  hhmmss.forEach((d, i) => digit(f, 4 + i * 16, 4, d, 2));
  fill(f, W - 112, H - 16, 110, 14, 16);
  const tenths = frameNo * 2; // 10 fps counter seen at 5 fps: changes every frame
  [Math.floor(tenths / 1000) % 10, Math.floor(tenths / 100) % 10, Math.floor(tenths / 10) % 10, tenths % 10, (tenths * 7) % 10, (tenths * 3) % 10]
    .forEach((d, i) => digit(f, W - 110 + i * 16, H - 14, d, 2));
}

function run(frames: number, make: (i: number) => Uint8Array, settings: Partial<MotionSettings> = {}): { moving: number[]; steps: TrackerStep[]; areas: number[] } {
  const model = new MotionModel(W, H, { sensitivity: 5, zones: [], masks: [], ...settings });
  const tracker = new EventTracker();
  const moving: number[] = [];
  const steps: TrackerStep[] = [];
  const areas: number[] = [];
  for (let i = 0; i < frames; i++) {
    const f: GrayFrame = { width: W, height: H, data: make(i) };
    const r = model.analyse(f);
    areas.push(r.area);
    if (r.moving) moving.push(i);
    const step = tracker.observe((i * 1000) / FPS, { moving: r.moving, score: r.area, zones: r.zones });
    if (step) steps.push(step);
  }
  return { moving, steps, areas };
}

const base = scene();

describe('MotionModel', () => {
  it('a block moving across a static scene starts an event, and it ends once the block is gone', () => {
    const { steps } = run(120, (i) => {
      const f = base.slice();
      if (i >= 40 && i < 80) fill(f, 20 + (i - 40) * 7, 70, 30, 30, 250);
      return f;
    });
    expect(steps.map((s) => s.type)).toEqual(expect.arrayContaining(['started', 'ended']));
    const started = steps.find((s) => s.type === 'started')!;
    expect(started.startMs).toBeGreaterThanOrEqual((40 * 1000) / FPS);
    expect(started.startMs).toBeLessThanOrEqual((42 * 1000) / FPS);
    const ended = steps.find((s) => s.type === 'ended')!;
    expect(ended.type === 'ended' && ended.endMs).toBeGreaterThanOrEqual((78 * 1000) / FPS);
    expect(steps.filter((s) => s.type === 'started')).toHaveLength(1);
  });

  it('a static scene with a ticking clock and a running-time counter makes no event over ten minutes', () => {
    const { moving, steps } = run(10 * 60 * FPS, (i) => {
      const f = base.slice();
      overlay(f, i);
      return f;
    });
    expect(moving).toEqual([]);
    expect(steps).toEqual([]);
  });

  it('motion still shows while the clock ticks (the clock is learnt as noise, not the whole picture)', () => {
    const { steps } = run(150, (i) => {
      const f = base.slice();
      overlay(f, i);
      if (i >= 100 && i < 140) fill(f, 20 + (i - 100) * 7, 70, 30, 30, 250);
      return f;
    });
    expect(steps.filter((s) => s.type === 'started')).toHaveLength(1);
  });

  it('one picture of change counts nothing; an event starts at the second picture of motion in the same place', () => {
    // A block that appears for one picture (a digit redrawn, a compression blip) is never moving;
    // a block that walks is moving from its second picture, and the tracker starts the event there.
    const blip = run(80, (i) => {
      const f = base.slice();
      if (i === 40 || i === 50 || i === 51) fill(f, 100 + (i % 2) * 150, 70, 40, 40, 250); // 50 and 51 far apart
      return f;
    });
    expect(blip.moving).toEqual([]);
    const walk = run(80, (i) => {
      const f = base.slice();
      if (i >= 40) fill(f, 20 + (i - 40) * 7, 60, 40, 60, 0); // darker than every pixel of the scene
      return f;
    });
    expect(walk.moving[0]).toBe(41);
    expect(walk.steps[0]).toMatchObject({ type: 'started', startMs: (41 * 1000) / FPS });
  });

  it('two clocks that tick in consecutive pictures, in cells far apart, make no event at the highest sensitivity', () => {
    // The project's test camera has a wall clock (top left) and a running time (bottom right), each
    // with its own phase: here the clock's seconds change at picture 5k and the other's at 5k + 1.
    // With the tracker's minimum duration at 0, two pictures in a row of change anywhere would be
    // an event; the rule is two pictures of change in the same place.
    const { moving, steps } = run(5 * 60 * FPS, (i) => {
      const f = base.slice();
      const s = Math.floor(i / FPS);
      const s2 = Math.floor((i - 1) / FPS);
      fill(f, 2, 2, 40, 14, 16);
      digit(f, 4, 4, Math.floor(s / 10) % 6, 2);
      digit(f, 20, 4, s % 10, 2);
      fill(f, W - 42, H - 16, 40, 14, 16);
      digit(f, W - 40, H - 14, Math.floor(s2 / 10) % 6, 2);
      digit(f, W - 24, H - 14, s2 % 10, 2);
      return f;
    }, { sensitivity: 10 });
    expect(steps).toEqual([]);
    expect(moving).toEqual([]);
  });

  it('a digit that changes and is redrawn sharper a picture later (the encoder catching up) makes no event at the highest sensitivity', () => {
    // Seen with the project's test camera at 10 fps: x264 codes a changed digit coarsely, then
    // refines it in the next frame, so the same cell changes in two pictures in a row. Motion in one
    // cell counts only when that cell moved in both pictures before, or a neighbour did. (Two digits
    // in neighbouring cells that change together and are then refined would still count: open,
    // PROTOCOL 17.1.)
    const { moving, steps } = run(5 * 60 * FPS, (i) => {
      const f = base.slice();
      const s = Math.floor(i / FPS);
      const fresh = i % FPS === 0;
      fill(f, 2, 2, 16, 14, 16); // both digits in the first cell (x 0-19)
      digit(f, 4, 4, Math.floor(s / 10) % 6, 2);
      digit(f, 11, 4, s % 10, 2);
      if (fresh) fill(f, 2, 2, 16, 14, (x, y) => (f[y * W + x]! > 100 ? 190 : 60)); // coarse: 190/60, then 235/16
      return f;
    }, { sensitivity: 10 });
    expect(steps).toEqual([]);
    expect(moving).toEqual([]);
  });

  it('sensor noise on every pixel makes no event', () => {
    const r = rng(7);
    const { moving } = run(600, () => {
      const f = base.slice();
      for (let k = 0; k < f.length; k++) f[k] = Math.max(0, Math.min(255, f[k]! + Math.round((r() + r() + r() - 1.5) * 12)));
      return f;
    });
    expect(moving).toEqual([]);
  });

  it('a change of light (the whole picture brighter at once, or exposure drifting) is not motion', () => {
    const { moving } = run(200, (i) => {
      const f = base.slice();
      const lift = i < 60 ? 0 : i < 120 ? 60 : Math.round((i - 120) * 0.5);
      for (let k = 0; k < f.length; k++) f[k] = Math.min(255, f[k]! + lift);
      return f;
    });
    expect(moving).toEqual([]);
  });

  it('a masked region hides motion in it; the same motion outside the mask shows', () => {
    const mover = (i: number): Uint8Array => {
      const f = base.slice();
      if (i >= 40) fill(f, 180 + ((i * 9) % 100), 100, 30, 30, 250);
      return f;
    };
    expect(run(100, mover, { masks: [{ x: 0.5, y: 0.45, w: 0.5, h: 0.55 }] }).moving).toEqual([]);
    expect(run(100, mover).moving.length).toBeGreaterThan(10);
  });

  it('with zones only they are watched, and an event names the zones it touched', () => {
    const zones = [{ x: 0, y: 0, w: 0.5, h: 1 }, { x: 0.5, y: 0, w: 0.5, h: 1 }];
    const { steps } = run(100, (i) => {
      const f = base.slice();
      if (i >= 40) fill(f, 200 + ((i * 5) % 80), 60, 30, 30, 250);
      return f;
    }, { zones });
    const started = steps.find((s) => s.type === 'started');
    expect(started?.zones).toEqual([1]);
    const outside = run(100, (i) => {
      const f = base.slice();
      if (i >= 40) fill(f, 200 + ((i * 5) % 80), 60, 30, 30, 250);
      return f;
    }, { zones: [zones[0]!] });
    expect(outside.steps).toEqual([]);
  });

  it('higher sensitivity sees smaller motion', () => {
    const small = (i: number): Uint8Array => {
      const f = base.slice();
      if (i >= 40) fill(f, 40 + ((i * 6) % 200), 80, 12, 12, 250);
      return f;
    };
    expect(run(100, small, { sensitivity: 1 }).moving).toEqual([]);
    expect(run(100, small, { sensitivity: 10 }).moving.length).toBeGreaterThan(10);
    expect(() => sensitivityParams(0)).toThrow(RangeError);
    expect(() => sensitivityParams(11)).toThrow(RangeError);
    expect(() => sensitivityParams(2.5)).toThrow(RangeError);
  });

  it('refuses frames of another size and sizes it cannot analyse', () => {
    const model = new MotionModel(W, H, { sensitivity: 5, zones: [], masks: [] });
    expect(() => model.analyse({ width: 160, height: 90, data: new Uint8Array(160 * 90) })).toThrow(RangeError);
    expect(() => model.analyse({ width: W, height: H, data: new Uint8Array(10) })).toThrow(RangeError);
    expect(() => new MotionModel(4, 4, { sensitivity: 5, zones: [], masks: [] })).toThrow(RangeError);
    expect(() => new MotionModel(100_000, 100_000, { sensitivity: 5, zones: [], masks: [] })).toThrow(RangeError);
  });
});

describe('EventTracker', () => {
  const on = { moving: true, score: 0.1, zones: [] };
  const off = { moving: false, score: 0, zones: [] };

  it('needs the minimum duration, ends after the quiet time, then cools down', () => {
    const t = new EventTracker({ minDurationMs: 400, endAfterMs: 1000, cooldownMs: 2000 });
    expect(t.observe(0, on)).toBeUndefined();
    expect(t.observe(200, on)).toBeUndefined();
    expect(t.observe(400, on)?.type).toBe('started');
    expect(t.observe(600, off)).toBeUndefined();
    const end = t.observe(1400, off);
    expect(end).toMatchObject({ type: 'ended', startMs: 0, endMs: 400 });
    expect(t.observe(1600, on)).toBeUndefined(); // cooling down
    expect(t.observe(3400, on)).toBeUndefined();
    expect(t.observe(3600, on)).toBeUndefined();
    expect(t.observe(3800, on)?.type).toBe('started');
  });

  it('a blip shorter than the minimum duration starts nothing', () => {
    const t = new EventTracker({ minDurationMs: 400, gapMs: 300 });
    expect(t.observe(0, on)).toBeUndefined();
    expect(t.observe(200, off)).toBeUndefined();
    expect(t.observe(600, off)).toBeUndefined();
    expect(t.observe(800, on)).toBeUndefined();
  });

  it('a better score is an update; an endless event ends at the longest duration', () => {
    const t = new EventTracker({ minDurationMs: 0, maxEventMs: 10_000 });
    expect(t.observe(0, on)?.type).toBe('started');
    expect(t.observe(200, { ...on, score: 0.11 })).toBeUndefined();
    expect(t.observe(400, { ...on, score: 0.5, zones: [2] })).toMatchObject({ type: 'updated', score: 0.5, zones: [2] });
    let ended: TrackerStep | undefined;
    for (let ms = 600; ms <= 10_000 && ended === undefined; ms += 200) ended = t.observe(ms, on);
    expect(ended).toMatchObject({ type: 'ended', score: 0.5 });
  });
});

describe('zones', () => {
  it('parses x,y,w,h and refuses what is not a rectangle inside the picture', () => {
    expect(parseRect('0,0,0.3,0.1')).toEqual({ x: 0, y: 0, w: 0.3, h: 0.1 });
    for (const bad of ['0,0,0.3', '0,0,0.3,0.1,1', 'a,b,c,d', '-0.1,0,0.3,0.1', '0.8,0,0.3,0.1', '0,0,0,0.1', '1e3,0,0.1,0.1', 'NaN,0,1,1']) {
      expect(() => parseRect(bad), bad).toThrow(ZoneError);
    }
    expect(() => checkRect({ x: Infinity, y: 0, w: 1, h: 1 })).toThrow(ZoneError);
    expect(rectsFromJson(rectsToJson([{ x: 0.1, y: 0.2, w: 0.3, h: 0.4 }]), 'masks')).toEqual([{ x: 0.1, y: 0.2, w: 0.3, h: 0.4 }]);
    expect(() => rectsFromJson('{', 'masks')).toThrow(ZoneError);
    expect(() => rectsFromJson(JSON.stringify(Array.from({ length: 17 }, () => [0, 0, 1, 1])), 'masks')).toThrow(ZoneError);
  });
});
