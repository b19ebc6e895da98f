// The mpeg1 profile (issue 19), with the real programs: the RTSP test camera (H.264, G.711 audio, a
// password), a wiretap in front of `vigil relay`, `vigil hub`, `vigil-phone watch --stream mpeg1`.
// The phone gets MPEG-1 video and MP2 audio in MPEG-TS; the hub runs node-rtsp-stream's Mpeg1Muxer
// only while someone watches, plus a grace period, fed the hub's own stream on stdin (`-i pipe:0`:
// one RTSP session to the camera, no password on the transcoder's command line); and the relay's
// bytes hold no MPEG-TS in clear.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { randomBytes } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { startCamera, stopAllCameras, type TestCamera } from '../support/camera/camera.ts';
import { startRelayTap, type RelayTap } from '../support/relay-tap.ts';
import {
  VIGIL, VIGIL_PHONE, addCamera, ffprobe, pairPhone, run, start, startHub, startRelay, stopAll, tempDir,
  waitForCameraState, waitUntil, type Running,
} from '../support/system.ts';

/** The hub's grace period (main/media/on-demand.ts PROFILE_GRACE_MS). */
const GRACE_MS = 10_000;
const PASSWORD = `pw-${randomBytes(8).toString('hex')}`;
let dir: string;
let hubDir: string;
let hub: Running;
let tap: RelayTap;
let profile: string;
let camera: TestCamera;

interface ProfileStatus { name: string; number: number; topic: string; running: boolean; starts: number; state: string; codecs: string }

beforeAll(async () => {
  dir = tempDir('vigil-mpeg1-');
  hubDir = join(dir, 'hub');
  camera = await startCamera({ codec: 'h264', audio: 'pcmu', size: '640x360', fps: 15, auth: 'digest', user: 'admin', password: PASSWORD });
  tap = await startRelayTap();
  const relay = await startRelay('127.0.0.1:0', ['--public-host', tap.host]);
  tap.setUpstream(relay.url);
  hub = await startHub(hubDir, tap.url);
  await addCamera(hubDir, 'Porch', camera.urlWithCredentials);
  profile = join(dir, 'phone.json');
  await pairPhone(hubDir, profile, 'Grandma');
  await waitForCameraState(hubDir, 'Porch', ['live']);
}, 120_000);

afterAll(async () => {
  await tap?.close();
  await stopAll();
  await stopAllCameras();
});

interface Process { pid: number; pgrp: number; argv: string[]; cpuTicks: number }

function processes(): Process[] {
  const found: Process[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' '); // state, ppid, pgrp, …
      found.push({ pid: Number(name), pgrp: Number(fields[2]), argv: readFileSync(`/proc/${name}/cmdline`, 'utf8').split('\0'), cpuTicks: Number(fields[11]) + Number(fields[12]) });
    } catch {
      // gone meanwhile
    }
  }
  return found;
}

const hubProcesses = () => processes().filter((p) => p.pgrp === hub.child.pid);
const transcoders = () => hubProcesses().filter((p) => p.argv.includes('mpeg1video'));

async function mpeg1Status(): Promise<ProfileStatus> {
  const r = await run(VIGIL, ['camera', 'list', '--data', hubDir, '--json']);
  const porch = r.stdout.trim().split('\n').map((l) => JSON.parse(l) as { name: string; profiles?: ProfileStatus[] }).find((c) => c.name === 'Porch');
  const p = porch?.profiles?.find((x) => x.name === 'mpeg1');
  if (p === undefined) throw new Error(`no mpeg1 profile in ${r.stdout}`);
  return p;
}

/** Offsets where `n` TS packets follow one another (0x47 every 188 bytes). */
function tsSyncRuns(data: Uint8Array, n = 4): number {
  let runs = 0;
  for (let i = 0; i + 188 * (n - 1) < data.length; i++) {
    let ok = true;
    for (let k = 0; k < n && ok; k++) ok = data[i + 188 * k] === 0x47;
    if (ok) {
      runs++;
      i += 188 * n - 1;
    }
  }
  return runs;
}

