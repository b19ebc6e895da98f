// Fragmented MP4 from a camera's access units, one fragment per frame, written as each frame arrives.
//
// This replaces ffmpeg's remux of the RTSP stream: ffmpeg held every frame for two frame intervals
// (its parser waits for the next frame to know where this one ends, its muxer for the next packet to
// know this one's duration). Here the RTSP reader already hands over whole frames, and a frame's
// duration is guessed from the interval before it, so nothing waits for the next frame.
//
// Output is what the hub's Fmp4Splitter and MSE expect of ffmpeg's `empty_moov+default_base_moof`:
// an init segment (ftyp + moov with one video track and mvex), then moof + mdat per frame. Decode
// times are in the camera's clock (90 kHz) and restart at 0 after every init segment.
//
// Untrusted input: every NAL is checked for its header, a frame larger than `maxFrameBytes` is
// refused before anything is allocated, parameter sets are kept by id (so at most a few hundred,
// each at most 64 KiB), and push() either writes the whole frame or throws an H26xError and changes
// nothing.
//
// Pure code (no Node built-ins).

import type { AccessUnit, VideoCodec } from './access-unit.ts';
import { Fmp4Splitter, type Fmp4Segment, type InitSegment } from './fmp4.ts';
import {
  H264_NAL, H265_NAL, H26xError, avcC, hvcC, isKeyframeType, isVclType, nalLayerId,
  nalType, parameterSetId, parameterSetKind, parseSps,
} from './h26x.ts';

export interface Fmp4WriterOptions {
  codec: VideoCodec;
  /** Ticks per second of AccessUnit.time, the track's timescale (default 90,000, RTP video). */
  clockRate?: number;
  /** Parameter sets known before the first frame (the SDP's sprop-parameter-sets / sprop-vps/sps/pps). */
  parameterSets?: Uint8Array[];
  /** A frame's duration until two frames have given an interval (default 3,600: 25 fps at 90 kHz). */
  defaultFrameTicks?: number;
  /** Largest sample (NALs with their 4-byte lengths) accepted (default 16 MiB, at most MAX_FRAME_BYTES). */
  maxFrameBytes?: number;
}

export const FMP4_WRITER_DEFAULTS = {
  clockRate: 90_000,
  defaultFrameTicks: 3_600,
  maxFrameBytes: 16 * 1024 * 1024,
} as const;

/** The mdat's 32-bit size bounds a sample; 1 GiB is far beyond any camera frame. */
export const MAX_FRAME_BYTES = 1024 * 1024 * 1024;

/**
 * ISO/IEC 14496-12 8.8.3.1 sample flags: a keyframe depends on nothing (sample_depends_on 2); any
 * other frame depends on others (1) and is not a sync sample.
 */
export const SAMPLE_FLAGS = { keyframe: 0x0200_0000, other: 0x0101_0000 } as const;

/**
 * A frame's duration is the interval before it, a guess at the interval after it. A longer interval
 * is a gap (the camera or the network stalled), not a frame rate, and is not worth carrying into the
 * next frame's duration beyond this many seconds.
 */
const MAX_GUESSED_DURATION_SECONDS = 10;

const TRACK_ID = 1;

/** Real parameter sets are under 1 KiB; a configuration record could hold 64 KiB (h26x.ts MAX_PARAMETER_SET_BYTES). */
const MAX_CAMERA_PARAMETER_SET_BYTES = 4096;
/** Cameras send one VPS, SPS and PPS (or a few PPS) before a keyframe. */
const MAX_PARAMETER_SETS_PER_PICTURE = 32;

/** What almost every frame carries: no new parameter sets (shared, so a frame allocates nothing for it). */
const NO_UPDATES: readonly SetUpdate[] = [];

type SetKind = 'vps' | 'sps' | 'pps';

interface SetUpdate {
  kind: SetKind;
  id: number;
  nal: Uint8Array;
  size?: { width: number; height: number };
}

export class Fmp4Writer {
  readonly codec: VideoCodec;
  readonly clockRate: number;
  readonly defaultFrameTicks: number;
  readonly maxFrameBytes: number;

