// Web Push to phones whose app is closed (PROTOCOL §17.3). On each event that starts, every phone
// still on the roster with a subscription whose preferences match (camera, kind, not in its quiet
// hours, past its cooldown for that camera, and, for "away only", no owner phone at home) gets one
// push: a Vigil push message (crypto/push.ts: signed by the hub, sealed to the phone, fixed size)
// inside RFC 8291's encryption, sent with VAPID. A push service answering 404 or 410 says the
// subscription is gone: it is removed. Sends run at most `maxInFlight` at a time; past that an
// event's pushes are dropped and counted (a burst of events must not queue without bound). An event
// that starts before its picture is made (`previewFollows`) is pushed once the picture comes.
import { hexToBytes } from '../hex.ts';
import { toBase64url, utf8 } from '../../crypto/bytes.ts';
import { decodeCertificate } from '../../crypto/certificate.ts';
import type { HubIdentity } from '../../crypto/identity.ts';
import { MAX_PUSH_THUMBNAIL_BYTES, sealPushMessage, type PushKind } from '../../crypto/push.ts';
import type { PushPrefs } from '../../crypto/push-prefs.ts';
import type { DetectedEvent, EventConsumer, EventKind } from '../events/hub-events.ts';
import type { Store } from '../store/db.ts';
import type { PushSubscriptions, PushSubscriptionRow } from '../store/push.ts';
import type { SendOptions, SendResult, PushTarget } from './sender.ts';

// The hub's event kinds and the kinds a push names are one list: a new kind must be added to both.
const KIND_CHECK: Record<EventKind, PushKind> = {
  motion: 'motion', tamper: 'tamper', 'line-crossing': 'line-crossing', person: 'person', vehicle: 'vehicle', animal: 'animal',
};

export interface PushCounters {
  /** Pushes the push service accepted (2xx). */
  sent: number;
  /** Refused by the push service (other than 404/410), or not reached. */
  failed: number;
  /** Subscriptions removed because the push service said 404/410. */
  gone: number;
  /** Subscriptions an event did not go to: camera, kind, quiet hours, cooldown, away only. */
  skipped: number;
  /** Pushes not sent because too many were in flight. */
  dropped: number;
}

export interface HubPushParts {
  identity: HubIdentity;
  store: Pick<Store, 'getDevice' | 'getCamera'>;
  subscriptions: PushSubscriptions;
  sender: { send(target: PushTarget, payload: Uint8Array, o: SendOptions): Promise<SendResult> };
  /** True while any owner phone is at home (its session came in on the hub's LAN endpoint). */
  ownersAtHome(): boolean;
  /** A smaller JPEG when the event's preview does not fit a push (or undefined). */
  shrink?(jpeg: Uint8Array, maxBytes: number): Promise<Uint8Array | undefined>;
  log?(line: string): void;
  now?(): number;
  send?: Partial<SendOptions>;
  maxInFlight?: number;
}

/** An hour: an alert older than that is news no more (RFC 8030 TTL). */
export const DEFAULT_PUSH_SEND: SendOptions = { ttlSeconds: 3600, urgency: 'high', timeoutMs: 10_000 };
export const DEFAULT_MAX_IN_FLIGHT = 32;
/**
 * How long a push waits for the picture of an event that started without one (the motion
 * detector's `previewFollows`: the JPEG comes 0.1-0.4 s later), then goes without it.
 */
export const PREVIEW_WAIT_MS = 6_000;

/** Minutes after midnight, in the phone's time, of a Unix ms time. */
function phoneMinute(now: number, utcOffset: number): number {
  const m = Math.floor(now / 60_000) + utcOffset;
  return ((m % 1440) + 1440) % 1440;
}

export function inQuietHours(prefs: PushPrefs, now: number): boolean {
  const q = prefs.quiet;
  if (q === undefined || q.from === q.to) return false;
  const m = phoneMinute(now, q.utcOffset);
  return q.from < q.to ? m >= q.from && m < q.to : m >= q.from || m < q.to;
}

export class HubPush implements EventConsumer {
  readonly counters: PushCounters = { sent: 0, failed: 0, gone: 0, skipped: 0, dropped: 0 };
  /** Last push per phone and camera, for the cooldown. */
  readonly #last = new Map<string, number>();
  readonly #inFlight = new Set<Promise<void>>();
  /** Events that started with `previewFollows`, waiting for their picture, by key. */
  readonly #picture = new Map<string, (preview: Uint8Array | undefined) => void>();
  /** Push requests under way. */
  #sending = 0;
  readonly #send: SendOptions;
  readonly #now: () => number;
  #closed = false;

  constructor(private readonly p: HubPushParts) {
    this.#send = { ...DEFAULT_PUSH_SEND, ...p.send };
    this.#now = p.now ?? Date.now;
  }

