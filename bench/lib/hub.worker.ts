// The hub of bench/path.bench.ts, in a process of its own so that its CPU (and that of the ffmpeg
// processes it starts) is measured apart from the relay and the phone. Driven over the fork IPC
// channel: one request, one answer. It exits when the channel closes, so a crashed bench leaves no
// hub behind (Hub.close stops every ffmpeg).
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Hub } from '../../main/hub.ts';

export type WorkerRequest =
  | { id: number; op: 'add-camera'; name: string; url: string }
  | { id: number; op: 'invite' }
  | { id: number; op: 'approve'; invite: string; timeoutMs: number }
  | { id: number; op: 'status' }
  | { id: number; op: 'lan-url' }
  | { id: number; op: 'close' };

export interface WorkerStatus {
  epoch: number;
  relay: string;
  cameras: { name: string; number: number; state: string; error?: string; watchers: number; fragments: number; bytes: number }[];
}

export type WorkerReply = { id: number; ok: true; value: unknown } | { id: number; ok: false; error: string };

const log: string[] = [];
const keep = (line: string): void => {
  log.push(line);
  if (log.length > 40) log.shift();
};

async function main(): Promise<void> {
  const relay = process.argv[2];
  const fragmentMs = Number(process.argv[3]);
  if (relay === undefined || !Number.isInteger(fragmentMs) || process.send === undefined) {
    throw new Error('usage: forked by bench/path.bench.ts with the relay URL and the fragment length (ms)');
  }
  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'vigil-bench-hub-'));
  // The hub's LAN endpoint on loopback too, so the bench can compare both paths in one run.
  const hub = await Hub.start({ dataDir, relays: [relay], log: keep, lan: { host: '127.0.0.1', port: 0 }, fragmentMs });
  let closing: Promise<void> | undefined;
  const close = (): Promise<void> => {
    closing ??= hub.close().finally(() => rmSync(dataDir, { recursive: true, force: true }));
    return closing;
  };
  process.on('disconnect', () => {
    void close().finally(() => process.exit(0));
  });

  const handle = async (req: WorkerRequest): Promise<unknown> => {
    switch (req.op) {
      case 'add-camera':
        return hub.cameras.add({ name: req.name, url: req.url }).number;
      case 'invite':
        return await hub.desk.createInvite();
      case 'approve': {
        // The phone shows the code; here the owner approves as soon as the hub shows it too.
        const deadline = Date.now() + req.timeoutMs;
        while (Date.now() < deadline) {
          if (hub.desk.status(req.invite)?.state === 'confirm') return (await hub.desk.approve(req.invite)).id;
          await new Promise((r) => setTimeout(r, 20));
        }
        throw new Error(`no phone confirmed invite within ${req.timeoutMs} ms`);
      }
      case 'lan-url':
        return hub.lanUrl ?? null;
      case 'status': {
        const status: WorkerStatus = {
          epoch: hub.keys.epoch,
          relay: hub.relayState,
          cameras: hub.cameras.status().map((c) => ({
            name: c.name, number: c.number, state: c.state, ...(c.error ? { error: c.error } : {}),
            watchers: c.watchers, fragments: c.fragments, bytes: c.bytes,
          })),
        };
        return status;
      }
      case 'close':
        await close();
        return true;
    }
  };

  process.on('message', (req: WorkerRequest) => {
    handle(req).then(
      (value) => process.send?.({ id: req.id, ok: true, value } satisfies WorkerReply),
      (e: unknown) => process.send?.({ id: req.id, ok: false, error: `${e instanceof Error ? e.message : String(e)}\nhub log:\n${log.join('\n')}` } satisfies WorkerReply),
    );
  });
  process.send({ id: 0, ok: true, value: 'ready' } satisfies WorkerReply);
}

main().catch((e: unknown) => {
  console.error(`hub worker: ${e instanceof Error ? e.stack : String(e)}\n${log.join('\n')}`);
  process.exit(1);
});
