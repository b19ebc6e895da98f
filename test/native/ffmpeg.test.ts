import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { FfmpegMissingError, resolveFfmpeg, resolveFfprobe } from '../../native/ffmpeg.ts';

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'vigil-ffmpeg-'));
  writeFileSync(path.join(dir, 'not-executable'), '#!/bin/sh\necho ffmpeg version 9\n');
  writeFileSync(path.join(dir, 'silent'), '#!/bin/sh\nexit 0\n');
  writeFileSync(path.join(dir, 'hangs'), '#!/bin/sh\nexec sleep 30\n');
  chmodSync(path.join(dir, 'silent'), 0o755);
  chmodSync(path.join(dir, 'hangs'), 0o755);
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const SYSTEM_PATH = '/usr/local/bin:/usr/bin:/bin';

describe('resolveFfmpeg', () => {
  it('uses FFMPEG_PATH first', async () => {
    const info = await resolveFfmpeg({ env: { FFMPEG_PATH: '/usr/bin/ffmpeg', PATH: '' } });
    expect(info).toMatchObject({ tool: 'ffmpeg', path: '/usr/bin/ffmpeg', source: 'env', skipped: [] });
    expect(info.version).toMatch(/^\d+\.\d+/);
  });

  it('then ffmpeg on PATH', async () => {
    const info = await resolveFfmpeg({ env: { PATH: SYSTEM_PATH } });
    expect(info.source).toBe('path');
    expect(path.basename(info.path)).toBe('ffmpeg');
  });

  it('falls through a FFMPEG_PATH that points nowhere, and says so', async () => {
    const info = await resolveFfmpeg({ env: { FFMPEG_PATH: '/nonexistent/ffmpeg', PATH: SYSTEM_PATH } });
    expect(info.source).toBe('path');
    expect(info.skipped).toEqual([{ source: 'env', path: '/nonexistent/ffmpeg', reason: 'file not found' }]);
  });

  it('then the binary shipped in @ffmpeg-installer/ffmpeg', async () => {
    const info = await resolveFfmpeg({ env: { FFMPEG_PATH: '/nonexistent/ffmpeg', PATH: '' }, versionTimeoutMs: 15_000 });
    expect(info.source).toBe('npm');
    expect(info.path).toContain(`${path.sep}@ffmpeg-installer${path.sep}`);
    expect(info.skipped.map((s) => s.source)).toEqual(['env', 'path']);
  });

  it('skips candidates that are not executable, print no version or hang', async () => {
    const info = await resolveFfmpeg({ env: { FFMPEG_PATH: path.join(dir, 'not-executable'), PATH: SYSTEM_PATH } });
    expect(info.skipped[0]?.reason).toBe('not executable');
    const silent = await resolveFfmpeg({ env: { FFMPEG_PATH: path.join(dir, 'silent'), PATH: SYSTEM_PATH } });
    expect(silent.skipped[0]?.reason).toMatch(/no version line/);
    const t0 = Date.now();
    const hangs = await resolveFfmpeg({ env: { FFMPEG_PATH: path.join(dir, 'hangs'), PATH: SYSTEM_PATH }, versionTimeoutMs: 300 });
    expect(hangs.skipped[0]?.reason).toMatch(/did not answer within 300 ms/);
    expect(Date.now() - t0).toBeLessThan(5000);
  });

  it('throws FfmpegMissingError listing what was tried and how to fix it', async () => {
    const err = await resolveFfmpeg({ env: { FFMPEG_PATH: '/nope/ffmpeg', PATH: dir }, npmPackage: null }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(FfmpegMissingError);
    const e = err as FfmpegMissingError;
    expect(e.code).toBe('ffmpeg-missing');
    expect(e.tried.map((t) => t.source)).toEqual(['env', 'path']);
    expect(e.message).toContain('/nope/ffmpeg: file not found');
    expect(e.message).toContain("no executable 'ffmpeg' on PATH");
    expect(e.message).toContain('apt-get install ffmpeg');
    expect(e.message).toContain('FFMPEG_PATH');
  });

  it('reports a missing npm package as a reason, not a crash', async () => {
    const err = await resolveFfmpeg({ env: { PATH: '' }, npmPackage: '@vigil/no-such-package' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(FfmpegMissingError);
    expect((err as FfmpegMissingError).tried[1]?.reason).toContain('@vigil/no-such-package');
  });
});

describe('resolveFfprobe', () => {
  it('finds ffprobe next to ffmpeg', async () => {
    const info = await resolveFfprobe({ path: '/usr/bin/ffmpeg' }, { env: { PATH: '' } });
    expect(info).toMatchObject({ tool: 'ffprobe', path: '/usr/bin/ffprobe', source: 'sibling' });
  });

  it('explains the fix when there is none', async () => {
    const err = await resolveFfprobe({ path: path.join(dir, 'ffmpeg') }, { env: { PATH: dir } }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(FfmpegMissingError);
    expect((err as Error).message).toContain('FFPROBE_PATH');
  });
});
