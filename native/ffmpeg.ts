// Finding a usable ffmpeg (and ffprobe): FFMPEG_PATH, then PATH, then the binary shipped in the npm
// package @ffmpeg-installer/ffmpeg. A candidate counts only if `-version` runs and answers in time,
// so a stale FFMPEG_PATH or a broken binary is reported instead of failing later mid-stream.
//
// A candidate that does not work is skipped, not fatal: the next source is tried and the skip is
// listed in `skipped` (and in the error if nothing works), so a wrong FFMPEG_PATH is visible.

import { execFile } from 'node:child_process';
import { accessSync, constants, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';

export type FfmpegSource = 'env' | 'path' | 'npm' | 'sibling';
export type FfmpegTool = 'ffmpeg' | 'ffprobe';

export interface FfmpegCandidateReport {
  source: FfmpegSource;
  /** The path tried, or a description when there was none (e.g. "not on PATH"). */
  path: string;
  reason: string;
}

export interface FfmpegInfo {
  tool: FfmpegTool;
  path: string;
  /** e.g. "5.1.9-0+deb12u1" from the first line of `-version`. */
  version: string;
  source: FfmpegSource;
  /** Candidates tried before this one that did not work, with why. */
  skipped: FfmpegCandidateReport[];
}

export class FfmpegMissingError extends Error {
  override readonly name = 'FfmpegMissingError';
  readonly code = 'ffmpeg-missing';
  readonly tool: FfmpegTool;
  readonly tried: FfmpegCandidateReport[];
  constructor(tool: FfmpegTool, tried: FfmpegCandidateReport[]) {
    const lines = tried.map((t) => `  - ${t.source}: ${t.path}: ${t.reason}`);
    const envVar = tool === 'ffmpeg' ? 'FFMPEG_PATH' : 'FFPROBE_PATH';
    super(
      `no usable ${tool} found. Tried:\n${lines.join('\n')}\n` +
        `Fix: install it (Debian/Ubuntu: apt-get install ffmpeg) or set ${envVar} to the full path of a working ${tool}.`,
    );
    this.tool = tool;
    this.tried = tried;
  }
}

export interface ResolveOptions {
  /** Environment to read FFMPEG_PATH / FFPROBE_PATH / PATH from (default process.env). */
  env?: NodeJS.ProcessEnv;
  /** Time allowed for `-version` per candidate (default 5000 ms). */
  versionTimeoutMs?: number;
  /** npm package that ships ffmpeg, or null to skip that source (default '@ffmpeg-installer/ffmpeg'). */
  npmPackage?: string | null;
}

export const FFMPEG_RESOLVE_DEFAULTS = {
  versionTimeoutMs: 5000,
  npmPackage: '@ffmpeg-installer/ffmpeg',
} as const;

/** ffmpeg, or why there is none (what to install): a hub runs without it and says so. */
export async function findFfmpeg(options: ResolveOptions = {}): Promise<{ ffmpeg?: FfmpegInfo; problem?: string }> {
  try {
    return { ffmpeg: await resolveFfmpeg(options) };
  } catch (e) {
    return { problem: e instanceof Error ? e.message : String(e) };
  }
}

/** Resolve ffmpeg: FFMPEG_PATH, then PATH, then the npm package. Throws FfmpegMissingError. */
export async function resolveFfmpeg(options: ResolveOptions = {}): Promise<FfmpegInfo> {
  const env = options.env ?? process.env;
  const timeoutMs = options.versionTimeoutMs ?? FFMPEG_RESOLVE_DEFAULTS.versionTimeoutMs;
  const npmPackage = options.npmPackage === undefined ? FFMPEG_RESOLVE_DEFAULTS.npmPackage : options.npmPackage;
  const candidates: Array<{ source: FfmpegSource; path: string | undefined; reason?: string }> = [];

  const fromEnv = env.FFMPEG_PATH;
  if (fromEnv) candidates.push({ source: 'env', path: fromEnv });
  candidates.push(lookPath('ffmpeg', env));
  if (npmPackage) candidates.push(fromNpm(npmPackage));
  return firstWorking('ffmpeg', candidates, timeoutMs);
}

/**
 * Resolve ffprobe: FFPROBE_PATH, then next to the given ffmpeg (same install), then PATH.
 * The npm package ships no ffprobe, so there is no npm step.
 */
export async function resolveFfprobe(ffmpeg?: Pick<FfmpegInfo, 'path'>, options: ResolveOptions = {}): Promise<FfmpegInfo> {
  const env = options.env ?? process.env;
  const timeoutMs = options.versionTimeoutMs ?? FFMPEG_RESOLVE_DEFAULTS.versionTimeoutMs;
  const candidates: Array<{ source: FfmpegSource; path: string | undefined; reason?: string }> = [];
  if (env.FFPROBE_PATH) candidates.push({ source: 'env', path: env.FFPROBE_PATH });
  if (ffmpeg) {
    const sibling = path.join(path.dirname(ffmpeg.path), process.platform === 'win32' ? 'ffprobe.exe' : 'ffprobe');
    candidates.push({ source: 'sibling', path: sibling });
  }
  candidates.push(lookPath('ffprobe', env));
  return firstWorking('ffprobe', candidates, timeoutMs);
}

/** Run `tool -version` and return the version word of its first line. */
export function probeVersion(file: string, timeoutMs: number = FFMPEG_RESOLVE_DEFAULTS.versionTimeoutMs): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(file, ['-version'], { timeout: timeoutMs, killSignal: 'SIGKILL', maxBuffer: 256 * 1024, windowsHide: true }, (err, stdout) => {
      if (err) {
        const e = err as NodeJS.ErrnoException & { killed?: boolean };
        if (e.killed) reject(new Error(`-version did not answer within ${timeoutMs} ms`));
        else if (e.code === 'ENOENT') reject(new Error('file not found'));
        else if (e.code === 'EACCES') reject(new Error('not executable'));
        else reject(new Error(`-version failed: ${e.message.split('\n')[0] ?? ''}`));
        return;
      }
      const m = /^\S+ version (\S+)/.exec(stdout);
      if (!m?.[1]) {
        reject(new Error(`-version printed no version line (${JSON.stringify(stdout.slice(0, 60))})`));
        return;
      }
      resolve(m[1]);
    });
  });
}

