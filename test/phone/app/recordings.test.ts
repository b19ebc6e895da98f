// The phone app's recordings timeline (issue 16) in Debian's chromium, against the real programs:
// the RTSP test camera, `vigil relay`, `vigil hub --app-url`, a phone paired by its invite link,
// then `vigil record --mode continuous` for a few seconds. From the live view the user opens the
// timeline: it shows the recorded range; a drag along it shows a decoded picture (pixels on a
// canvas); it plays at 1× (the video's clock runs, frames are painted) and at 4× (keyframes only:
// pictures step while the video stays paused, the cursor runs faster than the clock); Live goes
// back to live video; Export downloads an MP4 that ffprobe reads and a proof that
// `vigil verify-export` accepts.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Download, Page } from 'playwright-core';
import { buildApp } from '../../../phone/app/build.ts';
import { serveApp, type AppServer } from '../../../phone/app/serve.ts';
import { startCamera, stopAllCameras } from '../../support/camera/camera.ts';
import { VIGIL, addCamera, run, start, startHub, startRelay, stopAll, tempDir, waitForCameraState, waitUntil } from '../../support/system.ts';
import { closeAllBrowsers, launchBrowser, type TestBrowser } from '../../support/browser/browser.ts';

const CAMERA = 'Garden';
let dir: string;
let hubDir: string;
let app: AppServer;
let phone: TestBrowser;
let page: Page;

/** The hub's own view of the camera's recordings (`vigil recordings --json`). */
async function hubRecordings(): Promise<{ segments: number; oldest: string | null; newest: string | null; id: string }> {
  const r = await run(VIGIL, ['recordings', '--data', hubDir, '--json'], { timeoutMs: 30_000 });
  expect(r.code, r.stderr).toBe(0);
  return r.stdout.trim().split('\n').map((l) => JSON.parse(l) as { camera: string; segments: number; oldest: string | null; newest: string | null; id: string }).find((c) => c.camera === CAMERA)!;
}

const dataset = (id: string, key: string) => page.evaluate(([i, k]) => document.getElementById(i!)!.dataset[k!], [id, key] as const);
const num = async (id: string, key: string) => Number(await dataset(id, key) ?? 0);

/** Spread of luma of what the recordings video shows, drawn onto a canvas in the page: a picture, not a blank. */
function pictureSpread(): Promise<number> {
  return page.evaluate(() => {
    const v = document.getElementById('rec-video') as HTMLVideoElement;
    const c = document.createElement('canvas');
    c.width = 160;
    c.height = 90;
    const g = c.getContext('2d')!;
    g.drawImage(v, 0, 0, c.width, c.height);
    const px = g.getImageData(0, 0, c.width, c.height).data;
    let sum = 0;
    let sq = 0;
    const n = px.length / 4;
    for (let i = 0; i < px.length; i += 4) {
      const y = 0.299 * px[i]! + 0.587 * px[i + 1]! + 0.114 * px[i + 2]!;
      sum += y;
      sq += y * y;
    }
    return Math.sqrt(sq / n - (sum / n) ** 2);
  });
}

/**
 * Drags along the track from one fraction of the first recorded range to another, in steps. The
 * range's place is read in one go in the page (the track is drawn anew as the cursor moves).
 */
async function drag(from: number, to: number): Promise<void> {
  const g = await page.evaluate(() => {
    const t = document.getElementById('tl-track')!.getBoundingClientRect();
    const r = document.querySelector<HTMLElement>('#tl-track .tl-range')!;
    return { x: t.x, y: t.y + t.height / 2, w: t.width, left: parseFloat(r.style.left) / 100, width: parseFloat(r.style.width) / 100 };
  });
  const x = (f: number) => g.x + g.w * (g.left + g.width * f);
  await page.mouse.move(x(from), g.y);
  await page.mouse.down();
  for (let i = 1; i <= 5; i++) await page.mouse.move(x(from + ((to - from) * i) / 5), g.y);
  await page.mouse.up();
}

beforeAll(async () => {
  dir = tempDir('vigil-app-recordings-');
  hubDir = join(dir, 'hub');
  const [built, camera] = await Promise.all([
    buildApp(),
    startCamera({ codec: 'h264', size: '640x360', fps: 15, gop: 15 }),
  ]);
  app = await serveApp({ dir: built.dir });
  const relay = await startRelay('127.0.0.1:0');
  await startHub(hubDir, relay.url, ['--app-url', app.url]);
  await addCamera(hubDir, CAMERA, camera.url);
  await waitForCameraState(hubDir, CAMERA, ['live']);
  // The phone pairs first: a phone gets the keys of recording epochs from its pairing on (T3).
  const invite = start(VIGIL, ['invite', '--data', hubDir, '--yes'], { maxSeconds: 120 });
  const [, link] = await invite.waitFor(/pairing link: (\S+)/);
  phone = await launchBrowser();
  page = phone.page;
  await page.goto(link!);
  await invite.waitFor(/paired ".*" as owner/, 30_000);
  await page.waitForFunction(() => document.body.dataset.screen === 'cameras' && document.querySelectorAll('#cameras button').length === 1, null, { timeout: 30_000 });
  const rec = await run(VIGIL, ['record', '--data', hubDir, '--camera', CAMERA, '--mode', 'continuous'], { timeoutMs: 30_000 });
  expect(rec.code, rec.stderr).toBe(0);
  // A few seconds: three segments (about 4 s each), the first two closed and signed.
  await waitUntil('three recorded segments', async () => (await hubRecordings()).segments >= 3, 60_000, 500);
}, 180_000);

