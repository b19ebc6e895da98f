// The h264 profile of an H.265 camera, with the real programs: the RTSP test camera (H.265, G.711
// audio, a password), `vigil relay`, `vigil hub`, `vigil-phone watch --stream h264`. The phone gets
// an H.264 MP4 with (nearly) every frame; the hub runs its transcoder only while someone watches,
// plus a grace period; the transcoder reads the hub's own stream of the camera, so there is one
// RTSP session to the camera and no password on the transcoder's command line; the camera's own
// stream still passes through as H.265.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { randomBytes } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { startCamera, stopAllCameras, type TestCamera } from '../support/camera/camera.ts';
import {
  VIGIL, VIGIL_PHONE, addCamera, ffprobe, pairPhone, run, start, startHub, startRelay, stopAll, tempDir,
  waitForCameraState, type Running, expectNearlyEveryFrame,
} from '../support/system.ts';

const FPS = 15;
/** The hub's grace period (main/media/on-demand.ts PROFILE_GRACE_MS). */
const GRACE_MS = 10_000;
let dir: string;
let hubDir: string;
let hub: Running;
let profile: string;
let camera: TestCamera;
/** Unique, so no other process on the machine holds it by chance. */
const PASSWORD = `pw-${randomBytes(8).toString('hex')}`;

interface ProfileStatus { name: string; number: number; topic: string; running: boolean; starts: number; state: string; codecs: string }

beforeAll(async () => {
  dir = tempDir('vigil-h264-profile-');
  hubDir = join(dir, 'hub');
  camera = await startCamera({ codec: 'h265', audio: 'pcmu', size: '640x360', fps: FPS, auth: 'digest', user: 'admin', password: PASSWORD });
  const relay = await startRelay();
  hub = await startHub(hubDir, relay.url);
  await addCamera(hubDir, 'Garage', camera.urlWithCredentials);
  profile = join(dir, 'phone.json');
  await pairPhone(hubDir, profile, 'Ana');
  await waitForCameraState(hubDir, 'Garage', ['live']);
}, 120_000);

afterAll(async () => {
  await stopAll();
  await stopAllCameras();
});

interface Process { pid: number; pgrp: number; argv: string[] }

/** Every process on the machine that we may read, as any local user can with `ps`. */
function processes(): Process[] {
  const found: Process[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' '); // state, ppid, pgrp, …
      found.push({ pid: Number(name), pgrp: Number(fields[2]), argv: readFileSync(`/proc/${name}/cmdline`, 'utf8').split('\0') });
    } catch {
      // gone meanwhile, or not ours to read
    }
  }
  return found;
}

/** The hub's processes (its process group: `bin/vigil hub` and its ffmpeg children). */
const hubProcesses = () => processes().filter((p) => p.pgrp === hub.child.pid);

/** The hub's ffmpeg processes that encode H.264. */
const transcoders = () => hubProcesses().filter((p) => p.argv.includes('libx264')).map((p) => p.pid);

async function profileStatus(): Promise<ProfileStatus> {
  const r = await run(VIGIL, ['camera', 'list', '--data', hubDir, '--json']);
  const garage = r.stdout.trim().split('\n').map((l) => JSON.parse(l) as { name: string; profiles?: ProfileStatus[] }).find((c) => c.name === 'Garage');
  const p = garage?.profiles?.find((x) => x.name === 'h264');
  if (p === undefined) throw new Error(`no h264 profile in ${r.stdout}`);
  return p;
}

async function until(what: string, f: () => Promise<boolean> | boolean, timeoutMs: number): Promise<number> {
  const t0 = Date.now();
  while (!(await f())) {
    if (Date.now() - t0 > timeoutMs) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 250));
  }
  return Date.now() - t0;
}


