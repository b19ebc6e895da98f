// Recording faults of issue 16, on the real recording code path. The kill loop, the full disk and the
// clock step run test/support/recording-rig.ts: a child process with the real store, recording
// epochs, Recorder, SegmentWriter, recovery and retention, fed with real fMP4 fragments ffmpeg made
// (captured once here through native/ingest.ts), because a full hub start per kill (ffmpeg, relay
// links) would not fit 100 kills in a test. The clock step uses the rig's capture clock (a seam:
// libfaketime is not installed). The camera going offline runs the real hub on the RTSP test camera:
// test/e2e/recordings-offline.test.ts; files tampered with on disk: test/e2e/recordings-tamper.test.ts.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cpSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { cryptoReady } from '../../crypto/sodium.ts';
import {
  KeyLedger, bundleRig, captureStream, checkRecordings, prepareHub, startRig, type RigProcess,
} from '../support/recording-faults.ts';
import { tempDir } from '../support/system.ts';

let dir: string;
let fragments: string;
let bundle: string;

beforeAll(async () => {
  await cryptoReady();
  dir = tempDir('vigil-rec-faults-');
  fragments = join(dir, 'fragments.json');
  // 12 s of 640x360 at 15 fps, a keyframe every second: segments of about 4 s.
  await captureStream(fragments, { seconds: 12, gop: 15 });
  bundle = await bundleRig(dir);
}, 60_000);

const rigs: RigProcess[] = [];
afterAll(() => {
  for (const r of rigs) r.child.kill('SIGKILL');
});

function rig(data: string, opts: Parameters<typeof startRig>[3] = {}): RigProcess {
  const r = startRig(bundle, data, fragments, opts);
  rigs.push(r);
  return r;
}

