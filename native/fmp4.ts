// Streaming splitter for fragmented MP4 (ISO BMFF) as ffmpeg writes it to a pipe.
//
// A camera stream is untrusted input: every size is checked before anything is buffered or
// allocated, a box never grows past `maxBoxSize`, the bytes held between calls never pass
// `maxBufferedBytes`, and every loop advances by at least one header. Anything that does not fit
// throws an `Fmp4Error` with a stable `code`; after that the splitter refuses further input.
//
// Pure code (no Node built-ins) so it can run anywhere; native/ only happens to be its home.
//
// It runs once per fragment per camera on the hub (a few times a second, up to once per frame; ffmpeg
// writes each fragment in one write), so the common case is cheap: a fragment that arrives whole in one chunk is returned
// as a view of that chunk, not copied (see joinParts for the bound on what a view may pin). Segments
// may therefore share memory with the chunks pushed: a caller must not change a chunk after push().

import { concat } from '../lib/bytes.ts';

export type Fmp4ErrorCode =
  /** A box header declares a size smaller than its header, past its parent, or 0 ("to end of file"). */
  | 'bad-box-size'
  /** A box is larger than `maxBoxSize`. */
  | 'box-too-large'
  /** More than `maxBufferedBytes` would be held waiting for a fragment to complete. */
  | 'buffer-overflow'
  /** A fragment (moof, mdat, styp, sidx…) arrived before the init segment (ftyp + moov). */
  | 'no-init-segment'
  /** A moof was followed by something other than its mdat. */
  | 'moof-without-mdat'
  /** An mdat arrived without a moof before it. */
  | 'mdat-without-moof'
  /** A box at the top level where it cannot be (a second moov, ftyp after the init segment…). */
  | 'unexpected-box'
  /** The moov could not be understood (truncated child boxes, no tracks). */
  | 'bad-init'
  /** A moof could not be understood (truncated tfhd/trun, no traf). */
  | 'bad-fragment'
  /** `end()` found an incomplete box or fragment. */
  | 'truncated'
  /** The options contradict each other. */
  | 'bad-options';

export class Fmp4Error extends Error {
  override readonly name = 'Fmp4Error';
  readonly code: Fmp4ErrorCode;
  constructor(code: Fmp4ErrorCode, message: string, options?: { cause?: unknown }) {
    super(`${code}: ${message}`, options);
    this.code = code;
  }
}

export interface Fmp4SplitterOptions {
  /** Largest box accepted (default 16 MiB). An mdat holds one fragment, so this bounds a fragment. */
  maxBoxSize?: number;
  /** Most bytes held between push() calls (default 2 × maxBoxSize + 1 MiB). */
  maxBufferedBytes?: number;
}

export const FMP4_DEFAULTS = {
  maxBoxSize: 16 * 1024 * 1024,
} as const;

export type TrackKind = 'video' | 'audio' | 'other';

export interface TrackInfo {
  id: number;
  kind: TrackKind;
  /** hdlr handler type, e.g. 'vide', 'soun'. */
  handler: string;
  /** Sample entry four-character code, e.g. 'avc1', 'hvc1', 'mp4a'. */
  sampleEntry: string;
  /** RFC 6381 codec string for MSE, e.g. 'avc1.42E01E', 'hvc1.1.6.L93.B0', 'mp4a.40.2'. */
  codec: string;
  /** mdhd timescale (ticks per second) that fragment decode times use. */
  timescale: number;
  width?: number;
  height?: number;
  /** trex default_sample_flags, used when a fragment does not say. */
  defaultSampleFlags?: number;
}

export interface InitSegment {
  type: 'init';
  /** ftyp + moov (and anything between them), byte for byte as received. */
  data: Uint8Array;
  tracks: TrackInfo[];
  /** Codec strings in track order. */
  codecs: string[];
  /** e.g. `video/mp4; codecs="avc1.42E01E, mp4a.40.2"`. */
  mime: string;
  /** Of the first video track. */
  width?: number;
  height?: number;
}

