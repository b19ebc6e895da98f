import { describe, it, expect } from 'vitest';
import { RtpDepacketizer, RtpError, MAX_NALS_PER_ACCESS_UNIT } from '../../native/rtp-h26x.ts';
import type { AccessUnit } from '../../native/access-unit.ts';

interface Packet {
  seq: number;
  ts: number;
  marker?: boolean;
  pt?: number;
  ssrc?: number;
  csrcs?: number;
  /** Header extension words (after the 4-byte extension header). */
  extensionWords?: number;
  padding?: number;
  version?: number;
}

/** An RTP packet, byte by byte as RFC 3550 §5.1 lays it out. */
function rtp(p: Packet, payload: number[]): Uint8Array {
  const csrcs = p.csrcs ?? 0;
  const out: number[] = [
    ((p.version ?? 2) << 6) | (p.padding ? 0x20 : 0) | (p.extensionWords !== undefined ? 0x10 : 0) | csrcs,
    (p.marker ? 0x80 : 0) | (p.pt ?? 96),
    (p.seq >> 8) & 0xff, p.seq & 0xff,
    (p.ts >>> 24) & 0xff, (p.ts >>> 16) & 0xff, (p.ts >>> 8) & 0xff, p.ts & 0xff,
    0x11, 0x22, 0x33, (p.ssrc ?? 0x44) & 0xff,
  ];
  for (let i = 0; i < csrcs; i++) out.push(0xc0, 0xc1, 0xc2, i);
  if (p.extensionWords !== undefined) {
    out.push(0xbe, 0xde, 0, p.extensionWords);
    for (let i = 0; i < p.extensionWords * 4; i++) out.push(0xee);
  }
  out.push(...payload);
  if (p.padding) {
    for (let i = 1; i < p.padding; i++) out.push(0);
    out.push(p.padding);
  }
  return new Uint8Array(out);
}

const hex = (u: Uint8Array): string => Buffer.from(u).toString('hex');
const nalsHex = (au: AccessUnit): string[] => au.nals.map(hex);

// H.264 NAL units (header byte, then payload): an SPS, a PPS, an IDR slice, a non-IDR slice.
const SPS = [0x67, 0x42, 0xc0, 0x0c];
const PPS = [0x68, 0xce, 0x3c, 0x80];
const IDR = [0x65, 0x88, 0x84, 0x00, 0x33, 0xff];
const SLICE = [0x41, 0x9a, 0x02, 0x03];
const h = (bytes: number[]): string => Buffer.from(bytes).toString('hex');

function h264(): RtpDepacketizer {
  return new RtpDepacketizer({ codec: 'h264', payloadType: 96 });
}

