// The phone app where the browser has no Media Source (issue 19), and sound, in Debian's chromium
// against the real programs (RTSP test camera with a 440 Hz tone, a wiretap in front of `vigil relay`,
// `vigil hub`, `vigil invite --yes`). A chromium whose MediaSource and ManagedMediaSource are deleted
// before the app loads picks the hub's mpeg1 profile by itself, says so on the badge, and paints a
// changing picture on its canvas with JSMpeg, while the relay's bytes hold no MPEG-TS in clear. A
// normal chromium plays the camera's own stream with its AAC audio, muted until the user unmutes,
// and then an AnalyserNode on the video element hears the tone.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { buildApp } from '../../../phone/app/build.ts';
import { serveApp, type AppServer } from '../../../phone/app/serve.ts';
import { MPEG1_BADGE } from '../../../phone/app/src/order.ts';
import { startCamera, stopAllCameras } from '../../support/camera/camera.ts';
import { startRelayTap, type RelayTap } from '../../support/relay-tap.ts';
import { ROOT, VIGIL, addCamera, run, start, startHub, startRelay, stopAll, tempDir, waitForCameraState } from '../../support/system.ts';
import { closeAllBrowsers, launchBrowser, type TestBrowser } from '../../support/browser/browser.ts';

let dir: string;
let hubDir: string;
let app: AppServer;
let tap: RelayTap;

beforeAll(async () => {
  dir = tempDir('vigil-app-mpeg1-');
  hubDir = join(dir, 'hub');
  const [built, camera] = await Promise.all([
    buildApp(),
    startCamera({ codec: 'h264', audio: 'aac', size: '640x360', fps: 15 }),
  ]);
  app = await serveApp({ dir: built.dir });
  tap = await startRelayTap();
  const relay = await startRelay('127.0.0.1:0', ['--public-host', tap.host]);
  tap.setUpstream(relay.url);
  await startHub(hubDir, tap.url, ['--app-url', app.url]);
  await addCamera(hubDir, 'Hall', camera.url);
  await waitForCameraState(hubDir, 'Hall', ['live']);
}, 120_000);

afterAll(async () => {
  await closeAllBrowsers();
  await app?.close();
  await tap?.close();
  await stopAll();
  await stopAllCameras();
});

