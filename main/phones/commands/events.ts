// events and event-image (PROTOCOL §17.3): a phone's list of events and one event's sealed record
// with its picture. The hub hands out what it stored, sealed to recording epochs it cannot open
// (crypto/event.ts); a phone is given only events of epochs it holds a key of, so a phone paired
// later, or one removed, learns nothing of events outside its epochs, not even that they happened.
import { briefEvent } from '../../../crypto/event.ts';
import { toBase64url } from '../../../crypto/bytes.ts';
import { CommandRefused, MAX_EVENTS_LISTED } from '../../../crypto/phone-commands.ts';
import type { Store } from '../../store/db.ts';
import type { EventIndex } from '../../store/events.ts';
import type { RecordingIndex } from '../../store/recordings.ts';
import type { Handler } from './handlers.ts';

/** JSON an `events` answer may hold: a session message carries 60 000 bytes (§11.2). */
const ANSWER_BUDGET_CHARS = 50_000;

export interface EventCommandParts {
  store: Pick<Store, 'getCamera' | 'audit'>;
  events: Pick<EventIndex, 'listFor' | 'get'>;
  recordings: Pick<RecordingIndex, 'hasKey'>;
}

export class EventCommands {
  /** `event-image` refusals for want of a key since start (tests, status). */
  refusedNoKey = 0;

  constructor(private readonly p: EventCommandParts) {}

  readonly list: Handler<'events'> = async (args, { device }) => {
    let cameraId: string | undefined;
    if (args.camera !== undefined) {
      const camera = this.p.store.getCamera(args.camera);
      if (camera === undefined) throw new CommandRefused('no-such-camera', 'no such camera');
      cameraId = camera.id;
    }
    const rows = this.p.events.listFor(device.id, {
      ...(cameraId !== undefined ? { cameraId } : {}), ...(args.since !== undefined ? { since: args.since } : {}),
      ...(args.after !== undefined ? { afterId: args.after } : {}), limit: MAX_EVENTS_LISTED + 1,
    });
    let budget = ANSWER_BUDGET_CHARS;
    const events: { id: number; sealed: string }[] = [];
    for (const row of rows.slice(0, MAX_EVENTS_LISTED)) {
      const item = { id: row.id, sealed: toBase64url(briefEvent(row.sealed!)) };
      budget -= item.sealed.length + 32;
      if (budget < 0) break;
      events.push(item);
    }
    return { events, more: events.length < rows.length };
  };

  readonly image: Handler<'event-image'> = async ({ id }, { device }) => {
    const row = this.p.events.get(id);
    if (row === undefined || row.sealed === null || row.epoch === null) throw new CommandRefused('no-such-event', 'no such event (deleted, or never sealed)');
    if (!this.p.recordings.hasKey(device.id, row.epoch)) {
      this.refusedNoKey++;
      this.p.store.audit(device.id, 'command-refused', { reason: 'no-recording-key', action: 'event-image', event: row.id, epoch: row.epoch });
      throw new CommandRefused('no-recording-key', 'this phone holds no key for that event (paired after it, or removed before it)');
    }
    return { id: row.id, sealed: toBase64url(row.sealed) };
  };
}
