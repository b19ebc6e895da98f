// `npm run bench:relay`: N hubs x M viewers with 4 Mbit/s streams of random ("sealed") fragments over
// loopback, through (1) a bare `ws` forwarder, the ceiling; (2) one relay node; (3) two relay nodes
// joined by a real nats-server, hubs on one node and viewers on the other. Prints forwarded MB/s per
// core (payload bytes delivered to viewers per CPU-second of the server processes), p50/p99
// hub-to-viewer latency and what the relay adds over bare, and memory per connection with 1,000
// viewers on one node; then the targets with PASS/FAIL.
//
// Each server runs in its own child process (this file with `serve`), so its CPU time and memory are
// its own; the hubs and viewers run here. Two cores are shared by everything: the load generator's
// own cost is why figures are per CPU-second of the server, not per wall-second.

import { fork, spawn, type ChildProcess } from 'node:child_process';
import { generateKeyPairSync, randomBytes, sign as edSign, type KeyObject } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import http from 'node:http';
import { createServer } from 'node:net';
import { cpus } from 'node:os';
import { fileURLToPath } from 'node:url';
import { WebSocket, WebSocketServer, type RawData } from 'ws';
import {
  FLAG_KEYFRAME,
  RIGHT_WATCH,
  decodeServerMessage,
  encodeMessage,
  loginMessage,
  signCapability,
  type ClientMessage,
} from '../relay/codec.ts';
import { startRelay } from '../relay/server.ts';

const SELF = fileURLToPath(import.meta.url);
const NATS_SERVER = process.env.NATS_SERVER ?? '/usr/sbin/nats-server';

/** A 4 Mbit/s camera: 25 fragments a second of 20 KB, a keyframe every 2 s. */
const FRAGMENT_BYTES = 20_000;
const FRAGMENTS_PER_SECOND = 25;
const KEYFRAME_EVERY = 50;
const STREAM_MBPS = (FRAGMENT_BYTES * FRAGMENTS_PER_SECOND * 8) / 1e6;
/** Offset of the payload in a relay `media` frame (version, type, hub, topic, flags, dropped, length). */
const MEDIA_PAYLOAD_OFFSET = 59;

const SERVER_LIMITS = {
  maxConnections: 5_000,
  maxConnectionsPerAddress: 5_000, // every bench client comes from 127.0.0.1
  maxHandshakesPerAddress: 1_000,
  maxSubscriptionsPerConnection: 64,
  maxMessagesPerSecond: 10_000,
  authTimeoutMs: 30_000,
  idleTimeoutMs: 120_000,
};

// ---------------------------------------------------------------------------------------------------
// Server side (child process)

interface ServerReport {
  cpuMs: number;
  rss: number;
  heapUsed: number;
  external: number;
  queuedBytes: number;
  drops: number;
}

async function serve(kind: string, natsUrl: string | undefined): Promise<void> {
  let url: string;
  let queued: () => { queuedBytes: number; drops: number };
  if (kind === 'bare') {
    // The ceiling: the same ws library, no login, no framing, no capability: each message from a
    // hub goes to every viewer of its group, and never waits (like the relay, it skips nothing else).
    const groups = new Map<string, Set<WebSocket>>();
    const wss = new WebSocketServer({ host: '127.0.0.1', port: 0, perMessageDeflate: false, clientTracking: false, maxPayload: 4 << 20 });
    await new Promise<void>((r) => wss.once('listening', () => r()));
    wss.on('connection', (ws, req) => {
      const u = new URL(req.url ?? '/', 'http://x');
      const group = u.searchParams.get('g') ?? '';
      if (u.searchParams.get('role') === 'view') {
        let set = groups.get(group);
        if (!set) groups.set(group, (set = new Set()));
        set.add(ws);
        ws.on('close', () => set.delete(ws));
        return;
      }
      ws.on('message', (data: RawData) => {
        for (const v of groups.get(group) ?? []) v.send(data as Buffer, { binary: true });
      });
    });
    url = `ws://127.0.0.1:${(wss.address() as { port: number }).port}/bare`;
    queued = () => ({ queuedBytes: 0, drops: 0 });
  } else {
    const relay = await startRelay({
      host: '127.0.0.1',
      port: 0,
      limits: SERVER_LIMITS,
      ...(natsUrl ? { nats: { servers: [natsUrl], prefix: 'vigil.bench' } } : {}),
    });
    url = relay.url;
    queued = () => {
      const s = relay.stats();
      return { queuedBytes: s.queuedBytes, drops: s.drops['slow-viewer'] };
    };
  }
  process.on('message', (m: unknown) => {
    if (m !== 'report') return;
    const cpu = process.cpuUsage();
    const mem = process.memoryUsage();
    const report: ServerReport = {
      cpuMs: (cpu.user + cpu.system) / 1000,
      rss: mem.rss,
      heapUsed: mem.heapUsed,
      external: mem.external,
      ...queued(),
    };
    process.send?.(report);
  });
  process.on('disconnect', () => process.exit(0));
  process.send?.({ url });
}

