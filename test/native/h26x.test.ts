import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import fc from 'fast-check';
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import type { VideoCodec } from '../../native/access-unit.ts';
import {
  H26xError, MAX_PICTURE_SIDE, avcC, hvcC, isAccessUnitDelimiter, isKeyframe, isParameterSet, nalLayerId, nalType,
  parameterSetId, parseH264Sps, parseH265Sps, unescapeRbsp,
} from '../../native/h26x.ts';
import { expectErrorCode } from '../support/error-code.ts';

const run = promisify(execFile);

const expectCode = (fn: () => unknown, code: string): void => expectErrorCode(H26xError, fn, code);

/** Writes RBSP bits (u, ue, se), then a NAL: header, the RBSP with its stop bit, emulation prevention. */
class BitWriter {
  private bits: number[] = [];
  u(n: number, v: number): this {
    for (let i = n - 1; i >= 0; i--) this.bits.push(Math.floor(v / 2 ** i) % 2);
    return this;
  }
  ue(v: number): this {
    const len = Math.floor(Math.log2(v + 1));
    return this.u(len, 0).u(len + 1, v + 1);
  }
  se(v: number): this {
    return this.ue(v > 0 ? 2 * v - 1 : -2 * v);
  }
  nal(header: number[]): Uint8Array {
    const bits = [...this.bits, 1];
    while (bits.length % 8) bits.push(0);
    const out = [...header];
    let zeros = 0;
    for (let i = 0; i < bits.length; i += 8) {
      const b = bits.slice(i, i + 8).reduce((a, x) => a * 2 + x, 0);
      if (zeros >= 2 && b <= 3) {
        out.push(3);
        zeros = 0;
      }
      out.push(b);
      zeros = b === 0 ? zeros + 1 : 0;
    }
    return new Uint8Array(out);
  }
}

interface H264SpsSpec {
  profile?: number;
  spsId?: number;
  chroma?: number;
  separatePlanes?: boolean;
  bitDepth?: number;
  scaling?: boolean;
  pocType?: 0 | 1 | 2;
  widthMbs: number;
  heightMapUnits: number;
  frameMbsOnly?: boolean;
  crop?: [number, number, number, number];
}

function h264Sps(s: H264SpsSpec): Uint8Array {
  const w = new BitWriter().u(8, s.profile ?? 66).u(8, 0).u(8, 31).ue(s.spsId ?? 0);
  if ((s.profile ?? 66) >= 100) {
    w.ue(s.chroma ?? 1);
    if (s.chroma === 3) w.u(1, s.separatePlanes ? 1 : 0);
    w.ue((s.bitDepth ?? 8) - 8).ue((s.bitDepth ?? 8) - 8).u(1, 0);
    w.u(1, s.scaling ? 1 : 0);
    if (s.scaling) {
      for (let i = 0; i < ((s.chroma ?? 1) === 3 ? 12 : 8); i++) {
        w.u(1, 1);
        // A list that ends early (next scale 0) and a full one, alternately.
        if (i % 2) {
          w.se(-8);
        } else {
          for (let j = 0; j < (i < 6 ? 16 : 64); j++) w.se(j % 3 === 0 ? 5 : -2);
        }
      }
    }
  }
  w.ue(0); // log2_max_frame_num_minus4
  w.ue(s.pocType ?? 0);
  if ((s.pocType ?? 0) === 0) w.ue(2);
  if (s.pocType === 1) w.u(1, 0).se(-3).se(7).ue(3).se(1).se(-1).se(2);
  w.ue(1).u(1, 0).ue(s.widthMbs - 1).ue(s.heightMapUnits - 1);
  w.u(1, s.frameMbsOnly === false ? 0 : 1);
  if (s.frameMbsOnly === false) w.u(1, 1);
  w.u(1, 1);
  w.u(1, s.crop ? 1 : 0);
  if (s.crop) for (const c of s.crop) w.ue(c);
  w.u(1, 0); // vui_parameters_present_flag
  return w.nal([0x67]);
}