export interface Fragment {
  type: 'fragment';
  /** Any styp/sidx/prft/… boxes, then moof + mdat, byte for byte as received. */
  data: Uint8Array;
  /** True when the fragment's first video sample is a sync sample (never for audio-only fragments). */
  keyframe: boolean;
  /** tfdt baseMediaDecodeTime of the first video track fragment (else the first one), in its timescale. */
  decodeTime?: number;
  /** Timescale of the track `decodeTime` belongs to, when known from the init segment. */
  timescale?: number;
  /** track_IDs of the track fragments, in order. */
  trackIds: number[];
  /** mfhd sequence_number. */
  sequence: number;
}

export type Fmp4Segment = InitSegment | Fragment;

/** Boxes that may precede a moof inside one fragment and travel with it. */
const FRAGMENT_PREFIX_BOXES = new Set(['styp', 'sidx', 'ssix', 'prft', 'emsg', 'free', 'skip']);

/** Sample flags (ISO/IEC 14496-12 8.8.3.1): a sync sample does not depend on others. */
const SAMPLE_IS_NON_SYNC = 0x0001_0000;
const SAMPLE_DEPENDS_ON_SHIFT = 24;

/** Largest size we can hold in a JS number without rounding; anything above is "too large" anyway. */
const MAX_SAFE_HIGH_WORD = 0x1f_ffff;

export class Fmp4Splitter {
  readonly maxBoxSize: number;
  readonly maxBufferedBytes: number;

  private chunks: Uint8Array[] = [];
  /** Bytes of chunks[0] already consumed (instead of re-slicing it for every box). */
  private head = 0;
  private buffered = 0;
  /** Whole boxes of the fragment being assembled (prefix boxes, then moof). */
  private pending: Uint8Array[] = [];
  private pendingBytes = 0;
  private pendingMoof: Uint8Array | undefined;
  private init: InitSegment | undefined;
  private tracksById = new Map<number, TrackInfo>();
  private initParts: Uint8Array[] = [];
  private initBytes = 0;
  private failure: Fmp4Error | undefined;

  constructor(options: Fmp4SplitterOptions = {}) {
    const maxBoxSize = options.maxBoxSize ?? FMP4_DEFAULTS.maxBoxSize;
    const maxBufferedBytes = options.maxBufferedBytes ?? 2 * maxBoxSize + 1024 * 1024;
    if (!Number.isSafeInteger(maxBoxSize) || maxBoxSize < 16) {
      throw new Fmp4Error('bad-options', `maxBoxSize must be an integer >= 16, got ${maxBoxSize}`);
    }
    if (!Number.isSafeInteger(maxBufferedBytes) || maxBufferedBytes < maxBoxSize) {
      throw new Fmp4Error('bad-options', `maxBufferedBytes (${maxBufferedBytes}) must be an integer >= maxBoxSize (${maxBoxSize})`);
    }
    this.maxBoxSize = maxBoxSize;
    this.maxBufferedBytes = maxBufferedBytes;
  }

  /** The init segment, once seen. */
  get initSegment(): InitSegment | undefined {
    return this.init;
  }

  /** Bytes held now (incomplete box plus the fragment being assembled). */
  get bufferedBytes(): number {
    return this.buffered + this.pendingBytes + this.initBytes;
  }

  /**
   * Feed bytes in any chunking. Returns the segments completed by this chunk, in order: the init
   * segment once, then fragments. Throws Fmp4Error; after a throw every call throws the same error.
   */
  push(chunk: Uint8Array): Fmp4Segment[] {
    if (this.failure) throw this.failure;
    try {
      return this.pushUnchecked(chunk);
    } catch (err) {
      this.failure = err instanceof Fmp4Error ? err : new Fmp4Error('bad-fragment', String(err), { cause: err });
      this.chunks = [];
      this.head = 0;
      this.pending = [];
      this.initParts = [];
      this.buffered = this.pendingBytes = this.initBytes = 0;
      throw this.failure;
    }
  }

