import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import fc from 'fast-check';
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import type { AccessUnit, VideoCodec } from '../../native/access-unit.ts';
import { Fmp4Splitter, type Fmp4Segment, type Fragment, type InitSegment } from '../../native/fmp4.ts';
import { FMP4_WRITER_DEFAULTS, Fmp4Writer, SAMPLE_FLAGS, type Fmp4WriterOptions } from '../../native/fmp4-writer.ts';
import { IngestStage } from '../../native/ingest-stage.ts';
import { H26xError, isAccessUnitDelimiter, isKeyframe, isParameterSet, isVclType, nalType } from '../../native/h26x.ts';
import { expectErrorCode } from '../support/error-code.ts';

const run = promisify(execFile);
const FRAME_TICKS = 6000; // 15 fps at 90 kHz

const expectCode = (fn: () => unknown, code: string): void => expectErrorCode(H26xError, fn, code);

// --- elementary streams --------------------------------------------------------------------

function splitAnnexB(bytes: Uint8Array): Uint8Array[] {
  const starts: number[] = [];
  for (let i = 0; i + 2 < bytes.length; i++) {
    if (bytes[i] === 0 && bytes[i + 1] === 0 && bytes[i + 2] === 1) {
      starts.push(i + 3);
      i += 2;
    }
  }
  return starts.map((start, k) => {
    let end = k + 1 < starts.length ? starts[k + 1]! - 3 : bytes.length;
    while (end > start && bytes[end - 1] === 0) end--;
    return bytes.subarray(start, end);
  });
}

/** Access units as the RTP side forms them: a new one at an AUD, parameter set, SEI or first slice after a picture. */
function accessUnits(codec: VideoCodec, nals: Uint8Array[]): Uint8Array[][] {
  const prefix = codec === 'h264' ? [6, 7, 8, 9] : [32, 33, 34, 35, 39];
  const aus: Uint8Array[][] = [];
  let current: Uint8Array[] = [];
  let picture = false;
  for (const nal of nals) {
    const type = nalType(codec, nal);
    const vcl = isVclType(codec, type);
    const firstSlice = vcl && ((codec === 'h264' ? nal[1]! : nal[2]!) & 0x80) !== 0;
    if (picture && (firstSlice || prefix.includes(type))) {
      aus.push(current);
      current = [];
      picture = false;
    }
    current.push(nal);
    if (vcl) picture = true;
  }
  if (current.length > 0) aus.push(current);
  return aus;
}

function timed(aus: Uint8Array[][], start = 1_000_000, step = FRAME_TICKS): AccessUnit[] {
  return aus.map((nals, i) => ({ nals, time: start + i * step }));
}

function writeAll(options: Fmp4WriterOptions, aus: AccessUnit[]): { output: Fmp4Segment[]; perPush: Fmp4Segment[][] } {
  const writer = new Fmp4Writer(options);
  const perPush = aus.map((au) => writer.push(au));
  return { output: perPush.flat(), perPush };
}

/**
 * The bytes read back chunk by chunk by the project's splitter, which must find in them exactly what
 * the writer said of each segment (the ingest takes the writer's word and does not parse them). A
 * splitter takes one init segment per stream: a new init (a resolution change) starts a new one.
 */
function split(output: readonly (Uint8Array | Fmp4Segment)[]): Fmp4Segment[] {
  let s: Fmp4Splitter | undefined;
  const segs: Fmp4Segment[] = [];
  for (const item of output) {
    const chunk = item instanceof Uint8Array ? item : item.data;
    if (String.fromCharCode(...chunk.subarray(4, 8)) === 'ftyp') {
      s?.end();
      s = new Fmp4Splitter();
    }
    if (!s) throw new Error('a fragment before any init segment');
    const read = s.push(chunk);
    if (!(item instanceof Uint8Array)) expect(read).toEqual([item]);
    segs.push(...read);
  }
  s?.end();
  return segs;
}

