// The Debian packages behind the tests (.ci/packages): each provides what the list says, every
// GStreamer element the test camera can need and every program the tests run is provided by a
// package in the list, and the test camera fails at once, naming element and package, when one is
// missing. A new machine without a package then fails here by name, not with an RTSP 503 forty
// seconds into a camera test.
import { execFileSync } from 'node:child_process';
import { accessSync, constants, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { fileURLToPath } from 'node:url';
import { basename, delimiter, dirname, join, relative } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { CAMERA_SCRIPT, CameraUnavailableError, startCamera, stopAllCameras } from '../support/camera/camera.ts';
import { debianPackages, installHint, packageFor, PACKAGES_FILE } from '../support/packages.ts';
import { ROOT, run, tempDir, stopAll } from '../support/system.ts';

const CHECK = join(ROOT, '.ci/check-packages');
const TEST_TREE = join(ROOT, 'test');

afterAll(async () => {
  await stopAllCameras();
  await stopAll();
});

/** Every .ts/.mjs file under `dir`. */
function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true, recursive: true })
    .filter((e) => e.isFile() && /\.(ts|mjs)$/.test(e.name))
    .map((e) => join(e.parentPath, e.name));
}

/**
 * The programs the tests start: the first argument of spawn/execFile/run/start calls when it is a
 * literal followed by an argument list, and every literal path in a bin directory. Found in the source, so a test that starts a
 * new program without its package in the list fails here.
 */
function programsTheTestsRun(): Map<string, string> {
  const found = new Map<string, string>(); // program -> first file that runs it
  // A program and its argument list: ('ffprobe', [...]); a method with other arguments is not a program.
  const calls = /\b(?:spawn|spawnSync|execFile|execFileSync|run|start)\(\s*'([^'\s]+)',\s*\[/g;
  const paths = /'((?:\/usr)?\/s?bin\/[\w.+-]+)'/g;
  const shell = /'sh',\s*'-c'/;
  // Not this file: its own lists of programs would make the scan find them.
  for (const file of sources(TEST_TREE).filter((f) => f !== fileURLToPath(import.meta.url))) {
    const text = readFileSync(file, 'utf8');
    const where = relative(ROOT, file);
    for (const re of [calls, paths]) for (const m of text.matchAll(re)) if (!found.has(m[1]!)) found.set(m[1]!, where);
    if (shell.test(text) && !found.has('sh')) found.set('sh', where);
  }
  // Started inside test/support/netns/avahi.ts's shell line, where no call names them.
  if (!found.has('mount')) found.set('mount', 'test/support/netns/avahi.ts');
  return found;
}

/** Programs that do not come from Debian, and why. */
const NOT_FROM_DEBIAN: Record<string, string> = {
  node: 'Node 20 itself, which the README starts from',
  npm: 'comes with Node',
};

function installed(program: string): boolean {
  const executable = (p: string) => {
    try {
      accessSync(p, constants.X_OK);
      return true;
    } catch {
      return false;
    }
  };
  if (program.startsWith('/')) return executable(program);
  const dirs = [...(process.env.PATH ?? '').split(delimiter), '/usr/sbin', '/sbin'];
  return dirs.some((d) => d !== '' && executable(join(d, program)));
}