interface H265SpsSpec {
  subLayers?: number;
  subLayerProfiles?: boolean;
  chroma?: number;
  width: number;
  height: number;
  window?: [number, number, number, number];
  layer?: number;
}

function h265Sps(s: H265SpsSpec): Uint8Array {
  const minus1 = (s.subLayers ?? 1) - 1;
  const w = new BitWriter().u(4, 0).u(3, minus1).u(1, 1);
  // general profile_tier_level: Main, tier Main, compat flags 1 and 2, progressive + frame-only, level 3.1
  w.u(2, 0).u(1, 0).u(5, 1).u(32, 0x6000_0000).u(48, 0x9000_0000_0000).u(8, 93);
  for (let i = 0; i < minus1; i++) w.u(1, s.subLayerProfiles ? 1 : 0).u(1, 1);
  if (minus1 > 0) for (let i = minus1; i < 8; i++) w.u(2, 0);
  for (let i = 0; i < minus1; i++) {
    if (s.subLayerProfiles) w.u(2, 0).u(1, 0).u(5, 1).u(32, 0x6000_0000).u(48, 0);
    w.u(8, 90);
  }
  w.ue(0).ue(s.chroma ?? 1);
  if (s.chroma === 3) w.u(1, 0);
  w.ue(s.width).ue(s.height);
  w.u(1, s.window ? 1 : 0);
  if (s.window) for (const c of s.window) w.ue(c);
  w.ue(0).ue(0).ue(4); // bit depths, log2_max_pic_order_cnt_lsb_minus4
  const layer = s.layer ?? 0;
  return w.nal([(33 << 1) | (layer >> 5), ((layer & 31) << 3) | 1]);
}

describe('NAL unit headers', () => {
  it('reads H.264 and H.265 NAL types and their kinds', () => {
    expect(nalType('h264', new Uint8Array([0x65]))).toBe(5);
    expect(nalType('h264', new Uint8Array([0x67, 0x42]))).toBe(7);
    expect(nalType('h265', new Uint8Array([0x40, 0x01]))).toBe(32);
    expect(nalType('h265', new Uint8Array([0x26, 0x01]))).toBe(19);
    expect(isParameterSet('h264', new Uint8Array([0x67]))).toBe(true);
    expect(isParameterSet('h264', new Uint8Array([0x68]))).toBe(true);
    expect(isParameterSet('h264', new Uint8Array([0x06]))).toBe(false);
    for (const t of [32, 33, 34]) expect(isParameterSet('h265', new Uint8Array([t << 1, 1]))).toBe(true);
    expect(isParameterSet('h265', new Uint8Array([39 << 1, 1]))).toBe(false);
    expect(isAccessUnitDelimiter('h264', new Uint8Array([0x09, 0xf0]))).toBe(true);
    expect(isAccessUnitDelimiter('h265', new Uint8Array([35 << 1, 1, 0x50]))).toBe(true);
    expect(isAccessUnitDelimiter('h265', new Uint8Array([0x09, 1]))).toBe(false);
    expect(nalLayerId('h265', new Uint8Array([(33 << 1) | 1, (3 << 3) | 1]))).toBe(35);
  });

  it('finds keyframes: H.264 IDR only, H.265 IRAP (16..21) only', () => {
    expect(isKeyframe('h264', [new Uint8Array([0x67]), new Uint8Array([0x68]), new Uint8Array([0x65])])).toBe(true);
    expect(isKeyframe('h264', [new Uint8Array([0x41]), new Uint8Array([0x06])])).toBe(false);
    for (let t = 0; t < 41; t++) {
      expect(isKeyframe('h265', [new Uint8Array([t << 1, 1])])).toBe(t >= 16 && t <= 21);
    }
  });

  it('refuses empty NALs, NALs shorter than their header and forbidden_zero_bit', () => {
    expectCode(() => nalType('h264', new Uint8Array(0)), 'bad-nal');
    expectCode(() => nalType('h265', new Uint8Array([0x40])), 'bad-nal');
    expectCode(() => nalType('h264', new Uint8Array([0xe5])), 'bad-nal');
    expectCode(() => isKeyframe('h265', [new Uint8Array([0x26, 1]), new Uint8Array(0)]), 'bad-nal');
    expectCode(() => nalType('vp8' as VideoCodec, new Uint8Array([1])), 'unsupported');
  });

  it('removes emulation-prevention bytes, and only those', () => {
    const nal = new Uint8Array([0x67, 0, 0, 3, 1, 0, 0, 3, 0, 3, 0, 3, 0, 0, 3]);
    expect([...unescapeRbsp(nal, 1)]).toEqual([0, 0, 1, 0, 0, 0, 3, 0, 3, 0, 0]);
  });
});