async function firstWorking(
  tool: FfmpegTool,
  candidates: Array<{ source: FfmpegSource; path: string | undefined; reason?: string }>,
  timeoutMs: number,
): Promise<FfmpegInfo> {
  const skipped: FfmpegCandidateReport[] = [];
  for (const c of candidates) {
    if (!c.path) {
      skipped.push({ source: c.source, path: '-', reason: c.reason ?? 'not found' });
      continue;
    }
    const problem = fileProblem(c.path);
    if (problem) {
      skipped.push({ source: c.source, path: c.path, reason: problem });
      continue;
    }
    try {
      const version = await probeVersion(c.path, timeoutMs);
      return { tool, path: c.path, version, source: c.source, skipped };
    } catch (err) {
      skipped.push({ source: c.source, path: c.path, reason: (err as Error).message });
    }
  }
  throw new FfmpegMissingError(tool, skipped);
}

function fileProblem(file: string): string | undefined {
  if (!path.isAbsolute(file)) return 'not an absolute path';
  try {
    const st = statSync(file);
    if (!st.isFile()) return 'not a file';
    accessSync(file, constants.X_OK);
    return undefined;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    return code === 'ENOENT' ? 'file not found' : code === 'EACCES' ? 'not executable' : String(code ?? err);
  }
}

function lookPath(name: string, env: NodeJS.ProcessEnv): { source: FfmpegSource; path: string | undefined; reason?: string } {
  const exts = process.platform === 'win32' ? ['.exe', ''] : [''];
  for (const dir of (env.PATH ?? '').split(path.delimiter)) {
    if (!dir || !path.isAbsolute(dir)) continue; // a relative PATH entry would depend on the cwd
    for (const ext of exts) {
      const file = path.join(dir, name + ext);
      if (!fileProblem(file)) return { source: 'path', path: file };
    }
  }
  return { source: 'path', path: undefined, reason: `no executable '${name}' on PATH` };
}

function fromNpm(pkg: string): { source: FfmpegSource; path: string | undefined; reason?: string } {
  try {
    const require = createRequire(import.meta.url);
    const mod = require(pkg) as { path?: unknown };
    if (typeof mod.path === 'string') return { source: 'npm', path: mod.path };
    return { source: 'npm', path: undefined, reason: `${pkg} exports no path` };
  } catch (err) {
    // The package throws plain strings for unsupported platforms.
    const msg = err instanceof Error ? err.message.split('\n')[0] : String(err);
    return { source: 'npm', path: undefined, reason: `${pkg}: ${msg}` };
  }
}
