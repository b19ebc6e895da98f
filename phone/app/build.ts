// Builds the phone app into phone/app/dist: one IIFE bundle (app.js) with libsodium, jsQR and the
// protocol code, the static files, and a service worker (sw.js) with every file's SHA-256 compiled
// in. Prints the release id and the SHA-256 of each file (also in dist/SHA256SUMS and
// dist/release.json): these are what a release publishes, so anyone can rebuild from the tagged
// source and compare. With --release-key FILE (hex Ed25519 secret key, 64 bytes) it signs
// release.json and compiles the public key into the app, which then checks updates against it;
// the release's version (package.json's) is compiled in too, and the app refuses older releases.
// It also writes dist/.build-stamp.json (tools/build-stamp.ts; never served): `npm ci` builds the
// app (`prepare`, through tools/build.ts) and `npm run demo` rebuilds it when its sources changed.
//
//   node --import tsx phone/app/build.ts [--out DIR] [--release-key FILE] [--quiet]
import { build, type Plugin } from 'esbuild';
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { APP_CSP } from './csp.ts';
import { metafileInputs, STAMP_FILE, writeAtomic, writeStamp } from '../../tools/build-stamp.ts';

const HERE = dirname(fileURLToPath(import.meta.url));
export const DEFAULT_OUT = join(HERE, 'dist');
/** Browsers the bundle targets: recent phone browsers, down to iOS 16's Safari (no Media Source: the mpeg1 fallback), with BigInt and WebAssembly. */
const TARGET = ['chrome110', 'safari16', 'firefox115'];
const STATIC = ['index.html', 'app.css', 'manifest.webmanifest', 'icon.svg'];

export interface BuiltApp {
  dir: string;
  releaseId: string;
  /** path -> SHA-256 hex, sw.js included */
  files: Record<string, string>;
  signed: boolean;
}

function sha256(data: Uint8Array | string): string {
  return createHash('sha256').update(data).digest('hex');
}

/**
 * JSMpeg's package (@cycjimmy/jsmpeg-player) adds a <style> element for its VideoElement as soon as
 * it loads, which the CSP (style-src 'self') blocks with a console error on every start. The app uses
 * only its Player, so that one call is taken out; a version without it fails the build, so nobody
 * is left wondering whether it is still there.
 */
const JSMPEG_STYLE = 'styleInject(css_248z);';
const withoutJsmpegStyle: Plugin = {
  name: 'jsmpeg-without-style',
  setup(b) {
    b.onLoad({ filter: /@cycjimmy[\\/]jsmpeg-player[\\/]dist[\\/].*\.js$/ }, (args) => {
      const text = readFileSync(args.path, 'utf8');
      if (!text.includes(JSMPEG_STYLE)) throw new Error(`${args.path} no longer has "${JSMPEG_STYLE}": check what it adds to the page`);
      return { contents: text.replace(JSMPEG_STYLE, ''), loader: 'js' };
    });
  },
};

/** Bundles `entry`; adds the files it was made from to `inputs` (for the build stamp). */
async function bundle(entry: string, define: Record<string, string>, inputs: string[]): Promise<Uint8Array> {
  const r = await build({
    entryPoints: [join(HERE, entry)],
    bundle: true,
    format: 'iife',
    platform: 'browser',
    target: TARGET,
    minify: true,
    legalComments: 'none',
    charset: 'utf8',
    write: false,
    define,
    logLevel: 'silent',
    metafile: true,
    plugins: [withoutJsmpegStyle],
  });
  inputs.push(...metafileInputs(r.metafile));
  const out = r.outputFiles[0];
  if (out === undefined) throw new Error(`esbuild produced nothing for ${entry}`);
  return out.contents;
}

/** A release's version: the app refuses an update whose version is not above its own (no rollback). */
const VERSION = /^\d{1,6}\.\d{1,6}\.\d{1,6}$/;

