// The worker's side of bench/lib/worker-client.ts: a hub in a forked process answering the bench
// over the IPC channel, one request, one answer, with the hub's last log lines in an error's text.
// It exits when the channel closes, so a crashed bench leaves no hub behind (Hub.close stops every
// ffmpeg).
import { rmSync } from 'node:fs';
import type { Hub } from '../../main/hub.ts';

/** What every hub worker answers, served here: add a camera, pair a phone, close. */
export type CommonRequest =
  | { id: number; op: 'add-camera'; name: string; url: string }
  | { id: number; op: 'invite' }
  | { id: number; op: 'approve'; invite: string; timeoutMs: number }
  | { id: number; op: 'close' };
/** A worker's own requests, left to its handler. */
export type OwnRequest<R extends { op: string }> = Exclude<R, { op: CommonRequest['op'] }>;

export type WorkerReply = { id: number; ok: true; value: unknown } | { id: number; ok: false; error: string };

/** The hub's last `max` log lines, said with any error. */
export class HubLog {
  readonly lines: string[] = [];

  constructor(private readonly max: number) {}

  readonly keep = (line: string): void => {
    this.lines.push(line);
    if (this.lines.length > this.max) this.lines.shift();
  };

  toString(): string {
    return this.lines.join('\n');
  }
}

/** Closes the hub once (however many ask) and removes its data directory. */
export function closeOnce(hub: Hub, dataDir: string): () => Promise<void> {
  let closing: Promise<void> | undefined;
  return () => {
    closing ??= hub.close().finally(() => rmSync(dataDir, { recursive: true, force: true }));
    return closing;
  };
}

/** The relay URL and the fragment length (ms) the bench forks the worker with. */
export function workerArgs(bench: string): { relay: string; fragmentMs: number } {
  const relay = process.argv[2];
  const fragmentMs = Number(process.argv[3]);
  if (relay === undefined || !Number.isInteger(fragmentMs) || process.send === undefined) {
    throw new Error(`usage: forked by ${bench} with the relay URL and the fragment length (ms)`);
  }
  return { relay, fragmentMs };
}

/** The phone shows the code; here the owner approves as soon as the hub shows it too. */
async function approveWhenConfirmed(hub: Hub, invite: string, timeoutMs: number): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (hub.desk.status(invite)?.state === 'confirm') return (await hub.desk.approve(invite)).id;
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error(`no phone confirmed invite within ${timeoutMs} ms`);
}

/**
 * Answers each request with its value or error (the common ones here, the worker's own through
 * `handle`), closes the hub and exits when the channel closes, and tells the bench it is ready.
 */
export function serve<R extends { id: number; op: string }>(
  hub: Hub, handle: (req: OwnRequest<R>) => Promise<unknown>, log: HubLog, close: () => Promise<void>,
): void {
  process.on('disconnect', () => {
    void close().finally(() => process.exit(0));
  });
  const answer = async (req: R): Promise<unknown> => {
    const common = req as unknown as CommonRequest;
    switch (common.op) {
      case 'add-camera':
        return hub.cameras.add({ name: common.name, url: common.url }).number;
      case 'invite':
        return await hub.desk.createInvite();
      case 'approve':
        return await approveWhenConfirmed(hub, common.invite, common.timeoutMs);
      case 'close':
        await close();
        return true;
      default:
        return await handle(req as OwnRequest<R>);
    }
  };
  process.on('message', (req: R) => {
    answer(req).then(
      (value) => process.send?.({ id: req.id, ok: true, value } satisfies WorkerReply),
      (e: unknown) => process.send?.({ id: req.id, ok: false, error: `${e instanceof Error ? e.message : String(e)}\nhub log:\n${log}` } satisfies WorkerReply),
    );
  });
  process.send?.({ id: 0, ok: true, value: 'ready' } satisfies WorkerReply);
}

/** Runs the worker's main; a failure is said with the hub's log and ends the process. */
export function runWorker(name: string, main: () => Promise<void>, log: HubLog): void {
  main().catch((e: unknown) => {
    console.error(`${name}: ${e instanceof Error ? e.stack : String(e)}\n${log}`);
    process.exit(1);
  });
}
