// The hub's UI end to end: the real relay, the hub from the command line with --ui, the project's
// RTSP test camera, the command-line phone, and Debian's chromium driving the page. Screenshots of
// each screen go to docs/screenshots/hub-*.png.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import jsQR from 'jsqr';
import type { Page } from 'playwright-core';
import { startCamera, type TestCamera } from '../support/camera/camera.ts';
import { buildRenderer } from '../../renderer/build.ts';
import { LOCAL_CALL_NAMES } from '../../main/api/calls.ts';
import { callPath } from '../../contract/hub-ui.ts';
import { ROOT, launchChromium, runProgram, startProgram, stopAll, tempDir } from './harness.ts';
import { a11yProblems } from './a11y.ts';

// Screenshots refresh docs/ only when asked (VIGIL_UPDATE_SCREENSHOTS=1), so a test run leaves the tree clean.
const SHOTS = process.env.VIGIL_UPDATE_SCREENSHOTS === '1' ? join(ROOT, 'docs', 'screenshots') : join(ROOT, 'test-output', 'screenshots');
const VIGIL = join(ROOT, 'bin', 'vigil');
const PHONE = join(ROOT, 'bin', 'vigil-phone');

let uiUrl: URL;
let base: string;
let camera: TestCamera;
let page: Page;
let problems: string[];
let work: string;

async function shot(name: string): Promise<Buffer> {
  await page.waitForTimeout(150);
  const png = await page.screenshot({ fullPage: false });
  mkdirSync(SHOTS, { recursive: true });
  writeFileSync(join(SHOTS, `hub-${name}.png`), png);
  return png;
}

async function go(route: string): Promise<void> {
  await page.evaluate((r) => (location.hash = `#/${r}`), route);
  await page.locator('main h1').first().waitFor();
}

/** Decodes a PNG with chromium itself (a blank page, no CSP) and reads the QR from the pixels. */
async function qrFromScreenshot(png: Buffer): Promise<string | undefined> {
  const decoder = await page.context().newPage();
  try {
    const { width, height, rgba } = await decoder.evaluate(async (b64) => {
      const img = new Image();
      img.src = `data:image/png;base64,${b64}`;
      await img.decode();
      const c = document.createElement('canvas');
      c.width = img.naturalWidth;
      c.height = img.naturalHeight;
      const g = c.getContext('2d')!;
      g.drawImage(img, 0, 0);
      const data = g.getImageData(0, 0, c.width, c.height).data;
      let s = '';
      for (let i = 0; i < data.length; i += 0x8000) s += String.fromCharCode(...data.subarray(i, i + 0x8000));
      return { width: c.width, height: c.height, rgba: btoa(s) };
    }, png.toString('base64'));
    const pixels = new Uint8ClampedArray(Buffer.from(rgba, 'base64'));
    return jsQR(pixels, width, height)?.data;
  } finally {
    await decoder.close();
  }
}

async function expectAccessible(): Promise<void> {
  expect(await a11yProblems(page)).toEqual([]);
}

beforeAll(async () => {
  mkdirSync(SHOTS, { recursive: true });
  work = tempDir('vigil-ui-');
  const [, relay, cam] = await Promise.all([
    buildRenderer(),
    startProgram(VIGIL, ['relay', '--listen', '127.0.0.1:0'], /relay listening on (ws:\/\/\S+)/),
    startCamera({ size: '640x360', fps: 15 }),
  ]);
  camera = cam;
  const hub = await startProgram(VIGIL, ['hub', '--data', join(work, 'hub'), '--relay', relay.match[1]!, '--ui', '127.0.0.1:0'], /^ui: (\S+)$/m);
  expect(hub.output().match(/^ui: /gm)).toHaveLength(1);
  uiUrl = new URL(hub.match[1]!);
  base = uiUrl.origin;
  ({ page, problems } = await launchChromium());
}, 90_000);

afterAll(async () => {
  await stopAll();
  await camera?.stop();
});

