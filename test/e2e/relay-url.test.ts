// The relay URL as a user types it, and what the hub says when it is wrong. Real programs only:
// `vigil relay`, `vigil hub --relay ws://127.0.0.1:PORT` (no path), the RTSP test camera, `vigil
// invite`, `vigil-phone pair` and `watch`; for the wrong URLs, an HTTP server on loopback that answers
// 404 to everything and a port nothing listens on. Every test makes its own data directories, so a
// retried one starts clean.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { cryptoReady } from '../../crypto/sodium.ts';
import { parseInviteLink } from '../../crypto/invite.ts';
import { startCamera, stopAllCameras, type TestCamera } from '../support/camera/camera.ts';
import {
  VIGIL, VIGIL_PHONE, addCamera, pairPhone, run, start, startHub, startRelay, stopAll, tempDir, waitForCameraState,
} from '../support/system.ts';
import { closedPort } from '../support/ports.ts';

let camera: TestCamera;
const servers: Server[] = [];

beforeAll(async () => {
  await cryptoReady();
  camera = await startCamera({ codec: 'h264', size: '640x360', fps: 15 });
}, 60_000);

afterEach(async () => {
  await stopAll();
  for (const s of servers.splice(0)) {
    s.closeAllConnections();
    s.close();
  }
});

afterAll(async () => {
  await stopAllCameras();
});