describe('recording faults', () => {
  it('kill -9 while writing, 100 times: every segment readable to its last whole chunk or removed, the index true to the files, no key reused', async () => {
    const data = join(dir, 'kill');
    const prepared = prepareHub(data);
    const ledger = new KeyLedger();
    const totals = { kept: 0, closed: 0, rowsRemoved: 0, filesRemoved: 0, duringStart: 0 };
    /** Segments found unfinished after a kill (each counted once: recovery reports them at every start). */
    const unfinished = new Set<number>();
    const started = Date.now();
    const phase = { ready: 0, check: 0, exit: 0 };
    const RUNS = Number(process.env.RUNS ?? 100);
    for (let run = 0; run < RUNS; run++) {
      // A quota keeps the directory small, so retention runs (and is killed) too.
      const r = rig(data, { quotaBytes: 4 * 1024 * 1024, maxMs: 30_000 });
      if (run % 10 === 9) {
        // Now and then the kill lands while the rig starts: during recovery or the epoch's sealing.
        await new Promise((res) => setTimeout(res, Math.random() * 400));
        r.child.kill('SIGKILL');
        await r.exited;
        totals.duringStart++;
        continue;
      }
      let t = Date.now();
      const ready = await r.ready;
      phase.ready += Date.now() - t;
      const report = ready.recovery as Record<string, number>;
      for (const k of ['kept', 'closed', 'rowsRemoved', 'filesRemoved'] as const) totals[k] += report[k]!;
      // Restarted: the rig recovered and records nothing until told to. The index is true to the files.
      t = Date.now();
      const { problems, rows } = checkRecordings(data, prepared, ledger);
      phase.check += Date.now() - t;
      expect(problems, `after kill ${run}`).toEqual([]);
      for (const row of rows) if (row.closed === 0) unfinished.add(row.id);
      await r.send({ cmd: 'run', paceMs: 0 });
      await new Promise((res) => setTimeout(res, 20 + Math.random() * 180));
      t = Date.now();
      r.child.kill('SIGKILL');
      await r.exited;
      phase.exit += Date.now() - t;
    }
    // The last restart, and its check.
    const last = rig(data, { quotaBytes: 4 * 1024 * 1024 });
    await last.ready;
    const { problems, rows } = checkRecordings(data, prepared, ledger);
    expect(problems).toEqual([]);
    await last.send({ cmd: 'exit' }).catch(() => undefined);
    console.log(`kill loop: ${RUNS} kills in ${Date.now() - started} ms, ${ledger.keys.size} segment keys seen, ${unfinished.size} found unfinished, recovery ${JSON.stringify(totals)} ${JSON.stringify(phase)}`);
    expect(ledger.reused).toEqual([]);
    // The loop did what it claims: many segments made and their keys seen, killed mid-segment often.
    expect(ledger.keys.size).toBeGreaterThan(100);
    expect(unfinished.size + totals.rowsRemoved).toBeGreaterThan(40);
    expect(rows.length).toBeGreaterThan(0);
  }, 180_000);

  it('disk full mid-segment (a real 24 MB tmpfs): the segment ends cleanly at its last whole chunk, the oldest go, recording goes on, the index true to the files', async () => {
    // The rig in a mount namespace of its own with the tmpfs on `mount`: nothing outside sees it.
    const mount = join(dir, 'full-mount');
    const prep = join(dir, 'full-prep');
    mkdirSync(mount);
    const prepared = prepareHub(join(prep, 'data'));
    const r = rig(join(mount, 'data'), { tmpfs: { bytes: 24 * 1024 * 1024, mount, prepared: prep } });
    await r.ready;
    // SQLite does not open a database through /proc/PID/root: each check reads a copy, taken while the rig is idle.
    let copies = 0;
    const copy = (): string => {
      const to = join(dir, `full-copy-${++copies}`, 'data');
      cpSync(r.path(join(mount, 'data')), to, { recursive: true });
      return to;
    };
    const ledger = new KeyLedger();
    // About 20 s recorded: closed segments and one being written.
    let s = await r.send({ cmd: 'feed', n: 60 });
    expect(s.thrown).toEqual([]);
    const before = checkRecordings(copy(), prepared, ledger, { writing: true }).rows;
    expect(before.filter((row) => row.closed === 1).length).toBeGreaterThanOrEqual(3);
    const writing = before.at(-1)!;
    expect(writing.closed).toBe(0);
    // Another writer takes every free byte, mid-segment.
    s = await r.send({ cmd: 'fill', leave: 0 });
    expect(s.filled as number).toBeGreaterThan(1024 * 1024);
    // A few fragments, within the segment being written: a write (the file's or the index's) fails,
    // the segment ends cleanly, the oldest recordings go, and the index says so.
    s = await r.send({ cmd: 'feed', n: 3 });
    expect(s.diskFullEvents as number, JSON.stringify(s)).toBeGreaterThanOrEqual(1);
    expect(s.thrown, String(s.logs)).toEqual([]);
    let check = checkRecordings(copy(), prepared, ledger, { writing: s.recording === true });
    expect(check.problems).toEqual([]);
    expect(check.rows.some((row) => row.id === before[0]!.id), 'the oldest went').toBe(false);
    const cut = check.rows.find((row) => row.id === writing.id);
    expect(cut, 'the segment being written when the disk filled is kept').toBeDefined();
    // Closed with its final chunk (written again once space was freed) or cut at its last whole chunk: both check out above.
    expect(ledger.opened.get(cut!.id)!.chunks).toBeGreaterThanOrEqual(2);
    // The other writer keeps its space: recording goes on in what the oldest recordings leave, oldest first.
    s = await r.send({ cmd: 'feed', n: 60 });
    expect(s.thrown, String(s.logs)).toEqual([]);
    expect(s.recording).toBe(true);
    await r.send({ cmd: 'stop' });
    check = checkRecordings(copy(), prepared, ledger);
    expect(check.problems).toEqual([]);
    expect(check.rows.filter((row) => row.id > writing.id && row.closed === 1).length).toBeGreaterThanOrEqual(2);
    await r.send({ cmd: 'exit' }).catch(() => undefined);
    await r.exited;
  }, 60_000);

  it('the clock steps back an hour, while recording and across a restart: the timeline stays ordered, nothing is overwritten', async () => {
    const data = join(dir, 'clock');
    const prepared = prepareHub(data);
    const ledger = new KeyLedger();
    const first = rig(data);
    await first.ready;
    await first.send({ cmd: 'feed', n: 40 });
    await first.send({ cmd: 'step', ms: -3600_000 });
    let s = await first.send({ cmd: 'feed', n: 40 });
    expect(s.thrown).toEqual([]);
    await first.send({ cmd: 'stop' });
    await first.send({ cmd: 'exit' }).catch(() => undefined);
    const recorded = checkRecordings(data, prepared, ledger).rows;
    const newest = Math.max(...recorded.map((row) => row.end_ms));
    // The hub starts again with its clock an hour behind what it recorded.
    const second = rig(data, { env: { RIG_CLOCK_START: String(newest - 3600_000) } });
    await second.ready;
    s = await second.send({ cmd: 'feed', n: 40 });
    expect(s.thrown).toEqual([]);
    await second.send({ cmd: 'stop' });
    await second.send({ cmd: 'exit' }).catch(() => undefined);
    const { problems, rows } = checkRecordings(data, prepared, ledger);
    expect(problems).toEqual([]);
    // Everything recorded is still there, unchanged (each segment opened at the size first seen).
    for (const row of recorded) expect(rows.find((x) => x.id === row.id)?.bytes, `segment ${row.id}`).toBe(row.bytes);
    expect(rows.length).toBeGreaterThan(recorded.length);
    // In the order they were recorded, each segment starts where the one before ended, or later.
    for (let i = 1; i < rows.length; i++) expect(rows[i]!.start_ms, `segment ${rows[i]!.id}`).toBeGreaterThanOrEqual(rows[i - 1]!.end_ms);
    expect(ledger.reused).toEqual([]);
  }, 60_000);
});
