// The hub's motion detector (main/events/motion-detector.ts) with a real ffmpeg decoder, fed a real
// H.264 stream in fragmented MP4 the way the media bus hands it over, at the most sensitive setting.
// The scene is still (SMPTE bars) with a clock that ticks every second of the stream's own time.
//
// A busy hub does not get its pictures at an even pace: a decoder that fell behind catches up at
// two or three times real time. The detector once timed its tracker by when pictures arrived, so a
// catch-up squeezed two ticks of the clock (one moving picture each, a second apart in the stream)
// into less than the minimum duration's reach, and a still scene made events (four a minute in the
// full CI run). Here the stream is fed at twice real time: no event may come of it; the same stream
// with a block sliding through it still makes one (so the quiet is not a dead detector).
import { beforeAll, describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { resolveFfmpeg, type FfmpegInfo } from '../../../native/ffmpeg.ts';
import { Fmp4Splitter } from '../../../native/fmp4.ts';
import type { IngestFragment, IngestInit } from '../../../native/ingest.ts';
import type { MediaStream } from '../../../main/media/media-bus.ts';
import type { DetectedEvent } from '../../../main/events/hub-events.ts';
import { MotionDetector } from '../../../main/events/motion-detector.ts';
import { run, tempDir, waitUntil } from '../../support/system.ts';

const SECONDS = 24;
const FPS = 10;
let ffmpeg: FfmpegInfo;
let dir: string;

/** A clip as a camera sends it: 640x360, 10 fps, 1 s GOP, fragments of about 300 ms; a white block slides across from `blockFrom` s. */
async function clip(name: string, blockFrom?: number): Promise<{ init: IngestInit; fragments: IngestFragment[] }> {
  const file = join(dir, `${name}.mp4`);
  const clock = "drawtext=text='%{eif\\:t\\:d}':fontsize=24:x=10:y=10:fontcolor=white:box=1:boxcolor=black";
  const r = await run(ffmpeg.path, ['-hide_banner', '-loglevel', 'error', '-y', '-f', 'lavfi', '-i', `smptebars=size=640x360:rate=${FPS}`, '-t', String(SECONDS),
    '-vf', blockFrom === undefined ? clock : `${clock}[c];color=c=white:s=60x60:r=${FPS}[b];[c][b]overlay=x='mod(t*160,640)':y=150:enable='gte(t,${blockFrom})':shortest=1`, '-c:v', 'libx264', '-preset', 'veryfast', '-bf', '0', '-g', String(FPS),
    '-f', 'mp4', '-movflags', 'empty_moov+default_base_moof+frag_keyframe', '-frag_duration', '300000', file]);
  expect(r.code, r.stderr).toBe(0);
  const splitter = new Fmp4Splitter();
  let init: IngestInit | undefined;
  const fragments: IngestFragment[] = [];
  for (const seg of splitter.push(readFileSync(file))) {
    if (seg.type === 'init') init = { data: seg.data, codecs: seg.codecs, mime: seg.mime, tracks: seg.tracks, ...(seg.width ? { width: seg.width } : {}), ...(seg.height ? { height: seg.height } : {}) };
    else fragments.push({ data: seg.data, keyframe: seg.keyframe, captureTime: 0, trackIds: seg.trackIds });
  }
  expect(init).toBeDefined();
  expect(fragments.length).toBeGreaterThan(SECONDS * 2);
  return { init: init!, fragments };
}

/** Feeds the clip to a detector at `speed` times real time; the events it started. */
async function detect(c: { init: IngestInit; fragments: IngestFragment[] }, speed: number): Promise<{ events: DetectedEvent[]; updates: DetectedEvent[]; frames: number; fedFrom: number }> {
  const events: DetectedEvent[] = [];
  const updates: DetectedEvent[] = [];
  const gop: IngestFragment[] = [];
  const stream: MediaStream = { cameraId: 'cam', number: 1, topic: 'cam', kind: 'camera', init: c.init, gop };
  const detector = new MotionDetector({
    camera: { id: 'cam' }, settings: { cameraId: 'cam', motion: true, sensitivity: 10, masks: [], zones: [] }, ffmpeg,
    sink: { started: (_k, e) => events.push(e), updated: (_k, e) => updates.push(e), ended: () => undefined },
  });
  detector.join(stream);
  try {
    await waitUntil('the decoder running', () => detector.running, 10_000);
    const fedFrom = Date.now();
    const t0 = performance.now();
    const period = 300 / speed;
    for (let i = 0; i < c.fragments.length; i++) {
      const due = t0 + i * period;
      const wait = due - performance.now();
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));
      detector.fragment({ ...c.fragments[i]!, captureTime: Date.now() });
    }
    // Every fragment decoded: 5 pictures a second of stream, less the decoder's last few.
    await waitUntil('the pictures of the whole clip', () => detector.frames >= (SECONDS - 1) * 5, 15_000);
    // An event's picture follows its start (made by a one-shot encoder, 5 s at most).
    if (events.length > 0) await waitUntil("the first event's picture", () => updates.length > 0, 10_000);
    return { events, updates, frames: detector.frames, fedFrom };
  } finally {
    await detector.stop();
  }
}

beforeAll(async () => {
  ffmpeg = await resolveFfmpeg();
  dir = tempDir('vigil-motion-detector-');
});

describe('MotionDetector on a real decoder', () => {
  it('a still scene with a ticking clock fed at twice real time (a hub catching up) makes no event at sensitivity 10', async () => {
    const { events, frames } = await detect(await clip('still'), 2);
    expect(frames).toBeGreaterThanOrEqual((SECONDS - 1) * 5);
    expect(events).toEqual([]);
  }, 60_000);

  it('the same scene with a block sliding through it, fed the same way, makes an event', async () => {
    const { events, fedFrom } = await detect(await clip('moving', 12), 2);
    expect(events).toHaveLength(1);
    expect(events[0]!.kind).toBe('motion');
    // The block appears 12 s into the stream: about 6 s into a feed at twice real time (the event's
    // time is the wall time its pictures were analysed, less what the stream's clock says passed).
    expect(events[0]!.startMs - fedFrom).toBeGreaterThan(4_000);
    expect(events[0]!.startMs - fedFrom).toBeLessThan(12_000);
  }, 60_000);

  it('an event leaves before its picture is made, and the picture follows in an update of it', async () => {
    const { events, updates } = await detect(await clip('moving', 12), 2);
    expect(events).toHaveLength(1);
    // The notice waits for no encoder: no picture yet, and a mark that one follows.
    expect(events[0]!.preview).toBeUndefined();
    expect(events[0]!.previewFollows).toBe(true);
    const first = updates[0]!;
    expect(first.startMs).toBe(events[0]!.startMs);
    const jpeg = first.preview!;
    expect([jpeg[0], jpeg[1], jpeg[jpeg.length - 2], jpeg[jpeg.length - 1]]).toEqual([0xff, 0xd8, 0xff, 0xd9]);
  }, 60_000);
});