describe('mpeg1 profile', () => {
  it('every camera lists it, under its own number and topic; no transcoder runs before anyone watches', async () => {
    const r = await run(VIGIL_PHONE, ['cameras', '--profile', profile, '--json'], { timeoutMs: 30_000 });
    expect(r.code, r.stderr).toBe(0);
    const cam = JSON.parse(r.stdout.trim().split('\n')[0]!) as { codecs: string; number: number; topic: string; profiles?: { name: string; number: number; topic: string; mime: string }[] };
    expect(cam.codecs).toMatch(/^avc1/);
    const p = cam.profiles?.find((x) => x.name === 'mpeg1');
    expect(p, r.stdout).toBeDefined();
    expect(p!.number).toBe(cam.number | 0x2000_0000);
    expect(p!.topic).toMatch(/^[0-9a-f]{32}$/);
    expect(p!.topic).not.toBe(cam.topic);
    expect(p!.mime).toMatch(/^video\/mp2t/);
    expect(cam.profiles?.some((x) => x.name === 'h264')).toBe(false); // an H.264 camera needs no h264 profile
    expect((await mpeg1Status()).running).toBe(false);
    expect(transcoders()).toEqual([]);
  }, 40_000);

  it('vigil-phone watch --stream mpeg1 gets MPEG-1 and MP2 in MPEG-TS; none of it crosses the relay in clear; the transcoder stops after the grace period', async () => {
    const out = join(dir, 'porch.ts');
    const before = tap.captured.length;
    const watch = start(VIGIL_PHONE, ['watch', '--profile', profile, '--camera', 'Porch', '--stream', 'mpeg1', '--seconds', '10', '--out', out], { maxSeconds: 60 });
    const exitedAt = new Promise<number>((r) => watch.child.once('exit', () => r(Date.now())));
    await watch.waitFor(/watching "Porch" \(its mpeg1 profile, transcoded by the hub\)/, 30_000);
    await waitUntil('an mpeg1video ffmpeg under the hub', () => transcoders().length === 1, 15_000, 250);
    const transcoder = transcoders()[0]!;
    // node-rtsp-stream's muxer reads the hub's stream on stdin: not the camera, not its password.
    expect(transcoder.argv).toContain('pipe:0');
    expect(transcoder.argv.join(' ')).not.toContain('rtsp:');
    const rtsp = hubProcesses().filter((p) => p.argv.some((a) => a.startsWith('rtsp://')));
    expect(rtsp, 'processes of the hub that open the camera').toHaveLength(1);
    const holders = processes().filter((p) => p.pgrp !== camera.pid && p.argv.some((a) => a.includes(PASSWORD)));
    expect(holders.map((p) => p.pid)).toEqual(rtsp.map((p) => p.pid));
    const cpuAt = { ticks: transcoder.cpuTicks, t: Date.now() };

    await watch.waitFor(/wrote (\d+) fragments/, 40_000);
    const cpuNow = processes().find((p) => p.pid === transcoder.pid);
    if (cpuNow !== undefined) {
      const share = ((cpuNow.cpuTicks - cpuAt.ticks) / 100) / ((Date.now() - cpuAt.t) / 1000);
      console.log(`mpeg1 transcoder (640x360 15 fps H.264 + G.711 in, MPEG-1 640x360 25 fps + MP2 out): ${(share * 100).toFixed(0)}% of a core`);
    }
    await waitUntil('the phone to exit', () => watch.child.exitCode !== null, 10_000, 100);
    expect(watch.child.exitCode, watch.output()).toBe(0);
    const probe = await ffprobe(out);
    const video = probe.streams.find((s) => s.codec_type === 'video');
    expect(video?.codec_name).toBe('mpeg1video');
    expect(video?.width).toBe(640);
    expect(probe.streams.find((s) => s.codec_type === 'audio')?.codec_name).toBe('mp2');
    const ts = readFileSync(out);
    expect(tsSyncRuns(ts), 'the phone\'s file is MPEG-TS').toBeGreaterThan(100);

    // The relay saw the same stream sealed: not one run of four TS packets in anything it carried.
    const seen = tap.captured.slice(before);
    expect(seen.reduce((n, b) => n + b.length, 0)).toBeGreaterThan(ts.length / 2);
    expect(seen.map((b) => tsSyncRuns(b)).reduce((a, b) => a + b, 0), 'MPEG-TS in clear on the relay').toBe(0);

    await waitUntil('the transcoder to stop', () => transcoders().length === 0, GRACE_MS + 8000, 250);
    expect(Date.now() - (await exitedAt), 'the transcoder ran on through the grace period').toBeGreaterThanOrEqual(GRACE_MS - 1500);
    const status = await mpeg1Status();
    expect(status.running).toBe(false);
    expect(status.starts).toBe(1);
  }, 90_000);

  it('watching the camera\'s own stream starts no MPEG-1 transcoder', async () => {
    const out = join(dir, 'porch.mp4');
    const r = await run(VIGIL_PHONE, ['watch', '--profile', profile, '--camera', 'Porch', '--seconds', '4', '--out', out], { timeoutMs: 60_000 });
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect((await ffprobe(out)).streams.find((s) => s.codec_type === 'video')?.codec_name).toBe('h264');
    expect(transcoders()).toEqual([]);
    expect((await mpeg1Status()).starts).toBe(1);
  }, 60_000);
});
