// Motion in a camera's picture, frame by frame (PROTOCOL §17.1): pure arithmetic on small grey
// frames, no I/O, so it is tested on synthetic pictures and runs the same for any decoder.
//
// The picture is cut into cells (about 20 x 20 pixels of a 320-wide frame). A pixel has changed when
// it differs from a running average of the scene (the background) by more than a threshold, after the
// whole frame's brightness shift is taken out (a camera's auto exposure). A cell moves when enough of
// its watched pixels changed, against the background and against the frame before (something that
// moves keeps changing; a digit of a clock changes once and stays); the frame moves when the moving cells cover at least a minimum share of
// the watched picture. Two things keep a static scene quiet:
//  * cells that change all the time (a camera's ticking clock overlay, a flickering sign, compression
//    noise in a dark corner) are learnt as noisy and left out: each cell keeps a slow average of how
//    often it moved, and a cell above NOISY_ABOVE no longer counts. Something that walks through the
//    picture moves each cell only for a moment; the clock moves the same cells every second, forever.
//    The first WARMUP_FRAMES learn fast and report nothing;
//  * a clock's minutes and hours change rarely, several digits at once, but only in one frame, and
//    two clocks (a camera's time and its running-time overlay) tick each at its own phase, in cells
//    far apart: a cell counts only when its change continues motion from a neighbouring cell (one
//    that moved in one of the two frames before) or from itself in both frames before (movedNear:
//    something that moves keeps moving where it was). The first frame of true motion counts nothing
//    and the second does, so an event starts there (the tracker's minimum duration is 0 for motion:
//    detect-tracker.ts);
//  * a change of most of the picture at once is the light (lamp, IR switch at dusk), not motion: the
//    background is reset to the new scene.
import type { Rect } from './hub-events.ts';
import { watchMap } from './zones.ts';

/** A decoded picture's luma (Y) plane: one byte per pixel, rows `width` bytes apart. */
export interface GrayFrame {
  readonly width: number;
  readonly height: number;
  readonly data: Uint8Array;
}

export interface MotionSettings {
  /** 1 (only big, clear motion) .. 10 (small changes count). */
  readonly sensitivity: number;
  readonly zones: readonly Rect[];
  readonly masks: readonly Rect[];
}

export interface MotionFinding {
  /** The moving share of the watched picture reached the minimum (and warm-up is over). */
  readonly moving: boolean;
  /** The moving share of the watched picture, 0..1 (noisy cells left out). */
  readonly area: number;
  /** Indexes of the zones that moving cells touch (empty when the camera has no zones). */
  readonly zones: readonly number[];
}

export const MOTION_DEFAULTS = {
  /** Target cell side in pixels of the analysed frame. */
  cellPx: 20,
  /** A cell moves when this share of its watched pixels changed. */
  cellFraction: 0.12,
  /** ...of which this share must also have changed since the frame before (it still moves). */
  stillShare: 0.5,
  /** A cell with fewer watched pixels than this share (mostly masked) is ignored. */
  minWatched: 0.25,
  /** How fast the background follows the scene, per frame (at 5 fps: about 2.5 s). */
  backgroundAlpha: 0.08,
  /** How fast a cell's noisiness follows, per frame, after warm-up (at 5 fps: about 20 s)... */
  noiseAlpha: 0.01,
  /** ...and during warm-up. */
  warmupNoiseAlpha: 0.12,
  /** A cell that moved in more than this share of recent frames is noise. */
  noisyAbove: 0.45,
  /** Frames that only learn (5 s at 5 fps). */
  warmupFrames: 25,
  /** Moving cells over this share of the watched picture: a change of light. */
  lightChangeAbove: 0.7,
} as const;

export type MotionTuning = typeof MOTION_DEFAULTS;

export const MIN_SENSITIVITY = 1;
export const MAX_SENSITIVITY = 10;
export const DEFAULT_SENSITIVITY = 5;

/**
 * What a sensitivity means: the grey-level difference a pixel needs (41 at 1, 28 at 5, 11 at 10)
 * and the minimum moving share of the watched picture (4 % at 1, 1.6 % at 5, 0.54 % at 10).
 */
