// Debian's chromium driven by playwright-core, for tests of pages (the phone app, the hub's UI).
// Every browser started here is closed by closeAllBrowsers(); each also has a hard time limit, so a
// crashed test run leaves no chromium behind. Pages log their console errors, failed requests and
// CSP violations into `problems`, for assertions and for the message when a test fails.
import { existsSync } from 'node:fs';
import { chromium, devices, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { installHint } from '../packages.ts';

export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const BASE_ARGS = ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-dev-shm-usage'];

export interface BrowserOptions {
  /** A Y4M or MJPEG file that chromium plays as the camera (getUserMedia is granted without asking). */
  fakeCamera?: string;
  /** A playwright device descriptor name; default 'Pixel 7' (mobile viewport, touch, mobile UA). */
  device?: string;
  /** Kill the browser after this long whatever happens (default 180 s). */
  maxSeconds?: number;
}

export interface TestBrowser {
  readonly browser: Browser;
  readonly context: BrowserContext;
  readonly page: Page;
  /** Console errors, page errors, failed requests and CSP violations, in order. */
  readonly problems: string[];
  close(): Promise<void>;
}

const open = new Set<TestBrowser>();

export async function launchBrowser(opts: BrowserOptions = {}): Promise<TestBrowser> {
  const args = [...BASE_ARGS];
  if (opts.fakeCamera !== undefined) {
    args.push('--use-fake-device-for-media-stream', '--use-fake-ui-for-media-stream', `--use-file-for-fake-video-capture=${opts.fakeCamera}`);
  }
  if (!existsSync(CHROMIUM)) throw new Error(`no chromium at ${CHROMIUM} (${installHint('bin:chromium')}, or set CHROMIUM_PATH)`);
  const browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args, timeout: 30_000 });
  const device = devices[opts.device ?? 'Pixel 7'];
  if (device === undefined) throw new Error(`playwright-core knows no device "${opts.device}"`);
  const context = await browser.newContext({ ...device, permissions: opts.fakeCamera !== undefined ? ['camera'] : [] });
  const page = await context.newPage();
  const problems: string[] = [];
  page.on('console', (m) => {
    if (m.type() === 'error') problems.push(`console: ${m.text()}`);
  });
  page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
  page.on('requestfailed', (r) => problems.push(`request failed: ${r.url()} (${r.failure()?.errorText ?? '?'})`));
  const limit = setTimeout(() => void browser.close().catch(() => undefined), (opts.maxSeconds ?? 180) * 1000);
  limit.unref();
  const handle: TestBrowser = {
    browser,
    context,
    page,
    problems,
    async close() {
      open.delete(handle);
      clearTimeout(limit);
      await browser.close().catch(() => undefined);
    },
  };
  open.add(handle);
  return handle;
}

export async function closeAllBrowsers(): Promise<void> {
  await Promise.all([...open].map((b) => b.close()));
}
