import { describe, it, expect, afterAll } from 'vitest';
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import {
  CameraIngest,
  DEFAULT_FRAGMENT_MS,
  INGEST_DEFAULTS,
  type CameraIngestOptions,
  type Fmp4Input,
  type Fmp4Sink,
  type IngestFragment,
  type IngestInit,
  type IngestState,
} from '../../native/ingest.ts';
import { startCamera, stopAllCameras, type TestCamera } from '../support/camera/camera.ts';
import { resolveFfmpeg } from '../../native/ffmpeg.ts';
import { closedPort } from '../support/ports.ts';
import { PACE_MS } from '../../native/paced-sockets.ts';

const FPS = 15;
const PASSWORD = 'Sup3r-S3cret!pw';
const work = mkdtempSync(path.join(tmpdir(), 'vigil-ingest-'));
const ingests = new Set<CameraIngest>();

afterAll(async () => {
  await Promise.all([...ingests].map((i) => i.stop()));
  await stopAllCameras();
  rmSync(work, { recursive: true, force: true });
});

interface Recording {
  ingest: CameraIngest;
  inits: IngestInit[];
  fragments: IngestFragment[];
  states: IngestState[];
}

function record(options: CameraIngestOptions): Recording {
  const ingest = new CameraIngest(options);
  ingests.add(ingest);
  const rec: Recording = { ingest, inits: [], fragments: [], states: [] };
  ingest.on('init', (i) => rec.inits.push(i));
  ingest.on('fragment', (f) => rec.fragments.push(f));
  ingest.on('state', (s) => rec.states.push(s));
  return rec;
}

function waitFor(what: string, cond: () => boolean, timeoutMs: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const t0 = Date.now();
    const tick = setInterval(() => {
      if (cond()) {
        clearInterval(tick);
        resolve();
      } else if (Date.now() - t0 > timeoutMs) {
        clearInterval(tick);
        reject(new Error(`timed out waiting for ${what}`));
      }
    }, 20);
  });
}

/** Init + fragments as one file; ffprobe's view of it. */
function probeOutput(name: string, rec: Recording): { streams: Array<{ codec_name: string; codec_type: string; nb_read_frames?: string; width?: number; codec_tag_string: string; sample_rate?: string }> } {
  const file = path.join(work, `${name}.mp4`);
  writeFileSync(file, Buffer.concat([rec.inits[0]!.data, ...rec.fragments.map((f) => f.data)]));
  const json = execFileSync('ffprobe', ['-v', 'error', '-count_frames', '-show_entries',
    'stream=codec_name,codec_type,codec_tag_string,width,height,nb_read_frames,sample_rate', '-of', 'json', file], { encoding: 'utf8' });
  return JSON.parse(json) as ReturnType<typeof probeOutput>;
}

/** The media time (s) of the newest fragment recorded. */
function mediaSeconds(rec: Recording): number {
  const f = rec.fragments.at(-1);
  return f?.decodeTime !== undefined && f.timescale ? f.decodeTime / f.timescale : 0;
}

/** Another client of the camera's stream (ffmpeg copying it to nowhere), until stop(). */
async function secondClient(url: string): Promise<{ stop(): Promise<void> }> {
  const p: ChildProcess = spawn((await resolveFfmpeg()).path, ['-hide_banner', '-nostdin', '-loglevel', 'error', '-rtsp_transport', 'tcp', '-i', url, '-c', 'copy', '-f', 'null', '-'], { stdio: 'ignore' });
  p.on('error', () => undefined); // a failure to start shows in what the test checks
  return {
    async stop() {
      if (p.exitCode !== null || p.signalCode !== null) return;
      const gone = new Promise((r) => p.once('exit', r));
      p.kill('SIGKILL');
      await gone; // later tests count this process's ffmpeg children
    },
  };
}

function ffmpegChildren(): string[] {
  const out = execFileSync('ps', ['-o', 'pid=,comm=', '--ppid', String(process.pid)], { encoding: 'utf8' });
  return out.split('\n').filter((l) => /ffmpeg|ffprobe/.test(l));
}

const LIVE_SECONDS = 3;
/** Time-cut fragments of several frames (4.5 at 15 fps), what these tests check beside the default of one frame each. */
const SEVERAL_FRAMES_MS = 300;