  /** Declare the end of the stream: throws 'truncated' if a box or fragment is incomplete. */
  end(): void {
    if (this.failure) throw this.failure;
    if (this.buffered > 0 || this.pendingBytes > 0 || this.initBytes > 0) {
      this.failure = new Fmp4Error('truncated', `stream ended inside a box or fragment (${this.bufferedBytes} bytes pending)`);
      throw this.failure;
    }
  }

  private pushUnchecked(chunk: Uint8Array): Fmp4Segment[] {
    const out: Fmp4Segment[] = [];
    if (chunk.length > 0) {
      this.chunks.push(chunk);
      this.buffered += chunk.length;
    }
    for (;;) {
      const header = this.peekHeader();
      if (!header) break;
      if (this.buffered < header.size) {
        // Only the head of this box is here; whatever follows it is still to come.
        this.checkBudget(header.size);
        break;
      }
      const box = this.take(header.size);
      const seg = this.acceptBox(header.type, box);
      if (seg) out.push(seg);
    }
    this.checkBudget(this.buffered);
    return out;
  }

  private checkBudget(current: number): void {
    const total = current + this.pendingBytes + this.initBytes;
    if (total > this.maxBufferedBytes) {
      throw new Fmp4Error('buffer-overflow', `${total} bytes would be held, limit ${this.maxBufferedBytes}`);
    }
  }

  /** Parse the next top-level box header from the buffered chunks, or undefined if not all here. */
  private peekHeader(): { type: string; size: number } | undefined {
    if (this.buffered < 8) return undefined;
    const n = Math.min(16, this.buffered);
    const first = this.chunks[0];
    // Usually the header is inside the first chunk: read it in place.
    const fits = first !== undefined && first.length - this.head >= n;
    const head = fits ? first : this.peek(n);
    const o = fits ? this.head : 0;
    const size32 = u32(head, o);
    const type = fourcc(head, o + 4);
    let size: number;
    let headerSize = 8;
    if (size32 === 1) {
      if (n < 16) return undefined;
      const hi = u32(head, o + 8);
      const lo = u32(head, o + 12);
      headerSize = 16;
      if (hi > MAX_SAFE_HIGH_WORD) {
        throw new Fmp4Error('box-too-large', `'${printable(type)}' declares a 64-bit size beyond 2^53, limit ${this.maxBoxSize}`);
      }
      size = hi * 0x1_0000_0000 + lo;
    } else if (size32 === 0) {
      throw new Fmp4Error('bad-box-size', `'${printable(type)}' has size 0 ("to end of file"), which a stream cannot have`);
    } else {
      size = size32;
    }
    if (size < headerSize) {
      throw new Fmp4Error('bad-box-size', `'${printable(type)}' declares ${size} bytes, less than its ${headerSize}-byte header`);
    }
    if (size > this.maxBoxSize) {
      throw new Fmp4Error('box-too-large', `'${printable(type)}' declares ${size} bytes, limit ${this.maxBoxSize}`);
    }
    return { type, size };
  }

  private acceptBox(type: string, box: Uint8Array): Fmp4Segment | undefined {
    if (!this.init) {
      if (type === 'moov') {
        const data = joinParts([...this.initParts, box]);
        this.initParts = [];
        this.initBytes = 0;
        if (fourccAt(data, 4) !== 'ftyp') {
          throw new Fmp4Error('no-init-segment', 'moov without an ftyp before it');
        }
        this.init = { type: 'init', data, ...parseInit(box) };
        this.tracksById = new Map(this.init.tracks.map((t) => [t.id, t]));
        return this.init;
      }
      if (type === 'ftyp' ? this.initParts.length > 0 : this.initParts.length === 0 || !isFiller(type)) {
        throw new Fmp4Error('no-init-segment', `'${printable(type)}' before the init segment (ftyp + moov) was complete`);
      }
      this.initParts.push(box);
      this.initBytes += box.length;
      return undefined;
    }
    if (this.pendingMoof) {
      if (type !== 'mdat') {
        throw new Fmp4Error('moof-without-mdat', `moof followed by '${printable(type)}' instead of mdat`);
      }
      const moof = this.pendingMoof;
      this.pending.push(box);
      const data = joinParts(this.pending);
      this.pending = [];
      this.pendingBytes = 0;
      this.pendingMoof = undefined;
      return { type: 'fragment', data, ...parseMoof(moof, this.tracksById) };
    }
    if (type === 'moof') {
      this.pendingMoof = box;
    } else if (type === 'mdat') {
      throw new Fmp4Error('mdat-without-moof', 'mdat without a moof before it');
    } else if (type === 'mfra') {
      // A file's random-access index (written at the end of seekable output): nothing for a stream.
      return undefined;
    } else if (!FRAGMENT_PREFIX_BOXES.has(type)) {
      throw new Fmp4Error('unexpected-box', `'${printable(type)}' at the top level after the init segment`);
    }
    this.pending.push(box);
    this.pendingBytes += box.length;
    return undefined;
  }

