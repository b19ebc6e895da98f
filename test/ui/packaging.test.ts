// electron-builder cannot run here; this checks what can be checked of electron-builder.yml: it
// parses, names the targets the issue asks for, points at files the builds really produce, ships
// ffmpeg outside the asar, rebuilds better-sqlite3 for Electron, and bundles a preload that needs
// nothing but 'electron' (sandboxed preloads can require nothing else).
import { describe, expect, it } from 'vitest';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import yaml from 'js-yaml';
import { buildElectron, ELECTRON_DIST } from '../../main/electron/build.ts';
import { ROOT } from './harness.ts';

interface Target { target: string; arch?: string[] }
const config = yaml.load(readFileSync(join(ROOT, 'electron-builder.yml'), 'utf8')) as Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
const targets = (t: (string | Target)[]) => t.map((x) => (typeof x === 'string' ? x : x.target));

describe('electron-builder.yml', () => {
  it('builds AppImage and deb, NSIS, and dmg', () => {
    expect(targets(config.linux.target)).toEqual(['AppImage', 'deb']);
    expect(targets(config.win.target)).toEqual(['nsis']);
    expect(targets(config.mac.target)).toEqual(['dmg']);
  });

  it('packages Electron as installed, and rebuilds better-sqlite3 for its ABI', () => {
    const installed = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')).optionalDependencies.electron;
    expect(config.electronVersion).toBe(installed);
    expect(config.npmRebuild).toBe(true);
    expect(config.asarUnpack).toContain('node_modules/better-sqlite3/**');
    expect(config.files).toContain('!node_modules/electron/**');
  });

  it('ships ffmpeg as an extra resource where app.main.ts looks for it', () => {
    const res = config.extraResources[0];
    expect(res.from).toBe('node_modules/@ffmpeg-installer/${platform}-${arch}');
    expect(res.to).toBe('ffmpeg');
    expect(res.filter).toEqual(expect.arrayContaining(['ffmpeg', 'ffmpeg.exe']));
    const here = join(ROOT, res.from.replace('${platform}', process.platform).replace('${arch}', process.arch));
    expect(existsSync(join(here, process.platform === 'win32' ? 'ffmpeg.exe' : 'ffmpeg'))).toBe(true);
    expect(readFileSync(join(ROOT, 'main/electron/app.main.ts'), 'utf8')).toContain("join(process.resourcesPath, 'ffmpeg'");
  });

  it('points main at the bundle main/electron/build.ts makes, with a preload needing only electron', async () => {
    await buildElectron();
    expect(join(ROOT, config.extraMetadata.main)).toBe(join(ELECTRON_DIST, 'main.mjs'));
    expect(existsSync(join(ELECTRON_DIST, 'main.mjs'))).toBe(true);
    const preload = readFileSync(join(ELECTRON_DIST, 'preload.cjs'), 'utf8');
    expect([...preload.matchAll(/require\("([^"]+)"\)/g)].map((m) => m[1])).toEqual(['electron']);
    for (const icon of [config.linux.icon, config.win.icon, config.mac.icon, 'build/tray.png']) expect(existsSync(join(ROOT, icon))).toBe(true);
    expect(config.directories.buildResources).toBe('build');
  }, 60_000);

  it('hardens the Electron binary with fuses', () => {
    expect(config.electronFuses).toMatchObject({ runAsNode: false, enableNodeOptionsEnvironmentVariable: false, onlyLoadAppFromAsar: true });
  });
});
