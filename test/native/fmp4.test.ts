import { describe, it, expect } from 'vitest';
import fc from 'fast-check';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import path from 'node:path';
import { Fmp4Error, Fmp4Splitter, type Fmp4Segment, type Fragment, type InitSegment } from '../../native/fmp4.ts';
import { expectErrorCode } from '../support/error-code.ts';

const FIXTURES = path.join(path.dirname(fileURLToPath(import.meta.url)), 'fixtures');
// Made with Debian's ffmpeg 5.1 (see fixtures/README.md): 2 s, 15 fps, GOP 15, fragments of 200 ms.
const H264_AAC = new Uint8Array(readFileSync(path.join(FIXTURES, 'h264-aac.mp4')));
const H265 = new Uint8Array(readFileSync(path.join(FIXTURES, 'h265.mp4')));

// --- tiny ISO BMFF builder for synthetic streams ---------------------------------------------
function u32(n: number): number[] {
  return [(n >>> 24) & 0xff, (n >>> 16) & 0xff, (n >>> 8) & 0xff, n & 0xff];
}
function u16(n: number): number[] {
  return [(n >>> 8) & 0xff, n & 0xff];
}
function ascii(s: string): number[] {
  return [...s].map((c) => c.charCodeAt(0));
}
function box(type: string, ...payload: (number[] | Uint8Array)[]): Uint8Array {
  const body = payload.flatMap((p) => [...p]);
  return new Uint8Array([...u32(8 + body.length), ...ascii(type), ...body]);
}
function full(type: string, version: number, flags: number, ...payload: (number[] | Uint8Array)[]): Uint8Array {
  return box(type, [version, (flags >>> 16) & 0xff, (flags >>> 8) & 0xff, flags & 0xff], ...payload);
}
function cat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}
const zeros = (n: number): number[] => new Array<number>(n).fill(0);

function trak(id: number, handler: 'vide' | 'soun', entry: Uint8Array): Uint8Array {
  return box('trak',
    full('tkhd', 0, 3, zeros(8), u32(id), zeros(68)),
    box('mdia',
      full('mdhd', 0, 0, zeros(8), u32(handler === 'vide' ? 90000 : 16000), zeros(8)),
      full('hdlr', 0, 0, zeros(4), ascii(handler), zeros(13)),
      box('minf', box('stbl', full('stsd', 0, 0, u32(1), entry)))));
}
const avc1 = box('avc1', zeros(6), u16(1), zeros(16), u16(640), u16(360), zeros(50),
  box('avcC', [1, 0x64, 0x00, 0x1f, 0xff, 0xe0, 0x00]));
const mp4a = box('mp4a', zeros(6), u16(1), zeros(8), u16(1), u16(16), zeros(4), u32(16000 << 16),
  full('esds', 0, 0, [0x03, 0x16, 0x00, 0x02, 0x00, 0x04, 0x11, 0x40, 0x15, ...zeros(11), 0x05, 0x02, 0x14, 0x08]));
const SYNC = 0x0200_0000;
const NON_SYNC = 0x0101_0000;

function initSegment(trexFlags = [0, 0]): Uint8Array {
  return cat(
    box('ftyp', ascii('isom'), u32(512), ascii('isomiso6')),
    box('moov',
      full('mvhd', 0, 0, zeros(96)),
      trak(1, 'vide', avc1),
      trak(2, 'soun', mp4a),
      box('mvex',
        full('trex', 0, 0, u32(1), u32(1), zeros(8), u32(trexFlags[0] ?? 0)),
        full('trex', 0, 0, u32(2), u32(1), zeros(8), u32(trexFlags[1] ?? 0)))));
}
interface TrafSpec {
  id: number;
  tfhdFlags?: number;
  trunFirst?: number;
  trunPerSample?: number;
  decodeTime?: number;
  count?: number;
}
function fragment(seq: number, trafs: TrafSpec[]): Uint8Array {
  const moof = box('moof', full('mfhd', 0, 0, u32(seq)), ...trafs.map((t) => box('traf',
    full('tfhd', 0, t.tfhdFlags !== undefined ? 0x20020 : 0x20000, u32(t.id), t.tfhdFlags !== undefined ? u32(t.tfhdFlags) : []),
    full('tfdt', 1, 0, u32(0), u32(t.decodeTime ?? 0)),
    t.trunFirst !== undefined
      ? full('trun', 0, 0x205, u32(t.count ?? 1), u32(0), u32(t.trunFirst), u32(4))
      : t.trunPerSample !== undefined
        ? full('trun', 0, 0x601, u32(t.count ?? 1), u32(0), u32(4), u32(t.trunPerSample))
        : full('trun', 0, 0x201, u32(t.count ?? 1), u32(0), u32(4)))));
  return cat(moof, box('mdat', [1, 2, 3, 4]));
}