  /** Copy the first n buffered bytes without consuming them (n <= 16 here). */
  private peek(n: number): Uint8Array {
    const out = new Uint8Array(n);
    let filled = 0;
    let skip = this.head;
    for (const c of this.chunks) {
      const k = Math.min(c.length - skip, n - filled);
      out.set(c.subarray(skip, skip + k), filled);
      filled += k;
      skip = 0;
      if (filled === n) break;
    }
    return out;
  }

  /**
   * Remove and return exactly n bytes (n <= buffered): a view when they lie in one chunk (whether
   * the segment keeps it or copies is joinParts' decision), else a copy.
   */
  private take(n: number): Uint8Array {
    const first = this.chunks[0];
    if (first && first.length - this.head >= n) {
      const box = new Uint8Array(first.buffer, first.byteOffset + this.head, n);
      this.consumed(first, n);
      return box;
    }
    const out = new Uint8Array(n);
    let filled = 0;
    while (filled < n) {
      const c = this.chunks[0];
      if (!c) throw new Fmp4Error('truncated', 'internal: buffer underrun');
      const k = Math.min(c.length - this.head, n - filled);
      out.set(c.subarray(this.head, this.head + k), filled);
      filled += k;
      this.consumed(c, k);
    }
    return out;
  }

  private consumed(chunk: Uint8Array, k: number): void {
    this.head += k;
    this.buffered -= k;
    if (this.head === chunk.length) {
      this.chunks.shift();
      this.head = 0;
    }
  }
}

function isFiller(type: string): boolean {
  return type === 'free' || type === 'skip' || type === 'uuid' || type === 'pdin';
}

// ---------------------------------------------------------------------------------------------
// Box walking inside a complete moov or moof. Everything is bounded by the enclosing box.

interface Box {
  type: string;
  /** Payload start (after the header) and end, absolute offsets into `bytes`. */
  start: number;
  end: number;
}

class Reader {
  readonly view: DataView;
  constructor(
    readonly bytes: Uint8Array,
    private readonly code: 'bad-init' | 'bad-fragment',
  ) {
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }

  fail(message: string): never {
    throw new Fmp4Error(this.code, message);
  }

  need(offset: number, n: number, end: number, what: string): void {
    if (offset + n > end) this.fail(`${what} is truncated`);
  }

  u8(o: number): number {
    return this.view.getUint8(o);
  }
  u16(o: number): number {
    return this.view.getUint16(o);
  }
  u32(o: number): number {
    return this.view.getUint32(o);
  }
  u64(o: number): number {
    // Precision beyond 2^53 ticks (millennia at 90 kHz) is not needed; round rather than fail.
    return this.view.getUint32(o) * 0x1_0000_0000 + this.view.getUint32(o + 4);
  }