  private readonly sets: Record<SetKind, Map<number, Uint8Array>> = { vps: new Map(), sps: new Map(), pps: new Map() };
  /** The SPS seen last, whose size the init segment states. */
  private currentSps: { id: number; width: number; height: number } | undefined;
  private initWritten = false;
  /** A parameter set changed since the last init segment: write a new one at the next keyframe. */
  private configChanged = false;
  private sequence = 0;
  /** AccessUnit.time of the first frame after the last init segment. */
  private baseTime = 0;
  /** Time of the last frame, after clamping: the next one must come after it. */
  private lastTime: number | undefined;
  /** Time of the last frame as the camera sent it, for the interval between frames. */
  private lastCameraTime: number | undefined;
  private interval: number;

  constructor(options: Fmp4WriterOptions) {
    const codec = options.codec;
    if (codec !== 'h264' && codec !== 'h265') throw new H26xError('bad-options', `codec must be 'h264' or 'h265', got ${JSON.stringify(codec)}`);
    this.codec = codec;
    this.clockRate = integerOption('clockRate', options.clockRate ?? FMP4_WRITER_DEFAULTS.clockRate, 1, 0xffff_ffff);
    this.defaultFrameTicks = integerOption('defaultFrameTicks', options.defaultFrameTicks ?? FMP4_WRITER_DEFAULTS.defaultFrameTicks, 1, 0xffff_ffff);
    this.maxFrameBytes = integerOption('maxFrameBytes', options.maxFrameBytes ?? FMP4_WRITER_DEFAULTS.maxFrameBytes, 5, MAX_FRAME_BYTES);
    this.interval = this.defaultFrameTicks;
    // Parameter sets from the SDP are held to the same standard as in-band ones: a broken one throws
    // here rather than producing an init segment no decoder accepts.
    this.applyUpdates(this.collectUpdates(options.parameterSets ?? []));
  }

  /**
   * Write one access unit. Returns what to send, in order: nothing (a frame before the first keyframe
   * with parameter sets, or an access unit without a picture, whose parameter sets are kept), this
   * frame's fragment, or a new init segment and then this frame's fragment. Throws H26xError and
   * changes nothing when the access unit is refused. Each comes with what the ingest needs to know
   * of it (keyframe, decode time; an init's codecs and size), so nobody parses the bytes again.
   */
  push(au: AccessUnit): Fmp4Segment[] {
    const codec = this.codec;
    const nals = au.nals;
    if (nals.length === 0) throw new H26xError('empty-access-unit', 'access unit with no NAL units');
    if (!Number.isSafeInteger(au.time)) throw new H26xError('bad-time', `access unit time ${au.time} is not a safe integer`);
    const audType = codec === 'h264' ? H264_NAL.aud : H265_NAL.aud;
    let sampleBytes = 0;
    let picture = false;
    let keyframe = false;
    for (const nal of nals) {
      const type = nalType(codec, nal);
      // Delimiters say where an access unit starts, which the sample's own boundaries already say.
      if (type === audType) continue;
      sampleBytes += 4 + nal.length;
      if (sampleBytes > this.maxFrameBytes) {
        throw new H26xError('frame-too-large', `access unit of more than ${this.maxFrameBytes} bytes (maxFrameBytes) at time ${au.time}`);
      }
      if (isVclType(codec, type)) {
        picture = true;
        if (isKeyframeType(codec, type)) keyframe = true;
      }
    }
    if (sampleBytes === 0) throw new H26xError('empty-access-unit', 'access unit with nothing but delimiters');
    this.applyUpdates(this.collectUpdates(nals));
    // Some cameras send their parameter sets under a timestamp of their own: not a frame to write or
    // to time, and the parameter sets will be in the next init segment.
    if (!picture) return [];

    let time = au.time;
    if (this.lastCameraTime !== undefined && time > this.lastCameraTime) this.interval = time - this.lastCameraTime;
    this.lastCameraTime = time;
    // A camera clock that steps back: keep decode times increasing, one tick apart, as ffmpeg does.
    if (this.lastTime !== undefined && time <= this.lastTime) time = this.lastTime + 1;
    this.lastTime = time;

    const out: Fmp4Segment[] = [];
    if (!this.initWritten || this.configChanged) {
      if (keyframe && this.haveAllSets()) {
        out.push(this.initSegment());
        this.initWritten = true;
        this.configChanged = false;
        this.baseTime = time;
      } else if (!this.initWritten) {
        // Nothing a viewer could decode yet.
        return [];
      }
      // Else the new parameter sets take effect at the next keyframe: this frame still decodes with
      // the old ones (an H.264/H.265 SPS only becomes active at an IDR/IRAP).
    }
    const decodeTime = time - this.baseTime;
    out.push({
      type: 'fragment', data: this.fragment(nals, sampleBytes, decodeTime, keyframe), keyframe, decodeTime,
      timescale: this.clockRate, trackIds: [TRACK_ID], sequence: this.sequence,
    });
    return out;
  }