describe('the Debian package list (.ci/packages)', () => {
  it('every package provides what the list says, and the test camera needs nothing the list lacks', async () => {
    const r = await run(CHECK, [], { timeoutMs: 60_000 });
    expect(r.code, `.ci/check-packages:\n${r.stdout}${r.stderr}`).toBe(0);
  });

  it('the check fails naming the missing element, program and package', async () => {
    const dir = tempDir('vigil-packages-');
    const list = join(dir, 'packages');
    writeFileSync(list, `${readFileSync(PACKAGES_FILE, 'utf8')}\nvigil-no-such-package gst:vigilnosuchelement bin:vigil-no-such-program\n`);
    const r = await run(CHECK, [list], { timeoutMs: 60_000 });
    expect(r.code).toBe(1);
    expect(r.stdout).toContain('missing: GStreamer element vigilnosuchelement (Debian package vigil-no-such-package)');
    expect(r.stdout).toContain('missing: program vigil-no-such-program (Debian package vigil-no-such-package)');
  });

  it('the check fails when an element the camera needs has no package in the list', async () => {
    const dir = tempDir('vigil-packages-');
    const list = join(dir, 'packages');
    const without = readFileSync(PACKAGES_FILE, 'utf8').split('\n').filter((l) => !l.startsWith('gstreamer1.0-x '));
    writeFileSync(list, without.join('\n'));
    const r = await run(CHECK, [list], { timeoutMs: 60_000 });
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/no package provides gst:clockoverlay, which test\/support\/camera\/rtsp-camera\.py needs/);
  });

  it('every program the tests run is installed and named in the list', () => {
    const programs = programsTheTestsRun();
    // The scan sees the programs known to be used; if it saw none of them it would prove nothing.
    for (const known of ['ffmpeg', 'ffprobe', 'ip', 'unshare', 'ps', '/usr/bin/python3', '/usr/sbin/avahi-daemon', '/usr/sbin/nats-server', '/usr/bin/chromium']) {
      expect([...programs.keys()]).toContain(known);
    }
    const problems: string[] = [];
    for (const [program, where] of programs) {
      if (NOT_FROM_DEBIAN[program] !== undefined) continue;
      const pkg = packageFor(`bin:${program}`);
      if (pkg === undefined) problems.push(`${program} (run by ${where}): no package in .ci/packages provides bin:${basename(program)}`);
      else if (!installed(program)) problems.push(`${program} (run by ${where}) is missing: apt-get install ${pkg}`);
    }
    expect(problems).toEqual([]);
  });

  it('gives the tests\' "missing" messages the package CI installs', () => {
    expect(installHint('bin:nats-server')).toBe('apt-get install nats-server');
    expect(installHint('gst:clockoverlay')).toBe('apt-get install gstreamer1.0-x');
    expect(packageFor('bin:/usr/bin/ffprobe')).toBe('ffmpeg');
    expect(packageFor('bin:python3')).toBe('python3');
    expect(installHint('bin:vigil-no-such-program')).toBe('no package in .ci/packages provides bin:vigil-no-such-program');
    expect(debianPackages().every((p) => p.provides.length > 0)).toBe(true);
  });
});

describe('the test camera checks its GStreamer elements at start', () => {
  it('lists every element any of its pipelines can need', async () => {
    const r = await run('/usr/bin/python3', [CAMERA_SCRIPT, '--list-requirements']);
    expect(r.code).toBe(0);
    const needs = r.stdout.trim().split('\n');
    for (const e of ['gst:videotestsrc', 'gst:clockoverlay', 'gst:x264enc', 'gst:x265enc', 'gst:audiotestsrc', 'gst:avenc_aac', 'gst:mulawenc', 'gi:GstRtspServer']) {
      expect(needs).toContain(e);
    }
  });

  it('exits before serving when an element is missing, and says which', async () => {
    const err = await startCamera({ extraArgs: ['--require-element', 'vigilnosuchelement'], readyTimeoutMs: 60_000 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CameraUnavailableError);
    expect((err as Error).message).toMatch(/missing GStreamer element vigilnosuchelement \(no package in \S+\.ci\/packages provides it\)/);
  });

  it('without the Pango plugin (gstreamer1.0-x), names clockoverlay and its package', async () => {
    // GStreamer with every installed plugin but Pango's, in a registry of its own: the machine of the issue.
    const info = execFileSync('gst-inspect-1.0', ['clockoverlay'], { encoding: 'utf8' });
    const pango = /Filename\s+(\S+)/.exec(info)![1]!;
    const plugins = mkdtempSync(join(tmpdir(), 'vigil-gst-plugins-'));
    try {
      for (const f of readdirSync(dirname(pango))) {
        if (f !== basename(pango)) symlinkSync(join(dirname(pango), f), join(plugins, f));
      }
      const env = { GST_PLUGIN_SYSTEM_PATH_1_0: plugins, GST_PLUGIN_PATH_1_0: '', GST_PLUGIN_PATH: '', GST_REGISTRY_1_0: join(plugins, 'registry.bin') };
      const err = await startCamera({ env, readyTimeoutMs: 60_000 }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(CameraUnavailableError);
      expect((err as Error).message).toContain(
        'missing GStreamer elements clockoverlay (gstreamer1.0-x), timeoverlay (gstreamer1.0-x); install: apt-get install gstreamer1.0-x',
      );
      // The same GStreamer serves a camera that draws no clock: the check names only what is missing.
      const camera = await startCamera({ env, extraArgs: ['--no-clock'], readyTimeoutMs: 60_000 });
      expect(camera.url).toMatch(/^rtsp:\/\/127\.0\.0\.1:\d+\/cam$/);
      await camera.stop();
    } finally {
      rmSync(plugins, { recursive: true, force: true });
    }
  });
});
