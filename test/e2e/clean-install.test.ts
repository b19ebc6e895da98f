// A new user's checkout: the files git holds and `npm ci`, nothing else. `vigil hub --ui` must then
// serve the real UI, with no build step run by hand (issue 13: it answered 503 "not built").
//
// The checkout is this working tree's files as git sees them (tracked, plus new ones not ignored),
// so the test checks the code under test, not the last commit; nothing .gitignore keeps out (no
// renderer/dist, phone/app/dist or dist/) comes along. `npm ci` itself compiles better-sqlite3 for
// minutes, so node_modules is hard-linked from this checkout instead, and then the lifecycle
// scripts `npm ci` runs for the project itself are run exactly as it runs them, with CI's
// environment (no Electron binary). A build that only `npm ci` could make is thus made the same way.
import { afterAll, describe, expect, it } from 'vitest';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT, run, start, stopAll, tempDir, type Running } from '../support/system.ts';
import { buildRenderer } from '../../renderer/build.ts';
import { buildState } from '../../tools/build-stamp.ts';

afterAll(stopAll);

/** What `npm ci` runs of the project's own scripts after installing, in its order. */
const LIFECYCLE = ['preinstall', 'install', 'postinstall', 'preprepare', 'prepare', 'postprepare'];
const BUILT = ['renderer/dist/index.html', 'renderer/dist/app.js', 'renderer/dist/app.css', 'phone/app/dist/index.html', 'phone/app/dist/app.js', 'phone/app/dist/sw.js', 'dist/electron/main.mjs', 'dist/electron/preload.cjs'];

async function cleanCheckout(): Promise<string> {
  const dir = join(tempDir('vigil-clean-'), 'vigil');
  const list = await run('git', ['ls-files', '-z', '--cached', '--others', '--exclude-standard']);
  expect(list.code, list.stderr).toBe(0);
  // A file deleted in the working tree but still tracked is not part of the checkout.
  const files = list.stdout.split('\0').filter((f) => f !== '' && existsSync(join(ROOT, f)));
  const listFile = `${dir}.files`;
  writeFileSync(listFile, files.join('\0'));
  const copy = await run('sh', ['-c', 'mkdir -p "$1" && tar -C "$2" --null -T "$3" -cf - | tar -C "$1" -xf -', 'sh', dir, ROOT, listFile]);
  expect(copy.code, copy.stderr).toBe(0);
  for (const f of BUILT) expect(existsSync(join(dir, f)), `${f} must not come with the checkout`).toBe(false);
  const modules = await run('cp', ['-al', join(ROOT, 'node_modules'), join(dir, 'node_modules')]);
  expect(modules.code, modules.stderr).toBe(0);
  return dir;
}

async function startUiHub(checkout: string, data: string): Promise<{ hub: Running; ui: URL }> {
  const hub = start(join(checkout, 'bin/vigil'), ['hub', '--data', data, '--ui', '127.0.0.1:0'], { maxSeconds: 120 });
  const [, link] = await hub.waitFor(/^ui: (http:\/\/127\.0\.0\.1:\d+\/\?token=\S+)$/m, 60_000);
  return { hub, ui: new URL(link!) };
}

/** The page, and the script and stylesheet it names, through the hub's UI server. */
async function fetchUi(ui: URL): Promise<{ html: string; js: Buffer; css: string }> {
  const page = await fetch(ui);
  expect(page.status, await page.clone().text()).toBe(200);
  const html = await page.text();
  const script = /<script[^>]*src="([^"]+)"/.exec(html)?.[1];
  const style = /<link rel="stylesheet" href="([^"]+)"/.exec(html)?.[1];
  expect(script, html).toMatch(/^app\.js\?token=/);
  const js = await fetch(new URL(script!, ui));
  expect(js.status).toBe(200);
  expect(js.headers.get('content-type')).toMatch(/^text\/javascript/);
  const css = await fetch(new URL(style!, ui));
  expect(css.status).toBe(200);
  return { html, js: Buffer.from(await js.arrayBuffer()), css: await css.text() };
}

describe('a clean checkout after npm ci only', () => {
  it('builds the UI, the phone app and the Electron entry at install, and vigil hub --ui serves the real UI', async () => {
    const checkout = await cleanCheckout();
    const scripts = (JSON.parse(readFileSync(join(checkout, 'package.json'), 'utf8')) as { scripts: Record<string, string> }).scripts;
    for (const name of LIFECYCLE.filter((s) => scripts[s] !== undefined)) {
      const r = await run('npm', ['--prefix', checkout, 'run', name], { timeoutMs: 120_000, env: { ELECTRON_SKIP_BINARY_DOWNLOAD: '1', CI: '1' } });
      expect(r.code, `npm run ${name}: ${r.stdout}\n${r.stderr}`).toBe(0);
    }
    // The install built every part, current with the sources (so the hub's start has nothing to build).
    for (const f of BUILT) expect(existsSync(join(checkout, f)), `${f} after npm ci`).toBe(true);
    for (const d of ['renderer/dist', 'phone/app/dist', 'dist/electron']) expect(buildState(join(checkout, d), checkout), d).toEqual({ state: 'current' });

    const data = join(checkout, '..', 'hub');
    const { hub, ui } = await startUiHub(checkout, data);
    const got = await fetchUi(ui);
    expect(got.html).toContain('<title>Vigil hub</title>');
    // The script is the renderer's bundle: byte for byte what renderer/build.ts makes of these sources.
    const expected = join(checkout, '..', 'expected');
    await buildRenderer(expected);
    expect(got.js.equals(readFileSync(join(expected, 'app.js'))), 'served app.js is the renderer bundle').toBe(true);
    expect(hub.output()).not.toMatch(/ui: built the hub UI/);
    await hub.stop();
  }, 240_000);

  it('rebuilds the UI at start when its sources changed since the build (a git pull, then a restart)', async () => {
    const checkout = await cleanCheckout();
    // No install scripts at all (npm ci --ignore-scripts): the hub's start builds the missing UI.
    const data = join(checkout, '..', 'hub');
    let { hub, ui } = await startUiHub(checkout, data);
    await hub.waitFor(/ui: built the hub UI in \d+ ms \(.*renderer\/dist.*\)/);
    expect((await fetchUi(ui)).html).toContain('<title>Vigil hub</title>');
    await hub.stop();

    // "git pull": a source file changes. The restarted hub serves the new build.
    const marker = `/* pulled ${Date.now()} */`;
    writeFileSync(join(checkout, 'renderer/style.css'), readFileSync(join(checkout, 'renderer/style.css'), 'utf8') + marker + '\n');
    ({ hub, ui } = await startUiHub(checkout, data));
    await hub.waitFor(/ui: built the hub UI in \d+ ms \(renderer\/style\.css changed since the build\)/);
    expect((await fetchUi(ui)).css).toContain(marker);
    await hub.stop();

    // Unchanged sources: the next start builds nothing.
    ({ hub, ui } = await startUiHub(checkout, data));
    expect((await fetchUi(ui)).css).toContain(marker);
    expect(hub.output()).not.toMatch(/ui: built/);
    await hub.stop();
  }, 240_000);
});
