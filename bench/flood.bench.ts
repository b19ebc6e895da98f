// npm run bench:flood — does a handshake flood stall the hub (issue 14, finding 6)?
//   Cameras (GStreamer RTSP test cameras) -> hub (child process) -> relay -> a watching phone, all on
//   127.0.0.1, measured for a window without and then a window with a flood: a second paired phone
//   sends session message 1s (valid, each one distinct, so each would be a full handshake) at the
//   relay's per-connection limit (relay/limits.ts maxMessagesPerSecond).
// For each camera: fragments the phone opened per second and the added latency (the hub has the
// fragment -> the phone opened it, one wall clock), and the hub process's CPU, with the ratio
// flood / no flood. Everything runs in this one process except the hub (bench/lib/hub.worker.ts)
// and the cameras. Prints PASS/FAIL against the targets and exits 0: it is a report, not a test.
import WebSocket from 'ws';
import type { OpenedFrame } from '../crypto/frame.ts';
import { sign } from '../crypto/identity.ts';
import { Envelope, encodeEnvelope } from '../crypto/messages.ts';
import { startSession } from '../crypto/session.ts';
import { cryptoReady } from '../crypto/sodium.ts';
import { DEFAULT_FRAGMENT_MS } from '../native/ingest.ts';
import { HubLink } from '../phone/core/hub-link.ts';
import { pairWithHub } from '../phone/core/pair.ts';
import type { PhoneProfile } from '../phone/core/profile.ts';
import { RelayClient, type WebSocketConstructor } from '../relay/client.ts';
import { DEFAULT_LIMITS } from '../relay/limits.ts';
import { startRelay, type RelayHandle } from '../relay/server.ts';
import { startCamera, stopAllCameras, type TestCamera } from '../test/support/camera/camera.ts';
import type { WorkerRequest, WorkerStatus } from './lib/hub.worker.ts';
import { sampleTree, treeDelta } from './lib/proc.ts';
import { relayFactory } from './lib/relay-factory.ts';
import { runBench } from './lib/run.ts';
import { fixed, machineLine, median, nowMs, percentile, verdict } from './lib/stats.ts';
import { HUB_WORKER, HubWorker, sleep, waitFor } from './lib/worker-client.ts';

/** VIGIL_BENCH_CAMERAS=N: how many cameras the hub seals while the flood runs. */
const CAMERAS = Number(process.env['VIGIL_BENCH_CAMERAS'] ?? 2);
const CAMERA = { size: '640x360', fps: 15, bitrateKbps: 1000, gop: 30 } as const;
/** Watched unmeasured first: the hub's JIT warm-up and the start burst. */
const WARMUP_MS = 10_000;
/** Each measured window: without the flood, then with it. */
const WINDOW_MS = 15_000;
/** Flood messages per second: the relay's per-connection limit, a little under so none is refused for rate. */
const FLOOD_PER_SECOND = Math.floor(DEFAULT_LIMITS.maxMessagesPerSecond * 0.95);
/** Distinct message 1s, sent round-robin (more than the hub remembers per phone, so none looks repeated). */
const DISTINCT_MESSAGES = 400;
const DEADLINE_MS = 150_000;

/** Under the flood every camera keeps at least this share of its fragments... */
const TARGET_DELIVERY_RATIO = 0.95;
/** ...and the added latency's p99 stays under this. */
const TARGET_LATENCY_P99_MS = 100;

let relay: RelayHandle | undefined;
const worker = new HubWorker<WorkerRequest>(HUB_WORKER, { killAfterMs: 8_000 });
let link: HubLink | undefined;
let flooder: RelayClient | undefined;
let cleaning: Promise<void> | undefined;

function cleanup(): Promise<void> {
  cleaning ??= (async () => {
    await flooder?.close().catch(() => undefined);
    await link?.close().catch(() => undefined);
    await worker.stop();
    await stopAllCameras();
    await relay?.close().catch(() => undefined);
  })();
  return cleaning;
}

async function pair(name: string): Promise<PhoneProfile> {
  const invite = await worker.rpc<{ id: string; link: string }>({ op: 'invite' });
  const approved = worker.rpc<string>({ op: 'approve', invite: invite.id, timeoutMs: 20_000 }, 25_000);
  const profile = await pairWithHub({ link: invite.link, name, relayFactory, timeoutMs: 20_000 });
  await approved;
  return profile;
}

