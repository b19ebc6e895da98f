// What a detector is (PROTOCOL §17.1), so that one more (a model that finds people, vehicles,
// animals) plugs in without touching the rest:
//  * a FrameAnalyser looks at decoded pictures of one camera and says, per picture, whether its kind
//    of thing is there, how strongly and in which zones. The hub's decoder (motion-detector.ts) runs
//    every analyser of a camera on the same small pictures, and gives each its own EventTracker
//    (minimum duration, cooldown) and preview; motion (motion.ts) is one such analyser;
//  * a CameraDetector is anything else that produces a camera's events on its own (the camera's own
//    ONVIF events, onvif-events.ts).
// Both publish to the hub's EventBus through a DetectorSink; neither sees keys, phones or the store.
import type { Finding } from './detect-tracker.ts';
import type { DetectedEvent, EventKind } from './hub-events.ts';
import { MotionModel, type GrayFrame, type MotionSettings } from './motion.ts';

/** One decoded picture: its luma plane, and the whole yuv420p frame for a preview. */
export interface DecodedFrame {
  readonly gray: GrayFrame;
  /** yuv420p, gray.width x gray.height; only valid during the call (copy to keep). */
  readonly i420: Uint8Array;
  /** Unix ms, when the hub had the picture. */
  readonly timeMs: number;
}

export interface FrameAnalyser {
  readonly kind: EventKind;
  /** Named in DetectedEvent.source. */
  readonly source: string;
  analyse(frame: DecodedFrame): Finding;
}

/** Builds a camera's analysers for a picture size (called again when the size or settings change). */
export type AnalyserFactory = (width: number, height: number, settings: MotionSettings) => FrameAnalyser;

export const motionAnalyser: AnalyserFactory = (width, height, settings) => {
  const model = new MotionModel(width, height, settings);
  return {
    kind: 'motion',
    source: 'motion',
    analyse: (frame) => {
      const r = model.analyse(frame.gray);
      return { moving: r.moving, score: Math.min(1, r.area), zones: r.zones };
    },
  };
};

/** Where detectors publish: the hub's EventBus has exactly this shape. */
export interface DetectorSink {
  started(key: string, event: DetectedEvent): void;
  updated(key: string, event: DetectedEvent): void;
  ended(key: string, event: DetectedEvent): void;
}

export interface CameraDetector {
  readonly source: string;
  /** Stops for good: ends an ongoing event, kills its processes, cancels its requests. */
  stop(): Promise<void>;
}
