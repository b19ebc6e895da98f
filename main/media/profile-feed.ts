// A camera's "h264" profile: the same camera transcoded to H.264 for browsers that cannot play its
// H.265 (Debian's chromium plays none at all). A transcode costs about ten times a remux
// (FACTS.md), so it runs only on demand, as go2rtc runs a source only while it has consumers: it
// starts when a phone asks to watch it and stops once nobody has watched its relay topic for a
// grace period. It has its own relay topic and its own camera number, hence its own content key and
// frame counter: the camera's key never gets a second sealer. Its ffmpeg reads the hub's own stream
// of the camera (CameraFeed.output, on its stdin), not the camera: one RTSP session per camera, and
// no camera URL or password on the transcoder's command line.
import { fromHex } from '../../crypto/bytes.ts';
import { profileTopic } from '../../crypto/profile-topic.ts';
import type { FfmpegInfo } from '../../native/ffmpeg.ts';
import type { Fmp4Input, IngestInit, IngestState } from '../../native/ingest.ts';
import { CameraFeed, type FeedEvents, type FeedTuning } from './camera-feed.ts';
import { OnDemand } from './on-demand.ts';

export const PROFILE_H264 = 'h264';
export type ProfileName = typeof PROFILE_H264;
/**
 * Set in a profile's camera number (kid = number << 32 | epoch, number a u31). The store numbers
 * cameras 1, 2, … and never reaches it; a camera at or past it simply gets no profile.
 */
export const PROFILE_NUMBER_BIT = 0x4000_0000;
/** What list-cameras says before the transcoder ever ran: High profile, level 4.0 (up to 1080p). */
export const H264_CODEC_PLACEHOLDER = 'avc1.640028';

export function profileNumber(cameraNumber: number): number | undefined {
  if (!Number.isInteger(cameraNumber) || cameraNumber < 1 || cameraNumber >= PROFILE_NUMBER_BIT) return undefined;
  return cameraNumber | PROFILE_NUMBER_BIT;
}


/** An H.265 camera gets the h264 profile; H.264 (and anything else a browser may play) does not. */
export function needsH264Profile(codecs: readonly string[]): boolean {
  return codecs.some((c) => /^(hvc1|hev1)(\.|$)/i.test(c.trim()));
}

export interface ProfileOptions {
  /** Relay watchers of the profile's topic, on every link. */
  watchers(): number;
  graceMs?: number;
  /** Timing and fragment length for the transcoder's ffmpeg. */
  tuning?: FeedTuning;
}

export class H264Profile {
  readonly name: ProfileName = PROFILE_H264;
  readonly number: number;
  readonly topic: string;
  readonly feed: CameraFeed;
  readonly #demand: OnDemand;
  #known: { mime: string; codecs: string[] } | undefined;

  constructor(
    camera: { readonly id: string; readonly number: number; readonly topic: string },
    /** The camera's own stream (its CameraFeed's output). */
    input: Fmp4Input,
    ffmpeg: FfmpegInfo | undefined,
    events: FeedEvents,
    private readonly opts: ProfileOptions,
  ) {
    const number = profileNumber(camera.number);
    if (number === undefined) throw new Error(`camera ${camera.number} cannot have a profile`);
    this.number = number;
    this.topic = profileTopic(fromHex(camera.id), PROFILE_H264);
    this.feed = new CameraFeed(number, { kind: 'fmp4', input }, ffmpeg, {
      onInit: (init: IngestInit) => {
        this.#known = { mime: init.mime, codecs: init.codecs };
        events.onInit(init);
      },
      onFragment: (f) => events.onFragment(f),
      onState: (s: IngestState) => events.onState(s),
    }, opts.tuning, 'h264');
    this.#demand = new OnDemand(this.feed, opts.watchers, opts.graceMs);
  }

  /** Whether the transcoder runs now. */
  get running(): boolean {
    return this.feed.running;
  }

  /** How many times it was started (for status and tests). */
  get starts(): number {
    return this.#demand.starts;
  }

  /** mime and codecs of the last run, else a guess from the camera's own codecs. */
  describe(nativeCodecs: readonly string[]): { mime: string; codecs: string; known: boolean } {
    if (this.#known !== undefined) return { mime: this.#known.mime, codecs: this.#known.codecs.join(','), known: true };
    const codecs = nativeCodecs.map((c) => (needsH264Profile([c]) ? H264_CODEC_PLACEHOLDER : c.trim()));
    return { mime: `video/mp4; codecs="${codecs.join(', ')}"`, codecs: codecs.join(','), known: false };
  }

  /** A phone asked to watch: run the transcoder (if it does not yet) and hold it for the grace period. */
  demand(): void {
    this.#demand.demand();
  }

  /** For good (camera removed, hub closing). */
  close(): Promise<void> {
    return this.#demand.close();
  }
}
