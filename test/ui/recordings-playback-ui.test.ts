// The Recordings screen's "Play recordings on this computer" (issue 16, THREAT-MODEL T13) in Debian's
// chromium. A real hub in this process serves the UI (as `vigil hub --ui` does) and records the RTSP
// test camera. Without the desktop app's keychain (the headless hub) the screen says in one line why
// recordings do not play here, and offers no switch. Then the desktop viewer is attached as the
// Electron app attaches it, with a stand-in keychain (Electron cannot run here: no display, no OS
// keychain; the same DesktopViewer, only its protector differs): the switch, with what it gives up,
// turns it on, the day's recorded ranges are listed, and a range plays in a <video> whose time
// advances. A screenshot goes to docs/screenshots/hub-recordings-playback.png when
// VIGIL_UPDATE_SCREENSHOTS=1.
import { afterAll, beforeAll, expect, it } from 'vitest';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { cryptoReady, sodium } from '../../crypto/sodium.ts';
import { Hub } from '../../main/hub.ts';
import { DesktopViewer, OS_KEYCHAIN, saveRecordingsOnDesktop, type KeychainProtector } from '../../main/keys/desktop-viewer.ts';
import { createUiServer } from '../../main/ui/ui-server.ts';
import { buildRenderer } from '../../renderer/build.ts';
import { startCamera, type TestCamera } from '../support/camera/camera.ts';
import { a11yProblems } from './a11y.ts';
import { ROOT, launchChromium, stopAll, tempDir } from './harness.ts';

const SHOTS = process.env.VIGIL_UPDATE_SCREENSHOTS === '1' ? join(ROOT, 'docs', 'screenshots') : join(ROOT, 'test-output', 'screenshots');
const CAMERA = 'Driveway';

/** A stand-in for the OS keychain (safeStorage): its key lives in this process, never on disk. */
function keychain(): KeychainProtector {
  const s = sodium();
  const key = s.crypto_secretbox_keygen();
  return {
    kind: OS_KEYCHAIN,
    protect(plain) {
      const nonce = s.randombytes_buf(s.crypto_secretbox_NONCEBYTES);
      return new Uint8Array([...nonce, ...s.crypto_secretbox_easy(plain, nonce, key)]);
    },
    unprotect: (blob) => s.crypto_secretbox_open_easy(blob.subarray(s.crypto_secretbox_NONCEBYTES), blob.subarray(0, s.crypto_secretbox_NONCEBYTES), key),
  };
}

async function until(what: string, cond: () => boolean, timeoutMs: number): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

let work: string;
let hub: Hub;
let camera: TestCamera;
let page: Page;
let problems: string[];
let uiUrl: string;

beforeAll(async () => {
  await cryptoReady();
  work = tempDir('vigil-ui-play-');
  const ui = createUiServer();
  const [, cam] = await Promise.all([buildRenderer(), startCamera({ size: '640x360', fps: 15, gop: 15 })]);
  camera = cam;
  hub = await Hub.start({ dataDir: join(work, 'hub'), relays: [], apiHost: '127.0.0.1', apiPort: 0, uiHandler: ui.handler });
  ui.attach(hub);
  uiUrl = `${hub.apiUrl}/?token=${encodeURIComponent(hub.apiToken)}`;
  hub.cameras.add({ name: CAMERA, url: camera.url });
  ({ page, problems } = await launchChromium());
}, 90_000);

afterAll(async () => {
  await stopAll();
  await hub?.close();
  await camera?.stop();
});

it('the headless hub\'s UI says in one line why recordings do not play here, and has no switch', async () => {
  await page.goto(uiUrl);
  await page.evaluate(() => (location.hash = '#/recordings'));
  const note = page.locator('#desktop-note');
  await note.waitFor();
  expect(await note.textContent()).toMatch(/^Recordings do not play on this computer: No OS keychain here .*so recordings play on your phones\.$/);
  expect(await page.locator('#desktop-switch').count()).toBe(0);
  expect(await page.locator('#playback').count()).toBe(0);
  expect(await a11yProblems(page)).toEqual([]);
  expect(problems).toEqual([]);
}, 60_000);

it('in the desktop app: the switch says what it gives up, turns it on, and a recorded range plays in a <video>', async () => {
  const settingsPath = join(work, 'settings.json');
  const viewer = new DesktopViewer({
    dataDir: join(work, 'hub'), identity: hub.identity, protector: keychain(), index: hub.recordings.index,
    enrol: (c, name) => hub.enrolDesktopViewer(c, name), revoke: (id) => hub.revokeDevice(id),
    persist: (on) => saveRecordingsOnDesktop(settingsPath, on),
  });
  hub.service.attachDesktop(viewer);
  // Opened again from the printed link (the page itself needs the token).
  await page.goto(uiUrl);
  await page.evaluate(() => (location.hash = '#/recordings'));
  const toggle = page.getByRole('switch', { name: 'Play recordings on this computer' });
  await toggle.waitFor();
  expect(await toggle.isChecked()).toBe(false);
  expect(await page.locator('#desktop-note').count()).toBe(0);
  const givesUp = await page.locator(`#${await toggle.getAttribute('aria-describedby')}`).textContent();
  expect(givesUp).toMatch(/Anyone who can use this computer as you .* can watch those recordings; a stolen disk alone cannot\. Every phone sees this computer added\./);

  await toggle.click();
  await expect.poll(() => page.getByRole('switch', { name: 'Play recordings on this computer' }).isChecked()).toBe(true);
  expect(JSON.parse(readFileSync(settingsPath, 'utf8'))).toEqual({ recordingsOnDesktop: true });
  await page.locator('#playback-form').waitFor();

  // Recording from now on, in epochs sealed to this computer too; two segments closed.
  hub.recordings.set(CAMERA, 'continuous');
  const cameraId = hub.store.getCamera(CAMERA)!.id;
  await until('two closed segments', () => hub.recordings.index.segmentsIn(cameraId, 0, Date.now() + 60_000, 10).filter((s) => s.closed).length >= 2, 90_000);
  // The day's ranges are read again when the day is picked.
  await page.locator('#play-day').dispatchEvent('change');
  const range = page.locator('#play-ranges button').first();
  await range.waitFor({ timeout: 15_000 });
  expect(await range.textContent()).toMatch(/^Play .+ to .+$/);
  await range.click();

  await expect.poll(() => page.locator('#play-status').textContent(), { timeout: 30_000 }).toMatch(/^Playing \d+ segments? of Driveway, /);
  const video = page.locator('#play-video');
  await expect.poll(() => video.evaluate((v: HTMLVideoElement) => v.videoWidth), { timeout: 15_000 }).toBeGreaterThan(0);
  const t0 = await video.evaluate((v: HTMLVideoElement) => v.currentTime);
  await expect.poll(() => video.evaluate((v: HTMLVideoElement) => v.currentTime), { timeout: 15_000 }).toBeGreaterThan(t0 + 0.5);
  expect(await video.evaluate((v: HTMLVideoElement) => v.error)).toBeNull();
  expect(await page.locator('#play-lines').isHidden()).toBe(true);

  expect(await a11yProblems(page)).toEqual([]);
  mkdirSync(SHOTS, { recursive: true });
  writeFileSync(join(SHOTS, 'hub-recordings-playback.png'), await page.screenshot({ fullPage: true }));
  expect(problems).toEqual([]);
}, 150_000);
