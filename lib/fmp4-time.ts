// The media times inside a fragmented MP4, read and rewritten in place: what a phone needs to tell
// a repeated fragment from a new one and to write a file whose timeline starts at 0, and what
// `vigil verify-export` needs to put an exported clip's decode times back to those the hub signed
// (crypto/clip-proof.ts). native/fmp4.ts parses fMP4 fully for the hub; phone/ and crypto/ may not
// import native/ (the linter's layering) and need only these few boxes, so they are read here, in
// lib/ (neutral: imports nothing). ISO/IEC 14496-12: moov/trak/{tkhd,mdia/mdhd}, moof/traf/{tfhd,tfdt}.

/** Where one track fragment's decode time (tfdt) sits in a fragment. */
export interface TrackDecodeTime {
  readonly trackId: number;
  /** baseMediaDecodeTime, in the track's timescale. */
  readonly decodeTime: number;
  /** Offset of the tfdt box in the fragment. */
  readonly at: number;
}

/** Thrown for boxes that do not fit their parent: the phone skips such a fragment's rewrite. */
export class Fmp4TimeError extends Error {
  override readonly name = 'Fmp4TimeError';
}

interface Box {
  readonly type: string;
  readonly start: number;
  /** First byte after the header. */
  readonly body: number;
  readonly end: number;
}

function u32(b: Uint8Array, o: number): number {
  return ((b[o]! << 24) | (b[o + 1]! << 16) | (b[o + 2]! << 8) | b[o + 3]!) >>> 0;
}

function* boxes(b: Uint8Array, from: number, to: number): Generator<Box> {
  let o = from;
  while (o + 8 <= to) {
    let size = u32(b, o);
    let body = o + 8;
    if (size === 1) {
      if (o + 16 > to) throw new Fmp4TimeError('truncated large box header');
      const high = u32(b, o + 8);
      if (high > 0x1f_ffff) throw new Fmp4TimeError('box too large');
      size = high * 2 ** 32 + u32(b, o + 12);
      body = o + 16;
    } else if (size === 0) {
      size = to - o;
    }
    if (size < body - o || o + size > to) throw new Fmp4TimeError('box does not fit its parent');
    yield { type: String.fromCharCode(b[o + 4]!, b[o + 5]!, b[o + 6]!, b[o + 7]!), start: o, body, end: o + size };
    o += size;
  }
}

function child(b: Uint8Array, parent: Box, type: string): Box | undefined {
  for (const box of boxes(b, parent.body, parent.end)) if (box.type === type) return box;
  return undefined;
}

/** track_ID → timescale (mdhd), from an init segment (ftyp + moov). */
export function trackTimescales(init: Uint8Array): Map<number, number> {
  const out = new Map<number, number>();
  for (const top of boxes(init, 0, init.length)) {
    if (top.type !== 'moov') continue;
    for (const trak of boxes(init, top.body, top.end)) {
      if (trak.type !== 'trak') continue;
      const tkhd = child(init, trak, 'tkhd');
      const mdia = child(init, trak, 'mdia');
      const mdhd = mdia && child(init, mdia, 'mdhd');
      if (tkhd === undefined || mdhd === undefined) continue;
      // Version 1 widens the times before the id (tkhd) and the timescale (mdhd) to 64 bits.
      const idAt = tkhd.body + (init[tkhd.body] === 1 ? 20 : 12);
      const scaleAt = mdhd.body + (init[mdhd.body] === 1 ? 20 : 12);
      if (idAt + 4 > tkhd.end || scaleAt + 4 > mdhd.end) throw new Fmp4TimeError('short tkhd or mdhd');
      const timescale = u32(init, scaleAt);
      if (timescale > 0) out.set(u32(init, idAt), timescale);
    }
  }
  return out;
}

