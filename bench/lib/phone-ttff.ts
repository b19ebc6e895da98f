// Time to first frame of the phone app, tap to painted, against the real programs on 127.0.0.1: the
// project's RTSP test camera (640x360@15, H.264), `vigil relay`, `vigil hub`, `vigil invite --yes`,
// the app built into a temporary folder and served by phone/app/serve.ts, and Debian's chromium
// (playwright-core, Pixel 7 emulation). The app pairs from the pairing link pasted into its paste
// field; then the camera is tapped `taps` times (back to the list in between), and once more after a
// page reload (cold: new page, new link to the hub, new decoder).
//
// Each tap is timed twice in the page:
// - by the bench: from the click (performance.now() in a capture listener, the moment the app's own
//   handler runs) to the first frame the video element hands the compositor
//   (requestVideoFrameCallback's expectedDisplayTime), and to `loadeddata` (readyState >= 2);
// - by the app: `video.dataset.firstFrameMs`, which the player sets on its 500 ms tick once
//   readyState >= 2, so it reads up to 500 ms late.
// Every process and the browser is stopped in stopPhoneSystem(), also on error; each is also bounded
// by its own time limit, so a killed bench leaves nothing behind for long.
import { join } from 'node:path';
import { buildApp } from '../../phone/app/build.ts';
import { serveApp, type AppServer } from '../../phone/app/serve.ts';
import { startCamera, stopAllCameras } from '../../test/support/camera/camera.ts';
import { VIGIL, addCamera, start, stopAll, tempDir, waitForCameraState } from '../../test/support/system.ts';
import { closeAllBrowsers, launchBrowser } from '../../test/support/browser/browser.ts';
import type { Page } from 'playwright-core';

export interface TapSample {
  /** Click to `loadedmetadata` (the init segment appended), ms. */
  metadata: number;
  /** Click to the first media in the SourceBuffer (an `updateend` with something buffered), ms. */
  buffered: number;
  /** Click to the first frame presented (rVFC expectedDisplayTime), ms. */
  painted: number;
  /** Click to `loadeddata` on the video element, ms. */
  loadeddata: number;
  /** The app's own `firstFrameMs` (readyState >= 2, seen on its 500 ms tick), ms. */
  app: number;
}

export interface TtffResult {
  warm: TapSample[];
  cold: TapSample;
  /** Wall time of the setup (build, camera, relay, hub, pairing), ms. */
  setupMs: number;
  /** Wall time of pairing alone (paste to the camera list), ms. */
  pairMs: number;
  /** Problems the page logged (console errors, failed requests), for the report. */
  problems: string[];
}

const CAMERA = 'Bench camera';
/** Every process started here dies by itself after this long, whatever happens to the bench. */
const PROCESS_LIMIT_S = 150;
const TAP_TIMEOUT_MS = 15_000;

let app: AppServer | undefined;

