// The events screen (PROTOCOL §17.2): the hub's recent events, opened on this phone, newest first,
// each with its camera, kind, time and picture, and a count of the ones not seen yet on the header's
// Events button. Everything arrives sealed over the session: the list as briefs (`events`), each
// picture with `event-image`, new events as the hub's notices {type: 'event'}; all opened here with
// the recording epochs' seeds this phone holds (phone/core/events.ts), kept in memory only and
// wiped when the link closes. A tap opens the camera's timeline at the event's pre-roll.
import { toHex } from '../../../crypto/bytes.ts';
import { PhoneEvents, type PhoneEvent } from '../../core/events.ts';
import type { HubLink } from '../../core/hub-link.ts';
import type { PhoneProfile } from '../../core/profile.ts';
import { PhoneRecordings } from '../../core/recordings.ts';
import type { Notice } from '../../../crypto/messages.ts';
import { EventFeed, RECENT_MS, kindLabel, timelineTarget, whenLabel } from './events.ts';

/** Pictures fetched (`event-image`) after a list: the newest events', one at a time. */
const PICTURES_AFTER_LIST = 12;
/** Widest picture drawn (CSS pixels are the stylesheet's). */
const PICTURE_WIDTH = 320;

export interface EventsParts {
  readonly link: HubLink;
  readonly profile: PhoneProfile;
  /** The camera's name as the hub lists it (undefined: not known yet). */
  cameraName(cameraId: string): string | undefined;
  /** A tap on an event: open that camera's timeline there. */
  onOpen(target: { camera: string; time: number }): void;
}

function $<T extends HTMLElement = HTMLElement>(id: string): T {
  const el = document.getElementById(id);
  if (el === null) throw new Error(`the page has no #${id}`);
  return el as T;
}

export class EventsPanel {
  readonly #p: EventsParts;
  readonly #recs: PhoneRecordings;
  readonly #events: PhoneEvents;
  readonly #feed = new EventFeed();
  /** Decoded pictures by event id (dropped with their event). */
  readonly #pictures = new Map<number, ImageBitmap>();
  readonly #seenKey: string;
  #seenUpTo: number;
  #closed = false;
  #loading: Promise<void> | undefined;
  #fetchingPictures = false;

  constructor(parts: EventsParts) {
    this.#p = parts;
    this.#recs = new PhoneRecordings(parts.link, parts.profile);
    this.#events = new PhoneEvents(parts.link, parts.profile, this.#recs);
    // Which event ids the user has seen: a number, not a secret; per hub.
    this.#seenKey = `vigil-events-seen-${toHex(parts.profile.hub.hubId)}`;
    this.#seenUpTo = Number(localStorage.getItem(this.#seenKey) ?? 0) || 0;
    $('events-open').hidden = false;
    this.#render();
  }

  /** Lists the recent events (again); one list at a time. */
  load(): Promise<void> {
    this.#loading ??= (async () => {
      try {
        await this.#recs.refreshKeys();
        const { events, refused } = await this.#events.list({ since: Date.now() - RECENT_MS });
        if (this.#closed) return;
        for (const e of events) this.#feed.put(e);
        $('events-error').textContent = refused.length > 0 ? `${refused.length} event${refused.length === 1 ? '' : 's'} did not open (${refused[0]}).` : '';
        this.#render();
        void this.#fetchPictures();
      } catch (e) {
        if (!this.#closed) $('events-error').textContent = `Cannot list events: ${e instanceof Error ? e.message : String(e)}`;
      } finally {
        this.#loading = undefined;
      }
    })();
    return this.#loading;
  }

