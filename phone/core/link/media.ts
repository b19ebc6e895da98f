// What the link watches and opens: subscriptions and watch commands, watching again after a
// reconnect (in rounds: a newer one ends an older one), key updates under one hub-wide epoch
// floor, frames opened end to end (what is not for us is counted and skipped, never shown), and
// the liveness clock fed by the hub's authenticated time.
import { equalBytes, fromHex } from '../../../crypto/bytes.ts';
import { isCryptoError } from '../../../crypto/errors.ts';
import { FrameOpener } from '../../../crypto/frame.ts';
import type { KeyUpdate } from '../../../crypto/keyupdate.ts';
import type { WatchArgs } from '../../../crypto/phone-commands.ts';
import type { MediaMessage } from '../../../relay/client.ts';
import { LiveClock, type Liveness } from '../liveness.ts';
import { CommandError, streamOf, type CameraInfo, type HubLinkOptions, type LinkCounters, type WatchOptions } from './api.ts';
import type { Paths } from './paths.ts';
import type { Rpc } from './rpc.ts';
import { sleep, type LinkTimers } from './timers.ts';

/** Between tries to watch again after a reconnect while the hub is not back on the relay (15.5 s in all). */
export const REWATCH_RETRY_MS = [500, 1000, 2000, 4000, 8000];
/** Tries, and the step between them, to subscribe while a relay cluster learns our capability. */
const SUBSCRIBE_TRIES = 5;
const SUBSCRIBE_STEP_MS = 300;
/** At most this often, watch again only to measure the hub's clock (it re-sends the GOP). */
const REMEASURE_INTERVAL_MS = 30_000;

export class Media {
  readonly counters: LinkCounters = { opened: 0, notForMe: 0, replayed: 0, tampered: 0, stale: 0, malformed: 0, relayDropped: 0 };
  /** How old the newest picture of each stream is, against the hub's clock (liveness.ts). */
  readonly clock: LiveClock;
  private readonly opener = new FrameOpener();
  private epoch = -1;
  /** The streams the newest epoch's key update named, to tell when the hub's cameras changed. */
  private streams: string | undefined;
  private readonly watched = new Map<string, { camera: CameraInfo; opts: WatchOptions }>();
  private rewatchRound = 0;
  /** Ends a rewatch wait at once (close()); the loop then sees `closed`. */
  private readonly rewatchWaits = new Set<() => void>();
  private lastRemeasure = -Infinity;
  private closed = false;

  constructor(
    private readonly opts: HubLinkOptions,
    private readonly timers: LinkTimers,
    /** The monotonic clock (liveness.now, else the timers'). */
    now: () => number,
    private readonly paths: Paths,
    private readonly rpc: Rpc,
    /** Resolves when the link may send (HubLink.ready()). */
    private readonly ready: () => Promise<void>,
  ) {
    this.clock = new LiveClock({ ...opts.liveness, now });
  }

  get currentEpoch(): number {
    return this.epoch;
  }

  get watching(): boolean {
    return this.watched.size > 0;
  }

  /**
   * Subscribes first, then asks the hub for the init segment and latest GOP, so nothing falls
   * between. With a `profile` ('h264', 'mpeg1') it watches the hub's transcode of the camera instead
   * (the hub runs it while someone watches); its frames carry the profile's camera number.
   */
  async watch(camera: CameraInfo, opts: WatchOptions): Promise<void> {
    const { topic } = streamOf(camera, opts);
    this.watched.set(topic, { camera, opts });
    await this.ready();
    await this.subscribe(fromHexId(topic));
    await this.watchCommand(camera, opts);
  }

  async unwatch(camera: CameraInfo, opts: WatchOptions): Promise<void> {
    const { topic, number } = streamOf(camera, opts);
    this.watched.delete(topic);
    this.clock.forget(number);
    await this.paths.client.unsubscribe(this.opts.profile.hub.relayKey, fromHexId(topic)).catch(() => undefined);
    await this.rpc.command('unwatch', watchArgs(camera, opts)).catch(() => undefined);
  }

  /**
   * Whether what arrives of this stream is live: the newest picture's capture time against the
   * hub's clock, which only authenticated session messages carry (liveness.ts).
   */
  liveness(camera: CameraInfo, opts: WatchOptions): Liveness {
    return this.clock.liveness(streamOf(camera, opts).number);
  }

  /** The hub's clock stepped forward and a round trip is on its way: nothing is known yet. */
  get clockStepped(): boolean {
    return this.clock.stepped;
  }

  /**
   * Subscribes, retrying briefly: in a relay cluster the hub's capability for this phone can reach
   * our node a moment after we ask.
   */
  private async subscribe(topic: Uint8Array): Promise<void> {
    for (let attempt = 0; ; attempt++) {
      try {
        await this.paths.client.subscribe(this.opts.profile.hub.relayKey, topic);
        return;
      } catch (e) {
        if ((e as { code?: string }).code !== 'no-capability' || attempt >= SUBSCRIBE_TRIES - 1) throw e;
        await sleep(this.timers, SUBSCRIBE_STEP_MS * (attempt + 1));
      }
    }
  }

  /** The watch command, timed: the round trip to its answer's `hubTime` bounds the hub's clock. */
  private async watchCommand(camera: CameraInfo, opts: WatchOptions): Promise<void> {
    const sentAt = this.clock.now();
    const result = await this.rpc.command('watch', watchArgs(camera, opts));
    // Hubs from before liveness (issue 14) answer without it.
    if (typeof result.hubTime === 'number') this.clock.answered(sentAt, result.hubTime, streamOf(camera, opts).number);
  }

