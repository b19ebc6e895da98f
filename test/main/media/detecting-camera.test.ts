// A camera whose motion detection is on is read as it comes, so a frame reaches its detector when
// ffmpeg has it (issue 17: motion to notice under 1 s); turned off, it goes back to the shared
// pacing tick, and neither change restarts its ingest. Real parts: ffmpeg's test pattern
// through the hub's own ingest (LiveCameras), a real SQLite store, the media bus, and HubDetection
// with its real MotionDetector, wired as main/hub.ts wires them.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cryptoReady } from '../../../crypto/sodium.ts';
import { findFfmpeg, type FfmpegInfo } from '../../../native/ffmpeg.ts';
import type { IngestFragment } from '../../../native/ingest.ts';
import { HubDetection } from '../../../main/events/detect-hub.ts';
import { LiveCameras } from '../../../main/media/live-cameras.ts';
import { MediaBus, type MediaStream } from '../../../main/media/media-bus.ts';
import { DetectionStore } from '../../../main/store/detection.ts';
import { openStore, type Camera, type Store } from '../../../main/store/db.ts';
import { tempDir, waitUntil } from '../../support/system.ts';

let store: Store;
let ffmpeg: FfmpegInfo;
let live: LiveCameras;
let detection: HubDetection;
let camera: Camera;
/** Fragments on the bus since the last init: their decode times tell each one's length. */
let fragments: IngestFragment[] = [];
let inits = 0;

beforeAll(async () => {
  await cryptoReady(); // a camera's profiles name their topics with it
  const found = await findFfmpeg();
  if (found.ffmpeg === undefined) throw new Error(`ffmpeg is needed: ${found.problem}`);
  ffmpeg = found.ffmpeg;
  store = openStore(tempDir());
  camera = store.addCamera({ name: 'porch', url: 'test-pattern:', kind: 'test-pattern' });
  const bus = new MediaBus((e) => {
    throw e;
  });
  bus.subscribe({
    init: (s: MediaStream) => {
      if (s.kind !== 'camera') return;
      inits++;
      fragments = [];
    },
    fragment: (s: MediaStream, f: IngestFragment) => {
      if (s.kind === 'camera') fragments.push(f);
    },
  });
  live = new LiveCameras({
    store, bus, ffmpeg, tuning: {}, watchers: () => 0, onState: () => undefined, onProfileAdded: () => undefined,
  });
  detection = new HubDetection({
    store, ffmpeg, sink: { started: () => undefined, updated: () => undefined, ended: () => undefined }, substream: false,
    holdPrompt: (n) => live.holdLive(n),
  });
  bus.subscribe(detection);
  live.start(camera);
  detection.start();
}, 30_000);

afterAll(async () => {
  await Promise.all([live?.stopAll(), detection?.stop()]);
  store?.close();
});

/** The median length of the last fragments, in ms of the stream's own time. */
function fragmentLengthMs(): number {
  const f = fragments.slice(-12);
  const lengths = f.slice(1).map((x, i) => ((x.decodeTime! - f[i]!.decodeTime!) * 1000) / x.timescale!).sort((a, b) => a - b);
  return lengths[Math.floor(lengths.length / 2)]!;
}

describe('a detecting camera', () => {
  it('is paced while detection is off, read as it comes while it is on, and paced again when it is turned off, with one frame per fragment throughout', async () => {
    const feed = () => live.get(camera.number)!.feed;
    await waitUntil('fragments', () => fragments.length >= 8, 20_000);
    expect(feed().paced).toBe(true);
    // The hub's default: one frame per fragment (the test pattern runs at 15 fps: 67 ms).
    expect(fragmentLengthMs()).toBeLessThan(100);
    const started = inits;

    new DetectionStore(store).set(camera.id, { motion: true });
    detection.reload();
    await waitUntil('read as it comes', () => !feed().paced, 20_000);
    await waitUntil('the detector decodes the stream', () => (detection.detector(camera.id)?.frames ?? 0) > 3, 20_000);
    expect(fragmentLengthMs()).toBeLessThan(100);

    new DetectionStore(store).set(camera.id, { motion: false });
    detection.reload();
    await waitUntil('paced again', () => feed().paced, 20_000);
    expect(detection.detector(camera.id)).toBeUndefined();
    // Turning detection on and off did not restart the camera's ingest.
    expect(inits).toBe(started);
  }, 90_000);
});