function splitAll(bytes: Uint8Array, opts?: ConstructorParameters<typeof Fmp4Splitter>[0]): Fmp4Segment[] {
  const s = new Fmp4Splitter(opts);
  const out = s.push(bytes);
  s.end();
  return out;
}
const expectCode = (fn: () => unknown, code: string): void => expectErrorCode(Fmp4Error, fn, code);

describe('Fmp4Splitter on real ffmpeg output', () => {
  it('splits H.264 + AAC into init and fragments that tile the file', () => {
    const segs = splitAll(H264_AAC);
    const init = segs[0] as InitSegment;
    expect(init.type).toBe('init');
    expect(init.codecs).toEqual(['avc1.42C00A', 'mp4a.40.2']);
    expect(init.mime).toBe('video/mp4; codecs="avc1.42C00A, mp4a.40.2"');
    expect([init.width, init.height]).toEqual([160, 90]);
    expect(init.tracks.map((t) => [t.id, t.kind, t.timescale])).toEqual([[1, 'video', 15360], [2, 'audio', 16000]]);
    const frags = segs.slice(1) as Fragment[];
    expect(frags).toHaveLength(10);
    expect(frags.map((f) => f.sequence)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    expect(frags.map((f) => f.keyframe)).toEqual([true, false, false, false, false, true, false, false, false, false]);
    expect(frags[0]?.decodeTime).toBe(0);
    expect(frags[1]?.decodeTime).toBe(4056);
    expect(frags.every((f) => f.trackIds.join() === '1,2')).toBe(true);
    // Byte for byte: everything but the trailing mfra (a file index) comes out again, in order.
    const joined = Buffer.concat(segs.map((s) => s.data));
    expect(joined.equals(Buffer.from(H264_AAC.subarray(0, joined.length)))).toBe(true);
    expect(Buffer.from(H264_AAC.subarray(joined.length, joined.length + 8)).toString('latin1', 4)).toBe('mfra');
  });

  it('agrees with ffprobe on which packets are keyframes', () => {
    const flags = execFileSync('ffprobe', ['-v', 'error', '-select_streams', 'v:0', '-show_entries', 'packet=flags', '-of', 'csv=p=0',
      path.join(FIXTURES, 'h264-aac.mp4')], { encoding: 'utf8' });
    const keyPackets = flags.split('\n').filter((l) => l.startsWith('K')).length;
    const keyFragments = splitAll(H264_AAC).filter((s) => s.type === 'fragment' && s.keyframe).length;
    expect(keyFragments).toBe(keyPackets);
  });

  it('builds the RFC 6381 codec string for H.265 (hvc1)', () => {
    const segs = splitAll(H265);
    const init = segs[0] as InitSegment;
    expect(init.codecs).toEqual(['hvc1.1.6.L30.90']);
    expect(init.mime).toBe('video/mp4; codecs="hvc1.1.6.L30.90"');
    expect([init.width, init.height]).toEqual([160, 96]);
    expect(segs.filter((s) => s.type === 'fragment' && s.keyframe)).toHaveLength(2);
  });

  it('gives the same segments whatever the chunking', () => {
    const whole = splitAll(H264_AAC);
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 1, max: H264_AAC.length - 1 }), { maxLength: 40 }), (cuts) => {
        const points = [...new Set(cuts)].sort((a, b) => a - b);
        const s = new Fmp4Splitter();
        const got: Fmp4Segment[] = [];
        let prev = 0;
        for (const p of [...points, H264_AAC.length]) {
          got.push(...s.push(H264_AAC.subarray(prev, p)));
          prev = p;
        }
        s.end();
        expect(got.length).toBe(whole.length);
        got.forEach((g, i) => expect(Buffer.from(g.data).equals(Buffer.from(whole[i]!.data))).toBe(true));
      }),
      { numRuns: 60 },
    );
  });

  it('handles a byte-at-a-time stream', () => {
    const s = new Fmp4Splitter();
    let n = 0;
    for (let i = 0; i < H265.length; i++) n += s.push(H265.subarray(i, i + 1)).length;
    expect(n).toBe(splitAll(H265).length);
  });
});

