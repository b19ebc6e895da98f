// native/child-output.ts: a child's stdout read through our socket pair (and the plain pipe) with
// real child processes. What must hold: every byte in order, chunks the caller owns (the shared
// read buffer is reused underneath), the child's exit ends the stream, nothing left behind.
import { describe, it, expect } from 'vitest';
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createHash } from 'node:crypto';
import { openChildOutput } from '../../native/child-output.ts';

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
});
