// Starts the real programs for the UI tests: the relay and the hub from the command line (the hub
// with --ui, so the `ui: URL` line is tested too), and chromium through playwright-core. Every
// process started here is stopped by stopAll(), by its own pid.
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';

export const ROOT = resolve(import.meta.dirname, '..', '..');
export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

const children = new Set<ChildProcess>();
const dirs: string[] = [];
const browsers = new Set<Browser>();

export function tempDir(prefix: string): string {
  const d = mkdtempSync(join(tmpdir(), prefix));
  dirs.push(d);
  return d;
}

export interface Running {
  child: ChildProcess;
  output: () => string;
}

/** Starts a program and resolves once a line matches `ready` (or rejects with its output). */
export function startProgram(cmd: string, args: string[], ready: RegExp, timeoutMs = 30_000): Promise<Running & { match: RegExpExecArray }> {
  const child = spawn(cmd, args, { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  children.add(child);
  let out = '';
  return new Promise((resolvePromise, reject) => {
    const timer = setTimeout(() => reject(new Error(`${cmd} ${args[0]}: not ready after ${timeoutMs} ms:\n${out}`)), timeoutMs);
    const onData = (b: Buffer) => {
      out += b.toString();
      const m = ready.exec(out);
      if (m) {
        clearTimeout(timer);
        resolvePromise({ child, output: () => out, match: m });
      }
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    child.once('exit', (code) => {
      children.delete(child);
      clearTimeout(timer);
      reject(new Error(`${cmd} ${args[0]} exited (${code}) before it was ready:\n${out}`));
    });
  });
}

/** Runs a program to its end; resolves with its exit code and output. */
export function runProgram(cmd: string, args: string[], opts: { timeoutMs?: number; onOutput?: (text: string) => void } = {}): { child: ChildProcess; done: Promise<{ code: number | null; output: string }> } {
  const child = spawn(cmd, args, { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  children.add(child);
  let out = '';
  const onData = (b: Buffer) => {
    out += b.toString();
    opts.onOutput?.(out);
  };
  child.stdout!.on('data', onData);
  child.stderr!.on('data', onData);
  const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 60_000);
  const done = once(child, 'exit').then(([code]) => {
    clearTimeout(timer);
    children.delete(child);
    return { code: code as number | null, output: out };
  });
  return { child, done };
}

export async function launchChromium(): Promise<{ browser: Browser; page: Page; problems: string[] }> {
  const browser = await chromium.launch({
    executablePath: CHROMIUM, headless: true, timeout: 30_000,
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-dev-shm-usage', '--autoplay-policy=no-user-gesture-required'],
  });
  browsers.add(browser);
  const context = await browser.newContext({ viewport: { width: 1280, height: 860 }, deviceScaleFactor: 1 });
  const page = await context.newPage();
  const problems: string[] = [];
  page.on('console', (m) => {
    if (m.type() === 'error') problems.push(`console: ${m.text()}`);
  });
  page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
  page.on('response', (r) => {
    if (r.status() >= 400) problems.push(`response ${r.status()}: ${r.request().method()} ${new URL(r.url()).pathname}`);
  });
  return { browser, page, problems };
}

async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = once(child, 'exit');
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
  await exited;
  clearTimeout(timer);
}

export async function stopAll(): Promise<void> {
  await Promise.all([...browsers].map((b) => b.close().catch(() => undefined)));
  browsers.clear();
  // Phones and the hub before the relay, so nothing logs a lost relay on the way down.
  const list = [...children].reverse();
  for (const c of list) await stopChild(c);
  children.clear();
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
}
