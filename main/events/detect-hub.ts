// The hub's detection (PROTOCOL §17.1), composed: a media bus consumer that runs a MotionDetector for
// each camera whose motion detection is on (on the camera's main stream as the hub ingests it, or,
// for a camera added from ONVIF discovery that lists one, its substream: substream.ts), and whatever
// CameraDetectors the hub adds per camera (the camera's ONVIF events), all publishing to the hub's
// EventBus. Settings come from the store; `vigil detect` writes them from
// another process, so every SETTINGS_POLL_MS the store's data_version is read and, when it moved,
// the settings are read again and applied (a detector starts, stops or takes the new ones).
import type { FfmpegInfo } from '../../native/ffmpeg.ts';
import type { IngestFragment, IngestInit } from '../../native/ingest.ts';
import type { MediaConsumer, MediaStream } from '../media/media-bus.ts';
import { DetectionStore, type DetectionSettings } from '../store/detection.ts';
import type { Store } from '../store/db.ts';
import type { TrackerTuning } from './detect-tracker.ts';
import type { CameraDetector, DetectorSink } from './detector.ts';
import { MotionDetector, type MotionDetectorTiming } from './motion-detector.ts';
import { OnvifEventsDetector } from './onvif-events.ts';
import { resolveSubstream, SubstreamFeed, type SubstreamResolver } from './substream.ts';
import { decodePin } from '../discovery/pins.ts';
import { openPinnedSession } from '../onvif/camera-control.ts';
import type { FeedTuning } from '../media/camera-feed.ts';

export const SETTINGS_POLL_MS = 1_000;

export interface HubDetectionOptions {
  store: Pick<Store, 'statement' | 'transaction' | 'getCamera' | 'cameraUrlWithCredentials'>;
  ffmpeg: FfmpegInfo | undefined;
  sink: DetectorSink;
  log?: (line: string) => void;
  timing?: Partial<MotionDetectorTiming>;
  tracker?: Partial<TrackerTuning>;
  /**
   * Other detectors of a camera whose detection is on; started and stopped with it. Default: the
   * camera's ONVIF events when it was added from ONVIF discovery (its pin holds the device service).
   */
  extra?: (settings: DetectionSettings) => CameraDetector | undefined;
  /**
   * Finds a camera's substream (default: resolveSubstream for a camera with an ONVIF pin); false:
   * always the main stream.
   */
  substream?: SubstreamResolver | false;
  /** The substream ingest's supervision (default: native/ingest.ts's). */
  substreamTuning?: FeedTuning;
  /**
   * Has the camera's main stream read as it comes, not paced, until the returned function is
   * called (LiveCameras.holdLive). An unwatched camera's output is otherwise read every PACE_MS
   * (250 ms), which the time from motion to a phone's notice cannot spare.
   */
  holdPrompt?: (cameraNumber: number) => () => void;
}

interface CameraDetection {
  settings: DetectionSettings;
  motion: MotionDetector;
  extra: CameraDetector | undefined;
  /** What the motion decoder reads now: the bus's main stream, or the substream while it is live. */
  source: 'main' | 'substream';
  sub: SubstreamFeed | undefined;
  /** Ends the prompt reading of the main stream while the decoder reads it (undefined: not held). */
  release: (() => void) | undefined;
}

export class HubDetection implements MediaConsumer {
  readonly #o: HubDetectionOptions;
  readonly #settings: DetectionStore;
  /** The camera streams seen on the bus, by camera id (a detector turned on later joins them). */
  readonly #streams = new Map<string, MediaStream>();
  readonly #running = new Map<string, CameraDetection>();
  #version = -1;
  #timer: ReturnType<typeof setInterval> | undefined;
  #closed = false;

  constructor(opts: HubDetectionOptions) {
    this.#o = opts;
    this.#settings = new DetectionStore(opts.store);
  }

