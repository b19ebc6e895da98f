// Which way a phone watches when the hub has both a relay and a LAN endpoint, on loopback (no
// multicast: the LAN endpoint is not announced). A fresh profile lists the LAN endpoint among its
// relays (the invite does, so pairing works at home without the internet); `--path relay` must
// still end up on a real relay once the hub says which address is its LAN endpoint, and the default
// prefers the LAN endpoint.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { readFileSync } from 'node:fs';
import WebSocket from 'ws';
import { cryptoReady } from '../../crypto/sodium.ts';
import { RelayClient, type RelayClientOptions, type WebSocketConstructor } from '../../relay/client.ts';
import { HubLink } from '../../phone/core/hub-link.ts';
import { profileFromJson } from '../../phone/core/profile.ts';
import { startCamera, stopAllCameras, type TestCamera } from '../support/camera/camera.ts';
import {
  VIGIL_PHONE, addCamera, pairPhone, run, startHub, startRelay, stopAll, tempDir, waitForCameraState, type Running,
} from '../support/system.ts';

let dir: string;
let camera: TestCamera;
let relay: { proc: Running; url: string; port: number };
let lanUrl: string;
const hubDir = () => join(dir, 'hub');

beforeAll(async () => {
  await cryptoReady();
  dir = tempDir();
  camera = await startCamera({ codec: 'h264', size: '320x240', fps: 15, runSeconds: 200 });
  relay = await startRelay();
  const hub = await startHub(hubDir(), relay.url, ['--lan', '127.0.0.1:0']);
  lanUrl = (await hub.waitFor(/lan endpoint: (ws:\/\/[^\s]+)/))[1]!;
  await addCamera(hubDir(), 'Porch', camera.url);
  await waitForCameraState(hubDir(), 'Porch', ['live']);
}, 120_000);

afterAll(async () => {
  await stopAll();
  await stopAllCameras();
});

async function watch(profile: string, path: 'relay' | 'auto'): Promise<string> {
  const out = join(dir, `${path}-${Date.now()}.mp4`);
  const r = await run(VIGIL_PHONE, ['watch', '--profile', profile, '--camera', 'Porch', '--seconds', '5', '--out', out, '--path', path], { timeoutMs: 60_000 });
  expect(r.code, r.stdout + r.stderr).toBe(0);
  return r.stdout + r.stderr;
}

describe('choosing the path', () => {
  it('--path relay watches through the relay, not through the LAN endpoint listed first in a fresh profile', async () => {
    expect(relay.url).not.toBe(lanUrl);
    const profile = join(dir, `relay-phone-${Date.now()}.json`); // a fresh one per attempt (CI retries)
    await pairPhone(hubDir(), profile, 'Away');
    const output = await watch(profile, 'relay');
    expect(output).toContain(`path at the end: through relay (${relay.url})`);
  }, 90_000);

  it('a new epoch right after the move to the relay still reaches the phone', async () => {
    const profile = join(dir, `moving-phone-${Date.now()}.json`);
    await pairPhone(hubDir(), profile, 'Mover');
    const factory = (o: RelayClientOptions) => new RelayClient({ ...o, WebSocket: WebSocket as unknown as WebSocketConstructor, backoffMs: [250, 500, 1000] });
    const link = new HubLink({ profile: profileFromJson(readFileSync(profile, 'utf8')), relayFactory: factory, path: 'relay' });
    try {
      await link.ready(20_000); // session over the LAN endpoint, then the move to the relay
      expect(link.pathUrl).toBe(relay.url);
      const before = link.currentEpoch;
      // Before the phone said anything on the relay: the hub's key update must still find it.
      await addCamera(hubDir(), `Yard ${Date.now()}`, camera.url);
      const deadline = Date.now() + 15_000;
      while (link.currentEpoch <= before && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
      expect(link.currentEpoch).toBeGreaterThan(before);
    } finally {
      await link.close();
    }
  }, 90_000);

  it('the default watches from the LAN endpoint', async () => {
    const profile = join(dir, `home-phone-${Date.now()}.json`);
    await pairPhone(hubDir(), profile, 'Home');
    const output = await watch(profile, 'auto');
    expect(output).toContain(`path at the end: at home (${lanUrl})`);
  }, 90_000);
});