export async function stopPhoneSystem(): Promise<void> {
  await closeAllBrowsers().catch(() => undefined);
  await app?.close().catch(() => undefined);
  app = undefined;
  await stopAll().catch(() => undefined);
  await stopAllCameras().catch(() => undefined);
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

// In-page code is plain JavaScript in strings: tsx compiles this file with esbuild's keepNames, which
// wraps named functions in a `__name()` helper the page does not have, so a TypeScript function
// handed to page.evaluate() can throw there.

/** Tells the bench when media first lands in the app's SourceBuffer (the app's code is untouched). */
const WATCH_SOURCE_BUFFERS = `void (() => {
  const add = MediaSource.prototype.addSourceBuffer;
  MediaSource.prototype.addSourceBuffer = function (type) {
    const sb = add.call(this, type);
    sb.addEventListener('updateend', () => {
      if (sb.buffered.length > 0) window.dispatchEvent(new Event('bench-buffered'));
    });
    return sb;
  };
})();`;

/**
 * Arms the page for the next click: window.benchTap resolves with the TapSample timings (ms since the
 * click) but the app's; window.benchPartial holds those reached so far, for the message on a timeout.
 */
const ARM_TAP = `void (() => {
  window.benchTap = new Promise((resolve) => {
    document.addEventListener('click', () => {
      const t0 = performance.now();
      const partial = {};
      window.benchPartial = partial;
      const since = (what) => (partial[what] = performance.now() - t0);
      const buffered = new Promise((ok) => window.addEventListener('bench-buffered', () => ok(since('buffered')), { once: true }));
      // After the app's own click handler has run: it has given the video its new MediaSource.
      setTimeout(() => {
        const v = document.getElementById('video');
        const on = (event) => new Promise((ok) => v.addEventListener(event, () => ok(since(event)), { once: true }));
        const painted = new Promise((ok) => v.requestVideoFrameCallback((now, meta) => ok(partial.painted = meta.expectedDisplayTime - t0)));
        Promise.all([on('loadedmetadata'), buffered, on('loadeddata'), painted])
          .then(([metadata, b, loadeddata, p]) => resolve({ metadata, buffered: b, loadeddata, painted: p }));
      }, 0);
    }, { capture: true, once: true });
  });
})();`;

/** Arms the page to time the next click, taps the camera, and returns the timings. */
async function tapOnce(page: Page): Promise<TapSample> {
  await page.evaluate(ARM_TAP);
  await page.tap('#cameras button[data-camera]');
  const timing = await Promise.race([
    page.evaluate('window.benchTap') as Promise<Omit<TapSample, 'app'>>,
    sleep(TAP_TIMEOUT_MS).then(async () => {
      const partial = await page.evaluate('JSON.stringify(window.benchPartial)') as string;
      throw new Error(`no frame painted within ${TAP_TIMEOUT_MS} ms of the tap (reached: ${partial})`);
    }),
  ]);
  // Anonymous functions are safe from keepNames; waitForFunction with a string would need eval, which the app's CSP forbids.
  await page.waitForFunction(() => document.getElementById('video')!.dataset.firstFrameMs !== undefined, null, { timeout: TAP_TIMEOUT_MS });
  const appMs = await page.evaluate(() => Number(document.getElementById('video')!.dataset.firstFrameMs));
  return { ...timing, app: appMs };
}

const line = (s: TapSample): string => `painted ${s.painted.toFixed(0)} ms (init segment ${s.metadata.toFixed(0)}, first media buffered ${s.buffered.toFixed(0)}, ` +
  `loadeddata ${s.loadeddata.toFixed(0)}, app's firstFrameMs ${s.app})`;

const listReady = (page: Page) => page.waitForFunction(() => document.body.dataset.screen === 'cameras'
  && document.body.dataset.link === 'live' && document.querySelector('#cameras button[data-camera]') !== null, null, { timeout: 30_000 });

export async function measureTimeToFirstFrame(opts: { taps: number; log?: (line: string) => void }): Promise<TtffResult> {
  const log = opts.log ?? (() => undefined);
  const t0 = performance.now();
  const dir = tempDir('vigil-bench-phone-');
  const hubDir = join(dir, 'hub');
  const [built, camera] = await Promise.all([
    buildApp({ out: join(dir, 'app') }),
    startCamera({ codec: 'h264', size: '640x360', fps: 15, runSeconds: PROCESS_LIMIT_S }),
  ]);
  app = await serveApp({ dir: built.dir });
  const relay = start(VIGIL, ['relay', '--listen', '127.0.0.1:0'], { maxSeconds: PROCESS_LIMIT_S });
  const [, relayUrl] = await relay.waitFor(/relay listening on (ws:\/\/127\.0\.0\.1:\d+\/v1)/);
  const hub = start(VIGIL, ['hub', '--data', hubDir, '--relay', relayUrl!, '--app-url', app.url], { maxSeconds: PROCESS_LIMIT_S });
  await hub.waitFor(/hub [0-9a-f]+ running/);
  await hub.waitFor(/relay: ready/);
  await addCamera(hubDir, CAMERA, camera.url);
  await waitForCameraState(hubDir, CAMERA, ['live']);
  log(`  set up camera ${camera.url}, relay ${relayUrl}, hub, app ${app.url}`);

  const invite = start(VIGIL, ['invite', '--data', hubDir, '--yes'], { maxSeconds: 60 });
  const [, link] = await invite.waitFor(/pairing link: (\S+)/);
  const phone = await launchBrowser({ maxSeconds: PROCESS_LIMIT_S });
  const page = phone.page;
  await page.addInitScript({ content: WATCH_SOURCE_BUFFERS });
  // What is timed here is the Media Source player (SourceBuffer, loadeddata); bench:glass times both.
  await page.addInitScript({ content: 'delete window.VideoDecoder;' });
  await page.goto(app.url);
  await page.waitForFunction(() => document.body.dataset.screen === 'pair', null, { timeout: 20_000 });
  const pairStart = performance.now();
  await page.fill('#phone-name', 'Bench phone');
  await page.tap('#pair-form summary'); // "No camera? Paste the pairing link"
  await page.fill('#pair-link', link!);
  await page.tap('#pair-submit');
  await invite.waitFor(/paired "Bench phone" as owner/, 30_000);
  await listReady(page);
  const pairMs = performance.now() - pairStart;
  const setupMs = performance.now() - t0;
  await invite.stop();

  const warm: TapSample[] = [];
  for (let i = 0; i < opts.taps; i++) {
    warm.push(await tapOnce(page));
    log(`  tap ${i + 1}: ${line(warm[i]!)}`);
    await page.tap('#back');
    await listReady(page);
    await sleep(1000);
  }
  await page.reload();
  await listReady(page);
  const cold = await tapOnce(page);
  log(`  cold tap after a page reload: ${line(cold)}`);
  return { warm, cold, setupMs, pairMs, problems: phone.problems.filter((p) => !p.includes('favicon')) };
}
