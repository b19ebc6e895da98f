// The store's part for events (PROTOCOL §17, schema step 4): one row per event. Its camera, kind and
// times are in clear, so `vigil events` lists them on the hub and retention finds old ones; the
// rest (score, zones, source, the preview picture) exists only sealed to a recording epoch
// (crypto/event.ts), which the hub cannot open. Times are Unix ms, as for segments.
import type { Store } from './db.ts';
import { StoreError } from './errors.ts';

export interface EventRow {
  readonly id: number;
  readonly cameraId: string;
  readonly kind: string;
  readonly startMs: number;
  /** null while the event goes on. */
  readonly endMs: number | null;
  /** The recording epoch `sealed` is sealed to; null when no epoch existed to seal to. */
  readonly epoch: number | null;
}

export interface SealedEventRow extends EventRow {
  readonly sealed: Uint8Array | null;
}

interface EventDbRow {
  id: number;
  camera_id: string;
  kind: string;
  start_ms: number;
  end_ms: number | null;
  epoch: number | null;
  sealed?: Buffer | null;
}

function toRow(r: EventDbRow): SealedEventRow {
  return {
    id: r.id, cameraId: r.camera_id, kind: r.kind, startMs: r.start_ms, endMs: r.end_ms, epoch: r.epoch,
    sealed: r.sealed === undefined || r.sealed === null ? null : new Uint8Array(r.sealed),
  };
}

function blob(bytes: Uint8Array | null): Buffer | null {
  return bytes === null ? null : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

const HEX_ID = /^[0-9a-f]{32}$/;
const CLEAR = 'id, camera_id, kind, start_ms, end_ms, epoch';

export interface EventQuery {
  readonly cameraId?: string;
  /** Events that started at or after this (Unix ms). */
  readonly since?: number;
  /** Only ids above this: the next page after the last one listed. */
  readonly afterId?: number;
  readonly limit: number;
}

export class EventIndex {
  constructor(private readonly store: Pick<Store, 'statement' | 'transaction'>) {}

  /**
   * A new event's row. Its id comes from the durable counter 'event' (never reused); `seal(id)`
   * makes its sealed record inside the same transaction (the id is in the record's header).
   */
  insert(e: { cameraId: string; kind: string; startMs: number }, seal: (id: number) => { epoch: number; sealed: Uint8Array } | undefined): SealedEventRow {
    if (!HEX_ID.test(e.cameraId)) throw new StoreError('invalid', 'insertEvent', 'camera id must be 32 hex digits');
    return this.store.transaction(() => {
      const row = this.store.statement<{ value: number }>("UPDATE counters SET value = value + 1 WHERE name = 'event' RETURNING value").get();
      if (row === undefined) throw new StoreError('not-found', 'insertEvent', 'event counter missing');
      const id = row.value;
      const s = seal(id);
      this.store.statement('INSERT INTO events (id, camera_id, kind, start_ms, end_ms, epoch, sealed) VALUES (?, ?, ?, ?, NULL, ?, ?)')
        .run(id, e.cameraId, e.kind, e.startMs, s?.epoch ?? null, blob(s?.sealed ?? null));
      return { id, cameraId: e.cameraId, kind: e.kind, startMs: e.startMs, endMs: null, epoch: s?.epoch ?? null, sealed: s?.sealed ?? null };
    });
  }

  /** A re-seal (a better picture, the end): the sealed record and epoch, and the end once known. */
  update(id: number, u: { endMs?: number; epoch: number; sealed: Uint8Array } | { endMs: number }): void {
    if ('sealed' in u) {
      this.store.statement('UPDATE events SET end_ms = coalesce(max(start_ms, ?), end_ms), epoch = ?, sealed = ? WHERE id = ?')
        .run(u.endMs ?? null, u.epoch, blob(u.sealed), id);
    } else {
      this.store.statement('UPDATE events SET end_ms = max(start_ms, ?) WHERE id = ?').run(u.endMs, id);
    }
  }

  get(id: number): SealedEventRow | undefined {
    const r = this.store.statement<EventDbRow>('SELECT * FROM events WHERE id = ?').get(id);
    return r === undefined ? undefined : toRow(r);
  }

  /** Times and kinds (no sealed bytes), oldest first, from `afterId` on. */
  list(q: EventQuery): EventRow[] {
    return this.#select(CLEAR, q).map(({ sealed: _sealed, ...row }) => row);
  }

  /** With their sealed records, for phones. */
  listSealed(q: EventQuery): SealedEventRow[] {
    return this.#select('*', q);
  }

  /**
   * Sealed events this phone can open (it holds a sealed seed of their epoch), oldest id first.
   * Events of epochs before it was paired, or after it was removed, are not listed to it at all.
   */
  listFor(deviceId: string, q: EventQuery): SealedEventRow[] {
    const where: string[] = ['e.id > ?', 'e.start_ms >= ?', 'e.sealed IS NOT NULL'];
    const args: (string | number)[] = [deviceId, q.afterId ?? 0, q.since ?? 0];
    if (q.cameraId !== undefined) {
      where.push('e.camera_id = ?');
      args.push(q.cameraId);
    }
    return this.store.statement<EventDbRow>(`SELECT e.* FROM events e JOIN recording_keys k ON k.epoch = e.epoch AND k.device_id = ?
      WHERE ${where.join(' AND ')} ORDER BY e.id LIMIT ?`).all(...args, q.limit).map(toRow);
  }

  #select(columns: string, q: EventQuery): SealedEventRow[] {
    const where: string[] = ['id > ?', 'start_ms >= ?'];
    const args: (string | number)[] = [q.afterId ?? 0, q.since ?? 0];
    if (q.cameraId !== undefined) {
      where.push('camera_id = ?');
      args.push(q.cameraId);
    }
    return this.store.statement<EventDbRow>(`SELECT ${columns} FROM events WHERE ${where.join(' AND ')} ORDER BY id LIMIT ?`)
      .all(...args, q.limit).map(toRow);
  }

  /** Events left unended by a hub that stopped: ended at their start (nothing better is known). */
  endUnended(): number {
    return this.store.statement('UPDATE events SET end_ms = start_ms WHERE end_ms IS NULL').run().changes;
  }

  /** Deletes a camera's events that started before `beforeMs`, at most `limit`. */
  deleteBefore(cameraId: string, beforeMs: number, limit: number): number {
    return this.store.statement('DELETE FROM events WHERE id IN (SELECT id FROM events WHERE camera_id = ? AND start_ms < ? ORDER BY id LIMIT ?)')
      .run(cameraId, beforeMs, limit).changes;
  }

  /** Cameras that have events. */
  cameras(): string[] {
    return this.store.statement<{ camera_id: string }>('SELECT DISTINCT camera_id FROM events').all().map((r) => r.camera_id);
  }
}