export function sensitivityParams(sensitivity: number): { pixelThreshold: number; minArea: number } {
  if (!Number.isInteger(sensitivity) || sensitivity < MIN_SENSITIVITY || sensitivity > MAX_SENSITIVITY) {
    throw new RangeError(`sensitivity must be a whole number ${MIN_SENSITIVITY}..${MAX_SENSITIVITY}`);
  }
  return { pixelThreshold: Math.round(44 - 3.3 * sensitivity), minArea: 0.04 * 0.8 ** (sensitivity - 1) };
}

export class MotionModel {
  readonly width: number;
  readonly height: number;
  readonly #tuning: MotionTuning;
  readonly #threshold: number;
  readonly #minArea: number;
  readonly #watch: Uint8Array;
  readonly #cols: number;
  readonly #rows: number;
  /** Per pixel: its cell's index. */
  readonly #cellOf: Uint16Array;
  /** Per cell: watched pixels, and which zones it holds (bit i = zone i). */
  readonly #cellWatched: Uint32Array;
  readonly #cellZones: Uint32Array;
  readonly #watchedTotal: number;
  readonly #changed: Uint32Array;
  readonly #changedPrev: Uint32Array;
  #previous: Uint8Array | undefined;
  readonly #noise: Float32Array;
  /** Per cell: it moved (and was not noise) one frame ago (bit 0), two frames ago (bit 1). */
  readonly #recent: Uint8Array;
  #background: Float32Array | undefined;
  #frames = 0;

