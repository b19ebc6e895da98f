// The media bus: every stream the hub makes (a camera's own video, its h264 and mpeg1 profiles) is
// published here once, and whatever needs it subscribes: the sealer that sends it to phones, the
// UI's local viewers, and next the recorder and the motion detector. A new consumer is one module
// that subscribes; the ingest callbacks do not change.
//
// Fragments go to every consumer as the one object the ingest made (no copy, no re-wrapping):
// consumers must not keep or change `data` beyond the call unless they copy it.
import type { IngestFragment, IngestInit } from '../../native/ingest.ts';

/** One stream of one camera, with its own camera number (key, counter) and relay topic. */
export interface MediaStream {
  /** The camera's id (the store's). */
  readonly cameraId: string;
  /** The number its frames are sealed under: the camera's, or a profile's (PROFILE_NUMBER_BIT). */
  readonly number: number;
  readonly topic: string;
  /** 'camera' for the camera's own video, else the profile's name. */
  readonly kind: 'camera' | 'h264' | 'mpeg1';
  /** The latest init segment and the fragments since the last keyframe (what a new viewer starts with). */
  readonly init: IngestInit | undefined;
  readonly gop: readonly IngestFragment[];
}

export interface MediaConsumer {
  /** A new init segment: the stream (re)started; fragments after it follow this one. */
  init?(stream: MediaStream, init: IngestInit): void;
  fragment?(stream: MediaStream, fragment: IngestFragment): void;
  /** The stream will send nothing more (its camera was removed, or the hub closes). */
  ended?(stream: MediaStream): void;
}

export class MediaBus {
  readonly #consumers = new Set<MediaConsumer>();

  /** A consumer that throws is reported here; the others still get the media. */
  constructor(private readonly onError: (e: unknown) => void = () => undefined) {}

  /** Returns the function that unsubscribes. */
  subscribe(consumer: MediaConsumer): () => void {
    this.#consumers.add(consumer);
    return () => this.#consumers.delete(consumer);
  }

  init(stream: MediaStream, init: IngestInit): void {
    for (const c of this.#consumers) {
      try {
        c.init?.(stream, init);
      } catch (e) {
        this.onError(e);
      }
    }
  }

  fragment(stream: MediaStream, fragment: IngestFragment): void {
    for (const c of this.#consumers) {
      try {
        c.fragment?.(stream, fragment);
      } catch (e) {
        this.onError(e);
      }
    }
  }

  ended(stream: MediaStream): void {
    for (const c of this.#consumers) {
      try {
        c.ended?.(stream);
      } catch (e) {
        this.onError(e);
      }
    }
  }
}
