// phone/app/src/fmp4-demux.ts on real fMP4: ffmpeg writes the stream as the hub's ingest does
// (empty_moov+default_base_moof+frag_keyframe, fragments of a set length), ffprobe says what each
// packet is, and the demuxer must agree sample for sample: bytes, keyframes, presentation times.
// H.264 with B-frames (negative composition offsets in a version 1 trun), H.265, and a track of
// audio beside the video.
import { beforeAll, describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createHash } from 'node:crypto';
import { Fmp4DemuxError, MAX_SAMPLES, videoSamples, videoTrack, type VideoTrack } from '../../../phone/app/src/fmp4-demux.ts';
import { run, tempDir } from '../../support/system.ts';

interface Probed {
  pts: number; // microseconds
  key: boolean;
  size: number;
  sha: string;
}

interface Made {
  init: Uint8Array;
  fragments: Uint8Array[];
  packets: Probed[];
}

const u32 = (b: Uint8Array, o: number) => ((b[o]! << 24) | (b[o + 1]! << 16) | (b[o + 2]! << 8) | b[o + 3]!) >>> 0;
const type = (b: Uint8Array, o: number) => String.fromCharCode(...b.subarray(o + 4, o + 8));

/** Top-level split as the hub's splitter does it: ftyp+moov, then each moof with its mdat. */
function split(file: Uint8Array): { init: Uint8Array; fragments: Uint8Array[] } {
  let o = 0;
  let init: Uint8Array | undefined;
  let moofAt = -1;
  const fragments: Uint8Array[] = [];
  while (o < file.length) {
    const size = u32(file, o);
    const t = type(file, o);
    if (t === 'moov') init = file.slice(0, o + size);
    if (t === 'moof') moofAt = o;
    if (t === 'mdat') fragments.push(file.slice(moofAt, o + size));
    o += size;
  }
  return { init: init!, fragments };
}

async function make(dir: string, name: string, args: string[]): Promise<Made> {
  const out = join(dir, `${name}.mp4`);
  const ff = await run('ffmpeg', ['-y', '-v', 'error', ...args, '-f', 'mp4', '-movflags', 'empty_moov+default_base_moof+frag_keyframe', '-frag_duration', '300000', out]);
  expect(ff.code, ff.stderr).toBe(0);
  const probe = await run('ffprobe', ['-v', 'error', '-select_streams', 'v:0', '-show_entries', 'packet=pts_time,flags,size,data_hash', '-show_data_hash', 'SHA256', '-of', 'json', out]);
  expect(probe.code, probe.stderr).toBe(0);
  const json = JSON.parse(probe.stdout) as { packets: Array<{ pts_time: string; flags: string; size: string; data_hash: string }> };
  const file = new Uint8Array(readFileSync(out));
  return {
    ...split(file),
    packets: json.packets.map((p) => ({ pts: Math.round(Number(p.pts_time) * 1e6), key: p.flags.startsWith('K'), size: Number(p.size), sha: p.data_hash.replace(/^SHA256:/, '') })),
  };
}

const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

function demuxAll(m: Made): { track: VideoTrack; samples: Probed[]; perFragment: number[] } {
  const track = videoTrack(m.init);
  const samples: Probed[] = [];
  const perFragment: number[] = [];
  for (const f of m.fragments) {
    const s = videoSamples(f, track);
    perFragment.push(s.length);
    for (const x of s) samples.push({ pts: x.timestamp, key: x.key, size: x.data.length, sha: sha(x.data) });
  }
  return { track, samples, perFragment };
}

let dir: string;
let h264: Made;
let bframes: Made;
let h265: Made;
let withAudio: Made;

const SRC = ['-f', 'lavfi', '-i', 'testsrc2=size=320x180:rate=15', '-t', '4'];

beforeAll(async () => {
  dir = tempDir('vigil-demux-');
  [h264, bframes, h265, withAudio] = await Promise.all([
    make(dir, 'h264', [...SRC, '-c:v', 'libx264', '-preset', 'ultrafast', '-tune', 'zerolatency', '-g', '30', '-pix_fmt', 'yuv420p']),
    make(dir, 'bframes', [...SRC, '-c:v', 'libx264', '-preset', 'fast', '-bf', '2', '-g', '30', '-pix_fmt', 'yuv420p']),
    make(dir, 'h265', [...SRC, '-c:v', 'libx265', '-x265-params', 'log-level=error:keyint=30:bframes=0', '-tag:v', 'hvc1', '-pix_fmt', 'yuv420p']),
    make(dir, 'audio', [...SRC, '-f', 'lavfi', '-i', 'sine=frequency=440:sample_rate=16000', '-t', '4', '-c:v', 'libx264', '-preset', 'ultrafast', '-tune', 'zerolatency', '-g', '30', '-pix_fmt', 'yuv420p', '-c:a', 'aac', '-b:a', '32k']),
  ]);
}, 60_000);

