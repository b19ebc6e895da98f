// RTP packets of an H.264 (RFC 6184) or H.265 (RFC 7798) camera into access units, one picture each.
//
// An access unit is handed on as soon as the packet with the marker bit arrives: the reader exists
// to hold no frame back (ffmpeg held two). A camera that never sets the marker still works, one
// frame later: the first packet of the next picture (a new timestamp) ends the previous one.
//
// Loss (a sequence gap, an FU whose start never came) drops the NAL unit being assembled and lets
// everything after it through, as ffmpeg does: decoders conceal a missing slice, and the next
// keyframe repairs the picture. A camera is untrusted: a malformed packet is counted and dropped,
// never thrown, and nothing held between packets grows past `maxAccessUnitBytes`.
//
// Packets are copied out of: the caller may reuse the buffer it pushed once push() returns.

import type { AccessUnit, VideoCodec } from './access-unit.ts';

export type RtpErrorCode =
  /** The options contradict themselves (a payload type outside 0..127, a size limit below 1). */
  'bad-options';

export class RtpError extends Error {
  override readonly name = 'RtpError';
  readonly code: RtpErrorCode;
  constructor(code: RtpErrorCode, message: string, options?: { cause?: unknown }) {
    super(`${code}: ${message}`, options);
    this.code = code;
  }
}

/** Why a packet or NAL unit was dropped (the keys of RtpStats.drops). */
export type RtpDropReason =
  /** Not RTP version 2, shorter than its header, padding or extension longer than the packet. */
  | 'invalid-packet'
  /** A payload that ends inside its own structure (an aggregation unit's length past the end…). */
  | 'invalid-payload'
  /** STAP-B, MTAP16/24, FU-B (H.264 interleaved mode), PACI (H.265), reserved NAL types. */
  | 'unsupported'
  /** A fragment without its start (lost, or the reader joined mid-NAL). */
  | 'fu-without-start'
  /** A fragmented NAL cut short by a gap, a new timestamp or a new start. */
  | 'fu-incomplete'
  /** The same sequence number as the packet before (a duplicate). */
  | 'late'
  /** The access unit grew past maxAccessUnitBytes or MAX_NALS_PER_ACCESS_UNIT; all of it dropped. */
  | 'too-large';

export interface RtpStats {
  /** RTP packets pushed (any payload type). */
  packets: number;
  /** Packets of another payload type, skipped. */
  ignored: number;
  /** Sequence-number gaps seen (not packets lost: one gap may be many packets). */
  gaps: number;
  /** Packets lost in the forward gaps, by sequence number. */
  lost: number;
  /** Packets or NAL units dropped, all reasons. */
  dropped: number;
  drops: Record<RtpDropReason, number>;
  accessUnits: number;
}

export interface RtpDepacketizerOptions {
  codec: VideoCodec;
  /** Only this payload type is taken (the SDP's); others are counted in `ignored`. Default: any. */
  payloadType?: number;
  /** Largest access unit held (default 16 MiB): bounds what a camera can make the hub keep. */
  maxAccessUnitBytes?: number;
}

export const RTP_DEFAULTS = {
  maxAccessUnitBytes: 16 * 1024 * 1024,
} as const;

/**
 * NAL units per access unit: a 4K picture in many slices has a few hundred; more than this is a
 * camera making the hub allocate one object per byte.
 */
export const MAX_NALS_PER_ACCESS_UNIT = 4096;

const RTP_HEADER_BYTES = 12;
const NO_ACCESS_UNITS: AccessUnit[] = Object.freeze([]) as unknown as AccessUnit[];

export class RtpDepacketizer {
  private readonly h265: boolean;
  private readonly payloadType: number | undefined;
  private readonly maxBytes: number;

  private lastSeq = -1;
  private lastSsrc = -1;
  private lastTs = -1; // raw 32-bit timestamp of the last packet taken
  private extTs = 0; // its extended value

  // The access unit being assembled.
  private nals: Uint8Array[] = [];
  private auBytes = 0;
  private auTs = -1; // raw timestamp; -1 when nothing is assembled
  private auTime = 0; // its extended value
  private auDiscard = false; // the AU went over a limit: drop the rest of it

  // The fragmented NAL unit being assembled, in a scratch buffer reused from NAL to NAL.
  private fu: Uint8Array = new Uint8Array(0);
  private fuLength = 0;
  private fuActive = false;
  private fuType = -1;

  private readonly counters: RtpStats = {
    packets: 0,
    ignored: 0,
    gaps: 0,
    lost: 0,
    dropped: 0,
    drops: { 'invalid-packet': 0, 'invalid-payload': 0, unsupported: 0, 'fu-without-start': 0, 'fu-incomplete': 0, late: 0, 'too-large': 0 },
    accessUnits: 0,
  };

