// Bundles the Electron entry points for packaging: the main process as ESM (dist/electron/main.mjs)
// and the preload as one CommonJS file (sandboxed preloads can require only 'electron'). Node
// packages stay external: electron-builder ships them, with better-sqlite3 rebuilt for Electron.
// `node --import tsx main/electron/build.ts` (after renderer/build.ts).
import { build } from 'esbuild';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const ELECTRON_DIST = join(root, 'dist', 'electron');

export async function buildElectron(outdir = ELECTRON_DIST): Promise<void> {
  await build({
    entryPoints: [join(root, 'main', 'electron', 'app.main.ts')],
    outfile: join(outdir, 'main.mjs'),
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node22',
    packages: 'external',
    logLevel: 'warning',
  });
  await build({
    entryPoints: [join(root, 'main', 'electron', 'hub.preload.ts')],
    outfile: join(outdir, 'preload.cjs'),
    bundle: true,
    platform: 'node',
    format: 'cjs',
    target: 'node22',
    external: ['electron'],
    logLevel: 'warning',
  });
}

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1]) {
  await buildElectron();
  console.log(`built ${ELECTRON_DIST}`);
}
