// The store's part for recordings (PROTOCOL §15): each camera's recording settings, the recording
// epochs (public and signed; never a private seed) with each phone's sealed copy of the seed, and the
// index of segment files. Segment times are Unix ms, as in the files. The rows describe files under
// DATA/recordings/; main/recording/ keeps the two true to each other.
import type { Store } from './db.ts';
import { StoreError } from './errors.ts';

export type RecordingMode = 'continuous' | 'events' | 'off';
export const RECORDING_MODES: readonly RecordingMode[] = ['continuous', 'events', 'off'];
/** Kept when the owner sets a mode without --keep-days. */
export const DEFAULT_KEEP_DAYS = 7;
export const MAX_KEEP_DAYS = 3650;

export interface RecordingSettings {
  readonly cameraId: string;
  readonly mode: RecordingMode;
  readonly keepDays: number;
}

export interface StoredEpoch {
  readonly number: number;
  readonly createdAtMs: number;
  /** encodeRecordingEpoch. */
  readonly epoch: Uint8Array;
}

export interface SegmentRow {
  readonly id: number;
  readonly cameraId: string;
  readonly epoch: number;
  readonly startMs: number;
  readonly endMs: number;
  readonly bytes: number;
  /** Relative to the data directory. */
  readonly path: string;
  readonly closed: boolean;
}

interface SegmentDbRow {
  id: number;
  camera_id: string;
  epoch: number;
  start_ms: number;
  end_ms: number;
  bytes: number;
  path: string;
  closed: number;
}

export interface CameraRecordingTotals {
  readonly cameraId: string;
  readonly segments: number;
  readonly bytes: number;
  readonly oldestMs: number | null;
  readonly newestMs: number | null;
}

function toSegment(r: SegmentDbRow): SegmentRow {
  return { id: r.id, cameraId: r.camera_id, epoch: r.epoch, startMs: r.start_ms, endMs: r.end_ms, bytes: r.bytes, path: r.path, closed: r.closed === 1 };
}