interface ServerProc {
  url: string;
  report(): Promise<ServerReport>;
  stop(): void;
}

async function startServer(kind: 'bare' | 'relay', natsUrl?: string): Promise<ServerProc> {
  const child = fork(SELF, ['serve', kind, ...(natsUrl ? [natsUrl] : [])], {
    execArgv: ['--import', 'tsx', '--max-old-space-size=2048', ...(process.env.BENCH_SERVER_FLAGS ?? '').split(' ').filter(Boolean)],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const url = await new Promise<string>((resolve, reject) => {
    child.once('message', (m) => resolve((m as { url: string }).url));
    child.once('exit', (code) => reject(new Error(`${kind} server exited ${code}`)));
  });
  return {
    url,
    report: () =>
      new Promise((resolve) => {
        child.once('message', (m) => resolve(m as ServerReport));
        child.send('report');
      }),
    stop: () => {
      child.kill('SIGKILL');
    },
  };
}

// ---------------------------------------------------------------------------------------------------
// nats-server

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

/** CPU milliseconds a process has used, from /proc (for nats-server, which is not ours to ask). */
function procCpuMs(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.split(' ') ?? [];
  const ticks = Number(fields[11]) + Number(fields[12]); // utime, stime (fields 14, 15)
  return (ticks * 1000) / 100; // USER_HZ is 100 on Linux
}

async function startNats(): Promise<{ url: string; child: ChildProcess }> {
  const port = await freePort();
  const child = spawn(NATS_SERVER, ['-a', '127.0.0.1', '-p', String(port)], { stdio: 'ignore' });
  for (let i = 0; i < 200; i++) {
    const up = await new Promise<boolean>((resolve) => {
      const req = http.get({ host: '127.0.0.1', port, timeout: 200 }, () => resolve(true));
      req.on('error', (e: Error & { code?: string }) => resolve(e.code !== 'ECONNREFUSED'));
      req.on('timeout', () => {
        req.destroy();
        resolve(true);
      });
    });
    if (up) break;
    await sleep(25);
  }
  return { url: `nats://127.0.0.1:${port}`, child };
}

// ---------------------------------------------------------------------------------------------------
// Load generator (this process)

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

interface Key {
  publicKey: Uint8Array;
  privateKey: KeyObject;
}

function makeKey(): Key {
  const { publicKey, privateKey } = generateKeyPairSync('ed25519');
  const spki = publicKey.export({ format: 'der', type: 'spki' });
  return { publicKey: new Uint8Array(spki.subarray(spki.length - 32)), privateKey };
}

/** Opens a relay connection and logs in; resolves with the socket once `ready`. */
function relayLogin(url: string, key: Key): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, { perMessageDeflate: false });
    ws.binaryType = 'nodebuffer';
    const host = new URL(url).host;
    ws.on('error', reject);
    const onMessage = (data: Buffer): void => {
      const m = decodeServerMessage(new Uint8Array(data));
      if (m.type === 'challenge') {
        const signature = new Uint8Array(edSign(null, loginMessage(m.nonce, m.connectionId, host), key.privateKey));
        ws.send(encodeMessage({ type: 'login', publicKey: key.publicKey, signature }));
      } else if (m.type === 'ready') {
        ws.off('message', onMessage);
        resolve(ws);
      }
    };
    ws.on('message', onMessage);
  });
}

function request(ws: WebSocket, m: ClientMessage): Promise<string> {
  return new Promise((resolve) => {
    const onMessage = (data: Buffer): void => {
      const r = decodeServerMessage(new Uint8Array(data));
      if ((r.type === 'ok' || r.type === 'error') && r.requestId === (m as { requestId: number }).requestId) {
        ws.off('message', onMessage);
        resolve(r.type === 'ok' ? 'ok' : r.code);
      }
    };
    ws.on('message', onMessage);
    ws.send(encodeMessage(m));
  });
}

