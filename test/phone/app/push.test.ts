// Web Push end to end (PROTOCOL §17.3): an event published on the hub's events bus reaches a push
// service on loopback (test/support/push-service.ts, which checks the VAPID JWT and decrypts RFC 8291
// with the subscription's keys), is the same size whatever it carries, and the received payload,
// delivered to the app's service worker in real chromium with the DevTools protocol
// (ServiceWorker.deliverPushMessage), shows "Motion — Front door" with the picture.
//
// What is replaced, and why: chromium here cannot reach a real push service (no network, no
// Google account), so the app's own pushManager.subscribe() step is the one part not run. Instead
// the test makes the subscription (endpoint on its loopback push service, keys it holds) and sends
// it to the hub with the phone's own signed `push-subscribe` command over a real session, as the app
// does with the browser's subscription; the app in chromium holds the same phone's profile.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import WebSocket from 'ws';
import type { CDPSession } from 'playwright-core';
import { Hub } from '../../../main/hub.ts';
import { startRelay, type RelayHandle } from '../../../relay/server.ts';
import { RelayClient, type RelayClientOptions, type WebSocketConstructor } from '../../../relay/client.ts';
import { HubLink } from '../../../phone/core/hub-link.ts';
import { profileFromJson, type PhoneProfile } from '../../../phone/core/profile.ts';
import { buildApp } from '../../../phone/app/build.ts';
import { serveApp, type AppServer } from '../../../phone/app/serve.ts';
import { newHubIdentity } from '../../../crypto/identity.ts';
import { PUSH_TEXT_CHARS, sealPushMessage } from '../../../crypto/push.ts';
import { toBase64url } from '../../../crypto/bytes.ts';
import type { PushSubscribeArgs } from '../../../crypto/push-prefs.ts';
import { pairPhone, stopAll, tempDir } from '../../support/system.ts';
import { closeAllBrowsers, launchBrowser, type TestBrowser } from '../../support/browser/browser.ts';
import { TestPushService, type TestSubscription } from '../../support/push-service.ts';

const relayFactory = (o: RelayClientOptions) => new RelayClient({ ...o, WebSocket: WebSocket as unknown as WebSocketConstructor });
/** RFC 8291 on a fixed-size payload: 86 bytes of header, the text, a delimiter, a 16-byte tag. */
const PUSH_BODY_BYTES = 86 + PUSH_TEXT_CHARS + 1 + 16;

let relay: RelayHandle;
let hub: Hub;
let app: AppServer;
let push: TestPushService;
let b: TestBrowser;
let cdp: CDPSession;
let registrationId = '';
const phones: Record<'a' | 'b' | 'c', { profile: PhoneProfile; deviceId: string; sub: TestSubscription }> = {} as never;
let frontDoor = '';
let garden = '';
let jpeg: Uint8Array;

