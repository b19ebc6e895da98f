// native/mpegts.ts (cutting ffmpeg's MPEG-TS into an init and fragments) and native/mpeg1.ts (node-rtsp-stream's
// Mpeg1Muxer fed fragmented MP4 on stdin), with real ffmpeg; and the lint rule that keeps node-rtsp-stream's
// VideoStream out while its muxer is allowed.
import { describe, expect, it } from 'vitest';
import { ESLint } from 'eslint';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { MpegTsCutter, MpegTsError, TS_PACKET_BYTES, type TsSegment } from '../../native/mpegts.ts';
import { Mpeg1Transcoder } from '../../native/mpeg1.ts';
import { Fmp4Splitter } from '../../native/fmp4.ts';
import type { Fmp4Input, IngestFragment, IngestInit } from '../../native/ingest.ts';
import { ROOT, tempDir } from '../support/system.ts';

function ffmpeg(args: string[]): void {
  const r = spawnSync('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-y', ...args]);
  if (r.status !== 0) throw new Error(`ffmpeg failed: ${r.stderr.toString()}`);
}

const dir = tempDir('vigil-mpeg1-unit-');
/** 6 s of 640x360 15 fps H.264 with a tone, as the hub's ingest makes it (fragmented MP4). */
const fmp4 = join(dir, 'in.mp4');
ffmpeg(['-f', 'lavfi', '-i', 'testsrc2=size=640x360:rate=15', '-f', 'lavfi', '-i', 'sine=frequency=440:sample_rate=8000', '-t', '6',
  '-c:v', 'libx264', '-preset', 'ultrafast', '-pix_fmt', 'yuv420p', '-g', '30', '-c:a', 'aac', '-b:a', '32k',
  '-f', 'mp4', '-movflags', 'empty_moov+default_base_moof+frag_keyframe', '-frag_duration', '300000', fmp4]);
/** The same as MPEG-1 in MPEG-TS, with a keyframe every 25 frames. */
const ts = join(dir, 'out.ts');
ffmpeg(['-i', fmp4, '-f', 'mpegts', '-codec:v', 'mpeg1video', '-r', '25', '-bf', '0', '-g', '25', '-codec:a', 'mp2', '-ar', '44100', '-ac', '1', ts]);

function cutAll(data: Uint8Array, chunk: number, clock: () => number): TsSegment[] {
  const cutter = new MpegTsCutter(100, clock);
  const out: TsSegment[] = [];
  for (let at = 0; at < data.length; at += chunk) out.push(...cutter.push(data.subarray(at, at + chunk)));
  return out;
}

describe('MpegTsCutter', () => {
  const data = new Uint8Array(readFileSync(ts));
  const sequenceHeaders = Buffer.from(data).toString('hex').match(/000001b3/g)?.length ?? 0;

  it('makes an init (PAT, PMT) then fragments of whole packets, each keyframe at a sequence header, whatever the chunk sizes', () => {
    let t = 0;
    for (const chunk of [188, 1000, 7, 65536]) {
      const segs = cutAll(data, chunk, () => (t += 5));
      expect(segs[0]!.type).toBe('init');
      expect(segs[0]!.data.length % TS_PACKET_BYTES).toBe(0);
      expect(segs.slice(1).every((s) => s.type === 'fragment' && s.data.length % TS_PACKET_BYTES === 0)).toBe(true);
      expect(segs[1]!.keyframe).toBe(true);
      // One per sequence header in the file (the last may still be held back: its fragment is open).
      expect(segs.filter((s) => s.keyframe).length).toBeGreaterThanOrEqual(sequenceHeaders - 1);
      expect(sequenceHeaders).toBeGreaterThanOrEqual(3);
      for (const s of segs.filter((x) => x.keyframe)) {
        // A keyframe fragment starts with a video PES whose data is a sequence header.
        const p = s.data.subarray(0, TS_PACKET_BYTES);
        const hex = Buffer.from(p).toString('hex');
        expect(hex).toContain('000001e0');
        expect(hex).toContain('000001b3');
      }
      // Nothing lost but what came before the first keyframe and the last unfinished fragment.
      const total = segs.reduce((n, s) => n + s.data.length, 0);
      expect(total).toBeLessThanOrEqual(data.length);
      expect(total).toBeGreaterThan(data.length * 0.8);
    }
  });

  it('closes a fragment at the first frame after fragmentMs', () => {
    let t = 0;
    const slow = cutAll(data, 188, () => (t += 0.1)).filter((s) => s.type === 'fragment');
    t = 0;
    const fast = cutAll(data, 188, () => (t += 50)).filter((s) => s.type === 'fragment');
    expect(fast.length).toBeGreaterThan(slow.length * 3);
  });

  it('refuses a stream that lost sync', () => {
    const bad = data.slice(0, TS_PACKET_BYTES * 20);
    bad[TS_PACKET_BYTES * 10] = 0x48;
    expect(() => new MpegTsCutter(100).push(bad)).toThrow(MpegTsError);
  });
});

