// The service worker: installs the app's files only if each matches the SHA-256 the build compiled
// into this script, then serves them from its cache and never from the network. So once installed,
// the server that hosts the app cannot change the code that holds the phone's keys by changing
// app.js; it can only offer a new sw.js, which the page checks against the release key
// (updates.dom.ts). The SHA-256 of this script names the whole release.

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
interface SwScope {
  readonly registration: { readonly scope: string };
  readonly clients: { claim(): Promise<void> };
  skipWaiting(): Promise<void>;
  addEventListener(type: 'install' | 'activate', f: (e: ExtendableEvent) => void): void;
  addEventListener(type: 'fetch', f: (e: FetchEvent) => void): void;
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
