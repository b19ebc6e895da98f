// Guests and camera-limited viewers from the hub's UI (issue 18, PROTOCOL §16.3), end to end: the
// real relay, the hub from the command line with --ui, the RTSP test camera, the command-line phone
// and chromium driving the page. The owner makes a guest invite for one camera and two hours on the
// pairing screen; the phone that pairs with it lists that camera only; the Phones screen shows its
// role, camera and window; the owner widens it there without pairing again; the audit screen's
// roster log shows each scope.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { startCamera, type TestCamera } from '../support/camera/camera.ts';
import { buildRenderer } from '../../renderer/build.ts';
import { runningHub } from '../../main/cli/api-client.ts';
import { ROOT, launchChromium, runProgram, startProgram, stopAll, tempDir } from './harness.ts';
import { a11yProblems } from './a11y.ts';

// Screenshots refresh docs/ only when asked (VIGIL_UPDATE_SCREENSHOTS=1), so a test run leaves the tree clean.
const SHOTS = process.env.VIGIL_UPDATE_SCREENSHOTS === '1' ? join(ROOT, 'docs', 'screenshots') : join(ROOT, 'test-output', 'screenshots');
const VIGIL = join(ROOT, 'bin', 'vigil');
const PHONE = join(ROOT, 'bin', 'vigil-phone');
const FRONT = 'Front door';
const BACK = 'Back yard';

let camera: TestCamera;
let page: Page;
let problems: string[];
let work: string;
let hubDir: string;
let uiUrl: string;

async function go(route: string): Promise<void> {
  await page.evaluate((r) => (location.hash = `#/${r}`), route);
  await page.locator('main h1').first().waitFor();
}

async function shot(name: string): Promise<void> {
  mkdirSync(SHOTS, { recursive: true });
  writeFileSync(join(SHOTS, `hub-${name}.png`), await page.screenshot({ fullPage: true }));
}

async function api() {
  const a = await runningHub(hubDir);
  if (a === undefined) throw new Error('the hub is not running');
  return a;
}

async function phoneCameras(profile: string): Promise<string[]> {
  const r = await runProgram(PHONE, ['cameras', '--profile', profile, '--json'], { timeoutMs: 60_000 }).done;
  expect(r.code, r.output).toBe(0);
  return r.output.trim().split('\n').filter((l) => l.startsWith('{')).map((l) => (JSON.parse(l) as { name: string }).name).sort();
}

beforeAll(async () => {
  work = tempDir('vigil-ui-scope-');
  hubDir = join(work, 'hub');
  const [, relay, cam] = await Promise.all([
    buildRenderer(),
    startProgram(VIGIL, ['relay', '--listen', '127.0.0.1:0'], /relay listening on (ws:\/\/\S+)/),
    startCamera({ size: '320x240', fps: 10 }),
  ]);
  camera = cam;
  const hub = await startProgram(VIGIL, ['hub', '--data', hubDir, '--relay', relay.match[1]!, '--ui', '127.0.0.1:0', '--no-lan'], /^ui: (\S+)$/m);
  uiUrl = hub.match[1]!;
  for (const name of [FRONT, BACK]) {
    const added = await runProgram(VIGIL, ['camera', 'add', '--data', hubDir, '--name', name, camera.url]).done;
    expect(added.code, added.output).toBe(0);
  }
  ({ page, problems } = await launchChromium());
  await page.goto(uiUrl);
  await page.locator('main h1').first().waitFor();
}, 120_000);

afterAll(async () => {
  await stopAll();
  await camera?.stop();
});

