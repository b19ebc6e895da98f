// The cameras that run on the hub: for each one its supervised ingest (CameraFeed), its mpeg1
// profile for browsers without Media Source, and, once its codec turns out to be H.265, its h264
// profile. Everything they make goes on the media bus; what
// reads it (phones, local viewers) is not this module's business.
//
// Few wake-ups unless someone needs the camera now: ffmpeg cuts one fragment per frame (the default;
// `vigil hub --fragment-ms` gathers more), and a camera's output is read as it comes only while
// someone needs it live: a phone watches it or one of its profiles, the hub's UI shows it, or its
// motion detector decodes it (holdLive). Otherwise it is paced (native/child-output.ts): read with
// every other unwatched camera's every PACE_MS, so 8 unwatched cameras wake the hub about 4 times a
// second, and the recorder and the start cache get the same fragments, up to PACE_MS later.
import type { FfmpegInfo } from '../../native/ffmpeg.ts';
import type { IngestSource, IngestState } from '../../native/ingest.ts';
import type { Camera, Store } from '../store/db.ts';
import { CameraFeed, type FeedTuning } from './camera-feed.ts';
import type { MediaBus, MediaStream } from './media-bus.ts';
import { H264Profile, PROFILE_H264, needsH264Profile, profileNumber } from './profile-feed.ts';
import { Mpeg1Profile, PROFILE_MPEG1, mpeg1Number } from './mpeg1-feed.ts';

/** A camera that runs: its feed, its stream on the bus, and its h264 profile once it has one. */
export interface LiveCamera {
  camera: Camera;
  readonly feed: CameraFeed;
  readonly stream: MediaStream;
  profile?: { readonly transcoder: H264Profile; readonly stream: MediaStream };
  /** MPEG-1 in MPEG-TS (mpeg1-feed.ts), offered once the camera's first init segment came. */
  mpeg1?: { readonly transcoder: Mpeg1Profile; readonly stream: MediaStream };
}

/** A camera's profile by name, if it offers it now. */
export function profileOf(live: LiveCamera | undefined, name: string | undefined): { readonly transcoder: H264Profile | Mpeg1Profile; readonly stream: MediaStream } | undefined {
  if (name === PROFILE_H264) return live?.profile;
  if (name === PROFILE_MPEG1) return live?.mpeg1;
  return undefined;
}

export interface LiveCamerasOptions {
  store: Pick<Store, 'cameraUrlWithCredentials'>;
  bus: MediaBus;
  ffmpeg: FfmpegInfo | undefined;
  tuning: FeedTuning;
  /** Relay watchers of a topic, on every link (a profile's transcoder runs while it has some). */
  watchers(topic: string): number;
  /** A camera's or a profile's ingest changed state (`profile` set for a profile). */
  onState(camera: Camera, state: IngestState, profile?: string): void;
  /** A camera now offers a profile under this number (h264: its codec turned out to be H.265; mpeg1: it started). */
  onProfileAdded(camera: Camera, number: number): void;
}

function streamOf(camera: Camera, kind: MediaStream['kind'], number: number, topic: string, feed: () => Pick<CameraFeed, 'init' | 'gop'>): MediaStream {
  return {
    cameraId: camera.id, number, topic, kind,
    get init() {
      return feed().init;
    },
    get gop() {
      return feed().gop;
    },
  };
}

export class LiveCameras {
  readonly #live = new Map<number, LiveCamera>();
  /** Viewers on the hub itself (the UI's tiles) by camera number: they too want the camera live. */
  readonly #held = new Map<number, number>();

  constructor(private readonly opts: LiveCamerasOptions) {}

  get(number: number): LiveCamera | undefined {
    return this.#live.get(number);
  }

  /**
   * Someone on the hub watches the camera (a UI tile): read it as it comes until the returned
   * function is called.
   */
  holdLive(number: number): () => void {
    this.#held.set(number, (this.#held.get(number) ?? 0) + 1);
    this.#repace(this.#live.get(number));
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const n = (this.#held.get(number) ?? 1) - 1;
      if (n > 0) this.#held.set(number, n);
      else this.#held.delete(number);
      this.#repace(this.#live.get(number));
    };
  }

