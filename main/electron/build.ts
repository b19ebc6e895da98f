// Bundles the Electron entry points for packaging: the main process as ESM (dist/electron/main.mjs)
// and the preload as one CommonJS file (sandboxed preloads can require only 'electron'). Node
// packages stay external: electron-builder ships them, with better-sqlite3 rebuilt for Electron.
// `npm ci` runs it (`prepare`, through tools/build.ts), and `npm run electron` again when the sources
// changed; by hand: `node --import tsx main/electron/build.ts` (after renderer/build.ts).
import { build } from 'esbuild';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { metafileInputs, writeStamp } from '../../tools/build-stamp.ts';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const ELECTRON_DIST = join(root, 'dist', 'electron');

export async function buildElectron(outdir = ELECTRON_DIST): Promise<void> {
  const main = await build({
    entryPoints: [join(root, 'main', 'electron', 'app.main.ts')],
    outfile: join(outdir, 'main.mjs'),
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node22',
    packages: 'external',
    logLevel: 'warning',
    metafile: true,
  });
  const preload = await build({
    entryPoints: [join(root, 'main', 'electron', 'hub.preload.ts')],
    outfile: join(outdir, 'preload.cjs'),
    bundle: true,
    platform: 'node',
    format: 'cjs',
    target: 'node22',
    external: ['electron'],
    logLevel: 'warning',
    metafile: true,
  });
  writeStamp(outdir, [...metafileInputs(main.metafile), ...metafileInputs(preload.metafile), fileURLToPath(import.meta.url)], ['main.mjs', 'preload.cjs']);
}

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1]) {
  await buildElectron();
  console.log(`built ${ELECTRON_DIST}`);
}