function blob(bytes: Uint8Array): Buffer {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

const HEX_ID = /^[0-9a-f]{32}$/;

export class RecordingIndex {
  constructor(private readonly store: Pick<Store, 'statement' | 'transaction' | 'getCamera'>) {}

  // ---- settings ---------------------------------------------------------------------------------

  /** A camera's settings; `off` and the default keep when never set. */
  settings(cameraId: string): RecordingSettings {
    const row = this.store.statement<{ mode: RecordingMode; keep_days: number }>('SELECT mode, keep_days FROM recording_settings WHERE camera_id = ?').get(cameraId);
    return { cameraId, mode: row?.mode ?? 'off', keepDays: row?.keep_days ?? DEFAULT_KEEP_DAYS };
  }

  /** Sets a camera's mode (and keep days; unchanged when not given). The camera by id or name. */
  setSettings(idOrName: string, mode: RecordingMode, keepDays?: number): RecordingSettings {
    const where = 'setRecordingSettings';
    if (!RECORDING_MODES.includes(mode)) throw new StoreError('invalid', where, 'mode must be continuous, events or off');
    if (keepDays !== undefined && !(Number.isInteger(keepDays) && keepDays >= 1 && keepDays <= MAX_KEEP_DAYS)) {
      throw new StoreError('invalid', where, `keep days must be a whole number 1..${MAX_KEEP_DAYS}`);
    }
    const camera = this.store.getCamera(idOrName);
    if (camera === undefined || camera.removedAt !== null) throw new StoreError('not-found', where, 'no such camera');
    return this.store.transaction(() => {
      const keep = keepDays ?? this.settings(camera.id).keepDays;
      this.store.statement(`INSERT INTO recording_settings (camera_id, mode, keep_days) VALUES (?, ?, ?)
        ON CONFLICT (camera_id) DO UPDATE SET mode = excluded.mode, keep_days = excluded.keep_days`).run(camera.id, mode, keep);
      return { cameraId: camera.id, mode, keepDays: keep };
    });
  }

  // ---- epochs -----------------------------------------------------------------------------------

  /** The next recording epoch's number, never handed out before, durable before it is returned. */
  nextEpochNumber(): number {
    return this.store.transaction(() => {
      const row = this.store.statement<{ value: number }>("UPDATE counters SET value = value + 1 WHERE name = 'recording_epoch' RETURNING value").get();
      if (row === undefined) throw new StoreError('not-found', 'nextEpochNumber', 'recording epoch counter missing');
      return row.value;
    });
  }

  /** The epoch and every phone's sealed seed, in one durable transaction. */
  saveEpoch(epoch: StoredEpoch, sealed: readonly { deviceId: string; sealed: Uint8Array }[]): void {
    this.store.transaction(() => {
      this.store.statement('INSERT INTO recording_epochs (number, created_at_ms, epoch) VALUES (?, ?, ?)').run(epoch.number, epoch.createdAtMs, blob(epoch.epoch));
      const put = this.store.statement('INSERT INTO recording_keys (epoch, device_id, sealed) VALUES (?, ?, ?)');
      for (const s of sealed) put.run(epoch.number, s.deviceId, blob(s.sealed));
    });
  }

  /** Every stored epoch, oldest first. */
  epochs(): StoredEpoch[] {
    return this.store.statement<{ number: number; created_at_ms: number; epoch: Buffer }>('SELECT number, created_at_ms, epoch FROM recording_epochs ORDER BY number')
      .all().map((r) => ({ number: r.number, createdAtMs: r.created_at_ms, epoch: new Uint8Array(r.epoch) }));
  }

  /** This phone's sealed seeds from epoch `since` on, oldest first, with their epochs. */
  keysFor(deviceId: string, since: number, limit: number): { epoch: StoredEpoch; sealed: Uint8Array }[] {
    return this.store.statement<{ number: number; created_at_ms: number; epoch: Buffer; sealed: Buffer }>(
      `SELECT e.number, e.created_at_ms, e.epoch, k.sealed FROM recording_keys k JOIN recording_epochs e ON e.number = k.epoch
       WHERE k.device_id = ? AND k.epoch >= ? ORDER BY k.epoch LIMIT ?`,
    ).all(deviceId, since, limit).map((r) => ({ epoch: { number: r.number, createdAtMs: r.created_at_ms, epoch: new Uint8Array(r.epoch) }, sealed: new Uint8Array(r.sealed) }));
  }

  /**
   * Sealed seeds an owner phone shared with `deviceId` (PROTOCOL §15.7), for stored epochs only; a
   * seed the device holds already is left as it was. Run inside the caller's transaction with the
   * roster log entry that says so.
   */
  addSharedKeys(deviceId: string, keys: readonly { epoch: number; sealed: Uint8Array }[]): { stored: number[]; held: number } {
    const put = this.store.statement(`INSERT INTO recording_keys (epoch, device_id, sealed) SELECT number, ?, ? FROM recording_epochs WHERE number = ?
      ON CONFLICT (epoch, device_id) DO NOTHING`);
    const stored: number[] = [];
    for (const k of keys) if (put.run(deviceId, blob(k.sealed), k.epoch).changes === 1) stored.push(k.epoch);
    return { stored, held: keys.length - stored.length };
  }

  /** Whether the hub stores this epoch (its public part; never its seed). */
  hasEpoch(epoch: number): boolean {
    return this.store.statement('SELECT 1 FROM recording_epochs WHERE number = ?').get(epoch) !== undefined;
  }

  hasKey(deviceId: string, epoch: number): boolean {
    return this.store.statement('SELECT 1 FROM recording_keys WHERE device_id = ? AND epoch = ?').get(deviceId, epoch) !== undefined;
  }

  /** Every sealed seed (tests: the store holds nothing else of the epochs' keys). */
  allSealedKeys(): { epoch: number; deviceId: string; sealed: Uint8Array }[] {
    return this.store.statement<{ epoch: number; device_id: string; sealed: Buffer }>('SELECT epoch, device_id, sealed FROM recording_keys ORDER BY epoch, device_id')
      .all().map((r) => ({ epoch: r.epoch, deviceId: r.device_id, sealed: new Uint8Array(r.sealed) }));
  }

  /**
   * Forgets epochs older than `current` with no segment and no event left (their sealed keys go with
   * them): an event sealed to an epoch (main/store/events.ts) keeps its key for phones until it goes.
   */
  pruneEpochs(current: number): number {
    return this.store.statement(`DELETE FROM recording_epochs WHERE number < ? AND NOT EXISTS (SELECT 1 FROM segments s WHERE s.epoch = recording_epochs.number)
      AND NOT EXISTS (SELECT 1 FROM events e WHERE e.epoch = recording_epochs.number)`)
      .run(current).changes;
  }

  // ---- segments ---------------------------------------------------------------------------------

  /**
   * A new segment's row, its id from the durable counter (never reused, even after a crash), written
   * before the first byte of its file. `path(id)` names the file, relative to the data directory.
   */
  openSegment(s: { cameraId: string; epoch: number; startMs: number; bytes: number }, path: (id: number) => string): SegmentRow {
    if (!HEX_ID.test(s.cameraId)) throw new StoreError('invalid', 'openSegment', 'camera id must be 32 hex digits');
    return this.store.transaction(() => {
      const row = this.store.statement<{ value: number }>("UPDATE counters SET value = value + 1 WHERE name = 'segment' RETURNING value").get();
      if (row === undefined) throw new StoreError('not-found', 'openSegment', 'segment counter missing');
      const id = row.value;
      this.store.statement('INSERT INTO segments (id, camera_id, epoch, start_ms, end_ms, bytes, path, closed) VALUES (?, ?, ?, ?, ?, ?, ?, 0)')
        .run(id, s.cameraId, s.epoch, s.startMs, s.startMs, s.bytes, path(id));
      return { id, cameraId: s.cameraId, epoch: s.epoch, startMs: s.startMs, endMs: s.startMs, bytes: s.bytes, path: path(id), closed: false };
    });
  }

  /** What the file holds now: its end, size, and whether its final chunk is written. */
  updateSegment(id: number, u: { endMs: number; bytes: number; closed: boolean }): void {
    this.store.statement('UPDATE segments SET end_ms = max(start_ms, ?), bytes = ?, closed = ? WHERE id = ?').run(u.endMs, u.bytes, u.closed ? 1 : 0, id);
  }

  deleteSegment(id: number): void {
    this.store.statement('DELETE FROM segments WHERE id = ?').run(id);
  }

  segment(id: number): SegmentRow | undefined {
    const r = this.store.statement<SegmentDbRow>('SELECT * FROM segments WHERE id = ?').get(id);
    return r === undefined ? undefined : toSegment(r);
  }

  /** Every row (recovery at start), by id. */
  allSegments(): SegmentRow[] {
    return this.store.statement<SegmentDbRow>('SELECT * FROM segments ORDER BY id').all().map(toSegment);
  }

  /** A camera's segments overlapping [from, to), oldest first, at most `limit`. */
  segmentsIn(cameraId: string, from: number, to: number, limit: number): SegmentRow[] {
    return this.store.statement<SegmentDbRow>('SELECT * FROM segments WHERE camera_id = ? AND start_ms < ? AND end_ms >= ? ORDER BY start_ms, id LIMIT ?')
      .all(cameraId, to, from, limit).map(toSegment);
  }

  /** Only the times of a camera's segments overlapping [from, to), oldest first (for ranges). */
  timesIn(cameraId: string, from: number, to: number): { startMs: number; endMs: number }[] {
    return this.store.statement<{ start_ms: number; end_ms: number }>('SELECT start_ms, end_ms FROM segments WHERE camera_id = ? AND start_ms < ? AND end_ms >= ? ORDER BY start_ms, id')
      .all(cameraId, to, from).map((r) => ({ startMs: r.start_ms, endMs: r.end_ms }));
  }

  /** The oldest segments across cameras, for retention. */
  oldest(limit: number): SegmentRow[] {
    return this.store.statement<SegmentDbRow>('SELECT * FROM segments ORDER BY start_ms, id LIMIT ?').all(limit).map(toSegment);
  }

  /** A camera's segments that ended before `beforeMs`, oldest first. */
  endedBefore(cameraId: string, beforeMs: number, limit: number): SegmentRow[] {
    return this.store.statement<SegmentDbRow>('SELECT * FROM segments WHERE camera_id = ? AND end_ms < ? ORDER BY start_ms, id LIMIT ?')
      .all(cameraId, beforeMs, limit).map(toSegment);
  }

  /** The newest end time recorded for a camera. */
  newestEnd(cameraId: string): number | undefined {
    return this.store.statement<{ newest: number | null }>('SELECT max(end_ms) AS newest FROM segments WHERE camera_id = ?').get(cameraId)?.newest ?? undefined;
  }

  totalBytes(): number {
    return this.store.statement<{ total: number | null }>('SELECT sum(bytes) AS total FROM segments').get()?.total ?? 0;
  }

  /** Per camera that has segments: count, bytes, oldest start, newest end. */
  totals(): CameraRecordingTotals[] {
    return this.store.statement<{ camera_id: string; n: number; bytes: number; oldest: number; newest: number }>(
      'SELECT camera_id, count(*) AS n, sum(bytes) AS bytes, min(start_ms) AS oldest, max(end_ms) AS newest FROM segments GROUP BY camera_id',
    ).all().map((r) => ({ cameraId: r.camera_id, segments: r.n, bytes: r.bytes, oldestMs: r.oldest, newestMs: r.newest }));
  }

  /** Cameras with settings (any mode), for retention's keep days. */
  allSettings(): RecordingSettings[] {
    return this.store.statement<{ camera_id: string; mode: RecordingMode; keep_days: number }>('SELECT camera_id, mode, keep_days FROM recording_settings')
      .all().map((r) => ({ cameraId: r.camera_id, mode: r.mode, keepDays: r.keep_days }));
  }
}
