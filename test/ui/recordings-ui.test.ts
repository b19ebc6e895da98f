// The hub UI's Recordings screen (issue 16): per camera its bytes on disk, oldest and newest times,
// mode and keep days, and all of it against the quota and the disk's free space; the settings
// change from the page and `vigil recordings` (the same store) agrees. The real hub from the command
// line with --ui and --storage-max-gb, the RTSP test camera, and Debian's chromium. A screenshot goes
// to docs/screenshots/hub-recordings.png when VIGIL_UPDATE_SCREENSHOTS=1.
import { afterAll, beforeAll, expect, it } from 'vitest';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { buildRenderer } from '../../renderer/build.ts';
import { startCamera, type TestCamera } from '../support/camera/camera.ts';
import { a11yProblems } from './a11y.ts';
import { ROOT, launchChromium, runProgram, startProgram, stopAll, tempDir } from './harness.ts';

const SHOTS = process.env.VIGIL_UPDATE_SCREENSHOTS === '1' ? join(ROOT, 'docs', 'screenshots') : join(ROOT, 'test-output', 'screenshots');
const VIGIL = join(ROOT, 'bin', 'vigil');
const CAMERA = 'Garden';

let data: string;
let uiUrl: string;
let camera: TestCamera;
let page: Page;
let problems: string[];

async function vigil(...args: string[]): Promise<string> {
  const { code, output } = await runProgram(VIGIL, args, { timeoutMs: 30_000 }).done;
  expect(code, output).toBe(0);
  return output;
}

async function cliRecordings(): Promise<{ camera: string; mode: string; keepDays: number; bytes: number }[]> {
  return (await vigil('recordings', '--data', data, '--json')).trim().split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l));
}

beforeAll(async () => {
  const work = tempDir('vigil-ui-rec-');
  data = join(work, 'hub');
  const [, cam] = await Promise.all([buildRenderer(), startCamera({ size: '640x360', fps: 15 })]);
  camera = cam;
  const hub = await startProgram(VIGIL, ['hub', '--data', data, '--storage-max-gb', '2', '--ui', '127.0.0.1:0'], /^ui: (\S+)$/m);
  uiUrl = hub.match[1]!;
  await vigil('camera', 'add', '--data', data, camera.url, '--name', CAMERA);
  ({ page, problems } = await launchChromium());
}, 90_000);

afterAll(async () => {
  await stopAll();
  await camera?.stop();
});

it('shows each camera\'s recordings and the quota, changes mode and keep days, and the sizes grow', async () => {
  await page.goto(uiUrl);
  await page.evaluate(() => (location.hash = '#/recordings'));
  const row = page.locator('#recordings-table tbody tr', { hasText: CAMERA });
  await row.waitFor();
  expect(await row.getAttribute('data-mode')).toBe('off');
  await expect.poll(() => page.locator('#storage-summary').textContent()).toMatch(/^Recordings take 0 B of a 2\.0 GiB quota\. The disk has .* free of .*; the hub keeps at least .* free/);

  await row.locator('[data-field=mode]').selectOption('continuous');
  await row.locator('[data-field=keep]').fill('3');
  await row.getByRole('button', { name: `Save recording settings for ${CAMERA}` }).click();
  await expect.poll(() => page.locator('#recordings-table tbody tr', { hasText: CAMERA }).getAttribute('data-mode')).toBe('continuous');
  expect(await cliRecordings()).toEqual([expect.objectContaining({ camera: CAMERA, mode: 'continuous', keepDays: 3 })]);

  // Recording now: the screen's own refresh (every 5 s) shows bytes on disk, the same as the command line's.
  const bytes = page.locator('#recordings-table tbody tr', { hasText: CAMERA }).locator('[data-field=bytes]');
  await expect.poll(async () => Number(await bytes.getAttribute('data-bytes')), { timeout: 60_000, interval: 1000 }).toBeGreaterThan(0);
  const shown = Number(await bytes.getAttribute('data-bytes'));
  const [cli] = await cliRecordings();
  expect(cli!.bytes).toBeGreaterThanOrEqual(shown);
  await expect.poll(() => page.locator('#storage-summary').textContent()).not.toContain('take 0 B');
  expect(Number(await page.locator('#storage-meter').getAttribute('value'))).toBeGreaterThan(0);

  expect(await a11yProblems(page)).toEqual([]);
  mkdirSync(SHOTS, { recursive: true });
  writeFileSync(join(SHOTS, 'hub-recordings.png'), await page.screenshot({ fullPage: false }));

  // A keep-days value out of range is refused on the page, and nothing changes.
  const keep = page.locator('#recordings-table tbody tr', { hasText: CAMERA }).locator('[data-field=keep]');
  await keep.fill('0');
  await page.getByRole('button', { name: `Save recording settings for ${CAMERA}` }).click();
  await expect.poll(() => page.locator('main [role=alert]').first().textContent()).toContain('Keep days must be a whole number from 1 to 3650');
  expect((await cliRecordings())[0]!.keepDays).toBe(3);
  await keep.fill('3');

  expect(problems).toEqual([]);
}, 120_000);