  started(key: string, event: DetectedEvent): void {
    if (this.#closed) return;
    const ready = event.previewFollows === true ? this.#withPicture(key, event) : Promise.resolve(event);
    const run = ready.then((e) => this.#push(e)).catch((e: unknown) => this.p.log?.(`push failed: ${e instanceof Error ? e.message : String(e)}`));
    this.#inFlight.add(run);
    void run.finally(() => this.#inFlight.delete(run));
  }

  updated(key: string, event: DetectedEvent): void {
    this.#picture.get(key)?.(event.preview);
  }

  ended(key: string, event: DetectedEvent): void {
    this.#picture.get(key)?.(event.preview);
  }

  /** The event once its picture came (the detector's next step of it), or as it is after PREVIEW_WAIT_MS. */
  #withPicture(key: string, event: DetectedEvent): Promise<DetectedEvent> {
    return new Promise((resolve) => {
      const done = (preview: Uint8Array | undefined): void => {
        clearTimeout(timer);
        this.#picture.delete(key);
        resolve(preview !== undefined ? { ...event, preview } : event);
      };
      const timer = setTimeout(() => done(undefined), PREVIEW_WAIT_MS);
      timer.unref?.();
      this.#picture.get(key)?.(undefined);
      this.#picture.set(key, done);
    });
  }

  /** Resolves when every push under way has its answer (or timed out). */
  async settled(): Promise<void> {
    while (this.#inFlight.size > 0) await Promise.all([...this.#inFlight]);
  }

  async close(): Promise<void> {
    this.#closed = true;
    for (const done of [...this.#picture.values()]) done(undefined);
    await this.settled();
  }

  /** The subscriptions an event goes to now; counts the others as skipped. */
  #recipients(event: DetectedEvent, now: number): PushSubscriptionRow[] {
    const all = this.p.subscriptions.active();
    let atHome: boolean | undefined;
    return all.filter((s) => {
      const prefs = s.prefs;
      const ok = (prefs.cameras === undefined || prefs.cameras.includes(event.cameraId))
        && (prefs.kinds === undefined || prefs.kinds.includes(KIND_CHECK[event.kind]))
        && !inQuietHours(prefs, now)
        && !(prefs.cooldownSeconds > 0 && now - (this.#last.get(`${s.deviceId}/${event.cameraId}`) ?? -Infinity) < prefs.cooldownSeconds * 1000)
        && !(prefs.awayOnly && (atHome ??= this.p.ownersAtHome()));
      if (!ok) this.counters.skipped++;
      return ok;
    });
  }

  async #push(event: DetectedEvent): Promise<void> {
    const now = this.#now();
    const camera = this.p.store.getCamera(event.cameraId);
    if (camera === undefined || camera.removedAt !== null) return;
    const recipients = this.#recipients(event, now);
    if (recipients.length === 0) return;
    const thumbnail = await this.#thumbnail(event.preview);
    await Promise.all(recipients.map(async (s) => {
      if (this.#sending >= (this.p.maxInFlight ?? DEFAULT_MAX_IN_FLIGHT)) {
        this.counters.dropped++;
        return;
      }
      const device = this.p.store.getDevice(s.deviceId);
      if (device === undefined || device.revokedAt !== null) return;
      const cert = decodeCertificate(device.certificate, this.p.identity.signing.publicKey);
      this.#last.set(`${s.deviceId}/${event.cameraId}`, now);
      const wire = sealPushMessage(this.p.identity, { deviceId: cert.deviceId, pqKey: cert.pqKey }, {
        seq: this.p.subscriptions.nextSeq(), sentAt: now, kind: KIND_CHECK[event.kind], cameraId: hexToBytes(event.cameraId),
        cameraName: camera.name, eventStart: event.startMs, thumbnail,
      });
      this.#sending++;
      try {
        this.#answered(s, await this.p.sender.send(s, utf8(toBase64url(wire)), this.#send));
      } finally {
        this.#sending--;
      }
    }));
  }

  #answered(s: PushSubscriptionRow, r: SendResult): void {
    const phone = s.deviceId.slice(0, 8);
    if ('error' in r) {
      this.counters.failed++;
      this.p.log?.(`push to phone ${phone}: ${r.error}`);
    } else if (r.status === 404 || r.status === 410) {
      // The subscription is gone (the app unsubscribed, the browser dropped it): stop sending there.
      if (this.p.subscriptions.remove(s.deviceId, s.endpoint)) this.counters.gone++;
      this.p.log?.(`push to phone ${phone}: subscription gone (${r.status}), removed`);
    } else if (r.status >= 200 && r.status < 300) {
      this.counters.sent++;
    } else {
      this.counters.failed++;
      this.p.log?.(`push to phone ${phone}: push service answered ${r.status}`);
    }
  }

  async #thumbnail(preview: Uint8Array | undefined): Promise<Uint8Array> {
    if (preview === undefined || preview.length === 0) return new Uint8Array(0);
    if (preview.length <= MAX_PUSH_THUMBNAIL_BYTES) return preview;
    const smaller = await this.p.shrink?.(preview, MAX_PUSH_THUMBNAIL_BYTES).catch(() => undefined);
    return smaller !== undefined && smaller.length <= MAX_PUSH_THUMBNAIL_BYTES ? smaller : new Uint8Array(0);
  }
}