/** Runs the ingest for LIVE_SECONDS once live; fragmentMs: what it was given (for how many fragments to expect). */
async function captureLive(rec: Recording, fragmentMs = 0): Promise<void> {
  rec.ingest.start();
  await waitFor('live', () => rec.states.some((s) => s.state === 'live'), 15_000);
  const firstCount = rec.fragments.length;
  await new Promise((r) => setTimeout(r, LIVE_SECONDS * 1000));
  const perSecond = fragmentMs === 0 ? FPS : 1000 / fragmentMs;
  expect(rec.fragments.length - firstCount).toBeGreaterThan(LIVE_SECONDS * perSecond * 0.7);
  await rec.ingest.stop();
}

/**
 * Fragments of `fragmentMs`: each video fragment but the last lasts from fragmentMs (ffmpeg cuts at
 * the first frame past it) to fragmentMs plus a frame, unless the next one starts at a keyframe.
 */
/**
 * `audioCut`: with an audio track whose packets are shorter than a frame (AAC at 48 kHz: 21 ms),
 * ffmpeg may cut a fragment on an audio packet one video frame before the video alone would have.
 */
function expectFragmentLengths(rec: Recording, fragmentMs: number, audioCut = false): void {
  const video = rec.fragments.filter((f) => f.timescale !== undefined && f.decodeTime !== undefined);
  const frame = 1000 / FPS;
  let full = 0;
  for (let i = 0; i + 1 < video.length; i++) {
    const ms = ((video[i + 1]!.decodeTime! - video[i]!.decodeTime!) / video[i]!.timescale!) * 1000;
    expect(ms).toBeLessThanOrEqual(fragmentMs + frame + 5);
    if (!video[i + 1]!.keyframe) {
      expect(ms).toBeGreaterThanOrEqual(fragmentMs - (audioCut ? frame : 0) - 5);
      full++;
    }
  }
  expect(full).toBeGreaterThan(0);
}

function videoFrames(rec: Recording): { frames: number; expected: number } {
  const video = rec.fragments.filter((f) => f.timescale !== undefined && f.decodeTime !== undefined);
  const first = video[0]!;
  const last = video[video.length - 1]!;
  const seconds = (last.decodeTime! - first.decodeTime!) / last.timescale!;
  return { frames: video.length, expected: Math.round(seconds * FPS) + 1 };
}