describe('RtpDepacketizer, H.264 (RFC 6184)', () => {
  it('emits an access unit the moment the marker packet arrives', () => {
    const d = h264();
    expect(d.push(rtp({ seq: 1, ts: 1000 }, SPS))).toEqual([]);
    expect(d.push(rtp({ seq: 2, ts: 1000 }, PPS))).toEqual([]);
    const out = d.push(rtp({ seq: 3, ts: 1000, marker: true }, IDR));
    expect(out).toHaveLength(1);
    expect(nalsHex(out[0]!)).toEqual([h(SPS), h(PPS), h(IDR)]);
    expect(out[0]!.time).toBe(1000);
    expect(d.stats()).toMatchObject({ packets: 3, accessUnits: 1, dropped: 0, gaps: 0 });
  });

  it('takes STAP-A apart (two sizes, two NALs)', () => {
    const d = h264();
    const stap = [0x78, 0, SPS.length, ...SPS, 0, PPS.length, ...PPS];
    d.push(rtp({ seq: 1, ts: 0 }, stap));
    const [au] = d.push(rtp({ seq: 2, ts: 0, marker: true }, IDR));
    expect(nalsHex(au!)).toEqual([h(SPS), h(PPS), h(IDR)]);
  });

  it('drops a STAP-A whose size runs past the packet, keeps the rest of the picture', () => {
    const d = h264();
    d.push(rtp({ seq: 1, ts: 0 }, [0x78, 0, 50, ...SPS]));
    const [au] = d.push(rtp({ seq: 2, ts: 0, marker: true }, IDR));
    expect(nalsHex(au!)).toEqual([h(IDR)]);
    expect(d.stats().drops['invalid-payload']).toBe(1);
  });

  it('joins FU-A fragments across packets, restoring the NAL header from indicator and FU header', () => {
    const d = h264();
    // IDR (type 5, NRI 3) in three fragments: indicator 0x7c = NRI 3 | 28.
    expect(d.push(rtp({ seq: 10, ts: 90 }, [0x7c, 0x85, 0x88, 0x84]))).toEqual([]);
    expect(d.push(rtp({ seq: 11, ts: 90 }, [0x7c, 0x05, 0x00]))).toEqual([]);
    const [au] = d.push(rtp({ seq: 12, ts: 90, marker: true }, [0x7c, 0x45, 0x33, 0xff]));
    expect(nalsHex(au!)).toEqual([h(IDR)]);
  });

  it('drops an FU-A whose start never came, and lets the next picture through', () => {
    const d = h264();
    expect(d.push(rtp({ seq: 10, ts: 90 }, [0x7c, 0x05, 0x00]))).toEqual([]);
    expect(d.push(rtp({ seq: 11, ts: 90, marker: true }, [0x7c, 0x45, 0x33, 0xff]))).toEqual([]);
    const [au] = d.push(rtp({ seq: 12, ts: 180, marker: true }, SLICE));
    expect(nalsHex(au!)).toEqual([h(SLICE)]);
    expect(au!.time).toBe(180);
    expect(d.stats().drops['fu-without-start']).toBe(2);
  });

  it('a sequence gap drops the NAL being assembled (counted) but not the NALs before it', () => {
    const d = h264();
    d.push(rtp({ seq: 65534, ts: 5 }, SPS));
    d.push(rtp({ seq: 65535, ts: 5 }, [0x7c, 0x85, 0x88])); // FU start
    // seq 0 lost (the gap wraps past 65535)
    const out = d.push(rtp({ seq: 1, ts: 5, marker: true }, [0x7c, 0x45, 0x33]));
    expect(out.map(nalsHex)).toEqual([[h(SPS)]]);
    const s = d.stats();
    expect(s.gaps).toBe(1);
    expect(s.lost).toBe(1);
    expect(s.drops['fu-incomplete']).toBe(1);
    expect(s.drops['fu-without-start']).toBe(1);
    // The next picture is whole.
    expect(d.push(rtp({ seq: 2, ts: 10, marker: true }, SLICE)).map(nalsHex)).toEqual([[h(SLICE)]]);
  });

  it('without a marker, a new timestamp ends the previous picture', () => {
    const d = h264();
    expect(d.push(rtp({ seq: 1, ts: 100 }, SLICE))).toEqual([]);
    const out = d.push(rtp({ seq: 2, ts: 200 }, IDR));
    expect(out.map((a) => [a.time, nalsHex(a)])).toEqual([[100, [h(SLICE)]]]);
    // …and the marker still ends the current one at once.
    const out2 = d.push(rtp({ seq: 3, ts: 200, marker: true }, SLICE));
    expect(out2.map((a) => [a.time, nalsHex(a)])).toEqual([[200, [h(IDR), h(SLICE)]]]);
  });

  it('one packet can end a marker-less picture and complete its own', () => {
    const d = h264();
    d.push(rtp({ seq: 1, ts: 100 }, SLICE));
    const out = d.push(rtp({ seq: 2, ts: 200, marker: true }, IDR));
    expect(out.map((a) => a.time)).toEqual([100, 200]);
  });

  it('extends the timestamp past the 32-bit wrap, forward and back', () => {
    const d = h264();
    const times: number[] = [];
    const tss = [0xffff_e000, 0xffff_f000, 0x0000_0800, 0x0000_1800, 0x0000_0400 /* a small step back */, 0xffff_ff00 /* back over the wrap */];
    tss.forEach((ts, i) => times.push(...d.push(rtp({ seq: i, ts, marker: true }, SLICE)).map((a) => a.time)));
    const base = 0xffff_e000;
    expect(times).toEqual([base, base + 0x1000, base + 0x2800, base + 0x3800, base + 0x2400, base + 0x1f00]);
  });

  it('skips CSRCs, a header extension and padding', () => {
    const d = h264();
    const [au] = d.push(rtp({ seq: 1, ts: 7, marker: true, csrcs: 2, extensionWords: 2, padding: 3 }, IDR));
    expect(nalsHex(au!)).toEqual([h(IDR)]);
  });

  it('drops packets that are not RTP v2 or whose padding or extension runs past the end', () => {
    const d = h264();
    expect(d.push(rtp({ seq: 1, ts: 0, marker: true, version: 1 }, IDR))).toEqual([]);
    expect(d.push(new Uint8Array([0x80, 0xe0, 0, 2]))).toEqual([]); // shorter than the header
    const badPadding = rtp({ seq: 3, ts: 0, marker: true }, IDR);
    badPadding[0]! |= 0x20;
    badPadding[badPadding.length - 1] = 200;
    expect(d.push(badPadding)).toEqual([]);
    const badExt = rtp({ seq: 4, ts: 0, marker: true, extensionWords: 0 }, []);
    badExt[15] = 100; // extension length in words, far past the end
    expect(d.push(badExt)).toEqual([]);
    expect(d.stats().drops['invalid-packet']).toBe(4);
    expect(d.push(rtp({ seq: 5, ts: 0, marker: true }, IDR)).map(nalsHex)).toEqual([[h(IDR)]]);
  });

  it('ignores another payload type', () => {
    const d = h264();
    expect(d.push(rtp({ seq: 1, ts: 0, marker: true, pt: 97 }, IDR))).toEqual([]);
    expect(d.stats().ignored).toBe(1);
  });

  it('counts and drops interleaved-mode packets (STAP-B, MTAP, FU-B)', () => {
    const d = h264();
    for (const [i, type] of [25, 26, 27, 29].entries()) d.push(rtp({ seq: i, ts: 0 }, [0x60 | type, 0, 0, 0, 0]));
    expect(d.stats().drops.unsupported).toBe(4);
    expect(d.push(rtp({ seq: 4, ts: 0, marker: true }, IDR)).map(nalsHex)).toEqual([[h(IDR)]]);
  });

  it('copies: reusing the pushed buffer does not change an access unit', () => {
    const d = h264();
    const packet = rtp({ seq: 1, ts: 0, marker: true }, IDR);
    const buf = Buffer.from(packet); // what a socket hands over; its slice() would be a view
    const [au] = d.push(buf.subarray(0));
    buf.fill(0);
    expect(nalsHex(au!)).toEqual([h(IDR)]);
  });

  it('drops an access unit larger than maxAccessUnitBytes, and the next one passes', () => {
    const d = new RtpDepacketizer({ codec: 'h264', maxAccessUnitBytes: 8 });
    d.push(rtp({ seq: 1, ts: 0 }, IDR));
    expect(d.push(rtp({ seq: 2, ts: 0, marker: true }, IDR))).toEqual([]);
    expect(d.stats().drops['too-large']).toBe(1);
    // A fragmented NAL is checked as it grows.
    d.push(rtp({ seq: 3, ts: 1 }, [0x7c, 0x85, 1, 2, 3, 4, 5]));
    expect(d.push(rtp({ seq: 4, ts: 1, marker: true }, [0x7c, 0x45, 6, 7, 8, 9]))).toEqual([]);
    expect(d.push(rtp({ seq: 5, ts: 2, marker: true }, IDR)).map(nalsHex)).toEqual([[h(IDR)]]);
  });

  it('bounds the NAL units of one access unit', () => {
    const d = h264();
    for (let i = 0; i < MAX_NALS_PER_ACCESS_UNIT + 1; i++) d.push(rtp({ seq: i & 0xffff, ts: 0 }, [0x06, 0x05]));
    expect(d.push(rtp({ seq: MAX_NALS_PER_ACCESS_UNIT + 1, ts: 0, marker: true }, IDR))).toEqual([]);
    expect(d.stats().drops['too-large']).toBe(1);
  });

  it('refuses contradictory options with a typed error', () => {
    expect(() => new RtpDepacketizer({ codec: 'h264', payloadType: 300 })).toThrow(RtpError);
    expect(() => new RtpDepacketizer({ codec: 'h264', maxAccessUnitBytes: 0 })).toThrow(/bad-options/);
  });
});

