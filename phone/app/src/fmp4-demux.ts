// Fragmented MP4 (ISO/IEC 14496-12) taken apart for WebCodecs: the video track's decoder
// configuration from the init segment (codec string and the avcC/hvcC record, ISO/IEC 14496-15),
// and each fragment's video samples (moof/traf/{tfhd,tfdt,trun} + mdat) as the bytes of one coded
// picture, its presentation time and whether it is a keyframe. The WebCodecs player
// (webcodecs-player.dom.ts) feeds these to a VideoDecoder.
//
// Fragments are already authenticated when they get here (the hub sealed them), but the hub relays a
// camera's bytes as ffmpeg wrote them, so they are still parsed as untrusted: every box must fit its
// parent, every sample must lie inside the fragment, and counts are bounded before anything is
// allocated. Anything else is a Fmp4DemuxError with a stable code; the player then waits for the
// next keyframe. Pure (no DOM): tested in Node on ffmpeg's own output (test/phone/app/fmp4-demux.test.ts).
// native/fmp4.ts parses the same boxes for the hub, but phone code may not import native/.

export type Fmp4DemuxErrorCode =
  /** A box does not fit its parent, or a field runs past its box. */
  | 'bad-box'
  /** The init segment has no video track, or its sample entry has no avcC/hvcC. */
  | 'no-video'
  /** A fragment has no moof or mdat, or a sample lies outside the fragment. */
  | 'bad-fragment'
  /** More samples in one fragment than MAX_SAMPLES. */
  | 'too-many-samples';

export class Fmp4DemuxError extends Error {
  override readonly name = 'Fmp4DemuxError';
  constructor(readonly code: Fmp4DemuxErrorCode, message: string) {
    super(`${code}: ${message}`);
  }
}

/** Samples one fragment may hold: a 2 s fragment (the hub's longest) at 120 fps is 240. */
export const MAX_SAMPLES = 1024;

/** What a VideoDecoder needs to start, and what reading the fragments needs. */
export interface VideoTrack {
  trackId: number;
  /** mdhd timescale: ticks per second of the track's times. */
  timescale: number;
  /** RFC 6381, e.g. 'avc1.42C01E', 'hvc1.1.6.L93.B0'. */
  codec: string;
  /** The sample entry's avcC or hvcC box body: VideoDecoderConfig.description. */
  description: Uint8Array;
  width: number;
  height: number;
  /** trex defaults, used when a fragment does not say. */
  defaultDuration: number;
  defaultSize: number;
  defaultFlags: number;
  /** The init segment holds an audio track too (the WebCodecs player plays none). */
  hasAudio: boolean;
}

/** One coded picture. `data` is a view into the fragment. */
export interface VideoSample {
  data: Uint8Array;
  key: boolean;
  /** Presentation time (decode time + composition offset), microseconds. */
  timestamp: number;
  /** Microseconds (0 when the fragment says 0 and no sample before it gives one). */
  duration: number;
}

interface Box {
  readonly type: string;
  /** Offset of the box, of its body (after the header), and of its end, in the buffer. */
  readonly start: number;
  readonly body: number;
  readonly end: number;
}

function u16(b: Uint8Array, o: number): number {
  return (b[o]! << 8) | b[o + 1]!;
}

function u32(b: Uint8Array, o: number): number {
  return ((b[o]! << 24) | (b[o + 1]! << 16) | (b[o + 2]! << 8) | b[o + 3]!) >>> 0;
}

function u64(b: Uint8Array, o: number): number {
  // Beyond 2^53 ticks (millennia at 90 kHz) precision is not needed.
  return u32(b, o) * 2 ** 32 + u32(b, o + 4);
}

function need(ok: boolean, what: string): void {
  if (!ok) throw new Fmp4DemuxError('bad-box', `${what} is truncated`);
}

