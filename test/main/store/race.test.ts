// Several real processes on one hub.db, released at the same moment: what the running hub and CLI
// commands do to each other.
import { describe, expect, it } from 'vitest';
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { open, tempDataDir } from './helpers.ts';

const WORKER = fileURLToPath(new URL('./race-worker.ts', import.meta.url));
const ROOT = fileURLToPath(new URL('../../../', import.meta.url));

interface Worker {
  child: ChildProcess;
  ready: Promise<void>;
  result: Promise<{ lines: string[]; code: number | null; signal: NodeJS.Signals | null; stderr: string }>;
}

function worker(args: string[]): Worker {
  const child = spawn(process.execPath, ['--import', 'tsx', WORKER, ...args], { cwd: ROOT, stdio: ['pipe', 'pipe', 'pipe'] });
  let out = '';
  let stderr = '';
  let markReady: () => void = () => undefined;
  const ready = new Promise<void>((resolve) => { markReady = resolve; });
  child.stdout?.on('data', (d: Buffer) => {
    out += d.toString();
    if (out.startsWith('ready\n')) markReady();
  });
  child.stderr?.on('data', (d: Buffer) => { stderr += d.toString(); });
  const result = new Promise<{ lines: string[]; code: number | null; signal: NodeJS.Signals | null; stderr: string }>((resolve) => {
    child.on('close', (code, signal) => resolve({ lines: out.split('\n').filter((l) => l !== '' && l !== 'ready'), code, signal, stderr }));
  });
  return { child, ready, result };
}

/** Starts the workers, waits until each has loaded, releases them together, returns their JSON. */
async function race(argsList: string[][]): Promise<unknown[]> {
  const workers = argsList.map(worker);
  await Promise.all(workers.map((w) => w.ready));
  for (const w of workers) w.child.stdin?.write('go\n');
  const results = await Promise.all(workers.map((w) => w.result));
  return results.map((r) => {
    const line = r.lines[0];
    if (line === undefined) throw new Error(`worker failed (code ${r.code}, signal ${r.signal}): ${r.stderr}`);
    return JSON.parse(line) as unknown;
  });
}

describe('several processes on one hub.db', () => {
  it('first start: processes racing on a fresh directory agree on one key and one hub identity', async () => {
    const dir = tempDataDir();
    const results = await race(Array.from({ length: 4 }, () => ['hub-identity', dir])) as { identity: string }[];
    const identities = new Set(results.map((r) => r.identity));
    expect(identities.size).toBe(1);
    expect(Buffer.from(open(dir).getHubIdentity() ?? []).toString('hex')).toBe(results[0]?.identity);
  }, 60_000);

  it('an invite used by several processes at once is used exactly once', async () => {
    const dir = tempDataDir();
    const store = open(dir);
    const id = store.addInvite({ inviteId: randomBytes(16), secret: randomBytes(32), expiresAt: 4_000_000_000 });
    const devices = Array.from({ length: 5 }, () => randomBytes(16).toString('hex'));
    const results = await race(devices.map((d) => ['use-invite', dir, id, d])) as { won: boolean }[];
    expect(results.filter((r) => r.won)).toHaveLength(1);
    const winner = devices[results.findIndex((r) => r.won)];
    expect(store.getInvite(id)).toMatchObject({ state: 'used', deviceId: winner });
  }, 60_000);

  it('epochs taken by several processes at once are all different', async () => {
    const dir = tempDataDir();
    open(dir).close();
    const results = await race(Array.from({ length: 4 }, () => ['epochs', dir, '25'])) as { epochs: number[] }[];
    const all = results.flatMap((r) => r.epochs);
    expect(new Set(all).size).toBe(100);
    expect([...all].sort((a, b) => a - b)).toEqual(Array.from({ length: 100 }, (_, i) => i + 1));
    for (const r of results) expect(r.epochs).toEqual([...r.epochs].sort((a, b) => a - b));
  }, 60_000);

  it('an epoch handed out just before a crash is never handed out again', async () => {
    const dir = tempDataDir();
    const before = open(dir);
    expect(before.nextEpoch('start')).toBe(1);
    before.close();
    const [crashed] = await race([['epoch-then-crash', dir]]) as { epoch: number }[];
    expect(crashed?.epoch).toBe(2);
    const after = open(dir);
    expect(after.currentEpoch()).toBe(2);
    expect(after.nextEpoch('start')).toBe(3);
  }, 60_000);
});
