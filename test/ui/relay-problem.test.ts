// The hub UI's relay screen says why the relay is not connected: the same reason the hub logs and
// `vigil status` shows. The real hub from the command line with --ui, a relay URL on a loopback port
// nothing listens on, and Debian's chromium.
import { afterAll, beforeAll, expect, it } from 'vitest';
import { closedPort } from '../support/ports.ts';
import { join } from 'node:path';
import { buildRenderer } from '../../renderer/build.ts';
import { ROOT, launchChromium, startProgram, stopAll, tempDir } from './harness.ts';

let uiUrl: string;
let closed: number;

beforeAll(async () => {
  closed = await closedPort();
  await buildRenderer();
  const work = tempDir('vigil-ui-relay-');
  const hub = await startProgram(join(ROOT, 'bin', 'vigil'), ['hub', '--data', join(work, 'hub'), '--relay', `ws://127.0.0.1:${closed}`, '--ui', '127.0.0.1:0'], /^ui: (\S+)$/m);
  uiUrl = hub.match[1]!;
}, 90_000);

afterAll(async () => {
  await stopAll();
});

it('the relay screen and the relay pill say "connection refused" for a closed port', async () => {
  const { page, problems } = await launchChromium();
  await page.goto(uiUrl);
  await page.evaluate(() => (location.hash = '#/relay'));
  const why = page.locator('[data-field=problem]');
  await expect.poll(() => why.count(), { timeout: 15_000 }).toBe(1);
  expect(await why.getAttribute('data-code')).toBe('refused');
  expect(await why.textContent()).toBe(`connection refused: nothing listens at this address and port (ws://127.0.0.1:${closed}/v1)`);
  expect(await page.locator('[data-field=url]').textContent()).toBe(`ws://127.0.0.1:${closed}/v1`);
  await expect.poll(() => page.locator('#relay-pill').getAttribute('title'), { timeout: 10_000 }).toMatch(/^connection refused/);
  expect(problems).toEqual([]);
});
