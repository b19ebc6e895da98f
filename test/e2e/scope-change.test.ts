// Changing a paired phone's cameras without pairing again (issue 18, PROTOCOL §16.3), end to end:
// the real hub, relay, RTSP test camera, `vigil devices scope` and phones (command line and in this
// process, whose key updates the test keeps). A viewer limited to camera A is widened to A and B:
// it gets B's keys and watches B. Narrowed back to A, it gets no key of B's in the new epoch, the hub
// refuses B's live, and even every key it ever held opens none of B's frames sealed after the change
// (the attacker's view: a phone that kept B's keys from before). The roster log says each change,
// and the owner's `vigil-phone alerts` and `roster` show it.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { cryptoReady } from '../../crypto/sodium.ts';
import { toHex } from '../../crypto/bytes.ts';
import { runningHub } from '../../main/cli/api-client.ts';
import type { CameraInfo, HubLink } from '../../phone/core/hub-link.ts';
import { startCamera, stopAllCameras } from '../support/camera/camera.ts';
import { keyKeepingPhone, openedBy, refusalOf } from '../support/key-keeping-phone.ts';
import {
  VIGIL, VIGIL_PHONE, addCamera, fragmentsIn, pairPhone, run, start, startHub, startRelay, stopAll, tempDir, waitForCameraState, waitUntil,
} from '../support/system.ts';

const A = 'Garage';
const B = 'Garden';

let dir: string;
let hubDir: string;
let owner: string;
let viewer: string;
let viewerId: string;
const links: HubLink[] = [];
let cams: { a: CameraInfo; b: CameraInfo };

async function hubApi() {
  const api = await runningHub(hubDir);
  if (api === undefined) throw new Error('the hub is not running');
  return api;
}

/** `vigil devices scope`; returns the new epoch the hub started for it. */
async function changeScope(args: string[]): Promise<{ stdout: string; epoch: number }> {
  const before = (await (await hubApi()).call('status')).epoch;
  const r = await run(VIGIL, ['devices', 'scope', '--data', hubDir, viewerId, ...args], { timeoutMs: 60_000 });
  expect(r.code, r.stderr).toBe(0);
  const epoch = (await (await hubApi()).call('status')).epoch;
  expect(epoch, 'a new epoch on every change of scope').toBeGreaterThan(before);
  return { stdout: r.stdout, epoch };
}

function cameraNames(stdout: string): string[] {
  return stdout.trim().split('\n').map((l) => (JSON.parse(l) as { name: string }).name).sort();
}

interface Alert { seq: number; change: string; name: string; role: string; scope?: { cameras: string[] } }

async function ownerAlerts(): Promise<Alert[]> {
  const r = await run(VIGIL_PHONE, ['alerts', '--profile', owner, '--json'], { timeoutMs: 60_000 });
  expect(r.code, r.stderr).toBe(0);
  return r.stdout.trim().split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as Alert);
}