  /** Child boxes of [start, end). Each iteration advances by >= 8 bytes. */
  children(start: number, end: number, where: string): Box[] {
    const out: Box[] = [];
    let o = start;
    while (o < end) {
      if (end - o < 8) this.fail(`${where}: ${end - o} stray bytes`);
      let size = this.u32(o);
      const type = fourcc(this.bytes, o + 4);
      let header = 8;
      if (size === 1) {
        this.need(o, 16, end, `${where}/${printable(type)} header`);
        size = this.u64(o + 8);
        header = 16;
      } else if (size === 0) {
        throw new Fmp4Error('bad-box-size', `${where}/${printable(type)} has size 0`);
      }
      if (size < header || o + size > end) {
        throw new Fmp4Error('bad-box-size', `${where}/${printable(type)} declares ${size} bytes, ${end - o} available`);
      }
      if (type === 'uuid') header += 16;
      if (header > size) throw new Fmp4Error('bad-box-size', `${where}/uuid shorter than its header`);
      out.push({ type, start: o + header, end: o + size });
      o += size;
    }
    return out;
  }

  child(start: number, end: number, type: string, where: string): Box | undefined {
    return this.children(start, end, where).find((b) => b.type === type);
  }
}

function parseInit(moov: Uint8Array): Omit<InitSegment, 'type' | 'data'> {
  const r: Reader = new Reader(moov, 'bad-init');
  const root = r.children(0, moov.length, 'top')[0];
  if (!root) r.fail('empty moov');
  const trexFlags = new Map<number, number>();
  const tracks: TrackInfo[] = [];
  for (const box of r.children(root.start, root.end, 'moov')) {
    if (box.type === 'mvex') {
      for (const trex of r.children(box.start, box.end, 'moov/mvex')) {
        if (trex.type !== 'trex') continue;
        r.need(trex.start, 24, trex.end, 'trex');
        trexFlags.set(r.u32(trex.start + 4), r.u32(trex.start + 20));
      }
    } else if (box.type === 'trak') {
      tracks.push(parseTrak(r, box));
    }
  }
  if (tracks.length === 0) r.fail('moov has no trak');
  for (const t of tracks) {
    const flags = trexFlags.get(t.id);
    if (flags !== undefined) t.defaultSampleFlags = flags;
  }
  const codecs = tracks.filter((t) => t.kind !== 'other').map((t) => t.codec);
  const video = tracks.find((t) => t.kind === 'video');
  const mime = `${video ? 'video' : 'audio'}/mp4; codecs="${codecs.join(', ')}"`;
  const result: Omit<InitSegment, 'type' | 'data'> = { tracks, codecs, mime };
  if (video?.width !== undefined) result.width = video.width;
  if (video?.height !== undefined) result.height = video.height;
  return result;
}

function parseTrak(r: Reader, trak: Box): TrackInfo {
  const tkhd = r.child(trak.start, trak.end, 'tkhd', 'trak');
  const mdia = r.child(trak.start, trak.end, 'mdia', 'trak');
  if (!tkhd || !mdia) r.fail('trak without tkhd or mdia');
  const tkhdVersion = (r.need(tkhd.start, 4, tkhd.end, 'tkhd'), r.u8(tkhd.start));
  const idOffset = tkhd.start + 4 + (tkhdVersion === 1 ? 16 : 8);
  r.need(idOffset, 4, tkhd.end, 'tkhd');
  const id = r.u32(idOffset);

  const mdhd = r.child(mdia.start, mdia.end, 'mdhd', 'trak/mdia');
  const hdlr = r.child(mdia.start, mdia.end, 'hdlr', 'trak/mdia');
  const minf = r.child(mdia.start, mdia.end, 'minf', 'trak/mdia');
  if (!mdhd || !hdlr || !minf) r.fail(`track ${id}: mdia without mdhd, hdlr or minf`);
  r.need(mdhd.start, 4, mdhd.end, 'mdhd');
  const tsOffset = mdhd.start + 4 + (r.u8(mdhd.start) === 1 ? 16 : 8);
  r.need(tsOffset, 4, mdhd.end, 'mdhd');
  const timescale = r.u32(tsOffset);
  r.need(hdlr.start, 12, hdlr.end, 'hdlr');
  const handler = fourcc(r.bytes, hdlr.start + 8);
  const kind: TrackKind = handler === 'vide' ? 'video' : handler === 'soun' ? 'audio' : 'other';

  const stbl = r.child(minf.start, minf.end, 'stbl', 'trak/mdia/minf');
  const stsd = stbl && r.child(stbl.start, stbl.end, 'stsd', 'stbl');
  if (!stsd) r.fail(`track ${id}: no stsd`);
  r.need(stsd.start, 8, stsd.end, 'stsd');
  const entry = r.children(stsd.start + 8, stsd.end, 'stsd')[0];
  if (!entry) r.fail(`track ${id}: stsd has no sample entry`);
  const track: TrackInfo = { id, kind, handler, sampleEntry: entry.type, codec: entry.type, timescale };
  if (kind === 'video') parseVisualEntry(r, entry, track);
  else if (kind === 'audio') parseAudioEntry(r, entry, track);
  return track;
}