describe.concurrent('CameraIngest against the GStreamer RTSP camera', () => {
  it('ffmpeg, H.264 with digest auth: video copied, fragments play, password never shown', async () => {
    const cam = await startCamera({ codec: 'h264', auth: 'digest', user: 'admin', password: PASSWORD });
    // loglevel info makes ffmpeg print its input URL, credentials included: the redaction must hold.
    const rec = record({
      source: { kind: 'rtsp', url: cam.url, username: 'admin', password: PASSWORD },
      reader: 'ffmpeg',
      args: { global: ['-hide_banner', '-nostdin', '-loglevel', 'info'] },
      fragmentMs: 0, // one fragment per frame: the counts below are per fragment
    });
    await captureLive(rec);
    const init = rec.inits[0]!;
    expect(init.codecs).toHaveLength(1);
    expect(init.codecs[0]).toMatch(/^avc1\.42[0-9A-F]{4}$/);
    expect(init.mime).toBe(`video/mp4; codecs="${init.codecs[0]}"`);
    expect([init.width, init.height]).toEqual([640, 360]);
    expect(rec.fragments[0]?.keyframe).toBe(true);
    const probe = probeOutput('h264', rec);
    expect(probe.streams.map((s) => s.codec_name)).toEqual(['h264']);
    const { frames, expected } = videoFrames(rec);
    expect(Number(probe.streams[0]!.nb_read_frames)).toBeGreaterThanOrEqual(frames - 1);
    expect(Math.abs(frames - expected)).toBeLessThanOrEqual(Math.ceil(expected * 0.1));
    // Keyframes every GOP (2 s at 15 fps), not on every fragment.
    expect(rec.fragments.filter((f) => f.keyframe).length).toBeLessThanOrEqual(Math.ceil(frames / (2 * FPS)) + 1);

    const stderr = rec.ingest.stderrText();
    expect(stderr).toContain('***@127.0.0.1'); // ffmpeg did print the URL; we redacted it
    const everything = JSON.stringify(rec.states) + stderr + JSON.stringify(rec.ingest.state);
    expect(everything).not.toContain(PASSWORD);
    expect(everything).not.toContain(encodeURIComponent(PASSWORD));
    await cam.stop();
  });

  it('H.265 with PCMU (G.711) audio: hvc1 copied, audio transcoded to AAC, time-cut fragments of several frames', async () => {
    const cam = await startCamera({ codec: 'h265', audio: 'pcmu' });
    const rec = record({ source: { kind: 'rtsp', url: cam.url }, fragmentMs: SEVERAL_FRAMES_MS });
    await captureLive(rec, SEVERAL_FRAMES_MS);
    const init = rec.inits[0]!;
    expect(init.codecs[0]).toMatch(/^hvc1\.1\.6\.L\d+/);
    expect(init.codecs[1]).toBe('mp4a.40.2');
    const probe = probeOutput('h265-pcmu', rec);
    expect(probe.streams.map((s) => `${s.codec_type}:${s.codec_name}:${s.codec_tag_string}`)).toEqual(['video:hevc:hvc1', 'audio:aac:mp4a']);
    // 8 kHz G.711 is encoded at 48 kHz: at 8 kHz the AAC encoder held the video ~280 ms longer.
    expect(probe.streams[1]!.sample_rate).toBe('48000');
    // Every frame the camera sent in the span is there, in fragments of SEVERAL_FRAMES_MS or cut short by a keyframe.
    const { expected } = videoFrames(rec);
    const frames = Number(probe.streams[0]!.nb_read_frames);
    expect(frames).toBeGreaterThanOrEqual(expected - 1);
    expect(frames).toBeLessThanOrEqual(expected + Math.ceil((SEVERAL_FRAMES_MS / 1000) * FPS) + 1);
    expectFragmentLengths(rec, SEVERAL_FRAMES_MS, true);
    await cam.stop();
  });

  it('H.264 in 2 slices per frame with AAC audio: both copied, one keyframe fragment per GOP', async () => {
    const cam = await startCamera({ codec: 'h264', audio: 'aac', extraArgs: ['--slices', '2'] });
    // ffprobe: null probes with ffmpeg itself, as with the npm ffmpeg that ships no ffprobe.
    const rec = record({ source: { kind: 'rtsp', url: cam.url }, ffprobe: null, fragmentMs: 0 });
    await captureLive(rec);
    // Audio to keep: ffmpeg reads this camera, not the hub's own reader.
    expect(rec.states.find((s) => s.state === 'live')?.reader).toBe('ffmpeg');
    expect(rec.inits[0]!.codecs[1]).toBe('mp4a.40.2');
    const probe = probeOutput('h264-aac', rec);
    expect(probe.streams.map((s) => s.codec_name)).toEqual(['h264', 'aac']);
    // The audio rides in the video fragments; a keyframe fragment starts with video.
    expect(rec.fragments.some((f) => f.trackIds.includes(2))).toBe(true);
    // Each picture arrives as 2 packets (one per slice), so count pictures by distinct decode time.
    const pictures = rec.fragments.filter((f, i) => i === 0 || f.decodeTime! - rec.fragments[i - 1]!.decodeTime! > 1).length;
    const { expected } = videoFrames(rec);
    expect(Math.abs(pictures - expected)).toBeLessThanOrEqual(Math.ceil(expected * 0.1));
    // Both slices of a keyframe are sync samples; only the first fragment is a place to start.
    expect(rec.fragments.filter((f) => f.keyframe).length).toBeLessThanOrEqual(Math.ceil(expected / (2 * FPS)) + 1);
    await cam.stop();
  });

  it('the hub\'s own reader, H.264 with digest auth: no ffmpeg, one fragment per frame that plays, password never shown', async () => {
    const cam = await startCamera({ codec: 'h264', auth: 'digest', user: 'admin', password: PASSWORD });
    const rec = record({ source: { kind: 'rtsp', url: cam.url, username: 'admin', password: PASSWORD } });
    await captureLive(rec);
    expect(rec.states.find((s) => s.state === 'live')?.reader).toBe('hub');
    expect(rec.ingest.stderrText()).toBe(''); // no ffmpeg ran
    const init = rec.inits[0]!;
    expect(init.codecs).toEqual([expect.stringMatching(/^avc1\.42[0-9A-F]{4}$/)]);
    expect([init.width, init.height]).toEqual([640, 360]);
    expect(rec.fragments[0]?.keyframe).toBe(true);
    const probe = probeOutput('own-h264', rec);
    expect(probe.streams.map((s) => s.codec_name)).toEqual(['h264']);
    // Every fragment is one picture that decodes, and the camera's every frame is there.
    expect(Number(probe.streams[0]!.nb_read_frames)).toBe(rec.fragments.length);
    const { frames, expected } = videoFrames(rec);
    expect(Math.abs(frames - expected)).toBeLessThanOrEqual(1);
    const ticks = rec.fragments.slice(1).map((f, i) => f.decodeTime! - rec.fragments[i]!.decodeTime!);
    expect(new Set(ticks)).toEqual(new Set([90_000 / FPS]));
    expect(rec.fragments.filter((f) => f.keyframe).length).toBeLessThanOrEqual(Math.ceil(frames / (2 * FPS)) + 1);
    const everything = JSON.stringify(rec.states) + JSON.stringify(rec.ingest.state);
    expect(everything).not.toContain(PASSWORD);
    expect(everything).not.toContain(encodeURIComponent(PASSWORD));
    await cam.stop();
  });

  it('the hub\'s own reader, H.265 in 4 slices per frame: hvc1, one fragment per picture, every picture decodes', async () => {
    const cam = await startCamera({ codec: 'h265', size: '640x360', fps: FPS, extraArgs: ['--slices', '4'] });
    const rec = record({ source: { kind: 'rtsp', url: cam.url } });
    await captureLive(rec);
    expect(rec.states.find((s) => s.state === 'live')?.reader).toBe('hub');
    expect(rec.inits[0]!.codecs[0]).toMatch(/^hvc1\.1\.6\.L\d+/);
    const probe = probeOutput('own-h265', rec);
    expect(probe.streams.map((s) => `${s.codec_name}:${s.codec_tag_string}`)).toEqual(['hevc:hvc1']);
    expect(Number(probe.streams[0]!.nb_read_frames)).toBe(rec.fragments.length);
    // A picture's 4 slices travel as one fragment: decode times step by whole frames.
    const ticks = rec.fragments.slice(1).map((f, i) => f.decodeTime! - rec.fragments[i]!.decodeTime!);
    expect(new Set(ticks)).toEqual(new Set([90_000 / FPS]));
    const keyframes = rec.fragments.filter((f) => f.keyframe).length;
    expect(keyframes).toBeGreaterThanOrEqual(1);
    expect(keyframes).toBeLessThanOrEqual(Math.ceil(rec.fragments.length / (2 * FPS)) + 1);
    await cam.stop();
  });

  it('the hub\'s own reader hands a camera that sends B-frames to ffmpeg, which plays it', async () => {
    const cam = await startCamera({ codec: 'h264', size: '320x240', fps: FPS, extraArgs: ['--bframes', '2'] });
    const rec = record({ source: { kind: 'rtsp', url: cam.url }, timing: { backoffMs: [200] } });
    rec.ingest.start();
    await waitFor('live with ffmpeg', () => rec.ingest.state.state === 'live' && rec.ingest.state.reader === 'ffmpeg', 20_000);
    expect(rec.states.find((s) => s.state === 'backoff')?.error).toMatch(/out of order \(B-frames\)/);
    const from = rec.fragments.length;
    await waitFor('2 s of frames', () => rec.fragments.length - from >= 2 * FPS, 10_000);
    await rec.ingest.stop();
    await cam.stop();
  });

  it('a camera whose answer the hub\'s own reader does not follow is read by ffmpeg, in the same attempt', async () => {
    const cam = await startCamera({ codec: 'h264', size: '320x240', fps: FPS });
    // In front of the camera: the first connection (the hub's reader's DESCRIBE) gets an answer that
    // is not RTSP; every later one (ffmpeg's probe and ffmpeg) reaches the camera.
    let connections = 0;
    const sockets = new Set<net.Socket>();
    const front = net.createServer((s) => {
      sockets.add(s);
      s.on('error', () => undefined);
      if (connections++ === 0) {
        s.once('data', () => s.end('HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n'));
        return;
      }
      const back = net.connect(cam.port, '127.0.0.1');
      sockets.add(back);
      back.on('error', () => s.destroy());
      s.pipe(back).pipe(s);
    });
    await new Promise<void>((r) => front.listen(0, '127.0.0.1', r));
    const port = (front.address() as net.AddressInfo).port;
    try {
      const rec = record({ source: { kind: 'rtsp', url: `rtsp://127.0.0.1:${port}/cam` } });
      rec.ingest.start();
      await waitFor('live', () => rec.ingest.state.state === 'live', 15_000);
      expect(rec.ingest.state.reader).toBe('ffmpeg');
      expect(rec.states.map((s) => s.state)).not.toContain('backoff');
      await rec.ingest.stop();
    } finally {
      for (const s of sockets) s.destroy();
      front.close();
      await cam.stop();
    }
  });

  it('the hub\'s own reader, paced: a camera nobody watches is read every PACE_MS, every frame kept', async () => {
    const cam = await startCamera({ codec: 'h264', size: '320x240', fps: FPS });
    const rec = record({ source: { kind: 'rtsp', url: cam.url } });
    rec.ingest.pace(true);
    rec.ingest.start();
    await waitFor('live', () => rec.ingest.state.state === 'live', 15_000);
    const from = rec.fragments.length;
    await new Promise((r) => setTimeout(r, 2000));
    const paced = rec.fragments.slice(from);
    // Read in bursts: a new burst where the capture time jumps (a read), not between frames of one.
    const gaps = (fs: IngestFragment[]) => fs.slice(1).map((f, i) => f.captureTime - fs[i]!.captureTime);
    const bursts = 1 + gaps(paced).filter((g) => g > 30).length;
    expect(paced.length).toBeGreaterThan(1.5 * FPS);
    expect(bursts).toBeLessThanOrEqual(Math.ceil(2000 / PACE_MS) + 2);
    const ticks = paced.slice(1).map((f, i) => f.decodeTime! - paced[i]!.decodeTime!);
    expect(new Set(ticks)).toEqual(new Set([90_000 / FPS]));
    // Watched again: read as it comes, about once per frame (fewer on a loaded machine, where frames
    // wait for a busy event loop), so clearly more often than a paced socket is.
    rec.ingest.pace(false);
    const at = rec.fragments.length;
    await new Promise((r) => setTimeout(r, 2000));
    const live = rec.fragments.slice(at);
    expect(1 + gaps(live).filter((g) => g > 30).length).toBeGreaterThan(Math.ceil(2000 / PACE_MS) + 4);
    await rec.ingest.stop();
    await cam.stop();
  });

  it('test pattern with time-cut fragments: several frames per fragment, every frame kept, keyframes first', async () => {
    const rec = record({ source: { kind: 'test-pattern', size: '320x180', fps: FPS }, fragmentMs: SEVERAL_FRAMES_MS });
    await captureLive(rec, SEVERAL_FRAMES_MS);
    const probe = probeOutput('pattern-default', rec);
    const frames = Number(probe.streams[0]!.nb_read_frames);
    // ffmpeg makes the pattern itself: no frame can go missing, so frames are 3 a fragment but where a keyframe cuts.
    expect(frames).toBeGreaterThan(rec.fragments.length * 2);
    expectFragmentLengths(rec, SEVERAL_FRAMES_MS);
    expect(rec.fragments[0]!.keyframe).toBe(true);
    expect(rec.fragments.filter((f) => f.keyframe).length).toBeGreaterThanOrEqual(2);
  });

  it('test pattern: H.264 made by ffmpeg, one fragment per frame by default', async () => {
    const rec = record({ source: { kind: 'test-pattern', size: '320x180', fps: FPS } });
    expect(rec.ingest.fragmentMs).toBe(DEFAULT_FRAGMENT_MS);
    expect(DEFAULT_FRAGMENT_MS).toBe(0);
    await captureLive(rec);
    expect(rec.inits[0]).toMatchObject({ width: 320, height: 180 });
    expect(rec.inits[0]!.codecs[0]).toMatch(/^avc1\./);
    const probe = probeOutput('pattern', rec);
    expect(Number(probe.streams[0]!.nb_read_frames)).toBe(rec.fragments.length);
    expect(rec.fragments.filter((f) => f.keyframe).length).toBeGreaterThanOrEqual(2);
  });
});