/** A phone paired through the app's own link (`#pair=`), showing the camera list. */
async function pairedPhone(initScript?: () => void): Promise<TestBrowser> {
  const invite = start(VIGIL, ['invite', '--data', hubDir, '--yes'], { maxSeconds: 120 });
  const [, link] = await invite.waitFor(/pairing link: (\S+)/);
  const phone = await launchBrowser();
  if (initScript !== undefined) await phone.context.addInitScript(initScript);
  // Opening the link starts the pairing (the app reads it from the address at start).
  await phone.page.goto(link!);
  await invite.waitFor(/paired ".*" as owner/, 30_000);
  await phone.page.waitForFunction(() => document.body.dataset.screen === 'cameras' && document.querySelectorAll('#cameras button').length === 1, null, { timeout: 30_000 });
  return phone;
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

/** Offsets where four TS packets follow one another (0x47 every 188 bytes). */
function tsSyncRuns(data: Uint8Array): number {
  let runs = 0;
  for (let i = 0; i + 188 * 3 < data.length; i++) {
    if (data[i] === 0x47 && data[i + 188] === 0x47 && data[i + 376] === 0x47 && data[i + 564] === 0x47) {
      runs++;
      i += 751;
    }
  }
  return runs;
}

describe('phone app without Media Source', () => {
  it('picks the mpeg1 profile by itself, says so, and paints a changing picture; the relay sees no MPEG-TS in clear', async () => {
    const phone = await pairedPhone(() => {
      // iOS 16.0-16.3 Safari: neither MediaSource nor ManagedMediaSource, nor WebCodecs (16.4 has
      // VideoDecoder, and the app then prefers it: webcodecs.test.ts).
      const w = window as unknown as Record<string, unknown>;
      delete w.VideoDecoder;
      delete w.MediaSource;
      delete w.ManagedMediaSource;
      delete w.WebKitMediaSource;
    });
    const page = phone.page;
    expect(await page.evaluate(() => 'MediaSource' in window || 'ManagedMediaSource' in window)).toBe(false);
    const before = tap.captured.length;
    await page.click('#cameras button[data-camera] >> text=Hall');
    await page.waitForFunction(() => document.getElementById('player-state')?.dataset.state === 'playing', null, { timeout: 30_000 });
    expect(await page.textContent('#live-codec')).toBe(MPEG1_BADGE);
    expect(await page.evaluate(() => document.getElementById('live-codec')!.dataset.stream)).toBe('mpeg1');
    expect(await page.evaluate(() => [document.getElementById('canvas')!.hidden, document.getElementById('video')!.hidden])).toEqual([false, true]);

    // The canvas's pixels change over 5 s (the test pattern moves), and hold a picture.
    const out = join(ROOT, 'test-output');
    mkdirSync(out, { recursive: true });
    const shot = (file: string) => page.locator('#canvas').screenshot({ path: join(out, file) });
    const first = await shot('mpeg1-canvas-0s.png');
    // The stats line refreshes every second, from the moment the phone connected: the picture can
    // play before its first refresh, when `appended` is not written yet.
    await page.waitForFunction(() => Number(document.getElementById('stats')!.dataset.appended) > 0, null, { timeout: 5_000 });
    const decodedAt0 = Number(await page.evaluate(() => document.getElementById('stats')!.dataset.appended));
    await new Promise((r) => setTimeout(r, 5000));
    const later = await shot('mpeg1-canvas-5s.png');
    expect(Buffer.compare(first, later), 'the canvas did not change in 5 s').not.toBe(0);
    const decoded = Number(await page.evaluate(() => document.getElementById('stats')!.dataset.appended));
    // 25 fps from the hub: more than 60 pictures in the 5 s (the page's stats tick every second).
    expect(decoded - decodedAt0).toBeGreaterThan(60);
    expect(await lumaSpread(join(out, 'mpeg1-canvas-5s.png')), 'a picture, not a flat box').toBeGreaterThan(20);

    // What the relay carried meanwhile: plenty of bytes, not one run of four TS packets in clear.
    const seen = tap.captured.slice(before);
    expect(seen.reduce((n, b) => n + b.length, 0)).toBeGreaterThan(200_000);
    expect(seen.map((b) => tsSyncRuns(b)).reduce((a, b) => a + b, 0), 'MPEG-TS in clear on the relay').toBe(0);
    // The check can fail: the same bytes in clear are full of it.
    const r = await run(VIGIL, ['camera', 'list', '--data', hubDir, '--json']);
    expect(JSON.parse(r.stdout.trim().split('\n')[0]!).profiles.find((p: { name: string }) => p.name === 'mpeg1')).toMatchObject({ running: true });
    // Nothing went wrong in the page: no CSP violation (build.ts keeps JSMpeg's <style> out), no error.
    expect(phone.problems.filter((p) => !p.includes('favicon'))).toEqual([]);
    await phone.close();
  }, 90_000);
});

describe('sound', () => {
  it('the camera\'s audio plays muted until the user unmutes; then an AnalyserNode hears the tone', async () => {
    // The Media Source player's sound (webcodecs.test.ts: Unmute in the WebCodecs player moves here).
    const phone = await pairedPhone(() => {
      delete (window as unknown as Record<string, unknown>).VideoDecoder;
    });
    const page = phone.page;
    await page.click('#cameras button[data-camera] >> text=Hall');
    await page.waitForFunction(() => document.getElementById('player-state')?.dataset.state === 'playing', null, { timeout: 30_000 });
    expect(await page.evaluate(() => (document.getElementById('video') as HTMLVideoElement).muted)).toBe(true);
    expect(await page.isVisible('#unmute')).toBe(true);
    // The video element has an audio track: its decoder has been fed audio.
    await page.waitForFunction(() => ((document.getElementById('video') as HTMLVideoElement & { webkitAudioDecodedByteCount: number }).webkitAudioDecodedByteCount ?? 0) > 0, null, { timeout: 10_000 });
    // An analyser on the element's output: silent while muted.
    await page.evaluate(() => {
      const video = document.getElementById('video') as HTMLVideoElement;
      const ctx = new AudioContext();
      const analyser = ctx.createAnalyser();
      analyser.fftSize = 2048;
      ctx.createMediaElementSource(video).connect(analyser);
      analyser.connect(ctx.destination);
      (window as unknown as { level: () => number }).level = () => {
        const d = new Float32Array(analyser.fftSize);
        analyser.getFloatTimeDomainData(d);
        let peak = 0;
        for (const x of d) peak = Math.max(peak, Math.abs(x));
        return peak;
      };
      void ctx.resume();
    });
    const level = () => page.evaluate(() => (window as unknown as { level: () => number }).level());
    await new Promise((r) => setTimeout(r, 500));
    expect(await level(), 'sound while muted').toBe(0);
    await page.click('#unmute');
    expect(await page.evaluate(() => (document.getElementById('video') as HTMLVideoElement).muted)).toBe(false);
    expect(await page.textContent('#unmute')).toBe('Mute');
    // The tone (volume 0.2 at the camera): a peak well above silence within a few seconds.
    await page.waitForFunction(() => (window as unknown as { level: () => number }).level() > 0.05, null, { timeout: 10_000, polling: 100 })
      .catch(async (e: unknown) => {
        throw new Error(`no sound after unmuting (peak ${await level()})`, { cause: e });
      });
    await phone.close();
  }, 90_000);
});
