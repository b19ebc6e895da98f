// One MP4 from recorded segments (phone/core/clip-file.ts): on real ffmpeg output, segments from two
// camera runs (the hub restarted between them: decode times from 0 again) make one file that starts
// at 0 and plays straight through (ffprobe, ffmpeg decoding it); a new init ends the file; a damaged
// segment plays up to the damage, an unsigned or damaged one stays out of an export.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { concat } from '../../../crypto/bytes.ts';
import { clipProof, encodeClipProof, verifyClip } from '../../../crypto/clip-proof.ts';
import { hubPublicKeys, newHubIdentity, type HubIdentity } from '../../../crypto/identity.ts';
import { SEGMENT_HEADER_BYTES, SegmentWriter, newRecordingEpoch, openSegment, type RecordingEpoch } from '../../../crypto/recording.ts';
import type { Secret } from '../../../crypto/secret.ts';
import { cryptoReady } from '../../../crypto/sodium.ts';
import { shiftDecodeTimes, trackTimescales } from '../../../lib/fmp4-time.ts';
import { Fmp4Splitter, type Fragment, type InitSegment } from '../../../native/fmp4.ts';
import { ClipAssembler, type ClipStep } from '../../../phone/core/clip-file.ts';
import { INIT, recordSegment } from '../../crypto/clip-fixtures.ts';

let hub: HubIdentity;
let epoch: RecordingEpoch;
let seed: Secret;
let dir: string;
let init: Uint8Array;
let gops: Fragment[][];
const camera = new Uint8Array(16).fill(3);
const T0 = 1_760_000_000_000;

beforeAll(async () => {
  await cryptoReady();
  hub = newHubIdentity();
  ({ epoch, seed } = newRecordingEpoch(hub, 1, T0));
  dir = mkdtempSync(join(tmpdir(), 'vigil-clip-file-'));
  const out = join(dir, 'fragmented.mp4');
  execFileSync('ffmpeg', ['-v', 'error', '-i', 'test/native/fixtures/h264-aac.mp4', '-c', 'copy', '-f', 'mp4',
    '-movflags', 'empty_moov+default_base_moof+frag_keyframe', '-frag_duration', '300000', '-y', out]);
  const parts = new Fmp4Splitter().push(readFileSync(out));
  init = parts.find((s): s is InitSegment => s.type === 'init')!.data;
  // GOP-aligned segments, as the recorder cuts them: a new one at each keyframe fragment.
  gops = [];
  for (const f of parts.filter((s): s is Fragment => s.type === 'fragment')) {
    if (f.keyframe || gops.length === 0) gops.push([]);
    gops[gops.length - 1]!.push(f);
  }
});

afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** A segment of one GOP, its decode times `runSeconds` into the camera run. */
function segmentOf(id: bigint, start: number, gop: Fragment[], runSeconds: number): Uint8Array {
  const scales = trackTimescales(init);
  const w = new SegmentWriter(hub, epoch, { cameraId: camera, segmentId: id, start });
  const parts = [w.headerBytes, w.chunk('init', start, init)];
  gop.forEach((f, i) => {
    const data = Uint8Array.from(f.data);
    shiftDecodeTimes(data, (track) => -Math.round(runSeconds * (scales.get(track) ?? 1)));
    parts.push(w.chunk('media', start + i * 300, data));
  });
  parts.push(w.close(start + gop.length * 300).bytes);
  return concat(...parts);
}

function written(step: ClipStep): readonly Uint8Array[] {
  if (step.kind !== 'write') throw new Error(`${step.kind}: ${'why' in step ? step.why : ''}`);
  return step.bytes;
}

function probe(path: string): { start: number; duration: number; dts: number[] } {
  const f = JSON.parse(execFileSync('ffprobe', ['-v', 'error', '-show_entries', 'format=start_time,duration', '-of', 'json', path], { encoding: 'utf8' })).format;
  const dts = execFileSync('ffprobe', ['-v', 'error', '-select_streams', 'v', '-show_entries', 'packet=dts_time', '-of', 'csv=p=0', path], { encoding: 'utf8' })
    .trim().split('\n').map(Number);
  return { start: Number(f.start_time), duration: Number(f.duration), dts };
}

