// Guests limited by keys, not by promises (issue 18, PROTOCOL §16.3), end to end: the real hub,
// relay (behind a wiretap: a full capture of what it carried), RTSP test camera and phones. A guest
// for one camera watches it, is refused the other, and even the keys it holds open none of the other
// camera's frames the relay carried; at --until the hub removes it (new epoch, roster log entry) and
// it opens nothing sealed after; a viewer limited to one camera likewise, and no recordings. The
// owner's phone shows each one's scope.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { cryptoReady } from '../../crypto/sodium.ts';
import { isCryptoError } from '../../crypto/errors.ts';
import { toHex } from '../../crypto/bytes.ts';
import { FrameOpener } from '../../crypto/frame.ts';
import { runningHub } from '../../main/cli/api-client.ts';
import type { CameraInfo, HubLink } from '../../phone/core/hub-link.ts';
import { startCamera, stopAllCameras } from '../support/camera/camera.ts';
import { startRelayTap, type RelayTap } from '../support/relay-tap.ts';
import { keyKeepingPhone, openedBy, refusalOf, type Held } from '../support/key-keeping-phone.ts';
import {
  VIGIL, VIGIL_PHONE, addCamera, fragmentsIn, pairPhone, run, start, startHub, startRelay, stopAll, tempDir, waitForCameraState, waitUntil,
} from '../support/system.ts';

const FRONT = 'Front door';
const BACK = 'Back yard';

let dir: string;
let hubDir: string;
let tap: RelayTap;
let owner: string;
const links: HubLink[] = [];
let cams: { front: CameraInfo; back: CameraInfo };

/** `vigil invite --yes` with a role and scope, and `vigil-phone pair` on the phone's side. */
async function pairScoped(profile: string, name: string, args: string[]): Promise<{ deviceId: string; said: string }> {
  const invite = start(VIGIL, ['invite', '--data', hubDir, '--yes', ...args], { maxSeconds: 90 });
  const [, link] = await invite.waitFor(/pairing link: (\S+)/);
  const pair = await run(VIGIL_PHONE, ['pair', link!, '--profile', profile, '--name', name], { timeoutMs: 60_000 });
  if (pair.code !== 0) throw new Error(`pair failed: ${pair.stdout}\n${pair.stderr}`);
  const m = await invite.waitFor(/paired "[^"]*" as \w+ \(device ([0-9a-f]{32})\)/);
  await invite.stop();
  return { deviceId: m[1]!, said: invite.output() };
}

/**
 * The most of `frames` that the keys of any one key update a phone took open, each update tried
 * with an opener of its own (so no replay window stands in for a missing key). A frame that does
 * not open must fail as a CryptoError, or the test fails.
 */
function opens(updates: readonly Held[], frames: readonly Uint8Array[]): number {
  let most = 0;
  for (const u of updates) {
    const opener = new FrameOpener();
    for (const c of u.cameras) opener.addKey({ hubId: u.hubId, cameraId: c.cameraId, cameraNumber: c.cameraNumber, epoch: u.epoch, key: c.key });
    let n = 0;
    for (const f of frames) {
      try {
        opener.open(f);
        n++;
      } catch (e) {
        if (!isCryptoError(e)) throw e;
      }
    }
    most = Math.max(most, n);
  }
  return most;
}

async function hubApi() {
  const api = await runningHub(hubDir);
  if (api === undefined) throw new Error('the hub is not running');
  return api;
}

beforeAll(async () => {
  await cryptoReady();
  dir = tempDir();
  hubDir = join(dir, 'hub');
  const camera = await startCamera({ codec: 'h264', size: '320x240', fps: 15, gop: 15 });
  tap = await startRelayTap();
  const r = await startRelay('127.0.0.1:0', ['--public-host', tap.host]);
  tap.setUpstream(r.url);
  await startHub(hubDir, tap.url, ['--no-lan']);
  await addCamera(hubDir, FRONT, camera.url);
  await addCamera(hubDir, BACK, camera.url);
  owner = join(dir, 'owner.json');
  await pairPhone(hubDir, owner, 'Anna');
  await Promise.all([waitForCameraState(hubDir, FRONT, ['live'], 60_000), waitForCameraState(hubDir, BACK, ['live'], 60_000)]);
  const o = await keyKeepingPhone(owner, links);
  const list = await o.link.listCameras();
  cams = { front: list.find((c) => c.name === FRONT)!, back: list.find((c) => c.name === BACK)! };
  await o.link.close();
}, 180_000);

afterAll(async () => {
  await Promise.all(links.map((l) => l.close().catch(() => undefined)));
  await tap?.close();
  await stopAll();
  await stopAllCameras();
});