  /** Parameter sets among `nals` that differ from the ones kept; throws before anything is kept. */
  private collectUpdates(nals: readonly Uint8Array[]): readonly SetUpdate[] {
    let updates: SetUpdate[] | undefined;
    let count = 0;
    for (const nal of nals) {
      const kind = parameterSetKind(this.codec, nalType(this.codec, nal));
      // Layers above the base layer are for decoders that know them: they stay in the sample only.
      if (kind === undefined || nalLayerId(this.codec, nal) !== 0) continue;
      // Bounds on what a hostile camera can make the hub compare for each picture: a few sets of a
      // few hundred bytes is what cameras send before a keyframe.
      if (++count > MAX_PARAMETER_SETS_PER_PICTURE) {
        throw new H26xError('bad-parameter-set', `more than ${MAX_PARAMETER_SETS_PER_PICTURE} parameter sets in one ${this.codec} picture`);
      }
      const trimmed = trimTrailingZeros(nal);
      if (trimmed.length > MAX_CAMERA_PARAMETER_SET_BYTES) {
        throw new H26xError('bad-parameter-set', `${this.codec} ${kind} of ${trimmed.length} bytes, limit ${MAX_CAMERA_PARAMETER_SET_BYTES}`);
      }
      // Compared with the kept set of the same id only (one comparison, not one per kept set).
      const sps = kind === 'sps' ? parseSps(this.codec, trimmed) : undefined;
      const id = sps !== undefined ? sps.spsId : parameterSetId(this.codec, trimmed);
      const kept = this.sets[kind].get(id);
      if (kept !== undefined && equalBytes(kept, trimmed)) continue;
      const update: SetUpdate = { kind, id, nal: trimmed.slice() };
      if (sps !== undefined) update.size = { width: sps.width, height: sps.height };
      (updates ??= []).push(update);
    }
    return updates ?? NO_UPDATES;
  }

  private applyUpdates(updates: readonly SetUpdate[]): void {
    for (const u of updates) {
      const map = this.sets[u.kind];
      const old = map.get(u.id);
      if (old !== undefined && equalBytes(old, u.nal)) continue; // repeated within one access unit
      map.set(u.id, u.nal);
      if (u.size) this.currentSps = { id: u.id, ...u.size };
      if (this.initWritten) this.configChanged = true;
    }
  }

  private haveAllSets(): boolean {
    return this.currentSps !== undefined && this.sets.pps.size > 0 && (this.codec === 'h264' || this.sets.vps.size > 0);
  }

  /** Once per stream: its description read back by the splitter, which knows the codec strings. */
  private initSegment(): InitSegment {
    const sps = this.currentSps!;
    const byId = (m: Map<number, Uint8Array>): Uint8Array[] => [...m.entries()].sort((a, b) => a[0] - b[0]).map((e) => e[1]);
    // The configuration record takes its profile and level from its first SPS: the current one.
    const current = this.sets.sps.get(sps.id)!;
    const spsList = [current, ...byId(this.sets.sps).filter((nal) => nal !== current)];
    const record = this.codec === 'h264'
      ? avcC(spsList, byId(this.sets.pps))
      : hvcC(byId(this.sets.vps), spsList, byId(this.sets.pps));
    const data = initSegment({
      sampleEntry: this.codec === 'h264' ? 'avc1' : 'hvc1',
      configBox: this.codec === 'h264' ? 'avcC' : 'hvcC',
      record,
      width: sps.width,
      height: sps.height,
      timescale: this.clockRate,
    });
    const [init] = new Fmp4Splitter().push(data);
    if (init?.type !== 'init') throw new Error('the writer made an init segment its own splitter does not read');
    return init;
  }

