// The README's first line: `npm run demo` starts relay, hub and a demo camera and prints a pairing
// link; a phone pairs with it and watches the demo camera.
import { afterAll, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { createServer } from 'node:net';
import { ROOT, VIGIL_PHONE, ffprobe, run, start, stopAll, tempDir } from '../support/system.ts';

afterAll(stopAll);

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

describe('npm run demo', () => {
  it('starts everything, pairs a phone, and the demo camera plays', async () => {
    const dir = tempDir();
    const demo = start('node', ['--import', join(ROOT, 'node_modules/tsx/dist/loader.mjs'), join(ROOT, 'main/demo.ts')], {
      env: { VIGIL_DEMO_DIR: join(dir, 'data'), VIGIL_DEMO_RELAY_PORT: String(await freePort()), VIGIL_DEMO_APPROVE: '1' },
      maxSeconds: 120,
    });
    const [, link] = await demo.waitFor(/vigil-phone pair '(vigil:\/\/pair\/[A-Za-z0-9_-]+)'/, 30_000);
    expect(demo.output()).toMatch(/demo camera "Demo"/);
    const profile = join(dir, 'phone.json');
    const pair = await run(VIGIL_PHONE, ['pair', link!, '--profile', profile], { timeoutMs: 60_000 });
    expect(pair.code, pair.stderr).toBe(0);
    await demo.waitFor(/vigil-phone watch --profile phone.json --camera Demo/);
    const out = join(dir, 'demo.mp4');
    const watch = await run(VIGIL_PHONE, ['watch', '--profile', profile, '--camera', 'Demo', '--seconds', '4', '--out', out], { timeoutMs: 60_000 });
    expect(watch.code, watch.stderr).toBe(0);
    const probe = await ffprobe(out);
    expect(probe.streams[0]?.codec_name).toBe('h264');
    expect(Number(probe.streams[0]?.nb_read_frames)).toBeGreaterThan(30);
    expect(await demo.stop('SIGINT')).toBe(0);
  }, 120_000);
});
