// A camera's substream for motion detection (PROTOCOL §17.1): decoding the camera's main stream at
// 1080p costs a few percent of a core per camera, its lowest-resolution ONVIF profile a fraction of
// that. For a camera added from ONVIF discovery, the hub asks the device (the pinned one: its
// serial is checked first) for its media profiles, takes the lowest-resolution H.264/H.265 one if
// it is smaller than the largest, asks for its RTSP URI and pulls it with a second supervised ingest
// of its own (remux only, no audio) whose fragmented MP4 the camera's MotionDetector decodes instead
// of the main stream's. Nothing else uses the substream: phones and recordings keep the main stream.
//
// The device is not trusted with the owner's password more than it already is: the URI must name
// the same host as the camera's main stream URL (else the password would go wherever the device
// says), credentials the device wrote into it are dropped, and the owner's are put in the way the
// main URL carries them (userinfo or query parameters).
import type { FfmpegInfo } from '../../native/ffmpeg.ts';
import type { IngestFragment, IngestInit, IngestState } from '../../native/ingest.ts';
import { CameraFeed, type FeedTuning } from '../media/camera-feed.ts';
import type { MediaStream } from '../media/media-bus.ts';
import { openPinnedSession } from '../onvif/camera-control.ts';
import type { MediaProfile } from '../onvif/client.ts';
import { OnvifError } from '../onvif/errors.ts';
import { joinCameraUrl, splitCameraUrl } from '../store/camera-url.ts';
import type { Store } from '../store/db.ts';

export interface Substream {
  /** The ONVIF profile's token and resolution. */
  readonly token: string;
  readonly width: number;
  readonly height: number;
  /** The RTSP URL with the owner's credentials: for the ingest only, never for a message. */
  readonly url: string;
}

const VIDEO_ENCODINGS = /^(h264|h265|hevc)$/i;

/**
 * The camera's substream among its profiles: the lowest-resolution H.264/H.265 profile (encoding
 * unknown counts as video), if some profile is larger. None when all are the same size (one
 * stream, or the same stream under several tokens) or sizes are unknown.
 */
export function pickSubstream(profiles: readonly MediaProfile[]): MediaProfile | undefined {
  const sized = profiles.filter((p) => (p.width ?? 0) > 0 && (p.height ?? 0) > 0 && (p.encoding === undefined || VIDEO_ENCODINGS.test(p.encoding)));
  if (sized.length < 2) return undefined;
  const area = (p: MediaProfile) => p.width! * p.height!;
  const sorted = [...sized].sort((a, b) => area(a) - area(b));
  const low = sorted[0]!;
  return area(low) < area(sorted[sorted.length - 1]!) ? low : undefined;
}

export type SubstreamResolver = (cameraId: string) => Promise<Substream | undefined>;

/**
 * Asks a camera added from ONVIF discovery for its substream. Undefined: the camera lists none, or
 * its main stream is the substream already. Throws OnvifError (the device is not the pinned one,
 * did not answer, or named another host).
 */
export async function resolveSubstream(store: Pick<Store, 'getCamera' | 'cameraUrlWithCredentials'>, cameraId: string, opts: { timeoutMs?: number } = {}): Promise<Substream | undefined> {
  const where = `substream(camera=${cameraId.slice(0, 8)})`;
  const c = await openPinnedSession(store, cameraId, 'substream', opts);
  if (c.camera.kind !== 'rtsp') return undefined;
  const profile = pickSubstream(c.session.profiles());
  if (profile === undefined) return undefined;
  const uri = await c.session.streamUri(profile.token);
  const main = splitCameraUrl(store.cameraUrlWithCredentials(cameraId));
  let sub: string;
  try {
    sub = splitCameraUrl(uri).url; // whatever credentials the device put in it go
  } catch (e) {
    throw new OnvifError('bad-reply', where, `the substream URI is not a camera URL (${e instanceof Error ? e.message : 'unreadable'})`, { cause: e });
  }
  const host = (u: string) => new URL(u).hostname.toLowerCase();
  if (host(sub) !== host(main.url)) {
    throw new OnvifError('bad-reply', where, `the device names its substream at ${host(sub)}, not at the camera's ${host(main.url)}; the owner's password goes only to the camera`);
  }
  if (sub === main.url) return undefined;
  return { token: profile.token, width: profile.width!, height: profile.height!, url: joinCameraUrl(sub, main) };
}

export interface SubstreamFeedEvents {
  onInit(init: IngestInit): void;
  onFragment(fragment: IngestFragment): void;
  onState(state: IngestState): void;
}

/** The substream's own supervised ingest (RTSP, video remuxed, no audio), as a stream a MotionDetector joins. */
export class SubstreamFeed {
  readonly feed: CameraFeed;
  readonly stream: MediaStream;

  constructor(readonly cameraId: string, readonly substream: Substream, ffmpeg: FfmpegInfo | undefined, events: SubstreamFeedEvents, tuning: FeedTuning = {}) {
    this.feed = new CameraFeed(0, { kind: 'rtsp', url: substream.url, audio: 'none' }, ffmpeg, events, tuning);
    const feed = this.feed;
    this.stream = { cameraId, number: 0, topic: '', kind: 'camera', get init() { return feed.init; }, get gop() { return feed.gop; } };
  }

  start(): void {
    this.feed.start();
  }

  stop(): Promise<void> {
    return this.feed.stop();
  }
}
