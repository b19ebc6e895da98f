// Installs the service worker that pins the app's files by hash (sw.sw.ts), and watches for
// updates. A browser fetches the service worker script again by itself and installs a changed one;
// no page can stop that, and a new worker that calls skipWaiting() takes over at once. What this
// page can do, with the code it already trusts, is check that the worker being installed is the
// sw.js a release manifest signed with the release key names, for a version above its own, and say
// plainly when it is not. It checks the bytes it fetches itself: an origin that serves the browser's
// own worker fetch (`Sec-Fetch-Dest: serviceworker`) other bytes than this page's fetch passes this
// check (phone/app/README.md, "Where the app's code comes from").
import { fromUtf8 } from '../../../crypto/bytes.ts';
import { cryptoReady, sodium } from '../../../crypto/sodium.ts';

/** Hex Ed25519 public key that signs releases, compiled in by build.ts ('' for development builds). */
declare const VIGIL_RELEASE_PUBLIC_KEY: string;
/** This release's version (MAJOR.MINOR.PATCH), compiled in by build.ts. */
declare const VIGIL_RELEASE_VERSION: string;

const SW_URL = 'sw.js';
/** Bounds on what the origin can make the page download and hash. */
const MAX_WORKER_BYTES = 4 * 1024 * 1024;
const MAX_MANIFEST_BYTES = 64 * 1024;
const MAX_SIGNATURE_BYTES = 1024;

const NOT_VERIFIED = 'WARNING: the app\'s server is installing an update that is NOT verified';
const ADVICE = 'Do not reopen Vigil from this address; report it.';

interface Verdict {
  readonly verified: boolean;
  readonly text: string;
}

interface TrustedTypesLike {
  createPolicy(name: string, rules: { createScriptURL(url: string): string }): { createScriptURL(url: string): unknown };
}

/** The page's only script URL: the CSP requires Trusted Types, and this policy yields sw.js alone. */
function serviceWorkerUrl(): string {
  const tt = (globalThis as { trustedTypes?: TrustedTypesLike }).trustedTypes;
  if (tt === undefined) return SW_URL;
  const policy = tt.createPolicy('vigil', {
    createScriptURL(url) {
      if (url !== SW_URL) throw new TypeError(`script URL ${url} refused`);
      return url;
    },
  });
  return policy.createScriptURL(SW_URL) as string;
}

export function watchForUpdates(onMessage: (message: string) => void): void {
  if (!('serviceWorker' in navigator) || new URLSearchParams(location.search).has('nosw')) return;
  const container = navigator.serviceWorker;
  // A warning stays: nothing said later about another worker may cover it.
  let warned = false;
  const say = (v: Verdict): void => {
    if (warned && v.verified) return;
    warned ||= !v.verified;
    onMessage(v.text);
  };
  // A Vigil release never calls skipWaiting(), so no worker takes over a page that already has one.
  // The first install's clients.claim() is the one expected change.
  let controlled = container.controller !== null;
  container.addEventListener('controllerchange', () => {
    if (controlled) say({ verified: false, text: `${NOT_VERIFIED}: a new version took over while Vigil was open, which a Vigil release never does. ${ADVICE}` });
    controlled = true;
  });
  container.register(serviceWorkerUrl(), { scope: './', updateViaCache: 'none' }).then((reg) => {
    const checked = new WeakSet<ServiceWorker>();
    const check = (worker: ServiceWorker | null): void => {
      if (worker === null || checked.has(worker)) return;
      checked.add(worker);
      // The very first install is no update: the code running now came with it.
      if (reg.active === null && container.controller === null) return;
      void checkWorker(worker.scriptURL).then(say);
    };
    // The browser may have found the update before this page registered (the check it makes on
    // every navigation): that worker is already installing or waiting, and updatefound is past.
    reg.addEventListener('updatefound', () => check(reg.installing));
    check(reg.installing);
    check(reg.waiting);
    if (controlled && reg.active !== null && container.controller !== null && reg.active !== container.controller) {
      say({ verified: false, text: `${NOT_VERIFIED}: a new version became active while Vigil was open, which a Vigil release never does. ${ADVICE}` });
    }
  }).catch((e: unknown) => onMessage(`The offline copy of the app could not be installed: ${e instanceof Error ? e.message : String(e)}`));
}

