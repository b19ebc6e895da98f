// The phone app's WebCodecs player (issue 20) in Debian's chromium against the real programs (RTSP
// test cameras, `vigil relay`, `vigil hub`, `vigil invite --yes`): where VideoDecoder decodes the
// camera's H.264 the app draws it on #live-canvas (no <video>), the picture changes and frames keep
// being presented; an H.265 camera, which chromium decodes neither in WebCodecs nor in MSE, plays the
// hub's h264 profile through WebCodecs; Unmute switches to the Media Source player, which has the
// sound; and a chromium without VideoDecoder plays the same camera through Media Source.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { buildApp } from '../../../phone/app/build.ts';
import { serveApp, type AppServer } from '../../../phone/app/serve.ts';
import { startCamera, stopAllCameras } from '../../support/camera/camera.ts';
import { ROOT, VIGIL, addCamera, run, start, startHub, startRelay, stopAll, tempDir, waitForCameraState } from '../../support/system.ts';
import { closeAllBrowsers, launchBrowser, type TestBrowser } from '../../support/browser/browser.ts';

let dir: string;
let hubDir: string;
let app: AppServer;

beforeAll(async () => {
  dir = tempDir('vigil-app-webcodecs-');
  hubDir = join(dir, 'hub');
  const [built, h264, h265] = await Promise.all([
    buildApp(),
    startCamera({ codec: 'h264', audio: 'aac', size: '640x360', fps: 15 }),
    startCamera({ codec: 'h265', size: '640x360', fps: 15 }),
  ]);
  app = await serveApp({ dir: built.dir });
  const relay = await startRelay('127.0.0.1:0');
  await startHub(hubDir, relay.url, ['--app-url', app.url]);
  await addCamera(hubDir, 'Hall', h264.url);
  await addCamera(hubDir, 'Garage', h265.url);
  await waitForCameraState(hubDir, 'Hall', ['live']);
  await waitForCameraState(hubDir, 'Garage', ['live']);
}, 120_000);

afterAll(async () => {
  await closeAllBrowsers();
  await app?.close();
  await stopAll();
  await stopAllCameras();
});

/** A phone paired through the app's own link (`#pair=`), showing both cameras. */
async function pairedPhone(initScript?: () => void): Promise<TestBrowser> {
  const invite = start(VIGIL, ['invite', '--data', hubDir, '--yes'], { maxSeconds: 120 });
  const [, link] = await invite.waitFor(/pairing link: (\S+)/);
  const phone = await launchBrowser();
  if (initScript !== undefined) await phone.context.addInitScript(initScript);
  await phone.page.goto(link!);
  await invite.waitFor(/paired ".*" as owner/, 30_000);
  // Both cameras listed with their codec (an H.265 camera's h264 profile is known once it is live).
  await phone.page.waitForFunction(() => document.body.dataset.screen === 'cameras' && document.querySelectorAll('#cameras button').length === 2
    && [...document.querySelectorAll('.camera-meta')].every((m) => m.textContent?.includes('live')), null, { timeout: 30_000 });
  return phone;
}

const stat = (page: Page, name: string) => page.evaluate((n) => document.getElementById('stats')!.dataset[n] ?? '', name);

async function watch(page: Page, camera: string): Promise<void> {
  await page.click(`#cameras button[data-camera] >> text=${camera}`);
  await page.waitForFunction(() => document.getElementById('player-state')?.dataset.state === 'playing', null, { timeout: 30_000 });
  // The stats line refreshes every second.
  await page.waitForFunction(() => document.getElementById('stats')?.dataset.player !== undefined, null, { timeout: 5_000 });
}

/** At least `n` more frames presented on the canvas than now, within `ms`. */
async function presents(page: Page, n: number, ms: number): Promise<void> {
  const from = Number(await stat(page, 'presented'));
  await page.waitForFunction(([target]) => Number(document.getElementById('stats')!.dataset.presented) >= target!, [from + n], { timeout: ms, polling: 200 })
    .catch(async (e: unknown) => {
      throw new Error(`fewer than ${n} more frames presented within ${ms} ms (${from} -> ${await stat(page, 'presented')})`, { cause: e });
    });
}

/** Standard deviation of a PNG's luma (ffmpeg decodes it): a picture, not a flat box. */
async function lumaSpread(png: string): Promise<number> {
  const r = await run('ffmpeg', ['-v', 'error', '-i', png, '-f', 'rawvideo', '-pix_fmt', 'gray', 'pipe:1'], { timeoutMs: 20_000 });
  const px = Buffer.from(r.stdout, 'latin1');
  let sum = 0;
  let sq = 0;
  for (const y of px) {
    sum += y;
    sq += y * y;
  }
  return Math.sqrt(sq / px.length - (sum / px.length) ** 2);
}

