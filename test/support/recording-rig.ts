// A recording hub reduced to its recording path, in a child process the fault tests can SIGKILL at
// any moment (test/e2e/recordings-faults.test.ts): the real store (openStore, SQLite in DATA), the
// real recording epochs sealed to the phones enrolled in it, the real Recorder with its real
// SegmentWriter, recovery and retention on the real file system, fed with real fMP4 fragments that
// ffmpeg made (captured once by the test through native/ingest.ts). What it leaves out of a full
// hub is the camera ingest and the phone links, which take seconds to start; a hub start per kill
// would not fit 100 kills in a test. Capture times come from a clock the test drives (a seam, so the
// clock can step back an hour), starting after the newest time already recorded.
//
//   node --import tsx test/support/recording-rig.ts DATA FRAGMENTS.json [QUOTA_BYTES]
//
// Commands, one JSON object a line on stdin; each answer one JSON line on stdout:
//   {cmd:'feed', n, paceMs?}   n fragments (looping over the captured ones), a keyframe starting each GOP
//   {cmd:'run', paceMs?}       fragments until killed
//   {cmd:'step', ms}           moves the capture clock (negative: back)
//   {cmd:'tick'}               the recorder's timer (stale cameras, retention)
//   {cmd:'restart-camera'}     a new init segment, as a camera that restarted sends
//   {cmd:'fill', leave}        another writer takes the disk's free space but `leave` bytes
//   {cmd:'unfill'}
//   {cmd:'stop'}               the recorder closes its segments, the store closes
//   {cmd:'exit'}
import { closeSync, openSync, readFileSync, statfsSync, unlinkSync, writeSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { cryptoReady } from '../../crypto/sodium.ts';
import { exportHubIdentity, importHubIdentity, newHubIdentity } from '../../crypto/identity.ts';
import type { IngestFragment, IngestInit } from '../../native/ingest.ts';
import type { MediaStream } from '../../main/media/media-bus.ts';
import { RecordingEpochs } from '../../main/recording/epochs.ts';
import { Recorder } from '../../main/recording/recorder.ts';
import { openStore } from '../../main/store/db.ts';
import { RecordingIndex } from '../../main/store/recordings.ts';

export interface CapturedStream {
  init: { data: string; codecs: string[]; mime: string };
  /** Base64 fMP4 fragments in order, each with its keyframe flag and duration (ms). */
  fragments: { data: string; keyframe: boolean; ms: number }[];
}

export type RigCommand =
  | { cmd: 'feed'; n: number; paceMs?: number }
  | { cmd: 'run'; paceMs?: number }
  | { cmd: 'step'; ms: number }
  | { cmd: 'tick' }
  | { cmd: 'restart-camera' }
  | { cmd: 'fill'; leave: number }
  | { cmd: 'unfill' }
  | { cmd: 'stop' }
  | { cmd: 'exit' };

const [dataArg, fragmentsFile, quota] = process.argv.slice(2);
if (dataArg === undefined || fragmentsFile === undefined) throw new Error('usage: recording-rig.ts DATA FRAGMENTS.json [QUOTA_BYTES]');
const dataDir: string = dataArg;

function say(o: Record<string, unknown>): void {
  process.stdout.write(`${JSON.stringify(o)}\n`);
}

await cryptoReady();
const captured = JSON.parse(readFileSync(fragmentsFile, 'utf8')) as CapturedStream;
const init: IngestInit = { data: Buffer.from(captured.init.data, 'base64'), codecs: captured.init.codecs, mime: captured.init.mime, tracks: [] };
const fragments = captured.fragments.map((f) => ({ data: Buffer.from(f.data, 'base64'), keyframe: f.keyframe, ms: f.ms }));

const store = openStore(dataDir);
const identity = importHubIdentity(store.getOrCreateHubIdentity(() => exportHubIdentity(newHubIdentity())));
const index = new RecordingIndex(store);
const camera = store.listCameras()[0]!;
const logs: string[] = [];
const epochs = new RecordingEpochs({ identity, index, devices: () => store.listDevices() });
const recorder = new Recorder({
  dataDir, identity, index, epochs, now: () => clock,
  ...(quota !== undefined ? { quotaBytes: Number(quota) } : {}),
  log: (line) => {
    logs.push(line);
    if (logs.length > 200) logs.shift();
  },
});
const stream: MediaStream = { cameraId: camera.id, number: camera.number, topic: camera.topic, kind: 'camera', init, gop: [] };
// After a restart the capture clock goes on from what was recorded, unless RIG_CLOCK_START sets it
// (a hub whose clock is behind what it recorded).
let clock = process.env.RIG_CLOCK_START !== undefined ? Number(process.env.RIG_CLOCK_START) : Math.max(Date.now(), (index.newestEnd(camera.id) ?? 0) + 1000);
const recovery = recorder.start({ timers: false });
epochs.rotate('start');
recorder.init(stream, init);
let next = 0;
let fed = 0;
let filler: string | undefined;
/** What the recorder threw: the media bus reports a consumer's throw and goes on (main/media/media-bus.ts). */
const thrown: string[] = [];

function one(): void {
  const f = fragments[next]!;
  next = (next + 1) % fragments.length;
  const fragment: IngestFragment = { data: f.data, keyframe: f.keyframe, captureTime: clock, trackIds: [1] };
  try {
    recorder.fragment(stream, fragment);
  } catch (e) {
    if (thrown.length < 20) thrown.push(e instanceof Error ? e.message : String(e));
  }
  clock += f.ms;
  fed++;
}

const pause = (ms: number) => new Promise<void>((r) => (ms > 0 ? setTimeout(r, ms) : setImmediate(r)));

function state(): Record<string, unknown> {
  return { fed, clock, diskFullEvents: recorder.diskFullEvents, totalBytes: recorder.totalBytes, recording: recorder.status(camera.id).recording, thrown: thrown.splice(0), logs: logs.splice(0) };
}

function fill(leave: number): number {
  filler = join(dirname(dataDir), 'filler');
  const fd = openSync(filler, 'a');
  let written = 0;
  try {
    // Blocks of 64 KiB down to 1 byte, each until the disk refuses it (or `leave` bytes are left).
    for (let size = 64 * 1024; size >= 1; size = size >> 2) {
      const block = Buffer.alloc(size, 7);
      try {
        for (;;) {
          const s = statfsSync(dirname(dataDir));
          const free = s.bavail * s.bsize - leave;
          if (free <= 0) return written;
          written += writeSync(fd, block, 0, Math.min(size, free));
        }
      } catch (e) {
        if ((e as { code?: string }).code !== 'ENOSPC') throw e;
      }
    }
  } finally {
    closeSync(fd);
  }
  return written;
}

say({ ready: true, pid: process.pid, cameraId: camera.id, recovery, clock, epoch: epochs.current?.epoch });

for await (const line of createInterface({ input: process.stdin })) {
  const c = JSON.parse(line) as RigCommand;
  switch (c.cmd) {
    case 'feed':
      for (let i = 0; i < c.n; i++) {
        one();
        if (c.paceMs !== undefined) await pause(c.paceMs);
      }
      say({ done: 'feed', ...state() });
      break;
    case 'run':
      say({ done: 'run' });
      for (;;) {
        one();
        await pause(c.paceMs ?? 0);
      }
    case 'step':
      clock += c.ms;
      say({ done: 'step', ...state() });
      break;
    case 'tick':
      recorder.tick();
      say({ done: 'tick', ...state() });
      break;
    case 'restart-camera':
      recorder.init(stream, init);
      say({ done: 'restart-camera', ...state() });
      break;
    case 'fill':
      say({ done: 'fill', filled: fill(c.leave), ...state() });
      break;
    case 'unfill':
      if (filler !== undefined) unlinkSync(filler);
      say({ done: 'unfill', ...state() });
      break;
    case 'stop':
      recorder.stop();
      store.close();
      say({ done: 'stop', ...state() });
      break;
    case 'exit':
      process.exit(0);
  }
}
