// History sharing on the real programs (issue 16, PROTOCOL §15.7): the hub records the RTSP test
// camera; a phone paired afterwards is refused the past; a viewer cannot share it (the hub's typed
// refusal); the owner shares it with `vigil-phone share-history`, and the later phone then plays a
// segment recorded before it was paired; a removed phone cannot be given any; the roster log holds
// a 'history-shared' entry and the receiving phone shows it as an alert.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import WebSocket from 'ws';
import { toBase64url } from '../../crypto/bytes.ts';
import { sealEpochKey } from '../../crypto/recording.ts';
import { Secret } from '../../crypto/secret.ts';
import { cryptoReady, sodium } from '../../crypto/sodium.ts';
import { CommandError, HubLink } from '../../phone/core/hub-link.ts';
import { profileFromJson } from '../../phone/core/profile.ts';
import { RelayClient, type RelayClientOptions, type WebSocketConstructor } from '../../relay/client.ts';
import { startCamera, stopAllCameras } from '../support/camera/camera.ts';
import {
  VIGIL, VIGIL_PHONE, addCamera, pairPhone, run, startHub, startRelay, stopAll, tempDir, waitForCameraState, waitUntil,
} from '../support/system.ts';

const CAMERA = `Hall ${randomBytes(3).toString('hex')}`;
let dir: string;
let data: string;
const profiles = { owner: '', viewer: '', later: '', leaver: '' };
let laterId: string;
let leaverId: string;
/** The first recorded range: before the later phone was paired. */
let before: { start: string; end: string };
let pairedAt: number;

const relayFactory = (o: RelayClientOptions) => new RelayClient({ ...o, WebSocket: WebSocket as unknown as WebSocketConstructor });

async function ranges(profile: string): Promise<{ start: string; end: string }[]> {
  const r = await run(VIGIL_PHONE, ['recordings', '--profile', profile, '--camera', CAMERA, '--json'], { timeoutMs: 60_000 });
  expect(r.code, r.stderr).toBe(0);
  return (JSON.parse(r.stdout.trim().split('\n').pop()!) as { ranges: { start: string; end: string }[] }).ranges;
}

function play(profile: string, out: string) {
  return run(VIGIL_PHONE, ['play', '--profile', profile, '--camera', CAMERA, '--from', before.start, '--seconds', '4', '--out', out], { timeoutMs: 90_000 });
}

function share(profile: string, phone: string, ...more: string[]) {
  return run(VIGIL_PHONE, ['share-history', '--profile', profile, '--phone', phone, ...more], { timeoutMs: 60_000 });
}

beforeAll(async () => {
  await cryptoReady();
  dir = tempDir();
  data = join(dir, 'hub');
  const camera = await startCamera({ codec: 'h264', size: '640x360', fps: 15, gop: 15 });
  const relay = await startRelay('127.0.0.1:0');
  await startHub(data, relay.url);
  await addCamera(data, CAMERA, camera.url);
  for (const k of Object.keys(profiles) as (keyof typeof profiles)[]) profiles[k] = join(dir, `${k}.json`);
  await pairPhone(data, profiles.owner, 'Owner');
  await pairPhone(data, profiles.viewer, 'Viewer', 'viewer');
  await waitForCameraState(data, CAMERA, ['live']);
  const rec = await run(VIGIL, ['record', '--data', data, '--camera', CAMERA, '--mode', 'continuous'], { timeoutMs: 30_000 });
  expect(rec.code, rec.stderr).toBe(0);
  await waitUntil('5 s recorded', async () => {
    const r = await ranges(profiles.owner);
    return r.length > 0 && (Date.parse(r[0]!.end) - Date.parse(r[0]!.start)) >= 5000;
  }, 90_000, 1000);
  pairedAt = Date.now();
  laterId = (await pairPhone(data, profiles.later, 'Newcomer', 'viewer')).deviceId;
  leaverId = (await pairPhone(data, profiles.leaver, 'Leaver', 'viewer')).deviceId;
  before = (await ranges(profiles.owner))[0]!;
}, 240_000);

afterAll(async () => {
  await stopAll();
  await stopAllCameras();
});