describe('Fmp4Splitter keyframe and track rules (synthetic)', () => {
  it('reads the first sample flags from trun first-sample-flags, per-sample flags, tfhd and trex', () => {
    const stream = cat(
      initSegment([NON_SYNC, 0]),
      fragment(1, [{ id: 1, trunFirst: SYNC, decodeTime: 10 }, { id: 2 }]),
      fragment(2, [{ id: 1, trunFirst: NON_SYNC }]),
      fragment(3, [{ id: 1, trunPerSample: SYNC, count: 1 }]),
      fragment(4, [{ id: 1, tfhdFlags: SYNC }]),
      fragment(5, [{ id: 1, tfhdFlags: NON_SYNC }]),
      fragment(6, [{ id: 1 }]), // falls back to trex: non-sync
      fragment(7, [{ id: 2, trunFirst: SYNC, decodeTime: 99 }]), // audio only: never a video keyframe
      fragment(8, [{ id: 2 }, { id: 1, trunFirst: SYNC, decodeTime: 42 }]), // the video traf decides
      fragment(9, [{ id: 1, trunFirst: SYNC, count: 0 }]), // no samples: nothing to start from
    );
    const segs = splitAll(stream);
    const init = segs[0] as InitSegment;
    expect(init.codecs).toEqual(['avc1.64001F', 'mp4a.40.2']);
    expect([init.width, init.height]).toEqual([640, 360]);
    const frags = segs.slice(1) as Fragment[];
    expect(frags.map((f) => f.keyframe)).toEqual([true, false, true, true, false, false, false, true, false]);
    expect(frags[0]?.decodeTime).toBe(10);
    expect(frags[0]?.timescale).toBe(90000);
    expect(frags[6]?.trackIds).toEqual([2]);
    expect(frags[6]?.decodeTime).toBe(99);
    expect(frags[6]?.timescale).toBe(16000);
    expect(frags[7]?.decodeTime).toBe(42);
  });

  it('takes styp/sidx/prft boxes along with the next fragment and drops mfra', () => {
    const styp = box('styp', ascii('msdh'), u32(0));
    const prft = full('prft', 1, 0, u32(1), zeros(12));
    const frag = fragment(1, [{ id: 1, trunFirst: SYNC }]);
    const segs = splitAll(cat(initSegment(), styp, prft, frag, box('mfra', zeros(8))));
    expect(segs).toHaveLength(2);
    expect(Buffer.from(segs[1]!.data).equals(Buffer.from(cat(styp, prft, frag)))).toBe(true);
  });

  it('accepts 64-bit box sizes', () => {
    const mdat = new Uint8Array([...u32(1), ...ascii('mdat'), ...u32(0), ...u32(20), 9, 9, 9, 9]);
    const moof = fragment(1, [{ id: 1, trunFirst: SYNC }]);
    const moofOnly = moof.subarray(0, moof.length - 12);
    const segs = splitAll(cat(initSegment(), moofOnly, mdat));
    expect(segs[1]?.data.length).toBe(moofOnly.length + 20);
  });
});