  /** On a new path (or after a hub restart): subscribe there again and ask for the latest GOP. */
  rewatch(): void {
    const round = ++this.rewatchRound;
    for (const [topic, { camera, opts }] of this.watched) void this.rewatchOne(round, topic, camera, opts);
  }

  /**
   * After a relay restart the phone can be back before the hub: the relay then refuses the
   * subscription (the hub has not re-granted it yet) and the watch command (the hub is offline).
   * Both are tried again for a while, so the stream comes back once the hub does; a newer round
   * (another reconnect) or unwatching ends this one.
   */
  private async rewatchOne(round: number, topic: string, camera: CameraInfo, opts: WatchOptions): Promise<void> {
    for (let attempt = 0; ; attempt++) {
      if (this.closed || round !== this.rewatchRound || !this.watched.has(topic)) return;
      try {
        // Not this.subscribe(): its own retries would nest inside these.
        await this.paths.client.subscribe(this.opts.profile.hub.relayKey, fromHexId(topic));
        await this.watchCommand(camera, opts);
        return;
      } catch {
        if (attempt >= REWATCH_RETRY_MS.length || this.closed) return;
        await new Promise<void>((resolve) => {
          const stop = (): void => {
            timer.cancel();
            this.rewatchWaits.delete(stop);
            resolve();
          };
          const timer = this.timers.after(REWATCH_RETRY_MS[attempt]!, stop);
          this.rewatchWaits.add(stop);
        });
      }
    }
  }

  /** A clock notice from the hub (authenticated, in order). */
  onClock(hubTime: number): void {
    this.clock.notice(hubTime);
    if (this.clock.remeasure) this.remeasure();
  }

  /** The hub's clock notices say ours is off (or late): watch one stream again to measure. */
  private remeasure(): void {
    const first = this.watched.values().next();
    if (first.done === true || this.clock.now() - this.lastRemeasure < REMEASURE_INTERVAL_MS) return;
    this.lastRemeasure = this.clock.now();
    this.watchCommand(first.value.camera, first.value.opts).catch(() => undefined);
  }

  takeKeyUpdate(update: KeyUpdate): void {
    // Epochs are hub-wide and every stream changes key at once: an update older than the newest one
    // taken is a replay, even for a stream that update lacked (an h264 profile keyed mid-epoch).
    const profile = this.opts.profile;
    const floor = profile.epochFloor ?? -1;
    if (update.epoch < floor) {
      this.counters.replayed++;
      return;
    }
    if (update.epoch > floor) {
      this.opener.removeKeysBefore(update.epoch);
      profile.epochFloor = update.epoch;
      this.opts.onProfileChanged?.(profile);
    }
    for (const c of update.cameras) {
      try {
        this.opener.addKey({ hubId: update.hubId, cameraId: c.cameraId, cameraNumber: c.cameraNumber, epoch: update.epoch, key: c.key });
      } catch (e) {
        // An older epoch than one we hold is a replay; keep the newer key.
        this.count(e);
      }
    }
    if (update.epoch > this.epoch) {
      this.epoch = update.epoch;
      this.opts.onKeyUpdate?.(update.epoch);
      // A camera added or removed starts a new epoch, which ends every session: the hub's
      // 'cameras-changed' notice, sent right after, finds this phone without one and is lost. The
      // new epoch's streams say the same, so say it here (once per change; none for the first).
      const streams = update.cameras.map((c) => `${c.cameraId}/${c.cameraNumber}`).sort().join(',');
      if (this.streams !== undefined && streams !== this.streams) this.opts.onNotice?.({ type: 'cameras-changed' });
      this.streams = streams;
    }
  }

  onMedia(m: MediaMessage): void {
    if (!equalBytes(m.hubRelayId, this.opts.profile.hub.relayKey)) {
      this.counters.notForMe++;
      return;
    }
    this.counters.relayDropped += m.dropped;
    try {
      this.openFrame(m.payload);
    } catch (e) {
      this.count(e);
    }
  }

  openFrame(wire: Uint8Array): void {
    const frame = this.opener.open(wire);
    this.counters.opened++;
    if (frame.frameType !== 'init') this.clock.frame(frame.cameraNumber, frame.captureTime);
    this.opts.onFrame?.(frame);
  }

  /** Counts what failed to open by its kind: "not for me" apart from everything else. */
  count(e: unknown): void {
    if (!isCryptoError(e)) {
      this.counters.malformed++;
      return;
    }
    switch (e.code) {
      case 'not-for-me':
        this.counters.notForMe++;
        return;
      case 'replayed':
        this.counters.replayed++;
        return;
      case 'tampered':
        this.counters.tampered++;
        return;
      case 'expired':
        // A message of a session that has ended (link/session.ts keeps the last one a moment).
        this.counters.stale++;
        return;
      default:
        this.counters.malformed++;
    }
  }

  /** Ends every rewatch wait; the loops then see `closed`. */
  close(): void {
    this.closed = true;
    for (const stop of this.rewatchWaits) stop();
  }
}

function watchArgs(camera: CameraInfo, opts: WatchOptions): WatchArgs {
  return opts.profile === undefined ? { camera: camera.id } : { camera: camera.id, profile: opts.profile };
}

function fromHexId(hex: string): Uint8Array {
  if (!/^[0-9a-f]{32}$/.test(hex)) throw new CommandError('bad camera topic from hub');
  return fromHex(hex);
}
