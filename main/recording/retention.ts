// What recordings the hub keeps (PROTOCOL §15.6): per camera its keep days; across cameras a quota
// (`vigil hub --storage-max-gb N`) and a floor of free disk space. The oldest segments go first,
// whatever their camera; a segment being written is never deleted. The bytes on disk are counted
// in memory (read once at start), so the check after every segment costs no query.
import { statfsSync, unlinkSync } from 'node:fs';
import { join } from 'node:path';
import type { RecordingIndex, SegmentRow } from '../store/recordings.ts';

/** Free space the hub leaves on its disk: 1 GiB, or 5 % of a smaller disk. */
export const FREE_FLOOR_BYTES = 1024 ** 3;
export const FREE_FLOOR_FRACTION = 0.05;
/**
 * After a write failed for lack of space, this much more is freed than the floor asks, or this
 * fraction of a smaller disk (so a small disk does not lose all its recordings at once).
 */
export const ENOSPC_RELEASE_BYTES = 64 * 1024 ** 2;
export const ENOSPC_RELEASE_FRACTION = 0.1;
export const DAY_MS = 24 * 3600 * 1000;
/** Segments deleted per query while catching up (a loop bound, not a limit on what goes). */
const BATCH = 256;
/** At most this many segments go in one check, so one check never stalls the hub for long. */
const MAX_DELETED_PER_CHECK = 20_000;

export interface DiskSpace {
  /** Bytes an unprivileged writer may still use. */
  readonly free: number;
  readonly total: number;
}

export function diskSpace(dir: string): DiskSpace {
  const s = statfsSync(dir);
  return { free: s.bavail * s.bsize, total: s.blocks * s.bsize };
}

export function freeFloor(total: number): number {
  return Math.min(FREE_FLOOR_BYTES, Math.floor(total * FREE_FLOOR_FRACTION));
}

export interface RetentionParts {
  dataDir: string;
  index: Pick<RecordingIndex, 'totalBytes' | 'totals' | 'settings' | 'endedBefore' | 'oldest' | 'deleteSegment'>;
  /** Bytes all recordings may take; none when not given. */
  quotaBytes?: number;
  disk?: (dir: string) => DiskSpace;
  now?: () => number;
  /** Segments being written: never deleted. */
  isOpen(id: number): boolean;
  log?(line: string): void;
}

export class Retention {
  #total: number;

  constructor(private readonly p: RetentionParts) {
    this.#total = p.index.totalBytes();
  }

  /** Bytes the index says the recordings take. */
  get totalBytes(): number {
    return this.#total;
  }

  /** A segment grew (or shrank, negative) by this many bytes. */
  added(bytes: number): void {
    this.#total += bytes;
  }

  /**
   * Deletes what must go: segments past their camera's keep days (when `days`), then the oldest
   * until under the quota and above the free floor. `force` (a write failed for lack of space)
   * frees ENOSPC_RELEASE_BYTES (at most a tenth of the disk) more than the floor asks and at least
   * one segment. Returns how
   * many segments went.
   */
  check(opts: { days?: boolean; force?: boolean } = {}): number {
    let deleted = 0;
    const budget = { left: MAX_DELETED_PER_CHECK };
    if (opts.days === true) {
      const now = (this.p.now ?? Date.now)();
      for (const t of this.p.index.totals()) {
        const before = now - this.p.index.settings(t.cameraId).keepDays * DAY_MS;
        deleted += this.#drain(() => this.p.index.endedBefore(t.cameraId, before, BATCH), () => true, budget);
      }
    }
    const quota = this.p.quotaBytes;
    if (quota !== undefined) deleted += this.#drain(() => this.p.index.oldest(BATCH), () => this.#total > quota, budget);
    const disk = this.p.disk ?? diskSpace;
    let space: DiskSpace | undefined;
    try {
      space = disk(this.p.dataDir);
    } catch (e) {
      this.p.log?.(`recordings: cannot read free disk space: ${e instanceof Error ? e.message : String(e)}`);
    }
    if (space !== undefined || opts.force === true) {
      const release = space ? Math.min(ENOSPC_RELEASE_BYTES, Math.floor(space.total * ENOSPC_RELEASE_FRACTION)) : ENOSPC_RELEASE_BYTES;
      let need = (space ? freeFloor(space.total) - space.free : 0) + (opts.force === true ? release : 0);
      let forced = opts.force === true;
      deleted += this.#drain(() => this.p.index.oldest(BATCH), (row) => {
        if (need <= 0 && !forced) return false;
        forced = false;
        need -= row.bytes;
        return true;
      }, budget);
    }
    if (deleted > 0) this.p.log?.(`recordings: deleted ${deleted} old segment${deleted === 1 ? '' : 's'}`);
    return deleted;
  }

  /** Deletes rows from `batch()` while `more(row)` says so; stops at the first it must keep. */
  #drain(batch: () => SegmentRow[], more: (row: SegmentRow) => boolean, budget: { left: number }): number {
    let deleted = 0;
    for (;;) {
      const rows = batch().filter((r) => !this.p.isOpen(r.id));
      if (rows.length === 0) return deleted;
      for (const row of rows) {
        if (budget.left <= 0 || !more(row)) return deleted;
        this.delete(row);
        budget.left--;
        deleted++;
      }
    }
  }

  /** The file first, then its row: a crash between leaves a row without a file, which recovery drops. */
  delete(row: SegmentRow): void {
    try {
      unlinkSync(join(this.p.dataDir, row.path));
    } catch (e) {
      if ((e as { code?: unknown }).code !== 'ENOENT') throw e;
    }
    this.p.index.deleteSegment(row.id);
    this.#total -= row.bytes;
  }
}
