// A camera's own events over ONVIF (PROTOCOL §17.1): a PullPoint subscription (CreatePullPointSubscription,
// then PullMessages in a loop, Renew before it lapses, Unsubscribe on stop) where the camera offers
// it, its motion, tamper and line-crossing topics mapped onto the hub's event kinds and published
// like the hub's own detections (source 'onvif').
//
// The device is not trusted: replies pass the ONVIF client's bounded agent (size cap, no DTD), each
// reply yields at most MAX_MESSAGES notifications with bounded topics and items, an answer that
// comes back at once is not asked again before MIN_PULL_GAP_MS, and every failure is an OnvifError
// followed by a stepped backoff and a new subscription. Nothing a camera says reaches a phone but a
// kind, a time and (for motion and tamper) an end.
import type { EventKind } from './hub-events.ts';
import type { CameraDetector, DetectorSink } from './detector.ts';
import { OnvifError, toOnvifError } from '../onvif/errors.ts';

export const MAX_MESSAGES = 32;
const MAX_TOPIC = 256;
const MAX_ITEMS = 16;

export interface OnvifNotification {
  /** Without namespace prefixes: RuleEngine/CellMotionDetector/Motion. */
  readonly topic: string;
  /** Data items, Name → Value (strings, bounded). */
  readonly data: Readonly<Record<string, string>>;
  /** The message's UtcTime, Unix ms, when it parses. */
  readonly timeMs?: number;
}

export interface MappedEvent {
  readonly kind: EventKind;
  /** true: it began (or, for an instant such as a line crossed, happened); false: it ended. */
  readonly active: boolean;
  /** Over at once (line crossing): started and ended together. */
  readonly instant: boolean;
}

function asList(v: unknown): unknown[] {
  return v === undefined || v === null ? [] : Array.isArray(v) ? v : [v];
}

function rec(v: unknown): Record<string, unknown> | undefined {
  return typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined;
}

function text(v: unknown): string | undefined {
  if (typeof v === 'string') return v;
  const r = rec(v);
  if (r !== undefined && typeof r['_'] === 'string') return r['_'];
  return undefined;
}

