/* eslint-disable no-restricted-imports -- the build script runs in Node at build time; nothing here reaches the page */
// Builds the UI into renderer/dist: one IIFE bundle (a strict CSP allows only 'self' scripts), the
// stylesheet, and index.html. `node --import tsx renderer/build.ts [--watch]`.
import { build } from 'esbuild';
import { copyFileSync, mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
export const RENDERER_DIST = join(here, 'dist');

export async function buildRenderer(outdir = RENDERER_DIST): Promise<void> {
  mkdirSync(outdir, { recursive: true });
  await build({
    entryPoints: [join(here, 'main.ts')],
    outfile: join(outdir, 'app.js'),
    bundle: true,
    format: 'iife',
    platform: 'browser',
    target: ['chrome120'],
    minify: true,
    sourcemap: false,
    legalComments: 'none',
    logLevel: 'warning',
  });
  copyFileSync(join(here, 'index.html'), join(outdir, 'index.html'));
  copyFileSync(join(here, 'style.css'), join(outdir, 'app.css'));
}

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1]) {
  await buildRenderer();
  console.log(`built ${RENDERER_DIST}`);
}
