// One camera on the hub: its supervised ffmpeg ingest, the latest init segment and GOP (so a phone
// that starts watching gets a picture at once), and its state for the UI and the phones. The feed
// holds plaintext only in memory; what it makes goes on the media bus (live-cameras.ts), and sealing
// happens where the keys are (phone-publisher.ts).
import {
  CameraIngest, type CameraIngestOptions, type Fmp4Input, type Fmp4Sink, type IngestFragment, type IngestInit, type IngestSource, type IngestState,
} from '../../native/ingest.ts';
import type { FfmpegInfo } from '../../native/ffmpeg.ts';
import { StartCache } from './start-cache.ts';

export type FeedTuning = Pick<CameraIngestOptions, 'timing' | 'fragmentMs' | 'reader'>;

export interface FeedEvents {
  onInit(init: IngestInit): void;
  onFragment(fragment: IngestFragment): void;
  onState(state: IngestState): void;
}

export class CameraFeed {
  #ingest: CameraIngest | undefined;
  readonly #start = new StartCache();
  #state: IngestState = { state: 'stopped', attempt: 0 };
  #sinks = new Set<Fmp4Sink>();
  #paced = false;
  fragments = 0;
  bytes = 0;

  /**
   * This feed's fragmented MP4 for another ingest to read (the h264 profile's transcoder): it joins
   * at the cached init segment and GOP, so the camera has one RTSP session however many read it.
   */
  readonly output: Fmp4Input = {
    subscribe: (sink) => {
      const init = this.#start.init;
      if (init !== undefined) {
        sink.init(init.data);
        for (const f of this.#start.gop) sink.fragment(f.data, f.keyframe);
      }
      this.#sinks.add(sink);
      return () => this.#sinks.delete(sink);
    },
  };

  constructor(
    readonly cameraNumber: number,
    private readonly source: IngestSource,
    private readonly ffmpeg: FfmpegInfo | undefined,
    private readonly events: FeedEvents,
    /** Supervision timing and fragment length for ffmpeg (defaults: native/ingest.ts). */
    private readonly tuning: FeedTuning = {},
    /** 'h264' for a camera's transcoded profile (profile-feed.ts); default: the camera's own video. */
    private readonly video: 'copy' | 'h264' = 'copy',
  ) {}

  get init(): IngestInit | undefined {
    return this.#start.init;
  }

  /** The fragments since the last keyframe, oldest first. */
  get gop(): readonly IngestFragment[] {
    return this.#start.gop;
  }

  get state(): IngestState {
    return this.#state;
  }

  /** Whether ffmpeg's output is read on the shared pacing tick rather than as it comes (live-cameras.ts). */
  get paced(): boolean {
    return this.#paced;
  }

  pace(on: boolean): void {
    if (on === this.#paced) return;
    this.#paced = on;
    this.#ingest?.pace(on);
  }

  start(): void {
    if (this.#ingest !== undefined) return;
    if (this.ffmpeg === undefined) {
      this.#setState({ state: 'failed', attempt: 0, error: 'ffmpeg is not installed: apt-get install ffmpeg, or set FFMPEG_PATH' });
      return;
    }
    const ingest = new CameraIngest({ ...this.tuning, source: this.source, ffmpeg: this.ffmpeg, video: this.video });
    ingest.on('init', (init) => {
      this.#start.takeInit(init);
      this.events.onInit(init);
      for (const sink of this.#sinks) sink.init(init.data);
    });
    ingest.on('fragment', (f) => {
      this.fragments++;
      this.bytes += f.data.length;
      this.#start.takeFragment(f);
      this.events.onFragment(f);
      for (const sink of this.#sinks) sink.fragment(f.data, f.keyframe);
    });
    ingest.on('state', (s) => this.#setState(s));
    this.#ingest = ingest;
    ingest.pace(this.#paced);
    ingest.start();
  }

  #setState(s: IngestState): void {
    this.#state = s;
    this.events.onState(s);
  }

  get running(): boolean {
    return this.#ingest !== undefined;
  }

  /** Stops ffmpeg; the cached init segment and GOP go with it (a restart makes new ones). */
  async stop(): Promise<void> {
    const ingest = this.#ingest;
    this.#ingest = undefined;
    this.#start.clear();
    if (ingest !== undefined) await ingest.stop();
  }
}