  /** A notice from the hub: an event opened (and shown) if it is new or newer; undefined otherwise. */
  async onNotice(n: Notice): Promise<PhoneEvent | undefined> {
    if (n.type !== 'event' || this.#closed) return undefined;
    const e = await this.#events.fromNotice(n);
    if (e === undefined || this.#closed) return undefined;
    if (this.#feed.put(e)) {
      if (e.preview !== undefined) await this.#decode(e);
      // An event that arrives while the list is on screen is seen as it arrives.
      if (document.body.dataset.screen === 'events') this.markSeen();
      this.#render();
    }
    return e;
  }

  /** An owner shared older recording epochs with this phone: their keys, then the events they open. */
  async historyShared(from: number): Promise<void> {
    if (this.#closed) return;
    await this.#recs.refreshKeys(from);
    await this.load();
  }

  /** The event of this camera starting at `start`, if this phone has it (for a notification's link). */
  find(cameraId: string, start: number): PhoneEvent | undefined {
    return this.#feed.find(cameraId, start);
  }

  /** The list was looked at: nothing is unseen any more. */
  markSeen(): void {
    this.#seenUpTo = Math.max(this.#seenUpTo, this.#feed.newestId);
    localStorage.setItem(this.#seenKey, String(this.#seenUpTo));
    this.#renderBadge();
  }

  /** The camera names changed (the hub's list came): the rows say them. */
  camerasChanged(): void {
    this.#render();
  }

  close(): void {
    this.#closed = true;
    this.#recs.close();
    for (const b of this.#pictures.values()) b.close();
    this.#pictures.clear();
    this.#feed.clear();
    $('events').replaceChildren();
    $('events-open').hidden = true;
  }

  async #fetchPictures(): Promise<void> {
    if (this.#fetchingPictures) return;
    this.#fetchingPictures = true;
    try {
      for (const e of this.#feed.list().slice(0, PICTURES_AFTER_LIST)) {
        if (this.#closed) return;
        if (this.#pictures.has(e.id) || e.preview !== undefined) continue;
        const r = await this.#events.image(e.id).catch(() => undefined);
        if (r === undefined || !r.ok || this.#closed) continue;
        this.#feed.put(r.event);
        if (r.event.preview !== undefined) {
          await this.#decode(r.event);
          this.#render();
        }
      }
    } finally {
      this.#fetchingPictures = false;
    }
  }

  /** Decodes an event's JPEG (createImageBitmap: no image URL, so the CSP's img-src stays 'self'). */
  async #decode(e: PhoneEvent): Promise<void> {
    if (e.preview === undefined) return;
    try {
      const bitmap = await createImageBitmap(new Blob([new Uint8Array(e.preview)], { type: 'image/jpeg' }));
      this.#pictures.get(e.id)?.close();
      this.#pictures.set(e.id, bitmap);
    } catch {
      // Not a picture the browser decodes: the row shows none.
    }
  }

  #renderBadge(): void {
    const n = this.#feed.unseen(this.#seenUpTo);
    const badge = $('events-badge');
    badge.textContent = n > 99 ? '99+' : String(n);
    badge.hidden = n === 0;
    badge.dataset.unseen = String(n);
    $('events-open').setAttribute('aria-label', n === 0 ? 'Events' : `Events, ${n} new`);
  }

  #render(): void {
    if (this.#closed) return;
    this.#renderBadge();
    const now = Date.now();
    const list = this.#feed.list();
    // Pictures of events no longer listed go.
    const ids = new Set(list.map((e) => e.id));
    for (const [id, b] of this.#pictures) {
      if (!ids.has(id)) {
        b.close();
        this.#pictures.delete(id);
      }
    }
    $('events').replaceChildren(...list.map((e) => {
      const camera = this.#p.cameraName(e.cameraId) ?? 'A camera';
      const li = document.createElement('li');
      const b = document.createElement('button');
      b.type = 'button';
      b.className = 'event';
      b.dataset.event = String(e.id);
      b.dataset.camera = e.cameraId;
      b.dataset.kind = e.kind;
      b.dataset.start = String(e.start);
      if (e.id > this.#seenUpTo) b.dataset.unseen = 'true';
      const picture = this.#pictures.get(e.id);
      const canvas = document.createElement('canvas');
      canvas.className = 'event-picture';
      canvas.setAttribute('role', 'img');
      canvas.setAttribute('aria-label', picture !== undefined ? `Picture of the ${kindLabel(e.kind).toLowerCase()} at ${camera}` : 'No picture');
      if (picture !== undefined) {
        const scale = Math.min(1, PICTURE_WIDTH / picture.width);
        canvas.width = Math.round(picture.width * scale);
        canvas.height = Math.round(picture.height * scale);
        canvas.getContext('2d')?.drawImage(picture, 0, 0, canvas.width, canvas.height);
        canvas.dataset.drawn = `${picture.width}x${picture.height}`;
      } else {
        canvas.width = 16;
        canvas.height = 9;
      }
      const text = document.createElement('span');
      text.className = 'event-text';
      const title = document.createElement('span');
      title.className = 'event-title';
      title.textContent = `${kindLabel(e.kind)} — ${camera}`;
      const when = document.createElement('span');
      when.className = 'event-when';
      when.textContent = `${whenLabel(e.start, now)}${e.end === undefined ? ' · going on' : ''}`;
      text.append(title, when);
      b.append(canvas, text);
      b.addEventListener('click', () => this.#p.onOpen(timelineTarget(e)));
      li.append(b);
      return li;
    }));
    $('events-empty').textContent = list.length === 0 ? 'No events in the last three days.' : '';
  }
}