const bytes = (segs: readonly Fmp4Segment[]): Uint8Array[] => segs.map((seg) => seg.data);

function fragments(segs: Fmp4Segment[]): Fragment[] {
  return segs.filter((s): s is Fragment => s.type === 'fragment');
}

interface Stream {
  codec: VideoCodec;
  /** ffmpeg's own fMP4 of the stream (-c copy), for the codec string and size the splitter reads from it. */
  reference: InitSegment;
  aus: Uint8Array[][];
}

const X265 = 'log-level=error:bframes=0:keyint=15';
const STREAMS = {
  h264: { codec: 'h264', size: '640x360', frames: 45, args: ['-c:v', 'libx264'] },
  h265: { codec: 'h265', size: '640x360', frames: 45, args: ['-c:v', 'libx265', '-preset', 'ultrafast', '-x265-params', X265] },
  // Odd sizes: cropping in 4:4:4 chroma units, after scaling lists; field pairs; a conformance window.
  'h264 High 4:4:4 642x362 scaling lists': { codec: 'h264', size: '642x362', frames: 12, args: ['-c:v', 'libx264', '-pix_fmt', 'yuv444p', '-x264-params', 'cqm=jvt'] },
  'h264 High 10 interlaced': { codec: 'h264', size: '640x360', frames: 12, args: ['-c:v', 'libx264', '-pix_fmt', 'yuv420p10le', '-flags', '+ildct'] },
  'h265 Main 10 642x362': { codec: 'h265', size: '642x362', frames: 12, args: ['-c:v', 'libx265', '-preset', 'ultrafast', '-pix_fmt', 'yuv420p10le', '-x265-params', X265] },
  // The smaller picture of the resolution change.
  'h264 320x180': { codec: 'h264', size: '320x180', frames: 12, args: ['-c:v', 'libx264', '-profile:v', 'baseline'] },
  'h265 320x180': { codec: 'h265', size: '320x180', frames: 12, args: ['-c:v', 'libx265', '-preset', 'ultrafast', '-x265-params', X265] },
} as const satisfies Record<string, { codec: VideoCodec; size: string; frames: number; args: readonly string[] }>;
type StreamName = keyof typeof STREAMS;

let dir: string;
const streams = new Map<StreamName, Stream>();

