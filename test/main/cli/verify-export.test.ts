// `vigil verify-export` (main/cli/verify-export.ts), the real program on real files: a clip and its
// proof verify with no data directory; a flipped byte, a cut file, an edited proof time, the wrong
// --hub, or a missing proof make it exit non-zero and say what.
import { copyFileSync, mkdtempSync, readFileSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { concat, toHex } from '../../../crypto/bytes.ts';
import { clipProof, encodeClipProof } from '../../../crypto/clip-proof.ts';
import { hubPublicKeys, newHubIdentity, type HubIdentity } from '../../../crypto/identity.ts';
import { newRecordingEpoch, openSegment } from '../../../crypto/recording.ts';
import { cryptoReady } from '../../../crypto/sodium.ts';
import { ClipAssembler } from '../../../phone/core/clip-file.ts';
import { VIGIL, run } from '../../support/system.ts';
import { recordSegment } from '../../crypto/clip-fixtures.ts';

let dir: string;
let hub: HubIdentity;
let clip: string;
const T0 = Date.UTC(2026, 2, 1, 14, 30);

beforeAll(async () => {
  await cryptoReady();
  dir = mkdtempSync(join(tmpdir(), 'vigil-verify-export-'));
  hub = newHubIdentity();
  const { epoch, seed } = newRecordingEpoch(hub, 1, T0);
  const camera = new Uint8Array(16).fill(4);
  const asm = new ClipAssembler({ evidence: true });
  const parts: Uint8Array[] = [];
  for (let i = 0; i < 2; i++) {
    const step = asm.add(openSegment(recordSegment(hub, epoch, camera, { id: BigInt(i + 1), start: T0 + i * 900, runTime: 10 + i * 0.9 }), seed, hubPublicKeys(hub)));
    if (step.kind === 'write') parts.push(...step.bytes);
  }
  clip = join(dir, 'clip.mp4');
  writeFileSync(clip, concat(...parts));
  writeFileSync(`${clip}.proof`, encodeClipProof(clipProof(hubPublicKeys(hub), camera, 'front door', asm.segments)));
});

afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** A copy of the clip and its proof under another name, changed by `f`. */
function variant(name: string, f: (mp4: string, proof: string) => void): string {
  const path = join(dir, `${name}.mp4`);
  copyFileSync(clip, path);
  copyFileSync(`${clip}.proof`, `${path}.proof`);
  f(path, `${path}.proof`);
  return path;
}

describe('vigil verify-export', () => {
  it('prints the hub, the camera and the signed times of an unaltered clip, and exits 0', async () => {
    const r = await run(VIGIL, ['verify-export', clip, '--hub', toHex(hub.hubId)], { timeoutMs: 30_000 });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain(`hub ${toHex(hub.hubId)}`);
    expect(r.stdout).toMatch(/camera 0404.*\("front door", a name the proof does not sign\)/);
    expect(r.stdout).toContain('from 2026-03-01T14:30:00.000Z to 2026-03-01T14:30:01.800Z');
    expect(r.stdout).toMatch(/^ok: /m);
  }, 40_000);

  it('exits non-zero naming what was altered', async () => {
    const flipped = variant('flipped', (mp4) => {
      const b = readFileSync(mp4);
      b[b.length - 30]! ^= 0x10;
      writeFileSync(mp4, b);
    });
    const cut = variant('cut', (mp4) => truncateSync(mp4, readFileSync(mp4).length - 100));
    const retimed = variant('retimed', (_mp4, proof) => writeFileSync(proof, readFileSync(proof, 'utf8').replace(`"start": ${T0 + 900}`, `"start": ${T0 + 60_900}`)));
    const [a, b, c, wrongHub, noProof] = await Promise.all([
      run(VIGIL, ['verify-export', flipped], { timeoutMs: 30_000 }),
      run(VIGIL, ['verify-export', cut], { timeoutMs: 30_000 }),
      run(VIGIL, ['verify-export', retimed], { timeoutMs: 30_000 }),
      run(VIGIL, ['verify-export', clip, '--hub', '00'.repeat(16)], { timeoutMs: 30_000 }),
      run(VIGIL, ['verify-export', clip, '--proof', join(dir, 'nothing.proof')], { timeoutMs: 30_000 }),
    ]);
    expect(a.code).toBe(1);
    expect(a.stderr).toMatch(/ALTERED: segment 2 \(2026-03-01T14:30:00.900Z\): its video or chunk times differ/);
    expect(b.code).toBe(1);
    expect(b.stderr).toMatch(/ALTERED: .*cut/);
    expect(c.code).toBe(1);
    expect(c.stderr).toMatch(/ALTERED: segment 2 .*signature does not check/);
    expect(wrongHub.code).toBe(1);
    expect(wrongHub.stderr).toContain(`signed by hub ${toHex(hub.hubId)}, not by hub ${'00'.repeat(16)}`);
    expect(noProof.code).toBe(1);
    expect(noProof.stderr).toContain('cannot read the proof');
  }, 60_000);
});
