// Runs Vigil's real programs for end-to-end tests, exactly as a user would: `bin/vigil relay`,
// `bin/vigil hub`, `bin/vigil camera add`, `bin/vigil invite`, `bin/vigil-phone ...`. Every process
// runs in its own process group, is bounded in time, and is killed in `stopAll()`.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect } from 'vitest';
import { runningHub } from '../../main/cli/api-client.ts';

export const ROOT = resolve(fileURLToPath(new URL('../..', import.meta.url)));
export const VIGIL = join(ROOT, 'bin/vigil');
export const VIGIL_PHONE = join(ROOT, 'bin/vigil-phone');

export interface Running {
  readonly child: ChildProcess;
  readonly output: () => string;
  /** Each complete output line with the time (Date.now()) it arrived: to measure spacing. */
  readonly lines: () => readonly OutputLine[];
  /** Resolves with the first output line matching `pattern`, or rejects after `timeoutMs`. */
  waitFor(pattern: RegExp, timeoutMs?: number): Promise<RegExpMatchArray>;
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

export interface OutputLine {
  readonly t: number;
  readonly text: string;
}

const running = new Set<Running>();
const dirs: string[] = [];

export function tempDir(prefix = 'vigil-e2e-'): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  dirs.push(dir);
  return dir;
}

/** Starts a long-running program (relay, hub, a watching phone). */
export function start(cmd: string, args: string[], opts: { env?: NodeJS.ProcessEnv; maxSeconds?: number } = {}): Running {
  const child = spawn(cmd, args, { cwd: ROOT, detached: true, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...opts.env } });
  let text = '';
  const lines: OutputLine[] = [];
  const waiters: Array<() => void> = [];
  const onData = (partial: { s: string }) => (d: Buffer) => {
    const t = Date.now();
    const s = d.toString('utf8');
    text += s;
    if (text.length > 1_000_000) text = text.slice(-500_000);
    const parts = (partial.s + s).split('\n');
    partial.s = parts.pop()!;
    for (const line of parts) lines.push({ t, text: line });
    if (lines.length > 20_000) lines.splice(0, 10_000);
    for (const w of waiters) w();
  };
  child.stdout!.on('data', onData({ s: '' }));
  child.stderr!.on('data', onData({ s: '' }));
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  const limit = setTimeout(() => kill(child, 'SIGKILL'), (opts.maxSeconds ?? 300) * 1000);
  limit.unref();
  const handle: Running = {
    child,
    output: () => text,
    lines: () => lines,
    waitFor(pattern, timeoutMs = 20_000) {
      return new Promise((resolveMatch, reject) => {
        const check = () => {
          const m = text.match(pattern);
          if (m) {
            clearTimeout(timer);
            waiters.splice(waiters.indexOf(check), 1);
            resolveMatch(m);
          }
        };
        const timer = setTimeout(() => {
          waiters.splice(waiters.indexOf(check), 1);
          reject(new Error(`timed out waiting for ${pattern} from ${cmd} ${args.join(' ')}; output:\n${text.slice(-3000)}`));
        }, timeoutMs);
        waiters.push(check);
        check();
      });
    },
    async stop(signal = 'SIGTERM') {
      if (child.exitCode === null && child.signalCode === null) {
        kill(child, signal);
        const t = setTimeout(() => kill(child, 'SIGKILL'), 5000);
        const code = await exited;
        clearTimeout(t);
        running.delete(handle);
        clearTimeout(limit);
        return code;
      }
      running.delete(handle);
      clearTimeout(limit);
      return child.exitCode;
    },
  };
  running.add(handle);
  return handle;
}

function kill(child: ChildProcess, signal: NodeJS.Signals): void {
  try {
    if (child.pid !== undefined) process.kill(-child.pid, signal);
  } catch {
    // already gone
  }
}

export interface RunResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs a command to completion (bounded). */
export function run(cmd: string, args: string[], opts: { timeoutMs?: number; env?: NodeJS.ProcessEnv } = {}): Promise<RunResult> {
  return new Promise((resolveRun) => {
    const child = spawn(cmd, args, { cwd: ROOT, detached: true, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...opts.env } });
    let stdout = '';
    let stderr = '';
    child.stdout!.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => kill(child, 'SIGKILL'), opts.timeoutMs ?? 60_000);
    child.once('exit', (code) => {
      clearTimeout(timer);
      resolveRun({ code, stdout, stderr });
    });
  });
}

/**
 * Polls `condition` every `intervalMs` until it holds; throws, naming `what`, after `timeoutMs`.
 * Tests wait on this instead of sleeping a fixed time and hoping.
 */
export async function waitUntil(what: string, condition: () => boolean | Promise<boolean>, timeoutMs = 20_000, intervalMs = 100): Promise<number> {
  const t0 = Date.now();
  while (!(await condition())) {
    if (Date.now() - t0 > timeoutMs) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, intervalMs));
  }
  return Date.now() - t0;
}

export async function stopAll(): Promise<void> {
  await Promise.all([...running].map((r) => r.stop()));
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
}

