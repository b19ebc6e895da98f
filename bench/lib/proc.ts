// CPU time of processes from /proc (Linux): what a process and its children used, in seconds. Used
// to charge the hub's ffmpeg processes to the hub, and to measure ffmpeg alone as the baseline.
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';

export interface ProcStat {
  pid: number;
  comm: string;
  ppid: number;
  /**
   * CPU of the process in seconds: the sum of its live threads' run time from
   * /proc/PID/task/TID/schedstat (nanoseconds, the clock utime and stime are scaled from), else
   * utime + stime (clock ticks: 10 ms, too coarse for one camera's share over a few seconds).
   */
  cpu: number;
  /** cutime + cstime: CPU of its children that already exited and were reaped, in seconds. */
  reapedChildrenCpu: number;
}

const TICKS_PER_S = ((): number => {
  const r = spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' });
  const n = Number(r.stdout?.trim());
  return Number.isInteger(n) && n > 0 ? n : 100;
})();


export function readStat(pid: number): ProcStat | undefined {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return undefined; // gone
  }
  // "pid (comm) state ppid ...": comm may hold spaces and parentheses, so split at the last ')'.
  const close = text.lastIndexOf(')');
  const comm = text.slice(text.indexOf('(') + 1, close);
  const f = text.slice(close + 2).split(' ');
  const n = (i: number): number => Number(f[i]);
  return { pid, comm, ppid: n(1), cpu: threadsRunTime(pid) ?? (n(11) + n(12)) / TICKS_PER_S, reapedChildrenCpu: (n(13) + n(14)) / TICKS_PER_S };
}

/** Run time of a process's live threads in seconds (ns resolution); undefined without schedstat. */
function threadsRunTime(pid: number): number | undefined {
  let tids: string[];
  try {
    tids = readdirSync(`/proc/${pid}/task`);
  } catch {
    return undefined;
  }
  // A thread that ends takes its run time with it; the hub's and ffmpeg's threads live as long as
  // they do, so a window loses at most a short-lived helper's share.
  let ns = 0;
  let read = 0;
  for (const tid of tids) {
    try {
      ns += Number(readFileSync(`/proc/${pid}/task/${tid}/schedstat`, 'utf8').split(' ')[0]);
      read++;
    } catch {
      // ended between the listing and the read
    }
  }
  // No schedstat at all (a kernel without it): the caller falls back to clock ticks.
  return read > 0 && Number.isFinite(ns) ? ns / 1e9 : undefined;
}

/** Live direct children of `ppid`. */
export function childrenOf(ppid: number): ProcStat[] {
  const out: ProcStat[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const s = readStat(Number(entry));
    if (s !== undefined && s.ppid === ppid) out.push(s);
  }
  return out;
}

/** A process and its children at one moment. */
export interface TreeSample {
  self: number;
  reaped: number;
  children: Map<number, ProcStat>;
}

/**
 * `only` keeps the children whose command name it lists (e.g. ffmpeg, ffprobe, but not the esbuild
 * service tsx runs). Reaped children cannot be told apart; the caller makes sure only those it
 * wants exit during a window.
 */
export function sampleTree(pid: number, only?: readonly string[]): TreeSample {
  const s = readStat(pid);
  if (s === undefined) throw new Error(`process ${pid} is gone`);
  const children = childrenOf(pid).filter((c) => only === undefined || only.includes(c.comm));
  return { self: s.cpu, reaped: s.reapedChildrenCpu, children: new Map(children.map((c) => [c.pid, c])) };
}

/**
 * CPU seconds between two samples: of the process itself, and of its children (those alive at the
 * end, those that started in between, and those that exited in between, through cutime/cstime).
 */
export function treeDelta(a: TreeSample, b: TreeSample): { self: number; children: number; childNames: string[] } {
  let children = b.reaped - a.reaped;
  const names = new Set<string>();
  for (const [pid, c] of b.children) {
    children += c.cpu - (a.children.get(pid)?.cpu ?? 0);
    names.add(c.comm);
  }
  for (const [pid, c] of a.children) {
    if (!b.children.has(pid)) children -= c.cpu; // its whole life is in the reaped delta
  }
  return { self: b.self - a.self, children, childNames: [...names] };
}