describe('the hub UI, headless', () => {
  it('answers 401 on every route without the token (and with a wrong one)', async () => {
    // Every call of the local API (the table itself, so a new call cannot escape the check), plus the
    // UI's own paths and ones that lead nowhere.
    const samples: [string, string][] = LOCAL_CALL_NAMES.map((name) => ['POST', callPath(name)]);
    const uiPaths: [string, string][] = [['GET', '/'], ['GET', '/index.html'], ['GET', '/app.js'], ['GET', '/app.css'], ['GET', '/live/x'], ['POST', callPath('nope')], ['GET', '/api/status'], ['GET', '/nope']];
    for (const [method, path] of [...samples, ...uiPaths]) {
      for (const headers of [{}, { authorization: 'Bearer wrong-token' }] as Record<string, string>[]) {
        const res = await fetch(base + path, { method, headers });
        expect(res.status, `${method} ${path} ${JSON.stringify(headers)}`).toBe(401);
        expect(await res.text()).not.toContain('<html');
      }
    }
    // ...and with the token, the page and the API answer.
    const token = uiUrl.searchParams.get('token')!;
    expect((await fetch(base + callPath('status'), { method: 'POST', headers: { authorization: `Bearer ${token}` } })).status).toBe(200);
    const index = await fetch(uiUrl);
    expect(index.status).toBe(200);
    expect(index.headers.get('content-security-policy')).toContain("script-src 'self'");
  });

  it('starts with the first-run flow and the key-protection warning', async () => {
    await page.goto(uiUrl.toString());
    await page.locator('#first-run-steps li').first().waitFor();
    // The token leaves the address bar at once.
    expect(page.url()).not.toContain('token=');
    await expect.poll(() => page.locator('#key-warning').count()).toBe(1);
    await expect.poll(() => page.locator('#relay-pill').textContent(), { timeout: 15_000 }).toContain('relay connected');
    await expectAccessible();
    await shot('first-run');
  });

  it('adds a camera by URL, shows a clear error for a bad one, and plays its tile', async () => {
    await go('add');
    await page.locator('#discovered .empty').waitFor();
    await page.fill('#add-name', 'Porch');
    await page.fill('#add-url', 'http://192.168.1.20/stream');
    await page.click('form button[type=submit]');
    await expect.poll(() => page.locator('#add-error').textContent()).toContain('rtsp://');
    await expectAccessible();
    await shot('add-camera-error');

    await page.fill('#add-url', camera.url);
    await page.click('form button[type=submit]');
    await page.locator('#add-progress .step.done', { hasText: 'Connected' }).waitFor({ timeout: 30_000 });
    expect(await page.locator('#add-progress').textContent()).toContain('avc1');
    await shot('add-camera');

    await go('cameras');
    const video = page.locator('.tile video').first();
    await video.waitFor();
    const frames = () => video.evaluate((v: HTMLVideoElement) => v.getVideoPlaybackQuality().totalVideoFrames);
    await expect.poll(frames, { timeout: 20_000 }).toBeGreaterThan(5);
    // The tile keeps decoding: more than 10 frames within 2 s.
    const before = await frames();
    await expect.poll(frames, { timeout: 2000, interval: 100, message: 'the tile keeps decoding frames' }).toBeGreaterThan(before + 10);
    await expect.poll(() => page.locator('.tile .badge').first().textContent()).toBe('Live');
    await expectAccessible();
    await shot('cameras');
  });

  it('shows the camera page with stream details, and renames the camera', async () => {
    await page.click('.tile a');
    await page.locator('#stream-details [data-field=codec]').waitFor();
    await page.fill('#camera-name', 'Front porch');
    await page.click('form[aria-label="Rename camera"] button');
    await expect.poll(() => page.locator('main h1').textContent()).toBe('Front porch');
    await expect.poll(() => page.locator('[data-field=codec]').textContent()).toContain('avc1');
    expect(await page.locator('[data-field=resolution]').textContent()).toBe('640 × 360');
    await expect.poll(() => page.locator('[data-field=bitrate]').textContent(), { timeout: 10_000 }).toMatch(/bit\/s/);
    await expect.poll(() => page.locator('.camera-page video').evaluate((v: HTMLVideoElement) => v.getVideoPlaybackQuality().totalVideoFrames), { timeout: 15_000 }).toBeGreaterThan(5);
    await expectAccessible();
    await shot('camera');
  });

  it('pairs the command-line phone from the QR in a screenshot, approves it, lists it, revokes it', async () => {
    await go('pair');
    await page.click('#pair-start');
    await page.locator('#pair-qr').waitFor();
    await expectAccessible();
    const png = await shot('pair');
    const link = await qrFromScreenshot(png);
    expect(link, 'a QR code in the screenshot').toMatch(/^vigil:|#/);
    expect(link).toBe(await page.inputValue('#pair-link'));

    const profile = join(work, 'phone.json');
    let phoneCode: string | undefined;
    const pairing = runProgram(PHONE, ['pair', link!, '--profile', profile, '--name', 'Test phone'], {
      timeoutMs: 60_000,
      onOutput: (text) => {
        const m = /code (\d{3}) (\d{3})/.exec(text);
        if (m) phoneCode = `${m[1]} ${m[2]}`;
      },
    });
    await page.locator('#pair-code').waitFor({ timeout: 30_000 });
    await expect.poll(() => phoneCode, { timeout: 10_000 }).toBeDefined();
    expect(await page.locator('#pair-code').textContent()).toBe(phoneCode);
    expect(await page.locator('#pair-confirm h2').textContent()).toContain('Test phone');
    await expectAccessible();
    await shot('pair-code');
    await page.click('#pair-approve');
    const paired = await pairing.done;
    expect(paired.code, paired.output).toBe(0);
    await page.locator('#pair-done.success').waitFor();

    await go('phones');
    const row = page.locator('#phones-table tbody tr', { hasText: 'Test phone' });
    await row.waitFor();
    expect(await row.textContent()).toContain('Owner');
    expect(await page.locator('#revoke-explained').textContent()).toMatch(/gets no new keys/);
    // The roster log's safety code: the same digits the phone shows (PROTOCOL §16).
    const phoneRoster = await runProgram(PHONE, ['roster', '--profile', profile, '--json'], { timeoutMs: 40_000 }).done;
    expect(phoneRoster.code, phoneRoster.output).toBe(0);
    const phoneCode2 = /"safetyCode":"([\d ]+)"/.exec(phoneRoster.output)?.[1];
    expect(phoneCode2).toMatch(/^\d{5}( \d{5}){5}$/);
    await expect.poll(() => page.locator('#safety-code').textContent()).toBe(phoneCode2);
    await expectAccessible();
    await shot('phones');

    // Before revoking, the phone watches (so the refusal below means something).
    const watching = runProgram(PHONE, ['watch', '--profile', profile, '--camera', 'Front porch', '--seconds', '3', '--out', join(work, 'before.mp4')], { timeoutMs: 40_000 });
    await go('relay');
    await expect.poll(() => page.locator('[data-field=watching]').textContent(), { timeout: 10_000 }).toBe('1');
    expect(await page.locator('[data-field=state]').textContent()).toBe('connected');
    await expectAccessible();
    await shot('relay');
    const watched = await watching.done;
    expect(watched.code, watched.output).toBe(0);

    await go('phones');
    await row.locator('button', { hasText: 'Revoke' }).click();
    await row.locator('button', { hasText: 'Yes, revoke' }).click();
    await expect.poll(() => page.locator('#phones-table tbody tr', { hasText: 'Test phone' }).count()).toBe(0);
    expect(await page.locator('#revoked-list').textContent()).toContain('Test phone');

    const after = await runProgram(PHONE, ['watch', '--profile', profile, '--camera', 'Front porch', '--seconds', '3', '--out', join(work, 'after.mp4')], { timeoutMs: 40_000 }).done;
    expect(after.code, after.output).not.toBe(0);
  });

  it('keeps an audit log of what happened', async () => {
    await go('audit');
    await page.locator('#audit-table tbody tr[data-action]').first().waitFor();
    const text = await page.locator('#audit-table').textContent();
    for (const what of ['added a camera', 'renamed a camera', 'paired a phone', 'watched', 'revoked a phone']) expect(text).toContain(what);
    await expectAccessible();
    await shot('audit');
  });

  it('logged no errors in the page', () => {
    // A hub without discovery answers null there (the UI shows an empty state): nothing may fail.
    expect(problems).toEqual([]);
  });
});
