// Snapshots and PTZ from phones, end to end (T9): a camera found by ONVIF discovery is added with the
// owner's credentials; an owner's phone moves it and takes a snapshot; a viewer's phone may take a
// snapshot but not move it; a removed phone can do neither; refusals are in the audit log. A stolen
// owner phone can queue only a few moves, and none of them runs once it is removed. All in a
// private network namespace (WS-Discovery is multicast), with the ONVIF device mock as the camera.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { readFileSync } from 'node:fs';
import { Netns, netnsSupport } from '../support/netns/netns.ts';
import { startOnvifMock, type OnvifMock } from '../support/onvif/mock.ts';
import { ROOT, VIGIL, VIGIL_PHONE, tempDir, stopAll } from '../support/system.ts';

const support = netnsSupport();
if (!support.ok) console.warn(`[onvif e2e] SKIPPED: ${support.reason}`);

let ns: Netns;
let mock: OnvifMock;
let dir: string;
const hubDir = () => join(dir, 'hub');
const owner = () => join(dir, 'owner.json');
const viewer = () => join(dir, 'viewer.json');
const stolen = () => join(dir, 'stolen.json');
let stolenId = '';
let viewerId = '';
const moveCount = () => (mock.output().match(/received ptz ContinuousMove/g) ?? []).length;

async function pair(profile: string, role: 'owner' | 'viewer'): Promise<string> {
  const invite = ns.spawn(VIGIL, ['invite', '--data', hubDir(), '--yes', '--role', role]);
  await ns.waitFor(invite, /pairing link: \S+/, 20_000);
  const link = /pairing link: (\S+)/.exec(invite.output)![1]!;
  const r = await ns.run(VIGIL_PHONE, ['pair', link, '--profile', profile], { timeoutMs: 60_000 });
  expect(r.code, r.stdout + r.stderr).toBe(0);
  await ns.waitFor(invite, /\(device [0-9a-f]{32}\)/, 20_000);
  return /\(device ([0-9a-f]{32})\)/.exec(invite.output)![1]!;
}

async function waitUntil(condition: () => boolean, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('timed out waiting');
    await new Promise((r) => setTimeout(r, 50));
  }
}

const phone = (profile: string, ...args: string[]) => ns.run(VIGIL_PHONE, [args[0]!, '--profile', profile, ...args.slice(1)], { timeoutMs: 60_000 });

