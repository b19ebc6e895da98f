// Local only, exactly as a user types it: a hub with a LAN endpoint on loopback and no relay at all,
// a camera, `vigil invite`, `vigil-phone pair LINK`, then `vigil-phone watch --path lan`. The invite
// lists the LAN endpoint among the relays without saying which it is, so the fresh profile does not
// know it as the hub's LAN address: `--path lan` must ask the hub, not give up ("the profile knows
// no LAN address of the hub"). No multicast: nothing is announced.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { readFileSync } from 'node:fs';
import { startCamera, stopAllCameras, type TestCamera } from '../support/camera/camera.ts';
import { VIGIL, VIGIL_PHONE, ffprobe, run, start, stopAll, tempDir, waitForCameraState } from '../support/system.ts';

let camera: TestCamera;

beforeAll(async () => {
  camera = await startCamera({ codec: 'h264', size: '320x240', fps: 15 });
}, 60_000);

afterAll(async () => {
  await stopAll();
  await stopAllCameras();
});

/** A port nobody listens on right now: what a user would pick for --lan. */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
}

describe('local only: no relay at all', () => {
  it('a phone paired through the LAN endpoint watches with --path lan, and the MP4 plays', async () => {
    // Everything fresh on each attempt: its own hub data, profile and port.
    const dir = tempDir();
    const data = join(dir, 'hub');
    const port = await freePort();
    const lanUrl = `ws://127.0.0.1:${port}/v1`;
    const hub = start(VIGIL, ['hub', '--data', data, '--lan', `127.0.0.1:${port}`], { maxSeconds: 150 });
    try {
      await hub.waitFor(/hub [0-9a-f]+ running/, 30_000);
      await hub.waitFor(new RegExp(`lan endpoint: ${lanUrl.replace(/[.]/g, '\\.')}`), 10_000);
      expect(hub.output()).not.toMatch(/relay: /); // no relay at all

      const added = await run(VIGIL, ['camera', 'add', '--data', data, '--name', 'Hallway', camera.url]);
      expect(added.code, added.stderr).toBe(0);
      await waitForCameraState(data, 'Hallway', ['live']);

      const invite = start(VIGIL, ['invite', '--data', data, '--yes'], { maxSeconds: 90 });
      const [, link] = await invite.waitFor(/pairing link: (\S+)/);
      const profile = join(dir, 'phone.json');
      const paired = await run(VIGIL_PHONE, ['pair', link!, '--profile', profile], { timeoutMs: 60_000 });
      expect(paired.code, paired.stdout + paired.stderr).toBe(0);
      await invite.waitFor(/paired "/);
      await invite.stop();
      const fresh = JSON.parse(readFileSync(profile, 'utf8')) as { relays: string[]; lanUrls?: string[] };
      expect(fresh.relays).toEqual([lanUrl]);

      const out = join(dir, 'hallway.mp4');
      const w = await run(VIGIL_PHONE, ['watch', '--profile', profile, '--camera', 'Hallway', '--seconds', '5', '--out', out, '--path', 'lan'], { timeoutMs: 60_000 });
      expect(w.code, w.stdout + w.stderr).toBe(0);
      expect(w.stdout + w.stderr).toContain(`path: at home (${lanUrl})`);
      expect(w.stdout + w.stderr).not.toContain('through relay');
      const probe = await ffprobe(out);
      const video = probe.streams.find((s) => s.codec_type === 'video');
      expect(video?.codec_name).toBe('h264');
      expect(Number(video?.nb_read_frames)).toBeGreaterThan(40); // 5 s at 15 fps, with room for the first GOP
      // What the hub said is kept: the profile now knows the endpoint as its LAN address.
      const saved = JSON.parse(readFileSync(profile, 'utf8')) as { lanUrls?: string[] };
      expect(saved.lanUrls).toEqual([lanUrl]);
    } finally {
      await hub.stop();
    }
  }, 150_000);
});
