// Events, on the phone (PROTOCOL §17.2): the hub's event list and each event's picture, opened here
// with the recording epochs' seeds this phone holds (phone/core/recordings.ts RecordingKeyring).
// The hub sealed them to epochs it cannot open; the relay saw only session ciphertext. Used by
// vigil-phone (phone/cli-events.ts) and the app alike: both hand notices of type 'event' to
// `fromNotice` and ask `list` and `image`.
import { fromBase64url, toHex } from '../../crypto/bytes.ts';
import { isCryptoError } from '../../crypto/errors.ts';
import { openEvent, readEventHeader, type EventRecord, type OpenedEvent } from '../../crypto/event.ts';
import type { Notice } from '../../crypto/messages.ts';
import type { ArgsOf, ResultOf } from '../../crypto/phone-commands.ts';
import type { PhoneProfile } from './profile.ts';
import type { PhoneRecordings } from './recordings.ts';

/** What events need of the hub link (HubLink has it). */
export interface EventsLink {
  command(action: 'events', args: ArgsOf<'events'>): Promise<ResultOf<'events'>>;
  command(action: 'event-image', args: ArgsOf<'event-image'>): Promise<ResultOf<'event-image'>>;
}

/** An event as this phone opened it (the sealed record, crypto/event.ts) and where it sits on the hub. */
export interface PhoneEvent extends EventRecord {
  readonly id: number;
  /** hex, as list-cameras names cameras. */
  readonly cameraId: string;
  readonly epoch: number;
  /** Higher is newer: a later seal of the same event (a better picture, its end). */
  readonly revision: number;
}

export type OpenOutcome =
  | { readonly ok: true; readonly event: PhoneEvent }
  | { readonly ok: false; readonly code: 'no-recording-key' | 'refused'; readonly why: string };

export interface EventCounters {
  /** Sealed events this phone holds no key of (it should not have been sent them). */
  noKey: number;
  /** Sealed events that did not open: altered, another hub's, not the event named. */
  refused: number;
}

/** Pages of `events` one list asks at most (a loop bound: 100 events a page). */
const MAX_PAGES = 100;

export class PhoneEvents {
  readonly counters: EventCounters = { noKey: 0, refused: 0 };
  /** The newest revision seen of each event, times 2, plus 1 with its picture (an older seal is not shown over a newer one). */
  readonly #revisions = new Map<number, number>();

  constructor(private readonly link: EventsLink, private readonly profile: PhoneProfile, private readonly recordings: Pick<PhoneRecordings, 'keys' | 'refreshKeys'>) {}

  /**
   * Opens a sealed event the hub sent as event `id`. An epoch whose seed this phone does not hold
   * yet (a new one the hub made since) is fetched once with `recording-keys`.
   */
  async open(id: number, sealedB64: string): Promise<OpenOutcome> {
    let wire: Uint8Array;
    let epoch: number;
    try {
      wire = fromBase64url(sealedB64);
      epoch = readEventHeader(wire).epoch;
    } catch (e) {
      this.counters.refused++;
      return { ok: false, code: 'refused', why: `event ${id}: not a sealed event (${isCryptoError(e) ? e.code : 'malformed'})` };
    }
    if (!this.recordings.keys.has(epoch)) await this.recordings.refreshKeys();
    const seed = this.recordings.keys.seed(epoch);
    if (seed === undefined) {
      this.counters.noKey++;
      return { ok: false, code: 'no-recording-key', why: `event ${id}: this phone holds no key of recording epoch ${epoch}` };
    }
    let opened: OpenedEvent;
    try {
      opened = openEvent(wire, { epoch, seed }, this.profile.hub);
    } catch (e) {
      this.counters.refused++;
      return { ok: false, code: 'refused', why: `event ${id}: does not open (${isCryptoError(e) ? e.code : 'malformed'})` };
    }
    if (opened.header.eventId !== BigInt(id)) {
      this.counters.refused++;
      return { ok: false, code: 'refused', why: `event ${id}: sealed as event ${opened.header.eventId}` };
    }
    return { ok: true, event: toPhoneEvent(opened) };
  }

  /**
   * A notice of type 'event' opened, if it is newer than what was seen of that event; undefined
   * for other notices, older revisions, and ones that do not open (counted).
   */
  async fromNotice(notice: Notice): Promise<PhoneEvent | undefined> {
    if (notice.type !== 'event' || !Number.isSafeInteger(notice.id) || typeof notice.sealed !== 'string') return undefined;
    const r = await this.open(notice.id, notice.sealed);
    if (!r.ok) return undefined;
    // A list carries no picture: the same revision with its picture is news too.
    const rank = r.event.revision * 2 + (r.event.preview !== undefined ? 1 : 0);
    const seen = this.#revisions.get(r.event.id);
    if (seen !== undefined && seen >= rank) return undefined;
    this.#revisions.set(r.event.id, rank);
    return r.event;
  }

  /**
   * The events the hub lists for this phone (only epochs it holds a key of), oldest first, opened;
   * `refused` says why any did not open. Pages through the hub's answers (bounded).
   */
  async list(q: { camera?: string; since?: number } = {}): Promise<{ events: PhoneEvent[]; refused: string[] }> {
    const events: PhoneEvent[] = [];
    const refused: string[] = [];
    let after: number | undefined;
    for (let page = 0; page < MAX_PAGES; page++) {
      const r = await this.link.command('events', { ...(q.camera !== undefined ? { camera: q.camera } : {}), ...(q.since !== undefined ? { since: q.since } : {}), ...(after !== undefined ? { after } : {}) });
      for (const item of r.events) {
        const o = await this.open(item.id, item.sealed);
        if (o.ok) {
          events.push(o.event);
          this.#revisions.set(o.event.id, Math.max(this.#revisions.get(o.event.id) ?? 0, o.event.revision * 2));
        } else refused.push(o.why);
      }
      const last = r.events[r.events.length - 1];
      if (!r.more || last === undefined || (after !== undefined && last.id <= after)) break;
      after = last.id;
    }
    return { events, refused };
  }

  /** One event's whole record, its picture included. */
  async image(id: number): Promise<OpenOutcome> {
    const r = await this.link.command('event-image', { id });
    if (r.id !== id) {
      this.counters.refused++;
      return { ok: false, code: 'refused', why: `asked for event ${id}, the hub answered ${r.id}` };
    }
    return this.open(id, r.sealed);
  }
}

function toPhoneEvent(o: OpenedEvent): PhoneEvent {
  const { header, record } = o;
  return {
    id: Number(header.eventId), cameraId: toHex(header.cameraId), epoch: header.epoch, revision: header.revision,
    kind: record.kind, source: record.source, start: record.start, ...(record.end !== undefined ? { end: record.end } : {}),
    score: record.score, zones: record.zones, recording: record.recording, ...(record.preview !== undefined ? { preview: record.preview } : {}),
  };
}

/** An event as one line of JSON (vigil-phone events): times ISO 8601, the camera by name when known. */
export function eventJson(e: PhoneEvent, cameraName?: string): Record<string, unknown> {
  const iso = (ms: number): string => new Date(ms).toISOString();
  return {
    id: e.id, camera: cameraName ?? e.cameraId, cameraId: e.cameraId, kind: e.kind, start: iso(e.start), end: e.end !== undefined ? iso(e.end) : null,
    score: e.score, zones: e.zones, source: e.source, recording: { from: iso(e.recording.from), to: iso(e.recording.to) },
    revision: e.revision, epoch: e.epoch, preview: e.preview !== undefined ? e.preview.length : null,
  };
}
