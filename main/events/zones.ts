// Zones and masks of a camera's picture (PROTOCOL §17.1): rectangles in fractions of the picture, so
// one setting holds at any resolution (the substream, the main stream, a later camera firmware).
// A mask is never watched (a camera's own clock overlay, a tree, the street); when a camera has
// zones, only they are watched, and an event names the zones it touched ("zone 1", ...).
import type { Rect } from './hub-events.ts';

/** More would only slow every frame down; real set-ups use a handful. */
export const MAX_RECTS = 16;
/** A rectangle narrower or lower than this is a typo, not a zone. */
const MIN_SIDE = 0.005;

export class ZoneError extends Error {
  override readonly name = 'ZoneError';
  readonly code = 'bad-zone';
}

/** Checks one rectangle: finite, inside 0..1, not empty. Rounds to 4 decimals (what is stored). */
export function checkRect(r: unknown, what = 'rectangle'): Rect {
  const o = r as Partial<Record<keyof Rect, unknown>> | null;
  if (typeof o !== 'object' || o === null) throw new ZoneError(`${what}: not x,y,w,h`);
  const [x, y, w, h] = [o.x, o.y, o.w, o.h].map((v) => (typeof v === 'number' && Number.isFinite(v) ? Math.round(v * 10_000) / 10_000 : NaN)) as [number, number, number, number];
  if (![x, y, w, h].every((v) => v >= 0 && v <= 1)) throw new ZoneError(`${what}: x, y, w, h must each be 0..1 (fractions of the picture)`);
  if (w < MIN_SIDE || h < MIN_SIDE) throw new ZoneError(`${what}: w and h must be at least ${MIN_SIDE}`);
  if (x + w > 1.0001 || y + h > 1.0001) throw new ZoneError(`${what}: reaches past the picture's edge (x + w and y + h must be <= 1)`);
  return { x, y, w, h };
}

/** "x,y,w,h" as the command line takes it. */
export function parseRect(text: string, what = 'rectangle'): Rect {
  const parts = text.split(',');
  if (parts.length !== 4 || parts.some((p) => !/^\s*(0|1|0?\.\d{1,6}|1\.0{0,6})\s*$/.test(p))) {
    throw new ZoneError(`${what} ${JSON.stringify(text.slice(0, 40))}: want x,y,w,h, four numbers 0..1 (e.g. 0,0,0.3,0.1)`);
  }
  const [x, y, w, h] = parts.map(Number) as [number, number, number, number];
  return checkRect({ x, y, w, h }, what);
}

export function checkRects(list: unknown, what: string): Rect[] {
  if (!Array.isArray(list)) throw new ZoneError(`${what}: not a list`);
  if (list.length > MAX_RECTS) throw new ZoneError(`${what}: at most ${MAX_RECTS}`);
  return list.map((r, i) => checkRect(r, `${what} ${i + 1}`));
}

/** The stored form: [[x, y, w, h], ...]. */
export function rectsToJson(rects: readonly Rect[]): string {
  return JSON.stringify(rects.map((r) => [r.x, r.y, r.w, r.h]));
}

export function rectsFromJson(text: string, what: string): Rect[] {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    throw new ZoneError(`${what}: not JSON`);
  }
  if (!Array.isArray(v)) throw new ZoneError(`${what}: not a list`);
  return checkRects(v.map((a: unknown) => (Array.isArray(a) && a.length === 4 ? { x: a[0], y: a[1], w: a[2], h: a[3] } : null)), what);
}

export function zoneName(index: number): string {
  return `zone ${index + 1}`;
}

/** Which pixels of a width x height picture a rectangle covers (at least one pixel). */
export function rectPixels(r: Rect, width: number, height: number): { x0: number; y0: number; x1: number; y1: number } {
  const x0 = Math.min(width - 1, Math.floor(r.x * width));
  const y0 = Math.min(height - 1, Math.floor(r.y * height));
  const x1 = Math.max(x0 + 1, Math.min(width, Math.ceil((r.x + r.w) * width)));
  const y1 = Math.max(y0 + 1, Math.min(height, Math.ceil((r.y + r.h) * height)));
  return { x0, y0, x1, y1 };
}

/**
 * One byte per pixel: 0 not watched, else 1 + the index of the first zone holding it (1 when the
 * camera has no zones). Masks win over zones.
 */
export function watchMap(width: number, height: number, zones: readonly Rect[], masks: readonly Rect[]): Uint8Array {
  const map = new Uint8Array(width * height);
  if (zones.length === 0) map.fill(1);
  else {
    for (let i = zones.length - 1; i >= 0; i--) {
      const p = rectPixels(zones[i]!, width, height);
      for (let y = p.y0; y < p.y1; y++) map.fill(i + 1, y * width + p.x0, y * width + p.x1);
    }
  }
  for (const m of masks) {
    const p = rectPixels(m, width, height);
    for (let y = p.y0; y < p.y1; y++) map.fill(0, y * width + p.x0, y * width + p.x1);
  }
  return map;
}
