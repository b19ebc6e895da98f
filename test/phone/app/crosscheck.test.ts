// The phone app cross-checks the roster log with the other owner phones by itself (PROTOCOL §16.4):
// a real hub and relay, the app in chromium and an owner command-line phone. The command-line phone
// follows events (its mailbox open); the app, opened, sends its round, the other phone answers, and
// the app's list of phones says when it last cross-checked with it: the same log. No split alert.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { Hub } from '../../../main/hub.ts';
import { startRelay, type RelayHandle } from '../../../relay/server.ts';
import { cryptoReady } from '../../../crypto/sodium.ts';
import { buildApp } from '../../../phone/app/build.ts';
import { serveApp, type AppServer } from '../../../phone/app/serve.ts';
import { VIGIL_PHONE, pairPhone, start, stopAll, tempDir, waitUntil } from '../../support/system.ts';
import { closeAllBrowsers, launchBrowser } from '../../support/browser/browser.ts';
import { pairInApp } from './pair-in-app.ts';

let relay: RelayHandle;
let hub: Hub | undefined;
let app: AppServer;
let page: Page;
let data: string;
let anna: string;
let annaId = '';

beforeAll(async () => {
  await cryptoReady();
  const dir = tempDir('vigil-app-crosscheck-');
  data = join(dir, 'hub');
  anna = join(dir, 'anna.json');
  const built = await buildApp({ out: join(dir, 'app') });
  relay = await startRelay({ host: '127.0.0.1', port: 0 });
  hub = await Hub.start({ dataDir: data, relays: [relay.url], apiHost: '127.0.0.1', apiPort: 0 });
  await waitUntil('the relay link', () => hub!.relayState === 'ready', 30_000);
  app = await serveApp({ dir: built.dir });
  page = (await launchBrowser({ maxSeconds: 180 })).page;
  annaId = (await pairPhone(data, anna, 'Anna')).deviceId;
  await pairInApp(page, app.url, data);
  await page.waitForFunction(() => document.body.dataset.screen === 'cameras', null, { timeout: 30_000 });
}, 150_000);

afterAll(async () => {
  await closeAllBrowsers();
  await hub?.close();
  await app?.close();
  await relay?.close();
  await stopAll();
});

describe('cross-check in the phone app', () => {
  it('the app, opened while another owner phone is online, cross-checks with it and shows "same log"', async () => {
    // The app closed (its mailbox with it), Anna follows events: her mailbox is open once she says so.
    await page.goto('about:blank');
    const follow = start(VIGIL_PHONE, ['events', '--profile', anna, '--follow', '--seconds', '90'], { maxSeconds: 120 });
    await follow.waitFor(/cross-check: with 1 other owner phone while this runs/, 30_000);

    // The app opened again: its round reaches Anna, who answers; both compare the same log.
    await page.goto(app.url);
    await page.waitForFunction(() => document.body.dataset.screen === 'cameras', null, { timeout: 30_000 });
    const line = `#phones li[data-device="${annaId}"] .crosschecked`;
    // In the closed "This phone" panel: there once drawn.
    await page.waitForSelector(line, { state: 'attached', timeout: 15_000 });
    expect(await page.textContent(line)).toMatch(/last cross-checked .+: same log \(2 entries\)$/);
    expect(await page.getAttribute(line, 'data-agrees')).toBe('true');
    await follow.waitFor(/cross-check with "[^"]+": same log \(2 entries\)/, 10_000);
    expect(follow.output()).not.toMatch(/LOG SPLIT/);
    // No split among the roster alerts (Anna, paired before the app, is history there: none at all).
    expect(await page.textContent('#roster-alert-list')).not.toMatch(/LOG SPLIT/);
    await follow.stop('SIGINT');
  }, 90_000);
});
