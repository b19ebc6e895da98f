// The README's first line: `npm run demo` starts relay, hub, a demo camera, the hub's UI and the phone
// app on loopback, and prints their links and a pairing link. The phone app in a desktop browser tab
// pairs by pasting that link and plays the demo camera; the command-line phone pairs and watches too;
// the UI link opens the hub's UI.
import { afterAll, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { ROOT, VIGIL_PHONE, ffprobe, run, start, stopAll, tempDir } from '../support/system.ts';
import { closeAllBrowsers, launchBrowser } from '../support/browser/browser.ts';

afterAll(async () => {
  await closeAllBrowsers();
  await stopAll();
});

/** Every port the demo opens is a free one (0), so the test runs next to anything else. */
function demoEnv(dir: string): NodeJS.ProcessEnv {
  return { VIGIL_DEMO_DIR: join(dir, 'data'), VIGIL_DEMO_RELAY_PORT: '0', VIGIL_DEMO_UI_PORT: '0', VIGIL_DEMO_APP_PORT: '0', VIGIL_DEMO_APPROVE: '1' };
}

const PAIR_LINK = /\n {2}(http:\/\/127\.0\.0\.1:\d+\/#pair=[A-Za-z0-9_-]+)\n/;

describe('npm run demo', () => {
  it('pairs the phone app in a browser tab by pasting the link, plays the demo camera, and opens the hub UI', async () => {
    const dir = tempDir();
    // Exactly what a user types.
    const demo = start('npm', ['run', 'demo'], { env: demoEnv(dir), maxSeconds: 150 });
    const [, uiLink] = await demo.waitFor(/hub UI: +(http:\/\/127\.0\.0\.1:\d+\/\?token=\S+)/, 60_000);
    const [, appLink] = await demo.waitFor(/phone app: +(http:\/\/127\.0\.0\.1:\d+\/)\s/);
    const [, pairLink] = await demo.waitFor(PAIR_LINK);
    expect(pairLink!.startsWith(appLink!), 'the pairing link opens the phone app').toBe(true);
    expect(demo.output()).toMatch(/demo camera "Demo"/);

    const phone = await launchBrowser({ device: 'Desktop Chrome', maxSeconds: 150 });
    const page = phone.page;
    await page.goto(appLink!);
    await page.waitForFunction(() => document.body.dataset.screen === 'pair');
    await page.click('summary >> text=Paste the pairing link');
    await page.fill('#pair-link', pairLink!);
    await page.fill('#phone-name', 'Desktop tab');
    await page.click('#pair-submit');
    // The demo approves (VIGIL_DEMO_APPROVE=1) once the phone shows its code; both show the same one.
    const [, a, b] = await demo.waitFor(/phone "Desktop tab" shows code (\d{3}) (\d{3})/, 30_000);
    await page.waitForFunction(() => document.getElementById('code')?.dataset.code !== undefined);
    expect(await page.evaluate(() => document.getElementById('code')!.dataset.code)).toBe(`${a}${b}`);
    await demo.waitFor(/paired "Desktop tab"\. In the phone app, choose "Demo"/);
    await page.waitForFunction(() => document.body.dataset.screen === 'cameras' && document.querySelector('#cameras button[data-camera]') !== null, null, { timeout: 30_000 });
    await page.click('#cameras button[data-camera] >> text=Demo');
    await page.waitForFunction(() => document.getElementById('player-state')?.dataset.state === 'playing', null, { timeout: 40_000 });
    // Frames are shown and the picture moves on: 30 more frames within 20 s, and with Media Source
    // 1 s more media (the WebCodecs player counts what it drew, #stats[data-presented]).
    const start0 = await page.evaluate(() => {
      const v = document.getElementById('video') as HTMLVideoElement;
      return { frames: v.getVideoPlaybackQuality().totalVideoFrames + Number(document.getElementById('stats')!.dataset.presented ?? 0), time: v.currentTime };
    });
    await page.waitForFunction(([f, t]) => {
      const v = document.getElementById('video') as HTMLVideoElement;
      const stats = document.getElementById('stats')!.dataset;
      return v.getVideoPlaybackQuality().totalVideoFrames + Number(stats.presented ?? 0) > f! + 30 && (stats.player === 'webcodecs' || v.currentTime > t! + 1);
    }, [start0.frames, start0.time], { timeout: 20_000 });
    expect(Number(await page.evaluate(() => document.getElementById('stats')!.dataset.opened ?? 0))).toBeGreaterThan(0);

    // The hub UI link (its token in it) opens the UI, which lists the demo camera.
    const ui = await phone.context.newPage();
    const res = await ui.goto(uiLink!);
    expect(res?.status()).toBe(200);
    await ui.locator('main h1').first().waitFor({ timeout: 20_000 });
    await ui.getByText('Demo', { exact: true }).first().waitFor({ timeout: 20_000 });
    expect(phone.problems.filter((p) => !p.includes('favicon'))).toEqual([]);

    await phone.close();
    await demo.stop('SIGINT');
    expect(demo.output()).toContain('stopping...');
  }, 150_000);

  it('pairs the command-line phone, which watches the demo camera', async () => {
    const dir = tempDir();
    const demo = start('node', ['--import', join(ROOT, 'node_modules/tsx/dist/loader.mjs'), join(ROOT, 'main/demo.ts')], { env: demoEnv(dir), maxSeconds: 120 });
    const [, link] = await demo.waitFor(/vigil-phone pair '(http:\/\/127\.0\.0\.1:\d+\/#pair=[A-Za-z0-9_-]+)'/, 60_000);
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