beforeAll(async () => {
  await cryptoReady();
  dir = tempDir();
  hubDir = join(dir, 'hub');
  const camera = await startCamera({ codec: 'h264', size: '320x240', fps: 15, gop: 15 });
  const relay = await startRelay('127.0.0.1:0');
  await startHub(hubDir, relay.url, ['--no-lan']);
  await addCamera(hubDir, A, camera.url);
  await addCamera(hubDir, B, camera.url);
  owner = join(dir, 'owner.json');
  await pairPhone(hubDir, owner, 'Anna');
  await Promise.all([waitForCameraState(hubDir, A, ['live'], 60_000), waitForCameraState(hubDir, B, ['live'], 60_000)]);
  const o = await keyKeepingPhone(owner, links);
  const list = await o.link.listCameras();
  cams = { a: list.find((c) => c.name === A)!, b: list.find((c) => c.name === B)! };
  await o.link.close();
  // A viewer limited to A, paired as `vigil invite` pairs one.
  viewer = join(dir, 'viewer.json');
  const invite = start(VIGIL, ['invite', '--data', hubDir, '--yes', '--role', 'viewer', '--camera', A], { maxSeconds: 90 });
  const [, link] = await invite.waitFor(/pairing link: (\S+)/);
  const pair = await run(VIGIL_PHONE, ['pair', link!, '--profile', viewer, '--name', 'Neighbour'], { timeoutMs: 60_000 });
  if (pair.code !== 0) throw new Error(`pair failed: ${pair.stdout}\n${pair.stderr}`);
  viewerId = (await invite.waitFor(/paired "[^"]*" as viewer \(device ([0-9a-f]{32})\)/))[1]!;
  await invite.stop();
}, 240_000);

afterAll(async () => {
  await Promise.all(links.map((l) => l.close().catch(() => undefined)));
  await stopAll();
  await stopAllCameras();
});

describe('changing a viewer\'s cameras without pairing again', () => {
  it('widened from A to A and B it gets B\'s keys and frames; narrowed back it opens nothing new of B; the roster log and the owner\'s alerts say so', async () => {
    const listed = await run(VIGIL_PHONE, ['cameras', '--profile', viewer, '--json'], { timeoutMs: 60_000 });
    expect(listed.code, listed.stderr).toBe(0);
    expect(cameraNames(listed.stdout)).toEqual([A]);

    // Widened: A and B, at once, no pairing.
    const widened = await changeScope(['--camera', A, '--camera', B]);
    expect(widened.stdout).toMatch(/Neighbour \(viewer\) now sees cameras "Garage", "Garden", live only/);
    const both = await run(VIGIL_PHONE, ['cameras', '--profile', viewer, '--json'], { timeoutMs: 60_000 });
    expect(both.code, both.stderr).toBe(0);
    expect(cameraNames(both.stdout)).toEqual([A, B].sort());
    const out = join(dir, 'viewer-b.mp4');
    const w = await run(VIGIL_PHONE, ['watch', '--profile', viewer, '--camera', B, '--seconds', '3', '--out', out], { timeoutMs: 90_000 });
    expect(w.code, w.stderr).toBe(0);
    expect(fragmentsIn(out)).toBeGreaterThan(5);

    // In this process: the viewer takes B's key of the widened epoch and opens B's frames with it;
    // it keeps every key it took, as a phone that wants more than it is given would.
    const v = await keyKeepingPhone(viewer, links);
    await waitUntil('the widened viewer\'s key update', () => v.updates.some((u) => u.epoch >= widened.epoch), 60_000);
    const wide = v.updates.filter((u) => u.epoch >= widened.epoch);
    for (const u of wide) expect([...new Set(u.cameras.map((c) => toHex(c.cameraId)))].sort()).toEqual([cams.a.id, cams.b.id].sort());
    await v.link.watch(cams.b);
    await waitUntil('the widened viewer opens B', () => v.link.counters.opened >= 3, 60_000);

    // Narrowed back to A while it is connected and watching B.
    const bFrames: Uint8Array[] = [];
    const o = await keyKeepingPhone(owner, links, (p) => bFrames.push(p));
    await o.link.watch(cams.b);
    const narrowed = await changeScope(['--camera', A]);
    expect(narrowed.stdout).toMatch(/Neighbour \(viewer\) now sees cameras "Garage", live only/);

    // B's frames sealed after the change: those the owner's keys of the new epoch open.
    await waitUntil('the owner\'s key of the narrowed epoch', () => o.updates.some((u) => u.epoch >= narrowed.epoch), 60_000);
    const ownerNew = () => o.updates.filter((u) => u.epoch >= narrowed.epoch);
    await waitUntil('B\'s frames of the narrowed epoch on the relay', () => openedBy(ownerNew(), bFrames).length >= 20, 90_000);
    const fresh = openedBy(ownerNew(), bFrames);
    // Nothing new for B: the key updates it got since hold A only...
    await waitUntil('the narrowed viewer\'s key update', () => v.updates.some((u) => u.epoch >= narrowed.epoch), 60_000);
    for (const u of v.updates.filter((x) => x.epoch >= narrowed.epoch)) {
      expect(u.cameras.length).toBeGreaterThan(0);
      for (const c of u.cameras) expect(toHex(c.cameraId)).toBe(cams.a.id);
    }
    // ... and not one of B's new frames opens with every key it ever held (B's of the widened epoch too).
    expect(v.updates.some((u) => u.cameras.some((c) => toHex(c.cameraId) === cams.b.id)), 'it did hold B\'s keys before').toBe(true);
    expect(openedBy(v.updates, fresh)).toHaveLength(0);
    // Asking for B's live, by id and by name, is refused; its camera list is A again.
    expect(await refusalOf(v.link.command('watch', { camera: cams.b.id }))).toBe('not-in-scope');
    expect(await refusalOf(v.link.command('watch', { camera: B }))).toBe('not-in-scope');
    expect((await v.link.listCameras()).map((c) => c.name)).toEqual([A]);
    // A still works for it.
    const openedA = v.link.counters.opened;
    await v.link.watch(cams.a);
    await waitUntil('the narrowed viewer still opens A', () => v.link.counters.opened >= openedA + 3, 60_000);
    // The command-line phones below log in with these profiles' relay keys: one client per key at a time.
    await Promise.all([o.link.close(), v.link.close()]);

    // A new session (a new handshake) brings no key of B either: the command line cannot watch it.
    const again = await run(VIGIL_PHONE, ['watch', '--profile', viewer, '--camera', B, '--seconds', '2', '--out', join(dir, 'x.mp4')], { timeoutMs: 60_000 });
    expect(again.code).not.toBe(0);

    // The roster log: two 'role-changed' entries with the scopes, by the hub's owner; audited.
    const api = await hubApi();
    const entries = (await api.call('roster')).entries.filter((e) => e.deviceId === viewerId);
    expect(entries.map((e) => [e.change, [...(e.scope?.cameras ?? [])].sort()])).toEqual([
      ['added', [cams.a.id]], ['role-changed', [cams.a.id, cams.b.id].sort()], ['role-changed', [cams.a.id]],
    ]);
    expect(entries[1]!.by).toMatch(/local API/);
    const audit = await api.call('audit', 200);
    expect(audit.filter((a) => a.action === 'scope-changed' && a.detail.device === viewerId)).toHaveLength(2);

    // The owner's phone checked the log and shows both changes as alerts, with the scopes.
    const changes = (await ownerAlerts()).filter((a) => a.name === 'Neighbour' && a.change === 'role-changed');
    expect(changes.map((a) => [...(a.scope?.cameras ?? [])].sort())).toEqual([[cams.a.id, cams.b.id].sort(), [cams.a.id]]);
    const text = await run(VIGIL_PHONE, ['alerts', '--profile', owner], { timeoutMs: 60_000 });
    // The log keeps a scope's cameras in id order: either order of names.
    expect(text.stdout).toMatch(/"Neighbour".* is now viewer \(cameras ("Garage", "Garden"|"Garden", "Garage"), live only\), changed by/);
    expect(text.stdout).toMatch(/"Neighbour".* is now viewer \(cameras "Garage", live only\), changed by/);
    const roster = await run(VIGIL_PHONE, ['roster', '--profile', owner, '--json'], { timeoutMs: 60_000 });
    expect(roster.code, roster.stderr).toBe(0);
    const members = (JSON.parse(roster.stdout.trim().split('\n').pop()!) as { members: { name: string; role: string; scope?: { cameras: string[] } }[] }).members;
    expect(members.find((m) => m.name === 'Neighbour')).toMatchObject({ role: 'viewer', scope: { cameras: [cams.a.id] } });
    // The viewer's own phone says what it may see now.
    const mine = await run(VIGIL_PHONE, ['roster', '--profile', viewer], { timeoutMs: 60_000 });
    expect(mine.code, mine.stderr).toBe(0);
    expect(mine.stdout).toMatch(/this phone: viewer, cameras "Garage", live only/);
  }, 600_000);

  it('refuses what cannot be a scope: an owner\'s, a guest\'s without cameras, an unknown camera, an unknown phone', async () => {
    const ownerId = (await (await hubApi()).call('listPhones')).find((p) => p.name === 'Anna')!.id;
    const epoch = (await (await hubApi()).call('status')).epoch;
    const cases: [string[], RegExp][] = [
      [['devices', 'scope', '--data', hubDir, ownerId, '--camera', A], /an owner sees every camera/],
      [['devices', 'scope', '--data', hubDir, viewerId, '--camera', 'Attic'], /no camera "Attic"/],
      [['devices', 'scope', '--data', hubDir, viewerId, '--camera', A, '--until', '2001-01-01T00:00:00Z'], /in the past/],
      [['devices', 'scope', '--data', hubDir, 'f'.repeat(32), '--camera', A], /no such phone/],
      [['devices', 'scope', '--data', hubDir, viewerId], /--camera NAME .* or --all/],
    ];
    for (const [args, message] of cases) {
      const r = await run(VIGIL, args, { timeoutMs: 60_000 });
      expect(r.code, args.join(' ')).not.toBe(0);
      expect(r.stderr).toMatch(message);
    }
    // Nothing changed: no new epoch, no entry.
    expect((await (await hubApi()).call('status')).epoch).toBe(epoch);
  }, 300_000);
});