  /** moof + mdat in one buffer: the header from a template, each NAL copied once after its length. */
  private fragment(nals: readonly Uint8Array[], sampleBytes: number, decodeTime: number, keyframe: boolean): Uint8Array {
    const audType = this.codec === 'h264' ? H264_NAL.aud : H265_NAL.aud;
    const out = new Uint8Array(FRAGMENT.header.length + sampleBytes);
    out.set(FRAGMENT.header);
    const view = new DataView(out.buffer, out.byteOffset, out.byteLength);
    // mfhd sequence numbers start at 1 and, should a camera stream for years, skip 0 on wrapping.
    this.sequence = this.sequence >= 0xffff_ffff ? 1 : this.sequence + 1;
    view.setUint32(FRAGMENT.sequence, this.sequence);
    view.setUint32(FRAGMENT.decodeTimeHigh, Math.floor(decodeTime / 0x1_0000_0000));
    view.setUint32(FRAGMENT.decodeTimeLow, decodeTime % 0x1_0000_0000);
    view.setUint32(FRAGMENT.duration, Math.min(this.interval, this.clockRate * MAX_GUESSED_DURATION_SECONDS, 0xffff_ffff));
    view.setUint32(FRAGMENT.sampleSize, sampleBytes);
    view.setUint32(FRAGMENT.sampleFlags, keyframe ? SAMPLE_FLAGS.keyframe : SAMPLE_FLAGS.other);
    view.setUint32(FRAGMENT.mdatSize, 8 + sampleBytes);
    let o = FRAGMENT.header.length;
    for (const nal of nals) {
      if (nalType(this.codec, nal) === audType) continue;
      view.setUint32(o, nal.length);
      out.set(nal, o + 4);
      o += 4 + nal.length;
    }
    return out;
  }
}

function integerOption(name: string, value: number, min: number, max: number): number {
  if (!Number.isSafeInteger(value) || value < min || value > max) {
    throw new H26xError('bad-options', `${name} must be an integer in ${min}..${max}, got ${value}`);
  }
  return value;
}

/**
 * An RBSP ends in a stop bit, so a parameter set never ends in a zero byte: zeros there are byte-stream
 * padding (trailing_zero_8bits) that some cameras leave on, and would make a repeated SPS look changed.
 */
function trimTrailingZeros(nal: Uint8Array): Uint8Array {
  let end = nal.length;
  while (end > 1 && nal[end - 1] === 0) end--;
  return end === nal.length ? nal : nal.subarray(0, end);
}

function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

// ---------------------------------------------------------------------------------------------
// Boxes (ISO/IEC 14496-12)

class BoxWriter {
  private buf = new Uint8Array(512);
  private view = new DataView(this.buf.buffer);
  private o = 0;
  private open: number[] = [];

  get offset(): number {
    return this.o;
  }

  /** Open a box (a full box when `version` is given); end() writes its size. */
  start(type: string, version?: number, flags = 0): this {
    this.open.push(this.o);
    this.u32(0).fourcc(type);
    if (version !== undefined) this.u32(((version & 0xff) << 24 | (flags & 0xff_ffff)) >>> 0);
    return this;
  }
  end(): this {
    const start = this.open.pop();
    if (start === undefined) throw new Error('BoxWriter: end() without start()');
    this.view.setUint32(start, this.o - start);
    return this;
  }
  u8(v: number): this {
    this.room(1).view.setUint8(this.o, v);
    this.o += 1;
    return this;
  }
  u16(v: number): this {
    this.room(2).view.setUint16(this.o, v);
    this.o += 2;
    return this;
  }
  u32(v: number): this {
    this.room(4).view.setUint32(this.o, v);
    this.o += 4;
    return this;
  }
  fourcc(s: string): this {
    for (let i = 0; i < 4; i++) this.u8(s.charCodeAt(i));
    return this;
  }
  zeros(n: number): this {
    this.room(n);
    this.o += n;
    return this;
  }
  bytes(b: Uint8Array): this {
    this.room(b.length).buf.set(b, this.o);
    this.o += b.length;
    return this;
  }
  /** The identity transformation matrix of mvhd and tkhd. */
  matrix(): this {
    return this.u32(0x0001_0000).u32(0).u32(0).u32(0).u32(0x0001_0000).u32(0).u32(0).u32(0).u32(0x4000_0000);
  }
  finish(): Uint8Array {
    if (this.open.length > 0) throw new Error('BoxWriter: box left open');
    return this.buf.slice(0, this.o);
  }
  private room(n: number): this {
    if (this.o + n > this.buf.length) {
      const grown = new Uint8Array(Math.max(this.buf.length * 2, this.o + n));
      grown.set(this.buf.subarray(0, this.o));
      this.buf = grown;
      this.view = new DataView(grown.buffer);
    }
    return this;
  }
}

