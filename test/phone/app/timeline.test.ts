// phone/app/src/timeline.ts: the recordings timeline's day, view, layout, gaps, ticks, keyframe
// plan and bounded cache. Local days are computed in the process's time zone; the test pins one
// with daylight saving time (TZ is read when Date first needs it, so it is set before any use).
process.env.TZ = 'Europe/Paris';
import { describe, expect, it } from 'vitest';
import {
  ByteCache, Coverage, ZOOM_LEVELS_MS, clockLabel, dayLabel, dayOf, eventMarks, exportName, fractionOf, gaps, layout, prefetchPlan,
  segmentFor, shiftDay, ticks, timeAt, windowAt, zoomStep,
} from '../../../phone/app/src/timeline.ts';

const H = 3600_000;
const at = (iso: string) => new Date(iso).getTime();

describe('days', () => {
  it('a local day runs from midnight to midnight, 23 h or 25 h across daylight saving time', () => {
    const d = dayOf(at('2026-06-10T15:00:00+02:00'));
    expect(d).toEqual({ start: at('2026-06-10T00:00:00+02:00'), end: at('2026-06-11T00:00:00+02:00') });
    const spring = dayOf(at('2026-03-29T12:00:00+02:00'));
    expect(spring.end - spring.start).toBe(23 * H);
    const autumn = dayOf(at('2026-10-25T12:00:00+01:00'));
    expect(autumn.end - autumn.start).toBe(25 * H);
  });

  it('previous and next day step whole local days, also across the change of hour', () => {
    const t = at('2026-03-30T00:30:00+02:00');
    expect(shiftDay(t, -1)).toEqual(dayOf(at('2026-03-29T12:00:00+02:00')));
    expect(shiftDay(t, -2).start).toBe(at('2026-03-28T00:00:00+01:00'));
    expect(shiftDay(t, 1).start).toBe(at('2026-03-31T00:00:00+02:00'));
  });

  it('labels today, yesterday, else the date', () => {
    const now = at('2026-06-10T15:00:00+02:00');
    expect(dayLabel(dayOf(now), now)).toBe('Today');
    expect(dayLabel(shiftDay(now, -1), now)).toBe('Yesterday');
    expect(dayLabel(shiftDay(now, -2), now)).toBe('2026-06-08');
    expect(clockLabel(at('2026-06-10T09:05:07+02:00'), true)).toBe('09:05:07');
    expect(clockLabel(at('2026-06-10T09:05:07+02:00'), false)).toBe('09:05');
  });
});

describe('view', () => {
  const day = dayOf(at('2026-06-10T12:00:00+02:00'));

  it('a window of the zoom length around the cursor, kept inside the day', () => {
    expect(windowAt(day, H, day.start + 10 * H)).toEqual({ start: day.start + 9.5 * H, end: day.start + 10.5 * H });
    expect(windowAt(day, H, day.start + 60_000)).toEqual({ start: day.start, end: day.start + H });
    expect(windowAt(day, H, day.end - 1)).toEqual({ start: day.end - H, end: day.end });
    expect(windowAt(day, 48 * H, day.start)).toEqual(day);
  });

  it('zoom steps are clamped to the levels', () => {
    expect(zoomStep(0, -1)).toBe(0);
    expect(zoomStep(0, 1)).toBe(1);
    expect(zoomStep(ZOOM_LEVELS_MS.length - 1, 1)).toBe(ZOOM_LEVELS_MS.length - 1);
  });

  it('positions and times are inverse, and clamped to the track', () => {
    const v = { start: 1000, end: 61_000 };
    expect(fractionOf(v, 31_000)).toBe(0.5);
    expect(timeAt(v, 0.5)).toBe(31_000);
    expect(fractionOf(v, 0)).toBe(0);
    expect(fractionOf(v, 1e9)).toBe(1);
    expect(timeAt(v, -3)).toBe(1000);
    expect(timeAt(v, 7)).toBe(61_000);
  });
});

