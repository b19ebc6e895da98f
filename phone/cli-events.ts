// `vigil-phone events` and `vigil-phone event-image`: the hub's events, opened on this phone
// (phone/core/events.ts), one JSON object per line with --json; with --follow, the events the hub
// tells this phone as they happen, for N seconds.
import { writeFileSync } from 'node:fs';
import type { Notice } from '../crypto/messages.ts';
import { PhoneEvents, eventJson, type PhoneEvent } from './core/events.ts';
import type { CameraInfo, HubLink } from './core/hub-link.ts';
import type { PhoneProfile } from './core/profile.ts';
import { PhoneRecordings } from './core/recordings.ts';

/** Notices reach the CLI through the link's hook (set when the link is made); this hands them on. */
export class NoticeTap {
  #to: ((n: Notice) => void) | undefined;

  readonly onNotice = (n: Notice): void => this.#to?.(n);

  listen(to: (n: Notice) => void): void {
    this.#to = to;
  }
}

export interface EventsOptions {
  /** Camera name or id. */
  readonly camera?: string;
  readonly json: boolean;
  /** Follow for this many seconds after listing. */
  readonly followSeconds?: number;
}

function line(e: PhoneEvent, names: Map<string, string>, json: boolean): string {
  if (json) return JSON.stringify(eventJson(e, names.get(e.cameraId)));
  const end = e.end !== undefined ? new Date(e.end).toISOString() : 'ongoing';
  return `${e.id}\t${names.get(e.cameraId) ?? e.cameraId}\t${e.kind}\t${new Date(e.start).toISOString()}\t${end}\t${e.score.toFixed(2)}${e.zones.length > 0 ? `\t${e.zones.join(',')}` : ''}`;
}

function cameraNamed(cameras: readonly CameraInfo[], name: string): CameraInfo | undefined {
  return cameras.find((c) => c.name === name) ?? cameras.find((c) => c.id === name);
}

/** Lists (and follows) events; returns the exit code: 1 if any event did not open. */
export async function printEvents(link: HubLink, profile: PhoneProfile, tap: NoticeTap, o: EventsOptions, fail: (why: string) => Error): Promise<number> {
  const recordings = new PhoneRecordings(link, profile);
  const events = new PhoneEvents(link, profile, recordings);
  try {
    const cameras = await link.listCameras();
    const names = new Map(cameras.map((c) => [c.id, c.name]));
    let cameraId: string | undefined;
    if (o.camera !== undefined) {
      const camera = cameraNamed(cameras, o.camera);
      if (camera === undefined) throw fail(`no camera "${o.camera}" on this hub (have: ${cameras.map((c) => c.name).join(', ') || 'none'})`);
      cameraId = camera.id;
    }
    // Notices that arrive while the list is fetched wait their turn: the list is printed first.
    const queue: Notice[] = [];
    let wake: (() => void) | undefined;
    tap.listen((n) => {
      if (n.type !== 'event' || o.followSeconds === undefined) return;
      queue.push(n);
      wake?.();
    });
    await recordings.refreshKeys();
    for (const why of recordings.refusedKeys) console.error(`recording key refused: ${why}`);
    const listed = await events.list(cameraId !== undefined ? { camera: cameraId } : {});
    for (const e of listed.events) console.log(line(e, names, o.json));
    for (const why of listed.refused) console.error(`event refused: ${why}`);
    if (!o.json && listed.events.length === 0 && o.followSeconds === undefined) console.log('no events');
    if (o.followSeconds !== undefined) {
      console.error(`following events for ${o.followSeconds} s`);
      const deadline = Date.now() + o.followSeconds * 1000;
      for (;;) {
        const n = queue.shift();
        if (n !== undefined) {
          const e = await events.fromNotice(n);
          if (e !== undefined && (cameraId === undefined || e.cameraId === cameraId)) console.log(line(e, names, o.json));
          continue;
        }
        const left = deadline - Date.now();
        if (left <= 0) break;
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, left);
          wake = () => {
            clearTimeout(timer);
            resolve();
          };
        });
        wake = undefined;
      }
    }
    const c = events.counters;
    if (c.refused + c.noKey > 0) console.error(`events not shown: ${c.refused} did not open, ${c.noKey} of epochs this phone holds no key of`);
    if (link.linkState === 'removed') throw fail('this phone was removed from the hub');
    return c.refused > 0 ? 1 : 0;
  } finally {
    recordings.close();
  }
}

/** How long event-image waits for the picture of an event that started RECENT_EVENT_MS ago or less. */
const PICTURE_WAIT_MS = 5_000;
const RECENT_EVENT_MS = 30_000;

/** Writes an event's preview JPEG; fails if the event has none or does not open. */
export async function saveEventImage(link: HubLink, profile: PhoneProfile, id: number, out: string, fail: (why: string) => Error): Promise<void> {
  const recordings = new PhoneRecordings(link, profile);
  try {
    await recordings.refreshKeys();
    const events = new PhoneEvents(link, profile, recordings);
    let r = await events.image(id);
    // The hub sends an event as soon as it starts and its picture 0.1-0.5 s later (PROTOCOL 17):
    // a just-started event without one yet is asked for again, for a bounded while.
    const until = Date.now() + PICTURE_WAIT_MS;
    while (r.ok && r.event.preview === undefined && Date.now() - r.event.start < RECENT_EVENT_MS && Date.now() < until) {
      await new Promise((done) => setTimeout(done, 500));
      r = await events.image(id);
    }
    if (!r.ok) throw fail(r.why);
    if (r.event.preview === undefined) throw fail(`event ${id} has no picture`);
    writeFileSync(out, r.event.preview, { mode: 0o644 });
    console.log(`saved event ${id}'s ${r.event.preview.length}-byte picture (${r.event.kind}, ${new Date(r.event.start).toISOString()}) to ${out}`);
  } finally {
    recordings.close();
  }
}

/**
 * The events of one camera that started within [from, to) (Unix ms), opened on this phone, oldest
 * first, for `vigil-phone recordings`: where the timeline puts its marks. Events that do not open
 * are said on stderr and left out.
 */
export async function eventsBetween(link: HubLink, profile: PhoneProfile, cameraId: string, from: number, to: number): Promise<PhoneEvent[]> {
  const recordings = new PhoneRecordings(link, profile);
  try {
    await recordings.refreshKeys();
    const listed = await new PhoneEvents(link, profile, recordings).list({ camera: cameraId, since: from });
    for (const why of listed.refused) console.error(`event refused: ${why}`);
    return listed.events.filter((e) => e.start >= from && e.start < to);
  } finally {
    recordings.close();
  }
}
