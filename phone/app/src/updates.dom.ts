// Installs the service worker that pins the app's files by hash (sw.sw.ts), and watches for
// updates. A browser fetches the service worker script again by itself and installs a changed one;
// no page can stop that. What this page can do is check, with the code it already trusts, that the
// new release is signed with the release key before it takes over, and say so loudly if not.
import { fromUtf8 } from '../../../crypto/bytes.ts';
import { sodium } from '../../../crypto/sodium.ts';

/** Hex Ed25519 public key that signs releases, compiled in by build.ts ('' for development builds). */
declare const VIGIL_RELEASE_PUBLIC_KEY: string;

const SW_URL = 'sw.js';

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
  navigator.serviceWorker.register(serviceWorkerUrl(), { scope: './', updateViaCache: 'none' }).then((reg) => {
    reg.addEventListener('updatefound', () => {
      // The very first install is no update: the code running now came with it.
      if (navigator.serviceWorker.controller === null) return;
      void checkUpdate().then(onMessage);
    });
  }).catch((e: unknown) => onMessage(`The offline copy of the app could not be installed: ${e instanceof Error ? e.message : String(e)}`));
}

async function checkUpdate(): Promise<string> {
  try {
    const [manifest, signature] = await Promise.all([
      fetch('release.json', { cache: 'no-store' }).then((r) => r.arrayBuffer()),
      fetch('release.json.sig', { cache: 'no-store' }).then((r) => (r.ok ? r.text() : '')),
    ]);
    const bytes = new Uint8Array(manifest);
    const id = (JSON.parse(fromUtf8(bytes)) as { releaseId?: string }).releaseId ?? 'unknown';
    if (VIGIL_RELEASE_PUBLIC_KEY === '') return `A new version (${id.slice(0, 16)}) is installing. This is an unsigned development build.`;
    const s = sodium();
    const ok = /^[0-9a-f]{128}$/.test(signature.trim())
      && s.crypto_sign_verify_detached(s.from_hex(signature.trim()), bytes, s.from_hex(VIGIL_RELEASE_PUBLIC_KEY));
    return ok
      ? `A signed update (${id.slice(0, 16)}) is ready; it starts when you close and reopen Vigil.`
      : `WARNING: the app's server offers an update that is NOT signed with the Vigil release key (${id.slice(0, 16)}). Do not reopen Vigil from this address; report it.`;
  } catch (e) {
    return `WARNING: an update is installing but its release manifest cannot be checked (${e instanceof Error ? e.message : String(e)}).`;
  }
}
