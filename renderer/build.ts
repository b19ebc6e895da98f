/* eslint-disable no-restricted-imports -- the build script runs in Node at build time; nothing here reaches the page */
// Builds the UI into renderer/dist: one IIFE bundle (a strict CSP allows only 'self' scripts), the
// stylesheet, and index.html, plus the stamp that tells a later start whether the build is current
// (tools/build-stamp.ts). `npm ci` runs it (`prepare`, through tools/build.ts), and `vigil hub --ui`
// runs it again at start when the sources changed. By hand: `node --import tsx renderer/build.ts`.
import { build } from 'esbuild';
import { mkdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { metafileInputs, writeAtomic, writeStamp } from '../tools/build-stamp.ts';

const here = dirname(fileURLToPath(import.meta.url));
export const RENDERER_DIST = join(here, 'dist');

export async function buildRenderer(outdir = RENDERER_DIST): Promise<void> {
  mkdirSync(outdir, { recursive: true });
  const r = await build({
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
    write: false,
    metafile: true,
  });
  const js = r.outputFiles[0];
  if (js === undefined) throw new Error('esbuild produced no renderer bundle');
  // Written whole and renamed into place: a running hub may be serving this folder.
  writeAtomic(join(outdir, 'app.js'), js.contents);
  writeAtomic(join(outdir, 'index.html'), readFileSync(join(here, 'index.html')));
  writeAtomic(join(outdir, 'app.css'), readFileSync(join(here, 'style.css')));
  writeStamp(outdir, [...metafileInputs(r.metafile), join(here, 'index.html'), join(here, 'style.css'), fileURLToPath(import.meta.url)], ['app.js', 'index.html', 'app.css']);
}

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1]) {
  await buildRenderer();
  console.log(`built ${RENDERER_DIST}`);
}