/**
 * The file's fragmented MP4 as a live input: init, then each fragment at its own time, as a camera
 * sends it. Not faster: the transcoder's output is cut into fragments at the first frame after
 * MPEG1_FRAGMENT_MS of wall time, so a whole file given at once comes out as a burst whose last
 * fragment waits for a frame that never comes, and the stall watchdog restarts ffmpeg (it did so
 * under load when fragments came every 20 ms).
 */
function fileInput(): Fmp4Input & { stop(): void } {
  const segs = new Fmp4Splitter().push(new Uint8Array(readFileSync(fmp4)));
  const timers: ReturnType<typeof setTimeout>[] = [];
  return {
    subscribe(sink) {
      let first: number | undefined;
      for (const s of segs) {
        if (s.type === 'init') {
          sink.init(s.data);
          continue;
        }
        const at = s.decodeTime! / s.timescale!;
        first ??= at;
        timers.push(setTimeout(() => sink.fragment(s.data, s.keyframe), (at - first) * 1000));
      }
      return () => undefined;
    },
    stop() {
      for (const t of timers) clearTimeout(t);
    },
  };
}

describe('Mpeg1Transcoder (node-rtsp-stream Mpeg1Muxer, url pipe:0)', () => {
  it('turns the hub\'s fMP4 into an init and keyframe-first MPEG-TS fragments, and stops its ffmpeg', async () => {
    const input = fileInput();
    const t = new Mpeg1Transcoder({ ffmpeg: { tool: 'ffmpeg', path: 'ffmpeg', version: 'unknown', source: 'env', skipped: [] }, input });
    const inits: IngestInit[] = [];
    const frags: IngestFragment[] = [];
    t.on('init', (i) => inits.push(i));
    t.on('fragment', (f) => frags.push(f));
    t.start();
    try {
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`only ${frags.length} fragments; state ${JSON.stringify(t.state)}`)), 30_000);
        t.on('fragment', () => {
          if (frags.filter((f) => f.keyframe).length >= 2) {
            clearTimeout(timer);
            resolve();
          }
        });
      });
      expect(t.state.state).toBe('live');
      expect(inits).toHaveLength(1);
      expect(inits[0]!.mime).toMatch(/^video\/mp2t/);
      expect(frags[0]!.keyframe).toBe(true);
      const pid = t.pid;
      expect(pid).toBeDefined();
      expect(readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0')).toContain('pipe:0');
      await t.stop();
      expect(t.pid).toBeUndefined();
      expect(() => process.kill(pid!, 0)).toThrow();
      expect(t.state.state).toBe('stopped');
    } finally {
      input.stop();
      await t.stop();
    }
  }, 40_000);
});

describe('the lint rule on node-rtsp-stream', () => {
  it('refuses the package entry and videoStream.js, and allows mpeg1muxer.js', async () => {
    const eslint = new ESLint({ cwd: ROOT });
    const lint = async (spec: string) => {
      const [r] = await eslint.lintText(`import X from '${spec}';\nexport const y = X;\n`, { filePath: join(ROOT, 'native/lint-probe.ts') });
      return r!.messages.filter((m) => m.ruleId === 'no-restricted-imports').length;
    };
    expect(await lint('node-rtsp-stream')).toBe(1);
    expect(await lint('node-rtsp-stream/videoStream.js')).toBe(1);
    expect(await lint('node-rtsp-stream/index.js')).toBe(1);
    expect(await lint('node-rtsp-stream/mpeg1muxer.js')).toBe(0);
  }, 60_000);
});