describe('videoTrack', () => {
  it('reads the codec string, the avcC record and the size of an H.264 init segment', () => {
    const t = videoTrack(h264.init);
    expect(t.codec).toMatch(/^avc1\.[0-9A-F]{6}$/);
    expect(t.description[0]).toBe(1); // AVCDecoderConfigurationRecord.configurationVersion
    expect(t.codec.slice(5)).toBe([1, 2, 3].map((i) => t.description[i]!.toString(16).toUpperCase().padStart(2, '0')).join(''));
    expect([t.width, t.height]).toEqual([320, 180]);
    expect(t.hasAudio).toBe(false);
    expect(t.timescale).toBeGreaterThan(0);
  });

  it('reads hvc1 and its hvcC', () => {
    const t = videoTrack(h265.init);
    expect(t.codec).toMatch(/^hvc1\.1\.6\.L\d+(\.[0-9A-F]{2})*$/);
    expect(t.description[0]).toBe(1);
  });

  it('finds the video track beside an audio track and says there is audio', () => {
    const t = videoTrack(withAudio.init);
    expect(t.codec).toMatch(/^avc1\./);
    expect(t.hasAudio).toBe(true);
  });

  it('refuses an init segment without video, and a truncated one', () => {
    expect(() => videoTrack(new Uint8Array([0, 0, 0, 8, 0x66, 0x72, 0x65, 0x65]))).toThrow(Fmp4DemuxError);
    const cut = h264.init.slice(0, h264.init.length - 20);
    expect(() => videoTrack(cut)).toThrow(Fmp4DemuxError);
  });
});

describe('videoSamples', () => {
  for (const [name, get] of [['H.264', () => h264], ['H.264 with B-frames', () => bframes], ['H.265', () => h265], ['H.264 beside AAC', () => withAudio]] as const) {
    it(`gives every ${name} packet ffprobe sees, byte for byte, with its keyframe flag and presentation time`, () => {
      const m = get();
      const { samples, perFragment } = demuxAll(m);
      expect(samples.length).toBe(m.packets.length);
      expect(samples.length).toBeGreaterThanOrEqual(59);
      expect(perFragment.length).toBeGreaterThan(1);
      for (let i = 0; i < samples.length; i++) {
        const got = samples[i]!;
        const want = m.packets[i]!;
        expect({ i, size: got.size, sha: got.sha, key: got.key }).toEqual({ i, size: want.size, sha: want.sha, key: want.key });
        expect(Math.abs(got.pts - want.pts), `sample ${i} pts`).toBeLessThanOrEqual(1000);
      }
      // frag_keyframe (with frag_duration): a keyframe always opens a fragment; the first is one.
      expect(samples[0]!.key).toBe(true);
      const starts = new Set(perFragment.map((_, i) => perFragment.slice(0, i).reduce((a, b) => a + b, 0)));
      samples.forEach((s, i) => {
        if (s.key) expect(starts.has(i), `keyframe ${i} opens a fragment`).toBe(true);
      });
      expect(samples.filter((s) => s.key).length).toBeGreaterThanOrEqual(2);
    });
  }

  it('B-frames: presentation times are not in decode order, and the last is not repeated', () => {
    const { samples } = demuxAll(bframes);
    const pts = samples.map((s) => s.pts);
    expect(pts.some((p, i) => i > 0 && p < pts[i - 1]!)).toBe(true);
    expect(new Set(pts).size).toBe(pts.length);
  });

  it('refuses a sample that lies outside the mdat (a trun larger than its data)', () => {
    const track = videoTrack(h264.init);
    const f = h264.fragments[0]!;
    const cut = f.slice(0, f.length - 100);
    // The mdat's own size field still claims the full length: the box does not fit.
    expect(() => videoSamples(cut, track)).toThrow(Fmp4DemuxError);
    // An mdat shortened consistently: the samples no longer fit in it.
    const mdatAt = (() => {
      let o = 0;
      while (type(cut, o) !== 'mdat') o += u32(f, o);
      return o;
    })();
    new DataView(cut.buffer).setUint32(mdatAt, cut.length - mdatAt);
    try {
      videoSamples(cut, track);
      expect.unreachable();
    } catch (e) {
      expect(e).toBeInstanceOf(Fmp4DemuxError);
      expect((e as Fmp4DemuxError).code).toBe('bad-fragment');
    }
  });

  it('refuses a trun that claims more samples than the limit before reading them', () => {
    const track = videoTrack(h264.init);
    const f = h264.fragments[0]!.slice();
    let o = 0;
    const find = (t: string, from: number, to: number): number => {
      for (let p = from; p < to;) {
        if (type(f, p) === t) return p;
        p += u32(f, p);
      }
      return -1;
    };
    const moof = find('moof', 0, f.length);
    const traf = find('traf', moof + 8, moof + u32(f, moof));
    o = find('trun', traf + 8, traf + u32(f, traf));
    new DataView(f.buffer).setUint32(o + 12, MAX_SAMPLES + 1);
    expect(() => videoSamples(f, track)).toThrow(/too-many-samples/);
  });

  it('gives nothing for a fragment of another track', () => {
    const track = { ...videoTrack(h264.init), trackId: 99 };
    expect(videoSamples(h264.fragments[0]!, track)).toEqual([]);
  });
});
