// Recordings back into a restored hub's index (PROTOCOL §18.4): the segment files of the old hub
// that survived (its recordings folder: on another disk, from a file backup, or copied into the new
// data directory) are listed again, so phones find them and, with the recording epochs the backup
// brought back, open them. The hub cannot decrypt a segment, so a file is taken on what its
// structure says (segment-files.ts): a header naming this hub, the camera folder it is in, the id
// its name gives, a restored camera and a restored epoch, and at least one fragment. Anything else
// is skipped and counted, never indexed: a phone checks every segment it opens again (§15.2).
import { chmodSync, constants, copyFileSync, existsSync, mkdirSync, readdirSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { equalBytes, toHex } from '../../crypto/bytes.ts';
import type { Store } from '../store/db.ts';
import { RECORDINGS_DIR, SEGMENT_EXTENSION, scanSegmentFile, segmentPath } from './segment-files.ts';

export interface ReindexReport {
  readonly indexed: number;
  readonly bytes: number;
  /** Files skipped, by why: each reason's count. */
  readonly skipped: Readonly<Record<string, number>>;
}

const CAMERA_DIR = /^[0-9a-f]{32}$/;
const SEGMENT_NAME = /^([1-9][0-9]{0,14})\.vseg$/;

/**
 * Indexes the segment files under `source` (a recordings folder: one folder per camera id), copying
 * them into `dataDir`'s own recordings folder first when `source` is another one (the old files are
 * left as they are). Run on a restored store before the hub first starts: a hub's start removes
 * segment files its index does not list (§15.6).
 */
export function reindexRecordings(store: Pick<Store, 'statement' | 'transaction' | 'listCameras'>, dataDir: string, hubId: Uint8Array, source?: string): ReindexReport {
  const own = resolve(dataDir, RECORDINGS_DIR);
  const from = source === undefined ? own : resolve(source);
  const skipped: Record<string, number> = {};
  const skip = (why: string) => {
    skipped[why] = (skipped[why] ?? 0) + 1;
  };
  if (!existsSync(from)) return { indexed: 0, bytes: 0, skipped };
  const cameras = new Set(store.listCameras().map((c) => c.id));
  const epochs = new Set(store.statement<{ number: number }>('SELECT number FROM recording_epochs').all().map((r) => r.number));
  // Ids past the counter are the restored hub's to hand out: never two segments with one id.
  const lastId = store.statement<{ value: number }>("SELECT value FROM counters WHERE name = 'segment'").get()?.value ?? 0;
  const taken = new Set(store.statement<{ id: number }>('SELECT id FROM segments').all().map((r) => r.id));
  const rows: { id: number; cameraId: string; epoch: number; startMs: number; endMs: number; bytes: number; closed: boolean }[] = [];
  for (const camera of readdirSync(from, { withFileTypes: true })) {
    if (!camera.isDirectory() || !CAMERA_DIR.test(camera.name)) continue;
    for (const f of readdirSync(join(from, camera.name), { withFileTypes: true })) {
      if (!f.isFile() || !f.name.endsWith(SEGMENT_EXTENSION)) continue;
      const name = SEGMENT_NAME.exec(f.name);
      if (name === null) {
        skip('not named as a segment');
        continue;
      }
      const id = Number(name[1]);
      let scan;
      try {
        scan = scanSegmentFile(join(from, camera.name, f.name));
      } catch {
        skip('not a segment');
        continue;
      }
      const h = scan.header;
      if (!equalBytes(h.hubId, hubId)) skip('another hub\'s');
      else if (toHex(h.cameraId) !== camera.name || h.segmentId !== BigInt(id)) skip('not the segment its name says');
      else if (!cameras.has(camera.name)) skip('a camera not in the backup');
      else if (!epochs.has(h.epoch)) skip('a recording epoch not in the backup');
      else if (id > lastId || taken.has(id)) skip('a segment id in use');
      else if (scan.chunks < 2) skip('no fragment in it');
      else if (from !== own && existsSync(join(dataDir, segmentPath(camera.name, id)))) skip('a file of its name in the data directory already');
      else {
        taken.add(id);
        // A closed file is kept whole (a phone finds any bytes after its final chunk); an unclosed
        // one to its last whole chunk, as crash recovery keeps it (§15.6) and cuts it at the start.
        rows.push({ id, cameraId: camera.name, epoch: h.epoch, startMs: h.start, endMs: Math.max(h.start, scan.lastTime), bytes: scan.final ? scan.fileBytes : scan.goodBytes, closed: scan.final });
      }
    }
  }
  if (from !== own) {
    for (const r of rows) {
      const to = join(dataDir, segmentPath(r.cameraId, r.id));
      mkdirSync(dirname(to), { recursive: true, mode: 0o700 });
      // Never over a file already there; a copy-on-write clone where the file system has them.
      copyFileSync(join(from, r.cameraId, `${r.id}${SEGMENT_EXTENSION}`), to, constants.COPYFILE_EXCL | constants.COPYFILE_FICLONE);
      chmodSync(to, 0o600);
    }
  }
  store.transaction(() => {
    const put = store.statement('INSERT INTO segments (id, camera_id, epoch, start_ms, end_ms, bytes, path, closed) VALUES (?, ?, ?, ?, ?, ?, ?, ?)');
    for (const r of rows) put.run(r.id, r.cameraId, r.epoch, r.startMs, r.endMs, r.bytes, segmentPath(r.cameraId, r.id), r.closed ? 1 : 0);
  });
  return { indexed: rows.length, bytes: rows.reduce((n, r) => n + r.bytes, 0), skipped };
}
