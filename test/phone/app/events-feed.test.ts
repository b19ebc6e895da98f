// phone/app/src/events.ts: the app's events list (one entry per event at its newest revision,
// newest first, bounded, unseen count), the words it shows, and where a tap opens the timeline.
process.env.TZ = 'Europe/Paris';
import { describe, expect, it } from 'vitest';
import type { PhoneEvent } from '../../../phone/core/events.ts';
import { EventFeed, kindLabel, timelineTarget, whenLabel } from '../../../phone/app/src/events.ts';

const CAMERA = 'ab'.repeat(16);

function ev(id: number, start: number, more: Partial<PhoneEvent> = {}): PhoneEvent {
  return { id, cameraId: CAMERA, epoch: 1, revision: 0, kind: 'motion', source: 'test', start, score: 0.5, zones: [], recording: { from: start - 5000, to: start + 5000 }, ...more };
}

describe('EventFeed', () => {
  it('lists newest first; a later revision replaces an earlier one, never the reverse, and keeps the picture', () => {
    const f = new EventFeed();
    const jpeg = new Uint8Array([0xff, 0xd8, 0xff]);
    expect(f.put(ev(1, 1000, { preview: jpeg }))).toBe(true);
    expect(f.put(ev(2, 3000))).toBe(true);
    expect(f.put(ev(3, 2000))).toBe(true);
    expect(f.list().map((e) => e.id)).toEqual([2, 3, 1]);
    // Its end, from a list's brief (no picture): taken, the picture kept.
    expect(f.put(ev(1, 1000, { revision: 2, end: 4000 }))).toBe(true);
    expect(f.get(1)).toMatchObject({ revision: 2, end: 4000, preview: jpeg });
    // An older revision, or the same one again without news, changes nothing.
    expect(f.put(ev(1, 1000, { revision: 1 }))).toBe(false);
    expect(f.put(ev(1, 1000, { revision: 2, end: 4000 }))).toBe(false);
    // The same revision with its picture is news.
    expect(f.put(ev(2, 3000, { preview: jpeg }))).toBe(true);
    expect(f.get(1)!.end).toBe(4000);
  });

  it('counts unseen events by id, finds one by camera and start, and is bounded', () => {
    const f = new EventFeed(3);
    for (let i = 1; i <= 5; i++) f.put(ev(i, i * 1000));
    expect(f.size).toBe(3);
    expect(f.list().map((e) => e.id)).toEqual([5, 4, 3]);
    expect(f.unseen(0)).toBe(3);
    expect(f.unseen(4)).toBe(1);
    expect(f.newestId).toBe(5);
    expect(f.find(CAMERA, 4000)?.id).toBe(4);
    expect(f.find(CAMERA, 4001)).toBeUndefined();
    expect(f.find('cd'.repeat(16), 4000)).toBeUndefined();
    // One older than all kept does not push a newer one out.
    expect(f.put(ev(9, 10))).toBe(false);
    expect(f.list().map((e) => e.id)).toEqual([5, 4, 3]);
  });
});

describe('words and targets', () => {
  it('kinds in words, unknown kinds readable', () => {
    expect(kindLabel('motion')).toBe('Motion');
    expect(kindLabel('line-crossing')).toBe('Line crossed');
    expect(kindLabel('door-open')).toBe('Door open');
  });

  it('times: today with seconds, yesterday, else the date (local)', () => {
    const now = new Date('2026-06-10T15:00:00+02:00').getTime();
    expect(whenLabel(new Date('2026-06-10T09:05:07+02:00').getTime(), now)).toBe('09:05:07');
    expect(whenLabel(new Date('2026-06-09T23:59:00+02:00').getTime(), now)).toBe('Yesterday 23:59');
    expect(whenLabel(new Date('2026-06-08T08:00:00+02:00').getTime(), now)).toBe('2026-06-08 08:00');
  });

  it('a tap opens the timeline at the event\'s pre-roll, never after its start', () => {
    expect(timelineTarget(ev(1, 100_000))).toEqual({ camera: CAMERA, time: 95_000 });
    expect(timelineTarget({ cameraId: CAMERA, start: 100, recording: { from: 200, to: 300 } })).toEqual({ camera: CAMERA, time: 100 });
  });
});