describe.skipIf(!support.ok)('ONVIF snapshot and PTZ from phones (T9)', () => {
  beforeAll(async () => {
    dir = tempDir();
    ns = Netns.create('onvife2e');
    const camera = ns.spawn('/usr/bin/python3', [join(ROOT, 'test/support/camera/rtsp-camera.py'), '--port', '8554', '--size', '640x360', '--fps', '15', '--run-seconds', '200']);
    await ns.waitFor(camera, '"event": "ready"', 20_000);
    mock = await startOnvifMock(ns, { port: 10101, streamUri: 'rtsp://127.0.0.1:8554/cam' });
    const relay = ns.spawn(VIGIL, ['relay', '--listen', '127.0.0.1:8787']);
    await ns.waitFor(relay, /relay listening/, 20_000);
    const hub = ns.spawn(VIGIL, ['hub', '--data', hubDir(), '--relay', 'ws://127.0.0.1:8787/v1']);
    await ns.waitFor(hub, /hub [0-9a-f]+ running/, 30_000);
    const found = await ns.run(VIGIL, ['discover', '--data', hubDir(), '--seconds', '3', '--json'], { timeoutMs: 30_000 });
    const device = found.stdout.trim().split('\n').map((l) => JSON.parse(l) as { id: string; via: string[] }).find((d) => d.via.includes('onvif'));
    expect(device, found.stdout + found.stderr).toBeDefined();
    const added = await ns.run(VIGIL, ['camera', 'add', '--data', hubDir(), '--from-discovery', device!.id, '--user', 'admin', '--password', 'secret', '--name', 'Porch'], { timeoutMs: 30_000 });
    expect(added.code, added.stdout + added.stderr).toBe(0);
    await pair(owner(), 'owner');
    viewerId = await pair(viewer(), 'viewer');
    stolenId = await pair(stolen(), 'owner');
  }, 150_000);

  afterAll(async () => {
    await ns?.destroy();
    await stopAll();
  });

  it('the owner moves the camera and takes a snapshot; the viewer may only take a snapshot', async () => {
    const move = await phone(owner(), 'ptz', '--camera', 'Porch', '--move', '0.5,0,0', '--seconds', '1');
    expect(move.code, move.stdout + move.stderr).toBe(0);
    expect(mock.output()).toMatch(/ContinuousMove/);
    const shot = join(dir, 'porch.jpg');
    const snap = await phone(owner(), 'snapshot', '--camera', 'Porch', '--out', shot);
    expect(snap.code, snap.stdout + snap.stderr).toBe(0);
    const jpeg = readFileSync(shot);
    expect(jpeg.subarray(0, 2).toString('hex')).toBe('ffd8');

    const denied = await phone(viewer(), 'ptz', '--camera', 'Porch', '--stop');
    expect(denied.code).not.toBe(0);
    expect(denied.stderr).toMatch(/refused: forbidden/);
    const viewerShot = await phone(viewer(), 'snapshot', '--camera', 'Porch', '--out', join(dir, 'v.jpg'));
    expect(viewerShot.code, viewerShot.stderr).toBe(0);
  }, 90_000);

  // A stolen owner phone sends 7 moves of 20 s each at once, in one session (a script, so they need
  // not wait for answers).
  // Started once, by whichever of the two F4 tests runs first, so each also runs alone.
  let bursting: Promise<{ burst: ReturnType<Netns['spawn']>; beforeBurst: number }> | undefined;
  const stolenPhoneBurst = () => (bursting ??= (async () => {
    const beforeBurst = moveCount();
    const burst = ns.spawn(process.execPath, ['--import', 'tsx', join(ROOT, 'test/support/ptz-burst.ts'), stolen(), 'Porch', '7', '20', '60000']);
    // The hub refuses what is over the cap at once, with a reason the phone can show.
    await ns.waitFor(burst, /("event":"refused".*queue[\s\S]*){3}/, 30_000);
    return { burst, beforeBurst };
  })());

  it('a phone may have only 4 PTZ actions waiting per camera; the rest are refused at once (F4)', async () => {
    const { burst } = await stolenPhoneBurst();
    expect((burst.output.match(/"event":"refused"/g) ?? []).length).toBe(3);
  }, 60_000);

  it('once the phone is removed none of its queued moves runs, and the running one stops (F4)', async () => {
    const { burst, beforeBurst } = await stolenPhoneBurst();
    await waitUntil(() => moveCount() > beforeBurst, 20_000);
    const moveStarted = Date.now();
    expect(moveCount()).toBe(beforeBurst + 1); // the first move runs; the others wait behind it

    // The owner removes the stolen phone while one move runs and the others wait.
    const mark = mock.output().length;
    const movesAtMark = moveCount();
    const r = await ns.run(VIGIL, ['devices', 'revoke', '--data', hubDir(), stolenId]);
    expect(r.code, r.stderr).toBe(0);
    // The owner's own move queues behind whatever is left: once it is done, the queue has drained.
    const own = await phone(owner(), 'ptz', '--camera', 'Porch', '--move', '0,0.5,0', '--seconds', '1');
    expect(moveCount() - movesAtMark).toBe(1); // the owner's, nothing of the removed phone's
    expect(own.code, own.stdout + own.stderr).toBe(0);
    // Had the removed phone's 20 s move run its course, the owner's could not have ended sooner.
    expect(Date.now() - moveStarted).toBeLessThan(20_000);
    expect(mock.output().length).toBeLessThan(64 * 1024); // (`mark` is an offset into output kept up to 64 KiB)
    const after = mock.output().slice(mark);
    // The move that was running when the phone was removed was stopped before the owner's started.
    expect(after).toMatch(/^[\s\S]*?received ptz Stop[\s\S]*received ptz ContinuousMove/);
    burst.kill('SIGTERM');
  }, 90_000);

  it('a removed phone can no longer move the camera; what phones did and were refused is audited', async () => {
    // An owner phone of its own, which moves the camera and takes a snapshot before it is lost.
    const lost = join(dir, 'lost.json');
    const lostId = await pair(lost, 'owner');
    const move = await phone(lost, 'ptz', '--camera', 'Porch', '--move', '0.5,0,0', '--seconds', '1');
    expect(move.code, move.stdout + move.stderr).toBe(0);
    const snap = await phone(lost, 'snapshot', '--camera', 'Porch', '--out', join(dir, 'lost.jpg'));
    expect(snap.code, snap.stdout + snap.stderr).toBe(0);
    const r = await ns.run(VIGIL, ['devices', 'revoke', '--data', hubDir(), lostId]);
    expect(r.code, r.stderr).toBe(0);
    const moves = (mock.output().match(/ContinuousMove/g) ?? []).length;
    const after = await phone(lost, 'ptz', '--camera', 'Porch', '--move', '0,0.5,0', '--seconds', '1');
    expect(after.code).not.toBe(0);
    expect((mock.output().match(/ContinuousMove/g) ?? []).length).toBe(moves);
    // A viewer's move, refused by the hub. (The removed phone's own attempt never reaches the hub:
    // the relay already drops it, so the hub has nothing to write down for it.)
    const denied = await phone(viewer(), 'ptz', '--camera', 'Porch', '--stop');
    expect(denied.code).not.toBe(0);

    const { url } = JSON.parse(readFileSync(join(hubDir(), 'hub.json'), 'utf8')) as { url: string };
    const token = readFileSync(join(hubDir(), 'api-token'), 'utf8').trim();
    const script = `const r = await fetch('${url}/api/call/audit', { method: 'POST', headers: { authorization: 'Bearer ${token}' }, body: JSON.stringify({ args: [100] }) }); console.log(await r.text());`;
    const audit = JSON.parse((await ns.run(process.execPath, ['--input-type=module', '-e', script])).stdout) as { action: string; actor: string; detail: { device?: string; reason?: string } }[];
    const actions = audit.filter((a) => a.actor === lostId).map((a) => a.action);
    expect(actions).toContain('ptz');
    expect(actions).toContain('snapshot');
    expect(audit.filter((a) => a.actor === viewerId && a.action === 'command-refused').map((a) => a.detail.reason)).toContain('forbidden');
    expect(audit.filter((a) => a.action === 'revoked').map((a) => a.detail.device)).toContain(lostId);
  }, 90_000);
});