describe('WebCodecs player', () => {
  it('plays an H.264 camera on the canvas, the h264 profile of an H.265 one, and switches to Media Source for sound', async () => {
    const phone = await pairedPhone();
    const page = phone.page;
    expect(await page.evaluate(() => typeof VideoDecoder)).toBe('function');

    await watch(page, 'Hall');
    expect(await stat(page, 'player')).toBe('webcodecs');
    expect(await page.evaluate(() => [document.getElementById('live-canvas')!.hidden, document.getElementById('video')!.hidden, document.getElementById('canvas')!.hidden]))
      .toEqual([false, true, true]);
    // Nothing plays in the <video>: no Media Source behind it.
    expect(await page.evaluate(() => (document.getElementById('video') as HTMLVideoElement).src)).toBe('');
    // 15 fps from the camera: at least 30 frames drawn in 4 s, and the picture changes.
    await presents(page, 30, 4_000);
    const out = join(ROOT, 'test-output');
    mkdirSync(out, { recursive: true });
    const shot = (file: string) => page.locator('#live-canvas').screenshot({ path: join(out, file) });
    const first = await shot('webcodecs-canvas-0s.png');
    await presents(page, 15, 3_000);
    const later = await shot('webcodecs-canvas-later.png');
    expect(Buffer.compare(first, later), 'the canvas did not change').not.toBe(0);
    expect(await lumaSpread(join(out, 'webcodecs-canvas-later.png')), 'a picture, not a flat box').toBeGreaterThan(20);
    expect(await page.evaluate(() => [(document.getElementById('live-canvas') as HTMLCanvasElement).width, (document.getElementById('live-canvas') as HTMLCanvasElement).height]))
      .toEqual([640, 360]);
    // The liveness badge works from what the canvas shows.
    expect(await page.evaluate(() => document.getElementById('live-age')!.dataset.state)).toBe('live');

    // Sound: the WebCodecs player has none; Unmute moves the view to Media Source, unmuted.
    expect(await page.isVisible('#unmute')).toBe(true);
    await page.click('#unmute');
    await page.waitForFunction(() => document.getElementById('player-state')?.dataset.state === 'playing'
      && !(document.getElementById('video') as HTMLVideoElement).hidden, null, { timeout: 30_000 });
    await page.waitForFunction(() => document.getElementById('stats')?.dataset.player === 'mse', null, { timeout: 5_000 });
    expect(await page.evaluate(() => (document.getElementById('video') as HTMLVideoElement).muted)).toBe(false);
    expect(await page.textContent('#unmute')).toBe('Mute');
    expect(await page.evaluate(() => document.getElementById('live-canvas')!.hidden)).toBe(true);
    await page.waitForFunction(() => ((document.getElementById('video') as HTMLVideoElement & { webkitAudioDecodedByteCount: number }).webkitAudioDecodedByteCount ?? 0) > 0, null, { timeout: 10_000 });

    // The H.265 camera: this chromium decodes no H.265 in WebCodecs, so the hub's h264 profile plays there.
    await page.click('#back');
    await page.waitForFunction(() => document.body.dataset.screen === 'cameras', null, { timeout: 5_000 });
    const codecs = await page.evaluate(() => [...document.querySelectorAll('.camera-meta')].map((m) => m.textContent ?? ''));
    expect(codecs.some((c) => c.includes('H.265')), codecs.join(' | ')).toBe(true);
    expect(await page.evaluate(async () => (await VideoDecoder.isConfigSupported({ codec: 'hvc1.1.6.L93.B0' })).supported)).toBe(false);
    await watch(page, 'Garage');
    expect(await stat(page, 'player')).toBe('webcodecs');
    expect(await page.evaluate(() => document.getElementById('live-codec')!.dataset.stream)).toBe('h264');
    await presents(page, 30, 6_000);
    expect(phone.problems.filter((p) => !p.includes('favicon'))).toEqual([]);
    await phone.close();
  }, 150_000);

  it('a browser without VideoDecoder plays the same camera through Media Source', async () => {
    const phone = await pairedPhone(() => {
      delete (window as unknown as Record<string, unknown>).VideoDecoder;
    });
    const page = phone.page;
    expect(await page.evaluate(() => 'VideoDecoder' in window)).toBe(false);
    await watch(page, 'Hall');
    expect(await stat(page, 'player')).toBe('mse');
    expect(await page.evaluate(() => [document.getElementById('live-canvas')!.hidden, document.getElementById('video')!.hidden])).toEqual([true, false]);
    const frames = () => page.evaluate(() => (document.getElementById('video') as HTMLVideoElement).getVideoPlaybackQuality().totalVideoFrames);
    const from = await frames();
    await page.waitForFunction(([target]) => (document.getElementById('video') as HTMLVideoElement).getVideoPlaybackQuality().totalVideoFrames >= target!, [from + 30], { timeout: 5_000, polling: 200 });
    expect(phone.problems.filter((p) => !p.includes('favicon'))).toEqual([]);
    await phone.close();
  }, 90_000);
});
