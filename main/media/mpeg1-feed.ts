// A camera's "mpeg1" profile: the camera as MPEG-1 video and MP2 audio in MPEG-TS, which JSMpeg
// decodes on a canvas in any browser, for phones whose browser has no Media Source (iOS 16 and
// older). node-rtsp-stream's Mpeg1Muxer transcodes the hub's own fragmented MP4 of the camera
// (native/mpeg1.ts): one RTSP session per camera, no camera URL or password on its command line.
// A transcode to MPEG-1 costs about twelve times a remux (FACTS.md, docs/PERFORMANCE.md), so, like
// the h264 profile (profile-feed.ts), it runs only while someone watches it plus a grace period, and
// it has its own relay topic and camera number, hence its own content key and frame counter.
import { fromHex } from '../../crypto/bytes.ts';
import { profileTopic } from '../../crypto/profile-topic.ts';
import type { FfmpegInfo } from '../../native/ffmpeg.ts';
import type { Fmp4Input, IngestFragment, IngestInit, IngestState } from '../../native/ingest.ts';
import { MPEG1_CODECS, MPEG1_MIME, Mpeg1Transcoder } from '../../native/mpeg1.ts';
import type { FeedEvents } from './camera-feed.ts';
import { OnDemand } from './on-demand.ts';
import { StartCache } from './start-cache.ts';

export const PROFILE_MPEG1 = 'mpeg1';
/**
 * Set in the mpeg1 profile's camera number. The h264 profile has 0x40000000; camera numbers (1, 2,
 * … from the store) stay below this one, and a camera at or past it gets no mpeg1 profile, so no
 * two streams share a number (PROTOCOL §9.3).
 */
export const MPEG1_NUMBER_BIT = 0x2000_0000;

export function mpeg1Number(cameraNumber: number): number | undefined {
  if (!Number.isInteger(cameraNumber) || cameraNumber < 1 || cameraNumber >= MPEG1_NUMBER_BIT) return undefined;
  return cameraNumber | MPEG1_NUMBER_BIT;
}


/** The transcoder with what a new viewer starts from: the TS init (PAT, PMT) and the GOP since the last keyframe. */
export class Mpeg1Feed {
  #transcoder: Mpeg1Transcoder | undefined;
  readonly #start = new StartCache();
  #state: IngestState = { state: 'stopped', attempt: 0 };
  fragments = 0;
  bytes = 0;

  constructor(
    private readonly input: Fmp4Input,
    private readonly ffmpeg: FfmpegInfo | undefined,
    private readonly events: FeedEvents,
    private readonly timing?: ConstructorParameters<typeof Mpeg1Transcoder>[0]['timing'],
  ) {}

  get init(): IngestInit | undefined {
    return this.#start.init;
  }

  get gop(): readonly IngestFragment[] {
    return this.#start.gop;
  }

  get state(): IngestState {
    return this.#state;
  }

  get running(): boolean {
    return this.#transcoder !== undefined;
  }

  start(): void {
    if (this.#transcoder !== undefined) return;
    if (this.ffmpeg === undefined) {
      this.#setState({ state: 'failed', attempt: 0, error: 'ffmpeg is not installed: apt-get install ffmpeg, or set FFMPEG_PATH' });
      return;
    }
    const t = new Mpeg1Transcoder({ ffmpeg: this.ffmpeg, input: this.input, ...(this.timing ? { timing: this.timing } : {}) });
    t.on('init', (init) => {
      this.#start.takeInit(init);
      this.events.onInit(init);
    });
    t.on('fragment', (f) => {
      this.fragments++;
      this.bytes += f.data.length;
      this.#start.takeFragment(f);
      this.events.onFragment(f);
    });
    t.on('state', (s) => this.#setState(s));
    this.#transcoder = t;
    t.start();
  }

  async stop(): Promise<void> {
    const t = this.#transcoder;
    this.#transcoder = undefined;
    this.#start.clear();
    if (t !== undefined) await t.stop();
  }

  #setState(s: IngestState): void {
    this.#state = s;
    this.events.onState(s);
  }
}

export interface Mpeg1ProfileOptions {
  /** Relay watchers of the profile's topic, on every link. */
  watchers(): number;
  graceMs?: number;
  timing?: ConstructorParameters<typeof Mpeg1Transcoder>[0]['timing'];
}

export class Mpeg1Profile {
  readonly name = PROFILE_MPEG1;
  readonly number: number;
  readonly topic: string;
  readonly feed: Mpeg1Feed;
  readonly #demand: OnDemand;

  constructor(
    camera: { readonly id: string; readonly number: number },
    /** The camera's own stream (its CameraFeed's output). */
    input: Fmp4Input,
    ffmpeg: FfmpegInfo | undefined,
    events: FeedEvents,
    private readonly opts: Mpeg1ProfileOptions,
  ) {
    const number = mpeg1Number(camera.number);
    if (number === undefined) throw new Error(`camera ${camera.number} cannot have an mpeg1 profile`);
    this.number = number;
    this.topic = profileTopic(fromHex(camera.id), PROFILE_MPEG1);
    this.feed = new Mpeg1Feed(input, ffmpeg, events, opts.timing);
    this.#demand = new OnDemand(this.feed, opts.watchers, opts.graceMs);
  }

  get running(): boolean {
    return this.feed.running;
  }

  get starts(): number {
    return this.#demand.starts;
  }

  /** Always the same: the transcoder's output format does not depend on the camera. */
  describe(_nativeCodecs?: readonly string[]): { mime: string; codecs: string; known: true } {
    return { mime: MPEG1_MIME, codecs: MPEG1_CODECS.join(','), known: true };
  }

  /** A phone asked to watch: run the transcoder (if it does not yet) and hold it for the grace period. */
  demand(): void {
    this.#demand.demand();
  }

  close(): Promise<void> {
    return this.#demand.close();
  }
}