/** The notifications of a PullMessages reply as npm `onvif` returns it; anything else is skipped. */
export function parseNotifications(reply: unknown): OnvifNotification[] {
  const out: OnvifNotification[] = [];
  for (const m of asList(rec(reply)?.['notificationMessage']).slice(0, MAX_MESSAGES)) {
    const msg = rec(m);
    const rawTopic = text(msg?.['topic']);
    if (rawTopic === undefined || rawTopic.length > MAX_TOPIC) continue;
    // "tns1:RuleEngine/CellMotionDetector/Motion": the prefix of each step goes (vendors differ in them).
    const topic = rawTopic.trim().split('/').map((s) => s.replace(/^[^:]*:/, '')).join('/');
    const inner = rec(rec(msg?.['message'])?.['message']);
    const data: Record<string, string> = {};
    for (const item of asList(rec(inner?.['data'])?.['simpleItem']).slice(0, MAX_ITEMS)) {
      const attrs = rec(rec(item)?.['$']);
      const name = attrs?.['Name'];
      const value = attrs?.['Value'];
      if (typeof name === 'string' && name.length <= 64 && (typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean')) {
        data[name] = String(value).slice(0, 64);
      }
    }
    const utc = rec(inner?.['$'])?.['UtcTime'];
    const timeMs = typeof utc === 'string' ? Date.parse(utc) : NaN;
    out.push({ topic, data, ...(Number.isFinite(timeMs) ? { timeMs } : {}) });
  }
  return out;
}

const TRUE = /^(true|1)$/i;
const FALSE = /^(false|0)$/i;

/** One state item: the first of `names` present, as a boolean (undefined: none, or not a boolean). */
function state(data: Readonly<Record<string, string>>, names: readonly string[]): boolean | undefined {
  for (const n of names) {
    const v = data[n];
    if (v === undefined) continue;
    if (TRUE.test(v)) return true;
    if (FALSE.test(v)) return false;
    return undefined;
  }
  return undefined;
}

/**
 * ONVIF's topics (Core spec, Analytics and Imaging service specs; a few vendor variants) onto the
 * hub's kinds. Unknown topics, and known ones without a readable state, map to nothing.
 */
export function mapNotification(n: OnvifNotification): MappedEvent | undefined {
  const t = n.topic.toLowerCase();
  if (/^ruleengine\/(cellmotiondetector|motionregiondetector)\/motion$/.test(t) || /^videosource\/motionalarm$/.test(t)) {
    const s = state(n.data, ['IsMotion', 'State']);
    return s === undefined ? undefined : { kind: 'motion', active: s, instant: false };
  }
  if (/^ruleengine\/tamperdetector\/tamper$/.test(t) || /^videosource\/(globalscenechange\/(imagingservice|analyticsservice|recordingservice)|imagetooblurry\/\w+|imagetoodark\/\w+|imagetoobright\/\w+|signalloss)$/.test(t)) {
    const s = state(n.data, ['IsTamper', 'State']);
    return s === undefined ? undefined : { kind: 'tamper', active: s, instant: false };
  }
  if (/^ruleengine\/linedetector\/crossed$/.test(t)) return { kind: 'line-crossing', active: true, instant: true };
  return undefined;
}

/** What the detector needs of an ONVIF session (OnvifSession.pullPoint()). */
export interface PullPoint {
  create(): Promise<unknown>;
  pull(limit: number): Promise<unknown>;
  renew(): Promise<unknown>;
  unsubscribe(): Promise<unknown>;
}

export interface OnvifEventsOptions {
  cameraId: string;
  /** Connects and returns the camera's PullPoint (a new session each time). */
  connect(): Promise<PullPoint>;
  sink: DetectorSink;
  log?: (line: string) => void;
  timing?: Partial<typeof ONVIF_EVENTS_DEFAULTS>;
}

export const ONVIF_EVENTS_DEFAULTS = {
  /** Renew this often at most (the library asks for 2 minutes each time); sooner if the camera grants less. */
  renewEveryMs: 60_000,
  /** A camera granting a very short lifetime is not renewed more often than this. */
  minRenewMs: 2_000,
  /** A device answering at once is not asked again sooner. */
  minPullGapMs: 1_000,
  /** After a failure, before subscribing again; the last step repeats. */
  backoffMs: [5_000, 30_000, 60_000, 300_000] as readonly number[],
  /** A motion or tamper the camera never says ended, ends after this. */
  maxEventMs: 5 * 60_000,
};

export class OnvifEventsDetector implements CameraDetector {
  readonly source = 'onvif';
  readonly #o: OnvifEventsOptions;
  readonly #t: typeof ONVIF_EVENTS_DEFAULTS;
  readonly #open = new Map<EventKind, { key: string; startMs: number }>();
  #running = true;
  #wake: (() => void) | undefined;
  #loop: Promise<void>;
  /** Counters for status and tests. */
  pulls = 0;
  failures = 0;
  /** Subscriptions made, Renews the camera took, and new subscriptions made because a Renew failed. */
  subscriptions = 0;
  renewals = 0;
  resubscribes = 0;
  lastError: OnvifError | undefined;

  constructor(opts: OnvifEventsOptions) {
    this.#o = opts;
    this.#t = { ...ONVIF_EVENTS_DEFAULTS, ...opts.timing };
    this.#loop = this.#run();
  }

  async stop(): Promise<void> {
    this.#running = false;
    this.#wake?.();
    // A pull may be held by the camera for up to a minute: the loop ends when it returns; the hub
    // does not wait for that (the reply is dropped, the unsubscribe is sent then).
    await Promise.race([this.#loop, new Promise((r) => setTimeout(r, 2_000).unref?.())]);
    const now = Date.now();
    for (const kind of [...this.#open.keys()]) this.#end(kind, now);
  }

  async #run(): Promise<void> {
    let attempt = 0;
    while (this.#running) {
      let pp: PullPoint | undefined;
      try {
        pp = await this.#o.connect();
        if (!this.#running) break;
        let renewEvery = this.#renewEvery(await pp.create());
        this.subscriptions++;
        let renewed = performance.now();
        attempt = 0;
        while (this.#running) {
          const t0 = performance.now();
          const reply = await pp.pull(MAX_MESSAGES);
          this.pulls++;
          this.#handle(parseNotifications(reply));
          this.#expire(Date.now());
          if (performance.now() - renewed >= renewEvery) {
            try {
              renewEvery = this.#renewEvery(await pp.renew(), renewEvery);
              this.renewals++;
            } catch (e) {
              if (!this.#running) break;
              // Renew is optional in practice (many cameras answer it with a fault): a new
              // subscription in the same session does the same. If the camera is gone, this throws too.
              if (this.resubscribes === 0) this.#o.log?.(`camera ${this.#o.cameraId.slice(0, 8)}: ONVIF events: Renew failed (${toOnvifError(e, 'Renew').code}); subscribing again instead`);
              await pp.unsubscribe().catch(() => undefined);
              renewEvery = this.#renewEvery(await pp.create());
              this.subscriptions++;
              this.resubscribes++;
            }
            renewed = performance.now();
          }
          const rest = this.#t.minPullGapMs - (performance.now() - t0);
          if (rest > 0) await this.#sleep(rest);
        }
      } catch (e) {
        this.failures++;
        this.lastError = e instanceof OnvifError ? e : toOnvifError(e, `onvif events(camera=${this.#o.cameraId.slice(0, 8)})`);
        if (!this.#running) break;
        const delay = this.#t.backoffMs[Math.min(attempt, this.#t.backoffMs.length - 1)] ?? 60_000;
        attempt++;
        this.#o.log?.(`camera ${this.#o.cameraId.slice(0, 8)}: ONVIF events: ${this.lastError.code}: ${this.lastError.message}; again in ${delay / 1000} s`);
        await this.#sleep(delay);
      } finally {
        if (pp !== undefined && !this.#running) await pp.unsubscribe().catch(() => undefined);
      }
    }
  }

  /**
   * How soon to renew: at half the lifetime the camera granted (TerminationTime - CurrentTime of a
   * Create or Renew reply, both in the camera's clock), at most renewEveryMs, at least minRenewMs;
   * `fallback` when the reply does not say.
   */
  #renewEvery(reply: unknown, fallback = this.#t.renewEveryMs): number {
    const r = rec(reply);
    const t = (k: string): number => {
      const v = r?.[k];
      return v instanceof Date ? v.getTime() : typeof v === 'string' ? Date.parse(v) : NaN;
    };
    const lifetime = t('terminationTime') - t('currentTime');
    if (!Number.isFinite(lifetime) || lifetime <= 0) return fallback;
    return Math.max(this.#t.minRenewMs, Math.min(this.#t.renewEveryMs, lifetime / 2));
  }

  #handle(list: readonly OnvifNotification[]): void {
    const now = Date.now();
    for (const n of list) {
      const m = mapNotification(n);
      if (m === undefined) continue;
      // The camera's clock may be off: the hub's time, unless the camera's is within a minute of it.
      const at = n.timeMs !== undefined && Math.abs(n.timeMs - now) < 60_000 ? n.timeMs : now;
      if (m.instant) {
        this.#start(m.kind, at);
        this.#end(m.kind, at);
      } else if (m.active) this.#start(m.kind, at);
      else this.#end(m.kind, at);
    }
  }

  #start(kind: EventKind, at: number): void {
    if (this.#open.has(kind)) return;
    const key = `onvif:${this.#o.cameraId}:${kind}:${at}`;
    this.#open.set(kind, { key, startMs: at });
    this.#o.sink.started(key, { cameraId: this.#o.cameraId, kind, source: 'onvif', startMs: at, score: 1, zones: [] });
  }

  #end(kind: EventKind, at: number): void {
    const open = this.#open.get(kind);
    if (open === undefined) return;
    this.#open.delete(kind);
    this.#o.sink.ended(open.key, { cameraId: this.#o.cameraId, kind, source: 'onvif', startMs: open.startMs, endMs: Math.max(open.startMs, at), score: 1, zones: [] });
  }

  #expire(now: number): void {
    for (const [kind, open] of [...this.#open]) if (now - open.startMs >= this.#t.maxEventMs) this.#end(kind, now);
  }

  #sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const t = setTimeout(() => {
        this.#wake = undefined;
        resolve();
      }, ms);
      this.#wake = () => {
        clearTimeout(t);
        this.#wake = undefined;
        resolve();
      };
    });
  }
}