describe('layout and gaps', () => {
  const view = { start: 0, end: 100_000 };

  it('ranges in percent, clipped to the view; a short one still shows', () => {
    expect(layout([{ start: -50_000, end: 20_000 }, { start: 50_000, end: 50_010 }, { start: 90_000, end: 200_000 }, { start: 200_000, end: 300_000 }], view)).toEqual([
      { start: -50_000, end: 20_000, left: 0, width: 20 },
      { start: 50_000, end: 50_010, left: 50, width: 0.4 },
      { start: 90_000, end: 200_000, left: 90, width: 10 },
    ]);
    // At the very end, a minimum width is moved left to stay inside the track.
    expect(layout([{ start: 99_999, end: 100_000 }], view)[0]!.left).toBeCloseTo(99.6);
  });

  it('gaps are the past parts of the view no range covers, not the future', () => {
    expect(gaps([{ start: 10_000, end: 20_000 }, { start: 15_000, end: 30_000 }, { start: 50_000, end: 60_000 }], view, 80_000)).toEqual([
      { start: 0, end: 10_000 }, { start: 30_000, end: 50_000 }, { start: 60_000, end: 80_000 },
    ]);
    expect(gaps([], view, -1)).toEqual([]);
    expect(gaps([{ start: -5, end: 200_000 }], view, 1e9)).toEqual([]);
  });

  it('ticks on round local times, a bounded number', () => {
    const day = dayOf(at('2026-06-10T12:00:00+02:00'));
    const t = ticks({ start: day.start, end: day.end });
    expect(t.length).toBeLessThanOrEqual(7);
    expect(t.map((x) => clockLabel(x, false))).toEqual(['00:00', '06:00', '12:00', '18:00', '00:00']);
    const minute = ticks({ start: day.start + 10 * H + 5000, end: day.start + 10 * H + 65_000 });
    expect(minute.map((x) => clockLabel(x, true))).toEqual(['10:00:10', '10:00:20', '10:00:30', '10:00:40', '10:00:50', '10:01:00']);
  });

  it('event marks: the events that start inside the view, oldest first, seeking to their pre-roll, bounded', () => {
    const ev = (id: number, start: number, kind = 'motion') => ({ id, kind, start, recording: { from: start - 5000 } });
    expect(eventMarks([], view)).toEqual([]);
    expect(eventMarks([ev(2, 75_000, 'tamper'), ev(1, 25_000), ev(3, 500_000), ev(4, -1)], view)).toEqual([
      { id: 1, time: 25_000, seek: 20_000, left: 25, kind: 'motion' }, { id: 2, time: 75_000, seek: 70_000, left: 75, kind: 'tamper' },
    ]);
    // An event sealed with no pre-roll (at the day's first moment) seeks to its start, never after it.
    expect(eventMarks([{ id: 5, kind: 'motion', start: 10_000, recording: { from: 12_000 } }], view)[0]!.seek).toBe(10_000);
    expect(eventMarks(Array.from({ length: 5000 }, (_, i) => ev(i, i)), view)).toHaveLength(500);
  });
});

describe('segments', () => {
  const segs = [0, 4, 8, 20, 24].map((s) => ({ id: String(s), start: s * 1000, end: s * 1000 + 4000 }));

  it('the segment for a time: holding it, else the next close by, else the last close before', () => {
    expect(segmentFor(segs, 5000)?.id).toBe('4');
    expect(segmentFor(segs, 4000)?.id).toBe('4');
    expect(segmentFor(segs, 13_000, 10_000)?.id).toBe('20');
    expect(segmentFor(segs, 13_000, 5000)?.id).toBe('8');
    expect(segmentFor(segs, 13_000, 0)).toBeUndefined();
    expect(segmentFor(segs, 40_000, 30_000)?.id).toBe('24');
    expect(segmentFor(segs, 90_000, 30_000)).toBeUndefined();
    expect(segmentFor([], 0)).toBeUndefined();
  });

  it('keyframes fetched ahead: the cursor\'s first, then spread over the view, bounded', () => {
    const many = Array.from({ length: 900 }, (_, i) => ({ id: String(i), start: i * 4000, end: i * 4000 + 4000 }));
    const view = { start: 0, end: 3600_000 };
    const plan = prefetchPlan(many, view, 1_000_001, 12);
    expect(plan[0]!.id).toBe('250');
    expect(plan.length).toBeLessThanOrEqual(13);
    expect(new Set(plan.map((s) => s.id)).size).toBe(plan.length);
    const starts = plan.slice(1).map((s) => s.start).sort((a, b) => a - b);
    // Spread: every twelfth of the hour has one.
    for (let i = 0; i < 12; i++) expect(starts.some((s) => s >= i * 300_000 && s < (i + 1) * 300_000)).toBe(true);
    // Nearest the cursor first after the cursor's own.
    const d = plan.slice(1).map((s) => Math.abs(s.start + 2000 - 1_000_001));
    expect(d).toEqual([...d].sort((a, b) => a - b));
    // Only what is visible.
    expect(prefetchPlan(many, { start: 0, end: 10_000 }, 0, 12).map((s) => s.id)).toEqual(['0', '1', '2']);
  });

  it('coverage says what was not listed yet', () => {
    const c = new Coverage();
    c.add({ start: 10, end: 20 });
    c.add({ start: 30, end: 40 });
    c.add({ start: 18, end: 32 });
    expect(c.missing({ start: 0, end: 50 })).toEqual([{ start: 0, end: 10 }, { start: 40, end: 50 }]);
    expect(c.missing({ start: 12, end: 38 })).toEqual([]);
    c.clear();
    expect(c.missing({ start: 12, end: 38 })).toEqual([{ start: 12, end: 38 }]);
  });
});

describe('ByteCache', () => {
  it('keeps at most its bytes, dropping the least recently used', () => {
    const c = new ByteCache<string>(100);
    c.set('a', 'A', 40);
    c.set('b', 'B', 40);
    expect(c.get('a')).toBe('A'); // a is now the most recent
    c.set('c', 'C', 40);
    expect(c.has('b')).toBe(false);
    expect(c.has('a') && c.has('c')).toBe(true);
    expect(c.bytes).toBe(80);
    c.set('a', 'A2', 10);
    expect(c.bytes).toBe(50);
    c.set('huge', 'H', 101);
    expect(c.has('huge')).toBe(false);
    expect(c.size).toBe(2);
    c.clear();
    expect([c.size, c.bytes]).toEqual([0, 0]);
  });
});

describe('export names', () => {
  it('camera and local start time, nothing a file system refuses', () => {
    expect(exportName('Front door', at('2026-06-10T09:05:07+02:00'))).toBe('Front door-20260610-090507.mp4');
    expect(exportName('../a/b:c', at('2026-06-10T09:05:07+02:00'))).toBe('___a_b_c-20260610-090507.mp4');
    expect(exportName('', 0).startsWith('camera-')).toBe(true);
  });
});
