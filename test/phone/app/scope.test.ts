// A guest's own app shows what it may see and until when (issue 18, PROTOCOL §16.3), in Debian's
// chromium on real parts: the relay, a hub (in this process) with two cameras, `vigil invite --role
// guest --camera … --until now+10m` and `--role viewer --camera … --from now+1h --until now+2h`,
// each paired by opening the app at its invite link (the app's own pairing). The guest's app names
// its role, its one camera and its window above the camera list, offers that camera only, and no
// page text names the other camera; the viewer whose window has not begun is offered no camera and
// told when its access starts.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { Hub } from '../../../main/hub.ts';
import { startRelay, type RelayHandle } from '../../../relay/server.ts';
import { buildApp } from '../../../phone/app/build.ts';
import { serveApp, type AppServer } from '../../../phone/app/serve.ts';
import { stopAll, tempDir, waitUntil } from '../../support/system.ts';
import { closeAllBrowsers, launchBrowser } from '../../support/browser/browser.ts';
import { pairInApp } from './pair-in-app.ts';

const FRONT = 'Front door';
const BACK = 'Back yard';

let relay: RelayHandle;
let hub: Hub;
let app: AppServer;
let data: string;
const ids = { front: '', back: '' };

beforeAll(async () => {
  const dir = tempDir('vigil-app-scope-');
  data = join(dir, 'hub');
  const built = await buildApp({ out: join(dir, 'app') });
  relay = await startRelay({ host: '127.0.0.1', port: 0 });
  hub = await Hub.start({ dataDir: data, relays: [relay.url], apiHost: '127.0.0.1', apiPort: 0 });
  await waitUntil('the relay link', () => hub.relayState === 'ready', 30_000);
  // Nothing answers on these: the guest's view of its limits needs the cameras' rows, not their video.
  ids.front = hub.cameras.add({ name: FRONT, url: 'rtsp://127.0.0.1:9/front' }).id;
  ids.back = hub.cameras.add({ name: BACK, url: 'rtsp://127.0.0.1:9/back' }).id;
  app = await serveApp({ dir: built.dir });
}, 120_000);

afterAll(async () => {
  await closeAllBrowsers();
  await hub?.close();
  await app?.close();
  await relay?.close();
  await stopAll();
});

/** Pairs a phone by opening the app at the invite's link (`#pair=`); resolves once it lists its cameras (maybe none). */
async function pairedApp(args: string[]): Promise<{ page: Page; device: string; invitedAt: number }> {
  const invitedAt = Date.now();
  const b = await launchBrowser();
  const device = await pairInApp(b.page, app.url, data, args);
  // The line comes from the roster log the app checked, once it names this phone.
  await b.page.waitForFunction(() => document.body.dataset.screen === 'cameras' && !document.getElementById('access')!.hidden, null, { timeout: 30_000 });
  return { page: b.page, device, invitedAt };
}

const access = (page: Page) => page.evaluate(() => {
  const el = document.getElementById('access')!;
  return { text: el.textContent!, ...el.dataset } as Record<string, string | undefined> & { text: string };
});

describe('a scoped phone\'s own app', () => {
  it('a guest limited to one camera until now+10m sees its role, that camera and its window, and only that camera', async () => {
    const { page, invitedAt } = await pairedApp(['--role', 'guest', '--camera', FRONT, '--until', 'now+10m']);
    await page.waitForFunction(() => document.querySelectorAll('#cameras button.camera').length > 0 && document.getElementById('access')!.textContent!.includes('"'), null, { timeout: 30_000 });
    const a = await access(page);
    expect(a).toMatchObject({ role: 'guest', cameras: ids.front, from: '0', window: 'open' });
    const until = Number(a.until);
    expect(until).toBeGreaterThanOrEqual(invitedAt + 600_000 - 2000);
    expect(until).toBeLessThanOrEqual(Date.now() + 600_000);
    // The words: role, the camera by name, live only, and the end in this phone's time.
    const untilWords = await page.evaluate((t) => new Date(t).toLocaleString(undefined, { weekday: 'short', day: 'numeric', month: 'short', hour: '2-digit', minute: '2-digit' }), until);
    expect(a.text).toBe(`Guest access to "${FRONT}", live only, until ${untilWords}.`);
    const offered = await page.$$eval('#cameras button.camera', (els) => els.map((e) => [(e as HTMLElement).dataset.camera, e.querySelector('.camera-name')!.textContent]));
    expect(offered).toEqual([[ids.front, FRONT]]);
    expect(await page.textContent('#device-role')).toBe('guest');
    // Nothing on any screen names the other camera.
    expect(await page.evaluate(() => document.body.textContent!)).not.toContain(BACK);
    expect(await page.textContent('#phones-note')).toContain(`"${FRONT}"`);
  }, 90_000);

  it('a viewer limited to one camera from now+1h is offered no camera yet, and told when its access starts and ends', async () => {
    const { page, invitedAt } = await pairedApp(['--role', 'viewer', '--camera', BACK, '--from', 'now+1h', '--until', 'now+2h']);
    await page.waitForFunction(() => document.getElementById('cameras-empty')!.textContent!.startsWith('Your access starts'), null, { timeout: 30_000 });
    const a = await access(page);
    expect(a).toMatchObject({ role: 'viewer', cameras: ids.back, window: 'before' });
    expect(Number(a.from)).toBeGreaterThanOrEqual(invitedAt + 3600_000 - 2000);
    expect(Number(a.until) - Number(a.from)).toBeGreaterThanOrEqual(3600_000 - 2000);
    // Before its window the hub names it no camera: the line says so rather than a name.
    expect(a.text).toMatch(/^Viewer access to 1 camera \(named once your access starts\), live only, from .+ until .+\.$/);
    expect(await page.$$('#cameras button.camera')).toHaveLength(0);
    expect(await page.textContent('#device-role')).toBe('viewer');
    expect(await page.evaluate(() => document.body.textContent!)).not.toContain(BACK);
  }, 90_000);
});
