// The hub can die (issue 18, PROTOCOL §18): real relay, hub processes, RTSP test camera and
// command-line phones. Two owner phones keep the hub's sealed backup; the hub's data directory is
// deleted; `vigil restore` brings the same hub back in a new one, with the printed recovery code and,
// separately, approved by both owner phones (2 of 2). An owner phone then watches without pairing
// again and shows the restore as a roster alert; a phone removed before the backup stays removed; a
// wrong code, a changed backup or too few approvals are refused clearly; the code is in no hub output;
// an owner phone keeping the backup fetches a new one when what a restore brings back changes.
// Commands that do not depend on each other run at the same time: each CLI start costs seconds on a
// busy machine.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { cryptoReady } from '../../crypto/sodium.ts';
import { encodeRecoveryCode, newRecoveryKey } from '../../crypto/backup.ts';
import { startCamera, stopAllCameras } from '../support/camera/camera.ts';
import {
  VIGIL, VIGIL_PHONE, addCamera, pairPhone, run, start, startHub, startRelay, stopAll, tempDir, waitForCameraState, type Running,
} from '../support/system.ts';

const CAMERA = 'Porch';

afterAll(async () => {
  await stopAll();
  await stopAllCameras();
});

function hubIdOf(output: string): string {
  const m = /hub ([0-9a-f]{16}) running/.exec(output);
  if (!m) throw new Error(`no hub id in: ${output.slice(0, 300)}`);
  return m[1]!;
}

const lines = (text: string) => text.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);