describe('H.264 SPS', () => {
  it('reads a Baseline SPS with cropping (1920x1080 coded as 1920x1088)', () => {
    const sps = parseH264Sps(h264Sps({ widthMbs: 120, heightMapUnits: 68, crop: [0, 0, 0, 4] }));
    expect(sps).toMatchObject({ profileIdc: 66, levelIdc: 31, chromaFormatIdc: 1, bitDepthLuma: 8, frameMbsOnly: true, width: 1920, height: 1080 });
  });

  it('skips High profile scaling lists and reads 4:4:4 and 4:2:2 crop units', () => {
    const s444 = parseH264Sps(h264Sps({ profile: 244, chroma: 3, scaling: true, widthMbs: 41, heightMapUnits: 23, crop: [1, 3, 0, 6], spsId: 5 }));
    expect(s444).toMatchObject({ spsId: 5, profileIdc: 244, chromaFormatIdc: 3, width: 656 - 4, height: 368 - 6 });
    const s422 = parseH264Sps(h264Sps({ profile: 122, chroma: 2, bitDepth: 10, scaling: true, widthMbs: 41, heightMapUnits: 23, crop: [1, 0, 0, 3] }));
    expect(s422).toMatchObject({ chromaFormatIdc: 2, bitDepthLuma: 10, bitDepthChroma: 10, width: 656 - 2, height: 368 - 3 });
    // Separate colour planes count cropping in luma samples (ChromaArrayType 0).
    const planes = parseH264Sps(h264Sps({ profile: 244, chroma: 3, separatePlanes: true, widthMbs: 10, heightMapUnits: 10, crop: [1, 1, 1, 1] }));
    expect([planes.width, planes.height]).toEqual([158, 158]);
  });

  it('counts map units as field pairs when frame_mbs_only is 0, and reads POC type 1', () => {
    const sps = parseH264Sps(h264Sps({ profile: 100, widthMbs: 40, heightMapUnits: 12, frameMbsOnly: false, crop: [0, 0, 0, 6], pocType: 1 }));
    expect(sps).toMatchObject({ frameMbsOnly: false, width: 640, height: 384 - 24 });
  });

  it('rejects absurd sizes, cropping everything, out-of-range fields and truncation with bad-sps', () => {
    expectCode(() => parseH264Sps(h264Sps({ widthMbs: MAX_PICTURE_SIDE / 16 + 1, heightMapUnits: 10 })), 'bad-sps');
    expectCode(() => parseH264Sps(h264Sps({ widthMbs: 10, heightMapUnits: 2 ** 31 })), 'bad-sps');
    expectCode(() => parseH264Sps(h264Sps({ widthMbs: 10, heightMapUnits: 10, crop: [40, 40, 0, 0] })), 'bad-sps');
    expectCode(() => parseH264Sps(h264Sps({ profile: 100, chroma: 4, widthMbs: 10, heightMapUnits: 10 })), 'bad-sps');
    expectCode(() => parseH264Sps(h264Sps({ widthMbs: 10, heightMapUnits: 10, spsId: 32 })), 'bad-sps');
    // 40 leading zeros: an exp-Golomb code longer than 32 bits.
    expectCode(() => parseH264Sps(new Uint8Array([0x67, 66, 0, 31, 0, 0, 3, 0, 0, 0, 0xff])), 'bad-sps');
    expectCode(() => parseH264Sps(new Uint8Array([0x68, 0xce])), 'bad-sps');
    const full = h264Sps({ profile: 100, scaling: true, widthMbs: 40, heightMapUnits: 23, crop: [0, 0, 0, 4] });
    for (let n = 1; n < full.length - 1; n++) expectCode(() => parseH264Sps(full.subarray(0, n)), 'bad-sps');
  });
});