function openBare(url: string, role: 'hub' | 'view', group: number): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`${url}?role=${role}&g=${group}`, { perMessageDeflate: false });
    ws.binaryType = 'nodebuffer';
    ws.once('open', () => resolve(ws));
    ws.once('error', reject);
  });
}

class Recorder {
  bytes = 0;
  frames = 0;
  latencies: number[] = [];
  recording = false;

  onFrame(data: Buffer, offset: number): void {
    if (!this.recording) return;
    this.frames += 1;
    this.bytes += data.length - offset;
    const sentAt = data.readDoubleLE(offset);
    this.latencies.push(performance.now() - sentAt);
  }

  percentile(p: number): number {
    if (this.latencies.length === 0) return NaN;
    const sorted = Float64Array.from(this.latencies).sort();
    return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] as number;
  }
}

interface Topology {
  /** Where hubs connect and where viewers connect (the same URL on one node). */
  hubUrl: string;
  viewerUrl: string;
  hubs: number;
  viewersPerHub: number;
  /** Viewers that stop reading (their socket is paused): slow viewers. */
  pausedViewers?: number;
  /** Hubs that publish; the others' viewers are connected and subscribed but idle. */
  streamingHubs?: number;
}

interface Fleet {
  recorder: Recorder;
  sockets: WebSocket[];
  send(hub: number, seq: number): void;
  close(): void;
}

const POOL = Array.from({ length: 16 }, () => randomBytes(FRAGMENT_BYTES));

async function buildFleet(kind: 'bare' | 'relay', t: Topology): Promise<Fleet> {
  const recorder = new Recorder();
  const sockets: WebSocket[] = [];
  const senders: ((seq: number) => void)[] = [];
  const topicId = new Uint8Array(16).fill(7);
  const paused = t.pausedViewers ?? 0;
  let viewerIndex = 0;
  for (let h = 0; h < t.hubs; h++) {
    let hubWs: WebSocket;
    if (kind === 'bare') {
      hubWs = await openBare(t.hubUrl, 'hub', h);
      for (let v = 0; v < t.viewersPerHub; v++) {
        const ws = await openBare(t.viewerUrl, 'view', h);
        sockets.push(ws);
        if (viewerIndex++ < paused) (ws as unknown as { _socket: { pause(): void } })._socket.pause();
        else ws.on('message', (d: Buffer) => recorder.onFrame(d, 0));
      }
      senders.push((seq) => {
        const payload = Buffer.allocUnsafe(FRAGMENT_BYTES);
        (POOL[seq % POOL.length] as Buffer).copy(payload);
        payload.writeDoubleLE(performance.now(), 0);
        hubWs.send(payload, { binary: true });
      });
    } else {
      const hubKey = makeKey();
      hubWs = await relayLogin(t.hubUrl, hubKey);
      const viewers = await Promise.all(
        Array.from({ length: t.viewersPerHub }, async () => {
          const key = makeKey();
          const cap = signCapability(
            { hubRelayId: hubKey.publicKey, deviceRelayId: key.publicKey, rights: RIGHT_WATCH, expiresAt: Math.floor(Date.now() / 1000) + 3600 },
            (m) => new Uint8Array(edSign(null, m, hubKey.privateKey)),
          );
          const granted = await request(hubWs, { type: 'grant', requestId: 1 + Math.floor(Math.random() * 1e9), capability: cap });
          if (granted !== 'ok') throw new Error(`grant: ${granted}`);
          return { key, ws: await relayLogin(t.viewerUrl, key) };
        }),
      );
      for (const { ws } of viewers) {
        // The grant may still be crossing NATS to the viewers' node.
        for (let i = 0; ; i++) {
          const r = await request(ws, { type: 'subscribe', requestId: 1 + Math.floor(Math.random() * 1e9), hubRelayId: hubKey.publicKey, topicId });
          if (r === 'ok') break;
          if (i > 100) throw new Error(`subscribe: ${r}`);
          await sleep(10);
        }
        sockets.push(ws);
        if (viewerIndex++ < paused) (ws as unknown as { _socket: { pause(): void } })._socket.pause();
        else ws.on('message', (d: Buffer) => d[1] === 0x46 && recorder.onFrame(d, MEDIA_PAYLOAD_OFFSET));
      }
      // A publish frame built in place: header, then the stamped random payload.
      const header = encodeMessage({ type: 'publish', requestId: 0, topicId, flags: 0, payload: new Uint8Array(0) });
      const headerLength = header.length - 4; // without the empty payload's length field
      senders.push((seq) => {
        const frame = Buffer.allocUnsafe(headerLength + 4 + FRAGMENT_BYTES);
        frame.set(header.subarray(0, headerLength));
        frame[headerLength - 1] = seq % KEYFRAME_EVERY === 0 ? FLAG_KEYFRAME : 0;
        frame.writeUInt32BE(FRAGMENT_BYTES, headerLength);
        (POOL[seq % POOL.length] as Buffer).copy(frame, headerLength + 4);
        frame.writeDoubleLE(performance.now(), headerLength + 4);
        hubWs.send(frame, { binary: true });
      });
    }
    sockets.push(hubWs);
  }
  const streaming = t.streamingHubs ?? t.hubs;
  return {
    recorder,
    sockets,
    send: (hub, seq) => {
      if (hub < streaming) (senders[hub] as (seq: number) => void)(seq);
    },
    close: () => {
      for (const ws of sockets) ws.terminate();
    },
  };
}

