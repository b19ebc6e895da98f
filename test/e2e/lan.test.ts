// Local-first: at home the phone watches straight from the hub's LAN endpoint, with the same end-to-end
// envelopes, even with no relay at all; with both, it prefers the LAN and moves to the relay and back
// by itself. Two test hosts in network namespaces joined by a virtual cable; mDNS stays on that cable.
// Each test starts from nothing of its own (hub data, camera, profiles) and stops what it started, so
// it passes or fails on its own, also when CI runs it a second time.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { readFileSync } from 'node:fs';
import type { ChildProcess } from 'node:child_process';
import { netnsSupport } from '../support/netns/netns.ts';
import { createLanPair, HUB_ADDR, type LanPair } from '../support/lan/veth.ts';
import { ROOT, VIGIL, VIGIL_PHONE, tempDir, stopAll, ffprobe, fragmentsIn, videoFrameTimes, waitUntil } from '../support/system.ts';
import { fromBase64url, toHex } from '../../crypto/bytes.ts';
import { cryptoReady } from '../../crypto/sodium.ts';
import { lanIdFor } from '../../crypto/identity.ts';

const support = netnsSupport();
const TSX = join(ROOT, 'node_modules/tsx/dist/loader.mjs');
const CAMERA_NAME = 'Kitchen window';
let lan: LanPair;

if (!support.ok) console.warn(`[lan] SKIPPED: ${support.reason}`);

interface Home {
  dir: string;
  hubDir: string;
  camera: ChildProcess;
}

/** A new home: its own directory, hub data and camera (added to the hub). The caller stops the camera. */
async function newHome(): Promise<Home> {
  const dir = tempDir();
  const hubDir = join(dir, 'hub');
  const camera = lan.hub.spawn('/usr/bin/python3', [join(ROOT, 'test/support/camera/rtsp-camera.py'), '--host', '127.0.0.1', '--port', '8554',
    '--size', '640x360', '--fps', '15', '--run-seconds', '200']);
  try {
    await lan.hub.waitFor(camera, '"event": "ready"', 20_000);
    const added = await lan.hub.run(VIGIL, ['camera', 'add', '--data', hubDir, '--name', CAMERA_NAME, 'rtsp://127.0.0.1:8554/cam']);
    expect(added.code, added.stderr).toBe(0);
  } catch (e) {
    await stop(camera);
    throw e;
  }
  return { dir, hubDir, camera };
}

function startHub(hubDir: string, extra: string[]): ChildProcess & { output: string } {
  return lan.hub.spawn(VIGIL, ['hub', '--data', hubDir, '--lan', `${HUB_ADDR}:7447`, '--announce', ...extra]);
}

async function stop(proc: ChildProcess): Promise<void> {
  if (proc.exitCode !== null || proc.signalCode !== null) return;
  const exited = new Promise((r) => proc.once('exit', r));
  proc.kill('SIGTERM');
  const kill = setTimeout(() => proc.kill('SIGKILL'), 5000);
  await exited;
  clearTimeout(kill);
}