describe('Fmp4Splitter on hostile input', () => {
  const init = initSegment();
  const frag = fragment(1, [{ id: 1, trunFirst: SYNC }]);

  it('rejects size 0, sizes below the header and a 64-bit size below 16', () => {
    expectCode(() => new Fmp4Splitter().push(new Uint8Array([0, 0, 0, 0, ...ascii('ftyp')])), 'bad-box-size');
    expectCode(() => new Fmp4Splitter().push(new Uint8Array([0, 0, 0, 7, ...ascii('ftyp')])), 'bad-box-size');
    expectCode(() => new Fmp4Splitter().push(new Uint8Array([0, 0, 0, 1, ...ascii('ftyp'), ...u32(0), ...u32(15)])), 'bad-box-size');
  });

  it('rejects an oversized box from its header, before buffering its body', () => {
    const s = new Fmp4Splitter({ maxBoxSize: 1024 });
    expectCode(() => s.push(new Uint8Array([...u32(1025), ...ascii('ftyp')])), 'box-too-large');
    // A 64-bit size of 2^62 is refused, not allocated.
    expectCode(() => new Fmp4Splitter().push(new Uint8Array([...u32(1), ...ascii('mdat'), 0x40, 0, 0, 0, 0, 0, 0, 0])), 'box-too-large');
    // After an error the splitter stays failed.
    expectCode(() => s.push(init), 'box-too-large');
  });

  it('needs the init segment first', () => {
    expectCode(() => splitAll(frag), 'no-init-segment');
    expectCode(() => splitAll(box('moov', zeros(8))), 'no-init-segment');
    expectCode(() => splitAll(cat(box('ftyp', zeros(8)), box('mdat', zeros(8)))), 'no-init-segment');
  });

  it('pairs every moof with an mdat', () => {
    const moof = frag.subarray(0, frag.length - 12);
    expectCode(() => splitAll(cat(init, moof, moof)), 'moof-without-mdat');
    expectCode(() => splitAll(cat(init, box('mdat', [1]))), 'mdat-without-moof');
    expectCode(() => splitAll(cat(init, moof)), 'truncated');
  });

  it('refuses a second init segment and unknown top-level boxes after it', () => {
    expectCode(() => splitAll(cat(init, frag, init)), 'unexpected-box');
    expectCode(() => splitAll(cat(init, box('wxyz', [1]))), 'unexpected-box');
  });

  it('rejects broken moov and moof contents', () => {
    expectCode(() => splitAll(cat(box('ftyp', zeros(8)), box('moov', full('mvhd', 0, 0, zeros(96))))), 'bad-init');
    expectCode(() => splitAll(cat(box('ftyp', zeros(8)), box('moov', [0, 0, 0, 99, ...ascii('trak')]))), 'bad-box-size');
    expectCode(() => splitAll(cat(init, box('moof', full('mfhd', 0, 0, u32(1))), box('mdat', [1]))), 'bad-fragment');
    expectCode(() => splitAll(cat(init, box('moof', box('traf', full('tfhd', 0, 0x20, u32(1)))), box('mdat', [1]))), 'bad-fragment');
  });

  it('bounds the bytes held while a fragment is assembled', () => {
    const s = new Fmp4Splitter({ maxBoxSize: 1024, maxBufferedBytes: 4096 });
    s.push(init);
    const sidx = box('sidx', zeros(500));
    expectCode(() => {
      for (let i = 0; i < 20; i++) s.push(sidx);
    }, 'buffer-overflow');
  });

  it('refuses contradictory options', () => {
    expectCode(() => new Fmp4Splitter({ maxBoxSize: 1000, maxBufferedBytes: 10 }), 'bad-options');
    expectCode(() => new Fmp4Splitter({ maxBoxSize: 0 }), 'bad-options');
  });

  it('any bytes give segments or an Fmp4Error, quickly', () => {
    fc.assert(
      fc.property(fc.array(fc.uint8Array({ maxLength: 300 }), { maxLength: 8 }), (chunks) => {
        const s = new Fmp4Splitter({ maxBoxSize: 4096 });
        const t0 = performance.now();
        try {
          for (const c of chunks) s.push(c);
          s.end();
        } catch (err) {
          if (!(err instanceof Fmp4Error)) throw err;
        }
        expect(performance.now() - t0).toBeLessThan(200);
      }),
      { numRuns: 500 },
    );
  });

  it('mutated real streams give segments or an Fmp4Error, quickly', () => {
    const source = H264_AAC.subarray(0, 20_000);
    fc.assert(
      fc.property(
        fc.array(fc.record({ at: fc.nat(source.length - 1), value: fc.integer({ min: 0, max: 255 }) }), { minLength: 1, maxLength: 6 }),
        fc.nat(source.length),
        fc.integer({ min: 1, max: 5000 }),
        (edits, cut, chunk) => {
          const bytes = source.slice(0, Math.max(cut, 1));
          for (const e of edits) if (e.at < bytes.length) bytes[e.at] = e.value;
          const s = new Fmp4Splitter();
          const t0 = performance.now();
          try {
            for (let i = 0; i < bytes.length; i += chunk) s.push(bytes.subarray(i, i + chunk));
            s.end();
          } catch (err) {
            if (!(err instanceof Fmp4Error)) throw err;
          }
          expect(performance.now() - t0).toBeLessThan(500);
        },
      ),
      { numRuns: 300 },
    );
  });

  it('mutations inside moov and moof are caught by the box parsers', () => {
    // Flip bytes only in the headers and size fields deep in the boxes ffmpeg wrote.
    const segs = splitAll(H264_AAC);
    const initLen = segs[0]!.data.length;
    const firstFragLen = segs[1]!.data.length;
    const region = H264_AAC.subarray(0, initLen + Math.min(firstFragLen, 400));
    fc.assert(
      fc.property(fc.nat(region.length - 1), fc.integer({ min: 0, max: 255 }), (at, value) => {
        const bytes = region.slice();
        bytes[at] = value;
        const s = new Fmp4Splitter();
        try {
          s.push(bytes);
        } catch (err) {
          if (!(err instanceof Fmp4Error)) throw err;
        }
      }),
      { numRuns: 1000 },
    );
  });
});