export async function buildApp(opts: { out?: string; releaseKeyHex?: string; /** default: package.json's */ version?: string } = {}): Promise<BuiltApp> {
  const dir = resolve(opts.out ?? DEFAULT_OUT);
  const version = opts.version ?? (JSON.parse(readFileSync(join(HERE, '../../package.json'), 'utf8')) as { version: string }).version;
  if (!VERSION.test(version)) throw new Error(`release version ${JSON.stringify(version)} is not MAJOR.MINOR.PATCH, which the app compares to refuse rollbacks`);
  let secretKey: Buffer | undefined;
  if (opts.releaseKeyHex !== undefined) {
    secretKey = Buffer.from(opts.releaseKeyHex.trim(), 'hex');
    if (secretKey.length !== 64) throw new Error('the release key must be a 64-byte Ed25519 secret key in hex');
  }
  // An Ed25519 secret key in libsodium's layout ends with its public key.
  const publicKeyHex = secretKey ? secretKey.subarray(32).toString('hex') : '';

  const outputs = new Map<string, Uint8Array | string>();
  const inputs = [fileURLToPath(import.meta.url), join(HERE, 'csp.ts'), join(HERE, '../../package.json'), ...STATIC.map((n) => join(HERE, 'static', n))];
  outputs.set('app.js', await bundle('src/main.dom.ts', { VIGIL_RELEASE_PUBLIC_KEY: JSON.stringify(publicKeyHex), VIGIL_RELEASE_VERSION: JSON.stringify(version) }, inputs));
  for (const name of STATIC) {
    let text = readFileSync(join(HERE, 'static', name), 'utf8');
    if (name === 'index.html') text = text.replace('%CSP%', APP_CSP);
    outputs.set(name, text);
  }
  const files: Record<string, string> = {};
  for (const name of [...outputs.keys()].sort()) files[name] = sha256(outputs.get(name)!);
  const releaseId = sha256(JSON.stringify(files));
  outputs.set('sw.js', await bundle('src/sw.sw.ts', { VIGIL_RELEASE: JSON.stringify({ releaseId, files }) }, inputs));
  files['sw.js'] = sha256(outputs.get('sw.js')!);

  const manifest = JSON.stringify({ format: 'vigil-phone-app-release', version, releaseId, files, releasePublicKey: publicKeyHex || null }, null, 2) + '\n';
  outputs.set('release.json', manifest);
  outputs.set('SHA256SUMS', Object.entries(files).map(([n, h]) => `${h}  ${n}\n`).join(''));
  let signed = false;
  if (secretKey !== undefined) {
    const { default: sodium } = await import('libsodium-wrappers');
    await sodium.ready;
    outputs.set('release.json.sig', sodium.to_hex(sodium.crypto_sign_detached(new TextEncoder().encode(manifest), new Uint8Array(secretKey))) + '\n');
    signed = true;
  }

  // Each file is written whole and renamed into place (a server may be serving this folder while a
  // second process rebuilds it); then whatever an earlier build left and this one did not make goes.
  mkdirSync(dir, { recursive: true });
  for (const [name, data] of outputs) writeAtomic(join(dir, name), data);
  // (A concurrent build's temporary files stay: that build renames them.)
  for (const name of readdirSync(dir)) {
    if (!outputs.has(name) && name !== STAMP_FILE && !name.endsWith('.tmp')) rmSync(join(dir, name), { recursive: true, force: true });
  }
  writeStamp(dir, inputs, [...outputs.keys()]);
  return { dir, releaseId, files, signed };
}

if (process.argv[1] !== undefined && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const { values } = parseArgs({ options: { out: { type: 'string' }, 'release-key': { type: 'string' }, quiet: { type: 'boolean' } } });
  const key = values['release-key'] ? readFileSync(values['release-key'], 'utf8') : undefined;
  const r = await buildApp({ ...(values.out ? { out: values.out } : {}), ...(key !== undefined ? { releaseKeyHex: key } : {}) });
  if (!values.quiet) {
    console.log(`phone app built in ${r.dir}`);
    for (const [n, h] of Object.entries(r.files)) console.log(`  ${h}  ${n}`);
    console.log(`release id ${r.releaseId}${r.signed ? ' (release.json signed)' : ' (unsigned development build)'}`);
  }
}