describe('H.265 SPS', () => {
  it('reads profile_tier_level and the conformance window', () => {
    const sps = parseH265Sps(h265Sps({ width: 1920, height: 1088, window: [0, 0, 0, 4] }));
    expect(sps).toMatchObject({ maxSubLayers: 1, temporalIdNesting: true, chromaFormatIdc: 1, width: 1920, height: 1080 });
    expect(sps.profileTierLevel).toMatchObject({ profileSpace: 0, tierFlag: 0, profileIdc: 1, compatibilityFlags: 0x6000_0000, levelIdc: 93 });
    expect([...sps.profileTierLevel.constraintFlags]).toEqual([0x90, 0, 0, 0, 0, 0]);
  });

  it('skips sub-layer profiles and levels', () => {
    for (const subLayerProfiles of [false, true]) {
      for (const subLayers of [2, 3, 7]) {
        const sps = parseH265Sps(h265Sps({ subLayers, subLayerProfiles, chroma: 3, width: 642, height: 362, window: [0, 1, 0, 1] }));
        expect(sps).toMatchObject({ maxSubLayers: subLayers, chromaFormatIdc: 3, width: 641, height: 361 });
        expect(sps.profileTierLevel.levelIdc).toBe(93);
      }
    }
  });

  it('rejects absurd sizes, truncation and layers above 0', () => {
    expectCode(() => parseH265Sps(h265Sps({ width: MAX_PICTURE_SIDE + 8, height: 64 })), 'bad-sps');
    expectCode(() => parseH265Sps(h265Sps({ width: 0, height: 64 })), 'bad-sps');
    expectCode(() => parseH265Sps(h265Sps({ width: 64, height: 64, window: [20, 20, 0, 0] })), 'bad-sps');
    expectCode(() => parseH265Sps(h265Sps({ width: 64, height: 64, chroma: 4 })), 'bad-sps');
    expectCode(() => parseH265Sps(h265Sps({ width: 64, height: 64, layer: 1 })), 'unsupported');
    const full = h265Sps({ subLayers: 3, subLayerProfiles: true, width: 642, height: 362, window: [0, 1, 0, 1] });
    for (let n = 2; n < full.length - 1; n++) expectCode(() => parseH265Sps(full.subarray(0, n)), 'bad-sps');
  });
});

describe('parameter set ids', () => {
  it('reads the ids of SPS, PPS and VPS', () => {
    expect(parameterSetId('h264', h264Sps({ widthMbs: 2, heightMapUnits: 2, spsId: 7 }))).toBe(7);
    expect(parameterSetId('h264', new BitWriter().ue(200).ue(3).nal([0x68]))).toBe(200);
    expect(parameterSetId('h265', new BitWriter().ue(63).ue(0).nal([34 << 1, 1]))).toBe(63);
    expect(parameterSetId('h265', new Uint8Array([32 << 1, 1, 0xac, 0xff]))).toBe(10);
    expectCode(() => parameterSetId('h265', new BitWriter().ue(64).nal([34 << 1, 1])), 'bad-parameter-set');
    expectCode(() => parameterSetId('h264', new Uint8Array([0x68])), 'bad-parameter-set');
    expectCode(() => parameterSetId('h264', new Uint8Array([0x65, 0x88])), 'bad-parameter-set');
  });
});