/** VisualSampleEntry: 8 bytes SampleEntry + 70 bytes of fields, then child boxes. */
function parseVisualEntry(r: Reader, entry: Box, track: TrackInfo): void {
  r.need(entry.start, 78, entry.end, `${entry.type} sample entry`);
  track.width = r.u16(entry.start + 24);
  track.height = r.u16(entry.start + 26);
  const kids = r.children(entry.start + 78, entry.end, entry.type);
  const avcC = kids.find((b) => b.type === 'avcC');
  const hvcC = kids.find((b) => b.type === 'hvcC');
  if ((entry.type === 'avc1' || entry.type === 'avc3') && avcC) {
    r.need(avcC.start, 4, avcC.end, 'avcC');
    track.codec = `${entry.type}.${hex2(r.u8(avcC.start + 1))}${hex2(r.u8(avcC.start + 2))}${hex2(r.u8(avcC.start + 3))}`;
  } else if ((entry.type === 'hvc1' || entry.type === 'hev1') && hvcC) {
    track.codec = hevcCodecString(r, entry.type, hvcC);
  }
}

/** ISO/IEC 14496-15 Annex E: hvc1.[space][profile].[compat reversed].[L|H][level].[constraints]. */
function hevcCodecString(r: Reader, type: string, hvcC: Box): string {
  const o = hvcC.start;
  r.need(o, 13, hvcC.end, 'hvcC');
  const b1 = r.u8(o + 1);
  const space = ['', 'A', 'B', 'C'][b1 >> 6] ?? '';
  const tier = b1 & 0x20 ? 'H' : 'L';
  const profile = b1 & 0x1f;
  let compat = r.u32(o + 2);
  let reversed = 0;
  for (let i = 0; i < 32; i++) {
    reversed = (reversed << 1) | (compat & 1);
    compat >>>= 1;
  }
  const constraints: string[] = [];
  for (let i = 0; i < 6; i++) constraints.push(hex2(r.u8(o + 6 + i)));
  while (constraints.length > 0 && constraints[constraints.length - 1] === '00') constraints.pop();
  const level = r.u8(o + 12);
  const parts = [type, `${space}${profile}`, (reversed >>> 0).toString(16).toUpperCase(), `${tier}${level}`, ...constraints];
  return parts.join('.');
}

/** AudioSampleEntry: 8 bytes SampleEntry + 20 bytes (v0), +16 (QuickTime v1), +36 (v2). */
function parseAudioEntry(r: Reader, entry: Box, track: TrackInfo): void {
  r.need(entry.start, 28, entry.end, `${entry.type} sample entry`);
  const version = r.u16(entry.start + 8);
  const skip = 28 + (version === 1 ? 16 : version === 2 ? 36 : 0);
  if (entry.type === 'Opus') track.codec = 'opus';
  else if (entry.type === 'fLaC') track.codec = 'flac';
  if (entry.type !== 'mp4a') return;
  r.need(entry.start, skip, entry.end, 'mp4a sample entry');
  const esds = r.children(entry.start + skip, entry.end, 'mp4a').find((b) => b.type === 'esds');
  if (!esds) return;
  const oti = esdsObjectType(r, esds.start + 4, esds.end);
  if (oti) track.codec = oti.audioObjectType ? `mp4a.${hex2(oti.objectType).toLowerCase()}.${oti.audioObjectType}` : `mp4a.${hex2(oti.objectType).toLowerCase()}`;
}

