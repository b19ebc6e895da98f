// App updates in Debian's chromium: the running app (already trusted, served by its service worker)
// must call an update "signed" only when the new sw.js the browser installs is the one a signed
// release manifest names, and that release is newer than itself. The attacks: the origin serves a
// genuine signed manifest beside a sw.js of its own (with and without skipWaiting), or an older
// genuine release (rollback).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { copyFileSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { buildApp } from '../../../phone/app/build.ts';
import { serveApp, type AppServer } from '../../../phone/app/serve.ts';
import { cryptoReady, sodium } from '../../../crypto/sodium.ts';
import { tempDir } from '../../support/system.ts';
import { closeAllBrowsers, launchBrowser, type TestBrowser } from '../../support/browser/browser.ts';

let dir: string;
/** What the app's origin serves; each test puts a release (or an attacker's mix) here. */
let site: string;
let older: string;
let newer: string;
let app: AppServer;
let browser: TestBrowser;

beforeAll(async () => {
  await cryptoReady();
  dir = tempDir('vigil-app-updates-');
  site = join(dir, 'site');
  older = join(dir, 'v0.1.0');
  newer = join(dir, 'v0.2.0');
  const releaseKeyHex = sodium().to_hex(sodium().crypto_sign_keypair().privateKey);
  await buildApp({ out: older, releaseKeyHex, version: '0.1.0' });
  await buildApp({ out: newer, releaseKeyHex, version: '0.2.0' });
  mkdirSync(site);
  app = await serveApp({ dir: site });
  browser = await launchBrowser();
}, 90_000);

afterAll(async () => {
  await closeAllBrowsers();
  await app?.close();
  if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
});

/** Serves a release's files, with sw.js replaced by `sw` when given. */
function serve(release: string, sw?: (genuine: string) => string): void {
  for (const name of readdirSync(site)) rmSync(join(site, name));
  for (const name of readdirSync(release)) copyFileSync(join(release, name), join(site, name));
  if (sw !== undefined) writeFileSync(join(site, 'sw.js'), sw(readFileSync(join(release, 'sw.js'), 'utf8')));
}

/** A fresh browser profile that installs `release` and runs it from its service worker. */
async function running(release: string): Promise<Page> {
  serve(release);
  const context = await browser.browser.newContext();
  const page = await context.newPage();
  await page.goto(app.url);
  await page.waitForFunction(() => navigator.serviceWorker.controller !== null, null, { timeout: 20_000 });
  expect(await page.evaluate(() => document.getElementById('update')!.hidden), 'a first install is no update').toBe(true);
  return page;
}

/** Reloads (the browser then checks sw.js, as on any visit) and returns the update message shown. */
async function updateMessage(page: Page): Promise<string> {
  await page.reload();
  await page.waitForFunction(() => document.getElementById('update')?.hidden === false, null, { timeout: 20_000 });
  return (await page.textContent('#update')) ?? '';
}

describe('app updates in chromium', () => {
  it('a newer signed release whose sw.js the manifest names: "a signed update is ready", again while it waits', async () => {
    const page = await running(older);
    serve(newer);
    const message = await updateMessage(page);
    expect(message).toMatch(/signed update \(version 0\.2\.0/);
    expect(message).not.toMatch(/NOT/);
    // The new worker now waits for Vigil to close; a page opened meanwhile says so too.
    expect(await updateMessage(page)).toMatch(/signed update \(version 0\.2\.0/);
    await page.context().close();
  }, 60_000);

  it('a genuine signed manifest beside a sw.js it does not name: NOT verified', async () => {
    const page = await running(older);
    serve(newer, (genuine) => `${genuine}\n// the origin's own code\n`);
    const message = await updateMessage(page);
    expect(message).not.toMatch(/signed update .* is ready/);
    expect(message).toMatch(/WARNING.*NOT verified/);
    await page.context().close();
  }, 60_000);

  it('a sw.js that takes over at once (skipWaiting) is reported, not called signed', async () => {
    const page = await running(older);
    serve(newer, (genuine) => `self.skipWaiting();\n${genuine}`);
    const message = await updateMessage(page);
    expect(message).not.toMatch(/signed update .* is ready/);
    expect(message).toMatch(/WARNING.*NOT verified/);
    await page.context().close();
  }, 60_000);

  it('an older signed release (rollback) is refused', async () => {
    const page = await running(newer);
    serve(older);
    const message = await updateMessage(page);
    expect(message).not.toMatch(/signed update .* is ready/);
    expect(message).toMatch(/WARNING.*NOT verified.*0\.1\.0.*0\.2\.0/);
    await page.context().close();
  }, 60_000);
});