describe('a guest for one camera', () => {
  it('watches it; is refused the other; its keys open none of the other camera\'s frames the relay carried; the owner sees its scope', async () => {
    const profile = join(dir, 'guest.json');
    const { deviceId, said } = await pairScoped(profile, 'Visitor', ['--role', 'guest', '--camera', FRONT, '--until', 'now+10m']);
    expect(said).toMatch(/for a guest seeing "Front door" only, live until /);
    expect(said).toMatch(/paired "Visitor" as guest/);

    // The camera list a guest gets holds its camera only.
    const listed = await run(VIGIL_PHONE, ['cameras', '--profile', profile, '--json'], { timeoutMs: 60_000 });
    expect(listed.code, listed.stderr).toBe(0);
    expect(listed.stdout.trim().split('\n').map((l) => (JSON.parse(l) as { name: string }).name)).toEqual([FRONT]);
    // It watches it, decrypted, from the real programs.
    const out = join(dir, 'guest-front.mp4');
    const w = await run(VIGIL_PHONE, ['watch', '--profile', profile, '--camera', FRONT, '--seconds', '3', '--out', out], { timeoutMs: 90_000 });
    expect(w.code, w.stderr).toBe(0);
    expect(fragmentsIn(out)).toBeGreaterThan(5);
    // The CLI does not even offer the other camera...
    const other = await run(VIGIL_PHONE, ['watch', '--profile', profile, '--camera', BACK, '--seconds', '2', '--out', join(dir, 'x.mp4')], { timeoutMs: 60_000 });
    expect(other.code).not.toBe(0);

    // ... and the hub refuses it when asked straight, by its id, whatever the phone's app does.
    const backFrames: Uint8Array[] = [];
    const o = await keyKeepingPhone(owner, links, (p) => backFrames.push(p));
    const g = await keyKeepingPhone(profile, links);
    expect(await refusalOf(g.link.command('watch', { camera: cams.back.id }))).toBe('not-in-scope');
    expect(await refusalOf(g.link.command('watch', { camera: BACK }))).toBe('not-in-scope');
    expect(await refusalOf(g.link.command('snapshot', { camera: cams.back.id }))).toBe('not-in-scope');
    // Live only: no recordings, no recording keys, no events, no roster changes of its own.
    expect(await refusalOf(g.link.command('recordings', { camera: cams.front.id }))).toBe('forbidden');
    expect(await refusalOf(g.link.command('recording-keys', {}))).toBe('forbidden');
    expect(await refusalOf(g.link.command('events', {}))).toBe('forbidden');
    expect(await refusalOf(g.link.command('share-history', { to: deviceId, keys: [] }))).toBe('forbidden');

    // The owner watches the other camera through the relay; the guest holds the keys it was given.
    await g.link.watch(cams.front);
    await o.link.watch(cams.back);
    await waitUntil('frames of the back camera on the relay', () => backFrames.length >= 20, 60_000);
    await waitUntil('the guest opens its own camera', () => g.link.counters.opened >= 5, 60_000);
    expect(g.updates.length).toBeGreaterThan(0);
    // Every key update it got holds keys of the front camera only.
    for (const u of g.updates) {
      expect(u.cameras.length).toBeGreaterThan(0);
      for (const c of u.cameras) expect(toHex(c.cameraId)).toBe(cams.front.id);
    }
    // Even with every key it holds, not one of the back camera's frames (a full capture) opens.
    expect(opens(o.updates, backFrames), 'the owner opens the captured frames: the capture is real').toBeGreaterThan(0);
    expect(opens(g.updates, backFrames)).toBe(0);

    // Typed, counted and audited on the hub.
    const audit = await (await hubApi()).call('audit', 200);
    expect(audit.some((a) => a.actor === deviceId && a.action === 'command-refused' && /not-in-scope/.test(JSON.stringify(a.detail)))).toBe(true);
    // The command-line phones below log in with these profiles' relay keys: one client per key at a time.
    await Promise.all([o.link.close(), g.link.close()]);

    // The owner's phone shows the guest's scope, as the roster log every phone checks says it.
    const alerts = await run(VIGIL_PHONE, ['alerts', '--profile', owner, '--json'], { timeoutMs: 60_000 });
    expect(alerts.code, alerts.stderr).toBe(0);
    const added = alerts.stdout.trim().split('\n').map((l) => JSON.parse(l) as { change: string; name: string; role: string; scope?: { cameras: string[]; until: number } })
      .find((a) => a.name === 'Visitor');
    expect(added).toMatchObject({ change: 'added', role: 'guest', scope: { cameras: [cams.front.id] } });
    expect(added!.scope!.until).toBeGreaterThan(Date.now());
    const text = await run(VIGIL_PHONE, ['alerts', '--profile', owner], { timeoutMs: 60_000 });
    expect(text.stdout).toMatch(/"Visitor".*added as guest \(cameras "Front door" until \d{4}-.*, live only\)/);
    // The guest's own phone says what it may see and until when.
    const mine = await run(VIGIL_PHONE, ['roster', '--profile', profile], { timeoutMs: 60_000 });
    expect(mine.code, mine.stderr).toBe(0);
    expect(mine.stdout).toMatch(/this phone: guest, cameras "Front door" until \d{4}-/);
    // And the hub's own roster command.
    const hubRoster = await run(VIGIL, ['roster', '--data', hubDir, '--json']);
    const entry = hubRoster.stdout.trim().split('\n').map((l) => JSON.parse(l) as { name?: string; scope?: { names: string[] } }).find((e) => e.name === 'Visitor');
    expect(entry?.scope?.names).toEqual([FRONT]);
  }, 400_000);
});