describe('h264 profile of an H.265 camera', () => {
  it('the phone sees the profile in the camera list; no transcoder runs before anyone watches it', async () => {
    const r = await run(VIGIL_PHONE, ['cameras', '--profile', profile, '--json'], { timeoutMs: 30_000 });
    expect(r.code, r.stderr).toBe(0);
    const camera = JSON.parse(r.stdout.trim().split('\n')[0]!) as { codecs: string; number: number; topic: string; profiles: { name: string; number: number; topic: string; codecs: string }[] };
    expect(camera.codecs).toMatch(/^hvc1/);
    // The h264 profile, beside the mpeg1 profile every camera has (test/e2e/mpeg1.test.ts).
    expect(camera.profiles.map((x) => x.name)).toEqual(['h264', 'mpeg1']);
    const p = camera.profiles[0]!;
    expect(p.name).toBe('h264');
    expect(p.number).toBe(camera.number | 0x4000_0000);
    expect(p.topic).toMatch(/^[0-9a-f]{32}$/);
    expect(p.topic).not.toBe(camera.topic);
    expect(p.codecs).toMatch(/^avc1\./); // the placeholder until the transcoder first ran
    const status = await profileStatus();
    expect(status.running).toBe(false);
    expect(status.starts).toBe(0);
    expect(transcoders()).toEqual([]);
  }, 40_000);

  it('watching the profile gives H.264 with every frame; the transcoder stops after the grace period', async () => {
    const out = join(dir, 'garage-h264.mp4');
    const startsBefore = (await profileStatus()).starts;
    const watch = start(VIGIL_PHONE, ['watch', '--profile', profile, '--camera', 'Garage', '--stream', 'h264', '--seconds', '14', '--out', out], { maxSeconds: 60 });
    const exitedAt = new Promise<number>((r) => watch.child.once('exit', () => r(Date.now())));
    await watch.waitFor(/watching "Garage" \(its h264 profile, transcoded by the hub\)/, 30_000);
    await until('a libx264 ffmpeg under the hub', () => transcoders().length === 1, 15_000);
    expect((await profileStatus()).running).toBe(true);

    // One RTSP session to the camera: the transcoder reads the hub's own stream, not the camera.
    const rtsp = hubProcesses().filter((p) => p.argv.some((a) => a.startsWith('rtsp://')));
    expect(rtsp.map((p) => p.argv.join(' ').replace(PASSWORD, '***')), 'processes of the hub that open the camera').toHaveLength(1);
    expect(rtsp[0]!.argv).not.toContain('libx264');
    // The password is on no command line but the camera ingest's own (ffmpeg takes it no other way,
    // THREAT-MODEL §5): not on the transcoder's. The test camera itself was given it as an argument.
    const holders = processes().filter((p) => p.pgrp !== camera.pid && p.argv.some((a) => a.includes(PASSWORD)));
    expect(holders.map((p) => p.pid)).toEqual(rtsp.map((p) => p.pid));
    await watch.waitFor(/wrote (\d+) fragments/, 40_000);
    await until('the phone to exit', () => watch.child.exitCode !== null, 10_000);
    expect(watch.child.exitCode, watch.output()).toBe(0);
    // Nothing changed on the way; what the hub sealed for an earlier vigil-phone's session is not
    // for this one (the session tag, PROTOCOL 6.4), not tampering.
    expect(watch.output()).toMatch(/ 0 tampered,/);
    const probe = await ffprobe(out);
    expect(probe.streams.find((s) => s.codec_type === 'video')?.codec_name).toBe('h264');
    expect(probe.streams.find((s) => s.codec_type === 'video')?.width).toBe(640);
    expect(probe.streams.find((s) => s.codec_type === 'audio')?.codec_name).toBe('aac');
    await expectNearlyEveryFrame(out, FPS);

    // Nobody watches now: it keeps running through the grace period (a phone that comes right back
    // waits for no new ffmpeg), then stops. (The phone says goodbye just before it exits: 1.5 s slack.)
    await until('the transcoder to stop', () => transcoders().length === 0, GRACE_MS + 8000);
    expect(Date.now() - (await exitedAt), 'the transcoder ran on through the grace period').toBeGreaterThanOrEqual(GRACE_MS - 1500);
    const status = await profileStatus();
    expect(status.running).toBe(false);
    expect(status.starts).toBe(startsBefore + 1);
    expect(status.codecs).toMatch(/^avc1\.64/); // now what the transcoder really made
  }, 90_000);

  it('the camera\'s own stream still passes through as H.265, and starts no transcoder', async () => {
    const out = join(dir, 'garage-native.mp4');
    const startsBefore = (await profileStatus()).starts;
    const r = await run(VIGIL_PHONE, ['watch', '--profile', profile, '--camera', 'Garage', '--seconds', '5', '--out', out], { timeoutMs: 60_000 });
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect((await ffprobe(out)).streams.find((s) => s.codec_type === 'video')?.codec_name).toBe('hevc');
    expect(transcoders()).toEqual([]);
    expect((await profileStatus()).starts).toBe(startsBefore);
  }, 60_000);
});