describe('RtpDepacketizer, H.265 (RFC 7798)', () => {
  // Two-byte NAL headers: type << 1, then layer 0 / TID 1.
  const VPS = [0x40, 0x01, 0x0c, 0x01];
  const HSPS = [0x42, 0x01, 0x01, 0x01, 0x60];
  const HPPS = [0x44, 0x01, 0xc0, 0x71];
  const IDR_W_RADL = [0x26, 0x01, 0xaf, 0x09, 0x40]; // type 19
  const TRAIL_R = [0x02, 0x01, 0xd0, 0x2f]; // type 1

  function h265(): RtpDepacketizer {
    return new RtpDepacketizer({ codec: 'h265', payloadType: 96 });
  }

  it('single NAL units and the marker', () => {
    const d = h265();
    expect(d.push(rtp({ seq: 1, ts: 3000 }, VPS))).toEqual([]);
    const [au] = d.push(rtp({ seq: 2, ts: 3000, marker: true }, TRAIL_R));
    expect(nalsHex(au!)).toEqual([h(VPS), h(TRAIL_R)]);
    expect(au!.time).toBe(3000);
  });

  it('takes an aggregation packet (AP, type 48) apart', () => {
    const d = h265();
    const ap = [0x60, 0x01, 0, VPS.length, ...VPS, 0, HSPS.length, ...HSPS, 0, HPPS.length, ...HPPS];
    d.push(rtp({ seq: 1, ts: 0 }, ap));
    const [au] = d.push(rtp({ seq: 2, ts: 0, marker: true }, IDR_W_RADL));
    expect(nalsHex(au!)).toEqual([h(VPS), h(HSPS), h(HPPS), h(IDR_W_RADL)]);
  });

  it('joins FU (type 49) fragments, the NAL header rebuilt from payload header and FU type', () => {
    const d = h265();
    // Payload header: type 49 (0x62), layer 0, TID 1 (0x01); FU header S|type 19 = 0x93, E|19 = 0x53.
    d.push(rtp({ seq: 1, ts: 0 }, [0x62, 0x01, 0x93, 0xaf, 0x09]));
    const [au] = d.push(rtp({ seq: 2, ts: 0, marker: true }, [0x62, 0x01, 0x53, 0x40]));
    expect(nalsHex(au!)).toEqual([h(IDR_W_RADL)]);
  });

  it('drops an FU without its start, and PACI packets, counting both', () => {
    const d = h265();
    d.push(rtp({ seq: 1, ts: 0 }, [0x62, 0x01, 0x13, 0xaf]));
    d.push(rtp({ seq: 2, ts: 0 }, [0x64, 0x01, 0x00, 0x00, 0x00])); // PACI (50)
    const [au] = d.push(rtp({ seq: 3, ts: 0, marker: true }, TRAIL_R));
    expect(nalsHex(au!)).toEqual([h(TRAIL_R)]);
    expect(d.stats().drops).toMatchObject({ 'fu-without-start': 1, unsupported: 1 });
  });
});