describe('configuration records', () => {
  const sps = h264Sps({ profile: 100, widthMbs: 40, heightMapUnits: 23, crop: [0, 0, 0, 4] });
  const pps = new BitWriter().ue(0).ue(0).nal([0x68]);

  it('writes avcC with lengthSizeMinusOne 3 and the High profile extension', () => {
    const rec = avcC([sps], [pps]);
    expect([...rec.subarray(0, 6)]).toEqual([1, 100, 0, 31, 0xff, 0xe1]);
    expect((rec[6]! << 8) | rec[7]!).toBe(sps.length);
    expect([...rec.subarray(8, 8 + sps.length)]).toEqual([...sps]);
    expect(rec[8 + sps.length]).toBe(1);
    expect([...rec.subarray(rec.length - 4)]).toEqual([0xfd, 0xf8, 0xf8, 0]);
    expect(rec.length).toBe(6 + 2 + sps.length + 1 + 2 + pps.length + 4);
    // Baseline has no extension.
    const base = avcC([h264Sps({ widthMbs: 2, heightMapUnits: 2 })], [pps]);
    expect(base.length).toBe(6 + 2 + base[7]! + 1 + 2 + pps.length);
  });

  it('refuses missing, mistyped and oversized parameter sets', () => {
    expectCode(() => avcC([], [pps]), 'missing-parameter-sets');
    expectCode(() => avcC([sps], []), 'missing-parameter-sets');
    expectCode(() => avcC([pps], [pps]), 'bad-parameter-set');
    expectCode(() => avcC([sps], [sps]), 'bad-parameter-set');
    expectCode(() => avcC(new Array<Uint8Array>(32).fill(sps), [pps]), 'unsupported');
    const huge = new Uint8Array(70_000);
    huge[0] = 0x68;
    expectCode(() => avcC([sps], [huge]), 'bad-parameter-set');
    expectCode(() => hvcC([], [h265Sps({ width: 64, height: 64 })], [new Uint8Array([68, 1, 0xc0])]), 'missing-parameter-sets');
  });

  it('writes hvcC with the general profile, tier, level and flags of the SPS', () => {
    const s = h265Sps({ subLayers: 2, width: 642, height: 362, window: [0, 1, 0, 1] });
    const vps = new Uint8Array([64, 1, 0x0c]);
    const p = new Uint8Array([68, 1, 0xc1]);
    const rec = hvcC([vps], [s], [p]);
    expect([...rec.subarray(0, 13)]).toEqual([1, 0x01, 0x60, 0, 0, 0, 0x90, 0, 0, 0, 0, 0, 93]);
    expect([...rec.subarray(13, 23)]).toEqual([0xf0, 0, 0xfc, 0xfd, 0xf8, 0xf8, 0, 0, (2 << 3) | 4 | 3, 3]);
    expect([...rec.subarray(23, 28)]).toEqual([0x80 | 32, 0, 1, 0, 3]);
  });
});