/** Checks the worker at `scriptURL` against the origin's signed release manifest. */
export async function checkWorker(scriptURL: string): Promise<Verdict> {
  try {
    await cryptoReady();
    if (VIGIL_RELEASE_PUBLIC_KEY === '') {
      return { verified: false, text: 'A new version is installing. It is NOT verified: this is a development build, built without a release key.' };
    }
    const [script, manifest, signature] = await Promise.all([
      fetchBounded(scriptURL, MAX_WORKER_BYTES),
      fetchBounded('release.json', MAX_MANIFEST_BYTES),
      fetchBounded('release.json.sig', MAX_SIGNATURE_BYTES).catch(() => new Uint8Array(0)),
    ]);
    const s = sodium();
    const sigHex = fromUtf8(signature).trim();
    if (!/^[0-9a-f]{128}$/.test(sigHex) || !s.crypto_sign_verify_detached(s.from_hex(sigHex), manifest, s.from_hex(VIGIL_RELEASE_PUBLIC_KEY))) {
      return { verified: false, text: `${NOT_VERIFIED}: its release manifest is not signed with the Vigil release key. ${ADVICE}` };
    }
    const release = parseManifest(manifest);
    if (release === undefined) return { verified: false, text: `${NOT_VERIFIED}: its signed release manifest is malformed. ${ADVICE}` };
    // A genuine older release is signed too; installing it would bring back what a later one fixed.
    if (compareVersions(release.version, VIGIL_RELEASE_VERSION) <= 0) {
      return { verified: false, text: `${NOT_VERIFIED}: the signed release it offers is version ${release.version}, not newer than this version (${VIGIL_RELEASE_VERSION}), so it would roll the app back. ${ADVICE}` };
    }
    // The manifest must describe the worker the browser is installing, not just be a signed file.
    const digest = await crypto.subtle.digest('SHA-256', script);
    if (s.to_hex(new Uint8Array(digest)) !== release.workerSha256) {
      return { verified: false, text: `${NOT_VERIFIED}: its sw.js is not the one the signed release ${release.version} names. ${ADVICE}` };
    }
    return { verified: true, text: `A signed update (version ${release.version}, release ${release.releaseId.slice(0, 16)}) is ready; it starts when you close and reopen Vigil.` };
  } catch (e) {
    return { verified: false, text: `${NOT_VERIFIED}: its release cannot be checked (${e instanceof Error ? e.message : String(e)}). ${ADVICE}` };
  }
}

interface Release {
  readonly version: string;
  readonly releaseId: string;
  readonly workerSha256: string;
}

const VERSION = /^(\d{1,6})\.(\d{1,6})\.(\d{1,6})$/;

function parseManifest(bytes: Uint8Array): Release | undefined {
  let m: unknown;
  try {
    m = JSON.parse(fromUtf8(bytes));
  } catch {
    return undefined;
  }
  if (typeof m !== 'object' || m === null) return undefined;
  const { format, version, releaseId, files } = m as Record<string, unknown>;
  if (format !== 'vigil-phone-app-release' || typeof version !== 'string' || !VERSION.test(version)) return undefined;
  if (typeof releaseId !== 'string' || !/^[0-9a-f]{64}$/.test(releaseId)) return undefined;
  if (typeof files !== 'object' || files === null) return undefined;
  const worker = (files as Record<string, unknown>)['sw.js'];
  if (typeof worker !== 'string' || !/^[0-9a-f]{64}$/.test(worker)) return undefined;
  return { version, releaseId, workerSha256: worker };
}

/** Negative, zero or positive as `a` is below, equal to or above `b` (MAJOR.MINOR.PATCH). */
export function compareVersions(a: string, b: string): number {
  const pa = VERSION.exec(a);
  const pb = VERSION.exec(b);
  if (pa === null || pb === null) throw new Error(`version ${pa === null ? a : b} is not MAJOR.MINOR.PATCH`);
  for (let i = 1; i <= 3; i++) {
    const d = Number(pa[i]) - Number(pb[i]);
    if (d !== 0) return d;
  }
  return 0;
}

async function fetchBounded(url: string, max: number): Promise<Uint8Array<ArrayBuffer>> {
  const r = await fetch(url, { cache: 'no-store', credentials: 'omit', redirect: 'error' });
  if (!r.ok) throw new Error(`${url}: HTTP ${r.status}`);
  if (r.body === null) return new Uint8Array(0);
  const reader = r.body.getReader();
  const parts: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > max) {
      await reader.cancel();
      throw new Error(`${url} is larger than ${max} bytes`);
    }
    parts.push(value);
  }
  const out = new Uint8Array(size);
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.byteLength;
  }
  return out;
}
