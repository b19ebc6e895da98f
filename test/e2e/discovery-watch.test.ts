// From discovery to live video (issue 4): a camera nobody typed a URL for. In one private network
// namespace (WS-Discovery is multicast): a GStreamer RTSP camera, the ONVIF device mock whose
// GetStreamUri points at it, `vigil relay` and `vigil hub`. `vigil discover --json` finds the mock,
// `vigil camera add --from-discovery ID --user admin --password secret` adds it with the URI the
// device gave, a command-line phone pairs and watches it through the relay, and the MP4 it wrote is
// H.264 with frames.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { Netns, netnsSupport } from '../support/netns/netns.ts';
import { startOnvifMock, type OnvifMock } from '../support/onvif/mock.ts';
import { ROOT, VIGIL, VIGIL_PHONE, ffprobe, stopAll, tempDir } from '../support/system.ts';

const support = netnsSupport();
if (!support.ok) console.warn(`[discovery-watch e2e] SKIPPED: ${support.reason}`);

const STREAM_URI = 'rtsp://127.0.0.1:8554/cam';
const FPS = 15;
let ns: Netns;
let mock: OnvifMock;
let dir: string;
const hubDir = () => join(dir, 'hub');

interface Found { id: string; name: string | null; addresses: string[]; via: string[]; streamUri?: string }

async function waitForLive(name: string, timeoutMs: number): Promise<Record<string, unknown>> {
  const deadline = Date.now() + timeoutMs;
  let last: Record<string, unknown> | undefined;
  while (Date.now() < deadline) {
    const r = await ns.run(VIGIL, ['camera', 'list', '--data', hubDir(), '--json'], { timeoutMs: 15_000 });
    last = r.stdout.trim().split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>).find((c) => c.name === name);
    if (last?.state === 'live') return last;
    await new Promise((r2) => setTimeout(r2, 300));
  }
  throw new Error(`camera ${name} never went live; last ${JSON.stringify(last)}`);
}

describe.skipIf(!support.ok)('from discovery to live video', () => {
  beforeAll(async () => {
    dir = tempDir();
    ns = Netns.create('discwatch');
    const camera = ns.spawn('/usr/bin/python3', [join(ROOT, 'test/support/camera/rtsp-camera.py'), '--port', '8554', '--size', '640x360', '--fps', String(FPS), '--run-seconds', '120']);
    const relay = ns.spawn(VIGIL, ['relay', '--listen', '127.0.0.1:8787']);
    const hub = ns.spawn(VIGIL, ['hub', '--data', hubDir(), '--relay', 'ws://127.0.0.1:8787/v1']);
    // The four start side by side: the hub retries the relay until it listens.
    [mock] = await Promise.all([
      startOnvifMock(ns, { port: 10101, streamUri: STREAM_URI }),
      ns.waitFor(camera, '"event": "ready"', 20_000),
      ns.waitFor(relay, /relay listening/, 20_000),
      ns.waitFor(hub, /hub [0-9a-f]+ running/, 30_000).then(() => ns.waitFor(hub, /relay: ready/, 30_000)),
    ]);
  }, 45_000);

  afterAll(async () => {
    await ns?.destroy();
    await stopAll();
  });

  it('discover → add with credentials → the command-line phone watches it through the relay', async () => {
    // 1. Discover: the mock is listed, nothing is added yet.
    const found = await ns.run(VIGIL, ['discover', '--data', hubDir(), '--seconds', '2', '--json'], { timeoutMs: 20_000 });
    expect(found.code, found.stdout + found.stderr).toBe(0);
    const devices = found.stdout.trim().split('\n').filter(Boolean).map((l) => JSON.parse(l) as Found);
    const device = devices.find((d) => d.via.includes('onvif'));
    expect(device, found.stdout + found.stderr).toBeDefined();
    expect(device!.addresses).toContain('127.0.0.1');
    const before = await ns.run(VIGIL, ['camera', 'list', '--data', hubDir(), '--json']);
    expect(before.stdout.trim()).toBe('');

    // 2. Add it with the owner's credentials: the camera gets the URI GetStreamUri gave.
    const added = await ns.run(VIGIL, ['camera', 'add', '--data', hubDir(), '--from-discovery', device!.id, '--user', 'admin', '--password', 'secret', '--name', 'Porch'], { timeoutMs: 30_000 });
    expect(added.code, added.stdout + added.stderr).toBe(0);
    expect(mock.output()).toMatch(/GetStreamUri/);
    const listed = await waitForLive('Porch', 20_000);
    expect(String(listed.url)).toContain('127.0.0.1:8554/cam');

    // 3. Pair a phone (through the relay) and watch.
    const profile = join(dir, 'phone.json');
    const invite = ns.spawn(VIGIL, ['invite', '--data', hubDir(), '--yes', '--role', 'owner']);
    await ns.waitFor(invite, /pairing link: \S+/, 20_000);
    const link = /pairing link: (\S+)/.exec(invite.output)![1]!;
    const paired = await ns.run(VIGIL_PHONE, ['pair', link, '--profile', profile, '--name', 'Ana'], { timeoutMs: 30_000 });
    expect(paired.code, paired.stdout + paired.stderr).toBe(0);
    await ns.waitFor(invite, /paired "[^"]*" as owner/, 20_000);

    const out = join(dir, 'porch.mp4');
    const watch = await ns.run(VIGIL_PHONE, ['watch', '--profile', profile, '--camera', 'Porch', '--seconds', '4', '--out', out], { timeoutMs: 30_000 });
    expect(watch.code, watch.stdout + watch.stderr).toBe(0);
    expect(watch.stdout).toMatch(/wrote \d+ fragments/);
    expect(watch.stdout).toMatch(/through relay ws:\/\/127\.0\.0\.1:8787/);

    // 4. What the phone decrypted is H.264 from the GStreamer camera, with frames.
    const probe = await ffprobe(out);
    const video = probe.streams.find((s) => s.codec_type === 'video');
    expect(video?.codec_name).toBe('h264');
    expect(video?.width).toBe(640);
    expect(Number(video?.nb_read_frames)).toBeGreaterThan(FPS * 2);
  }, 60_000);
});
