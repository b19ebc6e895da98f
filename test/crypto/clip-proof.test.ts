// Exported clips and their proofs (crypto/clip-proof.ts): a clip the phone assembles verifies with
// nothing but the file and the proof; any change to the file's bytes, its length, its chunks'
// order, or a signed field of the proof fails, and names the segment.
import { beforeAll, describe, expect, it } from 'vitest';
import { concat } from '../../crypto/bytes.ts';
import { CLIP_PROOF_FORMAT, clipProof, encodeClipProof, verifyClip, type ClipProof } from '../../crypto/clip-proof.ts';
import { isCryptoError } from '../../crypto/errors.ts';
import { hubPublicKeys, newHubIdentity, type HubIdentity } from '../../crypto/identity.ts';
import { newRecordingEpoch, openSegment, type RecordingEpoch } from '../../crypto/recording.ts';
import type { Secret } from '../../crypto/secret.ts';
import { cryptoReady } from '../../crypto/sodium.ts';
import { decodeTimes } from '../../lib/fmp4-time.ts';
import { ClipAssembler } from '../../phone/core/clip-file.ts';
import { INIT, recordSegment } from './clip-fixtures.ts';

let hub: HubIdentity;
let epoch: RecordingEpoch;
let seed: Secret;
const camera = new Uint8Array(16).fill(9);
const T0 = 1_760_000_000_000;

/** Three closed segments, 48 s into a camera run, exported: the MP4's bytes and the proof's text. */
let mp4: Uint8Array;
let proofText: string;
let proof: ClipProof;

beforeAll(async () => {
  await cryptoReady();
  hub = newHubIdentity();
  ({ epoch, seed } = newRecordingEpoch(hub, 1, T0));
  const asm = new ClipAssembler({ evidence: true });
  const parts: Uint8Array[] = [];
  for (let i = 0; i < 3; i++) {
    const bytes = recordSegment(hub, epoch, camera, { id: BigInt(20 + i), start: T0 + i * 900, runTime: 48 + i * 0.9 });
    const step = asm.add(openSegment(bytes, seed, hubPublicKeys(hub)));
    if (step.kind !== 'write') throw new Error(`segment ${i}: ${step.kind}`);
    parts.push(...step.bytes);
  }
  mp4 = concat(...parts);
  proof = clipProof(hubPublicKeys(hub), camera, 'porch', asm.segments);
  proofText = encodeClipProof(proof);
});

function edited(f: (p: ClipProof & Record<string, unknown>) => void): string {
  const p = JSON.parse(proofText);
  f(p);
  return JSON.stringify(p);
}