  /**
   * Watchers changed somewhere (a relay told the hub: HubLinks' onWatchers, wired in main/hub.ts): cameras
   * now watched are read as they come at once, so the GOP a watch starts with is the newest. Without
   * this call they would be within PACE_MS anyway (checked whenever a paced read delivers).
   */
  demandChanged(): void {
    for (const live of this.#live.values()) this.#repace(live);
  }

  /** Whether anyone needs the camera's fragments as they come. */
  #wantsLive(live: LiveCamera): boolean {
    return (this.#held.get(live.camera.number) ?? 0) > 0 || this.opts.watchers(live.stream.topic) > 0 ||
      live.profile?.transcoder.running === true || live.mpeg1?.transcoder.running === true;
  }

  #repace(live: LiveCamera | undefined): void {
    live?.feed.pace(!this.#wantsLive(live));
  }

  /** Every stream that runs or may run: cameras' own and their profiles. */
  *streams(): Generator<MediaStream> {
    for (const live of this.#live.values()) {
      yield live.stream;
      if (live.profile !== undefined) yield live.profile.stream;
      if (live.mpeg1 !== undefined) yield live.mpeg1.stream;
    }
  }

  /** The profiles the cameras offer now, for the epoch's keys: each needs a key of its own. */
  profileKeys(): { id: string; number: number }[] {
    return [...this.#live.values()].flatMap((l) => [l.profile, l.mpeg1].flatMap((p) => (p ? [{ id: l.camera.id, number: p.stream.number }] : [])));
  }

  start(camera: Camera): LiveCamera {
    const { bus } = this.opts;
    const source: IngestSource = camera.kind === 'test-pattern'
      ? { kind: 'test-pattern', size: '640x360', fps: 15 }
      : { kind: 'rtsp', url: this.opts.store.cameraUrlWithCredentials(camera.id) };
    // The callbacks run only once the feed has started, by when `stream` and `live` are set.
    const stream = streamOf(camera, 'camera', camera.number, camera.topic, () => feed);
    const feed = new CameraFeed(camera.number, source, this.opts.ffmpeg, {
      onInit: (init) => {
        bus.init(stream, init);
        if (live.profile === undefined && needsH264Profile(init.codecs)) this.#addProfile(live);
        if (live.mpeg1 === undefined) this.#addMpeg1(live);
      },
      onFragment: (f) => {
        // Paced, fragments come a few at a time every PACE_MS: see whether someone watches now.
        // Read as they come, the keyframes are often enough to notice nobody does any more.
        if (feed.paced || f.keyframe) this.#repace(live);
        bus.fragment(stream, f);
        // Subscribers on the profile's topic start it too, without a watch command (a phone still
        // subscribed across a hub restart, whose watch came before the profile existed). Checked
        // on the camera's keyframes: often enough, and no extra timer.
        if (f.keyframe) {
          for (const profile of [live.profile, live.mpeg1]) {
            if (profile !== undefined && !profile.transcoder.running && this.opts.watchers(profile.stream.topic) > 0) profile.transcoder.demand();
          }
        }
      },
      onState: (s) => this.opts.onState(live.camera, s),
    }, this.opts.tuning);
    const live: LiveCamera = { camera, feed, stream };
    this.#live.set(camera.number, live);
    this.#repace(live);
    feed.start();
    return live;
  }

  /** From now on the camera also offers its h264 profile, under a key of its own. */
  #addProfile(live: LiveCamera): void {
    const camera = live.camera;
    const number = profileNumber(camera.number);
    if (number === undefined) return;
    const { bus } = this.opts;
    const transcoder: H264Profile = new H264Profile(camera, live.feed.output, this.opts.ffmpeg, {
      onInit: (init) => bus.init(stream, init),
      onFragment: (f) => bus.fragment(stream, f),
      onState: (s) => this.opts.onState(live.camera, s, PROFILE_H264),
    }, { watchers: () => this.opts.watchers(transcoder.topic), tuning: this.opts.tuning });
    const stream = streamOf(camera, PROFILE_H264, number, transcoder.topic, () => transcoder.feed);
    live.profile = { transcoder, stream };
    this.opts.onProfileAdded(camera, number);
  }

  /** From now on the camera also offers its mpeg1 profile, under a key of its own. */
  #addMpeg1(live: LiveCamera): void {
    const camera = live.camera;
    const number = mpeg1Number(camera.number);
    if (number === undefined) return;
    const { bus } = this.opts;
    const transcoder: Mpeg1Profile = new Mpeg1Profile(camera, live.feed.output, this.opts.ffmpeg, {
      onInit: (init) => bus.init(stream, init),
      onFragment: (f) => bus.fragment(stream, f),
      onState: (s) => this.opts.onState(live.camera, s, PROFILE_MPEG1),
    }, { watchers: () => this.opts.watchers(transcoder.topic), ...(this.opts.tuning.timing ? { timing: this.opts.tuning.timing } : {}) });
    const stream = streamOf(camera, PROFILE_MPEG1, number, transcoder.topic, () => transcoder.feed);
    live.mpeg1 = { transcoder, stream };
    this.opts.onProfileAdded(camera, number);
  }

  /** Stops the camera's ingest and profiles; its streams end on the bus. */
  async stop(number: number): Promise<void> {
    const live = this.#live.get(number);
    if (live === undefined) return;
    this.#live.delete(number);
    this.opts.bus.ended(live.stream);
    if (live.profile !== undefined) this.opts.bus.ended(live.profile.stream);
    if (live.mpeg1 !== undefined) this.opts.bus.ended(live.mpeg1.stream);
    await Promise.all([live.feed.stop(), live.profile?.transcoder.close(), live.mpeg1?.transcoder.close()]);
  }

  async stopAll(): Promise<void> {
    await Promise.all([...this.#live.keys()].map((n) => this.stop(n)));
  }
}
