// Events in the phone app (issues 16 and 17) in Debian's chromium, on real parts: a hub (in this
// process, so the test publishes events on its events bus as a detector does), the real relay,
// the RTSP test camera recorded continuously, a loopback push service, command-line phones.
//
// - The Events screen lists the events this phone can open, newest first, with camera, kind, time
//   and the picture decrypted on the phone; a count of unseen ones on the header's button; new
//   events come in while the app is open (the hub's sealed notices), and after a reload from the
//   hub's list. An event from before this phone was paired is not there (T3).
// - Tapping an event opens that camera's timeline at the event's pre-roll; the day's events are
//   marks on the timeline, each a button naming its kind and time; tapping one seeks there.
// - `vigil-phone recordings --json` lists the events with the ranges.
// - A Web Push the hub sent, delivered to the service worker, shows a notification whose link
//   (`#timeline=<camera>@<ms>`) opens the timeline at the event, in an open app and in a new one.
//   Headless chromium cannot click a notification, so the test opens the URL the service worker's
//   notificationclick opens (sw.sw.ts: client.navigate(url), else clients.openWindow(url)).
// - History: an owner's CLI phone shares the past with the app's phone: the open timeline plays it
//   and marks its event without a restart. The app (an owner) shares its history with a phone
//   paired later with its Share history button, and that phone then plays the past.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import WebSocket from 'ws';
import type { CDPSession, Page } from 'playwright-core';
import { Hub } from '../../../main/hub.ts';
import { startRelay, type RelayHandle } from '../../../relay/server.ts';
import { RelayClient, type RelayClientOptions, type WebSocketConstructor } from '../../../relay/client.ts';
import { HubLink } from '../../../phone/core/hub-link.ts';
import { profileFromJson, profileToJson, type PhoneProfile } from '../../../phone/core/profile.ts';
import { buildApp } from '../../../phone/app/build.ts';
import { serveApp, type AppServer } from '../../../phone/app/serve.ts';
import { startCamera, stopAllCameras } from '../../support/camera/camera.ts';
import { VIGIL_PHONE, pairPhone, run, stopAll, tempDir, waitUntil } from '../../support/system.ts';
import { closeAllBrowsers, launchBrowser, type TestBrowser } from '../../support/browser/browser.ts';
import { TestPushService, type TestSubscription } from '../../support/push-service.ts';
import { a11yProblems } from '../../ui/a11y.ts';

const CAMERA = 'Garden';
const APP_PHONE = 'App phone';
const relayFactory = (o: RelayClientOptions) => new RelayClient({ ...o, WebSocket: WebSocket as unknown as WebSocketConstructor });

let dir: string;
let data: string;
let relay: RelayHandle;
let hub: Hub;
let push: TestPushService;
let app: AppServer;
let b: TestBrowser;
let page: Page;
let cdp: CDPSession;
let registrationId = '';
let cameraId = '';
let jpeg: Uint8Array;
let sub: TestSubscription;
const profiles = { owner: '', app: '', later: '' };
let appDevice = '';
/** The event published before the app's phone was paired (its epoch is not the app's). */
let early = 0;

