// The hub can die (issue 18, PROTOCOL §18): real relay, hub processes, RTSP test camera and
// command-line phones. An owner phone keeps the hub's sealed backup; the hub's data directory is
// deleted; `vigil restore` with the printed recovery code brings the same hub back in a new one. The
// owner phone then watches without pairing again and shows the restore as a roster alert; a phone
// removed before the backup stays removed; a wrong code or a changed backup is refused clearly;
// and the code is in no hub output.
import { afterAll, describe, expect, it } from 'vitest';
import { readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { cryptoReady } from '../../crypto/sodium.ts';
import { encodeRecoveryCode, newRecoveryKey } from '../../crypto/backup.ts';
import { startCamera, stopAllCameras } from '../support/camera/camera.ts';
import {
  VIGIL, VIGIL_PHONE, addCamera, pairPhone, run, startHub, startRelay, stopAll, tempDir, waitForCameraState,
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

describe('backup and restore with the printed recovery code', () => {
  it('the same hub comes back in a new data directory; the owner watches without pairing again and sees the restore as an alert', async () => {
    await cryptoReady();
    const root = tempDir();
    const first = join(root, 'hub');
    const second = join(root, 'hub-restored');
    const owner = join(root, 'owner.json');
    const gone = join(root, 'gone.json');
    const relay = await startRelay('127.0.0.1:0');
    const camera = await startCamera({ codec: 'h264', size: '320x240', fps: 15, gop: 15, runSeconds: 300 });
    let hub = await startHub(first, relay.url, ['--no-lan']);
    const hubId = hubIdOf(hub.output());
    await addCamera(first, CAMERA, camera.url);
    await pairPhone(first, owner, 'Anna');
    const removed = await pairPhone(first, gone, 'Gone', 'viewer');
    const revoke = await run(VIGIL, ['devices', 'revoke', '--data', first, removed.deviceId]);
    expect(revoke.code, revoke.stderr).toBe(0);

    // Before any recovery key exists there is nothing to keep: said, not a silent empty backup.
    const none = await run(VIGIL_PHONE, ['backup', '--profile', owner], { timeoutMs: 60_000 });
    expect(none.code).not.toBe(0);
    expect(none.stderr).toMatch(/no recovery key yet/);

    const printed = await run(VIGIL, ['backup', '--data', first, '--print-code']);
    expect(printed.code, printed.stderr).toBe(0);
    const code = /recovery code: (VR1-[0-9A-Z-]+)/.exec(printed.stdout)![1]!;
    const status = await run(VIGIL, ['backup-status', '--data', first, '--json']);
    expect(JSON.parse(status.stdout.trim())).toMatchObject({ code: true });
    expect(status.stdout).not.toContain(code.slice(4, 20));

    const blobFile = join(root, 'hub.vbak');
    const kept = await run(VIGIL_PHONE, ['backup', '--profile', owner, '--out', blobFile, '--json'], { timeoutMs: 60_000 });
    expect(kept.code, kept.stderr).toBe(0);
    expect(JSON.parse(kept.stdout.trim().split('\n').pop()!)).toMatchObject({ code: true, share: false });
    expect(statSync(`${owner}.backup`).mode & 0o077).toBe(0);
    const blob = readFileSync(blobFile);
    // Sealed: nothing readable of the hub's rows in it.
    expect(blob.includes(Buffer.from(CAMERA))).toBe(false);
    expect(blob.includes(Buffer.from('Anna'))).toBe(false);

    // The hub's machine dies with its disk.
    const firstOutput = hub.output();
    await hub.stop();
    rmSync(first, { recursive: true, force: true });

    // Another code, a changed backup: refused clearly, and nothing is written.
    const otherCode = encodeRecoveryCode(newRecoveryKey().seed);
    const wrong = await run(VIGIL, ['restore', '--data', join(root, 'x1'), '--from', blobFile, '--code', otherCode]);
    expect(wrong.code).toBe(1);
    expect(wrong.stderr).toMatch(/does not open this backup/);
    const changedFile = join(root, 'changed.vbak');
    const changed = Buffer.from(blob);
    changed[changed.length - 40]! ^= 0x01;
    writeFileSync(changedFile, changed);
    const bad = await run(VIGIL, ['restore', '--data', join(root, 'x2'), '--from', changedFile, '--code', code]);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/changed or damaged/);
    const typo = await run(VIGIL, ['restore', '--data', join(root, 'x3'), '--from', blobFile, '--code', code.slice(0, 6) + (code[6] === 'A' ? 'B' : 'A') + code.slice(7)]);
    expect(typo.code).toBe(1);
    expect(typo.stderr).toMatch(/check does not match/);

    const restored = await run(VIGIL, ['restore', '--data', second, '--from', blobFile, '--code', code]);
    expect(restored.code, restored.stderr).toBe(0);
    expect(restored.stdout).toMatch(new RegExp(`restored hub ${hubId} into .*1 phone \\(1 removed stay removed\\), 1 camera`));
    // Restoring twice into the same directory is refused.
    const again = await run(VIGIL, ['restore', '--data', second, '--from', blobFile, '--code', code]);
    expect(again.code).toBe(1);
    expect(again.stderr).toMatch(/holds a hub already/);

    hub = await startHub(second, relay.url, ['--no-lan']);
    expect(hubIdOf(hub.output())).toBe(hubId);
    await waitForCameraState(second, CAMERA, ['live'], 60_000);

    // The same profile, no pairing: it watches.
    const out = join(root, 'after.mp4');
    const watch = await run(VIGIL_PHONE, ['watch', '--profile', owner, '--camera', CAMERA, '--seconds', '3', '--out', out], { timeoutMs: 90_000 });
    expect(watch.code, watch.stderr).toBe(0);
    expect(statSync(out).size).toBeGreaterThan(1000);

    const alerts = await run(VIGIL_PHONE, ['alerts', '--profile', owner, '--json'], { timeoutMs: 60_000 });
    expect(alerts.code, alerts.stderr).toBe(0);
    const shown = alerts.stdout.trim().split('\n').map((l) => JSON.parse(l) as { change: string; by: string });
    expect(shown.at(-1)).toMatchObject({ change: 'restored', by: 'the printed recovery code' });

    const roster = await run(VIGIL, ['roster', '--data', second, '--json']);
    const entries = roster.stdout.trim().split('\n').map((l) => JSON.parse(l) as { change?: string; name?: string });
    expect(entries.filter((e) => e.change).map((e) => `${e.change} ${e.name}`)).toEqual(['added Anna', 'added Gone', 'removed Gone', 'restored ']);

    // The phone removed before the backup is still removed: the restored hub answers it nothing.
    const refused = await run(VIGIL_PHONE, ['cameras', '--profile', gone], { timeoutMs: 90_000 });
    expect(refused.code).not.toBe(0);

    // The code never shows in either hub's output (nor its base32 body without dashes).
    for (const output of [firstOutput, hub.output()]) {
      expect(output).not.toContain(code);
      expect(output).not.toContain(code.replace(/-/g, '').slice(3, 30));
    }
  }, 300_000);
});