describe('backup and restore', () => {
  const root = tempDir();
  const first = join(root, 'hub');
  const anna = join(root, 'anna.json');
  const ben = join(root, 'ben.json');
  const gone = join(root, 'gone.json');
  const blobFile = join(root, 'hub.vbak');
  let relayUrl = '';
  let hubId = '';
  let code = '';
  let firstOutput = '';

  beforeAll(async () => {
    await cryptoReady();
    const [relay, camera] = await Promise.all([startRelay('127.0.0.1:0'), startCamera({ codec: 'h264', size: '320x240', fps: 15, gop: 15 })]);
    relayUrl = relay.url;
    const hub = await startHub(first, relay.url, ['--no-lan']);
    hubId = hubIdOf(hub.output());
    await Promise.all([addCamera(first, CAMERA, camera.url), pairPhone(first, anna, 'Anna')]);

    // With one owner phone and no code there is nothing to keep: said, not a silent empty backup.
    const [none, removed] = await Promise.all([run(VIGIL_PHONE, ['backup', '--profile', anna], { timeoutMs: 60_000 }), pairPhone(first, gone, 'Gone', 'viewer')]);
    expect(none.code).not.toBe(0);
    expect(none.stderr).toMatch(/no recovery key yet/);
    const [revoke] = await Promise.all([run(VIGIL, ['devices', 'revoke', '--data', first, removed.deviceId]), pairPhone(first, ben, 'Ben')]);
    expect(revoke.code, revoke.stderr).toBe(0);

    const printed = await run(VIGIL, ['backup', '--data', first, '--print-code']);
    expect(printed.code, printed.stderr).toBe(0);
    code = /recovery code: (VR1-[0-9A-Z-]+)/.exec(printed.stdout)![1]!;

    const [kept, keptBen] = await Promise.all([
      run(VIGIL_PHONE, ['backup', '--profile', anna, '--out', blobFile, '--json'], { timeoutMs: 60_000 }),
      run(VIGIL_PHONE, ['backup', '--profile', ben, '--json'], { timeoutMs: 60_000 }),
    ]);
    expect(kept.code, kept.stderr).toBe(0);
    expect(keptBen.code, keptBen.stderr).toBe(0);
    // Sealed to the code and to the two owners' key, each owner holding a share.
    expect(lines(kept.stdout).at(-1)).toMatchObject({ code: true, share: true, owners: { k: 2, n: 2 } });
    expect(lines(keptBen.stdout).at(-1)).toMatchObject({ code: true, share: true, owners: { k: 2, n: 2 } });
    // Something a restore brings back changes (a camera's recording settings): the owner phone's
    // next command, whatever it is, keeps the new backup (PROTOCOL §18.3); a last-seen time does not.
    const keptId = () => (JSON.parse(readFileSync(`${anna}.backup`, 'utf8')) as { id: string }).id;
    const before = keptId();
    const [status, record] = await Promise.all([
      run(VIGIL, ['backup-status', '--data', first, '--json']),
      run(VIGIL, ['record', '--data', first, '--camera', CAMERA, '--mode', 'off', '--keep-days', '3']),
    ]);
    expect(record.code, record.stderr).toBe(0);
    const cameras = await run(VIGIL_PHONE, ['cameras', '--profile', anna], { timeoutMs: 60_000 });
    expect(cameras.code, cameras.stderr).toBe(0);
    expect(cameras.stderr).toMatch(/backup: kept the hub's new backup/);
    expect(keptId()).not.toBe(before);
    expect(JSON.parse(status.stdout.trim())).toMatchObject({ code: true, owners: { k: 2, n: 2 } });
    expect(status.stdout).not.toContain(code.slice(4, 20));
    expect(statSync(`${anna}.backup`).mode & 0o077).toBe(0);
    const blob = readFileSync(blobFile);
    // Sealed: nothing readable of the hub's rows in it.
    expect(blob.includes(Buffer.from(CAMERA))).toBe(false);
    expect(blob.includes(Buffer.from('Anna'))).toBe(false);

    // The hub's machine dies with its disk.
    firstOutput = hub.output();
    await hub.stop();
    rmSync(first, { recursive: true, force: true });
  }, 240_000);

  it('with the printed code: the same hub comes back; the owner watches without pairing again and sees the restore as an alert', async () => {
    const second = join(root, 'hub-restored');
    // Another code, a changed backup, a typo: refused clearly, and nothing is written.
    const changedFile = join(root, 'changed.vbak');
    const changed = readFileSync(blobFile);
    changed[changed.length - 40]! ^= 0x01;
    writeFileSync(changedFile, changed);
    const otherCode = encodeRecoveryCode(newRecoveryKey().seed);
    const typoCode = code.slice(0, 6) + (code[6] === 'A' ? 'B' : 'A') + code.slice(7);
    const [wrong, bad, typo, restored] = await Promise.all([
      run(VIGIL, ['restore', '--data', join(root, 'x1'), '--from', blobFile, '--code', otherCode]),
      run(VIGIL, ['restore', '--data', join(root, 'x2'), '--from', changedFile, '--code', code]),
      run(VIGIL, ['restore', '--data', join(root, 'x3'), '--from', blobFile, '--code', typoCode]),
      run(VIGIL, ['restore', '--data', second, '--from', blobFile, '--code', code]),
    ]);
    expect(wrong.code).toBe(1);
    expect(wrong.stderr).toMatch(/does not open this backup/);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/changed or damaged/);
    expect(typo.code).toBe(1);
    expect(typo.stderr).toMatch(/check does not match/);
    expect(restored.code, restored.stderr).toBe(0);
    expect(restored.stdout).toMatch(new RegExp(`restored hub ${hubId} into .*2 phones \\(1 removed stay removed\\), 1 camera`));

    // Restoring twice into the same directory is refused (while the restored hub starts there).
    const [again, hub] = await Promise.all([run(VIGIL, ['restore', '--data', second, '--from', blobFile, '--code', code]), startHub(second, relayUrl, ['--no-lan'])]);
    expect(again.code).toBe(1);
    expect(again.stderr).toMatch(/holds a hub already/);
    expect(hubIdOf(hub.output())).toBe(hubId);
    await waitForCameraState(second, CAMERA, ['live'], 60_000);

    // The same profile, no pairing: it watches. The phone removed before the backup is still
    // removed: the relay, told by the restored hub which phones it serves, refuses to connect it.
    const out = join(root, 'after.mp4');
    const [watch, roster, refused] = await Promise.all([
      run(VIGIL_PHONE, ['watch', '--profile', anna, '--camera', CAMERA, '--seconds', '3', '--out', out], { timeoutMs: 90_000 }),
      run(VIGIL, ['roster', '--data', second, '--json']),
      run(VIGIL_PHONE, ['cameras', '--profile', gone], { timeoutMs: 60_000 }),
    ]);
    expect(watch.code, watch.stderr).toBe(0);
    expect(statSync(out).size).toBeGreaterThan(1000);
    const entries = lines(roster.stdout) as { change?: string; name?: string }[];
    expect(entries.filter((e) => e.change).map((e) => `${e.change} ${e.name}`)).toEqual(['added Anna', 'added Gone', 'removed Gone', 'added Ben', 'restored ']);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/refuses to connect this phone to the hub/);

    const alerts = await run(VIGIL_PHONE, ['alerts', '--profile', anna, '--json'], { timeoutMs: 60_000 });
    expect(alerts.code, alerts.stderr).toBe(0);
    expect(lines(alerts.stdout).at(-1)).toMatchObject({ change: 'restored', by: 'the printed recovery code' });

    // The code never shows in either hub's output (nor its base32 body without dashes).
    for (const output of [firstOutput, hub.output()]) {
      expect(output).not.toContain(code);
      expect(output).not.toContain(code.replace(/-/g, '').slice(3, 30));
    }
    await hub.stop();
  }, 180_000);

  it('approved by both owner phones (2 of 2): the same hub comes back and the other owner watches; approved by one, it fails at its deadline', async () => {
    const third = join(root, 'hub-by-phones');
    const lonely = join(root, 'hub-by-one');
    const restoring = (dir: string, wait: number): Running =>
      start(VIGIL, ['restore', '--data', dir, '--from-phones', '--relay', relayUrl, '--wait', String(wait)], { maxSeconds: wait + 60 });
    const both = restoring(third, 120);
    const one = restoring(lonely, 25);
    const [[, bothLink], [, oneLink]] = await Promise.all([both.waitFor(/restore invite: (\S+)/, 40_000), one.waitFor(/restore invite: (\S+)/, 40_000)]);
    const approve = (profile: string, link: string) => run(VIGIL_PHONE, ['approve-restore', '--profile', profile, '--invite', link!, '--json'], { timeoutMs: 60_000 });
    const [byAnna, byBen, alone] = await Promise.all([approve(anna, bothLink!), approve(ben, bothLink!), approve(anna, oneLink!)]);
    expect(byAnna.code, byAnna.stderr).toBe(0);
    expect(byBen.code, byBen.stderr).toBe(0);
    // The first to arrive counts as 1 of 2; the second completes it and hears the hub is back.
    const answers = [lines(byAnna.stdout).at(-1), lines(byBen.stdout).at(-1)];
    expect(answers.map((a) => a!.state).sort()).toEqual(['accepted', 'restored']);
    expect(answers.find((a) => a!.state === 'restored')).toMatchObject({ have: 2, need: 2 });
    expect(String(answers.find((a) => a!.state === 'restored')!.hubId)).toMatch(new RegExp(`^${hubId}`));
    expect(alone.code, alone.stderr).toBe(0);
    expect(lines(alone.stdout).at(-1)).toMatchObject({ state: 'accepted', have: 1, need: 2 });

    await both.waitFor(new RegExp(`restored hub ${hubId} into .*2 phones \\(1 removed stay removed\\), 1 camera`));
    const hub = await startHub(third, relayUrl, ['--no-lan']);
    expect(hubIdOf(hub.output())).toBe(hubId);
    await waitForCameraState(third, CAMERA, ['live'], 60_000);
    const out = join(root, 'after-phones.mp4');
    const [watch, roster] = await Promise.all([
      run(VIGIL_PHONE, ['watch', '--profile', ben, '--camera', CAMERA, '--seconds', '3', '--out', out], { timeoutMs: 90_000 }),
      run(VIGIL, ['roster', '--data', third, '--json']),
    ]);
    expect(watch.code, watch.stderr).toBe(0);
    expect(statSync(out).size).toBeGreaterThan(1000);
    expect(lines(roster.stdout).filter((e) => e.change).at(-1)).toMatchObject({ change: 'restored', by: expect.stringMatching(/^owner phones '(Anna', 'Ben|Ben', 'Anna)'$/) });

    // One approval of the two needed: at its deadline it says how many it had and writes nothing.
    const exit = one.child.exitCode !== null ? one.child.exitCode : await new Promise<number | null>((r) => one.child.once('exit', r));
    expect(exit).toBe(1);
    expect(one.output()).toMatch(/restore not approved in 25 s: 1 of the 2 owner phones needed approved it/);
    const empty = await run(VIGIL, ['backup-status', '--data', lonely, '--json']);
    expect(JSON.parse(empty.stdout.trim())).toEqual({ code: false });
    await hub.stop();
  }, 180_000);
});