  constructor(width: number, height: number, settings: MotionSettings, tuning: Partial<MotionTuning> = {}) {
    if (!Number.isInteger(width) || !Number.isInteger(height) || width < 8 || height < 8 || width * height > 1920 * 1088) {
      throw new RangeError(`frame size ${width}x${height} is not one to analyse (8x8 .. 1920x1088)`);
    }
    this.width = width;
    this.height = height;
    this.#tuning = { ...MOTION_DEFAULTS, ...tuning };
    const p = sensitivityParams(settings.sensitivity);
    this.#threshold = p.pixelThreshold;
    this.#minArea = p.minArea;
    if (settings.zones.length > 31) throw new RangeError('at most 31 zones');
    this.#watch = watchMap(width, height, settings.zones, settings.masks);
    this.#cols = Math.max(1, Math.round(width / this.#tuning.cellPx));
    this.#rows = Math.max(1, Math.round(height / this.#tuning.cellPx));
    const cells = this.#cols * this.#rows;
    this.#cellOf = new Uint16Array(width * height);
    this.#cellWatched = new Uint32Array(cells);
    this.#cellZones = new Uint32Array(cells);
    this.#changed = new Uint32Array(cells);
    this.#changedPrev = new Uint32Array(cells);
    this.#noise = new Float32Array(cells);
    this.#recent = new Uint8Array(cells);
    const hasZones = settings.zones.length > 0;
    let total = 0;
    for (let y = 0; y < height; y++) {
      const row = Math.min(this.#rows - 1, Math.floor((y * this.#rows) / height)) * this.#cols;
      for (let x = 0; x < width; x++) {
        const c = row + Math.min(this.#cols - 1, Math.floor((x * this.#cols) / width));
        const i = y * width + x;
        this.#cellOf[i] = c;
        const w = this.#watch[i]!;
        if (w === 0) continue;
        this.#cellWatched[c]!++;
        total++;
        if (hasZones) this.#cellZones[c]! |= 1 << (w - 1);
      }
    }
    this.#watchedTotal = total;
  }

  get minArea(): number {
    return this.#minArea;
  }

  /** Whether warm-up is over (findings can be `moving`). */
  get ready(): boolean {
    return this.#frames > this.#tuning.warmupFrames;
  }

  analyse(frame: GrayFrame): MotionFinding {
    if (frame.width !== this.width || frame.height !== this.height || frame.data.length < this.width * this.height) {
      throw new RangeError(`frame is ${frame.width}x${frame.height}, the model ${this.width}x${this.height}`);
    }
    const t = this.#tuning;
    const data = frame.data;
    const n = this.width * this.height;
    const watch = this.#watch;
    this.#frames++;
    const bg = this.#background;
    if (bg === undefined) {
      this.#background = Float32Array.from(data.subarray(0, n));
      this.#previous = data.slice(0, n);
      return { moving: false, area: 0, zones: [] };
    }
    if (this.#watchedTotal === 0) return { moving: false, area: 0, zones: [] };
    // The whole picture's brightness shift (auto exposure) is not motion.
    let sum = 0;
    for (let i = 0; i < n; i++) if (watch[i] !== 0) sum += data[i]! - bg[i]!;
    const shift = sum / this.#watchedTotal;
    const changed = this.#changed;
    const changedPrev = this.#changedPrev;
    const prev = this.#previous!;
    changed.fill(0);
    changedPrev.fill(0);
    const thr = this.#threshold;
    const cellOf = this.#cellOf;
    for (let i = 0; i < n; i++) {
      if (watch[i] === 0) continue;
      const d = data[i]! - bg[i]! - shift;
      if (d > thr || d < -thr) {
        changed[cellOf[i]!]!++;
        const p = data[i]! - prev[i]!;
        if (p > thr || p < -thr) changedPrev[cellOf[i]!]!++;
      }
    }
    prev.set(data.subarray(0, n));
    const warming = this.#frames <= t.warmupFrames;
    const alpha = warming ? t.warmupNoiseAlpha : t.noiseAlpha;
    let movingPixels = 0;
    let rawMovingPixels = 0;
    let zoneBits = 0;
    const cellSize = (this.width / this.#cols) * (this.height / this.#rows);
    const recent = this.#recent;
    const cols = this.#cols;
    const rows = this.#rows;
    for (let c = 0; c < changed.length; c++) {
      const watched = this.#cellWatched[c]!;
      const active = watched >= t.minWatched * cellSize && changed[c]! >= t.cellFraction * watched && changedPrev[c]! >= t.cellFraction * t.stillShare * watched;
      if (active) rawMovingPixels += watched;
      const noisy = this.#noise[c]! > t.noisyAbove;
      this.#noise[c] = this.#noise[c]! + alpha * ((active ? 1 : 0) - this.#noise[c]!);
      if (!active || noisy) continue;
      recent[c] = recent[c]! | 4; // moves now: bit 2 until every cell has been looked at
      if (movedNear(recent, c, cols, rows)) {
        movingPixels += watched;
        zoneBits |= this.#cellZones[c]!;
      }
    }
    for (let c = 0; c < recent.length; c++) recent[c] = ((recent[c]! << 1) | (recent[c]! >> 2)) & 3;
    if (rawMovingPixels / this.#watchedTotal > t.lightChangeAbove) {
      recent.fill(0);
      for (let i = 0; i < n; i++) bg[i] = data[i]!;
      return { moving: false, area: 0, zones: [] };
    }
    const a = t.backgroundAlpha;
    for (let i = 0; i < n; i++) bg[i] = bg[i]! + a * (data[i]! - bg[i]!);
    const area = movingPixels / this.#watchedTotal;
    const zones: number[] = [];
    for (let z = 0; zoneBits !== 0 && z < 31; z++) if ((zoneBits >>> z) & 1) zones.push(z);
    return { moving: !warming && area >= this.#minArea, area, zones };
  }
}

/**
 * Whether motion in cell c continues motion from before: one of its 8 neighbours moved in one of
 * the two frames before (bits 0-1), or the cell itself moved in both. The cell alone in one frame
 * before is not enough: a clock digit that changes is redrawn by the camera's encoder a frame later
 * (its quality catching up), a second change in the same place that at sensitivity 10 passed for
 * motion.
 */
function movedNear(recent: Uint8Array, c: number, cols: number, rows: number): boolean {
  if ((recent[c]! & 3) === 3) return true;
  const x = c % cols;
  const y = (c - x) / cols;
  for (let yy = Math.max(0, y - 1); yy <= Math.min(rows - 1, y + 1); yy++) {
    for (let xx = Math.max(0, x - 1); xx <= Math.min(cols - 1, x + 1); xx++) {
      const n = yy * cols + xx;
      if (n !== c && (recent[n]! & 3) !== 0) return true;
    }
  }
  return false;
}

/** Takes the luma plane of a planar YUV 4:2:0 frame (what the decoder hands over) as a GrayFrame. */
export function lumaOf(i420: Uint8Array, width: number, height: number): GrayFrame {
  if (i420.length < i420Size(width, height)) throw new RangeError('short frame');
  return { width, height, data: i420.subarray(0, width * height) };
}

/** Bytes of one yuv420p frame (chroma planes rounded up for odd sizes). */
export function i420Size(width: number, height: number): number {
  return width * height + 2 * Math.ceil(width / 2) * Math.ceil(height / 2);
}