  start(): void {
    if (this.#closed || this.#timer !== undefined) return;
    this.#poll();
    this.#timer = setInterval(() => this.#poll(), SETTINGS_POLL_MS);
    this.#timer.unref?.();
  }

  /** The camera's motion detector, if it runs (for tests and status). */
  detector(cameraId: string): MotionDetector | undefined {
    return this.#running.get(cameraId)?.motion;
  }

  /** Which stream the camera's motion decoder reads (for tests and status). */
  motionSource(cameraId: string): { source: 'main' | 'substream'; width?: number; height?: number } | undefined {
    const r = this.#running.get(cameraId);
    if (r === undefined) return undefined;
    const s = r.source === 'substream' ? r.sub?.substream : undefined;
    return { source: r.source, ...(s ? { width: s.width, height: s.height } : {}) };
  }

  /** Re-reads the settings now (the hub's own changes; others are seen by the poll). */
  reload(): void {
    this.#version = -1;
    this.#poll();
  }

  init(stream: MediaStream, init: IngestInit): void {
    if (stream.kind !== 'camera') return;
    this.#streams.set(stream.cameraId, stream);
    const running = this.#running.get(stream.cameraId);
    if (running === undefined) this.#apply(stream.cameraId);
    else if (running.source === 'main') running.motion.init(stream, init);
  }

  fragment(stream: MediaStream, fragment: IngestFragment): void {
    if (stream.kind !== 'camera') return;
    const running = this.#running.get(stream.cameraId);
    if (running?.source === 'main') running.motion.fragment(fragment);
  }

  ended(stream: MediaStream): void {
    if (stream.kind !== 'camera') return;
    this.#streams.delete(stream.cameraId);
    void this.#stopCamera(stream.cameraId);
  }

  async stop(): Promise<void> {
    this.#closed = true;
    if (this.#timer !== undefined) clearInterval(this.#timer);
    this.#timer = undefined;
    await Promise.all([...this.#running.keys()].map((id) => this.#stopCamera(id)));
  }

  #poll(): void {
    if (this.#closed) return;
    let version: number;
    try {
      version = this.#settings.dataVersion();
    } catch (e) {
      this.#o.log?.(`detection settings: ${e instanceof Error ? e.message : String(e)}`);
      return;
    }
    if (version === this.#version) return;
    this.#version = version;
    const ids = new Set([...this.#streams.keys(), ...this.#running.keys()]);
    for (const id of ids) this.#apply(id);
  }

  /** Starts, stops or reconfigures a camera's detection to match its stored settings. */
  #apply(cameraId: string): void {
    if (this.#closed) return;
    const settings = this.#settings.settings(cameraId);
    const running = this.#running.get(cameraId);
    const stream = this.#streams.get(cameraId);
    if (!settings.motion || stream === undefined) {
      if (running !== undefined) {
        void this.#stopCamera(cameraId);
      }
      return;
    }
    if (running !== undefined) {
      if (!sameSettings(running.settings, settings)) {
        running.settings = settings;
        running.motion.configure(settings);
        this.#o.log?.(`camera ${cameraId.slice(0, 8)}: motion detection settings changed (sensitivity ${settings.sensitivity}, ${settings.masks.length} masks, ${settings.zones.length} zones)`);
      }
      return;
    }
    const motion = new MotionDetector({
      camera: { id: cameraId }, settings, ffmpeg: this.#o.ffmpeg, sink: this.#o.sink,
      ...(this.#o.log ? { log: this.#o.log } : {}), ...(this.#o.timing ? { timing: this.#o.timing } : {}), ...(this.#o.tracker ? { tracker: this.#o.tracker } : {}),
    });
    let extra: CameraDetector | undefined;
    try {
      extra = (this.#o.extra ?? ((s) => this.#onvifEvents(s)))(settings);
    } catch (e) {
      this.#o.log?.(`camera ${cameraId.slice(0, 8)}: ${e instanceof Error ? e.message : String(e)}`);
    }
    const cd: CameraDetection = { settings, motion, extra, source: 'main', sub: undefined, release: undefined };
    this.#running.set(cameraId, cd);
    // The main stream until the substream (if any) gives its first picture: detection never waits on the camera's ONVIF service.
    this.#readsMain(cd, stream);
    this.#o.log?.(`camera ${cameraId.slice(0, 8)}: motion detection on (sensitivity ${settings.sensitivity})`);
    void this.#startSubstream(cd, cameraId);
  }

  /** Moves the camera's motion decoder to its substream once that is live, and back to the main stream while it is not. */
  async #startSubstream(cd: CameraDetection, cameraId: string): Promise<void> {
    const camera = this.#o.store.getCamera(cameraId);
    if (this.#o.substream === false || camera === undefined || camera.kind !== 'rtsp') return;
    const resolve = this.#o.substream ?? (decodePin(camera.onvifPin)?.xaddr !== undefined ? (id: string) => resolveSubstream(this.#o.store, id) : undefined);
    if (resolve === undefined) return;
    const label = `camera ${cameraId.slice(0, 8)}`;
    let sub;
    try {
      sub = await resolve(cameraId);
    } catch (e) {
      this.#o.log?.(`${label}: no substream for motion detection (${e instanceof Error ? e.message : String(e)}); the main stream is decoded`);
      return;
    }
    if (this.#closed || this.#running.get(cameraId) !== cd) return;
    if (sub === undefined) {
      this.#o.log?.(`${label}: the camera lists no substream; motion detection decodes the main stream`);
      return;
    }
    const toMain = (why: string): void => {
      if (cd.source !== 'substream') return;
      cd.source = 'main';
      const main = this.#streams.get(cameraId);
      if (main !== undefined) this.#readsMain(cd, main);
      this.#o.log?.(`${label}: substream ${why}; motion detection decodes the main stream meanwhile`);
    };
    const feed = new SubstreamFeed(cameraId, sub, this.#o.ffmpeg, {
      onInit: () => {
        if (this.#running.get(cameraId) !== cd) return;
        if (cd.source !== 'substream') this.#o.log?.(`${label}: motion detection decodes the substream (profile ${sub.token}, ${sub.width}x${sub.height})`);
        cd.source = 'substream';
        cd.release?.(); // the substream's own ingest is read as it comes
        cd.release = undefined;
        cd.motion.join(feed.stream);
      },
      onFragment: (f) => {
        if (cd.source === 'substream' && this.#running.get(cameraId) === cd) cd.motion.fragment(f);
      },
      onState: (s) => {
        if (s.state === 'backoff' || s.state === 'failed' || s.state === 'stalled') toMain(s.state === 'stalled' ? 'stalled' : 'is down');
      },
    }, this.#o.substreamTuning);
    cd.sub = feed;
    feed.start();
  }

  /** The motion decoder reads the camera's main stream, which is read as it comes meanwhile. */
  #readsMain(cd: CameraDetection, stream: MediaStream): void {
    cd.release ??= this.#o.holdPrompt?.(stream.number);
    cd.motion.join(stream);
  }

  /** The camera's PullPoint events, with the owner's credentials, if it has an ONVIF service (the pinned device only). */
  #onvifEvents(settings: DetectionSettings): CameraDetector | undefined {
    const camera = this.#o.store.getCamera(settings.cameraId);
    const xaddr = decodePin(camera?.onvifPin ?? null)?.xaddr;
    if (camera === undefined || xaddr === undefined || camera.kind !== 'rtsp') return undefined;
    const store = this.#o.store;
    return new OnvifEventsDetector({
      cameraId: camera.id, sink: this.#o.sink, ...(this.#o.log ? { log: this.#o.log } : {}),
      // Every new session checks the device's identity against the pin, as snapshot and PTZ do.
      connect: async () => (await openPinnedSession(store, camera.id, 'onvif events')).session.pullPoint(),
    });
  }

  async #stopCamera(cameraId: string): Promise<void> {
    const running = this.#running.get(cameraId);
    if (running === undefined) return;
    this.#running.delete(cameraId);
    running.release?.();
    running.release = undefined;
    await Promise.all([running.motion.stop(), running.extra?.stop(), running.sub?.stop()]);
    this.#o.log?.(`camera ${cameraId.slice(0, 8)}: motion detection off`);
  }
}

function sameSettings(a: DetectionSettings, b: DetectionSettings): boolean {
  return a.motion === b.motion && a.sensitivity === b.sensitivity && JSON.stringify(a.masks) === JSON.stringify(b.masks) && JSON.stringify(a.zones) === JSON.stringify(b.zones);
}