describe('a guest\'s window', () => {
  it('at --until the hub removes it: a roster log entry, a new epoch, and it opens nothing sealed after', async () => {
    const profile = join(dir, 'guest-short.json');
    const { deviceId } = await pairScoped(profile, 'Cleaner', ['--role', 'guest', '--camera', FRONT, '--until', 'now+45s']);
    const afterFrames: Uint8Array[] = [];
    let removedEpoch = Number.MAX_SAFE_INTEGER;
    const o = await keyKeepingPhone(owner, links, (p) => afterFrames.push(p));
    const g = await keyKeepingPhone(profile, links);
    await g.link.watch(cams.front);
    await waitUntil('the guest opens its camera in its window', () => g.link.counters.opened >= 3, 60_000);
    await o.link.watch(cams.front);

    // Waited on the hub's roster log, not on a clock.
    const api = await hubApi();
    await waitUntil('the hub removes the guest at --until', async () => {
      const roster = await api.call('roster');
      return roster.entries.some((e) => e.change === 'removed' && e.deviceId === deviceId);
    }, 120_000, 500);
    const roster = await api.call('roster');
    const removed = roster.entries.find((e) => e.change === 'removed' && e.deviceId === deviceId)!;
    expect(removed.by).toMatch(/window ended/);
    expect(removed.scope?.cameras).toEqual([cams.front.id]);
    expect(removed.at).toBeGreaterThanOrEqual(roster.entries.find((e) => e.deviceId === deviceId)!.at);
    removedEpoch = (await api.call('status')).epoch;
    const audit = await api.call('audit', 200);
    expect(audit.some((a) => a.action === 'revoked' && a.actor === 'hub' && /window-ended/.test(JSON.stringify(a.detail)))).toBe(true);
    expect((await api.call('listPhones')).find((p) => p.id === deviceId)?.revoked).toBe(true);

    // It holds no key of the new epoch...
    expect(g.updates.length).toBeGreaterThan(0);
    expect(Math.max(...g.updates.map((u) => u.epoch))).toBeLessThan(removedEpoch);
    // ... and what the relay carries of its camera from then on opens for the owner, not for it.
    const from = afterFrames.length;
    await waitUntil('frames of the new epoch on the relay', () => afterFrames.length >= from + 20, 60_000);
    const fresh = afterFrames.slice(from + 5);
    expect(opens(o.updates, fresh)).toBeGreaterThan(0);
    expect(opens(g.updates, fresh)).toBe(0);
    // Its session is gone and it cannot start another: commands get no answer or a refusal.
    expect(await refusalOf(g.link.command('list-cameras'))).toBeDefined();
    await Promise.all([o.link.close(), g.link.close()]);
  }, 400_000);
});

