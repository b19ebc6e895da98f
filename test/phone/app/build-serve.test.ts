// The build publishes a hash for every file and compiles them into the service worker; the dev
// server serves only dist/, on loopback only, with the app's CSP.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildApp, type BuiltApp } from '../../../phone/app/build.ts';
import { serveApp, type AppServer } from '../../../phone/app/serve.ts';
import { cryptoReady, sodium } from '../../../crypto/sodium.ts';

let out: string;
let built: BuiltApp;
let server: AppServer;
let releaseKeyHex: string;

beforeAll(async () => {
  await cryptoReady();
  out = mkdtempSync(join(tmpdir(), 'vigil-app-build-'));
  const keys = sodium().crypto_sign_keypair();
  releaseKeyHex = sodium().to_hex(keys.privateKey);
  built = await buildApp({ out, releaseKeyHex });
  server = await serveApp({ dir: out });
}, 60_000);

afterAll(async () => {
  await server?.close();
  rmSync(out, { recursive: true, force: true });
});

const sha256 = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

describe('build', () => {
  it('lists the SHA-256 of every file, and the service worker pins all the others', () => {
    const sums = readFileSync(join(out, 'SHA256SUMS'), 'utf8').trim().split('\n');
    expect(sums.length).toBe(6);
    for (const line of sums) {
      const [hash, name] = line.split(/\s+/);
      expect(sha256(readFileSync(join(out, name!))), name).toBe(hash);
    }
    const sw = readFileSync(join(out, 'sw.js'), 'utf8');
    for (const [name, hash] of Object.entries(built.files)) if (name !== 'sw.js') expect(sw, name).toContain(hash);
  });

  it('is reproducible: the same source gives the same hashes', async () => {
    const again = mkdtempSync(join(tmpdir(), 'vigil-app-build-'));
    try {
      expect(readFileSync(join(out, 'release.json'), 'utf8')).toContain(built.releaseId);
      const b2 = await buildApp({ out: again, releaseKeyHex });
      expect(b2.files).toEqual(built.files);
      expect(b2.releaseId).toBe(built.releaseId);
    } finally {
      rmSync(again, { recursive: true, force: true });
    }
  });

  it('signs release.json with the release key and compiles the public key into the app', () => {
    const manifest = readFileSync(join(out, 'release.json'));
    const sig = sodium().from_hex(readFileSync(join(out, 'release.json.sig'), 'utf8').trim());
    const pk = (JSON.parse(manifest.toString('utf8')) as { releasePublicKey: string }).releasePublicKey;
    expect(sodium().crypto_sign_verify_detached(sig, new Uint8Array(manifest), sodium().from_hex(pk))).toBe(true);
    expect(readFileSync(join(out, 'app.js'), 'utf8')).toContain(pk);
  });

  it('has no inline script in the page', () => {
    const html = readFileSync(join(out, 'index.html'), 'utf8');
    expect(html.match(/<script[^>]*>/g)).toEqual(['<script src="app.js" defer>']);
    expect(html).toContain("script-src 'self' 'wasm-unsafe-eval'");
  });
});

describe('serve', () => {
  it('serves the app with its CSP and refuses paths outside dist', async () => {
    const r = await fetch(server.url);
    expect(r.status).toBe(200);
    expect(r.headers.get('content-security-policy')).toMatch(/script-src 'self' 'wasm-unsafe-eval'.*frame-ancestors 'none'/);
    expect(r.headers.get('x-content-type-options')).toBe('nosniff');
    expect((await fetch(new URL('sw.js', server.url))).headers.get('content-type')).toMatch(/javascript/);
    expect((await fetch(new URL('/%2e%2e/build.ts', server.url))).status).toBe(404);
    expect((await fetch(new URL('/nope.js', server.url))).status).toBe(404);
    expect((await fetch(server.url, { method: 'POST' })).status).toBe(405);
  });

  it('listens on loopback only', async () => {
    await expect(serveApp({ dir: out, host: '0.0.0.0' })).rejects.toThrow(/loopback only/);
  });
});
