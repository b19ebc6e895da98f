// The build stamp: a start rebuilds exactly when a build is missing or its sources changed.
import { describe, expect, it } from 'vitest';
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildState, metafileInputs, STAMP_FILE, writeAtomic, writeStamp } from '../../tools/build-stamp.ts';
import { serveApp } from '../../phone/app/serve.ts';

function checkout(): { root: string; dist: string; src: string } {
  const root = mkdtempSync(join(tmpdir(), 'vigil-stamp-'));
  const dist = join(root, 'dist');
  mkdirSync(dist);
  const src = join(root, 'main.ts');
  writeFileSync(src, 'export const a = 1;\n');
  writeFileSync(join(dist, 'app.js'), 'built');
  return { root, dist, src };
}

describe('build stamp', () => {
  it('is current until an input changes, an output goes, or the stamp is not there', () => {
    const { root, dist, src } = checkout();
    try {
      expect(buildState(dist, root)).toMatchObject({ state: 'missing' });
      writeStamp(dist, [src], ['app.js'], root);
      expect(buildState(dist, root)).toEqual({ state: 'current' });
      // Same content again (a checkout that rewrites the file unchanged): still current.
      writeFileSync(src, 'export const a = 1;\n');
      expect(buildState(dist, root)).toEqual({ state: 'current' });
      writeFileSync(src, 'export const a = 2;\n');
      expect(buildState(dist, root)).toEqual({ state: 'stale', why: 'main.ts changed since the build' });
      writeStamp(dist, [src], ['app.js'], root);
      rmSync(src);
      expect(buildState(dist, root)).toMatchObject({ state: 'stale' });
      writeFileSync(src, 'export const a = 2;\n');
      rmSync(join(dist, 'app.js'));
      expect(buildState(dist, root)).toMatchObject({ state: 'missing' });
      writeFileSync(join(dist, STAMP_FILE), '{"format":"something else"}');
      expect(buildState(dist, root)).toMatchObject({ state: 'stale' });
      writeFileSync(join(dist, STAMP_FILE), 'not json');
      expect(buildState(dist, root)).toMatchObject({ state: 'missing' });
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });

  it('leaves esbuild\'s virtual modules out of the inputs', () => {
    const inputs = metafileInputs({ inputs: { 'renderer/main.ts': {}, '(disabled):fs': {}, '<define:VIGIL_RELEASE>': {} } }, '/repo');
    expect(inputs).toEqual(['/repo/renderer/main.ts']);
    expect(() => metafileInputs(undefined)).toThrow(/metafile/);
  });

  it('writes files whole: no temporary file is left', () => {
    const { root, dist } = checkout();
    try {
      writeAtomic(join(dist, 'x.js'), 'new');
      expect(readFileSync(join(dist, 'x.js'), 'utf8')).toBe('new');
      expect(readFileSync(join(dist, 'app.js'), 'utf8')).toBe('built');
      expect(readdirSync(dist).filter((n) => n.endsWith('.tmp'))).toEqual([]);
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });

  it('is not served with the phone app (no dot file is)', async () => {
    const { root, dist, src } = checkout();
    writeStamp(dist, [src], ['app.js'], root);
    const server = await serveApp({ dir: dist });
    try {
      expect((await fetch(new URL('app.js', server.url))).status).toBe(200);
      expect((await fetch(new URL(STAMP_FILE, server.url))).status).toBe(404);
      expect((await fetch(new URL('%2ebuild-stamp.json', server.url))).status).toBe(404);
    } finally {
      await server.close();
      rmSync(root, { recursive: true, force: true });
    }
  });
});
