// The phone reads and moves fMP4 decode times itself (it may not import native/): checked on
// hand-built boxes and on what the hub's own ffmpeg arguments produce.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { decodeTimes, FileTimeline, Fmp4TimeError, fragmentEnds, shiftDecodeTimes, trackDefaultDurations, trackTimescales } from '../../lib/fmp4-time.ts';
import { Fmp4Splitter, type Fragment, type InitSegment } from '../../native/fmp4.ts';
import { fragment, initSegment } from '../phone/core/fmp4-boxes.ts';

describe('fMP4 decode times', () => {
  it('reads the timescale of each track and the decode time of each track fragment', () => {
    expect([...trackTimescales(initSegment([[1, 90000], [2, 48000]]))]).toEqual([[1, 90000], [2, 48000]]);
    const frag = fragment([[1, 2 ** 33 + 5], [2, 7]]);
    expect(decodeTimes(frag).map((t) => [t.trackId, t.decodeTime])).toEqual([[1, 2 ** 33 + 5], [2, 7]]);
    expect(decodeTimes(fragment([[1, 123]], true))[0]!.decodeTime).toBe(123);
    expect(decodeTimes(Uint8Array.of(0, 0, 0, 8, 0x6d, 0x64, 0x61, 0x74))).toEqual([]);
  });

  it('moves decode times in place, never below 0, within what a version 0 box holds', () => {
    const frag = fragment([[1, 9000], [2, 100]]);
    const before = frag.length;
    shiftDecodeTimes(frag, (id) => (id === 1 ? 4000 : 500));
    expect(decodeTimes(frag).map((t) => t.decodeTime)).toEqual([5000, 0]);
    expect(frag.length).toBe(before);
    const v0 = fragment([[1, 2 ** 32 - 10]], true);
    shiftDecodeTimes(v0, () => -100);
    expect(decodeTimes(v0)[0]!.decodeTime).toBe(2 ** 32 - 1);
  });

  it('refuses a box that does not fit its parent with a typed error', () => {
    const frag = fragment([[1, 9000]]);
    new DataView(frag.buffer).setUint32(8, 4000); // mfhd claims more than the moof holds
    expect(() => decodeTimes(frag)).toThrow(Fmp4TimeError);
  });

  it('starts a file at 0, all tracks by the same time, and follows on after a new init segment', () => {
    const t = new FileTimeline();
    t.init(initSegment([[1, 90000], [2, 48000]]));
    const a = fragment([[1, 48 * 90000], [2, 48 * 48000 - 480]]); // audio starts 10 ms before the video
    t.rebase(a);
    expect(decodeTimes(a).map((x) => x.decodeTime)).toEqual([900, 0]);
    const b = fragment([[1, 48.5 * 90000], [2, 48.5 * 48000]]);
    t.rebase(b);
    expect(decodeTimes(b).map((x) => x.decodeTime)).toEqual([45900, 24480]);
    // The camera restarted: its times start again near 0; the file goes on a fragment's step later.
    t.init(initSegment([[1, 90000], [2, 48000]]));
    const c = fragment([[1, 0], [2, 0]]);
    t.rebase(c);
    expect(decodeTimes(c).map((x) => x.decodeTime)).toEqual([91800, 48960]);
  });

  it('reads what ffmpeg writes with the hub\'s fragment options', () => {
    const dir = mkdtempSync(join(tmpdir(), 'vigil-fmp4-time-'));
    try {
      const out = join(dir, 'out.mp4');
      execFileSync('ffmpeg', ['-v', 'error', '-i', 'test/native/fixtures/h264-aac.mp4', '-c', 'copy', '-f', 'mp4',
        '-movflags', 'empty_moov+default_base_moof+frag_keyframe', '-frag_duration', '300000', '-y', out]);
      const splitter = new Fmp4Splitter();
      const segments = splitter.push(readFileSync(out));
      const init = segments.find((s): s is InitSegment => s.type === 'init')!;
      const frags = segments.filter((s): s is Fragment => s.type === 'fragment');
      expect(frags.length).toBeGreaterThan(2);
      const scales = trackTimescales(init.data);
      for (const track of init.tracks) expect(scales.get(track.id)).toBe(track.timescale);
      for (const fr of frags) expect(decodeTimes(fr.data)[0]!.decodeTime).toBe(fr.decodeTime);
      // Each fragment ends where the next starts, track by track (trun durations, tfhd or trex defaults).
      const defaults = trackDefaultDurations(init.data);
      for (let i = 0; i + 1 < frags.length; i++) {
        const ends = fragmentEnds(frags[i]!.data, defaults);
        for (const t of decodeTimes(frags[i + 1]!.data)) expect(ends.get(t.trackId), `fragment ${i} track ${t.trackId}`).toBe(t.decodeTime);
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