describe('a guest before its window', () => {
  it('is on the roster and connects, but holds no key and may not watch until --from; then a new epoch gives it its camera', async () => {
    const profile = join(dir, 'guest-later.json');
    const { deviceId } = await pairScoped(profile, 'Plumber', ['--role', 'guest', '--camera', FRONT, '--from', 'now+45s', '--until', 'now+10m']);
    const api = await hubApi();
    expect((await api.call('roster')).entries.some((e) => e.change === 'added' && e.deviceId === deviceId && e.scope !== undefined)).toBe(true);
    const frontFrames: Uint8Array[] = [];
    const o = await keyKeepingPhone(owner, links, (p) => frontFrames.push(p));
    const g = await keyKeepingPhone(profile, links);
    // It reached the hub (a session, the roster log checked): its key updates hold no camera.
    expect(g.updates.length).toBeGreaterThan(0);
    for (const u of g.updates) expect(u.cameras).toEqual([]);
    expect(await g.link.listCameras()).toEqual([]);
    expect(await refusalOf(g.link.command('watch', { camera: cams.front.id }))).toBe('outside-window');
    await o.link.watch(cams.front);
    await waitUntil('frames of the front camera before --from', () => frontFrames.length >= 10, 60_000);
    expect(opens(g.updates, frontFrames)).toBe(0);
    const before = (await api.call('status')).epoch;

    // At --from the hub starts a new epoch; the guest's next key update holds its camera.
    await waitUntil('the guest gets its camera\'s key at --from', () => g.updates.some((u) => u.cameras.length > 0), 90_000, 250);
    const first = g.updates.find((u) => u.cameras.length > 0)!;
    expect(first.epoch).toBeGreaterThan(before);
    // Its camera's own stream and its profiles (the same camera id), nothing else.
    expect([...new Set(first.cameras.map((c) => toHex(c.cameraId)))]).toEqual([cams.front.id]);
    // Nothing from before --from opens with it: the frames the owner's keys of the epochs before open.
    const beforeFrom = openedBy(o.updates.filter((u) => u.epoch <= before), frontFrames);
    expect(beforeFrom.length).toBeGreaterThanOrEqual(10);
    expect(opens([first], beforeFrom)).toBe(0);
    // While frames of its window do (the search works).
    await waitUntil('frames of the guest\'s epoch on the relay', () => openedBy([first], frontFrames).length >= 3, 60_000);
    expect((await g.link.listCameras()).map((c) => c.name)).toEqual([FRONT]);
    await g.link.watch(cams.front);
    await waitUntil('the guest watches inside its window', () => g.link.counters.opened >= 3, 60_000);
    await Promise.all([o.link.close(), g.link.close()]);
  }, 400_000);
});

describe('a viewer limited to one camera', () => {
  it('watches that one only, live; the owner\'s roster shows its scope', async () => {
    const profile = join(dir, 'viewer.json');
    await pairScoped(profile, 'Neighbour', ['--role', 'viewer', '--camera', BACK]);
    const listed = await run(VIGIL_PHONE, ['cameras', '--profile', profile, '--json'], { timeoutMs: 60_000 });
    expect(listed.code, listed.stderr).toBe(0);
    expect(listed.stdout.trim().split('\n').map((l) => (JSON.parse(l) as { name: string }).name)).toEqual([BACK]);
    const out = join(dir, 'viewer-back.mp4');
    const w = await run(VIGIL_PHONE, ['watch', '--profile', profile, '--camera', BACK, '--seconds', '3', '--out', out], { timeoutMs: 90_000 });
    expect(w.code, w.stderr).toBe(0);
    expect(fragmentsIn(out)).toBeGreaterThan(5);

    const frontFrames: Uint8Array[] = [];
    const o = await keyKeepingPhone(owner, links, (p) => frontFrames.push(p));
    const v = await keyKeepingPhone(profile, links);
    expect(await refusalOf(v.link.command('watch', { camera: cams.front.id }))).toBe('not-in-scope');
    // A viewer's role allows recordings; its scope does not (a recording epoch opens every camera).
    expect(await refusalOf(v.link.command('recordings', { camera: cams.back.id }))).toBe('live-only');
    expect(await refusalOf(v.link.command('recording-keys', {}))).toBe('live-only');
    expect(await refusalOf(v.link.command('events', {}))).toBe('live-only');
    await v.link.watch(cams.back);
    await o.link.watch(cams.front);
    await waitUntil('frames of the front camera on the relay', () => frontFrames.length >= 20, 60_000);
    await waitUntil('the viewer opens its camera', () => v.link.counters.opened >= 3, 60_000);
    for (const u of v.updates) for (const c of u.cameras) expect(toHex(c.cameraId)).toBe(cams.back.id);
    expect(opens(o.updates, frontFrames)).toBeGreaterThan(0);
    expect(opens(v.updates, frontFrames)).toBe(0);
    await Promise.all([o.link.close(), v.link.close()]);

    const roster = await run(VIGIL_PHONE, ['roster', '--profile', owner, '--json'], { timeoutMs: 60_000 });
    expect(roster.code, roster.stderr).toBe(0);
    const members = (JSON.parse(roster.stdout.trim().split('\n').pop()!) as { members: { name: string; role: string; scope?: { cameras: string[] } }[] }).members;
    expect(members.find((m) => m.name === 'Neighbour')).toMatchObject({ role: 'viewer', scope: { cameras: [cams.back.id] } });
    expect(members.find((m) => m.name === 'Anna')?.scope).toBeUndefined();
  }, 400_000);
});