/** The child boxes of [from, to). Each step advances by at least 8 bytes. */
function boxes(b: Uint8Array, from: number, to: number): Box[] {
  const out: Box[] = [];
  let o = from;
  while (o < to) {
    if (to - o < 8) throw new Fmp4DemuxError('bad-box', `${to - o} stray bytes`);
    let size = u32(b, o);
    let body = o + 8;
    if (size === 1) {
      need(o + 16 <= to, 'a 64-bit box header');
      size = u64(b, o + 8);
      body = o + 16;
    } else if (size === 0) {
      size = to - o; // "to the end": of the parent here
    }
    const type = String.fromCharCode(b[o + 4]!, b[o + 5]!, b[o + 6]!, b[o + 7]!);
    if (size < body - o || o + size > to) {
      throw new Fmp4DemuxError('bad-box', `'${type.replace(/[^\x20-\x7e]/g, '?')}' declares ${size} bytes, ${to - o} left in its parent`);
    }
    out.push({ type, start: o, body, end: o + size });
    o += size;
  }
  return out;
}

function child(b: Uint8Array, parent: Box, type: string): Box | undefined {
  return boxes(b, parent.body, parent.end).find((x) => x.type === type);
}

function hex2(n: number): string {
  return n.toString(16).toUpperCase().padStart(2, '0');
}

/** ISO/IEC 14496-15 Annex E: hvc1.[space][profile].[compatibility, reversed].[L|H][level].[constraints]. */
function hevcCodec(entry: string, b: Uint8Array, hvcC: Box): string {
  const o = hvcC.body;
  need(o + 13 <= hvcC.end, 'hvcC');
  const b1 = b[o + 1]!;
  let compat = u32(b, o + 2);
  let reversed = 0;
  for (let i = 0; i < 32; i++) {
    reversed = ((reversed << 1) | (compat & 1)) >>> 0;
    compat >>>= 1;
  }
  const constraints: string[] = [];
  for (let i = 0; i < 6; i++) constraints.push(hex2(b[o + 6 + i]!));
  while (constraints.at(-1) === '00') constraints.pop();
  const space = ['', 'A', 'B', 'C'][b1 >> 6]!;
  return [entry, `${space}${b1 & 0x1f}`, reversed.toString(16).toUpperCase(), `${b1 & 0x20 ? 'H' : 'L'}${b[o + 12]!}`, ...constraints].join('.');
}

