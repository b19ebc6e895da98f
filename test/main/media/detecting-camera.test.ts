// A camera whose motion detection is on is read as it comes and cut one frame per fragment, so a
// frame reaches its detector when ffmpeg has it (issue 17: motion to notice under 1 s); turned off,
// it goes back to 300 ms fragments read on the shared pacing tick. Real parts: ffmpeg's test pattern
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
    detecting: (c) => detection.motionOn(c.id),
  });
  detection = new HubDetection({
    store, ffmpeg, sink: { started: () => undefined, updated: () => undefined, ended: () => undefined }, substream: false,
    holdPrompt: (n) => live.holdLive(n),
    motionChanged: (id) => setImmediate(() => void live.refragment(store.getCamera(id)!)),
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
  it('is paced and cut in 300 ms fragments while detection is off, then one frame per fragment and read as it comes while it is on, and back when it is turned off', async () => {
    const feed = () => live.get(camera.number)!.feed;
    await waitUntil('300 ms fragments', () => fragments.length >= 8, 20_000);
    expect(feed().paced).toBe(true);
    expect(feed().fragmentMs).toBe(300);
    // The test pattern runs at 15 fps: five frames (333 ms) a fragment.
    expect(fragmentLengthMs()).toBeGreaterThan(250);

    const before = inits;
    new DetectionStore(store).set(camera.id, { motion: true });
    detection.reload();
    await waitUntil('the ingest started again with one frame per fragment', () => inits > before && live.get(camera.number)?.feed.fragmentMs === 0 && fragments.length >= 13, 20_000);
    expect(fragmentLengthMs()).toBeLessThan(100);
    expect(feed().paced).toBe(false);
    await waitUntil('the detector decodes the new stream', () => (detection.detector(camera.id)?.frames ?? 0) > 3, 20_000);

    const again = inits;
    new DetectionStore(store).set(camera.id, { motion: false });
    detection.reload();
    await waitUntil('300 ms fragments again', () => inits > again && fragments.length >= 8, 20_000);
    expect(feed().fragmentMs).toBe(300);
    expect(fragmentLengthMs()).toBeGreaterThan(250);
    expect(feed().paced).toBe(true);
    expect(detection.detector(camera.id)).toBeUndefined();
  }, 90_000);
});
