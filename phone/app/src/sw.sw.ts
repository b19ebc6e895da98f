// The service worker: installs the app's files only if each matches the SHA-256 the build compiled
// into this script, then serves them from its cache and never from the network. So once installed,
// the server that hosts the app cannot change the code that holds the phone's keys by changing
// app.js; it can only offer a new sw.js, which the page checks against the release key
// (updates.dom.ts). The SHA-256 of this script names the whole release.

import { cryptoReady } from '../../../crypto/sodium.ts';
import { notificationFor, openPushText } from './push-inbox.ts';
import { countRefused, readProfile, takePush } from './push-db.ts';

interface ReleaseFiles {
  readonly releaseId: string;
  /** path relative to the scope -> lowercase hex SHA-256 */
  readonly files: Readonly<Record<string, string>>;
}
declare const VIGIL_RELEASE: ReleaseFiles;

// The service worker global scope, typed by hand: tsconfig's DOM lib and the WebWorker lib clash.
interface ExtendableEvent extends Event {
  waitUntil(p: Promise<unknown>): void;
}
interface FetchEvent extends ExtendableEvent {
  readonly request: Request;
  respondWith(r: Promise<Response> | Response): void;
}
interface PushEvent extends ExtendableEvent {
  readonly data: { text(): string } | null;
}
interface NotificationEvent extends ExtendableEvent {
  readonly notification: Notification;
}
interface WindowClient {
  readonly url: string;
  focus(): Promise<WindowClient>;
  navigate(url: string): Promise<WindowClient | null>;
}
interface SwScope {
  readonly registration: { readonly scope: string; showNotification(title: string, options?: NotificationOptions & { image?: string }): Promise<void> };
  readonly clients: { claim(): Promise<void>; matchAll(o: { type: 'window' }): Promise<WindowClient[]>; openWindow(url: string): Promise<WindowClient | null> };
  readonly indexedDB: IDBFactory;
  skipWaiting(): Promise<void>;
  addEventListener(type: 'install' | 'activate', f: (e: ExtendableEvent) => void): void;
  addEventListener(type: 'fetch', f: (e: FetchEvent) => void): void;
  addEventListener(type: 'push', f: (e: PushEvent) => void): void;
  addEventListener(type: 'notificationclick', f: (e: NotificationEvent) => void): void;
}
const sw = self as unknown as SwScope;

const CACHE = `vigil-app-${VIGIL_RELEASE.releaseId}`;

function hex(buffer: ArrayBuffer): string {
  return [...new Uint8Array(buffer)].map((b) => b.toString(16).padStart(2, '0')).join('');
}

async function install(): Promise<void> {
  const cache = await caches.open(CACHE);
  for (const [path, expected] of Object.entries(VIGIL_RELEASE.files)) {
    const url = new URL(path, sw.registration.scope);
    const response = await fetch(url, { cache: 'no-store', credentials: 'omit', redirect: 'error' });
    if (!response.ok) throw new Error(`${path}: HTTP ${response.status}`);
    const body = await response.arrayBuffer();
    const actual = hex(await crypto.subtle.digest('SHA-256', body));
    // One wrong file fails the whole install: the browser keeps the previous version.
    if (actual !== expected) throw new Error(`${path}: SHA-256 ${actual} is not the release's ${expected}`);
    await cache.put(url, new Response(body, { headers: { 'content-type': response.headers.get('content-type') ?? 'application/octet-stream' } }));
  }
}

sw.addEventListener('install', (e) => e.waitUntil(install()));

sw.addEventListener('activate', (e) => {
  e.waitUntil((async () => {
    for (const name of await caches.keys()) if (name.startsWith('vigil-app-') && name !== CACHE) await caches.delete(name);
    await sw.clients.claim();
  })());
});

sw.addEventListener('fetch', (e) => {
  const req = e.request;
  if (req.method !== 'GET') return;
  const url = new URL(req.url);
  const scope = new URL(sw.registration.scope);
  if (url.origin !== scope.origin || !url.pathname.startsWith(scope.pathname)) return;
  let path = url.pathname.slice(scope.pathname.length);
  if (path === '' || req.mode === 'navigate') path = 'index.html';
  if (!(path in VIGIL_RELEASE.files)) return; // release.json and its signature come from the network
  e.respondWith((async () => {
    const hit = await caches.match(new URL(path, scope), { cacheName: CACHE });
    // A pinned file missing from the cache is never fetched instead: it would be unverified.
    return hit ?? new Response('Vigil: this file is missing from the verified copy of the app. Reinstall the app.', { status: 503 });
  })());
});

// Web Push (PROTOCOL §17.3). The payload is a Vigil push message: opened with this phone's keys from
// IndexedDB, shown only if this phone's hub signed it and its number was not seen before. Anything
// else shows nothing and is counted (push-db.ts): a push service, or anyone holding the
// subscription, can send pushes, but cannot make one that names a camera or an event.
async function onPush(text: string): Promise<void> {
  await cryptoReady();
  const idb = sw.indexedDB;
  const profile = await readProfile(idb);
  if (profile === undefined) return countRefused(idb, 'no-profile');
  const opened = openPushText(text, profile);
  if ('refused' in opened) {
    if (opened.refused !== 'replayed') await countRefused(idb, opened.refused);
    return;
  }
  if (!(await takePush(idb, opened.ok.seq))) return;
  const n = notificationFor(opened.ok);
  await sw.registration.showNotification(n.title, {
    body: n.body, tag: n.tag, data: n.data, icon: new URL('icon.svg', sw.registration.scope).href, ...(n.image !== undefined ? { image: n.image } : {}),
  });
}

sw.addEventListener('push', (e) => {
  e.waitUntil(onPush(e.data?.text() ?? ''));
});

// A tap opens the app at the timeline for that camera and time (a hash the app reads).
sw.addEventListener('notificationclick', (e) => {
  e.notification.close();
  const data = e.notification.data as { hash?: unknown } | null;
  const hash = typeof data?.hash === 'string' && /^#timeline=[0-9a-f]{32}@\d{1,15}$/.test(data.hash) ? data.hash : '';
  const url = new URL(hash, sw.registration.scope).href;
  e.waitUntil((async () => {
    const open = (await sw.clients.matchAll({ type: 'window' })).find((c) => c.url.startsWith(sw.registration.scope));
    if (open !== undefined) {
      await open.focus();
      await open.navigate(url);
    } else {
      await sw.clients.openWindow(url);
    }
  })());
});