  constructor(options: RtpDepacketizerOptions) {
    if (options.codec !== 'h264' && options.codec !== 'h265') throw new RtpError('bad-options', `codec ${String(options.codec)}: h264 or h265`);
    const pt = options.payloadType;
    if (pt !== undefined && (!Number.isInteger(pt) || pt < 0 || pt > 127)) throw new RtpError('bad-options', `payloadType ${pt}: 0..127`);
    const max = options.maxAccessUnitBytes ?? RTP_DEFAULTS.maxAccessUnitBytes;
    if (!Number.isInteger(max) || max < 1) throw new RtpError('bad-options', `maxAccessUnitBytes ${max}: a positive integer`);
    this.h265 = options.codec === 'h265';
    this.payloadType = pt;
    this.maxBytes = max;
  }

  /** A snapshot of the counters. */
  stats(): RtpStats {
    return { ...this.counters, drops: { ...this.counters.drops } };
  }

  /**
   * One RTP packet (the bytes of an interleaved frame or a UDP datagram). Returns the access units
   * it completed, in order: usually none or one; two when it both ends a picture that had no marker
   * and completes its own. The returned array may be shared: do not modify it.
   */
  push(packet: Uint8Array): AccessUnit[] {
    const c = this.counters;
    c.packets++;
    const len = packet.byteLength;
    if (len < RTP_HEADER_BYTES || packet[0]! >> 6 !== 2) return this.drop('invalid-packet');
    const b0 = packet[0]!;
    const b1 = packet[1]!;
    let start = RTP_HEADER_BYTES + (b0 & 0x0f) * 4;
    let end = len;
    if (b0 & 0x10) {
      // Header extension: 16-bit profile, 16-bit length in 32-bit words, then the words.
      if (start + 4 > end) return this.drop('invalid-packet');
      start += 4 + ((packet[start + 2]! << 8) | packet[start + 3]!) * 4;
    }
    if (b0 & 0x20) {
      const padding = packet[len - 1]!;
      if (padding === 0) return this.drop('invalid-packet');
      end -= padding;
    }
    if (start >= end) return this.drop('invalid-packet');
    if (this.payloadType !== undefined && (b1 & 0x7f) !== this.payloadType) {
      c.ignored++;
      return NO_ACCESS_UNITS;
    }
    const marker = (b1 & 0x80) !== 0;
    const seq = (packet[2]! << 8) | packet[3]!;
    const ts = ((packet[4]! << 24) | (packet[5]! << 16) | (packet[6]! << 8) | packet[7]!) >>> 0;
    const ssrc = ((packet[8]! << 24) | (packet[9]! << 16) | (packet[10]! << 8) | packet[11]!) >>> 0;

    let out: AccessUnit[] = NO_ACCESS_UNITS;
    if (ssrc !== this.lastSsrc) {
      // A new source (the camera restarted its stream): its numbers have nothing to do with the old ones.
      this.lastSsrc = ssrc;
      this.lastSeq = -1;
    } else if (this.lastSeq >= 0) {
      const step = (seq - this.lastSeq) & 0xffff;
      if (step === 0) return this.drop('late');
      if (step !== 1) {
        // Over TCP nothing is reordered, so a step back is a camera that renumbered: a gap too.
        c.gaps++;
        if (step < 0x8000) c.lost += step - 1;
        this.abandonFu();
      }
    }
    this.lastSeq = seq;

    if (this.lastTs < 0) this.extTs = ts;
    else this.extTs += (ts - this.lastTs) | 0; // signed 32-bit step: wraps both ways, small steps back stay small
    this.lastTs = ts;

    if (this.auTs >= 0 && ts !== this.auTs) {
      // A camera that sets no marker: a new picture ends the previous one.
      this.abandonFu();
      const au = this.finish();
      if (au) out = [au];
    }
    if (this.auTs < 0) {
      this.auTs = ts;
      this.auTime = this.extTs;
    }

    if (this.h265) this.payload265(packet, start, end);
    else this.payload264(packet, start, end);

    if (marker) {
      // The marker is on the last packet of a picture: a fragment still open there lost its end.
      this.abandonFu();
      const au = this.finish();
      if (au) out = out === NO_ACCESS_UNITS ? [au] : [...out, au];
    }
    return out;
  }

  private payload264(p: Uint8Array, start: number, end: number): void {
    const type = p[start]! & 0x1f;
    if (type >= 1 && type <= 23) {
      this.abandonFu();
      this.addNal(p, start, end);
    } else if (type === 24) {
      // STAP-A: [16-bit size, NAL]…
      this.abandonFu();
      this.aggregate(p, start + 1, end);
    } else if (type === 28) {
      if (end - start < 3) return void this.drop('invalid-payload');
      const fuHeader = p[start + 1]!;
      this.fragment(fuHeader & 0x80, fuHeader & 0x40, fuHeader & 0x1f, p, start + 2, end, (p[start]! & 0xe0) | (fuHeader & 0x1f));
    } else {
      // 25 STAP-B, 26 MTAP16, 27 MTAP24, 29 FU-B: interleaved mode, refused in the SDP. 0, 30, 31: reserved.
      this.abandonFu();
      this.drop('unsupported');
    }
  }