/** Every hub sends at its own phase of the 40 ms frame period, for `seconds`. */
async function stream(fleet: Fleet, hubs: number, seconds: number): Promise<void> {
  const periodMs = 1000 / FRAGMENTS_PER_SECOND;
  const start = performance.now();
  const next = Array.from({ length: hubs }, (_, h) => start + (h * periodMs) / hubs);
  const seq = new Array<number>(hubs).fill(0);
  const end = start + seconds * 1000;
  while (performance.now() < end) {
    const now = performance.now();
    for (let h = 0; h < hubs; h++) {
      while ((next[h] as number) <= now) {
        fleet.send(h, seq[h] as number);
        seq[h] = (seq[h] as number) + 1;
        next[h] = (next[h] as number) + periodMs;
      }
    }
    await sleep(1);
  }
}

interface Measure {
  label: string;
  hubs: number;
  viewers: number;
  offeredMBps: number;
  deliveredMBps: number;
  cpuCores: number;
  mbPerCoreSecond: number;
  p50: number;
  p99: number;
  rssPerConnKiB: number;
  drops: number;
}

async function measure(
  label: string,
  kind: 'bare' | 'relay',
  servers: ServerProc[],
  extraCpuMs: () => number,
  t: Topology,
  seconds: number,
  fresh = true,
): Promise<Measure> {
  const before0 = await Promise.all(servers.map((s) => s.report()));
  const fleet = await buildFleet(kind, t);
  const streaming = t.streamingHubs ?? t.hubs;
  await stream(fleet, t.hubs, 1.5); // warm-up: JIT, TCP windows
  const before = await Promise.all(servers.map((s) => s.report()));
  const extraBefore = extraCpuMs();
  fleet.recorder.recording = true;
  const started = performance.now();
  await stream(fleet, t.hubs, seconds);
  await sleep(200); // in flight
  fleet.recorder.recording = false;
  const wall = (performance.now() - started) / 1000;
  const after = await Promise.all(servers.map((s) => s.report()));
  const cpuMs = after.reduce((n, r, i) => n + r.cpuMs - (before[i] as ServerReport).cpuMs, 0) + (extraCpuMs() - extraBefore);
  const rssGrowth = after.reduce((n, r, i) => n + r.rss - (before0[i] as ServerReport).rss, 0);
  const connections = t.hubs * (t.viewersPerHub + 1);
  fleet.close();
  const deliveredMB = fleet.recorder.bytes / 1e6;
  const viewers = t.hubs * t.viewersPerHub;
  const m: Measure = {
    label,
    hubs: t.hubs,
    viewers,
    offeredMBps: (streaming * t.viewersPerHub * FRAGMENT_BYTES * FRAGMENTS_PER_SECOND) / 1e6,
    deliveredMBps: deliveredMB / wall,
    cpuCores: cpuMs / 1000 / wall,
    mbPerCoreSecond: deliveredMB / (cpuMs / 1000),
    p50: fleet.recorder.percentile(50),
    p99: fleet.recorder.percentile(99),
    ...(process.env.BENCH_DEBUG ? { p90: fleet.recorder.percentile(90), p999: fleet.recorder.percentile(99.9), max: fleet.recorder.percentile(100) } : {}),
    rssPerConnKiB: fresh ? rssGrowth / connections / 1024 : NaN, // a reused server has freed memory of its own
    drops: after.reduce((n, r) => n + r.drops, 0),
  };
  await sleep(300);
  return m;
}

