// Private network namespaces for discovery tests: multicast (mDNS, WS-Discovery) happens only in
// here, never on the machine's interfaces. A namespace is made with `ip netns add`, gets its
// loopback up with multicast routed to it ("lo" mode, as ../shared/testbed/netns-lib.sh), and is
// deleted after the test; every process started in it is tracked and killed (SIGTERM, then
// SIGKILL), also when the test process exits early.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import path from 'node:path';

export const PROJECT_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..');

let support: { ok: true } | { ok: false; reason: string } | undefined;

/** Whether this process may create namespaces (root and iproute2); the reason when not. */
export function netnsSupport(): { ok: true } | { ok: false; reason: string } {
  if (support !== undefined) return support;
  if (process.getuid?.() !== 0) return (support = { ok: false, reason: 'not root: network namespaces need CAP_SYS_ADMIN' });
  const probe = `vigil-probe-${process.pid}`;
  try {
    execFileSync('ip', ['netns', 'add', probe], { stdio: 'pipe' });
    execFileSync('ip', ['netns', 'del', probe], { stdio: 'pipe' });
    support = { ok: true };
  } catch (e) {
    support = { ok: false, reason: `cannot create a network namespace: ${(e as Error).message.split('\n')[0]}` };
  }
  return support;
}

const live = new Set<Netns>();
let hooked = false;
function hookExit(): void {
  if (hooked) return;
  hooked = true;
  process.once('exit', () => { for (const ns of live) ns.destroySync(); });
}

export interface RunResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

export class Netns {
  readonly name: string;
  readonly #procs = new Set<ChildProcess>();

  private constructor(name: string) {
    this.name = name;
  }

  /** A namespace with loopback up, multicast on and 224.0.0.0/4 routed to lo. */
  static create(label = 't'): Netns {
    const name = `vigil-${label}-${process.pid}-${randomBytes(3).toString('hex')}`;
    execFileSync('ip', ['netns', 'add', name], { stdio: 'pipe' });
    const ns = new Netns(name);
    live.add(ns);
    hookExit();
    try {
      execFileSync('ip', ['-n', name, 'link', 'set', 'lo', 'up'], { stdio: 'pipe' });
      execFileSync('ip', ['-n', name, 'link', 'set', 'lo', 'multicast', 'on'], { stdio: 'pipe' });
      execFileSync('ip', ['-n', name, 'route', 'add', '224.0.0.0/4', 'dev', 'lo'], { stdio: 'pipe' });
    } catch (e) {
      ns.destroySync();
      throw e;
    }
    return ns;
  }

  /** Starts a long-running process in the namespace; it is killed by destroy(). Output is collected in `output`. */
  spawn(cmd: string, args: string[], opts: { cwd?: string; env?: NodeJS.ProcessEnv; stdinPipe?: boolean } = {}): ChildProcess & { output: string } {
    // stdinPipe: a pipe from this process as stdin, which closes when it is gone (for a child that exits then).
    const child = spawn('ip', ['netns', 'exec', this.name, cmd, ...args], {
      cwd: opts.cwd ?? PROJECT_ROOT, env: { ...process.env, ...opts.env }, stdio: [opts.stdinPipe === true ? 'pipe' : 'ignore', 'pipe', 'pipe'],
    }) as ChildProcess & { output: string };
    child.output = '';
    const keep = (b: Buffer) => { child.output = (child.output + b.toString()).slice(-64 * 1024); };
    child.stdout?.on('data', keep);
    child.stderr?.on('data', keep);
    this.#procs.add(child);
    child.once('exit', () => this.#procs.delete(child));
    return child;
  }

  /** Waits (bounded) until `pattern` appears in the process's output. */
  async waitFor(child: ChildProcess & { output: string }, pattern: RegExp | string, timeoutMs = 10_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    const test = () => (typeof pattern === 'string' ? child.output.includes(pattern) : pattern.test(child.output));
    while (!test()) {
      if (child.exitCode !== null || child.signalCode !== null) throw new Error(`process exited (${child.exitCode ?? child.signalCode}) before '${String(pattern)}':\n${child.output}`);
      if (Date.now() > deadline) throw new Error(`timed out waiting for '${String(pattern)}':\n${child.output}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  /** Runs a command in the namespace to completion, bounded by timeoutMs (then SIGKILL). */
  run(cmd: string, args: string[], opts: { timeoutMs?: number; cwd?: string; env?: NodeJS.ProcessEnv } = {}): Promise<RunResult> {
    return new Promise((resolve) => {
      const child = this.spawn(cmd, args, opts);
      let stdout = '';
      let stderr = '';
      child.stdout?.on('data', (b: Buffer) => { stdout += b.toString(); });
      child.stderr?.on('data', (b: Buffer) => { stderr += b.toString(); });
      const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 20_000);
      child.once('close', (code) => {
        clearTimeout(timer);
        resolve({ code, stdout, stderr });
      });
    });
  }

  /** Runs a TypeScript entry (node --import tsx) from the project root inside the namespace. */
  runTs(entry: string, args: string[], opts: { timeoutMs?: number; env?: NodeJS.ProcessEnv } = {}): Promise<RunResult> {
    return this.run(process.execPath, ['--import', 'tsx', path.resolve(PROJECT_ROOT, entry), ...args], opts);
  }

  async destroy(): Promise<void> {
    const procs = [...this.#procs];
    for (const p of procs) p.kill('SIGTERM');
    await Promise.all(procs.map((p) => new Promise<void>((resolve) => {
      if (p.exitCode !== null || p.signalCode !== null) return resolve();
      const t = setTimeout(() => { p.kill('SIGKILL'); resolve(); }, 3000);
      p.once('exit', () => { clearTimeout(t); resolve(); });
    })));
    this.destroySync();
  }

  destroySync(): void {
    for (const p of this.#procs) p.kill('SIGKILL');
    this.#procs.clear();
    try {
      execFileSync('ip', ['netns', 'del', this.name], { stdio: 'pipe' });
    } catch {
      // already gone
    }
    live.delete(this);
  }
}
