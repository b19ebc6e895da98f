// The relay at scale, as a user runs it: two `vigil relay --nats` nodes joined by a real nats-server,
// a hub given both nodes, a phone watching through the other node; the phone's node is killed
// mid-stream and the phone goes on through the remaining node, with the same profile.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { startCamera, stopAllCameras, type TestCamera } from '../support/camera/camera.ts';
import { haveNats, startNats, startRelayProcess, type NatsServer, type RelayProcess } from '../relay/nats.ts';
import {
  VIGIL_PHONE, addCamera, fragmentsIn, pairPhone, start, startHub, stopAll, tempDir, videoFrameTimes, waitForCameraState, waitUntil,
} from '../support/system.ts';

let dir: string;
let camera: TestCamera;
let nats: NatsServer;
let node1: RelayProcess;
let node2: RelayProcess;
let profile: string;
const hubDir = () => join(dir, 'hub');

describe.skipIf(!haveNats)('a relay cluster over NATS', () => {
  beforeAll(async () => {
    dir = tempDir();
    camera = await startCamera({ codec: 'h264', size: '640x360', fps: 15 });
    nats = await startNats();
    node1 = await startRelayProcess(nats.url);
    node2 = await startRelayProcess(nats.url);
    // The hub is given both nodes and uses one (the first that answers); the phone uses the other.
    await startHub(hubDir(), node1.url, ['--relay', node2.url]);
    await addCamera(hubDir(), 'Yard', camera.url);
    profile = join(dir, 'phone.json');
    await pairPhone(hubDir(), profile, 'Ana');
    await waitForCameraState(hubDir(), 'Yard', ['live']);
  }, 120_000);

  afterAll(async () => {
    await stopAll();
    await node1?.stop();
    await node2?.stop();
    await nats?.stop();
    await stopAllCameras();
  });

  it('a hub on node 1 streams to a phone on node 2; node 2 dies and the phone moves to node 1', async () => {
    const out = join(dir, 'yard.mp4');
    const watch = start(VIGIL_PHONE, ['watch', '--profile', profile, '--camera', 'Yard', '--seconds', '18', '--out', out,
      '--relay', node2.url, '--relay', node1.url], { maxSeconds: 80 });
    await watch.waitFor(new RegExp(`watching "Yard".*${node2.url.replace(/[/.]/g, '\\$&')}`), 30_000);
    // Video through node 2 first: the file holds 10 fragments before node 2 dies.
    await waitUntil('10 fragments through node 2', () => fragmentsIn(out) >= 10, 20_000);
    await node2.kill();
    await watch.waitFor(new RegExp(`path: through relay \\(${node1.url.replace(/[/.]/g, '\\$&')}\\)`), 15_000);
    const code = await new Promise<number | null>((r) => watch.child.once('exit', (c) => r(c)));
    expect(code, watch.output()).toBe(0);
    const times = await videoFrameTimes(out);
    const end = Math.max(...times);
    expect(end - Math.min(...times), watch.output()).toBeGreaterThan(12);
    expect(times.filter((t) => t >= end - 5).length).toBeGreaterThanOrEqual(Math.floor(5 * 15 * 0.9));
  }, 90_000);
});