beforeAll(async () => {
  dir = mkdtempSync(path.join(tmpdir(), 'vigil-fmp4-writer-'));
  await Promise.all((Object.keys(STREAMS) as StreamName[]).map(async (name, i) => {
    const s = STREAMS[name];
    const es = path.join(dir, `${i}.${s.codec}`);
    const ref = path.join(dir, `${i}.ref.mp4`);
    await run('ffmpeg', ['-v', 'error', '-f', 'lavfi', '-i', `testsrc2=size=${s.size}:rate=15`, '-frames:v', String(s.frames),
      ...s.args, '-g', '15', '-bf', '0', '-f', s.codec === 'h264' ? 'h264' : 'hevc', es]);
    await run('ffmpeg', ['-v', 'error', '-i', es, '-c', 'copy', ...(s.codec === 'h265' ? ['-tag:v', 'hvc1'] : []),
      '-f', 'mp4', '-movflags', 'empty_moov+default_base_moof+frag_keyframe', '-frag_duration', '1', ref]);
    const reference = split([new Uint8Array(readFileSync(ref))])[0] as InitSegment;
    const aus = accessUnits(s.codec, splitAnnexB(new Uint8Array(readFileSync(es))));
    expect(aus).toHaveLength(s.frames);
    streams.set(name, { codec: s.codec, reference, aus });
  }));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function stream(name: StreamName): Stream {
  const s = streams.get(name);
  if (!s) throw new Error(`stream ${name} was not made`);
  return s;
}

/** ffmpeg decodes the file without a word on stderr, and ffprobe counts every frame. */
async function expectDecodes(name: string, output: readonly Fmp4Segment[], frames: number): Promise<void> {
  const file = path.join(dir, `${name.replace(/[^a-z0-9]+/gi, '-')}.mp4`);
  writeFileSync(file, Buffer.concat(bytes(output)));
  const [decoded, probe] = await Promise.all([
    run('ffmpeg', ['-v', 'error', '-i', file, '-f', 'null', '-']),
    run('ffprobe', ['-v', 'error', '-count_frames', '-select_streams', 'v:0', '-show_entries', 'stream=nb_read_frames', '-of', 'csv=p=0', file]),
  ]);
  expect(decoded.stderr).toBe('');
  expect(probe.stderr).toBe('');
  expect(Number(probe.stdout.trim())).toBe(frames);
}

// --- tests ---------------------------------------------------------------------------------

describe('Fmp4Writer on real encoder output', () => {
  it.each(['h264', 'h265', 'h264 High 4:4:4 642x362 scaling lists', 'h264 High 10 interlaced', 'h265 Main 10 642x362'] as const)('%s: one init, one fragment per frame, what ffmpeg\'s own remux says, decodable', async (name) => {
    const { codec, reference, aus } = stream(name);
    const { output, perPush } = writeAll({ codec }, timed(aus));
    // The first frame is a keyframe with its parameter sets: init and fragment come out together.
    expect(perPush[0]).toHaveLength(2);
    expect(perPush.slice(1).every((p) => p.length === 1)).toBe(true);

    const segs = split(output);
    const init = segs[0] as InitSegment;
    expect(init.type).toBe('init');
    expect(init.codecs).toEqual(reference.codecs);
    expect(init.mime).toBe(reference.mime);
    expect([init.width, init.height]).toEqual([reference.width, reference.height]);
    expect(init.tracks).toEqual([expect.objectContaining({ id: 1, kind: 'video', handler: 'vide', timescale: 90000, sampleEntry: codec === 'h264' ? 'avc1' : 'hvc1' })]);

    const frags = fragments(segs);
    expect(segs.length).toBe(1 + aus.length);
    expect(frags).toHaveLength(aus.length);
    expect(frags.map((f) => f.keyframe)).toEqual(aus.map((au) => isKeyframe(codec, au)));
    expect(frags.filter((f) => f.keyframe).length).toBe(Math.ceil(aus.length / 15));
    expect(frags.map((f) => f.decodeTime)).toEqual(aus.map((_, i) => i * FRAME_TICKS));
    expect(frags.map((f) => f.sequence)).toEqual(aus.map((_, i) => i + 1));
    expect(frags.every((f) => f.timescale === 90000 && f.trackIds.join() === '1')).toBe(true);

    await expectDecodes(name, output, aus.length);
  });

  it('writes the same avcC and hvcC as ffmpeg, byte for byte', () => {
    for (const name of Object.keys(STREAMS) as StreamName[]) {
      const { codec, reference, aus } = stream(name);
      const init = split(writeAll({ codec }, timed(aus.slice(0, 1))).output)[0] as InitSegment;
      const record = codec === 'h264' ? 'avcC' : 'hvcC';
      expect(Buffer.from(box(init.data, record))).toEqual(Buffer.from(box(reference.data, record)));
    }
  });

  it('writes the sample as length-prefixed NALs without AUDs, keeping in-band parameter sets, with its flags and durations', async () => {
    const { codec, aus } = stream('h264');
    // An AUD in front of every access unit, as many cameras send.
    const withAud = aus.map((au) => [new Uint8Array([0x09, 0xf0]), ...au]);
    const { output } = writeAll({ codec }, timed(withAud));
    const frags = fragments(split(output));
    for (const [i, f] of frags.entries()) {
      const mdat = box(f.data, 'mdat');
      const nals: number[][] = [];
      for (let o = 0; o < mdat.length;) {
        const len = new DataView(mdat.buffer, mdat.byteOffset + o).getUint32(0);
        nals.push([...mdat.subarray(o + 4, o + 4 + len)]);
        o += 4 + len;
      }
      expect(nals).toEqual(aus[i]!.map((n) => [...n]));
      const trun = new DataView(box(f.data, 'trun').buffer, box(f.data, 'trun').byteOffset);
      expect(trun.getUint32(0) & 0xffffff).toBe(0x701);
      expect(trun.getUint32(12)).toBe(i === 0 ? FMP4_WRITER_DEFAULTS.defaultFrameTicks : FRAME_TICKS);
      expect(trun.getUint32(16)).toBe(mdat.length);
      expect(trun.getUint32(20)).toBe(isKeyframe(codec, aus[i]!) ? SAMPLE_FLAGS.keyframe : SAMPLE_FLAGS.other);
      // One buffer per fragment, of its own.
      expect(output[i + 1]!.data.byteLength).toBe(output[i + 1]!.data.buffer.byteLength);
    }
    // The splitter passes the writer's buffer on without copying it.
    expect(frags[0]!.data.buffer).toBe(output[1]!.data.buffer);
    // ffprobe reads the same decode times (in the track's 90 kHz).
    const file = path.join(dir, 'decode-times.mp4');
    writeFileSync(file, Buffer.concat(bytes(output)));
    const probe = await run('ffprobe', ['-v', 'error', '-select_streams', 'v:0', '-show_entries', 'packet=dts', '-of', 'csv=p=0', file]);
    expect(probe.stdout.trim().split('\n').map(Number)).toEqual(aus.map((_, i) => i * FRAME_TICKS));
  });

  it('starts at the first keyframe with parameter sets, dropping the frames before it', async () => {
    const { codec, aus } = stream('h265');
    const { output, perPush } = writeAll({ codec }, timed(aus.slice(3)));
    expect(perPush.slice(0, 12).every((p) => p.length === 0)).toBe(true);
    expect(perPush[12]).toHaveLength(2);
    const segs = split(output);
    expect(segs[0]?.type).toBe('init');
    const frags = fragments(segs);
    expect(frags).toHaveLength(aus.length - 15);
    expect(frags[0]).toMatchObject({ keyframe: true, decodeTime: 0, sequence: 1 });
    expect(frags[1]).toMatchObject({ keyframe: false, decodeTime: FRAME_TICKS, sequence: 2 });
    await expectDecodes('h265-late-start', output, aus.length - 15);
  });

  it.each(['h264', 'h265'] as const)('%s: takes parameter sets from the SDP when the camera sends none in-band', async (codec) => {
    const { aus } = stream(codec);
    const parameterSets = aus[0]!.filter((n) => isParameterSet(codec, n));
    const bare = aus.map((au) => au.filter((n) => !isParameterSet(codec, n)));
    expect(writeAll({ codec }, timed(bare)).output).toEqual([]);
    const { output } = writeAll({ codec, parameterSets }, timed(bare));
    const segs = split(output);
    expect(segs.filter((s) => s.type === 'init')).toHaveLength(1);
    expect(fragments(segs)).toHaveLength(aus.length);
    await expectDecodes(`${codec}-sdp-sets`, output, aus.length);
  });

  it.each(['h264', 'h265'] as const)('%s: a resolution change gives a new init at its keyframe, and decode time restarts', async (codec) => {
    const big = stream(codec);
    const small = stream(`${codec} 320x180`);
    const aus = timed([...big.aus, ...small.aus]);
    const { output, perPush } = writeAll({ codec }, aus);
    expect(perPush[big.aus.length]).toHaveLength(2);
    const segs = split(output);
    const inits = segs.flatMap((s, i) => (s.type === 'init' ? [i] : []));
    expect(inits).toEqual([0, 1 + big.aus.length]);
    expect([segs[0] as InitSegment].map((s) => [s.width, s.height])).toEqual([[640, 360]]);
    const second = segs[inits[1]!] as InitSegment;
    expect([second.width, second.height]).toEqual([320, 180]);
    expect(second.codecs).toEqual(small.reference.codecs);
    const after = fragments(segs.slice(inits[1]!));
    expect(after.map((f) => f.decodeTime)).toEqual(small.aus.map((_, i) => i * FRAME_TICKS));
    expect(after[0]?.keyframe).toBe(true);
    // Sequence numbers keep counting across the new init.
    expect(fragments(segs).map((f) => f.sequence)).toEqual(aus.map((_, i) => i + 1));
    // From the new init on, a stream of its own.
    await expectDecodes(`${codec}-change`, output.slice(1 + big.aus.length), small.aus.length);
  });

  it('through the ingest\'s IngestStage (as CameraIngest hands it the writer\'s segments), a resolution change is a second init, not an error', () => {
    const big = stream('h264');
    const small = stream('h264 320x180');
    const writer = new Fmp4Writer({ codec: 'h264' });
    const inits: { width?: number; height?: number }[] = [];
    const decodeTimes: number[] = [];
    const ended: string[] = [];
    const stage = new IngestStage({
      current: () => true,
      init: (i) => inits.push({ width: i.width, height: i.height }),
      alive: () => undefined,
      fragment: (f) => decodeTimes.push(f.decodeTime!),
      end: (why) => ended.push(why),
    }, { clockWindowMs: 60_000, producer: 'the hub\'s RTSP reader', label: 'test' });
    for (const au of timed([...big.aus, ...small.aus])) stage.segments(writer.push(au));
    expect(ended).toEqual([]);
    expect(inits).toEqual([{ width: 640, height: 360 }, { width: 320, height: 180 }]);
    expect(decodeTimes).toEqual([...big.aus.map((_, i) => i * FRAME_TICKS), ...small.aus.map((_, i) => i * FRAME_TICKS)]);
  });

  it('bounds what a hostile camera\'s parameter sets cost: at most 32 in a picture, 4 KiB each', () => {
    const { aus } = stream('h264');
    const pps = aus[0]!.find((n) => nalType('h264', n) === 8)!;
    const many = { nals: [...Array.from({ length: 33 }, () => pps), ...aus[0]!], time: 0 };
    expectCode(() => new Fmp4Writer({ codec: 'h264' }).push(many), 'bad-parameter-set');
    const big = Uint8Array.from([...pps, ...new Uint8Array(5000).fill(0x55)]);
    expectCode(() => new Fmp4Writer({ codec: 'h264' }).push({ nals: [big, ...aus[0]!], time: 0 }), 'bad-parameter-set');
    // The camera's own, repeated before every keyframe, stay well inside.
    expect(() => writeAll({ codec: 'h264' }, timed(aus))).not.toThrow();
  });

  it('keeps one init when the camera repeats its parameter sets, with or without trailing zero bytes', () => {
    const { codec, aus } = stream('h264');
    const padded = aus.map((au, i) => au.map((n) => (i === 15 && isParameterSet(codec, n) ? Uint8Array.from([...n, 0, 0]) : n)));
    // And once more on their own, under a timestamp of their own.
    const sets = aus[0]!.filter((n) => isParameterSet(codec, n));
    const writer = new Fmp4Writer({ codec });
    const out = timed(padded).flatMap((au, i) => [...writer.push(au), ...(i === 20 ? writer.push({ nals: sets, time: au.time }) : [])]);
    const segs = split(out);
    expect(segs.filter((s) => s.type === 'init')).toHaveLength(1);
    expect(fragments(segs)).toHaveLength(aus.length);
  });
});

describe('Fmp4Writer timing', () => {
  it('clamps a clock that steps back to one tick after the previous frame, and learns the interval from the camera', () => {
    const { codec, aus } = stream('h264');
    const times = [0, 6000, 12000, 9000, 15000, 21000, 21000, 27000];
    const writer = new Fmp4Writer({ codec });
    const out = times.flatMap((time, i) => writer.push({ nals: aus[i]!, time }));
    const frags = fragments(split(out));
    expect(frags.map((f) => f.decodeTime)).toEqual([0, 6000, 12000, 12001, 15000, 21000, 21001, 27000]);
    const durations = frags.map((f) => new DataView(box(f.data, 'trun').buffer, box(f.data, 'trun').byteOffset).getUint32(12));
    expect(durations).toEqual([3600, 6000, 6000, 6000, 6000, 6000, 6000, 6000]);
  });

  it('keeps exact 64-bit decode times past 2^32 ticks, and caps a gap\'s duration', async () => {
    const { codec, aus } = stream('h264');
    const far = 2 ** 40 + 7;
    const times = [5, 6005, far, far + 6000, far + 12000];
    const writer = new Fmp4Writer({ codec });
    const out = times.flatMap((time, i) => writer.push({ nals: aus[i]!, time }));
    const frags = fragments(split(out));
    expect(frags.map((f) => f.decodeTime)).toEqual([0, 6000, far - 5, far + 5995, far + 11995]);
    const durations = frags.map((f) => new DataView(box(f.data, 'trun').buffer, box(f.data, 'trun').byteOffset).getUint32(12));
    expect(durations).toEqual([3600, 6000, 900_000, 6000, 6000]);
  });

  it('uses the clock rate and default frame length given', () => {
    const { codec, aus } = stream('h264');
    const init = split(writeAll({ codec, clockRate: 1000, defaultFrameTicks: 40 }, timed(aus.slice(0, 2), 0, 66)).output);
    expect((init[0] as InitSegment).tracks[0]?.timescale).toBe(1000);
    expect(fragments(init).map((f) => f.decodeTime)).toEqual([0, 66]);
    expect(new DataView(box(init[1]!.data, 'trun').buffer, box(init[1]!.data, 'trun').byteOffset).getUint32(12)).toBe(40);
  });
});

describe('Fmp4Writer on bad input', () => {
  it('refuses empty access units, broken NALs, bad times and oversized frames, and carries on after', () => {
    const { codec, aus } = stream('h264');
    const writer = new Fmp4Writer({ codec, maxFrameBytes: 100_000 });
    expectCode(() => writer.push({ nals: [], time: 0 }), 'empty-access-unit');
    expectCode(() => writer.push({ nals: [new Uint8Array([0x09, 0xf0])], time: 0 }), 'empty-access-unit');
    expectCode(() => writer.push({ nals: [...aus[0]!, new Uint8Array(0)], time: 0 }), 'bad-nal');
    expectCode(() => writer.push({ nals: [new Uint8Array([0xe5, 1])], time: 0 }), 'bad-nal');
    expectCode(() => writer.push({ nals: aus[0]!, time: 1.5 }), 'bad-time');
    expectCode(() => writer.push({ nals: aus[0]!, time: Number.NaN }), 'bad-time');
    expectCode(() => writer.push({ nals: [...aus[0]!, new Uint8Array(100_000).fill(1)], time: 0 }), 'frame-too-large');
    // A truncated SPS in front of the keyframe.
    const sps = aus[0]!.find((n) => nalType(codec, n) === 7)!;
    expectCode(() => writer.push({ nals: [sps.subarray(0, 5), ...aus[0]!.filter((n) => n !== sps)], time: 0 }), 'bad-sps');
    // None of that changed anything: the stream starts cleanly.
    const out = timed(aus.slice(0, 3)).flatMap((au) => writer.push(au));
    const segs = split(out);
    expect(segs.map((s) => s.type)).toEqual(['init', 'fragment', 'fragment', 'fragment']);
    expect(fragments(segs).map((f) => [f.sequence, f.decodeTime])).toEqual([[1, 0], [2, 6000], [3, 12000]]);
  });

  it('refuses an H.265 NAL shorter than its header', () => {
    const writer = new Fmp4Writer({ codec: 'h265' });
    expectCode(() => writer.push({ nals: [new Uint8Array([0x26])], time: 0 }), 'bad-nal');
  });

  it('refuses bad options and broken parameter sets from the SDP at construction', () => {
    expectCode(() => new Fmp4Writer({ codec: 'vp9' as VideoCodec }), 'bad-options');
    expectCode(() => new Fmp4Writer({ codec: 'h264', clockRate: 0 }), 'bad-options');
    expectCode(() => new Fmp4Writer({ codec: 'h264', defaultFrameTicks: 1.5 }), 'bad-options');
    expectCode(() => new Fmp4Writer({ codec: 'h264', maxFrameBytes: 2 ** 31 }), 'bad-options');
    expectCode(() => new Fmp4Writer({ codec: 'h264', parameterSets: [new Uint8Array([0x67, 0x64])] }), 'bad-sps');
    expectCode(() => new Fmp4Writer({ codec: 'h265', parameterSets: [new Uint8Array(0)] }), 'bad-nal');
  });

  it('throws nothing but H26xError on hostile access units, and what it writes splits cleanly', () => {
    const { codec, aus } = stream('h264');
    const sps = aus[0]!.find((n) => nalType(codec, n) === 7)!;
    const pps = aus[0]!.find((n) => nalType(codec, n) === 8)!;
    const nal = fc.oneof(
      fc.uint8Array({ minLength: 0, maxLength: 40 }),
      fc.constantFrom(sps, pps, aus[0]!.at(-1)!, aus[1]!.at(-1)!, new Uint8Array([0x09, 0xf0])),
      // Mangled parameter sets: a byte changed or the tail cut.
      fc.tuple(fc.constantFrom(sps, pps), fc.nat(), fc.integer({ min: 0, max: 255 }), fc.boolean()).map(([n, at, v, cut]) => {
        const copy = Uint8Array.from(n);
        const i = 1 + (at % (copy.length - 1));
        if (cut) return copy.subarray(0, i);
        copy[i] = v;
        return copy;
      }),
    );
    fc.assert(
      fc.property(fc.array(fc.record({ nals: fc.array(nal, { maxLength: 5 }), step: fc.integer({ min: -9000, max: 9000 }) }), { maxLength: 12 }), (input) => {
        const writer = new Fmp4Writer({ codec, maxFrameBytes: 64 * 1024 });
        const out: Fmp4Segment[] = [];
        let time = 0;
        for (const { nals, step } of input) {
          time += step;
          try {
            out.push(...writer.push({ nals, time }));
          } catch (err) {
            if (!(err instanceof H26xError)) throw err;
          }
        }
        const segs = split(out);
        const frags = fragments(segs);
        for (let i = 1; i < frags.length; i++) expect(frags[i]!.sequence).toBe(frags[i - 1]!.sequence + 1);
        if (segs.length > 0) expect(segs[0]!.type).toBe('init');
      }),
      { numRuns: 300 },
    );
  });

  it('does not count a frame of only delimiters and SEI as a keyframe, nor write a frame without a picture', () => {
    const { codec, aus } = stream('h264');
    const writer = new Fmp4Writer({ codec });
    const sei = aus[0]!.find((n) => nalType(codec, n) === 6);
    const sets = aus[0]!.filter((n) => isParameterSet(codec, n) || isAccessUnitDelimiter(codec, n));
    expect(writer.push({ nals: sei ? [...sets, sei] : sets, time: 0 })).toEqual([]);
    expect(writer.push({ nals: aus[0]!, time: 6000 })).toHaveLength(2);
  });
});

/** Payload of the first box of `type` anywhere in `data` (a plain scan: the test controls the input). */
function box(data: Uint8Array, type: string): Uint8Array {
  const code = [...type].map((c) => c.charCodeAt(0));
  for (let i = 4; i + 4 <= data.length; i++) {
    if (data[i] === code[0] && data[i + 1] === code[1] && data[i + 2] === code[2] && data[i + 3] === code[3]) {
      const size = new DataView(data.buffer, data.byteOffset + i - 4).getUint32(0);
      if (size >= 8 && i - 4 + size <= data.length) return data.subarray(i + 4, i - 4 + size);
    }
  }
  throw new Error(`no ${type} box`);
}