function row(m: Measure): string {
  const f = (n: number, d = 1) => (Number.isFinite(n) ? n.toFixed(d) : '-');
  return [
    m.label.padEnd(26),
    `${m.hubs}x${m.viewers / m.hubs}`.padStart(7),
    f(m.deliveredMBps).padStart(8),
    f(m.cpuCores, 2).padStart(6),
    f(m.mbPerCoreSecond).padStart(10),
    f(m.p50, 2).padStart(7),
    f(m.p99, 2).padStart(7),
    f(m.rssPerConnKiB).padStart(9),
  ].join('  ') + (process.env.BENCH_DEBUG ? ` ${JSON.stringify(m)}` : '');
}

async function main(): Promise<void> {
  const hubs = Number(process.env.BENCH_HUBS ?? 8);
  const viewersPerHub = Number(process.env.BENCH_VIEWERS ?? 8);
  const seconds = Number(process.env.BENCH_SECONDS ?? 6);
  // Bare and relay alternate, and the median round counts: the machine is shared, and a neighbour's
  // burst should not decide a ratio.
  const rounds = Number(process.env.BENCH_ROUNDS ?? 3);
  console.log(
    `relay bench: ${cpus().length} cores, node ${process.version}; streams of ${STREAM_MBPS} Mbit/s ` +
      `(${FRAGMENTS_PER_SECOND} x ${FRAGMENT_BYTES} B random fragments/s), ${seconds} s per run`,
  );
  const header = ['run'.padEnd(26), 'hubsxV'.padStart(7), 'MB/s'.padStart(8), 'cores'.padStart(6), 'MB/core-s'.padStart(10), 'p50 ms'.padStart(7), 'p99 ms'.padStart(7), 'KiB/conn'.padStart(9)].join('  ');
  console.log(header);
  const t = { hubs, viewersPerHub };
  const none = () => 0;

  const bare = await startServer('bare');
  const one = await startServer('relay');
  const bareRuns: Measure[] = [];
  const oneRuns: Measure[] = [];
  for (let r = 0; r < rounds; r++) {
    const b = await measure(`bare ws forwarder #${r + 1}`, 'bare', [bare], none, { ...t, hubUrl: bare.url, viewerUrl: bare.url }, seconds, r === 0);
    console.log(row(b));
    bareRuns.push(b);
    const o = await measure(`relay, one node #${r + 1}`, 'relay', [one], none, { ...t, hubUrl: one.url, viewerUrl: one.url }, seconds, r === 0);
    console.log(row(o));
    oneRuns.push(o);
  }
  const median = (runs: Measure[]): Measure => {
    const sorted = [...runs].sort((x, y) => x.mbPerCoreSecond - y.mbPerCoreSecond);
    return { ...(sorted[Math.floor(sorted.length / 2)] as Measure), rssPerConnKiB: (runs[0] as Measure).rssPerConnKiB };
  };
  const bareM = { ...median(bareRuns), label: 'bare ws forwarder, median' };
  const oneM = { ...median(oneRuns), label: 'relay, one node, median' };
  console.log(row(bareM));
  console.log(row(oneM));

  let twoM: Measure | undefined;
  if (existsSync(NATS_SERVER)) {
    const nats = await startNats();
    const a = await startServer('relay', nats.url);
    const b = await startServer('relay', nats.url);
    await sleep(500);
    const natsPid = nats.child.pid as number;
    twoM = await measure('relay, two nodes via NATS', 'relay', [a, b], () => procCpuMs(natsPid), { ...t, hubUrl: a.url, viewerUrl: b.url }, seconds);
    console.log(row(twoM) + '   (hubs on node 1, viewers on node 2; cores include nats-server)');
    a.stop();
    b.stop();
    nats.child.kill('SIGKILL');
  } else {
    console.log(`relay, two nodes via NATS: SKIPPED (no nats-server at ${NATS_SERVER})`);
  }

  // Half of peak: one node saturates one core (Node runs the relay on one thread) at about
  // mbPerCoreSecond; run at half of that, or at what the load generator here can drive.
  const peakMBps = oneM.mbPerCoreSecond;
  const LOADGEN_CAP_MBPS = Number(process.env.BENCH_LOADGEN_MBPS ?? 60);
  const halfMBps = Math.min(peakMBps / 2, LOADGEN_CAP_MBPS);
  const perViewer = (FRAGMENT_BYTES * FRAGMENTS_PER_SECOND) / 1e6;
  const halfViewers = Math.max(1, Math.round(halfMBps / perViewer));
  const halfHubs = Math.max(1, Math.ceil(halfViewers / 10));
  const halfM = await measure(
    'relay, one node, half peak',
    'relay',
    [one],
    none,
    { hubs: halfHubs, viewersPerHub: Math.ceil(halfViewers / halfHubs), hubUrl: one.url, viewerUrl: one.url },
    seconds,
    false,
  );
  console.log(row(halfM) + (peakMBps / 2 > LOADGEN_CAP_MBPS ? `   (capped at the load generator's ${LOADGEN_CAP_MBPS} MB/s)` : ''));
  one.stop();

  // 1,000 viewers on one node: 100 hubs x 10 viewers, all subscribed; 10 hubs stream (what two
  // shared cores can carry), 20 of their viewers stop reading, so the relay's queues for them fill.
  const mem = await startServer('relay');
  const idle = await mem.report();
  const memT: Topology = { hubs: 100, viewersPerHub: 10, streamingHubs: 10, pausedViewers: 20, hubUrl: mem.url, viewerUrl: mem.url };
  const fleet = await buildFleet('relay', memT);
  await stream(fleet, memT.hubs, seconds);
  const loaded = await mem.report();
  fleet.close();
  mem.stop();
  const connections = memT.hubs * (memT.viewersPerHub + 1);
  const perConnKiB = (loaded.rss - idle.rss) / connections / 1024;
  console.log(
    `relay, 1,000 viewers: ${connections} connections, RSS ${(loaded.rss / 2 ** 20).toFixed(0)} MiB ` +
      `(idle ${(idle.rss / 2 ** 20).toFixed(0)} MiB, ${perConnKiB.toFixed(1)} KiB per connection incl. ` +
      `${(loaded.queuedBytes / 2 ** 20).toFixed(1)} MiB queued for 20 slow viewers, ${loaded.drops} slow-viewer drops)`,
  );

  console.log('\ntargets');
  const verdict = (ok: boolean) => (ok ? 'PASS' : 'FAIL');
  const ratio = oneM.mbPerCoreSecond / bareM.mbPerCoreSecond;
  console.log(`  ${verdict(ratio >= 0.8)}  one node forwards ${(ratio * 100).toFixed(0)}% of the bare ws forwarder per core (target >= 80%)`);
  console.log(`  ${verdict(loaded.rss < 2 * 2 ** 30)}  1,000 viewers on one node in ${(loaded.rss / 2 ** 20).toFixed(0)} MiB (target < 2048 MiB)`);
  console.log(
    `  ${verdict(halfM.p99 < 20)}  p99 hub-to-viewer latency ${halfM.p99.toFixed(2)} ms at ${halfM.deliveredMBps.toFixed(0)} MB/s ` +
      `(half of peak ${peakMBps.toFixed(0)} MB/s per core${peakMBps / 2 > LOADGEN_CAP_MBPS ? ', capped by the load generator' : ''}; target < 20 ms)`,
  );
  console.log(
    `  info  added over bare at ${hubs}x${viewersPerHub}: p50 ${(oneM.p50 - bareM.p50).toFixed(2)} ms, p99 ${(oneM.p99 - bareM.p99).toFixed(2)} ms (one node)` +
      (twoM ? `; p50 ${(twoM.p50 - bareM.p50).toFixed(2)} ms, p99 ${(twoM.p99 - bareM.p99).toFixed(2)} ms (two nodes)` : ''),
  );
  bare.stop();
}

if (process.argv[2] === 'serve') {
  void serve(process.argv[3] as string, process.argv[4]);
} else {
  main().then(
    () => process.exit(0),
    (e: unknown) => {
      console.error(e);
      process.exit(1);
    },
  );
}