interface InitParams {
  sampleEntry: 'avc1' | 'hvc1';
  configBox: 'avcC' | 'hvcC';
  record: Uint8Array;
  width: number;
  height: number;
  timescale: number;
}

function initSegment(p: InitParams): Uint8Array {
  const w = new BoxWriter();
  w.start('ftyp').fourcc('iso5').u32(512).fourcc('iso5').fourcc('iso6').fourcc('mp41').end();
  w.start('moov');
  // Movie timescale 1000: nothing in the moov has a duration (everything is in fragments).
  w.start('mvhd', 0).u32(0).u32(0).u32(1000).u32(0).u32(0x0001_0000).u16(0x0100).zeros(10).matrix().zeros(24).u32(TRACK_ID + 1).end();
  w.start('trak');
  // Flags 3: track enabled and in the movie.
  w.start('tkhd', 0, 3).u32(0).u32(0).u32(TRACK_ID).u32(0).u32(0).zeros(8).u16(0).u16(0).u16(0).u16(0).matrix()
    .u32(p.width * 0x1_0000).u32(p.height * 0x1_0000).end();
  w.start('mdia');
  // Language 'und' packed as three 5-bit letters.
  w.start('mdhd', 0).u32(0).u32(0).u32(p.timescale).u32(0).u16(0x55c4).u16(0).end();
  w.start('hdlr', 0).u32(0).fourcc('vide').zeros(12).bytes(new TextEncoder().encode('VideoHandler\0')).end();
  w.start('minf');
  w.start('vmhd', 0, 1).zeros(8).end();
  // Flag 1 of 'url ': the media is in this file (here, the fragments that follow).
  w.start('dinf').start('dref', 0).u32(1).start('url ', 0, 1).end().end().end();
  w.start('stbl');
  w.start('stsd', 0).u32(1);
  // VisualSampleEntry: data_reference_index 1, size, 72 dpi, one frame per sample, depth 24.
  w.start(p.sampleEntry).zeros(6).u16(1).zeros(16).u16(p.width).u16(p.height).u32(0x0048_0000).u32(0x0048_0000)
    .u32(0).u16(1).zeros(32).u16(0x0018).u16(0xffff);
  w.start(p.configBox).bytes(p.record).end();
  w.end();
  w.end();
  w.start('stts', 0).u32(0).end();
  w.start('stsc', 0).u32(0).end();
  w.start('stsz', 0).u32(0).u32(0).end();
  w.start('stco', 0).u32(0).end();
  w.end(); // stbl
  w.end(); // minf
  w.end(); // mdia
  w.end(); // trak
  w.start('mvex').start('trex', 0).u32(TRACK_ID).u32(1).u32(0).u32(0).u32(0).end().end();
  w.end(); // moov
  return w.finish();
}

/**
 * Every fragment's moof and mdat header are the same but for a few fields: written once here, copied
 * per frame, and those fields patched at the offsets recorded while writing it.
 */
const FRAGMENT = (() => {
  const w = new BoxWriter();
  w.start('moof');
  w.start('mfhd', 0);
  const sequence = w.offset;
  w.u32(0).end();
  w.start('traf');
  // default-base-is-moof: data offsets count from this moof, so each fragment stands alone.
  w.start('tfhd', 0, 0x02_0000).u32(TRACK_ID).end();
  // Version 1: a 64-bit decode time, which passes 2^32 ticks after 13 hours at 90 kHz.
  w.start('tfdt', 1);
  const decodeTimeHigh = w.offset;
  w.u32(0).u32(0).end();
  // data-offset, sample-duration, sample-size and sample-flags present; one sample.
  w.start('trun', 0, 0x000701).u32(1);
  const dataOffset = w.offset;
  w.u32(0);
  const duration = w.offset;
  w.u32(0).u32(0).u32(0).end();
  w.end(); // traf
  w.end(); // moof
  const mdatSize = w.offset;
  w.u32(0).fourcc('mdat');
  const header = w.finish();
  new DataView(header.buffer).setUint32(dataOffset, header.length);
  return {
    header, sequence, decodeTimeHigh, decodeTimeLow: decodeTimeHigh + 4,
    duration, sampleSize: duration + 4, sampleFlags: duration + 8, mdatSize,
  };
})();
