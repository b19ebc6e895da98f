// The bench's side of a hub worker (bench/lib/hub.worker.ts, bench/lib/recording-hub.worker.ts): a
// forked Node process driven over the IPC channel, one request, one answer (bench/lib/worker-serve.ts
// is the other side). The hub runs apart so that its CPU and disk writes are read from /proc apart
// from the relay's and the phone's.
import { fork, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { hubV8Flags } from '../../main/v8-flags.ts';
import { childrenOf } from './proc.ts';
import type { WorkerReply } from './worker-serve.ts';

const HERE = path.dirname(fileURLToPath(import.meta.url));
/** The hub of bench:path and bench:flood. */
export const HUB_WORKER = path.join(HERE, 'hub.worker.ts');
/** The hub of bench:recording, with its recording path timed. */
export const RECORDING_HUB_WORKER = path.join(HERE, 'recording-hub.worker.ts');

type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;
/** A request as the bench writes it: the id is the client's. */
export type Request<R extends { id: number; op: string }> = DistributiveOmit<R, 'id'>;

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Polls `check` every `everyMs` until it holds; throws after `timeoutMs`. */
export async function waitFor(what: string, timeoutMs: number, check: () => Promise<boolean> | boolean, everyMs = 100): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check()) return;
    await sleep(everyMs);
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
}

export interface HubWorkerOptions {
  /**
   * On stop, ask the worker to close the hub first and wait this long for it (the hub stops its
   * ffmpeg processes on close); without it, closing the channel makes the worker close and exit.
   */
  readonly closeMs?: number;
  /** SIGKILL the worker if it has not exited this long after the channel closed. */
  readonly killAfterMs: number;
  /**
   * VIGIL_BENCH_HUB_ARGS adds node flags for the hub alone, e.g. "--cpu-prof --cpu-prof-dir=/tmp/p"
   * (NODE_OPTIONS refuses --cpu-prof); its CPU figures then include the profiler's cost.
   */
  readonly hubArgs?: boolean;
}

/** One hub worker at a time: started, asked, stopped (then it may be started again). */
export class HubWorker<R extends { id: number; op: string }> {
  #nextId = 1;
  readonly #pending = new Map<number, { resolve(v: unknown): void; reject(e: Error): void }>();
  #process: ChildProcess | undefined;

  constructor(private readonly script: string, private readonly opts: HubWorkerOptions) {}

  /** The running worker's pid. */
  get pid(): number {
    const pid = this.#process?.pid;
    if (pid === undefined) throw new Error('hub worker is not running');
    return pid;
  }

  /**
   * Forks the worker with the hub's own V8 flags (as `vigil hub` runs it) and waits for its ready
   * message. It is held from the fork on, so that a deadline during start-up stops it too.
   */
  start(args: readonly string[]): Promise<void> {
    const extra = this.opts.hubArgs === true ? (process.env['VIGIL_BENCH_HUB_ARGS'] ?? '').split(' ').filter((a) => a !== '') : [];
    const w = fork(this.script, [...args], { execArgv: [...hubV8Flags(), '--import', 'tsx', ...extra], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    this.#process = w;
    return new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('hub worker did not start within 30 s')), 30_000);
      w.on('message', (m: WorkerReply) => {
        if (m.id === 0) {
          clearTimeout(timer);
          resolve();
          return;
        }
        const p = this.#pending.get(m.id);
        if (p === undefined) return;
        this.#pending.delete(m.id);
        if (m.ok) p.resolve(m.value);
        else p.reject(new Error(m.error));
      });
      w.once('exit', (code, signal) => {
        clearTimeout(timer);
        reject(new Error(`hub worker exited (code ${code}, signal ${signal})`));
        for (const [, p] of this.#pending) p.reject(new Error('hub worker exited'));
        this.#pending.clear();
      });
    });
  }

  rpc<T>(req: Request<R>, timeoutMs = 20_000): Promise<T> {
    const w = this.#process;
    if (w === undefined) return Promise.reject(new Error('hub worker is not running'));
    return this.#rpcOn<T>(w, req, timeoutMs);
  }

  #rpcOn<T>(w: ChildProcess, req: Request<R>, timeoutMs: number): Promise<T> {
    const id = this.#nextId++;
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#pending.delete(id);
        reject(new Error(`hub worker: no answer to ${req.op} within ${timeoutMs} ms`));
      }, timeoutMs);
      this.#pending.set(id, {
        resolve: (v) => {
          clearTimeout(timer);
          resolve(v as T);
        },
        reject: (e) => {
          clearTimeout(timer);
          reject(e);
        },
      });
      w.send({ ...req, id });
    });
  }

  /** Stops the worker, and any child of it (ffmpeg) still there after it has gone. */
  async stop(): Promise<void> {
    const w = this.#process;
    if (w === undefined || w.pid === undefined) return;
    this.#process = undefined;
    if (w.exitCode !== null || w.signalCode !== null) return;
    const exited = once(w, 'exit');
    const { closeMs, killAfterMs } = this.opts;
    if (closeMs !== undefined) {
      await Promise.race([this.#rpcOn(w, { op: 'close' } as Request<R>, closeMs).catch(() => undefined), sleep(closeMs)]);
    }
    const orphans = childrenOf(w.pid);
    if (w.connected) w.disconnect(); // the worker closes the hub (and its ffmpeg) and exits
    const killer = setTimeout(() => w.kill('SIGKILL'), killAfterMs);
    await exited;
    clearTimeout(killer);
    for (const o of orphans) {
      try {
        process.kill(o.pid, 'SIGKILL');
      } catch {
        // already gone, as it should be
      }
    }
  }
}