async function pair(hubDir: string, profile: string): Promise<void> {
  const invite = lan.hub.spawn(VIGIL, ['invite', '--data', hubDir, '--yes']);
  await lan.hub.waitFor(invite, /pairing link: \S+/, 20_000);
  const link = /pairing link: (\S+)/.exec(invite.output)![1]!;
  const r = await lan.phone.run(VIGIL_PHONE, ['pair', link, '--profile', profile], { timeoutMs: 60_000 });
  expect(r.code, r.stdout + r.stderr).toBe(0);
  await lan.hub.waitFor(invite, /paired "/, 20_000);
  await stop(invite);
}

async function api(hubDir: string, method: string, path: string, body?: unknown): Promise<unknown> {
  const { url } = JSON.parse(readFileSync(join(hubDir, 'hub.json'), 'utf8')) as { url: string };
  const token = readFileSync(join(hubDir, 'api-token'), 'utf8').trim();
  const script = `const r = await fetch(${JSON.stringify(url + path)}, { method: ${JSON.stringify(method)}, headers: { authorization: 'Bearer ${token}', 'content-type': 'application/json' }, body: ${body === undefined ? 'undefined' : JSON.stringify(JSON.stringify(body))} }); console.log(await r.text());`;
  const r = await lan.hub.run(process.execPath, ['--input-type=module', '-e', script], { timeoutMs: 15_000 });
  return JSON.parse(r.stdout);
}

describe.skipIf(!support.ok)('the LAN path', () => {
  beforeAll(async () => {
    await cryptoReady();
    lan = createLanPair();
  }, 60_000);

  afterAll(async () => {
    await lan?.destroy();
    await stopAll();
  });

  it('with no relay at all: pairs over the LAN, watches, and the MP4 plays', async () => {
    const { dir, hubDir, camera } = await newHome();
    const hub = startHub(hubDir, []);
    try {
      await lan.hub.waitFor(hub, /hub [0-9a-f]+ running/, 30_000);
      await homeOnly(dir, hubDir);
    } finally {
      await stop(hub);
      await stop(camera);
    }
  }, 180_000);

  async function homeOnly(dir: string, hubDir: string) {
    const profile = join(dir, 'home.json');
    await pair(hubDir, profile);

    const out = join(dir, 'home.mp4');
    const w = await lan.phone.run(VIGIL_PHONE, ['watch', '--profile', profile, '--camera', CAMERA_NAME, '--seconds', '5', '--out', out, '--mdns'], { timeoutMs: 60_000 });
    expect(w.code, w.stdout + w.stderr).toBe(0);
    expect(w.stdout, w.stdout + w.stderr).toMatch(/at home/);
    const probe = await ffprobe(out);
    expect(probe.streams[0]?.codec_name).toBe('h264');
    expect(Number(probe.streams[0]?.nb_read_frames)).toBeGreaterThan(40);

    // What the hub tells anyone on the LAN who asks holds no camera name and nothing that links two
    // homes. Asked once, long after the hub's first announcements: it must answer the question
    // itself (before, bound to its LAN address, it never heard one and only spoke unasked).
    const p = JSON.parse(readFileSync(profile, 'utf8')) as { hub: { hubId: string; relayKey: string } };
    const hubId = fromBase64url(p.hub.hubId);
    const capture = lan.phone.spawn(process.execPath, ['--import', TSX, join(ROOT, 'test/support/lan/mdns-capture.ts'), '10']);
    await lan.phone.waitFor(capture, '"packets"', 30_000);
    const heard = JSON.parse(capture.output.trim().split('\n').pop()!) as { packets: string[]; answered: { ptr: boolean; txt: boolean; srv: boolean } };
    const packets = heard.packets.map((b) => Buffer.from(b, 'base64'));
    const all = Buffer.concat(packets);
    expect(heard.answered, `${packets.length} packets`).toEqual({ ptr: true, txt: true, srv: true });
    expect(all.includes('_vigil'), `${packets.length} packets`).toBe(true);
    expect(all.includes(toHex(lanIdFor(hubId))), 'lan id').toBe(true); // the phone's way to recognise its hub
    for (const secret of [CAMERA_NAME, toHex(hubId), toHex(fromBase64url(p.hub.relayKey))]) expect(all.includes(secret), secret).toBe(false);
    expect(all.includes(Buffer.from(hubId))).toBe(false);
    expect(all.includes(Buffer.from(fromBase64url(p.hub.relayKey)))).toBe(false);

    // A stranger on the LAN reaches the endpoint but gets nothing, and its flood is bounded.
    const cams = await lan.hub.run(VIGIL, ['camera', 'list', '--data', hubDir, '--json']);
    const topic = (JSON.parse(cams.stdout.trim().split('\n')[0]!) as { topic: string }).topic;
    const s = await lan.phone.run(process.execPath, ['--import', TSX, join(ROOT, 'test/support/lan/stranger.ts'),
      `ws://${HUB_ADDR}:7447/v1`, toHex(fromBase64url(p.hub.relayKey)), topic], { timeoutMs: 40_000 });
    const result = JSON.parse(s.stdout.trim().split('\n').pop()!) as { loggedIn: boolean; subscribe: string; send: string; mediaReceived: number; flood: { challenged: number; refused: number } };
    expect(result.subscribe).toBe('no-capability');
    expect(result.send).toBe('no-capability');
    expect(result.mediaReceived).toBe(0);
    expect(result.flood.refused, JSON.stringify(result)).toBeGreaterThan(0);
    expect(result.flood.challenged).toBeLessThanOrEqual(64);
  }

  it('with relay and LAN: prefers the LAN, moves to the relay when the LAN endpoint stops, and back', async () => {
    const { dir, hubDir, camera } = await newHome();
    const relay = lan.hub.spawn(VIGIL, ['relay', '--listen', `${HUB_ADDR}:8787`]);
    let hub: (ChildProcess & { output: string }) | undefined;
    try {
      await lan.hub.waitFor(relay, /relay listening/);
      hub = startHub(hubDir, ['--relay', `ws://${HUB_ADDR}:8787/v1`]);
      await lan.hub.waitFor(hub, /hub [0-9a-f]+ running/, 30_000);
      await bothPaths(dir, hubDir);
    } finally {
      if (hub !== undefined) await stop(hub);
      await stop(relay);
      await stop(camera);
    }
  }, 180_000);

  async function bothPaths(dir: string, hubDir: string) {
    const profile = join(dir, 'both.json');
    await pair(hubDir, profile);
    const out = join(dir, 'both.mp4');
    const watch = lan.phone.spawn(VIGIL_PHONE, ['watch', '--profile', profile, '--camera', CAMERA_NAME, '--seconds', '22', '--out', out]);
    const exited = new Promise((r) => watch.once('exit', r));
    try {
      await moves(hubDir, watch, out);
      await exited;
    } finally {
      await stop(watch);
    }
    expect(watch.exitCode, watch.output).toBe(0);
    const times = await videoFrameTimes(out);
    const end = Math.max(...times);
    // Writing went on across both moves: frames from all along, and a whole stream at the end.
    expect(end - Math.min(...times)).toBeGreaterThan(15);
    expect(times.filter((t) => t >= end - 4).length).toBeGreaterThanOrEqual(Math.floor(4 * 15 * 0.9));
  }

  /** On the LAN, then through the relay while the LAN endpoint is stopped, then home again. */
  async function moves(hubDir: string, watch: ChildProcess & { output: string }, out: string) {
    await lan.phone.waitFor(watch, /path: at home/, 20_000);
    // Video on each path before the next move: 8 more fragments in the file (about 2.4 s).
    let mark = fragmentsIn(out);
    await waitUntil('8 fragments at home', () => fragmentsIn(out) >= mark + 8, 20_000);
    expect(await api(hubDir, 'POST', '/api/call/setLan', { args: [false] })).toMatchObject({ enabled: false });
    const stoppedAt = Date.now();
    await lan.phone.waitFor(watch, /path: through relay/, 10_000);
    expect(Date.now() - stoppedAt).toBeLessThan(3000);
    mark = fragmentsIn(out);
    await waitUntil('8 fragments through the relay', () => fragmentsIn(out) >= mark + 8, 20_000);
    expect(await api(hubDir, 'POST', '/api/call/setLan', { args: [true] })).toMatchObject({ enabled: true });
    await lan.phone.waitFor(watch, /path: through relay[\s\S]*path: at home/, 15_000);
  }
});