/** Walk ES_Descriptor → DecoderConfigDescriptor (→ DecoderSpecificInfo). */
function esdsObjectType(r: Reader, start: number, end: number): { objectType: number; audioObjectType?: number } | undefined {
  const desc = (o: number): { tag: number; body: number; end: number } | undefined => {
    if (o + 2 > end) return undefined;
    const tag = r.u8(o);
    let len = 0;
    let p = o + 1;
    for (let i = 0; i < 4; i++) {
      if (p >= end) return undefined;
      const b = r.u8(p++);
      len = (len << 7) | (b & 0x7f);
      if (!(b & 0x80)) break;
    }
    if (p + len > end) return undefined;
    return { tag, body: p, end: p + len };
  };
  const es = desc(start);
  if (!es || es.tag !== 0x03 || es.body + 3 > es.end) return undefined;
  const flags = r.u8(es.body + 2);
  let p = es.body + 3;
  if (flags & 0x80) p += 2;
  if (flags & 0x40) p += 1 + (p < es.end ? r.u8(p) : 0);
  if (flags & 0x20) p += 2;
  const dc = desc(p);
  if (!dc || dc.tag !== 0x04 || dc.body + 13 > dc.end) return undefined;
  const objectType = r.u8(dc.body);
  const dsi = desc(dc.body + 13);
  if (objectType !== 0x40 || !dsi || dsi.tag !== 0x05 || dsi.body >= dsi.end) return { objectType };
  let aot = r.u8(dsi.body) >> 3;
  if (aot === 31) {
    if (dsi.body + 2 > dsi.end) return { objectType };
    aot = 32 + (((r.u8(dsi.body) & 0x07) << 3) | (r.u8(dsi.body + 1) >> 5));
  }
  return { objectType, audioObjectType: aot };
}

function parseMoof(
  moof: Uint8Array,
  byId: ReadonlyMap<number, TrackInfo>,
): Omit<Fragment, 'type' | 'data'> {
  const r: Reader = new Reader(moof, 'bad-fragment');
  const root = r.children(0, moof.length, 'top')[0];
  if (!root) r.fail('empty moof');
  let sequence = 0;
  const trafs: { id: number; decodeTime?: number; firstFlags?: number }[] = [];
  for (const box of r.children(root.start, root.end, 'moof')) {
    if (box.type === 'mfhd') {
      r.need(box.start, 8, box.end, 'mfhd');
      sequence = r.u32(box.start + 4);
    } else if (box.type === 'traf') {
      trafs.push(parseTraf(r, box, byId));
    }
  }
  if (trafs.length === 0) r.fail('moof has no traf');
  const firstVideo = trafs.find((t) => byId.get(t.id)?.kind === 'video');
  const main = firstVideo ?? trafs[0];
  const result: Omit<Fragment, 'type' | 'data'> = {
    keyframe: firstVideo?.firstFlags !== undefined && isSync(firstVideo.firstFlags),
    trackIds: trafs.map((t) => t.id),
    sequence,
  };
  if (main?.decodeTime !== undefined) {
    result.decodeTime = main.decodeTime;
    const ts = byId.get(main.id)?.timescale;
    if (ts !== undefined) result.timescale = ts;
  }
  return result;
}

function isSync(flags: number): boolean {
  const dependsOn = (flags >>> SAMPLE_DEPENDS_ON_SHIFT) & 0x3;
  return (flags & SAMPLE_IS_NON_SYNC) === 0 && dependsOn !== 1;
}

