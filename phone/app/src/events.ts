// The app's events list, apart from the page (events.dom.ts) so Node tests it: the events this
// phone opened (PROTOCOL §17.2), newest first, one entry per event at its newest revision, how many
// the user has not seen, and the words the list and the timeline's marks use.
import type { PhoneEvent } from '../../core/events.ts';

/** How far back the list reaches when the app starts (the timeline shows any day's). */
export const RECENT_MS = 3 * 24 * 3600_000;
/** The most events the list keeps (the oldest go first). */
export const MAX_LISTED = 200;
/**
 * Where a tap opens the timeline when only the event's start is known (a notification's link):
 * its pre-roll, as the hub seals it in `recording.from` (PROTOCOL §17.2, PRE_ROLL_MS).
 */
export const EVENT_PRE_ROLL_MS = 5000;

const KIND_TITLE: Readonly<Record<string, string>> = {
  motion: 'Motion', tamper: 'Camera tampered with', 'line-crossing': 'Line crossed', person: 'Person', vehicle: 'Vehicle', animal: 'Animal',
};

/** "Motion", "Line crossed"; a kind the app does not know yet as its own words ("door-open" → "Door open"). */
export function kindLabel(kind: string): string {
  const known = KIND_TITLE[kind];
  if (known !== undefined) return known;
  const words = kind.replace(/-/g, ' ').trim();
  return words === '' ? 'Event' : words[0]!.toUpperCase() + words.slice(1);
}

/** When, for a list: "14:05:07" today, "Yesterday 14:05", else "2026-06-08 14:05" (local). */
export function whenLabel(t: number, now: number): string {
  const d = new Date(t);
  const n = new Date(now);
  const two = (x: number) => String(x).padStart(2, '0');
  const hm = `${two(d.getHours())}:${two(d.getMinutes())}`;
  const sameDay = (a: Date, b: Date) => a.getFullYear() === b.getFullYear() && a.getMonth() === b.getMonth() && a.getDate() === b.getDate();
  if (sameDay(d, n)) return `${hm}:${two(d.getSeconds())}`;
  if (sameDay(d, new Date(n.getFullYear(), n.getMonth(), n.getDate() - 1, 12))) return `Yesterday ${hm}`;
  return `${d.getFullYear()}-${two(d.getMonth() + 1)}-${two(d.getDate())} ${hm}`;
}

/** Where the timeline opens for an event: its camera, at its start less the pre-roll. */
export function timelineTarget(e: Pick<PhoneEvent, 'cameraId' | 'start' | 'recording'>): { camera: string; time: number } {
  return { camera: e.cameraId, time: Math.min(e.start, e.recording.from) };
}

/**
 * The events this phone knows, by id: a later revision replaces an earlier one (its end, a better
 * score), keeping the picture if the later one came without it (a list's brief); an older
 * revision never replaces a newer. Bounded: past MAX_LISTED the oldest go.
 */
export class EventFeed {
  readonly #byId = new Map<number, PhoneEvent>();

  constructor(private readonly most = MAX_LISTED) {}

  /** Takes an event; returns whether anything shown changed. */
  put(e: PhoneEvent): boolean {
    const old = this.#byId.get(e.id);
    if (old !== undefined) {
      if (e.revision < old.revision || (e.revision === old.revision && (e.preview === undefined || old.preview !== undefined))) return false;
      this.#byId.set(e.id, e.preview === undefined && old.preview !== undefined ? { ...e, preview: old.preview } : e);
      return true;
    }
    this.#byId.set(e.id, e);
    if (this.#byId.size > this.most) {
      const oldest = [...this.#byId.values()].sort(newestFirst).slice(this.most);
      for (const x of oldest) this.#byId.delete(x.id);
    }
    return this.#byId.has(e.id);
  }

  get(id: number): PhoneEvent | undefined {
    return this.#byId.get(id);
  }

  /** Newest first (by start, then id). */
  list(): PhoneEvent[] {
    return [...this.#byId.values()].sort(newestFirst);
  }

  /** How many events have an id above `seenUpTo` (ids grow: the hub's durable counter). */
  unseen(seenUpTo: number): number {
    let n = 0;
    for (const id of this.#byId.keys()) if (id > seenUpTo) n++;
    return n;
  }

  /** The highest id held (what "seen" moves to when the list is opened). */
  get newestId(): number {
    let n = 0;
    for (const id of this.#byId.keys()) n = Math.max(n, id);
    return n;
  }

  /** The event of this camera that starts at `start`, if known (a notification names only those). */
  find(cameraId: string, start: number): PhoneEvent | undefined {
    for (const e of this.#byId.values()) if (e.cameraId === cameraId && e.start === start) return e;
    return undefined;
  }

  get size(): number {
    return this.#byId.size;
  }

  clear(): void {
    this.#byId.clear();
  }
}

function newestFirst(a: PhoneEvent, b: PhoneEvent): number {
  return b.start - a.start || b.id - a.id;
}