/** An HTTP server on loopback that is no relay: 404 to everything, counting the requests. */
async function notARelay(): Promise<{ port: number; requests: () => number }> {
  let n = 0;
  const server = createServer((_req, res) => res.writeHead(404, { 'content-type': 'text/plain' }).end('nothing here\n'));
  server.on('upgrade', (_req, socket) => {
    n += 1;
    socket.end('HTTP/1.1 404 Not Found\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
  });
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { port: (server.address() as AddressInfo).port, requests: () => n };
}


async function until(check: () => boolean, what: string, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

function count(text: string, pattern: RegExp): number {
  return text.split('\n').filter((l) => pattern.test(l)).length;
}

async function status(dataDir: string): Promise<{ json: Record<string, unknown>; stderr: string }> {
  const r = await run(VIGIL, ['status', '--data', dataDir], { timeoutMs: 20_000 });
  expect(r.code, r.stderr).toBe(0);
  return { json: JSON.parse(r.stdout) as Record<string, unknown>, stderr: r.stderr };
}

describe('vigil hub --relay ws://127.0.0.1:PORT (no path)', () => {
  it('connects, invites with the /v1 URL, and a phone pairs and watches', async () => {
    const dir = tempDir();
    const relay = await startRelay();
    const bare = `ws://127.0.0.1:${relay.port}`;
    const hub = await startHub(join(dir, 'hub'), bare); // waits for "relay: ready"
    expect(hub.output()).not.toMatch(/cannot connect/);
    const s = await status(join(dir, 'hub'));
    expect(s.json).toMatchObject({ relay: 'ready', relayProblem: null });

    await addCamera(join(dir, 'hub'), 'Porch', camera.url);
    const profile = join(dir, 'phone.json');
    const { link } = await pairPhone(join(dir, 'hub'), profile, 'Ana');
    // The invite carries the normalised form, so every phone reaches the relay on its path.
    expect(parseInviteLink(link).relays).toEqual([`${bare}/v1`]);
    await waitForCameraState(join(dir, 'hub'), 'Porch', ['live']);

    const w = await run(VIGIL_PHONE, ['watch', '--profile', profile, '--camera', 'Porch', '--seconds', '3', '--out', join(dir, 'porch.mp4')], { timeoutMs: 60_000 });
    expect(w.code, w.stdout + w.stderr).toBe(0);
    expect(w.stdout).toMatch(/through relay ws:\/\/127\.0\.0\.1:\d+\/v1/);
    expect(Number(/wrote (\d+) fragments/.exec(w.stdout)?.[1])).toBeGreaterThan(0);

    // The phone accepts the bare form too (an older invite, or --relay as typed)...
    const c = await run(VIGIL_PHONE, ['cameras', '--profile', profile, '--relay', bare], { timeoutMs: 30_000 });
    expect(c.code, c.stderr).toBe(0);
    expect(c.stdout).toContain('Porch');
    // ...and says why when the relay it is given is not there.
    const refused = await run(VIGIL_PHONE, ['cameras', '--profile', profile, '--relay', `ws://127.0.0.1:${await closedPort()}`], { timeoutMs: 40_000 });
    expect(refused.code).not.toBe(0);
    expect(count(refused.stderr, /cannot connect to ws:\/\/127\.0\.0\.1:\d+\/v1: connection refused.*\[refused\]; retrying/)).toBe(1);
    expect(refused.stderr).toMatch(/vigil-phone cameras: cannot reach the hub: ws:\/\/127\.0\.0\.1:\d+\/v1: connection refused.*\[refused\]/);
  }, 150_000);
});

describe('vigil hub with a wrong relay URL', () => {
  it('says why once, however often it retries, and vigil status shows the same reason', async () => {
    const dir = tempDir();
    const http = await notARelay();
    const hub = start(VIGIL, ['hub', '--data', join(dir, 'hub'), '--relay', `ws://127.0.0.1:${http.port}`]);
    await hub.waitFor(/hub [0-9a-f]+ running/);
    const reason = /^relay: cannot connect to ws:\/\/127\.0\.0\.1:\d+\/v1: 404: no Vigil relay at this URL \(a Vigil relay answers on \/v1\) \[http-status\]; retrying$/;
    await until(() => http.requests() >= 3, 'three attempts');
    expect(count(hub.output(), reason), hub.output()).toBe(1);
    // No line per attempt either: the link went down once.
    expect(count(hub.output(), /^relay: (connecting|waiting)$/), hub.output()).toBeLessThanOrEqual(2);

    const s = await status(join(dir, 'hub'));
    expect(s.json.relay).not.toBe('ready');
    expect(s.json.relayProblem).toEqual({
      code: 'http-status', status: 404, url: `ws://127.0.0.1:${http.port}/v1`,
      message: '404: no Vigil relay at this URL (a Vigil relay answers on /v1)',
    });
    expect(s.stderr).toContain(`relay not connected: ws://127.0.0.1:${http.port}/v1: 404: no Vigil relay at this URL`);
  }, 60_000);

  it('says "connection refused" for a closed port, once per relay URL, even as it moves between them', async () => {
    const dir = tempDir();
    const closed = await closedPort();
    const http = await notARelay(); // its requests count the rounds: the closed port is tried between them
    const hub = start(VIGIL, ['hub', '--data', join(dir, 'hub'), '--relay', `ws://127.0.0.1:${closed}/v1`, '--relay', `ws://127.0.0.1:${http.port}/v1`]);
    await hub.waitFor(/hub [0-9a-f]+ running/);
    await until(() => http.requests() >= 3, 'three rounds');
    const out = hub.output();
    expect(count(out, new RegExp(`^relay: cannot connect to ws://127\\.0\\.0\\.1:${closed}/v1: connection refused: nothing listens at this address and port \\[refused\\]; retrying$`)), out).toBe(1);
    expect(count(out, /404: no Vigil relay at this URL/), out).toBe(1);

    // vigil status shows the reason of the latest attempt: both appear as the hub moves between them.
    const seen = new Set<string>();
    const deadline = Date.now() + 20_000;
    while (seen.size < 2 && Date.now() < deadline) {
      const p = (await status(join(dir, 'hub'))).json.relayProblem as { code: string; url: string } | null;
      if (p !== null) seen.add(`${p.code} ${p.url}`);
    }
    expect([...seen].sort()).toEqual([`http-status ws://127.0.0.1:${http.port}/v1`, `refused ws://127.0.0.1:${closed}/v1`].sort());
  }, 60_000);
});