/** The first video track of an init segment (ftyp + moov), as a VideoDecoder is configured with it. */
export function videoTrack(init: Uint8Array): VideoTrack {
  const moov = boxes(init, 0, init.length).find((x) => x.type === 'moov');
  if (moov === undefined) throw new Fmp4DemuxError('no-video', 'no moov in the init segment');
  const trex = new Map<number, { duration: number; size: number; flags: number }>();
  const mvex = child(init, moov, 'mvex');
  for (const t of mvex === undefined ? [] : boxes(init, mvex.body, mvex.end)) {
    if (t.type !== 'trex') continue;
    need(t.body + 24 <= t.end, 'trex');
    trex.set(u32(init, t.body + 4), { duration: u32(init, t.body + 12), size: u32(init, t.body + 16), flags: u32(init, t.body + 20) });
  }
  let video: VideoTrack | undefined;
  let hasAudio = false;
  for (const trak of boxes(init, moov.body, moov.end)) {
    if (trak.type !== 'trak') continue;
    const tkhd = child(init, trak, 'tkhd');
    const mdia = child(init, trak, 'mdia');
    const hdlr = mdia && child(init, mdia, 'hdlr');
    const mdhd = mdia && child(init, mdia, 'mdhd');
    if (tkhd === undefined || hdlr === undefined || mdhd === undefined) continue;
    need(hdlr.body + 12 <= hdlr.end, 'hdlr');
    const handler = String.fromCharCode(...init.subarray(hdlr.body + 8, hdlr.body + 12));
    if (handler === 'soun') hasAudio = true;
    if (handler !== 'vide' || video !== undefined) continue;
    // Version 1 widens the times before the id (tkhd) and the timescale (mdhd) to 64 bits.
    const idAt = tkhd.body + (init[tkhd.body] === 1 ? 20 : 12);
    const scaleAt = mdhd.body + (init[mdhd.body] === 1 ? 20 : 12);
    need(idAt + 4 <= tkhd.end && scaleAt + 4 <= mdhd.end, 'tkhd or mdhd');
    const trackId = u32(init, idAt);
    const timescale = u32(init, scaleAt);
    if (timescale === 0) throw new Fmp4DemuxError('no-video', `track ${trackId} has timescale 0`);
    const minf = child(init, mdia!, 'minf');
    const stbl = minf && child(init, minf, 'stbl');
    const stsd = stbl && child(init, stbl, 'stsd');
    if (stsd === undefined) throw new Fmp4DemuxError('no-video', `track ${trackId} has no stsd`);
    need(stsd.body + 8 <= stsd.end, 'stsd');
    const entry = boxes(init, stsd.body + 8, stsd.end)[0];
    if (entry === undefined) throw new Fmp4DemuxError('no-video', `track ${trackId} has no sample entry`);
    // VisualSampleEntry: 8 bytes of SampleEntry, 70 of visual fields, then child boxes.
    need(entry.body + 78 <= entry.end, `${entry.type} sample entry`);
    const kids = boxes(init, entry.body + 78, entry.end);
    const avcC = kids.find((x) => x.type === 'avcC');
    const hvcC = kids.find((x) => x.type === 'hvcC');
    let codec: string;
    let config: Box;
    if ((entry.type === 'avc1' || entry.type === 'avc3') && avcC !== undefined) {
      need(avcC.body + 4 <= avcC.end, 'avcC');
      codec = `${entry.type}.${hex2(init[avcC.body + 1]!)}${hex2(init[avcC.body + 2]!)}${hex2(init[avcC.body + 3]!)}`;
      config = avcC;
    } else if ((entry.type === 'hvc1' || entry.type === 'hev1') && hvcC !== undefined) {
      codec = hevcCodec(entry.type, init, hvcC);
      config = hvcC;
    } else {
      throw new Fmp4DemuxError('no-video', `track ${trackId}: '${entry.type.replace(/[^\x20-\x7e]/g, '?')}' has no avcC or hvcC`);
    }
    const d = trex.get(trackId) ?? { duration: 0, size: 0, flags: 0 };
    video = {
      trackId, timescale, codec,
      description: init.slice(config.body, config.end),
      width: u16(init, entry.body + 24), height: u16(init, entry.body + 26),
      defaultDuration: d.duration, defaultSize: d.size, defaultFlags: d.flags,
      hasAudio: false,
    };
  }
  if (video === undefined) throw new Fmp4DemuxError('no-video', 'the init segment has no video track');
  video.hasAudio = hasAudio;
  return video;
}

/** Sample flags (ISO/IEC 14496-12 8.8.3.1): a sync sample does not depend on others. */
function isSync(flags: number): boolean {
  return (flags & 0x0001_0000) === 0 && ((flags >>> 24) & 0x3) !== 1;
}

/**
 * The video samples of one fragment (styp/prft… then moof + mdat), in decode order. Track
 * fragments of other tracks (audio) are skipped. Data offsets count from the moof (ffmpeg's
 * default_base_moof; an explicit base_data_offset counts from the fragment's first byte).
 */
