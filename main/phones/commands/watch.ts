// watch and unwatch (PROTOCOL §10.2, §11.1, §11.4). A watch sends the phone the stream's init segment
// and GOP so far, sealed to it directly, so its picture starts at once; the stream itself goes on the
// relay topic the phone subscribed to. Phones that watch get the hub's clock every few seconds, so
// they can tell a live picture from an old one replayed or held back by a relay.
import type { IngestInit } from '../../../native/ingest.ts';
import type { Notice } from '../../../crypto/messages.ts';
import type { EpochKeys } from '../../epoch-keys.ts';
import { profileOf, type LiveCameras } from '../../media/live-cameras.ts';
import type { MediaConsumer, MediaStream } from '../../media/media-bus.ts';
import type { PhonePublisher } from '../publisher.ts';
import type { Device, Store } from '../../store/db.ts';
import { liveCamera, streamOf, type Handler } from './handlers.ts';

/** How often phones that watch get the hub's clock (a phone calls a picture late after 5 s). */
export const CLOCK_NOTICE_MS = 5_000;

export interface WatchParts {
  store: Pick<Store, 'getCamera' | 'getDevice' | 'audit'>;
  cameras: Pick<LiveCameras, 'get'>;
  keys: Pick<EpochKeys, 'epoch'>;
  publisher: Pick<PhonePublisher, 'sendStart'>;
  /** Relay watchers of a topic, on every link. */
  watchers(topic: string): number;
  notify(deviceId: string, notice: Notice): void;
}

export class Watching implements MediaConsumer {
  /** Phones that watch, with the topics they asked for: they get the hub's clock notice. */
  readonly #watching = new Map<string, Set<string>>();
  /** Phones that asked for a profile before its transcoder had an init segment, by profile topic. */
  readonly #waiting = new Map<string, Map<string, Device>>();
  #clock: ReturnType<typeof setInterval> | undefined;

  constructor(private readonly p: WatchParts) {}

  start(): void {
    this.#clock = setInterval(() => this.#sendClock(), CLOCK_NOTICE_MS);
    this.#clock.unref();
  }

  stop(): void {
    clearInterval(this.#clock);
  }

  readonly watch: Handler<'watch'> = async (args, { device }) => {
    const live = liveCamera(this.p.store, this.p.cameras, args.camera);
    const stream = streamOf(live, args.profile);
    const profile = profileOf(live, args.profile)?.transcoder;
    if (profile === undefined || stream.init !== undefined) this.p.publisher.sendStart(stream, device);
    else {
      // The transcoder is starting: the phone gets the init segment and GOP as soon as it has them.
      const waiting = this.#waiting.get(stream.topic) ?? new Map<string, Device>();
      waiting.set(device.id, device);
      this.#waiting.set(stream.topic, waiting);
    }
    // Starts the transcoder if it is not running (and holds it for its grace period).
    profile?.demand();
    this.p.store.audit(device.id, 'watched', { camera: live.camera.id, ...(profile ? { profile: profile.name } : {}) });
    const topics = this.#watching.get(device.id) ?? new Set<string>();
    topics.add(stream.topic);
    this.#watching.set(device.id, topics);
    // hubTime: the phone's round trip to this answer bounds the hub's clock (PROTOCOL §11.4).
    return { ok: true, epoch: this.p.keys.epoch, hubTime: Date.now(), ...(profile ? { profile: profile.name, number: profile.number } : {}) };
  };

  readonly unwatch: Handler<'unwatch'> = async (args, { device }) => {
    // The relay tells the hub when a topic has no watchers left; a profile stops after its grace.
    const live = liveCamera(this.p.store, this.p.cameras, args.camera);
    const topic = streamOf(live, args.profile).topic;
    const topics = this.#watching.get(device.id);
    topics?.delete(topic);
    if (topics?.size === 0) this.#watching.delete(device.id);
    return { ok: true };
  };

  /** A profile's transcoder has its init segment: phones that asked while it started get their start now. */
  init(stream: MediaStream, _init: IngestInit): void {
    const waiting = this.#waiting.get(stream.topic);
    if (waiting === undefined) return;
    this.#waiting.delete(stream.topic);
    for (const device of waiting.values()) this.p.publisher.sendStart(stream, device);
  }

  ended(stream: MediaStream): void {
    this.#waiting.delete(stream.topic);
  }

  /** A stream stopped (a profile's transcoder went idle): nobody waits for its start any more. */
  stopped(topic: string): void {
    this.#waiting.delete(topic);
  }

  /**
   * The hub's clock to every phone that watches, inside its session. A phone whose topics nobody
   * watches any more (it left without unwatching) or that was removed is dropped from the list.
   */
  #sendClock(): void {
    for (const [id, topics] of this.#watching) {
      const device = this.p.store.getDevice(id);
      if (device === undefined || device.revokedAt !== null || [...topics].every((t) => this.p.watchers(t) === 0)) {
        this.#watching.delete(id);
        continue;
      }
      this.p.notify(id, { type: 'clock', hubTime: Date.now() });
    }
  }
}