// ---------------------------------------------------------------------------------------------

interface Window {
  seconds: number;
  /** Per camera number: fragments opened, and their added latencies. */
  opened: Map<number, number>;
  latency: number[];
  produced: number;
  hubCpu: number;
}

let measuring: { from: number; opened: Map<number, number>; latency: number[] } | undefined;

function onFrame(f: OpenedFrame): void {
  const wall = Date.now();
  const m = measuring;
  if (m === undefined || f.frameType === 'init' || f.captureTime < m.from) return;
  m.opened.set(f.cameraNumber, (m.opened.get(f.cameraNumber) ?? 0) + 1);
  m.latency.push(wall - f.captureTime);
}

async function measure(): Promise<Window> {
  const pid = worker.pid;
  const before = await worker.rpc<WorkerStatus>({ op: 'status' });
  const a = sampleTree(pid, []);
  const start = nowMs();
  measuring = { from: Date.now(), opened: new Map(), latency: [] };
  await sleep(WINDOW_MS);
  const m = measuring;
  measuring = undefined;
  const seconds = (nowMs() - start) / 1000;
  const b = sampleTree(pid, []);
  const after = await worker.rpc<WorkerStatus>({ op: 'status' });
  const produced = after.cameras.reduce((n, c) => n + c.fragments, 0) - before.cameras.reduce((n, c) => n + c.fragments, 0);
  return { seconds, opened: m.opened, latency: m.latency, produced, hubCpu: treeDelta(a, b).self / seconds };
}

/** Sends `messages` round-robin at FLOOD_PER_SECOND for `ms`; counts what the relay took. */
async function flood(client: RelayClient, to: Uint8Array, messages: readonly Uint8Array[], ms: number): Promise<{ sent: number; seconds: number; accepted: number; refused: Map<string, number> }> {
  const out = { sent: 0, seconds: 0, accepted: 0, refused: new Map<string, number>() };
  const start = nowMs();
  const tickMs = 10;
  const perTick = Math.max(1, Math.round((FLOOD_PER_SECOND * tickMs) / 1000));
  let next = start;
  while (nowMs() - start < ms) {
    for (let i = 0; i < perTick; i++) {
      const m = messages[out.sent % messages.length]!;
      out.sent++;
      client.send(to, m).then(() => out.accepted++, (e: unknown) => {
        const code = (e as { code?: string }).code ?? 'error';
        out.refused.set(code, (out.refused.get(code) ?? 0) + 1);
      });
    }
    // Paced on the clock; a tick more than 50 ms late (this process was not scheduled) is not made
    // up with a burst, so the rate never goes over FLOOD_PER_SECOND.
    next = Math.max(next + tickMs, nowMs() - 50);
    await sleep(Math.max(0, next - nowMs()));
  }
  out.seconds = (nowMs() - start) / 1000;
  return out;
}

function report(label: string, w: Window, cameras: readonly number[]): void {
  const rates = cameras.map((n) => `cam ${n} ${fixed((w.opened.get(n) ?? 0) / w.seconds, 2)}/s`).join(', ');
  console.log(`  ${label}: fragments opened ${rates} (the hub got ${fixed(w.produced / w.seconds, 2)}/s in all); ` +
    `added latency p50 ${fixed(median(w.latency), 0)} ms p99 ${fixed(percentile(w.latency, 99), 0)} ms max ${fixed(Math.max(...w.latency), 0)} ms; ` +
    `hub process CPU ${fixed(w.hubCpu * 100, 1)}% of one core`);
}