export function videoSamples(fragment: Uint8Array, track: VideoTrack): VideoSample[] {
  const top = boxes(fragment, 0, fragment.length);
  const moofAt = top.findIndex((x) => x.type === 'moof');
  const moof = top[moofAt];
  if (moof === undefined) throw new Fmp4DemuxError('bad-fragment', 'no moof');
  const mdat = top.slice(moofAt + 1).find((x) => x.type === 'mdat');
  if (mdat === undefined) throw new Fmp4DemuxError('bad-fragment', 'no mdat after the moof');
  const out: VideoSample[] = [];
  const us = (ticks: number) => Math.round((ticks * 1_000_000) / track.timescale);
  for (const traf of boxes(fragment, moof.body, moof.end)) {
    if (traf.type !== 'traf') continue;
    const kids = boxes(fragment, traf.body, traf.end);
    const tfhd = kids.find((x) => x.type === 'tfhd');
    if (tfhd === undefined) throw new Fmp4DemuxError('bad-fragment', 'traf without tfhd');
    need(tfhd.body + 8 <= tfhd.end, 'tfhd');
    if (u32(fragment, tfhd.body + 4) !== track.trackId) continue;
    const tf = u32(fragment, tfhd.body) & 0xff_ffff;
    let o = tfhd.body + 8;
    const field = (flag: number, n: number): number | undefined => {
      if (!(tf & flag)) return undefined;
      need(o + n <= tfhd.end, 'tfhd');
      const v = n === 8 ? u64(fragment, o) : u32(fragment, o);
      o += n;
      return v;
    };
    const baseOffset = field(0x01, 8);
    field(0x02, 4); // sample_description_index
    let defDuration = field(0x08, 4) ?? track.defaultDuration;
    const defSize = field(0x10, 4) ?? track.defaultSize;
    const defFlags = field(0x20, 4) ?? track.defaultFlags;
    const tfdt = kids.find((x) => x.type === 'tfdt');
    if (tfdt === undefined) throw new Fmp4DemuxError('bad-fragment', 'traf without tfdt');
    const wide = fragment[tfdt.body] === 1;
    need(tfdt.body + (wide ? 12 : 8) <= tfdt.end, 'tfdt');
    let dts = wide ? u64(fragment, tfdt.body + 4) : u32(fragment, tfdt.body + 4);
    // Where the next trun's data starts when it gives no data_offset: after the previous one's.
    let next = baseOffset ?? moof.start;
    const base = next;
    for (const trun of kids) {
      if (trun.type !== 'trun') continue;
      need(trun.body + 8 <= trun.end, 'trun');
      const version = fragment[trun.body]!;
      const f = u32(fragment, trun.body) & 0xff_ffff;
      const count = u32(fragment, trun.body + 4);
      if (out.length + count > MAX_SAMPLES) throw new Fmp4DemuxError('too-many-samples', `${out.length + count} samples, limit ${MAX_SAMPLES}`);
      let p = trun.body + 8;
      if (f & 0x01) {
        need(p + 4 <= trun.end, 'trun data_offset');
        next = base + (u32(fragment, p) | 0); // signed
        p += 4;
      }
      let firstFlags: number | undefined;
      if (f & 0x04) {
        need(p + 4 <= trun.end, 'trun first_sample_flags');
        firstFlags = u32(fragment, p);
        p += 4;
      }
      const per = ((f & 0x100 ? 1 : 0) + (f & 0x200 ? 1 : 0) + (f & 0x400 ? 1 : 0) + (f & 0x800 ? 1 : 0)) * 4;
      need(p + count * per <= trun.end, 'trun samples');
      for (let i = 0; i < count; i++) {
        let duration = defDuration;
        if (f & 0x100) {
          duration = u32(fragment, p);
          p += 4;
        }
        // ffmpeg writes 0 for the last sample when its input ends: it lasts as the one before.
        if (duration > 0) defDuration = duration;
        else duration = defDuration;
        let size = defSize;
        if (f & 0x200) {
          size = u32(fragment, p);
          p += 4;
        }
        let flags = i === 0 && firstFlags !== undefined ? firstFlags : defFlags;
        if (f & 0x400) {
          flags = u32(fragment, p);
          p += 4;
        }
        let cto = 0;
        if (f & 0x800) {
          cto = version === 0 ? u32(fragment, p) : u32(fragment, p) | 0;
          p += 4;
        }
        if (next < mdat.body || next + size > mdat.end) {
          throw new Fmp4DemuxError('bad-fragment', `sample ${out.length} (${size} bytes at ${next}) lies outside the mdat [${mdat.body}, ${mdat.end})`);
        }
        if (size === 0) throw new Fmp4DemuxError('bad-fragment', `sample ${out.length} is empty`);
        out.push({ data: fragment.subarray(next, next + size), key: isSync(flags), timestamp: us(dts + cto), duration: us(duration) });
        next += size;
        dts += duration;
      }
    }
  }
  return out;
}
