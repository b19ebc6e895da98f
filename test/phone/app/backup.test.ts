// The phone app keeps its hub's backup and approves a restore (issue 18, PROTOCOL §18.3, §18.5), in
// Debian's chromium on real parts: the relay, a hub (in this process), a command-line owner phone
// ("Anna"), `vigil backup --print-code`, `vigil restore --from-phones`.
//
// - The app, paired as the second owner by its own link, keeps the hub's sealed backup and its share
//   of the owners' key in its IndexedDB store and says so; when what a restore brings back changes (a
//   recovery code printed, then a phone paired) it keeps the new version at once. What it keeps is
//   the hub's sealed blob, byte for byte the one `vigil-phone backup --out` writes, which opens with
//   the printed code; no hub key and no camera or phone name is in it in clear.
// - The hub's machine dies. `vigil restore --from-phones` shows a restore invite on a new data
//   directory; Anna approves with `vigil-phone approve-restore` (1 of 2), the app with its Approve
//   button: the restore completes, and the app shows the hub id the new machine holds, the same as its own.
// - The restored hub starts: the app reconnects without pairing again, shows the restore as a roster
//   alert that it acknowledges, and keeps the restored hub's backup.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { Hub } from '../../../main/hub.ts';
import { startRelay, type RelayHandle } from '../../../relay/server.ts';
import { fromBase64url, toBase64url, toHex } from '../../../crypto/bytes.ts';
import { SEALED_SHARE_BYTES, backupAddress, decodeRecoveryCode, openBackup } from '../../../crypto/backup.ts';
import { exportHubIdentity } from '../../../crypto/identity.ts';
import { cryptoReady } from '../../../crypto/sodium.ts';
import { buildApp } from '../../../phone/app/build.ts';
import { serveApp, type AppServer } from '../../../phone/app/serve.ts';
import { VIGIL, VIGIL_PHONE, pairPhone, run, start, stopAll, tempDir, waitUntil } from '../../support/system.ts';
import { closeAllBrowsers, launchBrowser } from '../../support/browser/browser.ts';
import { pairInApp } from './pair-in-app.ts';

const CAMERA = 'Porch';

let dir: string;
let data: string;
let relay: RelayHandle;
let hub: Hub | undefined;
let restored: Hub | undefined;
let app: AppServer;
let page: Page;
let anna: string;
let hubId = '';
let code = '';

interface Kept { hub: string; id: string; madeAt: number; blob: string; share?: string; version: string; bytes: number; owners?: { k: number; n: number }; code: boolean; keptAt: number }

/** What the app keeps under 'backup' in its IndexedDB store, as stored (a JSON string). */
function keptText(): Promise<string | undefined> {
  return page.evaluate(() => new Promise<string | undefined>((resolve, reject) => {
    const req = indexedDB.open('vigil-phone', 1);
    req.onerror = () => reject(new Error('cannot open'));
    req.onsuccess = () => {
      const get = req.result.transaction('profiles', 'readonly').objectStore('profiles').get('backup');
      get.onsuccess = () => {
        req.result.close();
        resolve(typeof get.result === 'string' ? get.result : undefined);
      };
    };
  }));
}

const kept = async (): Promise<Kept | undefined> => {
  const t = await keptText();
  return t === undefined ? undefined : JSON.parse(t) as Kept;
};

const status = () => page.evaluate(() => {
  const el = document.getElementById('backup-status')!;
  return { text: el.textContent!, ...el.dataset };
});

function contains(hay: Uint8Array, needle: Uint8Array): boolean {
  return Buffer.from(hay).includes(Buffer.from(needle));
}

beforeAll(async () => {
  await cryptoReady();
  dir = tempDir('vigil-app-backup-');
  data = join(dir, 'hub');
  anna = join(dir, 'anna.json');
  const built = await buildApp({ out: join(dir, 'app') });
  relay = await startRelay({ host: '127.0.0.1', port: 0 });
  hub = await Hub.start({ dataDir: data, relays: [relay.url], apiHost: '127.0.0.1', apiPort: 0 });
  hubId = toHex(hub.identity.hubId);
  await waitUntil('the relay link', () => hub!.relayState === 'ready', 30_000);
  // Nothing answers there: the backup needs the camera's row, not its video.
  hub.cameras.add({ name: CAMERA, url: 'rtsp://127.0.0.1:9/porch' });
  app = await serveApp({ dir: built.dir });
  const b = await launchBrowser({ maxSeconds: 240 });
  page = b.page;
  page.on('dialog', (d) => void d.accept());
  await pairPhone(data, anna, 'Anna');
  // The app pairs as the second owner by its own link: with two owner phones the hub splits an owners' key.
  await pairInApp(page, app.url, data);
  await page.waitForFunction(() => document.body.dataset.screen === 'cameras', null, { timeout: 30_000 });
}, 180_000);