describe('scoped invites in the hub UI', () => {
  it('makes a guest invite for one camera and two hours; the phone sees that camera only; the Phones screen shows its scope', async () => {
    await go('pair');
    await page.selectOption('#pair-role', 'guest');
    // A guest always chooses cameras: no "all cameras" for it.
    await page.locator('#pair-camera-list').waitFor();
    expect(await page.locator('#pair-cams-all').isVisible()).toBe(false);
    // Without a camera the invite is not made.
    await page.click('#pair-start');
    await expect.poll(() => page.locator('[role=alert]:visible').textContent()).toMatch(/Choose the cameras/);
    expect(await page.locator('#pair-qr').count()).toBe(0);
    await page.locator(`#pair-camera-list input[data-camera-name="${FRONT}"]`).check();
    expect(await page.inputValue('#pair-until-mode')).toBe('for');
    await page.fill('#pair-for-hours', '2');
    expect(await a11yProblems(page)).toEqual([]);
    await shot('pair-guest');
    const t0 = Date.now();
    await page.click('#pair-start');
    await page.locator('#pair-qr').waitFor();
    const link = await page.inputValue('#pair-link');

    const profile = join(work, 'guest.json');
    const pairing = runProgram(PHONE, ['pair', link, '--profile', profile, '--name', 'Visitor'], { timeoutMs: 60_000 });
    await page.locator('#pair-code').waitFor({ timeout: 30_000 });
    expect(await page.locator('#pair-grant').textContent()).toMatch(new RegExp(`as a guest: ${FRONT}, live only; until `));
    await page.click('#pair-approve');
    const paired = await pairing.done;
    expect(paired.code, paired.output).toBe(0);
    await page.locator('#pair-done.success').waitFor();

    // The hub paired exactly what the invite said: a guest, one camera, until two hours from now.
    const guest = (await (await api()).call('listPhones')).find((p) => p.name === 'Visitor')!;
    const front = (await (await api()).call('listCameras')).find((c) => c.name === FRONT)!;
    expect(guest.role).toBe('guest');
    expect(guest.scope?.cameras).toEqual([front.id]);
    expect(guest.scope!.until).toBeGreaterThanOrEqual(t0 + 2 * 3600_000);
    expect(guest.scope!.until).toBeLessThanOrEqual(Date.now() + 2 * 3600_000);
    // And the phone, whatever the page said, gets that camera only.
    expect(await phoneCameras(profile)).toEqual([FRONT]);

    await go('phones');
    const row = page.locator('#phones-table tbody tr[data-phone-id]', { hasText: 'Visitor' });
    await row.waitFor();
    expect(await row.locator('[data-field=role]').textContent()).toBe('Guest');
    expect(await row.locator('[data-field=cameras]').textContent()).toBe(`${FRONT}live only`);
    expect(await row.locator('[data-field=window]').textContent()).toMatch(/^until /);
    expect(await a11yProblems(page)).toEqual([]);
    await shot('phones-scoped');
  }, 240_000);

  it('widens the guest to both cameras from the Phones screen, without pairing again; the roster log shows each scope', async () => {
    const profile = join(work, 'guest.json');
    const epoch = (await (await api()).call('status')).epoch;
    await go('phones');
    const row = page.locator('#phones-table tbody tr[data-phone-id]', { hasText: 'Visitor' });
    await row.locator('button[data-action=scope]').click();
    await page.locator('#scope-edit-scope').waitFor();
    // The form starts from its scope now: the front camera, its end.
    expect(await page.locator(`#scope-edit-camera-list input[data-camera-name="${FRONT}"]`).isChecked()).toBe(true);
    expect(await page.inputValue('#scope-edit-until-mode')).toBe('at');
    await page.locator(`#scope-edit-camera-list input[data-camera-name="${BACK}"]`).check();
    expect(await a11yProblems(page)).toEqual([]);
    await shot('phones-scope-edit');
    await page.click('#scope-save');
    await expect.poll(() => row.locator('[data-field=cameras]').textContent(), { timeout: 20_000 }).toBe(`${BACK}, ${FRONT}live only`);

    // The hub made a new epoch and the phone, paired once, now lists both.
    expect((await (await api()).call('status')).epoch).toBeGreaterThan(epoch);
    expect(await phoneCameras(profile)).toEqual([BACK, FRONT]);

    // The audit screen: the change in the audit log, and the roster log's entries with their scopes.
    await go('audit');
    const changed = page.locator('#roster-table tbody tr[data-change=role-changed]');
    await changed.first().waitFor();
    expect(await changed.first().locator('[data-field=cameras]').textContent()).toBe(`${BACK}, ${FRONT}`);
    expect(await changed.first().locator('[data-field=window]').textContent()).toMatch(/^until /);
    expect(await page.locator('#roster-table tbody tr[data-change=added]', { hasText: 'Visitor' }).locator('[data-field=cameras]').textContent()).toBe(FRONT);
    await expect.poll(() => page.locator('#audit-table tbody tr[data-action=scope-changed]').first().textContent())
      .toMatch(new RegExp(`changed a phone's cameras.*cameras: ${BACK}, ${FRONT}`));
    expect(await a11yProblems(page)).toEqual([]);
    await shot('audit-roster');
  }, 240_000);

  it('logged no errors in the page', () => {
    expect(problems).toEqual([]);
  });
});
