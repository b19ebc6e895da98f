// CameraIngest's supervision on a fake clock with a fake ffmpeg: the start time-out, the stall
// watchdog, SIGTERM then SIGKILL, the stepped backoff and its reset, and the stuck media clock, each
// to the millisecond and in no real time. The child is a stand-in spawned through a mocked
// node:child_process; what it "prints" is real ffmpeg output (fixtures/h264-aac.mp4, cut at its
// boxes). test/native/ingest.test.ts runs the same supervisor against real ffmpeg and cameras.
import { EventEmitter } from 'node:events';
import { readFileSync } from 'node:fs';
import { PassThrough } from 'node:stream';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type * as ChildProcessModule from 'node:child_process';
import type * as ChildOutputModule from '../../native/child-output.ts';
import type { CameraIngest as CameraIngestType, CameraIngestOptions, IngestState } from '../../native/ingest.ts';

/** A child process that runs nothing: the test says what it prints and when it exits. */
class FakeChild extends EventEmitter {
  readonly stdout = new PassThrough();
  readonly stderr = new PassThrough();
  readonly stdin = null;
  readonly pid = 40_000 + Math.floor(Math.random() * 1000);
  exitCode: number | null = null;
  signalCode: NodeJS.Signals | null = null;
  readonly signals: string[] = [];
  /** Like an ffmpeg stuck in a blocking read: SIGTERM does nothing. */
  ignoreTerm = false;
  #gone = false;

  constructor(readonly file: string, readonly args: readonly string[]) {
    super();
  }

  kill(signal: NodeJS.Signals = 'SIGTERM'): boolean {
    this.signals.push(signal);
    if (!(signal === 'SIGTERM' && this.ignoreTerm)) this.exit(null, signal);
    return true;
  }

  /** The process ends (by itself with a code, or by a signal). */
  exit(code: number | null, signal: NodeJS.Signals | null = null): void {
    if (this.#gone) return;
    this.#gone = true;
    this.exitCode = code;
    this.signalCode = signal;
    this.stdout.end();
    this.stderr.end();
    setImmediate(() => {
      this.emit('exit', code, signal);
      this.emit('close', code, signal);
    });
  }

  get gone(): boolean {
    return this.#gone;
  }
}

const children: FakeChild[] = [];

vi.mock('node:child_process', async (importOriginal) => {
  const real = await importOriginal<typeof ChildProcessModule>();
  return {
    ...real,
    spawn: (file: string, args: readonly string[]) => {
      const child = new FakeChild(file, args);
      children.push(child);
      return child;
    },
  };
});
// The fake child has no file descriptors to hand a socket pair to: read its stdout as a pipe.
vi.mock('../../native/child-output.ts', async (importOriginal) => {
  const real = await importOriginal<typeof ChildOutputModule>();
  return { ...real, openChildOutput: (o: Parameters<typeof real.openChildOutput>[0] = {}) => real.openChildOutput({ ...o, kind: 'pipe' }) };
});

// Imported after the mocks are in place (vi.mock is hoisted, but the fake child is defined above).
const { CameraIngest, INGEST_DEFAULTS } = await import('../../native/ingest.ts');

/** The fixture cut into its boxes: ftyp+moov (init), then moof+mdat pairs of about 200 ms. */
const { init, fragments } = (() => {
  const file = readFileSync(new URL('./fixtures/h264-aac.mp4', import.meta.url));
  const boxes: Buffer[] = [];
  for (let i = 0; i < file.length;) {
    const size = file.readUInt32BE(i);
    boxes.push(file.subarray(i, i + size));
    i += size;
  }
  const type = (b: Buffer) => b.toString('latin1', 4, 8);
  const frags: Buffer[] = [];
  for (let i = 0; i < boxes.length - 1; i++) if (type(boxes[i]!) === 'moof' && type(boxes[i + 1]!) === 'mdat') frags.push(Buffer.concat([boxes[i]!, boxes[i + 1]!]));
  return { init: Buffer.concat(boxes.filter((b) => ['ftyp', 'moov'].includes(type(b)))), fragments: frags };
})();

/** Offsets of each track's tfdt (baseMediaDecodeTime) in a moof+mdat: [offset, version]. */
function tfdts(frag: Buffer): [number, number][] {
  const found: [number, number][] = [];
  const walk = (from: number, to: number) => {
    for (let i = from; i < to;) {
      const size = frag.readUInt32BE(i);
      const type = frag.toString('latin1', i + 4, i + 8);
      if (type === 'moof' || type === 'traf') walk(i + 8, i + size);
      if (type === 'tfdt') found.push([i + 12, frag[i + 8]!]);
      i += size;
    }
  };
  walk(0, frag.readUInt32BE(0)); // the moof only
  return found;
}
const readTime = (b: Buffer, [at, v]: [number, number]): number => (v === 1 ? Number(b.readBigUInt64BE(at)) : b.readUInt32BE(at));
/** How far each track's time moves over the whole fixture (its last fragment counted twice). */
const spans = tfdts(fragments[0]!).map((_, j) => {
  const t = fragments.map((f) => readTime(f, tfdts(f)[j]!));
  return t.at(-1)! - t[0]! + (t.at(-1)! - t.at(-2)!);
});
/** Fragment `k` of an endless stream: the fixture's fragments over and over, times always moving on. */
function fragmentAt(k: number): Buffer {
  const f = Buffer.from(fragments[k % fragments.length]!);
  const cycle = Math.floor(k / fragments.length);
  tfdts(f).forEach((where, j) => {
    const t = readTime(f, where) + cycle * spans[j]!;
    if (where[1] === 1) f.writeBigUInt64BE(BigInt(t), where[0]);
    else f.writeUInt32BE(t, where[0]);
  });
  return f;
}

const D = INGEST_DEFAULTS.timing;
const made: CameraIngestType[] = [];

function ingest(options: Partial<CameraIngestOptions> = {}) {
  const i = new CameraIngest({ source: { kind: 'test-pattern' }, ffmpeg: '/usr/bin/ffmpeg', ...options });
  made.push(i);
  const states: IngestState[] = [];
  const videoTimes: number[] = [];
  let fragmentCount = 0;
  i.on('state', (s) => states.push(s));
  i.on('fragment', (f) => {
    fragmentCount++;
    if (f.decodeTime !== undefined && f.timescale !== undefined) videoTimes.push(f.decodeTime / f.timescale);
  });
  return { ingest: i, states, videoTimes, fragments: () => fragmentCount, last: () => states.at(-1)! };
}

/** Lets spawn, stream reads and exits (immediates and promises) run, with fake time standing still. */
async function settle(): Promise<void> {
  for (let i = 0; i < 5; i++) await new Promise((r) => setImmediate(r));
}

async function advance(ms: number): Promise<void> {
  await vi.advanceTimersByTimeAsync(ms);
  await settle();
}

/** The newest child prints the init segment and `n` fragments. */
async function print(child: FakeChild, n: number, from = 0): Promise<void> {
  if (from === 0) child.stdout.write(init);
  for (let k = from; k < from + n; k++) child.stdout.write(fragmentAt(k));
  await settle();
}

/** The child goes on printing, a fragment per 200 ms of media as a camera would, for `ms`. */
async function liveFor(child: FakeChild, ms: number, from = 1): Promise<void> {
  for (let t = 0; t < ms; t += 200) {
    await print(child, 1, from + t / 200);
    await advance(Math.min(200, ms - t));
  }
}

beforeEach(() => {
  children.length = 0;
  vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'setInterval', 'clearInterval', 'Date', 'performance'] });
});