describe('an exported clip', () => {
  it('verifies: hub, camera, signed times; one init; the file starts at 0', () => {
    const v = verifyClip(mp4, proofText);
    expect(v.problems).toEqual([]);
    expect(v.ok).toBe(true);
    expect(v.hubId).toEqual(hub.hubId);
    expect(v.cameraId).toEqual(camera);
    expect(v.cameraName).toBe('porch');
    expect([v.start, v.end, v.segments]).toEqual([T0, T0 + 1800 + 900, 3]);
    expect(proof.format).toBe(CLIP_PROOF_FORMAT);
    // The init once: every segment's init chunk points at the same bytes, at the start of the file.
    expect(proof.segments.map((s) => s.inFile[0]!.at)).toEqual([[0, INIT.length], [0, INIT.length], [0, INIT.length]]);
    const first = proof.segments[0]!.inFile[1]!.at;
    expect(decodeTimes(mp4.subarray(first[0], first[0] + first[1])).map((t) => t.decodeTime)).toEqual([0, 0]);
    expect(proof.segments[0]!.decodeShift).toEqual({ 1: 48 * 90_000, 2: 48 * 48_000 });
  });

  it('fails on every single flipped byte of a one-segment clip, and on a flip in any chunk of a longer one', () => {
    const asm = new ClipAssembler({ evidence: true });
    const step = asm.add(openSegment(recordSegment(hub, epoch, camera, { id: 90n, start: T0, runTime: 5, fragments: 2, mediaBytes: 16 }), seed, hubPublicKeys(hub)));
    if (step.kind !== 'write') throw new Error(step.kind);
    const small = concat(...step.bytes);
    const smallProof = encodeClipProof(clipProof(hubPublicKeys(hub), camera, undefined, asm.segments));
    expect(verifyClip(small, smallProof).ok).toBe(true);
    const flipAt = (file: Uint8Array, text: string, i: number) => {
      const f = Uint8Array.from(file);
      f[i]! ^= 0x01;
      const v = verifyClip(f, text);
      expect(v.ok, `byte ${i} flipped and the clip still verified`).toBe(false);
      expect(v.problems.length).toBeGreaterThan(0);
    };
    for (let i = 0; i < small.length; i++) flipAt(small, smallProof, i);
    // The three-segment clip: the first, a middle and the last byte of every chunk.
    for (const s of proof.segments) {
      for (const { at: [o, l] } of s.inFile) for (const i of [o, o + (l >> 1), o + l - 1]) flipAt(mp4, proofText, i);
    }
  });

  it('fails when cut, or when bytes are added', () => {
    for (const keep of [mp4.length - 1, mp4.length - 300, INIT.length + 10, 10]) {
      const v = verifyClip(mp4.subarray(0, keep), proofText);
      expect(v.ok, `cut to ${keep}`).toBe(false);
      expect(v.problems.map((p) => p.what).join('; ')).toMatch(/cut/);
    }
    const v = verifyClip(concat(mp4, Uint8Array.of(0, 0, 0, 8, 0x66, 0x72, 0x65, 0x65)), proofText);
    expect(v.ok).toBe(false);
    expect(v.problems[0]!.what).toMatch(/not in the proof/);
  });

  it('fails when two chunks are swapped, in the file alone or in the file and the proof', () => {
    const s = proof.segments[1]!;
    const [a, b] = [s.inFile[1]!.at, s.inFile[2]!.at];
    expect(a[1]).toBe(b[1]); // same length: a swap keeps every offset
    const swapped = concat(mp4.subarray(0, a[0]), mp4.subarray(b[0], b[0] + b[1]), mp4.subarray(a[0], a[0] + a[1]), mp4.subarray(b[0] + b[1]));
    const v = verifyClip(swapped, proofText);
    expect(v.ok).toBe(false);
    expect(v.problems).toEqual([expect.objectContaining({ segment: 1, what: expect.stringMatching(/differ from what the hub recorded/) })]);
    // The proof's offsets swapped too: each chain matches again, but the layout is not the file's order.
    const relaid = edited((p) => {
      const f = p.segments[1]!.inFile as unknown as { at: [number, number] }[];
      [f[1]!.at, f[2]!.at] = [f[2]!.at, f[1]!.at];
    });
    const w = verifyClip(swapped, relaid);
    expect(w.ok).toBe(false);
    expect(w.problems[0]!.what).toMatch(/not where the file's order puts it/);
    // Two whole segments swapped, file and proof together: out of time order.
    expect(verifyClip(mp4, edited((p) => {
      (p.segments as unknown[]).reverse();
    })).ok).toBe(false);
  });

  it('fails when a signed time or count in the proof is edited; the camera\'s unsigned name may change', () => {
    const fails = (why: string, f: (p: ClipProof & Record<string, unknown>) => void) => {
      const v = verifyClip(mp4, edited(f));
      expect(v.ok, why).toBe(false);
      return v.problems.map((p) => p.what).join('; ');
    };
    expect(fails('start', (p) => ((p.segments[0] as { start: number }).start += 1000))).toMatch(/signature/);
    expect(fails('end', (p) => ((p.segments[2] as { end: number }).end += 60_000))).toMatch(/signature/);
    expect(fails('chunk time', (p) => ((p.segments[1]!.inFile[2] as { time: number }).time -= 1))).toMatch(/differ/);
    expect(fails('camera', (p) => ((p as { cameraId: string }).cameraId = '00'.repeat(16)))).toMatch(/signature/);
    expect(fails('decode shift', (p) => ((p.segments[1]!.decodeShift as Record<string, number>)['1']! += 9000))).toMatch(/differ/);
    expect(verifyClip(mp4, edited((p) => ((p as { unsigned: unknown }).unsigned = { cameraName: 'garage' }))).ok).toBe(true);
  });

  it('fails under another hub\'s key, and when the key is not the hub id\'s', () => {
    const other = hubPublicKeys(newHubIdentity());
    const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');
    const mine = verifyClip(mp4, edited((p) => Object.assign(p, { hubId: hex(other.hubId), hubSigningKey: hex(other.signingKey) })));
    expect(mine.ok).toBe(false);
    expect(mine.problems[0]!.what).toMatch(/signature/);
    const mismatched = verifyClip(mp4, edited((p) => Object.assign(p, { hubSigningKey: hex(other.signingKey) })));
    expect(mismatched.ok).toBe(false);
    expect(mismatched.problems[0]!.what).toMatch(/not the key of the hub id/);
  });

  it('refuses a proof that does not parse with a typed error', () => {
    const code = (text: string) => {
      try {
        verifyClip(mp4, text);
        return 'no error';
      } catch (e) {
        return isCryptoError(e) ? e.code : String(e);
      }
    };
    expect(code('not json')).toBe('malformed');
    expect(code('{}')).toBe('unsupported');
    expect(code(edited((p) => Object.assign(p, { hubId: 'zz' })))).toBe('malformed');
    expect(code(edited((p) => Object.assign(p, { segments: [] })))).toBe('malformed');
    expect(code(edited((p) => ((p.segments[0] as { chunks: number }).chunks = 99)))).toBe('malformed');
    expect(code(edited((p) => ((p.segments[0]!.inFile[0] as { at: unknown }).at = [0, -1])))).toBe('malformed');
    expect(code(edited((p) => ((p.segments[0] as { segmentId: string }).segmentId = '1e3')))).toBe('malformed');
  });
});
