// Events stored and told to phones (PROTOCOL §17): the consumer on the events bus that seals each
// event to the current recording epoch (crypto/event.ts), keeps its row (main/store/events.ts) and
// sends the sealed record at once to every online phone that holds that epoch's key. While an event
// goes on it is sealed again at most every RESEAL_MS (a better picture, a higher score), at once for
// its first picture, and once more when it ends. The hub holds only the epoch's public key: what it sealed, it cannot open.
import { fromHex, toBase64url } from '../../crypto/bytes.ts';
import { MAX_PREVIEW_BYTES, sealEvent, type EventRecord } from '../../crypto/event.ts';
import type { HubIdentity } from '../../crypto/identity.ts';
import type { Notice } from '../../crypto/messages.ts';
import type { RecordingEpoch } from '../../crypto/recording.ts';
import type { Device } from '../store/db.ts';
import type { EventIndex, SealedEventRow } from '../store/events.ts';
import type { DetectedEvent, EventConsumer } from './hub-events.ts';

/** Recording kept before an event starts and after it ends: where the timeline opens. */
export const PRE_ROLL_MS = 5_000;
export const POST_ROLL_MS = 5_000;
/** An ongoing event is sealed again (and phones told) at most this often. */
export const RESEAL_MS = 2_000;
/** How often old events are deleted. */
export const PRUNE_EVERY_MS = 3600_000;
const DAY_MS = 24 * 3600 * 1000;
/** Rows deleted per query, and at most per camera in one pass (a loop bound: the next pass goes on). */
const PRUNE_BATCH = 1000;
const MAX_PRUNE_BATCHES = 100;
/** Events going on at once, across cameras; more are dropped (and logged): a loop bound. */
export const MAX_ONGOING = 256;

/** What phones and Web Push learn of a sealing: the row, the record's revision and its sealed bytes. */
export interface SealedEvent {
  readonly row: SealedEventRow;
  readonly revision: number;
  readonly sealed: Uint8Array;
  /** The event as the detector gave it (kind, camera, times, preview): for the hub's own use only. */
  readonly event: DetectedEvent;
}

export interface EventSealerParts {
  identity: HubIdentity;
  index: EventIndex;
  /** The recording epoch events are sealed to now; undefined when none (then only the clear row is kept). */
  epoch(): RecordingEpoch | undefined;
  /** The phones on the roster. */
  devices(): readonly Device[];
  /** Whether this phone holds a sealed seed of that epoch (removed phones hold none of later ones). */
  hasKey(deviceId: string, epoch: number): boolean;
  notify(deviceId: string, notice: Notice): void;
  /** The camera's recordings' keep days: its events go with them (PROTOCOL §15.6). */
  keepDays(cameraId: string): number;
  /** Retention every hour (default); false for tests that call prune() themselves. */
  timers?: boolean;
  now?: () => number;
  log?(line: string): void;
}

interface Ongoing {
  readonly id: number;
  revision: number;
  latest: DetectedEvent;
  sealedAt: number;
  timer: ReturnType<typeof setTimeout> | undefined;
}

export class EventSealer implements EventConsumer {
  readonly #ongoing = new Map<string, Ongoing>();
  readonly #listeners = new Set<(e: SealedEvent) => void>();
  #stopped = false;
  #timer: ReturnType<typeof setInterval> | undefined;
  /** Events dropped (too many at once, bad fields) and notices sent, since start (tests, status). */
  readonly counters = { dropped: 0, sealed: 0, notices: 0, unsealed: 0 };

  constructor(private readonly p: EventSealerParts) {}