afterAll(async () => {
  await closeAllBrowsers();
  await hub?.close();
  await restored?.close();
  await app?.close();
  await relay?.close();
  await stopAll();
});

describe('the hub\'s backup in the phone app', () => {
  it('an owner app keeps the sealed backup and its share, and the next version as soon as the hub has one', async () => {
    await page.waitForFunction(() => document.getElementById('backup-status')!.dataset.state === 'kept', null, { timeout: 30_000 });
    const first = (await kept())!;
    expect(first).toMatchObject({ hub: hubId, code: false, owners: { k: 2, n: 2 } });
    // The share as the hub sealed it to this phone (PROTOCOL §18.2: 1253 bytes), not the opened 68.
    expect(fromBase64url(first.share!)).toHaveLength(SEALED_SHARE_BYTES);
    expect(SEALED_SHARE_BYTES).toBe(1253);
    const blob = fromBase64url(first.blob);
    expect(blob.length).toBe(first.bytes);
    expect(toHex(backupAddress(blob).hubId)).toBe(hubId);
    let s = await status();
    expect(s).toMatchObject({ version: first.version, id: first.id, share: 'true' });
    expect(s.text).toMatch(/^This phone keeps the hub's backup of .+ \(version [0-9a-f]{8}, \d+ KB, sealed: it opens with 2 of the 2 owner phones\) and its share of the owners' key; fetched .+\.$/);

    // A recovery code, then a phone paired: the backup is sealed to the code too, and holds the new
    // phone. The app hears of the phone (the roster log's news) and keeps the new version then.
    const printed = await run(VIGIL, ['backup', '--data', data, '--print-code']);
    expect(printed.code, printed.stderr).toBe(0);
    code = /recovery code: (VR1-[0-9A-Z-]+)/.exec(printed.stdout)![1]!;
    await pairPhone(data, join(dir, 'carl.json'), 'Carl', 'viewer');
    await page.waitForFunction((v) => {
      const el = document.getElementById('backup-status')!;
      return el.dataset.state === 'kept' && el.dataset.version !== v;
    }, first.version, { timeout: 30_000 });
    // The addition is an alert, until acknowledged.
    await page.waitForFunction(() => !document.getElementById('roster-alerts')!.hidden, null, { timeout: 10_000 });
    expect(await page.textContent('#roster-alert-list')).toMatch(/^new phone "Carl" \([0-9a-f]{8}\) added as viewer by /);
    await page.click('#roster-ack');
    await page.waitForFunction(() => document.getElementById('roster-alerts')!.hidden, null, { timeout: 5000 });
    const second = (await kept())!;
    expect(second).toMatchObject({ hub: hubId, code: true, owners: { k: 2, n: 2 } });
    s = await status();
    expect(s.text).toContain('it opens with the printed recovery code or 2 of the 2 owner phones');

    // The same bytes as the command-line phone keeps for this version: the hub's sealed backup.
    const out = join(dir, 'anna.vbak');
    const cli = await run(VIGIL_PHONE, ['backup', '--profile', anna, '--out', out, '--json'], { timeoutMs: 60_000 });
    expect(cli.code, cli.stderr).toBe(0);
    const annaKept = JSON.parse(readFileSync(`${anna}.backup`, 'utf8')) as { version: string };
    const appBlob = fromBase64url(second.blob);
    expect(annaKept.version).toBe(second.version);
    expect(Buffer.from(appBlob).equals(readFileSync(out))).toBe(true);
    // It opens with the printed code, and holds the hub's identity: which nothing kept shows in clear.
    const opened = openBackup(appBlob, decodeRecoveryCode(code));
    const secret = exportHubIdentity(hub!.identity);
    const payload = new TextDecoder().decode(opened.payload);
    expect(payload).toContain(toBase64url(secret));
    const stored = (await keptText())!;
    for (const part of [secret.subarray(1, 65), secret.subarray(65, 97)]) {
      expect(contains(appBlob, part)).toBe(false);
      expect(stored).not.toContain(toBase64url(part));
      expect(stored).not.toContain(toHex(part));
    }
    for (const word of [CAMERA, 'Anna', 'Carl']) {
      expect(contains(appBlob, new TextEncoder().encode(word))).toBe(false);
      expect(stored).not.toContain(word);
    }
  }, 120_000);

  it('the hub dies: the app approves vigil restore --from-phones with Anna, shows the same hub back, then its restore alert', async () => {
    // A link that is not a restore invite is refused before anything is sent.
    await page.click('details.about > summary');
    await page.fill('#restore-link', 'vigil://pair/not-a-restore');
    await page.click('#restore-approve');
    await page.waitForFunction(() => document.getElementById('restore-status')!.dataset.state === 'failed', null, { timeout: 5000 });
    expect(await page.textContent('#restore-status')).toMatch(/not a restore invite/);

    const before = (await kept())!;
    await hub!.close();
    hub = undefined;
    const third = join(dir, 'hub-restored');
    const restoring = start(VIGIL, ['restore', '--data', third, '--from-phones', '--relay', relay.url, '--wait', '120'], { maxSeconds: 180 });
    const [, invite] = await restoring.waitFor(/restore invite: (\S+)/, 40_000);
    const byAnna = await run(VIGIL_PHONE, ['approve-restore', '--profile', anna, '--invite', invite!, '--json'], { timeoutMs: 60_000 });
    expect(byAnna.code, byAnna.stderr).toBe(0);
    expect(JSON.parse(byAnna.stdout.trim().split('\n').at(-1)!)).toMatchObject({ state: 'accepted', have: 1, need: 2 });

    await page.fill('#restore-link', invite!);
    await page.click('#restore-approve');
    await page.waitForFunction(() => ['restored', 'accepted', 'refused', 'failed'].includes(document.getElementById('restore-status')!.dataset.state ?? ''), null, { timeout: 40_000 });
    const answer = await page.evaluate(() => {
      const el = document.getElementById('restore-status')!;
      return { text: el.textContent!, ...el.dataset };
    });
    expect(answer).toMatchObject({ state: 'restored', have: '2', need: '2', hub: hubId, same: 'true' });
    expect(answer.text).toContain(`the new machine now holds hub ${hubId.slice(0, 16)}, the same hub as this phone's`);
    await restoring.waitFor(new RegExp(`restored hub ${hubId.slice(0, 16)} into .*: 3 phones`), 30_000);
    const roster = await run(VIGIL, ['roster', '--data', third, '--json']);
    const last = roster.stdout.trim().split('\n').map((l) => JSON.parse(l) as { change?: string; by?: string }).filter((e) => e.change).at(-1);
    expect(last).toMatchObject({ change: 'restored', by: expect.stringMatching(/^owner phones '(Anna', 'Phone|Phone', 'Anna)'$/) });

    // The restored hub: the app reconnects with the keys it holds, and shows the restore as an alert.
    restored = await Hub.start({ dataDir: third, relays: [relay.url], apiHost: '127.0.0.1', apiPort: 0 });
    expect(toHex(restored.identity.hubId)).toBe(hubId);
    // An app left open and idle does not notice its hub went and came back (nothing is sent while
    // nothing is watched); opened again, it connects with the keys it holds and checks the log.
    await page.reload();
    await page.waitForFunction(() => document.body.dataset.screen === 'cameras' && document.body.dataset.link === 'live', null, { timeout: 30_000 });
    await page.waitForFunction(() => !document.getElementById('roster-alerts')!.hidden, null, { timeout: 30_000 });
    expect(await page.textContent('#roster-alert-list')).toMatch(/the hub was restored from its backup on another machine, by owner phones/);
    await page.click('#roster-ack');
    await page.waitForFunction(() => document.getElementById('roster-alerts')!.hidden, null, { timeout: 5000 });
    // What a restore brings back moved (counters past the gap, the restored entry): the app keeps the new backup.
    await page.waitForFunction((v) => {
      const el = document.getElementById('backup-status')!;
      return el.dataset.state === 'kept' && el.dataset.version !== v;
    }, before.version, { timeout: 30_000 });
  }, 150_000);
});