afterAll(async () => {
  await closeAllBrowsers();
  await app?.close();
  await stopAll();
  await stopAllCameras();
});

describe('recordings timeline in the app', () => {
  it('shows the recorded range; a drag shows a decoded picture; plays at 1× and 4×; Live goes back', async () => {
    await page.click(`#cameras button[data-camera] >> text=${CAMERA}`);
    await page.waitForFunction(() => document.getElementById('player-state')?.dataset.state === 'playing', null, { timeout: 30_000 });
    await page.click('#recordings');
    expect(await page.isVisible('#timeline')).toBe(true);

    // The range the hub recorded is drawn, and a first picture (the newest keyframe) is shown.
    await page.waitForFunction(() => Number(document.getElementById('timeline')!.dataset.ranges ?? 0) >= 1 && document.querySelector('#tl-track .tl-range') !== null, null, { timeout: 30_000 });
    expect(await page.textContent('#tl-day')).toBe('Today');
    const hub = await hubRecordings();
    const range = await page.evaluate(() => {
      const r = document.querySelector<HTMLElement>('#tl-track .tl-range')!;
      return { start: Number(r.dataset.start), end: Number(r.dataset.end) };
    });
    // The app's range is the hub's: it starts at the oldest segment (the phone opens nothing to know that).
    expect(range.start).toBe(Date.parse(hub.oldest!));
    expect(range.end - range.start).toBeGreaterThan(7000);
    await page.waitForFunction(() => Number(document.getElementById('timeline')!.dataset.pictures ?? 0) >= 1, null, { timeout: 30_000 });

    // Zoom to one minute, so the few seconds recorded span a good part of the track; gaps either side.
    await page.click('#tl-zoom-in');
    await page.click('#tl-zoom-in');
    expect(Number(await dataset('timeline', 'viewEnd')) - Number(await dataset('timeline', 'viewStart'))).toBe(60_000);
    expect(await page.locator('#tl-track .tl-gap').count()).toBeGreaterThanOrEqual(1);

    // Drag from the range's start to its middle: a picture of that moment, decoded.
    const pictures = await num('timeline', 'pictures');
    await drag(0.02, 0.4);
    await page.waitForFunction((n) => Number(document.getElementById('timeline')!.dataset.pictures) > n && document.getElementById('timeline')!.dataset.mode === 'scrub', pictures, { timeout: 20_000 });
    const cursor = await num('tl-cursor', 'time');
    expect(cursor).toBeGreaterThanOrEqual(range.start);
    expect(cursor).toBeLessThan(range.end);
    await page.waitForFunction(() => {
      const v = document.getElementById('rec-video') as HTMLVideoElement;
      return v.videoWidth === 640 && v.readyState >= 2 && !v.hidden;
    }, null, { timeout: 10_000 });
    expect(await pictureSpread(), 'a picture, not a blank').toBeGreaterThan(15);
    // The picture shown is a keyframe of the recording around the cursor.
    const shownAt = await num('rec-video', 'pictureTime');
    expect(Math.abs(shownAt - cursor)).toBeLessThan(6000);
    // Keyframes of the visible range were fetched ahead, and the cache is bounded.
    await page.waitForFunction(() => Number(document.getElementById('timeline')!.dataset.cachedKeyframes) >= 2, null, { timeout: 20_000 });

    // 1×: the video plays from there, frames are painted, the cursor follows the recording's time.
    await drag(0.02, 0.05);
    await page.waitForFunction(() => document.getElementById('timeline')!.dataset.mode === 'scrub', null, { timeout: 10_000 });
    const from = await num('tl-cursor', 'time');
    await page.click('[data-speed="1"]');
    await page.waitForFunction(() => {
      const v = document.getElementById('rec-video') as HTMLVideoElement;
      return !v.paused && v.playbackRate === 1;
    }, null, { timeout: 20_000 });
    const painted = await num('timeline', 'framesPainted');
    const played = await page.evaluate(() => (document.getElementById('rec-video') as HTMLVideoElement).currentTime);
    await page.waitForFunction((t) => (document.getElementById('rec-video') as HTMLVideoElement).currentTime > t + 1.5, played, { timeout: 15_000 });
    await page.waitForFunction((n) => Number(document.getElementById('timeline')!.dataset.framesPainted) > n + 10, painted, { timeout: 10_000 });
    const at1 = await num('tl-cursor', 'time');
    expect(at1).toBeGreaterThan(from + 1000);
    expect(at1).toBeLessThan(range.end + 10_000);

    // 4×: keyframes only. From the range's start, pictures step while the video stays paused,
    // and the cursor runs faster than the clock.
    await drag(0.01, 0.01);
    await page.waitForFunction(() => document.getElementById('timeline')!.dataset.mode === 'scrub', null, { timeout: 10_000 });
    const before4 = { pictures: await num('timeline', 'pictures'), cursor: await num('tl-cursor', 'time'), wall: Date.now() };
    await page.click('[data-speed="4"]');
    expect(await dataset('timeline', 'speed')).toBe('4');
    await page.waitForFunction((c) => Number(document.getElementById('tl-cursor')!.dataset.time) > c + 6000, before4.cursor, { timeout: 20_000, polling: 50 });
    const wall = Date.now() - before4.wall;
    const advanced = (await num('tl-cursor', 'time')) - before4.cursor;
    expect(advanced / wall, `${advanced} ms of recording in ${wall} ms`).toBeGreaterThan(1.5);
    expect(await num('timeline', 'pictures')).toBeGreaterThanOrEqual(before4.pictures + 2);
    expect(await page.evaluate(() => (document.getElementById('rec-video') as HTMLVideoElement).paused)).toBe(true);
    expect(await page.textContent('#tl-state')).toContain('keyframes only');

    // Live: the timeline goes, live video plays again.
    await page.click('#tl-live');
    await page.waitForFunction(() => document.getElementById('timeline')!.hidden && document.getElementById('rec-video')!.hidden && document.getElementById('player-state')?.dataset.state === 'playing', null, { timeout: 30_000 });
    expect(await page.isVisible('#recordings')).toBe(true);
  }, 180_000);

  it('exports a range: an MP4 ffprobe reads and a proof vigil verify-export accepts', async () => {
    await page.click('#recordings');
    await page.waitForFunction(() => document.querySelector('#tl-track .tl-range') !== null, null, { timeout: 30_000 });
    await page.click('#tl-zoom-in');
    await page.click('#tl-zoom-in');
    await drag(0.01, 0.01);
    await page.selectOption('#tl-export-length', '10');
    const downloads: Download[] = [];
    page.on('download', (d) => downloads.push(d));
    await page.click('#tl-export');
    await page.waitForFunction(() => !(document.getElementById('tl-export') as HTMLButtonElement).disabled, null, { timeout: 60_000 });
    const status = await page.textContent('#tl-export-status');
    expect(status).toMatch(/^\d+ segments, /);
    await waitUntil(`the clip downloaded (${status})`, async () => downloads.length >= 1, 20_000, 100);
    expect(await page.isVisible('#tl-save-proof')).toBe(true);
    await page.click('#tl-save-proof');
    await waitUntil('the proof downloaded', async () => downloads.length >= 2, 20_000, 100);
    const [clip, proof] = downloads;
    expect(clip!.suggestedFilename()).toMatch(new RegExp(`^${CAMERA}-\\d{8}-\\d{6}\\.mp4$`));
    expect(proof!.suggestedFilename()).toBe(`${clip!.suggestedFilename()}.proof`);
    const file = join(dir, 'clip.mp4');
    await clip!.saveAs(file);
    await proof!.saveAs(`${file}.proof`);
    const probe = JSON.parse((await run('ffprobe', ['-v', 'error', '-count_frames', '-show_entries', 'format=start_time,duration:stream=codec_name,width,nb_read_frames', '-of', 'json', file])).stdout);
    expect(Number(probe.format.start_time)).toBe(0);
    expect(Number(probe.format.duration)).toBeGreaterThan(3);
    expect(probe.streams[0]).toMatchObject({ codec_name: 'h264', width: 640 });
    expect(Number(probe.streams[0].nb_read_frames)).toBeGreaterThan(45);
    const ok = await run(VIGIL, ['verify-export', file], { timeoutMs: 30_000 });
    expect(ok.code, ok.stdout + ok.stderr).toBe(0);
    expect(ok.stdout).toContain(`"${CAMERA}", a name the proof does not sign`);
    // And it can fail: one byte of the clip changed.
    const bytes = readFileSync(file);
    bytes[bytes.length - 100]! ^= 1;
    writeFileSync(join(dir, 'bad.mp4'), bytes);
    writeFileSync(join(dir, 'bad.mp4.proof'), readFileSync(`${file}.proof`));
    expect((await run(VIGIL, ['verify-export', join(dir, 'bad.mp4')], { timeoutMs: 30_000 })).code).not.toBe(0);
    expect(phone.problems.filter((p) => !p.includes('favicon'))).toEqual([]);
  }, 120_000);
});