afterEach(async () => {
  for (const i of made.splice(0)) {
    const stopping = i.stop();
    await vi.runOnlyPendingTimersAsync();
    await stopping;
  }
  vi.useRealTimers();
});

describe('CameraIngest supervision (fake clock, fake ffmpeg)', () => {
  it('the fixture is real fragmented MP4: a child that prints it makes the ingest live', async () => {
    expect(fragments.length).toBeGreaterThan(5);
    const r = ingest();
    r.ingest.start();
    await settle();
    expect(children).toHaveLength(1);
    expect(children[0]!.args).toContain('-f');
    await print(children[0]!, 3);
    expect(r.last()).toMatchObject({ state: 'live', attempt: 1 });
    expect(r.fragments()).toBe(3);
    // The endless stream made of it moves on in media time, past the fixture's end, as a camera does.
    await liveFor(children[0]!, 5_000, 3);
    expect(r.last().state).toBe('live');
    expect(r.videoTimes.length).toBeGreaterThan(fragments.length + 3);
    expect(r.videoTimes.every((t, k) => k === 0 || t > r.videoTimes[k - 1]!)).toBe(true);
  });

  it('start time-out: an ffmpeg that prints nothing is stopped at startTimeoutMs, then retried after 1 s, 5 s, 10 s', async () => {
    const r = ingest();
    r.ingest.start();
    await settle();
    expect(r.last()).toMatchObject({ state: 'starting', attempt: 1 });
    await advance(D.startTimeoutMs - 1);
    expect(children[0]!.signals).toEqual([]);
    await advance(1);
    expect(children[0]!.signals).toEqual(['SIGTERM']);
    expect(r.last()).toMatchObject({ state: 'backoff', attempt: 1, retryInMs: 1_000 });
    expect(r.last().error).toMatch(/^no video from test pattern within 15 s/);

    for (const [attempt, step] of [[2, 5_000], [3, 10_000], [4, 60_000], [5, 60_000]] as const) {
      const before = children.length;
      await advance(D.backoffMs[Math.min(attempt - 2, D.backoffMs.length - 1)]! - 1);
      expect(children, `no attempt ${attempt} before its step`).toHaveLength(before);
      await advance(1);
      expect(children).toHaveLength(before + 1);
      expect(r.last()).toMatchObject({ state: 'starting', attempt });
      await advance(D.startTimeoutMs);
      expect(r.last()).toMatchObject({ state: 'backoff', attempt, retryInMs: step });
    }
  });

  it('an ffmpeg that ignores SIGTERM gets SIGKILL after killTimeoutMs', async () => {
    const r = ingest();
    r.ingest.start();
    await settle();
    children[0]!.ignoreTerm = true;
    await advance(D.startTimeoutMs);
    expect(children[0]!.signals).toEqual(['SIGTERM']);
    expect(r.last().state).toBe('starting'); // not moved on while the old ffmpeg may still run
    await advance(D.killTimeoutMs - 1);
    expect(children[0]!.signals).toEqual(['SIGTERM']);
    await advance(1);
    expect(children[0]!.signals).toEqual(['SIGTERM', 'SIGKILL']);
    expect(r.last()).toMatchObject({ state: 'backoff', retryInMs: 1_000 });
  });

  it('stall: live, then no fragment for stallTimeoutMs: stalled, ffmpeg stopped, backoff', async () => {
    const r = ingest();
    r.ingest.start();
    await settle();
    await print(children[0]!, 2);
    expect(r.last().state).toBe('live');
    // Each fragment re-arms the watchdog.
    await advance(D.stallTimeoutMs - 1);
    await print(children[0]!, 1, 2);
    await advance(D.stallTimeoutMs - 1);
    expect(r.last().state).toBe('live');
    expect(children[0]!.signals).toEqual([]);
    await advance(1);
    expect(r.states.map((s) => s.state).slice(-2)).toEqual(['stalled', 'backoff']);
    expect(r.states.at(-2)!.error).toMatch(/^no video from test pattern for 6 s/);
    expect(children[0]!.signals).toEqual(['SIGTERM']);
    expect(r.last()).toMatchObject({ attempt: 1, retryInMs: 1_000 });
  });

  it('the backoff goes on from its step after a short live spell, and starts over after stableAfterMs live', async () => {
    const r = ingest();
    r.ingest.start();
    await settle();
    await advance(D.startTimeoutMs); // attempt 1 fails
    await advance(1_000 + D.startTimeoutMs); // attempt 2 fails
    await advance(5_000);
    expect(r.last()).toMatchObject({ state: 'starting', attempt: 3 });
    // Attempt 3 is live for a while, less than stableAfterMs, and exits: the next wait is step 3.
    await print(children[2]!, 1);
    await liveFor(children[2]!, D.stableAfterMs - 1_000);
    expect(r.last().state).toBe('live');
    children[2]!.exit(1);
    await settle();
    expect(r.last()).toMatchObject({ state: 'backoff', retryInMs: 10_000 });
    expect(r.last().error).toMatch(/ffmpeg exited with code 1 for test pattern/);

    // Attempt 4 is live for stableAfterMs, then exits: back to the first step.
    await advance(10_000);
    await print(children[3]!, 1);
    await liveFor(children[3]!, D.stableAfterMs);
    expect(r.last().state).toBe('live');
    children[3]!.exit(1);
    await settle();
    expect(r.last()).toMatchObject({ state: 'backoff', retryInMs: 1_000 });
  });

  it('a media clock that stands still while fragments keep coming: ffmpeg is restarted within two windows', async () => {
    const r = ingest();
    r.ingest.start();
    await settle();
    await print(children[0]!, 1);
    // The same fragment again and again: its media time never moves, but it arrives every 300 ms.
    let sent = 0;
    while (children.length === 1 && sent < 100) {
      await advance(300);
      children[0]!.stdout.write(fragments[1]!);
      await settle();
      sent++;
    }
    expect(sent * 300).toBeLessThanOrEqual(2 * D.clockWindowMs + 1_000);
    const restart = r.states.find((s) => s.state === 'backoff');
    expect(restart?.error).toMatch(/timestamps from test pattern stopped advancing/);
    expect(children[0]!.signals).toEqual(['SIGTERM']);
    // The fragments after the clock was seen stuck reach no one.
    expect(r.fragments()).toBeLessThan(sent + 1);
  });

  it('stop() in any state kills the child and leaves no timer', async () => {
    const r = ingest();
    r.ingest.start();
    await settle();
    await advance(D.startTimeoutMs); // in backoff, a 1 s timer pending
    expect(vi.getTimerCount()).toBeGreaterThan(0);
    await r.ingest.stop();
    expect(r.last().state).toBe('stopped');
    expect(vi.getTimerCount()).toBe(0);
    await advance(120_000);
    expect(children).toHaveLength(1);

    const live = ingest();
    live.ingest.start();
    await settle();
    await print(children[1]!, 2);
    const stopping = live.ingest.stop();
    await settle();
    await stopping;
    expect(children[1]!.signals).toEqual(['SIGTERM']);
    expect(live.last().state).toBe('stopped');
    expect(vi.getTimerCount()).toBe(0);
  });
});
