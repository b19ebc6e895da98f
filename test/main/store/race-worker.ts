// A separate process using the store, for the race tests: the hub and a CLI command (or two CLI
// commands) on one hub.db. It prints "ready", waits for "go" on stdin so that all workers start
// together, opens the store, does one thing and prints the result as JSON.
import { randomBytes } from 'node:crypto';
import { createInterface } from 'node:readline';
import { openStore } from '../../../main/store/db.ts';

const [op, dir, ...args] = process.argv.slice(2);
if (op === undefined || dir === undefined) throw new Error('usage: race-worker <op> <dir> [args]');

function run(): unknown {
  const store = openStore(dir as string, { busyTimeoutMs: 20_000 });
  switch (op) {
    case 'use-invite':
      return { won: store.markInviteUsed(args[0] ?? '', args[1] ?? '') };
    case 'epochs': {
      const epochs: number[] = [];
      for (let i = 0; i < Number(args[0]); i++) epochs.push(store.nextEpoch('daily'));
      return { epochs };
    }
    case 'epoch-then-crash': {
      const epoch = store.nextEpoch('start');
      process.stdout.write(`${JSON.stringify({ epoch })}\n`, () => process.kill(process.pid, 'SIGKILL'));
      return undefined;
    }
    case 'hub-identity':
      return { identity: Buffer.from(store.getOrCreateHubIdentity(() => randomBytes(64))).toString('hex') };
    default:
      throw new Error(`unknown op ${op}`);
  }
}

const lines = createInterface({ input: process.stdin });
lines.once('line', () => {
  const result = run();
  if (result !== undefined) process.stdout.write(`${JSON.stringify(result)}\n`, () => process.exit(0));
});
process.stdout.write('ready\n');
