// The recordings timeline's arithmetic, apart from the page (timeline.dom.ts) so Node tests it:
// which day is shown, which part of it is visible at which zoom, where recorded ranges, gaps and
// event marks lie on the track, which segments' keyframes to fetch ahead, and a byte-bounded cache
// for the pictures. Times are Unix ms; days are the phone's local days (a day is not always 24 h:
// daylight saving time).

export interface Span {
  readonly start: number;
  readonly end: number;
}

/** The visible part of the day: 24 h down to 1 min. */
export const ZOOM_LEVELS_MS = [24 * 3600_000, 4 * 3600_000, 3600_000, 10 * 60_000, 60_000] as const;

/** The local day holding `t`: [midnight, next midnight). */
export function dayOf(t: number): Span {
  const d = new Date(t);
  const start = new Date(d.getFullYear(), d.getMonth(), d.getDate()).getTime();
  const end = new Date(d.getFullYear(), d.getMonth(), d.getDate() + 1).getTime();
  return { start, end };
}

/** The local day `days` days after the one holding `t` (negative: before). */
export function shiftDay(t: number, days: number): Span {
  const d = new Date(t);
  return dayOf(new Date(d.getFullYear(), d.getMonth(), d.getDate() + days, 12).getTime());
}

/** The visible window: `length` ms around `centre`, kept inside the day. */
export function windowAt(day: Span, length: number, centre: number): Span {
  const len = Math.min(length, day.end - day.start);
  const start = Math.min(Math.max(day.start, Math.round(centre - len / 2)), day.end - len);
  return { start, end: start + len };
}

/** The zoom level index one step in (+1) or out (-1), clamped. */
export function zoomStep(level: number, step: number): number {
  return Math.min(ZOOM_LEVELS_MS.length - 1, Math.max(0, level + step));
}

/** A time's position on the track, 0..1 (clamped). */
export function fractionOf(view: Span, t: number): number {
  return Math.min(1, Math.max(0, (t - view.start) / (view.end - view.start)));
}

/** The time under a position on the track, 0..1. */
export function timeAt(view: Span, fraction: number): number {
  return Math.round(view.start + Math.min(1, Math.max(0, fraction)) * (view.end - view.start));
}

export interface Bar {
  readonly start: number;
  readonly end: number;
  /** Percent of the track's width. */
  readonly left: number;
  readonly width: number;
}

/**
 * Spans drawn on the track: clipped to the view, in percent, each at least `minPercent` wide so a
 * few seconds in a whole day still shows.
 */
export function layout(spans: readonly Span[], view: Span, minPercent = 0.4): Bar[] {
  const out: Bar[] = [];
  for (const s of spans) {
    if (s.end <= view.start || s.start >= view.end) continue;
    const a = fractionOf(view, s.start) * 100;
    const b = fractionOf(view, s.end) * 100;
    const width = Math.max(minPercent, b - a);
    out.push({ start: s.start, end: s.end, left: Math.min(a, 100 - width), width });
  }
  return out;
}

/** The parts of `view` up to `now` that no range covers (drawn as gaps); ranges oldest first. */
export function gaps(ranges: readonly Span[], view: Span, now: number): Span[] {
  const end = Math.min(view.end, now);
  const out: Span[] = [];
  let at = view.start;
  for (const r of [...ranges].sort((x, y) => x.start - y.start)) {
    if (r.end <= at) continue;
    if (r.start >= end) break;
    if (r.start > at) out.push({ start: at, end: r.start });
    at = Math.max(at, r.end);
  }
  if (at < end) out.push({ start: at, end });
  return out;
}

/** Nice tick steps, smallest first. */
const TICK_STEPS_MS = [10_000, 30_000, 60_000, 5 * 60_000, 15 * 60_000, 3600_000, 3 * 3600_000, 6 * 3600_000];

/** Ticks for the view: at most `most`, on round local times (a step dividing the hour or the day). */
export function ticks(view: Span, most = 6): number[] {
  const len = view.end - view.start;
  const step = TICK_STEPS_MS.find((s) => len / s <= most) ?? TICK_STEPS_MS[TICK_STEPS_MS.length - 1]!;
  const day = dayOf(view.start);
  const out: number[] = [];
  // Counted from local midnight, so the hours are the phone's own.
  for (let t = day.start + Math.ceil((view.start - day.start) / step) * step; t <= view.end && out.length <= most; t += step) out.push(t);
  return out;
}

/** A clock time for the track's labels and the cursor: 14:05, or 14:05:30 when the view is short. */
export function clockLabel(t: number, withSeconds: boolean): string {
  const d = new Date(t);
  const two = (n: number) => String(n).padStart(2, '0');
  return `${two(d.getHours())}:${two(d.getMinutes())}${withSeconds ? `:${two(d.getSeconds())}` : ''}`;
}

/** The day's heading: "Today", "Yesterday", else the date (local). */
export function dayLabel(day: Span, now: number): string {
  const today = dayOf(now).start;
  if (day.start === today) return 'Today';
  if (day.start === shiftDay(now, -1).start) return 'Yesterday';
  const d = new Date(day.start);
  return `${d.getFullYear()}-${String(d.getMonth() + 1).padStart(2, '0')}-${String(d.getDate()).padStart(2, '0')}`;
}

/** Whatever the hub's list calls a segment: an id and its span. */
export interface SegmentSpan extends Span {
  readonly id: string;
}

/**
 * The segment to show for time `t`: the one holding it, else the next one starting within
 * `snapMs`, else the last one ending within `snapMs` before it (a tap just beside a range still
 * shows a picture); segments oldest first.
 */
