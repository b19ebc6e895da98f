// What padding sealed fragments to size buckets would cost (docs/PERFORMANCE.md, "Padding"): real
// fragments at the hub's default length (300 ms), from the project's RTSP test camera through the
// hub's own ingest (native/ingest.ts) at three sizes, and from the fixture
// test/native/fixtures/h264-aac.mp4 through ffmpeg with the ingest's output arguments. Each fragment's
// frame size (SFrame header, version and suite, sealed prefix, payload, tag) is rounded up under each
// bucket scheme; the figure is the extra bytes over all fragments, and how many distinct sizes a
// relay still sees.
//
//   node --import tsx bench/padding.bench.ts   (VIGIL_PADDING_SECONDS, default 30 per camera; about 3 min)
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { CameraIngest, DEFAULT_FRAGMENT_MS, INGEST_DEFAULTS, fragmentDurationUs } from '../native/ingest.ts';
import { Fmp4Splitter } from '../native/fmp4.ts';
import { startCamera, stopAllCameras } from '../test/support/camera/camera.ts';
import { FRAME_CLEAR_BYTES, FRAME_PREFIX_BYTES, FRAME_TAG_BYTES, paddedPlaintextLength } from '../crypto/frame.ts';

const SECONDS = Number(process.env['VIGIL_PADDING_SECONDS'] ?? 30);
const FIXTURE = fileURLToPath(new URL('../test/native/fixtures/h264-aac.mp4', import.meta.url));
/** A frame's SFrame header at a random 64-bit kid and a counter below 2^16. */
const HEADER_BYTES = 1 + 8 + 2;

type Scheme = { name: string; pad: (n: number) => number };

const SCHEMES: Scheme[] = [
  { name: 'none', pad: (n) => n },
  { name: '1 KiB multiples', pad: (n) => Math.ceil(n / 1024) * 1024 },
  { name: '4 KiB multiples', pad: (n) => Math.ceil(n / 4096) * 4096 },
  { name: 'powers of 2', pad: (n) => 2 ** Math.ceil(Math.log2(Math.max(n, 1))) },
  { name: '1.1^n steps', pad: (n) => steps(n, 1.1) },
  { name: '1.05^n steps', pad: (n) => steps(n, 1.05) },
  { name: '1.02^n steps', pad: (n) => steps(n, 1.02) },
  { name: 'Padmé (as sealed)', pad: paddedPlaintextLength },
];

/** The smallest ceil(256 * r^k) >= n. */
function steps(n: number, r: number): number {
  let b = 256;
  for (let k = 0; b < n; k++) b = Math.ceil(256 * r ** k);
  return b;
}

function wireBytes(payload: number, pad: (n: number) => number): number {
  return HEADER_BYTES + FRAME_CLEAR_BYTES + pad(FRAME_PREFIX_BYTES + payload) + FRAME_TAG_BYTES;
}

async function cameraFragments(size: string, fps: number, audio: 'none' | 'aac'): Promise<number[]> {
  const camera = await startCamera({ codec: 'h264', size, fps, audio, runSeconds: SECONDS + 60 });
  const sizes: number[] = [];
  const ingest = new CameraIngest({ source: { kind: 'rtsp', url: camera.url }, fragmentMs: DEFAULT_FRAGMENT_MS });
  let first = 0;
  const done = new Promise<void>((resolve) => {
    ingest.on('fragment', (f) => {
      first ||= performance.now();
      sizes.push(f.data.length);
      if (performance.now() - first > SECONDS * 1000) resolve();
    });
  });
  const guard = setTimeout(() => ingest.emit('state', { state: 'failed', attempt: 0 }), (SECONDS + 45) * 1000);
  ingest.on('state', (s) => {
    if (s.state === 'failed') throw new Error(`ingest failed: ${s.error ?? ''}`);
  });
  ingest.start();
  await done;
  clearTimeout(guard);
  await ingest.stop();
  await camera.stop();
  return sizes.slice(1); // the first fragment may start mid-GOP after the probe
}

async function fixtureFragments(): Promise<number[]> {
  const args = [...INGEST_DEFAULTS.args.global, '-stream_loop', '14', '-i', FIXTURE, '-c', 'copy',
    ...INGEST_DEFAULTS.args.output.map((a) => a.replace('{fragmentUs}', fragmentDurationUs(DEFAULT_FRAGMENT_MS)))];
  const child = spawn('ffmpeg', args, { stdio: ['ignore', 'pipe', 'inherit'] });
  const splitter = new Fmp4Splitter();
  const sizes: number[] = [];
  child.stdout.on('data', (chunk: Buffer) => {
    for (const s of splitter.push(chunk)) if (s.type === 'fragment') sizes.push(s.data.length);
  });
  await new Promise<void>((resolve, reject) => child.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`ffmpeg exited ${code}`)))));
  return sizes;
}

function report(name: string, sizes: number[]): void {
  const mean = sizes.reduce((a, b) => a + b, 0) / sizes.length;
  console.log(`\n${name}: ${sizes.length} fragments, payload mean ${(mean / 1024).toFixed(1)} KiB, min ${sizes.reduce((a, b) => Math.min(a, b))} B, max ${sizes.reduce((a, b) => Math.max(a, b))} B`);
  const base = sizes.reduce((a, n) => a + wireBytes(n, (x) => x), 0);
  for (const s of SCHEMES) {
    const total = sizes.reduce((a, n) => a + wireBytes(n, s.pad), 0);
    const distinct = new Set(sizes.map((n) => wireBytes(n, s.pad))).size;
    console.log(`  ${s.name.padEnd(18)} overhead ${(100 * (total / base - 1)).toFixed(2).padStart(6)} %   distinct sizes ${distinct}`);
  }
}

const results: [string, number[]][] = [];
results.push(['fixture h264-aac.mp4 (160x90 15 fps + AAC)', await fixtureFragments()]);
for (const [size, fps, audio] of [['640x360', 15, 'aac'], ['1280x720', 25, 'none'], ['1920x1080', 30, 'none']] as const) {
  results.push([`test camera ${size} ${fps} fps${audio === 'aac' ? ' + AAC' : ''}`, await cameraFragments(size, fps, audio)]);
}
await stopAllCameras();
console.log(`Fragments of ${DEFAULT_FRAGMENT_MS} ms; frame = header (${HEADER_BYTES}) + clear (${FRAME_CLEAR_BYTES}) + padded(prefix ${FRAME_PREFIX_BYTES} + payload) + tag (${FRAME_TAG_BYTES})`);
for (const [name, sizes] of results) report(name, sizes);
