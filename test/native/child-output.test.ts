// native/child-output.ts: a child's stdout read through our socket pair (and the plain pipe) with
// real child processes. What must hold: every byte in order, chunks the caller owns (the shared
// read buffer is reused underneath), the child's exit ends the stream, nothing left behind.
import { describe, it, expect } from 'vitest';
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createHash } from 'node:crypto';
import { PACE_MS, openChildOutput } from '../../native/child-output.ts';

/** A child that writes `total` bytes of a counting pattern in pieces of `piece`, then exits. */
const WRITER = `
const total = Number(process.argv[1]), piece = Number(process.argv[2]);
const all = Buffer.alloc(total); for (let i = 0; i < total; i++) all[i] = (i * 7 + (i >> 8)) & 0xff;
let at = 0;
(function next() {
  if (at >= total) return;
  const end = Math.min(total, at + piece);
  const more = process.stdout.write(all.subarray(at, end));
  at = end;
  if (more) setImmediate(next); else process.stdout.once('drain', next);
})();
`;

function pattern(total: number): Buffer {
  const all = Buffer.alloc(total);
  for (let i = 0; i < total; i++) all[i] = (i * 7 + (i >> 8)) & 0xff;
  return all;
}

async function readAll(kind: 'auto' | 'pipe', total: number, piece: number): Promise<{ chunks: Uint8Array[]; exit: number | null }> {
  const output = await openChildOutput({ kind });
  const child = spawn(process.execPath, ['-e', WRITER, String(total), String(piece)], { stdio: output.stdio });
  const chunks: Uint8Array[] = [];
  output.attach(child, (c) => chunks.push(c));
  const exit = await new Promise<number | null>((resolve) => child.once('close', (code) => resolve(code)));
  // The last bytes may still be in our socket when the child's 'close' comes; give them a moment.
  const deadline = Date.now() + 2_000;
  while (chunks.reduce((n, c) => n + c.length, 0) < total && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
  return { chunks, exit };
}

const sha = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex');

describe('reading a child process\'s output', () => {
  for (const kind of ['auto', 'pipe'] as const) {
    it(`${kind}: delivers every byte in order, in chunks that stay intact after later reads`, async () => {
      const total = 3 * 1024 * 1024 + 12_345; // many reads, more than the shared 256 KiB buffer
      const { chunks, exit } = await readAll(kind, total, 8_400);
      expect(exit).toBe(0);
      expect(chunks.length).toBeGreaterThan(1);
      // Checked after the whole stream: had a chunk been a view of the shared read buffer, later
      // reads would have overwritten it and the concatenation would not match.
      expect(sha(Buffer.concat(chunks))).toBe(sha(pattern(total)));
    });
  }

  it('uses the socket pair on this platform and leaves no socket directory behind', async () => {
    const before = readdirSync(tmpdir()).filter((n) => n.startsWith('vigil-out-')).length;
    const output = await openChildOutput();
    expect(Array.isArray(output.stdio) && typeof output.stdio[1] === 'object').toBe(process.platform !== 'win32');
    expect(readdirSync(tmpdir()).filter((n) => n.startsWith('vigil-out-')).length).toBe(before);
    output.close();
  });

  it('ends when the child is killed, with what it wrote before', async () => {
    const output = await openChildOutput();
    const child = spawn(process.execPath, ['-e', 'process.stdout.write("first"); setInterval(() => {}, 1000)'], { stdio: output.stdio });
    const got: string[] = [];
    output.attach(child, (c) => got.push(Buffer.from(c).toString()));
    const deadline = Date.now() + 5_000;
    while (got.join('') !== 'first' && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    expect(got.join('')).toBe('first');
    child.kill('SIGKILL');
    await new Promise((resolve) => child.once('close', resolve));
    output.close(); // idempotent after the child's close already closed it
  });

  it('falls back to the pipe, and says why, when the socket cannot be made (a path too long for a socket)', async () => {
    const base = mkdtempSync(path.join(tmpdir(), 'vigil-long-'));
    const deep = path.join(base, 'd'.repeat(120)); // socket paths are limited to about 107 bytes
    mkdirSync(deep);
    const saved = process.env['TMPDIR'];
    process.env['TMPDIR'] = deep;
    try {
      const lines: string[] = [];
      const output = await openChildOutput({ log: (l) => lines.push(l) });
      expect(output.stdio).toEqual(['ignore', 'pipe', 'pipe']);
      expect(lines.join('\n')).toMatch(/plain pipe \(socket pair failed: /);
      // and it still works
      const child = spawn(process.execPath, ['-e', 'process.stdout.write("via the pipe")'], { stdio: output.stdio });
      const got: string[] = [];
      output.attach(child, (c) => got.push(Buffer.from(c).toString()));
      await new Promise((resolve) => child.once('close', resolve));
      expect(got.join('')).toBe('via the pipe');
    } finally {
      if (saved === undefined) delete process.env['TMPDIR'];
      else process.env['TMPDIR'] = saved;
      rmSync(base, { recursive: true, force: true });
    }
  });

  it('closing before spawn leaves nothing open (an attempt abandoned while it was set up)', async () => {
    const output = await openChildOutput();
    output.close();
    output.close();
  });

  /** A child that writes a 100-byte piece every 5 ms, `pieces` times, as ffmpeg writes a fragment per frame. */
  const TICKER = `
const pieces = Number(process.argv[1]); let n = 0;
const t = setInterval(() => { process.stdout.write(Buffer.alloc(100, n & 0xff)); if (++n === pieces) clearInterval(t); }, 5);
`;

  it('paced, two children\'s output is read together once per PACE_MS, every byte in order; read as it comes again after', async () => {
    const pieces = 120; // at least 600 ms of writing: two or more ticks
    const runs = await Promise.all([0, 1].map(async () => {
      const output = await openChildOutput();
      const child = spawn(process.execPath, ['-e', TICKER, String(pieces)], { stdio: output.stdio });
      const reads: { at: number; bytes: Uint8Array }[] = [];
      output.pace(true);
      output.attach(child, (c) => reads.push({ at: performance.now(), bytes: c }));
      return { output, child, reads, closed: new Promise<void>((resolve) => child.once('close', () => resolve())) };
    }));
    const start = performance.now();
    const want = pieces * 100;
    const deadline = Date.now() + 10_000;
    const has = (r: (typeof runs)[number]): number => r.reads.reduce((n, x) => n + x.bytes.length, 0);
    while (runs.some((r) => has(r) < want) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    const elapsed = performance.now() - start;
    for (const r of runs) {
      expect(has(r)).toBe(want);
      const all = Buffer.concat(r.reads.map((x) => x.bytes));
      for (let i = 0; i < pieces; i++) expect(all[i * 100]).toBe(i & 0xff);
      // Read only on the tick: at most one read per tick (a slow machine has fewer ticks, not more),
      // where reading as it comes makes about one per piece.
      expect(r.reads.length).toBeLessThanOrEqual(Math.ceil(elapsed / PACE_MS) + 1);
      expect(r.reads.length).toBeLessThan(pieces / 4);
    }
    // Both were read in the same turns: each read of one has a read of the other at the same moment.
    const times = (r: (typeof runs)[number]): number[] => r.reads.map((x) => x.at);
    const [a, b] = runs.map(times) as [number[], number[]];
    const together = a.filter((t) => b.some((u) => Math.abs(t - u) < 1)).length;
    expect(together).toBeGreaterThanOrEqual(a.length - 2); // the first and last may fall apart
    // Not paced any more: a child's output is read as it comes, each piece on its own.
    const output = await openChildOutput();
    output.pace(true);
    output.pace(false);
    const child = spawn(process.execPath, ['-e', TICKER, '40'], { stdio: output.stdio });
    const reads: Uint8Array[] = [];
    output.attach(child, (c) => reads.push(c));
    const until = Date.now() + 10_000;
    while (reads.reduce((n, c) => n + c.length, 0) < 4000 && Date.now() < until) await new Promise((r) => setTimeout(r, 20));
    expect(reads.reduce((n, c) => n + c.length, 0)).toBe(4000);
    expect(reads.length).toBeGreaterThan(40 / 4);
    await Promise.all(runs.map((r) => r.closed));
    for (const r of runs) r.output.close();
    output.close();
  });
});
