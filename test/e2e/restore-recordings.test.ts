// Recordings made before a hub died come back with it (issue 18, PROTOCOL §18.1, §18.4): real relay,
// hub processes, RTSP test camera and a command-line phone. The hub records with an owner phone
// paired, the phone keeps its backup, the hub's store is lost but its recordings folder survives;
// `vigil restore` brings the same hub back and indexes the old segment files (a damaged file and one
// under another segment's name are skipped and counted); the same phone, never paired again, lists
// and exports a range recorded before, and `vigil verify-export` passes it. With --recordings the
// files are copied in from the surviving folder, which is left as it was.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { copyFileSync, cpSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { fromBase64url, toHex } from '../../crypto/bytes.ts';
import { cryptoReady } from '../../crypto/sodium.ts';
import { startCamera, stopAllCameras } from '../support/camera/camera.ts';
import {
  VIGIL, VIGIL_PHONE, addCamera, pairPhone, run, startHub, startRelay, stopAll, tempDir, waitForCameraState, waitUntil,
} from '../support/system.ts';

const CAMERA = 'Porch';

afterAll(async () => {
  await stopAll();
  await stopAllCameras();
});

async function ranges(profile: string): Promise<{ start: string; end: string }[]> {
  const r = await run(VIGIL_PHONE, ['recordings', '--profile', profile, '--camera', CAMERA, '--json'], { timeoutMs: 60_000 });
  expect(r.code, r.stderr).toBe(0);
  return (JSON.parse(r.stdout.trim().split('\n').pop()!) as { ranges: { start: string; end: string }[] }).ranges;
}

describe('recordings after a restore', () => {
  const root = tempDir();
  const first = join(root, 'hub');
  const anna = join(root, 'anna.json');
  const blobFile = join(root, 'hub.vbak');
  /** The old hub's recordings folder, kept when its store was lost. */
  const old = join(root, 'old-recordings');
  let relayUrl = '';
  let code = '';
  let hubIdHex = '';
  let stoppedAt = 0;
  let cameraDir = '';
  let segments: string[] = [];

  beforeAll(async () => {
    await cryptoReady();
    const [relay, camera] = await Promise.all([startRelay('127.0.0.1:0'), startCamera({ codec: 'h264', size: '320x240', fps: 15, gop: 15 })]);
    relayUrl = relay.url;
    const hub = await startHub(first, relay.url, ['--no-lan']);
    await Promise.all([addCamera(first, CAMERA, camera.url), pairPhone(first, anna, 'Anna')]);
    hubIdHex = toHex(fromBase64url((JSON.parse(readFileSync(anna, 'utf8')) as { hub: { hubId: string } }).hub.hubId));
    await waitForCameraState(first, CAMERA, ['live'], 60_000);
    const [rec, printed] = await Promise.all([
      run(VIGIL, ['record', '--data', first, '--camera', CAMERA, '--mode', 'continuous', '--keep-days', '2']),
      run(VIGIL, ['backup', '--data', first, '--print-code']),
    ]);
    expect(rec.code, rec.stderr).toBe(0);
    expect(printed.code, printed.stderr).toBe(0);
    code = /recovery code: (VR1-[0-9A-Z-]+)/.exec(printed.stdout)![1]!;
    await waitUntil('6 s recorded', async () => {
      const r = await ranges(anna);
      return r.length > 0 && Date.parse(r[0]!.end) - Date.parse(r[0]!.start) >= 6000;
    }, 60_000, 1000);
    const kept = await run(VIGIL_PHONE, ['backup', '--profile', anna, '--out', blobFile], { timeoutMs: 60_000 });
    expect(kept.code, kept.stderr).toBe(0);

    // The hub's store is lost; its recordings folder survives (another disk, a file backup).
    stoppedAt = Date.now();
    await hub.stop();
    cpSync(join(first, 'recordings'), old, { recursive: true });
    rmSync(first, { recursive: true, force: true });
    cameraDir = readdirSync(old)[0]!;
    segments = readdirSync(join(old, cameraDir)).sort();
    expect(segments.length).toBeGreaterThan(0);
    // Not to be trusted: a damaged file, and a good segment under another segment's name.
    writeFileSync(join(old, cameraDir, '77777.vseg'), randomBytes(3000));
    copyFileSync(join(old, cameraDir, segments[0]!), join(old, cameraDir, '88888.vseg'));
  }, 180_000);

  const expectIndexed = (stdout: string) => {
    expect(stdout).toMatch(/, 1 camera, [1-9]\d* recording epochs?;/);
    const m = /recordings: (\d+) segments? \(.* MB\) indexed from .*; 2 files skipped: (.*)$/m.exec(stdout);
    expect(m, stdout).not.toBeNull();
    expect(Number(m![1])).toBe(segments.length);
    expect(m![2]!.split(', ').sort()).toEqual(['1 not a segment', '1 not the segment its name says']);
  };

  it('the old recordings folder copied into the new data directory: the same phone, not paired again, exports a range recorded before and it verifies', async () => {
    const second = join(root, 'hub-restored');
    // As a user would: the data directory the owner's only (the hub refuses it otherwise), the folder copied in.
    mkdirSync(second, { mode: 0o700 });
    cpSync(old, join(second, 'recordings'), { recursive: true });
    const restored = await run(VIGIL, ['restore', '--data', second, '--from', blobFile, '--code', code]);
    expect(restored.code, restored.stderr).toBe(0);
    expectIndexed(restored.stdout);

    const hub = await startHub(second, relayUrl, ['--no-lan']);
    const before = (await ranges(anna))[0]!;
    expect(Date.parse(before.start)).toBeLessThan(stoppedAt);
    const clip = join(root, 'before.mp4');
    const exported = await run(VIGIL_PHONE, ['export', '--profile', anna, '--camera', CAMERA, '--from', before.start, '--seconds', '4', '--out', clip], { timeoutMs: 90_000 });
    expect(exported.code, exported.stderr).toBe(0);
    const [, segs, , end] = /exported to .*: (\d+) segments of .*, (\S+) to (\S+),/.exec(exported.stdout) ?? [];
    expect(Number(segs)).toBeGreaterThan(0);
    expect(Date.parse(end!)).toBeLessThan(stoppedAt);
    expect(exported.stdout).not.toMatch(/not all of it/);
    const verified = await run(VIGIL, ['verify-export', clip, '--hub', hubIdHex], { timeoutMs: 30_000 });
    expect(verified.code, verified.stderr).toBe(0);
    expect(statSync(clip).size).toBeGreaterThan(1000);
    await hub.stop();
  }, 150_000);

  it('with --recordings FOLDER: the good segments are copied in (0600) and indexed, the folder left as it was; a folder that is not there is refused', async () => {
    const third = join(root, 'hub-from-folder');
    const [restored, missing] = await Promise.all([
      run(VIGIL, ['restore', '--data', third, '--from', blobFile, '--code', code, '--recordings', old]),
      run(VIGIL, ['restore', '--data', join(root, 'x'), '--from', blobFile, '--code', code, '--recordings', join(root, 'nowhere')]),
    ]);
    expect(restored.code, restored.stderr).toBe(0);
    expectIndexed(restored.stdout);
    expect(readdirSync(join(third, 'recordings', cameraDir)).sort()).toEqual(segments);
    for (const f of segments) expect(statSync(join(third, 'recordings', cameraDir, f)).mode & 0o777).toBe(0o600);
    expect(readdirSync(join(old, cameraDir)).sort()).toEqual([...segments, '77777.vseg', '88888.vseg'].sort());
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/--recordings .*nowhere is not a folder/);
  }, 60_000);
});