function parseTraf(r: Reader, traf: Box, byId: ReadonlyMap<number, TrackInfo>): { id: number; decodeTime?: number; firstFlags?: number } {
  const kids = r.children(traf.start, traf.end, 'traf');
  const tfhd = kids.find((b) => b.type === 'tfhd');
  if (!tfhd) r.fail('traf without tfhd');
  r.need(tfhd.start, 8, tfhd.end, 'tfhd');
  const tfFlags = r.u32(tfhd.start) & 0xff_ffff;
  const id = r.u32(tfhd.start + 4);
  let o = tfhd.start + 8;
  if (tfFlags & 0x01) o += 8; // base-data-offset
  if (tfFlags & 0x02) o += 4; // sample-description-index
  if (tfFlags & 0x08) o += 4; // default-sample-duration
  if (tfFlags & 0x10) o += 4; // default-sample-size
  let defaultFlags = byId.get(id)?.defaultSampleFlags;
  if (tfFlags & 0x20) {
    r.need(o, 4, tfhd.end, 'tfhd');
    defaultFlags = r.u32(o);
  }
  const out: { id: number; decodeTime?: number; firstFlags?: number } = { id };
  const tfdt = kids.find((b) => b.type === 'tfdt');
  if (tfdt) {
    r.need(tfdt.start, 8, tfdt.end, 'tfdt');
    const v1 = r.u8(tfdt.start) === 1;
    if (v1) r.need(tfdt.start, 12, tfdt.end, 'tfdt');
    out.decodeTime = v1 ? r.u64(tfdt.start + 4) : r.u32(tfdt.start + 4);
  }
  for (const trun of kids) {
    if (trun.type !== 'trun') continue;
    r.need(trun.start, 8, trun.end, 'trun');
    const trFlags = r.u32(trun.start) & 0xff_ffff;
    const count = r.u32(trun.start + 4);
    if (count === 0) continue;
    let p = trun.start + 8;
    if (trFlags & 0x01) p += 4; // data-offset
    if (trFlags & 0x04) {
      r.need(p, 4, trun.end, 'trun first-sample-flags');
      out.firstFlags = r.u32(p);
    } else if (trFlags & 0x400) {
      const before = (trFlags & 0x100 ? 4 : 0) + (trFlags & 0x200 ? 4 : 0);
      r.need(p, before + 4, trun.end, 'trun sample flags');
      out.firstFlags = r.u32(p + before);
    } else if (defaultFlags !== undefined) {
      out.firstFlags = defaultFlags;
    }
    break;
  }
  return out;
}

// ---------------------------------------------------------------------------------------------

function fourcc(bytes: Uint8Array, o: number): string {
  return String.fromCharCode(bytes[o] ?? 0, bytes[o + 1] ?? 0, bytes[o + 2] ?? 0, bytes[o + 3] ?? 0);
}

function fourccAt(bytes: Uint8Array, o: number): string {
  return bytes.length >= o + 4 ? fourcc(bytes, o) : '';
}

/** Box types from hostile input go into error messages: keep them printable. */
function printable(type: string): string {
  return type.replace(/[^\x20-\x7e]/g, '?');
}

function hex2(n: number): string {
  return n.toString(16).toUpperCase().padStart(2, '0');
}

function u32(bytes: Uint8Array, o: number): number {
  return (((bytes[o] ?? 0) << 24) | ((bytes[o + 1] ?? 0) << 16) | ((bytes[o + 2] ?? 0) << 8) | (bytes[o + 3] ?? 0)) >>> 0;
}

/**
 * One segment from its boxes. Boxes that sit back to back in one chunk become one view of it, kept
 * when it is at least half of the memory it pins (so the GOP cache holds at most twice what it
 * counts), else copied out; boxes from several chunks are copied together.
 */
function joinParts(parts: readonly Uint8Array[]): Uint8Array {
  const first = parts[0];
  if (first === undefined) return new Uint8Array(0);
  let end = first.byteOffset + first.length;
  let contiguous = true;
  for (let i = 1; i < parts.length && contiguous; i++) {
    const p = parts[i]!;
    contiguous = p.buffer === first.buffer && p.byteOffset === end;
    end += p.length;
  }
  if (contiguous) {
    const view = new Uint8Array(first.buffer, first.byteOffset, end - first.byteOffset);
    return 2 * view.length >= view.buffer.byteLength ? view : view.slice();
  }
  return concat(...parts);
}