describe('CameraIngest supervision', () => {
  it('backs off with a clear error when nothing listens, then gives up after maxAttempts', async () => {
    const port = await closedPort();
    const rec = record({
      source: { kind: 'rtsp', url: `rtsp://admin:${PASSWORD}@127.0.0.1:${port}/cam` },
      timing: { backoffMs: [100, 200], maxAttempts: 3, startTimeoutMs: 5000 },
    });
    rec.ingest.start();
    await waitFor('failed', () => rec.ingest.state.state === 'failed', 15_000);
    const names = rec.states.map((s) => s.state);
    expect(names).toEqual(['starting', 'backoff', 'starting', 'backoff', 'starting', 'failed']);
    expect(rec.states[1]).toMatchObject({ attempt: 1, retryInMs: 100 });
    expect(rec.states[3]).toMatchObject({ attempt: 2, retryInMs: 200 });
    expect(rec.states[1]?.error).toMatch(/Connection refused/i);
    expect(rec.states[5]?.error).toMatch(/gave up after 3 attempts/);
    expect(JSON.stringify(rec.states)).not.toContain(PASSWORD);
    expect(ffmpegChildren()).toEqual([]);
  });

  it('times out a camera that accepts the connection and never answers', async () => {
    const sockets = new Set<net.Socket>();
    const server = net.createServer((s) => {
      sockets.add(s);
      s.on('error', () => undefined);
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as net.AddressInfo).port;
    try {
      const rec = record({
        source: { kind: 'rtsp', url: `rtsp://127.0.0.1:${port}/cam` },
        timing: { startTimeoutMs: 1000, backoffMs: [60_000] },
      });
      const t0 = Date.now();
      rec.ingest.start();
      await waitFor('backoff', () => rec.ingest.state.state === 'backoff', 8000);
      expect(Date.now() - t0).toBeLessThan(4000);
      expect(rec.ingest.state.error).toMatch(/no video from rtsp:\/\/127\.0\.0\.1:\d+\/cam within 1 s/);
      const t1 = Date.now();
      await rec.ingest.stop();
      expect(Date.now() - t1).toBeLessThan(2000); // the 60 s backoff timer does not hold stop()
      expect(rec.ingest.state.state).toBe('stopped');
      expect(ffmpegChildren()).toEqual([]);
    } finally {
      for (const s of sockets) s.destroy();
      server.close();
    }
  });

  it('survives the camera dying: stalled/backoff, then live again when it returns on the same port', async () => {
    let cam: TestCamera = await startCamera({ codec: 'h264' });
    const port = cam.port;
    const rec = record({
      source: { kind: 'rtsp', url: cam.url },
      timing: { stallTimeoutMs: 2000, backoffMs: [300, 600], startTimeoutMs: 8000 },
    });
    rec.ingest.start();
    await waitFor('live', () => rec.ingest.state.state === 'live', 15_000);
    await cam.kill();
    await waitFor('stalled or backoff', () => ['stalled', 'backoff'].includes(rec.ingest.state.state), 8000);
    const outage = rec.states.length;
    cam = await startCamera({ codec: 'h264', port });
    await waitFor('live again', () => rec.ingest.state.state === 'live' && rec.states.length > outage, 20_000);
    expect(rec.inits.length).toBeGreaterThanOrEqual(2); // a fresh init segment after the restart
    const after = rec.states.slice(outage - 1).map((s) => s.state);
    expect(after).toContain('backoff');
    expect(after[after.length - 1]).toBe('live');
    await rec.ingest.stop();
    expect(ffmpegChildren()).toEqual([]);
    await cam.stop();
  });

  it('timestamps that go back (a second client restarts the test camera\'s shared stream): ffmpeg is restarted and video moves again', async () => {
    // ffmpeg clamps them and only keyframes still cut fragments until the camera's clock catches up
    // (8 s here): the media clock watch sees media time stand still and restarts ffmpeg.
    const cam = await startCamera({ codec: 'h264', extraArgs: ['--restart-on-play'] });
    // Time-cut fragments: while the timestamps are clamped only keyframes cut, and time cuts come back after the restart.
    const rec = record({ source: { kind: 'rtsp', url: cam.url }, fragmentMs: SEVERAL_FRAMES_MS, timing: { clockWindowMs: 2500, stallTimeoutMs: 2500, backoffMs: [300], startTimeoutMs: 8000 } });
    let second: { stop(): Promise<void> } | undefined;
    try {
      rec.ingest.start();
      await waitFor('live', () => rec.ingest.state.state === 'live', 15_000);
      // 8 s of the camera's media time, the size of the jump back to come.
      await waitFor('8 s of media', () => mediaSeconds(rec) >= 8, 20_000);
      const jumped = rec.states.length;
      second = await secondClient(cam.url);
      await waitFor('a restart', () => rec.states.slice(jumped).some((s) => s.state === 'backoff'), 12_000);
      expect(rec.states.slice(jumped).find((s) => s.state === 'backoff')?.error).toMatch(/timestamps .* stopped advancing/);
      await waitFor('live again', () => rec.ingest.state.state === 'live' && rec.states.length > jumped + 1, 15_000);
      const from = rec.fragments.length;
      await waitFor('4 fragments again (about 3 a second)', () => rec.fragments.length - from >= 4, 3000);
      const fresh = rec.fragments.slice(from);
      expectFragmentLengths({ ...rec, fragments: fresh }, SEVERAL_FRAMES_MS);
    } finally {
      await second?.stop();
      await rec.ingest.stop();
      await cam.stop();
    }
  });

  it.each(['hub', 'ffmpeg'] as const)('one frame per fragment: while the %s reader clamps timestamps that went back, keyframes keep their flag', async (reader) => {
    // Clamped, each frame is 1 tick after the one before, as the second slice of a multi-slice
    // keyframe is; only a sync fragment right after another sync fragment is such a slice. Before
    // that rule a one-frame ingest lost every keyframe flag until the media clock watch restarted
    // ffmpeg (the clock window is long here, so no restart hides it).
    const cam = await startCamera({ codec: 'h264', size: '320x240', fps: FPS, extraArgs: ['--restart-on-play'] });
    const rec = record({ source: { kind: 'rtsp', url: cam.url }, fragmentMs: 0, reader: reader === 'hub' ? 'auto' : 'ffmpeg', timing: { clockWindowMs: 30_000, stallTimeoutMs: 10_000 } });
    let second: { stop(): Promise<void> } | undefined;
    try {
      rec.ingest.start();
      await waitFor('live', () => rec.ingest.state.state === 'live', 15_000);
      expect(rec.ingest.state.reader).toBe(reader);
      await waitFor('10 s of media', () => mediaSeconds(rec) >= 10, 25_000);
      const from = rec.fragments.length;
      second = await secondClient(cam.url);
      // 5 s of frames after the jump: the clamp lasts about 10 s, and a GOP is 2 s.
      await waitFor('5 s of frames', () => rec.fragments.length - from >= 5 * FPS, 15_000);
      const after = rec.fragments.slice(from);
      const ticks = after.slice(1).map((f, i) => f.decodeTime! - after[i]!.decodeTime!);
      // The attack happened: most frames are 1 tick apart (clamped).
      expect(ticks.filter((t) => t === 1).length, 'timestamps were clamped').toBeGreaterThan(ticks.length / 2);
      expect(after.filter((f) => f.keyframe).length, 'keyframes in 5 s of clamped frames').toBeGreaterThanOrEqual(2);
      expect(rec.states.map((s) => s.state)).not.toContain('backoff');
    } finally {
      await second?.stop();
      await rec.ingest.stop();
      await cam.stop();
    }
  });

  it('the test camera, like a real one, lets a second client join without restarting the first one\'s timeline', async () => {
    const cam = await startCamera({ codec: 'h264', size: '320x240', fps: FPS });
    const rec = record({ source: { kind: 'rtsp', url: cam.url }, fragmentMs: 0 });
    let second: { stop(): Promise<void> } | undefined;
    try {
      rec.ingest.start();
      await waitFor('4 s of frames', () => rec.fragments.length >= 4 * FPS, 20_000);
      const from = rec.fragments.length;
      second = await secondClient(cam.url);
      await waitFor('3 s of frames', () => rec.fragments.length - from >= 3 * FPS, 15_000);
      const after = rec.fragments.slice(from - 1);
      const ticks = after.slice(1).map((f, i) => f.decodeTime! - after[i]!.decodeTime!);
      expect(ticks.filter((t) => t <= 1), 'clamped timestamps').toEqual([]);
      expect(after.filter((f) => f.keyframe).length).toBeGreaterThanOrEqual(1);
    } finally {
      await second?.stop();
      await rec.ingest.stop();
      await cam.stop();
    }
  });

  it.each(['auto', 'ffmpeg'] as const)('a wrong password fails at once (no retry storm to lock the account) and is never shown (reader %s)', async (reader) => {
    const cam = await startCamera({ codec: 'h264', auth: 'digest', user: 'admin', password: PASSWORD });
    const wrong = 'Wr0ng-Pa55word';
    const rec = record({ source: { kind: 'rtsp', url: `rtsp://admin:${wrong}@127.0.0.1:${cam.port}/cam` }, reader });
    rec.ingest.start();
    await waitFor('failed', () => rec.ingest.state.state === 'failed', 10_000);
    expect(rec.ingest.state.error).toMatch(/401|Unauthorized/);
    const all = JSON.stringify(rec.states) + rec.ingest.stderrText();
    expect(all).not.toContain(wrong);
    expect(all).not.toContain(PASSWORD);
    await cam.stop();
  });

  it('stop() during the first attempt leaves no process and no timer', async () => {
    const rec = record({ source: { kind: 'test-pattern' } });
    rec.ingest.start();
    await new Promise((r) => setTimeout(r, 50));
    await rec.ingest.stop();
    expect(rec.ingest.state.state).toBe('stopped');
    expect(ffmpegChildren()).toEqual([]);
    await rec.ingest.stop(); // idempotent
  });

  it('an fmp4 source: ffmpeg transcodes the stream given on its stdin; a new init (the source restarted) starts a fresh ffmpeg at once', async () => {
    const up = record({ source: { kind: 'test-pattern', size: '320x180', fps: FPS } });
    const input = fmp4Of(up.ingest);
    const slow = { stallTimeoutMs: 15_000, clockWindowMs: 15_000 }; // a loaded machine must not look like a stall
    const down = record({ source: { kind: 'fmp4', input }, video: 'h264', timing: slow });
    up.ingest.start();
    await waitFor('the source live', () => up.fragments.length > 0, 15_000);
    down.ingest.start();
    await waitFor('transcoded keyframes', () => down.fragments.filter((f) => f.keyframe).length >= 2, 20_000);
    // The test pattern is Constrained Baseline (ultrafast); the transcoder makes High.
    expect(up.inits[0]!.codecs[0]).toMatch(/^avc1\.42/);
    expect(down.inits[0]!.codecs[0]).toMatch(/^avc1\.64/);
    const args = execFileSync('ps', ['-o', 'args=', '--ppid', String(process.pid)], { encoding: 'utf8' }).split('\n').filter((l) => l.includes('libx264'));
    expect(args.filter((l) => l.includes('veryfast'))).toEqual([expect.stringContaining('-f mp4 -i pipe:0')]);
    expect(Number(probeOutput('fmp4-transcoded', down).streams[0]!.nb_read_frames)).toBeGreaterThan(FPS);

    await up.ingest.stop();
    up.ingest.start();
    await waitFor('a fresh transcoder on the new stream', () => down.inits.length === 2 && down.fragments.length > 0 && down.ingest.state.state === 'live', 20_000);
    expect(down.states.map((s) => s.state)).not.toContain('backoff');
    await down.ingest.stop();
    await up.ingest.stop();
    expect(input.sinks()).toBe(0);
    expect(ffmpegChildren()).toEqual([]);
  });

  it('has finite, documented defaults and refuses bad options', () => {
    expect(INGEST_DEFAULTS.timing.backoffMs).toEqual([1000, 5000, 10000, 60000]);
    expect(() => new CameraIngest({ source: { kind: 'rtsp', url: 'http://x/' } })).toThrow(/bad-options/);
    expect(() => new CameraIngest({ source: { kind: 'test-pattern', size: 'big' } })).toThrow(/bad-options/);
    expect(() => new CameraIngest({ source: { kind: 'test-pattern' }, timing: { backoffMs: [] } })).toThrow(/bad-options/);
    expect(() => new CameraIngest({ source: { kind: 'test-pattern' }, timing: { stallTimeoutMs: 0 } })).toThrow(/bad-options/);
    expect(() => new CameraIngest({ source: { kind: 'test-pattern' }, timing: { clockWindowMs: 5000, stallTimeoutMs: 6000 } })).toThrow(/bad-options: timing.clockWindowMs/);
    for (const fragmentMs of [-1, 2.5, 2_001, Number.NaN]) expect(() => new CameraIngest({ source: { kind: 'test-pattern' }, fragmentMs })).toThrow(/bad-options: fragmentMs/);
    const input: Fmp4Input = { subscribe: () => () => undefined };
    expect(() => new CameraIngest({ source: { kind: 'fmp4', input } })).toThrow(/bad-options: an fmp4 source is only transcoded/);
    expect(() => new CameraIngest({ source: { kind: 'test-pattern' }, video: 'h264' })).toThrow(/bad-options/);
  });
});

/** Another ingest's output as an Fmp4Input, as the hub's CameraFeed.output gives it. */
function fmp4Of(upstream: CameraIngest): Fmp4Input & { sinks(): number } {
  let init: Uint8Array | undefined;
  let gop: IngestFragment[] = [];
  const sinks = new Set<Fmp4Sink>();
  upstream.on('init', (i) => {
    init = i.data;
    gop = [];
    for (const s of sinks) s.init(i.data);
  });
  upstream.on('fragment', (f) => {
    if (f.keyframe) gop = [];
    if (gop.length > 0 || f.keyframe) gop.push(f);
    for (const s of sinks) s.fragment(f.data, f.keyframe);
  });
  return {
    subscribe(sink) {
      if (init !== undefined) {
        sink.init(init);
        for (const f of gop) sink.fragment(f.data, f.keyframe);
      }
      sinks.add(sink);
      return () => sinks.delete(sink);
    },
    sinks: () => sinks.size,
  };
}