  /** Called after each sealing (Web Push listens here). Returns the unsubscribe. */
  onSealed(listener: (e: SealedEvent) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** Events a stopped hub left unended end at their start: nothing later is known of them. */
  start(): void {
    const n = this.p.index.endUnended();
    if (n > 0) this.p.log?.(`events: ${n} left unended by the hub's last stop, ended at their start`);
    this.prune();
    if (this.p.timers !== false) {
      this.#timer = setInterval(() => this.prune(), PRUNE_EVERY_MS);
      this.#timer.unref?.();
    }
  }

  /** Deletes events older than their camera's keep days; returns how many went. */
  prune(): number {
    try {
      const n = pruneEvents(this.p.index, (c) => this.p.keepDays(c), this.#now());
      if (n > 0) this.p.log?.(`events: deleted ${n} past their camera's keep days`);
      return n;
    } catch (e) {
      this.p.log?.(`events: retention failed: ${e instanceof Error ? e.message : String(e)}`);
      return 0;
    }
  }

  /** Seals each ongoing event a last time as it stands, and stops. */
  stop(): void {
    clearInterval(this.#timer);
    for (const [key, o] of this.#ongoing) {
      clearTimeout(o.timer);
      this.#reseal(key, o);
    }
    this.#ongoing.clear();
    this.#stopped = true;
  }

  started(key: string, event: DetectedEvent): void {
    if (this.#stopped) return;
    if (this.#ongoing.has(key)) {
      this.updated(key, event);
      return;
    }
    if (this.#ongoing.size >= MAX_ONGOING) {
      this.counters.dropped++;
      this.p.log?.(`events: more than ${MAX_ONGOING} at once, one on camera ${event.cameraId.slice(0, 8)} dropped`);
      return;
    }
    const epoch = this.p.epoch();
    let sealed: Uint8Array | undefined;
    const row = this.p.index.insert({ cameraId: event.cameraId, kind: event.kind, startMs: event.startMs }, (id) => {
      if (epoch === undefined) return undefined;
      sealed = this.#seal(epoch, id, 0, event);
      return sealed === undefined ? undefined : { epoch: epoch.epoch, sealed };
    });
    const o: Ongoing = { id: row.id, revision: 0, latest: event, sealedAt: this.#now(), timer: undefined };
    this.#ongoing.set(key, o);
    if (sealed !== undefined) this.#told(row, 0, sealed, event);
    else this.counters.unsealed++;
  }

  updated(key: string, event: DetectedEvent): void {
    const o = this.#ongoing.get(key);
    if (o === undefined) return;
    // The event's first picture (the detector sends `started` before its preview is made) is sealed
    // and told at once: phones have the event already and wait only for the picture.
    const firstPicture = event.preview !== undefined && o.latest.preview === undefined;
    o.latest = merge(o.latest, event);
    if (firstPicture) clearTimeout(o.timer);
    else if (o.timer !== undefined) return;
    o.timer = undefined;
    const wait = o.sealedAt + RESEAL_MS - this.#now();
    if (wait <= 0 || firstPicture) {
      this.#reseal(key, o);
      return;
    }
    o.timer = setTimeout(() => {
      o.timer = undefined;
      if (this.#ongoing.get(key) === o) this.#reseal(key, o);
    }, wait);
    o.timer.unref?.();
  }

  ended(key: string, event: DetectedEvent): void {
    const o = this.#ongoing.get(key);
    if (o === undefined) return;
    clearTimeout(o.timer);
    this.#ongoing.delete(key);
    o.latest = merge(o.latest, { ...event, endMs: event.endMs ?? this.#now() });
    this.#reseal(key, o);
  }

  #reseal(_key: string, o: Ongoing): void {
    o.sealedAt = this.#now();
    const epoch = this.p.epoch();
    const endMs = o.latest.endMs;
    const sealed = epoch === undefined ? undefined : this.#seal(epoch, o.id, o.revision + 1, o.latest);
    if (epoch === undefined || sealed === undefined) {
      if (endMs !== undefined) this.p.index.update(o.id, { endMs });
      return;
    }
    o.revision++;
    this.p.index.update(o.id, { ...(endMs !== undefined ? { endMs } : {}), epoch: epoch.epoch, sealed });
    const row = this.p.index.get(o.id);
    if (row !== undefined) this.#told(row, o.revision, sealed, o.latest);
  }

  #seal(epoch: RecordingEpoch, id: number, revision: number, e: DetectedEvent): Uint8Array | undefined {
    const record = recordOf(e);
    if (e.preview !== undefined && e.preview.length > MAX_PREVIEW_BYTES) {
      this.p.log?.(`events: a ${e.preview.length}-byte preview is over ${MAX_PREVIEW_BYTES} bytes: sealed without it`);
    }
    try {
      return sealEvent(this.p.identity, epoch, { cameraId: fromHex(e.cameraId), eventId: BigInt(id), revision }, record);
    } catch (err) {
      this.counters.dropped++;
      this.p.log?.(`events: event ${id} not sealed: ${err instanceof Error ? err.message : String(err)}`);
      return undefined;
    }
  }

  /** The sealed record to every online phone that holds the epoch's key, then to listeners. */
  #told(row: SealedEventRow, revision: number, sealed: Uint8Array, event: DetectedEvent): void {
    this.counters.sealed++;
    const epoch = row.epoch;
    if (epoch !== null) {
      const notice: Notice = { type: 'event', id: row.id, sealed: toBase64url(sealed) };
      for (const d of this.p.devices()) {
        if (d.revokedAt !== null || !this.p.hasKey(d.id, epoch)) continue;
        this.p.notify(d.id, notice);
        this.counters.notices++;
      }
    }
    for (const l of this.#listeners) {
      try {
        l({ row, revision, sealed, event });
      } catch (err) {
        this.p.log?.(`events: a listener failed: ${err instanceof Error ? err.message : String(err)}`);
      }
    }
  }

  #now(): number {
    return (this.p.now ?? Date.now)();
  }
}

/** A later report of the same event: its fields win, but a picture is kept until a new one comes. */
function merge(before: DetectedEvent, after: DetectedEvent): DetectedEvent {
  const preview = after.preview ?? before.preview;
  return { ...before, ...after, score: Math.max(before.score, after.score), ...(preview !== undefined ? { preview } : {}) };
}

/** The record sealed: the recording range is the event with its pre- and post-roll. */
export function recordOf(e: DetectedEvent): EventRecord {
  const end = e.endMs !== undefined ? Math.max(e.endMs, e.startMs) : undefined;
  const preview = e.preview !== undefined && e.preview.length > 0 && e.preview.length <= MAX_PREVIEW_BYTES ? e.preview : undefined;
  return {
    kind: e.kind, source: e.source.slice(0, 32), start: e.startMs, ...(end !== undefined ? { end } : {}),
    score: Math.min(1, Math.max(0, Number.isFinite(e.score) ? e.score : 0)), zones: e.zones.slice(0, 16),
    recording: { from: Math.max(0, e.startMs - PRE_ROLL_MS), to: (end ?? e.startMs) + POST_ROLL_MS },
    ...(preview !== undefined ? { preview } : {}),
  };
}

/**
 * Retention: a camera's events go when its recordings would (their keep days, `vigil record
 * --keep-days`), so an event never outlives by long the recordings it points at nor the epoch
 * it is sealed to. Bounded per pass.
 */
export function pruneEvents(index: Pick<EventIndex, 'cameras' | 'deleteBefore'>, keepDays: (cameraId: string) => number, now: number): number {
  let deleted = 0;
  for (const cameraId of index.cameras()) {
    const before = now - keepDays(cameraId) * DAY_MS;
    for (let i = 0; i < MAX_PRUNE_BATCHES; i++) {
      const n = index.deleteBefore(cameraId, before, PRUNE_BATCH);
      deleted += n;
      if (n < PRUNE_BATCH) break;
    }
  }
  return deleted;
}
