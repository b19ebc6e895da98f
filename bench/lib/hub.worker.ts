// The hub of bench/path.bench.ts, in a process of its own so that its CPU (and that of the ffmpeg
// processes it starts) is measured apart from the relay and the phone. Driven over the fork IPC
// channel (bench/lib/worker-serve.ts): one request, one answer. It exits when the channel closes,
// so a crashed bench leaves no hub behind (Hub.close stops every ffmpeg).
import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Hub } from '../../main/hub.ts';
import { HubLog, closeOnce, runWorker, serve, workerArgs, type CommonRequest, type OwnRequest } from './worker-serve.ts';

export type WorkerRequest =
  | CommonRequest
  | { id: number; op: 'status' }
  | { id: number; op: 'lan-url' };

export interface WorkerStatus {
  epoch: number;
  relay: string;
  cameras: { name: string; number: number; state: string; error?: string; watchers: number; fragments: number; bytes: number }[];
}

const log = new HubLog(40);

async function main(): Promise<void> {
  const { relay, fragmentMs } = workerArgs('bench/path.bench.ts');
  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'vigil-bench-hub-'));
  // The hub's LAN endpoint on loopback too, so the bench can compare both paths in one run.
  // VIGIL_BENCH_READER=ffmpeg (inherited from the bench): ffmpeg reads every camera, as before the hub's own reader.
  const rtspReader = process.env['VIGIL_BENCH_READER'] === 'ffmpeg' ? 'ffmpeg' : 'auto';
  const hub = await Hub.start({ dataDir, relays: [relay], log: log.keep, lan: { host: '127.0.0.1', port: 0 }, fragmentMs, rtspReader });
  const close = closeOnce(hub, dataDir);

  const handle = async (req: OwnRequest<WorkerRequest>): Promise<unknown> => {
    switch (req.op) {
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
    }
  };

  serve(hub, handle, log, close);
}

runWorker('hub worker', main, log);