describe('a clip from recorded segments', () => {
  it('across a hub restart: one init, starts at 0, plays in order, and exports with a proof that verifies', () => {
    expect(gops.length).toBe(2);
    const files = [
      segmentOf(1n, T0, gops[0]!, 48), segmentOf(2n, T0 + 1064, gops[1]!, 48), // the first run, 48 s in
      segmentOf(3n, T0 + 60_000, gops[0]!, 0), segmentOf(4n, T0 + 61_064, gops[1]!, 0), // after a restart: from 0
    ];
    for (const evidence of [false, true]) {
      const asm = new ClipAssembler({ evidence });
      const bytes = concat(...files.flatMap((f) => written(asm.add(openSegment(f, seed, hubPublicKeys(hub))))));
      const path = join(dir, evidence ? 'export.mp4' : 'play.mp4');
      writeFileSync(path, bytes);
      const p = probe(path);
      expect(p.start).toBe(0);
      expect(p.duration).toBeGreaterThan(3.9);
      expect(p.duration).toBeLessThan(4.6);
      for (let i = 1; i < p.dts.length; i++) expect(p.dts[i]!, `packet ${i}`).toBeGreaterThan(p.dts[i - 1]!);
      // ffmpeg decodes it all without a complaint.
      const errors = execFileSync('ffmpeg', ['-v', 'error', '-i', path, '-f', 'null', '-'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
      expect(errors).toBe('');
      expect(bytes.length).toBe(init.length + gops.flat().reduce((n, f) => n + f.data.length, 0) * 2);
      if (evidence) {
        const v = verifyClip(bytes, encodeClipProof(clipProof(hubPublicKeys(hub), camera, 'yard', asm.segments)));
        expect(v.problems).toEqual([]);
        expect(asm.segments.map((s) => s.decodeShift['1'] !== undefined)).toEqual([true, true, true, true]);
      }
    }
  });

  it('ends the file where the init changes, and says so', () => {
    const asm = new ClipAssembler({ evidence: false });
    written(asm.add(openSegment(recordSegment(hub, epoch, camera, { id: 10n, start: T0, runTime: 0 }), seed, hubPublicKeys(hub))));
    const other = Uint8Array.from(INIT);
    other[other.length - 1]! ^= 1;
    const step = asm.add(openSegment(recordSegment(hub, epoch, camera, { id: 11n, start: T0 + 900, runTime: 0.9, init: other }), seed, hubPublicKeys(hub)));
    expect(step).toEqual({ kind: 'end', why: expect.stringMatching(/stream changed/) });
    expect(asm.add(openSegment(recordSegment(hub, epoch, camera, { id: 12n, start: T0 + 1800, runTime: 1.8 }), seed, hubPublicKeys(hub))).kind).toBe('end');
  });

  it('plays a damaged segment up to the damage; an export leaves it and an unsigned one out', () => {
    const good = recordSegment(hub, epoch, camera, { id: 20n, start: T0, runTime: 0 });
    const damaged = Uint8Array.from(recordSegment(hub, epoch, camera, { id: 21n, start: T0 + 900, runTime: 0.9, fragments: 4 }));
    damaged[damaged.length - 200]! ^= 1; // inside the last fragment
    const open = recordSegment(hub, epoch, camera, { id: 22n, start: T0 + 2100, runTime: 2.1, close: false });
    expect(damaged.length).toBeGreaterThan(SEGMENT_HEADER_BYTES + 400);
    const play = new ClipAssembler({ evidence: false });
    written(play.add(openSegment(good, seed, hubPublicKeys(hub))));
    const partial = play.add(openSegment(damaged, seed, hubPublicKeys(hub)));
    expect(partial).toMatchObject({ kind: 'write', partial: expect.stringMatching(/damaged: chunk 4 does not open.*3 fragments before it/) });
    expect(play.add(openSegment(open, seed, hubPublicKeys(hub))).kind).toBe('write');
    const exp = new ClipAssembler({ evidence: true });
    written(exp.add(openSegment(good, seed, hubPublicKeys(hub))));
    expect(exp.add(openSegment(damaged, seed, hubPublicKeys(hub)))).toEqual({ kind: 'skip', why: expect.stringMatching(/^damaged/) });
    expect(exp.add(openSegment(open, seed, hubPublicKeys(hub)))).toEqual({ kind: 'skip', why: expect.stringMatching(/not signed by the hub yet/) });
    expect(exp.segments.length).toBe(1);
  });
});
