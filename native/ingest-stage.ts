// One ingest attempt's fragmented MP4 into the ingest's init and fragment events: the rule for
// keyframes sent as several slices, the media clock watch, and the capture time. ffmpeg's output
// comes as bytes and is split here; the hub's own MP4 writer hands over segments it has described
// already (native/fmp4-writer.ts), so its bytes are not parsed again.

import { Fmp4Error, Fmp4Splitter, type Fmp4Segment, type Fmp4SplitterOptions, type TrackInfo } from './fmp4.ts';
import { MediaClockWatch } from './media-clock.ts';

export interface IngestInit {
  data: Uint8Array;
  codecs: string[];
  /** `video/mp4; codecs="…"` for MediaSource.isTypeSupported / addSourceBuffer. */
  mime: string;
  width?: number;
  height?: number;
  tracks: TrackInfo[];
}

export interface IngestFragment {
  data: Uint8Array;
  /** First video sample is a sync sample: a viewer may start here. */
  keyframe: boolean;
  /** Unix ms when the hub had the whole fragment (from ffmpeg or its own reader): what phones measure liveness by. */
  captureTime: number;
  /** In the video track's timescale; restarts from 0 after every new init. */
  decodeTime?: number;
  timescale?: number;
  trackIds: number[];
}

/** Where a stage's results go: the supervisor of the attempt. */
export interface StageSink {
  /** False once the attempt is over: the rest of a chunk is dropped. */
  current(): boolean;
  init(init: IngestInit): void;
  /** Before each fragment is handed on: the supervisor's start and stall timers. */
  alive(): void;
  fragment(fragment: IngestFragment): void;
  /** The attempt must end (output not valid fMP4, or the video's clock is stuck); nothing follows. */
  end(why: string): void;
}

export class IngestStage {
  private readonly splitter: Fmp4Splitter;
  private readonly clock: MediaClockWatch;
  private videoTracks = new Set<number>();
  private lastVideoTime: number | undefined;
  private lastVideoSync = false; // the producer's own flag on the last video fragment
  private ended = false;

  constructor(
    private readonly sink: StageSink,
    options: {
      splitter?: Fmp4SplitterOptions;
      clockWindowMs: number;
      /** Who made the bytes, for messages: "ffmpeg", "the hub's RTSP reader". */
      producer: string;
      /** The camera, for messages. */
      label: string;
    },
  ) {
    this.splitter = new Fmp4Splitter(options.splitter);
    this.clock = new MediaClockWatch(options.clockWindowMs);
    this.producer = options.producer;
    this.label = options.label;
  }

  private readonly producer: string;
  private readonly label: string;

  /** Bytes of one fragmented MP4 stream (ffmpeg's output), split here. */
  push(chunk: Uint8Array): void {
    if (this.ended || !this.sink.current()) return;
    let segments;
    try {
      segments = this.splitter.push(chunk);
    } catch (err) {
      const code = err instanceof Fmp4Error ? err.code : 'error';
      this.end(`${this.producer}'s output is not valid fragmented MP4 (${code}): ${(err as Error).message}`);
      return;
    }
    this.segments(segments);
  }

  /**
   * Segments split already (the hub's own writer). An init starts a new stream (the writer makes one
   * when the camera's picture size changes; ffmpeg never does within one process).
   */
  segments(segments: readonly Fmp4Segment[]): void {
    for (const seg of segments) {
      if (this.ended || !this.sink.current()) return;
      if (seg.type === 'init') {
        this.videoTracks = new Set(seg.tracks.filter((t) => t.kind === 'video').map((t) => t.id));
        this.lastVideoTime = undefined;
        this.lastVideoSync = false;
        const init: IngestInit = { data: seg.data, codecs: seg.codecs, mime: seg.mime, tracks: seg.tracks };
        if (seg.width !== undefined) init.width = seg.width;
        if (seg.height !== undefined) init.height = seg.height;
        this.sink.init(init);
        continue;
      }
      this.sink.alive();
      const hasVideo = seg.trackIds.some((id) => this.videoTracks.has(id));
      let keyframe = seg.keyframe;
      // A camera that sends a keyframe as several slices makes ffmpeg's RTSP reader emit one
      // packet per slice with the same DTS (bumped by 1 tick), so one picture spans two
      // fragments, both flagged sync. Only the first is a place to start. Only after a sync
      // fragment: while a clock that went back is clamped, every frame is 1 tick after the one
      // before, and at one frame per fragment every keyframe would lose its flag until the media
      // clock watch restarts the attempt (up to two windows without a place to start).
      if (keyframe && hasVideo && this.lastVideoSync && seg.decodeTime !== undefined && this.lastVideoTime !== undefined && seg.decodeTime - this.lastVideoTime <= 1) {
        keyframe = false;
      }
      if (hasVideo && seg.decodeTime !== undefined) {
        this.lastVideoTime = seg.decodeTime;
        this.lastVideoSync = seg.keyframe;
      }
      if (hasVideo && seg.decodeTime !== undefined && seg.timescale && this.clock.observe((seg.decodeTime / seg.timescale) * 1000, performance.now())) {
        this.end(`the video's timestamps from ${this.label} stopped advancing (its clock went back?); restarting ${this.producer}`);
        return;
      }
      // The hub's capture time: when the whole fragment was here (PROTOCOL §9: the frame header's
      // captureTime). Taken here, once, so every consumer of this fragment sees the same one.
      const frag: IngestFragment = { data: seg.data, keyframe, captureTime: Date.now(), trackIds: seg.trackIds };
      if (seg.decodeTime !== undefined) frag.decodeTime = seg.decodeTime;
      if (seg.timescale !== undefined) frag.timescale = seg.timescale;
      this.sink.fragment(frag);
    }
  }

  private end(why: string): void {
    this.ended = true; // nothing more from this attempt reaches viewers
    this.sink.end(why);
  }
}