export async function startRelay(listen = '127.0.0.1:0', extra: string[] = []): Promise<{ proc: Running; url: string; port: number }> {
  const proc = start(VIGIL, ['relay', '--listen', listen, ...extra]);
  const m = await proc.waitFor(/relay listening on (ws:\/\/[^\s]+:(\d+)\/v1)/);
  return { proc, url: m[1]!, port: Number(m[2]) };
}

export async function startHub(dataDir: string, relayUrl: string, extra: string[] = []): Promise<Running> {
  const proc = start(VIGIL, ['hub', '--data', dataDir, '--relay', relayUrl, ...extra]);
  await proc.waitFor(/hub [0-9a-f]+ running/);
  await proc.waitFor(/relay: ready/);
  return proc;
}

export async function addCamera(dataDir: string, name: string, url: string): Promise<void> {
  const r = await run(VIGIL, ['camera', 'add', '--data', dataDir, '--name', name, url]);
  if (r.code !== 0) throw new Error(`camera add failed: ${r.stderr}`);
}

/**
 * Polls the running hub's camera list until `name` is in one of `states`. It asks the hub's local
 * API, as `vigil camera list --json` does, without starting a process per look (each was a Node and
 * tsx start-up, about a CPU second on a busy machine).
 */
export async function waitForCameraState(dataDir: string, name: string, states: string[], timeoutMs = 30_000): Promise<Record<string, unknown>> {
  const deadline = Date.now() + timeoutMs;
  let last: Record<string, unknown> | undefined;
  while (Date.now() < deadline) {
    const api = await runningHub(dataDir).catch(() => undefined);
    const cameras = api === undefined ? [] : await api.call('listCameras').catch(() => []);
    last = cameras.find((c) => c.name === name) as Record<string, unknown> | undefined;
    if (last && states.includes(String(last.state))) return last;
    await new Promise((r2) => setTimeout(r2, 250));
  }
  throw new Error(`camera ${name} never reached ${states.join('|')}; last ${JSON.stringify(last)}`);
}

/** Pairs a command-line phone: `vigil invite --yes` on the hub side, `vigil-phone pair` on the phone. */
export async function pairPhone(dataDir: string, profile: string, name: string, role: 'owner' | 'viewer' = 'owner'): Promise<{ deviceId: string; link: string }> {
  const invite = start(VIGIL, ['invite', '--data', dataDir, '--yes', '--role', role], { maxSeconds: 90 });
  const [, link] = await invite.waitFor(/pairing link: (\S+)/);
  const pair = await run(VIGIL_PHONE, ['pair', link!, '--profile', profile, '--name', name], { timeoutMs: 60_000 });
  if (pair.code !== 0) throw new Error(`pair failed: ${pair.stdout}\n${pair.stderr}`);
  const m = await invite.waitFor(/paired "[^"]*" as \w+ \(device ([0-9a-f]{32})\)/);
  await invite.stop();
  return { deviceId: m[1]!, link: link! };
}

export interface Probe {
  streams: { codec_name: string; codec_type: string; nb_read_frames?: string; width?: number; avg_frame_rate?: string }[];
  format?: { duration?: string };
}

export async function ffprobe(file: string): Promise<Probe> {
  const r = await run('ffprobe', ['-v', 'error', '-count_frames', '-show_entries',
    'stream=codec_name,codec_type,nb_read_frames,width,avg_frame_rate:format=duration', '-of', 'json', file]);
  if (r.code !== 0) throw new Error(`ffprobe failed on ${file}: ${r.stderr}`);
  return JSON.parse(r.stdout) as Probe;
}

/** Every frame of the span the file covers is there: the count is within 10% of span x fps. */
export async function expectNearlyEveryFrame(file: string, fps: number): Promise<void> {
  const times = await videoFrameTimes(file);
  expect(times.length).toBeGreaterThan(fps * 3);
  const span = Math.max(...times) - Math.min(...times);
  const expected = span * fps + 1;
  expect(Math.abs(times.length - expected) / expected, `frames ${times.length}, span ${span.toFixed(2)} s`).toBeLessThan(0.1);
}

/** Presentation times of the video frames: to compare the frame count with the span they cover. */
export async function videoFrameTimes(file: string): Promise<number[]> {
  const r = await run('ffprobe', ['-v', 'error', '-select_streams', 'v:0', '-show_entries', 'frame=pts_time,pkt_dts_time,best_effort_timestamp_time', '-of', 'csv=p=0', file]);
  return r.stdout.split('\n').map((l) => Number(l.split(',').find((x) => x !== '' && x !== 'N/A'))).filter((n) => Number.isFinite(n));
}

/** Fragments a watching `vigil-phone` has written to its file so far (it writes each as it opens it). */
export function fragmentsIn(file: string): number {
  try {
    return readFileSync(file).toString('latin1').split('moof').length - 1;
  } catch {
    return 0; // not created yet
  }
}

export function readProfile(path: string): { hub: { relayKey: string } } {
  return JSON.parse(readFileSync(path, 'utf8')) as { hub: { relayKey: string } };
}