/** track_ID → default_sample_duration (moov/mvex/trex), from an init segment; used when a fragment names none. */
export function trackDefaultDurations(init: Uint8Array): Map<number, number> {
  const out = new Map<number, number>();
  for (const top of boxes(init, 0, init.length)) {
    if (top.type !== 'moov') continue;
    const mvex = child(init, top, 'mvex');
    if (mvex === undefined) continue;
    for (const trex of boxes(init, mvex.body, mvex.end)) {
      if (trex.type !== 'trex') continue;
      if (trex.body + 16 > trex.end) throw new Fmp4TimeError('short trex');
      out.set(u32(init, trex.body + 4), u32(init, trex.body + 12));
    }
  }
  return out;
}

/**
 * Where each track fragment of a fragment ends: its decode time plus its samples' durations (trun,
 * else tfhd's default, else `defaults`, the init's trex), in the track's timescale; a track whose
 * durations are nowhere is left out. A sample of duration 0 counts as long as the one before it.
 */
export function fragmentEnds(fragment: Uint8Array, defaults: ReadonlyMap<number, number> = new Map()): Map<number, number> {
  const out = new Map<number, number>();
  const starts = new Map(decodeTimes(fragment).map((t) => [t.trackId, t.decodeTime]));
  for (const top of boxes(fragment, 0, fragment.length)) {
    if (top.type !== 'moof') continue;
    for (const traf of boxes(fragment, top.body, top.end)) {
      if (traf.type !== 'traf') continue;
      const tfhd = child(fragment, traf, 'tfhd');
      if (tfhd === undefined || tfhd.body + 8 > tfhd.end) continue;
      const trackId = u32(fragment, tfhd.body + 4);
      const start = starts.get(trackId);
      if (start === undefined) continue;
      const tfFlags = u32(fragment, tfhd.body) & 0xff_ffff;
      // tfhd: base_data_offset (0x1, 8 bytes) and sample_description_index (0x2) come before the duration (0x8).
      const durationAt = tfhd.body + 8 + (tfFlags & 0x1 ? 8 : 0) + (tfFlags & 0x2 ? 4 : 0);
      let fallback = tfFlags & 0x8 && durationAt + 4 <= tfhd.end ? u32(fragment, durationAt) : defaults.get(trackId);
      let total = 0;
      for (const trun of boxes(fragment, traf.body, traf.end)) {
        if (trun.type !== 'trun') continue;
        const flags = u32(fragment, trun.body) & 0xff_ffff;
        const count = u32(fragment, trun.body + 4);
        let o = trun.body + 8 + (flags & 0x1 ? 4 : 0) + (flags & 0x4 ? 4 : 0);
        const per = [0x100, 0x200, 0x400, 0x800].filter((f) => flags & f).length * 4;
        if (o + count * per > trun.end) throw new Fmp4TimeError('trun shorter than its samples');
        if (!(flags & 0x100)) {
          if (fallback === undefined) {
            total = NaN;
            break;
          }
          total += count * fallback;
          continue;
        }
        // A sample of duration 0 (ffmpeg's last one when its input ends) lasts as the one before it.
        for (let i = 0; i < count; i++, o += per) {
          const d = u32(fragment, o);
          if (d > 0) fallback = d;
          total += d > 0 ? d : (fallback ?? 0);
        }
      }
      if (Number.isFinite(total)) out.set(trackId, start + total);
    }
    break; // one moof per fragment
  }
  return out;
}

/** Each track fragment's decode time in a fragment (moof/traf/tfdt), in order; [] if it has none. */
export function decodeTimes(fragment: Uint8Array): TrackDecodeTime[] {
  const out: TrackDecodeTime[] = [];
  for (const top of boxes(fragment, 0, fragment.length)) {
    if (top.type !== 'moof') continue;
    for (const traf of boxes(fragment, top.body, top.end)) {
      if (traf.type !== 'traf') continue;
      const tfhd = child(fragment, traf, 'tfhd');
      const tfdt = child(fragment, traf, 'tfdt');
      if (tfhd === undefined || tfdt === undefined) continue;
      const wide = fragment[tfdt.body] === 1;
      if (tfhd.body + 8 > tfhd.end || tfdt.body + (wide ? 12 : 8) > tfdt.end) throw new Fmp4TimeError('short tfhd or tfdt');
      const decodeTime = wide ? u32(fragment, tfdt.body + 4) * 2 ** 32 + u32(fragment, tfdt.body + 8) : u32(fragment, tfdt.body + 4);
      out.push({ trackId: u32(fragment, tfhd.body + 4), decodeTime, at: tfdt.start });
    }
    break; // one moof per fragment
  }
  return out;
}