describe('sharing recorded history with a phone paired later', () => {
  it('before sharing, the later phone is refused the past', async () => {
    expect(Date.parse(before.start)).toBeLessThan(pairedAt);
    const out = join(dir, 'refused.mp4');
    const r = await play(profiles.later, out);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain('no-recording-key');
    expect(existsSync(out)).toBe(false);
  }, 120_000);

  it('a viewer cannot share: the hub refuses it (forbidden), and nothing changes', async () => {
    const r = await share(profiles.viewer, 'Newcomer');
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('refused (forbidden): only an owner phone may share recorded history');
    const log = await run(VIGIL, ['roster', '--data', data, '--json']);
    expect(log.stdout).not.toContain('history-shared');
  }, 60_000);

  it('the owner shares; the later phone then plays a segment recorded before it was paired', async () => {
    const r = await share(profiles.owner, 'Newcomer', '--from', before.start, '--json');
    expect(r.code, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout.trim().split('\n').pop()!) as { to: { id: string }; epochs: number[]; stored: number; entries: number[] };
    expect(out.to.id).toBe(laterId);
    expect(out.stored).toBeGreaterThan(0);
    expect(out.entries).toHaveLength(1);
    const file = join(dir, 'shared.mp4');
    const p = await play(profiles.later, file);
    expect(p.code, p.stderr).toBe(0);
    const [, end] = /wrote .*shared\.mp4: \d+ segments of .* to (\S+),/.exec(p.stdout) ?? [];
    expect(Date.parse(end!)).toBeLessThan(pairedAt);
    const probe = JSON.parse((await run('ffprobe', ['-v', 'error', '-count_frames', '-show_entries', 'stream=nb_read_frames,codec_name', '-of', 'json', file])).stdout);
    expect(Number(probe.streams.find((s: { codec_name: string }) => s.codec_name === 'h264').nb_read_frames)).toBeGreaterThan(15);
  }, 120_000);

  it('the roster log holds the entry, and the later phone shows it as an alert', async () => {
    const log = await run(VIGIL, ['roster', '--data', data, '--json']);
    expect(log.code, log.stderr).toBe(0);
    const entries = log.stdout.trim().split('\n').map((l) => JSON.parse(l) as { change?: string; deviceId?: string; by?: string; history?: { epochs: number } });
    const shared = entries.filter((e) => e.change === 'history-shared');
    expect(shared).toHaveLength(1);
    expect(shared[0]).toMatchObject({ deviceId: laterId, by: expect.stringMatching(/^owner phone "Owner" \([0-9a-f]{8}\)$/) });
    expect(shared[0]!.history!.epochs).toBeGreaterThan(0);
    const alerts = await run(VIGIL_PHONE, ['alerts', '--profile', profiles.later]);
    expect(alerts.code, alerts.stderr).toBe(0);
    expect(alerts.stdout).toMatch(/phone "Newcomer" \([0-9a-f]{8}\) was given \d+ recording epochs? \(\d+\.\.\d+\) recorded before, shared by owner phone "Owner"/);
    // The viewer sees it too: every phone checks the same log.
    const viewer = await run(VIGIL_PHONE, ['alerts', '--profile', profiles.viewer, '--json']);
    expect(viewer.stdout).toContain('"change":"history-shared"');
  }, 60_000);

  it('a removed phone cannot be given history: refused by the owner phone and by the hub', async () => {
    const revoke = await run(VIGIL, ['devices', 'revoke', '--data', data, leaverId], { timeoutMs: 30_000 });
    expect(revoke.code, revoke.stderr).toBe(0);
    const r = await share(profiles.owner, 'Leaver');
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('refused (no-such-phone)');
    // A modified owner phone that skips its own check: the hub refuses it with the same code.
    const load = (p: string) => profileFromJson(readFileSync(p, 'utf8'));
    const leaver = load(profiles.leaver);
    const link = new HubLink({ profile: load(profiles.owner), relayFactory });
    try {
      await link.ready();
      const sealed = sealEpochKey(leaver.hub.hubId, 1, new Secret(sodium().randombytes_buf(32), 'test seed'), { deviceId: leaver.device.deviceId, pqKey: leaver.device.pq.publicKey });
      const answer = await link.command('share-history', { to: leaverId, keys: [{ epoch: 1, sealed: toBase64url(sealed) }] }).then(() => 'stored', (e: unknown) => (e instanceof CommandError ? e.code : String(e)));
      expect(answer).toBe('no-such-phone');
    } finally {
      await link.close();
    }
  }, 90_000);
});