async function until<T>(what: string, f: () => Promise<T | undefined> | T | undefined, ms = 30_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await f();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

let eventNo = 0;
/** An event as a detector reports it, started and ended at once (two seals, two notices). */
function publish(kind: 'motion' | 'person' | 'tamper', startMs: number): number {
  const key = `app-test/${++eventNo}`;
  const e = { cameraId, kind, source: 'test', startMs, score: 0.8, zones: [], preview: jpeg };
  hub.events.started(key, e);
  hub.events.ended(key, { ...e, endMs: startMs + 2000 });
  return startMs;
}

const closedSegments = () => hub.recordings.index.segmentsIn(cameraId, 0, Date.now() + 3600_000, 10_000).filter((s) => s.closed);

const data$ = (sel: string, key: string) => page.evaluate(([s, k]) => (document.querySelector(s!) as HTMLElement | null)?.dataset[k!], [sel, key] as const);

/** The rows of the Events screen, top first. */
function rows(): Promise<{ id: number; kind: string; start: number; title: string; drawn: string | undefined; unseen: boolean }[]> {
  return page.evaluate(() => [...document.querySelectorAll<HTMLElement>('#events button.event')].map((el) => ({
    id: Number(el.dataset.event), kind: el.dataset.kind!, start: Number(el.dataset.start), title: el.querySelector('.event-title')!.textContent!,
    drawn: el.querySelector<HTMLElement>('canvas')!.dataset.drawn, unseen: el.dataset.unseen === 'true',
  })));
}

/** Spread of luma of an event row's picture: drawn from the decrypted JPEG, not blank. */
function pictureSpread(start: number): Promise<number> {
  return page.evaluate((s) => {
    const c = document.querySelector<HTMLCanvasElement>(`#events button.event[data-start="${s}"] canvas`)!;
    const px = c.getContext('2d')!.getImageData(0, 0, c.width, c.height).data;
    let sum = 0;
    let sq = 0;
    const n = px.length / 4;
    for (let i = 0; i < px.length; i += 4) {
      const y = 0.299 * px[i]! + 0.587 * px[i + 1]! + 0.114 * px[i + 2]!;
      sum += y;
      sq += y * y;
    }
    return Math.sqrt(sq / n - (sum / n) ** 2);
  }, start);
}

const badge = () => page.evaluate(() => {
  const el = document.getElementById('events-badge')!;
  return { hidden: el.hidden, unseen: Number(el.dataset.unseen ?? 0), label: document.getElementById('events-open')!.getAttribute('aria-label') };
});

/** The timeline is open on the camera with its cursor at `t` (it opens there, then stays). */
async function timelineAt(t: number): Promise<void> {
  await page.waitForFunction((time) => !document.getElementById('timeline')!.hidden && document.getElementById('tl-cursor')?.dataset.time === String(time), t, { timeout: 30_000 });
  expect(await page.textContent('#live-name')).toBe(CAMERA);
}

/** The a11y helper's checks that apply to this one-page app (it has no nav, and one h1 per screen). */
async function a11y(): Promise<string[]> {
  return (await a11yProblems(page)).filter((p) => !p.startsWith('navigation has no label') && !/^main has \d+ h1/.test(p));
}

beforeAll(async () => {
  dir = tempDir('vigil-app-events-');
  data = join(dir, 'hub');
  const made = join(dir, 'preview.jpg');
  const ff = await run('ffmpeg', ['-v', 'error', '-f', 'lavfi', '-i', 'testsrc=size=160x90:rate=1', '-frames:v', '1', '-q:v', '5', made]);
  expect(ff.code, ff.stderr).toBe(0);
  jpeg = new Uint8Array(readFileSync(made));
  const [camera, built] = await Promise.all([
    startCamera({ codec: 'h264', size: '640x360', fps: 15, gop: 15 }),
    buildApp({ out: join(dir, 'app') }),
  ]);
  relay = await startRelay({ host: '127.0.0.1', port: 0 });
  push = await TestPushService.start();
  hub = await Hub.start({ dataDir: data, relays: [relay.url], apiHost: '127.0.0.1', apiPort: 0, push: { allowHttpLoopback: true } });
  await until('the relay link', () => (hub.relayState === 'ready' ? true : undefined));
  cameraId = hub.cameras.add({ name: CAMERA, url: camera.url }).id;
  for (const k of Object.keys(profiles) as (keyof typeof profiles)[]) profiles[k] = join(dir, `${k}.json`);
  await pairPhone(data, profiles.owner, 'Owner');
  hub.recordings.set(cameraId, 'continuous');
  // Nine seconds recorded before the app's phone is paired, and an event in them.
  await waitUntil('9 s recorded', () => closedSegments().some((s) => s.startMs <= Date.now() - 9000), 90_000, 250);
  early = publish('tamper', Date.now() - 1500);
  appDevice = (await pairPhone(data, profiles.app, APP_PHONE)).deviceId;
  await waitUntil('the epoch after the app\'s phone', () => hub.recordings.epochs.current !== undefined && hub.recordings.index.hasKey(appDevice, hub.recordings.epochs.current.epoch), 30_000);
  const appEpoch = hub.recordings.epochs.current!.epoch;

  // The app's phone subscribes to Web Push with its own signed command (the one step the app cannot
  // do here: chromium reaches no push service), before the app holds the profile.
  sub = push.subscribe();
  let profile: PhoneProfile = profileFromJson(readFileSync(profiles.app, 'utf8'));
  const link = new HubLink({ profile, relayFactory, onProfileChanged: (p) => { profile = p; } });
  try {
    await link.command('push-subscribe', { endpoint: sub.endpoint, p256dh: sub.p256dh, auth: sub.auth, prefs: { cooldownSeconds: 0, awayOnly: false } });
  } finally {
    await link.close();
  }
  writeFileSync(profiles.app, profileToJson(profile));

  app = await serveApp({ dir: built.dir });
  b = await launchBrowser();
  page = b.page;
  page.on('dialog', (d) => void d.accept());
  cdp = await b.context.newCDPSession(page);
  const registered = new Promise<string>((resolve) => cdp.on('ServiceWorker.workerRegistrationUpdated', (e: { registrations: { registrationId: string; scopeURL: string }[] }) => {
    const r = e.registrations.find((x) => x.scopeURL.startsWith(app.url));
    if (r !== undefined) resolve(r.registrationId);
  }));
  await cdp.send('ServiceWorker.enable');
  await page.goto(app.url);
  await page.evaluate(() => navigator.serviceWorker.ready.then(() => undefined));
  registrationId = await registered;
  // The app holds the phone's profile as pairing in the app leaves it (store.dom.ts).
  await page.evaluate((text) => new Promise<void>((resolve, reject) => {
    const req = indexedDB.open('vigil-phone', 1);
    req.onupgradeneeded = () => req.result.createObjectStore('profiles');
    req.onerror = () => reject(new Error('cannot open'));
    req.onsuccess = () => {
      const tx = req.result.transaction('profiles', 'readwrite');
      tx.objectStore('profiles').put(text, 'hub');
      tx.oncomplete = () => {
        req.result.close();
        resolve();
      };
    };
  }), readFileSync(profiles.app, 'utf8'));
  await b.context.grantPermissions(['notifications'], { origin: new URL(app.url).origin });
  await page.reload();
  await page.waitForFunction(() => document.body.dataset.screen === 'cameras' && document.querySelectorAll('#cameras button').length === 1, null, { timeout: 30_000 });
  // The app's own recordings start 7 s before the events below (a tap seeks 5 s before one).
  await waitUntil('7 s recorded in the app\'s epoch', () => closedSegments().some((s) => s.epoch >= appEpoch && s.startMs <= Date.now() - 7000), 60_000, 250);
}, 240_000);

afterAll(async () => {
  await closeAllBrowsers();
  await hub?.close();
  await app?.close();
  await push?.close();
  await relay?.close();
  await stopAll();
  await stopAllCameras();
});

describe('events in the app', () => {
  const t: Record<'a' | 'b' | 'c', number> = { a: 0, b: 0, c: 0 };

  it('the Events screen: newest first, pictures decrypted on the phone, a count of unseen ones, live while open, again after a reload', async () => {
    await page.waitForFunction(() => !document.getElementById('events-open')!.hidden, null, { timeout: 10_000 });
    expect(await badge()).toMatchObject({ hidden: true, unseen: 0, label: 'Events' });

    // An event while the app shows its cameras: the hub's notice, opened here, counts as unseen.
    t.a = publish('motion', Date.now() - 500);
    await page.waitForFunction(() => document.getElementById('events-badge')!.dataset.unseen === '1', null, { timeout: 30_000 });
    expect(await badge()).toMatchObject({ hidden: false, unseen: 1, label: 'Events, 1 new' });

    await page.click('#events-open');
    await page.waitForFunction(() => document.body.dataset.screen === 'events', null, { timeout: 10_000 });
    expect(await badge()).toMatchObject({ hidden: true, unseen: 0 });
    await page.waitForFunction((s) => document.querySelector<HTMLElement>(`#events button.event[data-start="${s}"] canvas`)?.dataset.drawn !== undefined, t.a, { timeout: 30_000 });
    let list = await rows();
    expect(list.map((r) => r.start), 'only events this phone holds a key of: not the one before it was paired').toEqual([t.a]);
    expect(list[0]).toMatchObject({ kind: 'motion', title: `Motion — ${CAMERA}`, drawn: '160x90' });
    expect(await pictureSpread(t.a), 'the picture, not a blank').toBeGreaterThan(20);

    // Another while the list is open: on top at once, and seen (the list is in front of the user).
    t.b = publish('person', Date.now() - 300);
    await page.waitForFunction((s) => document.querySelector('#events button.event')?.getAttribute('data-start') === String(s), t.b, { timeout: 30_000 });
    list = await rows();
    expect(list.map((r) => [r.kind, r.title])).toEqual([['person', `Person — ${CAMERA}`], ['motion', `Motion — ${CAMERA}`]]);
    expect((await badge()).unseen).toBe(0);
    expect(await a11y()).toEqual([]);

    // A reload: the list comes from the hub's `events` (briefs), each picture with `event-image`.
    await page.reload();
    await page.waitForFunction(() => document.body.dataset.screen === 'cameras' && document.querySelectorAll('#cameras button').length === 1, null, { timeout: 30_000 });
    await page.click('#events-open');
    await page.waitForFunction(() => [...document.querySelectorAll<HTMLElement>('#events button.event canvas')].filter((c) => c.dataset.drawn !== undefined).length === 2, null, { timeout: 30_000 });
    expect((await rows()).map((r) => r.start)).toEqual([t.b, t.a]);
    expect((await badge()).unseen, 'what was seen stays seen').toBe(0);

    // Back on the cameras screen, a third event counts.
    await page.click('#events-back');
    t.c = publish('motion', Date.now() - 200);
    await page.waitForFunction(() => document.getElementById('events-badge')!.dataset.unseen === '1', null, { timeout: 30_000 });
  }, 150_000);

  it('tapping an event opens the timeline at its pre-roll; the day\'s events are marks that name their kind, and a tap on one seeks there', async () => {
    await page.click('#events-open');
    await page.click(`#events button.event[data-start="${t.a}"]`);
    await timelineAt(t.a - 5000);
    // A picture of that moment, decrypted with the recording keys.
    await page.waitForFunction(() => Number(document.getElementById('timeline')!.dataset.pictures ?? 0) >= 1, null, { timeout: 30_000 });
    expect(Math.abs(Number(await data$('#rec-video', 'pictureTime')) - (t.a - 5000))).toBeLessThan(6000);
    // The marks: one per event of the day this phone can open, as buttons with their words.
    await page.waitForFunction(() => document.querySelectorAll('#tl-marks .tl-mark').length >= 3, null, { timeout: 30_000 });
    const marks = await page.evaluate(() => [...document.querySelectorAll<HTMLElement>('#tl-marks .tl-mark')].map((m) => ({ time: Number(m.dataset.time), seek: Number(m.dataset.seek), label: m.getAttribute('aria-label')!, title: m.title })));
    expect(marks.map((m) => m.time)).toEqual([t.a, t.b, t.c]);
    expect(marks[1]!.label).toMatch(/^Person at \d\d:\d\d:\d\d: play from 5 s before$/);
    expect(marks[0]!.title).toMatch(/^Motion at \d\d:\d\d:\d\d$/);
    expect(await page.locator(`#tl-track .tl-event`).count()).toBe(3);
    expect(await a11y()).toEqual([]);

    // Elsewhere with the keyboard, then a tap on the person mark: the cursor and picture go there.
    await page.focus('#tl-track');
    for (let i = 0; i < 3; i++) await page.keyboard.press('ArrowLeft');
    await page.waitForFunction((time) => Number(document.getElementById('tl-cursor')!.dataset.time) < time, t.a - 5000, { timeout: 10_000 });
    const pictures = Number(await data$('#timeline', 'pictures'));
    // The marks of events seconds apart overlap at this zoom: the person mark is taken from the
    // keyboard, as a screen reader user would (a finger would zoom in first).
    await page.focus(`#tl-marks .tl-mark[data-time="${t.b}"]`);
    await page.keyboard.press('Enter');
    await timelineAt(t.b - 5000);
    await page.waitForFunction((n) => Number(document.getElementById('timeline')!.dataset.pictures) > n, pictures, { timeout: 30_000 });
    expect(Math.abs(Number(await data$('#rec-video', 'pictureTime')) - (t.b - 5000))).toBeLessThan(6000);

    // An event that happens while the timeline is open is marked at once.
    const d = publish('motion', Date.now() - 100);
    await page.waitForFunction((time) => document.querySelector(`#tl-marks .tl-mark[data-time="${time}"]`) !== null, d, { timeout: 30_000 });
  }, 120_000);

  it('vigil-phone recordings --json lists the events with the ranges', async () => {
    const r = await run(VIGIL_PHONE, ['recordings', '--profile', profiles.owner, '--camera', CAMERA, '--json'], { timeoutMs: 90_000 });
    expect(r.code, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout.trim().split('\n').pop()!) as { ranges: { start: string }[]; events: { id: number; time: string; end: string | null; kind: string }[] };
    expect(out.ranges.length).toBeGreaterThan(0);
    // The owner was paired first: it opens every event, the early one too, oldest first.
    expect(out.events.slice(0, 4).map((e) => [Date.parse(e.time), e.kind])).toEqual([[early, 'tamper'], [t.a, 'motion'], [t.b, 'person'], [t.c, 'motion']]);
    expect(out.events[0]!.end).toBe(new Date(early + 2000).toISOString());
    expect(new Set(out.events.map((e) => e.id)).size).toBe(out.events.length);
  }, 120_000);

  it('a push notification\'s link opens the timeline at the event, in the open app and in a new one', async () => {
    // The hub pushed each event that started; the last one it sent this phone is the third.
    const mine = () => push.received.filter((r) => r.subscription === sub.id);
    await until('the pushes', () => (mine().length >= 3 ? true : undefined));
    await cdp.send('ServiceWorker.deliverPushMessage', { origin: new URL(app.url).origin, registrationId, data: mine()[2]!.plaintext.toString('utf8') });
    const shown = await until('the notification', async () => {
      const n = await page.evaluate(async () => (await (await navigator.serviceWorker.ready).getNotifications()).map((x) => ({ title: x.title, data: x.data as { hash: string; time: number } })));
      return n.length > 0 ? n : undefined;
    });
    expect(shown[0]!.title).toBe(`Motion — ${CAMERA}`);
    expect(shown[0]!.data.time).toBe(t.c);
    const url = new URL(shown[0]!.data.hash, app.url).href;

    // The app is open (on the cameras screen): the service worker navigates it to the link.
    await page.click('#back');
    await page.waitForFunction(() => document.body.dataset.screen === 'cameras', null, { timeout: 10_000 });
    await page.goto(url);
    await timelineAt(t.c - 5000);
    expect(await page.evaluate(() => location.hash), 'the link is taken, not left to reopen on reload').toBe('');

    // The app is closed: the service worker opens a new window at the link.
    const problems = b.problems.filter((p) => !p.includes('favicon'));
    expect(problems).toEqual([]);
    await page.close();
    page = await b.context.newPage();
    page.on('dialog', (d) => void d.accept());
    page.on('console', (m) => {
      if (m.type() === 'error') b.problems.push(`console: ${m.text()}`);
    });
    await page.goto(url);
    await timelineAt(t.c - 5000);
    await page.waitForFunction(() => Number(document.getElementById('timeline')!.dataset.pictures ?? 0) >= 1, null, { timeout: 30_000 });
  }, 120_000);

  it('history shared with the app\'s phone plays in the open timeline, with its event, without a restart', async () => {
    // The early event's time: recorded before this phone was paired, so refused (no key).
    await page.goto(new URL(`#timeline=${cameraId}@${early}`, app.url).href);
    await timelineAt(early - 5000);
    await page.waitForFunction(() => Number(document.getElementById('timeline')!.dataset.noKey ?? 0) >= 1, null, { timeout: 30_000 });
    await page.waitForFunction(() => document.getElementById('timeline')!.dataset.events !== undefined, null, { timeout: 30_000 });
    expect(await page.locator(`#tl-marks .tl-mark[data-time="${early}"]`).count()).toBe(0);
    const pictures = Number(await data$('#timeline', 'pictures') ?? 0);

    const r = await run(VIGIL_PHONE, ['share-history', '--profile', profiles.owner, '--phone', APP_PHONE], { timeoutMs: 60_000 });
    expect(r.code, r.stderr).toBe(0);
    // The roster alert says so, and the app fetches the keys it was given: the past shows.
    await page.waitForFunction(() => !document.getElementById('roster-alerts')!.hidden && /was given/.test(document.getElementById('roster-alert-list')!.textContent ?? ''), null, { timeout: 30_000 });
    await page.waitForFunction((n) => Number(document.getElementById('timeline')!.dataset.pictures ?? 0) > n, pictures, { timeout: 30_000 });
    expect(Math.abs(Number(await data$('#rec-video', 'pictureTime')) - (early - 5000))).toBeLessThan(6000);
    await page.waitForFunction((time) => document.querySelector(`#tl-marks .tl-mark[data-time="${time}"]`) !== null, early, { timeout: 30_000 });
    expect(await page.getAttribute(`#tl-marks .tl-mark[data-time="${early}"]`, 'aria-label')).toMatch(/^Camera tampered with at /);
  }, 120_000);

  it('the app\'s owner shares its history with a phone paired later, which then plays the past', async () => {
    const laterId = (await pairPhone(data, profiles.later, 'Later', 'viewer')).deviceId;
    const from = new Date(early - 4000).toISOString();
    const play = (out: string) => run(VIGIL_PHONE, ['play', '--profile', profiles.later, '--camera', CAMERA, '--from', from, '--seconds', '3', '--out', join(dir, out)], { timeoutMs: 90_000 });
    const refused = await play('refused.mp4');
    expect(refused.code).not.toBe(0);
    expect(refused.stderr).toContain('no-recording-key');

    await page.click('#back');
    await page.waitForFunction(() => document.body.dataset.screen === 'cameras', null, { timeout: 10_000 });
    await page.click('details.about summary');
    await page.waitForFunction((id) => document.querySelector(`#phones li[data-device="${id}"] .share-history`) !== null, laterId, { timeout: 30_000 });
    expect(await page.locator(`#phones li[data-device="${appDevice}"] .share-history`).count(), 'no button for itself').toBe(0);
    expect(await page.getAttribute(`#phones li[data-device="${laterId}"] .share-history`, 'aria-label')).toBe('Share recorded history with "Later"');
    expect(await a11y()).toEqual([]);
    await page.click(`#phones li[data-device="${laterId}"] .share-history`);
    await page.waitForFunction(() => ['shared', 'refused'].includes(document.getElementById('share-status')!.dataset.state ?? ''), null, { timeout: 60_000 });
    expect(await page.textContent('#share-status')).toMatch(/^Shared \d+ recording periods? with "Later": [1-9]\d* new to it/);

    const played = await play('shared.mp4');
    expect(played.code, played.stderr).toBe(0);
    const probe = JSON.parse((await run('ffprobe', ['-v', 'error', '-count_frames', '-show_entries', 'stream=nb_read_frames,codec_name', '-of', 'json', join(dir, 'shared.mp4')])).stdout) as { streams: { codec_name: string; nb_read_frames: string }[] };
    expect(Number(probe.streams.find((s) => s.codec_name === 'h264')!.nb_read_frames)).toBeGreaterThan(15);
    expect(b.problems.filter((p) => !p.includes('favicon'))).toEqual([]);
  }, 180_000);
});