/**
 * Moves every track fragment of `fragment` earlier by `shift(trackId)` ticks of its track (later if
 * negative), in place, within what the box holds (a decode time is unsigned; version 0 holds 32
 * bits). The box sizes do not change.
 */
export function shiftDecodeTimes(fragment: Uint8Array, shift: (trackId: number) => number): void {
  const view = new DataView(fragment.buffer, fragment.byteOffset, fragment.byteLength);
  for (const t of decodeTimes(fragment)) {
    const header = u32(fragment, t.at) === 1 ? 16 : 8;
    const wide = fragment[t.at + header] === 1;
    const value = Math.min(Math.max(0, t.decodeTime - shift(t.trackId)), wide ? Number.MAX_SAFE_INTEGER : 2 ** 32 - 1);
    if (wide) {
      view.setUint32(t.at + header + 4, Math.floor(value / 2 ** 32));
      view.setUint32(t.at + header + 8, value % 2 ** 32);
    } else {
      view.setUint32(t.at + header + 4, value);
    }
  }
}

/**
 * The timeline of an MP4 file written from a live stream (`vigil-phone watch`): the hub's fragments
 * carry ffmpeg's decode times, which count from when the hub started the camera (a 10 s clip
 * would start at 48 s and players would show a 58 s timeline). Each fragment is moved in place so
 * that the first one written starts at 0, all tracks by the same time; after a camera restart
 * (a new init segment, decode times from 0 again) the next fragment follows the last one written.
 */
export class FileTimeline {
  #timescales = new Map<number, number>();
  /** Seconds subtracted from every decode time; undefined until the first fragment after an init. */
  #offset: number | undefined;
  /** Where the next fragment after an init starts, in seconds of the file. */
  #next = 0;
  #last: number | undefined;
  #step = 0;
  /** Where the last fragment written ends (its samples' durations), in seconds of the file, when known. */
  #lastEnd: number | undefined;
  #defaults = new Map<number, number>();

  /**
   * An init segment: its tracks' timescales; the fragments after it are placed after those written
   * (after the last one's end where its sample durations say it, else a fragment's step after its start).
   */
  init(init: Uint8Array): void {
    this.#timescales = trackTimescales(init);
    this.#defaults = trackDefaultDurations(init);
    this.#offset = undefined;
    if (this.#last !== undefined) this.#next = Math.max(this.#last + this.#step, this.#lastEnd ?? 0);
  }

  /** Moves the fragment's decode times in place (see the class comment). */
  rebase(fragment: Uint8Array): void {
    const times = decodeTimes(fragment);
    if (times.length === 0) return;
    const seconds = (t: TrackDecodeTime) => t.decodeTime / (this.#timescales.get(t.trackId) ?? 1);
    const start = Math.min(...times.map(seconds));
    this.#offset ??= start - this.#next;
    const offset = this.#offset;
    shiftDecodeTimes(fragment, (id) => Math.round(offset * (this.#timescales.get(id) ?? 1)));
    const at = start - offset;
    if (this.#last !== undefined && at > this.#last) this.#step = at - this.#last;
    this.#last = at;
    const ends = [...fragmentEnds(fragment, this.#defaults)].map(([id, end]) => end / (this.#timescales.get(id) ?? 1));
    this.#lastEnd = ends.length > 0 ? Math.max(...ends) : undefined;
  }
}