async function main(): Promise<void> {
  const startedAt = nowMs();
  await cryptoReady();
  console.log('vigil bench:flood');
  console.log(machineLine());
  console.log(`cameras: ${CAMERAS} GStreamer RTSP test cameras, H.264 ${CAMERA.size} at ${CAMERA.fps} fps, ${CAMERA.bitrateKbps} kbit/s; ` +
    `fragments of ${DEFAULT_FRAGMENT_MS} ms; one phone watches all of them through the relay`);
  console.log(`flood: a second paired phone sends ${FLOOD_PER_SECOND} session message 1s a second (relay limit ${DEFAULT_LIMITS.maxMessagesPerSecond}/s per connection), ` +
    `${DISTINCT_MESSAGES} distinct valid ones round-robin`);
  console.log(`method: ${WARMUP_MS / 1000} s watched unmeasured, then a ${WINDOW_MS / 1000} s window without the flood and a ${WINDOW_MS / 1000} s window with it, same process, same cameras`);
  console.log('');

  relay = await startRelay({ host: '127.0.0.1', port: 0 });
  const cams: TestCamera[] = await Promise.all(Array.from({ length: CAMERAS }, () => startCamera({
    size: CAMERA.size, fps: CAMERA.fps, gop: CAMERA.gop, runSeconds: DEADLINE_MS / 1000 + 10,
    extraArgs: ['--bitrate', String(CAMERA.bitrateKbps)],
  })));
  await worker.start([relay.url, String(DEFAULT_FRAGMENT_MS)]);
  const watcher = await pair('bench watcher');
  const attacker = await pair('bench flooder');

  const names = cams.map((_, i) => `cam${i + 1}`);
  for (let i = 0; i < cams.length; i++) await worker.rpc({ op: 'add-camera', name: names[i]!, url: cams[i]!.url });
  await waitFor('every camera live', 30_000, async () => {
    const s = await worker.rpc<WorkerStatus>({ op: 'status' });
    return names.every((n) => s.cameras.some((c) => c.name === n && c.state === 'live' && c.fragments > 0));
  });

  link = new HubLink({ profile: watcher, relayFactory, onFrame, commandTimeoutMs: 10_000, path: 'relay' });
  await link.ready(20_000);
  const list = (await link.listCameras()).filter((c) => names.includes(c.name));
  await waitFor('the watcher to hold the epoch\'s keys', 10_000, async () => link!.currentEpoch >= (await worker.rpc<WorkerStatus>({ op: 'status' })).epoch);
  for (const c of list) await link.watch(c);

  // The flooder's message 1s, made before anything is measured (X-Wing encapsulation costs here).
  const messages = Array.from({ length: DISTINCT_MESSAGES }, () =>
    encodeEnvelope(Envelope.SESSION_1, startSession({ device: attacker.device, hub: attacker.hub }).message1));
  flooder = new RelayClient({
    url: attacker.relays[0]!, publicKey: attacker.relayKey.publicKey, sign: (m) => sign(attacker.relayKey, m),
    WebSocket: WebSocket as unknown as WebSocketConstructor,
  });
  await flooder.waitReady(10_000);

  await sleep(WARMUP_MS);
  const numbers = list.map((c) => c.number);
  const quiet = await measure();
  // The flood lasts exactly the window (the window's closing status request is not flooded).
  const flooding = flood(flooder, attacker.hub.relayKey, messages, WINDOW_MS);
  const loud = await measure();
  const sent = await flooding;
  await sleep(1_000); // the last acknowledgements

  console.log('results:');
  report('no flood  ', quiet, numbers);
  report('with flood', loud, numbers);
  const refused = [...sent.refused].map(([code, n]) => `${n} ${code}`).join(', ') || 'none';
  console.log(`  flood: ${sent.sent} message 1s sent in ${fixed(sent.seconds, 1)} s (${fixed(sent.sent / sent.seconds, 0)}/s), ` +
    `${sent.accepted} acknowledged by the relay, failed: ${refused}`);
  let pass = true;
  for (const n of numbers) {
    const ratio = ((loud.opened.get(n) ?? 0) / loud.seconds) / ((quiet.opened.get(n) ?? 0) / quiet.seconds);
    const ok = ratio >= TARGET_DELIVERY_RATIO;
    pass &&= ok;
    console.log(`  cam ${n}: fragments delivered with flood / without = ${fixed(ratio, 3)}  target >= ${TARGET_DELIVERY_RATIO}: ${verdict(ok)}`);
  }
  const p99 = percentile(loud.latency, 99);
  const latencyOk = p99 < TARGET_LATENCY_P99_MS;
  pass &&= latencyOk;
  console.log(`  added latency p99 with flood / without = ${fixed(p99 / percentile(quiet.latency, 99), 2)}x; ` +
    `with flood ${fixed(p99, 0)} ms, target < ${TARGET_LATENCY_P99_MS} ms: ${verdict(latencyOk)}`);
  console.log(`  hub CPU with flood / without = ${fixed(loud.hubCpu / quiet.hubCpu, 2)}x`);
  console.log('');
  console.log(`overall: ${verdict(pass)}; done in ${fixed((nowMs() - startedAt) / 1000, 1)} s`);
}

runBench('bench:flood', DEADLINE_MS, main, cleanup);