export function segmentFor<S extends SegmentSpan>(segments: readonly S[], t: number, snapMs = 30_000): S | undefined {
  let before: S | undefined;
  for (const s of segments) {
    if (s.start <= t && t < s.end) return s;
    if (s.start > t) return s.start - t <= snapMs ? s : before !== undefined && t - before.end <= snapMs ? before : undefined;
    before = s;
  }
  return before !== undefined && t - before.end <= snapMs ? before : undefined;
}

/**
 * The segments whose keyframes to fetch ahead for the view, most useful first: the one under the
 * cursor, then up to `most` spread evenly over the view (nearest the cursor first), so a drag
 * anywhere in it finds a picture close by. Bounded whatever the number of segments.
 */
export function prefetchPlan<S extends SegmentSpan>(segments: readonly S[], view: Span, cursor: number, most = 16): S[] {
  const visible = segments.filter((s) => s.end > view.start && s.start < view.end);
  const chosen = new Map<string, S>();
  const under = segmentFor(visible, cursor, 0);
  if (under !== undefined) chosen.set(under.id, under);
  if (visible.length <= most) {
    for (const s of visible) chosen.set(s.id, s);
  } else {
    for (let i = 0; i < most; i++) {
      const s = visible[Math.floor(((i + 0.5) * visible.length) / most)]!;
      chosen.set(s.id, s);
    }
  }
  const mid = (s: S) => Math.abs((s.start + s.end) / 2 - cursor);
  return [...chosen.values()].sort((a, b) => (a === under ? -1 : b === under ? 1 : mid(a) - mid(b))).slice(0, most + 1);
}

/** Which parts of time have been asked of the hub already (merged spans), to ask only for the rest. */
export class Coverage {
  #spans: Span[] = [];

  add(s: Span): void {
    const all = [...this.#spans, s].sort((a, b) => a.start - b.start);
    const merged: Span[] = [];
    for (const x of all) {
      const last = merged[merged.length - 1];
      if (last !== undefined && x.start <= last.end) merged[merged.length - 1] = { start: last.start, end: Math.max(last.end, x.end) };
      else merged.push(x);
    }
    this.#spans = merged;
  }

  /** The parts of `s` not covered yet. */
  missing(s: Span): Span[] {
    return gaps(this.#spans, s, s.end);
  }

  clear(): void {
    this.#spans = [];
  }
}

/**
 * A least-recently-used cache bounded in bytes (decoded keyframes on a phone). An entry larger
 * than the whole budget is not kept.
 */
export class ByteCache<V> {
  readonly #map = new Map<string, { value: V; bytes: number }>();
  #bytes = 0;

  constructor(readonly maxBytes: number) {}

  get(key: string): V | undefined {
    const e = this.#map.get(key);
    if (e === undefined) return undefined;
    this.#map.delete(key);
    this.#map.set(key, e);
    return e.value;
  }

  has(key: string): boolean {
    return this.#map.has(key);
  }

  set(key: string, value: V, bytes: number): void {
    const old = this.#map.get(key);
    if (old !== undefined) {
      this.#bytes -= old.bytes;
      this.#map.delete(key);
    }
    if (bytes > this.maxBytes) return;
    this.#map.set(key, { value, bytes });
    this.#bytes += bytes;
    for (const [k, e] of this.#map) {
      if (this.#bytes <= this.maxBytes) break;
      this.#map.delete(k);
      this.#bytes -= e.bytes;
    }
  }

  get bytes(): number {
    return this.#bytes;
  }

  get size(): number {
    return this.#map.size;
  }

  clear(): void {
    this.#map.clear();
    this.#bytes = 0;
  }
}

/** Play speeds offered; at these and above only keyframes are shown, one per segment. */
export const SPEEDS = [1, 2, 4, 8] as const;
export type Speed = (typeof SPEEDS)[number];
export const KEYFRAMES_ONLY_FROM: Speed = 4;

/** An event as the timeline marks it: its start, and where a tap on it seeks (the pre-roll). */
export interface MarkedEvent {
  readonly id: number;
  readonly kind: string;
  readonly start: number;
  readonly recording: { readonly from: number };
}

export interface Mark {
  readonly id: number;
  readonly time: number;
  /** Where a tap seeks: the event's start less its pre-roll. */
  readonly seek: number;
  /** Percent of the track's width. */
  readonly left: number;
  readonly kind: string;
}

/** The marks of the events that start inside the view, oldest first, at most `most` (a busy day). */
export function eventMarks(events: readonly MarkedEvent[], view: Span, most = 500): Mark[] {
  const out: Mark[] = [];
  for (const e of [...events].sort((a, b) => a.start - b.start)) {
    if (e.start < view.start || e.start >= view.end) continue;
    out.push({ id: e.id, time: e.start, seek: Math.min(e.start, e.recording.from), left: fractionOf(view, e.start) * 100, kind: e.kind });
    if (out.length >= most) break;
  }
  return out;
}

/** A file name for an export: camera and start time, nothing a file system refuses. */
export function exportName(camera: string, start: number): string {
  const d = new Date(start);
  const two = (n: number) => String(n).padStart(2, '0');
  const when = `${d.getFullYear()}${two(d.getMonth() + 1)}${two(d.getDate())}-${two(d.getHours())}${two(d.getMinutes())}${two(d.getSeconds())}`;
  return `${camera.replace(/[^\w -]/g, '_').trim() || 'camera'}-${when}.mp4`;
}