describe('SPS of real encoders', () => {
  let dir: string;
  const streams: Record<string, { codec: VideoCodec; size: string; args: string[] }> = {
    'h264 High': { codec: 'h264', size: '640x360', args: ['-c:v', 'libx264'] },
    'h264 Baseline': { codec: 'h264', size: '642x362', args: ['-c:v', 'libx264', '-profile:v', 'baseline'] },
    'h264 High 4:4:4, scaling lists': { codec: 'h264', size: '642x362', args: ['-c:v', 'libx264', '-pix_fmt', 'yuv444p', '-x264-params', 'cqm=jvt'] },
    'h264 High 4:2:2 10-bit': { codec: 'h264', size: '642x362', args: ['-c:v', 'libx264', '-pix_fmt', 'yuv422p10le'] },
    'h264 interlaced': { codec: 'h264', size: '640x360', args: ['-c:v', 'libx264', '-flags', '+ildct'] },
    'h264 1080p': { codec: 'h264', size: '1920x1080', args: ['-c:v', 'libx264', '-preset', 'ultrafast'] },
    'h265 Main': { codec: 'h265', size: '642x362', args: ['-c:v', 'libx265', '-preset', 'ultrafast', '-x265-params', 'log-level=error'] },
    'h265 Main 10': { codec: 'h265', size: '640x360', args: ['-c:v', 'libx265', '-preset', 'ultrafast', '-pix_fmt', 'yuv420p10le', '-x265-params', 'log-level=error'] },
    'h265 sub-layers': { codec: 'h265', size: '320x180', args: ['-c:v', 'libx265', '-preset', 'ultrafast', '-x265-params', 'log-level=error:temporal-layers=1'] },
  };
  const files = new Map<string, Uint8Array>();

  beforeAll(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'vigil-h26x-'));
    await Promise.all(Object.entries(streams).map(async ([name, s], i) => {
      const file = path.join(dir, `${i}.${s.codec}`);
      await run('ffmpeg', ['-v', 'error', '-f', 'lavfi', '-i', `testsrc2=size=${s.size}:rate=15`, '-frames:v', '1', ...s.args,
        '-f', s.codec === 'h264' ? 'h264' : 'hevc', file]);
      files.set(name, new Uint8Array(readFileSync(file)));
    }));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it.each(Object.keys(streams))('%s: the size it was encoded at', (name) => {
    const { codec, size } = streams[name]!;
    const sps = firstNal(files.get(name)!, codec, codec === 'h264' ? 7 : 33);
    const parsed = codec === 'h264' ? parseH264Sps(sps) : parseH265Sps(sps);
    expect(`${parsed.width}x${parsed.height}`).toBe(size);
    if (name === 'h265 sub-layers') expect((parsed as ReturnType<typeof parseH265Sps>).maxSubLayers).toBe(2);
    if (name === 'h264 interlaced') expect((parsed as ReturnType<typeof parseH264Sps>).frameMbsOnly).toBe(false);
    if (name === 'h264 High 4:2:2 10-bit') expect(parsed).toMatchObject({ chromaFormatIdc: 2, bitDepthLuma: 10 });
  });
});

describe('hostile bytes', () => {
  it('throw only H26xError', () => {
    const nal = fc.uint8Array({ minLength: 0, maxLength: 80 });
    fc.assert(
      fc.property(nal, fc.constantFrom<VideoCodec>('h264', 'h265'), fc.integer({ min: 0, max: 2 }), (bytes, codec, kind) => {
        // Make most inputs parameter sets so the parsers, not the header check, see them.
        const b = Uint8Array.from(bytes);
        if (codec === 'h264' && b.length > 0) b[0] = [0x67, 0x68, b[0]!][kind]!;
        if (codec === 'h265' && b.length > 1) b[0] = [33 << 1, 34 << 1, 32 << 1][kind]!;
        if (codec === 'h265' && b.length > 1) b[1] = 1;
        for (const f of [() => parameterSetId(codec, b), () => (codec === 'h264' ? parseH264Sps(b) : parseH265Sps(b)), () => isKeyframe(codec, [b])]) {
          try {
            f();
          } catch (err) {
            if (!(err instanceof H26xError)) throw err;
          }
        }
      }),
      { numRuns: 2000 },
    );
  });
});

function firstNal(annexB: Uint8Array, codec: VideoCodec, type: number): Uint8Array {
  const starts: number[] = [];
  for (let i = 0; i + 2 < annexB.length; i++) {
    if (annexB[i] === 0 && annexB[i + 1] === 0 && annexB[i + 2] === 1) {
      starts.push(i + 3);
      i += 2;
    }
  }
  for (const [k, start] of starts.entries()) {
    let end = k + 1 < starts.length ? starts[k + 1]! - 3 : annexB.length;
    while (end > start && annexB[end - 1] === 0) end--;
    const nal = annexB.subarray(start, end);
    if (nalType(codec, nal) === type) return nal;
  }
  throw new Error(`no NAL of type ${type}`);
}