async function until<T>(what: string, f: () => Promise<T | undefined> | T | undefined, ms = 20_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await f();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function subscribe(profile: PhoneProfile, args: PushSubscribeArgs | { prefs: PushSubscribeArgs['prefs'] }, action: 'push-subscribe' | 'push-settings' = 'push-subscribe'): Promise<{ vapidKey: string; prefs: unknown }> {
  const link = new HubLink({ profile, relayFactory });
  try {
    return action === 'push-subscribe' ? await link.command('push-subscribe', args as PushSubscribeArgs) : await link.command('push-settings', args);
  } finally {
    await link.close();
  }
}

let eventNo = 0;
/** Publishes an event as a detector would, and waits until the hub has every push's answer. */
async function event(cameraId: string, kind: 'motion' | 'person' = 'motion'): Promise<number> {
  const startMs = Date.now();
  hub.events.started(`test/${++eventNo}`, { cameraId, kind, source: 'test', startMs, score: 0.9, zones: [], preview: jpeg });
  await until('the pushes to be answered', async () => {
    await hub.push.settled();
    return true;
  });
  return startMs;
}

function receivedBy(p: 'a' | 'b' | 'c'): Buffer[] {
  return push.received.filter((r) => r.subscription === phones[p].sub.id).map((r) => r.plaintext);
}

async function deliver(text: string): Promise<void> {
  await cdp.send('ServiceWorker.deliverPushMessage', { origin: new URL(app.url).origin, registrationId, data: text });
}

interface Shown { title: string; body: string; image: string; data: { camera: string; time: number; hash: string } }

function notifications(): Promise<Shown[]> {
  return b.page.evaluate(async () => {
    const reg = await navigator.serviceWorker.ready;
    return (await reg.getNotifications()).map((n) => ({ title: n.title, body: n.body, image: (n as Notification & { image: string }).image, data: n.data as Shown['data'] }));
  });
}

function counters(): Promise<Record<string, number>> {
  return b.page.evaluate(() => new Promise<Record<string, number>>((resolve, reject) => {
    const req = indexedDB.open('vigil-push', 1);
    req.onupgradeneeded = () => req.result.createObjectStore('state');
    req.onerror = () => reject(new Error('no push db'));
    req.onsuccess = () => {
      const get = req.result.transaction('state', 'readonly').objectStore('state').get('counters');
      get.onsuccess = () => {
        resolve((get.result as Record<string, number> | undefined) ?? {});
        req.result.close();
      };
    };
  }));
}

beforeAll(async () => {
  const dir = tempDir('vigil-push-');
  relay = await startRelay({ host: '127.0.0.1', port: 0 });
  push = await TestPushService.start();
  hub = await Hub.start({ dataDir: join(dir, 'hub'), relays: [relay.url], apiHost: '127.0.0.1', apiPort: 0, push: { allowHttpLoopback: true } });
  await until('the relay link', () => (hub.relayState === 'ready' ? true : undefined));
  frontDoor = hub.store.addCamera({ name: 'Front door', url: 'rtsp://127.0.0.1:9/front' }).id;
  garden = hub.store.addCamera({ name: 'Garden', url: 'rtsp://127.0.0.1:9/garden' }).id;
  // A picture as a detector would give it: bigger than a push holds, so the hub makes a smaller one.
  const file = join(dir, 'preview.jpg');
  execFileSync('ffmpeg', ['-v', 'error', '-f', 'lavfi', '-i', 'testsrc2=size=640x360:rate=1', '-frames:v', '1', '-q:v', '3', '-y', file]);
  jpeg = new Uint8Array(readFileSync(file));
  for (const p of ['a', 'b', 'c'] as const) {
    const path = join(dir, `phone-${p}.json`);
    const { deviceId } = await pairPhone(join(dir, 'hub'), path, `Phone ${p.toUpperCase()}`);
    phones[p] = { profile: profileFromJson(readFileSync(path, 'utf8')), deviceId, sub: push.subscribe() };
  }
  await buildApp({ out: join(dir, 'app') });
  app = await serveApp({ dir: join(dir, 'app') });
  b = await launchBrowser();
  cdp = await b.context.newCDPSession(b.page);
  const registered = new Promise<string>((resolve) => cdp.on('ServiceWorker.workerRegistrationUpdated', (e: { registrations: { registrationId: string; scopeURL: string }[] }) => {
    const r = e.registrations.find((x) => x.scopeURL.startsWith(app.url));
    if (r !== undefined) resolve(r.registrationId);
  }));
  await cdp.send('ServiceWorker.enable');
  await b.page.goto(app.url);
  await b.page.evaluate(() => navigator.serviceWorker.ready.then(() => undefined));
  registrationId = await registered;
  // The app holds phone A's profile, as pairing in the app would have left it (store.dom.ts).
  const profileText = readFileSync(join(dir, 'phone-a.json'), 'utf8');
  await b.page.evaluate((text) => new Promise<void>((resolve, reject) => {
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
  }), profileText);
  await b.context.grantPermissions(['notifications'], { origin: new URL(app.url).origin });
}, 180_000);

afterAll(async () => {
  await closeAllBrowsers();
  await hub?.close();
  await app?.close();
  await push?.close();
  await relay?.close();
  await stopAll();
});

describe('Web Push', () => {
  let vapidKey = '';

  it('phones subscribe with their own signed commands; the hub refuses endpoints that are not public https', async () => {
    const sub = (p: 'a' | 'b' | 'c') => ({ endpoint: phones[p].sub.endpoint, p256dh: phones[p].sub.p256dh, auth: phones[p].sub.auth });
    const a = await subscribe(phones.a.profile, { ...sub('a'), prefs: { cooldownSeconds: 0, awayOnly: false } });
    vapidKey = a.vapidKey;
    expect(Buffer.from(vapidKey, 'base64url')).toHaveLength(65);
    await subscribe(phones.b.profile, { ...sub('b'), prefs: { cameras: [garden], cooldownSeconds: 0, awayOnly: false } });
    await subscribe(phones.c.profile, { ...sub('c'), prefs: { cooldownSeconds: 0, awayOnly: false } });
    for (const endpoint of ['http://push.example.com/x', 'https://10.0.0.1/x', 'https://192.168.1.1/x', 'https://[fe80::1]/x', 'https://localhost/x', 'https://printer.local/x', 'https://u:p@push.example.com/x', 'file:///etc/passwd']) {
      await expect(subscribe(phones.a.profile, { ...sub('a'), endpoint, prefs: { cooldownSeconds: 0, awayOnly: false } }), endpoint).rejects.toMatchObject({ code: 'bad-arguments' });
    }
  }, 60_000);

  it('an event reaches each matching phone: VAPID-signed, RFC 8291-encrypted, always the same size; the app shows it', async () => {
    const time = await event(frontDoor);
    expect(push.refused).toEqual([]);
    expect(receivedBy('a')).toHaveLength(1);
    expect(receivedBy('c')).toHaveLength(1);
    expect(receivedBy('b'), 'phone B asked for the Garden only').toHaveLength(0);
    for (const r of push.received) {
      expect(r.bodyBytes).toBe(PUSH_BODY_BYTES);
      expect(r.plaintext.length).toBe(PUSH_TEXT_CHARS);
      expect(r.vapidKey).toBe(vapidKey);
      expect(r.jwt.aud).toBe(push.origin);
      expect(r.headers.urgency).toBe('high');
      // Nothing of the event in clear at the push service, even after RFC 8291 is removed.
      expect(r.plaintext.toString('latin1')).not.toMatch(/Front door|motion/);
    }
    await deliver(receivedBy('a')[0]!.toString('utf8'));
    const shown = await until('the notification', async () => ((await notifications()).length > 0 ? notifications() : undefined));
    expect(shown).toHaveLength(1);
    expect(shown[0]!.title).toBe('Motion — Front door');
    expect(shown[0]!.data).toMatchObject({ camera: frontDoor, time, hash: `#timeline=${frontDoor}@${time}` });
    expect(shown[0]!.image).toMatch(/^data:image\/jpeg;base64,\/9j\//);
    expect((await counters()).shown).toBe(1);
    // The same event at the garden: phone B's filter lets it through.
    await event(garden);
    expect(receivedBy('b')).toHaveLength(1);
  }, 90_000);

  it('a tampered, a replayed and another hub\'s push show nothing and are counted', async () => {
    const genuine = receivedBy('a')[0]!.toString('utf8');
    const before = (await notifications()).length;
    // Tampered: one character of the sealed part changed (still base64url, still the right size).
    const i = 2000;
    await deliver(genuine.slice(0, i) + (genuine[i] === 'A' ? 'B' : 'A') + genuine.slice(i + 1));
    await until('tampered counted', async () => ((await counters()).tampered === 1 ? true : undefined));
    // Replayed: the genuine push again.
    await deliver(genuine);
    await until('replay counted', async () => ((await counters()).replayed === 1 ? true : undefined));
    // Another hub's push to this phone (its public keys are in its certificate): not this hub's.
    const me = { deviceId: phones.a.profile.device.deviceId, pqKey: phones.a.profile.device.pq.publicKey };
    const m = { seq: 999_999n, sentAt: Date.now(), kind: 'motion' as const, cameraId: Buffer.from(frontDoor, 'hex'), cameraName: 'Front door', eventStart: Date.now(), thumbnail: new Uint8Array(0) };
    const stranger = newHubIdentity();
    await deliver(toBase64url(sealPushMessage(stranger, me, m)));
    await until('other hub counted', async () => ((await counters())['other-hub'] === 1 ? true : undefined));
    // And one that claims this hub's id, signed with another key.
    await deliver(toBase64url(sealPushMessage({ ...stranger, hubId: phones.a.profile.hub.hubId }, me, m)));
    await until('forgery counted', async () => ((await counters()).tampered === 2 ? true : undefined));
    expect(await counters()).toMatchObject({ shown: 1, tampered: 2, replayed: 1, 'other-hub': 1 });
    expect((await notifications()).length).toBe(before);
  }, 60_000);

  it('quiet hours are respected', async () => {
    const now = new Date();
    const minute = now.getUTCHours() * 60 + now.getUTCMinutes();
    await subscribe(phones.b.profile, { prefs: { cameras: [garden], quiet: { from: (minute + 1439) % 1440, to: (minute + 5) % 1440, utcOffset: 0 }, cooldownSeconds: 0, awayOnly: false } }, 'push-settings');
    const skipped = hub.push.counters.skipped;
    await event(garden);
    expect(receivedBy('b')).toHaveLength(1);
    expect(hub.push.counters.skipped).toBeGreaterThan(skipped);
  }, 60_000);

  it('a removed phone gets no push; a subscription the push service says is gone (410) is removed', async () => {
    await hub.revokeDevice(phones.c.deviceId);
    const toC = receivedBy('c').length;
    push.gone(phones.a.sub.id);
    await event(frontDoor);
    expect(receivedBy('c')).toHaveLength(toC);
    expect(hub.push.counters.gone).toBe(1);
    const refusedBefore = push.refused.length;
    await event(frontDoor);
    expect(push.refused.length, 'nothing more sent to the gone subscription').toBe(refusedBefore);
  }, 60_000);
});