  private payload265(p: Uint8Array, start: number, end: number): void {
    if (end - start < 3) return void this.drop('invalid-payload');
    const type = (p[start]! >> 1) & 0x3f;
    if (type <= 40) {
      this.abandonFu();
      this.addNal(p, start, end);
    } else if (type === 48) {
      // AP: [16-bit size, NAL]… (no DONL: sprop-max-don-diff 0, checked in the SDP)
      this.abandonFu();
      this.aggregate(p, start + 2, end);
    } else if (type === 49) {
      const fuHeader = p[start + 2]!;
      const nalType = fuHeader & 0x3f;
      // The NAL header is the payload header with its type replaced by the FU header's.
      const header0 = (p[start]! & 0x81) | (nalType << 1);
      this.fragment(fuHeader & 0x80, fuHeader & 0x40, nalType, p, start + 3, end, header0, p[start + 1]!);
    } else {
      // 50 PACI, 41..47 reserved, 51..63 unspecified.
      this.abandonFu();
      this.drop('unsupported');
    }
  }

  private aggregate(p: Uint8Array, pos: number, end: number): void {
    const minNal = this.h265 ? 2 : 1;
    while (pos < end) {
      if (pos + 2 > end) return void this.drop('invalid-payload');
      const size = (p[pos]! << 8) | p[pos + 1]!;
      pos += 2;
      if (size < minNal || pos + size > end) return void this.drop('invalid-payload');
      this.addNal(p, pos, pos + size);
      pos += size;
    }
  }

  /** One FU-A (H.264) or FU (H.265) packet; `header1` only for H.265's second header byte. */
  private fragment(isStart: number, isEnd: number, nalType: number, p: Uint8Array, from: number, to: number, header0: number, header1?: number): void {
    if (isStart) {
      this.abandonFu();
      this.fuActive = true;
      this.fuType = nalType;
      this.fuLength = 0;
      this.fuAppendByte(header0);
      if (header1 !== undefined) this.fuAppendByte(header1);
    } else if (!this.fuActive || this.fuType !== nalType) {
      if (this.fuActive) this.abandonFu();
      this.drop('fu-without-start');
      return;
    }
    if (!this.fuAppend(p, from, to)) return;
    if (isEnd) {
      this.fuActive = false;
      this.addNal(this.fu, 0, this.fuLength);
    }
  }

  private fuAppendByte(b: number): void {
    this.ensureFu(this.fuLength + 1);
    this.fu[this.fuLength++] = b;
  }

  private fuAppend(p: Uint8Array, from: number, to: number): boolean {
    const n = to - from;
    if (this.auDiscard || this.auBytes + this.fuLength + n > this.maxBytes) {
      this.fuActive = false;
      this.tooLarge();
      return false;
    }
    this.ensureFu(this.fuLength + n);
    this.fu.set(p.subarray(from, to), this.fuLength);
    this.fuLength += n;
    return true;
  }

  private ensureFu(need: number): void {
    if (need <= this.fu.length) return;
    // Doubling, but never past the access-unit limit (checked before the copy) plus headroom.
    const size = Math.min(Math.max(need, this.fu.length * 2, 64 * 1024), this.maxBytes + 16);
    const next = new Uint8Array(Math.max(size, need));
    next.set(this.fu.subarray(0, this.fuLength));
    this.fu = next;
  }

  /** Drop the fragmented NAL being assembled, if any (lost its end). */
  private abandonFu(): void {
    if (!this.fuActive) return;
    this.fuActive = false;
    this.fuLength = 0;
    this.drop('fu-incomplete');
  }

  private addNal(p: Uint8Array, from: number, to: number): void {
    if (this.auDiscard) return;
    const n = to - from;
    if (n <= 0) return;
    if (this.auBytes + n > this.maxBytes || this.nals.length >= MAX_NALS_PER_ACCESS_UNIT) {
      this.tooLarge();
      return;
    }
    // A copy: the NAL must outlive the caller's buffer and the reused FU scratch. Not p.slice():
    // on a Buffer (what a socket gives) that is a view.
    const nal = new Uint8Array(n);
    nal.set(p.subarray(from, to));
    this.nals.push(nal);
    this.auBytes += n;
  }

  private tooLarge(): void {
    this.auDiscard = true;
    this.nals = [];
    this.auBytes = 0;
    this.drop('too-large');
  }

  /** The access unit assembled so far, if any, and a clean slate. */
  private finish(): AccessUnit | undefined {
    const nals = this.nals;
    const discard = this.auDiscard;
    const time = this.auTime;
    this.nals = [];
    this.auBytes = 0;
    this.auTs = -1;
    this.auDiscard = false;
    if (discard || nals.length === 0) return undefined;
    this.counters.accessUnits++;
    return { nals, time };
  }

  private drop(reason: RtpDropReason): AccessUnit[] {
    this.counters.dropped++;
    this.counters.drops[reason]++;
    return NO_ACCESS_UNITS;
  }
}
